# The AFL++ run shared by the snapfuzz guest test and `make demo`; sourced
# after lib.sh, never run.
# shellcheck shell=bash

# snapfuzz_build_afl_initrd OUT [INIT]: builds contrib/snapfuzz's example with
# afl-clang-fast as the /init of an initramfs, OUT/initrd.  SNAPFUZZ_SRC
# overrides the source tree.  INIT, a static binary built elsewhere (another
# harness), is the /init instead of the example.
snapfuzz_build_afl_initrd() {
    local out=$1 init=${2:-}
    local src=${SNAPFUZZ_SRC:-$src_dir}/contrib/snapfuzz

    rm -rf "$out/initramfs"
    mkdir -p "$out/initramfs"/{sys,proc,dev}
    if [ -n "$init" ]; then
        install -m 0755 "$init" "$out/initramfs/init"
        (cd "$out/initramfs" && find . | cpio -o -H newc --quiet) >"$out/initrd"
        return 0
    fi
    command -v afl-clang-fast >/dev/null || die "afl-clang-fast is missing: apt-get install afl++"
    # CLASSIC instrumentation: the default (PCGUARD) of AFL++ 4.04c
    # instruments some selects with a guard index one past its guard array,
    # and the counter it then increments lies outside the map (the example's
    # crash handler faulted on it, which killed the guest's init).
    gcc -O2 -Wall -c -o "$out/libsnapfuzz.o" "$src/libsnapfuzz.c"
    AFL_QUIET=1 AFL_LLVM_INSTRUMENT=CLASSIC afl-clang-fast -O2 -static -Wall \
        -o "$out/initramfs/init" "$src/example.c" "$out/libsnapfuzz.o" \
        || die "building the example with afl-clang-fast failed"
    (cd "$out/initramfs" && find . | cpio -o -H newc --quiet) >"$out/initrd"
}

# snapfuzz_afl_run OUT SECONDS [VAR=VALUE...]
# Builds the example's initramfs in OUT (snapfuzz_build_afl_initrd), then
# lets afl-fuzz run QEMU itself as its target (-device snapfuzz,afl=on) for
# SECONDS, with the extra AFL++ environment given.  afl-fuzz's log goes to
# OUT/afl.log, its findings to OUT/out, its exit status to $afl_rc.
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree,
# AFL_FUZZ=path afl-fuzz (default: the one on PATH, Debian's); afl_t
# (default 5000) is afl-fuzz's -t, afl_device_opts more snapfuzz
# options (",timeout=300"), afl_init_args the example's mode ("fuzz-hang"),
# afl_kernel_args more of the guest kernel's command line ("reboot=t"),
# afl_seeds a directory of seeds (default one, "AAAA"); afl_out an output
# directory shared with other instances (default OUT/out) and afl_role
# their role ("-M main", "-S second"); afl_init a static binary to boot as
# the guest's /init instead of the example, and afl_no_det=1 leaves out
# -D (afl-fuzz's deterministic stage, which the example needs).
snapfuzz_afl_run() {
    local out=$1 limit=$2
    shift 2
    local qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
    local afl_fuzz=${AFL_FUZZ:-afl-fuzz}
    local kdir qdir

    command -v "$afl_fuzz" >/dev/null \
        || die "$afl_fuzz is missing: apt-get install afl++ (or fix AFL_FUZZ)"
    [ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
    kdir=$("$top/scripts/guest-kernel.sh")
    qdir=$(dirname "$qemu")

    rm -rf "$out"
    mkdir -p "$out/in"
    snapfuzz_build_afl_initrd "$out" "${afl_init:-}"
    if [ -n "${afl_seeds:-}" ]; then
        cp "$afl_seeds"/* "$out/in/"
    else
        printf 'AAAA' >"$out/in/seed"
    fi

    afl_rc=0
    (
        # afl-fuzz refuses sanitizer options it did not set (meson test sets
        # ASAN_OPTIONS and friends); this QEMU is not a sanitizer build.
        unset ASAN_OPTIONS MSAN_OPTIONS UBSAN_OPTIONS
        # Ours, not afl-fuzz's: it warns about AFL_* variables it does not know.
        unset AFL_FUZZ
        export AFL_FORKSRV_INIT_TMOUT=120000 AFL_MAP_SIZE=65536 AFL_NO_UI=1 \
               AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 AFL_SKIP_BIN_CHECK=1 \
               AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 "$@"
        # -D: deterministic mutations, whose 8-bit arithmetic reaches each
        # byte of the planted "BUG!" from the seed's 'A'.
        local det=-D
        [ "${afl_no_det:-}" != 1 ] || det=
        # shellcheck disable=SC2086 # afl_role is two words, det none or one
        timeout -k 10 $((limit + 120)) "$afl_fuzz" -i "$out/in" \
            -o "${afl_out:-$out/out}" ${afl_role:-} \
            -t "${afl_t:-5000}" -V "$limit" $det -- \
            "$qemu" -machine q35 -accel tcg -cpu max -m 256 \
            -L "$qdir/pc-bios/optionrom" -L "$qemu_build/pc-bios/optionrom" \
            -L /usr/share/seabios -L "$qdir/pc-bios" -nodefaults \
            -display none -no-reboot -kernel "$kdir/vmlinuz" -initrd "$out/initrd" \
            -append "quiet panic=-1${afl_kernel_args:+ $afl_kernel_args}${afl_init_args:+ -- $afl_init_args}" \
            -device "snapfuzz,afl=on${afl_device_opts:-}"
    ) >"$out/afl.log" 2>&1 || afl_rc=$?
}

# snapfuzz_build_example: builds contrib/snapfuzz's example with plain gcc
# (no AFL++ instrumentation) for the guest tests that run it as a program;
# prints the binary's path.
snapfuzz_build_example() {
    local src=${SNAPFUZZ_SRC:-$src_dir}/contrib/snapfuzz
    local out="$build_dir/snapfuzz-guest"
    mkdir -p "$out"
    # Guest tests run in parallel: build aside, then rename into place.
    gcc -O2 -static -Wall -o "$out/example-plain.$$" "$src/example.c" \
        "$src/libsnapfuzz.c" >&2 || die "building the example harness failed"
    mv -f "$out/example-plain.$$" "$out/example-plain"
    echo "$out/example-plain"
}

# snapfuzz_fetch_new_afl DIR: a current afl-fuzz (AFL++ 4.20c or later) as
# DIR/afl-fuzz, for snapfuzz-afl-new.sh.  Debian 12's is 4.04c, and the
# mirrors do not always keep unstable's source package, so this takes
# unstable's afl++ binary package with the C library and libpython it
# needs (bookworm's are too old) into DIR/sysroot, and DIR/afl-fuzz runs it
# through that C library's loader: nothing is installed, and the targets
# afl-fuzz starts run with the system's libraries.  The packages are
# checked against the archive's signed InRelease, as apt does.
snapfuzz_fetch_new_afl() {
    local dir=$1 uri key lib
    read -r uri key < <(debian_archive) \
        || die "no Debian archive entry in the apt sources to fetch from"
    rm -rf "$dir/debs" "$dir/sysroot"
    mkdir -p "$dir/debs" "$dir/sysroot"
    curl -fsS -o "$dir/InRelease" "$uri/dists/unstable/InRelease" \
        || die "cannot fetch unstable's InRelease from $uri"
    gpgv --keyring "${key:-/usr/share/keyrings/debian-archive-keyring.gpg}" \
        "$dir/InRelease" 2>/dev/null || die "unstable's InRelease: bad signature"
    curl -fsS -o "$dir/Packages.xz" "$uri/dists/unstable/main/binary-amd64/Packages.xz" \
        || die "cannot fetch unstable's package list"
    # The list's hash from InRelease, then each package's from the list.
    /usr/bin/python3 - "$dir" "$uri" <<'PY' || die "fetching unstable's afl++ failed"
import hashlib, lzma, re, subprocess, sys, urllib.request
d, uri = sys.argv[1], sys.argv[2]
def sha256(data):
    return hashlib.sha256(data).hexdigest()
rel = open(f"{d}/InRelease").read()
m = re.search(r"^ ([0-9a-f]{64}) +\d+ main/binary-amd64/Packages\.xz$", rel, re.M)
raw = open(f"{d}/Packages.xz", "rb").read()
if not m or m.group(1) != sha256(raw):
    sys.exit("the package list does not match InRelease")
pkgs = {}
for stanza in lzma.decompress(raw).decode().split("\n\n"):
    f = dict(re.findall(r"^([\w-]+): (.*)$", stanza, re.M))
    if "Package" in f:
        pkgs[f["Package"]] = f
afl = pkgs["afl++"]
python = re.search(r"\b(libpython3\.\d+)\b", afl["Depends"]).group(1)
for name in ("afl++", "libc6", python, "libexpat1"):
    data = urllib.request.urlopen(f"{uri}/{pkgs[name]['Filename']}").read()
    if sha256(data) != pkgs[name]["SHA256"]:
        sys.exit(f"{name}: SHA256 mismatch")
    deb = f"{d}/debs/{name}.deb"
    open(deb, "wb").write(data)
    subprocess.run(["dpkg-deb", "-x", deb, f"{d}/sysroot"], check=True)
print(f"afl++ {afl['Version']} from Debian unstable", file=sys.stderr)
PY
    lib="$dir/sysroot/usr/lib/x86_64-linux-gnu"
    cat >"$dir/afl-fuzz" <<WRAP
#!/bin/sh
# Debian unstable's afl-fuzz with its own C library (snapfuzz_fetch_new_afl).
exec "$lib/ld-linux-x86-64.so.2" --library-path "$lib:/lib/x86_64-linux-gnu" \\
    "$dir/sysroot/usr/bin/afl-fuzz" "\$@"
WRAP
    chmod +x "$dir/afl-fuzz"
}
