#!/usr/bin/env bash
# Configure (once) and build the clang/libFuzzer tree, build/fuzz, with
# ASan+UBSan and QEMU's instrumentation filter (scripts/oss-fuzz/
# instrumentation-filter-template: the device models and the block layer).
# It holds the disk image fuzzer (tests/image-fuzz, the default targets: the
# fuzzer, its seeds and dictionaries, and the qemu-img that makes the seeds)
# and QEMU's system fuzz targets (qemu-fuzz-x86_64: generic-fuzz on the
# series' devices, snapfuzz), which build only when named.
#   scripts/build-fuzz.sh [ninja targets]
# BUILD_SRC (default build/src) and BUILD_DIR (default build/fuzz) select the
# trees; FUZZ_COVERAGE=1 configures a source-based coverage build without
# sanitizers instead (for llvm-cov; use another BUILD_DIR).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

src_dir=${BUILD_SRC:-$src_dir}
fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
coverage=${FUZZ_COVERAGE:-0}

clang_build_setup

# The tools, for the image fuzzer (it links the block layer like qemu-img),
# and x86_64-softmmu for QEMU's own fuzz targets (qemu-fuzz-x86_64: generic-
# fuzz on the series' devices, snapfuzz).  Only what is asked for is built,
# so the image fuzzer alone compiles no system emulator.
configure_args=(
    --python=/usr/bin/python3
    --cc=clang-14 --cxx=clang++-14 --host-cc=clang-14
    --target-list=x86_64-softmmu --disable-user --enable-tools
    --enable-fuzzing
    --disable-download --disable-docs --disable-werror
    --disable-guest-agent --disable-vhost-user --disable-libvduse --disable-vduse-blk-export
    --disable-gtk --disable-sdl --disable-vnc --disable-spice --disable-opengl
    --disable-pa --disable-alsa --disable-oss --disable-jack --disable-pipewire
)
if [ "$coverage" = 1 ]; then
    # Source-based coverage of the block drivers only; --disable-fuzzing would
    # drop the fuzzer, so keep it and add the profile instrumentation.
    configure_args+=("--extra-cflags=-fprofile-instr-generate -fcoverage-mapping"
                     "--extra-ldflags=-fprofile-instr-generate")
else
    configure_args+=(--enable-asan --enable-ubsan)
fi
configure_args+=(${QEMU_CONFIGURE_EXTRA:-})

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-img qemu-io tests/image-fuzz/qemu-fuzz-image tests/image-fuzz/seeds.stamp)

lock_dir "$fuzz_build" "build of $fuzz_build"
configure_once "$fuzz_build" "is libclang-rt-14-dev installed?" "${configure_args[@]}"

jobs=${JOBS:-$(nproc)}
# Regenerate build.ninja first when a meson.build changed, so that new
# targets are known.
ninja -C "$fuzz_build" build.ninja >/dev/null || die "meson could not regenerate $fuzz_build"
mapfile -t known < <(known_targets "$fuzz_build" "${targets[@]}")
[ ${#known[@]} -gt 0 ] || die "nothing to build"
ninja -C "$fuzz_build" -j"$jobs" "${known[@]}" \
    || die "build failed; see the compiler messages above"
# The fuzz targets that boot a PC machine need firmware.
if [[ " ${known[*]} " == *" qemu-fuzz-x86_64 "* ]]; then
    link_firmware "$fuzz_build" >/dev/null \
        || die "cannot find the data directory in $fuzz_build/qemu-bundle"
fi
info "$fuzz_build is up to date"
