#!/usr/bin/env bash
# Write the work done in build/src back into the project: one patch in
# patches/ per commit after "base" (patches/series in commit order), and every
# new file below a QEMU directory back into the overlay, assigned in
# patches/overlay.map to the commit that adds it.
#
# Uncommitted changes to files that a commit of the series already touches are
# folded into the last commit that touches them.  Anything else must be
# committed first: a new commit becomes a new patch.  An overlay file holds
# the file's final content; the patch of the commit that adds it leaves it
# out, and a later commit's change to it stays in that commit's patch, so
# that assemble.sh gives every commit the tree it had (it takes the later
# changes back out of the final content to add the file).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/overlay-lib.sh"

export GIT_COMMITTER_NAME="qemu-series refresh" GIT_COMMITTER_EMAIL="refresh@localhost"

[ -d "$src_dir/.git" ] || die "build/src does not exist; run 'make assemble' first"
g() { git -C "$src_dir" "$@"; }

in_base() { g cat-file -e "base:$1" 2>/dev/null; }

# recommit COMMIT TREE PARENT: a copy of COMMIT (message, author, date) with
# another tree and parent; prints the new commit.
recommit() {
    (
        export GIT_AUTHOR_NAME="$(g log -1 --format=%an "$1")"
        export GIT_AUTHOR_EMAIL="$(g log -1 --format=%ae "$1")"
        export GIT_AUTHOR_DATE="$(g log -1 --format=%ad --date=raw "$1")"
        g log -1 --format=%B "$1" | g commit-tree "$2" -p "$3"
    )
}

fold_uncommitted() {
    local untracked f target c first="" tree parent idx mode
    local -A target_of=()
    untracked=$(g ls-files --others --exclude-standard)
    if [ -n "$untracked" ]; then
        die "build/src has new files that no commit holds:
$(printf '    %s\n' $untracked)
  add them to a commit (git -C build/src add FILE; git -C build/src commit [--amend]) and run 'make refresh' again"
    fi
    [ -n "$(g status --porcelain)" ] || return 0
    while read -r f; do
        # The last commit touching the file: no later commit changes it, so
        # the new content can go into that commit and every later one.
        # (For an overlay file only its final content matters anyway.)
        target=$(g log -n 1 --format=%H base..HEAD -- "$f")
        [ -n "$target" ] || die "build/src: $f is changed, but no patch of the series touches it yet;
  commit the change as a new patch (git -C build/src commit -a) and run 'make refresh' again"
        target_of[$f]=$target
        info "folding the change to $f into: $(g log -n 1 --format=%s "$target")"
    done < <(g diff --name-only HEAD)

    # Rewrite the commits from the first target on with commit-tree, never
    # touching the work tree: the files keep their timestamps and the build
    # stays incremental (a rebase would rewrite every file it replays).
    idx=$(mktemp "$build_dir/fold-index.XXXXXX")
    local -A active=()
    for c in $(g rev-list --reverse base..HEAD); do
        for f in "${!target_of[@]}"; do
            [ "${target_of[$f]}" = "$c" ] && active[$f]=1
        done
        if [ -z "$first" ]; then
            [ "${#active[@]}" -gt 0 ] || continue
            first=$c
            parent=$(g rev-parse "$c^")
        fi
        GIT_INDEX_FILE="$idx" g read-tree "$c"
        for f in "${!active[@]}"; do
            if [ -e "$src_dir/$f" ]; then
                mode=100644
                [ -x "$src_dir/$f" ] && mode=100755
                GIT_INDEX_FILE="$idx" g update-index --add --cacheinfo \
                    "$mode,$(g hash-object -w -- "$f"),$f"
            else
                GIT_INDEX_FILE="$idx" g update-index --force-remove -- "$f"
            fi
        done
        tree=$(GIT_INDEX_FILE="$idx" g write-tree)
        parent=$(recommit "$c" "$tree" "$parent")
    done
    rm -f "$idx"
    # Move the branch; the index follows, the work tree already matches.
    g update-ref -m "refresh: fold uncommitted changes" HEAD "$parent"
    g reset -q
}

write_back() {
    local out n=0 c name f owner
    out=$(mktemp -d "$build_dir/refresh.XXXXXX")
    trap 'rm -rf "$out"' RETURN
    mkdir "$out/patches"
    : >"$out/series"
    : >"$out/map"

    # Overlay files: new in the series, below a QEMU directory.
    g diff --name-only --diff-filter=A base HEAD | while read -r f; do
        if is_overlay_path "$f"; then echo "$f"; fi
    done >"$out/overlay"

    # The commit that adds each overlay file (its first one), from one walk
    # of the series: a git log per file and commit took twenty minutes.
    local -A owner_of=() is_overlay=() owned=()
    while read -r f; do
        is_overlay[$f]=1
    done <"$out/overlay"
    local cur=""
    while read -r line; do
        case "$line" in
            commit\ *) cur=${line#commit } ;;
            "") ;;
            *) if [ -n "${is_overlay[$line]:-}" ] &&
                  [ -z "${owner_of[$line]:-}" ]; then
                   owner_of[$line]=$cur
                   owned[$cur]+="$line"$'\n'
               fi ;;
        esac
    done < <(g log --reverse --no-renames --diff-filter=A --format='commit %H' --name-only \
                 base..HEAD)

    # Each commit again, on its own parent, without the overlay files that it
    # adds (they come from the overlay); later changes to them stay in the
    # patches.  One format-patch per commit: a path filter would skip
    # commits that only add overlay files.
    local tree idx="$out/index" names k=0
    for c in $(g rev-list --reverse base..HEAD); do
        k=$((k + 1))
        GIT_INDEX_FILE="$idx" g read-tree "$c"
        printf '%s' "${owned[$c]:-}" | sed '/^$/d' |
            xargs -r -d '\n' env GIT_INDEX_FILE="$idx" git -C "$src_dir" update-index --force-remove --
        tree=$(GIT_INDEX_FILE="$idx" g write-tree)
        g format-patch -q -N --always --zero-commit --no-signature \
            --start-number "$k" -o "$out/patches" -1 "$(recommit "$c" "$tree" "$c^")"
    done
    names=$(cd "$out/patches" && ls)

    local -A name_of=()
    for c in $(g rev-list --reverse base..HEAD); do
        n=$((n + 1))
        name=$(printf '%s\n' "$names" | sed -n "${n}p")
        name_of[$c]=$name
        echo "$name" >>"$out/series"
    done
    for f in "${!owner_of[@]}"; do
        printf '%s %s\n' "$f" "${name_of[${owner_of[$f]}]}" >>"$out/map"
    done

    # Swap in the new patches and overlay files.
    rm -f "$top"/patches/*.patch
    cp "$out"/patches/*.patch "$top/patches/" 2>/dev/null || true
    {
        echo "# Patches on top of QEMU $base_version, in order (written by scripts/refresh.sh)."
        cat "$out/series"
    } >"$top/patches/series"
    {
        echo "# Overlay file, and the patch whose commit adds it (written by scripts/refresh.sh)."
        sort -k2,2 -k1,1 "$out/map"
    } >"$top/patches/overlay.map"
    while read -r f; do
        grep -Fx "$f" "$out/overlay" >/dev/null || { rm -f "$top/$f"; info "removed overlay file $f"; }
    done < <(overlay_files)
    while read -r f; do
        mkdir -p "$top/$(dirname "$f")"
        if ! cmp -s "$src_dir/$f" "$top/$f"; then
            cp -p "$src_dir/$f" "$top/$f"
        fi
        chmod --reference="$src_dir/$f" "$top/$f"
    done <"$out/overlay"
    echo "$n"
}

fold_uncommitted
n=$(write_back)
series_stamp >"$src_dir/.git/qemu-series-stamp"
g rev-parse HEAD >"$src_dir/.git/qemu-series-head"
info "wrote $n patches to patches/ and $(overlay_files | wc -l) overlay files"
