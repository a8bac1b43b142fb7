/*
 * NVMe command fuzzing targets
 *
 * generic-fuzz reaches the controller's registers and admin queue, but an
 * I/O command only when its DMA patterns happen to form the admin commands
 * that create I/O queues and the SQEs behind them.  These targets enable
 * the controller and create an I/O queue pair the way a driver does, then
 * submit the input's commands, one SQE at a time, to the admin or the I/O
 * queue, and reap the completions, or reset the controller while the
 * command's doorbell is still being handled, or ring it in a drained
 * section of the block layer.  One target has two controllers of one
 * subsystem that share namespaces, to reach what a command of one does to
 * the other.
 *
 * Copyright (c) 2026 QEMU Storage Series
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "block/block-global-state.h"
#include "block/nvme.h"
#include "hw/pci/pci_regs.h"
#include "tests/qtest/libqtest.h"
#include "tests/qtest/libqos/pci-pc.h"
#include "tests/qtest/libqos/intel-iommu.h"
#include "tests/qtest/libqos/amd-iommu.h"
#include "fuzz.h"

#define NVME_VENDOR_ID      0x1b36      /* PCI_VENDOR_ID_REDHAT */
#define NVME_DEVICE_ID      0x0010      /* PCI_DEVICE_ID_REDHAT_NVME */
#define QSIZE               64

/*
 * Guest memory: the queues of each controller (offsets from its base),
 * then data buffers that PRP1 points into, which the controllers share
 */
#define QUEUES_ADDR         0x100000
#define QUEUES_SIZE         0x10000
#define ASQ_ADDR            0x0000
#define ACQ_ADDR            0x1000
#define IOSQ_ADDR           0x2000
#define IOCQ_ADDR           0x3000
#define CTRL_LIST_ADDR      0x1f0000
#define DATA_ADDR           0x200000
#define DATA_SIZE           0x100000
#define MAX_CTRLS           2

/* How often the completion queues are polled for a command's completion */
#define MAX_POLLS           1000

/* An input is records of a selector byte and a submission queue entry */
#define SEL_IO_QUEUE        (1 << 0)    /* else the admin queue */
#define SEL_KEEP_PRP        (1 << 1)    /* else PRP1 is in the data buffers */
/*
 * Selector bits 2-4, what else a record does: one in eight rings the
 * doorbell and disables the controller at once, with the queue's BH (main
 * loop) or notifier (IOThread) pending, then enables it and creates the
 * I/O queues again; one in eight rings the doorbell in a drained section
 * of the block layer, as a block job or a snapshot makes them; one in
 * eight rings the doorbell and disables the other controller at once,
 * then enables that one again (with a single controller: nothing else);
 * one in eight rings it in a drained section that the next record's
 * doorbell shares, as the BHs and doorbells that run while the main loop
 * polls for a drained section to begin do
 */
#define SEL_WHAT_MASK       (7 << 2)
#define SEL_RESET           (1 << 2)
#define SEL_DRAINED         (2 << 2)
#define SEL_RESET_OTHER     (3 << 2)
#define SEL_DRAINED_NEXT    (4 << 2)
/* Selector bit 5: the second controller's queues, where there is one */
#define SEL_CTRL1           (1 << 5)
/*
 * Selector bits 6-7, behind the AMD IOMMU only: the IOMMU unmaps the page
 * of PRP1 before the doorbell, and it invalidates all its caches while the
 * command runs (after the doorbell, before the wait for completions)
 */
#define SEL_AMDVI_UNMAP     (1 << 6)
#define SEL_AMDVI_INVAL     (1 << 7)

typedef struct NvmeFuzz {
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t queues;
    uint16_t sq_tail[2], cq_head[2];
    bool phase[2];
    uint16_t cid;
} NvmeFuzz;

static NvmeFuzz nvme_fuzz_state[MAX_CTRLS];
static int nvme_fuzz_ctrls;
/* A drained section that SEL_DRAINED_NEXT left open */
static bool nvme_fuzz_drained;

/* In slot order: the first controller on the command line first */
static void nvme_find(QPCIDevice *dev, int devfn, void *opaque)
{
    NvmeFuzz *n = &nvme_fuzz_state[nvme_fuzz_ctrls];

    g_assert(nvme_fuzz_ctrls < MAX_CTRLS);
    n->dev = dev;
    n->queues = QUEUES_ADDR + nvme_fuzz_ctrls++ * QUEUES_SIZE;
}

static QPCIBus *nvme_fuzz_bus;

static void nvme_fuzz_pre(QTestState *s)
{
    QPCIBus *bus = qpci_new_pc(s, NULL);
    int i;

    nvme_fuzz_bus = bus;
    qpci_device_foreach(bus, NVME_VENDOR_ID, NVME_DEVICE_ID, nvme_find, NULL);
    g_assert(nvme_fuzz_ctrls);
    for (i = 0; i < nvme_fuzz_ctrls; i++) {
        NvmeFuzz *n = &nvme_fuzz_state[i];

        n->bar = qpci_iomap(n->dev, 0, NULL);
        qpci_device_enable(n->dev);
    }
}

/* The VT-d tables of nvme-viommu-cmd-fuzz: guest memory above the data */
#define VTD_TABLES_ADDR     0x300000
#define VTD_TABLES_SIZE     0x10000

/* nvme-viommu-cmd-fuzz's: turn VT-d on at the start of each input */
static bool nvme_fuzz_viommu;

/*
 * VT-d translates the controller's DMA (libqos's tables: the first 4 GiB
 * of IOVAs mapped, the last of them to guest memory at 0), its fault
 * events unmasked: the PRPs and queues of the input that VT-d does not
 * map fault, in the IOThread.  The machine reset that ends an input turns
 * it off again.
 */
static void nvme_viommu_enable(QTestState *s)
{
    QGuestAllocator alloc;

    alloc_init(&alloc, 0, VTD_TABLES_ADDR, VTD_TABLES_ADDR + VTD_TABLES_SIZE,
               4096);
    qvtd_enable(s, &alloc);
    qvtd_unmask_faults(s);
    alloc_destroy(&alloc);
}

static void nvme_viommu_pre(QTestState *s)
{
    nvme_fuzz_viommu = true;
    nvme_fuzz_pre(s);
}

/*
 * The AMD IOMMU's tables, device table, command buffer and event log of
 * nvme-amdvi-cmd-fuzz: guest memory above the VT-d tables
 */
#define AMDVI_TABLES_ADDR   0x400000
#define AMDVI_TABLES_SIZE   0x40000

/* nvme-amdvi-cmd-fuzz's: turn the AMD IOMMU on at the start of each input */
static bool nvme_fuzz_amdvi;
static QAmdvi nvme_amdvi;

/*
 * The AMD IOMMU translates the controller's DMA (libqos's tables: the
 * first 64 MiB of IOVAs, all of guest memory, mapped 1:1 by 4 KiB pages,
 * and again at two aliases), its event log and interrupt on.  The machine
 * reset that ends an input turns it off again.
 */
static void nvme_amdvi_enable(QTestState *s)
{
    QGuestAllocator alloc;

    alloc_init(&alloc, 0, AMDVI_TABLES_ADDR,
               AMDVI_TABLES_ADDR + AMDVI_TABLES_SIZE, 4096);
    qamdvi_enable(&nvme_amdvi, s, &alloc, nvme_fuzz_state[0].dev->devfn);
    qamdvi_enable_events(&nvme_amdvi, &alloc, nvme_fuzz_bus);
    alloc_destroy(&alloc);
}

/* Unmap the 4 KiB page at IOVA @iova, where libqos's tables map it */
static void nvme_amdvi_unmap(QTestState *s, uint64_t iova)
{
    if (iova < QAMDVI_MAPPED) {
        qtest_writeq(s, nvme_amdvi.l1 + (iova >> 12) * 8, 0);
        qamdvi_post_inval_all(&nvme_amdvi, 1);
    }
}

static void nvme_amdvi_pre(QTestState *s)
{
    nvme_fuzz_amdvi = true;
    nvme_fuzz_pre(s);
}

static uint32_t nvme_reg_read(NvmeFuzz *n, uint64_t off)
{
    return qpci_io_readl(n->dev, n->bar, off);
}

static void nvme_reg_write(NvmeFuzz *n, uint64_t off, uint32_t val)
{
    qpci_io_writel(n->dev, n->bar, off, val);
}

/* Reap the completions of queue pair @q; true if there was one */
static bool nvme_reap(QTestState *s, NvmeFuzz *n, int q)
{
    uint64_t cq = n->queues + (q ? IOCQ_ADDR : ACQ_ADDR);
    bool reaped = false;
    NvmeCqe cqe;

    for (;;) {
        qtest_memread(s, cq + n->cq_head[q] * sizeof(cqe), &cqe, sizeof(cqe));
        if ((le16_to_cpu(cqe.status) & 1) != n->phase[q]) {
            break;
        }
        reaped = true;
        if (++n->cq_head[q] == QSIZE) {
            n->cq_head[q] = 0;
            n->phase[q] = !n->phase[q];
        }
    }
    if (reaped) {
        nvme_reg_write(n, 0x1000 + (2 * q + 1) * 4, n->cq_head[q]);
    }
    return reaped;
}

static void nvme_drained_end(QTestState *s)
{
    if (nvme_fuzz_drained) {
        flush_events(s);
        bdrv_drain_all_end();
        nvme_fuzz_drained = false;
    }
}

/*
 * Submit @cmd to queue pair @q and wait (a bounded time) for completions.
 * SEL_RESET disables the controller (SEL_RESET_OTHER: @other) right after
 * the doorbell instead: the in-process qtest runs no BH between the two
 * register writes.  SEL_DRAINED writes the doorbell in a drained section,
 * whose end lets the command run; SEL_DRAINED_NEXT leaves that section to
 * the next record, which ends it, and waits for completions in it.  A
 * reset comes from a vCPU, which no drained section of the main loop lets
 * in: it ends the section first.  @inval: the AMD IOMMU invalidates its
 * caches right after the doorbell.
 */
static void nvme_submit(QTestState *s, NvmeFuzz *n, int q, NvmeCmd *cmd,
                        int what, NvmeFuzz *other, bool inval)
{
    uint64_t sq = n->queues + (q ? IOSQ_ADDR : ASQ_ADDR);
    int i;

    cmd->cid = cpu_to_le16(n->cid++);
    qtest_memwrite(s, sq + n->sq_tail[q] * sizeof(*cmd), cmd, sizeof(*cmd));
    n->sq_tail[q] = (n->sq_tail[q] + 1) % QSIZE;
    if (what == SEL_RESET || what == SEL_RESET_OTHER) {
        nvme_drained_end(s);
    }
    if ((what == SEL_DRAINED || what == SEL_DRAINED_NEXT) &&
        !nvme_fuzz_drained) {
        bdrv_drain_all_begin();
        nvme_fuzz_drained = true;
    }
    nvme_reg_write(n, 0x1000 + 2 * q * 4, n->sq_tail[q]);
    if (inval) {
        /*
         * Without waiting: the controller's DMA may overwrite the command
         * buffer (all of guest memory is mapped), and a command that the
         * input garbled is the IOMMU's to refuse, not the target's
         */
        qamdvi_post_inval_all(&nvme_amdvi, 1);
    }
    if (what == SEL_RESET) {
        nvme_reg_write(n, 0x14, 0);
        return;
    }
    if (what == SEL_RESET_OTHER && other) {
        nvme_reg_write(other, 0x14, 0);
        return;
    }
    if (what != SEL_DRAINED_NEXT) {
        nvme_drained_end(s);
    }
    /* I/O queues in an IOThread complete from another thread */
    for (i = 0; i < MAX_POLLS; i++) {
        flush_events(s);
        if (nvme_reap(s, n, q)) {
            break;
        }
    }
}

/* Enable the controller with an admin queue and create I/O queue pair 1 */
static bool nvme_start(QTestState *s, NvmeFuzz *n)
{
    NvmeCmd cmd = {};
    int i;

    memset(n->sq_tail, 0, sizeof(n->sq_tail));
    memset(n->cq_head, 0, sizeof(n->cq_head));
    n->phase[0] = n->phase[1] = true;
    qtest_memset(s, n->queues + ACQ_ADDR, 0, 0x1000);
    qtest_memset(s, n->queues + IOCQ_ADDR, 0, 0x1000);

    nvme_reg_write(n, 0x24, (QSIZE - 1) << 16 | (QSIZE - 1));   /* AQA */
    nvme_reg_write(n, 0x28, n->queues + ASQ_ADDR);
    nvme_reg_write(n, 0x2c, 0);
    nvme_reg_write(n, 0x30, n->queues + ACQ_ADDR);
    nvme_reg_write(n, 0x34, 0);
    /* EN, all I/O command sets (ZNS too), 64-byte SQEs, 16-byte CQEs */
    nvme_reg_write(n, 0x14, 1 | NVME_CC_CSS_ALL << 4 | 6 << 16 | 4 << 20);
    for (i = 0; i < MAX_POLLS; i++) {
        if (nvme_reg_read(n, 0x1c) & NVME_CSTS_READY) {
            break;
        }
        flush_events(s);
    }
    if (i == MAX_POLLS) {
        return false;
    }

    cmd.opcode = NVME_ADM_CMD_CREATE_CQ;
    cmd.dptr.prp1 = cpu_to_le64(n->queues + IOCQ_ADDR);
    cmd.cdw10 = cpu_to_le32((QSIZE - 1) << 16 | 1);
    cmd.cdw11 = cpu_to_le32(3);                 /* PC, IEN (INTx, vector 0) */
    nvme_submit(s, n, 0, &cmd, 0, NULL, false);
    memset(&cmd, 0, sizeof(cmd));
    cmd.opcode = NVME_ADM_CMD_CREATE_SQ;
    cmd.dptr.prp1 = cpu_to_le64(n->queues + IOSQ_ADDR);
    cmd.cdw10 = cpu_to_le32((QSIZE - 1) << 16 | 1);
    cmd.cdw11 = cpu_to_le32(1 << 16 | 1);               /* CQID 1, PC */
    nvme_submit(s, n, 0, &cmd, 0, NULL, false);
    return true;
}

/*
 * Attach the namespaces to every controller again: attachments belong to
 * the subsystem and outlive the machine reset that ends an input.  The
 * controller list holds the controller IDs that the subsystem gave out in
 * slot order, 0 and 1 (nvme_subsys_register_ctrl()); a namespace already
 * attached fails, which is as good.
 */
static void nvme_reattach(QTestState *s, NvmeFuzz *n)
{
    const uint16_t list[] = {
        cpu_to_le16(MAX_CTRLS), cpu_to_le16(0), cpu_to_le16(1)
    };
    uint32_t nsid;

    qtest_memwrite(s, CTRL_LIST_ADDR, list, sizeof(list));
    for (nsid = 1; nsid <= 2; nsid++) {
        NvmeCmd cmd = {
            .opcode = NVME_ADM_CMD_NS_ATTACHMENT,
            .nsid = cpu_to_le32(nsid),
            .dptr.prp1 = cpu_to_le64(CTRL_LIST_ADDR),
        };

        nvme_submit(s, n, 0, &cmd, 0, NULL, false);
    }
}

/* Reset the machine; the controllers keep their BARs */
static void nvme_fuzz_reset(QTestState *s)
{
    uint32_t bars[MAX_CTRLS][6];
    uint16_t cmds[MAX_CTRLS];
    int i, j;

    for (i = 0; i < nvme_fuzz_ctrls; i++) {
        for (j = 0; j < 6; j++) {
            bars[i][j] = qpci_config_readl(nvme_fuzz_state[i].dev,
                                           PCI_BASE_ADDRESS_0 + 4 * j);
        }
        cmds[i] = qpci_config_readw(nvme_fuzz_state[i].dev, PCI_COMMAND);
    }
    fuzz_reset(s);
    for (i = 0; i < nvme_fuzz_ctrls; i++) {
        for (j = 0; j < 6; j++) {
            qpci_config_writel(nvme_fuzz_state[i].dev,
                               PCI_BASE_ADDRESS_0 + 4 * j, bars[i][j]);
        }
        qpci_config_writew(nvme_fuzz_state[i].dev, PCI_COMMAND, cmds[i]);
    }
}

static void nvme_fuzz(QTestState *s, const unsigned char *data, size_t size)
{
    const size_t rec = 1 + sizeof(NvmeCmd);
    int i;

    if (nvme_fuzz_viommu) {
        nvme_viommu_enable(s);
    }
    if (nvme_fuzz_amdvi) {
        nvme_amdvi_enable(s);
    }
    for (i = 0; i < nvme_fuzz_ctrls; i++) {
        if (!nvme_start(s, &nvme_fuzz_state[i])) {
            goto out;
        }
    }
    if (nvme_fuzz_ctrls > 1) {
        nvme_reattach(s, &nvme_fuzz_state[0]);
    }
    for (; size >= rec; data += rec, size -= rec) {
        int what = data[0] & SEL_WHAT_MASK;
        int c = nvme_fuzz_ctrls > 1 && (data[0] & SEL_CTRL1);
        NvmeFuzz *n = &nvme_fuzz_state[c];
        NvmeFuzz *other = nvme_fuzz_ctrls > 1 ? &nvme_fuzz_state[!c] : NULL;
        NvmeCmd cmd;

        memcpy(&cmd, data + 1, sizeof(cmd));
        if (!(data[0] & SEL_KEEP_PRP)) {
            uint64_t prp = le64_to_cpu(cmd.dptr.prp1);

            cmd.dptr.prp1 = cpu_to_le64(DATA_ADDR + prp % DATA_SIZE);
        }
        if (nvme_fuzz_amdvi && (data[0] & SEL_AMDVI_UNMAP)) {
            nvme_amdvi_unmap(s, le64_to_cpu(cmd.dptr.prp1));
        }
        nvme_submit(s, n, data[0] & SEL_IO_QUEUE, &cmd, what, other,
                    nvme_fuzz_amdvi && (data[0] & SEL_AMDVI_INVAL));
        if (what == SEL_RESET && !nvme_start(s, n)) {
            break;
        }
        if (what == SEL_RESET_OTHER && other && !nvme_start(s, other)) {
            break;
        }
    }

out:
    nvme_drained_end(s);
    nvme_fuzz_reset(s);
}

/*
 * The machine and the zoned drive of every target, with the objects, zone
 * options and devices of the target, and QEMU_FUZZ_ARGS, as generic-fuzz
 * takes it (-trace, say)
 */
static GString *nvme_fuzz_cmdline(const char *objects, const char *zones,
                                  const char *devices)
{
    GString *cmdline = g_string_new(NULL);

    g_string_printf(cmdline, TARGET_NAME " -display none "
        "-machine q35,accel=qtest -nodefaults -m 64 %s"
        "-blockdev driver=null-co,node-name=z0,size=67108864,"
        "zoned=host-managed,zone-size=4194304,zone-capacity=3145728,"
        "max-open-zones=4,max-active-zones=6,max-append-bytes=131072,"
        "%smemory-backed=on,memory-max=16777216 %s %s",
        objects, zones, devices, getenv("QEMU_FUZZ_ARGS") ?: "");
    return cmdline;
}

static GString *nvme_zns_args(FuzzTarget *t)
{
    /* A read-only and an offline zone for the commands' zone checks */
    return nvme_fuzz_cmdline("", "read-only-zones.0=5,offline-zones.0=6,",
                             "-device nvme,id=n0,serial=fuzz "
                             "-device nvme-ns,bus=n0,drive=z0,"
                             "zoned.backend=on");
}

static GString *nvme_iothread_args(FuzzTarget *t)
{
    return nvme_fuzz_cmdline("-object iothread,id=t0,poll-max-ns=32768 ", "",
                             "-device nvme,id=n0,serial=fuzz,ioeventfd=on,"
                             "iothread=t0 "
                             "-device nvme-ns,bus=n0,drive=z0,"
                             "zoned.backend=on");
}

/* nvme-iothread-cmd-fuzz's controller behind VT-d */
static GString *nvme_viommu_args(FuzzTarget *t)
{
    return nvme_fuzz_cmdline("-device intel-iommu "
                             "-object iothread,id=t0,poll-max-ns=32768 ", "",
                             "-device nvme,id=n0,serial=fuzz,ioeventfd=on,"
                             "iothread=t0 "
                             "-device nvme-ns,bus=n0,drive=z0,"
                             "zoned.backend=on");
}

/* nvme-iothread-cmd-fuzz's controller behind the AMD IOMMU */
static GString *nvme_amdvi_args(FuzzTarget *t)
{
    return nvme_fuzz_cmdline("-device amd-iommu,dma-remap=on "
                             "-object iothread,id=t0,poll-max-ns=32768 ", "",
                             "-device nvme,id=n0,serial=fuzz,ioeventfd=on,"
                             "iothread=t0 "
                             "-device nvme-ns,bus=n0,drive=z0,"
                             "zoned.backend=on");
}

/*
 * Two controllers of one subsystem that share the zoned namespace 1 and a
 * namespace 2 on a plain drive.  A subsystem's zones must be changed in
 * one IOThread, so both controllers run their I/O queues in t0; their
 * admin queues, the subsystem's attachments and events stay in the main
 * loop.  t0 does not poll (nvme-iothread-cmd-fuzz's IOThread does), and
 * the second controller takes its doorbells as MMIO (ioeventfd=off), so a
 * BH fetches its commands, in drained sections too.
 */
static GString *nvme_subsys_args(FuzzTarget *t)
{
    return nvme_fuzz_cmdline("-object iothread,id=t0,poll-max-ns=0 "
                             "-blockdev driver=null-co,node-name=d1,"
                             "size=16777216,memory-backed=on ", "",
                             "-device nvme-subsys,id=s0,nqn=fuzz "
                             "-device nvme,id=n0,serial=fuzz,subsys=s0,"
                             "addr=04.0,ioeventfd=on,iothread=t0 "
                             "-device nvme,id=n1,serial=fuzz,subsys=s0,"
                             "addr=05.0,ioeventfd=off,iothread=t0 "
                             "-device nvme-ns,bus=n0,drive=z0,nsid=1,"
                             "zoned.backend=on "
                             "-device nvme-ns,bus=n0,drive=d1,nsid=2");
}

static void register_nvme_fuzz_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "nvme-zns-cmd-fuzz",
        .description = "Fuzz the commands of an NVMe controller with a "
                       "zoned namespace on the drive's zones",
        .get_init_cmdline = nvme_zns_args,
        .pre_fuzz = nvme_fuzz_pre,
        .fuzz = nvme_fuzz,
    });
    fuzz_add_target(&(FuzzTarget){
        .name = "nvme-iothread-cmd-fuzz",
        .description = "Fuzz the commands of an NVMe controller whose I/O "
                       "queues run in a polling IOThread",
        .get_init_cmdline = nvme_iothread_args,
        .pre_fuzz = nvme_fuzz_pre,
        .fuzz = nvme_fuzz,
    });
    fuzz_add_target(&(FuzzTarget){
        .name = "nvme-viommu-cmd-fuzz",
        .description = "Fuzz the commands of an NVMe controller whose I/O "
                       "queues run in a polling IOThread, behind VT-d",
        .get_init_cmdline = nvme_viommu_args,
        .pre_fuzz = nvme_viommu_pre,
        .fuzz = nvme_fuzz,
    });
    fuzz_add_target(&(FuzzTarget){
        .name = "nvme-amdvi-cmd-fuzz",
        .description = "Fuzz the commands of an NVMe controller whose I/O "
                       "queues run in a polling IOThread, behind the AMD "
                       "IOMMU, with its invalidations",
        .get_init_cmdline = nvme_amdvi_args,
        .pre_fuzz = nvme_amdvi_pre,
        .fuzz = nvme_fuzz,
    });
    fuzz_add_target(&(FuzzTarget){
        .name = "nvme-subsys-cmd-fuzz",
        .description = "Fuzz the commands of two NVMe controllers of one "
                       "subsystem that share namespaces",
        .get_init_cmdline = nvme_subsys_args,
        .pre_fuzz = nvme_fuzz_pre,
        .fuzz = nvme_fuzz,
    });
}

fuzz_target_init(register_nvme_fuzz_targets);
