#!/usr/bin/env bash
# The image fuzzer's measure, bitmap, rebase, commit and check stages do
# what qemu-img measure, bitmap, rebase -u, commit and check do.  qcow2
# images made by
# this build's qemu-img go through the fuzzer's qcow2 target with one stage
# forced (QEMU_FUZZ_IMAGE_STAGES); QEMU_FUZZ_IMAGE_VERBOSE prints what each
# stage did and QEMU_FUZZ_IMAGE_RESULT saves the written image (and the
# commit's backing image), which qemu-img then inspects:
# 1. measure gives qemu-img measure -O qcow2's sizes;
# 2. of four bitmaps b3..b0 (in the order the image lists them), one is
#    merged into the new bitmap fuzz-add, one disabled, one cleared and one
#    removed, and the image checks clean;
# 3. rebase -u gives an image without a backing file one, and takes it from
#    an image that has one;
# 4. commit moves the data into the new backing image and empties the image;
# 5. with the dirty bit set, check, then check -r all on a copy;
# 6. without a refcount table (refcount_table_clusters 0), which a plain
#    open refuses and qcow2's BDRV_O_CHECK open accepts, the check runs and
#    finds corruptions, and check -r all repairs them (the fuzzer used to
#    stop at the plain open and never reached either);
# 7. the write stage (STAGE_WRITE 0x10) leaves an image of each format
#    whose driver writes as qemu-io leaves a copy of it with the commands
#    the stage prints (Parallels' allocating writes used to fail in the
#    fuzzer: the driver preallocates 128 MiB, more than a file in memory
#    may grow);
# 8. convert into the target's own format (STAGE_CONVERT_SELF 0x2000): for
#    each format whose driver creates images, an image of it made by
#    qemu-img goes through that format's target; the stage reports the
#    creation options it picked, and the image it made (saved as
#    RESULT.FORMAT) holds what the input holds (qemu-img compare).
# Prints TAP.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

fuzz_build=${BUILD_DIR:-$build_dir/fuzz}
qemu_img=$qemu_build/qemu-img
qemu_io=$qemu_build/qemu-io
echo "1..9"
if ! "$here/build-fuzz.sh" tests/image-fuzz/qemu-fuzz-image >&2; then
    for i in 1 2 3 4 5 6 7 8 9; do echo "not ok $i - build the image fuzzer"; done
    exit 1
fi
fuzzer=$fuzz_build/tests/image-fuzz/qemu-fuzz-image
[ -x "$qemu_img" ] || die "$qemu_img does not exist; build first (make)"
scratch=$(mktemp -d "${TMPDIR:-/tmp}/image-fuzz-stages.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1

# run NAME STAGES [FORMAT]: the image as an input of FORMAT's target
# (default qcow2), stages forced; prints the stages' lines; the written
# image is left in NAME.result
run() {
    QEMU_FUZZ_IMAGE_STAGES=$2 QEMU_FUZZ_IMAGE_VERBOSE=1 \
        QEMU_FUZZ_IMAGE_RESULT="$scratch/$1.result" \
        "$fuzzer" --fuzz-target="${3:-qcow2}" "$scratch/$1" 2>&1 |
        tee "$scratch/$1.log" | grep '^image-fuzz: ' |
        grep -v -e '^image-fuzz: input: ' -e '^image-fuzz: probe: ' |
        sort -u || true
}

n=0
result() {
    n=$((n + 1))
    if [ "$1" = 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fi
}

# STAGE_WRITE 0x10, STAGE_MEASURE 0x100, STAGE_BITMAPS 0x200,
# STAGE_REBASE 0x400, STAGE_COMMIT 0x800
"$qemu_img" create -q -f qcow2 "$scratch/data" 4M
for b in b0 b1 b2 b3; do
    "$qemu_img" bitmap --add "$scratch/data" $b
done
"$qemu_io" -c "write -P 0x55 0 64k" -c "write -P 0x66 1M 4k" \
    "$scratch/data" >/dev/null

out=$(run data 0x100)
echo "$out" | sed 's/^/# /'
want=$("$qemu_img" measure -O qcow2 "$scratch/data" | awk '
    /^required size:/ { r = $3 } /^fully allocated size:/ { f = $4 }
    END { printf "image-fuzz: measure: required %s, fully allocated %s", r, f }')
echo "# qemu-img: ${want#image-fuzz: }"
[ "$out" = "$want" ]
result $? "measure: qemu-img measure's sizes"

out=$(run data 0x210)
echo "$out" | sed 's/^/# /'
info=$("$qemu_img" info --output=json "$scratch/data.result")
bitmaps=$(echo "$info" | python3 -c '
import json, sys
bms = json.load(sys.stdin)["format-specific"]["data"].get("bitmaps", [])
print(" ".join("%s:%s" % (b["name"], ",".join(b["flags"]) or "-")
               for b in sorted(bms, key=lambda b: b["name"])))')
echo "# bitmaps after the stage: $bitmaps"
[ "$(echo "$out" | grep -c ': ok$')" = 4 ] &&
    [ "$bitmaps" = "b1:auto b2:- b3:auto fuzz-add:auto" ] &&
    "$qemu_img" check -q "$scratch/data.result"
result $? "bitmaps: add, merge, disable, clear, remove as qemu-img bitmap"

out=$(run data 0x410)
echo "$out" | sed 's/^/# /'
backing=$("$qemu_img" info --output=json "$scratch/data.result" |
    python3 -c 'import json, sys; i = json.load(sys.stdin)
print(i.get("backing-filename"), i.get("backing-filename-format"))')
echo "# backing file after the stage: $backing"
[ "$backing" = "fuzz-mem:base qcow2" ]
result $? "rebase -u: an image without a backing file gets one"

"$qemu_img" create -q -f qcow2 -F qcow2 -b "$scratch/data" "$scratch/top" 4M
out=$(run top 0x410)
echo "$out" | sed 's/^/# /'
backing=$("$qemu_img" info --output=json "$scratch/top.result" |
    python3 -c 'import json, sys; print(json.load(sys.stdin).get("backing-filename"))')
echo "# backing file after the stage: $backing"
[ "$backing" = None ]
result $? "rebase -u: an image with a backing file loses it"

out=$(run data 0x800)
echo "$out" | sed 's/^/# /'
map=$("$qemu_img" map --output=json -f qcow2 "$scratch/data.result")
echo "# map of the committed image: $map"
[ "$out" = "image-fuzz: commit: 0" ] &&
    ! grep -q '"data": true' <<<"$map" &&
    "$qemu_io" -f qcow2 -c "read -P 0x55 0 64k" -c "read -P 0x66 1M 4k" \
        -c "read -P 0 64k 960k" "$scratch/data.result.base" |
        grep -c '^read' | grep -qx 3
result $? "commit: the data in the new backing image, the image emptied"

# poke FILE OFFSET HEXBYTES
poke() {
    printf "$(echo "$3" | sed 's/../\\x&/g')" |
        dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# image NAME: a 1 MiB qcow2 (v3) with some data
image() {
    "$qemu_img" create -q -f qcow2 -o compat=1.1 "$scratch/$1" 1M
    "$qemu_io" -c "write -P 0x55 0 128k" "$scratch/$1" >/dev/null
}

# check_poked NAME OFFSET HEXBYTES: an image with the bytes poked through
# the check stage (STAGE_CHECK 0x2); prints the stage's lines
check_poked() {
    image "$1"
    poke "$scratch/$1" "$2" "$3"
    run "$1" 0x2
}

out=$(check_poked dirty 79 01)
echo "$out" | sed 's/^/# /'
grep -q '^image-fuzz: check: 0,' <<<"$out" &&
    grep -q '^image-fuzz: check -r all: 0,' <<<"$out"
result $? "check, dirty bit: check, then check -r all"

out=$(check_poked norefcount 56 00000000)
echo "$out" | sed 's/^/# /'
grep -qE '^image-fuzz: check: [-0-9]+, [1-9][0-9]* corruptions' <<<"$out" &&
    grep -qE '^image-fuzz: check -r all: 0, .* [1-9][0-9]* corruptions and [0-9]+ leaks fixed' <<<"$out"
result $? "check, no refcount table: the relaxed open, corruptions found and repaired"

# fmt_image NAME FORMAT [SIZE [OPTIONS]]: an image (2 MiB) with some data
fmt_image() {
    "$qemu_img" create -q -f "$2" ${4:+-o "$4"} "$scratch/$1" "${3:-2M}"
    "$qemu_io" -f "$2" -c "write -P 0x5a 0 64k" -c "write -P 0xa5 1M 4k" \
        "$scratch/$1" >/dev/null
}

# same_data FORMAT A B WHAT: qemu-img compare of two images of FORMAT in
# the scratch directory; when they differ, says WHAT and sets status=1
same_data() {
    "$qemu_img" compare -q -f "$1" -F "$1" "$scratch/$2" "$scratch/$3" && return
    echo "# $1: $4"
    status=1
}

# STAGE_WRITE 0x10, against qemu-io with the stage's commands
status=0
for fmt in qcow2 vmdk vhdx vpc vdi qed parallels qcow; do
    # The requests land across 64 MiB, mostly where nothing is allocated.
    # VHDX blocks of 1 MiB: four requests that each allocate one of the
    # default 8 MiB would need more than a file in memory may hold.
    fmt_image write.$fmt $fmt 64M "$([ $fmt = vhdx ] && echo block_size=1M)"
    cp "$scratch/write.$fmt" "$scratch/write.$fmt.qemu-io"
    run write.$fmt 0x10 $fmt >/dev/null
    cmds=()
    while read -r cmd; do
        cmds+=(-c "$cmd")
    done < <(awk '/^image-fuzz: input: / && n++ { exit }
                  sub(/^image-fuzz: write: /, "")' "$scratch/write.$fmt.log")
    echo "# $fmt: ${#cmds[@]} arguments of qemu-io: ${cmds[*]}"
    if [ ${#cmds[@]} = 0 ]; then
        echo "# $fmt: the stage printed no request"
        status=1
        continue
    fi
    # The stage opens with discards on, as qemu-io -d unmap does
    "$qemu_io" -d unmap -f $fmt "${cmds[@]}" "$scratch/write.$fmt.qemu-io" >/dev/null
    same_data $fmt write.$fmt.qemu-io write.$fmt.result \
        "the fuzzer's image differs from qemu-io's"
done
result $status "write stage: each format's image written as qemu-io writes it"

# STAGE_CONVERT_SELF 0x2000, in every format whose driver creates images
status=0
for fmt in qcow2 vmdk vhdx vpc vdi qed parallels qcow; do
    fmt_image self.$fmt $fmt
    out=$(run self.$fmt 0x2000 $fmt)
    echo "$out" | sed "s/^/# $fmt: /"
    if ! grep -qE "^image-fuzz: convert -O $fmt -o [^ ]* of [0-9]+ bytes: create ok" <<<"$out"; then
        echo "# $fmt: the stage did not create an image"
        status=1
    else
        same_data $fmt self.$fmt self.$fmt.result.$fmt \
            "the converted image differs from the input"
    fi
done
result $status "convert into the own format: created with the options picked, same data"
