#!/usr/bin/env bash
# Restores of the snapfuzz device under TCG, three ways:
# 1. In the q35 Linux fuzzing setup (the one scripts/demo-snapfuzz.sh
#    fuzzes in, without an engine): a guest whose /init is
#    scripts/bench/snapfuzz-restore-guest.c runs INPUTS inputs, each
#    dirtying 64 pages of its own, at 128 MiB, 1 GiB and 4 GiB of guest RAM,
#    and reads what the device reports of every restore.  Restore is the
#    device's T_TOTAL (dirty sync, page copy, device state, disks);
#    turnaround its T_TURNAROUND, from the guest's DONE write to the guest's
#    first read of STATUS in the next input, which adds the bottom half's
#    wakeup, pausing and resuming the vCPU, and the vCPU's way back to the
#    register.  Table, build/bench/snapfuzz-restore.dat and, with gnuplot,
#    build/bench/snapfuzz-restore.png.  A last row runs 4 GiB with
#    -machine q35,sata=off: q35's AHCI controller, which SeaBIOS gives bus
#    mastering, is a device that every restore loads (see "Device state"
#    in docs/specs/snapfuzz.rst), and a harness that needs no disk can
#    leave it out.  Each row runs RUNS times (default 3), the rows taking
#    turns; the table gives the median of the runs' figures and the range
#    of their turnaround p50s (other load on this machine moves whole
#    runs, not single restores).
# 2. Over qtest on an idle "pc" machine (snapfuzz-restore.py): the device's
#    own cost against the number of dirtied pages, without a guest.
# 3. End to end: executions per second of afl-fuzz driving the example
#    harness in the q35 Linux guest (scripts/demo-snapfuzz.sh, 20 s; only
#    when afl-fuzz is installed).
# Other load on the machine shows in all of them: the load average is printed.
# QEMU=path overrides the binary; INPUTS (default 1000) the guest's inputs
# per row, REPEAT (default 30) the qtest restores per row.
#   scripts/bench/snapfuzz.sh
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
inputs=${INPUTS:-1000}
out="$build_dir/bench/snapfuzz-restore"
mkdir -p "$out/initramfs"/{sys,proc,dev}

# 1. The q35 Linux guest
kdir=$("$here/guest-kernel.sh")
gcc -O2 -static -Wall -I "$src_dir/contrib/snapfuzz" -o "$out/initramfs/init" \
    "$here/bench/snapfuzz-restore-guest.c" "$src_dir/contrib/snapfuzz/libsnapfuzz.c" \
    || die "building the guest harness failed"
(cd "$out/initramfs" && find . | cpio -o -H newc --quiet) >"$out/initrd"
qdir=$(dirname "$qemu")
echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1);" \
     "accelerator: TCG; guest: q35, -cpu max, Linux $(cat "$kdir/ready"), $inputs inputs a row"
runs=${RUNS:-3}
for run in $(seq "$runs"); do
for row in 128 1024 4096 4096-nosata; do
    mem=${row%-nosata} machine=q35
    [ "$row" = "$mem" ] || machine=q35,sata=off
    timeout 900 "$qemu" -machine "$machine" -accel tcg -cpu max -m "$mem" \
        -L "$qdir/pc-bios/optionrom" -L /usr/share/seabios -L "$qdir/pc-bios" \
        -nodefaults -display none -no-reboot -kernel "$kdir/vmlinuz" \
        -initrd "$out/initrd" -serial "file:$out/guest-$row-$run.log" \
        -append "console=ttyS0 quiet panic=-1 -- 64" \
        -device "snapfuzz,max-inputs=$((inputs + 1))" >"$out/qemu-$row-$run.log" 2>&1 \
        || die "the guest with $mem MiB ($machine) failed; see $out/qemu-$row-$run.log and guest-$row-$run.log"
    grep -q '^RESTORE-END' "$out/guest-$row-$run.log" \
        || die "the guest with $mem MiB ($machine) did not finish; see $out/guest-$row-$run.log"
done
done
python3 - "$out" "$runs" <<'PY'
import statistics, sys
out, runs = sys.argv[1], int(sys.argv[2])
print("Restores in the q35 Linux guest, 64 pages dirtied by each input (microseconds;")
print("median of %d runs of each row, turn range: the runs' lowest and highest p50)" % runs)
print("%-8s %6s %8s | %8s %8s | %8s %8s %13s | %6s %6s %6s" %
      ("RAM", "pages", "sections", "restore", "p99", "turn", "p99", "turn range",
       "sync", "copy", "device"))


def run_stats(path):
    s = [list(map(int, l.split()[1:])) for l in open(path)
         if l.startswith("RESTORE ")]
    # The first restores warm caches and translated code up.
    s = s[10:] if len(s) > 20 else s
    col = lambda i: sorted(r[i] for r in s)
    p50 = lambda i: statistics.median(col(i)) / 1000
    p99 = lambda i: col(i)[min(len(s) - 1, int(len(s) * 0.99))] / 1000
    med = lambda i: statistics.median(col(i))
    return [med(5), med(6), p50(0), p99(0), p50(4), p99(4),
            p50(2), p50(3), p50(1)]


rows = []
with open(out + "/../snapfuzz-restore.dat", "w") as dat:
    dat.write("# MiB restore_p50 restore_p99 turnaround_p50 turnaround_p99 (us)\n")
    for row in ("128", "1024", "4096", "4096-nosata"):
        mem = int(row.split("-")[0])
        st = [run_stats("%s/guest-%s-%d.log" % (out, row, r))
              for r in range(1, runs + 1)]
        m = [statistics.median(x[k] for x in st) for k in range(9)]
        turns = [x[4] for x in st]
        print("%-8s %6d %8d | %8.1f %8.1f | %8.1f %8.1f %6.1f-%6.1f | %6.1f %6.1f %6.1f%s" %
              ("%d MiB" % mem, m[0], m[1], m[2], m[3], m[4], m[5],
               min(turns), max(turns), m[6], m[7], m[8],
               "  (sata=off)" if row != str(mem) else ""))
        if row != str(mem):
            continue
        dat.write("%d %.1f %.1f %.1f %.1f\n" % (mem, m[2], m[3], m[4], m[5]))
        rows.append((mem, m[2], m[4]))
print("4 GiB against 128 MiB: restore %.2fx, turnaround %.2fx" %
      (rows[2][1] / rows[0][1], rows[2][2] / rows[0][2]))
print("(pages: what the restore copied back, the harness's 64 and the kernel's; "
      "sections: device state sections it loaded)")
PY
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
if command -v gnuplot >/dev/null; then
    gnuplot <<PLOT
set terminal png noenhanced size 900,500
set output "$build_dir/bench/snapfuzz-restore.png"
set title "snapfuzz restores, q35 Linux guest under TCG, 64 dirtied pages ($(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))"
set xlabel "guest RAM (MiB)"
set ylabel "microseconds"
set logscale x 2
set yrange [0:*]
set key top left
plot "$build_dir/bench/snapfuzz-restore.dat" using 1:2 with linespoints title "restore p50", \
     "" using 1:3 with linespoints title "restore p99", \
     "" using 1:4 with linespoints title "DONE to next input p50", \
     "" using 1:5 with linespoints title "DONE to next input p99"
PLOT
    echo "plot: $build_dir/bench/snapfuzz-restore.png"
fi
echo

# 2. qtest, no guest
python3 "$here/bench/snapfuzz-restore.py" "$qemu" "${REPEAT:-30}" | grep -v '^DATA '
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"

# 3. afl-fuzz, end to end
if command -v afl-fuzz >/dev/null; then
    eps=$(QEMU=$qemu "$here/demo-snapfuzz.sh" 20 | awk '/^execs_per_sec/ { print $3 }')
    echo "end to end: ${eps:-?} executions/s (afl-fuzz, 20 s, q35 Linux guest," \
         "example harness), load average $(cut -d' ' -f1-3 /proc/loadavg)"
fi
