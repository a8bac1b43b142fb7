#!/usr/bin/env python3
#
# Copyright (c) 2026 QEMU Storage Series
#
# SPDX-License-Identifier: GPL-2.0-or-later

"""Write out the image of an input of the image fuzzer and print what the
fuzzer did with it, as qemu-img and qemu-io commands.

    unpack.py [--format FMT] INPUT IMAGE

An input that does not start with b'QEMUFUZZ' is an image as it is: it
is copied, and the fuzzer ran the stages that only read an image on it.
Otherwise it is the fuzzer's container (docs/devel/testing/image-fuzzing.rst):
the magic, two bytes of stages and flags, with flag 0x40 the other files
of the image (the extents or data file that it names), then the image;
with flag 1, the image and the other files are chunks (little endian
32-bit offset, 16-bit length, data) laid out in zeroes.  This decodes them
the way tests/image-fuzz/image-fuzz.c does (QEMU_FUZZ_IMAGE_DUMP writes
the same image), and writes the other files next to IMAGE under their
names, where qemu-img finds them.
"""
import argparse
import os
import shlex
import struct
import sys

MAGIC = b'QEMUFUZZ'
CHUNKED, COMPRESS, FILES = 1, 2, 0x40
MAX_IMAGE_SIZE = 16 * 1024 * 1024
# The names of the fuzzer's own in-memory files
RESERVED = ('in', 'rw', 'check', 'base', 'out-raw', 'out-qcow2', 'out-self')
STAGES_PLAIN = 0x01 | 0x02 | 0x04 | 0x08 | 0x100
# Bit 12 would be FILES of the header's second byte
STAGE_ALL = 0xfff | 0x2000

# What each stage does, with {f} the format, {i} the image and {c} a copy
# of it that the write stages change; commands in parentheses are
# approximations (their arguments come from the input: run it through the
# fuzzer with QEMU_FUZZ_IMAGE_VERBOSE=1 to see them)
STAGES = [
    (0, 'qemu-img info -f {f} {i}'),
    (0x01, 'qemu-img map -f {f} {i}'),
    (0x02, 'qemu-img check -f {f} {i}; cp {i} {c}; '
           'qemu-img check -r all -f {f} {c}'),
    (0x04, 'qemu-img convert -f {f} -O raw {i} {i}.raw'),
    (0x08, 'qemu-img convert -f {f} -O qcow2{z} {i} {i}.qcow2'),
    (0x100, 'qemu-img measure -f {f} -O qcow2 {i}'),
    (0x10, 'cp {i} {c}; (qemu-io -f {f} -c "write ..." {c}); '
           'qemu-img check -r all -f {f} {c}'),
    (0x200, '(qemu-img bitmap --add/--merge/--remove -f {f} {c} ...)'),
    (0x40, '(qemu-img snapshot -c/-a/-d ... -f {f} {c}; '
           'qemu-img resize -f {f} {c} ...)'),
    (0x400, '(qemu-img rebase -u -b ... -f {f} {c})'),
    (0x80, '(qemu-img amend -o compat=...,lazy_refcounts=... {c})'),
    (0x20, 'qemu-img check -f {f} {c}'),
    (0x800, '(qemu-img commit -f {f} {c} into a new qcow2 backing image)'),
    (0x2000, '(qemu-img convert -f {f} -O {f} -o ... {i} {i}.{f}); '
             'qemu-img check -f {f} {i}.{f}'),
]


def unchunk(payload):
    """The bytes that a list of chunks makes"""
    chunks, size, p = [], 0, 0
    while len(payload) - p >= 6:
        off, n = struct.unpack_from('<IH', payload, p)
        n = min(n, len(payload) - p - 6)
        if off + n <= MAX_IMAGE_SIZE:
            size = max(size, off + n)
            chunks.append((off, payload[p + 6:p + 6 + n]))
        p += 6 + n
    image = bytearray(size)
    for off, chunk in chunks:
        image[off:off + len(chunk)] = chunk
    return bytes(image)


def decode_files(data, flags):
    """Return ([(name, bytes)], the bytes after the files); the fuzzer
    ignores a file without a name, a name it uses itself or a repeated
    name, and chunked files past MAX_IMAGE_SIZE bytes in all"""
    files, p, budget = [], 1, MAX_IMAGE_SIZE
    count = data[0] if data else 0
    for _ in range(count):
        if p >= len(data):
            break
        n = data[p]
        p += 1
        if len(data) - p < n + 8:
            return files, b''
        name = data[p:p + n].split(b'\0')[0].decode('latin-1')
        size, length = struct.unpack_from('<II', data, p + n)
        p += n + 8
        stored = data[p:p + length]
        p += len(stored)
        if (not name or name in RESERVED or
                name in [f for f, _ in files]):
            continue
        if flags & CHUNKED:
            stored = unchunk(stored)
            if len(stored) > budget:
                continue
            budget -= len(stored)
        size = min(max(size, len(stored)), MAX_IMAGE_SIZE)
        files.append((name, stored + bytes(size - len(stored))))
    return files, data[p:]


def decode(data):
    """Return (image, stages, flags, container, files) of an input"""
    if len(data) < len(MAGIC) + 2 or not data.startswith(MAGIC):
        return data, STAGES_PLAIN, 0, False, []
    b0, b1 = data[len(MAGIC)], data[len(MAGIC) + 1]
    stages = (b0 | (b1 & ~(CHUNKED | COMPRESS | FILES)) << 6) & STAGE_ALL
    flags = b1 & (CHUNKED | COMPRESS | FILES)
    payload = data[len(MAGIC) + 2:]
    files = []
    if flags & FILES:
        files, payload = decode_files(payload, flags)
    if flags & CHUNKED:
        payload = unchunk(payload)
    return payload, stages, flags, True, files


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--format', default='FMT',
                   help='the fuzz target (image format) of the input')
    p.add_argument('input')
    p.add_argument('image')
    args = p.parse_args()

    with open(args.input, 'rb') as f:
        image, stages, flags, container, files = decode(f.read())
    with open(args.image, 'wb') as f:
        f.write(image)
    for name, data in files:
        # The block layer resolves the image's names against its own
        path = os.path.join(os.path.dirname(args.image), name)
        parts = name.split('/')
        if name.startswith('/') or '..' in parts or not parts[-1]:
            print('# not written: a file named %r, outside the image\'s '
                  'directory' % name)
            continue
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        with open(path, 'wb') as f:
            f.write(data)
        print('# %s: %d bytes, named by the image' % (path, len(data)))
    q = {'f': shlex.quote(args.format), 'i': shlex.quote(args.image),
         'c': shlex.quote(args.image + '.rw'),
         'z': ' -c' if flags & COMPRESS else ''}
    print('# %s: %d bytes from %s, stages %#x' %
          (args.image, len(image),
           'a container' if container else 'a plain image', stages))
    for bit, cmd in STAGES:
        if bit == 0 or stages & bit:
            print(cmd.format(**q))
    return 0


if __name__ == '__main__':
    sys.exit(main())
