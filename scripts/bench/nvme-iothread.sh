#!/usr/bin/env bash
# nvme I/O queue processing modes against virtio-blk: fio 4k random read
# (io_uring, one job) in a 1-vCPU guest on a null-co disk at QD 1, 16 and 64,
# RUNTIME seconds per point (default 10), one guest boot per configuration:
#   nvme (main loop), nvme + ioeventfd, nvme + iothread, nvme + iothread +
#   polling (poll-max-ns 32768 and 262144; 1 ms and 4 ms only when named in
#   BENCH_CONFIGS), virtio-blk + iothread, virtio-blk + iothread + polling.
# Per point: IOPS, mean and p99 latency (fio in the guest), interrupts per I/O
# (guest /proc/interrupts), doorbell writes per I/O (every MMIO write to an
# I/O queue doorbell: the device's pci_nvme_mmio_doorbell_* trace events plus
# memory_region_ioeventfd_write for the writes an ioeventfd takes; for
# virtio-blk the notifications), host CPU time of the vCPU thread and of the
# IOThread per I/O (/proc/PID/task/TID/stat of "CPU 0/TCG" and "IO t0").  A second, shorter boot per nvme
# configuration traces every command and gives the device-side latency from
# the doorbell (MMIO write or polled tail) to the queued completion, mean and
# p99, at QD 1 and 16.
#   scripts/bench/nvme-iothread.sh [RUNTIME]
# QEMU: $NVME_QEMU or the build's qemu-system-x86_64.
# BENCH_CONFIGS="name ...": only these configurations (names as in the
# table; nvme-iothread-poll1m and -poll4m run only when named).
# BENCH_ROUNDS=N (default 1): run the configurations N times, in reverse
# order every other round, so that they see the same host load; the table
# gives the median IOPS and its range, doorbells, interrupts and vCPU time
# over all rounds.  The latency pass runs in the first round only.
# A host shared with other work moves IOPS by 20 % and more from one boot
# to the next: compare configurations with BENCH_ROUNDS=3 or more.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

if [ -n "${GUEST_KERNEL_VERSION:-}" ]; then
    # In the guest: $1 = config name, $2 = device kind, $3 = runtime,
    # $4 = queue depths.  MARK lines tell the host when a point starts/ends.
    name=$1 kind=$2 rt=$3 qds=$4
    if [ "$kind" = nvme ]; then
        modprobe nvme; dev=/dev/nvme0n1; irqpat=nvme
    else
        modprobe virtio_blk; dev=/dev/vda; irqpat=virtio
    fi
    for _ in $(seq 100); do [ -b $dev ] && break; sleep 0.1; done
    irqs() { awk -v p="$irqpat" '$0 ~ p { for (i = 2; i <= NF; i++) if ($i ~ /^[0-9]+$/) s += $i } END { print s + 0 }' /proc/interrupts; }
    for qd in $qds; do
        # settle, then tell the host; it samples on seeing the line
        sleep 1
        echo "MARK-BEGIN $qd"
        sleep 0.5
        i0=$(irqs)
        fio --name=b --filename=$dev --direct=1 --ioengine=io_uring \
            --rw=randread --bs=4k --iodepth="$qd" --time_based --runtime="$rt" \
            --output-format=json >/tmp/fio.json
        i1=$(irqs)
        echo "MARK-END $qd"
        sleep 0.5
        python3 - "$name" "$qd" "$((i1 - i0))" <<'EOF'
import json, sys
r = json.load(open('/tmp/fio.json'))['jobs'][0]['read']
ios = r['total_ios'] or 1
print('RESULT %s %s %.0f %.1f %.1f %.3f %d' % (sys.argv[1], sys.argv[2], r['iops'],
      r['clat_ns']['mean'] / 1000, r['clat_ns']['percentile']['99.000000'] / 1000,
      int(sys.argv[3]) / ios, ios))
EOF
    done
    exit 0
fi

rt=${1:-10}
lat_rt=3
qemu=${NVME_QEMU:-$qemu_build/qemu-system-x86_64}
[ -x "$qemu" ] || die "build first (make)"
out=${BENCH_OUT:-$top/build/bench}
mkdir -p "$out"
res="$out/nvme-iothread.raw"
: >"$res"
tck=$(getconf CLK_TCK)

# The pid of the QEMU whose command line names $1 (a file of this run)
qemu_pid() {
    local p
    for p in $(pgrep -f -- "$1" || true); do
        if [ "$(cat /proc/"$p"/comm 2>/dev/null)" = qemu-system-x86 ]; then
            echo "$p"
        fi
    done | tail -n 1 || true
}

# utime+stime of the thread called $2 of QEMU $1, in clock ticks
thread_ticks() {
    local t
    for t in /proc/"$1"/task/*; do
        if [ "$(cat "$t/comm" 2>/dev/null)" = "$2" ]; then
            # the fields after "(comm)": state is 3, utime 14, stime 15
            sed 's/^.*) //' "$t/stat" | awk '{ print $12 + $13 }'
            return
        fi
    done
    echo 0
}

# Follow log $1 of the guest of QEMU run with file $2 on its command line:
# at each MARK line print "MARK BEGIN|END QD EPOCH_US VCPU_TICKS IOT_TICKS".
watch_marks() {
    local log=$1 tag=$2 seen=0 pid="" line n
    while :; do
        [ -n "$pid" ] || pid=$(qemu_pid "$tag")
        n=$(grep -a -c '^MARK-' "$log" 2>/dev/null || true)
        while [ "${n:-0}" -gt "$seen" ]; do
            seen=$((seen + 1))
            line=$(grep -a '^MARK-' "$log" | sed -n "${seen}p" | tr -d '\r')
            echo "MARK ${line#MARK-} $(date +%s%6N)" \
                "$(thread_ticks "${pid:-0}" "CPU 0/TCG") $(thread_ticks "${pid:-0}" "IO t0")"
        done
        sleep 0.05
    done
}

# debug-threads: the vCPU thread is then called "CPU 0/TCG"
blk="-name bench,debug-threads=on -blockdev driver=null-co,node-name=d0,size=4294967296,read-zeroes=off"
configs=(
    "nvme-main|nvme|-device nvme,serial=b,drive=d0"
    "nvme-ioeventfd|nvme|-device nvme,serial=b,drive=d0,ioeventfd=on"
    "nvme-iothread|nvme|-object iothread,id=t0,poll-max-ns=0 -device nvme,serial=b,drive=d0,ioeventfd=on,iothread=t0"
    "nvme-iothread-poll|nvme|-object iothread,id=t0,poll-max-ns=32768 -device nvme,serial=b,drive=d0,ioeventfd=on,iothread=t0"
    "nvme-iothread-poll256|nvme|-object iothread,id=t0,poll-max-ns=262144 -device nvme,serial=b,drive=d0,ioeventfd=on,iothread=t0"
    "nvme-iothread-poll1m|nvme|-object iothread,id=t0,poll-max-ns=1000000 -device nvme,serial=b,drive=d0,ioeventfd=on,iothread=t0"
    "nvme-iothread-poll4m|nvme|-object iothread,id=t0,poll-max-ns=4000000 -device nvme,serial=b,drive=d0,ioeventfd=on,iothread=t0"
    "vblk-iothread|virtio|-object iothread,id=t0,poll-max-ns=0 -device virtio-blk-pci,drive=d0,iothread=t0"
    "vblk-iothread-poll|virtio|-object iothread,id=t0,poll-max-ns=32768 -device virtio-blk-pci,drive=d0,iothread=t0"
)
only=${BENCH_CONFIGS:-}
rounds=${BENCH_ROUNDS:-1}
sweep_only="nvme-iothread-poll1m nvme-iothread-poll4m"
selected=()
for c in "${configs[@]}"; do
    name=${c%%|*}
    if [ -n "$only" ]; then
        [[ " $only " == *" $name "* ]] || continue
    elif [[ " $sweep_only " == *" $name "* ]]; then
        continue
    fi
    selected+=("$c")
done
for round in $(seq "$rounds"); do
  order=("${selected[@]}")
  if [ $((round % 2)) = 0 ]; then
      order=()
      for ((i = ${#selected[@]} - 1; i >= 0; i--)); do order+=("${selected[$i]}"); done
  fi
  for c in "${order[@]}"; do
    IFS='|' read -r name kind args <<<"$c"
    # Pass 1: throughput, doorbell writes, vCPU time
    trace="$out/nvme-iothread-$name.trace"
    log="$out/nvme-iothread-$name.log"
    : >"$log"
    info "round $round/$rounds: running $name (3 x ${rt}s), load average $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "LOAD $name $(cut -d' ' -f1 /proc/loadavg)" >>"$res"
    watch_marks "$log" "$trace" >"$out/nvme-iothread-$name.marks" &
    watcher=$!
    # shellcheck disable=SC2086
    "$here/guest-run" --qemu "$qemu" --smp 1 --timeout $((rt * 3 + 240)) \
        "$0" "$name" "$kind" "$rt" "1 16 64" -- $blk $args -msg timestamp=on \
        -trace "pci_nvme_mmio_doorbell_*,file=$trace" \
        -trace "memory_region_ioeventfd_write,file=$trace" >"$log" 2>&1 ||
        { kill "$watcher" 2>/dev/null; die "$name failed, see $log"; }
    sleep 0.3; kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
    grep -a '^RESULT' "$log" | tr -d '\r' >>"$res"
    # per point: doorbell writes of I/O queues between the marks, vCPU ticks
    python3 - "$name" "$trace" "$out/nvme-iothread-$name.marks" "$tck" >>"$res" <<'EOF'
import re, sys, datetime
name, trace, marks, tck = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
win = {}
for l in open(marks):
    _, what, qd, us, ticks, iot = l.split()[:6]
    win.setdefault(qd, {})[what] = (int(us), int(ticks), int(iot))
def ts(s):
    return int(datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() * 1e6)
events = []     # (time, 'sq' or 'cq')
for l in open(trace, errors='replace'):
    f = l.split()
    if len(f) < 3:
        continue
    ev = f[1]
    if ev.startswith('pci_nvme_mmio_doorbell_'):
        m = re.search(r'(sq|cq)id (\d+)', l)
        if not m or m.group(2) == '0':
            continue        # the admin queue
        kind = m.group(1)
    elif ev == 'memory_region_ioeventfd_write':
        # only I/O queues have ioeventfds; skip the 9p root file system
        m = re.search(r"addr 0x([0-9a-f]+)", l)
        if "name 'nvme'" in l:
            kind = 'sq' if int(m.group(1), 16) % 8 == 0 else 'cq'
        elif 'notify-virtio-blk' in l:
            kind = 'sq'
        else:
            continue
    else:
        continue
    try:
        events.append((ts(f[0]), kind))
    except ValueError:
        pass
for qd, w in win.items():
    if 'BEGIN' not in w or 'END' not in w:
        continue
    (b, tb, ib), (e, te, ie) = w['BEGIN'], w['END']
    n = sum(1 for t, k in events if b <= t <= e)
    sq = sum(1 for t, k in events if b <= t <= e and k == 'sq')
    print('POINT %s %s %d %.0f %d %d %.0f' % (name, qd, n, (te - tb) * 1e6 / tck,
                                              sq, n - sq, (ie - ib) * 1e6 / tck))
EOF
    rm -f "$trace"

    # Pass 2 (nvme): device-side latency from trace timestamps
    [ "$kind" = nvme ] && [ "$round" = 1 ] || continue
    trace="$out/nvme-iothread-$name.lat.trace"
    log="$out/nvme-iothread-$name.lat.log"
    : >"$log"
    watch_marks "$log" "$trace" >"$out/nvme-iothread-$name.lat.marks" &
    watcher=$!
    # shellcheck disable=SC2086
    "$here/guest-run" --qemu "$qemu" --smp 1 --timeout $((lat_rt * 2 + 240)) \
        "$0" "$name" "$kind" "$lat_rt" "1 16" -- $blk $args -msg timestamp=on \
        -trace "pci_nvme_mmio_doorbell_sq,file=$trace" \
        -trace "memory_region_ioeventfd_write,file=$trace" \
        -trace "pci_nvme_dp_poll_ready,file=$trace" \
        -trace "pci_nvme_io_cmd,file=$trace" \
        -trace "pci_nvme_enqueue_req_completion,file=$trace" \
        >"$log" 2>&1 ||
        { kill "$watcher" 2>/dev/null; die "$name (latency) failed, see $log"; }
    sleep 0.3; kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null || true
    python3 - "$name" "$trace" "$out/nvme-iothread-$name.lat.marks" >>"$res" <<'EOF'
import re, sys, datetime
name, trace, marks = sys.argv[1:4]
win = {}
for l in open(marks):
    _, what, qd, us = l.split()[:4]
    win.setdefault(qd, {})[what] = int(us)
def ts(s):
    return int(datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp() * 1e6)
last_db = {}    # sqid -> time of the last doorbell write or polled tail
start = {}      # (sqid, cid) -> start time
lat = []        # (time of completion, latency us)
for l in open(trace, errors='replace'):
    f = l.split()
    if len(f) < 3:
        continue
    try:
        t = ts(f[0])
    except ValueError:
        continue
    ev = f[1]
    if ev == 'pci_nvme_mmio_doorbell_sq':
        m = re.search(r'sqid (\d+)', l)
        last_db[int(m.group(1))] = t
    elif ev == 'memory_region_ioeventfd_write':
        m = re.search(r"addr 0x([0-9a-f]+).*name 'nvme'", l)
        if m:
            off = int(m.group(1), 16) - 0x1000
            if off >= 0 and off % 8 == 0:
                last_db[off // 8] = t
    elif ev == 'pci_nvme_dp_poll_ready':
        m = re.search(r'sqid (\d+)', l)
        last_db[int(m.group(1))] = t
    elif ev == 'pci_nvme_io_cmd':
        m = re.search(r'cid (\d+) .*sqid (\d+)', l)
        cid, sq = int(m.group(1)), int(m.group(2))
        start[(sq, cid)] = last_db.get(sq, t)
    elif ev == 'pci_nvme_enqueue_req_completion':
        m = re.search(r'cid (\d+) cqid (\d+)', l)
        cid, cq = int(m.group(1)), int(m.group(2))
        if cq and (cq, cid) in start:
            lat.append((t, t - start.pop((cq, cid))))
for qd, w in sorted(win.items(), key=lambda x: int(x[0])):
    v = sorted(d for t, d in lat if w.get('BEGIN', 0) <= t <= w.get('END', 0))
    if v:
        print('DEVLAT %s %s %.1f %.1f %d' % (name, qd, sum(v) / len(v),
                                             v[min(len(v) - 1, int(len(v) * 0.99))], len(v)))
EOF
    rm -f "$trace"
  done
done

echo "nvme I/O queue modes vs virtio-blk: fio 4k randread io_uring, 1 vCPU, null-co"
echo "accelerator: TCG ($(uname -m) host, $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)); ${rt}s per point, $rounds round(s)"
awk '
# Over the rounds: the median IOPS and its range; latencies averaged over
# the rounds; interrupts, doorbells and vCPU time summed, then per I/O.
$1 == "RESULT" { k = $2 SUBSEP $3; nr[k]++; v[k, nr[k]] = $4; mean[k] += $5; p99[k] += $6
                 irqs[k] += $7 * $8; ios[k] += $8 }
$1 == "POINT" { db[$2, $3] += $4; cpu[$2, $3] += $5; sqdb[$2, $3] += $6; iot[$2, $3] += $8 }
$1 == "DEVLAT" { dl[$2, $3] = sprintf("%.0f/%.0f", $4, $5) }
$1 == "LOAD" { l = ($2 in load) ? load[$2] "," $3 : $3; load[$2] = l }
END {
    n = split("nvme-main nvme-ioeventfd nvme-iothread nvme-iothread-poll nvme-iothread-poll256 nvme-iothread-poll1m nvme-iothread-poll4m vblk-iothread vblk-iothread-poll", order, " ")
    for (k in nr) {
        for (i = 2; i <= nr[k]; i++) {      # insertion sort, a few rounds
            x = v[k, i]
            for (j = i - 1; j >= 1 && v[k, j] > x; j--) v[k, j + 1] = v[k, j]
            v[k, j + 1] = x
        }
        m = nr[k] % 2 ? v[k, (nr[k] + 1) / 2] : (v[k, nr[k] / 2] + v[k, nr[k] / 2 + 1]) / 2
        iops[k] = m
        range[k] = nr[k] > 1 ? sprintf("%d-%d", v[k, 1], v[k, nr[k]]) : "-"
    }
    printf "%-21s %3s %6s %11s %8s %8s %6s %6s %7s %6s %11s %s\n", "config", "QD", "IOPS", "IOPS-range", "mean-us", "p99-us", "irq/IO", "db/IO", "vcpu-us", "iot-us", "dev-us m/99", "load"
    for (i = 1; i <= n; i++) for (q = 1; q <= 64; q = (q == 1 ? 16 : q * 4)) {
        c = order[i]
        if (!((c, q) in iops)) continue
        io = ios[c, q] ? ios[c, q] : 1
        dbio = ((c, q) in db) ? sprintf("%.3f", db[c, q] / io) : "-"
        cpuio = ((c, q) in cpu) ? sprintf("%.1f", cpu[c, q] / io) : "-"
        iotio = iot[c, q] ? sprintf("%.1f", iot[c, q] / io) : "-"
        dev = ((c, q) in dl) ? dl[c, q] : "-"
        printf "%-21s %3d %6d %11s %8.1f %8.1f %6.3f %6s %7s %6s %11s %s\n", c, q, iops[c, q], range[c, q], mean[c, q] / nr[c, q], p99[c, q] / nr[c, q], irqs[c, q] / io, dbio, cpuio, iotio, dev, load[c]
    }
    print ""
    printf "%-38s %6s %6s %6s\n", "SQ doorbell writes/IO by poll-max-ns", "QD1", "QD16", "QD64"
    d("0 (nvme-iothread)", "nvme-iothread")
    d("32768", "nvme-iothread-poll")
    d("262144", "nvme-iothread-poll256")
    d("1000000", "nvme-iothread-poll1m")
    d("4000000", "nvme-iothread-poll4m")
    print ""
    printf "%-38s %6s %6s %6s\n", "ratio (IOPS)", "QD1", "QD16", "QD64"
    r("nvme-iothread / vblk-iothread", "nvme-iothread", "vblk-iothread")
    r("nvme-iothread-poll / vblk-iothread-poll", "nvme-iothread-poll", "vblk-iothread-poll")
    r("nvme-iothread-poll / nvme-iothread", "nvme-iothread-poll", "nvme-iothread")
    r("nvme-iothread-poll256 / nvme-iothread", "nvme-iothread-poll256", "nvme-iothread")
    r("nvme-iothread-poll1m / nvme-iothread", "nvme-iothread-poll1m", "nvme-iothread")
    r("nvme-iothread-poll4m / nvme-iothread", "nvme-iothread-poll4m", "nvme-iothread")
    r("vblk-iothread-poll / vblk-iothread", "vblk-iothread-poll", "vblk-iothread")
    r("nvme-iothread / nvme-main", "nvme-iothread", "nvme-main")
}
function d(label, c,   q, s) {
    if (!((c, 1) in sqdb) && !((c, 16) in sqdb) && !((c, 64) in sqdb)) return
    s = sprintf("%-38s", label)
    for (q = 1; q <= 64; q = (q == 1 ? 16 : q * 4))
        s = s sprintf(" %6s", ((c, q) in sqdb) && ios[c, q] ? sprintf("%.3f", sqdb[c, q] / ios[c, q]) : "-")
    print s
}
function r(label, a, b,   q, s) {
    if (!((a, 1) in iops) && !((a, 16) in iops) && !((a, 64) in iops)) return
    if (!((b, 1) in iops) && !((b, 16) in iops) && !((b, 64) in iops)) return
    s = sprintf("%-38s", label)
    for (q = 1; q <= 64; q = (q == 1 ? 16 : q * 4))
        s = s sprintf(" %6s", (iops[a, q] && iops[b, q]) ? sprintf("%.2f", iops[a, q] / iops[b, q]) : "-")
    print s
}' "$res" | tee "$out/nvme-iothread.table"
cat <<'EOF'
All numbers under TCG.  IOPS, latencies: fio in the guest.  irq/IO: guest
/proc/interrupts.  db/IO: MMIO doorbell writes of I/O queues (nvme SQ+CQ
doorbells, virtio-blk notifications) counted from QEMU trace events;
nvme-iothread.raw splits them into SQ and CQ doorbells (POINT lines).
vcpu-us: host CPU time (utime+stime) of the vCPU thread per I/O, 1/CLK_TCK
resolution, including the guest's own work.  iot-us: the same for the
IOThread (its polling shows here).  dev-us m/99: nvme only, mean
and p99 from the doorbell write or polled tail (QEMU trace timestamps) to
the completion queued, measured in a separate traced run of 3 s per QD.
load: host 1-minute load average when the configuration started (each round).
With several rounds IOPS is the median and IOPS-range its spread.

SQ doorbells while polling: the IOThread polls the shadow SQ tail for up to
poll-max-ns after its last event and leaves the EventIdx behind meanwhile;
when it stops polling and sleeps it writes the EventIdx back, and the next
submission rings the doorbell.  Under TCG the guest takes 200 us to several
ms between submissions (more on a loaded host), so with a 32 us window the
IOThread is asleep at almost every submission; the doorbells fall only as
the window approaches that gap.  poll-shrink=0 (the default) drops the
window to 0 after one gap longer than poll-max-ns; it grows back from 4 us.
EOF
