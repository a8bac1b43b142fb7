#!/usr/bin/env bash
# snapfuzz in a Linux guest under TCG: the example harness's stress mode
# runs 1000 inputs (each dirties 1-256 pages, makes system calls, some
# sleep) and QEMU, with verify=on, compares all guest RAM with the
# snapshot after every restore.  Passes when the guest saw all 1000 inputs,
# no page ever differed, and every input started at the snapshot's guest
# time: the guest's CLOCK_MONOTONIC and TSC at the start of the inputs are
# less than ten seconds apart (the run itself takes a minute or more; a clock
# that restores do not take back drifts by that much).
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    exec "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --timeout 900 \
        "$0" "$example" -- \
        -device snapfuzz,verify=on,max-inputs=1000,ignore-blockers=on
fi

# In the guest.
result=$("$1" stress)
echo "$result"
case "$result" in
    *"inputs 1000 verify-errors 0"*) echo "ok: 1000 restores, RAM equal to the snapshot after each" ;;
    *) echo "FAIL: expected 1000 inputs and 0 verify errors"; exit 1 ;;
esac
spread=$(echo "$result" | sed -n 's/.*start time spread: monotonic \([0-9]*\) us, tsc \([0-9]*\) cycles.*/\1 \2/p')
[ -n "$spread" ] || { echo "FAIL: the example did not report its clocks"; exit 1; }
read -r mono_us tsc_cycles <<<"$spread"
tsc_khz=$(awk '/^cpu MHz/ { printf "%d", $4 * 1000; exit }' /proc/cpuinfo)
tsc_us=$((tsc_cycles * 1000 / ${tsc_khz:-1000000}))
if [ "$mono_us" -ge 10000000 ] || [ "$tsc_us" -ge 10000000 ]; then
    echo "FAIL: inputs started ${mono_us} us (monotonic) / ${tsc_us} us (TSC) apart: restores do not take the guest clocks back"
    exit 1
fi
echo "ok: inputs started within ${mono_us} us (monotonic) and ${tsc_us} us (TSC) of each other"
