#!/usr/bin/env bash
# A host-managed zoned virtio-blk disk backed by null-co zoned emulation
# (memory-backed), seen by the Linux virtio_blk driver: sysfs and
# blkzone report agree with the configuration, blkzone open/close/finish/
# reset move zones as the ZBC/ZNS state machine says, and fio
# --zonemode=zbd sequential and random writes verify (crc32c).
set -euo pipefail

# 1 GiB: 16 zones of 64 MiB, 2 conventional; limits 6 open, 8 active.
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    exec "$here/../guest-run" --mem 1536 "$0" -- \
        -blockdev driver=null-co,node-name=zdev,size=1073741824,zoned=host-managed,zone-size=67108864,zone-nr-conv=2,max-open-zones=6,max-active-zones=8,memory-backed=on \
        -blockdev driver=raw,node-name=zraw,file=zdev \
        -device virtio-blk-pci,drive=zraw,serial=zoned0
fi

# In the guest.
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe virtio_blk
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
dev=/dev/vda q=/sys/block/vda/queue zs=131072

expect "zoned model" "$(cat $q/zoned)" host-managed
expect "nr_zones" "$(cat $q/nr_zones)" 16
expect "zone size (sectors)" "$(cat $q/chunk_sectors)" 131072
expect "max_open_zones" "$(cat $q/max_open_zones)" 6
expect "max_active_zones" "$(cat $q/max_active_zones)" 8

report=$(blkzone report "$dev")
echo "$report" | head -4
expect "zones reported" "$(echo "$report" | wc -l)" 16
expect "conventional zones" "$(echo "$report" | grep -c CONVENTIONAL)" 2
expect "sequential zones" "$(echo "$report" | grep -c SEQ_WRITE_REQUIRED)" 14

zoned_walk_zone 5
zoned_write_off_wp_fails 5
zoned_open_limit 6 2
expect "zones empty after reset all" "$(blkzone report "$dev" | grep -c '(em)')" 14

zoned_fio --name=seq --rw=write --bs=64k --offset=128m --size=192m
blkzone reset "$dev"
zoned_fio --name=rand --rw=randwrite --bs=16k --offset=128m --size=256m --io_size=32m
echo "all zoned virtio-blk checks passed"
