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
# root file system read-only over 9p): fio, util-linux (blkzone), nvme-cli.
# Fuzzing: clang with libFuzzer and the sanitizers (libclang-rt-dev), llvm
# (llvm-cov, llvm-profdata), afl++; libc++ and unzip for the OSS-Fuzz build
# (make oss-fuzz compiles C++ with -stdlib=libc++, as OSS-Fuzz does).
# Export: git, perl (checkpatch).  Benchmarks: gnuplot-nox.
packages=(
  build-essential gcc-multilib git python3 python3-venv python3-setuptools
  ninja-build pkg-config flex bison bzip2 ccache
  libglib2.0-dev libpixman-1-dev zlib1g-dev libaio-dev liburing-dev
  libcap-ng-dev libattr1-dev libzstd-dev libfdt-dev
  seabios ipxe-qemu
  busybox-static cpio kmod xz-utils zstd
  fio util-linux nvme-cli
  clang libclang-rt-dev llvm afl++ libc++-dev libc++abi-dev unzip
  perl gnuplot-nox sudo
)
bpo_packages=(meson python3-pycotap)

bpo_src=/etc/apt/sources.list.d/qemu-series-bookworm-backports.sources
bpo_entry="Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"

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
    cat >&2 <<MSG
Missing Debian packages:$(printf ' %s' $need)
Run as root:
  printf '%s\n' '$(echo "$bpo_entry" | paste -sd'|' | sed 's/|/\\n/g')' > $bpo_src
  apt-get update
  apt-get install -y $(printf '%s ' "${packages[@]}")
  apt-get install -y -t bookworm-backports $(printf '%s ' "${bpo_packages[@]}")
MSG
    exit 1
fi

if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    info "adding bookworm-backports to $bpo_src"
    echo "$bpo_entry" > "$bpo_src"
fi
export DEBIAN_FRONTEND=noninteractive
apt_update_once
apt-get install -y --no-install-recommends "${packages[@]}" \
    || die "apt-get install failed; see the messages above"
apt-get install -y --no-install-recommends -t bookworm-backports "${bpo_packages[@]}" \
    || die "apt-get install from bookworm-backports failed (meson >= 1.5, python3-pycotap)"
meson_ok || die "meson >= 1.5 is still not importable by /usr/bin/python3"
info "dependencies installed"
