/*
 * snapfuzz: QEMU's libFuzzer target as the engine, device side
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_INPROC_H
#define HW_MISC_SNAPFUZZ_INPROC_H

#include "snapfuzz-internal.h"

bool snapfuzz_inproc_init(SnapfuzzState *s, Error **errp);
void snapfuzz_inproc_free(SnapfuzzState *s);
bool snapfuzz_inproc_next_input(SnapfuzzState *s);
void snapfuzz_inproc_report(SnapfuzzState *s, uint32_t result);

#endif
