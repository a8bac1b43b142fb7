/*
 * libqos helpers for the DMA remapping of the q35 machine's Intel IOMMU
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef LIBQOS_INTEL_IOMMU_H
#define LIBQOS_INTEL_IOMMU_H

#include "../libqtest.h"
#include "libqos-malloc.h"

/* The IOVAs that qvtd_enable() maps to guest memory at 0 */
#define QVTD_ALIAS      (3ULL << 30)

/*
 * Turn on DMA remapping for the devices of bus 0: legacy-mode second-level
 * tables of 1 GiB pages map the IOVAs of the first 3 GiB 1:1, those of
 * [QVTD_ALIAS, 4 GiB) to guest memory at 0, and nothing above.  The tables
 * take guest memory from @alloc.
 */
void qvtd_enable(QTestState *qts, QGuestAllocator *alloc);

/* Let VT-d send its fault events, to vector 0x40 of the boot CPU */
void qvtd_unmask_faults(QTestState *qts);

/*
 * Wait until VT-d has recorded a fault (FSTS.PPF), and check that it sent
 * the fault event (FECTL.IP clear again)
 */
void qvtd_wait_fault(QTestState *qts);

#endif
