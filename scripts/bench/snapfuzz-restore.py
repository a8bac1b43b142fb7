#!/usr/bin/env python3
"""Restore latency of the snapfuzz device under TCG, driven over qtest.

For each guest RAM size and number of dirtied pages: dirty the pages with
qtest's memset (a guest write as far as dirty tracking goes), RESTORE, and
read the device's own timing registers.  Prints p50/p99 of the whole
restore and the median of each part.
usage: snapfuzz-restore.py QEMU [REPEAT]
"""
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REG_STATUS, REG_CMD, REG_ARG = 0x0c, 0x14, 0x18
MAGIC = 0x7a666e73
STATS = [0x44, 0x48, 0x4c, 0x50, 0x58]  # pages, sync, copy, device, total
CMD_SNAPSHOT, CMD_RESTORE = 1, 2
DEVFN = 4 << 3


class Qtest:
    def __init__(self, qemu, mem_mib):
        self.dir = tempfile.mkdtemp()
        path = os.path.join(self.dir, "qtest.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        self.proc = subprocess.Popen(
            [qemu, "-machine", "pc", "-accel", "tcg", "-m", str(mem_mib),
             "-nodefaults", "-display", "none", "-qtest", "unix:" + path,
             "-qtest-log", "/dev/null",
             "-device", "snapfuzz,addr=04.0"],
            stdout=subprocess.DEVNULL)
        self.sock, _ = srv.accept()
        self.f = self.sock.makefile("rw")

    def cmd(self, line):
        self.f.write(line + "\n")
        self.f.flush()
        while True:
            r = self.f.readline().split()
            if r and r[0] == "OK":
                return r[1] if len(r) > 1 else None
            if r and r[0] == "FAIL":
                raise RuntimeError(line)

    def cfg_read(self, reg):
        self.cmd("outl 0xcf8 0x%x" % (0x80000000 | DEVFN << 8 | reg))
        return int(self.cmd("inl 0xcfc"), 16)

    def cfg_write(self, reg, val):
        self.cmd("outl 0xcf8 0x%x" % (0x80000000 | DEVFN << 8 | reg))
        self.cmd("outl 0xcfc 0x%x" % val)

    def quit(self):
        self.proc.kill()
        self.proc.wait()


def main():
    qemu = sys.argv[1]
    repeat = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    print("Restore latency, TCG, qtest-dirtied pages (microseconds)")
    print("%-8s %6s %8s %8s | %8s %8s %8s" %
          ("RAM", "pages", "p50", "p99", "sync", "copy", "device"))
    for mem in (128, 1024):
        q = Qtest(qemu, mem)
        try:
            run_size(q, mem, repeat)
        finally:
            q.quit()


def run_size(q, mem, repeat):
    # Map BAR 0 ourselves, again until the firmware's PCI setup, which
    # runs meanwhile, is over and the device answers there.
    bar = 0xfe000000
    rd = lambda r: int(q.cmd("readl 0x%x" % (bar + r)), 16)
    for _ in range(100):
        q.cfg_write(0x10, bar)
        q.cfg_write(0x04, q.cfg_read(0x04) | 0x2)
        time.sleep(0.1)
        if rd(0) == MAGIC and q.cfg_read(0x10) & ~0xf == bar:
            break
    else:
        raise RuntimeError("the snapfuzz device does not answer at BAR 0")

    def command(c):
        q.cmd("writel 0x%x 0x%x" % (bar + REG_CMD, c))
        while rd(REG_STATUS) == 1:
            pass
        return rd(REG_STATUS)

    assert command(CMD_SNAPSHOT) == 0
    for pages in (0, 1, 16, 64, 256, 4096, 65536):
        if pages * 4096 > (mem - 32) * 1024 * 1024:
            print("%-8s %6d %8s" % ("%d MiB" % mem, pages, "n/a"))
            continue
        n = repeat if pages <= 4096 else max(5, repeat // 6)
        total, parts = [], [[] for _ in range(3)]
        for i in range(n):
            if pages:
                q.cmd("memset 0x1000000 0x%x 0x%x" % (pages * 4096,
                                                      (i % 250) + 1))
            assert command(CMD_RESTORE) == 0
            v = [rd(r) for r in STATS]
            assert v[0] >= pages, (v[0], pages)
            total.append(v[4] / 1000)
            for k in range(3):
                parts[k].append(v[1 + k] / 1000)
        total.sort()
        p99 = total[min(len(total) - 1, int(len(total) * 0.99))]
        print("%-8s %6d %8.1f %8.1f | %8.1f %8.1f %8.1f" %
              ("%d MiB" % mem, pages, statistics.median(total), p99,
               *[statistics.median(p) for p in parts]))
        print("DATA %d %d %.1f %.1f" % (mem, pages,
                                         statistics.median(total), p99))


main()
