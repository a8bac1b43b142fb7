#!/usr/bin/env bash
# What zone emulation costs: qemu-img bench (the block layer alone, no guest,
# no accelerator involved) on null-co against null-co zoned, 4 KiB reads and
# 64 KiB sequential writes, best of several runs.  Goal: at most 5 % lost.
#   scripts/bench/zoned-emulation.sh [RUNS]
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"

runs=${1:-5}
img="$qemu_build/qemu-img"
[ -x "$img" ] || die "build first (make)"

plain="driver=null-co,size=4294967296"
zoned="$plain,zoned=host-managed,zone-size=67108864,zone-nr-conv=1"

# bench OPTS ARGS...: the best requests per second of $runs runs.
bench() {
    local opts=$1 best=0 t n rps
    shift
    for _ in $(seq "$runs"); do
        # "Run completed in 1.234 seconds."
        t=$("$img" bench --image-opts "$opts" "$@" |
            sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p')
        [ -n "$t" ] || die "qemu-img bench failed: $opts $*"
        n=$(printf '%s\n' "$@" | awk 'p { print; exit } $0 == "-c" { p = 1 }')
        rps=$(awk -v n="$n" -v t="$t" 'BEGIN { printf "%d", (t > 0 ? n / t : 0) }')
        [ "$rps" -gt "$best" ] && best=$rps
    done
    echo "$best"
}

echo "Zone emulation cost: qemu-img bench, null-co vs null-co zoned (best of $runs)"
echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1); no guest, no accelerator"
printf '%-34s %14s %14s %8s\n' workload "null-co req/s" "zoned req/s" "cost"
row() {
    local name=$1 a b
    shift
    a=$(bench "$plain" "$@")
    b=$(bench "$zoned" "$@")
    printf '%-34s %14d %14d %7.1f%%\n' "$name" "$a" "$b" \
        "$(awk -v a="$a" -v b="$b" 'BEGIN { print (a - b) * 100 / a }')"
}
row "4k read, QD 64 (stride 4k)" -c 2000000 -d 64 -s 4096 -S 4096
row "4k read, QD 1 (stride 4k)" -c 1000000 -d 1 -s 4096 -S 4096
row "64k sequential write, QD 1" -w -c 60000 -d 1 -s 65536 -S 65536 -o 67108864
row "64k sequential write, QD 16" -w -c 60000 -d 16 -s 65536 -S 65536 -o 67108864
