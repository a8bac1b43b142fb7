#!/usr/bin/env python3
#
# Make the seeds, dictionaries and libFuzzer options of the disk image
# fuzzer (tests/image-fuzz/image-fuzz.c) with the build's own qemu-img and
# qemu-io: many variants of each format, encoded the way the fuzzer reads
# its input.  Also the OSS-Fuzz seed corpus zips.
#
#   make-seeds.py --qemu-img QEMU_IMG --qemu-io QEMU_IO --out DIR
#                 [--samples DIR] [--stamp FILE] FORMAT...
#
# Copyright (c) 2026 QEMU Storage Series
#
# SPDX-License-Identifier: GPL-2.0-or-later

import argparse
import base64
import bz2
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import uuid
import zipfile
import zlib

INPUT_MAGIC = b'QEMUFUZZ'      # a container; other inputs are images
# Stages 0-7 in byte 0, 8-11 in bits 2-5 of byte 1 and 13 in its bit 7
# (bit 6 is INPUT_FILES)
STAGE_ALL = 0xfff | 0x2000
INPUT_CHUNKED = 1
INPUT_COMPRESS = 2
INPUT_FILES = 0x40
BLOCK = 512
MAX_SEED = 512 * 1024   # half of -max_len below
MAX_PLAIN_SEED = 64 * 1024  # images as they are: every execution reads them

# The libFuzzer options of every target (.options, read by OSS-Fuzz), the
# same as the project's local runs use: inputs up to 1 MiB; a single
# allocation above 256 MiB is a finding (a size taken from a header
# field), as is a process above OSS-Fuzz's default 2560 MiB; the drivers'
# warnings on stdout and stderr are discarded (libFuzzer and the
# sanitizers report on a copy of stderr)
LIBFUZZER_OPTIONS = [
    ('max_len', 1048576),
    ('timeout', 20),
    ('malloc_limit_mb', 256),
    ('rss_limit_mb', 2560),
    ('close_fd_mask', 3),
]

# Options of qemu-img create, per variant; None: the format has no
# create support, its seeds come from sample images only
VARIANTS = {
    'qcow2': [
        'cluster_size=65536',
        'cluster_size=512',
        'cluster_size=4096,refcount_bits=1',
        'cluster_size=2097152',
        'compat=0.10',
        'compat=1.1,lazy_refcounts=on',
        'refcount_bits=64',
        'extended_l2=on',
        'extended_l2=on,cluster_size=16384',
        'compression_type=zlib',
        'compression_type=zstd',
        # A backing file that the fuzzer never opens: the header extension
        # and its rewrite by rebase and commit
        'backing_file=base.qcow2,backing_fmt=qcow2',
        # Zoned: 64 zones of 1 MiB, the first conventional; WRITES keep
        # to the zone rules
        'zone.mode=host-managed,zone.size=1M,zone.capacity=768k,'
        'zone.conventional_zones=1,zone.max_open_zones=4,'
        'zone.max_active_zones=6',
        # LUKS encryption; the fuzzer has the passphrase (SECRET)
        'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=1',
    ],
    'vmdk': [
        'subformat=monolithicSparse',
        'subformat=streamOptimized',
        'subformat=monolithicSparse,zeroed_grain=on',
        'subformat=monolithicSparse,hwversion=6',
        'subformat=monolithicSparse,adapter_type=lsilogic',
    ],
    'vhdx': [
        'subformat=dynamic',
        'subformat=dynamic,block_size=1048576',
        'subformat=dynamic,log_size=1048576,block_size=8388608',
        'subformat=fixed',
    ],
    'vdi': ['static=off', 'static=on'],
    'vpc': ['subformat=dynamic', 'subformat=fixed',
            'subformat=dynamic,force_size=on'],
    'parallels': ['cluster_size=1048576', 'cluster_size=65536'],
    'qcow': ['', 'encrypt.format=aes,encrypt.key-secret=sec0'],
    'qed': ['cluster_size=65536', 'cluster_size=4096,table_size=2',
            'cluster_size=4096,table_size=1'],
    'dmg': None,
    'cloop': None,
    'bochs': None,
    'luks': [
        'key-secret=sec0,iter-time=1',
        'key-secret=sec0,iter-time=1,cipher-alg=aes-128,cipher-mode=cbc,'
        'ivgen-alg=essiv,ivgen-hash-alg=sha256',
        'key-secret=sec0,iter-time=1,hash-alg=sha1,ivgen-alg=plain',
    ],
}

# The passphrase of the encrypted seeds: the fuzzer opens them with it
SECRET = 'secret,id=sec0,data=fuzz'

# Images of more than one file: the image, and the files it names with
# names relative to its own, which the fuzzer serves from the input
MULTI_FILE = {
    'vmdk': ['subformat=monolithicFlat', 'subformat=twoGbMaxExtentSparse',
             'subformat=twoGbMaxExtentFlat'],
    'qcow2': ['data_file=data.raw', 'data_file=data.raw,data_file_raw=on'],
}

SAMPLES = {
    'qcow2': [],
    'vmdk': ['afl9.vmdk.bz2', 'iotest-version3.vmdk.bz2'],
    'vhdx': ['iotest-dynamic-1G.vhdx.bz2', 'test-disk2vhd.vhdx.bz2',
             'iotest-dirtylog-10G-4M.vhdx.bz2'],     # a log to replay
    'vpc': ['virtualpc-dynamic.vhd.bz2', 'hyperv2012r2-dynamic.vhd.bz2',
            'd2v-zerofilled.vhd.bz2'],
    'parallels': ['parallels-v1.bz2', 'parallels-v2.bz2',
                  'parallels-with-bitmap.bz2',
                  'parallels-data-off-past-clusters.bz2'],
    'dmg': ['simple-dmg.dmg.bz2'],
    'cloop': ['simple-pattern.cloop.bz2'],
    'bochs': ['empty.bochs.bz2'],
}

# Samples whose data blocks would make the seed too large: only their
# first bytes (headers, log, metadata and block allocation table)
SAMPLE_BYTES = {
    'iotest-dirtylog-10G-4M.vhdx.bz2': 8 * 1024 * 1024,
    'iotest-dynamic-1G.vhdx.bz2': 8 * 1024 * 1024,
}

# Data written into the seeds that support writing
WRITES = ['write -P 0x11 0 64k', 'write -P 0x22 1M 4k', 'write -z 2M 64k',
          'write -P 0x33 3M 512', 'discard 0 4k']


def guid(s):
    return uuid.UUID(s).bytes_le


def be32(v):
    return struct.pack('>I', v)


def le32(v):
    return struct.pack('<I', v)


# Magic numbers and keywords of each format, for the dictionaries
DICT = {
    'qcow2': [b'QFI\xfb', be32(2), be32(3), be32(0xe2792aca),
              be32(0x6803f857), be32(0x23852875), be32(0x0537be77),
              be32(0x44415441), be32(0x007a6264),
              b'\x80\x00\x00\x00\x00\x00\x00\x00',
              b'\x40\x00\x00\x00\x00\x00\x00\x00'],
    'qcow': [b'QFI\xfb', be32(1)],
    'vmdk': [b'KDMV', b'COWD', b'# Disk DescriptorFile', b'version=1',
             b'version=3', b'CID=', b'parentCID=ffffffff', b'createType=',
             b'"monolithicSparse"', b'"streamOptimized"', b'"vmfs"',
             b'"monolithicFlat"', b'"twoGbMaxExtentSparse"',
             b'"vmfsSparse"', b'"seSparse"', b'RW ', b'RDONLY ',
             b'NOACCESS ', b'SPARSE', b'FLAT', b'ZERO', b'VMFS',
             b'VMFSSPARSE', b'SESPARSE', b'"fuzz-mem:in"',
             b'ddb.virtualHWVersion', b'ddb.geometry.cylinders',
             b'ddb.adapterType', b'\n'],
    'vhdx': [b'vhdxfile', b'head', b'regi', b'loge', b'desc', b'data',
             b'metadata',
             guid('2DC27766-F623-4200-9D64-115E9BFD4A08'),
             guid('8B7CA206-4790-4B9A-B8FE-575F050F886E'),
             guid('CAA16737-FA36-4D43-B3B6-33F0AA44E76B'),
             guid('2FA54224-CD1B-4876-B211-5DBED83BF4B8'),
             guid('BECA12AB-B2E6-4523-93EF-C309E000C746'),
             guid('8141BF1D-A96F-4709-BA47-F233A8FAAB5F'),
             guid('CDA348C7-445D-4471-9CC9-E9885251C556'),
             guid('A8D35F2D-B30B-454D-ABF7-D3D84834AB0C')],
    'dmg': [b'koly', b'mish', b'<key>blkx</key>', b'<data>', b'</data>',
            b'<dict>', b'</dict>', b'<array>', b'</array>',
            be32(0x80000005), be32(0x80000006), be32(0x80000007),
            be32(0x80000008), be32(1), be32(2), be32(0xffffffff),
            be32(0x7ffffffe)],
    'parallels': [b'WithoutFreeSpace', b'WithouFreSpacExt',
                  struct.pack('<Q', 0xAB234CEF23DCEA87),
                  struct.pack('<Q', 0x20385FAE252CB34A), le32(2),
                  le32(0x746f6e59)],
    'vdi': [b'<<< QEMU VM Virtual Disk Image >>>\n', le32(0xbeda107f),
            le32(0x00010001), le32(1), le32(2)],
    'vpc': [b'conectix', b'cxsparse', b'Wi2k', b'qemu', b'win ', b'vpc ',
            be32(2), be32(3), be32(4), be32(0x00010000)],
    'qed': [b'QED\x00', struct.pack('<Q', 1), struct.pack('<Q', 2),
            struct.pack('<Q', 4)],
    'cloop': [b'#!/bin/sh\n#V2.0 Format\n'
              b'modprobe cloop file=$0 && mount -r -t iso9660 /dev/cloop $1\n',
              b'#V2.0 Format'],
    'bochs': [b'Bochs Virtual HD Image', b'Redolog', b'Growing',
              b'Undoable', b'Volatile', le32(0x00020000), le32(0x00010000)],
    # The header's magic and version, cipher, mode and hash names, and an
    # active key slot
    'luks': [b'LUKS\xba\xbe\x00\x01', b'aes', b'twofish', b'serpent',
             b'cast5', b'sm4', b'xts-plain64', b'cbc-essiv:sha256',
             b'cbc-plain', b'ecb', b'sha1', b'sha256', b'sha512', b'ripemd160',
             be32(0x00ac71f3), be32(4000)],
}


def chunks(image):
    """The non-zero blocks of an image as chunks (le32 offset, le16 length,
    data)"""
    out = bytearray()
    off = last = 0
    while off < len(image):
        if not any(image[off:off + BLOCK]):
            off += BLOCK
            continue
        end = off
        while (end < len(image) and end - off < 65535 - BLOCK + 1 and
               any(image[end:end + BLOCK])):
            end += BLOCK
        end = min(end, len(image))
        out += struct.pack('<IH', off, end - off) + image[off:end]
        off = last = end
    if last < len(image):
        # An empty chunk at the end keeps the zeroes there: a LUKS image
        # whose payload is shorter than its header says does not open
        out += struct.pack('<IH', len(image), 0)
    return bytes(out)


def encode(image, stages, flags=0, files=()):
    """A container: magic, header, the other files (name, size, chunks),
    then the image's chunks"""
    out = bytearray(INPUT_MAGIC)
    if files:
        flags |= INPUT_FILES
    out += bytes([stages & 0xff, INPUT_CHUNKED | flags | (stages >> 8) << 2])
    if files:
        out.append(len(files))
        for name, data in files:
            c = chunks(data)
            out += bytes([len(name)]) + name.encode()
            out += struct.pack('<II', len(data), len(c)) + c
    return bytes(out + chunks(image))


def run(*args, cwd=None):
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, cwd=cwd)


def make_multi_file(fmt, args, tmp):
    """Yield (name, image, [(file name, bytes)]) of the images of one format
    that name other files"""
    if fmt == 'vmdk':
        yield ('crafted-sesparse',) + sesparse_image()
    for n, opts in enumerate(MULTI_FILE.get(fmt, []), 1):
        d = os.path.join(tmp, 'multi-%s-%d' % (fmt, n))
        os.makedirs(d)
        ios = []
        for w in WRITES:
            ios += ['-c', w]
        try:
            # Relative names, as the image refers to them
            run(args.qemu_img, 'create', '-f', fmt, '-o', opts, 'img', '4M',
                cwd=d)
            run(args.qemu_io, '-f', fmt, *ios, 'img', cwd=d)
        except subprocess.CalledProcessError as e:
            print('make-seeds: %s %s: %s' % (fmt, opts, e.stderr.decode()),
                  file=sys.stderr)
            continue
        files = []
        for f in sorted(os.listdir(d)):
            if f != 'img':
                with open(os.path.join(d, f), 'rb') as fd:
                    files.append((f, fd.read()))
        with open(os.path.join(d, 'img'), 'rb') as fd:
            yield '%s-multi-%d' % (fmt, n), fd.read(), files


def dmg_image(chunk_types):
    """A dmg with one mish block (in the plist) of the given chunk types"""
    data = bytearray()
    entries = b''
    sector = 0
    for ctype in chunk_types + [0xffffffff]:
        raw = bytes([0x40 + sector]) * 1024
        if ctype == 1:              # UDRW
            blob = raw
        elif ctype == 0x80000005:   # UDZO
            blob = zlib.compress(raw)
        elif ctype == 0x80000006:   # UDBZ
            blob = bz2.compress(raw)
        else:                       # UDZE, UDIG, UDLE
            blob = b''
        count = 2 if ctype != 0xffffffff else 0
        entries += struct.pack('>I4xQQQQ', ctype, sector, count, len(data),
                               len(blob))
        data += blob
        sector += count
    mish = bytearray(204)
    mish[0:4] = b'mish'
    struct.pack_into('>Q', mish, 0x10, sector)
    mish += entries
    plist = (b'<plist><dict><key>resource-fork</key><dict><key>blkx</key>'
             b'<array><dict><data>' + base64.b64encode(bytes(mish)) +
             b'</data></dict></array></dict></dict></plist>\n')
    koly = bytearray(512)
    koly[0:4] = b'koly'
    struct.pack_into('>QQ', koly, 0xd8, len(data), len(plist))
    struct.pack_into('>Q', koly, 0x1ec, sector)
    return bytes(data) + plist + bytes(koly)


def cowd_image():
    """A VMDK3 ("COWD") sparse image, which qemu-img cannot create: 1 MiB
    of 8 KiB grains, one L1 entry, the first two grains allocated, and the
    descriptor (with the CIDs) that QEMU reads at 0x200"""
    disk_sectors, granularity = 2048, 16
    l1_sector, l2_sector = 21, 22
    data_sector = l2_sector + 4096 * 4 // BLOCK
    img = bytearray((data_sector + 2 * granularity) * BLOCK)
    img[0:4] = b'COWD'
    desc = (b'# Disk DescriptorFile\nversion=1\nCID=1234abcd\n'
            b'parentCID=ffffffff\ncreateType="vmfsSparse"\n')
    img[BLOCK:BLOCK + len(desc)] = desc
    struct.pack_into('<10I', img, 4, 1, 3, disk_sectors, granularity,
                     l1_sector, 1, len(img) // BLOCK, 2, 16, 63)
    struct.pack_into('<I', img, l1_sector * BLOCK, l2_sector)
    struct.pack_into('<2I', img, l2_sector * BLOCK, data_sector,
                     data_sector + granularity)
    for i in range(2):
        off = (data_sector + i * granularity) * BLOCK
        img[off:off + granularity * BLOCK] = bytes([0x61 + i]) * (
            granularity * BLOCK)
    return bytes(img)


def sesparse_image():
    """A VMDK descriptor with an ESXi seSparse extent, which qemu-img cannot
    create: 4 MiB of 4 KiB grains, one grain table, grains 0 and 1
    allocated, 2 zeroed, 3 unmapped.  Returns the descriptor and the
    extent file."""
    gd_sector, gt_sector, grains_sector = 4, 8, 72
    desc = (b'# Disk DescriptorFile\nversion=1\nCID=1234abcd\n'
            b'parentCID=ffffffff\ncreateType="seSparse"\n\n'
            b'RW 8192 SESPARSE "img-sesparse.vmdk"\n\n'
            b'ddb.virtualHWVersion = "14"\n')
    ext = bytearray((grains_sector + 2 * 8) * BLOCK)
    # The constant header: magic, version, capacity, grain size, grain
    # table size, flags, four reserved, then (offset, size) in sectors of
    # the volatile header, journal header, journal, grain directory, grain
    # tables, free bitmap, backmap and grains
    struct.pack_into('<26Q', ext, 0, 0xcafebabe, 0x200000001, 8192, 8, 64,
                     0, 0, 0, 0, 0, 1, 1, 2, 1, 3, 1, gd_sector, 1,
                     gt_sector, 64, 0, 0, 0, 0, grains_sector, 16)
    struct.pack_into('<Q', ext, BLOCK, 0xcafecafe)
    struct.pack_into('<Q', ext, gd_sector * BLOCK, 0x1000000000000000)
    struct.pack_into('<4Q', ext, gt_sector * BLOCK, 0x3000000000000000,
                     0x3001000000000000, 0x2000000000000000,
                     0x1000000000000000)
    for i in range(2):
        off = (grains_sector + i * 8) * BLOCK
        ext[off:off + 8 * BLOCK] = bytes([0x61 + i]) * (8 * BLOCK)
    return desc, [('img-sesparse.vmdk', bytes(ext))]


def qcow2_with_features(image, bits):
    """A qcow2 v3 image with incompatible feature @bits (1: dirty,
    2: corrupt) set, which check -r all is for"""
    img = bytearray(image)
    struct.pack_into('>Q', img, 72, struct.unpack_from('>Q', img, 72)[0] |
                     bits)
    return bytes(img)


CRAFTED = {
    'dmg': [('zero', lambda: dmg_image([0])),
            ('raw', lambda: dmg_image([1])),
            ('zlib', lambda: dmg_image([0x80000005])),
            ('bzip2', lambda: dmg_image([0x80000006])),
            ('mixed', lambda: dmg_image([0, 1, 0x80000005, 2, 1]))],
    'vmdk': [('cowd', cowd_image)],
}


def make_images(fmt, args, tmp):
    """Yield (name, bytes) of the images of one format"""
    for name, make in CRAFTED.get(fmt, []):
        yield 'crafted-' + name, make()
    n = 0
    for opts in VARIANTS[fmt] or []:
        for content in ('empty', 'data', 'extra'):
            n += 1
            img = os.path.join(tmp, '%s-%d' % (fmt, n))
            size = ('4M' if 'fixed' in opts or 'static=on' in opts or
                    fmt == 'luks' else '64M')
            cmd = [args.qemu_img, 'create', '-f', fmt]
            target = ['-f', fmt, img]
            if opts:
                cmd += ['-o', opts]
            if 'key-secret' in opts:
                # Encrypted: no snapshot or compressed copy without the key
                if content == 'extra':
                    continue
                key = 'key-secret' if fmt == 'luks' else 'encrypt.key-secret'
                cmd[2:2] = ['--object', SECRET]
                target = ['--object', SECRET, '--image-opts',
                          'driver=%s,%s=sec0,file.filename=%s' %
                          (fmt, key, img)]
            if 'backing_file' in opts:
                # The backing file does not exist: neither create nor
                # qemu-io opens it
                if content == 'extra':
                    continue
                cmd += ['-u']
                target = ['json:{"driver": "%s", "backing": null, "file": '
                          '{"driver": "file", "filename": "%s"}}' % (fmt, img)]
            try:
                run(*cmd, img, size)
                if content != 'empty':
                    ios = []
                    for w in WRITES:
                        ios += ['-c', w]
                    run(args.qemu_io, *ios, *target)
                if content == 'extra' and 'zone.mode' in opts:
                    # Zones in every condition; no snapshot, bitmap or
                    # compression in a zoned image
                    run(args.qemu_io, '-f', fmt, '-c', 'zone_append -p 4M 4k',
                        '-c', 'zone_open 5M 1M', '-c', 'write -P 0x55 6M 8k',
                        '-c', 'zone_finish 6M 1M', '-c', 'zone_reset 1M 1M',
                        img)
                elif content == 'extra' and fmt == 'qcow2':
                    run(args.qemu_img, 'snapshot', '-c', 'snap1', img)
                    run(args.qemu_io, '-f', fmt, '-c', 'write -P 0x44 0 4k',
                        img)
                    if 'compat=0.10' not in opts:
                        run(args.qemu_img, 'bitmap', '--add', img, 'b0')
                        run(args.qemu_img, 'bitmap', '--add', '-g', '512k',
                            img, 'b1')
                    comp = img + '.c'
                    # Clusters compressed with the variant's algorithm
                    ctype = [o for o in opts.split(',')
                             if o.startswith('compression_type=')]
                    run(args.qemu_img, 'convert', '-c', '-O', 'qcow2',
                        *(['-o', ctype[0]] if ctype else []), img, comp)
                    with open(comp, 'rb') as f:
                        yield '%s-%d-compressed' % (fmt, n), f.read()
                elif content == 'extra' and fmt == 'vmdk':
                    run(args.qemu_img, 'snapshot', '-l', img)
            except subprocess.CalledProcessError as e:
                print('make-seeds: %s %s: %s' % (fmt, opts, e.stderr.decode()),
                      file=sys.stderr)
                continue
            with open(img, 'rb') as f:
                image = f.read()
            yield '%s-%d-%s' % (fmt, n, content), image
            if fmt == 'qcow2' and content == 'data' and n == 2:
                # The default options, with the dirty and the corrupt bit
                yield 'qcow2-dirty', qcow2_with_features(image, 1)
                yield 'qcow2-corrupt', qcow2_with_features(image, 2)
    if args.samples:
        for s in SAMPLES.get(fmt, []):
            path = os.path.join(args.samples, s)
            if os.path.exists(path):
                with bz2.open(path) as f:
                    yield 'sample-' + s[:-4], f.read(SAMPLE_BYTES.get(s, -1))


def dict_line(i, token):
    esc = ''.join(chr(b) if 0x20 <= b < 0x7f and b not in b'"\\'
                  else '\\x%02x' % b for b in token)
    return 'kw%d="%s"\n' % (i, esc)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--qemu-img', required=True)
    p.add_argument('--qemu-io', required=True)
    p.add_argument('--out', required=True)
    p.add_argument('--samples', default=os.path.join(
        os.path.dirname(__file__), '..', 'qemu-iotests', 'sample_images'))
    p.add_argument('--stamp')
    p.add_argument('formats', nargs='+')
    args = p.parse_args()

    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            base = 'qemu-fuzz-image-target-' + fmt
            d = os.path.join(args.out, fmt)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            count = 0
            for i, (name, image) in enumerate(make_images(fmt, args, tmp)):
                # Every image info-only, so that cheap runs dominate, and
                # with every stage, half of them converted with compression;
                # small ones also as they are, read by the stages that
                # only read an image
                seeds = [('%s-s%d' % (name, stages),
                          encode(image, stages,
                                 INPUT_COMPRESS if stages and i % 2 else 0))
                         for stages in (0, STAGE_ALL)]
                if (len(image) <= MAX_PLAIN_SEED and
                        not image.startswith(INPUT_MAGIC)):
                    seeds.append((name + '-plain', image))
                for seed_name, data in seeds:
                    if len(data) > MAX_SEED:
                        continue
                    with open(os.path.join(d, seed_name), 'wb') as f:
                        f.write(data)
                    count += 1
            for name, image, files in make_multi_file(fmt, args, tmp):
                for stages in (0, STAGE_ALL):
                    data = encode(image, stages, 0, files)
                    if len(data) > MAX_SEED:
                        continue
                    with open(os.path.join(d, '%s-s%d' % (name, stages)),
                              'wb') as f:
                        f.write(data)
                    count += 1
            if count == 0:
                print('make-seeds: no seed for %s' % fmt, file=sys.stderr)
                return 1
            with open(os.path.join(args.out, base + '.dict'), 'w') as f:
                for i, tok in enumerate(DICT.get(fmt, [])):
                    f.write(dict_line(i, tok))
            with open(os.path.join(args.out, base + '.options'), 'w') as f:
                f.write('[libfuzzer]\ndict = %s.dict\n' % base)
                f.write(''.join('%s = %s\n' % o for o in LIBFUZZER_OPTIONS))
            with zipfile.ZipFile(os.path.join(args.out,
                                              base + '_seed_corpus.zip'),
                                 'w', zipfile.ZIP_DEFLATED) as z:
                for s in sorted(os.listdir(d)):
                    z.write(os.path.join(d, s), s)
    if args.stamp:
        with open(args.stamp, 'w') as f:
            f.write('\n'.join(args.formats) + '\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
