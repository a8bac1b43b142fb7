#!/usr/bin/env bash
# A guest that fails as a whole during an input is a finding, and the
# campaign goes on.  Debian's afl-fuzz runs QEMU (-device snapfuzz,afl=on,
# -no-reboot) with the example harness's fuzz-kernel mode as the guest's
# /init, where an input starting with 'P' panics the kernel (panic=-1, so
# Linux then reboots), 'R' reboots it and 'S' powers it off; the kernel
# reboots with a triple fault (reboot=t).  QEMU must report each as a crash
# and restore the snapshot instead of exiting (which ended the campaign:
# afl-fuzz stopped at its first such input).  Passes when afl-fuzz, one run,
# keeps a crash starting with each of P, R and S within SECONDS (default
# 240) and is still running after the last.
#   scripts/guest-tests/snapfuzz-guest-end.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-240}
out="$build_dir/snapfuzz-guest-end"
stats="$out/out/default/fuzzer_stats"
crashes="$out/out/default/crashes"

# found LETTER: has afl-fuzz kept a crash that starts with LETTER?
found() {
    local f
    for f in "$crashes"/id:*; do
        [ -f "$f" ] && [ "$(head -c 1 "$f")" = "$1" ] && return 0
    done
    return 1
}

# Once all three are kept, let afl-fuzz run on for 10 s, then stop it (by
# the pid it records) and leave a mark that it was still running then.
(
    for _ in $(seq $((limit + 150))); do
        sleep 1
        if found P && found R && found S; then
            sleep 10
            pid=$(sed -n 's/^fuzzer_pid *: *//p' "$stats" 2>/dev/null)
            if [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null; then
                touch "$out/still-running"
            fi
            exit 0
        fi
    done
) &
watcher=$!
afl_kernel_args=reboot=t afl_init_args=fuzz-kernel \
    snapfuzz_afl_run "$out" "$limit"
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true
tail -n 8 "$out/afl.log"
[ -f "$stats" ] && grep -E '^(execs_done|saved_crashes|saved_hangs) ' "$stats"
grep -c 'ended in a guest' "$out/afl.log" | sed 's/^/guest failures caught: /' || true
for letter in P R S; do
    found "$letter" || die "afl-fuzz (exit $afl_rc) kept no crash starting with '$letter' in $limit s"
done
[ -e "$out/still-running" ] || die "afl-fuzz was no longer running after the third kind of crash"
echo "ok: a panic, a reboot and a power-off each a crash, afl-fuzz still running"
