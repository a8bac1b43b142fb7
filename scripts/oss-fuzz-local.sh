#!/usr/bin/env bash
# Run the series' scripts/oss-fuzz/build.sh the way OSS-Fuzz's base-builder
# image runs a project's build, without Docker, then check its $OUT as
# OSS-Fuzz would before it fuzzes: every fuzzer is instrumented, finds its
# shared libraries through $ORIGIN/lib, reads its .options and dictionary,
# and runs on its unpacked seed corpus from a directory that is not the
# build.  Prints TAP.
#   scripts/oss-fuzz-local.sh
# OSS_FUZZ_DIR (default build/oss-fuzz) holds $SRC (a git clone of the
# committed build/src), $WORK and $OUT; the build directories inside the
# clone are kept, so that a second run is incremental.
# OSS_FUZZ_SECONDS (default 10) is the fuzzing time per image target;
# OSS_FUZZ_CHECK_ONLY=1 checks the $OUT of an earlier run without building.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

base=${OSS_FUZZ_DIR:-$build_dir/oss-fuzz}
secs=${OSS_FUZZ_SECONDS:-10}
mkdir -p "$base"
base=$(cd "$base" && pwd)

clang_build_setup
for tool in clang++-14 unzip; do
    command -v "$tool" >/dev/null || die "$tool is missing: run 'make deps'"
done
[ -f /usr/lib/llvm-14/include/c++/v1/vector ] \
    || die "libc++ is missing (OSS-Fuzz compiles C++ with -stdlib=libc++): apt-get install libc++-14-dev libc++abi-14-dev"

export SRC=$base/src WORK=$base/work OUT=$base/out

# $SRC/qemu is what OSS-Fuzz's Dockerfile clones, here the series' commits
oss_fuzz_build() {
    mkdir -p "$SRC" "$WORK"
    if [ ! -d "$SRC/qemu/.git" ]; then
        git clone --quiet "$src_dir" "$SRC/qemu" || die "git clone of $src_dir failed"
    else
        git -C "$SRC/qemu" fetch --quiet origin HEAD \
            && git -C "$SRC/qemu" checkout --quiet --force FETCH_HEAD \
            || die "updating $SRC/qemu from $src_dir failed"
    fi
    rm -rf "$OUT"
    mkdir -p "$OUT"

    # The environment of base-builder's "compile" for SANITIZER=address and
    # FUZZING_ENGINE=libfuzzer (the compiler is Debian's clang-14, not
    # OSS-Fuzz's newer clang)
    export CC=clang-14 CXX=clang++-14
    export SANITIZER=address FUZZING_ENGINE=libfuzzer ARCHITECTURE=x86_64
    export FUZZING_LANGUAGE=c++
    export LIB_FUZZING_ENGINE=-fsanitize=fuzzer
    export CFLAGS="-O1 -fno-omit-frame-pointer -gline-tables-only -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION -fsanitize=address -fsanitize-address-use-after-scope -fsanitize=fuzzer-no-link"
    export CXXFLAGS="$CFLAGS -stdlib=libc++"
    unset GITLAB_CI
    # build.sh runs configure without --python: the image's python3 is the
    # system's, which has Debian's meson (the +ds tarball has no wheels)
    export PATH="/usr/lib/ccache:/usr/bin:$PATH"

    info "running scripts/oss-fuzz/build.sh in $SRC/qemu (log: $log)"
    local rc=0
    (cd "$SRC/qemu" && ./scripts/oss-fuzz/build.sh) >"$log" 2>&1 || rc=$?
    return "$rc"
}

log=$base/build.log
echo "1..4"
if [ "${OSS_FUZZ_CHECK_ONLY:-0}" = 1 ]; then
    echo "ok 1 # SKIP scripts/oss-fuzz/build.sh (OSS_FUZZ_CHECK_ONLY=1)"
elif oss_fuzz_build; then
    echo "ok 1 - scripts/oss-fuzz/build.sh"
else
    echo "not ok 1 - scripts/oss-fuzz/build.sh"
    tail -n 30 "$log" | sed 's/^/# /'
    exit 1
fi

# What the runner image would see: $OUT only, elsewhere; findings are kept
# in $base/artifacts
run=$(mktemp -d "${TMPDIR:-/tmp}/oss-fuzz-run.XXXXXX")
trap 'rm -rf "$run"' EXIT
rm -rf "$base/artifacts"
mkdir -p "$base/artifacts"
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1

# 2: the image targets are all there, instrumented, with their files
fail=
targets=()
for f in "$OUT"/qemu-fuzz-image-target-*; do
    case $f in *.dict|*.options|*.zip) continue ;; esac
    t=${f##*/qemu-fuzz-image-target-}
    targets+=("$t")
    for need in "$f.options" "$f.dict" "${f}_seed_corpus.zip"; do
        [ -s "$need" ] || fail+=" $t: no ${need##*/};"
    done
    # grep -c, not -q: an early exit of grep fails the pipeline (pipefail)
    [ "$(nm "$f" 2>/dev/null | grep -c '__asan_init')" -gt 0 ] || fail+=" $t: no ASan;"
    if [ "$(env -i PATH=/usr/bin:/bin ldd "$f" | grep -c 'not found')" -gt 0 ]; then
        fail+=" $t: unresolved libraries;"
    fi
done
[ ${#targets[@]} -gt 0 ] || fail+=" no qemu-fuzz-image-target-* in \$OUT;"
# The block drivers are instrumented for coverage (the targets are copies
# of one binary): qcow2's open calls the comparison hooks
if [ ${#targets[@]} -gt 0 ]; then
    hooks=$(objdump -d --no-show-raw-insn --disassemble=qcow2_do_open \
            "$OUT/qemu-fuzz-image-target-${targets[0]}" | grep -c '__sanitizer_cov_trace' || true)
    [ "$hooks" -gt 0 ] || fail+=" block/qcow2.c is not instrumented for coverage;"
fi
if [ -z "$fail" ]; then
    echo "ok 2 - \$OUT has ${#targets[@]} image targets, each with .options, .dict, seed corpus and ASan; block/ instrumented ($hooks coverage hooks in qcow2_do_open)"
else
    echo "not ok 2 - \$OUT:$fail"
fi

# 3: each image target replays its seed corpus and fuzzes it for a while,
# with the flags of its .options, run from a directory without the build
bad=
for t in "${targets[@]}"; do
    f=$OUT/qemu-fuzz-image-target-$t
    mkdir -p "$run/$t/seeds" "$run/$t/corpus"
    unzip -q -o "${f}_seed_corpus.zip" -d "$run/$t/seeds"
    mapfile -t opts < <(options_args "$f.options")
    # .options names the dictionary relative to $OUT
    for i in "${!opts[@]}"; do
        case ${opts[$i]} in -dict=*) opts[$i]=-dict=$OUT/${opts[$i]#-dict=} ;; esac
    done
    r=0
    (cd "$run" && "$f" "${opts[@]}" -max_total_time="$secs" -close_fd_mask=3 \
         -artifact_prefix="$base/artifacts/$t-" "$run/$t/corpus" "$run/$t/seeds") \
        >"$run/$t.log" 2>&1 || r=$?
    if [ "$r" != 0 ]; then
        bad+=" $t"
        grep -E -A15 '==[0-9]+==ERROR|runtime error|Assertion' "$run/$t.log" \
            | head -n 30 | sed 's/^/# /' || tail -n 10 "$run/$t.log" | sed 's/^/# /'
    fi
    nseeds=$(find "$run/$t/seeds" -type f | wc -l)
    # libFuzzer's own summary lines: the counters it found, and its last status
    counters=$(sed -n 's/.*INFO: Loaded [0-9]* modules *(\([0-9]*\) inline 8-bit counters).*/\1/p' \
               "$run/$t.log" | head -n 1)
    last=$(grep -E '^#[0-9]+' "$run/$t.log" | tail -n 1 | cut -c1-60)
    echo "# $t: $nseeds seeds, ${counters:-?} coverage counters; $last"
done
if [ -z "$bad" ]; then
    echo "ok 3 - every image target runs its seed corpus and fuzzes ${secs}s from \$OUT"
else
    echo "not ok 3 - image targets failed:$bad"
fi

# 4: the device fuzzers of upstream's part of build.sh still start.  The
# +ds tarball has no firmware (an upstream clone on OSS-Fuzz has pc-bios/):
# give them Debian's SeaBIOS and iPXE ROMs, as build/qemu gets them.
share=$OUT/qemu-bundle/opt/qemu-oss-fuzz/share/qemu
if [ -d "$share" ]; then
    for rom in /usr/share/seabios/*.bin /usr/lib/ipxe/qemu/*.rom; do
        if [ -e "$rom" ] && [ ! -e "$share/${rom##*/}" ]; then
            cp -L "$rom" "$share/"
        fi
    done
fi
dev=$(find "$OUT" -maxdepth 1 -name 'qemu-fuzz-i386-target-generic-fuzz-virtio-blk' | head -n 1)
r=1
if [ -n "$dev" ]; then
    r=0
    (cd "$run" && ASAN_OPTIONS=detect_leaks=0 "$dev" -runs=100 -close_fd_mask=3) \
        >"$run/device.log" 2>&1 || r=$?
fi
ndev=$(find "$OUT" -maxdepth 1 -name 'qemu-fuzz-i386-target-*' | wc -l)
if [ "$r" = 0 ]; then
    echo "ok 4 - $ndev device fuzzers; generic-fuzz-virtio-blk runs 100 inputs"
else
    echo "not ok 4 - device fuzzer generic-fuzz-virtio-blk (of $ndev) did not run"
    tail -n 10 "$run/device.log" 2>/dev/null | sed 's/^/# /' || true
fi
