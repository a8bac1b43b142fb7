#!/usr/bin/env python3
"""Seeds for the queue fuzz targets of QEMU's fuzzing build on zoned
drives (tests/qtest/fuzz/virtio_blk_fuzz.c, virtio_scsi_fuzz.c and
nvme_fuzz.c): one input per zoned request, written the way those targets
read an input.

    queue-seeds.py blk|scsi|nvme|nvme-repro DIR

For virtio, an input is the 64-bit feature mask, then actions of 5 bytes
(queue, length, device-writable, next, kick), each followed by the length
bytes that go into the guest buffer of its descriptor.  A request is a
chain: the header (device-readable), a data buffer, and the status or
response (device-writable), kicked.  For NVMe, an input is records of a
selector byte (bit 0: the I/O queue, else the admin queue) and a 64-byte
submission queue entry.
"""
import os
import struct
import sys

ALL_FEATURES = 0xffffffffffffffff

# virtio-blk request types (include/standard-headers/linux/virtio_blk.h)
VIRTIO_BLK_T_IN, VIRTIO_BLK_T_OUT, VIRTIO_BLK_T_FLUSH = 0, 1, 4
VIRTIO_BLK_T_ZONE_APPEND, VIRTIO_BLK_T_ZONE_REPORT = 15, 16
VIRTIO_BLK_T_ZONE_OPEN, VIRTIO_BLK_T_ZONE_CLOSE = 18, 20
VIRTIO_BLK_T_ZONE_FINISH, VIRTIO_BLK_T_ZONE_RESET = 22, 24
VIRTIO_BLK_T_ZONE_RESET_ALL = 26
ZONE_SECTORS = 4 * 1024 * 1024 // 512       # the targets' zone size

# SCSI (include/scsi/constants.h)
WRITE_16, READ_16, ZBC_OUT, ZBC_IN = 0x8a, 0x88, 0x94, 0x95
INQUIRY, WRITE_SAME_16 = 0x12, 0x93
ZI_REPORT_ZONES = 0x00
ZO_CLOSE, ZO_FINISH, ZO_OPEN, ZO_RESET = 0x01, 0x02, 0x03, 0x04
ZONE_BLOCKS = 4 * 1024 * 1024 // 512


def action(queue, data, write, next_, kick):
    assert len(data) < 256
    return struct.pack('<5B', queue, len(data), write, next_, kick) + data


def blk_request(rtype, sector, data_len=0, write_data=None):
    """A request chain on queue 0: header, data, status"""
    out = action(0, struct.pack('<IIQ', rtype, 0, sector), 0, 1, 0)
    if write_data is not None:
        out += action(0, write_data, 0, 1, 0)
    elif data_len:
        out += action(0, bytes(data_len), 1, 1, 0)
    return out + action(0, b'\xff', 1, 0, 1)


def blk_seeds():
    zone = lambda z: z * ZONE_SECTORS
    yield 'report', blk_request(VIRTIO_BLK_T_ZONE_REPORT, 0, 200)
    yield 'report-zone3', blk_request(VIRTIO_BLK_T_ZONE_REPORT, zone(3), 128)
    yield 'append', blk_request(VIRTIO_BLK_T_ZONE_APPEND, zone(2),
                                write_data=b'\xa5' * 200) + \
        blk_request(VIRTIO_BLK_T_ZONE_REPORT, zone(2), 128)
    yield 'write', blk_request(VIRTIO_BLK_T_OUT, zone(3),
                               write_data=b'\x5a' * 200)
    yield 'read', blk_request(VIRTIO_BLK_T_IN, zone(3), 200)
    for name, rtype in (('open', VIRTIO_BLK_T_ZONE_OPEN),
                        ('close', VIRTIO_BLK_T_ZONE_CLOSE),
                        ('finish', VIRTIO_BLK_T_ZONE_FINISH),
                        ('reset', VIRTIO_BLK_T_ZONE_RESET)):
        yield name, blk_request(rtype, zone(4))
    yield 'reset-all', blk_request(VIRTIO_BLK_T_ZONE_RESET_ALL, 0)
    yield 'open-write-finish-reset', (
        blk_request(VIRTIO_BLK_T_ZONE_OPEN, zone(7)) +
        blk_request(VIRTIO_BLK_T_OUT, zone(7), write_data=b'\x11' * 200) +
        blk_request(VIRTIO_BLK_T_ZONE_FINISH, zone(7)) +
        blk_request(VIRTIO_BLK_T_ZONE_RESET, zone(7)))
    yield 'flush', blk_request(VIRTIO_BLK_T_FLUSH, 0)


def scsi_request(cdb, data_len=0, write_data=None):
    """A command on the request queue (2) for LUN 0 of target 1"""
    req = bytes([1, 1, 0, 0, 0, 0, 0, 0]) + struct.pack('<QBBB', 1, 0, 0, 0)
    req += cdb + bytes(32 - len(cdb))
    out = action(2, req, 0, 1, 0)
    # A descriptor holds at most 255 bytes: more data takes several
    if write_data is not None:
        for i in range(0, len(write_data), 255):
            out += action(2, write_data[i:i + 255], 0, 1, 0)
    out += action(2, bytes(108), 1, 1 if data_len else 0, 0 if data_len else 1)
    while data_len:
        n = min(data_len, 255)
        data_len -= n
        out += action(2, bytes(n), 1, 1 if data_len else 0,
                      0 if data_len else 1)
    return out


def zbc_in(lba, alloc_len, options=0):
    return struct.pack('>BBQIBB', ZBC_IN, ZI_REPORT_ZONES, lba, alloc_len,
                       options, 0)


def zbc_out(sa, lba, all_=0, count=0):
    return struct.pack('>BBQHBB', ZBC_OUT, sa, lba, count, all_, 0)


def rw16(op, lba, blocks):
    return struct.pack('>BBQIBB', op, 0, lba, blocks, 0, 0)


def scsi_seeds():
    zone = lambda z: z * ZONE_BLOCKS
    yield 'report', scsi_request(zbc_in(0, 200), 200)
    yield 'report-partial', scsi_request(zbc_in(zone(2), 128, 0x80), 128)
    for name, sa in (('open', ZO_OPEN), ('close', ZO_CLOSE),
                     ('finish', ZO_FINISH), ('reset', ZO_RESET)):
        yield name, scsi_request(zbc_out(sa, zone(3)))
        yield name + '-all', scsi_request(zbc_out(sa, 0, 1))
    yield 'write', scsi_request(rw16(WRITE_16, zone(2), 1),
                                write_data=b'\x5a' * 200)
    yield 'read', scsi_request(rw16(READ_16, zone(2), 1), 200)
    yield 'open-write-finish', (
        scsi_request(zbc_out(ZO_OPEN, zone(4))) +
        scsi_request(rw16(WRITE_16, zone(4), 1), write_data=b'\x11' * 200) +
        scsi_request(zbc_out(ZO_FINISH, zone(4))) +
        scsi_request(zbc_in(zone(4), 128), 128))
    # The target's drive: zones 0-1 conventional, 5 read-only, 6 offline,
    # at most 4 open.  What the ZBC rules refuse, and what reports them.
    yield 'inquiry-vpd', b''.join(
        scsi_request(bytes([INQUIRY, 1, page, 0, 252, 0]), 252)
        for page in (0x00, 0xb0, 0xb1, 0xb6))
    yield 'report-options', b''.join(
        scsi_request(zbc_in(0, 200, opt), 200)
        for opt in (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x10, 0x11,
                    0x3e, 0x3f, 0x85))
    yield 'write-off-wp', scsi_request(rw16(WRITE_16, zone(3) + 8, 1),
                                       write_data=b'\x22' * 512)
    yield 'write-across-zones', scsi_request(rw16(WRITE_16, zone(2) - 1, 2),
                                             write_data=b'\x33' * 1024)
    yield 'read-across-zones', scsi_request(rw16(READ_16, zone(3) - 1, 2),
                                            1024)
    yield 'write-read-only-zone', scsi_request(rw16(WRITE_16, zone(5), 1),
                                               write_data=b'\x44' * 512)
    yield 'read-offline-zone', scsi_request(rw16(READ_16, zone(6), 1), 512)
    yield 'open-too-many', b''.join(scsi_request(zbc_out(ZO_OPEN, zone(z)))
                                    for z in range(7, 12))
    yield 'zone-op-conventional', scsi_request(zbc_out(ZO_OPEN, zone(0)))
    yield 'zone-op-unaligned', scsi_request(zbc_out(ZO_RESET, zone(3) + 1))
    yield 'write-full-zone', (
        scsi_request(zbc_out(ZO_FINISH, zone(7))) +
        scsi_request(rw16(WRITE_16, zone(7), 1), write_data=b'\x55' * 512))
    yield 'write-same', scsi_request(
        struct.pack('>BBQIBB', WRITE_SAME_16, 0, zone(8), 4, 0, 0),
        write_data=b'\x66' * 512)


# NVMe (include/block/nvme.h)
NVME_ADM_IDENTIFY, NVME_ADM_GET_LOG_PAGE = 0x06, 0x02
NVME_ADM_SET_FEATURES, NVME_ADM_GET_FEATURES = 0x09, 0x0a
NVME_WRITE, NVME_READ, NVME_FLUSH = 0x01, 0x02, 0x00
NVME_ZONE_MGMT_SEND, NVME_ZONE_MGMT_RECV, NVME_ZONE_APPEND = 0x79, 0x7a, 0x7d
ZSA_CLOSE, ZSA_FINISH, ZSA_OPEN, ZSA_RESET, ZSA_OFFLINE = 1, 2, 3, 4, 5
ZONE_LBAS = 4 * 1024 * 1024 // 512


def sqe(io, opcode, nsid=1, cdw=(0, 0, 0, 0, 0, 0), prp1=0, keep=False):
    """A record: selector, then opcode, flags, cid, nsid, 16 reserved and
    metadata bytes, PRP1 (the target puts it in its data buffers, unless
    keep), PRP2, CDW10-15"""
    return bytes([(1 if io else 0) | (2 if keep else 0)]) + struct.pack(
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


def main():
    kind, out = sys.argv[1:3]
    os.makedirs(out, exist_ok=True)
    seeds = {'blk': blk_seeds, 'scsi': scsi_seeds, 'nvme': nvme_seeds,
             'nvme-repro': nvme_reproducers}[kind]
    for name, body in seeds():
        if not kind.startswith('nvme'):
            body = struct.pack('<Q', ALL_FEATURES) + body
        with open(os.path.join(out, name), 'wb') as f:
            f.write(body)
    return 0


if __name__ == '__main__':
    sys.exit(main())
