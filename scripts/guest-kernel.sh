#!/usr/bin/env bash
# Fetch Debian's linux-image 6.12 (bookworm-backports, generic amd64 flavour:
# it has BLK_DEV_ZONED, null_blk, virtio_blk, nvme, scsi_debug and 9p) once,
# unpack it into the cache, index its modules, and print the directory.
# The directory holds vmlinuz and lib/modules/VERSION.
#   GUEST_KERNEL_DEB=/path/to/linux-image-...deb hands a package in.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

kcache="$cache_dir/kernel"
mkdir -p "$kcache"

# The newest unpacked kernel, if any.
unpacked() {
    local d
    d=$(ls -d "$kcache"/6.12.*/ 2>/dev/null | sort -V | tail -n 1 || true)
    [ -n "$d" ] && [ -f "$d/ready" ] && [ -f "$d/vmlinuz" ] && echo "${d%/}"
}

if [ -z "${GUEST_KERNEL_DEB:-}" ] && unpacked; then
    exit 0
fi
# meson test starts the guest tests in parallel: one fetches and unpacks,
# the others wait for it and take what it unpacked.
lock_dir "$kcache" "fetch of the guest kernel"
if [ -z "${GUEST_KERNEL_DEB:-}" ] && unpacked; then
    exit 0
fi

deb=${GUEST_KERNEL_DEB:-}
if [ -z "$deb" ]; then
    pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' 2>/dev/null \
            | cut -d' ' -f1 | sort -V | tail -n 1)
    if [ -z "$pkg" ] && [ "$(id -u)" = 0 ]; then
        apt_update_once
        pkg=$(apt-cache search --names-only '^linux-image-6\.12\.[0-9]+\+deb12-amd64-unsigned$' \
                | cut -d' ' -f1 | sort -V | tail -n 1)
    fi
    [ -n "$pkg" ] || die "no linux-image-6.12.*+deb12-amd64-unsigned in the apt sources;
  run scripts/install-deps.sh (it adds bookworm-backports), or hand a package in with GUEST_KERNEL_DEB=/path/to.deb"
    info "downloading $pkg"
    tmp=$(mktemp -d "$kcache/dl.XXXXXX")
    chmod 0777 "$tmp"
    (cd "$tmp" && apt-get download -q "$pkg" >&2) || { rm -rf "$tmp"; die "apt-get download $pkg failed"; }
    deb=$(ls "$tmp"/*.deb)
    mv "$deb" "$kcache/" && rmdir "$tmp"
    deb="$kcache/$(basename "$deb")"
fi
[ -f "$deb" ] || die "GUEST_KERNEL_DEB=$deb: no such file"

unpack=$(mktemp -d "$kcache/unpack.XXXXXX")
dpkg-deb -x "$deb" "$unpack" || { rm -rf "$unpack"; die "cannot unpack $deb"; }
kver=$(ls "$unpack/lib/modules" 2>/dev/null | head -n 1)
[ -n "$kver" ] && [ -f "$unpack/boot/vmlinuz-$kver" ] \
    || { rm -rf "$unpack"; die "$deb holds no kernel (boot/vmlinuz-*, lib/modules/*)"; }
dest="$kcache/$kver"
# Put it together beside its place and move it there whole.
new="$kcache/new.$kver"
rm -rf "$new"
mkdir -p "$new/lib"
mv "$unpack/lib/modules" "$new/lib/"
mv "$unpack/boot/vmlinuz-$kver" "$new/vmlinuz"
rm -rf "$unpack"
depmod -b "$new" "$kver" || die "depmod failed for $new"
echo "$kver" >"$new/ready"
rm -rf "$dest"
mv "$new" "$dest"
info "guest kernel $kver in $dest"
echo "$dest"
