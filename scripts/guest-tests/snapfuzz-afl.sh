#!/usr/bin/env bash
# Debian's afl-fuzz runs qemu-system-x86_64 itself as its target, with no
# wrapper: QEMU speaks the forkserver protocol (-device snapfuzz,afl=on),
# boots a Linux guest whose init is the example harness built with AFL++'s
# compiler, and feeds it AFL++'s inputs from a snapshot restored for each
# one.  Passes when afl-fuzz finds the example's planted bug (an input
# starting with "BUG!") within the time limit (default 180 s); fails when it
# finds no crash, or another one.
# The example tests "BUG!" a byte at a time, so afl-fuzz gets there only
# through coverage, one new edge per byte.  There is no dictionary; the seed
# is "AAAA" and deterministic mutations are on (-D), whose 8-bit arithmetic
# reaches each byte of "BUG!" from 'A', which makes the run short and its
# length predictable (about 5000 runs) instead of a matter of luck.
#   scripts/guest-tests/snapfuzz-afl.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-180}
out="$build_dir/snapfuzz-afl"

# Stop at the first crash.
snapfuzz_afl_run "$out" "$limit" AFL_BENCH_UNTIL_CRASH=1
rc=$afl_rc
tail -n 15 "$out/afl.log"
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] && grep -E '^(execs_done|execs_per_sec|saved_crashes|saved_hangs) ' "$stats"
crash=$(find "$out/out/default/crashes" -name 'id:*' 2>/dev/null | head -n 1)
[ -n "$crash" ] || die "afl-fuzz (exit $rc) found no crash in $limit s"
head -c 4 "$crash" | grep -q 'BUG!' || die "the crash $crash is not the planted bug"
echo "ok: afl-fuzz found the planted bug: $(basename "$crash")"
