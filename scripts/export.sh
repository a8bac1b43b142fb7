#!/usr/bin/env bash
# Export the series for qemu-devel: one series a topic (patches/topics), each
# as git format-patch files with its cover letter (patches/cover/TOPIC) and its
# recipients from the base's scripts/get_maintainer.pl, in build/export/NN-TOPIC;
# checked with the base's scripts/checkpatch.pl (0 errors) and for commit
# messages wrapped within 76 columns, applied in order
# with git am to a pristine base and built there, and tried with
# git send-email --dry-run.  EXPORT_BUILD=0 skips the build.
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
placeholder="QEMU Storage Series <storage-series@example.org>"

# The topics (patches/topics): name, stable flag and the subject of each
# topic's first patch, in order; each runs to the next one's first patch.
mapfile -t commits < <(git -C "$src_dir" rev-list --reverse base..HEAD)
mapfile -t subjects < <(git -C "$src_dir" log --reverse --format=%s base..HEAD)
topic_names=() topic_stable=() topic_first=()
while read -r name stable subject; do
    case "$name" in ''|'#'*) continue ;; esac
    first=
    for i in "${!subjects[@]}"; do
        [ "${subjects[$i]}" = "$subject" ] && { first=$i; break; }
    done
    [ -n "$first" ] || die "patches/topics: topic $name starts at \"$subject\", which is no patch of the series"
    topic_names+=("$name") topic_stable+=("$stable") topic_first+=("$first")
done <"$top/patches/topics"
nt=${#topic_names[@]}
[ "$nt" -gt 0 ] || die "patches/topics names no topic"
[ "${topic_first[0]}" = 0 ] || die "patches/topics: the first topic must start at the first patch"
for ((t = 1; t < nt; t++)); do
    [ "${topic_first[$t]}" -gt "${topic_first[$((t - 1))]}" ] \
        || die "patches/topics: topic ${topic_names[$t]} does not start after ${topic_names[$((t - 1))]}"
done
for t in "${topic_names[@]}"; do
    [ -f "$top/patches/cover/$t" ] || die "no cover letter patches/cover/$t for topic $t"
done

# recipients PATCH...: "to" and "cc" lines from the base's get_maintainer.pl:
# maintainers and lists To, reviewers Cc; the series' own placeholder
# entries (the sender, once exported) are left out.
recipients() {
    (cd "$src_dir" && perl scripts/get_maintainer.pl --nogit --nogit-fallback "$@") |
        PH="$placeholder" /usr/bin/python3 -c '
import os, re, sys
to, cc = [], []
for line in sys.stdin:
    m = re.match(r"(.*?) \((.*)\)$", line.strip())
    if not m:
        continue
    who, roles = m.group(1), m.group(2)
    if who == os.environ["PH"] or "example.org" in who:
        continue
    dest = cc if roles.startswith("reviewer") else to
    if who not in to and who not in cc:
        dest.append(who)
for who in cc[:]:
    if who in to:
        cc.remove(who)
print("to", ", ".join(to))
print("cc", ", ".join(cc))
'
}

declare -a series_dirs=()
prev_msgid=
all_patches=()
for ((t = 0; t < nt; t++)); do
    name=${topic_names[$t]}
    a=${topic_first[$t]}
    if [ $((t + 1)) -lt "$nt" ]; then b=$((topic_first[t + 1] - 1)); else b=$((n - 1)); fi
    dir=$out/$(printf '%02d' $((t + 1)))-$name
    series_dirs+=("$dir")
    # Message-Ids are made from the committer address: the exporter's.
    git -C "$src_dir" -c user.name="$ident_name" -c user.email="$ident_email" \
        format-patch -q --cover-letter --zero-commit --no-signature \
        --thread=shallow -o "$dir" "${commits[$a]}^..${commits[$b]}"
    # Author and Signed-off-by: the series' own placeholder becomes the
    # exporter; other trailers (Reported-by, Signed-off-by of others) stay.
    for p in "$dir"/[0-9]*.patch; do
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
    cover=$dir/0000-cover-letter.patch
    mapfile -t tp < <(ls "$dir"/[0-9]*.patch | grep -v '/0000-cover-letter\.patch$')
    all_patches+=("${tp[@]}")
    rcpt=$(recipients "${tp[@]}")
    to=$(sed -n 's/^to //p' <<<"$rcpt")
    cc=$(sed -n 's/^cc //p' <<<"$rcpt")
    if [ "${topic_stable[$t]}" = stable ]; then
        cc=${cc:+$cc, }qemu-stable@nongnu.org
    fi
    # The cover letter: subject and text from patches/cover/NAME, where the
    # series stands among the others, Based-on: the one before, the base;
    # then format-patch's shortlog and diffstat.  Every file of the series
    # gets the recipients, so git send-email needs no more arguments.
    list=$(for ((u = 0; u < nt; u++)); do
               mark=' '; [ "$u" = "$t" ] && mark='*'
               printf '  %s %2d. %s\n' "$mark" $((u + 1)) "$(head -n 1 "$top/patches/cover/${topic_names[$u]}")"
           done)
    PREV="$prev_msgid" LIST="$list" NT="$nt" T=$((t + 1)) TO="$to" CC="$cc" \
    /usr/bin/python3 - "$cover" "$top/patches/cover/$name" "$base_version" "$base_debian_version" \
        "$base_tarball" "$base_sha256" "${tp[@]}" <<'PY'
import os, sys
cover, story, ver, dver, tarball, sha = sys.argv[1:7]
patches = sys.argv[7:]
lines = open(story).read().strip().split("\n")
subject, body = lines[0].strip(), "\n".join(lines[1:]).strip()
e = os.environ
tail = []
if e["PREV"]:
    tail.append(f"Based-on: {e['PREV']}")
tail.append(f"\nThis is series {e['T']} of {e['NT']}; they apply to QEMU {ver} in this order,\n"
            f"each on top of the ones before it:\n{e['LIST']}")
tail.append(f"\nTested on QEMU {ver} as released (Debian source package qemu {dver},\n"
            f"{tarball}, sha256 {sha}).")
body = body + "\n\n" + "\n".join(tail)
text = open(cover).read()
text = text.replace("*** SUBJECT HERE ***", subject).replace("*** BLURB HERE ***", body)
def add_rcpt(text):
    head, sep, rest = text.partition("\n\n")
    extra = ""
    if e["TO"]:
        extra += "\nTo: " + e["TO"]
    if e["CC"]:
        extra += "\nCc: " + e["CC"]
    return head + extra + sep + rest
open(cover, "w").write(add_rcpt(text))
for p in patches:
    text = add_rcpt(open(p).read())
    open(p, "w").write(text)
PY
    prev_msgid=$(sed -n 's/^Message-I[Dd]: //p' "$cover" | head -n 1)
    [ -n "$prev_msgid" ] || die "no Message-ID in $cover"
done
if grep -rl -i 'example\.org' "$out" >&2; then
    die "the exported patches above still name an example.org address"
fi
[ "${#all_patches[@]}" = "$n" ] || die "format-patch wrote ${#all_patches[@]} patches for $n commits"
patches=("${all_patches[@]}")
info "wrote $n patches in $nt series, each with a cover letter, to build/export"

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
    printf '%s\n' "$res" | grep '^WARNING' >>"$(dirname "$p").warnings" || true
done
[ "$errors" = 0 ] || die "checkpatch.pl found $errors errors in the series"
info "checkpatch.pl: 0 errors in $n patches"
# Commit messages wrapped for a mail reader, which checkpatch.pl does not
# check: no body line over 76 columns, but for indented quotes (commands,
# their output) and trailers (a Fixes: line names a whole subject).
long=$(git -C "$src_dir" log --reverse --format='%s%n%b%x00' base..HEAD |
    /usr/bin/python3 -c '
import re, sys
for msg in sys.stdin.read().split("\0"):
    subject, _, body = msg.strip("\n").partition("\n")
    for line in body.split("\n"):
        if (len(line) > 76 and not line[:1].isspace() and
                not re.match(r"[A-Z][A-Za-z-]*: ", line)):
            print(f"{subject}: {line}")
')
if [ -n "$long" ]; then
    printf '%s\n' "$long" >&2
    die "commit message lines over 76 columns (above); wrap them at 72"
fi
# Its warnings: each must be of a kind that patches/checkpatch-warnings
# explains; the cover letter of each series names them.
for d in "${series_dirs[@]}"; do
    touch "$d.warnings"
    /usr/bin/python3 - "$d.warnings" "$top/patches/checkpatch-warnings" "$d/0000-cover-letter.patch" <<'PY' \
        || die "checkpatch.pl warnings in $(basename "$d") that patches/checkpatch-warnings does not explain (above)"
import re, sys, textwrap
warnings, known_file, cover = sys.argv[1:]
known = []
for line in open(known_file):
    if line.strip() and not line.startswith("#"):
        rx, reason = line.rstrip("\n").split("|", 1)
        known.append((re.compile(rx), reason))
counts, unknown = {}, []
for w in open(warnings):
    w = w.strip()
    for rx, reason in known:
        if rx.search(w):
            counts[reason] = counts.get(reason, 0) + 1
            break
    else:
        unknown.append(w)
if unknown:
    print("\n".join(unknown), file=sys.stderr)
    sys.exit(1)
total = sum(counts.values())
if total:
    text = (f"checkpatch.pl: 0 errors; {total} warning{'s' if total > 1 else ''}, "
            "of kinds that do not apply here:\n")
    text += "".join(textwrap.fill(f"- {reason} ({n})", 72, subsequent_indent="  ") + "\n"
                    for reason, n in counts.items())
else:
    text = "checkpatch.pl: 0 errors, 0 warnings.\n"
c = open(cover).read()
c = c.replace("\nThis is series ", "\n" + text + "\nThis is series ", 1)
open(cover, "w").write(c)
PY
done

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
info "series ready: ${#series_dirs[@]} series in build/export, from $ident"

# git send-email --dry-run of each series, as it will be sent.
if git send-email --help >/dev/null 2>&1; then
    for d in "${series_dirs[@]}"; do
        if ! (cd "$src_dir" && git send-email --dry-run --confirm=never --quiet \
                  --from="$ident" --suppress-cc=self "$d"/*.patch) >"$d.dry-run" 2>&1; then
            cat "$d.dry-run" >&2
            die "git send-email --dry-run of $(basename "$d") failed (above)"
        fi
    done
    info "git send-email --dry-run: every series goes out (build/export/*.dry-run)"
else
    info "git send-email is not installed (Debian: git-email): the sending commands were not tried"
fi

# How to send them (QEMU's docs/devel/submitting-a-patch.rst): in order,
# each after the one before it is on the list (its Based-on: names it).
echo "Read each cover letter (build/export/NN-TOPIC/0000-cover-letter.patch), then send"
echo "the series in this order; drop --dry-run to send:"
for d in "${series_dirs[@]}"; do
    echo "  git send-email --dry-run --from='$ident' --suppress-cc=self build/export/$(basename "$d")/*.patch"
done
