#!/usr/bin/env bash
# Device fuzzing, measured: runs scripts/fuzz-devices.sh (generic-fuzz, build/
# fuzz with ASan+UBSan) on every configuration for DEVFUZZ_SECONDS (default
# 300) from its kept corpus, then replays each corpus in a source-based
# coverage build (build/fuzz-cov, no sanitizers) and prints, per
# configuration, executions per second and the line coverage of the device
# code it is meant to reach: the whole file, and the lines the series adds
# to it (git diff base..HEAD of build/src).  DEVFUZZ_SECONDS=0 measures the
# corpora as they are.  Then, per source file, the union of the
# configurations that reach it (generic-fuzz and the queue or command
# target of a device: what fuzzing covers of it).  Goal (issue 21): >= 70 %
# of the new device code.  The profiles, and per configuration and for each
# union the series' lines that did not run, stay in COV_KEEP (default
# build/bench/device-fuzz-cov).
#   scripts/bench/device-fuzz.sh [NAME...]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

secs=${DEVFUZZ_SECONDS:-300}
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=("${device_fuzz_configs[@]}")
out="$build_dir/fuzz-devices"
cov_build=${COV_BUILD_DIR:-$build_dir/fuzz-cov}

# The source files each configuration is for.
surface() {
    case "$1" in
        virtio-blk-zoned*) echo hw/block/virtio-blk.c block/zone-emu.c ;;
        scsi-zbc*) echo hw/scsi/scsi-disk.c block/zone-emu.c ;;
        nvme-zns-blk|nvme-zns-cmds) echo hw/nvme/zns-blk.c ;;
        nvme-iothread-cmds) echo hw/nvme/dataplane.c hw/nvme/zns-blk.c ;;
        nvme-subsys-cmds) echo hw/nvme/subsys.c hw/nvme/dataplane.c hw/nvme/zns-blk.c ;;
        nvme-iothread*|nvme-viommu-cmds|nvme-amdvi-cmds) echo hw/nvme/dataplane.c ;;
        snapfuzz) echo hw/misc/snapfuzz/snapfuzz.c ;;
    esac
}

command -v llvm-cov-14 >/dev/null && command -v llvm-profdata-14 >/dev/null \
    || die "llvm-cov-14/llvm-profdata-14 are missing: apt-get install llvm-14"

echo "# machine: $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1); accelerator: qtest (generic-fuzz drives the devices itself, no guest code)"
if [ "$secs" -gt 0 ]; then
    FUZZ_SECONDS=$secs "$here/fuzz-devices.sh" "${configs[@]}" >&2 \
        || info "fuzz-devices.sh reported findings; see above"
fi
FUZZ_COVERAGE=1 BUILD_DIR="$cov_build" "$here/build-fuzz.sh" qemu-fuzz-x86_64 >&2 \
    || die "building the coverage tree failed: run FUZZ_COVERAGE=1 BUILD_DIR=$cov_build scripts/build-fuzz.sh qemu-fuzz-x86_64"
bin="$cov_build/qemu-fuzz-x86_64"
prof=${COV_KEEP:-$build_dir/bench/device-fuzz-cov}
mkdir -p "$prof"
rm -f "$prof"/*.profraw "$prof"/*.profdata "$prof"/*.cov "$prof"/*.log
declare -A reached      # source file -> the profiles of the configurations

printf '%-26s %7s %8s  %-28s %14s %14s\n' config inputs execs/s file "lines" "series' lines"
for c in "${configs[@]}"; do
    d="$out/$c"
    [ -d "$d/corpus" ] || { printf '%-26s (no corpus: run make fuzz-devices)\n' "$c"; continue; }
    # No log: a corpus that no run of this machine made (DEVFUZZ_SECONDS=0)
    execs=$( { sed -n 's/^stat::number_of_executed_units: *//p' "$d/log" 2>/dev/null || true; } | tail -n 1)
    rate=$(awk -v e="${execs:-0}" -v s="$secs" 'BEGIN { if (s > 0) printf "%.0f", e / s; else printf "-" }')
    n=$(find "$d/corpus" -type f | wc -l)
    (cd "$prof" && LLVM_PROFILE_FILE="$prof/$c-%p.profraw" "$bin" \
        --fuzz-target="$(device_fuzz_target "$c")" -runs=0 "$d/corpus" >"$prof/$c.log" 2>&1) \
        || info "$c: replaying the corpus failed (log $prof/$c.log)"
    llvm-profdata-14 merge -o "$prof/$c.profdata" "$prof/$c"-*.profraw
    rm -f "$prof/$c"-*.profraw
    read -r -a files <<<"$(surface "$c")"
    for f in "${files[@]}"; do
        reached[$f]+=" $c"
    done
    python3 "$here/bench/series-line-coverage.py" --uncovered "$bin" \
        "$prof/$c.profdata" "$src_dir" "${files[@]}" >"$prof/$c.cov"
    for i in "${!files[@]}"; do
        read -r all added < <(sed -n "$((i + 1))p" "$prof/$c.cov")
        printf '%-26s %7d %8s  %-28s %14s %14s\n' "$c" "$n" "$rate" "${files[$i]}" "$all" "$added"
    done
done

# What fuzzing covers of each file: the configurations that reach it, merged
echo
printf '%-38s  %-28s %14s %14s\n' "configurations (union)" file lines "series' lines"
for f in "${!reached[@]}"; do
    read -r -a cs <<<"${reached[$f]}"
    u=$prof/union-$(echo "$f" | tr / _)
    profiles=()
    for c in "${cs[@]}"; do
        profiles+=("$prof/$c.profdata")
    done
    llvm-profdata-14 merge -o "$u.profdata" "${profiles[@]}"
    python3 "$here/bench/series-line-coverage.py" --uncovered "$bin" \
        "$u.profdata" "$src_dir" "$f" >"$u.cov"
    read -r all added < <(head -n 1 "$u.cov")
    printf '%-38s  %-28s %14s %14s\n' "$(IFS=+; echo "${cs[*]}")" "$f" "$all" "$added"
done | sort -k2
echo "(the series' lines that no run reached: $prof/*.cov)"
