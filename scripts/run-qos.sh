#!/usr/bin/env bash
# Run the libqos graph tests (qos-test) whose path matches a regex, as one
# TAP stream on stdout.   scripts/run-qos.sh 'nvme|virtio-blk'
# GLib prints a plan per -p option; each matching path runs on its own and the
# results are numbered as one stream with one plan at the end.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

[ $# -eq 1 ] || die "usage: run-qos.sh PATH-REGEX"
export QTEST_QEMU_BINARY="$qemu_build/qemu-system-x86_64"
paths=$("$qemu_build/tests/qtest/qos-test" -l | grep "^/" | grep -E -- "$1" || true)
[ -n "$paths" ] || die "no qos-test path matches '$1'"
n=0 failed=0
for p in $paths; do
    out=$("$here/run-qtest.sh" tests/qtest/qos-test -p "$p" 2>&1) && rc=0 || rc=$?
    if ! printf '%s\n' "$out" | grep -E '^(not )?ok ' >/dev/null; then
        # No result at all: the test program died before reporting.
        printf '%s\n' "$out" | sed 's/^/# /'
        n=$((n + 1)); failed=1
        echo "not ok $n $p # exited with status $rc before reporting"
        continue
    fi
    while IFS= read -r line; do
        case "$line" in
            "ok "*|"not ok "*)
                n=$((n + 1))
                status=${line%% [0-9]*}
                echo "$status $n ${line#$status [0-9]* }"
                [ "$status" = ok ] || failed=1 ;;
            1..*) ;;
            "Bail out!"*) echo "# $line"; failed=1 ;;
            "#"*) echo "$line" ;;
            *) echo "# $line" ;;  # QEMU's messages are not TAP
        esac
    done <<<"$out"
    [ "$rc" = 0 ] || { [ "$failed" = 1 ] || { n=$((n + 1)); echo "not ok $n $p # exit status $rc"; failed=1; }; }
done
echo "1..$n"
exit "$failed"
