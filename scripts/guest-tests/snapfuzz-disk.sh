#!/usr/bin/env bash
# snapfuzz restores the guest's disks with its RAM, and drains I/O first.
# In a Linux guest under TCG, the example harness's disk mode writes a
# pattern to a virtio-blk disk (run by an IOThread, or with MODE main by
# the main loop) before the snapshot; each of 200 inputs
# (SNAPFUZZ_DISK_INPUTS) reads it back with O_DIRECT, counts a mismatch
# when an earlier input's write shows, overwrites it and ends with a Linux
# AIO write still in flight.  Passes when every input saw the pattern, the
# guest kernel logged no I/O error and the image file on the host still
# has nothing but the pattern (writes after the snapshot never reach it).
# Before the overlays every input but the first saw the previous one's
# data; before IOThreads were quiesced, a request popped by the IOThread as
# the drain began ran after the restore (7 of 200 inputs saw it, and
# "Virtqueue size exceeded" hung the device).
# The guest's root is virtio-9p, which cannot be snapshotted: the test
# takes snapshots all the same (ignore-blockers=on) and does no 9p I/O
# during inputs.
#   scripts/guest-tests/snapfuzz-disk.sh [iothread|main]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    case ${1:-iothread} in
        iothread) iothread=(-object iothread,id=io0) blk_opt=,iothread=io0 ;;
        main) iothread=() blk_opt= ;;
        *) die "unknown mode $1" ;;
    esac
    example=$(snapfuzz_build_example)
    img="$build_dir/snapfuzz-guest/disk-${1:-iothread}.img"
    rm -f "$img"
    truncate -s 16M "$img"
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    n=${SNAPFUZZ_DISK_INPUTS:-200}
    rc=0
    "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --timeout 600 \
        "$0" "$example" "$n" -- \
        "${iothread[@]}" \
        -drive if=none,id=d0,format=raw,cache=none,file="$img" \
        -device virtio-blk-pci,drive=d0$blk_opt,serial=sfdisk \
        -device snapfuzz,max-inputs=$n,ignore-blockers=on || rc=$?
    [ "$rc" = 0 ] || exit "$rc"
    # The pattern, then zeroes: nothing an input wrote.
    want=$( (head -c 65536 /dev/zero | tr '\0' 'S'; head -c $((16 * 1048576 - 65536)) /dev/zero) | md5sum)
    [ "$(md5sum <"$img")" = "$want" ] || die "an input's write reached the image"
    echo "ok: the image has only what was written before the snapshot"
    exit 0
fi

# In the guest.
modprobe virtio_blk
for _ in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
result=$("$1" disk /dev/vda)
echo "$result"
if dmesg | grep -iE 'I/O error|blk_update_request|virtio_blk.*(error|not a head)'; then
    echo "FAIL: the guest kernel logged I/O errors"
    exit 1
fi
case "$result" in
    *"inputs $2 "*"disk-mismatches 0"*) echo "ok: $2 inputs, each read the snapshot's data" ;;
    *) echo "FAIL: expected $2 inputs and 0 disk mismatches"; exit 1 ;;
esac
