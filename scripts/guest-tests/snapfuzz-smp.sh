#!/usr/bin/env bash
# snapfuzz with two vCPUs, 300 inputs, verify=on (every restore must leave
# all RAM as the snapshot had it), in one of the example harness's modes:
#   arg   (default) smp-arg: each input ends with DONE and the input's
#         number as ARG while a second thread, on the other vCPU, writes a
#         bogus ARG whenever it sees DONE running.  The device must take
#         ARG as it was when the command was written (the other vCPU runs
#         until the device pauses them all): no LAST_ARG may differ.
#   copy  smp-copy: a thread on the other vCPU copies a word from one page
#         to another for ever, and every input waits until it has copied
#         the input's number.  That vCPU's state is the same at every
#         restore, so the restore loads none for it and the CPU's own load
#         does not flush its TLB: the restore's own flush must re-arm the
#         dirty tracking of the page it writes, or verify finds the page
#         different from the snapshot's.
# Passes when the guest saw all 300 inputs and no page (and no ARG) differed.
# The guest's root is virtio-9p, idle during inputs (ignore-blockers=on).
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

mode=${1:-arg}
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    case "$mode" in
        arg|copy) ;;
        *) die "usage: $0 [arg|copy]" ;;
    esac
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    exec "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --smp 2 \
        --timeout 600 "$0" "$mode" "$example" -- \
        -device snapfuzz,verify=on,max-inputs=300,ignore-blockers=on
fi

# In the guest.
[ "$(nproc)" -ge 2 ] || { echo "FAIL: the guest has one vCPU"; exit 1; }
result=$("$2" "smp-$mode")
echo "$result"
case "$mode:$result" in
    arg:*"inputs 300 verify-errors 0 "*"arg-mismatches 0"*)
        echo "ok: 300 inputs on two vCPUs, each DONE's ARG kept, RAM restored" ;;
    copy:*"inputs 300 verify-errors 0 "*)
        echo "ok: 300 inputs, the other vCPU's writes of each taken back" ;;
    *) echo "FAIL: expected 300 inputs, 0 verify errors (and 0 ARG mismatches)"; exit 1 ;;
esac
