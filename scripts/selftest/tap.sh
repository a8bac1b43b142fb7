# TAP helpers for the self-tests in this directory; sourced, never run.
# shellcheck shell=bash

# check DESCRIPTION CONDITION: the next TAP line, ok when CONDITION (a shell
# expression, evaluated) holds.
tap_n=0
check() {
    tap_n=$((tap_n + 1))
    if eval "$2"; then echo "ok $tap_n - $1"; else echo "not ok $tap_n - $1"; fi
}
