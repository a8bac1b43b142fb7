#!/usr/bin/env bash
# Restore latency of the snapfuzz device under TCG (p50/p99, split into dirty
# sync with the re-arming of dirty tracking, page copy, device and CPU state
# load) against dirtied pages and guest RAM size, then end-to-end executions
# per second of afl-fuzz driving the example harness in a q35 Linux guest
# (scripts/demo-snapfuzz.sh, 20 s; only when afl-fuzz is installed).  Other
# load on the machine shows in both: the load average is printed.
# QEMU=path overrides the binary; REPEAT restores per row.
#   scripts/bench/snapfuzz.sh [REPEAT]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
python3 "$here/bench/snapfuzz-restore.py" "$qemu" "${1:-30}" | grep -v '^DATA '
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v afl-fuzz >/dev/null; then
    eps=$(QEMU=$qemu "$here/demo-snapfuzz.sh" 20 | awk '/^execs_per_sec/ { print $3 }')
    echo "end to end: ${eps:-?} executions/s (afl-fuzz, 20 s, q35 Linux guest," \
         "example harness), load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
