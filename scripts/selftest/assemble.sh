#!/usr/bin/env bash
# Self-test of fetch-base.sh, assemble.sh and refresh.sh: the refusals
# (checksum mismatch, overlay collision, unassigned overlay file, a patch that
# does not apply, unrefreshed edits) each name what is wrong and leave
# build/src as it was; refresh writes edits back.  TAP.
#
# It runs the project's own scripts on a small synthetic base (a tarball of a
# few files, pinned by its checksum in the copy's lib.sh) and a three-patch
# series that refresh.sh itself writes, so it needs neither the QEMU tarball
# nor an assembled tree and takes seconds.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/selftest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
export XDG_CACHE_HOME="$tmp/cache"
p="$tmp/project"
mkdir -p "$p/patches" "$p/build"
cp -r "$top/scripts" "$top/Makefile" "$p/"
printf '/build/\n' >"$p/.gitignore"

# The synthetic base: what assemble.sh extracts (one top directory).
b="$tmp/base/qemu-base"
mkdir -p "$b/block" "$b/docs"
printf 'int null_open(void);\n\nint null_open(void)\n{\n    return 0;\n}\n' >"$b/block/null.c"
printf "block_ss.add(files('null.c'))\n" >"$b/block/meson.build"
printf 'Documentation\n=============\n\nThe index.\n' >"$b/docs/index.rst"
echo "10.2.2" >"$b/VERSION"
tar -C "$tmp/base" -cJf "$tmp/base.tar.xz" qemu-base
sum=$(sha256sum "$tmp/base.tar.xz" | cut -d' ' -f1)
sed -i "s/^base_sha256=.*/base_sha256=$sum/" "$p/scripts/lib.sh"
grep -Fx "base_sha256=$sum" "$p/scripts/lib.sh" >/dev/null \
    || { echo "Bail out! cannot pin the synthetic base in the copy of lib.sh"; exit 1; }
cp "$tmp/base.tar.xz" "$tmp/qemu.tar.xz"
export QEMU_TARBALL="$tmp/qemu.tar.xz"
: >"$p/patches/series"
git -C "$p" init -q && git -C "$p" add -A && git -C "$p" -c user.name=t -c user.email=t@localhost commit -qm project

# An empty series assembles to the base; three commits become the series.
"$p/scripts/assemble.sh" >"$tmp/err" 2>&1 \
    || { echo "Bail out! assemble of the synthetic base failed"; sed 's/^/# /' "$tmp/err"; exit 1; }
s="$p/build/src"
git -C "$s" config user.name "Self Test"
git -C "$s" config user.email "selftest@localhost"
printf '\nint null_close(void)\n{\n    return 0;\n}\n' >>"$s/block/null.c"
git -C "$s" commit -qas -m "block/null: add null_close()" -m "Because a test needs it."
mkdir -p "$s/block" && printf 'int zone(void);\n' >"$s/block/zone.c"
printf "block_ss.add(files('zone.c'))\n" >>"$s/block/meson.build"
git -C "$s" add block/zone.c
git -C "$s" commit -qas -m "block: add zone.c" -m "A new file: it goes to the overlay."
printf '\nMore text.\n' >>"$s/docs/index.rst"
git -C "$s" commit -qas -m "docs: say more" -m "Because the index was short."
"$p/scripts/refresh.sh" >"$tmp/err" 2>&1 \
    || { echo "Bail out! refresh of the synthetic series failed"; sed 's/^/# /' "$tmp/err"; exit 1; }
git -C "$p" add -A && git -C "$p" -c user.name=t -c user.email=t@localhost commit -qm series

n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; sed 's/^/# /' "$tmp/err"; }
# expect_fail DESCRIPTION PATTERN COMMAND...: fails, and says PATTERN.
expect_fail() {
    local d=$1 pat=$2; shift 2
    if "$@" >"$tmp/err" 2>&1; then not_ok "$d (it succeeded)"; return; fi
    if grep -E -- "$pat" "$tmp/err" >/dev/null; then ok "$d"; else not_ok "$d (no message matching '$pat')"; fi
}
expect_ok() {
    local d=$1; shift
    if "$@" >"$tmp/err" 2>&1; then ok "$d"; else not_ok "$d"; fi
}
head_of() { git -C "$p/build/src" rev-parse HEAD; }
h0=$(head_of)
first=$(sed -e 's/#.*//' -e '/^$/d' "$p/patches/series" | head -n 1)

expect_ok "assemble of an unchanged project succeeds" "$p/scripts/assemble.sh"
grep -F "up to date" "$tmp/err" >/dev/null && ok "... and does nothing" || not_ok "assemble rebuilt an unchanged tree"

echo "not a tarball" >"$tmp/fake.tar.xz"
expect_fail "fetch-base refuses a tarball with the wrong checksum" \
    "checksum mismatch" \
    env QEMU_TARBALL="$tmp/fake.tar.xz" "$p/scripts/fetch-base.sh"

mkdir -p "$p/block"
echo "/* collides */" >"$p/block/null.c"
echo "block/null.c $first" >>"$p/patches/overlay.map"
expect_fail "an overlay file that exists in the base is refused, by name" \
    "overlay file block/null.c exists in QEMU" "$p/scripts/assemble.sh"
[ "$(head_of)" = "$h0" ] && ok "build/src is left as it was" || not_ok "build/src changed"
rm "$p/block/null.c"
sed -i '/^block\/null.c /d' "$p/patches/overlay.map"

echo "/* new */" >"$p/block/selftest-new.c"
expect_fail "an overlay file no patch claims is refused, by name" \
    "block/selftest-new.c is not assigned" "$p/scripts/assemble.sh"
rm "$p/block/selftest-new.c"

cp "$p/patches/$first" "$tmp/saved.patch"
# Change the first context line of the first hunk.
awk '!done && hunk && /^ / { print " this context line is not in the base"; done = 1; next }
     /^@@ / { hunk = 1 } { print }' "$tmp/saved.patch" >"$p/patches/$first"
expect_fail "a patch that does not apply is named" \
    "patches/$first does not apply" "$p/scripts/assemble.sh"
[ "$(head_of)" = "$h0" ] && ok "build/src is left as it was" || not_ok "build/src changed"
cp "$tmp/saved.patch" "$p/patches/$first"

# Work in build/src, then refresh: an edit to a file of the first patch.
file=$(git -C "$p/build/src" diff-tree --no-commit-id -r --name-only "$(git -C "$p/build/src" rev-list --reverse base..HEAD | head -n 1)" | head -n 1)
later=$(git -C "$p/build/src" diff-tree --no-commit-id -r --name-only HEAD | head -n 1)
echo "# selftest edit" >>"$p/build/src/$file"
expect_fail "assemble refuses to overwrite unrefreshed edits" \
    "uncommitted changes" "$p/scripts/assemble.sh"
before=$(stat -c %Y.%y "$p/build/src/$later")
sleep 1
expect_ok "refresh folds an edit into the patch that touches the file" "$p/scripts/refresh.sh"
grep -F "+# selftest edit" "$p/patches/$first" >/dev/null \
    && ok "the edit is in $first" || not_ok "the edit is not in $first"
[ "$(stat -c %Y.%y "$p/build/src/$later")" = "$before" ] \
    && ok "refresh rewrote no file (the build stays incremental)" \
    || not_ok "refresh rewrote $later"
[ -z "$(git -C "$p/build/src" status --porcelain)" ] \
    && ok "build/src is clean after refresh" || not_ok "build/src is not clean after refresh"

mkdir -p "$p/build/src/docs/devel"
echo "Selftest" >"$p/build/src/docs/devel/selftest-new.rst"
git -C "$p/build/src" add docs/devel/selftest-new.rst
git -C "$p/build/src" commit -q -s -m "docs: add a selftest page" -m "Because the self-test says so."
expect_ok "refresh turns a new commit into a patch" "$p/scripts/refresh.sh"
last=$(sed -e 's/#.*//' -e '/^$/d' "$p/patches/series" | tail -n 1)
case "$last" in *-docs-add-a-selftest-page.patch) ok "the new patch is last in patches/series" ;; *) not_ok "patches/series ends with $last" ;; esac
[ -f "$p/docs/devel/selftest-new.rst" ] && grep -Fx "docs/devel/selftest-new.rst $last" "$p/patches/overlay.map" >/dev/null \
    && ok "the new file is in the overlay, assigned to its patch" || not_ok "the new file is not in the overlay map"
grep -F "selftest-new.rst" "$p/patches/$last" >/dev/null \
    && not_ok "the overlay file is also in the patch" || ok "the overlay file is not in the patch"
expect_ok "assemble after refresh has nothing to do" "$p/scripts/assemble.sh"
grep -F "up to date" "$tmp/err" >/dev/null && ok "... and says so" || not_ok "assemble rebuilt the tree"

# A later commit grows the file that an earlier one added: the overlay holds
# the final file, the change stays in the later patch.
printf 'int zone_reset(void);\n' >>"$p/build/src/block/zone.c"
git -C "$p/build/src" commit -qas -m "block/zone: add zone_reset()" -m "A step of its own."
expect_ok "refresh of a commit that changes an overlay file" "$p/scripts/refresh.sh"
zpatch=$(sed -e 's/#.*//' -e '/^$/d' "$p/patches/series" | tail -n 1)
grep -Fx "+int zone_reset(void);" "$p/patches/$zpatch" >/dev/null \
    && ok "the change to the overlay file is in its own patch" || not_ok "the change is not in $zpatch"
grep -Fx "int zone_reset(void);" "$p/block/zone.c" >/dev/null \
    && ok "the overlay file holds the final content" || not_ok "the overlay file is not final"

trees=$(git -C "$p/build/src" log --format=%T base..HEAD)
rm -rf "$p/build/src"
expect_ok "assemble from scratch succeeds" "$p/scripts/assemble.sh"
[ "$(git -C "$p/build/src" log --format=%T base..HEAD)" = "$trees" ] \
    && ok "... and gives every commit the tree that refresh left" || not_ok "a fresh assemble gives other trees"
[ "$(git -C "$p/build/src" rev-list --count base..HEAD)" = 5 ] \
    && ok "... with one commit a patch" || not_ok "a fresh assemble has the wrong number of commits"

echo "1..$n"
exit "$failed"
