#!/usr/bin/env bash
# Inputs are code too: a guest may run what the device wrote into the
# input window.  Debian's afl-fuzz runs QEMU with the example harness's
# fuzz-exec mode as the guest's /init, from two seeds that are programs
# ("mov $1, %eax; ret" and "mov $2, %eax; ret"); the harness runs each such
# input in the window and reports a crash when it does not return its own
# number.  Under TCG the device's write must drop the translated code of
# the window, or the second seed runs the first one's code (afl-fuzz then
# stops at once: a seed crashed).  Passes when afl-fuzz ran for SECONDS
# (default 30) past its seeds and kept no crash.
#   scripts/guest-tests/snapfuzz-exec.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-30}
out="$build_dir/snapfuzz-exec"
seeds="$build_dir/snapfuzz-exec-seeds"

rm -rf "$seeds"
mkdir -p "$seeds"
printf '\xb8\x01\x00\x00\x00\xc3' >"$seeds/one"
printf '\xb8\x02\x00\x00\x00\xc3' >"$seeds/two"
afl_seeds=$seeds afl_init_args=fuzz-exec snapfuzz_afl_run "$out" "$limit"
tail -n 5 "$out/afl.log"
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] || die "afl-fuzz (exit $afl_rc) did not get past its seeds: $out/afl.log"
grep -E '^(execs_done|saved_crashes) ' "$stats"
crashes=$(sed -n 's/^saved_crashes *: *//p' "$stats")
execs=$(sed -n 's/^execs_done *: *//p' "$stats")
[ "${crashes:-1}" = 0 ] || die "an input ran an earlier input's code ($crashes crashes)"
[ "${execs:-0}" -ge 100 ] || die "afl-fuzz ran only ${execs:-0} inputs"
echo "ok: $execs inputs, each ran its own code"
