#!/usr/bin/env bash
# Executions per second of the disk image fuzzer (ASan+UBSan build), per
# target and stage: every seed of the target, run REPEAT times each, with
# the stages forced by QEMU_FUZZ_IMAGE_STAGES (0 = qemu-img info only,
# 63 = the full pipeline of info, map, check, converts, writes and reopen,
# 4095 = that and snapshots, resize, amend, measure, bitmaps, rebase and
# commit).  Next to it, qemu-img info and convert of the same build run by
# fork/exec on the same images, for comparison.
# Then line coverage: each target fuzzed from its seeds for COV_SECONDS of
# CPU time (one process, so one core) with the source-based coverage build
# (scripts/build-fuzz.sh with FUZZ_COVERAGE=1 in COV_BUILD_DIR), its corpus
# replayed and the lines of the target's driver files counted with
# llvm-cov; for qcow2 next to upstream's tests/image-fuzzer/runner.py,
# which drives the coverage build's qemu-img and qemu-io for the same CPU
# time.
#   scripts/bench/image-fuzz.sh [target...]
# BENCH_REPEAT (default 20) runs per seed; BENCH_RATES=0 skips the rates;
# BENCH_FUZZ_SECONDS (default 60) of info-only fuzzing per target for the
# campaign's own rate;
# COV_SECONDS (default 600, 0 skips the coverage part); COV_TARGETS (default:
# the targets) are measured;
# COV_JOBS (default 1) targets are fuzzed at a time; COV_BUILD_DIR (default
# build/fuzz-cov); COV_KEEP=DIR keeps the corpora,
# profiles and llvm-cov reports in DIR (default build/bench/image-fuzz-cov).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
repeat=${BENCH_REPEAT:-20}
rates=${BENCH_RATES:-1}
if [ "$rates" = 1 ] || [ ! -f "$fuzz_build/tests/image-fuzz/seeds.stamp" ]; then
    BUILD_DIR="$fuzz_build" "$here/build-fuzz.sh" qemu-img \
        tests/image-fuzz/qemu-fuzz-image tests/image-fuzz/seeds.stamp >/dev/null 2>&1 \
        || die "building the fuzzer failed: run scripts/build-fuzz.sh"
fi
fuzzer=$fuzz_build/tests/image-fuzz/qemu-fuzz-image
seeds=$fuzz_build/tests/image-fuzz/seeds
export ASAN_OPTIONS=detect_leaks=0

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(qcow2 vmdk vhdx dmg parallels vdi vpc qcow qed cloop bochs luks)
fuzz_secs=${BENCH_FUZZ_SECONDS:-60}

echo "machine: $(uname -n), $(nproc) CPUs, $(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n 1)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/image-fuzz-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
if [ "$rates" = 1 ]; then
echo "build: clang --enable-fuzzing --enable-asan --enable-ubsan; $repeat runs per seed;"
echo "rates per CPU second (user + system), without the start of the process"
echo "fuzz-info/s: libFuzzer's own exec/s, fuzzing from the seeds for ${fuzz_secs}s with only"
echo "qemu-img info's stage (one process, wall clock, as a campaign runs); faults/x: page faults"
echo "per execution of the info-only replay"
printf '%-10s %6s %9s %9s %9s %9s %9s %11s %11s %11s %8s\n' target seeds info/s map/s check/s all/s all+/s \
    img-info/s img-conv/s fuzz-info/s faults/x

# CPU seconds (user + system) of a command, so that other load on the
# machine does not count
cpu_time() {
    local TIMEFORMAT='%U %S' t
    t=$( { time "$@" >/dev/null 2>&1; } 2>&1 ) || true
    echo "$t" | awk '{ print $1 + $2 }'
}

# fuzz_rate TARGET: libFuzzer's exec/s of an info-only campaign from a copy
# of the seeds, with the flags of the target's .options file
fuzz_rate() {
    local t=$1 d=$scratch/corpus-$1 opts i
    rm -rf "$d"
    mkdir -p "$d"
    cp "$seeds/$t"/* "$d/"
    mapfile -t opts < <(options_args "$seeds/qemu-fuzz-image-target-$t.options")
    # .options names the dictionary relative to its own directory
    for i in "${!opts[@]}"; do
        case ${opts[$i]} in -dict=*) opts[$i]=-dict=$seeds/${opts[$i]#-dict=} ;; esac
    done
    QEMU_FUZZ_IMAGE_STAGES=0 "$fuzzer" --fuzz-target="$t" -max_total_time="$fuzz_secs" \
        "${opts[@]}" "$d" 2>&1 | sed -n 's/.*DONE .*exec\/s: \([0-9]*\).*/\1/p' | tail -n 1
    rm -rf "$d"
}

# replay TARGET STAGES FILES...: "EXECS-PER-CPU-SECOND FAULTS-PER-EXECUTION"
# of the fuzzer replaying FILES with STAGES forced, without the start of the
# process (the fuzzer runs for hours in one): CPU time (user + system, so
# that other load on the machine does not count) and page faults of a run
# of each file once taken from those of a run of each file RUNS times, at
# least 200 executions, or a target with three seeds measures noise
replay() {
    local t=$1 stages=$2; shift 2
    local runs=$(( repeat * $# >= 200 ? repeat : (200 + $# - 1) / $# ))
    QEMU_FUZZ_IMAGE_STAGES=$stages /usr/bin/python3 - "$fuzzer" "$runs" "$t" "$@" <<'PY'
import resource, subprocess, sys
fuzzer, runs, target, files = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4:]
def usage(n):
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([fuzzer, "--fuzz-target=" + target, "-runs=%d" % n,
                    "-close_fd_mask=3"] + files,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime,
            r1.ru_minflt + r1.ru_majflt - r0.ru_minflt - r0.ru_majflt)
(cpu1, flt1), (cpun, fltn) = usage(1), usage(runs)
execs = len(files) * (runs - 1)
print("%f %d" % (execs / (cpun - cpu1), round((fltn - flt1) / execs)))
PY
}

rate() {   # rate TARGET STAGES FILES...: executions per CPU second
    local r
    read -r r _ < <(replay "$@")
    echo "$r"
}

img_info_all() {   # img_info_all FMT IMAGES...: qemu-img info, 5 times each
    local fmt=$1 i img; shift
    for i in 1 2 3 4 5; do
        for img in "$@"; do
            "$fuzz_build/qemu-img" info -f "$fmt" "$img" >/dev/null 2>&1 || true
        done
    done
}

img_conv_all() {   # img_conv_all FMT IMAGES...: qemu-img convert to raw
    local fmt=$1 img; shift
    for img in "$@"; do
        "$fuzz_build/qemu-img" convert -f "$fmt" -O raw "$img" "$scratch/out.raw" \
            >/dev/null 2>&1 || true
        rm -f "$scratch/out.raw"
    done
}

for t in "${targets[@]}"; do
    files=("$seeds/$t"/*)
    read -r info faults < <(replay "$t" 0 "${files[@]}")
    map=$(rate "$t" 1 "${files[@]}")
    check=$(rate "$t" 2 "${files[@]}")
    all=$(rate "$t" 63 "${files[@]}")
    allplus=$(rate "$t" 4095 "${files[@]}")
    # qemu-img by fork/exec on the decoded images of the same seeds
    imgs=()
    for f in "${files[@]}"; do
        img=$scratch/$(basename "$f")
        QEMU_FUZZ_IMAGE_STAGES=0 QEMU_FUZZ_IMAGE_DUMP=$img "$fuzzer" --fuzz-target="$t" \
            -runs=1 -close_fd_mask=3 "$f" >/dev/null 2>&1 || true
        [ -s "$img" ] && imgs+=("$img")
    done
    img_info=$(echo "${#imgs[@]} * 5 / $(cpu_time img_info_all "$t" "${imgs[@]}")" | bc -l)
    img_conv=$(echo "${#imgs[@]} / $(cpu_time img_conv_all "$t" "${imgs[@]}")" | bc -l)
    fuzz_info=$(fuzz_rate "$t")
    printf '%-10s %6d %9.0f %9.0f %9.0f %9.0f %9.0f %11.0f %11.0f %11s %8s\n' "$t" "${#files[@]}" \
        "$info" "$map" "$check" "$all" "$allplus" "$img_info" "$img_conv" "${fuzz_info:--}" "$faults"
done
fi

cov_secs=${COV_SECONDS:-600}
[ "$cov_secs" -gt 0 ] || exit 0
cov_build=${COV_BUILD_DIR:-$build_dir/fuzz-cov}
# Absolute: upstream's runner.py runs its tools in directories of its own
cov_keep=$(realpath -m "${COV_KEEP:-$build_dir/bench/image-fuzz-cov}")
read -r -a cov_targets <<<"${COV_TARGETS:-${targets[*]}}"
command -v llvm-cov-14 >/dev/null && command -v llvm-profdata-14 >/dev/null \
    || die "llvm-cov-14/llvm-profdata-14 are missing: apt-get install llvm-14"
FUZZ_COVERAGE=1 BUILD_DIR="$cov_build" "$here/build-fuzz.sh" qemu-img qemu-io \
    tests/image-fuzz/qemu-fuzz-image >/dev/null 2>&1 \
    || die "building the coverage tree failed: run FUZZ_COVERAGE=1 BUILD_DIR=$cov_build scripts/build-fuzz.sh"
cov_fuzzer=$cov_build/tests/image-fuzz/qemu-fuzz-image
# The upstream generator comes from the tree the coverage build was made of
cov_src=$(/usr/bin/python3 -c 'import json, sys
print(json.load(open(sys.argv[1]))["directories"]["source"])' "$cov_build/meson-info/meson-info.json")
tck=$(getconf CLK_TCK)
# runner.py passes sets to random.sample(), which Python 3.11 refuses: run
# it unchanged, with random.sample() taking sets as older Pythons did
py311_shim='import random, runpy, sys
_sample = random.sample
random.sample = lambda p, k, **kw: _sample(
    sorted(p) if isinstance(p, (set, frozenset)) else p, k, **kw)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")'

cpu_of() {   # cpu_of PID: CPU seconds of PID and its waited-for children
    local st
    read -r -a st 2>/dev/null <"/proc/$1/stat" || { echo 0; return; }
    # Fields 14-17 (utime stime cutime cstime); comm has no spaces here
    echo $(( (st[13] + st[14] + st[15] + st[16]) / tck ))
}

cpu_run() {  # cpu_run SECONDS LOG CMD...: run CMD in its own session until it
             # exits or has used SECONDS of CPU; prints the CPU seconds used
    local budget=$1 log=$2 pid used=0; shift 2
    setsid "$@" >>"$log" 2>&1 </dev/null &
    pid=$!
    while kill -0 "$pid" 2>/dev/null; do
        sleep 1
        used=$(cpu_of "$pid")
        if [ "$used" -ge "$budget" ]; then
            kill -INT -- "-$pid" 2>/dev/null || true
            sleep 5
            kill -KILL -- "-$pid" 2>/dev/null || true
            break
        fi
    done
    wait "$pid" 2>/dev/null || true
    echo "$used"
}

# lines_covered PROFDATA FILE-REGEX BINARY...: "covered/total percent"
lines_covered() {
    local prof=$1 re=$2 bin=$3; shift 3
    local objs=()
    for o in "$@"; do objs+=(-object "$o"); done
    llvm-cov-14 report "$bin" "${objs[@]}" -instr-profile="$prof" 2>/dev/null \
        | awk -v re="$re" '$1 ~ re { lines += $8; missed += $9 }
              END { if (lines) printf "%d/%d %.1f%%", lines - missed, lines,
                                     100 * (lines - missed) / lines;
                    else printf "-" }'
}

driver_files() {   # the regex of a target's driver files
    case $1 in
    luks) echo "(^|/)(block/crypto|crypto/block(-luks)?|crypto/afsplit)\\.c\$" ;;
    *) echo "(^|/)block/$1(-[a-z0-9-]+)?\\.c\$" ;;
    esac
}

driver_name() {   # what driver_files() counts, for the table
    case $1 in
    luks) echo "block/crypto.c+LUKS" ;;
    *) echo "block/$1*.c" ;;
    esac
}

mkdir -p "$cov_keep"
echo
echo "line coverage of the driver after ${cov_secs}s CPU on one core (llvm-cov, coverage build $cov_build)"
printf '%-10s %-20s %22s %8s %22s %7s\n' target driver image-fuzz execs tests/image-fuzzer execs
# upstream_cov DIR: run upstream's tests/image-fuzzer (qcow2 only) with the
# coverage build's qemu-img and qemu-io for COV_SECONDS of CPU time; writes
# "COVERAGE RUNS" to DIR/upstream.result
upstream_cov() {
    local d=$1 f cov runs
    mkdir -p "$d/upstream" "$d/up-prof"
    # %4m: a pool of profiles merged as the processes exit
    LLVM_PROFILE_FILE="$d/up-prof/up-%4m.profraw" QEMU_IMG="$cov_build/qemu-img" \
        QEMU_IO="$cov_build/qemu-io" \
        cpu_run "$cov_secs" "$d/upstream.log" /usr/bin/python3 -c "$py311_shim" \
        "$cov_src/tests/image-fuzzer/runner.py" -v -d $((cov_secs * 20)) \
        "$d/upstream" "$cov_src/tests/image-fuzzer/qcow2" >/dev/null
    # Each run of qemu-img or qemu-io ends with PASS or FAIL
    runs=$(grep -c -E '^(PASS|FAIL):' "$d/upstream/run.log" 2>/dev/null || true)
    grep -B4 -E '^FAIL:' "$d/upstream/run.log" >"$d/upstream-failures.txt" 2>/dev/null || true
    # A profile cut short by the end of the run is unreadable: drop it
    for f in "$d/up-prof/"*.profraw; do
        llvm-profdata-14 show "$f" >/dev/null 2>&1 || rm -f "$f"
    done
    if ! compgen -G "$d/up-prof/*.profraw" >/dev/null; then
        echo "upstream: no readable profile in $d/up-prof" >>"$d/upstream.log"
        return
    fi
    llvm-profdata-14 merge -sparse "$d/up-prof/"*.profraw -o "$d/upstream.profdata"
    cov=$(lines_covered "$d/upstream.profdata" "$(driver_files qcow2)" \
          "$cov_build/qemu-img" "$cov_build/qemu-io")
    llvm-cov-14 report "$cov_build/qemu-img" -object "$cov_build/qemu-io" \
        -instr-profile="$d/upstream.profdata" >"$d/upstream-report.txt" 2>&1 || true
    rm -rf "$d/up-prof" "$d/upstream"
    echo "$cov ${runs:-0}" >"$d/upstream.result"
}

cov_one() {   # cov_one TARGET: fuzz, replay, count; writes the row to DIR/row
    local t=$1 d=$cov_keep/$1 up_pid used runs u execs fuzz_cov up_cov up_runs up_pct
    rm -rf "$d"
    mkdir -p "$d/corpus" "$d/art" "$d/prof"
    # Upstream's generator knows qcow2 only; it runs on the other core
    up_pid=
    if [ "$t" = qcow2 ] && [ -f "$cov_src/tests/image-fuzzer/runner.py" ]; then
        upstream_cov "$d" &
        up_pid=$!
    fi
    # Fuzz; a finding ends libFuzzer, so go on with what is left of the time
    used=0 runs=0
    while [ "$used" -lt "$cov_secs" ] && [ "$runs" -lt 50 ]; do
        runs=$((runs + 1))
        u=$(LLVM_PROFILE_FILE=/dev/null cpu_run $((cov_secs - used)) "$d/fuzz.log" \
            "$cov_fuzzer" --fuzz-target="$t" -timeout=20 -rss_limit_mb=2560 \
            -malloc_limit_mb=256 -max_len=1048576 -close_fd_mask=3 \
            -dict="$seeds/qemu-fuzz-image-target-$t.dict" -print_final_stats=1 \
            -artifact_prefix="$d/art/" -seed=$runs "$d/corpus" "$seeds/$t")
        used=$((used + (u > 0 ? u : 1)))
    done
    # Replay seeds and corpus once with the profile on; if an input crashes
    # the coverage build, replay one file per process instead
    if ! LLVM_PROFILE_FILE="$d/prof/replay.profraw" "$cov_fuzzer" \
            --fuzz-target="$t" -runs=0 -close_fd_mask=3 -timeout=20 \
            "$d/corpus" "$seeds/$t" >"$d/replay.log" 2>&1; then
        rm -f "$d/prof/"*
        for f in "$d/corpus"/* "$seeds/$t"/*; do
            LLVM_PROFILE_FILE="$d/prof/replay-%4m.profraw" "$cov_fuzzer" \
                --fuzz-target="$t" -runs=1 -close_fd_mask=3 -timeout=20 "$f" \
                >/dev/null 2>&1 || true
        done
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/fuzz.log" \
            | awk '{ n += $1 } END { print n + 0 }')
    llvm-profdata-14 merge -sparse "$d/prof/"*.profraw -o "$d/fuzz.profdata"
    fuzz_cov=$(lines_covered "$d/fuzz.profdata" "$(driver_files "$t")" "$cov_fuzzer")
    llvm-cov-14 report "$cov_fuzzer" -instr-profile="$d/fuzz.profdata" \
        >"$d/fuzz-report.txt" 2>&1 || true
    rm -rf "$d/prof"

    up_cov=- up_pct= up_runs=-
    if [ -n "$up_pid" ]; then
        wait "$up_pid" || true
        # No result when none of upstream's profiles could be read
        read -r up_cov up_pct up_runs <"$d/upstream.result" 2>/dev/null ||
            up_cov=- up_pct= up_runs=-
        up_cov="$up_cov $up_pct"
    fi
    printf '%-10s %-20s %22s %8s %22s %7s\n' "$t" "$(driver_name "$t")" \
        "$fuzz_cov" "$execs" "$up_cov" "$up_runs" >"$d/row"
}

# COV_JOBS targets at a time, each one process on one core (the budget is
# CPU time, so sharing the cores does not change what a target gets)
jobs=${COV_JOBS:-1}
running=0
for t in "${cov_targets[@]}"; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    cov_one "$t" &
    running=$((running + 1))
done
wait || true
for t in "${cov_targets[@]}"; do
    cat "$cov_keep/$t/row" 2>/dev/null || printf '%-10s %s\n' "$t" "(no result)"
done
echo "(lines covered/total; execs: fuzzer executions, and runs of qemu-img/qemu-io"
echo " on images tests/image-fuzzer generated; llvm-cov reports in $cov_keep)"
