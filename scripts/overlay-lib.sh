# Helpers shared by assemble.sh, refresh.sh and export.sh; sourced.
# shellcheck shell=bash

# patches/series: one patch file name a line; '#' starts a comment.
series_patches() {
    sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' "$top/patches/series"
}

# patches/overlay.map: "path patch" a line: the overlay file at path (a new
# file, at its QEMU path) is added by the commit of that patch.
overlay_map_entries() {
    [ -f "$top/patches/overlay.map" ] || return 0
    sed -e 's/#.*//' -e '/^[[:space:]]*$/d' "$top/patches/overlay.map"
}

overlay_owner() {
    overlay_map_entries | awk -v f="$1" '$1 == f && !found { print $2; found = 1 }'
}

overlay_files_of() {
    overlay_map_entries | awk -v p="$1" '$2 == p { print $1 }'
}

# A path of the QEMU tree that may be an overlay file: not top-level, and not
# below one of the project's own directories.
is_overlay_path() {
    case "$1" in
        */*) ;;
        *) return 1 ;;
    esac
    # A bash match, not grep: this runs once a file of the project
    [[ ! "$1" =~ $own_dirs ]]
}

# The overlay files present in the project (tracked or not, unless ignored).
overlay_files() {
    git -C "$top" ls-files --cached --others --exclude-standard \
        | while read -r f; do
            [ -f "$top/$f" ] || continue
            if is_overlay_path "$f"; then echo "$f"; fi
        done
    return 0
}

# Refuse to touch build/src while it holds work that is not in the project.
require_src_clean() {
    local what=$1 recorded
    if [ -n "$(git -C "$src_dir" status --porcelain)" ]; then
        die "build/src has uncommitted changes; write them back with 'make refresh' before $what (git -C build/src status shows them)"
    fi
    recorded=$(cat "$src_dir/.git/qemu-series-head" 2>/dev/null || true)
    if [ -n "$recorded" ] && [ "$(git -C "$src_dir" rev-parse HEAD)" != "$recorded" ]; then
        die "build/src has commits that are not in patches/ yet; run 'make refresh' before $what"
    fi
}

# A digest of everything that determines the assembled tree.
series_stamp() {
    {
        echo "$base_sha256"
        cat "$top/patches/series" "$top/patches/overlay.map"
        series_patches | while read -r p; do (cd "$top" && sha256sum "patches/$p"); done
        overlay_files | while read -r f; do (cd "$top" && sha256sum "$f"); done
    } | sha256sum | cut -d' ' -f1
}
