#!/usr/bin/env bash
# Assemble build/src: the QEMU base as one git commit (tagged "base"), then one
# commit per entry of patches/series, each with the overlay files that
# patches/overlay.map assigns to it.
#
# Re-running is cheap: when nothing in patches/ or the overlay changed, the
# tree is left alone; otherwise the new commits are made in a scratch worktree
# and build/src moves to them with one checkout, so only files whose content
# changed get new timestamps and the QEMU build stays incremental.
# Edits made in build/src must be written back first (scripts/refresh.sh).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/overlay-lib.sh"

export GIT_COMMITTER_NAME="qemu-series assemble" GIT_COMMITTER_EMAIL="assemble@localhost"
export GIT_COMMITTER_DATE="2026-01-01T00:00:00Z"

check_inputs() {
    local p f owner
    [ -f "$top/patches/series" ] || die "patches/series is missing"
    while read -r p; do
        [ -f "$top/patches/$p" ] || die "patches/series names $p, but patches/$p does not exist"
    done < <(series_patches)
    while read -r f; do
        owner=$(overlay_owner "$f")
        [ -n "$owner" ] || die "overlay file $f is not assigned to a patch in patches/overlay.map"
        series_patches | grep -Fx "$owner" >/dev/null \
            || die "patches/overlay.map assigns $f to $owner, which is not in patches/series"
    done < <(overlay_files)
    while read -r f owner; do
        [ -f "$top/$f" ] || die "patches/overlay.map names $f, which does not exist in the project"
    done < <(overlay_map_entries)
}

extract_base() {
    local tarball=$1 tmp
    info "extracting $(basename "$tarball") into build/src"
    tmp=$(mktemp -d "$build_dir/src.XXXXXX")
    tar -C "$tmp" --strip-components=1 -xf "$tarball" \
        || { rm -rf "$tmp"; die "cannot extract $tarball"; }
    (
        cd "$tmp"
        git init -q -b master
        git config core.autocrlf false
        git config user.name "QEMU Storage Series"
        git config user.email "storage-series@example.org"
        git add -A -f .
        GIT_AUTHOR_NAME="QEMU" GIT_AUTHOR_EMAIL="qemu-devel@nongnu.org" \
        GIT_AUTHOR_DATE="$GIT_COMMITTER_DATE" \
            git commit -q -m "QEMU $base_version (Debian qemu $base_debian_version, $base_tarball)"
        git tag base
    ) || { rm -rf "$tmp"; die "cannot make the base commit"; }
    mv "$tmp" "$src_dir"
}

# overlay_initial FILE OWNER OUT: the content FILE had when the commit of
# patch OWNER added it, into OUT: the overlay holds the final content, and
# the later patches that change FILE are taken back out of it, last first.
overlay_initial() {
    local f=$1 owner=$2 out=$3 tmp p after=0 i
    local -a later=()
    while read -r p; do
        if [ "$after" = 1 ] && grep -qxF "diff --git a/$f b/$f" "$top/patches/$p"; then
            later+=("$p")
        fi
        [ "$p" = "$owner" ] && after=1
    done < <(series_patches)
    tmp=$(mktemp -d "$build_dir/overlay.XXXXXX")
    mkdir -p "$tmp/$(dirname "$f")"
    cp -p "$top/$f" "$tmp/$f"
    for ((i = ${#later[@]} - 1; i >= 0; i--)); do
        # GIT_CEILING_DIRECTORIES: apply to $tmp, not to a repository above it
        if ! (cd "$tmp" && GIT_CEILING_DIRECTORIES=$(dirname "$tmp") \
                git apply -R --include="$f" "$top/patches/${later[i]}") >"$tmp.log" 2>&1; then
            {
                echo "${0##*/}: error: overlay file $f does not take back the change of patches/${later[i]}:"
                sed 's/^/    /' "$tmp.log"
            } >&2
            rm -rf "$tmp" "$tmp.log"
            return 1
        fi
    done
    cp -p "$tmp/$f" "$out"
    rm -rf "$tmp" "$tmp.log"
}

# Make the series' commits on top of "base" in a scratch worktree and print
# the resulting commit.
build_commits() {
    local wt=$1 p f n=0
    git -C "$src_dir" worktree add -q --detach "$wt" base
    while read -r p; do
        n=$((n + 1))
        if ! git -C "$wt" am -q --empty=keep --whitespace=nowarn "$top/patches/$p" >"$wt.log" 2>&1; then
            {
                echo "${0##*/}: error: patches/$p does not apply to QEMU $base_version + patches 1..$((n - 1)):"
                sed 's/^/    /' "$wt.log"
            } >&2
            git -C "$wt" am --abort >/dev/null 2>&1 || true
            return 1
        fi
        while read -r f; do
            if git -C "$wt" cat-file -e "HEAD:$f" 2>/dev/null; then
                if git -C "$src_dir" cat-file -e "base:$f" 2>/dev/null; then
                    echo "${0##*/}: error: overlay file $f exists in QEMU $base_version; change it through a patch instead" >&2
                else
                    echo "${0##*/}: error: overlay file $f collides with a file that patches/$p (or an earlier patch) creates" >&2
                fi
                return 1
            fi
            mkdir -p "$wt/$(dirname "$f")"
            overlay_initial "$f" "$p" "$wt/$f" || return 1
            git -C "$wt" add -f "$f"
        done < <(overlay_files_of "$p")
        if ! git -C "$wt" diff --cached --quiet; then
            git -C "$wt" commit -q --amend --no-edit --allow-empty
        fi
    done < <(series_patches)
    git -C "$wt" rev-parse HEAD >"$wt.head"
}

wt=
main() {
    local tarball stamp old_stamp new_head
    check_inputs
    mkdir -p "$build_dir"
    tarball=$("$here/fetch-base.sh")

    if [ -d "$src_dir/.git" ]; then
        require_src_clean "assembling"
    else
        rm -rf "$src_dir"
        extract_base "$tarball"
    fi

    stamp=$(series_stamp)
    old_stamp=$(cat "$src_dir/.git/qemu-series-stamp" 2>/dev/null || true)
    if [ "$stamp" = "$old_stamp" ]; then
        info "build/src is up to date ($(series_patches | wc -l) patches)"
        return 0
    fi

    wt=$(mktemp -d "$build_dir/assemble.XXXXXX")
    rmdir "$wt"
    trap 'git -C "$src_dir" worktree remove --force "$wt" >/dev/null 2>&1 || true; rm -rf "$wt" "$wt.log" "$wt.head"' EXIT
    build_commits "$wt" || die "build/src was left as it was"
    new_head=$(cat "$wt.head")
    git -C "$src_dir" worktree remove --force "$wt"
    # Only files that differ between the old and the new commit are written.
    git -C "$src_dir" checkout -q -B master "$new_head"
    echo "$stamp" >"$src_dir/.git/qemu-series-stamp"
    git -C "$src_dir" rev-parse HEAD >"$src_dir/.git/qemu-series-head"
    info "build/src: QEMU $base_version + $(series_patches | wc -l) patches"
}

main "$@"
