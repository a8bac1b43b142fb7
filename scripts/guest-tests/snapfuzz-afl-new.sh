#!/usr/bin/env bash
# snapfuzz-afl.sh with a current afl-fuzz (AFL++ 4.20c or later), which
# speaks the current fork server protocol: QEMU must answer its version
# handshake, announce the coverage window's size as the map size and take
# the test cases from the shared memory afl-fuzz offers, with no fallback
# to the old protocol.  Passes when afl-fuzz's log shows the new protocol
# (version 1, the map size, shared memory test cases, no "old fork server"
# warning) and afl-fuzz finds the example's planted bug.  Skipped (exit 77)
# when there is no such afl-fuzz: Debian 12's is 4.04c.
#   scripts/guest-tests/snapfuzz-afl-new.sh [SECONDS]
# AFL_FUZZ_NEW=path names the afl-fuzz (default build/aflpp-src/afl-fuzz,
# which SNAPFUZZ_FETCH_AFL=1 makes from Debian unstable's afl++ package:
# snapfuzz_fetch_new_afl in snapfuzz-lib.sh);
# QEMU=path overrides the QEMU binary, SNAPFUZZ_SRC the source tree.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../lib.sh"
. "$here/../snapfuzz-lib.sh"
limit=${1:-300}
out="$build_dir/snapfuzz-afl-new"
afl_new=${AFL_FUZZ_NEW:-$build_dir/aflpp-src/afl-fuzz}

if [ ! -x "$afl_new" ] && [ "${SNAPFUZZ_FETCH_AFL:-}" = 1 ] &&
   [ -z "${AFL_FUZZ_NEW:-}" ]; then
    # A fetch that fails (no network, unstable moved on) skips the test.
    (snapfuzz_fetch_new_afl "$build_dir/aflpp-src") \
        || echo "# fetching Debian unstable's afl++ failed"
fi
if [ ! -x "$afl_new" ]; then
    echo "SKIP: no current afl-fuzz at $afl_new (set AFL_FUZZ_NEW to one," \
         "AFL++ 4.20c or later, or SNAPFUZZ_FETCH_AFL=1 to take Debian" \
         "unstable's)"
    exit 77
fi
# "afl-fuzz++5.02c" in colour, and -h exits 1.
version=$({ "$afl_new" -h 2>&1 || true; } | sed 's/\x1b\[[0-9;]*m//g' \
          | sed -n 's/^afl-fuzz++\([0-9][^ ]*\).*/\1/p' | head -n 1)
info "afl-fuzz: $afl_new, version ${version:-unknown}"

# Stop at the first crash.  afl-fuzz 5 takes -D as deprecated, so the time to
# the bug varies more than with 4.04c (7-110 s seen): the limit is longer.
AFL_FUZZ=$afl_new snapfuzz_afl_run "$out" "$limit" AFL_BENCH_UNTIL_CRASH=1 \
    AFL_DEBUG=1
rc=$afl_rc
log="$out/afl.log"
tail -n 15 "$log"
stats="$out/out/default/fuzzer_stats"
[ -f "$stats" ] && grep -E '^(afl_version|execs_done|execs_per_sec|saved_crashes|saved_hangs) ' "$stats"

# The handshake afl-fuzz reports (AFL++'s own wording).
grep -q 'new fork server model v1 is up' "$log" \
    || die "afl-fuzz did not take the current protocol's handshake: $log"
grep -q 'Target map size: 65536' "$log" \
    || die "afl-fuzz got no map size of 65536 from QEMU: $log"
grep -q 'Using SHARED MEMORY FUZZING' "$log" \
    || die "afl-fuzz does not pass test cases in shared memory: $log"
if grep -q -i 'old fork server' "$log"; then
    die "afl-fuzz fell back to the old fork server protocol: $log"
fi
# The option word QEMU sent (AFL_DEBUG): map size and shared memory test
# cases (1 | 2), nothing else.
grep -q 'Forkserver options received: (0x00000003)' "$log" \
    || die "QEMU did not send the options map size and shared memory: $log"
echo "ok: current protocol: version 1, map size 65536, shared memory test cases"

crash=$(find "$out/out/default/crashes" -name 'id:*' 2>/dev/null | head -n 1)
[ -n "$crash" ] || die "afl-fuzz (exit $rc) found no crash in $limit s"
head -c 4 "$crash" | grep -q 'BUG!' || die "the crash $crash is not the planted bug"
echo "ok: afl-fuzz ${version:-} found the planted bug: $(basename "$crash")"
