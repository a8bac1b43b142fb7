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
fail() { echo "FAIL: $*"; exit 1; }
expect() { # expect NAME GOT WANT
    if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; fi
    echo "ok: $1 = $2"
}
modprobe virtio_blk
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
dev=/dev/vda q=/sys/block/vda/queue

expect "zoned model" "$(cat $q/zoned)" host-managed
expect "nr_zones" "$(cat $q/nr_zones)" 16
expect "zone size (sectors)" "$(cat $q/chunk_sectors)" 131072
expect "max_open_zones" "$(cat $q/max_open_zones)" 6
expect "max_active_zones" "$(cat $q/max_active_zones)" 8

zone_cond() { # zone_cond INDEX -> condition abbreviation (nw em oi oe cl fu ro ol)
    blkzone report --offset $(($1 * 131072)) --count 1 "$dev" |
        sed -n 's/.*zcond: *[0-9]*(\([a-z]*\)).*/\1/p'
}
report=$(blkzone report "$dev")
echo "$report" | head -4
expect "zones reported" "$(echo "$report" | wc -l)" 16
expect "conventional zones" "$(echo "$report" | grep -c CONVENTIONAL)" 2
expect "sequential zones" "$(echo "$report" | grep -c SEQ_WRITE_REQUIRED)" 14

z=5 off=$((5 * 131072))
expect "zone $z initially" "$(zone_cond $z)" em
blkzone open --offset $off --count 1 "$dev"
expect "zone $z after open" "$(zone_cond $z)" oe
blkzone close --offset $off --count 1 "$dev"
expect "zone $z after close of an empty zone" "$(zone_cond $z)" em
dd if=/dev/urandom of=$dev bs=4k count=4 seek=$((off / 8)) oflag=direct status=none
expect "zone $z after a write" "$(zone_cond $z)" oi
blkzone close --offset $off --count 1 "$dev"
expect "zone $z after close" "$(zone_cond $z)" cl
blkzone finish --offset $off --count 1 "$dev"
expect "zone $z after finish" "$(zone_cond $z)" fu
blkzone reset --offset $off --count 1 "$dev"
expect "zone $z after reset" "$(zone_cond $z)" em

# A write off the write pointer fails (the kernel or the device refuses it).
if dd if=/dev/zero of=$dev bs=4k count=1 seek=$((off / 8 + 16)) oflag=direct status=none 2>/dev/null; then
    fail "a write off the write pointer succeeded"
fi
echo "ok: a write off the write pointer fails"
expect "zone $z after the failed write" "$(zone_cond $z)" em

# Open limit: 6 explicitly open zones, the 7th open fails.
for i in 2 3 4 5 6 7; do blkzone open --offset $((i * 131072)) --count 1 "$dev"; done
if blkzone open --offset $((8 * 131072)) --count 1 "$dev" 2>/dev/null; then
    fail "a 7th explicit open succeeded with max_open_zones=6"
fi
echo "ok: the open zone limit holds"
blkzone reset "$dev"
expect "zones empty after reset all" "$(blkzone report "$dev" | grep -c '(em)')" 14

fio_run() {
    fio --output-format=terse --terse-version=3 --direct=1 --ioengine=psync \
        --filename="$dev" --zonemode=zbd --max_open_zones=4 \
        --verify=crc32c --do_verify=1 --verify_fatal=1 "$@" >/tmp/fio.out 2>&1 \
        || { cat /tmp/fio.out; fail "fio $*"; }
    echo "ok: fio $*"
}
fio_run --name=seq --rw=write --bs=64k --offset=128m --size=192m
blkzone reset "$dev"
fio_run --name=rand --rw=randwrite --bs=16k --offset=128m --size=256m --io_size=32m
echo "all zoned virtio-blk checks passed"
