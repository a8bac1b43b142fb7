"""
QMP for the guest tests that drive QEMU from the host while the guest runs
(snapfuzz-smp.sh stop, hotplug.sh), with QEMU's own library
(python/qemu/qmp of the source tree, on PYTHONPATH).
"""

import sys
import time

from qemu.qmp import QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol


def connect(sock_path, timeout):
    """The QMP socket that a starting QEMU opens, within 60 s; commands
    time out after @timeout seconds (asyncio.TimeoutError)"""
    qmp = QEMUMonitorProtocol(sock_path)
    for _ in range(600):
        try:
            qmp.connect()
            break
        except (OSError, QMPError):
            time.sleep(0.1)
    else:
        sys.exit("FAIL: no QMP socket after 60 s")
    qmp.settimeout(timeout)
    return qmp
