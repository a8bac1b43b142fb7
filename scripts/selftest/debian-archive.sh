#!/usr/bin/env bash
# Self-test of debian_archive (scripts/lib.sh), which install-deps.sh and
# fetch-base.sh use to write apt entries for bookworm-backports and the
# deb-src of unstable: the archive comes from the machine's own sources,
# deb822 or one-line, mirror or proxy, never from an address of the
# project's.  TAP.
set -uo pipefail

. "$(dirname "$0")/../lib.sh"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

n=0 failed=0
# expect DESCRIPTION WANT FILE...: debian_archive bookworm FILE... prints WANT
# (an empty WANT: it fails).
expect() {
    local d=$1 want=$2 got rc
    shift 2
    got=$(debian_archive bookworm "$@" 2>&1)
    rc=$?
    n=$((n + 1))
    if { [ -n "$want" ] && [ $rc = 0 ] && [ "$got" = "$want" ]; } ||
       { [ -z "$want" ] && [ $rc != 0 ]; }; then
        echo "ok $n - $d"
    else
        failed=1
        echo "not ok $n - $d (got '$got', status $rc)"
    fi
}

cat >"$tmp/mirror.sources" <<'S'
Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main

Types: deb-src deb
# a comment
URIs: http://mirror.invalid/debian http://second.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
S
expect "deb822: the stanza of the main suite, its first URI and keyring" \
    "http://mirror.invalid/debian /usr/share/keyrings/debian-archive-keyring.gpg" \
    "$tmp/mirror.sources"

cat >"$tmp/disabled.sources" <<'S'
Enabled: no
Types: deb
URIs: http://off.invalid/debian
Suites: bookworm
Components: main
S
expect "deb822: a disabled stanza is skipped" \
    "http://mirror.invalid/debian /usr/share/keyrings/debian-archive-keyring.gpg" \
    "$tmp/disabled.sources" "$tmp/mirror.sources"

cat >"$tmp/proxy.list" <<'S'
# deb http://commented.invalid/debian bookworm main
deb-src http://src.invalid/debian bookworm main
deb [arch=amd64 signed-by=/etc/apt/keyrings/k.gpg] http://proxy.invalid:3142/debian bookworm main
S
expect "one-line: options, a proxy's port and signed-by" \
    "http://proxy.invalid:3142/debian /etc/apt/keyrings/k.gpg" "$tmp/proxy.list"

printf 'deb http://plain.invalid/debian bookworm main contrib\n' >"$tmp/plain.list"
expect "one-line: no keyring" "http://plain.invalid/debian " "$tmp/plain.list"

printf 'deb http://other.invalid/debian trixie main\n' >"$tmp/other.list"
expect "no entry for the release: a failure, not an address of our own" "" \
    "$tmp/other.list" "$tmp/missing.sources"

echo "1..$n"
exit "$failed"
