#!/usr/bin/env bash
# The full matrix of fio's zoned test suite: every section of fio's
# t/zbd/run-tests-against-nullb that a frontend can express, through
# virtio-blk, scsi-hd (ZBC) and nvme (zns-blk), one guest a section
# (scripts/guest-tests/fio-zbd.sh).  `make fio-zbd` runs it; make check
# runs a few tests of one section a frontend.
#
#   FRONTENDS="virtio-blk scsi-hd nvme"  the frontends (default: all three)
#   SECTIONS="2 3 ... 19"                the sections (default: all)
#   JOBS=N                               guests at once (default: nproc)
#   FIO_ZBD_SIZE=MiB                     drive size (default 512)
#   FIO_ZBD_BACKEND=null-co|qcow2        the drive: memory-backed null-co
#                                        (default) or a zoned qcow2 image
#
# Each run's console goes to build/fio-zbd/FRONTEND-SECTION.log; the table
# of results (passed, skipped and failed fio tests, wall time) to stdout and
# build/fio-zbd/results.txt.  Fails when any section fails.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

frontends=${FRONTENDS:-virtio-blk scsi-hd nvme}
sections=${SECTIONS:-$(seq -s ' ' 2 19)}
jobs=${JOBS:-$(nproc)}
out=$build_dir/fio-zbd
mkdir -p "$out"
"$here/fio-source.sh" >/dev/null   # build fio once, before the guests

run_one() { # run_one FRONTEND SECTION: one line of the table
    local f=$1 s=$2 log=$out/$1-$2.log start rc=0 result
    start=$(date +%s)
    "$here/guest-tests/fio-zbd.sh" "$f" "$s" >"$log" 2>&1 || rc=$?
    result=$(tr -d '\r' <"$log" | sed -n 's/^fio t\/zbd: \([0-9]*\) passed, \([0-9]*\) skipped, \([0-9]*\) failed.*/\1 \2 \3/p' | tail -1)
    case "$rc" in
        0) status=ok ;;
        77) status=n/a result="- - -" ;;
        *) status=FAIL ;;
    esac
    printf '%-11s %7s %6s %7s %7s %6s %6ss\n' "$f" "$s" $status ${result:-? ? ?} \
        $(($(date +%s) - start))
}
export -f run_one
export here out

header=$(printf '%-11s %7s %6s %7s %7s %6s %7s' frontend section result passed skipped failed time)
for f in $frontends; do
    for s in $sections; do
        echo "$f $s"
    done
done | xargs -P "$jobs" -L 1 bash -c 'run_one "$0" "$1"' >"$out/results.unsorted"
{
    echo "fio $(basename "$("$here/fio-source.sh")") t/zbd, ${FIO_ZBD_SIZE:-512} MiB ${FIO_ZBD_BACKEND:-null-co} zoned drive, Linux guest under TCG"
    echo "$header"
    sort -k1,1 -k2,2n "$out/results.unsorted"
} | tee "$out/results.txt"
rm -f "$out/results.unsorted"
! grep -q ' FAIL ' "$out/results.txt"
