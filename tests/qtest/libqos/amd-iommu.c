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
#include "hw/pci/pci_ids.h"
#include "hw/pci/pci_regs.h"

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

/*
 * Write the @n commands at @cmds (little endian) into the command buffer,
 * and its tail past them
 */
static void qamdvi_post(QAmdvi *a, const uint64_t *cmds, int n)
{
    uint64_t size = 256 * AMDVI_COMMAND_SIZE;
    uint64_t len = n * AMDVI_COMMAND_SIZE;
    uint64_t first = MIN(len, size - a->cmd_tail);

    g_assert(n > 0 && n < 256);
    qtest_memwrite(a->qts, a->cmdbuf + a->cmd_tail, cmds, first);
    if (first < len) {
        qtest_memwrite(a->qts, a->cmdbuf, (const uint8_t *)cmds + first,
                       len - first);
    }
    a->cmd_tail = (a->cmd_tail + len) % size;
    qtest_writeq(a->qts, AMDVI_BASE_ADDR + AMDVI_MMIO_COMMAND_TAIL,
                 a->cmd_tail);
}

/*
 * Run the @n commands at @cmds (little endian), which the IOMMU takes from
 * its command buffer at one write of the tail
 */
static void qamdvi_run(QAmdvi *a, const uint64_t *cmds, int n)
{
    qamdvi_post(a, cmds, n);
    g_assert_cmphex(qtest_readq(a->qts, AMDVI_BASE_ADDR +
                                AMDVI_MMIO_COMMAND_HEAD), ==, a->cmd_tail);
}

/* Run command @cmd0, @cmd1 */
static void qamdvi_cmd(QAmdvi *a, uint64_t cmd0, uint64_t cmd1)
{
    uint64_t cmd[2] = { cpu_to_le64(cmd0), cpu_to_le64(cmd1) };

    qamdvi_run(a, cmd, 1);
}

static void qamdvi_do_inval_all(QAmdvi *a, int n, bool wait)
{
    g_autofree uint64_t *cmds = g_new0(uint64_t, 2 * n);
    int i;

    for (i = 0; i < n; i++) {
        cmds[2 * i] = cpu_to_le64((uint64_t)AMDVI_CMD_INVAL_AMDVI_ALL << 60);
    }
    if (wait) {
        qamdvi_run(a, cmds, n);
    } else {
        qamdvi_post(a, cmds, n);
    }
}

void qamdvi_inval_all(QAmdvi *a, int n)
{
    qamdvi_do_inval_all(a, n, true);
}

void qamdvi_post_inval_all(QAmdvi *a, int n)
{
    qamdvi_do_inval_all(a, n, false);
}

void qamdvi_enable(QAmdvi *a, QTestState *qts, QGuestAllocator *alloc,
                   uint16_t devid)
{
    /*
     * the root (level 3), a level-2 table, that of the 2 MiB pages, the
     * level-1 tables
     */
    uint64_t root = qamdvi_alloc_page(alloc, 3 + QAMDVI_L1_NR);
    uint64_t l2 = root + 4096;
    uint64_t l2_2m = root + 2 * 4096;
    uint64_t devtab = qamdvi_alloc_page(alloc, 1);
    size_t size = (3 + QAMDVI_L1_NR) * 4096;
    g_autofree uint64_t *t = g_malloc0(size);
    uint64_t dte[4] = {};
    uint64_t i;

    memset(a, 0, sizeof(*a));
    a->qts = qts;
    a->l1 = root + 3 * 4096;
    a->cmdbuf = qamdvi_alloc_page(alloc, 1);

    /* the IOVAs of 0 and of the alias go through the same level-2 table */
    t[0] = qamdvi_pde(l2, 2);
    t[QAMDVI_ALIAS >> 30] = qamdvi_pde(l2, 2);
    t[QAMDVI_ALIAS_2M >> 30] = qamdvi_pde(l2_2m, 2);
    for (i = 0; i < QAMDVI_L1_NR; i++) {
        t[512 + i] = qamdvi_pde(a->l1 + i * 4096, 1);
        /* a leaf (Next Level 0) in a level-2 table: a 2 MiB page */
        t[1024 + i] = cpu_to_le64(i << 21 | QAMDVI_PTE_RW);
    }
    for (i = 0; i < QAMDVI_MAPPED >> 12; i++) {
        t[1536 + i] = cpu_to_le64(i << 12 | QAMDVI_PTE_RW);
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
                 a->cmdbuf | 8ULL << 56);
    qtest_writeq(qts, AMDVI_BASE_ADDR + AMDVI_MMIO_CONTROL,
                 AMDVI_MMIO_CONTROL_AMDVIEN | AMDVI_MMIO_CONTROL_CMDBUFLEN);

    /* the IOMMU reads the new entry when told to invalidate its copy */
    qamdvi_cmd(a, devid | (uint64_t)AMDVI_CMD_INVAL_DEVTAB_ENTRY << 60, 0);
}

static void qamdvi_found(QPCIDevice *dev, int devfn, void *data)
{
    *(QPCIDevice **)data = dev;
}

void qamdvi_enable_events(QAmdvi *a, QGuestAllocator *alloc, QPCIBus *bus)
{
    QPCIDevice *dev = NULL;
    uint16_t flags;
    uint8_t cap;

    /* the IOMMU's PCI function interrupts through its MSI capability */
    qpci_device_foreach(bus, PCI_VENDOR_ID_AMD, 0x1419, qamdvi_found, &dev);
    g_assert_nonnull(dev);
    cap = qpci_find_capability(dev, PCI_CAP_ID_MSI, 0);
    g_assert_cmpint(cap, !=, 0);
    flags = qpci_config_readw(dev, cap + PCI_MSI_FLAGS);
    qpci_config_writel(dev, cap + PCI_MSI_ADDRESS_LO, 0xfee00000);
    if (flags & PCI_MSI_FLAGS_64BIT) {
        qpci_config_writel(dev, cap + PCI_MSI_ADDRESS_HI, 0);
        qpci_config_writew(dev, cap + PCI_MSI_DATA_64, 0x40);
    } else {
        qpci_config_writew(dev, cap + PCI_MSI_DATA_32, 0x40);
    }
    qpci_config_writew(dev, cap + PCI_MSI_FLAGS, flags | PCI_MSI_FLAGS_ENABLE);
    g_free(dev);

    a->evtlog = qamdvi_alloc_page(alloc, 1);
    a->evt_head = 0;
    qtest_writeq(a->qts, AMDVI_BASE_ADDR + AMDVI_MMIO_EVENT_BASE,
                 a->evtlog | 8ULL << 56);
    qtest_writeq(a->qts, AMDVI_BASE_ADDR + AMDVI_MMIO_CONTROL,
                 AMDVI_MMIO_CONTROL_AMDVIEN | AMDVI_MMIO_CONTROL_CMDBUFLEN |
                 AMDVI_MMIO_CONTROL_EVENTLOGEN |
                 AMDVI_MMIO_CONTROL_EVENTINTEN);
}

void qamdvi_unmap_page(QAmdvi *a, uint64_t iova)
{
    g_assert_cmphex(iova, <, QAMDVI_MAPPED);
    qtest_writeq(a->qts, a->l1 + (iova >> 12) * 8, 0);
    qamdvi_cmd(a, (uint64_t)AMDVI_CMD_INVAL_AMDVI_ALL << 60, 0);
}

bool qamdvi_next_event(QAmdvi *a, uint64_t evt[2])
{
    uint64_t tail = qtest_readq(a->qts, AMDVI_BASE_ADDR +
                                AMDVI_MMIO_EVENT_TAIL);

    if (tail == a->evt_head) {
        return false;
    }
    qtest_memread(a->qts, a->evtlog + a->evt_head, evt, 2 * sizeof(evt[0]));
    evt[0] = le64_to_cpu(evt[0]);
    evt[1] = le64_to_cpu(evt[1]);
    a->evt_head = (a->evt_head + AMDVI_EVENT_LEN) % (256 * AMDVI_EVENT_LEN);
    qtest_writeq(a->qts, AMDVI_BASE_ADDR + AMDVI_MMIO_EVENT_HEAD,
                 a->evt_head);
    return true;
}
