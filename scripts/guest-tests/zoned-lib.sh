# Checks shared by the zoned guest tests (virtio-blk, scsi-hd ZBC, NVMe ZNS),
# sourced inside the guest after the test has found its disk:
#   dev   the zoned block device (/dev/...)
#   zs    the zone size in 512-byte sectors
# Every check prints "ok: ..." or ends the test with "FAIL: ...".
# zoned_qcow2_args is for the host side, which sources this file too.

# zoned_qcow2_args FRONTEND N IMAGE SERIAL-PREFIX [iothreads]: append to the
# array args the zoned qcow2 IMAGE (node imgN) seen through FRONTEND
# (virtio, scsi on the bus scsi0.0, nvme), serial SERIAL-PREFIX followed by
# N; "iothreads" spreads virtio-blk's queues over the IOThreads t0 and t1
# (iothread-vq-mapping) and puts nvme's in t0 (a zoned namespace takes one)
zoned_qcow2_args() {
    local node=img$2 serial=$4$2
    local map='"iothread-vq-mapping":[{"iothread":"t0"},{"iothread":"t1"}]'
    args+=(-blockdev "driver=qcow2,node-name=$node,file.driver=file,file.filename=$3")
    case "$1-${5:-}" in
        virtio-) args+=(-device "virtio-blk-pci,drive=$node,serial=$serial") ;;
        virtio-iothreads)
            args+=(-device "{\"driver\":\"virtio-blk-pci\",\"drive\":\"$node\",\"serial\":\"$serial\",\"num-queues\":2,$map}") ;;
        scsi-*) args+=(-device "scsi-hd,bus=scsi0.0,drive=$node,serial=$serial,scsi-id=$2,lun=0") ;;
        nvme-) args+=(-device "nvme,id=nvme$2,serial=$serial") ;;
        nvme-iothreads)
            args+=(-device "{\"driver\":\"nvme\",\"id\":\"nvme$2\",\"serial\":\"$serial\",\"ioeventfd\":true,\"iothread\":\"t0\"}") ;;
    esac
    # JSON as the controller's may be: QEMU creates those devices first
    [ "$1" != nvme ] ||
        args+=(-device "{\"driver\":\"nvme-ns\",\"bus\":\"nvme$2\",\"nsid\":1,\"drive\":\"$node\",\"zoned.backend\":true}")
}

fail() { echo "FAIL: $*"; exit 1; }

expect() { # expect NAME GOT WANT
    if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3'"; fi
    echo "ok: $1 = $2"
}

# zoned_disk SERIAL -> /dev/X: the disk with that serial (virtio-blk,
# scsi-hd and nvme alike), once it appeared, checked to be host-managed;
# its messages go to stderr, as it runs in $(...)
zoned_disk() {
    local d="" b t
    for t in $(seq 100); do
        for b in /sys/block/*; do
            if grep -qs "$1" "$b/serial" "$b/device/serial" "$b/device/vpd_pg80"; then
                d=/dev/$(basename "$b")
                break
            fi
        done
        [ -n "$d" ] && [ -b "$d" ] && break
        sleep 0.2
    done
    [ -n "$d" ] || fail "the disk $1 did not appear" >&2
    expect "$1 zoned model" "$(cat "/sys/block/${d#/dev/}/queue/zoned")" host-managed >&2
    echo "$d"
}

zone_cond() { # zone_cond INDEX -> condition abbreviation (nw em oi oe cl fu ro ol)
    blkzone report --offset $(($1 * zs)) --count 1 "$dev" |
        sed -n 's/.*zcond: *[0-9]*(\([a-z]*\)).*/\1/p'
}

zone_wp() { # zone_wp INDEX -> write pointer in sectors from the zone's start
    blkzone report --offset $(($1 * zs)) --count 1 "$dev" |
        sed -n 's/.*wptr 0x\([0-9a-f]*\).*/\1/p' | { read -r w; echo $((16#$w)); }
}

# zoned_walk_zone INDEX: an empty sequential zone goes through explicit open,
# close (back to empty), a write (implicitly open), close, finish and reset.
zoned_walk_zone() {
    local z=$1 off=$(($1 * zs))
    expect "zone $z initially" "$(zone_cond $z)" em
    blkzone open --offset $off --count 1 "$dev"
    expect "zone $z after open" "$(zone_cond $z)" oe
    blkzone close --offset $off --count 1 "$dev"
    expect "zone $z after close of an empty zone" "$(zone_cond $z)" em
    dd if=/dev/urandom of="$dev" bs=4k count=4 seek=$((off / 8)) oflag=direct status=none
    expect "zone $z after a write" "$(zone_cond $z)" oi
    blkzone close --offset $off --count 1 "$dev"
    expect "zone $z after close" "$(zone_cond $z)" cl
    blkzone finish --offset $off --count 1 "$dev"
    expect "zone $z after finish" "$(zone_cond $z)" fu
    blkzone reset --offset $off --count 1 "$dev"
    expect "zone $z after reset" "$(zone_cond $z)" em
}

# zoned_write_off_wp_fails INDEX: a write 64 KiB past the write pointer
# of an empty zone fails (the kernel or the device refuses it) and leaves
# the zone empty.
zoned_write_off_wp_fails() {
    local z=$1 off=$(($1 * zs))
    if dd if=/dev/zero of="$dev" bs=4k count=1 seek=$((off / 8 + 16)) oflag=direct status=none 2>/dev/null; then
        fail "a write off the write pointer of zone $z succeeded"
    fi
    echo "ok: a write off the write pointer fails"
    expect "zone $z after the failed write" "$(zone_cond $z)" em
}

# zoned_open_limit MAX FIRST: MAX explicit opens from zone FIRST on succeed,
# one more fails; then a reset of all zones leaves EMPTY sequential zones.
zoned_open_limit() {
    local max=$1 first=$2 i
    blkzone reset "$dev"
    for i in $(seq "$first" $((first + max - 1))); do
        blkzone open --offset $((i * zs)) --count 1 "$dev"
    done
    if blkzone open --offset $(((first + max) * zs)) --count 1 "$dev" 2>/dev/null; then
        fail "explicit open number $((max + 1)) succeeded with max_open_zones=$max"
    fi
    echo "ok: the open zone limit ($max) holds"
    blkzone reset "$dev"
}

# zoned_fio FIO-ARGS...: fio --zonemode=zbd with crc32c verification and no
# I/O errors.
zoned_fio() {
    fio --output-format=terse --terse-version=3 --direct=1 --ioengine=psync \
        --filename="$dev" --zonemode=zbd --max_open_zones=4 \
        --verify=crc32c --do_verify=1 --verify_fatal=1 "$@" >/tmp/fio.out 2>&1 \
        || { cat /tmp/fio.out; fail "fio $*"; }
    # terse v3: field 5 is the error count
    expect "fio $* errors" "$(cut -d';' -f5 /tmp/fio.out | head -1)" 0
}
