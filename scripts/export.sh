#!/usr/bin/env bash
# Export the series for qemu-devel: git format-patch files with a cover letter
# in build/export, checked with the base's scripts/checkpatch.pl (0 errors),
# then applied with git am to a pristine base and built there.
#   EXPORT_BUILD=0 skips the build of the applied series.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/overlay-lib.sh"

# The identity of whoever exports: the patches are sent under it, author
# and Signed-off-by alike (the DCO is the sender's to give).  git's own
# rules find it (GIT_AUTHOR_NAME/EMAIL, then git config user.name/email).
ident=$(cd "$top" && git var GIT_AUTHOR_IDENT 2>/dev/null | sed 's/ [0-9]* [-+][0-9]*$//') || ident=
case "$ident" in
    *'<>'* | '' )
        die "no identity to send the series under: set yours with
  git config user.name 'Your Name'; git config user.email you@your.domain" ;;
esac
if ! is_real_identity "$ident"; then
    die "'$ident' is a placeholder, not an identity the patches can be sent under
  (the DCO's Signed-off-by is yours): set yours with
  git config user.name 'Your Name'; git config user.email you@your.domain"
fi

[ -d "$src_dir/.git" ] || die "build/src is not assembled; run 'make assemble' first"
require_src_clean "exporting"
out="$build_dir/export"
rm -rf "$out"
mkdir -p "$out"
n=$(git -C "$src_dir" rev-list --count base..HEAD)
[ "$n" -gt 0 ] || die "the series is empty"

ident_name=${ident% <*}
ident_email=${ident##*<}
ident_email=${ident_email%>}
# Message-Ids are made from the committer address: the exporter's.
git -C "$src_dir" -c user.name="$ident_name" -c user.email="$ident_email" \
    format-patch -q --cover-letter --zero-commit --no-signature \
    --thread=shallow -o "$out" base..HEAD

# Author and Signed-off-by: the series' own placeholder becomes the
# exporter; other trailers (Reported-by, Signed-off-by of others) stay.
placeholder="QEMU Storage Series <storage-series@example.org>"
for p in "$out"/[0-9]*.patch; do
    PH="$placeholder" ID="$ident" /usr/bin/python3 - "$p" <<'PY'
import os, sys
p, ph, ident = sys.argv[1], os.environ["PH"], os.environ["ID"]
text = open(p).read()
head, sep, rest = text.partition("\n\n")
head = head.replace("From: " + ph, "From: " + ident)
rest = rest.replace("Signed-off-by: " + ph, "Signed-off-by: " + ident)
# MAINTAINERS: who sends the series offers to maintain what it adds.
rest = rest.replace("\n+M: " + ph + "\n", "\n+M: " + ident + "\n")
open(p, "w").write(head + sep + rest)
PY
done
if grep -l -i 'example\.org' "$out"/*.patch >&2; then
    die "the exported patches above still name an example.org address"
fi

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
    git config gc.auto 0
    git config maintenance.auto false
    git add -A -f .
    git -c user.name=export -c user.email=export@localhost commit -q -m "QEMU $base_version"
    git -c user.name=export -c user.email=export@localhost \
        am -q --empty=keep "${patches[@]}"
    # Every commit carries the exporter's identity and sign-off.
    bad=$(git log --format='%h %an <%ae>' HEAD~"${#patches[@]}"..HEAD | grep -vF " $ident" || true)
    [ -z "$bad" ] || { printf '%s\n' "$bad" >&2; echo "commits above are not authored by $ident" >&2; exit 1; }
) || die "the exported series does not apply with git am to a pristine QEMU $base_version (see above)"
# The same tree as build/src, but for the maintainer entries of MAINTAINERS.
git -C "$check" fetch -q --no-auto-gc --no-auto-maintenance "$src_dir" HEAD
if ! git -C "$check" diff --quiet HEAD FETCH_HEAD -- . ':!MAINTAINERS' ||
   git -C "$check" diff HEAD FETCH_HEAD -- MAINTAINERS | grep '^[-+][^-+]' | grep -v '^[-+]M: ' >&2; then
    git -C "$check" diff --stat HEAD FETCH_HEAD >&2 || true
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
info "series ready: build/export/*.patch, from $ident"
# How to send it (QEMU's docs/devel/submitting-a-patch.rst): the list, and
# each patch's maintainers and reviewers from the base's get_maintainer.pl.
cat <<SEND
Read build/export/0000-cover-letter.patch, then send the series from build/src:
  cd build/src && git send-email --dry-run --to=qemu-devel@nongnu.org \\
      --cc-cmd='scripts/get_maintainer.pl --noroles --norolestats --nogit --nogit-fallback' \\
      ../export/*.patch
(drop --dry-run to send)
SEND
