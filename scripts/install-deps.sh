#!/usr/bin/env bash
# Install every Debian package the build, the firmware, the guest kernel and
# the tests need.  As root it runs apt-get; otherwise it prints the commands.
#
# meson >= 1.5 and python3-pycotap come from bookworm-backports; the guest
# kernel (linux-image 6.12) is fetched separately by scripts/guest-kernel.sh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Firmware: Debian's seabios and ipxe-qemu (NIC option ROMs).
# Build: compilers (gcc-multilib builds the x86 option ROMs), QEMU's libraries
# (linux-aio, io_uring, 9p), meson/ninja.  Guest harness:
# busybox-static, cpio, kmod.  Guest-side test tools (the guest sees the host's
# root file system read-only over 9p): fio, util-linux (blkzone), nvme-cli,
# sg3-utils (sg_inq, for fio's t/zbd on SCSI disks), btrfs-progs and
# f2fs-tools (zoned file systems on the series' zoned disks).
# Fuzzing: clang with libFuzzer and the sanitizers (libclang-rt-dev), llvm
# (llvm-cov, llvm-profdata), afl++; libc++ and unzip for the OSS-Fuzz build
# (make oss-fuzz compiles C++ with -stdlib=libc++, as OSS-Fuzz does).
# Export: git, perl (checkpatch), git-email (git send-email --dry-run of each
# series) and libmailtools-perl, its Mail::Address, which Debian's git-email
# only recommends: without it git send-email dies at once.  Benchmarks:
# gnuplot-nox.
packages=(
  build-essential gcc-multilib git python3 python3-venv python3-setuptools
  ninja-build pkg-config flex bison bzip2 ccache
  libglib2.0-dev libpixman-1-dev zlib1g-dev libaio-dev liburing-dev
  libcap-ng-dev libattr1-dev libzstd-dev libfdt-dev
  seabios ipxe-qemu
  busybox-static cpio kmod xz-utils zstd
  fio util-linux nvme-cli sg3-utils btrfs-progs f2fs-tools
  clang libclang-rt-dev llvm afl++ libc++-dev libc++abi-dev unzip
  perl gnuplot-nox sudo git-email libmailtools-perl
)
bpo_packages=(meson python3-pycotap)

bpo_src=/etc/apt/sources.list.d/qemu-series-bookworm-backports.sources
# The backports entry uses the archive (mirror or proxy) the machine's apt
# sources already name; the project writes no address of its own.
bpo_entry() {
    local uri key
    read -r uri key < <(debian_archive) || return 1
    printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\n' "$uri"
    [ -z "$key" ] || printf 'Signed-By: %s\n' "$key"
}
no_archive_msg="no Debian archive entry for bookworm in /etc/apt/sources.list or
/etc/apt/sources.list.d/: add bookworm-backports (for meson >= 1.5 and
python3-pycotap) to the apt sources yourself, then run this again"

missing_pkgs() {
    local p
    for p in "$@"; do
        dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' || echo "$p"
    done
}

meson_ok() {
    local v
    v=$(/usr/bin/python3 -c 'import mesonbuild.coredata as c; print(c.version)' 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge 1.5
}

need=$(missing_pkgs "${packages[@]}" "${bpo_packages[@]}")
if [ -z "$need" ] && meson_ok; then
    info "all build and test dependencies are installed"
    exit 0
fi

if [ "$(id -u)" != 0 ]; then
    entry=$(bpo_entry) || die "$no_archive_msg"
    cat >&2 <<MSG
Missing Debian packages:$(printf ' %s' $need)
Run as root:
  printf '%s\n' '$(echo "$entry" | paste -sd'|' | sed 's/|/\\n/g')' > $bpo_src
  apt-get update
  apt-get install -y $(printf '%s ' "${packages[@]}")
  apt-get install -y -t bookworm-backports $(printf '%s ' "${bpo_packages[@]}")
MSG
    exit 1
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    entry=$(bpo_entry) || die "$no_archive_msg"
    info "adding bookworm-backports to $bpo_src"
    echo "$entry" > "$bpo_src"
fi
export DEBIAN_FRONTEND=noninteractive
apt_update_once
apt-get install -y --no-install-recommends "${packages[@]}" \
    || die "apt-get install failed; see the messages above"
apt-get install -y --no-install-recommends -t bookworm-backports "${bpo_packages[@]}" \
    || die "apt-get install from bookworm-backports failed (meson >= 1.5, python3-pycotap)"
meson_ok || die "meson >= 1.5 is still not importable by /usr/bin/python3"
info "dependencies installed"
