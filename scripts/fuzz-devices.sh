#!/usr/bin/env bash
# Run QEMU's generic-fuzz on the series' device configurations
# (tests/qtest/fuzz/generic_fuzz_configs.h), each for FUZZ_SECONDS (default
# 120), from the corpus kept in build/fuzz-devices/NAME between runs.  A
# finding is saved there and its reproduce command printed; the exit status
# is nonzero when there was one.  Prints TAP.
#   scripts/fuzz-devices.sh [NAME...]
#
# The fuzzer is build/fuzz-system's qemu-fuzz-x86_64 (scripts/
# build-fuzz-system.sh), whose coverage instrumentation is limited to
# libFuzzer's entry point for the snapfuzz target: here libFuzzer mutates
# without feedback from the device models.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

secs=${FUZZ_SECONDS:-120}
out="$build_dir/fuzz-devices"
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=(virtio-blk-zoned virtio-blk-zoned-iothread
    scsi-zbc nvme-zns-blk nvme-iothread-poll nvme-iothreads snapfuzz)

"$here/build-fuzz-system.sh" qemu-fuzz-x86_64 >&2
fuzz="$build_dir/fuzz-system/qemu-fuzz-x86_64"

echo "1..${#configs[@]}"
n=0 failed=0
for c in "${configs[@]}"; do
    n=$((n + 1))
    d="$out/$c"
    mkdir -p "$d/corpus" "$d/findings"
    if (cd "$d" && "$fuzz" --fuzz-target="generic-fuzz-$c" -max_total_time="$secs" \
            -timeout=10 -rss_limit_mb=4096 -artifact_prefix="$d/findings/" \
            corpus >"$d/log" 2>&1); then
        echo "ok $n - $c: $(grep -E '^#[0-9]+.*DONE' "$d/log" | tail -n 1 | cut -c1-80)"
    else
        failed=1
        echo "not ok $n - $c (log: $d/log)"
        for f in "$d"/findings/*; do
            [ -e "$f" ] || continue
            echo "# reproduce: $fuzz --fuzz-target=generic-fuzz-$c $f"
        done
    fi
done
exit "$failed"
