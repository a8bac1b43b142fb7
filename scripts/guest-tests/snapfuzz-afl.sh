#!/usr/bin/env bash
# Debian's afl-fuzz runs qemu-system-x86_64 itself as its target, with no
# wrapper: QEMU speaks the forkserver protocol (-device snapfuzz,afl=on),
# boots a Linux guest whose init is the example harness built with AFL++'s
# compiler, and feeds it AFL++'s inputs from a snapshot restored for each
# one.  Passes when afl-fuzz finds the example's planted bug (an input
# starting with "BUG!") within the time limit (default 180 s); fails when it
# finds no crash, or another one.
# The example tests "BUG!" a byte at a time, so afl-fuzz gets there only
# through coverage, one new edge per byte.  There is no dictionary; the seed
# is "AAAA" and deterministic mutations are on (-D), whose 8-bit arithmetic
# reaches each byte of "BUG!" from 'A', which makes the run short and its
# length predictable (about 5000 runs) instead of a matter of luck.
#   scripts/guest-tests/snapfuzz-afl.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
limit=${1:-180}
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
src=${SNAPFUZZ_SRC:-$src_dir}/contrib/snapfuzz
out="$build_dir/snapfuzz-afl"

command -v afl-fuzz >/dev/null || die "afl-fuzz is missing: apt-get install afl++"
[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
kdir=$("$here/../guest-kernel.sh")
qdir=$(dirname "$qemu")
bios_dirs=(-L "$qdir/pc-bios/optionrom" -L "$qemu_build/pc-bios/optionrom"
           -L /usr/share/seabios -L "$qdir/pc-bios")

# The guest: the kernel and an initramfs whose /init is the harness.
rm -rf "$out"
mkdir -p "$out/initramfs"/{sys,proc,dev} "$out/in"
# CLASSIC instrumentation: the default (PCGUARD) of AFL++ 4.04c instruments
# some selects with a guard index one past its guard array, and the counter
# it then increments lies outside the map (the example's crash handler
# faulted on it, which killed the guest's init).
gcc -O2 -Wall -c -o "$out/libsnapfuzz.o" "$src/libsnapfuzz.c"
AFL_QUIET=1 AFL_LLVM_INSTRUMENT=CLASSIC afl-clang-fast -O2 -static -Wall -o "$out/initramfs/init" \
    "$src/example.c" "$out/libsnapfuzz.o" \
    || die "building the example with afl-clang-fast failed"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet) >"$out/initrd"
printf 'AAAA' >"$out/in/seed"

# afl-fuzz refuses sanitizer options it did not set (meson test sets
# ASAN_OPTIONS and friends); this QEMU is not a sanitizer build.
unset ASAN_OPTIONS MSAN_OPTIONS UBSAN_OPTIONS
export AFL_FORKSRV_INIT_TMOUT=120000 AFL_MAP_SIZE=65536 AFL_NO_UI=1 \
       AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_BENCH_UNTIL_CRASH=1 \
       AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_BIN_CHECK=1
set +e
timeout -k 10 $((limit + 120)) afl-fuzz -i "$out/in" -o "$out/out" \
    -t 5000 -V "$limit" -D -- \
    "$qemu" -machine q35 -accel tcg -cpu max -m 256 "${bios_dirs[@]}" -nodefaults \
    -display none -no-reboot -kernel "$kdir/vmlinuz" -initrd "$out/initrd" \
    -append "quiet panic=-1" -device snapfuzz,afl=on \
    >"$out/afl.log" 2>&1
rc=$?
set -e
tail -n 15 "$out/afl.log"
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] && grep -E '^(execs_done|execs_per_sec|saved_crashes|saved_hangs) ' "$stats"
crash=$(find "$out/out/default/crashes" -name 'id:*' 2>/dev/null | head -n 1)
[ -n "$crash" ] || die "afl-fuzz (exit $rc) found no crash in $limit s"
head -c 4 "$crash" | grep -q 'BUG!' || die "the crash $crash is not the planted bug"
echo "ok: afl-fuzz found the planted bug: $(basename "$crash")"
