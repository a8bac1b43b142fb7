#!/usr/bin/env bash
# The image fuzzer's check stage does what qemu-img check does.  Two qcow2
# images made by this build's qemu-img go through the fuzzer's qcow2 target
# with only the check stage selected (QEMU_FUZZ_IMAGE_VERBOSE prints each
# check):
# 1. the dirty bit set: the check, then check -r all on a copy;
# 2. no refcount table (refcount_table_clusters 0), which a plain open
#    refuses and qcow2's BDRV_O_CHECK open accepts: the check runs and
#    finds corruptions, and check -r all repairs them.  The fuzzer used to
#    stop at the plain open and never reached either.
# Prints TAP.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
qemu_img=$qemu_build/qemu-img
echo "1..2"
if ! "$here/build-fuzz.sh" tests/image-fuzz/qemu-fuzz-image >&2; then
    echo "not ok 1 - build the image fuzzer"
    echo "not ok 2 - build the image fuzzer"
    exit 1
fi
fuzzer=$fuzz_build/tests/image-fuzz/qemu-fuzz-image
[ -x "$qemu_img" ] || die "$qemu_img does not exist; build first (make)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/image-fuzz-check.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1

# image NAME: a 1 MiB qcow2 (v3) with some data
image() {
    "$qemu_img" create -q -f qcow2 -o compat=1.1 "$scratch/$1" 1M
    "$build_dir/qemu/qemu-io" -c "write -P 0x55 0 128k" "$scratch/$1" >/dev/null
}

# poke FILE OFFSET HEXBYTES
poke() {
    printf "$(echo "$3" | sed 's/../\\x&/g')" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# run NAME: the image as an input with only the check stage; the output
run() {
    # The fuzzer's container (magic, then stages and flags): check only
    { printf 'QEMUFUZZ\x02\x00'; cat "$scratch/$1"; } >"$scratch/$1.input"
    QEMU_FUZZ_IMAGE_VERBOSE=1 "$fuzzer" --fuzz-target=qcow2 \
        "$scratch/$1.input" 2>&1 | tee "$scratch/$1.log" | grep '^image-fuzz: check' || true
}

n=0
result() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

image dirty
poke "$scratch/dirty" 79 01
out=$(run dirty)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -q '^image-fuzz: check: 0,' &&
    echo "$out" | grep -q '^image-fuzz: check -r all: 0,'
result $? "dirty bit: check, then check -r all"

image norefcount
poke "$scratch/norefcount" 56 00000000
out=$(run norefcount)
echo "$out" | sed 's/^/# /'
echo "$out" | grep -qE '^image-fuzz: check: [-0-9]+, [1-9][0-9]* corruptions' &&
    echo "$out" | grep -qE '^image-fuzz: check -r all: 0, .* [1-9][0-9]* corruptions and [0-9]+ leaks fixed'
result $? "no refcount table: the relaxed open, corruptions found and repaired"
