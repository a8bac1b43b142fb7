#!/usr/bin/env bash
# Upstream's qemu-iotests "zoned" test (zone report/open/close/finish/reset/
# append through file-posix host_device) inside a guest, against a Linux
# null_blk zoned device: needs neither root nor zoned support on the host.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    exec "$here/../guest-run" --mem 1024 "$0"
fi

# In the guest.  The test loads null_blk itself (modprobe null_blk zoned=1).
# check keeps state in its working directory: run it from /tmp (the host file
# system is read-only here); through the build tree's link it finds the build.
export TEST_DIR=/tmp/iotests SOCK_DIR=/tmp/iotests-sock PYTHONDONTWRITEBYTECODE=1
mkdir -p "$TEST_DIR" "$SOCK_DIR"
cd /tmp
out=/tmp/check.log
set +e
"$QEMU_BUILD/tests/qemu-iotests/check" -raw -file zoned 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
set -e
# check exits 0 when the test was skipped ("not run"): that is a failure here.
grep -E '^Passed all 1 iotests' "$out" >/dev/null || { echo "zoned did not pass (check exit $rc)"; exit 1; }
exit "$rc"
