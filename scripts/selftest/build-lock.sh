#!/usr/bin/env bash
# Self-test of the build lock (lock_dir in scripts/lib.sh): two
# scripts/build-fuzz.sh started at once on one cold tree must configure it
# once, one after the other, as meson test starts the fuzz suite's tests in
# parallel.  A stand-in source tree's configure takes two seconds, fails
# when another configure of the same tree is running, and writes a
# build.ninja whose targets only touch files.  TAP.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "1..4"
if ! command -v clang-14 >/dev/null; then
    for i in 1 2 3 4; do echo "ok $i # skip clang-14 is not installed"; done
    exit 0
fi

mkdir -p "$tmp/src"
cat >"$tmp/src/configure" <<'C'
#!/bin/sh
echo run >>../configure-runs
if ! mkdir ../configuring 2>/dev/null; then
    echo "configure: another configure of this tree is running" >&2
    exit 1
fi
sleep 2
cat >build.ninja <<'N'
rule touch
  command = touch $out
build build.ninja: phony
build qemu-img: touch
build qemu-io: touch
N
rmdir ../configuring
C
chmod +x "$tmp/src/configure"

for i in 1 2; do
    BUILD_SRC="$tmp/src" BUILD_DIR="$tmp/fuzz" PATH="/usr/bin:/bin" \
        "$here/build-fuzz.sh" qemu-img qemu-io >"$tmp/out$i" 2>&1 &
    eval "pid$i=\$!"
done
wait "$pid1"; rc1=$?
wait "$pid2"; rc2=$?

. "$(dirname "$0")/tap.sh"
check "the first build-fuzz.sh succeeds" '[ $rc1 = 0 ]'
check "the second build-fuzz.sh succeeds" '[ $rc2 = 0 ]'
check "configure ran once" '[ "$(wc -l <"$tmp/configure-runs")" = 1 ]'
check "both targets were built" '[ -f "$tmp/fuzz/qemu-img" ] && [ -f "$tmp/fuzz/qemu-io" ]'
for i in 1 2; do
    [ $rc1 = 0 ] && [ $rc2 = 0 ] || sed "s/^/# $i: /" "$tmp/out$i"
done
