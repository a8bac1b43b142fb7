#!/usr/bin/env bash
# Executions per second of the disk image fuzzer (ASan+UBSan build), per
# target and stage: every seed of the target, run REPEAT times each, with
# the stages forced by QEMU_FUZZ_IMAGE_STAGES (0 = qemu-img info only,
# 63 = the full pipeline).  Next to it, qemu-img info and convert of the
# same build run by fork/exec on the same images, for comparison.
#   scripts/bench/image-fuzz.sh [target...]
# BENCH_REPEAT (default 20) runs per seed.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
repeat=${BENCH_REPEAT:-20}
BUILD_DIR="$fuzz_build" "$here/build-fuzz.sh" qemu-img \
    tests/image-fuzz/qemu-fuzz-image tests/image-fuzz/seeds.stamp >/dev/null 2>&1 \
    || die "building the fuzzer failed: run scripts/build-fuzz.sh"
fuzzer=$fuzz_build/tests/image-fuzz/qemu-fuzz-image
seeds=$fuzz_build/tests/image-fuzz/seeds
export ASAN_OPTIONS=detect_leaks=0

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qcow2 vmdk vhdx dmg parallels vdi vpc qcow qed cloop bochs)

echo "machine: $(uname -n), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
echo "build: clang --enable-fuzzing --enable-asan --enable-ubsan; $repeat runs per seed"
printf '%-10s %6s %10s %10s %10s %10s %12s %12s\n' target seeds info/s map/s check/s all/s img-info/s img-conv/s

rate() {   # rate TARGET STAGES FILES...: executions per second
    local t=$1 stages=$2; shift 2
    local start end n=$(($# * repeat))
    start=$(date +%s.%N)
    QEMU_FUZZ_IMAGE_STAGES=$stages "$fuzzer" --fuzz-target="$t" -runs="$repeat" \
        -close_fd_mask=3 "$@" >/dev/null 2>&1 || true
    end=$(date +%s.%N)
    echo "$n / ($end - $start)" | bc -l
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/image-fuzz-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
    files=("$seeds/$t"/*)
    info=$(rate "$t" 0 "${files[@]}")
    map=$(rate "$t" 1 "${files[@]}")
    check=$(rate "$t" 2 "${files[@]}")
    all=$(rate "$t" 63 "${files[@]}")
    # qemu-img by fork/exec on the decoded images of the same seeds
    imgs=()
    for f in "${files[@]}"; do
        img=$scratch/$(basename "$f")
        QEMU_FUZZ_IMAGE_STAGES=0 QEMU_FUZZ_IMAGE_DUMP=$img "$fuzzer" --fuzz-target="$t" \
            -runs=1 -close_fd_mask=3 "$f" >/dev/null 2>&1 || true
        [ -s "$img" ] && imgs+=("$img")
    done
    start=$(date +%s.%N)
    for i in $(seq 1 5); do
        for img in "${imgs[@]}"; do
            "$fuzz_build/qemu-img" info -f "$t" "$img" >/dev/null 2>&1 || true
        done
    done
    end=$(date +%s.%N)
    img_info=$(echo "${#imgs[@]} * 5 / ($end - $start)" | bc -l)
    start=$(date +%s.%N)
    for img in "${imgs[@]}"; do
        "$fuzz_build/qemu-img" convert -f "$t" -O raw "$img" "$scratch/out.raw" >/dev/null 2>&1 || true
        rm -f "$scratch/out.raw"
    done
    end=$(date +%s.%N)
    img_conv=$(echo "${#imgs[@]} / ($end - $start)" | bc -l)
    printf '%-10s %6d %10.0f %10.0f %10.0f %10.0f %12.0f %12.0f\n' "$t" "${#files[@]}" \
        "$info" "$map" "$check" "$all" "$img_info" "$img_conv"
done
echo "coverage after 10 minutes (llvm-cov) and the tests/image-fuzzer comparison: not measured yet"
