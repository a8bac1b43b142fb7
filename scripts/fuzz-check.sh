#!/usr/bin/env bash
# make check for the disk image fuzzer (tests/image-fuzz): build it with
# scripts/build-fuzz.sh, check that an image as it is is an input and that
# tests/image-fuzz/unpack.py reads inputs as the fuzzer does, replay the
# reproducers of fixed findings (tests/image-fuzz/regressions/TARGET/),
# then fuzz every target for a few seconds from its seeds.  Any sanitizer
# report, crash, leak or timeout fails.  Prints TAP.
#   scripts/fuzz-check.sh [target...]
# FUZZ_CHECK_SECONDS (default 5) is the fuzzing time per target.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

src=${BUILD_SRC:-$src_dir}
fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
secs=${FUZZ_CHECK_SECONDS:-5}

if ! BUILD_SRC="$src" BUILD_DIR="$fuzz_build" "$here/build-fuzz.sh" \
        tests/image-fuzz/qemu-fuzz-image tests/image-fuzz/seeds.stamp >&2; then
    echo "1..1"
    echo "not ok 1 - build the image fuzzer (scripts/build-fuzz.sh)"
    exit 1
fi
fuzzer=$fuzz_build/tests/image-fuzz/qemu-fuzz-image
seeds=$fuzz_build/tests/image-fuzz/seeds
regressions=$src/tests/image-fuzz/regressions

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    for f in "$seeds"/qemu-fuzz-image-target-*.options; do
        t=${f##*/qemu-fuzz-image-target-}
        targets+=("${t%.options}")
    done
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# One replay test per target that has reproducers, one fuzz test per target
nrepro=0
for t in "${targets[@]}"; do
    if compgen -G "$regressions/$t/*" >/dev/null; then nrepro=$((nrepro + 1)); fi
done
n=0 failed=0
echo "1..$((7 + nrepro + ${#targets[@]}))"
report() {   # report STATUS DESCRIPTION LOG
    n=$((n + 1))
    if [ "$1" = 0 ]; then
        echo "ok $n - $2"
    else
        failed=$((failed + 1))
        echo "not ok $n - $2"
        # The sanitizer report, indented as a TAP diagnostic
        grep -E -A25 '==[0-9]+==ERROR: |runtime error|Assertion|SUMMARY|Test unit written|^# as qemu-img' "$3" \
            | head -60 | sed 's/^/# /' || true
    fi
}

# libFuzzer's -timeout is a SIGALRM that only counts in the fuzzing thread;
# qemu_init_main_loop() blocks it, so the harness must unblock it, or an
# input that runs for hours is never reported.  Look at the thread's
# blocked signals once it runs inputs.
alarm_log=$scratch/sigalrm.log
mkdir -p "$scratch/sigalrm"
"$fuzzer" --fuzz-target="${targets[0]}" -max_total_time=60 -close_fd_mask=3 \
    "$scratch/sigalrm" "$seeds/${targets[0]}" >"$alarm_log" 2>&1 &
alarm_pid=$!
for _ in $(seq 300); do
    grep -q INITED "$alarm_log" && break
    sleep 0.2
done
blocked=$(sed -n 's/^SigBlk:[[:space:]]*//p' "/proc/$alarm_pid/task/$alarm_pid/status" \
          2>/dev/null || true)
kill "$alarm_pid" 2>/dev/null || true
wait "$alarm_pid" 2>/dev/null || true
if [ -n "$blocked" ] && grep -q INITED "$alarm_log" && (( !((0x$blocked >> 13) & 1) )); then
    report 0 "libFuzzer's -timeout can fire (SIGALRM not blocked)" "$alarm_log"
else
    echo "# SigBlk of the fuzzing thread: ${blocked:-unknown} (SIGALRM is bit 13)" >>"$alarm_log"
    report 1 "libFuzzer's -timeout can fire (SIGALRM not blocked)" "$alarm_log"
    tail -3 "$alarm_log" | sed 's/^/# /'
fi

# An image as it is is an input: it goes through the stages that only
# read an image (0x10f), so that a crash file opens in qemu-img and image
# corpora are seeds as they are
plain_log=$scratch/plain.log
"$fuzz_build/qemu-img" create -q -f qcow2 "$scratch/plain.qcow2" 1M
size=$(stat -c %s "$scratch/plain.qcow2")
QEMU_FUZZ_IMAGE_VERBOSE=1 "$fuzzer" --fuzz-target=qcow2 -runs=1 \
    "$scratch/plain.qcow2" >"$plain_log" 2>&1 || true
grep -q "^image-fuzz: input: plain image, image of $size bytes, stages 0x10f$" \
    "$plain_log" && grep -q '^image-fuzz: check: 0, 0 corruptions' "$plain_log" &&
    grep -q '^image-fuzz: measure: required' "$plain_log"
report $? "an image as it is is an input: info, map, check, convert, measure" \
    "$plain_log"

# The image that unpack.py writes is the one the fuzzer reads, for every
# reproducer (containers and images as they are)
unpack_log=$scratch/unpack.log
rc=0
for t in "${targets[@]}"; do
    for f in "$regressions/$t"/*; do
        [ -f "$f" ] || continue
        echo "# $f" >>"$unpack_log"
        python3 "$src/tests/image-fuzz/unpack.py" --format "$t" "$f" \
            "$scratch/unpacked" >>"$unpack_log" 2>&1 || rc=1
        rm -f "$scratch/dumped"
        QEMU_FUZZ_IMAGE_STAGES=0 QEMU_FUZZ_IMAGE_DUMP="$scratch/dumped" \
            "$fuzzer" --fuzz-target="$t" -runs=1 "$f" >/dev/null 2>&1 || true
        cmp "$scratch/unpacked" "$scratch/dumped" >>"$unpack_log" 2>&1 || rc=1
    done
done
report "$rc" "unpack.py writes the image that the fuzzer reads, every reproducer" \
    "$unpack_log"

# A multi-file image: the files that it names come from the input, and
# unpack.py writes them where qemu-img finds them
multi_log=$scratch/multi.log
multi=$seeds/vmdk/vmdk-multi-2-s0
mkdir -p "$scratch/multi"
rc=0
QEMU_FUZZ_IMAGE_STAGES=0x100 QEMU_FUZZ_IMAGE_VERBOSE=1 "$fuzzer" \
    --fuzz-target=vmdk -runs=1 "$multi" >"$multi_log" 2>&1 || rc=1
grep -q "^image-fuzz: file 'img-s001' of " "$multi_log" &&
    grep -q '^image-fuzz: measure: required' "$multi_log" || rc=1
python3 "$src/tests/image-fuzz/unpack.py" --format vmdk "$multi" \
    "$scratch/multi/img" >>"$multi_log" 2>&1 &&
    "$fuzz_build/qemu-img" check -f vmdk "$scratch/multi/img" >>"$multi_log" 2>&1 &&
    "$fuzz_build/qemu-io" -f vmdk -c 'read -P 0x11 0 64k' \
        "$scratch/multi/img" >>"$multi_log" 2>&1 || rc=1
report "$rc" "a VMDK with an extent file: served from the input, unpacked for qemu-img" \
    "$multi_log"

# A qcow2 image that names an NBD export as its data file in json: syntax,
# the way of CVE-2024-4467: the block layer must not parse the name (the
# fuzzer aborts on any driver it does not serve), and qemu-img info must
# not open the data file at all
cve_log=$scratch/cve.log
mkdir -p "$scratch/cve"
rc=0
nbd='json:{"driver":"nbd","server":{"type":"inet","host":"127.0.0.1","port":"1"},"export":"x"}'
(cd "$scratch/cve" &&
    "$fuzz_build/qemu-img" create -q -f qcow2 -o data_file=data img 1M &&
    "$fuzz_build/qemu-img" amend -o "data_file=${nbd//,/,,}" img) >"$cve_log" 2>&1 || rc=1
QEMU_FUZZ_IMAGE_VERBOSE=1 "$fuzzer" --fuzz-target=qcow2 -runs=1 \
    "$scratch/cve/img" >>"$cve_log" 2>&1 || rc=1
grep -q '^image-fuzz: input: plain image' "$cve_log" || rc=1
report "$rc" "a json: data file name opens nothing (CVE-2024-4467)" "$cve_log"

# A LUKS header whose master key digest takes 2^32 - 16 PBKDF2 iterations
# (hours): the fuzzer refuses the key derivation by count, no timeout
luks_log=$scratch/luks.log
rc=0
"$fuzz_build/qemu-img" create -q --object secret,id=sec0,data=fuzz -f luks \
    -o key-secret=sec0,iter-time=1 "$scratch/iter.luks" 1M >"$luks_log" 2>&1 &&
    printf '\xff\xff\xff\xf0' | dd of="$scratch/iter.luks" bs=1 seek=164 \
        conv=notrunc status=none || rc=1
"$fuzzer" --fuzz-target=luks -runs=1 -timeout=20 "$scratch/iter.luks" \
    >>"$luks_log" 2>&1 || rc=1
report "$rc" "a LUKS header asking for 2^32 PBKDF2 iterations: refused, no timeout" \
    "$luks_log"

# The write stage on a zoned qcow2 image goes through its zones: zone
# operations run (eight an execution), and some of them succeed
zone_log=$scratch/zones.log
rc=0
"$fuzz_build/qemu-img" create -q -f qcow2 \
    -o zone.mode=host-managed,zone.size=64k,zone.conventional_zones=1 \
    "$scratch/zoned.qcow2" 1M >"$zone_log" 2>&1 || rc=1
QEMU_FUZZ_IMAGE_STAGES=0x10 QEMU_FUZZ_IMAGE_VERBOSE=1 "$fuzzer" \
    --fuzz-target=qcow2 -runs=1 "$scratch/zoned.qcow2" >>"$zone_log" 2>&1 || rc=1
[ "$(grep -c '^image-fuzz: zones: ' "$zone_log")" -ge 8 ] &&
    grep -q '^image-fuzz: zones: .*: 0$' "$zone_log" || rc=1
report "$rc" "a zoned qcow2 image: the write stage runs zone operations" "$zone_log"

for t in "${targets[@]}"; do
    log=$scratch/$t.log
    # Replay: each reproducer, every stage
    files=()
    if [ -d "$regressions/$t" ]; then
        files=("$regressions/$t"/*)
    fi
    if [ ${#files[@]} -gt 0 ]; then
        rc=0
        "$fuzzer" --fuzz-target="$t" -runs=1 -close_fd_mask=3 -malloc_limit_mb=256 \
            -timeout=20 "${files[@]}" \
            >"$log" 2>&1 || rc=$?
        report "$rc" "replay $t (${#files[@]} reproducers)" "$log"
    fi

    # Fuzz from the seeds into a scratch corpus; the seeds stay as they are
    mkdir -p "$scratch/$t"
    rc=0
    "$fuzzer" --fuzz-target="$t" -max_total_time="$secs" -timeout=20 \
        -malloc_limit_mb=256 -rss_limit_mb=2560 -max_len=1048576 \
        -dict="$seeds/qemu-fuzz-image-target-$t.dict" -close_fd_mask=3 \
        -artifact_prefix="$scratch/$t-" -seed=1 -print_final_stats=1 \
        "$scratch/$t" "$seeds/$t" >"$log" 2>&1 || rc=$?
    if [ "$rc" != 0 ]; then
        # Keep the reproducer where people can find it
        mkdir -p "$fuzz_build/fuzz-artifacts"
        for a in "$scratch/$t"-*; do
            [ -f "$a" ] || continue
            cp "$a" "$fuzz_build/fuzz-artifacts/"
            echo "# as qemu-img commands: $src/tests/image-fuzz/unpack.py" \
                "--format $t $fuzz_build/fuzz-artifacts/${a##*/} IMAGE" >>"$log"
        done
    fi
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    report "$rc" "fuzz $t for ${secs}s (${execs:-0} executions)" "$log"
done
[ "$failed" = 0 ]
