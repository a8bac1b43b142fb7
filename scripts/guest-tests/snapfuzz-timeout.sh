#!/usr/bin/env bash
# snapfuzz's per-input timeout, without and with an engine.
# 1. In a Linux guest under TCG: the example harness's hang mode loops
#    forever on every odd input; QEMU (timeout=300, max-inputs=10) ends each
#    of them as a timeout and restores the snapshot, and the next input reads
#    LAST_RESULT.  Passes when the guest ran all 10 inputs and saw 5 timeouts
#    (an input that is not ended by the timeout hangs the guest, and
#    guest-run's timeout fails the test).
# 2. Under Debian's afl-fuzz (-t 1000), QEMU as its target with timeout=300
#    and the example's fuzz-hang mode, where an input starting with 'H'
#    loops forever: QEMU's timeout ends that input, and afl-fuzz must count
#    it as a hang and keep it under hangs/ (QEMU holds the input's status
#    back until afl-fuzz kills the pid it was given).  Passes when hangs/
#    has an input starting with 'H' within SECONDS (default 240); the run
#    stops at the first hang.
#   scripts/guest-tests/snapfuzz-timeout.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    limit=${1:-240}
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --timeout 300 \
        "$0" "$example" -- \
        -device snapfuzz,timeout=300,max-inputs=10,ignore-blockers=on

    out="$build_dir/snapfuzz-afl-hang"
    stats="$out/out/default/fuzzer_stats"
    hangs="$out/out/default/hangs"
    # Stop afl-fuzz (by the pid it records) once it has kept a hang.
    (
        for _ in $(seq $((limit + 150))); do
            sleep 1
            if [ -n "$(find "$hangs" -name 'id:*' 2>/dev/null | head -n 1)" ]; then
                pid=$(sed -n 's/^fuzzer_pid *: *//p' "$stats" 2>/dev/null)
                [ -n "$pid" ] && kill -INT "$pid" 2>/dev/null
                exit 0
            fi
        done
    ) &
    watcher=$!
    afl_t=1000 afl_device_opts=,timeout=300 afl_init_args=fuzz-hang \
        snapfuzz_afl_run "$out" "$limit"
    kill "$watcher" 2>/dev/null || true
    wait "$watcher" 2>/dev/null || true
    tail -n 8 "$out/afl.log"
    [ -f "$stats" ] && grep -E '^(execs_done|saved_crashes|saved_hangs|total_tmout) ' "$stats"
    hang=$(find "$hangs" -name 'id:*' 2>/dev/null | head -n 1)
    [ -n "$hang" ] || die "afl-fuzz (exit $afl_rc) kept no hang in $limit s"
    head -c 1 "$hang" | grep -q 'H' || die "the hang $hang is not the planted one"
    echo "ok: afl-fuzz kept the planted hang: $(basename "$hang")"
    exit 0
fi

# In the guest.
result=$("$1" hang)
echo "$result"
case "$result" in
    *"inputs 10 "*" timeouts 5 "*) echo "ok: 5 of 10 inputs ended by the timeout, each restored" ;;
    *) echo "FAIL: expected 10 inputs and 5 timeouts"; exit 1 ;;
esac
