/*
 * snapfuzz: in-memory overlays that restores take back (overlay.c)
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_OVERLAY_H
#define HW_MISC_SNAPFUZZ_OVERLAY_H

#include "hw/misc/snapfuzz.h"

/* Level 0, the root snapshot's level and one a pushed snapshot */
#define SNAPFUZZ_OVERLAY_LEVELS (SNAPFUZZ_MAX_DEPTH + 2)

/*
 * All of these run in the main loop, in a drained section.  take: a new
 * root snapshot, which keeps everything written so far; restore: drop what
 * was written since the top snapshot; push: a snapshot above it (at most
 * SNAPFUZZ_MAX_DEPTH); pop: drop the top snapshot, keeping the writes.
 */
bool snapfuzz_overlay_is(BlockDriverState *bs);
void snapfuzz_overlay_take(BlockDriverState *bs);
void snapfuzz_overlay_restore(BlockDriverState *bs);
void snapfuzz_overlay_push(BlockDriverState *bs);
void snapfuzz_overlay_pop(BlockDriverState *bs);
uint64_t snapfuzz_overlay_bytes(BlockDriverState *bs);

#endif
