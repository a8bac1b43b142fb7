#!/usr/bin/env bash
# Run qemu-iotests of build/qemu on the host: the arguments go to check
# (format, protocol, test names).  Fails when a named test did not run.
#   scripts/run-iotests.sh -raw 001 002
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ -x "$qemu_build/tests/qemu-iotests/check" ] || die "build/qemu is not built; run make"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/iotests.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export TEST_DIR="$scratch/test" SOCK_DIR="$scratch/sock" PYTHONDONTWRITEBYTECODE=1
mkdir -p "$TEST_DIR" "$SOCK_DIR"
# check keeps state in its working directory; through the build tree's link
# it finds the build.
cd "$scratch"
set +e
/usr/bin/python3 "$qemu_build/tests/qemu-iotests/check" -tap "$@" 2>&1 | tee "$scratch/log"
rc=${PIPESTATUS[0]}
set -e
if grep -E '^(Not run|Some cases not run in):' "$scratch/log" >/dev/null; then
    echo "run-iotests: some tests did not run (see above)"
    exit 1
fi
exit "$rc"
