#!/usr/bin/env bash
# Zoned qcow2 images keep their zones and data across a restart of QEMU, in
# every frontend that shows zones.  Three zoned images: a first guest writes
# to them through virtio-blk, scsi-hd (ZBC) and nvme-ns (zoned.backend=on),
# with zone writes, an explicit open, a finish and a reset, and powers off;
# a second QEMU shows each image through another frontend (virtio-blk ->
# scsi-hd -> nvme -> virtio-blk), and its guest finds the zones, write
# pointers and data as they were left, open zones closed.  qemu-img check
# then finds each image consistent.
set -euo pipefail

# 256 MiB images: 16 sequential zones of 16 MiB, at most 6 open (what all
# three take: scsi-hd no active zone limit and no zone capacity smaller than
# the zone, an NVMe zoned namespace no conventional zone).
zone_opts=zone.mode=host-managed,zone.size=16M,zone.max_open_zones=6

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/zoned-lib.sh"
    # The guest sees the host's files read-only: the data to write is here.
    mkdir -p "$build_dir/tmp"
    work=$(mktemp -d "$build_dir/tmp/qcow2-zoned-restart.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    head -c 16M /dev/urandom >"$work/data"
    for i in 1 2 3; do
        "$qemu_build/qemu-img" create -q -f qcow2 -o "$zone_opts" "$work/z$i.qcow2" 256M
    done
    # Boot 1 writes, boot 2 checks through the next frontend.
    first=(virtio scsi nvme) second=(scsi nvme virtio)
    for phase in write check; do
        args=(-device virtio-scsi-pci,id=scsi0)
        for i in 1 2 3; do
            if [ $phase = write ]; then fe=${first[i - 1]}; else fe=${second[i - 1]}; fi
            zoned_qcow2_args "$fe" "$i" "$work/z$i.qcow2" zq
        done
        echo "=== boot $phase: ${args[*]}"
        "$here/../guest-run" --mem 1024 "$@" "$0" "$phase" "$work" -- "${args[@]}"
    done
    for i in 1 2 3; do
        "$qemu_build/qemu-img" check "$work/z$i.qcow2" ||
            die "qemu-img check of image $i failed"
    done
    echo "all zoned qcow2 restart checks passed"
    exit 0
fi

# In the guest.
phase=$1 work=$2
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe virtio_blk; modprobe virtio_scsi; modprobe sd_mod; modprobe nvme
zs=32768    # zone size in 512-byte sectors

devs=()
for i in 1 2 3; do
    devs+=("$(zoned_disk "zq$i")")
done

# same_data WHAT DISK-BLOCK COUNT DATA-BLOCK|zero, in 64 KiB blocks
same_data() {
    dd if="$dev" of=/tmp/disk bs=64k skip="$2" count="$3" iflag=direct status=none
    if [ "$4" = zero ]; then
        dd if=/dev/zero of=/tmp/want bs=64k count="$3" status=none
    else
        dd if="$work/data" of=/tmp/want bs=64k skip="$4" count="$3" status=none
    fi
    cmp -s /tmp/disk /tmp/want || fail "image $i: $1: not the data written"
}

for i in 1 2 3; do
    dev=${devs[i - 1]}
    echo "--- image $i: $dev ($phase)"
    if [ "$phase" = write ]; then
        # zone 2: 1 MiB; zone 3: 512 KiB; zone 4: explicitly open, nothing
        # written; zone 5: full; zone 6: written and reset; zone 7: 64 KiB,
        # then finished.
        dd if="$work/data" of="$dev" bs=64k count=16 seek=$((2 * 256)) oflag=direct status=none
        dd if="$work/data" of="$dev" bs=64k count=8 skip=16 seek=$((3 * 256)) oflag=direct status=none
        blkzone open --offset $((4 * zs)) --count 1 "$dev"
        dd if="$work/data" of="$dev" bs=1M count=16 seek=$((5 * 16)) oflag=direct status=none
        dd if="$work/data" of="$dev" bs=64k count=4 seek=$((6 * 256)) oflag=direct status=none
        blkzone reset --offset $((6 * zs)) --count 1 "$dev"
        dd if="$work/data" of="$dev" bs=64k count=1 seek=$((7 * 256)) oflag=direct status=none
        blkzone finish --offset $((7 * zs)) --count 1 "$dev"
        expect "image $i zone 2 before the restart" "$(zone_cond 2)" oi
        expect "image $i zone 4 before the restart" "$(zone_cond 4)" oe
    else
        expect "image $i zone 2 after the restart" "$(zone_cond 2)" cl
        expect "image $i zone 2 write pointer" "$(zone_wp 2)" 2048
        expect "image $i zone 3" "$(zone_cond 3)" cl
        expect "image $i zone 3 write pointer" "$(zone_wp 3)" 1024
        expect "image $i zone 4 (was open, nothing written)" "$(zone_cond 4)" em
        expect "image $i zone 5" "$(zone_cond 5)" fu
        expect "image $i zone 6" "$(zone_cond 6)" em
        expect "image $i zone 7" "$(zone_cond 7)" fu
        expect "image $i empty zones" "$(blkzone report "$dev" | grep -c '(em)')" 12
        same_data "zone 2" $((2 * 256)) 16 0
        same_data "zone 3" $((3 * 256)) 8 16
        same_data "zone 5" $((5 * 256)) 256 0
        same_data "zone 7" $((7 * 256)) 1 0
        same_data "zone 7 after its data" $((7 * 256 + 1)) 4 zero
        echo "ok: image $i data as written"
        # The zones still work: write on at zone 2's write pointer.
        dd if="$work/data" of="$dev" bs=64k count=1 seek=$((2 * 256 + 16)) oflag=direct status=none
        expect "image $i zone 2 written on" "$(zone_wp 2)" 2176
    fi
done
echo "guest $phase done"
