#!/usr/bin/env bash
# TCG with two vCPUs: MMIO reads on one vCPU must reach their device while
# the other vCPU changes the memory map.  A guest with two edu devices runs
# mmio-remap.c: CPU 1 reads the identification register of one edu four
# times a translation block, CPU 0 turns the other edu's memory decoding off
# and on (a new memory map each time, the other edu's BAR below the read
# one's, so the sections after it are renumbered).  Passes when every read
# returned the edu's identification and QEMU did not die.
#   scripts/guest-tests/mmio-remap.sh [SECONDS]     (default 20)
# QEMU=path overrides the QEMU binary.
set -euo pipefail

if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    out="$build_dir/mmio-remap"
    mkdir -p "$out"
    # Guest tests run in parallel: build aside, then rename into place.
    gcc -O2 -Wall -pthread -o "$out/mmio-remap.$$" "$here/mmio-remap.c" \
        || die "building mmio-remap failed"
    mv -f "$out/mmio-remap.$$" "$out/mmio-remap"
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    exec "$here/../guest-run" "${qemu_opt[@]}" --mem 256 --smp 2 \
        --timeout 120 "$0" "$out/mmio-remap" "${1:-20}" -- \
        -device edu,addr=0x10 -device edu,addr=0x11
fi

# In the guest.
[ "$(nproc)" -ge 2 ] || { echo "FAIL: the guest has one vCPU"; exit 1; }
edus=()
for d in /sys/bus/pci/devices/*; do
    [ "$(cat "$d/vendor"):$(cat "$d/device")" = 0x1234:0x11e8 ] && edus+=("$d")
done
[ ${#edus[@]} = 2 ] || { echo "FAIL: expected two edu devices, found ${#edus[@]}"; exit 1; }
bar0() { printf '%d' "$(head -n 1 "$1/resource" | cut -d' ' -f1)"; }
# Renumbering only moves the sections above the toggled BAR: read the
# higher one.
if [ "$(bar0 "${edus[0]}")" -gt "$(bar0 "${edus[1]}")" ]; then
    target=${edus[0]} toggle=${edus[1]}
else
    target=${edus[1]} toggle=${edus[0]}
fi
echo "reading $(basename "$target"), toggling $(basename "$toggle")"
if "$1" "$target" "$toggle" "$2"; then
    echo "ok: every MMIO read reached its device while the map changed"
else
    echo "FAIL: MMIO reads went elsewhere while the map changed"
    exit 1
fi
