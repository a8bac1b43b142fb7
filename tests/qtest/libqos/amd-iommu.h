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
#include "pci.h"

/* The guest memory that qamdvi_enable() maps 1:1, and again at the aliases */
#define QAMDVI_MAPPED   (64ULL << 20)
#define QAMDVI_ALIAS    (1ULL << 30)
/* The same guest memory through 2 MiB pages */
#define QAMDVI_ALIAS_2M (3ULL << 30)

typedef struct QAmdvi {
    QTestState *qts;
    uint64_t cmdbuf;            /* the command buffer, 256 commands */
    uint64_t cmd_tail;
    uint64_t l1;                /* the level-1 tables of the mapping */
    uint64_t evtlog;            /* the event log, 256 events */
    uint64_t evt_head;
} QAmdvi;

/*
 * Turn on the IOMMU with a device table and a command buffer, and DMA
 * remapping for device @devid of bus 0: a 3-level page table of 4 KiB
 * pages maps the IOVAs of [0, QAMDVI_MAPPED) 1:1, those of
 * [QAMDVI_ALIAS, QAMDVI_ALIAS + QAMDVI_MAPPED) to guest memory at 0, and
 * its 2 MiB pages (leaves of level 2) those of [QAMDVI_ALIAS_2M,
 * QAMDVI_ALIAS_2M + QAMDVI_MAPPED) to guest memory at 0 again; nothing
 * else.  The tables take guest memory from @alloc.
 */
void qamdvi_enable(QAmdvi *a, QTestState *qts, QGuestAllocator *alloc,
                   uint16_t devid);

/*
 * Give the IOMMU an event log, and let it interrupt (MSI, vector 0x40 of
 * the boot CPU) for each event; @bus is the PCI bus of its PCI function
 */
void qamdvi_enable_events(QAmdvi *a, QGuestAllocator *alloc, QPCIBus *bus);

/*
 * Unmap the 4 KiB page at @iova (below QAMDVI_MAPPED, and at the alias)
 * and invalidate the IOMMU's caches
 */
void qamdvi_unmap_page(QAmdvi *a, uint64_t iova);

/*
 * Run @n (1 to 255) INVALIDATE_IOMMU_ALL commands, which the IOMMU takes
 * from its command buffer at one write of the tail
 */
void qamdvi_inval_all(QAmdvi *a, int n);

/*
 * qamdvi_inval_all() without the wait: the commands and the tail are
 * written, and whether the IOMMU took them is not checked (for a device
 * whose DMA may overwrite the command buffer)
 */
void qamdvi_post_inval_all(QAmdvi *a, int n);

/* Take the next event from the log into @evt; false if there is none */
bool qamdvi_next_event(QAmdvi *a, uint64_t evt[2]);

#endif
