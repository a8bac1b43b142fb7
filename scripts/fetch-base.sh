#!/usr/bin/env bash
# Fetch the pinned QEMU base tarball into the cache and print its path.
#
# The tarball is Debian's qemu_10.2.2+ds.orig.tar.xz (source package
# qemu 1:10.2.2+ds-1).  It is fetched once with apt's source support and kept
# in $XDG_CACHE_HOME/qemu-series (default ~/.cache/qemu-series); later runs
# only verify the checksum.  QEMU_TARBALL=/path/to/tarball hands it in.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

verify() {
    local f=$1 sum
    sum=$(sha256sum "$f" | cut -d' ' -f1)
    [ "$sum" = "$base_sha256" ] && return 0
    info "checksum mismatch for $f"
    info "  expected sha256 $base_sha256"
    info "  got      sha256 $sum"
    return 1
}

how_to_hand_in() {
    cat >&2 <<MSG
${0##*/}: error: cannot get QEMU $base_version: Debian source package qemu $base_debian_version,
  file $base_tarball, sha256 $base_sha256.
  Download that file by other means and run again with
      QEMU_TARBALL=/path/to/$base_tarball make
  or place it in $cache_dir/.
MSG
    exit 1
}

if [ -n "${QEMU_TARBALL:-}" ]; then
    [ -f "$QEMU_TARBALL" ] || die "QEMU_TARBALL=$QEMU_TARBALL: no such file"
    verify "$QEMU_TARBALL" || die "QEMU_TARBALL=$QEMU_TARBALL is not $base_tarball"
    echo "$QEMU_TARBALL"
    exit 0
fi

mkdir -p "$cache_dir"
cached="$cache_dir/$base_tarball"
if [ -f "$cached" ]; then
    verify "$cached" || die "cached $cached is corrupt: remove it and run again"
    echo "$cached"
    exit 0
fi

# Not cached: ask apt.  The version lives in unstable's source index; add a
# deb-src entry for it when the machine has none (root only).
have_src_version() {
    # No grep -q: under pipefail its early exit would fail the pipeline.
    apt-cache showsrc qemu 2>/dev/null | grep -Fx "Version: $base_debian_version" >/dev/null
}
have_src_version || unstable_deb_src

tmp=$(mktemp -d "$cache_dir/fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
got=
if have_src_version; then
    info "downloading Debian source package qemu $base_debian_version"
    # _apt cannot write into root's cache directory; let it write here.
    chmod 0777 "$tmp"
    if (cd "$tmp" && apt-get source -q --download-only "qemu=$base_debian_version" >&2); then
        got="$tmp/$base_tarball"
    fi
else
    # Superseded in the index: the archive pool may still hold the file.
    # apt-helper checks the hash while it downloads.
    info "qemu $base_debian_version is not in any apt source index; trying the pool"
    uri=
    read -r uri key < <(debian_archive) || true
    if [ -n "$uri" ] && /usr/lib/apt/apt-helper download-file \
        "${uri%/}/pool/main/q/qemu/$base_tarball" \
        "$tmp/$base_tarball" "SHA256:$base_sha256" >&2; then
        got="$tmp/$base_tarball"
    fi
fi
[ -n "$got" ] && [ -f "$got" ] || how_to_hand_in
verify "$got" || how_to_hand_in
mv "$got" "$cached"
info "cached $cached"
echo "$cached"
