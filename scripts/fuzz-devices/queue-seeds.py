#!/usr/bin/env python3
"""Seeds for the queue fuzz targets of QEMU's fuzzing build on zoned
drives (tests/qtest/fuzz/virtio_blk_fuzz.c, virtio_scsi_fuzz.c and
nvme_fuzz.c): one input per zoned request, written the way those targets
read an input.

    queue-seeds.py blk|scsi|nvme|nvme-repro|nvme-subsys|nvme-subsys-repro DIR

For virtio, an input is the 64-bit feature mask, then actions of 5 bytes
(queue, length, device-writable, next, kick), each followed by the length
bytes that go into the guest buffer of its descriptor.  A request is a
chain: the header (device-readable), a data buffer, and the status or
response (device-writable), kicked.  For NVMe, an input is records of a
selector byte (bit 0: the I/O queue, else the admin queue) and a 64-byte
submission queue entry (bit 5: the second controller of the subsystem
target's two; bits 2-4, 3: disable the other controller right after the
doorbell).

The virtio targets make every kick of a queue publish the head of the first
chain the input put on it (they keep the head of the first descriptor only,
and 0 after a kick): a second chain on a queue is never seen, and each kick,
and the target's kick at the end of the input, runs the first one again.  So
an input is one request, run twice (more with kicks(): a write at the write
pointer, then off it).  virtio-scsi answers the first command after the
reset that ends each input with the UNIT ATTENTION of that reset (INQUIRY
excepted): the second run is the one that reaches the disk.

What needs several requests uses the zones' state, which outlives an input
(the targets reset the machine; the zoned null-co node keeps its zones): a
scenario is inputs of sizes above those of the corpus, padded to run in
order, as a replay runs a corpus smallest first, each step one request.
Its steps go into the corpus as they are: a merge (-merge=1) keeps only the
inputs that add coverage by themselves.
"""
import os
import struct
import sys

ALL_FEATURES = 0xffffffffffffffff

# virtio-blk request types (include/standard-headers/linux/virtio_blk.h)
VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH = 0, 1, 4
VIRTIO_BLK_T_WRITE_ZEROES = 13
VIRTIO_BLK_T_ZONE_APPEND, VIRTIO_BLK_T_ZONE_REPORT = 15, 16
VIRTIO_BLK_T_ZONE_OPEN, VIRTIO_BLK_T_ZONE_CLOSE = 18, 20
VIRTIO_BLK_T_ZONE_FINISH, VIRTIO_BLK_T_ZONE_RESET = 22, 24
VIRTIO_BLK_T_ZONE_RESET_ALL = 26
VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP = 1
ZONE_SECTORS = 4 * 1024 * 1024 // 512       # the targets' zone size
# virtio-blk's drive: zone capacity 3 MiB, 2 conventional zones, zone 5
# read-only, 6 offline, at most 4 open and 6 active zones, appends of 128 KiB
ZONE_CAP_SECTORS = 3 * 1024 * 1024 // 512

# SCSI (include/scsi/constants.h)
WRITE_6, WRITE_10, WRITE_16, READ_16 = 0x0a, 0x2a, 0x8a, 0x88
ZBC_OUT, ZBC_IN = 0x94, 0x95
INQUIRY, WRITE_SAME_16, SERVICE_ACTION_IN_16 = 0x12, 0x93, 0x9e
SAI_READ_CAPACITY_16 = 0x10
ZI_REPORT_ZONES = 0x00
ZO_CLOSE, ZO_FINISH, ZO_OPEN, ZO_RESET = 0x01, 0x02, 0x03, 0x04
ZONE_BLOCKS = 4 * 1024 * 1024 // 512


def action(queue, data, write, next_, kick):
    assert len(data) < 256
    return struct.pack('<5B', queue, len(data), write, next_, kick) + data


def buffers(queue, data, write, last_next, last_kick):
    """@data in descriptors of at most 255 bytes, chained; the last one has
    @last_next and @last_kick"""
    out = b''
    for i in range(0, len(data), 255):
        end = i + 255 >= len(data)
        out += action(queue, data[i:i + 255], write,
                      last_next if end else 1, last_kick if end else 0)
    return out


def kicks(queue, n):
    """n more kicks of @queue, each of which runs its first chain again (an
    empty descriptor outside the chain each)"""
    return action(queue, b'', 0, 0, 1) * n


def padded(queue, body, size):
    """@body made @size bytes long (with the feature mask) by filler
    descriptors on @queue that no chain uses, for the order of a scenario"""
    left = size - 8 - len(body)
    assert left >= 0, (size, len(body))
    while left >= 5:
        n = min(left - 5, 255)
        body += action(queue, b'\0' * n, 0, 0, 0)
        left -= 5 + n
    return body + b'\0' * left     # fewer than 5 bytes: no action


def scenario(queue, base, steps):
    """The steps of a scenario (name, body), as inputs that a replay runs in
    order: sizes base, base + 1, ..."""
    for i, (name, body) in enumerate(steps):
        yield name, padded(queue, body, base + i)


def blk_request(rtype, sector, data_len=0, write_data=None, extra_kicks=0):
    """A request chain on queue 0: header, data (@write_data to the device,
    or @data_len bytes from it), status"""
    out = action(0, struct.pack('<IIQ', rtype, 0, sector), 0, 1, 0)
    if write_data is not None:
        out += buffers(0, write_data, 0, 1, 0)
    if data_len:
        out += buffers(0, bytes(data_len), 1, 1, 0)
    return out + action(0, b'\xff', 1, 0, 1) + kicks(0, extra_kicks)


def blk_write_zeroes(sector, nr_sectors, flags=0):
    """WRITE ZEROES of one segment"""
    return blk_request(VIRTIO_BLK_T_WRITE_ZEROES, 0, write_data=struct.pack(
        '<QII', sector, nr_sectors, flags))


def blk_append(sector, nbytes):
    """A zone append of @nbytes to the zone of @sector; the device writes
    the sector where the data went (8 bytes) before the status"""
    return blk_request(VIRTIO_BLK_T_ZONE_APPEND, sector, data_len=8,
                       write_data=b'\xa5' * nbytes)


def blk_seeds():
    zone = lambda z: z * ZONE_SECTORS
    block = b'\x5a' * 512
    yield 'report', blk_request(VIRTIO_BLK_T_ZONE_REPORT, 0, 200)
    yield 'report-zone3', blk_request(VIRTIO_BLK_T_ZONE_REPORT, zone(3), 128)
    # Appends: the sector comes back in the 8 bytes before the status.  To
    # a conventional zone (-EINVAL), not at a zone's start (-EINVAL), to
    # the read-only and offline zones (-EROFS, -ENXIO): ZONE_INVALID_CMD.
    yield 'append', blk_append(zone(2), 512)
    for name, sector in (('append-conventional', zone(0)),
                         ('append-not-zone-start', zone(2) + 8),
                         ('append-read-only-zone', zone(5)),
                         ('append-offline-zone', zone(6))):
        yield name, blk_append(sector, 512)
    # Writes of whole sectors.  At the write pointer of an empty zone, then
    # (the second run) off it: -EIO, a zone report that finds the write
    # pointer elsewhere, ZONE_UNALIGNED_WP.
    yield 'write', blk_request(VIRTIO_BLK_T_OUT, zone(3), write_data=block)
    yield 'write-off-wp', blk_request(VIRTIO_BLK_T_OUT, zone(4) + 8,
                                      write_data=block)
    # Across two sequential zones, over the zone capacity (3 MiB of the
    # 4 MiB zone): -EINVAL; read-only and offline zones: -EROFS, -ENXIO
    yield 'write-across-zones', blk_request(VIRTIO_BLK_T_OUT, zone(3) - 1,
                                            write_data=block * 2)
    yield 'write-over-capacity', blk_request(
        VIRTIO_BLK_T_OUT, zone(9) + ZONE_CAP_SECTORS - 1, write_data=block * 2)
    yield 'write-read-only-zone', blk_request(VIRTIO_BLK_T_OUT, zone(5),
                                              write_data=block)
    yield 'write-offline-zone', blk_request(VIRTIO_BLK_T_OUT, zone(6),
                                            write_data=block)
    # Across the conventional zones: allowed, also for reads
    yield 'write-conventional', blk_request(VIRTIO_BLK_T_OUT, zone(1) - 1,
                                            write_data=block * 2)
    yield 'read', blk_request(VIRTIO_BLK_T_IN, zone(3), 512)
    yield 'read-conventional', blk_request(VIRTIO_BLK_T_IN, zone(1) - 1, 1024)
    # A read across sequential zones: ZONE_INVALID_CMD before any I/O; of
    # the offline zone: -ENXIO
    yield 'read-across-zones', blk_request(VIRTIO_BLK_T_IN, zone(3) - 1, 1024)
    yield 'read-offline-zone', blk_request(VIRTIO_BLK_T_IN, zone(6), 512)
    # WRITE ZEROES is a write too: off the write pointer (the second run),
    # with and without UNMAP, and on the read-only zone
    yield 'write-zeroes', blk_write_zeroes(zone(10), 8)
    yield 'write-zeroes-unmap', blk_write_zeroes(
        zone(10) + 64, 8, VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP)
    yield 'write-zeroes-read-only-zone', blk_write_zeroes(zone(5), 8)
    for name, rtype in (('open', VIRTIO_BLK_T_ZONE_OPEN),
                        ('close', VIRTIO_BLK_T_ZONE_CLOSE),
                        ('finish', VIRTIO_BLK_T_ZONE_FINISH),
                        ('reset', VIRTIO_BLK_T_ZONE_RESET)):
        yield name, blk_request(rtype, zone(4))
        # On a conventional zone, not at a zone's start, on the read-only
        # and offline zones, beyond the drive: ZONE_INVALID_CMD
        yield name + '-conventional', blk_request(rtype, zone(0))
        yield name + '-unaligned', blk_request(rtype, zone(4) + 1)
        yield name + '-read-only-zone', blk_request(rtype, zone(5))
        yield name + '-offline-zone', blk_request(rtype, zone(6))
    yield 'open-beyond-drive', blk_request(VIRTIO_BLK_T_ZONE_OPEN, zone(16))
    yield 'reset-all', blk_request(VIRTIO_BLK_T_ZONE_RESET_ALL, 0)
    yield 'flush', blk_request(VIRTIO_BLK_T_FLUSH, 0)
    yield from blk_scenarios()


def blk_scenarios():
    """The zone rules that need zones in some condition first"""
    zone = lambda z: z * ZONE_SECTORS
    block = b'\x11' * 512
    op = lambda rtype, z: blk_request(rtype, zone(z))
    write = lambda z: blk_request(VIRTIO_BLK_T_OUT, zone(z), write_data=block)
    yield from scenario(0, 1500, [
        # From empty zones (reset all also gives back their memory)
        ('zs-01-reset-all', op(VIRTIO_BLK_T_ZONE_RESET_ALL, 0)),
        # A full zone: an append (-EIO, a zone report finds it full:
        # ZONE_INVALID_CMD) and a write (ZONE_UNALIGNED_WP)
        ('zs-02-finish', op(VIRTIO_BLK_T_ZONE_FINISH, 12)),
        ('zs-03-append-full-zone', blk_append(zone(12), 512)),
        ('zs-04-write-full-zone', write(12)),
        # 4 implicitly open zones, 2 of them closed: 4 active zones;
        # 2 more open ones: 6, the most; a seventh: ZONE_ACTIVE_RESOURCE
        ('zs-05-write', write(7)),
        ('zs-06-write', write(8)),
        ('zs-07-write', write(9)),
        ('zs-08-write', write(10)),
        ('zs-09-close', op(VIRTIO_BLK_T_ZONE_CLOSE, 7)),
        ('zs-10-close', op(VIRTIO_BLK_T_ZONE_CLOSE, 8)),
        ('zs-11-write', write(11)),
        ('zs-12-write', write(13)),
        ('zs-13-write-too-many-active', write(14)),
        ('zs-14-open-too-many-active', op(VIRTIO_BLK_T_ZONE_OPEN, 14)),
        # The 4 open zones explicitly open: no room to open a closed zone,
        # by a write or an open: ZONE_OPEN_RESOURCE
        ('zs-15-open', op(VIRTIO_BLK_T_ZONE_OPEN, 9)),
        ('zs-16-open', op(VIRTIO_BLK_T_ZONE_OPEN, 10)),
        ('zs-17-open', op(VIRTIO_BLK_T_ZONE_OPEN, 11)),
        ('zs-18-open', op(VIRTIO_BLK_T_ZONE_OPEN, 13)),
        ('zs-19-write-too-many-open', blk_request(
            VIRTIO_BLK_T_OUT, zone(7) + 1, write_data=block)),
        ('zs-20-open-too-many-open', op(VIRTIO_BLK_T_ZONE_OPEN, 8)),
        ('zs-21-reset-all', op(VIRTIO_BLK_T_ZONE_RESET_ALL, 0)),
    ])


def large_buffers(queue, n):
    """n device-writable descriptors of 255 * 256 bytes, chained, the last
    one kicked: the large buffers of virtio-scsi-zbc-flags-fuzz (write byte
    3), which take no bytes of the input"""
    return b''.join(struct.pack('<5B', queue, 255, 3, i < n - 1, i == n - 1)
                    for i in range(n))


LARGE_BUFFER = 255 * 256


def scsi_request(cdb, data_len=0, write_data=None, extra_kicks=0, lun=0,
                 large=0):
    """A command on the request queue (2) for @lun of target 1; its data in
    @large large buffers instead, if any"""
    req = bytes([1, 1, 0, lun, 0, 0, 0, 0]) + struct.pack('<QBBB', 1, 0, 0, 0)
    req += cdb + bytes(32 - len(cdb))
    out = action(2, req, 0, 1, 0)
    if write_data is not None:
        out += buffers(2, write_data, 0, 1, 0)
    more = data_len or large
    out += action(2, bytes(108), 1, 1 if more else 0, 0 if more else 1)
    if large:
        out += large_buffers(2, large)
    elif data_len:
        out += buffers(2, bytes(data_len), 1, 0, 1)
    return out + kicks(2, extra_kicks)


def zbc_in(lba, alloc_len, options=0):
    return struct.pack('>BBQIBB', ZBC_IN, ZI_REPORT_ZONES, lba, alloc_len,
                       options, 0)


def zbc_out(sa, lba, all_=0, count=0):
    """ZBC OUT: zone ID in bytes 2-9, ZONE COUNT in 12-13 (10-11 are
    reserved), ALL in byte 14"""
    return struct.pack('>BBQHHBB', ZBC_OUT, sa, lba, 0, count, all_, 0)


def rw16(op, lba, blocks):
    return struct.pack('>BBQIBB', op, 0, lba, blocks, 0, 0)


def write_same16(lba, blocks, flags=0):
    return struct.pack('>BBQIBB', WRITE_SAME_16, flags, lba, blocks, 0, 0)


def scsi_seeds():
    zone = lambda z: z * ZONE_BLOCKS
    block = b'\x22' * 512
    yield 'report', scsi_request(zbc_in(0, 200), 200)
    yield 'report-partial', scsi_request(zbc_in(zone(2), 128, 0x80), 128)
    for name, sa in (('open', ZO_OPEN), ('close', ZO_CLOSE),
                     ('finish', ZO_FINISH), ('reset', ZO_RESET)):
        yield name, scsi_request(zbc_out(sa, zone(3)))
        yield name + '-all', scsi_request(zbc_out(sa, 0, 1))
    yield 'write', scsi_request(rw16(WRITE_16, zone(2), 1), write_data=block)
    yield 'read', scsi_request(rw16(READ_16, zone(2), 1), 512)
    # The VPD pages of a ZBC disk: the list, block limits, block device
    # characteristics, zoned block device characteristics; thin provisioning
    # is no page of a host-managed disk (ILLEGAL REQUEST)
    for page in (0x00, 0xb0, 0xb1, 0xb2, 0xb6):
        yield 'inquiry-vpd-%02x' % page, scsi_request(
            bytes([INQUIRY, 1, page, 0, 252, 0]), 252)
    # READ CAPACITY (16): RC BASIS of a zoned disk
    yield 'read-capacity-16', scsi_request(
        struct.pack('>BBQIBB', SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16,
                    0, 32, 0, 0), 32)
    # REPORT ZONES of each reporting option (empty, open, closed, full,
    # read-only, offline zones, ..., not write pointer zones), an invalid
    # one, and the partial bit with an option
    for opt in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11,
                0x3e, 0x3f, 0x85):
        yield 'report-option-%02x' % opt, scsi_request(zbc_in(0, 200, opt),
                                                       200)
    # The zone rules of writes.  Off the write pointer (also with the
    # WRITE (6) and WRITE (10) CDBs): a zone report and UNALIGNED WRITE
    # COMMAND; across zones: WRITE BOUNDARY VIOLATION, except across the
    # conventional zones; read-only and offline zones; a read across zones
    # is allowed (URSWRZ)
    yield 'write-off-wp', scsi_request(rw16(WRITE_16, zone(3) + 8, 1),
                                       write_data=block)
    yield 'write6-off-wp', scsi_request(
        struct.pack('>BBHBB', WRITE_6, (zone(3) + 8) >> 16,
                    (zone(3) + 8) & 0xffff, 1, 0), write_data=block)
    yield 'write10-off-wp', scsi_request(
        struct.pack('>BBIBHB', WRITE_10, 0, zone(3) + 8, 0, 1, 0),
        write_data=block)
    # At the write pointer of an empty zone, then (the third run) off it
    yield 'write-at-wp-twice', scsi_request(rw16(WRITE_16, zone(9), 1),
                                            write_data=block, extra_kicks=1)
    yield 'write-across-zones', scsi_request(rw16(WRITE_16, zone(2) - 1, 2),
                                             write_data=block * 2)
    yield 'write-across-conventional', scsi_request(
        rw16(WRITE_16, zone(1) - 1, 2), write_data=block * 2)
    yield 'read-across-zones', scsi_request(rw16(READ_16, zone(3) - 1, 2),
                                            1024)
    yield 'write-read-only-zone', scsi_request(rw16(WRITE_16, zone(5), 1),
                                               write_data=block)
    yield 'read-offline-zone', scsi_request(rw16(READ_16, zone(6), 1), 512)
    # ZBC OUT on an unaligned zone ID, a conventional, read-only or
    # offline zone
    yield 'zone-op-conventional', scsi_request(zbc_out(ZO_OPEN, zone(0)))
    yield 'zone-op-unaligned', scsi_request(zbc_out(ZO_RESET, zone(3) + 1))
    yield 'zone-op-read-only-zone', scsi_request(zbc_out(ZO_OPEN, zone(5)))
    yield 'zone-op-offline-zone', scsi_request(zbc_out(ZO_FINISH, zone(6)))
    # WRITE SAME: one block of data, then zeroes (with UNMAP, which a
    # host-managed disk ignores), across zones; and one larger than its
    # buffer (512 KiB), in several writes, on the conventional zones
    yield 'write-same', scsi_request(write_same16(zone(8), 4),
                                     write_data=b'\x66' * 512)
    yield 'write-same-zeroes-unmap', scsi_request(
        write_same16(zone(8) + 64, 4, 0x08), write_data=bytes(512))
    yield 'write-same-across-zones', scsi_request(
        write_same16(zone(8) - 2, 4), write_data=b'\x66' * 512)
    yield 'write-same-large', scsi_request(write_same16(0, 1536),
                                           write_data=b'\x77' * 512)
    # LUN 1 restricts reads (URSWRZ 0): a read of an empty sequential zone,
    # READ INVALID DATA after the zone report of the read check (a read
    # below the write pointer is a scenario, below); a read of its
    # conventional zone.  LUN 2 is write protected.
    yield 'lun1-read-empty-zone', scsi_request(rw16(READ_16, zone(1), 1), 512,
                                               lun=1)
    yield 'lun1-read-conventional', scsi_request(rw16(READ_16, 0, 1), 512,
                                                 lun=1)
    yield 'lun2-write', scsi_request(rw16(WRITE_16, zone(1), 1),
                                     write_data=block, lun=2)
    yield 'lun2-zone-op', scsi_request(zbc_out(ZO_OPEN, zone(1)), lun=2)
    # LUN 3: 4096 zones of 1 MiB, whose REPORT ZONES data (256 KiB) comes
    # in chunks of 64 KiB: two, three and four large buffers; from a zone in
    # the middle; with a reporting option and PARTIAL
    zone3 = lambda z: z * 2048
    for n in (2, 3, 4):
        yield 'lun3-report-%d' % n, scsi_request(
            zbc_in(0, n * LARGE_BUFFER), lun=3, large=n)
    yield 'lun3-report-middle', scsi_request(
        zbc_in(zone3(1500), 2 * LARGE_BUFFER), lun=3, large=2)
    yield 'lun3-report-empty-partial', scsi_request(
        zbc_in(0, 3 * LARGE_BUFFER, 0x81), lun=3, large=3)
    yield from scenario(2, 4950, [
        ('lun3-zs-1-open', scsi_request(zbc_out(ZO_OPEN, zone3(3000)), lun=3)),
        ('lun3-zs-2-report-open', scsi_request(
            zbc_in(0, 2 * LARGE_BUFFER, 0x02), lun=3, large=2)),
    ])
    yield from scsi_scenarios()


def scsi_scenarios():
    """The zone rules that need zones in some condition first"""
    zone = lambda z: z * ZONE_BLOCKS
    block = b'\x33' * 512
    out = lambda sa, z, all_=0, count=0: scsi_request(
        zbc_out(sa, zone(z), all_, count))
    write = lambda cdb: scsi_request(cdb, write_data=block)
    yield from scenario(2, 4900, [
        ('lun1-zs-1-write', scsi_request(rw16(WRITE_16, zone(2), 2),
                                         write_data=block * 2, lun=1)),
        ('lun1-zs-2-read', scsi_request(rw16(READ_16, zone(2), 1), 512,
                                        lun=1)),
    ])
    yield from scenario(2, 5000, [
        # From empty zones (reset all also gives back their memory)
        ('zs-01-reset-all', out(ZO_RESET, 0, 1)),
        # Opening 5 zones at once, more than the open limit (4): none is
        # opened (INSUFFICIENT ZONE RESOURCES)
        ('zs-02-open-5', out(ZO_OPEN, 7, 0, 5)),
        # A write to a full zone: a zone report and INVALID FIELD IN CDB
        ('zs-03-finish', out(ZO_FINISH, 12)),
        ('zs-04-write-full-zone', write(rw16(WRITE_16, zone(12), 1))),
        # 4 explicitly open zones: no room for a write to an empty zone,
        # nor to open one (INSUFFICIENT ZONE RESOURCES)
        ('zs-05-open-4', out(ZO_OPEN, 8, 0, 4)),
        ('zs-06-write-too-many-open', write(
            struct.pack('>BBIBHB', WRITE_10, 0, zone(13), 0, 1, 0))),
        ('zs-07-open-too-many-open', out(ZO_OPEN, 14)),
        # A closed zone (written, then closed), which OPEN ZONE with ALL
        # opens
        ('zs-08-close-all', out(ZO_CLOSE, 0, 1)),
        ('zs-09-write', write(rw16(WRITE_16, zone(8), 1))),
        ('zs-10-close', out(ZO_CLOSE, 8)),
        ('zs-11-open-all', out(ZO_OPEN, 0, 1)),
        ('zs-12-reset-all', out(ZO_RESET, 0, 1)),
    ])


# NVMe (include/block/nvme.h)
NVME_ADM_IDENTIFY, NVME_ADM_GET_LOG_PAGE = 0x06, 0x02
NVME_ADM_SET_FEATURES, NVME_ADM_GET_FEATURES = 0x09, 0x0a
NVME_WRITE, NVME_READ, NVME_FLUSH = 0x01, 0x02, 0x00
NVME_ZONE_MGMT_SEND, NVME_ZONE_MGMT_RECV, NVME_ZONE_APPEND = 0x79, 0x7a, 0x7d
ZSA_CLOSE, ZSA_FINISH, ZSA_OPEN, ZSA_RESET, ZSA_OFFLINE = 1, 2, 3, 4, 5
ZONE_LBAS = 4 * 1024 * 1024 // 512


SEL_DRAINED, SEL_RESET_OTHER, SEL_DRAINED_NEXT = 2 << 2, 3 << 2, 4 << 2
SEL_CTRL1 = 1 << 5


def sqe(io, opcode, nsid=1, cdw=(0, 0, 0, 0, 0, 0), prp1=0, keep=False,
        sel=0):
    """A record: selector, then opcode, flags, cid, nsid, 16 reserved and
    metadata bytes, PRP1 (the target puts it in its data buffers, unless
    keep), PRP2, CDW10-15"""
    return bytes([(1 if io else 0) | (2 if keep else 0) | sel]) + struct.pack(
        '<BBHI8xQQQ6I', opcode, 0, 0, nsid, 0, prp1, 0, *cdw)


def lba_cdw(slba, *rest):
    return (slba & 0xffffffff, slba >> 32) + rest + (0,) * (4 - len(rest))


def nvme_seeds():
    zone = lambda z: z * ZONE_LBAS
    yield 'identify', b''.join(sqe(False, NVME_ADM_IDENTIFY, nsid,
                                   (cns | csi << 24, 0, 0, 0, 0, 0))
                               for nsid, cns, csi in ((0, 1, 0), (1, 0, 0),
                                                      (1, 5, 2), (0, 6, 2),
                                                      (0, 2, 0)))
    yield 'log-changed-zones', sqe(False, NVME_ADM_GET_LOG_PAGE, 1,
                                   (0xbf | 1023 << 16, 0, 0, 0, 0, 0))
    yield 'features', (sqe(False, NVME_ADM_GET_FEATURES, 0,
                           (0x07, 0, 0, 0, 0, 0)) +
                       sqe(False, NVME_ADM_SET_FEATURES, 0,
                           (0x0b, 0x100, 0, 0, 0, 0)))
    yield 'report', sqe(True, NVME_ZONE_MGMT_RECV, 1,
                        lba_cdw(0, 1023, 0))
    yield 'report-partial', sqe(True, NVME_ZONE_MGMT_RECV, 1,
                                lba_cdw(zone(2), 63, 1 << 16 | 2 << 8))
    yield 'report-extended', sqe(True, NVME_ZONE_MGMT_RECV, 1,
                                 lba_cdw(0, 255, 1))
    for name, zsa in (('open', ZSA_OPEN), ('close', ZSA_CLOSE),
                      ('finish', ZSA_FINISH), ('reset', ZSA_RESET),
                      ('offline', ZSA_OFFLINE)):
        yield name, sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(zone(3), 0, zsa))
        yield name + '-all', sqe(True, NVME_ZONE_MGMT_SEND, 1,
                                 lba_cdw(0, 0, zsa | 1 << 8))
    yield 'append', (sqe(True, NVME_ZONE_APPEND, 1, lba_cdw(zone(1), 7)) +
                     sqe(True, NVME_ZONE_MGMT_RECV, 1, lba_cdw(zone(1), 63)))
    yield 'write-read', (sqe(True, NVME_WRITE, 1, lba_cdw(zone(2), 7)) +
                         sqe(True, NVME_READ, 1, lba_cdw(zone(2), 7)) +
                         sqe(True, NVME_FLUSH, 1))
    yield 'open-write-finish-reset', (
        sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(zone(7), 0, ZSA_OPEN)) +
        sqe(True, NVME_WRITE, 1, lba_cdw(zone(7), 3)) +
        sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(zone(7), 0, ZSA_FINISH)) +
        sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(zone(7), 0, ZSA_RESET)))


# The target's I/O queue pair 1 (tests/qtest/fuzz/nvme_fuzz.c)
IOSQ_ADDR, IOCQ_ADDR = 0x102000, 0x103000
NVME_ADM_DELETE_SQ, NVME_ADM_CREATE_SQ = 0x00, 0x01
NVME_ADM_DELETE_CQ, NVME_ADM_CREATE_CQ = 0x04, 0x05


def nvme_reproducers():
    """Inputs of fixed findings (scripts/fuzz-devices/reproducers)"""
    # I/O queue pair 1 again with a CQ of 2 entries, which the target's
    # reaping (64 entries) leaves full: 6 reads whose completions wait,
    # with their data mapped, when the target resets the machine.
    # LeakSanitizer reported their mappings before nvme_free_sq() freed them.
    yield 'cq-full-reset', (
        sqe(False, NVME_ADM_DELETE_SQ, 0, (1, 0, 0, 0, 0, 0), keep=True) +
        sqe(False, NVME_ADM_DELETE_CQ, 0, (1, 0, 0, 0, 0, 0), keep=True) +
        sqe(False, NVME_ADM_CREATE_CQ, 0, (1 << 16 | 1, 1, 0, 0, 0, 0),
            prp1=IOCQ_ADDR, keep=True) +
        sqe(False, NVME_ADM_CREATE_SQ, 0, (63 << 16 | 1, 1 << 16 | 1, 0, 0,
                                           0, 0), prp1=IOSQ_ADDR, keep=True) +
        b''.join(sqe(True, NVME_READ, 1, prp1=i * 4096) for i in range(6)))
    # Set Features turning the volatile write cache off, its doorbell rung
    # in a drained section whose end runs the admin queue's BH first: the
    # flush of the namespace waited in the drive's queue for the end of
    # the section, under that BH (QEMU hung; patch "hw/nvme: flush without
    # waiting when the volatile write cache is disabled").
    yield 'set-features-vwc-drained', sqe(False, NVME_ADM_SET_FEATURES, 0,
                                          (0x06, 0, 0, 0, 0, 0),
                                          sel=SEL_DRAINED)
    # A zone open, which zns-blk runs as several requests of the drive, its
    # doorbell rung in a drained section that the next record's shares: a
    # Delete I/O SQ there, whose BH the section let run, waited for the
    # open, whose next request waited in the drive's queue for the end of
    # the section (QEMU hung; patch "hw/nvme: defer admin commands of
    # main-loop controllers in drained sections").
    yield 'zone-open-drained-delete-sq', (
        sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(7 * ZONE_LBAS, 0, ZSA_OPEN),
            sel=SEL_DRAINED_NEXT) +
        sqe(False, NVME_ADM_DELETE_SQ, 0, (1, 0, 0, 0, 0, 0)))
    # The same with a plain read, which waits in the drive's queue itself
    # (upstream's main-loop controllers hang the same way)
    yield 'read-drained-delete-sq', (
        sqe(True, NVME_READ, 1, lba_cdw(0, 7), sel=SEL_DRAINED_NEXT) +
        sqe(False, NVME_ADM_DELETE_SQ, 0, (1, 0, 0, 0, 0, 0)))


NVME_ADM_NS_ATTACHMENT, NVME_ADM_AER = 0x15, 0x0c
CNS_CTRL_LIST_SUBSYS = 0x13


def ctrl_list(sel=0):
    """Identify: the subsystem's controller list, into the data buffer at
    offset 0, a Namespace Attachment's controller list as it is"""
    return sqe(False, NVME_ADM_IDENTIFY, 0, (CNS_CTRL_LIST_SUBSYS, 0, 0, 0,
                                            0, 0), sel=sel)


def nvme_subsys_seeds():
    """The single controller's seeds on each controller, and namespace
    attachments"""
    for name, body in nvme_seeds():
        yield name, body
        recs = [body[i:i + 65] for i in range(0, len(body), 65)]
        yield 'ctrl1-' + name, b''.join(bytes([r[0] | SEL_CTRL1]) + r[1:]
                                        for r in recs)
    for nsid in (1, 2):
        yield 'detach-attach-%d' % nsid, (
            ctrl_list() +
            sqe(False, NVME_ADM_NS_ATTACHMENT, nsid, (1, 0, 0, 0, 0, 0)) +
            sqe(False, NVME_ADM_GET_LOG_PAGE, 0,
                (0x04 | 1023 << 16, 0, 0, 0, 0, 0), sel=SEL_CTRL1) +
            sqe(False, NVME_ADM_NS_ATTACHMENT, nsid, (0, 0, 0, 0, 0, 0)))
    yield 'aer-both', (sqe(False, NVME_ADM_AER, 0) +
                       sqe(False, NVME_ADM_AER, 0, sel=SEL_CTRL1) +
                       ctrl_list() +
                       sqe(False, NVME_ADM_NS_ATTACHMENT, 2,
                           (1, 0, 0, 0, 0, 0)))
    yield 'write-both', (sqe(True, NVME_WRITE, 2, lba_cdw(0, 7)) +
                         sqe(True, NVME_READ, 2, lba_cdw(0, 7), sel=SEL_CTRL1))


def nvme_subsys_reproducers():
    """Inputs of fixed findings of the subsystem target"""
    # Controller 0 has Asynchronous Event Requests outstanding; controller
    # 1 detaches namespace 1 from both, and controller 0 is disabled right
    # after that doorbell.  The reset of controller 0 freed its admin SQ's
    # requests, then waited for the IOThread in the main loop, which ran
    # controller 1's admin queue: the detach completed an Asynchronous
    # Event Request of controller 0 from the freed requests (a use after
    # free, patch "hw/nvme: hold admin queues while a freed queue's
    # IOThread finishes").  The reset waits once for each I/O queue of
    # controller 0, and a wait runs the main loop only when the IOThread
    # is slower to get there: nine queue pairs, three rounds (the use after
    # free in 20 of 20 replays on an idle machine, 15 of 20 beside two
    # busy loops).
    queues = b''.join(
        sqe(False, NVME_ADM_CREATE_CQ, 0, (1 << 16 | q, 1, 0, 0, 0, 0),
            prp1=q << 12) +
        sqe(False, NVME_ADM_CREATE_SQ, 0, (1 << 16 | q, q << 16 | 1, 0, 0,
                                           0, 0), prp1=(0x20 + q) << 12)
        for q in range(2, 10))
    detach_reset = (
        queues + sqe(False, NVME_ADM_AER, 0) + sqe(False, NVME_ADM_AER, 0) +
        sqe(False, NVME_ADM_NS_ATTACHMENT, 1, (1, 0, 0, 0, 0, 0),
            sel=SEL_CTRL1 | SEL_RESET_OTHER))
    # Attached again: controller 0 takes the attachment's event with an
    # Asynchronous Event Request and reads the log page, which unmasks the
    # next event.
    attach = (sqe(False, NVME_ADM_NS_ATTACHMENT, 1, (0, 0, 0, 0, 0, 0),
                  sel=SEL_CTRL1) + sqe(False, NVME_ADM_AER, 0) +
              sqe(False, NVME_ADM_GET_LOG_PAGE, 0,
                  (0x04 | 1023 << 16, 0, 0, 0, 0, 0)))
    yield 'aer-detach-reset-other', (ctrl_list(sel=SEL_CTRL1) +
                                     detach_reset + attach + detach_reset +
                                     attach + detach_reset)
    # Controller 1 (MMIO doorbells, fetched by a BH) opens a zone in a
    # drained section, which controller 0's Delete SQ shares: the zone
    # command's report waits in the drive's queue for the end of the
    # section, and Delete SQ stopped the I/O queues, whose drain waited
    # for the zone command (QEMU hung; patch "hw/nvme: let admin commands
    # wait for the end of drained sections").
    yield 'zone-open-drained-delete-sq', (
        sqe(True, NVME_ZONE_MGMT_SEND, 1, lba_cdw(7 * ZONE_LBAS, 0, ZSA_OPEN),
            sel=SEL_CTRL1 | SEL_DRAINED_NEXT) +
        sqe(False, NVME_ADM_DELETE_SQ, 0, (5, 0, 0, 0, 0, 0)))


def main():
    kind, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    seeds = {'blk': blk_seeds, 'scsi': scsi_seeds, 'nvme': nvme_seeds,
             'nvme-repro': nvme_reproducers,
             'nvme-subsys': nvme_subsys_seeds,
             'nvme-subsys-repro': nvme_subsys_reproducers}[kind]
    for name, body in seeds():
        if not kind.startswith('nvme'):
            body = struct.pack('<Q', ALL_FEATURES) + body
        with open(os.path.join(out, name), 'wb') as f:
            f.write(body)
    return 0


if __name__ == '__main__':
    sys.exit(main())
