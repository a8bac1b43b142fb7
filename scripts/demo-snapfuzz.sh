#!/usr/bin/env bash
# make demo (snapfuzz part): a short AFL++ session against a whole Linux
# guest.  afl-fuzz runs qemu-system-x86_64 as its target; QEMU speaks the
# forkserver protocol itself (-device snapfuzz,afl=on), boots a guest whose
# init is contrib/snapfuzz/example.c built with afl-clang-fast, and restores
# the guest's snapshot for every input.  The example crashes on inputs that
# start with "BUG!", tested a byte at a time.  Prints afl-fuzz's summary and
# the crash it found, if any.
#   scripts/demo-snapfuzz.sh [SECONDS]      (default 30)
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/snapfuzz-lib.sh"
limit=${1:-30}
out="$build_dir/snapfuzz-demo"

echo "== snapfuzz: afl-fuzz -- qemu-system-x86_64 ... -device snapfuzz,afl=on ($limit s)"
echo "   (the guest's /init: contrib/snapfuzz/example.c built with afl-clang-fast)"
snapfuzz_afl_run "$out" "$limit"
rc=$afl_rc
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] || { tail -n 20 "$out/afl.log"; die "afl-fuzz did not start (exit $rc)"; }
echo "== afl-fuzz's statistics"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|saved_crashes|saved_hangs) ' "$stats"
echo "== the queue (inputs that reached new coverage)"
for f in "$out/out/default/queue"/id:*; do
    printf '  %-12s %s\n' "$(head -c 8 "$f" | od -An -c | tr -s ' ')" "$(basename "$f" | cut -c1-60)"
done
crash=$(find "$out/out/default/crashes" -name 'id:*' 2>/dev/null | head -n 1)
if [ -n "$crash" ]; then
    echo "== crash found: $(head -c 8 "$crash" | od -An -c | tr -s ' ')  ($(basename "$crash"))"
else
    echo "== no crash in $limit s (try a longer run: $0 120)"
fi
