#!/usr/bin/env bash
# Run every test suite registered in meson.build (qtest, iotests, guest) with
# meson test, then print one line: "N passed, N failed" (", N skipped").
# A TAP test counts each of its cases; any other test counts once.
#   scripts/check.sh [meson test arguments, e.g. --suite guest]
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

project_build="$build_dir/project"
if [ ! -f "$project_build/build.ninja" ]; then
    /usr/bin/meson setup "$project_build" "$top" >/dev/null || die "meson setup of the test suites failed"
fi
# The fuzz suite's tests each build what they run in the one clang tree
# (build/fuzz).  Build all of it once here, before meson test starts them in
# parallel: a cold tree is then built outside the tests' timeouts, and not by
# two tests at once (build-fuzz.sh also waits for a build in progress).  A
# failure here is left to those tests to report.
if [ $# = 0 ] || [[ " $* " == *fuzz* ]]; then
    "$here/build-fuzz.sh" qemu-img qemu-io tests/image-fuzz/qemu-fuzz-image \
        tests/image-fuzz/seeds.stamp qemu-fuzz-x86_64 \
        || info "building build/fuzz failed; the fuzz suite's tests will say so"
fi
# The same for fio (its t/zbd suite), which the guest suite's fio-zbd tests
# run: fetched and built once, outside their timeouts.
if [ $# = 0 ] || [[ " $* " == *guest* ]] || [[ " $* " == *fio-zbd* ]]; then
    "$here/fio-source.sh" >/dev/null \
        || info "fetching or building fio failed; the fio-zbd tests will say so"
fi
log="$project_build/meson-logs/testlog.json"
rm -f "$log"
set +e
/usr/bin/meson test -C "$project_build" --print-errorlogs \
    --num-processes "${CHECK_JOBS:-$(nproc)}" "$@"
rc=$?
set -e
[ -f "$log" ] || { echo "0 passed, 1 failed"; die "meson test wrote no results"; }
set +e
/usr/bin/python3 - "$log" <<'PY'
import json, re, sys
passed = failed = skipped = 0
bad = []
for line in open(sys.argv[1]):
    t = json.loads(line)
    res = t.get("result")
    cases = re.findall(r"^(ok|not ok)\b([^\n]*)", t.get("stdout") or "", re.M)
    for status, rest in cases:
        if re.search(r"#\s*skip", rest, re.I):
            skipped += 1
        elif status == "ok":
            passed += 1
        else:
            failed += 1
            bad.append(t["name"] + ": " + rest.strip())
    if res in ("OK", "EXPECTEDFAIL"):
        passed += 0 if cases else 1
    elif res == "SKIP":
        skipped += 0 if cases else 1
    elif not any(status == "not ok" for status, _ in cases):
        failed += 1            # failed without a case saying so: crash, timeout
        bad.append(t["name"] + ": " + str(res))
for b in bad:
    print("FAILED " + b)
line = f"{passed} passed, {failed} failed"
if skipped:
    line += f", {skipped} skipped"
print(line)
sys.exit(1 if failed else 0)
PY
prc=$?
[ "$rc" = 0 ] && [ "$prc" = 0 ]
