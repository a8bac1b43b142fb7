#!/usr/bin/env bash
# A host-managed ZBC disk of 512-byte logical and 4 KiB physical blocks
# (a "512e" SMR disk: Linux's scsi_debug in the guest) under file-posix
# host_device, the one node whose write granularity is coarser than its
# sector: null-co's is always 512 bytes, so only a host disk reaches the
# checks each layer makes against it.
#   - the node: a zone append of 512 bytes is refused (EINVAL) and leaves
#     the zone empty, one of 4 KiB lands at the write pointer, through
#     host_device and through a raw node over it; qemu-img convert -n
#     onto it writes each zone in order up to its last data; qemu-img
#     create and convert without -n reset its first zone instead of
#     writing a zero sector there, and convert the zones holding data;
#   - scsi-hd: physical_block_size=512 is refused at realize with an error
#     that names the drive's 4 KiB; by default it takes the disk's 4 KiB;
#   - nvme-ns zoned.backend=on: logical_block_size=512 is refused at
#     realize, 4096 is taken;
#   - virtio-blk with 512-byte logical blocks: the configuration space's
#     write_granularity is the drive's 4 KiB (read through QEMU's qtest
#     protocol, with ZONED negotiated).
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    # QEMU's python package (the qtest protocol) from the source tree
    exec "$here/../guest-run" --mem 1024 "$0" "$src_dir/python"
fi
pypath=$1

# In the guest.  64 MiB: 16 sequential zones of 4 MiB (8192 sectors): no
# conventional zone, which NVMe ZNS cannot represent.
. "$GUEST_TOP/scripts/guest-tests/zoned-lib.sh"
modprobe sd_mod
modprobe scsi_debug zbc=managed sector_size=512 physblk_exp=3 \
    dev_size_mb=64 zone_size_mb=4 zone_nr_conv=0
disk=""
for i in $(seq 150); do
    for d in /sys/block/sd*; do
        [ -e "$d/device/model" ] && grep -qs scsi_debug "$d/device/model" &&
            disk=$(basename "$d")
    done
    [ -n "$disk" ] && [ -b "/dev/$disk" ] && break
    sleep 0.2
done
[ -n "$disk" ] || fail "scsi_debug made no disk"
dev=/dev/$disk q=/sys/block/$disk/queue zs=8192
expect "zoned model" "$(cat $q/zoned)" host-managed
expect "logical_block_size" "$(cat $q/logical_block_size)" 512
expect "physical_block_size" "$(cat $q/physical_block_size)" 4096
expect "zone_write_granularity" "$(cat $q/zone_write_granularity)" 4096

# The node.  qemu-io prints an error and goes on: check its output.
for opts in "driver=host_device,filename=$dev" \
            "driver=raw,file.driver=host_device,file.filename=$dev"; do
    blkzone reset "$dev"
    out=$("$QEMU_BUILD/qemu-io" --image-opts -n "$opts" \
              -c "zap -p 4M 512" -c "zap -p 8M 4096" 2>&1) || true
    echo "$out"
    grep -q 'zone append failed: Invalid argument' <<<"$out" ||
        fail "$opts: a 512-byte append was not refused"
    grep -q 'the append sector is 0x4000$' <<<"$out" ||
        fail "$opts: a 4 KiB append did not land at zone 2's start"
    expect "$opts: zone 1 after the refused append" "$(zone_cond 1)" em
    expect "$opts: zone 2's write pointer after the append" \
        "$(zone_wp 2)" 8
done
blkzone reset "$dev"

# qemu-img convert onto the disk (-n): zone 1 written up to its data's end,
# the boundary of zones 2 and 3 crossed, zone 5 full; zones that already
# hold data are reset first.
dd if=/dev/urandom of="$dev" bs=64k count=1 seek=$((7 * 64)) oflag=direct status=none
"$QEMU_BUILD/qemu-img" create -q -f raw /tmp/src.raw 64M
"$QEMU_BUILD/qemu-io" -f raw -c "write -P 0x22 5M 1M" -c "write -P 0x33 11M 2M" \
    -c "write -P 0x44 20M 4M" /tmp/src.raw >/dev/null
"$QEMU_BUILD/qemu-img" convert -n -t none -f raw -O raw /tmp/src.raw "$dev" ||
    fail "qemu-img convert onto the disk"
"$QEMU_BUILD/qemu-img" compare -f raw -F raw /tmp/src.raw "$dev" ||
    fail "the disk is not the source after qemu-img convert"
expect "zone 1's write pointer after convert" "$(zone_wp 1)" 4096
expect "zone 2 after convert" "$(zone_cond 2)" fu
expect "zone 3's write pointer after convert" "$(zone_wp 3)" 2048
expect "zone 5 after convert" "$(zone_cond 5)" fu
expect "zone 7 after convert (reset)" "$(zone_cond 7)" em

# Without -n, qemu-img creates the target, which for a host_device means
# opening it and clearing its first sector: a sequential first zone is
# reset instead (a write there would miss its write pointer, or move it),
# and convert resets the zones that hold data as with -n.
blkzone reset -o 0 -c 1 "$dev"
dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct status=none
"$QEMU_BUILD/qemu-img" create -q -f raw "$dev" 64M ||
    fail "qemu-img create on the disk, zone 0 holding data"
expect "zone 0 after qemu-img create" "$(zone_cond 0)" em
"$QEMU_BUILD/qemu-img" create -q -f raw "$dev" 64M ||
    fail "qemu-img create on the disk, zone 0 empty"
expect "zone 0 after qemu-img create of an empty zone" "$(zone_cond 0)" em
dd if=/dev/urandom of="$dev" bs=4k count=1 oflag=direct status=none
"$QEMU_BUILD/qemu-img" convert -t none -f raw -O raw /tmp/src.raw "$dev" ||
    fail "qemu-img convert onto the disk without -n"
"$QEMU_BUILD/qemu-img" compare -f raw -F raw /tmp/src.raw "$dev" ||
    fail "the disk is not the source after qemu-img convert without -n"
expect "zone 1's write pointer after convert without -n" "$(zone_wp 1)" 4096
expect "zone 5 after convert without -n" "$(zone_cond 5)" fu
blkzone reset "$dev"

# run_qemu ARGS...: QEMU realizes the devices and quits (qtest
# accelerator: no guest code runs).  Prints QEMU's output.
run_qemu() {
    timeout 120 "$QEMU_BUILD/qemu-system-x86_64" -accel qtest -display none \
        -nodefaults -M pc -blockdev "host_device,node-name=d,filename=$dev" \
        "$@" -qmp stdio 2>&1 <<'EOF'
{"execute": "qmp_capabilities"}
{"execute": "qom-get", "arguments": {"path": "/machine/peripheral/dut", "property": "physical_block_size"}}
{"execute": "quit"}
EOF
}
refused() { # refused WHAT WANT-ERROR ARGS...
    local what=$1 want=$2 out
    shift 2
    if out=$(run_qemu "$@"); then
        echo "$out"
        fail "$what: QEMU started"
    fi
    grep -qF "$want" <<<"$out" || { echo "$out"; fail "$what: not '$want'"; }
    echo "ok: $what is refused: $(grep -F "$want" <<<"$out")"
}
taken() { # taken WHAT PHYSICAL-BLOCK-SIZE ARGS...
    local what=$1 want=$2 out
    shift 2
    out=$(run_qemu "$@") || { echo "$out"; fail "$what: QEMU failed"; }
    grep -q "\"return\": $want}" <<<"$out" ||
        { echo "$out"; fail "$what: physical_block_size is not $want"; }
    echo "ok: $what is taken (physical_block_size $want)"
}

refused "scsi-hd with 512-byte physical blocks" \
    "drive 'd' takes writes to sequential zones in blocks of 4096 bytes, more than physical_block_size (512)" \
    -device virtio-scsi-pci,id=s -device scsi-hd,id=dut,drive=d,physical_block_size=512
taken "scsi-hd with the disk's block sizes" 4096 \
    -device virtio-scsi-pci,id=s -device scsi-hd,id=dut,drive=d
refused "nvme zoned.backend with 512-byte logical blocks" \
    "zoned.backend=on: drive 'd' takes writes to its sequential zones in blocks of 4096 bytes, more than the logical block size (512 bytes)" \
    -device nvme,id=c,serial=z512e \
    -device nvme-ns,id=dut,bus=c,drive=d,zoned.backend=on,logical_block_size=512
taken "nvme zoned.backend with 4 KiB logical blocks" 4096 \
    -device nvme,id=c,serial=z512e \
    -device nvme-ns,id=dut,bus=c,drive=d,zoned.backend=on,logical_block_size=4096,physical_block_size=4096

# virtio-blk: a legacy virtio-pci function in slot 4 (its I/O BAR holds
# the features and, from offset 20, the configuration space), set up and
# read through the qtest protocol.
PYTHONPATH="$pypath" /usr/bin/python3 - "$QEMU_BUILD/qemu-system-x86_64" "$dev" <<'EOF'
import struct, sys
from qemu.machine.qtest import QEMUQtestMachine

ZONED = 1 << 17
# offsetof(struct virtio_blk_config, zoned): zone_sectors, max_open_zones,
# max_active_zones, max_append_sectors, write_granularity, model.
ZONED_OFF = 0x48

vm = QEMUQtestMachine(sys.argv[1], [
    '-M', 'pc', '-nodefaults', '-display', 'none',
    '-blockdev', f'host_device,node-name=d,filename={sys.argv[2]}',
    '-device', 'virtio-blk-pci,drive=d,addr=4,disable-modern=on,'
               'disable-legacy=off,logical_block_size=512'])
vm.launch()
def pci_cfg(reg):
    vm.qtest(f'outl 0xcf8 {0x80000000 | (4 << 11) | reg:#x}')
pci_cfg(0x10)
vm.qtest('outl 0xcfc 0xc001')           # BAR0: I/O at 0xc000
pci_cfg(0x04)
vm.qtest('outw 0xcfc 0x1')              # I/O space enable
def inl(port):
    return int(vm.qtest(f'inl {port:#x}').split()[1], 16)
host = inl(0xc000)
ok = True
if not host & ZONED:
    print(f'FAIL: virtio-blk does not offer ZONED (features {host:#x})')
    ok = False
vm.qtest(f'outb {0xc000 + 18:#x} 0x3')  # ACKNOWLEDGE | DRIVER
vm.qtest(f'outl {0xc000 + 4:#x} {ZONED:#x}')
cfg = 0xc000 + 20
zone_sectors = inl(cfg + ZONED_OFF)
append_sectors = inl(cfg + ZONED_OFF + 12)
granularity = inl(cfg + ZONED_OFF + 16)
model = inl(cfg + ZONED_OFF + 20) & 0xff
vm.shutdown()
for name, got, want in (('zone_sectors', zone_sectors, 8192),
                        ('max_append_sectors', append_sectors, 8192),
                        ('write_granularity', granularity, 4096),
                        ('model (VIRTIO_BLK_Z_HM)', model, 1)):
    if got != want:
        print(f'FAIL: virtio-blk zoned.{name}: got {got}, want {want}')
        ok = False
    else:
        print(f'ok: virtio-blk zoned.{name} = {got}')
sys.exit(0 if ok else 1)
EOF
echo "ok: all checks passed"
