#!/usr/bin/env bash
# Run the libqos graph tests (qos-test) whose path matches a regex, TAP on
# stdout.   scripts/run-qos.sh 'nvme|virtio-blk'
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: run-qos.sh PATH-REGEX"
export QTEST_QEMU_BINARY="$qemu_build/qemu-system-x86_64"
paths=$("$qemu_build/tests/qtest/qos-test" -l | grep -E -- "$1" || true)
[ -n "$paths" ] || die "no qos-test path matches '$1'"
args=()
for p in $paths; do args+=(-p "$p"); done
exec "$here/run-qtest.sh" tests/qtest/qos-test "${args[@]}"
