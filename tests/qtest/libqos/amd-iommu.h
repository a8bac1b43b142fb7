/*
 * libqos helpers for the DMA remapping of the AMD IOMMU (dma-remap=on)
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_AMD_IOMMU_H
#define LIBQOS_AMD_IOMMU_H

#include "../libqtest.h"
#include "libqos-malloc.h"

/* The guest memory that qamdvi_enable() maps 1:1, and again at the alias */
#define QAMDVI_MAPPED   (64ULL << 20)
#define QAMDVI_ALIAS    (1ULL << 30)

/*
 * Turn on the IOMMU with a device table and a command buffer, and DMA
 * remapping for device @devid of bus 0: a 3-level page table of 4 KiB
 * pages maps the IOVAs of [0, QAMDVI_MAPPED) 1:1, those of
 * [QAMDVI_ALIAS, QAMDVI_ALIAS + QAMDVI_MAPPED) to guest memory at 0, and
 * nothing else.  The tables take guest memory from @alloc.
 */
void qamdvi_enable(QTestState *qts, QGuestAllocator *alloc, uint16_t devid);

#endif
