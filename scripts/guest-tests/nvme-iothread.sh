#!/usr/bin/env bash
# The nvme controller's I/O queues in each processing mode, seen by the Linux
# nvme driver (2 vCPUs, so 2 I/O queue pairs): fio random writes verified
# with crc32c, then the same while `nvme reset` resets the controller twice
# mid-I/O, then a VM-level check that the namespace still reads back.
#   scripts/guest-tests/nvme-iothread.sh MODE [-- extra guest-run options]
# MODE: main ioeventfd iothread iothread-poll iothreads iothread-nodbcs
#       iothread-noioeventfd iothread-viommu
# iothread-viommu puts the controller behind VT-d, which Linux then uses
# (intel_iommu=on): it maps the data of each write for the device to read
# only, and that of each read for the device to write only.
# QEMU: $NVME_QEMU or the build's qemu-system-x86_64; $NVME_QEMU_ARGS is
# appended to its command line (e.g. -trace ...).
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    mode=${1:?usage: nvme-iothread.sh MODE}
    qemu_opt=()
    [ -n "${NVME_QEMU:-}" ] && qemu_opt=(--qemu "$NVME_QEMU")
    nvme='"driver":"nvme","serial":"iot0","drive":"d0"'
    obj=()
    run_opt=()
    case "$mode" in
        main) ;;
        ioeventfd) nvme+=',"ioeventfd":true' ;;
        iothread)
            obj=(-object iothread,id=t0,poll-max-ns=0)
            nvme+=',"ioeventfd":true,"iothread":"t0"' ;;
        iothread-poll)
            obj=(-object iothread,id=t0,poll-max-ns=50000)
            nvme+=',"ioeventfd":true,"iothread":"t0"' ;;
        iothreads)
            obj=(-object iothread,id=t0 -object iothread,id=t1)
            nvme+=',"ioeventfd":true,"iothread-vq-mapping":[{"iothread":"t0"},{"iothread":"t1"}]' ;;
        iothread-nodbcs)
            obj=(-object iothread,id=t0)
            nvme+=',"ioeventfd":true,"dbcs":false,"iothread":"t0"' ;;
        iothread-noioeventfd)
            obj=(-object iothread,id=t0)
            nvme+=',"ioeventfd":false,"iothread":"t0"' ;;
        iothread-viommu)
            obj=(-device intel-iommu,intremap=off -object iothread,id=t0)
            nvme+=',"ioeventfd":true,"iothread":"t0"'
            run_opt=(--append "intel_iommu=on iommu.strict=1") ;;
        *) echo "unknown mode $mode" >&2; exit 2 ;;
    esac
    exec "$here/../guest-run" "${qemu_opt[@]}" "${run_opt[@]}" --smp 2 --mem 1024 "$0" "$mode" -- \
        "${obj[@]}" \
        -blockdev driver=null-co,node-name=d0,size=268435456,memory-backed=on \
        -device "{$nvme}" ${NVME_QEMU_ARGS:-}
fi

# In the guest.
mode=$1
fail() { echo "FAIL ($mode): $*"; exit 1; }
modprobe nvme
for _ in $(seq 100); do [ -b /dev/nvme0n1 ] && break; sleep 0.1; done
[ -b /dev/nvme0n1 ] || fail "no /dev/nvme0n1"
dev=/dev/nvme0n1
nq=$(ls -d /sys/block/nvme0n1/mq/* | wc -l)
echo "ok: $dev with $nq I/O queue(s)"
if [ "$mode" = iothread-viommu ]; then
    # The controller's DMA goes through the IOMMU's translation
    group=$(readlink /sys/class/nvme/nvme0/device/iommu_group) ||
        fail "the controller is in no IOMMU group"
    type=$(cat "/sys/kernel/iommu_groups/${group##*/}/type")
    [ "$type" = DMA ] || fail "IOMMU domain type $type, not DMA"
    echo "ok: DMA through IOMMU group ${group##*/} ($type)"
fi

fio_verify() { # fio_verify NAME ARGS...
    local name=$1
    shift
    fio --name="$name" --filename=$dev --direct=1 --ioengine=libaio \
        --rw=randwrite --bs=4k --size=64m --iodepth=16 --numjobs=2 \
        --offset_increment=96m --group_reporting \
        --verify=crc32c --do_verify=1 --verify_fatal=1 "$@" \
        >/tmp/"$name".out 2>&1 || { cat /tmp/"$name".out; fail "fio $name"; }
    grep -q "err= 0" /tmp/"$name".out || { cat /tmp/"$name".out; fail "fio $name reported errors"; }
    echo "ok: fio $name verified (crc32c)"
}
fio_verify plain

# Reset the controller twice while writes are in flight.
fio --name=reset --filename=$dev --direct=1 --ioengine=libaio --rw=randwrite \
    --bs=4k --size=64m --iodepth=32 --numjobs=2 --offset_increment=96m \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --group_reporting \
    >/tmp/reset.out 2>&1 &
fio_pid=$!
sleep 2
nvme reset /dev/nvme0 || fail "nvme reset"
sleep 2
nvme reset /dev/nvme0 || fail "second nvme reset"
wait $fio_pid || { cat /tmp/reset.out; fail "fio across nvme reset"; }
echo "ok: fio across two controller resets verified (crc32c)"

# The queues are usable after the resets.
fio_verify after-reset --size=16m
echo "all nvme $mode checks passed"
