/*
 * libqos helpers for the DMA remapping of the AMD IOMMU (dma-remap=on)
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/bswap.h"
#include "amd-iommu.h"
#include "hw/i386/amd_iommu.h"

#define QAMDVI_PTE_RW   (AMDVI_DEV_PERM_READ | AMDVI_DEV_PERM_WRITE | 1)
#define QAMDVI_L1_NR    (QAMDVI_MAPPED >> 21)   /* tables of 2 MiB each */

static uint64_t qamdvi_alloc_page(QGuestAllocator *alloc, size_t pages)
{
    return QEMU_ALIGN_UP(guest_alloc(alloc, (pages + 1) * 4096), 4096);
}

/* A present entry that points to a table of level @level */
static uint64_t qamdvi_pde(uint64_t table, int level)
{
    return cpu_to_le64(table | (uint64_t)level << 9 | QAMDVI_PTE_RW);
}

void qamdvi_enable(QTestState *qts, QGuestAllocator *alloc, uint16_t devid)
{
    /* the root (level 3), one level-2 table, the level-1 tables */
    uint64_t root = qamdvi_alloc_page(alloc, 2 + QAMDVI_L1_NR);
    uint64_t l2 = root + 4096, l1 = root + 2 * 4096;
    uint64_t devtab = qamdvi_alloc_page(alloc, 1);
    uint64_t cmdbuf = qamdvi_alloc_page(alloc, 1);
    size_t size = (2 + QAMDVI_L1_NR) * 4096;
    g_autofree uint64_t *t = g_malloc0(size);
    uint64_t dte[4] = {}, cmd[2] = {};
    uint64_t i;

    /* the IOVAs of 0 and of the alias go through the same level-2 table */
    t[0] = qamdvi_pde(l2, 2);
    t[QAMDVI_ALIAS >> 30] = qamdvi_pde(l2, 2);
    for (i = 0; i < QAMDVI_L1_NR; i++) {
        t[512 + i] = qamdvi_pde(l1 + i * 4096, 1);
    }
    for (i = 0; i < QAMDVI_MAPPED >> 12; i++) {
        t[1024 + i] = cpu_to_le64(i << 12 | QAMDVI_PTE_RW);
    }
    qtest_memwrite(qts, root, t, size);

    dte[0] = cpu_to_le64(AMDVI_DEV_VALID | AMDVI_DEV_TRANSLATION_VALID |
                         3ULL << AMDVI_DEV_MODE_RSHIFT | root |
                         AMDVI_DEV_PERM_READ | AMDVI_DEV_PERM_WRITE);
    dte[1] = cpu_to_le64(1);    /* domain 1 */
    qtest_memset(qts, devtab, 0, 4096);
    qtest_memwrite(qts, devtab + devid * AMDVI_DEVTAB_ENTRY_SIZE, dte,
                   sizeof(dte));

    /* a device table of one page (128 entries), 256 commands */
    g_assert_cmpint(devid, <, 128);
    qtest_writeq(qts, AMDVI_BASE_ADDR + AMDVI_MMIO_DEVICE_TABLE, devtab);
    qtest_writeq(qts, AMDVI_BASE_ADDR + AMDVI_MMIO_COMMAND_BASE,
                 cmdbuf | 8ULL << 56);
    qtest_writeq(qts, AMDVI_BASE_ADDR + AMDVI_MMIO_CONTROL,
                 AMDVI_MMIO_CONTROL_AMDVIEN | AMDVI_MMIO_CONTROL_CMDBUFLEN);

    /* the IOMMU reads the new entry when told to invalidate its copy */
    cmd[0] = cpu_to_le64(devid |
                         (uint64_t)AMDVI_CMD_INVAL_DEVTAB_ENTRY << 60);
    qtest_memwrite(qts, cmdbuf, cmd, sizeof(cmd));
    qtest_writeq(qts, AMDVI_BASE_ADDR + AMDVI_MMIO_COMMAND_TAIL,
                 AMDVI_COMMAND_SIZE);
    g_assert_cmphex(qtest_readq(qts, AMDVI_BASE_ADDR +
                                AMDVI_MMIO_COMMAND_HEAD), ==,
                    AMDVI_COMMAND_SIZE);
}
