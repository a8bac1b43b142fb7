#!/usr/bin/env bash
# make bench: every benchmark in scripts/bench/, one after the other.  Each
# prints its table (and says what it ran on); results also go to build/bench/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"

mkdir -p "$build_dir/bench"
status=0
for b in "$here"/bench/*.sh; do
    name=$(basename "$b" .sh)
    echo "== $name"
    if ! "$b" | tee "$build_dir/bench/$name.txt"; then
        echo "bench: $name failed" >&2
        status=1
    fi
    echo
done
exit "$status"
