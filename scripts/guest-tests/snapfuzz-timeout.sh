#!/usr/bin/env bash
# snapfuzz's per-input timeout in a Linux guest under TCG: the example
# harness's hang mode loops forever on every odd input; QEMU (timeout=300,
# max-inputs=10) ends each of them as a timeout and restores the snapshot,
# and the next input reads LAST_RESULT.  Passes when the guest ran all 10
# inputs and saw 5 timeouts (an input that is not ended by the timeout
# hangs the guest, and guest-run's timeout fails the test).
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    exec "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --timeout 300 \
        "$0" "$example" -- \
        -device snapfuzz,timeout=300,max-inputs=10
fi

# In the guest.
result=$("$1" hang)
echo "$result"
case "$result" in
    *"inputs 10 "*" timeouts 5 "*) echo "ok: 5 of 10 inputs ended by the timeout, each restored" ;;
    *) echo "FAIL: expected 10 inputs and 5 timeouts"; exit 1 ;;
esac
