#!/usr/bin/env bash
# snapfuzz with two vCPUs: the example harness's smp-arg mode ends each of
# 300 inputs with DONE and the input's number as ARG while a second thread,
# on the other vCPU, writes a bogus ARG whenever it sees DONE running.
# The device must take ARG as it was when the command was written (the
# other vCPU runs until the device pauses them all), and, with verify=on,
# every restore must leave all RAM as the snapshot had it.  Passes when the
# guest saw all 300 inputs, no LAST_ARG differed and no page differed.
# The guest's root is virtio-9p, idle during inputs (ignore-blockers=on).
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    exec "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --smp 2 \
        --timeout 600 "$0" "$example" -- \
        -device snapfuzz,verify=on,max-inputs=300,ignore-blockers=on
fi

# In the guest.
[ "$(nproc)" -ge 2 ] || { echo "FAIL: the guest has one vCPU"; exit 1; }
result=$("$1" smp-arg)
echo "$result"
case "$result" in
    *"inputs 300 verify-errors 0 "*"arg-mismatches 0"*)
        echo "ok: 300 inputs on two vCPUs, each DONE's ARG kept, RAM restored" ;;
    *) echo "FAIL: expected 300 inputs, 0 verify errors and 0 ARG mismatches"; exit 1 ;;
esac
