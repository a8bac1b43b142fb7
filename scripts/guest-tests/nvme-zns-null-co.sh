#!/usr/bin/env bash
# An NVMe zoned namespace whose zones are those of a null-co zoned drive
# (nvme-ns zoned.backend=on, memory-backed), next to a regular namespace,
# seen by the Linux nvme driver: sysfs and `nvme zns id-ns` agree with the
# drive's configuration, `nvme zns report-zones` and blkzone report the
# zones, blkzone open/close/finish/reset move them as ZNS says, a zone
# append returns where the data went and the data reads back, and fio
# --zonemode=zbd writes verify (crc32c).
#
# Usage: scripts/guest-tests/nvme-zns-null-co.sh [guest-run options, e.g.
#        --qemu PATH/qemu-system-x86_64]
set -euo pipefail

# 1 GiB: 16 zones of 64 MiB (capacity 48 MiB); 6 open, 8 active; appends
# up to 256 KiB.
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    exec "$here/../guest-run" --mem 1536 "$@" "$0" -- \
        -drive if=none,id=plain,driver=null-co,size=67108864,read-zeroes=on \
        -drive if=none,id=zdev,driver=null-co,size=1073741824,zoned=host-managed,zone-size=67108864,zone-capacity=50331648,max-open-zones=6,max-active-zones=8,max-append-bytes=262144,memory-backed=on,werror=stop,rerror=stop \
        -device nvme,id=nvme0,serial=zns0 \
        -device nvme-ns,bus=nvme0,nsid=1,drive=plain \
        -device nvme-ns,bus=nvme0,nsid=2,drive=zdev,zoned.backend=on
fi

# In the guest.
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe nvme
for i in $(seq 100); do [ -b /dev/nvme0n2 ] && break; sleep 0.1; done
# The kernel numbers the block devices in the order it finds them: look up
# the namespaces by NSID.
ns_dev() { grep -lx "$1" /sys/block/nvme0n*/nsid 2>/dev/null | cut -d/ -f4; }
plain=$(ns_dev 1) zoned=$(ns_dev 2)
[ -n "$zoned" ] && [ -n "$plain" ] || fail "the two namespaces did not appear"
dev=/dev/$zoned q=/sys/block/$zoned/queue
zs=131072 # zone size in 512-byte sectors

expect "regular namespace" "$(cat /sys/block/$plain/queue/zoned)" none
expect "zoned model" "$(cat $q/zoned)" host-managed
expect "nr_zones" "$(cat $q/nr_zones)" 16
expect "zone size (sectors)" "$(cat $q/chunk_sectors)" $zs
expect "max_open_zones" "$(cat $q/max_open_zones)" 6
expect "max_active_zones" "$(cat $q/max_active_zones)" 8
expect "zone_append_max_bytes" "$(cat $q/zone_append_max_bytes)" 262144

idns=$(nvme zns id-ns $dev)
echo "$idns" | grep -v "^ *$" | head -20
expect "id-ns mar" "$(echo "$idns" | sed -n 's/^mar *: *//p')" 0x7
expect "id-ns mor" "$(echo "$idns" | sed -n 's/^mor *: *//p')" 0x5
echo "$idns" | grep -q "zsze:0x20000" || fail "id-ns: no LBA format with zsze 0x20000 (64 MiB of 512-byte blocks)"
echo "ok: id-ns zsze = 0x20000"

rz=$(nvme zns report-zones $dev -d 16)
echo "$rz" | head -3
expect "report-zones nr_zones" "$(echo "$rz" | sed -n 's/^nr_zones: *//p')" 16
expect "report-zones sequential empty zones" "$(echo "$rz" | grep -c 'State: 0x10 Type: 0x2 ')" 16
expect "report-zones zone capacity" "$(echo "$rz" | grep -m1 -o 'Cap: 0x[0-9a-f]*')" "Cap: 0x18000"

report=$(blkzone report "$dev")
expect "zones reported by blkzone" "$(echo "$report" | wc -l)" 16
expect "empty zones" "$(echo "$report" | grep -c '(em)')" 16

zoned_walk_zone 5
# The kernel knows a full zone and fails writes to it itself; the device's
# Zone Is Full is checked by the qtest.
zoned_write_off_wp_fails 5

# Zone append: the data goes to the write pointer, the completion says where.
z=3 zslba=$((3 * zs))
dd if=/dev/urandom of=/tmp/a1 bs=4k count=2 status=none
dd if=/dev/urandom of=/tmp/a2 bs=4k count=1 status=none
nvme zns zone-append $dev -s $zslba -z 8192 -d /tmp/a1 >/tmp/app1 2>&1 ||
    { cat /tmp/app1; fail "zone append 1"; }
nvme zns zone-append $dev -s $zslba -z 4096 -d /tmp/a2 >/tmp/app2 2>&1 ||
    { cat /tmp/app2; fail "zone append 2"; }
cat /tmp/app1 /tmp/app2
# nvme-cli prints the LBA of the completion in hex, without 0x.
grep -q "LBA $(printf %x $zslba)\$" /tmp/app1 ||
    fail "append 1 did not report LBA $zslba"
grep -q "LBA $(printf %x $((zslba + 16)))\$" /tmp/app2 ||
    fail "append 2 did not report LBA $((zslba + 16))"
echo "ok: zone appends returned their LBAs"
dd if=$dev of=/tmp/r bs=4k count=3 skip=$((zslba / 8)) iflag=direct status=none
cat /tmp/a1 /tmp/a2 | cmp - /tmp/r || fail "appended data does not read back"
echo "ok: appended data reads back"

zoned_open_limit 6 2
expect "zones empty after reset all" "$(blkzone report "$dev" | grep -c '(em)')" 16

zoned_fio --name=seq --rw=write --bs=64k --offset=128m --size=256m
echo "all NVMe ZNS (zoned.backend) checks passed"
