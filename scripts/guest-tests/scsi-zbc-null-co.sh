#!/usr/bin/env bash
# A host-managed ZBC disk (scsi-hd over virtio-scsi) backed by null-co
# zoned emulation (memory-backed), seen by the Linux sd driver: sysfs and
# blkzone report agree with the configuration, blkzone open/close/finish/
# reset move zones as ZBC says, fio --zonemode=zbd sequential and random
# writes verify (crc32c), and a host-aware disk is seen and works.  A disk
# of 65536 zones on an lsi53c895a, which takes data a piece at a time
# (no scatter/gather list), is reported whole: each REPORT ZONES of Linux
# (384 KiB there) comes in several 64 KiB chunks from scsi-hd.
set -euo pipefail

# 1 GiB: 16 zones of 64 MiB, 2 conventional; at most 6 open zones.
# The host-aware disk: 256 MiB, 4 zones of 64 MiB.  The lsi53c895a's: 64
# GiB, 65536 zones of 1 MiB.
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    exec "$here/../guest-run" --mem 1536 "$0" "$@" -- \
        -device virtio-scsi-pci,id=scsi0 \
        -blockdev driver=null-co,node-name=zhm,size=1073741824,zoned=host-managed,zone-size=67108864,zone-nr-conv=2,max-open-zones=6,memory-backed=on,read-zeroes=on \
        -device scsi-hd,bus=scsi0.0,drive=zhm,serial=zbc0,scsi-id=0,lun=0,werror=stop,rerror=stop \
        -blockdev driver=null-co,node-name=zha,size=268435456,zoned=host-aware,zone-size=67108864,memory-backed=on,read-zeroes=on \
        -device scsi-hd,bus=scsi0.0,drive=zha,serial=zha0,scsi-id=1,lun=0 \
        -device lsi53c895a,id=lsi0 \
        -blockdev driver=null-co,node-name=zbig,size=68719476736,zoned=host-managed,zone-size=1048576 \
        -device scsi-hd,bus=lsi0.0,drive=zbig,serial=zbig0,scsi-id=0
fi

# In the guest.
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe virtio_scsi 2>/dev/null || true
modprobe sd_mod 2>/dev/null || true
modprobe sym53c8xx 2>/dev/null || true
find_disk() { # find_disk SERIAL -> sdX
    local d
    for d in /sys/block/sd*; do
        [ -e "$d" ] || continue
        if grep -qs "$1" "$d/device/vpd_pg80" 2>/dev/null; then
            basename "$d"
            return
        fi
    done
}
hm="" ha="" big=""
for i in $(seq 150); do
    hm=$(find_disk zbc0) ha=$(find_disk zha0) big=$(find_disk zbig0)
    [ -n "$hm" ] && [ -n "$ha" ] && [ -n "$big" ] && [ -b "/dev/$hm" ] &&
        [ -b "/dev/$big" ] && break
    sleep 0.2
done
[ -n "$hm" ] || fail "no disk with serial zbc0 (host-managed)"
[ -n "$ha" ] || fail "no disk with serial zha0 (host-aware)"
[ -n "$big" ] || fail "no disk with serial zbig0 (on the lsi53c895a)"
dev=/dev/$hm q=/sys/block/$hm/queue zs=131072
expect "peripheral type of $hm" "$(cat /sys/block/$hm/device/type)" 20

expect "zoned model" "$(cat $q/zoned)" host-managed
expect "nr_zones" "$(cat $q/nr_zones)" 16
expect "zone size (sectors)" "$(cat $q/chunk_sectors)" 131072
expect "max_open_zones" "$(cat $q/max_open_zones)" 6
# Linux 6.10 and later use host-aware disks as regular ones: the disk is
# there, VPD page B1h says host-aware (ZONED 01b), and it takes random writes.
expect "host-aware $ha: ZONED in VPD B1h" \
    "$(od -An -tx1 -j8 -N1 /sys/block/$ha/device/vpd_pgb1 | tr -d ' ')" 10
dd if=/dev/urandom of=/tmp/ha.bin bs=64k count=2 status=none
dd if=/tmp/ha.bin of=/dev/$ha bs=64k seek=1000 oflag=direct status=none
expect "host-aware $ha: random write read back" \
    "$(dd if=/dev/$ha bs=64k skip=1000 count=2 iflag=direct status=none | cmp - /tmp/ha.bin && echo same)" same

report=$(blkzone report "$dev")
echo "$report" | head -4
expect "zones reported" "$(echo "$report" | wc -l)" 16
expect "conventional zones" "$(echo "$report" | grep -c CONVENTIONAL)" 2
expect "sequential zones" "$(echo "$report" | grep -c SEQ_WRITE_REQUIRED)" 14

# The lsi53c895a's disk: every zone, in order, each 2048 sectors on
expect "$big: nr_zones" "$(cat /sys/block/$big/queue/nr_zones)" 65536
blkzone report "/dev/$big" | awk '{ print $2 }' | tr -d , >/tmp/big.starts
printf '0x%09x\n' $(seq 0 2048 $((65535 * 2048))) >/tmp/big.expected
expect "$big: zone starts reported" \
    "$(cmp /tmp/big.starts /tmp/big.expected && echo same)" same
expect "$big: empty zones" "$(blkzone report "/dev/$big" | grep -c '(em)')" 65536

zoned_walk_zone 5
# werror=stop: the failed write must not stop the VM.
zoned_write_off_wp_fails 5
zoned_open_limit 6 2
expect "zones empty after reset all" "$(blkzone report "$dev" | grep -c '(em)')" 14

zoned_fio --name=seq --rw=write --bs=64k --offset=128m --size=192m
blkzone reset "$dev"
zoned_fio --name=rand --rw=randwrite --bs=16k --offset=128m --size=256m --io_size=32m
echo "all scsi-hd ZBC checks passed"
