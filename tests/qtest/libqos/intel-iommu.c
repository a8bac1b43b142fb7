/*
 * libqos helpers for the DMA remapping of the q35 machine's Intel IOMMU
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "intel-iommu.h"
#include "hw/i386/intel_iommu.h"
#include "hw/i386/intel_iommu_internal.h"

#define QVTD_REGS       Q35_HOST_BRIDGE_IOMMU_ADDR

void qvtd_enable(QTestState *qts, QGuestAllocator *alloc)
{
    uint64_t root = QEMU_ALIGN_UP(guest_alloc(alloc, 4 * 4096), 4096);
    uint64_t ctx = root + 4096, slpt = root + 2 * 4096;
    int i;

    qtest_memset(qts, root, 0, 3 * 4096);
    qtest_writeq(qts, root, ctx | VTD_ROOT_ENTRY_P);
    for (i = 0; i < 256; i++) {
        /* multi-level translation, 39-bit (3 levels), domain 1 */
        qtest_writeq(qts, ctx + 16 * i,
                     slpt | VTD_CONTEXT_TT_MULTI_LEVEL | VTD_CONTEXT_ENTRY_P);
        qtest_writeq(qts, ctx + 16 * i + 8, 1 | 1 << 8);
    }
    for (i = 0; i < 4; i++) {
        uint64_t iova = (uint64_t)i << 30;
        uint64_t gpa = iova == QVTD_ALIAS ? 0 : iova;

        qtest_writeq(qts, slpt + 8 * i,
                     gpa | VTD_PT_PAGE_SIZE_MASK | VTD_SL_R | VTD_SL_W);
    }
    qtest_writeq(qts, QVTD_REGS + DMAR_RTADDR_REG, root);
    qtest_writel(qts, QVTD_REGS + DMAR_GCMD_REG, VTD_GCMD_SRTP);
    g_assert(qtest_readl(qts, QVTD_REGS + DMAR_GSTS_REG) & VTD_GSTS_RTPS);
    qtest_writel(qts, QVTD_REGS + DMAR_GCMD_REG, VTD_GCMD_TE);
    g_assert(qtest_readl(qts, QVTD_REGS + DMAR_GSTS_REG) & VTD_GSTS_TES);
}

void qvtd_unmask_faults(QTestState *qts)
{
    qtest_writel(qts, QVTD_REGS + DMAR_FEDATA_REG, 0x40);
    qtest_writel(qts, QVTD_REGS + DMAR_FEADDR_REG, 0xfee00000);
    qtest_writel(qts, QVTD_REGS + DMAR_FECTL_REG, 0);
}

void qvtd_wait_fault(QTestState *qts)
{
    int i;

    for (i = 0; !(qtest_readl(qts, QVTD_REGS + DMAR_FSTS_REG) & VTD_FSTS_PPF);
         i++) {
        g_assert_cmpint(i, <, 100000);
        g_usleep(10);
    }
    g_assert_cmphex(qtest_readl(qts, QVTD_REGS + DMAR_FECTL_REG), ==, 0);
}
