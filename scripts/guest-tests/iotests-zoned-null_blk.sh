#!/usr/bin/env bash
# Upstream's qemu-iotests "zoned" test (zone report/open/close/finish/reset/
# append through file-posix host_device) inside a guest, against a Linux
# null_blk zoned device: needs neither root nor zoned support on the host.
#   iotests-zoned-null_blk.sh [host_device|raw]
# With "raw", the test's device is a raw node over host_device instead, so
# the zones go through a format node.
set -euo pipefail

mode=${1:-host_device}
case "$mode" in
    host_device|raw) ;;
    *) echo "usage: $0 [host_device|raw]" >&2; exit 2 ;;
esac
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    exec "$here/../guest-run" --mem 1024 "$0" "$mode"
fi

# In the guest.  The test loads null_blk itself (modprobe null_blk zoned=1).
# check keeps state in its working directory: run it from /tmp (the host file
# system is read-only here); through the build tree's link it finds the build.
export TEST_DIR=/tmp/iotests SOCK_DIR=/tmp/iotests-sock PYTHONDONTWRITEBYTECODE=1
mkdir -p "$TEST_DIR" "$SOCK_DIR"
cd /tmp
args=()
if [ "$mode" = raw ]; then
    # The same test and reference output, with the device as raw over
    # host_device.
    src=$(readlink -f "$QEMU_BUILD/tests/qemu-iotests/check")
    cp -r "$(dirname "$src")" /tmp/iotests-src
    sed -i 's|^IMG="--image-opts -n driver=host_device,filename=/dev/nullb0"$|IMG="--image-opts -n driver=raw,file.driver=host_device,file.filename=/dev/nullb0"|' \
        /tmp/iotests-src/tests/zoned
    grep -F 'driver=raw,file.driver=host_device' /tmp/iotests-src/tests/zoned >/dev/null \
        || { echo "cannot point tests/zoned at a raw node"; exit 1; }
    args=(--source-dir /tmp/iotests-src --build-dir "$QEMU_BUILD/tests/qemu-iotests")
fi
out=/tmp/check.log
set +e
"$QEMU_BUILD/tests/qemu-iotests/check" "${args[@]}" -raw -file zoned 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
# check exits 0 when the test was skipped ("not run"): that is a failure here.
grep -E '^Passed all 1 iotests' "$out" >/dev/null || { echo "zoned did not pass (check exit $rc)"; exit 1; }
exit "$rc"
