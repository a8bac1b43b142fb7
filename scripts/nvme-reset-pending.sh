#!/usr/bin/env bash
# A controller reset (CC.EN=0) written right after an admin doorbell, with
# the admin queue's BH still pending (issue 15, nested stop/start).  The
# NVMe command fuzz targets' in-process qtest runs no BH between two
# register writes; their reset records (scripts/fuzz-devices/reproducers/
# */reset-admin-pending: Create I/O SQ rung, then CC.EN=0, then an
# Identify) are replayed with traces.  In the main loop (nvme-zns-cmds)
# the reset deletes the pending BH.  With the I/O queues in an IOThread
# (nvme-iothread-cmds) the reset's nvme_dp_stop() waits for the IOThread
# in aio_poll() of the main context, which runs the main loop's BHs: the
# admin command must not run there, between the reset and the next
# enable, while the IOThread is only half stopped.  Prints TAP.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

"$here/build-fuzz.sh" qemu-fuzz-x86_64 >&2 || die "building qemu-fuzz-x86_64 failed (scripts/build-fuzz.sh)"
fuzz=${BUILD_DIR:-$build_dir/fuzz}/qemu-fuzz-x86_64
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nvme-reset-pending.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

configs=(nvme-zns-cmds nvme-iothread-cmds)
echo "1..${#configs[@]}"
n=0 failed=0
for c in "${configs[@]}"; do
    n=$((n + 1))
    log=$tmp/$c.log
    # ASan's leak check off: this test is about the order of events only
    (cd "$tmp" && ASAN_OPTIONS=detect_leaks=0 \
        QEMU_FUZZ_ARGS="-trace pci_nvme_admin_cmd -trace pci_nvme_mmio_stopped -trace pci_nvme_mmio_start_success" \
        "$fuzz" --fuzz-target="$(device_fuzz_target "$c")" -runs=1 \
        "$here/fuzz-devices/reproducers/$c/reset-admin-pending" >"$log" 2>&1) || {
        failed=1
        echo "not ok $n - $c: the replay failed (log kept: build/nvme-reset-pending.$c.log)"
        cp "$log" "$build_dir/nvme-reset-pending.$c.log"
        continue
    }
    # From the input's reset to the next enable: the admin commands traced
    verdict=$(awk '
        /pci_nvme_mmio_stopped/ { stopped++; inside = 1; next }
        /pci_nvme_mmio_start_success/ { if (inside) restarted++; inside = 0; next }
        /pci_nvme_admin_cmd/ {
            if (inside) nested = nested " " $0
            else if (restarted && /IDENTIFY/) identify++
        }
        END { printf "%d %d %d|%s\n", stopped, restarted, identify, nested }' "$log")
    read -r stopped restarted identify <<<"${verdict%%|*}"
    nested=${verdict#*|}
    if [ "$stopped" -ge 1 ] && [ "$restarted" -ge 1 ] && [ "$identify" -ge 1 ] && [ -z "$nested" ]; then
        echo "ok $n - $c: no admin command ran inside the reset; the controller came back and ran the next one"
    else
        failed=1
        echo "not ok $n - $c: resets $stopped, enables after one $restarted, identifies after $identify"
        [ -z "$nested" ] || echo "# admin command run inside the reset:$nested"
    fi
done
exit "$failed"
