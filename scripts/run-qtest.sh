#!/usr/bin/env bash
# Run one qtest binary of build/qemu against its qemu-system-x86_64, TAP on
# stdout.  Arguments after the binary go to it (e.g. -p /x86_64/... paths).
#   scripts/run-qtest.sh tests/qtest/nvme-test [-p PATH...]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -ge 1 ] || die "usage: run-qtest.sh QTEST [ARGS...]"
bin="$qemu_build/$1"; shift
[ -x "$bin" ] || die "$bin does not exist; build first (make)"
export QTEST_QEMU_BINARY="$qemu_build/qemu-system-x86_64"
export QTEST_QEMU_IMG="$qemu_build/qemu-img"
export QTEST_QEMU_STORAGE_DAEMON_BINARY="$qemu_build/storage-daemon/qemu-storage-daemon"
export MALLOC_PERTURB_=$((RANDOM % 255 + 1))
exec "$bin" --tap -k "$@"
