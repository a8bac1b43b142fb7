#!/usr/bin/env bash
# Fetch and build fio from Debian's source package (unstable's version, for
# its zoned block device test suite t/zbd/test-zbd-support, which Debian's
# binary package does not ship) and print the directory of the built tree.
#
# The tree is kept in $XDG_CACHE_HOME/qemu-series/fio/fio-VERSION (default
# ~/.cache/qemu-series); later runs only print it.  FIO_SOURCE=DIR hands in
# a built fio tree instead (DIR/fio and DIR/t/zbd must exist).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

check_tree() {
    [ -x "$1/fio" ] && [ -x "$1/t/zbd/test-zbd-support" ]
}

if [ -n "${FIO_SOURCE:-}" ]; then
    check_tree "$FIO_SOURCE" || die "FIO_SOURCE=$FIO_SOURCE has no built fio and t/zbd"
    echo "$FIO_SOURCE"
    exit 0
fi

fio_cache=$cache_dir/fio
lock_dir "$fio_cache" "fio build"
done_tree=$(cat "$fio_cache/ready" 2>/dev/null || true)
if [ -n "$done_tree" ] && check_tree "$done_tree"; then
    echo "$done_tree"
    exit 0
fi

version() {
    apt-cache showsrc fio 2>/dev/null | sed -n 's/^Version: //p' | sort -V | tail -1
}
ver=$(version)
[ -n "$ver" ] || { unstable_deb_src; ver=$(version); }
[ -n "$ver" ] || die "apt knows no source package fio: add a deb-src entry for Debian (unstable has fio's current version) and run again"
upstream=${ver#*:}
upstream=${upstream%-*}
tarball=fio_$upstream.orig.tar.gz
mkdir -p "$fio_cache"
if [ ! -f "$fio_cache/$tarball" ]; then
    tmp=$(mktemp -d "$fio_cache/fetch.XXXXXX")
    trap 'rm -rf "$tmp"' EXIT
    chmod 0777 "$tmp"   # _apt writes here
    info "downloading Debian source package fio $ver"
    # Only the upstream tarball is needed; the Debian parts may be missing
    # from the archive (apt then fails after fetching the tarball).
    (cd "$tmp" && apt-get source -q --download-only "fio=$ver" >&2) || true
    [ -f "$tmp/$tarball" ] || die "could not download $tarball (Debian source package fio $ver)"
    mv "$tmp/$tarball" "$fio_cache/$tarball"
fi

tree=$fio_cache/fio-$upstream
rm -rf "$tree" "$tree.new"
mkdir -p "$tree.new"
tar -xzf "$fio_cache/$tarball" -C "$tree.new" --strip-components=1
info "building fio $upstream in $tree"
(cd "$tree.new" && ./configure --disable-native >/dev/null &&
     make -s -j"$(nproc)" fio >/dev/null) || die "building fio $upstream failed"
mv "$tree.new" "$tree"
check_tree "$tree" || die "$tree has no fio or t/zbd/test-zbd-support"
echo "$tree" > "$fio_cache/ready"
echo "$tree"
