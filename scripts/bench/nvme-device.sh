#!/usr/bin/env bash
# What the nvme I/O queue modes cost the host per command, against
# virtio-blk with an IOThread, with a submitter that is not a TCG guest:
# the perf cases of tests/qtest/nvme-iothread-test (-m perf), whose host-side
# driver shares guest RAM with QEMU under the qtest accelerator (no guest
# CPU) and keeps QD 1, 16 and 64 4 KiB reads of a null-co drive in flight.
# Per mode and QD: host CPU time per command of QEMU's IOThreads, main loop
# and other threads and of the submitting thread, MMIO doorbell writes and
# interrupts per command, and the device's turnaround from the tail store to
# the completion queued and to the interrupt, mean and p99 (a traced pass;
# the CPU time and doorbells come from an untraced one).  The comment that
# opens the benchmark in the test says how each is measured.
#   scripts/bench/nvme-device.sh [CMDS]
# CMDS: reads per point (default 20000; NVME_BENCH_CMDS of the test).
# BENCH_ROUNDS=N (default 5): run the benchmark N times, the table gives the
# median of each number.  NVME_BENCH_RATE=R: at most R reads per second.
# NVME_BENCH_POLL_NS (default 200000): the poll-max-ns of the IOThread of
# the polling modes, nvme's and virtio-blk's alike; long enough to span the
# host-side driver's refill of a batch on a host with 2 CPUs, where the
# submitter shares them with the polling IOThread and the main loop.
# Prints the table and checks the goals; draws build/bench/nvme-device.png.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

cmds=${1:-20000}
poll_ns=${NVME_BENCH_POLL_NS:-200000}
rounds=${BENCH_ROUNDS:-5}
test_bin="$qemu_build/tests/qtest/nvme-iothread-test"
qemu="$qemu_build/qemu-system-x86_64"
for f in "$test_bin" "$qemu"; do
    [ -x "$f" ] || die "no $f: build first (make)"
done
out="$build_dir/bench"
mkdir -p "$out"
raw="$out/nvme-device.raw"
: >"$raw"

load0=$(cut -d' ' -f1-3 /proc/loadavg)
for round in $(seq "$rounds"); do
    info "round $round/$rounds, load average $(cut -d' ' -f1-3 /proc/loadavg)"
    QTEST_QEMU_BINARY=$qemu NVME_BENCH_CMDS=$cmds NVME_BENCH_POLL_NS=$poll_ns \
        "$test_bin" -m perf -p /x86_64/nvme-iothread/bench >"$out/nvme-device.log" 2>&1 ||
        die "the benchmark failed, see $out/nvme-device.log"
    sed -n 's/^# BENCH //p' "$out/nvme-device.log" >>"$raw"
done

echo "nvme I/O queue modes and virtio-blk with an IOThread: QD 4 KiB reads of a null-co drive, host-side driver, MSI-X"
echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), load average $load0 at the start"
echo "accelerator: qtest (no guest CPU: the submitter is the test process, sharing guest RAM); $cmds reads per point, median of $rounds round(s); polling modes: poll-max-ns $poll_ns"
python3 - "$raw" "$out/nvme-device.dat" <<'EOF' | tee "$out/nvme-device.table"
import math, statistics, sys

raw, dat = sys.argv[1:3]
points = {}     # (mode, qd) -> key -> [values]
modes = []
for line in open(raw):
    f = dict(kv.split('=', 1) for kv in line.split())
    mode, qd = f.pop('mode'), int(f.pop('qd'))
    if mode not in modes:
        modes.append(mode)
    for k, v in f.items():
        points.setdefault((mode, qd), {}).setdefault(k, []).append(float(v))

def med(mode, qd, key):
    v = [x for x in points.get((mode, qd), {}).get(key, []) if not math.isnan(x)]
    return statistics.median(v) if v else math.nan

def qemu_cpu(mode, qd):
    return sum(med(mode, qd, k + '_cpu_us_per_cmd') for k in ('iothread', 'main', 'other'))

qds = sorted({qd for _, qd in points})
print('%-24s %3s %6s %6s %6s %6s %6s %6s %7s %6s %11s %11s' %
      ('mode', 'QD', 'kIOPS', 'iot', 'main', 'other', 'qemu', 'submit',
       'mmio-db', 'irq', 'cqe m/p99', 'irq m/p99'))
with open(dat, 'w') as d:
    for mode in modes:
        row = []
        for qd in qds:
            print('%-24s %3d %6.0f %6.2f %6.2f %6.2f %6.2f %6.2f %7.3f %6.3f %11s %11s' % (
                mode, qd, med(mode, qd, 'kiops'),
                med(mode, qd, 'iothread_cpu_us_per_cmd'),
                med(mode, qd, 'main_cpu_us_per_cmd'),
                med(mode, qd, 'other_cpu_us_per_cmd'), qemu_cpu(mode, qd),
                med(mode, qd, 'submit_cpu_us_per_cmd'),
                med(mode, qd, 'mmio_db_per_cmd'), med(mode, qd, 'irq_per_cmd'),
                '%.0f/%.0f' % (med(mode, qd, 'tail_cqe_us_mean'), med(mode, qd, 'tail_cqe_us_p99')),
                '%.0f/%.0f' % (med(mode, qd, 'tail_irq_us_mean'), med(mode, qd, 'tail_irq_us_p99'))))
            row.append(qemu_cpu(mode, qd))
        row += [med(mode, qd, 'mmio_db_per_cmd') for qd in qds]
        d.write('%s %s\n' % (mode, ' '.join('%.3f' % x for x in row)))

print()
def goal(ok, text):
    print('goal %s: %s' % ('met' if ok else 'missed', text))

nv, vb, vb0 = 'iothread-poll', 'virtio-blk-iothread-poll', 'virtio-blk-iothread'
for qd in qds:
    a, b, c = qemu_cpu(nv, qd), qemu_cpu(vb, qd), qemu_cpu(vb0, qd)
    goal(a <= b, 'QD %d: nvme %s spends %.2f us of QEMU CPU per command, '
         '%s (the same polling) %.2f (%s without polling: %.2f)' %
         (qd, nv, a, vb, b, vb0, c))
for qd in qds:
    if qd >= 16:
        db = med(nv, qd, 'mmio_db_per_cmd')
        goal(db <= 0.05, 'QD %d: nvme %s writes %.3f doorbell registers per '
             'command, at most 0.05' % (qd, nv, db))
EOF
cat <<'EOF'

iot, main, other, qemu: host CPU time (schedstat) per command, in us, of
QEMU's IOThreads, its main loop, its other threads, and the three summed;
submit: the submitting thread, which polls the completion queue and yields
the CPU while nothing completed, so most of its time is waiting.  The main
loop serves the doorbell register writes through the qtest protocol, as it
would a vCPU's MMIO exits (slower than KVM's), and raises the interrupts of
IOThreads (there are no KVM irqfds under qtest).  mmio-db: doorbell
register writes per command (nvme SQ and CQ doorbells, virtio-blk
notifications), written only when the EventIdx (avail_event) asks for them.
irq: MSI-X interrupts per command (trace event apic_deliver_irq).  cqe and
irq m/p99: mean and p99 in us from the driver's tail store to the
completion queued (pci_nvme_enqueue_req_completion, virtio_blk_req_complete)
and to the interrupt raised, from a traced pass of at most 4000 reads.
The goals compare the QEMU CPU time (qemu) of nvme iothread-poll with that
of virtio-blk with an IOThread that polls as long (the same poll-max-ns).
EOF

if command -v gnuplot >/dev/null; then
    gnuplot <<PLOT
set terminal png noenhanced size 1100,850
set output "$out/nvme-device.png"
set multiplot layout 2,1 title "Host-side driver under qtest (no guest CPU), $(nproc) CPUs, null-co, 4 KiB reads, median of $rounds"
set style data histogram
set style histogram clustered
set style fill solid 0.6 border -1
set boxwidth 0.9
set xtics rotate by -25
set bmargin 5
set rmargin 10
set key outside top center horizontal
set grid ytics
set logscale y
set ylabel "QEMU CPU us per command (log)"
plot "$out/nvme-device.dat" using 2:xtic(1) title "QD 1", "" using 3 title "QD 16", "" using 4 title "QD 64"
unset logscale y
set yrange [0:0.3]
set ylabel "doorbell writes per command"
plot "$out/nvme-device.dat" using 5:xtic(1) title "QD 1 (mostly above the scale)", "" using 6 title "QD 16", "" using 7 title "QD 64", 0.05 with lines dashtype 2 lc rgb "black" title "goal at QD 16 and 64"
unset multiplot
PLOT
    echo "plot: build/bench/nvme-device.png"
fi
