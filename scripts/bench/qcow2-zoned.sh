#!/usr/bin/env bash
# What a zoned qcow2 image costs against a plain one: qemu-img bench and
# qemu-io (the block layer alone, no guest, no accelerator) with O_DIRECT
# (-t none) on the same host file system, 64 KiB sequential writes and zone
# appends at queue depth 1 and 32, a fresh image for each run, best of
# several runs.  Goal: at most 10 % lost.  Writes at queue depth 32 go to 32
# zones, one write in flight in each (qemu-io aio_write, in rounds of 32):
# the block layer does not keep the order of writes in flight to one zone,
# so a zoned disk takes them one at a time (Linux's zone write plugging
# does the same).  Then what the write pointers cost on disk: the table
# writes (trace event qcow2_zoned_save) per flush, with a flush every 256
# appends (goal: at most one), and without flushes (goal: only at close).
# Prints the table and draws build/bench/qcow2-zoned.png.
#   scripts/bench/qcow2-zoned.sh [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

runs=${1:-3}
img="$qemu_build/qemu-img"
[ -x "$img" ] || die "build first (make)"
mkdir -p "$build_dir/bench"
work=$(mktemp -d "$build_dir/bench/qcow2-zoned.XXXXXX")
trap 'rm -rf "$work"' EXIT
size=1G count=16383   # 64 KiB requests: all the image but its last 64 KiB
zoned_opts=zone.mode=host-managed

fresh() { # fresh plain|zoned [ZONE-SIZE] -> a new image
    rm -f "$work/img.qcow2"
    if [ "$1" = zoned ]; then
        "$img" create -q -f qcow2 -o "$zoned_opts,zone.size=${2:-64M}" \
            "$work/img.qcow2" $size
    else
        "$img" create -q -f qcow2 "$work/img.qcow2" $size
    fi
}

# bench plain|zoned ARGS...: the best MiB/s of $runs runs
bench() {
    local kind=$1 best=0 t mibs
    shift
    for _ in $(seq "$runs"); do
        fresh "$kind"
        # "Run completed in 1.234 seconds."
        t=$("$img" bench -f qcow2 -t none -w -s 65536 -c $count "$@" "$work/img.qcow2" |
            sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
        [ -n "$t" ] || die "qemu-img bench failed: $kind $*"
        mibs=$(awk -v t="$t" -v n=$count 'BEGIN { printf "%d", n / 16 / t }')
        [ "$mibs" -gt "$best" ] && best=$mibs
    done
    echo "$best"
}

# rounds plain|zoned: the best MiB/s of $runs runs of 64 KiB writes to 32
# zones of 32 MiB, one in each zone at a time
python3 - "$work/rounds.txt" <<'PY'
import sys
with open(sys.argv[1], 'w') as f:
    for q in range(512):
        for z in range(32):
            f.write('aio_write -q -P 1 %d 64k\n' % (z * 32 * 1024 * 1024 + q * 65536))
        f.write('aio_flush\n')
PY
rounds() {
    local kind=$1 best=0 t0 t1 mibs
    for _ in $(seq "$runs"); do
        fresh "$kind" 32M
        t0=$(date +%s.%N)
        "$qemu_build/qemu-io" -f qcow2 -t none "$work/img.qcow2" <"$work/rounds.txt" >"$work/io.out" 2>&1
        t1=$(date +%s.%N)
        ! grep -qi 'fail\|error' "$work/io.out" || die "qemu-io failed: $(head -n 3 "$work/io.out")"
        mibs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%d", 1024 / (b - a) }')
        [ "$mibs" -gt "$best" ] && best=$mibs
    done
    echo "$best"
}

fs=$(df -T "$work" | awk 'NR == 2 { print $2 " on " $1 }')
echo "Zoned qcow2 against plain qcow2: qemu-img bench, 64 KiB requests, -t none, $size image (best of $runs)"
echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); $fs; no guest, no accelerator"
printf '%-36s %12s %12s %8s\n' workload "plain MiB/s" "zoned MiB/s" "cost"
dat="$work/plot.dat"
: >"$dat"
row() { # row NAME PLAIN-ARGS -- ZONED-ARGS, or row NAME rounds
    local name=$1 a b pa=() za=()
    shift
    if [ "$1" = rounds ]; then
        a=$(rounds plain)
        b=$(rounds zoned)
    else
        while [ "$1" != -- ]; do pa+=("$1"); shift; done
        shift
        za=("$@")
        a=$(bench plain "${pa[@]}")
        b=$(bench zoned "${za[@]}")
    fi
    printf '%-36s %12d %12d %7.1f%%\n' "$name" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { print (a - b) * 100 / a }')"
    printf '"%s" %d %d\n' "$name" "$a" "$b" >>"$dat"
}
row "sequential write, QD 1" -d 1 -- -d 1
row "sequential write, 32 zones, QD 32" rounds
row "zone append (plain: write), QD 1" -d 1 -- -d 1 --zone-append
row "zone append (plain: write), QD 32" -d 32 -- -d 32 --zone-append

# Table writes: count the trace events
saves() { # saves ARGS... -> number of table writes
    fresh zoned
    "$img" --trace qcow2_zoned_save bench -f qcow2 -t none -w -s 65536 -c 4096 -d 32 --zone-append \
        "$@" "$work/img.qcow2" 2>&1 | grep -c 'qcow2_zoned_save' || true
}
echo
with=$(saves --flush-interval=256)
without=$(saves)
printf '%-36s %12s\n' "write pointer table writes" count
printf '%-36s %12s\n' "4096 appends (QD 32), flush every 256" "$with (16 flushes, then the close)"
printf '%-36s %12s\n' "4096 appends (QD 32), no flush" "$without (the close)"

cp "$dat" "$build_dir/bench/qcow2-zoned.dat"
if command -v gnuplot >/dev/null; then
    gnuplot <<PLOT
set terminal png noenhanced size 900,500
set output "$build_dir/bench/qcow2-zoned.png"
set title "Zoned vs plain qcow2, qemu-img bench -t none, 64 KiB ($fs)"
set ylabel "MiB/s"
set yrange [0:*]
set style data histogram
set style histogram clustered
set style fill solid 0.6 border -1
set boxwidth 0.9
set xtics rotate by -15
set grid ytics
plot "$dat" using 2:xtic(1) title "plain qcow2", "" using 3 title "zoned qcow2"
PLOT
    echo "plot: build/bench/qcow2-zoned.png"
fi
