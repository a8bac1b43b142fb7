#!/usr/bin/env bash
# Migration of zoned virtio-blk requests that werror=stop holds, against a
# Linux null_blk host-managed disk under file-posix host_device (the zoned
# node that does not block migration: null-co's and zoned qcow2's zones
# live in the QEMU process).  Without a write cache, zoned virtio-blk
# flushes after each write and append itself, and a retry of a request
# whose data is written but whose flush failed only flushes: migration
# carries that mark in the subsection virtio-blk/flush-only.
#
# Two QEMUs in the guest (qtest accelerator; the test is the driver, through
# the qtest protocol, of a legacy virtio-blk-pci function).  The source has
# blkdebug between raw and host_device: it fails the first flush and the
# write to zone 2's start once.  One kick makes available a 4 KiB zone
# append to zone 1 (written, then its flush fails: only a flush is left to
# do) and a 4 KiB write to zone 2 (fails: all of it is left to do).  The VM
# stops; it is migrated, and the destination, without blkdebug, goes on:
# both complete once, the append at zone 1's start, so each zone's write
# pointer is 8 sectors on and zone 2 holds the write's data.  Were the
# marks lost or put on the wrong request, the append would be done again
# (zone 1 at 16 sectors) or the write only flushed (zone 2 empty).
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    # QEMU's python package (the qtest protocol) from the source tree
    exec "$here/../guest-run" --mem 1024 "$0" "$src_dir/python"
fi
pypath=$1

# In the guest: 1 GiB, 4 MiB zones (8192 sectors), none conventional.
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe null_blk nr_devices=1 zoned=1 zone_size=4 zone_nr_conv=0 gb=1 \
    memory_backed=1
for i in $(seq 50); do [ -b /dev/nullb0 ] && break; sleep 0.2; done
dev=/dev/nullb0 zs=8192
expect "zoned model" "$(cat /sys/block/nullb0/queue/zoned)" host-managed
blkzone reset "$dev"

PYTHONPATH="$pypath" /usr/bin/python3 - "$QEMU_BUILD/qemu-system-x86_64" "$dev" <<'EOF'
import struct, sys, time
from qemu.machine.qtest import QEMUQtestMachine

qemu, dev = sys.argv[1:3]
ZONED = 1 << 17
IO = 0xc000                     # the function's I/O BAR (legacy virtio)
RING = 0x100000                 # the queue (legacy layout, 4 KiB aligned)
ZONE1, ZONE2 = 8192, 16384      # sectors
A_HDR, A_DATA, A_IN = 0x200000, 0x201000, 0x203000
B_HDR, B_DATA, B_IN = 0x200100, 0x204000, 0x203100
SOCK = '/tmp/flush-migrate.sock'


def machine(name, blockdevs, extra=()):
    return QEMUQtestMachine(qemu, [
        '-M', 'pc', '-nodefaults', '-display', 'none', '-m', '64',
        '-blockdev', f'host_device,node-name=h,filename={dev}',
        *blockdevs,
        '-device', 'virtio-blk-pci,id=vblk,drive=drive0,addr=4,'
                   'disable-modern=on,disable-legacy=off,write-cache=off,'
                   'werror=stop,rerror=stop', *extra], name=name)


# blkdebug fails the first flush and the first write at zone 2's start
src = machine('src', [
    '-blockdev', 'blkdebug,node-name=bd,image=h,'
                 'inject-error.0.event=flush_to_disk,'
                 'inject-error.0.iotype=flush,inject-error.0.errno=5,'
                 'inject-error.0.once=on,'
                 'inject-error.1.event=write_aio,inject-error.1.iotype=write,'
                 f'inject-error.1.sector={ZONE2},inject-error.1.errno=5,'
                 'inject-error.1.once=on',
    '-blockdev', 'raw,node-name=drive0,file=bd'])
dst = machine('dst', ['-blockdev', 'raw,node-name=drive0,file=h'],
              ['-incoming', f'unix:{SOCK}'])


def write(vm, addr, data):
    vm.qtest(f'write {addr:#x} {len(data):#x} 0x{data.hex()}')


def read(vm, addr, size):
    return bytes.fromhex(vm.qtest(f'read {addr:#x} {size:#x}').split()[1][2:])


def running(vm):
    return vm.qmp('query-status')['return']['running']


src.launch()
pci = 0x80000000 | (4 << 11)
src.qtest(f'outl 0xcf8 {pci | 0x10:#x}')
src.qtest(f'outl 0xcfc {IO | 1:#x}')
src.qtest(f'outl 0xcf8 {pci | 0x04:#x}')
src.qtest('outw 0xcfc 0x5')                   # I/O space, bus master
src.qtest(f'outb {IO + 18:#x} 0x3')              # ACKNOWLEDGE | DRIVER
host = int(src.qtest(f'inl {IO:#x}').split()[1], 16)
assert host & ZONED, f'virtio-blk does not offer ZONED ({host:#x})'
src.qtest(f'outl {IO + 4:#x} {ZONED:#x}')
src.qtest(f'outw {IO + 14:#x} 0x0')              # queue 0
qsize = int(src.qtest(f'inw {IO + 12:#x}').split()[1], 16)
src.qtest(f'outl {IO + 8:#x} {RING >> 12:#x}')
src.qtest(f'outb {IO + 18:#x} 0x7')              # DRIVER_OK

# Two chains: header, data, and what the device writes (the append's
# sector and the status; the write's status)
NEXT, WRITE = 1, 2
desc = [(A_HDR, 16, NEXT, 1), (A_DATA, 4096, NEXT, 2), (A_IN, 9, WRITE, 0),
        (B_HDR, 16, NEXT, 4), (B_DATA, 4096, NEXT, 5), (B_IN, 1, WRITE, 0)]
write(src, RING, b''.join(struct.pack('<QIHH', *d) for d in desc))
write(src, A_HDR, struct.pack('<IIQ', 15, 0, ZONE1))   # ZONE_APPEND
write(src, B_HDR, struct.pack('<IIQ', 1, 0, ZONE2))    # OUT
write(src, A_DATA, b'\xaa' * 4096)
write(src, B_DATA, b'\xbb' * 4096)
write(src, A_IN, b'\xff' * 9)
write(src, B_IN, b'\xff')
avail = RING + 16 * qsize
used = (avail + 6 + 2 * qsize + 4095) & ~4095
write(src, avail, struct.pack('<HHHH', 0, 2, 0, 3))
src.qtest(f'outw {IO + 16:#x} 0x0')              # kick

for _ in range(500):
    if not running(src):
        break
    time.sleep(0.01)
if running(src):
    print('FAIL: the VM did not stop on the injected errors; used index',
          read(src, used + 2, 2).hex(), 'append', read(src, A_IN, 9).hex(),
          'write', read(src, B_IN, 1).hex())
    sys.exit(1)
ok = True
if read(src, A_IN + 8, 1) != b'\xff' or read(src, B_IN, 1) != b'\xff':
    print('FAIL: a request completed on the source')
    ok = False
print('ok: the source stopped with both requests held')

dst.launch()
src.qmp('migrate', uri=f'unix:{SOCK}')
for _ in range(1000):
    status = src.qmp('query-migrate')['return'].get('status')
    if status in ('completed', 'failed', 'cancelled'):
        break
    time.sleep(0.01)
assert status == 'completed', f'migration: {status}'
src.shutdown()
print('ok: migrated')

try:
    dst.qmp('cont')
except Exception:
    try:
        dst.shutdown()
    except Exception:
        pass
    print('destination log:', dst.get_log(), 'exit', dst.exitcode())
    raise
for _ in range(500):
    if struct.unpack('<H', read(dst, used + 2, 2))[0] == 2:
        break
    time.sleep(0.01)
got = struct.unpack('<H', read(dst, used + 2, 2))[0]
if got != 2:
    print(f'FAIL: {got} of 2 requests completed on the destination')
    ok = False
sector, a_status = struct.unpack('<QB', read(dst, A_IN, 9))
b_status = read(dst, B_IN, 1)[0]
for what, got, want in (('append status', a_status, 0),
                        ('append sector', sector, ZONE1),
                        ('write status', b_status, 0)):
    if got != want:
        print(f'FAIL: {what}: got {got}, want {want}')
        ok = False
    else:
        print(f'ok: {what} = {got}')
dst.shutdown()
sys.exit(0 if ok else 1)
EOF

# bytes_in SECTOR: the distinct byte values of the 4 KiB at SECTOR
bytes_in() {
    dd if="$dev" bs=4k skip=$(($1 / 8)) count=1 status=none |
        od -An -tx1 -v | tr -s ' ' '\n' | grep . | sort -u | tr -d '\n'
}
# Each request once: 8 sectors in zone 1 (the append) and zone 2 (the write)
expect "zone 1's write pointer" "$(zone_wp 1)" 8
expect "zone 2's write pointer" "$(zone_wp 2)" 8
expect "zone 1's data (the append)" "$(bytes_in $zs)" aa
expect "zone 2's data (the write)" "$(bytes_in $((2 * zs)))" bb
echo "ok: all checks passed"
