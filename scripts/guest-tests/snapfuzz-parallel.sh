#!/usr/bin/env bash
# A parallel campaign: two afl-fuzz instances, -M main and -S second, each
# running its own QEMU with the snapfuzz device, share one output
# directory.  The main instance starts alone and finds the example's first
# edges ('B', 'BU', ...); the second starts later and must take them from
# the main one's queue (entries named "sync:main").  Passes when the
# second instance's queue has such an entry and both ran without error.
#   scripts/guest-tests/snapfuzz-parallel.sh [SECONDS]
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-40}
out="$build_dir/snapfuzz-parallel"
rm -rf "$out"
mkdir -p "$out"

# The main instance runs twice as long; the second starts when it is
# half way.
(
    afl_out="$out/sync" afl_role="-M main" \
        snapfuzz_afl_run "$out/main" $((limit * 2))
    echo "$afl_rc" >"$out/main.rc"
) &
main=$!
sleep "$limit"
afl_out="$out/sync" afl_role="-S second" snapfuzz_afl_run "$out/second" "$limit"
echo "$afl_rc" >"$out/second.rc"
wait "$main" || true
for who in main second; do
    grep -E '^(execs_done|corpus_count) ' "$out/sync/$who/fuzzer_stats" \
        2>/dev/null | sed "s/^/$who: /" || true
    [ "$(cat "$out/$who.rc" 2>/dev/null)" = 0 ] \
        || die "afl-fuzz $who failed: $out/$who/afl.log"
done
synced=$(find "$out/sync/second/queue" -name '*sync:main*' | wc -l)
[ "$synced" -gt 0 ] || die "the second instance took nothing from the main one"
echo "ok: the second instance took $synced inputs from the main one"
