/*
 * snapfuzz: QEMU as an AFL++ fork server
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_AFL_H
#define HW_MISC_SNAPFUZZ_AFL_H

#include "snapfuzz-internal.h"

void *snapfuzz_afl_init(SnapfuzzState *s, Error **errp);
void snapfuzz_afl_free(SnapfuzzState *s);
void snapfuzz_afl_next_input(SnapfuzzState *s);
void snapfuzz_afl_report(SnapfuzzState *s, uint32_t result);

#endif
