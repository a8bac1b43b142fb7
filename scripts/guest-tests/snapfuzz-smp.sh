#!/usr/bin/env bash
# snapfuzz with two vCPUs, verify=on (every restore must leave all RAM as
# the snapshot had it), 300 inputs in one of the example harness's modes:
#   arg   (default) smp-arg: each input ends with DONE and the input's
#         number as ARG while a second thread, on the other vCPU, writes a
#         bogus ARG whenever it sees DONE running.  The device must take
#         ARG as it was when the command was written (the other vCPU runs
#         until the device pauses them all): no LAST_ARG may differ.
#   copy  smp-copy: a thread on the other vCPU copies a word from one page
#         to another for ever, and every input waits until it has copied
#         the input's number.  That vCPU's state is the same at every
#         restore, so the restore loads none for it and the CPU's own load
#         does not flush its TLB: the restore's own flush must re-arm the
#         dirty tracking of the page it writes, or verify finds the page
#         different from the snapshot's.
#   stop  arg's, 1000 inputs, while the host stops and continues the VM
#         over QMP as fast as QEMU answers.  A command's vCPU must
#         not pause the others itself then: pause_all_vcpus() there and
#         the main loop's, each resuming what the other waits for, hung
#         QEMU (QMP went unanswered) within a few hundred stop/cont pairs.
# Passes when the guest saw all its inputs and no page (and no ARG)
# differed; in stop mode, also when QEMU answered every stop and cont
# within 30 s.
# The guest's root is virtio-9p, idle during inputs (ignore-blockers=on).
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

mode=${1:-arg}
if [ -z "${GUEST_KERNEL_VERSION:-}" ]; then
    here=$(cd "$(dirname "$0")" && pwd)
    . "$here/../lib.sh"
    . "$here/../snapfuzz-lib.sh"
    inputs=300
    case "$mode" in
        arg|copy) ;;
        stop) inputs=1000 ;;
        *) die "usage: $0 [arg|copy|stop]" ;;
    esac
    example=$(snapfuzz_build_example)
    qemu_opt=()
    [ -n "${QEMU:-}" ] && qemu_opt=(--qemu "$QEMU")
    run=("$here/../guest-run" "${qemu_opt[@]}" --mem 256 --smp 2
         --timeout 600 "$0" "$mode" "$example" "$inputs" --
         -device "snapfuzz,verify=on,max-inputs=$inputs,ignore-blockers=on")
    [ "$mode" = stop ] || exec "${run[@]}"

    out="$build_dir/snapfuzz-smp-stop"
    mkdir -p "$out"
    sock="$out/qmp.sock" log="$out/guest.log" pidfile="$out/qemu.pid"
    rm -f "$sock" "$pidfile"
    "${run[@]}" -qmp "unix:$sock,server=on,wait=off" -pidfile "$pidfile" \
        >"$log" 2>&1 &
    guest=$!
    # Stop and continue until the guest has its result (it then waits a
    # little before powering off, so that no command is in flight then).
    rc=0
    # QEMU's own QMP library (guest_qmp.py)
    PYTHONPATH="$src_dir/python:$here" /usr/bin/python3 - "$sock" "$log" <<'PY' || rc=$?
import asyncio, sys, time
from qemu.qmp import QMPError
import guest_qmp

sock_path, log = sys.argv[1], sys.argv[2]
qmp = guest_qmp.connect(sock_path, 30)

pairs = during = 0
try:
    while True:
        text = open(log, errors="replace").read()
        if "arg-mismatches" in text:
            break
        qmp.cmd("stop")
        qmp.cmd("cont")
        pairs += 1
        if "inputs start" in text:
            during += 1
except asyncio.TimeoutError:
    sys.exit("FAIL: QEMU did not answer within 30 s after %d stop/cont "
             "pairs (hung)" % pairs)
except (OSError, QMPError) as e:
    # QEMU exited: the guest's output says why.
    sys.exit("FAIL: QEMU exited before the guest's result (%s)" % e)
print("%d stop/cont pairs answered, %d while inputs ran" % (pairs, during))
if during < 100:
    sys.exit("FAIL: fewer than 100 stop/cont pairs while inputs ran")
PY
    if [ "$rc" != 0 ] && [ -s "$pidfile" ]; then
        kill -KILL "$(cat "$pidfile")" 2>/dev/null || true
    fi
    wait "$guest" || rc=1
    tail -n 5 "$log"
    exit "$rc"
fi

# In the guest.
[ "$(nproc)" -ge 2 ] || { echo "FAIL: the guest has one vCPU"; exit 1; }
harness_mode=smp-$1
[ "$1" = stop ] && harness_mode=smp-arg
echo "snapfuzz-smp: inputs start"
result=$("$2" "$harness_mode")
echo "$result"
case "$1:$result" in
    arg:*"inputs $3 verify-errors 0 "*"arg-mismatches 0"*)
        echo "ok: $3 inputs on two vCPUs, each DONE's ARG kept, RAM restored" ;;
    stop:*"inputs $3 verify-errors 0 "*"arg-mismatches 0"*)
        sleep 3
        echo "ok: $3 inputs on two vCPUs while the VM was stopped and continued" ;;
    copy:*"inputs $3 verify-errors 0 "*)
        echo "ok: $3 inputs, the other vCPU's writes of each taken back" ;;
    *) echo "FAIL: expected $3 inputs, 0 verify errors (and 0 ARG mismatches)"; exit 1 ;;
esac
