#!/usr/bin/env bash
# Crash consistency of a zoned qcow2 image under a Linux guest: the guest
# writes its zones through virtio-blk (writes at the write pointers, zone
# opens, closes, finishes and resets through the kernel's ioctls, fsync now
# and then) until QEMU is killed with SIGKILL at a random moment; then
# qemu-img check must find no corruption and every zone must hold, below its
# write pointer, what the guest wrote there and nothing else (zeroes at the
# end of a finished zone), and zeroes above it.  ROUNDS rounds on the same
# image, each booting a new guest.  Not part of make check (a round takes
# about a minute under TCG): make zoned-crash runs it.
#   scripts/guest-tests/qcow2-zoned-crash-guest.sh [ROUNDS] [SEED]
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    rounds=${1:-5} seed=${2:-$RANDOM}
    RANDOM=$seed
    mkdir -p "$build_dir/tmp"
    work=$(mktemp -d "$build_dir/tmp/qcow2-zoned-crash.XXXXXX")
    trap 'pkill -9 -f "$work/z.qcow2" 2>/dev/null || true; rm -rf "$work"' EXIT
    img="$work/z.qcow2"
    "$qemu_build/qemu-img" create -q -f qcow2 \
        -o zone.mode=host-managed,zone.size=4M,zone.capacity=3M,zone.conventional_zones=2,zone.max_open_zones=8 \
        "$img" 256M
    for r in $(seq "$rounds"); do
        # The guest boots in about 10 s; kill it 5 to 35 s into its workload.
        delay=$((5 + RANDOM % 31))
        echo "=== round $r of $rounds (seed $seed): SIGKILL $delay s into the workload"
        "$here/../guest-run" --mem 512 --timeout 300 "$0" -- \
            -blockdev driver=qcow2,node-name=z0,file.driver=file,file.filename="$img" \
            -device virtio-blk-pci,drive=z0,serial=zcrash >"$work/guest.log" 2>&1 &
        # The delay counts from the workload's start, not from the boot,
        # whose length under TCG depends on the load of the host
        for i in $(seq 2400); do
            grep -q 'workload started' "$work/guest.log" && break
            kill -0 $! 2>/dev/null || break
            sleep 0.1
        done
        grep -q 'workload started' "$work/guest.log" ||
            die "the workload did not start: $(tail -n 20 "$work/guest.log")"
        sleep "$delay"
        pkill -9 -f "qemu-system-x86_64.*$img" || die "QEMU had stopped before the kill: $(tail -n 5 "$work/guest.log")"
        wait || true
        grep -o 'writes [0-9]*' "$work/guest.log" | tail -n 1 || true
        set +e
        "$qemu_build/qemu-img" check "$img" >"$work/check.log" 2>&1
        rc=$?
        set -e
        [ $rc = 0 ] || [ $rc = 3 ] || { cat "$work/check.log"; die "round $r: qemu-img check: exit code $rc"; }
        "$qemu_build/qemu-img" convert -O raw "$img" "$work/z.raw"
        /usr/bin/python3 - "$img" "$work/z.raw" <<'PY' || die "round $r: the zones are not what the guest wrote"
import struct, sys
img, raw = sys.argv[1:]
ZONE, CAP, NR_CONV, NR = 4 << 20, 3 << 20, 2, 64
with open(img, 'rb') as f:
    head = f.read(4096)
off = struct.unpack('>I', head[100:104])[0]
while True:
    magic, length = struct.unpack('>II', head[off:off + 8])
    if magic == 0x007a6264:
        table = struct.unpack('>Q', head[off + 56:off + 64])[0]
        break
    off += 8 + ((length + 7) & ~7)
with open(img, 'rb') as f:
    f.seek(table)
    wps = struct.unpack('>%dQ' % NR, f.read(8 * NR))
data = open(raw, 'rb').read()
bad = []
for z in range(NR_CONV, NR):
    start, wp = z * ZONE, wps[z]
    pos = start
    while pos < wp and data[pos]:
        v = data[pos]
        if v != 1 + (pos // 512) % 253:
            bad.append('zone %d: 0x%x holds 0x%x, no write starts there with it' % (z, pos, v))
            break
        end = pos
        while end < wp and data[end:end + 512] == bytes([v]) * 512:
            end += 512
        pos = end
    if pos < wp and (wp != start + CAP or data[pos:wp] != bytes(wp - pos)):
        bad.append('zone %d: no data at 0x%x below the write pointer 0x%x' % (z, pos, wp))
    if data[wp:start + ZONE] != bytes(start + ZONE - wp):
        bad.append('zone %d: data above the write pointer 0x%x' % (z, wp))
for b in bad:
    print(b)
print('zones checked: %d written, %d full' % (
    sum(1 for z in range(NR_CONV, NR) if wps[z] != z * ZONE),
    sum(1 for z in range(NR_CONV, NR) if wps[z] == z * ZONE + CAP)))
sys.exit(1 if bad else 0)
PY
        if [ $rc = 3 ]; then
            "$qemu_build/qemu-img" check -q -r leaks "$img" >/dev/null 2>&1 || true
        fi
    done
    echo "all $rounds rounds consistent"
    exit 0
fi

# In the guest: write the zones until QEMU is killed.
modprobe virtio_blk
for i in $(seq 50); do [ -b /dev/vda ] && break; sleep 0.1; done
/usr/bin/python3 - <<'PY'
import fcntl, mmap, os, random, re, subprocess
ZONE, CAP, NR_CONV, NR = 4 << 20, 3 << 20, 2, 64
BLKRESETZONE, BLKCLOSEZONE, BLKFINISHZONE = 0x40101283, 0x40101287, 0x40101288


def zone_op(fd, op, start):
    """A zone ioctl; closing an empty zone fails, as it should"""
    arg = (start // 512).to_bytes(8, 'little') + (ZONE // 512).to_bytes(8, 'little')
    try:
        fcntl.ioctl(fd, op, arg)
        return True
    except OSError:
        return False


report = subprocess.run(['blkzone', 'report', '/dev/vda'], check=True,
                        capture_output=True, text=True).stdout
wps = {}
for line in report.splitlines():
    m = re.search(r'start: 0x([0-9a-f]+), len 0x[0-9a-f]+, cap 0x[0-9a-f]+, '
                  r'wptr 0x([0-9a-f]+)', line)
    start = int(m.group(1), 16) * 512
    wps[start // ZONE] = start + int(m.group(2), 16) * 512
fd = os.open('/dev/vda', os.O_RDWR | os.O_DIRECT)
buf = mmap.mmap(-1, 256 * 1024)
rng = random.Random()
open_zones = set(z for z in range(NR_CONV, NR)
                 if wps[z] not in (z * ZONE, z * ZONE + CAP))
print('workload started', flush=True)
n = 0
while True:
    z = rng.randrange(NR_CONV, NR)
    if z not in open_zones and len(open_zones) >= 6:
        z = rng.choice(sorted(open_zones))
    start = z * ZONE
    op = rng.random()
    if op < 0.8 and wps[z] < start + CAP:
        size = min(rng.choice((4, 16, 64, 256)) * 1024, start + CAP - wps[z])
        buf.seek(0)
        buf.write(bytes([1 + (wps[z] // 512) % 253]) * size)
        os.pwritev(fd, [memoryview(buf)[:size]], wps[z])
        wps[z] += size
        n += 1
        if n % 200 == 0:
            print('writes %d' % n, flush=True)
    elif op < 0.85:
        if zone_op(fd, BLKFINISHZONE, start):
            wps[z] = start + CAP
    elif op < 0.9:
        if zone_op(fd, BLKRESETZONE, start):
            wps[z] = start
    elif op < 0.95:
        os.fsync(fd)
    else:
        zone_op(fd, BLKCLOSEZONE, start)
    if wps[z] in (start, start + CAP):
        open_zones.discard(z)
    else:
        open_zones.add(z)
PY
