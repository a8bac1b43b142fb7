#!/usr/bin/env bash
# Hot-unplug of a disk whose requests run in an IOThread, while the Linux
# guest has I/O in flight, and hot-plug of it again: three rounds of fio
# (queue depth 32, two jobs) on the disk, QMP device_del two seconds into
# it, then device_add of the same device and fio writes verified (crc32c)
# on the disk that comes back.  QEMU must answer every QMP command, send
# DEVICE_DELETED, keep running and serve the new device; the guest must
# see the disk go and come back.  PCI devices sit on a pcie-root-port (the
# guest ejects them through ACPI PCI hotplug), scsi-hd on virtio-scsi.
#   scripts/guest-tests/hotplug.sh MODE
# MODE: nvme-iothreads   an nvme controller's own namespace, its queues in
#                        two IOThreads through iothread-vq-mapping
#       nvme-zoned       a zoned namespace (zoned.backend=on over a null-co
#                        zoned drive) of an nvme-subsys, which keeps it
#                        while the controller, in one IOThread, is away
#       virtio-blk-zoned virtio-blk in an IOThread on a null-co zoned drive
#       scsi-zbc         scsi-hd (ZBC) on a virtio-scsi in an IOThread
# The zoned modes write with fio --zonemode=zbd.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    mode=${1:?usage: hotplug.sh nvme-iothreads|nvme-zoned|virtio-blk-zoned|scsi-zbc}
    zoned=driver=null-co,node-name=d0,size=1073741824,zoned=host-managed,zone-size=67108864,memory-backed=on
    bus=(-device pcie-root-port,id=rp0,chassis=1,slot=1)
    case "$mode" in
        nvme-iothreads)
            ctrl='{"driver":"nvme","id":"n0","bus":"rp0","serial":"hp0","ioeventfd":true,"drive":"d0","iothread-vq-mapping":[{"iothread":"t0"},{"iothread":"t1"}]}'
            args=(-object iothread,id=t0 -object iothread,id=t1
                  -blockdev driver=null-co,node-name=d0,size=268435456,memory-backed=on
                  "${bus[@]}" -device "$ctrl") ;;
        nvme-zoned)
            ctrl='{"driver":"nvme","id":"n0","bus":"rp0","serial":"hp0","ioeventfd":true,"subsys":"s0","iothread":"t0"}'
            # the namespace goes on the controller's bus, by name, so the
            # controller comes first and not as JSON (-device JSON is
            # created after the others)
            args=(-object iothread,id=t0
                  -blockdev "$zoned,zone-capacity=50331648,max-open-zones=6,max-active-zones=8"
                  -device nvme-subsys,id=s0,nqn=hp0 "${bus[@]}"
                  -device nvme,id=n0,bus=rp0,serial=hp0,ioeventfd=on,subsys=s0,iothread=t0
                  -device nvme-ns,bus=n0,nsid=1,drive=d0,zoned.backend=on) ;;
        virtio-blk-zoned)
            ctrl='{"driver":"virtio-blk-pci","id":"n0","bus":"rp0","drive":"d0","iothread":"t0"}'
            args=(-object iothread,id=t0
                  -blockdev "$zoned,zone-capacity=50331648,max-open-zones=6,max-active-zones=8"
                  "${bus[@]}" -device "$ctrl") ;;
        scsi-zbc)
            # ZBC has no zone capacity or active limit
            ctrl='{"driver":"scsi-hd","id":"n0","bus":"vs0.0","drive":"d0"}'
            args=(-object iothread,id=t0 -blockdev "$zoned,max-open-zones=6"
                  -device virtio-scsi-pci,id=vs0,iothread=t0 -device "$ctrl") ;;
        *) die "usage: $0 nvme-iothreads|nvme-zoned|virtio-blk-zoned|scsi-zbc" ;;
    esac
    out="$build_dir/hotplug-$mode"
    mkdir -p "$out"
    sock="$out/qmp.sock" log="$out/guest.log" pidfile="$out/qemu.pid"
    rm -f "$sock" "$pidfile"
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    "$here/../guest-run" "${qemu_opt[@]}" --smp 2 --mem 1536 --timeout 600 \
        "$0" "$mode" -- "${args[@]}" \
        -qmp "unix:$sock,server=on,wait=off" -pidfile "$pidfile" \
        >"$log" 2>&1 &
    guest=$!
    rc=0
    # QEMU's own QMP library (guest_qmp.py)
    PYTHONPATH="$src_dir/python:$here" /usr/bin/python3 - "$sock" "$log" "$ctrl" <<'PY' || rc=$?
import asyncio, json, sys, time
from qemu.qmp import QMPError
import guest_qmp

sock_path, log, ctrl = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
qmp = guest_qmp.connect(sock_path, 60)

def wait_for(line):
    for _ in range(3000):
        text = open(log, errors="replace").read()
        if line in text.splitlines():
            return
        if "guest-run: exit status" in text:
            sys.exit("FAIL: the guest ended before it asked for '%s'" % line)
        time.sleep(0.1)
    sys.exit("FAIL: the guest did not ask for '%s' within 300 s" % line)

try:
    for r in (1, 2, 3):
        wait_for("hotplug: unplug %d" % r)
        qmp.cmd("device_del", id="n0")
        while True:
            ev = qmp.pull_event(wait=60)
            if ev is None:
                sys.exit("FAIL: no DEVICE_DELETED within 60 s (round %d)" % r)
            if ev["event"] == "DEVICE_DELETED" and \
               ev["data"].get("device") == "n0":
                break
        wait_for("hotplug: plug %d" % r)
        qmp.cmd("device_add", **ctrl)
except asyncio.TimeoutError:
    sys.exit("FAIL: QEMU did not answer within 60 s (hung)")
except (OSError, QMPError) as e:
    sys.exit("FAIL: QEMU exited or refused a command (%s)" % e)
print("3 rounds of device_del and device_add answered")
PY
    if [ "$rc" != 0 ] && [ -s "$pidfile" ]; then
        kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    fi
    wait "$guest" || rc=1
    grep -a -E '^(ok|FAIL)' "$log" || tail -n 5 "$log"
    exit "$rc"
fi

# In the guest.
mode=$1
fail() { echo "FAIL ($mode): $*"; exit 1; }
case "$mode" in
    nvme-*) dev=/dev/nvme0n1; modprobe nvme ;;
    virtio-blk-*) dev=/dev/vda; modprobe virtio_blk ;;
    scsi-*) dev=/dev/sda; modprobe virtio_scsi; modprobe sd_mod ;;
esac
zbd=() rw=randrw vrw=randwrite zoned=0
case "$mode" in
    *-zoned|*-zbc)
        zbd=(--zonemode=zbd --max_open_zones=4) rw=write vrw=write zoned=1 ;;
esac
for _ in $(seq 100); do [ -b $dev ] && break; sleep 0.1; done
[ -b $dev ] || fail "no $dev"
for round in 1 2 3; do
    [ $zoned = 1 ] && blkzone reset $dev
    # --allow_file_create=0: a job that reopens the path after the device
    # went must fail, not create a file in /dev
    fio --name=load --filename=$dev --allow_file_create=0 --direct=1 \
        --ioengine=libaio --rw=$rw "${zbd[@]}" --bs=4k --size=256m \
        --iodepth=32 --numjobs=2 --time_based --runtime=60 \
        >/tmp/load$round.log 2>&1 &
    load=$!
    sleep 2
    kill -0 $load 2>/dev/null || fail "fio ended before the unplug: $(tail -n 3 /tmp/load$round.log)"
    echo "hotplug: unplug $round"
    for _ in $(seq 600); do [ -e $dev ] || break; sleep 0.1; done
    [ -e $dev ] && fail "$dev still there 60 s after the unplug (round $round)"
    # fio fails on the gone device; a wait that lasts its whole 60 s means
    # its I/O went on somewhere
    start=$(date +%s)
    wait $load && fail "fio did not see the device go (round $round)"
    [ $(($(date +%s) - start)) -lt 50 ] || fail "fio ran on for 50 s after the unplug (round $round)"
    echo "hotplug: plug $round"
    for _ in $(seq 600); do [ -b $dev ] && break; sleep 0.1; done
    [ -b $dev ] || fail "$dev not back 60 s after the plug (round $round)"
    [ $zoned = 1 ] && blkzone reset $dev
    fio --name=verify --filename=$dev --allow_file_create=0 --direct=1 \
        --ioengine=libaio --rw=$vrw "${zbd[@]}" --bs=4k --size=64m \
        --iodepth=16 --verify=crc32c --do_verify=1 >/tmp/verify$round.log 2>&1 ||
        fail "fio verify on the plugged controller: $(tail -n 5 /tmp/verify$round.log)"
    echo "ok: round $round: unplugged with I/O in flight, plugged, 64 MiB verified"
done
