#!/usr/bin/env bash
# Configure (once) and build the assembled tree in build/qemu:
# qemu-system-x86_64, the tools, the x86 option ROMs and the qtests that
# `make check` runs.  Incremental: an unchanged tree rebuilds in seconds.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

# Build a given tree (export.sh checks the exported series this way).
src_dir=${BUILD_SRC:-$src_dir}
qemu_build=${BUILD_DIR:-$qemu_build}

# ccache through Debian's compiler links: rebuilds of another checkout of the
# same sources (export.sh) hit the cache.
if [ -d /usr/lib/ccache ]; then
    export PATH="/usr/lib/ccache:$PATH" CCACHE_BASEDIR="$build_dir" CCACHE_NOHASHDIR=1
fi

[ -f "$src_dir/configure" ] || die "build/src is not assembled; run 'make assemble' first"

# Debian's python3: a pyenv or venv python on PATH does not see Debian's meson.
configure_args=(
    --python=/usr/bin/python3
    --target-list=x86_64-softmmu
    --enable-tools
    --enable-linux-aio
    --enable-linux-io-uring
    --enable-virtfs
    --disable-download
    --disable-docs
    --disable-gtk --disable-sdl --disable-vnc --disable-spice --disable-opengl
    --disable-pa --disable-alsa --disable-oss --disable-jack --disable-pipewire
)
configure_args+=(${QEMU_CONFIGURE_EXTRA:-})

# The qtest binaries `make check` uses.
qtest_targets=(tests/qtest/qos-test tests/qtest/nvme-zns-test tests/qtest/nvme-iothread-test
               tests/qtest/snapfuzz-test tests/qtest/migration-tcg-ram-blocks-test
               tests/qtest/intel-iommu-test tests/qtest/virtio-iommu-iothread-test
               tests/qtest/amd-iommu-test)

configure_once "$qemu_build" "missing packages? run scripts/install-deps.sh" \
    "${configure_args[@]}"

jobs=${JOBS:-$(nproc)}
# make, not ninja: the top-level Makefile also builds the option ROMs.
make -C "$qemu_build" -j"$jobs" --no-print-directory all \
    || die "build failed; see the compiler messages above"
# Not every qtest exists for every configuration.
mapfile -t targets < <(known_targets "$qemu_build" "${qtest_targets[@]}")
ninja -C "$qemu_build" -j"$jobs" "${targets[@]}" >/dev/null \
    || die "building the qtests failed: ninja -C build/qemu ${targets[*]}"
# Firmware for a blob-less tree, so build/qemu/qemu-system-x86_64 runs
# without -L (lib.sh).
datadir=$(link_firmware "$qemu_build") || die "cannot find the data directory in build/qemu/qemu-bundle"
[ -e "$datadir/bios-256k.bin" ] || die "no bios-256k.bin: install Debian's seabios (scripts/install-deps.sh)"
[ -e "$datadir/linuxboot_dma.bin" ] || die "the x86 option ROMs were not built (is gcc-multilib installed?)"
info "build/qemu is up to date"
