#!/usr/bin/env bash
# Configure (once) and build the clang/libFuzzer system tree of the snapfuzz
# libFuzzer target (tests/qtest/fuzz/snapfuzz_fuzz.c): build/fuzz-system with
# qemu-fuzz-x86_64.  No sanitizers: the code under test is the guest, whose
# coverage reaches libFuzzer through the snapfuzz coverage window.  QEMU's own
# coverage instrumentation is restricted to the fuzz harness so that QEMU's
# device emulation does not add features of its own (see
# docs/specs/snapfuzz.rst, "libFuzzer").
#   scripts/build-fuzz-system.sh [ninja targets]
# BUILD_SRC (default build/src) and BUILD_DIR (default build/fuzz-system)
# select the trees; JOBS the parallelism.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

src_dir=${BUILD_SRC:-$src_dir}
fuzz_build=${BUILD_DIR:-$build_dir/fuzz-system}

clang_build_setup

configure_args=(
    --python=/usr/bin/python3
    --cc=clang-14 --cxx=clang++-14 --host-cc=clang-14
    --target-list=x86_64-softmmu
    --disable-tools --disable-user
    --enable-fuzzing
    --disable-debug-info
    --disable-download --disable-docs --disable-werror
    --disable-guest-agent --disable-vhost-user --disable-libvduse --disable-vduse-blk-export
    --disable-gtk --disable-sdl --disable-vnc --disable-spice --disable-opengl
    --disable-pa --disable-alsa --disable-oss --disable-jack --disable-pipewire
)
configure_args+=(${QEMU_CONFIGURE_EXTRA:-})

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qemu-fuzz-x86_64)

# QEMU's coverage allowlist (scripts/oss-fuzz/instrumentation-filter-template)
# instruments the device models; here only libFuzzer's entry point in fuzz.c
# is, so the features libFuzzer sees are the guest's.  Not snapfuzz_fuzz.c:
# its loop that waits for the guest runs as many times as the guest takes,
# and those hit counts were features of their own that filled the corpus
# with noise (and made a run with a fixed -seed differ from the last).
# meson copies the template into the build tree whenever it regenerates, so
# it is replaced before every build; when it changes, the objects it applies
# to are rebuilt (ninja does not track the file).
filter='# build-fuzz-system.sh: only the fuzz entry point; the guest provides the coverage
src:*/tests/qtest/fuzz/fuzz.c
fun:*'

configure_once "$fuzz_build" "is libclang-rt-14-dev installed?" "${configure_args[@]}"

jobs=${JOBS:-$(nproc)}
ninja -C "$fuzz_build" build.ninja >/dev/null || die "meson could not regenerate $fuzz_build"
stamp="$fuzz_build/instrumentation-filter.used"
if [ "$(cat "$stamp" 2>/dev/null)" != "$filter" ]; then
    find "$fuzz_build" -path '*tests_qtest_fuzz*' -name '*.o' -delete
fi
printf '%s\n' "$filter" >"$fuzz_build/instrumentation-filter"
printf '%s\n' "$filter" >"$stamp"
mapfile -t known < <(known_targets "$fuzz_build" "${targets[@]}")
[ ${#known[@]} -gt 0 ] || die "nothing to build"
ninja -C "$fuzz_build" -j"$jobs" "${known[@]}" \
    || die "build failed; see the compiler messages above"
# The fuzz targets that boot a PC machine (generic-fuzz) need firmware too.
link_firmware "$fuzz_build" >/dev/null || die "cannot find the data directory in $fuzz_build/qemu-bundle"
info "$fuzz_build is up to date"
