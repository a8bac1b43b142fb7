#!/usr/bin/env bash
# Linux's zoned file systems on zoned qcow2 images, through every
# frontend, across a restart of QEMU.  Three zoned qcow2 images: a first
# guest makes a btrfs in zoned mode (mkfs.btrfs -O zoned) on each, through
# virtio-blk, scsi-hd (ZBC) and nvme-ns (zoned.backend=on), fills it with
# a large file and many small ones, and powers off; a second QEMU shows
# each image through another frontend (virtio-blk -> scsi-hd -> nvme ->
# virtio-blk; virtio-blk's queues in two IOThreads, two vCPUs submitting,
# nvme's in one), and its guest mounts the file system, finds every
# file as written, writes more, deletes files and balances them away
# (btrfs relocates the used block groups and resets their zones: fewer
# zones in use after it), and runs `btrfs scrub` and `btrfs check` on it.
# A fourth image, with 32 conventional zones, carries an F2FS (mkfs.f2fs
# -m, its metadata in the conventional zones), made through virtio-blk and
# checked after the restart through scsi-hd.  qemu-img check then finds
# each image consistent.
set -euo pipefail

# 512 MiB images of 8 MiB zones, no limits: what all three frontends show.
zone_opts=zone.mode=host-managed,zone.size=8M

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/zoned-lib.sh"
    command -v mkfs.btrfs >/dev/null && command -v mkfs.f2fs >/dev/null ||
        die "mkfs.btrfs or mkfs.f2fs missing; run scripts/install-deps.sh"
    # The guest sees the host's files read-only: the data to write is here.
    mkdir -p "$build_dir/tmp"
    work=$(mktemp -d "$build_dir/tmp/zoned-filesystems.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    head -c 24M /dev/urandom >"$work/data"
    for i in 1 2 3; do
        "$qemu_build/qemu-img" create -q -f qcow2 -o "$zone_opts" "$work/z$i.qcow2" 512M
    done
    # F2FS: 4 MiB zones, the first 32 conventional (its metadata)
    "$qemu_build/qemu-img" create -q -f qcow2 \
        -o zone.mode=host-managed,zone.size=4M,zone.conventional_zones=32 \
        "$work/z4.qcow2" 512M
    # Boot 1 makes the file systems, boot 2 (two vCPUs) checks through the
    # next frontend, virtio-blk in two IOThreads and nvme in one.
    first=(virtio scsi nvme virtio) second=(scsi nvme virtio scsi)
    for phase in write check; do
        args=(-device virtio-scsi-pci,id=scsi0)
        if [ $phase = write ]; then
            smp=1 fe=("${first[@]}") mode=
        else
            smp=2 fe=("${second[@]}") mode=iothreads
            args+=(-object iothread,id=t0 -object iothread,id=t1)
        fi
        for i in 1 2 3 4; do
            zoned_qcow2_args "${fe[i - 1]}" "$i" "$work/z$i.qcow2" zf $mode
        done
        echo "=== boot $phase: ${args[*]}"
        "$here/../guest-run" --mem 1024 --smp $smp --timeout 900 "$@" \
            "$0" "$phase" "$work" -- "${args[@]}"
    done
    for i in 1 2 3 4; do
        "$qemu_build/qemu-img" check "$work/z$i.qcow2" ||
            die "qemu-img check of image $i failed"
    done
    echo "all zoned file system checks passed"
    exit 0
fi

# In the guest.
phase=$1 work=$2
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe virtio_blk; modprobe virtio_scsi; modprobe sd_mod; modprobe nvme
modprobe btrfs
modprobe f2fs

# fill DIR: a large file and 384 small ones, from the host's data
fill() {
    cp "$work/data" "$1/big"
    mkdir "$1/small"
    split -a 3 -b 64k "$work/data" "$1/small/f"
    sync
}
# same DIR: every file as fill wrote it
same() {
    cmp -s "$work/data" "$1/big" || fail "$1/big: not the data written"
    cat "$1"/small/f* | cmp -s - "$work/data" || fail "$1/small: not the data written"
}

nonempty() { blkzone report "$1" | grep -vc '(em)'; }
mnt=/tmp/mnt
mkdir -p $mnt
for i in 1 2 3; do
    dev=$(zoned_disk "zf$i")
    echo "--- image $i: $dev ($phase)"
    if [ "$phase" = write ]; then
        mkfs.btrfs -q -f -O zoned -d single -m single "$dev" ||
            fail "image $i: mkfs.btrfs -O zoned failed"
        mount -t btrfs "$dev" $mnt || fail "image $i: mount failed"
        fill $mnt
        same $mnt
        umount $mnt
        echo "ok: image $i: btrfs made and filled"
    else
        case "$dev" in
            /dev/vd*) expect "image $i: virtio-blk queues" "$(ls "/sys/block/${dev#/dev/}/mq" | wc -l)" 2 ;;
        esac
        mount -t btrfs "$dev" $mnt || fail "image $i: mount after the restart failed"
        same $mnt
        echo "ok: image $i: every file as written before the restart"
        # Write on, then free most of it: btrfs relocates block groups
        # and resets their zones.
        mkdir $mnt/more
        fill $mnt/more
        sync
        peak=$(nonempty "$dev")
        rm -r $mnt/small $mnt/more/big
        sync
        btrfs balance start --full-balance $mnt >/dev/null ||
            fail "image $i: btrfs balance failed"
        sync
        left=$(nonempty "$dev")
        echo "image $i: $peak zones in use before the balance, $left after"
        [ "$left" -lt "$peak" ] || fail "image $i: the balance reset no zone"
        same_more() {
            cmp -s "$work/data" $mnt/big || fail "image $i: big after the balance"
            cat $mnt/more/small/f* | cmp -s - "$work/data" ||
                fail "image $i: more/small after the balance"
        }
        same_more
        btrfs scrub start -B $mnt >/tmp/scrub 2>&1 || { cat /tmp/scrub; fail "image $i: btrfs scrub"; }
        umount $mnt
        btrfs check --readonly "$dev" >/tmp/check 2>&1 || { cat /tmp/check; fail "image $i: btrfs check"; }
        mount -t btrfs "$dev" $mnt
        same_more
        umount $mnt
        echo "ok: image $i: balanced, scrubbed and checked"
    fi
done

dev=$(zoned_disk zf4)
echo "--- F2FS: $dev ($phase)"
if [ "$phase" = write ]; then
    mkfs.f2fs -q -f -m "$dev" >/tmp/mkfs 2>&1 || { cat /tmp/mkfs; fail "mkfs.f2fs -m failed"; }
    mount -t f2fs "$dev" $mnt || fail "F2FS: mount failed"
    fill $mnt
    mkdir $mnt/more
    fill $mnt/more
    rm $mnt/big
    umount $mnt
    echo "ok: F2FS made and filled"
else
    fsck.f2fs "$dev" >/tmp/fsck 2>&1 || { cat /tmp/fsck; fail "F2FS: fsck.f2fs after the restart"; }
    mount -t f2fs "$dev" $mnt || fail "F2FS: mount after the restart failed"
    [ ! -e $mnt/big ] || fail "F2FS: the deleted file is back"
    same $mnt/more
    cat $mnt/small/f* | cmp -s - "$work/data" || fail "F2FS: small: not the data written"
    rm -r $mnt/more
    mkdir $mnt/again
    fill $mnt/again
    umount $mnt
    fsck.f2fs "$dev" >/tmp/fsck 2>&1 || { cat /tmp/fsck; fail "F2FS: fsck.f2fs"; }
    mount -t f2fs "$dev" $mnt || fail "F2FS: mount again failed"
    same $mnt/again
    umount $mnt
    echo "ok: F2FS found as written after the restart, written on and checked"
fi
echo "guest $phase done"
