#!/usr/bin/env bash
# QEMU's libFuzzer target for the snapfuzz device (qemu-fuzz-x86_64
# --fuzz-target=snapfuzz, built by scripts/build-fuzz.sh) boots a
# Linux guest whose init is the example harness built with AFL++'s
# compiler, and fuzzes it: every libFuzzer input runs in the guest from the
# root snapshot, and the guest's coverage map is libFuzzer's extra counters.
# Passes when libFuzzer saves a crash-* input that starts with the
# example's planted "BUG!" within SECONDS (default 900); fails when it finds
# nothing, or something else.  There is no dictionary: libFuzzer gets to
# "BUG!" only through the guest's coverage, one new edge per byte
# (-only_ascii=1 and -max_len=8 keep the search short).  -seed is fixed,
# but a few features of the guest still differ from run to run, so the
# search does too: 35,000-85,000 inputs at ~600 a second here, where SECONDS
# allows 500,000.
#   scripts/guest-tests/snapfuzz-libfuzzer.sh [SECONDS]
# QEMU_FUZZ=path uses that qemu-fuzz-x86_64 instead of building
# build/fuzz's; SNAPFUZZ_SRC overrides the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-900}
out="$build_dir/snapfuzz-libfuzzer"

fuzz=${QEMU_FUZZ:-}
if [ -z "$fuzz" ]; then
    "$top/scripts/build-fuzz.sh" qemu-fuzz-x86_64 >&2
    fuzz="$build_dir/fuzz/qemu-fuzz-x86_64"
fi
[ -x "$fuzz" ] || die "$fuzz does not exist"
kdir=$("$top/scripts/guest-kernel.sh")

rm -rf "$out"
mkdir -p "$out/corpus" "$out/artifacts"
snapfuzz_build_afl_initrd "$out"
printf 'AAAA' >"$out/corpus/seed"

rc=0
(
    unset MSAN_OPTIONS UBSAN_OPTIONS
    # The fuzzing build has ASan.  Its leak check is what libFuzzer runs
    # after every input that allocated more than it freed, which here is
    # most of them; a scan of all of QEMU's memory (guest RAM included)
    # each time makes the run twenty times slower.  QEMU's own leaks are
    # generic-fuzz's business (its snapfuzz configuration).
    export ASAN_OPTIONS=detect_leaks=0
    # The option ROMs come from the main build (the fuzz build has none).
    export QEMU_SNAPFUZZ_GUEST="-L $qemu_build/pc-bios/optionrom -L /usr/share/seabios \
-L $(dirname "$fuzz")/pc-bios -kernel $kdir/vmlinuz -initrd $out/initrd \
-append 'quiet panic=-1'"
    export QEMU_SNAPFUZZ_DEVICE=timeout=2000 QEMU_SNAPFUZZ_BOOT_TIMEOUT=240
    timeout -k 10 $((limit + 300)) "$fuzz" --fuzz-target=snapfuzz \
        -seed=1 -max_len=8 -only_ascii=1 -rss_limit_mb=4096 -detect_leaks=0 \
        -max_total_time="$limit" -print_final_stats=1 \
        -artifact_prefix="$out/artifacts/" "$out/corpus"
) >"$out/libfuzzer.log" 2>&1 || rc=$?
grep -E '^(#[0-9]+ |snapfuzz|==[0-9]+== ERROR|stat::)' "$out/libfuzzer.log" | tail -n 15
crash=$(find "$out/artifacts" -name 'crash-*' | head -n 1)
[ -n "$crash" ] || die "libFuzzer (exit $rc) saved no crash in $limit s; log: $out/libfuzzer.log"
head -c 4 "$crash" | grep -q 'BUG!' || die "the crash $crash is not the planted bug"
grep -q 'snapfuzz: crash: SIGSEGV in the target' "$out/libfuzzer.log" \
    || die "the guest's crash message is missing from the log"
echo "ok: libFuzzer found the planted bug: $(basename "$crash")"
