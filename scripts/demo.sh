#!/usr/bin/env bash
# make demo: boot a guest of the built QEMU that shows what the series adds.
# The guest sees an NVMe disk and a virtio-blk disk (null-co backends), and
# creates a Linux null_blk zoned disk of its own; it lists them, reports the
# zones, and powers off.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    echo "== make demo: booting a guest under ${GUEST_ACCEL:-tcg} (about 20 s)"
    exec "$here/guest-run" --mem 1024 --timeout 300 "$0" -- \
        -blockdev driver=null-co,node-name=nvme0,size=1073741824,read-zeroes=on \
        -device nvme,serial=demo-nvme,drive=nvme0 \
        -blockdev driver=null-co,node-name=vblk0,size=536870912,read-zeroes=on \
        -device virtio-blk-pci,drive=vblk0,serial=demo-virtio
fi

# In the guest.
step() { printf '\n== %s\n' "$*"; }
modprobe nvme
modprobe virtio_blk
modprobe null_blk nr_devices=1 zoned=1 gb=4 zone_size=64 zone_nr_conv=1
udevadm settle 2>/dev/null || sleep 1

step "Disks the guest sees (lsblk)"
lsblk -o NAME,SIZE,TYPE,ZONED,MODEL,SERIAL

step "NVMe controller and namespace (nvme-cli)"
nvme list
nvme id-ctrl /dev/nvme0 | grep -E '^(vid|sn|mn|fr|oncs|mdts) '

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
echo "== demo done"
