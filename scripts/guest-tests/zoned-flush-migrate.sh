#!/usr/bin/env bash
# Migration of zoned requests that werror=stop holds, against a Linux
# null_blk host-managed disk under file-posix host_device (a zoned node that
# migrates, as zoned qcow2 images on shared storage do; null-co's zones live
# in the QEMU process and block migration).  Without a write cache, zoned virtio-blk and scsi-hd
# flush after each write (and zone append) themselves, and the retry of a
# request whose data is written but whose flush failed only flushes:
# migration carries that (virtio-blk: the subsection
# virtio-blk-device/flush-only; scsi-hd: the request's remaining count).
#
# Two QEMUs in the guest (qtest accelerator; the test is the driver, through
# the qtest protocol, of a legacy virtio-blk-pci function, in the main loop
# and in an IOThread, or virtio-scsi-pci function).  The source has blkdebug between raw and host_device: it fails
# the first flush and the write to zone 2's start once.  One kick makes
# available 4 KiB to zone 1 (virtio-blk: a zone append; scsi-hd: a WRITE
# (16) at its start), written, then its flush fails: only a flush is left to
# do; and a 4 KiB write to zone 2, which fails: all of it is left to do.
# The VM stops; it is migrated, and the destination, without blkdebug, goes
# on: both complete once, so each zone's write pointer is 8 sectors on and
# holds the request's data.  Were the marks lost or put on the wrong
# request, zone 1's request would be done again (an append at 8 sectors,
# a write off the write pointer) or the write only flushed (zone 2 empty).
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

# bytes_in SECTOR: the distinct byte values of the 4 KiB at SECTOR
bytes_in() {
    dd if="$dev" bs=4k skip=$(($1 / 8)) count=1 status=none |
        od -An -tx1 -v | tr -s ' ' '\n' | grep . | sort -u | tr -d '\n'
}

for frontend in virtio-blk virtio-blk-iothread scsi-hd; do
echo "=== $frontend"
blkzone reset "$dev"
PYTHONPATH="$pypath" /usr/bin/python3 - "$QEMU_BUILD/qemu-system-x86_64" \
    "$dev" "$frontend" <<'EOF'
import struct, sys, time
from qemu.machine.qtest import QEMUQtestMachine

qemu, dev, frontend = sys.argv[1:4]
ZONED = 1 << 17
IO = 0xc000                     # the function's I/O BAR (legacy virtio)
RING = 0x100000                 # the queue (legacy layout, 4 KiB aligned)
ZONE1, ZONE2 = 8192, 16384      # sectors
A_HDR, A_DATA, A_IN = 0x200000, 0x201000, 0x203000
B_HDR, B_DATA, B_IN = 0x200100, 0x204000, 0x203100
T_HDR, T_IN = 0x200200, 0x203200
SOCK = '/tmp/flush-migrate.sock'
NEXT, WRITE = 1, 2
ERR = ',werror=stop,rerror=stop,write-cache=off'
if frontend.startswith('virtio-blk'):
    IOTHREAD = ',iothread=t0' if frontend.endswith('iothread') else ''
    frontend = 'virtio-blk'
    DEVICES = ['-object', 'iothread,id=t0',
               '-device', 'virtio-blk-pci,id=vblk,drive=drive0,addr=4,'
               'disable-modern=on,disable-legacy=off' + IOTHREAD + ERR]
    FEATURES, QUEUE = ZONED, 0
    HDR, IN = 16, 9             # virtio_blk_outhdr; append sector, status
else:
    DEVICES = ['-device', 'virtio-scsi-pci,id=scsi,addr=4,'
               'disable-modern=on,disable-legacy=off',
               '-device', 'scsi-hd,id=sd,bus=scsi.0,drive=drive0' + ERR]
    FEATURES, QUEUE = 0, 2      # the first request queue
    HDR, IN = 51, 108           # virtio_scsi_cmd_req and _resp (CDB 32)


def machine(name, blockdevs, extra=()):
    return QEMUQtestMachine(qemu, [
        '-M', 'pc', '-nodefaults', '-display', 'none', '-m', '64',
        '-blockdev', f'host_device,node-name=h,filename={dev}',
        *blockdevs, *DEVICES, *extra], name=name)


def write(vm, addr, data):
    vm.qtest(f'write {addr:#x} {len(data):#x} 0x{data.hex()}')


def read(vm, addr, size):
    return bytes.fromhex(vm.qtest(f'read {addr:#x} {size:#x}').split()[1][2:])


def running(vm):
    return vm.qmp('query-status')['return']['running']


def used_idx(vm):
    return struct.unpack('<H', read(vm, used + 2, 2))[0]


def wait_used(vm, n):
    for _ in range(500):
        if used_idx(vm) >= n:
            break
        time.sleep(0.01)
    return used_idx(vm)


def header(op, sector):
    """virtio-blk: request type @op; scsi-hd: WRITE (16) or, for @op 0,
    TEST UNIT READY to LUN 0 of target 0 (tag, task attribute, priority
    and CRN 0)"""
    if frontend == 'virtio-blk':
        return struct.pack('<IIQ', op, 0, sector)
    cdb = bytes([0x8a, 0]) + struct.pack('>QIBB', sector, 8, 0, 0) \
        if op else bytes(6)
    return bytes([1, 0, 0, 0, 0, 0, 0, 0]) + bytes(11) + cdb.ljust(32, b'\0')


def status(vm, addr):
    """The request's status (0 is success), 0xff if not written"""
    if frontend == 'virtio-blk':
        return read(vm, addr + IN - 1, 1)[0]
    # sense_len, resid, status_qualifier, then status and response
    return read(vm, addr + 10, 1)[0] | read(vm, addr + 11, 1)[0]


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

src.launch()
pci = 0x80000000 | (4 << 11)
src.qtest(f'outl 0xcf8 {pci | 0x10:#x}')
src.qtest(f'outl 0xcfc {IO | 1:#x}')
src.qtest(f'outl 0xcf8 {pci | 0x04:#x}')
src.qtest('outw 0xcfc 0x5')                      # I/O space, bus master
src.qtest(f'outb {IO + 18:#x} 0x3')              # ACKNOWLEDGE | DRIVER
host = int(src.qtest(f'inl {IO:#x}').split()[1], 16)
assert host & FEATURES == FEATURES, f'features {host:#x}'
src.qtest(f'outl {IO + 4:#x} {FEATURES:#x}')
src.qtest(f'outw {IO + 14:#x} {QUEUE:#x}')
qsize = int(src.qtest(f'inw {IO + 12:#x}').split()[1], 16)
src.qtest(f'outl {IO + 8:#x} {RING >> 12:#x}')
src.qtest(f'outb {IO + 18:#x} 0x7')              # DRIVER_OK
avail = RING + 16 * qsize
used = (avail + 6 + 2 * qsize + 4095) & ~4095

# Chains of header, data and what the device writes: A to zone 1, B to
# zone 2, and for scsi-hd first a TEST UNIT READY (T), which takes the
# unit attention of the reset
desc = [(A_HDR, HDR, NEXT, 1), (A_DATA, 4096, NEXT, 2), (A_IN, IN, WRITE, 0),
        (B_HDR, HDR, NEXT, 4), (B_DATA, 4096, NEXT, 5), (B_IN, IN, WRITE, 0),
        (T_HDR, HDR, NEXT, 7), (T_IN, IN, WRITE, 0)]
write(src, RING, b''.join(struct.pack('<QIHH', *d) for d in desc))
for addr in (A_IN, B_IN, T_IN):
    write(src, addr, b'\xff' * IN)
first = 0
if frontend == 'scsi-hd':
    write(src, T_HDR, header(0, 0))
    write(src, avail, struct.pack('<HHH', 0, 1, 6))
    src.qtest(f'outw {IO + 16:#x} {QUEUE:#x}')
    assert wait_used(src, 1) == 1, 'TEST UNIT READY did not complete'
    write(src, A_HDR, header(1, ZONE1))
    write(src, B_HDR, header(1, ZONE2))
    first = 1
else:
    write(src, A_HDR, header(15, ZONE1))         # ZONE_APPEND
    write(src, B_HDR, header(1, ZONE2))          # OUT
write(src, A_DATA, b'\xaa' * 4096)
write(src, B_DATA, b'\xbb' * 4096)
write(src, avail + 4 + 2 * first, struct.pack('<HH', 0, 3))
write(src, avail + 2, struct.pack('<H', first + 2))
src.qtest(f'outw {IO + 16:#x} {QUEUE:#x}')       # kick

for _ in range(500):
    if not running(src):
        break
    time.sleep(0.01)
if running(src):
    print('FAIL: the VM did not stop on the injected errors; used index',
          used_idx(src), 'zone 1', read(src, A_IN, IN).hex(),
          'zone 2', read(src, B_IN, IN).hex())
    sys.exit(1)
ok = True
if status(src, A_IN) != 0xff or status(src, B_IN) != 0xff:
    print('FAIL: a request completed on the source')
    ok = False
print('ok: the source stopped with both requests held')

dst.launch()
src.qmp('migrate', uri=f'unix:{SOCK}')
for _ in range(1000):
    mig = src.qmp('query-migrate')['return'].get('status')
    if mig in ('completed', 'failed', 'cancelled'):
        break
    time.sleep(0.01)
assert mig == 'completed', f'migration: {mig}'
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
got = wait_used(dst, first + 2)
if got != first + 2:
    print(f'FAIL: {got - first} of 2 requests completed on the destination')
    ok = False
checks = [('zone 1 status', status(dst, A_IN), 0),
          ('zone 2 status', status(dst, B_IN), 0)]
if frontend == 'virtio-blk':
    checks.append(('append sector',
                   struct.unpack('<Q', read(dst, A_IN, 8))[0], ZONE1))
for what, got, want in checks:
    if got != want:
        print(f'FAIL: {what}: got {got:#x}, want {want:#x}')
        ok = False
    else:
        print(f'ok: {what} = {got:#x}')
dst.shutdown()
sys.exit(0 if ok else 1)
EOF

# Each request once: 8 sectors in zone 1 and zone 2, with their data
expect "$frontend: zone 1's write pointer" "$(zone_wp 1)" 8
expect "$frontend: zone 2's write pointer" "$(zone_wp 2)" 8
expect "$frontend: zone 1's data" "$(bytes_in $zs)" aa
expect "$frontend: zone 2's data" "$(bytes_in $((2 * zs)))" bb
done
echo "ok: all checks passed"
