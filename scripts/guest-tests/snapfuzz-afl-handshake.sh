#!/usr/bin/env bash
# The AFL++ fork server's handshake, word by word, without afl-fuzz: a
# small client (Python, below) plays afl-fuzz for QEMU (-device
# snapfuzz,afl=on) running the example harness in a Linux guest, as
# snapfuzz-afl.sh does, in four conversations:
#  new  the current protocol (afl-fuzz 4.20c+, LibAFL's forkserver
#       executor): QEMU's hello 0x41464c01, the client's complement, then
#       options 0x3 (map size, shared memory test cases), map size 65536
#       (AFL_MAP_SIZE, in a segment 12 bytes longer as afl-fuzz 5 makes
#       it) and the hello again.  Test cases come from __AFL_SHM_FUZZ_ID's
#       memory, not from standard input (which holds "BUG!"): "AAAA" must
#       end with exit 0 and leave coverage, "BUG!" must be a SIGSEGV.
#  new-stdin  the same without __AFL_SHM_FUZZ_ID (an afl-fuzz that cannot
#       share test cases): options 0x1, the test case from standard input.
#  old  an afl-fuzz before 4.20c, which answers the hello with its first
#       go (0): QEMU must take it as such and read the test case from its
#       standard input ("BUG!": SIGSEGV).
#  bad  an answer that is neither (0x12345678): QEMU must exit with status
#       1 and say so.
#   scripts/guest-tests/snapfuzz-afl-handshake.sh
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
out="$build_dir/snapfuzz-afl-handshake"
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}

[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
kdir=$("$top/scripts/guest-kernel.sh")
qdir=$(dirname "$qemu")
rm -rf "$out"
mkdir -p "$out"
snapfuzz_build_afl_initrd "$out"
printf 'BUG!' >"$out/stdin"

qemu_cmd=("$qemu" -machine q35 -accel tcg -cpu max -m 256
    -L "$qdir/pc-bios/optionrom" -L "$qemu_build/pc-bios/optionrom"
    -L /usr/share/seabios -L "$qdir/pc-bios" -nodefaults
    -display none -no-reboot -kernel "$kdir/vmlinuz" -initrd "$out/initrd"
    -append "quiet panic=-1" -device "snapfuzz,afl=on")

for mode in new new-stdin old bad; do
    /usr/bin/python3 - "$mode" "$out" "${qemu_cmd[@]}" <<'PY' \
        || die "the '$mode' conversation failed (QEMU's messages: $out/$mode.err)"
import ctypes, os, select, signal, struct, subprocess, sys

mode, out, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
HELLO = 0x41464C01
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]


def fail(msg):
    print(f"{mode}: {msg}", file=sys.stderr)
    sys.exit(1)


def shm(size):
    sid = libc.shmget(0, size, 0o1600)      # IPC_PRIVATE, IPC_CREAT | 0600
    if sid < 0:
        fail(f"shmget: {os.strerror(ctypes.get_errno())}")
    addr = libc.shmat(sid, None, 0)
    libc.shmctl(sid, 0, None)               # IPC_RMID once all detach
    return sid, addr


cov_id, cov = shm(65536 + 12)
tc_id, tc = shm(1024 * 1024 + 4)
env = dict(os.environ, __AFL_SHM_ID=str(cov_id), AFL_MAP_SIZE="65536",
           __AFL_SHM_FUZZ_ID=str(tc_id))
env.pop("AFL_OLD_FORKSERVER", None)
if mode == "new-stdin":
    del env["__AFL_SHM_FUZZ_ID"]

ctl_r, ctl_w = os.pipe()
st_r, st_w = os.pipe()
os.dup2(ctl_r, 198)
os.dup2(st_w, 199)
with open(f"{out}/stdin", "rb") as stdin, open(f"{out}/{mode}.err", "w") as err:
    qemu = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.DEVNULL,
                            stderr=err, env=env, pass_fds=(198, 199))
for fd in (198, 199, ctl_r, st_w):
    os.close(fd)


def read4(timeout):
    if not select.select([st_r], [], [], timeout)[0]:
        fail(f"nothing from QEMU in {timeout} s")
    data = b""
    while len(data) < 4:
        chunk = os.read(st_r, 4 - len(data))
        if not chunk:
            fail("QEMU closed the status pipe")
        data += chunk
    return struct.unpack("=I", data)[0]


def write4(value):
    os.write(ctl_w, struct.pack("=I", value))


def run(testcase, want):
    """One input: the test case in shared memory, the go, pid, status."""
    ctypes.memmove(tc, struct.pack("=I", len(testcase)), 4)
    ctypes.memmove(tc + 4, testcase, len(testcase))
    write4(0)
    status = next_status()
    check(testcase, status, want)


def next_status():
    pid = read4(30)
    try:
        if pid <= 0 or pid > 0x7FFFFFFF:
            raise ProcessLookupError
        os.kill(pid, 0)
    except ProcessLookupError:
        fail(f"QEMU gave no live pid but {pid}")
    return read4(30)


def check(testcase, status, want):
    got = ("crash" if os.WIFSIGNALED(status) and
           os.WTERMSIG(status) == signal.SIGSEGV else
           "done" if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
           else f"status {status:#x}")
    if got != want:
        fail(f"{testcase!r} ended as {got}, not {want}")
    print(f"{mode}: {testcase!r}: {got}")


def acknowledge(options):
    """Acknowledge the hello; expect these options, the map size and
    the hello again"""
    write4(HELLO ^ 0xFFFFFFFF)
    words = [read4(10) for _ in range(3)]
    if words != [options, 65536, HELLO]:
        fail("options, map size, hello: " +
             ", ".join(f"{w:#x}" for w in words))
    print(f"{mode}: options {options:#x}, map size 65536, hello again")


try:
    hello = read4(180)                      # the guest boots first
    if hello != HELLO:
        fail(f"hello {hello:#010x}, not {HELLO:#010x}")
    if mode == "new":
        acknowledge(0x3)
        run(b"AAAA", "done")
        if not any(ctypes.string_at(cov, 65536)):
            fail("no coverage in the map")
        run(b"BUG!", "crash")
        run(b"AAAA", "done")
    elif mode == "new-stdin":
        acknowledge(0x1)
        write4(0)
        check(b"BUG! (standard input)", next_status(), "crash")
    elif mode == "old":
        write4(0)                           # the first go, no acknowledgement
        check(b"BUG! (standard input)", next_status(), "crash")
    else:
        write4(0x12345678)
        try:
            rc = qemu.wait(30)
        except subprocess.TimeoutExpired:
            fail("QEMU is still running after a bad answer to its hello")
        msg = open(f"{out}/{mode}.err").read()
        if rc != 1 or "answered the hello with 0x12345678" not in msg:
            fail(f"exit status {rc}, messages: {msg!r}")
        print(f"{mode}: QEMU exited with status 1: {msg.strip()}")
finally:
    if qemu.poll() is None:
        qemu.kill()
    qemu.wait()
PY
done
echo "ok: the current handshake, an old afl-fuzz's and a bad answer"
