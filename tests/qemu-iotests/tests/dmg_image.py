# Small DMG images for the iotests in this directory: a plist of mish
# blocks in base64 <data> elements, followed by the UDIF trailer.
#
# Copyright (c) 2026 QEMU Storage Series
#
# SPDX-License-Identifier: GPL-2.0-or-later

import base64
import struct

UDZE = 0
UDRW = 1
UDLE = 0xffffffff


def mish_block(chunks):
    """
    A mish block with the given (type, first sector, sector count) chunks,
    or (type, first sector, sector count, data offset, data length)
    """
    blk = bytearray(204)
    blk[0:4] = b'mish'
    for chunk in chunks:
        ctype, sector, count, offset, length = (tuple(chunk) + (0, 0))[:5]
        blk += struct.pack('>I4xQQQQ', ctype, sector, count, offset, length)
    return bytes(blk)


def dmg_image(path, plist, total_sectors, data=b''):
    """
    @data (what the chunks' data offsets point into), the plist XML, then
    the 512-byte UDIF trailer ('koly') after it
    """
    plist = plist.ljust(512, b' ')
    koly = bytearray(512)
    koly[0:4] = b'koly'
    struct.pack_into('>QQ', koly, 0xd8, len(data), len(plist))  # XML
    struct.pack_into('>Q', koly, 0x1ec, total_sectors)
    with open(path, 'wb') as f:
        f.write(data + plist + koly)


def plist(*blocks):
    xml = b'<plist><dict><key>blkx</key><array>'
    for b in blocks:
        xml += b'<dict><data>' + base64.b64encode(b) + b'</data></dict>'
    return xml + b'</array></dict></plist>\n'
