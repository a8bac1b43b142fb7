#!/usr/bin/env bash
# fio's own zoned block device test suite (t/zbd/test-zbd-support, built by
# scripts/fio-source.sh) in a Linux guest, against a memory-backed null-co
# zoned drive (or, with FIO_ZBD_BACKEND=qcow2, a zoned qcow2 image made by
# qemu-img create in build/fio-zbd) seen through one frontend, in the device
# layout of one section of fio's t/zbd/run-tests-against-nullb:
#
#   scripts/guest-tests/fio-zbd.sh FRONTEND SECTION [TEST...]
#
# FRONTEND is virtio-blk, scsi-hd (ZBC over virtio-scsi) or nvme (a zns-blk
# namespace); SECTION is a section number of run-tests-against-nullb (2-19:
# conventional zone percentage, zone size and capacity, open and active
# limits), with 4 KiB logical blocks as there; TESTs restrict the run to those
# test numbers (default: all).  The drive is FIO_ZBD_SIZE MiB (default 512;
# fio's sections use 1 or 2 GiB, which takes longer under TCG).  A layout the
# frontend cannot express (zone capacity below the zone size or an active
# zone limit on scsi-hd, conventional zones on nvme) exits 77 (skipped).
# The test passes when no fio test fails; the logs of failed tests are printed.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    [ $# -ge 2 ] || die "usage: ${0##*/} virtio-blk|scsi-hd|nvme SECTION [TEST...]"
    frontend=$1 section=$2
    shift 2
    # section: conventional %, zone size MiB, capacity MiB, max open, max active
    case "$section" in
        2) layout="0 1 1 0 0" ;;     3) layout="0 4 3 0 0" ;;
        4) layout="10 1 1 0 0" ;;    5) layout="10 4 3 0 0" ;;
        6) layout="66 1 1 0 0" ;;    7) layout="66 4 3 0 0" ;;
        8) layout="0 1 1 8 0" ;;     9) layout="0 4 3 8 0" ;;
        10) layout="10 1 1 8 0" ;;   11) layout="10 4 3 8 0" ;;
        12) layout="66 1 1 8 0" ;;   13) layout="66 4 3 8 0" ;;
        14) layout="0 1 1 8 8" ;;    15) layout="0 4 3 8 8" ;;
        16) layout="10 1 1 8 8" ;;   17) layout="10 4 3 8 8" ;;
        18) layout="66 1 1 8 8" ;;   19) layout="66 4 3 8 8" ;;
        *) die "section $section: not a zoned section of run-tests-against-nullb (2-19)" ;;
    esac
    read -r conv_pcnt zsize_mib zcap_mib max_open max_active <<<"$layout"
    size_mib=${FIO_ZBD_SIZE:-512}
    mib=1048576
    nr_conv=$((size_mib / zsize_mib * conv_pcnt / 100))
    backend=${FIO_ZBD_BACKEND:-null-co}
    img=
    case "$backend" in
        null-co)
            drive="driver=null-co,node-name=zdev,size=$((size_mib * mib)),zoned=host-managed"
            drive+=",zone-size=$((zsize_mib * mib)),memory-backed=on,read-zeroes=on"
            [ "$nr_conv" = 0 ] || drive+=",zone-nr-conv=$nr_conv"
            [ "$zcap_mib" = "$zsize_mib" ] || drive+=",zone-capacity=$((zcap_mib * mib))"
            [ "$max_open" = 0 ] || drive+=",max-open-zones=$max_open"
            [ "$max_active" = 0 ] || drive+=",max-active-zones=$max_active"
            ;;
        qcow2)
            mkdir -p "$build_dir/fio-zbd"
            img="$build_dir/fio-zbd/$frontend-$section.qcow2"
            opts="zone.mode=host-managed,zone.size=$((zsize_mib * mib))"
            [ "$nr_conv" = 0 ] || opts+=",zone.conventional_zones=$nr_conv"
            [ "$zcap_mib" = "$zsize_mib" ] || opts+=",zone.capacity=$((zcap_mib * mib))"
            [ "$max_open" = 0 ] || opts+=",zone.max_open_zones=$max_open"
            [ "$max_active" = 0 ] || opts+=",zone.max_active_zones=$max_active"
            drive="driver=qcow2,node-name=zdev,file.driver=file,file.filename=$img"
            ;;
        *) die "FIO_ZBD_BACKEND=$backend: null-co or qcow2" ;;
    esac
    skip() { echo "SKIP: $frontend cannot express section $section: $*"; exit 77; }
    bs=logical_block_size=4096,physical_block_size=4096
    case "$frontend" in
        virtio-blk)
            dev=(-device "virtio-blk-pci,drive=zdev,serial=zbd0,$bs") ;;
        scsi-hd)
            [ "$zcap_mib" = "$zsize_mib" ] || skip "ZBC has no zone capacity"
            [ "$max_active" = 0 ] || skip "ZBC has no active zone limit"
            dev=(-device virtio-scsi-pci,id=scsi0
                 -device "scsi-hd,bus=scsi0.0,drive=zdev,serial=zbd0,$bs") ;;
        nvme)
            [ "$nr_conv" = 0 ] || skip "ZNS has no conventional zones"
            dev=(-device nvme,id=nvme0,serial=zbd0
                 -device "nvme-ns,bus=nvme0,nsid=1,drive=zdev,zoned.backend=on,$bs") ;;
        *) die "unknown frontend $frontend (virtio-blk, scsi-hd, nvme)" ;;
    esac
    fio_tree=$("$here/../fio-source.sh")
    info "$frontend on $backend, section $section: ${size_mib} MiB, $nr_conv conventional zones," \
         "zones of $zsize_mib MiB (capacity $zcap_mib), max open $max_open, max active $max_active"
    # The image, made only now that the frontend can express the layout
    [ -z "$img" ] || "$qemu_build/qemu-img" create -q -f qcow2 -o "$opts" "$img" "${size_mib}M"
    # As run-tests-against-nullb: with an open limit, test-zbd-support gets
    # it with -o, which also resets every zone before each writing test, so
    # that zones a previous test left open or closed do not hold the active
    # resources a test needs (fio: "Exceeded max_active_zones limit").
    rc=0
    "$here/../guest-run" --mem 1024 --timeout "${FIO_ZBD_TIMEOUT:-3000}" \
        "$0" "$frontend" "$fio_tree" "$max_open" "$@" -- \
        -blockdev "$drive" "${dev[@]}" || rc=$?
    if [ -n "$img" ]; then
        # The image must still be consistent after all that
        "$qemu_build/qemu-img" check -q "$img" || { echo "FAIL: qemu-img check $img"; rc=1; }
        rm -f "$img"
    fi
    exit $rc
fi

# In the guest.
frontend=$1 fio_tree=$2 max_open=$3
shift 3
case "$frontend" in
    virtio-blk) modprobe virtio_blk ;;
    scsi-hd) modprobe virtio_scsi; modprobe sd_mod ;;
    nvme) modprobe nvme ;;
esac
disk=
for i in $(seq 100); do
    for d in /sys/block/*; do
        case "$(basename "$d")" in vd*|sd*|nvme*) ;; *) continue ;; esac
        [ "$(cat "$d/queue/zoned" 2>/dev/null)" = host-managed ] && disk=$(basename "$d")
    done
    [ -n "$disk" ] && [ -b "/dev/$disk" ] && break
    sleep 0.2
done
[ -n "$disk" ] || { echo "FAIL: no host-managed disk appeared"; exit 1; }
echo "disk /dev/$disk: $(cat /sys/block/$disk/queue/nr_zones) zones," \
     "max open $(cat /sys/block/$disk/queue/max_open_zones)," \
     "max active $(cat /sys/block/$disk/queue/max_active_zones)"

# test-zbd-support runs ../../fio and writes its logs beside itself.
mkdir -p /tmp/fio/t
cp -r "$fio_tree/t/zbd" /tmp/fio/t/
ln -s "$fio_tree/fio" /tmp/fio/fio
args=()
[ "$max_open" = 0 ] || args+=(-o "$max_open")
for t in "$@"; do args+=(-t "$t"); done
rc=0
/tmp/fio/t/zbd/test-zbd-support "${args[@]}" "/dev/$disk" | tee /tmp/zbd.out || rc=$?
for log in /tmp/fio/t/zbd/test-zbd-support.log.*; do
    [ -f "$log" ] || continue
    if [ "$(tail -1 "$log")" = FAIL ]; then
        echo "=== $log"
        tail -40 "$log"
    fi
done
dmesg | grep -iE "error|critical" | tail -20 || true
ran=$(grep -c "^Running test" /tmp/zbd.out || true)
echo "fio t/zbd: $(grep -c PASS /tmp/zbd.out || true) passed," \
     "$(grep -c SKIP /tmp/zbd.out || true) skipped," \
     "$(grep -c FAIL /tmp/zbd.out || true) failed ($ran run)"
if [ "$ran" = 0 ]; then
    echo "FAIL: test-zbd-support ran no test"
    exit 1
fi
exit $rc
