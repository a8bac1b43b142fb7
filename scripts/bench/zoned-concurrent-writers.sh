#!/usr/bin/env bash
# Concurrent writers to distinct zones of a Linux null_blk zoned disk, through
# QEMU's file-posix host_device, inside a guest: this series (one lock per
# zone) against QEMU 10.2.2 (one lock for the device, held across each
# write).  null_blk completes each request after a fixed latency, so the
# result shows how many writes are in flight at once, not the guest's CPU.
#   scripts/bench/zoned-concurrent-writers.sh [MAX-ZONES] [WRITES]
# runs 1, 2, 4 ... MAX-ZONES (default 8) writers, WRITES (default 2048) 4 KiB
# writes in all, prints the table and draws build/bench/zoned-concurrent-writers.png.
# The 10.2.2 qemu-io is built once from the base (plus only the series'
# build fix for the blob-less tree) in build/base.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    zones=${1:-8} writes=${2:-2048}
    base="$build_dir/base"
    if [ ! -x "$base/build/qemu-io" ]; then
        info "building QEMU $base_version's qemu-io in build/base (once)"
        fix=$(git -C "$src_dir" rev-list --reverse base..HEAD | head -n 1)
        rm -rf "$base"
        git -C "$src_dir" worktree prune
        git -C "$src_dir" worktree add -q --detach "$base/src" "$fix"
        mkdir -p "$base/build"
        (
            export PATH="/usr/lib/ccache:$PATH" CCACHE_BASEDIR="$build_dir" CCACHE_NOHASHDIR=1
            cd "$base/build"
            "$base/src/configure" --python=/usr/bin/python3 --disable-system \
                --disable-user --enable-tools --enable-linux-aio \
                --enable-linux-io-uring --disable-docs --disable-download \
                >"$base/configure.log" 2>&1
            ninja qemu-io >"$base/ninja.log" 2>&1
        ) || die "building the base qemu-io failed (logs in build/base)"
    fi
    mkdir -p "$build_dir/bench"
    out="$build_dir/bench/zoned-concurrent-writers.log"
    "$here/guest-run" --mem 1024 --timeout 900 "$0" "$zones" "$writes" \
        "$base/build/qemu-io" >"$out" 2>&1 || { cat "$out"; die "the guest failed"; }
    sed -n '/^Concurrent writers/,/^guest-run:/p' "$out" | sed '$d' | grep -v '^DATA '
    dat="$build_dir/bench/zoned-concurrent-writers.dat"
    sed -n 's/^DATA //p' "$out" >"$dat"
    if command -v gnuplot >/dev/null; then
        gnuplot <<PLOT
set terminal png noenhanced size 800,500
set yrange [0:*]
set output "$build_dir/bench/zoned-concurrent-writers.png"
set title "Writers to distinct zones of a null_blk zoned disk (1 ms/request), TCG guest"
set xlabel "zones written at once"
set ylabel "4 KiB writes per second"
set logscale x 2
set key top left
set grid
plot "$dat" using 1:2 with linespoints title "QEMU 10.2.2: one lock for the device", \
     "$dat" using 1:3 with linespoints title "this series: one lock a zone"
PLOT
        echo "plot: build/bench/zoned-concurrent-writers.png"
    fi
    exit 0
fi

# In the guest.
max_zones=$1 writes=$2 base_io=$3
lat_us=1000
modprobe null_blk nr_devices=1 zoned=1 gb=4 zone_size=64 irqmode=2 \
    completion_nsec=$((lat_us * 1000)) memory_backed=0
dev=/dev/nullb0

# One qemu-io run: ZONES zones written in rounds of one 4 KiB write each, all
# asynchronous (aio_write), then aio_flush waits for them.  Prints the time.
run() {
    local io=$1 zones=$2 per_zone=$(($writes / $2)) r z args=() t0 t1 wp
    for ((r = 0; r < per_zone; r++)); do
        for ((z = 1; z <= zones; z++)); do
            args+=(-c "aio_write -q $((z * 64 * 1024 * 1024 + r * 4096)) 4k")
        done
    done
    args+=(-c "aio_flush")
    blkzone reset "$dev"
    t0=$(date +%s%N)
    "$io" --image-opts -n "driver=host_device,filename=$dev,aio=native,cache.direct=on" \
        "${args[@]}" >/tmp/io.out 2>&1 || { cat /tmp/io.out; exit 1; }
    t1=$(date +%s%N)
    if grep -i -E 'fail|error' /tmp/io.out; then exit 1; fi
    # Every zone must hold its writes.
    for ((z = 1; z <= zones; z++)); do
        wp=$(blkzone report --offset $((z * 131072)) --count 1 "$dev" |
             sed -n 's/.*wptr \(0x[0-9a-f]*\).*/\1/p')
        [ $((wp)) = $((per_zone * 8)) ] || { echo "zone $z: wp $wp"; exit 1; }
    done
    echo $(((t1 - t0) / 1000000))
}

echo
echo "Concurrent writers to distinct zones: qemu-io aio_write through host_device"
echo "guest: Linux $(uname -r) under TCG, 1 vCPU; null_blk zoned, ${lat_us} us per request"
echo "$writes writes of 4 KiB in all, spread over the zones; time includes qemu-io's start"
printf '%6s %16s %16s %9s\n' zones "10.2.2 writes/s" "series writes/s" speed-up
for ((n = 1; n <= max_zones; n *= 2)); do
    old_ms=$(run "$base_io" $n)
    new_ms=$(run "$QEMU_BUILD/qemu-io" $n)
    old=$((writes * 1000 / old_ms)) new=$((writes * 1000 / new_ms))
    printf '%6d %16d %16d %8.1fx\n' $n $old $new "$(awk -v a="$old_ms" -v b="$new_ms" 'BEGIN { print a / b }')"
    echo "DATA $n $old $new"
done
