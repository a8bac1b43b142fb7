#!/usr/bin/env bash
# A real target, side by side with native: libxml2 from Debian's source
# package, built once into the cache as a static library instrumented by
# afl-clang-fast, and one xmllint-style harness
# (scripts/bench/snapfuzz-libxml2/harness.c) linked against it twice:
#   snapfuzz  the /init of a Linux guest (q35, TCG, 256 MiB) that takes its
#             inputs from the snapfuzz device; afl-fuzz runs QEMU itself
#             (-device snapfuzz,afl=on), which restores the guest's
#             snapshot for every input (snapfuzz_afl_run)
#   native    a program that parses the file afl-fuzz names (@@), run by
#             afl-fuzz's own fork server (no persistent mode, no deferred
#             start: a fresh process per input)
# Both campaigns start from the same seeds (scripts/bench/snapfuzz-libxml2/
# seeds), without the deterministic stage, with AFL_MAP_SIZE=65536 (the
# device's coverage map), for the same time (SNAPFUZZ_XML_SECONDS, default
# 300), one after the other, each free to use any core (the machine's load
# average is printed at each start and end).  afl-fuzz 4.04c counts that
# time (-V, run_time, the queue's times) from the end of its start: the
# fork server is up and the seeds have run, which for snapfuzz includes the
# guest's boot.  The start is measured and shown apart.
# Prints per campaign executions, executions/s, the host's CPU time per
# execution (with what a fork server's process alone costs here), edges
# found, map coverage, corpus, crashes and hangs, and the time and
# executions each took to first reach the edge count both reached (the
# smaller of the two final counts), with the ratios snapfuzz/native; see
# "Coverage over time" below for how.
# Draws build/bench/snapfuzz-libxml2.png (edges against time and executions).
#   scripts/bench/snapfuzz-libxml2.sh
# QEMU=path overrides the QEMU binary; LIBXML2_SOURCE=DIR a libxml2 source
# tree to build instead of Debian's source package.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
. "$here/lib.sh"
. "$here/snapfuzz-lib.sh"

seconds=${SNAPFUZZ_XML_SECONDS:-300}
qemu=${QEMU:-$qemu_build/qemu-system-x86_64}
bench_src="$here/bench/snapfuzz-libxml2"
work="$build_dir/snapfuzz-libxml2"
native_t=1000   # afl-fuzz's -t (ms) for the native campaign
guest_t=5000    # and for QEMU: snapfuzz_afl_run's default, a TCG guest

case "$seconds" in
    '' | *[!0-9]*) die "SNAPFUZZ_XML_SECONDS=$seconds is not a number of seconds" ;;
esac
[ -x "$qemu" ] || die "$qemu does not exist; build first (make)"
for tool in afl-clang-fast afl-fuzz gcc cpio; do
    command -v "$tool" >/dev/null || die "$tool is missing: scripts/install-deps.sh"
done

# libxml2's configuration, the same for both harnesses: no Python, no zlib,
# no iconv (glibc's iconv loads its converters with dlopen, which a static
# /init in an initramfs cannot; libxml2 then has its own UTF-8/16, Latin-1,
# ASCII and ISO-8859-x converters), no modules (dlopen again), no readline.
# afl-clang-fast defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, with
# which libxml2 seeds its hash tables with 0 instead of random numbers: an
# input's coverage is the same in every run, in both campaigns.
libxml2_configure=(--disable-shared --enable-static --without-python
    --without-zlib --without-iconv --without-modules --without-http
    --without-readline --without-history)

# build_libxml2 TREE: configure and build TREE's libxml2.a (only the library,
# not xmllint or the tests) with afl-clang-fast, CLASSIC instrumentation
# (the one snapfuzz_build_afl_initrd uses: PCGUARD of AFL++ 4.04c has a bug).
build_libxml2() {
    (cd "$1" &&
        export CC=afl-clang-fast CFLAGS=-O2 AFL_QUIET=1 AFL_LLVM_INSTRUMENT=CLASSIC &&
        ./configure "${libxml2_configure[@]}" &&
        make -j"$(nproc)" libxml2.la) >"$1.build.log" 2>&1 ||
        die "building libxml2 in $1 failed (log: $1.build.log)"
    [ -f "$1/.libs/libxml2.a" ] || die "$1 has no .libs/libxml2.a (log: $1.build.log)"
}

# find_orig DIR UPSTREAM: the upstream tarball in DIR (.gz, .xz, ...), if any
find_orig() {
    local f
    for f in "$1/libxml2_$2.orig.tar."*; do
        [ -f "$f" ] && echo "$f" && return 0
    done
    return 0
}

# libxml2_version: the newest version of the source package libxml2 apt
# knows (apt also lists libxml2.9, an older branch, for this name).
libxml2_version() {
    apt-cache showsrc libxml2 2>/dev/null |
        awk '/^Package: / { p = $2 } /^Version: / && p == "libxml2" { print $2 }' |
        sort -V | tail -n 1
}

# libxml2_tree: prints a built libxml2 tree, built once into the cache (or
# again when the source, AFL++ or the configuration changed).
libxml2_tree() {
    local lx_cache=$cache_dir/libxml2 ver upstream fetch dsc orig tree stamp
    if [ -n "${LIBXML2_SOURCE:-}" ]; then
        [ -f "$LIBXML2_SOURCE/configure" ] || die "LIBXML2_SOURCE=$LIBXML2_SOURCE has no configure"
        tree=$work/libxml2
        rm -rf "$tree"
        cp -a "$LIBXML2_SOURCE" "$tree"
        build_libxml2 "$tree"
        echo "$tree"
        return 0
    fi
    lock_dir "$lx_cache" "libxml2 build"
    ver=$(libxml2_version)
    [ -n "$ver" ] || { unstable_deb_src; ver=$(libxml2_version); }
    [ -n "$ver" ] || die "apt knows no source package libxml2: add a deb-src entry for Debian and run again"
    upstream=${ver#*:}
    upstream=${upstream%-*}
    stamp="libxml2 $ver; $(dpkg-query -W -f='afl++ ${Version}' afl++ 2>/dev/null || echo 'afl++ ?'); CLASSIC; ${libxml2_configure[*]}"
    tree=$lx_cache/libxml2-$upstream
    if [ "$(cat "$tree/.bench-stamp" 2>/dev/null || true)" = "$stamp" ] &&
        [ -f "$tree/.libs/libxml2.a" ]; then
        echo "$tree"
        return 0
    fi

    fetch=$lx_cache/src-${ver#*:}
    dsc=$fetch/libxml2_${ver#*:}.dsc
    orig=$(find_orig "$fetch" "$upstream")
    if [ ! -f "$dsc" ] || [ -z "$orig" ]; then
        rm -rf "$fetch"
        mkdir -p "$fetch"
        chmod 0777 "$fetch"   # _apt writes here
        info "downloading Debian source package libxml2 $ver"
        # apt checks what it fetches against the archive's signed lists.
        (cd "$fetch" && apt-get source -q --download-only "libxml2=$ver" >&2) || true
        orig=$(find_orig "$fetch" "$upstream")
        [ -n "$orig" ] || die "could not download Debian source package libxml2 $ver"
    fi
    rm -rf "$tree" "$tree.new"
    if [ -f "$dsc" ]; then
        # Debian's patches applied, as the package is built.  apt checked
        # the files against the archive's signed lists; dpkg-source's own
        # check of the .dsc's signature needs the debian-keyring package
        # and only warns without it: its output goes to a log.
        dpkg-source -x --no-copy "$dsc" "$tree.new" >"$tree.unpack.log" 2>&1 ||
            die "cannot unpack $dsc (log: $tree.unpack.log)"
    else
        # The Debian part may be missing from a mirror: upstream's tarball.
        info "no $dsc: building libxml2's upstream tarball without Debian's patches"
        mkdir -p "$tree.new"
        tar -xf "$orig" -C "$tree.new" --strip-components=1
    fi
    info "building libxml2 $upstream with afl-clang-fast in $tree (a minute or two)"
    build_libxml2 "$tree.new"
    mv "$tree.new.build.log" "$tree.build.log"
    mv "$tree.new" "$tree"
    echo "$stamp" >"$tree/.bench-stamp"
    echo "$tree"
}

mkdir -p "$work/bin" "$build_dir/bench"
lx=$(libxml2_tree)
lx_version=$(sed -n 's/^libxml2 \([^;]*\);.*/\1/p' "$lx/.bench-stamp" 2>/dev/null || true)

# The harness, twice.  Only run_input() and what it calls are instrumented
# in either: main and the code that fetches the input differ between the
# two and are on afl-clang-fast's deny list, so that the two campaigns count
# the same edges (the same libxml2.a, the same harness code).
printf 'fun: main\nfun: read_input\nfun: on_fatal\n' >"$work/bin/deny.txt"
snapfuzz_dir=${SNAPFUZZ_SRC:-$src_dir}/contrib/snapfuzz
[ -f "$snapfuzz_dir/libsnapfuzz.c" ] || snapfuzz_dir="$top/contrib/snapfuzz"
gcc -O2 -Wall -c -o "$work/bin/libsnapfuzz.o" "$snapfuzz_dir/libsnapfuzz.c" ||
    die "building libsnapfuzz failed"
harness() { # harness OUT EXTRA...
    local out=$1
    shift
    AFL_QUIET=1 AFL_LLVM_INSTRUMENT=CLASSIC AFL_LLVM_DENYLIST="$work/bin/deny.txt" \
        afl-clang-fast -O2 -static -Wall -I"$lx/include" -o "$out" \
        "$bench_src/harness.c" "$@" "$lx/.libs/libxml2.a" -lm ||
        die "building the harness ($out) failed"
}
harness "$work/bin/harness-native"
harness "$work/bin/harness-guest" -DSNAPFUZZ_GUEST -I"$snapfuzz_dir" "$work/bin/libsnapfuzz.o"

# afl-fuzz -h exits 1; its first line names the version.
afl_version=$(afl-fuzz -h 2>&1 || true)
afl_version=$(printf '%s\n' "$afl_version" | sed -n '1{s/\x1b\[[0-9;]*m//g; s/ based on.*//; p}')
kvm="KVM not used"
[ -e /dev/kvm ] || kvm="no /dev/kvm"
vm=
grep -qw hypervisor /proc/cpuinfo && vm=", itself a virtual machine (hypervisor flag)"
# What a fork server's process costs here per input (fork, page faults,
# exit), which a snapshot restore does not pay: afl-showmap runs the native
# harness through its fork server on 200 one-byte inputs, which it ignores.
rm -rf "$work/floor"
mkdir -p "$work/floor/in"
for i in $(seq 200); do
    printf x >"$work/floor/in/$i"
done
t0=$(date +%s%N)
AFL_MAP_SIZE=65536 afl-showmap -q -e -i "$work/floor/in" -o "$work/floor/maps" -- \
    "$work/bin/harness-native" @@ >"$work/floor/showmap.log" 2>&1 ||
    die "afl-showmap failed (log: $work/floor/showmap.log)"
floor_ms=$(awk -v a="$t0" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 200 / 1e6 }')
echo "snapfuzz against native afl-fuzz: libxml2 ${lx_version:-?} (xmllint-style harness), $seconds s each, one after the other"
echo "host: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)$vm; $afl_version"
echo "native fork server, an input the harness ignores: $floor_ms ms (afl-showmap, mean of 200): this host's cost of a process"
echo "snapfuzz: $("$qemu" --version | head -n 1), q35 Linux guest under TCG (-accel tcg; $kvm), 1 vCPU, 256 MiB, afl-fuzz -t $guest_t"
echo "native: the same harness as a static program, afl-fuzz's fork server, @@, -t $native_t"

# cpu_mark FILE: bash's times into FILE; its second line is the CPU time
# (user, system) of this script's children that have ended, with theirs:
# afl-fuzz, the fork server and every process it forked, or QEMU.  Run in
# this shell, not in a subshell, which would count only its own children.
cpu_mark() {
    times >"$1"
}

# Native first: a broken harness shows here in seconds.
native_out=$work/native
rm -rf "$native_out"
mkdir -p "$native_out"
load_native="$(cut -d' ' -f1-3 /proc/loadavg)"
info "native campaign, $seconds s (load average $load_native)"
cpu_mark "$work/cpu-native.before"
native_rc=0
(
    # As snapfuzz_afl_run does for QEMU: no sanitizer options afl-fuzz did
    # not set itself, no CPU binding (other work runs here), no UI.
    unset ASAN_OPTIONS MSAN_OPTIONS UBSAN_OPTIONS
    AFL_MAP_SIZE=65536 AFL_NO_UI=1 AFL_SKIP_CPUFREQ=1 AFL_NO_AFFINITY=1 \
        AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
        timeout -k 10 $((seconds + 120)) afl-fuzz -i "$bench_src/seeds" \
        -o "$native_out/out" -t "$native_t" -V "$seconds" -- \
        "$work/bin/harness-native" @@
) >"$native_out/afl.log" 2>&1 || native_rc=$?
cpu_mark "$work/cpu-native.after"
load_native="$load_native -> $(cut -d' ' -f1-3 /proc/loadavg)"

load_guest="$(cut -d' ' -f1-3 /proc/loadavg)"
info "snapfuzz campaign, $seconds s (load average $load_guest)"
# shellcheck disable=SC2034 # read by snapfuzz_afl_run
{
    afl_init="$work/bin/harness-guest"
    afl_seeds="$bench_src/seeds"
    afl_no_det=1
    afl_t=$guest_t
}
cpu_mark "$work/cpu-snapfuzz.before"
QEMU=$qemu snapfuzz_afl_run "$work/snapfuzz" "$seconds"
guest_rc=$afl_rc
cpu_mark "$work/cpu-snapfuzz.after"
load_guest="$load_guest -> $(cut -d' ' -f1-3 /proc/loadavg)"
echo "load average: native $load_native; snapfuzz $load_guest"

failed=0
for c in native snapfuzz; do
    if [ ! -f "$work/$c/out/default/fuzzer_stats" ]; then
        rc=$native_rc
        [ "$c" = native ] || rc=$guest_rc
        echo "$c: afl-fuzz did not start (exit $rc); the end of $work/$c/afl.log:"
        tail -n 15 "$work/$c/afl.log" | sed 's/^/    /'
        failed=1
    fi
done
[ "$failed" = 0 ] || die "a campaign did not start"

# Coverage over time.  afl-fuzz 4.04c writes no plot_data row in a
# campaign's first minute and then one at most every 5 s, so the times come
# from the queue instead: afl-fuzz names every entry with the time (ms
# since its start_time, which is after the guest's boot) and the
# executions at which it was found, and writes an entry for every input
# with an edge not seen before.  Each campaign's queue is run through the native harness
# (afl-showmap, edges without hit counts), which measures both with the
# same binary; the union of the entries found up to a time is the coverage
# at that time.  The seeds count at time 0 in both.
for c in native snapfuzz; do
    rm -rf "$work/$c/maps"
    AFL_MAP_SIZE=65536 afl-showmap -q -e -t "$native_t" -i "$work/$c/out/default/queue" \
        -o "$work/$c/maps" -- "$work/bin/harness-native" @@ >"$work/$c/showmap.log" 2>&1 ||
        die "replaying the $c queue failed (log: $work/$c/showmap.log)"
done

dat="$build_dir/bench/snapfuzz-libxml2.dat"
python3 - "$work" "$dat" <<'EOF'
import os, re, sys, textwrap

work, dat = sys.argv[1:3]
names = ('native', 'snapfuzz')


def stats(c):
    out = {}
    for line in open('%s/%s/out/default/fuzzer_stats' % (work, c)):
        if ':' in line:
            k, v = line.split(':', 1)
            out[k.strip()] = v.strip()
    return out


def series(c):
    """[(seconds, edges, executions)]: the union of the queue's edges."""
    queue = '%s/%s/out/default/queue' % (work, c)
    maps = '%s/%s/maps' % (work, c)
    entries = []
    for name in os.listdir(queue):
        m = re.match(r'id:(\d+),.*time:(\d+),execs:(\d+)', name)
        if m:
            entries.append((int(m.group(1)), int(m.group(2)),
                            int(m.group(3)), name))
    seen, rows = set(), []
    for _, ms, execs, name in sorted(entries):
        try:
            with open(os.path.join(maps, name)) as f:
                seen.update(line.split(':')[0] for line in f if line.strip())
        except FileNotFoundError:
            pass    # the replay timed out: no map
        rows.append((ms / 1000, len(seen), execs))
    return rows


st = {c: stats(c) for c in names}
sr = {c: series(c) for c in names}
# The end of each campaign
for c in names:
    sr[c].append((float(st[c]['run_time']), sr[c][-1][1],
                  int(st[c]['execs_done'])))
target = min(sr[c][-1][1] for c in names)
reach = {c: next(r for r in sr[c] if r[1] >= target) for c in names}

with open(dat, 'w') as f:
    f.write('# target %d\n' % target)
    for c in names:
        f.write('# %s: seconds edges executions\n' % c)
        for t, e, x in sr[c]:
            f.write('%.3f %d %d\n' % (t, e, x))
        f.write('\n\n')


def num(c, key):
    return float(st[c][key].rstrip('%'))


def cpu(c):
    """(user, system) seconds of a campaign: bash's times after - before"""
    def mark(when):
        line = open('%s/cpu-%s.%s' % (work, c, when)).read().splitlines()[1]
        return [int(m) * 60 + float(s)
                for m, s in re.findall(r'(\d+)m([\d.]+)s', line)]
    a, b = mark('after'), mark('before')
    return a[0] - b[0], a[1] - b[1]


rows = []


def row(name, n, s, fmt='%.0f'):
    rows.append((name, fmt % n, fmt % s, '%.3g' % (s / n) if n else '-'))


secs = {c: num(c, 'run_time') for c in names}
execs = {c: num(c, 'execs_done') for c in names}
# From afl-fuzz's first file (cmdline, written before it starts the
# target) to its start_time (whole seconds)
start = {c: max(0.0, num(c, 'start_time') - os.stat(
             '%s/%s/out/default/cmdline' % (work, c)).st_mtime)
         for c in names}
row('start: fork server, seeds (s)', start['native'], start['snapfuzz'], '%.1f')
row('fuzzing time (s)', secs['native'], secs['snapfuzz'])
row('executions', execs['native'], execs['snapfuzz'])
row('executions/s', execs['native'] / secs['native'],
    execs['snapfuzz'] / secs['snapfuzz'], '%.1f')
cpus = {c: cpu(c) for c in names}
row('host CPU per execution (ms)',
    *(1000 * sum(cpus[c]) / execs[c] for c in names), fmt='%.2f')
row('  of it in the kernel (%)',
    *(100 * cpus[c][1] / sum(cpus[c]) for c in names))
row('edges found (afl-fuzz)', num('native', 'edges_found'),
    num('snapfuzz', 'edges_found'))
row('map coverage (bitmap_cvg, %)', num('native', 'bitmap_cvg'),
    num('snapfuzz', 'bitmap_cvg'), '%.2f')
row('edges, queue replayed natively', sr['native'][-1][1],
    sr['snapfuzz'][-1][1])
row('corpus count', num('native', 'corpus_count'),
    num('snapfuzz', 'corpus_count'))
rows.append(('crashes / hangs',
             '%s / %s' % (st['native']['saved_crashes'],
                          st['native']['saved_hangs']),
             '%s / %s' % (st['snapfuzz']['saved_crashes'],
                          st['snapfuzz']['saved_hangs']), '-'))
rows.append(('stability', st['native'].get('stability', '?'),
             st['snapfuzz'].get('stability', '?'), '-'))
row('time to %d edges (s)' % target, reach['native'][0],
    reach['snapfuzz'][0], '%.1f')
row('  the same, start included (s)', start['native'] + reach['native'][0],
    start['snapfuzz'] + reach['snapfuzz'][0], '%.1f')
row('executions to %d edges' % target, reach['native'][2],
    reach['snapfuzz'][2])
# Fuzzing that is only slower finds as much in as many executions.
n = min(sr[c][-1][2] for c in names)
at_n = {c: max(e for _, e, x in sr[c] if x <= n) for c in names}
row('edges after %d executions' % n, at_n['native'], at_n['snapfuzz'])

print('%-32s %14s %14s %16s' % ('', 'native', 'snapfuzz', 'snapfuzz/native'))
for r in rows:
    print('%-32s %14s %14s %16s' % r)
print(textwrap.fill('start: from afl-fuzz writing its cmdline file to its start_time'
      ' (whole seconds: up to 1 s short).  executions/s: over the fuzzing'
      ' time.  Host CPU: user and system time of afl-fuzz and its target'
      ' (the fork server and its children, or QEMU), start included.  %d edges: the smaller of the two replayed final counts; time'
      ' and executions to it: when the first queue entry that took the'
      ' campaign to at least that many was found (the campaign with fewer'
      ' reaches it at its last find).  Edges after %d executions: the smaller'
      ' of the two counts of executions.  One campaign each:'
      ' fuzzing is random, and two runs of one campaign differ in time to'
      ' coverage too.' % (target, n), 79))
EOF

if command -v gnuplot >/dev/null; then
    target=$(sed -n 's/^# target //p' "$dat")
    gnuplot <<PLOT
set terminal png noenhanced size 1200,500
set output "$build_dir/bench/snapfuzz-libxml2.png"
set multiplot layout 1,2 title "libxml2 ${lx_version:-?}, afl-fuzz $seconds s each: snapfuzz (Linux guest, TCG) against native fork server, $(nproc) CPUs"
set key bottom right
set grid
set ylabel "edges (queue replayed natively)"
set xlabel "seconds of fuzzing (each campaign's start left out)"
set arrow from graph 0, first $target to graph 1, first $target nohead dashtype 2
plot "$dat" index 0 using 1:2 with steps lw 2 title "native", \
     "" index 1 using 1:2 with steps lw 2 title "snapfuzz"
set xlabel "executions"
set logscale x
plot "$dat" index 0 using (\$3 > 0 ? \$3 : 1):2 with steps lw 2 title "native", \
     "" index 1 using (\$3 > 0 ? \$3 : 1):2 with steps lw 2 title "snapfuzz"
unset multiplot
PLOT
    echo "plot: build/bench/snapfuzz-libxml2.png; campaigns in ${work#"$top"/}/{native,snapfuzz}"
fi
