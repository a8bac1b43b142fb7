#!/usr/bin/env python3
"""Seeds for generic-fuzz on the snapfuzz device (configuration
"snapfuzz", tests/qtest/fuzz/generic_fuzz_configs.h): command sequences
that follow the device's state machine (docs/specs/snapfuzz.rst), so that
the fuzzer starts from snapshots, inputs, PUSH/POP, CRASH, DONE and
restores instead of having to find the order of eight register writes.

    snapfuzz-seeds.py DIR

A generic-fuzz input is operations separated by "FUZZ"; an MMIO write is
the opcode OP_WRITE (3), then generic_fuzz.c's struct of a size (2: 32
bits), the index of the fuzzable memory region (BAR 0, the registers, is
the first of the device's in the address space; the seeds try the next
ones too), two bytes of padding, a 32-bit offset and a 64-bit value.
OP_READ (2) has the same layout without the value.
"""
import os
import struct
import sys

SEP = b'FUZZ'
OP_READ, OP_WRITE = 2, 3
BYTE, LONG = 0, 2

# BAR 0 registers and commands (docs/specs/snapfuzz.rst)
STATUS, STATE, CMD, ARG = 0x0c, 0x10, 0x14, 0x18
INPUT_LEN, DEPTH, MSG = 0x1c, 0x64, 0x100
SNAPSHOT, RESTORE, NEXT_INPUT, DONE, CRASH, LOG, PUSH, POP = range(1, 9)


def write(base, offset, value, size=LONG):
    return bytes([OP_WRITE]) + struct.pack('<BBxxIQ', size, base, offset,
                                           value)


def read(base, offset):
    return bytes([OP_READ]) + struct.pack('<BBxxI', LONG, base, offset)


def cmd(base, number, arg=None):
    ops = []
    if arg is not None:
        ops.append(write(base, ARG, arg))
    ops.append(write(base, CMD, number))
    ops.append(read(base, STATUS))
    return ops


def msg(base, text):
    return [write(base, MSG + i, b, BYTE) for i, b in enumerate(text)]


def sequences(base):
    """(name, operations) of each seed"""
    yield 'input-done', (cmd(base, SNAPSHOT) + cmd(base, NEXT_INPUT) +
                         [read(base, INPUT_LEN)] + cmd(base, DONE, 1) +
                         cmd(base, NEXT_INPUT) + cmd(base, DONE, 0) +
                         [read(base, STATE)])
    yield 'push-pop', (cmd(base, NEXT_INPUT) + cmd(base, PUSH) +
                       cmd(base, PUSH) + [read(base, DEPTH)] +
                       cmd(base, POP) + cmd(base, DONE, 2) +
                       cmd(base, NEXT_INPUT) + cmd(base, POP) +
                       cmd(base, DONE, 0))
    yield 'crash-log', (cmd(base, NEXT_INPUT) + msg(base, b'crash') +
                        cmd(base, CRASH, 5) + msg(base, b'log') +
                        cmd(base, LOG, 3) + cmd(base, LOG, 300) +
                        cmd(base, NEXT_INPUT) + cmd(base, CRASH, 300) +
                        cmd(base, DONE, 0))
    yield 'restore', (cmd(base, RESTORE) + cmd(base, SNAPSHOT) +
                      cmd(base, RESTORE) + cmd(base, SNAPSHOT) +
                      cmd(base, DONE, 0) + cmd(base, 9) +
                      cmd(base, NEXT_INPUT) + cmd(base, SNAPSHOT) +
                      cmd(base, RESTORE) + cmd(base, DONE, 0) +
                      cmd(base, RESTORE))


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for base in range(3):
        for name, ops in sequences(base):
            with open(os.path.join(out, '%s-%d' % (name, base)), 'wb') as f:
                f.write(SEP.join(ops))
    return 0


if __name__ == '__main__':
    sys.exit(main())
