#!/usr/bin/env bash
# Build every commit of the series on top of its predecessors and run the
# tests that exist at that commit and touch what it changed; report the
# first bad commit.  Incremental: one worktree (build/bisect/src) and one
# build (build/bisect/qemu) move from commit to commit, so a commit costs
# what it changes (ccache serves what build/qemu compiled before).
#   scripts/export-bisect.sh [FIRST [LAST]]   patch numbers, default all
#   KEEP_GOING=1 goes on after a bad commit and lists every one;
#   DRY_RUN=1 only lists each commit's tests.
# Tests per commit, from the paths it changes:
#   hw/nvme, NVMe qtests        nvme-zns-test, nvme-iothread-test, qos /nvme/
#   hw/block/virtio-blk*        qos virtio-blk (the zoned cases among them)
#   hw/scsi, scsi-zbc-test      qos virtio-scsi (ZBC)
#   intel_iommu, virtio.c       intel-iommu-test (devices behind VT-d)
#   virtio-iommu, virtio.c      virtio-iommu-iothread-test
#   amd_iommu, virtio.c         amd-iommu-test
#   system/dma-helpers          nvme-iothread-test (its RAM-only lists)
#   hw/misc/snapfuzz*           snapfuzz-test
#   migration, system/physmem   migration-tcg-ram-blocks-test
#   vmstate, QEMUFile, savevm   the unit test test-vmstate
#   block-backend, zone-emu     the unit tests test-block-backend and
#                               test-zone-emu-iothreads
#   block layer, qemu-io/img    the iotests of meson.build's groups whose
#                               format driver or test files it changes, and
#                               for the generic block layer the zoned groups
#                               and the zoned qos cases
# Only tests that exist at the commit run; one that fails makes it bad.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ -d "$src_dir/.git" ] || die "build/src is not assembled; run 'make assemble' first"
g() { git -C "$src_dir" "$@"; }
mapfile -t commits < <(g rev-list --reverse base..HEAD)
n=${#commits[@]}
[ "$n" -gt 0 ] || die "the series is empty"
first=${1:-1}
last=${2:-$n}
[[ "$first" =~ ^[0-9]+$ && "$last" =~ ^[0-9]+$ && "$first" -ge 1 &&
   "$last" -le "$n" && "$first" -le "$last" ]] ||
    die "usage: export-bisect.sh [FIRST [LAST]] (patch numbers 1..$n)"

bisect_dir="$build_dir/bisect"
wt="$bisect_dir/src"
bq="$bisect_dir/qemu"
mkdir -p "$bisect_dir"
# One bisect at a time: a second one would move the same worktree and
# build under the first (it waits instead).
lock_dir "$bisect_dir" "bisect in $bisect_dir"
if ! git -C "$wt" rev-parse --git-dir >/dev/null 2>&1; then
    g worktree prune
    rm -rf "$wt"
    g worktree add -q --detach "$wt" base >/dev/null || die "cannot add the worktree $wt"
fi

# The iotest groups of meson.build: group name, format option, tests.
iotest_groups=$(/usr/bin/python3 - "$top/meson.build" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
for m in re.finditer(r"'(iotests-[\w-]+)':\s*\[([^\]]*)\]", text):
    items = re.findall(r"'([^']*)'", m.group(2))
    if items and items[0].startswith('-'):
        print(m.group(1), *items)
PY
)

# tests_for COMMIT: the test commands (one a line) for what COMMIT changes.
tests_for() {
    local files f fmt grp rest t want
    files=$(g diff-tree --no-commit-id -r --name-only "$1")
    has() { grep -E "$1" <<<"$files" >/dev/null; }
    if has '^hw/nvme/|^tests/qtest/nvme-'; then
        echo "qtest tests/qtest/nvme-zns-test"
        echo "qtest tests/qtest/nvme-iothread-test"
        echo "qos /nvme/"
    fi
    has '^hw/block/virtio-blk|^include/hw/virtio/virtio-blk|^tests/qtest/virtio-blk' &&
        echo "qos virtio-blk"
    has '^hw/scsi/|^include/scsi/|^scsi/|^tests/qtest/scsi-zbc' && echo "qos virtio-scsi"
    has '^hw/i386/intel_iommu|^include/hw/i386/intel_iommu|^hw/virtio/virtio\.c$|^tests/qtest/(intel-iommu-test|libqos/intel-iommu|libqos/virtio-blk-iothread)' &&
        echo "qtest tests/qtest/intel-iommu-test"
    has '^hw/virtio/virtio-iommu|^include/hw/virtio/virtio-iommu|^hw/virtio/virtio\.c$|^tests/qtest/(virtio-iommu-iothread-test|libqos/virtio-iommu-drv|libqos/virtio-blk-iothread)' &&
        echo "qtest tests/qtest/virtio-iommu-iothread-test"
    has '^hw/i386/amd_iommu|^hw/virtio/virtio\.c$|^tests/qtest/(amd-iommu-test|libqos/amd-iommu|libqos/virtio-blk-iothread)' &&
        echo "qtest tests/qtest/amd-iommu-test"
    if has '^system/dma-helpers|^include/system/dma\.h$' &&
       ! has '^hw/nvme/|^tests/qtest/nvme-'; then
        echo "qtest tests/qtest/nvme-iothread-test"
    fi
    has '^hw/misc/snapfuzz|^tests/qtest/snapfuzz' && echo "qtest tests/qtest/snapfuzz-test"
    has '^migration/|^system/physmem' &&
        echo "qtest tests/qtest/migration-tcg-ram-blocks-test"
    has '^migration/(vmstate|qemu-file|savevm)|^tests/unit/test-vmstate' &&
        echo "qtest tests/unit/test-vmstate"
    has '^block/block-backend\.c$|^tests/unit/test-block-backend' &&
        echo "qtest tests/unit/test-block-backend"
    has '^block/(zone-emu|null)\.c$|^tests/unit/test-zone-emu' &&
        echo "qtest tests/unit/test-zone-emu-iothreads"
    # The generic block layer: the zoned frontends' cases too.
    has '^block\.c$|^block/(io|block-backend)\.c$|^include/block/' &&
        echo "qos zoned|zbc"
    while read -r grp fmt rest; do
        want=
        for t in $rest; do
            has "^tests/qemu-iotests/(tests/)?$t(\.out)?\$" && want=1
        done
        has "^block/${fmt#-}[-.]" && want=1
        if [[ "$grp" == *zoned* ]] &&
           has '^block\.c$|^block/(io|block-backend|null|zone-emu|raw-format|file-posix|blkdebug|throttle|mirror)\.c$|^include/block/|^qemu-io|^qapi/block'; then
            want=1
        fi
        [ -n "$want" ] && echo "iotests $fmt $rest"
    done <<<"$iotest_groups"
    return 0
}

# run_test COMMAND...: one test command in the bisect tree; quiet unless it
# fails.
run_test() {
    local kind=$1 log="$bisect_dir/test.log"
    local in_tree=(env SERIES_SRC_DIR="$wt" SERIES_QEMU_BUILD="$bq")
    shift
    case $kind in
        qtest)
            [ -x "$bq/$1" ] || { info "  ($1 does not exist here)"; return 0; }
            "${in_tree[@]}" "$here/run-qtest.sh" "$@" >"$log" 2>&1 ;;
        qos)
            if ! QTEST_QEMU_BINARY="$bq/qemu-system-x86_64" \
                 "$bq/tests/qtest/qos-test" -l 2>/dev/null | grep '^/' |
                 grep -E -- "$1" >/dev/null; then
                info "  (no qos-test path matches '$1' here)"
                return 0
            fi
            "${in_tree[@]}" "$here/run-qos.sh" "$@" >"$log" 2>&1 ;;
        iotests)
            local fmt=$1 t present=()
            shift
            for t in "$@"; do
                if [ -e "$wt/tests/qemu-iotests/tests/$t" ] ||
                   [ -e "$wt/tests/qemu-iotests/$t" ]; then
                    present+=("$t")
                fi
            done
            [ ${#present[@]} -gt 0 ] || return 0
            set -- "$fmt" "${present[@]}"
            "${in_tree[@]}" "$here/run-iotests.sh" "$@" >"$log" 2>&1 ;;
    esac
    local rc=$?
    if [ $rc != 0 ]; then
        grep -E '^(not ok|Bail out)|ERROR' "$log" | head -20 | sed 's/^/    /' >&2
        return 1
    fi
}

bad=()
for ((i = first; i <= last; i++)); do
    c=${commits[$((i - 1))]}
    subject=$(g log -1 --format=%s "$c")
    if [ "${DRY_RUN:-0}" = 1 ]; then
        printf '%d %s\n' "$i" "$subject"
        tests_for "$c" | sed 's/^/    /'
        continue
    fi
    git -C "$wt" checkout -q --detach "$c" || die "cannot check out $c in $wt"
    result=ok why=
    if ! BUILD_SRC="$wt" BUILD_DIR="$bq" "$here/build.sh" >"$bisect_dir/build.log" 2>&1; then
        grep -E 'error:|FAILED' "$bisect_dir/build.log" | head -10 | sed 's/^/    /' >&2
        result=bad why="build"
    else
        while read -r cmd; do
            [ -n "$cmd" ] || continue
            # shellcheck disable=SC2086
            if ! run_test $cmd; then
                result=bad why="$cmd"
                break
            fi
        done < <(tests_for "$c")
    fi
    if [ "$result" = ok ]; then
        printf 'ok %d %s\n' "$i" "$subject"
    else
        printf 'not ok %d %s (%s)\n' "$i" "$subject" "$why"
        bad+=("$i")
        [ "${KEEP_GOING:-0}" = 1 ] || break
    fi
done
[ "${DRY_RUN:-0}" = 1 ] && exit 0
if [ ${#bad[@]} -gt 0 ]; then
    echo "first bad commit: patch ${bad[0]}: $(g log -1 --format='%h %s' "${commits[$((bad[0] - 1))]}")"
    exit 1
fi
echo "patches $first-$last: every commit builds and passes its tests"
