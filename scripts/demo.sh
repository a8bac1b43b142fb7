#!/usr/bin/env bash
# make demo: boot a guest of the built QEMU that shows what the series adds.
# The guest sees an NVMe controller with a regular namespace and a zoned one
# (ZNS), its I/O queues in an IOThread, a virtio-blk disk, a host-managed
# zoned virtio-blk disk and a host-managed ZBC disk on virtio-scsi; the
# zoned ones are emulated by null-co (no root, no zoned hardware).  It also creates a Linux null_blk
# zoned disk of its own.  It lists the disks, works the zones with blkzone,
# nvme-cli and fio, and powers off.  Then a zoned qcow2 image keeps its
# zones across a restart of QEMU: a guest writes to it through virtio-blk,
# the next one finds zones and data through an NVMe zoned namespace.  Last,
# afl-fuzz runs QEMU with the snapfuzz device for 30 seconds
# (scripts/demo-snapfuzz.sh).
set -euo pipefail

# The zoned qcow2 image: 16 zones of 64 MiB, at most 8 open
zq_opts=zone.mode=host-managed,zone.size=64M,zone.max_open_zones=8
zq_text="a zoned qcow2 image keeps its zones"

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/lib.sh"
    echo "== make demo: booting a guest under ${GUEST_ACCEL:-tcg} (about 20 s)"
    "$here/guest-run" --mem 1024 --timeout 300 "$0" main -- \
        -blockdev driver=null-co,node-name=nvme0,size=1073741824,read-zeroes=on \
        -object iothread,id=nvme-io \
        -device nvme,id=nvme0,serial=demo-nvme,ioeventfd=on,iothread=nvme-io \
        -device nvme-ns,bus=nvme0,nsid=1,drive=nvme0 \
        -blockdev driver=null-co,node-name=zns0,size=1073741824,zoned=host-managed,zone-size=67108864,max-open-zones=8,max-active-zones=12,memory-backed=on \
        -device nvme-ns,bus=nvme0,nsid=2,drive=zns0,zoned.backend=on \
        -blockdev driver=null-co,node-name=vblk0,size=536870912,read-zeroes=on \
        -device virtio-blk-pci,drive=vblk0,serial=demo-virtio \
        -blockdev driver=null-co,node-name=zoned0,size=4294967296,zoned=host-managed,zone-size=67108864,zone-nr-conv=2,max-open-zones=8,max-active-zones=12,memory-backed=on \
        -device virtio-blk-pci,drive=zoned0,serial=demo-zoned \
        -blockdev driver=null-co,node-name=zbc0,size=1073741824,zoned=host-managed,zone-size=67108864,zone-nr-conv=1,max-open-zones=8,memory-backed=on \
        -device virtio-scsi-pci,id=scsi0 \
        -device scsi-hd,bus=scsi0.0,drive=zbc0,serial=demo-zbc

    echo
    echo "== make demo: a zoned qcow2 image across a restart of QEMU"
    mkdir -p "$build_dir/tmp"
    work=$(mktemp -d "$build_dir/tmp/demo.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    img=$work/zoned.qcow2
    echo "\$ qemu-img create -f qcow2 -o $zq_opts zoned.qcow2 1G"
    "$qemu_build/qemu-img" create -q -f qcow2 -o "$zq_opts" "$img" 1G
    echo "== boot 1: the image as a zoned virtio-blk disk"
    "$here/guest-run" --mem 1024 --timeout 300 "$0" write -- \
        -blockdev driver=file,node-name=zq-file,filename="$img" \
        -blockdev driver=qcow2,node-name=zq,file=zq-file \
        -device virtio-blk-pci,drive=zq,serial=demo-zq
    echo
    echo "== QEMU has exited; the write pointers are in the image (qemu-img)"
    "$qemu_build/qemu-img" info "$img" | sed -n '/^zoned:/,/max append/p'
    "$qemu_build/qemu-img" check "$img"
    echo "== boot 2: the same image as an NVMe zoned namespace"
    "$here/guest-run" --mem 1024 --timeout 300 "$0" read -- \
        -blockdev driver=file,node-name=zq-file,filename="$img" \
        -blockdev driver=qcow2,node-name=zq,file=zq-file \
        -device nvme,id=nvme0,serial=demo-zq \
        -device nvme-ns,bus=nvme0,nsid=1,drive=zq,zoned.backend=on
    rm -rf "$work"
    trap - EXIT

    echo
    echo "== make demo: snapshot fuzzing, afl-fuzz driving a whole guest (30 s)"
    exec "$here/demo-snapfuzz.sh" 30
fi

# In the guest.
step() { printf '\n== %s\n' "$*"; }

# nvme_ns NSID: the block device of namespace NSID of /dev/nvme0
nvme_ns() {
    local d
    for d in /sys/block/nvme0n*; do
        if [ "$(cat "$d/nsid" 2>/dev/null)" = "$1" ]; then
            echo "/dev/${d##*/}"
            return
        fi
    done
    echo "the NVMe namespace $1 is missing" >&2
    exit 1
}

case "$1" in
write | read)
    . "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh" ;;
esac
case "$1" in
write)
    modprobe virtio_blk
    udevadm settle 2>/dev/null || sleep 1
    dev=$(zoned_disk demo-zq)
    step "The zoned qcow2 image through virtio-blk: $dev"
    blkzone report --count 3 "$dev"
    step "Write 1 MiB to zone 1, open zone 2 explicitly"
    head -c 1M < <(yes "$zq_text") |
        dd of="$dev" bs=1M seek=64 oflag=direct status=none
    blkzone open --offset $((2 * 131072)) --count 1 "$dev"
    blkzone report --count 3 "$dev"
    exit 0 ;;
read)
    modprobe nvme
    udevadm settle 2>/dev/null || sleep 1
    dev=$(zoned_disk demo-zq)
    step "The same image after a restart, through NVMe ZNS: $dev"
    echo "zone 1 keeps its write pointer; open zones come back closed (zone 2"
    echo "was empty: it is empty again), as after a power cycle of a drive"
    blkzone report --count 3 "$dev"
    if cmp <(head -c 1M < <(yes "$zq_text")) \
           <(dd if="$dev" bs=1M skip=64 count=1 iflag=direct status=none); then
        echo "zone 1's 1 MiB of data: the same as boot 1 wrote"
    else
        echo "zone 1's data differs from what boot 1 wrote"
        exit 1
    fi
    exit 0 ;;
esac
modprobe nvme
modprobe virtio_blk
modprobe virtio_scsi
modprobe sd_mod
modprobe null_blk nr_devices=1 zoned=1 gb=4 zone_size=64 zone_nr_conv=1
udevadm settle 2>/dev/null || sleep 1

step "Disks the guest sees (lsblk)"
lsblk -o NAME,SIZE,TYPE,ZONED,MODEL
for d in /sys/block/vd*; do echo "${d##*/}: virtio-blk serial $(cat "$d/serial")"; done

step "NVMe controller and namespaces (nvme-cli); its I/O queues run in an IOThread"
nvme list
nvme id-ctrl /dev/nvme0 | grep -E '^(vid|sn|mn|fr|oncs|mdts) '
ndev=$(nvme_ns 1)
step "fio 4 KiB random reads on $ndev, queue depth 16 (I/O queues in the IOThread)"
fio --name=nvme --filename="$ndev" --direct=1 --ioengine=libaio --iodepth=16 \
    --rw=randread --bs=4k --size=256m --runtime=3 --time_based \
    --output-format=normal | grep -E 'READ:|err='

zdev=
for d in /sys/block/vd*; do
    [ "$(cat "$d/serial" 2>/dev/null)" = demo-zoned ] && zdev=/dev/${d##*/}
done
[ -n "$zdev" ] || { echo "the zoned virtio-blk disk is missing"; exit 1; }
step "A zoned virtio-blk disk emulated by null-co ($zdev): sysfs and zone report"
for f in zoned nr_zones chunk_sectors max_open_zones max_active_zones; do
    printf '%-18s %s\n' "$f" "$(cat /sys/block/${zdev#/dev/}/queue/$f)"
done
blkzone report --count 4 "$zdev"
echo "..."

step "Zone operations on $zdev: open, write, close, finish, reset"
z=$((4 * 131072))
blkzone open --offset $z --count 1 "$zdev"
dd if=/dev/urandom of="$zdev" bs=64k count=4 seek=$((z / 128)) oflag=direct status=none
blkzone report --offset $z --count 1 "$zdev"
blkzone close --offset $z --count 1 "$zdev"
blkzone report --offset $z --count 1 "$zdev"
blkzone finish --offset $z --count 1 "$zdev"
blkzone report --offset $z --count 1 "$zdev"
blkzone reset --offset $z --count 1 "$zdev"
blkzone report --offset $z --count 1 "$zdev"

step "fio --zonemode=zbd sequential write with crc32c verify on $zdev"
fio --name=zoned --filename="$zdev" --direct=1 --ioengine=psync --zonemode=zbd \
    --rw=write --bs=64k --offset=128m --size=128m --verify=crc32c \
    --max_open_zones=4 --output-format=normal | grep -E 'WRITE:|READ:|err='

nsdev=$(nvme_ns 2)
step "An NVMe zoned namespace on null-co zones (nvme-ns zoned.backend=on): $nsdev"
nvme zns id-ns "$nsdev" | grep -E '^(mor|mar|zoc|ozcs) |lbafe  *0'
nvme zns report-zones "$nsdev" --descs=3
z=$((2 * 131072))
dd if=/dev/urandom of="$nsdev" bs=64k count=2 seek=$((z / 128)) oflag=direct status=none
echo "after writing 128 KiB to the zone at sector $z:"
blkzone report --offset $z --count 1 "$nsdev"
blkzone reset --offset $z --count 1 "$nsdev"

sddev=
for d in /sys/block/sd*; do
    grep -qs demo-zbc "$d/device/vpd_pg80" && sddev=/dev/${d##*/}
done
[ -n "$sddev" ] || { echo "the ZBC disk is missing"; exit 1; }
step "A host-managed ZBC disk (scsi-hd on null-co zones): $sddev"
echo "peripheral device type: $(cat /sys/block/${sddev#/dev/}/device/type) (20 = ZBC)"
blkzone report --count 3 "$sddev"
step "fio --zonemode=zbd sequential write with crc32c verify on $sddev"
fio --name=zbc --filename="$sddev" --direct=1 --ioengine=psync --zonemode=zbd \
    --rw=write --bs=64k --offset=128m --size=128m --verify=crc32c \
    --max_open_zones=4 --output-format=normal | grep -E 'WRITE:|READ:|err='

step "A zoned disk: Linux null_blk, zone report (blkzone)"
blkzone report --count 4 /dev/nullb0
echo "..."
echo "capacity (512-byte sectors): $(blkzone capacity /dev/nullb0)"

step "Write 1 MiB to the first sequential zone, report it again"
dd if=/dev/zero of=/dev/nullb0 bs=1M count=1 seek=64 oflag=direct status=none
blkzone report --offset $((64 * 2048)) --count 1 /dev/nullb0

step "qemu-io (from this build) reports the same zone through file-posix"
"$QEMU_BUILD/qemu-io" --image-opts -n driver=host_device,filename=/dev/nullb0 \
    -c "zrp $((64 << 20)) 1"
echo
echo "== this guest is done"
