# Shared helpers for the scripts in this directory; sourced, never run.
# shellcheck shell=bash

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="$top/build"
# export-bisect.sh points the test runners at another tree and build.
src_dir="${SERIES_SRC_DIR:-$build_dir/src}"
qemu_build="${SERIES_QEMU_BUILD:-$build_dir/qemu}"
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

# unstable_deb_src: make the source packages of Debian unstable known to apt
# (QEMU's base tarball, fio's test suite): add a deb-src entry for the archive
# the machine already uses (see debian_archive) and update the lists.  Root
# only; otherwise it says so and leaves the sources alone.
unstable_deb_src() {
    local src_list=/etc/apt/sources.list.d/qemu-series-src.sources uri key
    if [ "$(id -u)" != 0 ]; then
        info "not root: cannot add a deb-src entry for Debian unstable"
        return 0
    fi
    if [ ! -f "$src_list" ]; then
        read -r uri key < <(debian_archive) \
            || die "no Debian archive entry in the apt sources to take a deb-src entry from"
        info "adding a deb-src entry for Debian unstable ($uri) to $src_list"
        {
            printf 'Types: deb-src\nURIs: %s\nSuites: unstable\nComponents: main\n' "$uri"
            [ -z "$key" ] || printf 'Signed-By: %s\n' "$key"
        } > "$src_list"
    fi
    apt-get update -q >&2 || info "apt-get update failed"
}

# debian_archive: the URI and Signed-By keyring of the Debian archive this
# machine already uses (its apt sources: deb822 .sources files or one-line
# .list entries, mirror or proxy as configured), printed as "URI KEYRING"
# (KEYRING may be empty).  The archive is the source whose suites include
# the release's main suite (bookworm), not -security.  Fails when there is
# none: the project never writes an archive address of its own.
# debian_archive CODENAME FILE... reads those files instead (self-test).
debian_archive() {
    local codename
    if [ $# -gt 0 ]; then
        codename=$1
        shift
    else
        codename=$(. /etc/os-release 2>/dev/null && echo "${VERSION_CODENAME:-}")
        set -- /etc/apt/sources.list /etc/apt/sources.list.d/*
    fi
    [ -n "$codename" ] || return 1
    /usr/bin/python3 - "$codename" "$@" <<'PY'
import re, sys
codename, files = sys.argv[1], sys.argv[2:]
for f in files:
    try:
        text = open(f).read()
    except OSError:
        continue
    if f.endswith('.sources'):
        for stanza in re.split(r'\n\s*\n', text):
            fields = {}
            for line in stanza.splitlines():
                if line.startswith('#') or ':' not in line:
                    continue
                k, v = line.split(':', 1)
                fields[k.strip().lower()] = v.strip()
            if fields.get('enabled', 'yes').lower() == 'no':
                continue
            if 'deb' not in fields.get('types', '').split():
                continue
            if codename in fields.get('suites', '').split() and fields.get('uris'):
                print(fields['uris'].split()[0], fields.get('signed-by', ''))
                sys.exit(0)
    elif f.endswith('.list'):
        for line in text.splitlines():
            m = re.match(r'\s*deb\s+(\[([^]]*)\]\s+)?(\S+)\s+(\S+)', line)
            if m and m.group(4) == codename:
                key = re.search(r'signed-by=(\S+)', m.group(2) or '')
                print(m.group(3), key.group(1) if key else '')
                sys.exit(0)
sys.exit(1)
PY
}

# is_real_identity "Name <email>": not a placeholder that patches cannot be
# sent under (example domains, .invalid/.example/.test, localhost, noreply
# addresses, the series' own "QEMU Storage Series").
is_real_identity() {
    local id=$1 email
    email=$(printf '%s\n' "$id" | sed -n 's/.*<\(.*\)>.*/\1/p' | tr 'A-Z' 'a-z')
    case "$email" in
        '' | *@localhost | *@*.localdomain | *@example.com | *@example.org | \
        *@example.net | *.example | *.invalid | *.test | *@*.example.* | \
        *noreply* | *@*users.noreply* | storage-series@*) return 1 ;;
    esac
    case "$id" in
        'QEMU Storage Series '*) return 1 ;;
    esac
    return 0
}

# link_firmware BUILD_DIR: a blob-less tree has no firmware.  Link Debian's
# SeaBIOS and iPXE ROMs and the option ROMs build/qemu made where BUILD_DIR's
# QEMU binaries look for their data files (qemu-bundle/.../share/qemu), so
# they run without -L; print that directory.  Fails when there is none.
link_firmware() {
    local datadir f
    datadir=$(dirname "$(find "$1/qemu-bundle" -type d -name keymaps -path '*/share/qemu/*' | head -n 1)")
    [ -d "$datadir" ] || return 1
    for f in /usr/share/seabios/*.bin /usr/lib/ipxe/qemu/*.rom "$qemu_build"/pc-bios/optionrom/*.bin; do
        [ -e "$f" ] || continue
        ln -sfn "$f" "$datadir/$(basename "$f")"
    done
    echo "$datadir"
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

# lock_dir DIR [WHAT]: hold an exclusive lock on DIR (the file DIR.lock
# beside it) until the calling script exits, so that two scripts that fill
# one directory wait for each other instead of working in it at the same
# time: meson test runs tests in parallel, and each builds build/fuzz
# (build-fuzz.sh) or fetches the guest kernel (guest-kernel.sh) when it
# is missing.  WHAT names the work in the message about waiting.
lock_dir() {
    local dir=$1 what=${2:-work in $1}
    mkdir -p "$(dirname "$dir")"
    exec {series_dir_lock}>"$dir.lock" || die "cannot create $dir.lock"
    if ! flock -n "$series_dir_lock"; then
        info "waiting for another $what to finish"
        flock "$series_dir_lock" || die "cannot lock $dir.lock"
    fi
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

# clang_build_setup: what the clang/libFuzzer builds (build-fuzz.sh) need
# before they configure $src_dir: clang-14, an
# assembled tree, and ccache when it is installed.
clang_build_setup() {
    command -v clang-14 >/dev/null || die "clang-14 is missing: apt-get install clang-14 libclang-rt-14-dev"
    if [ -d /usr/lib/ccache ]; then
        export PATH="/usr/lib/ccache:$PATH" CCACHE_BASEDIR="$build_dir" CCACHE_NOHASHDIR=1
    fi
    [ -f "$src_dir/configure" ] || die "$src_dir is not assembled; run 'make assemble' first"
}

# The device fuzzing configurations (scripts/fuzz-devices.sh): generic-fuzz's
# of the series (tests/qtest/fuzz/generic_fuzz_configs.h), two that feed
# requests to virtqueues through libqos (tests/qtest/fuzz/virtio_*_fuzz.c)
# and five that submit NVMe commands to the queues of enabled controllers
# (tests/qtest/fuzz/nvme_fuzz.c; nvme-subsys-cmds: two controllers of one
# subsystem that share namespaces; nvme-viommu-cmds: an IOThread's queues
# behind VT-d; nvme-amdvi-cmds: behind the AMD IOMMU, which unmaps pages and
# invalidates its caches while commands run, as the input chooses):
# requests that generic-fuzz's DMA patterns seldom make valid
device_fuzz_configs=(virtio-blk-zoned virtio-blk-zoned-iothread scsi-zbc
    nvme-zns-blk nvme-iothread-poll nvme-iothreads snapfuzz
    virtio-blk-zoned-queues scsi-zbc-queues nvme-zns-cmds nvme-iothread-cmds
    nvme-subsys-cmds nvme-viommu-cmds nvme-amdvi-cmds)

# The libFuzzer target of configuration $1
device_fuzz_target() {
    case "$1" in
        virtio-blk-zoned-queues) echo virtio-blk-zoned-flags-fuzz ;;
        scsi-zbc-queues) echo virtio-scsi-zbc-flags-fuzz ;;
        nvme-zns-cmds) echo nvme-zns-cmd-fuzz ;;
        nvme-iothread-cmds) echo nvme-iothread-cmd-fuzz ;;
        nvme-subsys-cmds) echo nvme-subsys-cmd-fuzz ;;
        nvme-viommu-cmds) echo nvme-viommu-cmd-fuzz ;;
        nvme-amdvi-cmds) echo nvme-amdvi-cmd-fuzz ;;
        *) echo "generic-fuzz-$1" ;;
    esac
}

# options_args FILE: the [libfuzzer] section of an .options file as flags
options_args() {
    awk -F' *= *' '/^\[/ { sec = $0; next }
        sec == "[libfuzzer]" && NF == 2 { printf "-%s=%s\n", $1, $2 }' "$1"
}
