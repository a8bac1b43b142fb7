#!/usr/bin/env bash
# make demo (snapfuzz part): a short AFL++ session against a whole Linux
# guest.  afl-fuzz runs qemu-system-x86_64 as its target; QEMU speaks the
# forkserver protocol itself (-device snapfuzz,afl=on), boots a guest whose
# init is contrib/snapfuzz/example.c built with afl-clang-fast, and restores
# the guest's snapshot for every input.  The example crashes on inputs that
# start with "BUG!", tested a byte at a time.  Prints afl-fuzz's summary and
# the crash it found, if any.
#   scripts/demo-snapfuzz.sh [SECONDS]      (default 30)
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
limit=${1:-30}
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
src=${SNAPFUZZ_SRC:-$src_dir}/contrib/snapfuzz
out="$build_dir/snapfuzz-demo"

command -v afl-fuzz >/dev/null || die "afl-fuzz is missing: apt-get install afl++"
[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
kdir=$("$here/guest-kernel.sh")
qdir=$(dirname "$qemu")

echo "== snapfuzz: building the example harness with afl-clang-fast"
rm -rf "$out"
mkdir -p "$out/initramfs"/{sys,proc,dev} "$out/in"
# CLASSIC instrumentation: the default (PCGUARD) of AFL++ 4.04c instruments
# some selects with a guard index one past its guard array, and the counter
# it then increments lies outside the map (the example's crash handler
# faulted on it, which killed the guest's init).
gcc -O2 -Wall -c -o "$out/libsnapfuzz.o" "$src/libsnapfuzz.c"
AFL_QUIET=1 AFL_LLVM_INSTRUMENT=CLASSIC afl-clang-fast -O2 -static -Wall -o "$out/initramfs/init" \
    "$src/example.c" "$out/libsnapfuzz.o"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet) >"$out/initrd"
printf 'AAAA' >"$out/in/seed"

echo "== snapfuzz: afl-fuzz -- qemu-system-x86_64 ... -device snapfuzz,afl=on ($limit s)"
# afl-fuzz refuses sanitizer options it did not set (meson test sets
# ASAN_OPTIONS and friends); this QEMU is not a sanitizer build.
unset ASAN_OPTIONS MSAN_OPTIONS UBSAN_OPTIONS
export AFL_FORKSRV_INIT_TMOUT=120000 AFL_MAP_SIZE=65536 AFL_NO_UI=1 \
       AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 \
       AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
set +e
timeout -k 10 $((limit + 120)) afl-fuzz -i "$out/in" -o "$out/out" \
    -t 5000 -V "$limit" -D -- \
    "$qemu" -machine q35 -accel tcg -cpu max -m 256 \
    -L "$qdir/pc-bios" -L /usr/share/seabios -nodefaults -display none \
    -no-reboot -kernel "$kdir/vmlinuz" -initrd "$out/initrd" \
    -append "quiet panic=-1" -device snapfuzz,afl=on >"$out/afl.log" 2>&1
rc=$?
set -e
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] || { tail -n 20 "$out/afl.log"; die "afl-fuzz did not start (exit $rc)"; }
echo "== afl-fuzz's statistics"
grep -E '^(run_time|execs_done|execs_per_sec|corpus_count|edges_found|saved_crashes|saved_hangs) ' "$stats"
echo "== the queue (inputs that reached new coverage)"
for f in "$out/out/default/queue"/id:*; do
    printf '  %-12s %s\n' "$(head -c 8 "$f" | od -An -c | tr -s ' ')" "$(basename "$f" | cut -c1-60)"
done
crash=$(find "$out/out/default/crashes" -name 'id:*' 2>/dev/null | head -n 1)
if [ -n "$crash" ]; then
    echo "== crash found: $(head -c 8 "$crash" | od -An -c | tr -s ' ')  ($(basename "$crash"))"
else
    echo "== no crash in $limit s (try a longer run: $0 120)"
fi
