#!/usr/bin/env bash
# Self-test of scripts/guest-kernel.sh started twice at once on an empty
# cache, as meson test starts the guest tests: one fetches and unpacks the
# kernel, the other waits and takes it; both print the same complete
# directory.  Stand-ins for apt-cache and apt-get offer a small package
# (a vmlinuz and an empty module tree) whose download takes two seconds.
# TAP.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "1..4"
kver=6.12.0+deb12-amd64
pkg=linux-image-$kver-unsigned
mkdir -p "$tmp/bin" "$tmp/pkg/DEBIAN" "$tmp/pkg/boot" "$tmp/pkg/lib/modules/$kver/kernel"
echo "not a kernel" >"$tmp/pkg/boot/vmlinuz-$kver"
printf 'Package: %s\nVersion: 1\nArchitecture: amd64\nMaintainer: selftest <selftest@localhost>\nDescription: stand-in\n' \
    "$pkg" >"$tmp/pkg/DEBIAN/control"
dpkg-deb -b "$tmp/pkg" "$tmp/$pkg.deb" >/dev/null || { echo "Bail out! dpkg-deb failed"; exit 1; }
cat >"$tmp/bin/apt-cache" <<C
#!/bin/sh
echo "$pkg - stand-in"
C
cat >"$tmp/bin/apt-get" <<C
#!/bin/sh
echo download >>"$tmp/downloads"
sleep 2
cp "$tmp/$pkg.deb" .
C
chmod +x "$tmp/bin/apt-cache" "$tmp/bin/apt-get"

for i in 1 2; do
    PATH="$tmp/bin:$PATH" XDG_CACHE_HOME="$tmp/cache" \
        "$here/guest-kernel.sh" >"$tmp/out$i" 2>"$tmp/err$i" &
    eval "pid$i=\$!"
done
wait "$pid1"; rc1=$?
wait "$pid2"; rc2=$?

dir="$tmp/cache/qemu-series/kernel/$kver"
. "$(dirname "$0")/tap.sh"
check "both succeed" '[ $rc1 = 0 ] && [ $rc2 = 0 ]'
check "the kernel was downloaded once" '[ "$(wc -l <"$tmp/downloads")" = 1 ]'
check "both print its directory" \
    '[ "$(cat "$tmp/out1")" = "$dir" ] && [ "$(cat "$tmp/out2")" = "$dir" ]'
check "the directory is complete" \
    '[ -f "$dir/vmlinuz" ] && [ -f "$dir/ready" ] && [ -f "$dir/lib/modules/$kver/modules.dep" ]'
for i in 1 2; do sed "s/^/# $i: /" "$tmp/err$i"; done
