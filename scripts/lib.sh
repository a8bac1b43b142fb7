# Shared helpers for the scripts in this directory; sourced, never run.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$top/build"
src_dir="$build_dir/src"
qemu_build="$build_dir/qemu"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/qemu-series"

# The pinned base (DEVELOPERS.md).
base_version=10.2.2
base_debian_version=1:10.2.2+ds-1
base_tarball=qemu_10.2.2+ds.orig.tar.xz
base_sha256=be05230fe47a6937cd29f28f562932c8125f9c93c2a82c625198f7a4aa601dfb

info() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# apt-get update, at most once an hour (the lists are shared by all scripts).
apt_update_once() {
    local stamp=/var/lib/apt/lists/qemu-series.stamp
    if [ -z "$(find "$stamp" -mmin -60 2>/dev/null)" ]; then
        apt-get update -q >&2 || die "apt-get update failed"
        touch "$stamp"
    fi
}

# Directories of the project that are the project's own, not QEMU overlay.
# Everything else below a top-level directory that exists in the QEMU tree is
# overlay (a new file at its QEMU path).
own_dirs='^(scripts|patches|build|\.ci|\.git)/'

# configure_once BUILD_DIR HINT CONFIGURE-ARGS...: run $src_dir/configure in
# BUILD_DIR unless it was configured with the same arguments before; HINT
# ends the error message (what is likely missing).
configure_once() {
    local dir=$1 hint=$2 want have
    shift 2
    mkdir -p "$dir"
    want="$(printf '%s\n' "$@")"
    have=$(cat "$dir/.series-configure-args" 2>/dev/null || true)
    if [ -f "$dir/build.ninja" ] && [ "$want" = "$have" ]; then
        return 0
    fi
    info "configuring $dir"
    rm -f "$dir/.series-configure-args"
    (cd "$dir" && "$src_dir/configure" "$@") \
        || die "configure failed (log: $dir/meson-logs/meson-log.txt); $hint"
    echo "$want" >"$dir/.series-configure-args"
}

# known_targets BUILD_DIR TARGET...: the TARGETs BUILD_DIR's ninja knows, a
# line each; the others (an older series, another configuration) are named
# on stderr and left out.
known_targets() {
    local dir=$1 t
    shift
    for t in "$@"; do
        if ninja -C "$dir" -t query "$t" >/dev/null 2>&1; then
            echo "$t"
        else
            info "no target $t in $dir"
        fi
    done
}

# clang_build_setup: what the clang/libFuzzer builds (build-fuzz.sh,
# build-fuzz-system.sh) need before they configure $src_dir: clang-14, an
# assembled tree, and ccache when it is installed.
clang_build_setup() {
    command -v clang-14 >/dev/null || die "clang-14 is missing: apt-get install clang-14 libclang-rt-14-dev"
    if [ -d /usr/lib/ccache ]; then
        export PATH="/usr/lib/ccache:$PATH" CCACHE_BASEDIR="$build_dir" CCACHE_NOHASHDIR=1
    fi
    [ -f "$src_dir/configure" ] || die "$src_dir is not assembled; run 'make assemble' first"
}
