#!/usr/bin/env bash
# Run QEMU's generic-fuzz on the series' device configurations
# (tests/qtest/fuzz/generic_fuzz_configs.h), and the virtqueue targets of
# zoned virtio-blk and ZBC scsi-hd (NAME-queues, device_fuzz_target in
# lib.sh), each for FUZZ_SECONDS (default 120), from the corpus kept in
# build/fuzz-devices/NAME/corpus between runs (started from the project's
# seeds in scripts/fuzz-devices/NAME.tar.xz, a corpus merged with
# libFuzzer's -merge=1 after a longer run; the first seeds of the queue
# targets are one request each, from queue-seeds.py, those of snapfuzz
# command sequences of its state machine, from snapfuzz-seeds.py).  A
# finding is saved in build/fuzz-devices/NAME/findings and its reproduce
# command printed; the exit status is nonzero when there was one.  Prints TAP.
#   scripts/fuzz-devices.sh [--check] [NAME...]
#
# --check is make check's fast path: each configuration runs FUZZ_SECONDS
# (default 5) from the project's seeds alone, in a scratch directory, so a
# regression in a device shows at once and nothing is kept.
#
# The fuzzer is build/fuzz's qemu-fuzz-x86_64 (scripts/build-fuzz.sh: clang,
# libFuzzer, ASan and UBSan, the device models and the block layer
# instrumented by QEMU's instrumentation filter).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

check=0
if [ "${1:-}" = --check ]; then
    check=1
    shift
fi
secs=${FUZZ_SECONDS:-$([ $check = 1 ] && echo 5 || echo 120)}
seeds="$here/fuzz-devices"
configs=("$@")
[ ${#configs[@]} -gt 0 ] || configs=("${device_fuzz_configs[@]}")

if ! "$here/build-fuzz.sh" qemu-fuzz-x86_64 >&2; then
    echo "1..1"
    echo "not ok 1 - build qemu-fuzz-x86_64 (scripts/build-fuzz.sh)"
    exit 1
fi
fuzz="$build_dir/fuzz/qemu-fuzz-x86_64"

if [ $check = 1 ]; then
    out=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-devices.XXXXXX")
    trap 'rm -rf "$out"' EXIT
else
    out="$build_dir/fuzz-devices"
fi
# Leaks, UBSan reports and ASan errors are findings; the run stops at the
# first one (libFuzzer saves the input).
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The inputs of fixed findings (scripts/fuzz-devices/reproducers/NAME/),
# replayed before each configuration runs
nrepro=0
for c in "${configs[@]}"; do
    if compgen -G "$seeds/reproducers/$c/*" >/dev/null; then nrepro=$((nrepro + 1)); fi
done
echo "1..$((${#configs[@]} + nrepro))"
n=0 failed=0
for c in "${configs[@]}"; do
    d="$out/$c"
    # libFuzzer's -timeout.  snapfuzz's SNAPSHOT, RESTORE and verify=on
    # copy or compare all of the guest's RAM: its configuration has 16 MiB
    # (with q35's 128 MiB a seed took up to 12.5 s under ASan; now its
    # slowest input in 30 minutes took under a second).
    # 25 s is OSS-Fuzz's default.  With 10 s, two snapfuzz inputs that
    # take 49 and 350 ms alone (200-360 ms beside two TCG guests) timed out
    # once each, after 10 and 16 s, on this machine while it ran TCG guests
    # and builds, and never again when replayed: stalls of the machine,
    # not of QEMU (each snapfuzz command pauses and resumes the qtest vCPU
    # thread, ~100 thread round trips an input, which makes it the most
    # sensitive).  In make check, where only a hang must show, 60 s.
    tmo=$([ $check = 1 ] && echo 60 || echo 25)
    # libFuzzer's -timeout is an alarm that a deadlock between QEMU's
    # threads can keep from firing: a wall-clock limit aborts such a run,
    # and libFuzzer saves the input it was running as a crash-* finding.
    watchdog=(timeout -s ABRT -k 30)
    mkdir -p "$d/corpus" "$d/findings"
    target=$(device_fuzz_target "$c")
    if compgen -G "$seeds/reproducers/$c/*" >/dev/null; then
        n=$((n + 1))
        repro=("$seeds/reproducers/$c"/*)
        if (cd "$d" && "${watchdog[@]}" $((${#repro[@]} * tmo + 60)) \
                "$fuzz" --fuzz-target="$target" -runs=1 -timeout="$tmo" \
                "${repro[@]}" >"$d/replay.log" 2>&1); then
            echo "ok $n - $c: ${#repro[@]} reproducers replayed"
        else
            failed=1
            echo "not ok $n - $c: a reproducer fails (log: $d/replay.log)"
            grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$d/replay.log" | head -n 3 | sed 's/^/# /'
        fi
    fi
    n=$((n + 1))
    dirs=("$d/corpus")
    if [ -f "$seeds/$c.tar.xz" ]; then
        rm -rf "$d/seeds"
        mkdir -p "$d/seeds"
        tar -C "$d/seeds" -xJf "$seeds/$c.tar.xz"
        dirs+=("$d/seeds")
    fi
    if (cd "$d" && "${watchdog[@]}" $((secs + 2 * tmo + 120)) \
            "$fuzz" --fuzz-target="$target" -max_total_time="$secs" \
            -timeout="$tmo" -rss_limit_mb=4096 -artifact_prefix="$d/findings/" \
            -print_final_stats=1 "${dirs[@]}" >"$d/log" 2>&1); then
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$d/log")
        cov=$(grep -E '^#[0-9]+' "$d/log" | tail -n 1 | sed -n 's/.* cov: \([0-9]*\) .*/\1/p')
        echo "ok $n - $c: ${execs:-?} inputs in ${secs} s, ${cov:-?} edges"
    else
        failed=1
        echo "not ok $n - $c (log: $d/log)"
        grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$d/log" | head -n 3 | sed 's/^/# /'
        for f in "$d"/findings/*; do
            [ -e "$f" ] || continue
            if [ $check = 1 ]; then
                mkdir -p "$build_dir/fuzz-devices/$c/findings"
                cp "$f" "$build_dir/fuzz-devices/$c/findings/"
                f="$build_dir/fuzz-devices/$c/findings/${f##*/}"
            fi
            echo "# reproduce: $fuzz --fuzz-target=$target $f"
            echo "# as qtest commands: QTEST_LOG=1 FUZZ_SERIALIZE_QTEST=1 $fuzz --fuzz-target=$target $f"
        done
    fi
done
exit "$failed"
