#!/usr/bin/env bash
# Export the series for qemu-devel: git format-patch files with a cover letter
# in build/export, checked with the base's scripts/checkpatch.pl (0 errors),
# then applied with git am to a pristine base and built there.
#   EXPORT_BUILD=0 skips the build of the applied series.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/overlay-lib.sh"

[ -d "$src_dir/.git" ] || die "build/src is not assembled; run 'make assemble' first"
require_src_clean "exporting"
out="$build_dir/export"
rm -rf "$out"
mkdir -p "$out"
n=$(git -C "$src_dir" rev-list --count base..HEAD)
[ "$n" -gt 0 ] || die "the series is empty"

git -C "$src_dir" format-patch -q --cover-letter --zero-commit --no-signature \
    --thread=shallow -o "$out" base..HEAD

# The cover letter: subject and story from patches/cover-letter, then
# format-patch's shortlog and diffstat, and the base.
cover=$(ls "$out"/0000-cover-letter.patch)
/usr/bin/python3 - "$cover" "$top/patches/cover-letter" "$base_version" "$base_debian_version" "$base_tarball" "$base_sha256" <<'PY'
import sys
cover, story, ver, dver, tarball, sha = sys.argv[1:]
lines = open(story).read().strip().split("\n")
subject, body = lines[0].strip(), "\n".join(lines[1:]).strip()
body += (f"\n\nBased on QEMU {ver} as released (Debian source package qemu {dver},\n"
         f"{tarball}, sha256 {sha}).")
text = open(cover).read()
text = text.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body)
open(cover, "w").write(text)
PY
info "wrote $n patches and a cover letter to build/export"
patches=()
for p in "$out"/[0-9]*.patch; do
    case "$p" in */0000-cover-letter.patch) ;; *) patches+=("$p") ;; esac
done
[ "${#patches[@]}" = "$n" ] || die "format-patch wrote ${#patches[@]} patches for $n commits"

# checkpatch.pl over every patch (not the cover letter).
errors=0
for p in "${patches[@]}"; do
    res=$(cd "$src_dir" && perl scripts/checkpatch.pl --no-color "$p" 2>&1 || true)
    e=$(printf '%s\n' "$res" | sed -n 's/^total: \([0-9]*\) errors.*/\1/p' | tail -n 1)
    if [ -z "$e" ]; then
        printf '%s\n' "$res"
        die "checkpatch.pl gave no verdict for $(basename "$p")"
    fi
    if [ "$e" != 0 ]; then
        printf '%s\n' "$res"
        info "checkpatch: $e errors in $(basename "$p")"
    fi
    errors=$((errors + e))
done
[ "$errors" = 0 ] || die "checkpatch.pl found $errors errors in the series"
info "checkpatch.pl: 0 errors in $n patches"

# git am on a pristine base.
check="$build_dir/export-check"
rm -rf "$check"
mkdir -p "$check"
tarball=$("$here/fetch-base.sh")
tar -C "$check" --strip-components=1 -xf "$tarball"
(
    cd "$check"
    git init -q -b master
    git add -A -f .
    git -c user.name=export -c user.email=export@localhost commit -q -m "QEMU $base_version"
    git -c user.name=export -c user.email=export@localhost \
        am -q --empty=keep "${patches[@]}"
) || die "the exported series does not apply with git am to a pristine QEMU $base_version (see above)"
if [ "$(git -C "$check" rev-parse 'HEAD^{tree}')" != "$(git -C "$src_dir" rev-parse 'HEAD^{tree}')" ]; then
    git -C "$check" diff --stat HEAD "$(git -C "$src_dir" rev-parse 'HEAD^{tree}')" >&2 || true
    die "the tree after git am differs from build/src"
fi
info "git am: the series applies to a pristine QEMU $base_version and gives build/src"

if [ "${EXPORT_BUILD:-1}" != 0 ]; then
    info "building the applied series in build/export-check/build"
    BUILD_SRC="$check" BUILD_DIR="$check/build" "$here/build.sh" >"$build_dir/export-build.log" 2>&1 \
        || { tail -n 30 "$build_dir/export-build.log" >&2; die "the applied series does not build (log: build/export-build.log)"; }
    info "the applied series builds"
fi
rm -rf "$check"
info "series ready: build/export/*.patch"
