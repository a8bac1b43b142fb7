/*
 * QTest testcase for the NVMe controller's I/O queue processing: the
 * shadow doorbell buffer and the modes the I/O queues run in
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <math.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "libqos/virtio-pci.h"
#include "block/nvme.h"
#include "hw/pci/pci_regs.h"
#include "hw/i386/intel_iommu.h"
#include "hw/i386/intel_iommu_internal.h"
#include "libqos/intel-iommu.h"
#include "libqos/amd-iommu.h"
#include "libqos/virtio-iommu-drv.h"
#include "qemu/bswap.h"
#include "standard-headers/linux/virtio_blk.h"
#include "standard-headers/linux/virtio_config.h"

#define QSIZE       16      /* entries of each queue, but in the benchmark */
#define NR_IOQ      3       /* the modes use 1 or 2, a test one more */
#define NSID        1
#define DISK_SIZE   (16 * 1024 * 1024)
#define DRIVE       "-blockdev driver=null-co,node-name=d0,size=16777216," \
                    "memory-backed=on"

/* The value nvme_cmd() returns: the status field without the phase bit */
#define ST_DNR      (1 << 14)

typedef struct Mode {
    const char *name;
    const char *objects;    /* -object options */
    const char *args;       /* options of the nvme device, or JSON */
    bool dbbuf;             /* set up the shadow doorbell buffer */
    bool dp;                /* I/O queues in IOThreads */
    bool msix;              /* enable MSI-X */
    bool eager;             /* lazy-cq-eventidx=off */
    bool irqs;              /* I/O CQs with interrupts enabled */
    bool eventidx;          /* doorbell registers when the EventIdx asks */
} Mode;

static const Mode modes[] = {
    { "main", "", "", false, false },
    { "main-dbbuf", "", "", true, false },
    { "ioeventfd", "", ",ioeventfd=on", true, false },
    { "iothread", "-object iothread,id=t0,poll-max-ns=0",
      ",ioeventfd=on,iothread=t0", true, true },
    { "iothread-poll", "-object iothread,id=t0,poll-max-ns=50000",
      ",ioeventfd=on,iothread=t0", true, true },
    { "iothread-nodbcs", "-object iothread,id=t0",
      ",ioeventfd=on,dbcs=off,iothread=t0", false, true },
    { "iothread-noioeventfd", "-object iothread,id=t0",
      ",ioeventfd=off,iothread=t0", true, true },
    { "iothread-msix", "-object iothread,id=t0,poll-max-ns=0",
      ",ioeventfd=on,iothread=t0", true, true, true },
    { "iothreads", "-object iothread,id=t0 -object iothread,id=t1",
      "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
      "'drive': 'd0', 'ioeventfd': true, 'iothread-vq-mapping': "
      "[{'iothread': 't0'}, {'iothread': 't1'}]}", true, true },
};

typedef struct Nvme {
    const Mode *mode;
    QOSState *qs;
    QTestState *qts;
    QPCIDevice *dev;
    QPCIBar bar;
    int nr_ioq;
    uint64_t sq[NR_IOQ + 1], cq[NR_IOQ + 1];
    uint16_t sq_tail[NR_IOQ + 1], cq_head[NR_IOQ + 1];
    uint16_t phase[NR_IOQ + 1];
    uint16_t cid;
    int qsize;              /* entries of each queue */
    bool dbbuf;
    uint64_t dbs, eis;      /* shadow doorbell and EventIdx pages */
    uint64_t buf;           /* NR_IOQ * qsize pages for data */

    /*
     * The benchmark's: guest RAM mapped into this process, so that the
     * queues and shadow doorbells do not go through the qtest protocol
     * (the main loop)
     */
    uint8_t *ram;
    uint64_t mmio_dbs;      /* MMIO doorbell writes to I/O queues */
} Nvme;

static void nvme_writel(Nvme *c, uint64_t addr, uint32_t val)
{
    if (c->ram) {
        /* a shadow doorbell: after the queue entries it publishes */
        qatomic_store_release((uint32_t *)(c->ram + addr), cpu_to_le32(val));
    } else {
        qtest_writel(c->qts, addr, val);
    }
}

static uint32_t nvme_readl(Nvme *c, uint64_t addr)
{
    if (c->ram) {
        return le32_to_cpu(qatomic_read((uint32_t *)(c->ram + addr)));
    }
    return qtest_readl(c->qts, addr);
}

/*
 * Write the new value @val of doorbell @db (2 * qid for the SQ tail, one
 * more for the CQ head) to its shadow; return whether the doorbell register
 * must be written too.  With Mode.eventidx that is when the EventIdx is
 * among the values the doorbell passed (Linux's
 * nvme_dbbuf_update_and_check_event(); the test is virtio's).
 */
static bool nvme_shadow_doorbell(Nvme *c, int db, uint16_t val)
{
    if (c->dbbuf && c->mode->eventidx) {
        uint16_t old = nvme_readl(c, c->dbs + 4 * db);

        nvme_writel(c, c->dbs + 4 * db, val);
        /* the device reads the shadow after it writes the EventIdx */
        smp_mb();
        return vring_need_event(nvme_readl(c, c->eis + 4 * db), val, old);
    }
    if (c->dbbuf) {
        nvme_writel(c, c->dbs + 4 * db, val);
    }
    return true;
}

static void nvme_mmio_doorbell(Nvme *c, int db, uint16_t val)
{
    qpci_io_writel(c->dev, c->bar, 0x1000 + 4 * db, val);
    if (db >= 2) {
        c->mmio_dbs++;
    }
}

static void nvme_sq_doorbell(Nvme *c, int q)
{
    if (nvme_shadow_doorbell(c, 2 * q, c->sq_tail[q])) {
        nvme_mmio_doorbell(c, 2 * q, c->sq_tail[q]);
    }
}

static void nvme_cq_doorbell(Nvme *c, int q)
{
    if (nvme_shadow_doorbell(c, 2 * q + 1, c->cq_head[q])) {
        nvme_mmio_doorbell(c, 2 * q + 1, c->cq_head[q]);
    }
}

/* Put @cmd into submission queue @q without ringing; return its cid */
static uint16_t nvme_queue(Nvme *c, int q, NvmeCmd *cmd)
{
    uint64_t addr = c->sq[q] + c->sq_tail[q] * sizeof(*cmd);

    cmd->cid = cpu_to_le16(++c->cid);
    if (c->ram) {
        memcpy(c->ram + addr, cmd, sizeof(*cmd));
    } else {
        qtest_memwrite(c->qts, addr, cmd, sizeof(*cmd));
    }
    c->sq_tail[q] = (c->sq_tail[q] + 1) % c->qsize;
    return c->cid;
}

static uint16_t nvme_submit(Nvme *c, int q, NvmeCmd *cmd)
{
    uint16_t cid = nvme_queue(c, q, cmd);

    nvme_sq_doorbell(c, q);
    return cid;
}

/* Is a completion waiting in completion queue @q? */
static bool nvme_cqe_ready(Nvme *c, int q, NvmeCqe *cqe)
{
    uint64_t addr = c->cq[q] + c->cq_head[q] * sizeof(*cqe);

    if (c->ram) {
        /* the phase bit first: it says the rest of the entry is there */
        uint16_t *status = (uint16_t *)(c->ram + addr +
                                        offsetof(NvmeCqe, status));

        if ((le16_to_cpu(qatomic_load_acquire(status)) & 1) != c->phase[q]) {
            return false;
        }
        memcpy(cqe, c->ram + addr, sizeof(*cqe));
        return true;
    }
    qtest_memread(c->qts, addr, cqe, sizeof(*cqe));
    return (le16_to_cpu(cqe->status) & 1) == c->phase[q];
}

/* Consume the completion at the head of queue @q, without ringing */
static void nvme_cq_pop(Nvme *c, int q)
{
    c->cq_head[q] = (c->cq_head[q] + 1) % c->qsize;
    if (!c->cq_head[q]) {
        c->phase[q] ^= 1;
    }
}

/* Wait for the next completion of queue @q, consume it, ring the doorbell */
static void nvme_wait(Nvme *c, int q, NvmeCqe *cqe)
{
    int i;

    for (i = 0; !nvme_cqe_ready(c, q, cqe); i++) {
        g_assert_cmpint(i, <, 2000000);
        /* a controller with CSTS.CFS set completes nothing more */
        if (i % 1000 == 999) {
            g_assert_cmphex(qpci_io_readl(c->dev, c->bar, 0x1c) & 2, ==, 0);
        }
        g_usleep(10);
    }
    nvme_cq_pop(c, q);
    nvme_cq_doorbell(c, q);
}

/* Submit @cmd on queue @q and wait for its completion; return its status */
static uint16_t nvme_cmd(Nvme *c, int q, NvmeCmd *cmd, uint32_t *dw0)
{
    uint16_t cid = nvme_submit(c, q, cmd);
    NvmeCqe cqe;

    nvme_wait(c, q, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid);
    if (dw0) {
        *dw0 = le32_to_cpu(cqe.result);
    }
    return le16_to_cpu(cqe.status) >> 1;
}

static void nvme_wait_ready(Nvme *c, bool ready)
{
    int i;

    for (i = 0; (qpci_io_readl(c->dev, c->bar, 0x1c) & 1) != ready; i++) {
        g_assert_cmpint(i, <, 1000000);
        g_usleep(10);
    }
}

/* The host's state of a new I/O queue pair @q */
static void nvme_init_ioq(Nvme *c, int q)
{
    c->sq_tail[q] = c->cq_head[q] = 0;
    c->phase[q] = 1;
    qtest_memset(c->qts, c->cq[q], 0, c->qsize * sizeof(NvmeCqe));
    if (c->dbbuf) {
        /* as Linux does: the queue's shadow doorbells start at 0 */
        qtest_writeq(c->qts, c->dbs + 8 * q, 0);
        qtest_writeq(c->qts, c->eis + 8 * q, 0);
    }
}

/* Create I/O completion queue @q at @addr; return its status */
static uint16_t nvme_create_cq_at(Nvme *c, int q, uint64_t addr)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_CREATE_CQ,
        .dptr.prp1 = cpu_to_le64(addr),
        .cdw10 = cpu_to_le32((c->qsize - 1) << 16 | q),
        /* vector q with MSI-X, else 0 (the only one of INTx) */
        .cdw11 = cpu_to_le32(NVME_CQ_PC |
                             (c->mode->irqs ? NVME_CQ_IEN : 0) |
                             (c->mode->msix ? q : 0) << 16),
    };

    return nvme_cmd(c, 0, &cmd, NULL);
}

/* Create I/O submission queue @q at @addr, on completion queue @q */
static uint16_t nvme_create_sq_at(Nvme *c, int q, uint64_t addr)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_CREATE_SQ,
        .dptr.prp1 = cpu_to_le64(addr),
        .cdw10 = cpu_to_le32((c->qsize - 1) << 16 | q),
        .cdw11 = cpu_to_le32(q << 16 | 1),
    };

    return nvme_cmd(c, 0, &cmd, NULL);
}

static uint16_t nvme_create_ioq(Nvme *c, int q)
{
    uint16_t st;

    nvme_init_ioq(c, q);
    st = nvme_create_cq_at(c, q, c->cq[q]);
    if (st) {
        return st;
    }
    return nvme_create_sq_at(c, q, c->sq[q]);
}

static uint16_t nvme_delete_ioq(Nvme *c, int q)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_DELETE_SQ,
        .cdw10 = cpu_to_le32(q),
    };
    uint16_t st = nvme_cmd(c, 0, &cmd, NULL);

    if (st) {
        return st;
    }
    cmd.opcode = NVME_ADM_CMD_DELETE_CQ;
    return nvme_cmd(c, 0, &cmd, NULL);
}

static uint16_t nvme_dbbuf_config(Nvme *c, uint64_t dbs, uint64_t eis)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_DBBUF_CONFIG,
        .dptr.prp1 = cpu_to_le64(dbs),
        .dptr.prp2 = cpu_to_le64(eis),
    };

    return nvme_cmd(c, 0, &cmd, NULL);
}

/*
 * dbcs=off: Doorbell Buffer Config is an invalid opcode and the doorbell
 * registers are the only doorbells
 */
static bool nvme_no_dbbuf(Nvme *c)
{
    if (!strstr(c->mode->args, "dbcs=off")) {
        return false;
    }
    g_assert_cmphex(nvme_dbbuf_config(c, c->dbs, c->eis), ==,
                    NVME_INVALID_OPCODE | ST_DNR);
    return true;
}

/* Enable the controller, configure the shadow doorbells, create queues */
static void nvme_enable(Nvme *c)
{
    int q;

    c->sq_tail[0] = c->cq_head[0] = 0;
    c->phase[0] = 1;
    c->dbbuf = false;
    qtest_memset(c->qts, c->cq[0], 0, c->qsize * sizeof(NvmeCqe));

    qpci_io_writel(c->dev, c->bar, 0x24,
                   (c->qsize - 1) | (c->qsize - 1) << 16);
    qpci_io_writeq(c->dev, c->bar, 0x28, c->sq[0]);
    qpci_io_writeq(c->dev, c->bar, 0x30, c->cq[0]);
    qpci_io_writel(c->dev, c->bar, 0x14, 1 | 6 << 16 | 4 << 20);
    nvme_wait_ready(c, true);

    if (c->mode->dbbuf) {
        qtest_memset(c->qts, c->dbs, 0, 4096);
        qtest_memset(c->qts, c->eis, 0, 4096);
        g_assert_cmphex(nvme_dbbuf_config(c, c->dbs, c->eis), ==, 0);
        c->dbbuf = true;
    }

    for (q = 1; q <= c->nr_ioq; q++) {
        g_assert_cmphex(nvme_create_ioq(c, q), ==, 0);
    }
}

static void nvme_disable(Nvme *c)
{
    qpci_io_writel(c->dev, c->bar, 0x14, 0);
    nvme_wait_ready(c, false);
}

static Nvme *nvme_boot(const Mode *m, int nr_ioq, int qsize, const char *extra)
{
    Nvme *c = g_new0(Nvme, 1);
    int q;

    c->mode = m;
    c->nr_ioq = nr_ioq;
    c->qsize = qsize;
    if (m->args[0] == '{') {
        g_autofree char *json = g_strdelimit(g_strdup(m->args), "'", '"');

        c->qs = qtest_pc_boot(DRIVE " %s %s -device '%s'", m->objects,
                              extra ? extra : "", json);
    } else {
        c->qs = qtest_pc_boot(DRIVE " %s %s -device nvme,id=nvme0,serial=iot,"
                              "addr=04.0,drive=d0%s", m->objects,
                              extra ? extra : "", m->args);
    }
    c->qts = c->qs->qts;
    c->dev = qpci_device_find(c->qs->pcibus, QPCI_DEVFN(4, 0));
    g_assert(c->dev);
    qpci_device_enable(c->dev);
    if (m->msix) {
        /* the MSI-X table is in BAR 0 */
        qpci_msix_enable(c->dev);
        c->bar = c->dev->msix_table_bar;
    } else {
        c->bar = qpci_iomap(c->dev, 0, NULL);
    }

    for (q = 0; q <= NR_IOQ; q++) {
        c->sq[q] = guest_alloc(&c->qs->alloc, qsize * sizeof(NvmeCmd));
        c->cq[q] = guest_alloc(&c->qs->alloc, qsize * sizeof(NvmeCqe));
    }
    c->dbs = QEMU_ALIGN_UP(guest_alloc(&c->qs->alloc, 2 * 4096), 4096);
    c->eis = QEMU_ALIGN_UP(guest_alloc(&c->qs->alloc, 2 * 4096), 4096);
    c->buf = guest_alloc(&c->qs->alloc, (NR_IOQ * qsize + 1) * 4096);
    c->buf = QEMU_ALIGN_UP(c->buf, 4096);

    nvme_enable(c);
    return c;
}

/* The I/O queues of mode @m: both IOThreads of "iothreads" get one */
static int nvme_mode_ioqs(const Mode *m)
{
    return strstr(m->args, "vq-mapping") ? 2 : 1;
}

static Nvme *nvme_start(const Mode *m)
{
    return nvme_boot(m, nvme_mode_ioqs(m), QSIZE, NULL);
}

static void nvme_stop(Nvme *c)
{
    qpci_iounmap(c->dev, c->bar);
    g_free(c->dev);
    qtest_shutdown(c->qs);
    g_free(c);
}

static void nvme_rw_cmd(Nvme *c, NvmeCmd *cmd, uint8_t opcode, uint64_t slba,
                        uint64_t buf)
{
    memset(cmd, 0, sizeof(*cmd));
    cmd->opcode = opcode;
    cmd->nsid = cpu_to_le32(NSID);
    cmd->dptr.prp1 = cpu_to_le64(buf);
    cmd->cdw10 = cpu_to_le32(slba);
    cmd->cdw11 = cpu_to_le32(slba >> 32);
    cmd->cdw12 = cpu_to_le32(8 - 1);     /* 4 KiB in 512-byte blocks */
}

/* Write one 4 KiB block at @slba from a page filled with @pattern */
static uint16_t nvme_write_pattern(Nvme *c, int q, uint64_t slba,
                                   uint8_t pattern)
{
    NvmeCmd cmd;

    qtest_memset(c->qts, c->buf, pattern, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, slba, c->buf);
    return nvme_cmd(c, q, &cmd, NULL);
}

/* Read one 4 KiB block at @slba and check that it holds @pattern */
static void nvme_check_pattern(Nvme *c, int q, uint64_t slba, uint8_t pattern)
{
    g_autofree uint8_t *data = g_malloc(4096);
    NvmeCmd cmd;
    int i;

    qtest_memset(c->qts, c->buf, ~pattern, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, slba, c->buf);
    g_assert_cmphex(nvme_cmd(c, q, &cmd, NULL), ==, 0);
    qtest_memread(c->qts, c->buf, data, 4096);
    for (i = 0; i < 4096; i++) {
        g_assert_cmphex(data[i], ==, pattern);
    }
}

/*
 * Several rounds of writes and reads on every I/O queue, more commands than
 * a queue has entries so that the queues wrap.
 */
static void nvme_io_rounds(Nvme *c, int rounds)
{
    int r, q;

    for (r = 0; r < rounds; r++) {
        for (q = 1; q <= c->nr_ioq; q++) {
            uint64_t slba = (r * 8 + q * 1024) % (DISK_SIZE / 512);

            g_assert_cmphex(nvme_write_pattern(c, q, slba, r * 16 + q), ==, 0);
            nvme_check_pattern(c, q, slba, r * 16 + q);
        }
    }
}

static void test_io(const void *opaque)
{
    Nvme *c = nvme_start(opaque);

    nvme_io_rounds(c, 2 * QSIZE);
    nvme_stop(c);
}

/*
 * Set Features turning the volatile write cache off completes once the
 * namespace is flushed.  Controllers in IOThreads run Set Features with
 * the I/O queues of the subsystem stopped, and that flush completes after
 * the command returned: its completion must start them again, or no I/O
 * command completes after it.  The cache on again, too.
 */
static void test_vwc_off(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_SET_FEATURES,
        .cdw10 = cpu_to_le32(NVME_VOLATILE_WRITE_CACHE),
    };
    uint32_t dw0 = 1;

    g_assert_cmphex(nvme_write_pattern(c, 1, 8, 0x11), ==, 0);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    g_assert_cmphex(nvme_write_pattern(c, 1, 16, 0x22), ==, 0);
    nvme_check_pattern(c, 1, 8, 0x11);
    nvme_check_pattern(c, 1, 16, 0x22);

    cmd.opcode = NVME_ADM_CMD_GET_FEATURES;
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, &dw0), ==, 0);
    g_assert_cmphex(dw0, ==, 0);

    cmd.opcode = NVME_ADM_CMD_SET_FEATURES;
    cmd.cdw11 = cpu_to_le32(1);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    nvme_io_rounds(c, 2);
    nvme_stop(c);
}

/* A queue depth of QSIZE - 1: every entry of the queue in flight at once */
static void test_io_batch(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint16_t cids[QSIZE];
    NvmeCmd cmd;
    NvmeCqe cqe;
    int i, j, round;

    for (round = 0; round < 3; round++) {
        for (i = 0; i < QSIZE - 1; i++) {
            qtest_memset(c->qts, c->buf + i * 4096, round * 32 + i, 4096);
            nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, i * 8, c->buf + i * 4096);
            cids[i] = nvme_queue(c, 1, &cmd);
        }
        nvme_sq_doorbell(c, 1);
        for (i = 0; i < QSIZE - 1; i++) {
            nvme_wait(c, 1, &cqe);
            g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
            for (j = 0; j < QSIZE - 1; j++) {
                if (cids[j] == le16_to_cpu(cqe.cid)) {
                    cids[j] = 0;
                    break;
                }
            }
            g_assert_cmpint(j, <, QSIZE - 1);
        }
        for (i = 0; i < QSIZE - 1; i++) {
            nvme_check_pattern(c, 1, i * 8, round * 32 + i);
        }
    }
    nvme_stop(c);
}

/*
 * Doorbell Buffer Config sets the EventIdx entries of existing queues to
 * their doorbell values: whatever the pages held must not suppress the
 * host's next doorbell write.
 */
static void test_dbbuf_eventidx_init(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint64_t dbs = c->dbs, eis = c->eis;

    if (nvme_no_dbbuf(c)) {
        nvme_stop(c);
        return;
    }
    if (c->dbbuf) {
        /* already configured by nvme_enable(); configure again */
        c->dbbuf = false;
    }
    qtest_memset(c->qts, dbs, 0xff, 4096);
    qtest_memset(c->qts, eis, 0xff, 4096);
    g_assert_cmphex(nvme_dbbuf_config(c, dbs, eis), ==, 0);
    c->dbbuf = true;

    /* I/O queue 1: SQ tail 0, CQ head 0, doorbells and EventIdx alike */
    g_assert_cmphex(qtest_readl(c->qts, dbs + 8), ==, c->sq_tail[1]);
    g_assert_cmphex(qtest_readl(c->qts, dbs + 12), ==, c->cq_head[1]);
    g_assert_cmphex(qtest_readl(c->qts, eis + 8), ==, c->sq_tail[1]);
    if (c->mode->dp && c->mode->msix) {
        /* or already one behind, see test_dbbuf_cq_eventidx() */
        uint32_t ei = qtest_readl(c->qts, eis + 12);

        g_assert_true(ei == c->cq_head[1] ||
                      ei == (c->cq_head[1] + QSIZE - 1) % QSIZE);
    } else {
        g_assert_cmphex(qtest_readl(c->qts, eis + 12), ==, c->cq_head[1]);
    }

    nvme_io_rounds(c, QSIZE + 2);
    nvme_stop(c);
}

/* The number of open file descriptors of the QEMU under test */
static int nvme_qemu_fds(Nvme *c)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/fd",
                                            (int)qtest_pid(c->qts));
    GDir *dir = g_dir_open(path, 0, NULL);
    int n = 0;

    g_assert_nonnull(dir);
    while (g_dir_read_name(dir)) {
        n++;
    }
    g_dir_close(dir);
    return n;
}

/*
 * Doorbell Buffer Config again while the I/O queues live: each queue keeps
 * the one doorbell ioeventfd it has.  (A second eventfd per queue leaked
 * the first and left a second registration in BAR0, which outlived the
 * queue; under KVM the duplicate registration aborts QEMU.)  Deleting and
 * creating the queues again gives back what they took.
 */
static void test_dbbuf_again(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int fds, i, q;

    if (!c->dbbuf) {
        nvme_stop(c);
        return;
    }
    fds = nvme_qemu_fds(c);
    for (i = 0; i < 3; i++) {
        g_assert_cmphex(nvme_dbbuf_config(c, c->dbs, c->eis), ==, 0);
    }
    g_assert_cmpint(nvme_qemu_fds(c), ==, fds);
    nvme_io_rounds(c, QSIZE + 2);

    for (q = 1; q <= c->nr_ioq; q++) {
        g_assert_cmphex(nvme_delete_ioq(c, q), ==, 0);
        g_assert_cmphex(nvme_create_ioq(c, q), ==, 0);
    }
    nvme_io_rounds(c, 2);
    g_assert_cmpint(nvme_qemu_fds(c), ==, fds);
    nvme_stop(c);
}

/* Shadow doorbell pages the controller cannot reach: Invalid Field */
static void test_dbbuf_inaccessible(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint64_t nowhere = 1ULL << 46;

    if (nvme_no_dbbuf(c)) {
        nvme_stop(c);
        return;
    }
    g_assert_cmphex(nvme_dbbuf_config(c, nowhere, c->eis), ==,
                    NVME_INVALID_FIELD | ST_DNR);
    g_assert_cmphex(nvme_dbbuf_config(c, c->dbs, nowhere), ==,
                    NVME_INVALID_FIELD | ST_DNR);
    g_assert_cmphex(nvme_dbbuf_config(c, c->dbs + 512, c->eis), ==,
                    NVME_INVALID_FIELD | ST_DNR);

    /* the controller still works, with the old configuration if any */
    nvme_io_rounds(c, 4);
    nvme_stop(c);
}

/*
 * After a refused command the controller still works: an admin command and
 * I/O on every queue complete, CSTS has RDY and no CFS.
 */
static void nvme_check_alive(Nvme *c)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_GET_FEATURES,
        .cdw10 = cpu_to_le32(NVME_NUMBER_OF_QUEUES),
    };

    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    nvme_io_rounds(c, 2);
    g_assert_cmphex(qpci_io_readl(c->dev, c->bar, 0x1c) & 3, ==, 1);
}

/*
 * An I/O completion queue in the controller's own BAR0: Create I/O
 * Completion Queue fails with Invalid Field in Command.  The host goes on
 * regardless, as the one that found the bug did: it creates the SQ on it
 * (Invalid Queue Identifier, there is no such CQ) and submits two flushes.
 * Before the fix the completions were DMA to the registers, the second one
 * clearing CC.EN: a controller reset from the IOThread, which aborted
 * QEMU, or CSTS.CFS in the main loop.
 */
static void test_bar0_cq(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int q = c->nr_ioq + 1;
    NvmeCmd cmd = {
        .opcode = NVME_CMD_FLUSH,
        .nsid = cpu_to_le32(NSID),
    };
    uint16_t st_cq, st_sq;

    g_assert_cmpint(q, <=, NR_IOQ);
    nvme_init_ioq(c, q);
    st_cq = nvme_create_cq_at(c, q, c->bar.addr);
    st_sq = nvme_create_sq_at(c, q, c->sq[q]);
    nvme_queue(c, q, &cmd);
    nvme_queue(c, q, &cmd);
    nvme_sq_doorbell(c, q);

    nvme_check_alive(c);
    g_assert_cmphex(st_cq, ==, NVME_INVALID_FIELD | ST_DNR);
    g_assert_cmphex(st_sq, ==, NVME_INVALID_CQID | ST_DNR);
    nvme_stop(c);
}

/*
 * An I/O submission queue in BAR0: Invalid Field in Command as well.  The
 * completion queue it was meant for takes an SQ in RAM.
 */
static void test_bar0_sq(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int q = c->nr_ioq + 1;

    g_assert_cmpint(q, <=, NR_IOQ);
    nvme_init_ioq(c, q);
    g_assert_cmphex(nvme_create_cq_at(c, q, c->cq[q]), ==, 0);
    g_assert_cmphex(nvme_create_sq_at(c, q, c->bar.addr), ==,
                    NVME_INVALID_FIELD | ST_DNR);
    g_assert_cmphex(nvme_create_sq_at(c, q, c->sq[q]), ==, 0);
    c->nr_ioq = q;

    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * Doorbell Buffer Config with the shadow doorbell page or the EventIdx page
 * in BAR0: Invalid Field in Command, the buffer stays where it was.  Then
 * I/O on queues 1 and 2.  Before the fix the EventIdx of CQ 2 was CC: its
 * first update reset the controller, from an IOThread that aborted QEMU.
 */
static void test_bar0_dbbuf(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint16_t st_dbs, st_eis;

    if (!c->dbbuf) {
        nvme_stop(c);
        return;
    }
    st_dbs = nvme_dbbuf_config(c, c->bar.addr, c->eis);
    st_eis = nvme_dbbuf_config(c, c->dbs, c->bar.addr);
    if (c->nr_ioq < 2) {
        g_assert_cmphex(nvme_create_ioq(c, 2), ==, 0);
        c->nr_ioq = 2;
    }

    nvme_check_alive(c);
    g_assert_cmphex(st_dbs, ==, NVME_INVALID_FIELD | ST_DNR);
    g_assert_cmphex(st_eis, ==, NVME_INVALID_FIELD | ST_DNR);
    nvme_stop(c);
}

/*
 * A write whose PRP list is in BAR0: the controller's read of the list
 * dispatches to its own registers, which is refused in every mode (the
 * device's reentrancy guard in the main loop, the registers refusing
 * IOThreads' accesses otherwise): Data Transfer Error.  Before the fix the
 * SQ ioeventfd handler of the main loop, which did not engage the guard,
 * and the IOThreads read the doorbells as a list of zeros and wrote the
 * data from address 0.
 */
static void test_bar0_prp_list(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    NvmeCmd cmd;

    /* 12 KiB: PRP2 points to a PRP list */
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 0, c->buf);
    cmd.dptr.prp2 = cpu_to_le64(c->bar.addr + 0x1000);
    cmd.cdw12 = cpu_to_le32(24 - 1);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL) & 0x7ff, ==,
                    NVME_DATA_TRAS_ERROR);

    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * A read whose PRP list is in the IOAPIC's registers.  With the I/O queues
 * in IOThreads, reading the list there took the BQL in the IOThread, which
 * deadlocked against a controller reset waiting for it in the main loop:
 * guest memory that is not RAM is a Data Transfer Error there.  (In the
 * main loop it is guest memory as any other.)
 */
static void test_ioapic_prp_list(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    NvmeCmd cmd;
    uint16_t st;

    /* 12 KiB: PRP2 points to a PRP list */
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, c->buf);
    cmd.dptr.prp2 = cpu_to_le64(0xfec00000);
    cmd.cdw12 = cpu_to_le32(24 - 1);
    st = nvme_cmd(c, 1, &cmd, NULL) & 0x7ff;
    if (m->dp) {
        g_assert_cmphex(st, ==, NVME_DATA_TRAS_ERROR);
    }

    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * An I/O completion queue in RAM that the guest then turns into ROM: the
 * host bridge's PAM register maps 0xc0000 to RAM while the queue is
 * created, then back to the ROM shadow.  The controller checked the queue's
 * memory when it was created; with the I/O queues in IOThreads, its
 * completions to ROM took the BQL in the IOThread, and the controller
 * reset that waited for the IOThread in the main loop deadlocked.  Now the
 * completions are refused (CSTS.CFS), and the reset completes.  (In the
 * main loop, writes to ROM are dropped, as any device's.)
 */
static void test_cq_turned_rom(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    QPCIDevice *host = qpci_device_find(c->qs->pcibus, QPCI_DEVFN(0, 0));
    int q = c->nr_ioq + 1;
    NvmeCmd cmd = {
        .opcode = NVME_CMD_FLUSH,
        .nsid = cpu_to_le32(NSID),
    };
    int i;

    g_assert(host);
    g_assert_cmpint(q, <=, NR_IOQ);
    /* i440FX PAM1: 0xc0000-0xc7fff read and write RAM */
    qpci_config_writeb(host, 0x5a, 0x33);
    nvme_init_ioq(c, q);
    g_assert_cmphex(nvme_create_cq_at(c, q, 0xc0000), ==, 0);
    g_assert_cmphex(nvme_create_sq_at(c, q, c->sq[q]), ==, 0);
    qpci_config_writeb(host, 0x5a, 0x00);

    for (i = 0; i < c->qsize - 1; i++) {
        nvme_queue(c, q, &cmd);
    }
    nvme_sq_doorbell(c, q);
    /* A controller reset, which waits for the IOThreads */
    nvme_disable(c);
    nvme_enable(c);
    nvme_check_alive(c);
    g_free(host);
    nvme_stop(c);
}

/*
 * Data to and from ROM (the BIOS, just below 4 GiB).  A transfer into ROM
 * fails with Data Transfer Error in every mode, block I/O and copies
 * (Identify) alike: the memory core refuses the write.  (With the I/O
 * queues in IOThreads it would also take the BQL there, and deadlock
 * against a controller reset in the main loop.)  The controller refuses
 * the data when it maps it; the DMA helpers would again
 * (QEMUSGList.ram_only) for a memory map that changed in between.  A
 * transfer from ROM reads it as memory, in every mode.
 */
static void test_rom_data(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    NvmeCmd cmd;

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, 0xfffe0000);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL) & 0x7ff, ==,
                    NVME_DATA_TRAS_ERROR);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 0, 0xfffe0000);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);
    /* Identify Controller: a copy, not block I/O */
    cmd = (NvmeCmd) {
        .opcode = NVME_ADM_CMD_IDENTIFY,
        .cdw10 = cpu_to_le32(NVME_ID_CNS_CTRL),
    };
    cmd.dptr.prp1 = cpu_to_le64(0xfffe0000);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL) & 0x7ff, ==,
                    NVME_DATA_TRAS_ERROR);

    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * A read of 8 KiB through an SGL whose data goes to RAM, to MMIO (the VGA
 * window, whose memory takes writes) and to RAM again.  Writes to MMIO go
 * through bounce buffers, of which a device has 4 KiB: the DMA helpers map
 * 0x1100 bytes, then trim the mapping to whole blocks and map the rest in
 * a second round.  They used to drop 0x1000 bytes instead of 0x100, without
 * unmapping them or going back in the list: the bounce buffer leaked and
 * the read never completed.  In the IOThread modes, data outside RAM is a
 * Data Transfer Error.
 */
static void test_sgl_bounce(const void *opaque)
{
    static const struct {
        uint64_t addr;      /* MMIO, or an offset into the data pages */
        uint32_t len;
    } data[] = {
        { 4096, 0x100 }, { 0xa0000, 0x1000 }, { 0xa1000, 0x100 },
        { 2 * 4096, 0xe00 },
    };
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    NvmeSglDescriptor sgl[ARRAY_SIZE(data)] = { };
    g_autofree uint8_t *buf = g_malloc(0xe00);
    NvmeCmd cmd;
    int round, i;

    for (i = 0; i < ARRAY_SIZE(data); i++) {
        uint64_t addr = data[i].addr;

        sgl[i].addr = cpu_to_le64(addr < 0xa0000 ? c->buf + addr : addr);
        sgl[i].len = cpu_to_le32(data[i].len);
        sgl[i].type = NVME_SGL_DESCR_TYPE_DATA_BLOCK << 4;
    }
    g_assert_cmphex(nvme_write_pattern(c, 1, 0, 0x11), ==, 0);
    g_assert_cmphex(nvme_write_pattern(c, 1, 8, 0x22), ==, 0);

    /* twice: the first read must have given the bounce buffer back */
    for (round = 0; round < 2; round++) {
        qtest_memwrite(c->qts, c->buf, sgl, sizeof(sgl));
        qtest_memset(c->qts, c->buf + 4096, 0, 2 * 4096);
        nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, 0);
        cmd.flags = NVME_PSDT_SGL_MPTR_CONTIGUOUS << 6;
        cmd.dptr.sgl.addr = cpu_to_le64(c->buf);
        cmd.dptr.sgl.len = cpu_to_le32(sizeof(sgl));
        cmd.dptr.sgl.type = NVME_SGL_DESCR_TYPE_LAST_SEGMENT << 4;
        cmd.cdw12 = cpu_to_le32(16 - 1);
        if (m->dp) {
            g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL) & 0x7ff, ==,
                            NVME_DATA_TRAS_ERROR);
            continue;
        }
        g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);

        /* bytes 0-0xff of the disk, then 0x1200-0x1fff */
        qtest_memread(c->qts, c->buf + 4096, buf, 0x100);
        for (i = 0; i < 0x100; i++) {
            g_assert_cmphex(buf[i], ==, 0x11);
        }
        qtest_memread(c->qts, c->buf + 2 * 4096, buf, 0xe00);
        for (i = 0; i < 0xe00; i++) {
            g_assert_cmphex(buf[i], ==, 0x22);
        }
    }

    nvme_check_alive(c);
    nvme_stop(c);
}

#define CMB_SIZE    (2 * 1024 * 1024)

static const Mode cmb_modes[] = {
    { "main", "", ",cmb_size_mb=2", false, false },
    { "iothread", "-object iothread,id=t0,poll-max-ns=0",
      ",cmb_size_mb=2,ioeventfd=on,iothread=t0", true, true },
};

/*
 * Queues in the Controller Memory Buffer: an SQ all in it works (CMBSZ.SQS
 * is 1).  A CQ there is refused with Invalid Use of Controller Memory
 * Buffer (CMBSZ.CQS is 0; the controller would post to its own BAR), and
 * so is an SQ that crosses the end of the CMB.
 */
static void test_cmb_queues(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int q = c->nr_ioq + 1;
    QPCIBar cmb = qpci_iomap(c->dev, 2, NULL);
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_CREATE_SQ,
        .dptr.prp1 = cpu_to_le64(cmb.addr + CMB_SIZE - 4096),
        .cdw10 = cpu_to_le32(127 << 16 | q),     /* 8 KiB */
        .cdw11 = cpu_to_le32(q << 16 | 1),
    };

    /* CMBMSC: CRE and CMSE, the CMB at the address of BAR 2, as Linux */
    qpci_io_writeq(c->dev, c->bar, 0x50, cmb.addr | 3);

    nvme_init_ioq(c, q);
    g_assert_cmphex(nvme_create_cq_at(c, q, cmb.addr), ==,
                    NVME_INVALID_USE_OF_CMB | ST_DNR);
    g_assert_cmphex(nvme_create_cq_at(c, q, c->cq[q]), ==, 0);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==,
                    NVME_INVALID_USE_OF_CMB | ST_DNR);
    c->sq[q] = cmb.addr;
    g_assert_cmphex(nvme_create_sq_at(c, q, c->sq[q]), ==, 0);
    c->nr_ioq = q;

    nvme_io_rounds(c, QSIZE + 2);
    g_assert_cmphex(qpci_io_readl(c->dev, c->bar, 0x1c) & 3, ==, 1);
    nvme_stop(c);
}

/* Submit an Asynchronous Event Request; it completes on an event only */
static uint16_t nvme_aer(Nvme *c)
{
    NvmeCmd cmd = { .opcode = NVME_ADM_CMD_ASYNC_EV_REQ };

    return nvme_submit(c, 0, &cmd);
}

/*
 * Wait for the completion of AER @cid and check it is an Invalid Doorbell
 * Write Value error event
 */
static void nvme_check_invalid_db_event(Nvme *c, uint16_t cid)
{
    NvmeCqe cqe;
    uint32_t dw0;

    nvme_wait(c, 0, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid);
    g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
    dw0 = le32_to_cpu(cqe.result);
    g_assert_cmphex(dw0 & 0x7, ==, NVME_AER_TYPE_ERROR);
    g_assert_cmphex((dw0 >> 8) & 0xff, ==, NVME_AER_INFO_ERR_INVALID_DB_VALUE);
    g_assert_cmphex((dw0 >> 16) & 0xff, ==, NVME_LOG_ERROR_INFO);
}

/* Clear the error event by reading the error log page */
static void nvme_clear_error_event(Nvme *c)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_GET_LOG_PAGE,
        .nsid = cpu_to_le32(NVME_NSID_BROADCAST),
        .dptr.prp1 = cpu_to_le64(c->buf),
        .cdw10 = cpu_to_le32(NVME_LOG_ERROR_INFO | (64 / 4 - 1) << 16),
    };

    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
}

/*
 * A shadow SQ tail beyond the queue is ignored: no command is fetched from
 * beyond the queue, the Invalid Doorbell Write Value event is raised and a
 * later valid tail works.
 */
static void test_dbbuf_bogus_sq_tail(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint16_t aer;
    NvmeCmd cmd;
    NvmeCqe cqe;
    int i;

    if (!c->dbbuf) {
        nvme_stop(c);
        return;
    }

    aer = nvme_aer(c);
    qtest_writel(c->qts, c->dbs + 8, 0xfff0);
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8, c->sq_tail[1]);
    nvme_check_invalid_db_event(c, aer);
    nvme_clear_error_event(c);

    /* nothing was fetched */
    for (i = 0; i < 1000; i++) {
        g_assert_false(nvme_cqe_ready(c, 1, &cqe));
        g_usleep(10);
    }

    /* a command with a valid shadow tail completes */
    qtest_memset(c->qts, c->buf, 0x5a, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 64, c->buf);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);
    nvme_check_pattern(c, 1, 64, 0x5a);

    nvme_stop(c);
}

/* The same for the shadow CQ head: the completion is still posted */
static void test_dbbuf_bogus_cq_head(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    uint16_t aer;

    if (!c->dbbuf) {
        nvme_stop(c);
        return;
    }

    aer = nvme_aer(c);
    qtest_writel(c->qts, c->dbs + 12, 0xffff);
    g_assert_cmphex(nvme_write_pattern(c, 1, 8, 0xa5), ==, 0);
    nvme_check_invalid_db_event(c, aer);
    nvme_clear_error_event(c);
    nvme_check_pattern(c, 1, 8, 0xa5);
    nvme_io_rounds(c, QSIZE + 2);

    nvme_stop(c);
}

/* Queue @n writes on queue 1, ring once; return without waiting */
static void nvme_queue_writes(Nvme *c, int n, uint8_t pattern)
{
    NvmeCmd cmd;
    int i;

    for (i = 0; i < n; i++) {
        qtest_memset(c->qts, c->buf + i * 4096, pattern + i, 4096);
        nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 512 + i * 8, c->buf + i * 4096);
        nvme_queue(c, 1, &cmd);
    }
    nvme_sq_doorbell(c, 1);
}

/* Controller reset (CC.EN=0) with writes in flight, then back to work */
static void test_reset_during_io(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int i;

    for (i = 0; i < 3; i++) {
        nvme_queue_writes(c, QSIZE - 1, i * 16);
        nvme_disable(c);
        nvme_enable(c);
        nvme_io_rounds(c, 2);
    }
    nvme_stop(c);
}

/*
 * Controller resets while Dataset Management deallocates 256 ranges, one
 * request after the other.  The drain of the reset used to queue the
 * request that the completion of the last one started, end, and let it
 * run while the reset freed the queues: the command went on with a freed
 * request (a use after free found by nvme-iothread-cmd-fuzz; with the
 * queues in an IOThread, a few of 100 resets crash QEMU).
 */
static void test_reset_during_dsm(const void *opaque)
{
    enum { NR = 256 };
    NvmeDsmRange range[NR];
    Nvme *c = nvme_start(opaque);
    int i;

    for (i = 0; i < NR; i++) {
        range[i] = (NvmeDsmRange) {
            .nlb = cpu_to_le32(1),
            .slba = cpu_to_le64(i),
        };
    }
    for (i = 0; i < 100; i++) {
        NvmeCmd cmd = {
            .opcode = NVME_CMD_DSM,
            .nsid = cpu_to_le32(NSID),
            .dptr.prp1 = cpu_to_le64(c->buf),
            .cdw10 = cpu_to_le32(NR - 1),
            .cdw11 = cpu_to_le32(NVME_DSMGMT_AD),
        };

        qtest_memwrite(c->qts, c->buf, range, sizeof(range));
        nvme_submit(c, 1, &cmd);
        nvme_disable(c);
        nvme_enable(c);
    }
    nvme_io_rounds(c, 1);
    nvme_stop(c);
}

/* A reset of the whole VM; the controller is left disabled */
static void nvme_vm_reset(Nvme *c)
{
    QDict *rsp;

    rsp = qtest_qmp(c->qts, "{'execute': 'system_reset'}");
    qobject_unref(rsp);
    qtest_qmp_eventwait(c->qts, "RESET");
    /* the BARs are unassigned again, MSI-X is off */
    qpci_iounmap(c->dev, c->bar);
    if (c->mode->msix) {
        qpci_msix_enable(c->dev);
        c->bar = c->dev->msix_table_bar;
    } else {
        c->bar = qpci_iomap(c->dev, 0, NULL);
    }
    qpci_device_enable(c->dev);
    nvme_wait_ready(c, false);
}

/* CC.EN toggles without I/O, and a reset of the whole VM */
static void test_enable_toggle(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int i;

    for (i = 0; i < 4; i++) {
        nvme_disable(c);
        nvme_enable(c);
    }
    nvme_io_rounds(c, 2);

    nvme_vm_reset(c);
    nvme_enable(c);
    nvme_io_rounds(c, 2);
    nvme_stop(c);
}

/*
 * Delete the I/O queue pair with writes in flight: both deletions succeed,
 * the queue can be created again and works.
 */
static void test_delete_during_io(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    int i;

    for (i = 0; i < 3; i++) {
        nvme_queue_writes(c, QSIZE - 1, i * 16);
        g_assert_cmphex(nvme_delete_ioq(c, 1), ==, 0);
        g_assert_cmphex(nvme_create_ioq(c, 1), ==, 0);
        nvme_io_rounds(c, 2);
    }

    /* deleting a CQ that still has an SQ fails */
    {
        NvmeCmd cmd = {
            .opcode = NVME_ADM_CMD_DELETE_CQ,
            .cdw10 = cpu_to_le32(1),
        };

        g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL) & 0x7ff, ==,
                        NVME_INVALID_QUEUE_DEL);
    }
    nvme_stop(c);
}

/*
 * Commands submitted while the VM is stopped: an IOThread does not take
 * them (no polling, no processing) until the VM runs again, and then none
 * is lost.
 */
static void test_stop_cont(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    NvmeCqe cqe;
    int i;

    for (i = 0; i < 3; i++) {
        qtest_qmp_assert_success(c->qts, "{'execute': 'stop'}");
        nvme_queue_writes(c, 4, i * 16);
        if (m->dp) {
            g_usleep(20000);
            g_assert_false(nvme_cqe_ready(c, 1, &cqe));
        }
        qtest_qmp_assert_success(c->qts, "{'execute': 'cont'}");
        for (int j = 0; j < 4; j++) {
            nvme_wait(c, 1, &cqe);
            g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
        }
        for (int j = 0; j < 4; j++) {
            nvme_check_pattern(c, 1, 512 + j * 8, i * 16 + j);
        }
    }
    nvme_stop(c);
}

/*
 * Stops that nest: while the VM is stopped, a controller reset and then a
 * reset of the whole VM, each followed by new I/O queues and writes.  In
 * IOThreads, nothing runs until cont (the resets stop and start the
 * queues once more, queue creation starts them): then every write
 * completes.
 */
static void test_stop_reset_cont(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    NvmeCqe cqe;
    int i, j;

    for (i = 0; i < 2; i++) {
        qtest_qmp_assert_success(c->qts, "{'execute': 'stop'}");
        if (i) {
            nvme_vm_reset(c);
        } else {
            nvme_disable(c);
        }
        nvme_enable(c);
        nvme_queue_writes(c, 4, 0x40 + i * 16);
        if (m->dp) {
            g_usleep(20000);
            g_assert_false(nvme_cqe_ready(c, 1, &cqe));
        }
        qtest_qmp_assert_success(c->qts, "{'execute': 'cont'}");
        for (j = 0; j < 4; j++) {
            nvme_wait(c, 1, &cqe);
            g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
        }
        for (j = 0; j < 4; j++) {
            nvme_check_pattern(c, 1, 512 + j * 8, 0x40 + i * 16 + j);
        }
    }
    nvme_io_rounds(c, 2);
    nvme_stop(c);
}

/*
 * Start QEMU with @args, to quit at once; returns its exit status and
 * (g_free) stderr.
 */
static char *run_and_quit(const char *args, int *status)
{
    g_autofree char *cmd = g_strdup_printf(
        "echo quit | %s -M pc -display none -nodefaults -monitor stdio "
        "-S " DRIVE " %s",
        qtest_qemu_binary(NULL), args);
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };
    g_autofree char *out = NULL;
    char *err = NULL;

    g_assert(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &err,
                          status, NULL));
    return err;
}

static void check_realize_error(const char *args, const char *msg)
{
    int status;
    g_autofree char *err = run_and_quit(args, &status);

    if (!strstr(err, msg)) {
        g_test_message("stderr: %s", err);
    }
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(err, msg));
}

/* The same command line as check_realize_error() starts and quits cleanly */
static void check_realize_ok(const char *args)
{
    int status;
    g_autofree char *err = run_and_quit(args, &status);

    if (*err) {
        g_test_message("stderr: %s", err);
    }
    g_assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_cmpstr(err, ==, "");
}

#define SUBSYS_ZNS_NS   "-device nvme-ns,bus=n0,drive=d0,zoned=true," \
                        "zoned.zone_size=4M"

/*
 * A shared namespace is attached to every controller of its subsystem, and
 * the endurance group of FDP is the subsystem's: zoned and FDP state that a
 * controller keeps to one IOThread would be changed by two threads at once
 * when the controllers run their I/O queues in different ones.  Whichever
 * of the namespace and the controllers comes last is refused.
 */
static void test_subsys_realize_errors(void)
{
    const char *msg = "needs all controllers of subsystem 's' to run their "
                      "I/O queues in one IOThread";

    check_realize_error("-object iothread,id=t0 "
                        "-device nvme-subsys,id=s0,nqn=s "
                        "-device nvme,id=n0,serial=a,subsys=s0,iothread=t0 "
                        "-device nvme,id=n1,serial=a,subsys=s0 "
                        SUBSYS_ZNS_NS, msg);
    check_realize_error("-object iothread,id=t0 -object iothread,id=t1 "
                        "-device nvme-subsys,id=s0,nqn=s "
                        "-device nvme,id=n0,serial=a,subsys=s0,iothread=t0 "
                        SUBSYS_ZNS_NS " "
                        "-device nvme,id=n1,serial=a,subsys=s0,iothread=t1",
                        msg);
    check_realize_error("-object iothread,id=t0 "
                        "-device nvme-subsys,id=s0,nqn=s,fdp=on,"
                        "fdp.runs=4M,fdp.nruh=4 "
                        "-device nvme,id=n0,serial=a,subsys=s0 "
                        "-device nvme,id=n1,serial=a,subsys=s0,iothread=t0",
                        msg);

    /* One IOThread for all, none at all, or a private namespace */
    check_realize_ok("-object iothread,id=t0 "
                     "-device nvme-subsys,id=s0,nqn=s "
                     "-device nvme,id=n0,serial=a,subsys=s0,iothread=t0 "
                     "-device nvme,id=n1,serial=a,subsys=s0,iothread=t0 "
                     SUBSYS_ZNS_NS);
    check_realize_ok("-device nvme-subsys,id=s0,nqn=s "
                     "-device nvme,id=n0,serial=a,subsys=s0 "
                     "-device nvme,id=n1,serial=a,subsys=s0 "
                     SUBSYS_ZNS_NS);
    check_realize_ok("-object iothread,id=t0 "
                     "-device nvme-subsys,id=s0,nqn=s "
                     "-device nvme,id=n0,serial=a,subsys=s0,iothread=t0 "
                     "-device nvme,id=n1,serial=a,subsys=s0 "
                     SUBSYS_ZNS_NS ",shared=off");
}

static void test_realize_errors(void)
{
    check_realize_error("-device nvme,serial=x,drive=d0,iothread=nope",
                        "nope");
    check_realize_error("-object iothread,id=t0 -device nvme,serial=x,"
                        "drive=d0,iothread=t0,sriov_max_vfs=1,"
                        "msix_qsize=2,max_ioqpairs=2,sriov_vq_flexible=2,"
                        "sriov_vi_flexible=1",
                        "iothread: not supported with sriov_max_vfs");
    check_realize_error("-object iothread,id=t0 -device '{\"driver\": "
                        "\"nvme\", \"serial\": \"x\", \"drive\": "
                        "\"d0\", \"iothread\": \"t0\", "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\"}]}'",
                        "iothread and iothread-vq-mapping cannot be set");
    check_realize_error("-object iothread,id=t0 -device '{\"driver\": "
                        "\"nvme\", \"serial\": \"x\", \"drive\": "
                        "\"d0\", \"max_ioqpairs\": 2, "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\", \"vqs\": [1, 3]}]}'",
                        "vq 3 for IOThread \"t0\" does not exist");
    /* queue 0 is the admin queue, never an IOThread's */
    check_realize_error("-object iothread,id=t0 -device '{\"driver\": "
                        "\"nvme\", \"serial\": \"x\", \"drive\": "
                        "\"d0\", \"max_ioqpairs\": 2, "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\", \"vqs\": [0, 1, 2]}]}'",
                        "vq 0 for IOThread \"t0\" does not exist, the vqs "
                        "are 1 to 2");
    check_realize_error("-object iothread,id=t0 -object iothread,id=t1 "
                        "-device '{\"driver\": \"nvme\", \"serial\": "
                        "\"x\", \"drive\": \"d0\", \"max_ioqpairs\": 2, "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\", \"vqs\": [1, 2]}, {\"iothread\": "
                        "\"t1\", \"vqs\": [2]}]}'",
                        "cannot assign vq 2 to IOThread \"t1\"");
    check_realize_error("-object iothread,id=t0 -device '{\"driver\": "
                        "\"nvme\", \"serial\": \"x\", \"drive\": "
                        "\"d0\", \"max_ioqpairs\": 2, "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\", \"vqs\": [1]}]}'",
                        "missing vq 2 IOThread assignment");
    check_realize_error("-device '{\"driver\": \"nvme\", \"serial\": "
                        "\"x\", \"drive\": \"d0\", "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"nope\"}]}'",
                        "IOThread \"nope\" object does not exist");
    check_realize_error("-object iothread,id=t0 -object iothread,id=t1 "
                        "-device '{\"driver\": \"nvme\", \"id\": "
                        "\"n0\", \"serial\": \"x\", "
                        "\"iothread-vq-mapping\": [{\"iothread\": "
                        "\"t0\"}, {\"iothread\": \"t1\"}]}' "
                        "-device '{\"driver\": \"nvme-ns\", \"bus\": "
                        "\"n0\", \"drive\": \"d0\", \"zoned\": true, "
                        "\"zoned.zone_size\": 4194304}'",
                        "need a single IOThread");
}

/*
 * The CQ EventIdx after I/O: the head read before the last completion was
 * posted (H - 1, H the head now); with MSI-X in an IOThread one entry
 * behind it, so that the host does not ring the CQ doorbell, unless
 * lazy-cq-eventidx=off.
 */
static void test_dbbuf_cq_eventidx(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    uint32_t behind = m->dp && m->msix && !m->eager ? 2 : 1;

    if (!c->dbbuf) {
        nvme_stop(c);
        return;
    }
    nvme_io_rounds(c, QSIZE + 3);
    g_assert_cmpuint(qtest_readl(c->qts, c->eis + 12), ==,
                     (c->cq_head[1] + QSIZE - behind) % QSIZE);
    nvme_stop(c);
}

/*
 * Create I/O Completion Queue while QEMU has no file descriptor left.  In
 * an IOThread the queue needs one for its interrupt notifier: Internal
 * Error, and the same command works once descriptors are available again.
 * In the main loop it needs none (the doorbell ioeventfd is optional).
 * Before, QEMU aborted.
 */
static void test_cq_no_fds(const void *opaque)
{
    const Mode *m = opaque;
    Nvme *c = nvme_start(m);
    pid_t pid = qtest_pid(c->qts);
    int q = c->nr_ioq + 1;
    struct rlimit old, lim;
    uint16_t st;
    int fd;

    /* the lowest free descriptor number: QEMU can open none below it */
    for (fd = 0;; fd++) {
        g_autofree char *path = g_strdup_printf("/proc/%d/fd/%d", pid, fd);

        if (!g_file_test(path, G_FILE_TEST_IS_SYMLINK)) {
            break;
        }
    }
    g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, NULL, &old), ==, 0);
    lim = old;
    lim.rlim_cur = fd;
    g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, &lim, NULL), ==, 0);
    st = nvme_create_cq_at(c, q, c->cq[q]);
    g_assert_cmpint(prlimit(pid, RLIMIT_NOFILE, &old, NULL), ==, 0);

    if (m->dp) {
        g_assert_cmphex(st, ==, NVME_INTERNAL_DEV_ERROR);
        st = nvme_create_cq_at(c, q, c->cq[q]);
    }
    g_assert_cmphex(st, ==, 0);
    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * Behind a vIOMMU that maps the IOVAs at @alias to guest memory at 0: I/O
 * on the queues that exist, then on a new queue pair whose queues and data
 * are at those IOVAs, which a controller that does not translate would
 * not find
 */
static void nvme_io_through_alias(Nvme *c, uint64_t alias)
{
    g_autofree uint8_t *data = g_malloc(4096);
    int q = c->nr_ioq + 1;
    NvmeCmd cmd;

    nvme_io_rounds(c, 2);
    nvme_init_ioq(c, q);
    g_assert_cmphex(nvme_create_cq_at(c, q, alias + c->cq[q]), ==, 0);
    g_assert_cmphex(nvme_create_sq_at(c, q, alias + c->sq[q]), ==, 0);
    qtest_memset(c->qts, c->buf, 0x5a, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 64, alias + c->buf);
    g_assert_cmphex(nvme_cmd(c, q, &cmd, NULL), ==, 0);
    nvme_check_pattern(c, 1, 64, 0x5a);
    qtest_memset(c->qts, c->buf, 0, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 64, alias + c->buf);
    g_assert_cmphex(nvme_cmd(c, q, &cmd, NULL), ==, 0);
    qtest_memread(c->qts, c->buf, data, 4096);
    g_assert_cmphex(data[0], ==, 0x5a);
    g_assert_cmphex(data[4095], ==, 0x5a);
}

/*
 * nvme_start() on a q35 machine whose VT-d translates the controller's DMA
 * (libqos's tables); NULL, the test skipped, where QEMU has neither
 */
static Nvme *nvme_start_viommu(const Mode *m)
{
    Nvme *c;

    if (!qtest_has_machine("q35") || !qtest_has_device("intel-iommu")) {
        g_test_skip("no q35 machine or intel-iommu device");
        return NULL;
    }
    c = nvme_boot(m, nvme_mode_ioqs(m), QSIZE, "-M q35 -device intel-iommu");
    qvtd_enable(c->qts, &c->qs->alloc);
    return c;
}

/*
 * Behind an IOMMU that translates: every access of the controller to guest
 * memory goes through VT-d's second-level tables.  I/O on the queues that
 * exist, then on a queue pair whose queues and data are at IOVAs that the
 * IOMMU maps elsewhere (so that a test passes only if the controller
 * translates), work in every mode as without the IOMMU, and VT-d records
 * no fault.  The queue accesses of the IOThreads used to find no RAM
 * behind the IOMMU's region: the first command never completed.
 */
static void test_viommu(const void *opaque)
{
    Nvme *c = nvme_start_viommu(opaque);

    if (!c) {
        return;
    }
    nvme_io_through_alias(c, QVTD_ALIAS);
    nvme_check_alive(c);
    g_assert_cmphex(qtest_readl(c->qts, Q35_HOST_BRIDGE_IOMMU_ADDR +
                                DMAR_FSTS_REG), ==, 0);
    nvme_stop(c);
}

/*
 * Data at an IOVA that the IOMMU does not map, with VT-d's fault events
 * unmasked as Linux has them.  The command fails with Data Transfer Error
 * in every mode (the main loop used to read the data into a bounce buffer,
 * drop it and complete the command with success), VT-d records the fault
 * and sends its interrupt (FECTL.IP stays clear), and the controller goes
 * on.  With the I/O queues in IOThreads, the fault is found there, without
 * the BQL: it used to send the MSI from the IOThread, and abort QEMU in
 * cpu_interrupt().
 */
static void test_viommu_fault(const void *opaque)
{
    Nvme *c = nvme_start_viommu(opaque);
    NvmeCmd cmd;
    uint16_t st;

    if (!c) {
        return;
    }
    qvtd_unmask_faults(c->qts);

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, 5ULL << 30);
    st = nvme_cmd(c, 1, &cmd, NULL);
    g_assert_cmphex(st & 0x7ff, ==, NVME_DATA_TRAS_ERROR);
    qvtd_wait_fault(c->qts);
    nvme_check_alive(c);
    nvme_stop(c);
}

#define VIOMMU_DOMAIN   1
#define VIOMMU_ALIAS    (4ULL << 30)        /* mapped to guest memory at 0 */
#define VIOMMU_UNMAPPED (6ULL << 30)
/* Guest memory at 0 again, for the device only to read, or only to write */
#define VIOMMU_RO_ALIAS (8ULL << 30)
#define VIOMMU_WO_ALIAS (10ULL << 30)

/*
 * nvme_boot() on a q35 machine with a virtio-iommu at 05.0, whose driver
 * this starts: the controller attached to a domain that maps [0, 3 GiB)
 * 1:1, and [VIOMMU_ALIAS, VIOMMU_ALIAS + 1 GiB) to guest memory at 0.
 * NULL, the test skipped, where QEMU has no virtio-iommu.
 */
static Nvme *nvme_start_virtio_iommu(const Mode *m, QViommu *v)
{
    Nvme *c;

    if (!qtest_has_machine("q35") || !qtest_has_device("virtio-iommu-pci")) {
        g_test_skip("no q35 machine or virtio-iommu-pci device");
        return NULL;
    }
    c = nvme_boot(m, nvme_mode_ioqs(m), QSIZE,
                  "-M q35 -device virtio-iommu-pci,addr=05.0");
    qtest_irq_intercept_in(c->qts, "ioapic");
    qviommu_start(v, c->qts, c->qs->pcibus, &c->qs->alloc,
                  QPCI_DEVFN(5, 0));
    g_assert_cmpint(qviommu_attach(v, VIOMMU_DOMAIN, QPCI_DEVFN(4, 0)), ==,
                    VIRTIO_IOMMU_S_OK);
    g_assert_cmpint(qviommu_map(v, VIOMMU_DOMAIN, 0, 3ULL << 30, 0), ==,
                    VIRTIO_IOMMU_S_OK);
    g_assert_cmpint(qviommu_map(v, VIOMMU_DOMAIN, VIOMMU_ALIAS, 1ULL << 30,
                                0), ==, VIRTIO_IOMMU_S_OK);
    return c;
}

/* The next fault event of @v: a mapping fault of the controller at @iova */
static void nvme_wait_viommu_fault(QViommu *v, uint64_t iova)
{
    struct virtio_iommu_fault fault;

    qviommu_wait_fault(v, &fault);
    g_assert_cmpint(fault.reason, ==, VIRTIO_IOMMU_FAULT_R_MAPPING);
    g_assert_cmphex(le32_to_cpu(fault.endpoint), ==, QPCI_DEVFN(4, 0));
    g_assert_cmphex(le64_to_cpu(fault.address), ==, iova);
}

/*
 * Behind a virtio-iommu: I/O, also on a queue pair at IOVAs that the
 * IOMMU maps elsewhere (so that a test passes only if the controller
 * translates), works in every mode.  So does I/O whose data the IOMMU
 * maps for the transfer's direction only, as Linux maps it (a check of
 * both directions would fail each write and read of such a guest with
 * Data Transfer Error and a fault event).  A read into data mapped
 * read-only, and a read into an IOVA that the IOMMU does not map, fail
 * with Data Transfer Error in every mode and are fault events, with their
 * interrupt; the first fault event is that of the read-only data, so the
 * transfers that the IOMMU allows made none.  The controller goes on.
 */
static void test_virtio_iommu(const void *opaque)
{
    QViommu v;
    Nvme *c = nvme_start_virtio_iommu(opaque, &v);
    g_autofree uint8_t *data = g_malloc(4096);
    NvmeCmd cmd;

    if (!c) {
        return;
    }
    nvme_io_through_alias(c, VIOMMU_ALIAS);

    g_assert_cmpint(qviommu_map_flags(&v, VIOMMU_DOMAIN, VIOMMU_RO_ALIAS,
                                      1ULL << 30, 0, VIRTIO_IOMMU_MAP_F_READ),
                    ==, VIRTIO_IOMMU_S_OK);
    g_assert_cmpint(qviommu_map_flags(&v, VIOMMU_DOMAIN, VIOMMU_WO_ALIAS,
                                      1ULL << 30, 0, VIRTIO_IOMMU_MAP_F_WRITE),
                    ==, VIRTIO_IOMMU_S_OK);
    qtest_memset(c->qts, c->buf, 0xa5, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 72, VIOMMU_RO_ALIAS + c->buf);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);
    nvme_check_pattern(c, 1, 72, 0xa5);
    qtest_memset(c->qts, c->buf, 0, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 72, VIOMMU_WO_ALIAS + c->buf);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);
    qtest_memread(c->qts, c->buf, data, 4096);
    g_assert_cmphex(data[0], ==, 0xa5);
    g_assert_cmphex(data[4095], ==, 0xa5);

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 72, VIOMMU_RO_ALIAS + c->buf);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL) & 0x7ff, ==,
                    NVME_DATA_TRAS_ERROR);
    nvme_wait_viommu_fault(&v, VIOMMU_RO_ALIAS + c->buf);
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, VIOMMU_UNMAPPED);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL) & 0x7ff, ==,
                    NVME_DATA_TRAS_ERROR);
    nvme_wait_viommu_fault(&v, VIOMMU_UNMAPPED);
    nvme_check_alive(c);
    qviommu_stop(&v);
    nvme_stop(c);
}

/*
 * Behind the AMD IOMMU (dma-remap=on): I/O in every mode on the queues that
 * exist, on a queue pair whose queues and data are at IOVAs that the IOMMU
 * maps to other guest memory, and with data at IOVAs that 2 MiB pages map
 * there; the IOMMU logs no event.
 */
static void test_amd_iommu(const void *opaque)
{
    QAmdvi a;
    Nvme *c;
    NvmeCmd cmd;
    uint64_t evt[2];

    if (!qtest_has_machine("q35") || !qtest_has_device("amd-iommu")) {
        g_test_skip("no q35 machine or amd-iommu device");
        return;
    }
    c = nvme_boot(opaque, nvme_mode_ioqs(opaque), QSIZE,
                  "-M q35 -device amd-iommu,dma-remap=on");
    qamdvi_enable(&a, c->qts, &c->qs->alloc, QPCI_DEVFN(4, 0));
    qamdvi_enable_events(&a, &c->qs->alloc, c->qs->pcibus);

    nvme_io_through_alias(c, QAMDVI_ALIAS);
    /* the data is not in the first 4 KiB of its 2 MiB page */
    g_assert_cmphex(c->buf & 0x1ff000, !=, 0);
    qtest_memset(c->qts, c->buf, 0x3c, 4096);
    nvme_rw_cmd(c, &cmd, NVME_CMD_WRITE, 80, QAMDVI_ALIAS_2M + c->buf);
    g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==, 0);
    nvme_check_pattern(c, 1, 80, 0x3c);
    nvme_io_rounds(c, QSIZE);
    g_assert_false(qamdvi_next_event(&a, evt));
    nvme_check_alive(c);
    nvme_stop(c);
}

/*
 * The I/O queues in an IOThread, and a null-co drive whose requests take
 * 300 ms: long enough to act while Format NVM runs
 */
static const Mode slow_format_mode = {
    "slow-format",
    "-object iothread,id=t0,poll-max-ns=0 -blockdev null-co,"
    "node-name=d1,size=16777216,memory-backed=on,latency-ns=300000000",
    "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
    "'drive': 'd1', 'ioeventfd': true, 'iothread': 't0'}",
    false, true
};

/*
 * Format NVM changes the namespace under the I/O queues: the queues in
 * IOThreads wait until it completes.  A write submitted while the format
 * runs (a null-co drive whose requests take 300 ms) completes after it
 * and is not lost to the format's zeroes.  Before, it went through the
 * IOThread while the main loop changed the namespace and failed with
 * Format In Progress.
 */
static void test_format_quiesces(void)
{
    Nvme *c = nvme_boot(&slow_format_mode, 1, QSIZE, NULL);
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_FORMAT_NVM,
        .nsid = cpu_to_le32(NSID),
    };
    uint16_t cid = nvme_submit(c, 0, &cmd);
    NvmeCqe cqe;

    g_usleep(50 * 1000);
    g_assert_cmphex(nvme_write_pattern(c, 1, 8, 0x5a), ==, 0);
    nvme_wait(c, 0, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid);
    g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
    nvme_check_pattern(c, 1, 8, 0x5a);
    nvme_stop(c);
}

/*
 * A controller reset while Format NVM runs (a null-co drive whose requests
 * take 300 ms).  The reset's drain completes the format, whose completion
 * waits for the admin CQ's bottom half; the reset then frees the admin SQ,
 * and freeing the I/O SQ of the IOThread ran the main loop's bottom halves:
 * the admin CQ's posted the completion of a request that the admin SQ took
 * with it (a use after free found by nvme-iothread-cmd-fuzz), and wrote it
 * into the admin CQ after CC.EN=0.  The admin CQ stays as the reset found
 * it, and the controller works after it.
 */
static void test_reset_during_format(void)
{
    Nvme *c = nvme_boot(&slow_format_mode, 1, QSIZE, NULL);
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_FORMAT_NVM,
        .nsid = cpu_to_le32(NSID),
    };
    NvmeCqe cqe;
    int i;

    /* whether the bottom half is still pending then depends on timing */
    for (i = 0; i < 10; i++) {
        nvme_submit(c, 0, &cmd);
        g_usleep(50 * 1000);
        nvme_disable(c);
        g_assert_false(nvme_cqe_ready(c, 0, &cqe));
        nvme_enable(c);
    }
    nvme_io_rounds(c, 1);
    nvme_stop(c);
}

/*
 * Abort of a read in flight in an IOThread.  Abort walks the commands of
 * the I/O queue, which the IOThread owns and completes from; it runs
 * with the queues stopped and the namespace drained, so the read has
 * completed, successfully, before Abort looks, and Abort reports that it
 * aborted nothing (Dword 0 bit 0).  Nothing of the queue is walked while
 * the IOThread completes the command.
 */
static void test_abort_in_flight(void)
{
    static const Mode m = {
        "abort-in-flight",
        "-object iothread,id=t0,poll-max-ns=0 -blockdev null-co,"
        "node-name=d1,size=16777216,memory-backed=on,latency-ns=300000000",
        "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
        "'drive': 'd1', 'ioeventfd': true, 'iothread': 't0'}", true, true
    };
    Nvme *c = nvme_boot(&m, 1, QSIZE, NULL);
    NvmeCmd cmd, abort = { .opcode = NVME_ADM_CMD_ABORT };
    uint16_t cid;
    uint32_t dw0 = 0;
    NvmeCqe cqe;

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, c->buf);
    cid = nvme_submit(c, 1, &cmd);
    /* taken from the queue by the IOThread, in flight for 300 ms */
    g_usleep(50 * 1000);
    g_assert_false(nvme_cqe_ready(c, 1, &cqe));

    abort.cdw10 = cpu_to_le32((uint32_t)cid << 16 | 1);
    g_assert_cmphex(nvme_cmd(c, 0, &abort, &dw0), ==, 0);
    g_assert_cmphex(dw0 & 1, ==, 1);
    /* posted before Abort completed: no wait */
    g_assert_true(nvme_cqe_ready(c, 1, &cqe));
    nvme_wait(c, 1, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid);
    g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
    nvme_io_rounds(c, 1);
    nvme_stop(c);
}

/*
 * Cancel a read that waits for the bounce buffer.  Reads into MMIO (the VGA
 * window, whose memory takes writes) go through the device's bounce buffer
 * (4 KiB); with the one of SQ 1 holding it for the 500 ms its request
 * takes, the DMA helpers park the read of SQ 2 until the buffer is free.
 * Delete I/O SQ 2 cancels that read: the cancellation called the completion
 * callback but kept the request's reference, and blk_aio_cancel() waited
 * for it in the main loop for ever (the admin command never completed, QEMU
 * hung).  Abort of the read cancels it without waiting (it leaked the
 * request).  Now the read completes with the status of its abort, not as a
 * media error, the read of SQ 1 completes and the bounce buffer serves the
 * next read.
 */
static void test_cancel_bounce_wait(const void *opaque)
{
    static const Mode m = {
        "bounce",
        "-blockdev null-co,node-name=d1,size=16777216,memory-backed=on,"
        "latency-ns=500000000",
        "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
        "'drive': 'd1'}",
        false, false
    };
    bool by_delete = !strcmp(opaque, "delete");
    Nvme *c = nvme_boot(&m, 2, QSIZE, NULL);
    NvmeCmd cmd, cancel = { };
    uint16_t cid1, cid2;
    NvmeCqe cqe;

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, 0xa0000);
    cid1 = nvme_submit(c, 1, &cmd);
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 8, 0xa1000);
    cid2 = nvme_submit(c, 2, &cmd);
    /* both taken from their queues: a register read runs the main loop */
    g_usleep(20 * 1000);
    qpci_io_readl(c->dev, c->bar, 0x1c);

    if (by_delete) {
        cancel.opcode = NVME_ADM_CMD_DELETE_SQ;
        cancel.cdw10 = cpu_to_le32(2);
    } else {
        cancel.opcode = NVME_ADM_CMD_ABORT;
        cancel.cdw10 = cpu_to_le32((uint32_t)cid2 << 16 | 2);
    }
    g_assert_cmphex(nvme_cmd(c, 0, &cancel, NULL), ==, 0);
    nvme_wait(c, 2, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid2);
    g_assert_cmphex((le16_to_cpu(cqe.status) >> 1) & 0x7ff, ==,
                    by_delete ? NVME_CMD_ABORT_SQ_DEL : NVME_CMD_ABORT_REQ);
    nvme_wait(c, 1, &cqe);
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, cid1);
    g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);

    /* the bounce buffer was given back; after Abort, SQ 2 works */
    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, 0, 0xa0000);
    g_assert_cmphex(nvme_cmd(c, by_delete ? 1 : 2, &cmd, NULL), ==, 0);
    nvme_stop(c);
}

/*
 * Controllers whose realize fails after they joined their subsystem leave
 * it again.  Before, their controller IDs stayed taken by the freed
 * controllers, which the subsystem's other controllers then used: the
 * controller list of Identify had four entries, not two.  The first
 * failure is one that upstream has (no SPDM responder: nvme_init_pci()
 * fails), the second one of the I/O queues in IOThreads.
 */
static void test_realize_undo(void)
{
    static const Mode m = {
        "realize-undo",
        "-object iothread,id=t0 -device nvme-subsys,id=s0,nqn=s0",
        "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
        "'subsys': 's0'}"
    };
    Nvme *c = nvme_boot(&m, 1, QSIZE, NULL);
    NvmeCmd cmd = { .opcode = NVME_ADM_CMD_IDENTIFY };
    uint16_t ids[4];
    QDict *rsp;

    rsp = qtest_qmp(c->qts, "{'execute': 'device_add', 'arguments': {"
                    "'driver': 'nvme', 'id': 'c1', 'subsys': 's0', "
                    "'serial': 'iot', 'addr': '05.0', 'spdm_port': 1}}");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    rsp = qtest_qmp(c->qts, "{'execute': 'device_add', 'arguments': {"
                    "'driver': 'nvme', 'id': 'c1', 'subsys': 's0', "
                    "'serial': 'iot', 'addr': '05.0', 'iothread-vq-mapping': "
                    "[{'iothread': 't0', 'vqs': [999]}]}}");
    g_assert(qdict_haskey(rsp, "error"));
    qobject_unref(rsp);
    qtest_qmp_device_add(c->qts, "nvme", "c2",
                         "{'subsys': 's0', 'serial': 'iot', 'addr': '06.0'}");

    cmd.cdw10 = cpu_to_le32(NVME_ID_CNS_CTRL_LIST);
    cmd.dptr.prp1 = cpu_to_le64(c->buf);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    qtest_memread(c->qts, c->buf, ids, sizeof(ids));
    g_assert_cmpuint(le16_to_cpu(ids[0]), ==, 2);
    g_assert_cmpuint(le16_to_cpu(ids[1]), ==, 0);
    g_assert_cmpuint(le16_to_cpu(ids[2]), ==, 1);
    nvme_stop(c);
}

/* An IOThread with MSI-X whose CQ EventIdx follows the head */
static const Mode eager_mode = {
    "iothread-msix-eager", "-object iothread,id=t0,poll-max-ns=0",
    ",ioeventfd=on,iothread=t0,lazy-cq-eventidx=off", true, true, true, true
};

/*
 * Benchmark, with -m perf only: what the I/O queues cost the host per
 * command, with a submitter that is not a TCG guest.  This process is the
 * host.  It shares guest RAM with QEMU (a memory-backend-file it maps too),
 * so that the queues, the shadow doorbells and the EventIdx need no qtest
 * command: the main loop serves the doorbell register writes only, as it
 * would a vCPU's MMIO exits.  It keeps QD 4 KiB reads of the null-co drive
 * in flight, at LBAs that are never adjacent, queues new reads for those
 * that completed and publishes them with one tail store per queue (the
 * reads go round the queues of the modes with two IOThreads), writing the
 * doorbell register only when the EventIdx asks for it.  The MSI-X
 * messages go to an APIC ID that no CPU has, so that no vCPU thread wakes
 * up for them: the interrupt controller traces each (apic_deliver_irq),
 * for nvme and virtio-blk alike.
 *
 * Each queue depth takes two passes.  The first, tracing off, measures the
 * CPU time per command of QEMU's main loop, of its IOThreads, of its other
 * threads (/proc/PID/task/TID/schedstat) and of this thread, which polls
 * the completion queue and so spends most of its time waiting, and the
 * doorbell register writes per command.  The second traces the
 * completions and the interrupts: interrupts per command, and the device's
 * turnaround from the tail store (the doorbell write comes after it, if
 * any) to the completion queued and to its interrupt, mean and 99th
 * percentile.
 *   NVME_BENCH_CMDS   reads of the first pass (default 20000); the traced
 *                     pass has at most BENCH_TRACE_CMDS of them
 *   NVME_BENCH_RATE   reads per second at most (default 0: no limit)
 */

#define BENCH_QSIZE         128     /* queue entries: room for QD 64 */
#define BENCH_MAX_QD        64
#define BENCH_RAM_MB        128
#define BENCH_BLOCKS        (DISK_SIZE / 4096)
#define BENCH_STRIDE        1597    /* odd: LBAs go round the whole drive */
#define BENCH_TRACE_CMDS    4000    /* fewer than BENCH_BLOCKS */
#define BENCH_APIC_ID       0x7e
#define BENCH_IRQ_VECTOR    0x40    /* the x86 vector of MSI-X entry 0 */

static const int bench_qds[] = { 1, 16, 64 };

enum { CPU_MAIN, CPU_IOTHREADS, CPU_OTHER, CPU_SUBMIT, CPU_NR };

typedef struct Bench Bench;

typedef struct BenchOps {
    /* Queue read @seq into the buffer of @slot, not yet visible */
    void (*queue)(Bench *b, int slot, uint32_t seq);
    /* Make the queued reads visible; return whether a doorbell is due */
    bool (*publish)(Bench *b);
    void (*ring)(Bench *b);
    /* bench_complete() the completions there are; return how many */
    int (*reap)(Bench *b);
    /*
     * Trace event @name with arguments @args: if it is a completion, of
     * read @seq, whose interrupt is that of MSI-X entry @entry
     */
    bool (*completion)(Bench *b, const char *name, const char *args,
                       uint32_t *seq, int *entry);
    const char *const *events;      /* the trace events of completions */
} BenchOps;

/* A completion of the traced pass */
typedef struct BenchDone {
    int64_t t;
    uint32_t seq;
    int entry;
} BenchDone;

/* What the traced pass gives */
typedef struct BenchTrace {
    double irqs;                    /* per command */
    double cqe_mean, cqe_p99;       /* tail store to completion queued, us */
    double irq_mean, irq_p99;       /* tail store to interrupt, us */
} BenchTrace;

/* virtio-blk */
typedef struct VBlk {
    QOSState *qs;
    QVirtioPCIDevice *dev;
    QVirtQueue *vq;
    uint64_t req;           /* of each slot: a header, then the status */
    uint64_t buf;
    uint16_t avail, published;
    uint64_t kicks;
    GHashTable *reqs;       /* traced pass: QEMU's request -> its read */
} VBlk;

struct Bench {
    const BenchOps *ops;
    const char *mode;
    QTestState *qts;
    char *ram_path, *trace_path;
    char *args;                 /* QEMU's options for the above */
    uint8_t *ram;
    uint64_t buf;               /* BENCH_MAX_QD pages for the data */
    uint64_t *mmio_dbs;         /* the device's doorbell register writes */
    uint32_t rate;

    int qd;
    uint32_t cmds, submitted, published, completed;
    int free[BENCH_MAX_QD], nr_free;
    uint32_t block_seq[BENCH_BLOCKS];   /* the last read of each block */
    int64_t *t_tail;            /* traced pass: when a read's tail was stored */

    Nvme *nvme;
    uint32_t sqs_queued, sqs_ring;      /* SQs with new entries, to ring */
    uint8_t cid_slot[UINT16_MAX + 1];
    uint16_t cid0;              /* that of read 0 of the pass */

    VBlk *vblk;
};

static uint32_t bench_env(const char *name, uint32_t value)
{
    const char *s = g_getenv(name);

    return s ? g_ascii_strtoull(s, NULL, 10) : value;
}

static Bench *bench_new(const char *mode, const BenchOps *ops)
{
    /* guest RAM on tmpfs if there is one: nothing to write back to a disk */
    const char *dir = g_file_test("/dev/shm", G_FILE_TEST_IS_DIR) ?
                      "/dev/shm" : g_get_tmp_dir();
    Bench *b = g_new0(Bench, 1);
    int fd;

    b->mode = mode;
    b->ops = ops;
    b->rate = bench_env("NVME_BENCH_RATE", 0);
    b->ram_path = g_build_filename(dir, "nvme-bench-ram-XXXXXX", NULL);
    fd = g_mkstemp(b->ram_path);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, BENCH_RAM_MB << 20), ==, 0);
    b->ram = mmap(NULL, BENCH_RAM_MB << 20, PROT_READ | PROT_WRITE,
                  MAP_SHARED, fd, 0);
    g_assert(b->ram != MAP_FAILED);
    close(fd);
    fd = g_file_open_tmp("nvme-bench-trace-XXXXXX", &b->trace_path, NULL);
    g_assert_cmpint(fd, >=, 0);
    close(fd);

    /* debug-threads: the IOThreads' names are "IO <id>" */
    b->args = g_strdup_printf("-m %d -object memory-backend-file,id=ram,"
                              "size=%dM,mem-path=%s,share=on "
                              "-machine memory-backend=ram "
                              "-name bench,debug-threads=on "
                              "-msg timestamp=on -D %s",
                              BENCH_RAM_MB, BENCH_RAM_MB, b->ram_path,
                              b->trace_path);
    return b;
}

/*
 * The device under test booted in QEMU @qts: b->buf is its buffers,
 * @mmio_dbs counts its doorbell register writes
 */
static void bench_booted(Bench *b, QTestState *qts, uint64_t buf,
                         uint64_t *mmio_dbs)
{
    int64_t poll_ns = bench_env("NVME_BENCH_POLL_NS", 0);

    b->qts = qts;
    b->buf = buf;
    b->mmio_dbs = mmio_dbs;
    /* NVME_BENCH_POLL_NS: the poll-max-ns of the polling modes' IOThread */
    if (poll_ns && g_str_has_suffix(b->mode, "-poll")) {
        qtest_qmp_assert_success(qts, "{'execute': 'qom-set', 'arguments': "
                                 "{'path': '/objects/t0', 'property': "
                                 "'poll-max-ns', 'value': %" PRId64 "}}",
                                 poll_ns);
    }
    /* QEMU has it open: nothing is left behind if the test fails */
    unlink(b->ram_path);
}

static void bench_free(Bench *b)
{
    munmap(b->ram, BENCH_RAM_MB << 20);
    unlink(b->trace_path);
    g_free(b->ram_path);
    g_free(b->trace_path);
    g_free(b->args);
    g_free(b);
}

/*
 * Unmask MSI-X entry @entry of @dev, its message x86 vector
 * BENCH_IRQ_VECTOR + @entry for APIC ID BENCH_APIC_ID, which no CPU has
 */
static void bench_msix_vector(QPCIDevice *dev, int entry)
{
    uint64_t off = dev->msix_table_off + entry * PCI_MSIX_ENTRY_SIZE;

    qpci_io_writel(dev, dev->msix_table_bar, off + PCI_MSIX_ENTRY_LOWER_ADDR,
                   0xfee00000 | BENCH_APIC_ID << 12);
    qpci_io_writel(dev, dev->msix_table_bar, off + PCI_MSIX_ENTRY_UPPER_ADDR,
                   0);
    qpci_io_writel(dev, dev->msix_table_bar, off + PCI_MSIX_ENTRY_DATA,
                   BENCH_IRQ_VECTOR + entry);
    qpci_io_writel(dev, dev->msix_table_bar, off + PCI_MSIX_ENTRY_VECTOR_CTRL,
                   0);
}

/*
 * The LBA of read @seq: never next to that of the read before, which a
 * device could merge with it
 */
static uint64_t bench_lba(Bench *b, uint32_t seq)
{
    uint32_t block = (uint64_t)seq * BENCH_STRIDE % BENCH_BLOCKS;

    b->block_seq[block] = seq;
    return block * 8;
}

static void bench_complete(Bench *b, int slot)
{
    b->free[b->nr_free++] = slot;
    b->completed++;
}

/*
 * CPU time in ns of QEMU's main loop, of its IOThreads, of its other
 * threads, and of this thread
 */
static void bench_cpu(Bench *b, int64_t ns[CPU_NR])
{
    int pid = qtest_pid(b->qts);
    g_autofree char *dir = g_strdup_printf("/proc/%d/task", pid);
    GDir *d = g_dir_open(dir, 0, NULL);
    const char *tid;
    struct timespec ts;

    g_assert_nonnull(d);
    memset(ns, 0, CPU_NR * sizeof(*ns));
    while ((tid = g_dir_read_name(d))) {
        g_autofree char *comm_path = g_strdup_printf("%s/%s/comm", dir, tid);
        g_autofree char *stat_path = g_strdup_printf("%s/%s/schedstat", dir,
                                                     tid);
        g_autofree char *comm = NULL, *stat = NULL;
        int k;

        /* a thread that just ended has no files left */
        if (!g_file_get_contents(comm_path, &comm, NULL, NULL) ||
            !g_file_get_contents(stat_path, &stat, NULL, NULL)) {
            continue;
        }
        if (atoi(tid) == pid) {
            k = CPU_MAIN;
        } else if (g_str_has_prefix(comm, "IO ") &&
                   !g_str_has_prefix(comm, "IO mon_iothread")) {
            k = CPU_IOTHREADS;      /* but the monitor's */
        } else {
            k = CPU_OTHER;
        }
        ns[k] += g_ascii_strtoll(stat, NULL, 10);
    }
    g_dir_close(d);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    ns[CPU_SUBMIT] = ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* @cmds reads at queue depth b->qd, at b->rate per second at most */
static void bench_pass(Bench *b, uint32_t cmds)
{
    int64_t start = g_get_monotonic_time(), progress = start;
    int i;

    b->cmds = cmds;
    b->submitted = b->published = b->completed = 0;
    for (i = 0; i < b->qd; i++) {
        b->free[i] = i;
    }
    b->nr_free = b->qd;
    while (b->completed < cmds) {
        int64_t now = g_get_monotonic_time();
        uint64_t due = b->rate ?
            (uint64_t)(now - start) * b->rate / G_USEC_PER_SEC + 1 : cmds;
        bool busy = false;

        while (b->nr_free && b->submitted < MIN(cmds, due)) {
            b->ops->queue(b, b->free[--b->nr_free], b->submitted++);
        }
        if (b->published < b->submitted) {
            /* the clock of QEMU's trace timestamps */
            int64_t t = g_get_real_time();
            bool ring = b->ops->publish(b);

            for (; b->published < b->submitted; b->published++) {
                if (b->t_tail) {
                    b->t_tail[b->published] = t;
                }
            }
            if (ring) {
                b->ops->ring(b);
            }
            busy = true;
        }
        if (b->ops->reap(b)) {
            progress = now;
            busy = true;
        }
        if (!busy) {
            g_assert_cmpint(now - progress, <, 10 * G_USEC_PER_SEC);
            /* leave the CPU to QEMU's threads on a host with few */
            sched_yield();
        }
    }
}

static void bench_trace(Bench *b, bool on)
{
    const char *const *e;

    qtest_qmp_assert_success(b->qts, "{'execute': 'trace-event-set-state', "
                             "'arguments': {'name': 'apic_deliver_irq', "
                             "'enable': %i}}", on);
    for (e = b->ops->events; *e; e++) {
        qtest_qmp_assert_success(b->qts, "{'execute': "
                                 "'trace-event-set-state', 'arguments': "
                                 "{'name': %s, 'enable': %i}}", *e, on);
    }
}

/*
 * Split trace line @line ("TIMESTAMP NAME ARGS", -msg timestamp=on) into
 * its time in us since the epoch, the event's name and its arguments
 */
static bool bench_trace_line(char *line, int64_t *t, char **name,
                             char **args)
{
    char *sp = strchr(line, ' ');
    g_autoptr(GDateTime) dt = NULL;

    if (!sp) {
        return false;
    }
    *sp = 0;
    dt = g_date_time_new_from_iso8601(line, NULL);
    if (!dt) {
        return false;
    }
    *t = g_date_time_to_unix(dt) * G_USEC_PER_SEC +
         g_date_time_get_microsecond(dt);
    *name = sp + 1;
    sp = strchr(*name, ' ');
    if (!sp) {
        return false;
    }
    *sp = 0;
    *args = sp + 1;
    return true;
}

static int bench_cmp_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

static void bench_stats(GArray *v, double *mean, double *p99)
{
    int64_t sum = 0;
    guint i;

    if (!v->len) {
        *mean = *p99 = NAN;
        return;
    }
    g_array_sort(v, bench_cmp_int64);
    for (i = 0; i < v->len; i++) {
        sum += g_array_index(v, int64_t, i);
    }
    *mean = (double)sum / v->len;
    *p99 = g_array_index(v, int64_t, MIN(v->len - 1, v->len * 99 / 100));
}

/* The first element of sorted @v not before @t, or -1 */
static int64_t bench_next(GArray *v, int64_t t)
{
    guint lo = 0, hi = v->len;

    while (lo < hi) {
        guint mid = (lo + hi) / 2;

        if (g_array_index(v, int64_t, mid) < t) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo < v->len ? g_array_index(v, int64_t, lo) : -1;
}

/* The interrupts and completions the trace has from offset @from on */
static void bench_analyze(Bench *b, size_t from, BenchTrace *r)
{
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    g_autoptr(GArray) done = g_array_new(false, false, sizeof(BenchDone));
    g_autoptr(GArray) cqe = g_array_new(false, false, sizeof(int64_t));
    g_autoptr(GArray) irq = g_array_new(false, false, sizeof(int64_t));
    GArray *irqs[NR_IOQ + 1];
    size_t len;
    guint nr_irqs = 0, i;
    char **l;

    for (i = 0; i <= NR_IOQ; i++) {
        irqs[i] = g_array_new(false, false, sizeof(int64_t));
    }
    g_assert_true(g_file_get_contents(b->trace_path, &text, &len, NULL));
    g_assert_cmpuint(len, >=, from);
    lines = g_strsplit(text + from, "\n", -1);
    for (l = lines; *l; l++) {
        BenchDone d;
        char *name, *args;
        int vector;

        if (!bench_trace_line(*l, &d.t, &name, &args)) {
            continue;
        }
        if (!strcmp(name, "apic_deliver_irq")) {
            if (sscanf(args, "dest %*d dest_mode %*d delivery_mode %*d "
                       "vector %d", &vector) == 1 &&
                vector > BENCH_IRQ_VECTOR &&
                vector <= BENCH_IRQ_VECTOR + NR_IOQ) {
                g_array_append_val(irqs[vector - BENCH_IRQ_VECTOR], d.t);
                nr_irqs++;
            }
        } else if (b->ops->completion(b, name, args, &d.seq, &d.entry) &&
                   d.seq < b->cmds && d.entry <= NR_IOQ) {
            g_array_append_val(done, d);
        }
    }
    for (i = 0; i <= NR_IOQ; i++) {
        g_array_sort(irqs[i], bench_cmp_int64);
    }
    for (i = 0; i < done->len; i++) {
        BenchDone *d = &g_array_index(done, BenchDone, i);
        int64_t t0 = b->t_tail[d->seq];
        int64_t t = d->t - t0;

        g_array_append_val(cqe, t);
        t = bench_next(irqs[d->entry], d->t);
        if (t >= 0) {
            t -= t0;
            g_array_append_val(irq, t);
        }
    }
    for (i = 0; i <= NR_IOQ; i++) {
        g_array_free(irqs[i], true);
    }
    r->irqs = (double)nr_irqs / b->cmds;
    bench_stats(cqe, &r->cqe_mean, &r->cqe_p99);
    bench_stats(irq, &r->irq_mean, &r->irq_p99);
}

/* @cmds reads at queue depth b->qd with completions and interrupts traced */
static void bench_traced_pass(Bench *b, uint32_t cmds, BenchTrace *r)
{
    g_autofree int64_t *t_tail = g_new(int64_t, cmds);
    struct stat st;

    g_assert_cmpint(stat(b->trace_path, &st), ==, 0);
    bench_trace(b, true);
    b->t_tail = t_tail;
    bench_pass(b, cmds);
    /* the last interrupt may come after this thread saw its completions */
    g_usleep(10 * 1000);
    bench_trace(b, false);
    bench_analyze(b, st.st_size, r);
    b->t_tail = NULL;
}

static void bench_run(Bench *b)
{
    uint32_t cmds = bench_env("NVME_BENCH_CMDS", 20000);
    int i, k;

    g_assert_cmpuint(cmds, >, 0);
    g_test_message("%s: host CPU us per command; the main loop's time "
                   "includes the qtest protocol of the doorbell writes",
                   b->mode);
    for (i = 0; i < ARRAY_SIZE(bench_qds); i++) {
        int64_t cpu0[CPU_NR], cpu1[CPU_NR], t0, t1;
        uint64_t dbs = *b->mmio_dbs;
        double us[CPU_NR];
        BenchTrace r;

        b->qd = bench_qds[i];
        bench_cpu(b, cpu0);
        t0 = g_get_monotonic_time();
        bench_pass(b, cmds);
        t1 = g_get_monotonic_time();
        bench_cpu(b, cpu1);
        dbs = *b->mmio_dbs - dbs;
        for (k = 0; k < CPU_NR; k++) {
            us[k] = (cpu1[k] - cpu0[k]) / 1000.0 / cmds;
        }
        bench_traced_pass(b, MIN(cmds, BENCH_TRACE_CMDS), &r);

        g_test_message("BENCH mode=%s qd=%d cmds=%u kiops=%.1f "
                       "iothread_cpu_us_per_cmd=%.2f "
                       "main_cpu_us_per_cmd=%.2f other_cpu_us_per_cmd=%.2f "
                       "submit_cpu_us_per_cmd=%.2f mmio_db_per_cmd=%.3f "
                       "irq_per_cmd=%.3f tail_cqe_us_mean=%.1f "
                       "tail_cqe_us_p99=%.1f tail_irq_us_mean=%.1f "
                       "tail_irq_us_p99=%.1f",
                       b->mode, b->qd, cmds, cmds * 1000.0 / (t1 - t0),
                       us[CPU_IOTHREADS], us[CPU_MAIN], us[CPU_OTHER],
                       us[CPU_SUBMIT], (double)dbs / cmds, r.irqs,
                       r.cqe_mean, r.cqe_p99, r.irq_mean, r.irq_p99);
    }
}

/* nvme: the reads go round the I/O queues */

static void nvme_bench_queue(Bench *b, int slot, uint32_t seq)
{
    Nvme *c = b->nvme;
    int q = seq % c->nr_ioq + 1;
    NvmeCmd cmd;
    uint16_t cid;

    nvme_rw_cmd(c, &cmd, NVME_CMD_READ, bench_lba(b, seq),
                b->buf + slot * 4096);
    cid = nvme_queue(c, q, &cmd);
    b->cid_slot[cid] = slot;
    if (!seq) {
        b->cid0 = cid;
    }
    b->sqs_queued |= 1 << q;
}

static bool nvme_bench_publish(Bench *b)
{
    Nvme *c = b->nvme;
    int q;

    for (q = 1; q <= c->nr_ioq; q++) {
        if ((b->sqs_queued & 1 << q) &&
            nvme_shadow_doorbell(c, 2 * q, c->sq_tail[q])) {
            b->sqs_ring |= 1 << q;
        }
    }
    b->sqs_queued = 0;
    return b->sqs_ring;
}

static void nvme_bench_ring(Bench *b)
{
    Nvme *c = b->nvme;
    int q;

    for (q = 1; q <= c->nr_ioq; q++) {
        if (b->sqs_ring & 1 << q) {
            nvme_mmio_doorbell(c, 2 * q, c->sq_tail[q]);
        }
    }
    b->sqs_ring = 0;
}

static int nvme_bench_reap(Bench *b)
{
    Nvme *c = b->nvme;
    NvmeCqe cqe;
    int q, n = 0;

    for (q = 1; q <= c->nr_ioq; q++) {
        int k;

        for (k = 0; nvme_cqe_ready(c, q, &cqe); k++) {
            g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
            bench_complete(b, b->cid_slot[le16_to_cpu(cqe.cid)]);
            nvme_cq_pop(c, q);
        }
        if (k) {
            nvme_cq_doorbell(c, q);
            n += k;
        }
    }
    return n;
}

static bool nvme_bench_completion(Bench *b, const char *name,
                                  const char *args, uint32_t *seq,
                                  int *entry)
{
    unsigned cid, cqid;

    if (strcmp(name, "pci_nvme_enqueue_req_completion") ||
        sscanf(args, "cid %u cqid %u", &cid, &cqid) != 2 || !cqid) {
        return false;
    }
    *seq = (uint16_t)(cid - b->cid0);
    *entry = cqid;      /* CQ q raises MSI-X entry q */
    return true;
}

static const BenchOps nvme_bench_ops = {
    .queue = nvme_bench_queue,
    .publish = nvme_bench_publish,
    .ring = nvme_bench_ring,
    .reap = nvme_bench_reap,
    .completion = nvme_bench_completion,
    .events = (const char *const []) {
        "pci_nvme_enqueue_req_completion", NULL
    },
};

static void test_bench_nvme(const void *opaque)
{
    Mode m = *(const Mode *)opaque;
    Bench *b = bench_new(m.name, &nvme_bench_ops);
    Nvme *c;
    int v;

    m.msix = m.irqs = m.eventidx = true;
    c = nvme_boot(&m, nvme_mode_ioqs(&m), BENCH_QSIZE, b->args);
    for (v = 0; v <= c->nr_ioq; v++) {
        bench_msix_vector(c->dev, v);
    }
    c->ram = b->ram;
    b->nvme = c;
    bench_booted(b, c->qts, c->buf, &c->mmio_dbs);
    bench_run(b);
    nvme_stop(c);
    bench_free(b);
}

/* virtio-blk with an IOThread, polling as nvme's iothread-poll or not */
static const Mode vblk_modes[] = {
    { "virtio-blk-iothread", "-object iothread,id=t0,poll-max-ns=0",
      ",iothread=t0" },
    { "virtio-blk-iothread-poll", "-object iothread,id=t0,poll-max-ns=50000",
      ",iothread=t0" },
};

#define VBLK_MSIX_ENTRY     1   /* of the request queue */

static VBlk *vblk_boot(const Mode *m, const char *args)
{
    uint64_t features = 1ull << VIRTIO_F_VERSION_1 |
                        1ull << VIRTIO_RING_F_EVENT_IDX;
    VBlk *v = g_new0(VBlk, 1);
    QTestState *qts;
    int i;

    v->qs = qtest_pc_boot(DRIVE " %s %s -device virtio-blk-pci,addr=04.0,"
                          "drive=d0%s", m->objects, args, m->args);
    qts = v->qs->qts;
    v->dev = qvirtio_pci_start(v->qs->pcibus, QPCI_DEVFN(4, 0), features);
    qpci_msix_enable(v->dev->pdev);
    v->vq = qvirtqueue_setup(&v->dev->vdev, &v->qs->alloc, 0);
    bench_msix_vector(v->dev->pdev, VBLK_MSIX_ENTRY);
    v->dev->msix_ops->set_queue_vector(v->dev, 0, VBLK_MSIX_ENTRY);
    qvirtio_set_driver_ok(&v->dev->vdev);

    /* a chain of descriptors for each slot, written once */
    g_assert_cmpint(v->vq->size, >=, 3 * BENCH_MAX_QD);
    v->req = guest_alloc(&v->qs->alloc, BENCH_MAX_QD * 32);
    v->buf = guest_alloc(&v->qs->alloc, BENCH_MAX_QD * 4096);
    for (i = 0; i < BENCH_MAX_QD; i++) {
        qvirtqueue_add(qts, v->vq, v->req + i * 32, 16, false, true);
        qvirtqueue_add(qts, v->vq, v->buf + i * 4096, 4096, true, true);
        qvirtqueue_add(qts, v->vq, v->req + i * 32 + 16, 1, true, false);
    }
    v->reqs = g_hash_table_new(NULL, NULL);
    return v;
}

static void vblk_bench_queue(Bench *b, int slot, uint32_t seq)
{
    VBlk *v = b->vblk;
    uint64_t req = v->req + slot * 32;
    struct virtio_blk_outhdr hdr = {
        .type = cpu_to_le32(VIRTIO_BLK_T_IN),
        .sector = cpu_to_le64(bench_lba(b, seq)),
    };

    memcpy(b->ram + req, &hdr, sizeof(hdr));
    b->ram[req + 16] = 0xff;    /* until the device writes the status */
    stw_le_p(b->ram + v->vq->avail + 4 + 2 * (v->avail % v->vq->size),
             3 * slot);
    v->avail++;
}

static bool vblk_bench_publish(Bench *b)
{
    VBlk *v = b->vblk;
    uint16_t *idx = (uint16_t *)(b->ram + v->vq->avail + 2);
    uint16_t *avail_event = (uint16_t *)(b->ram + v->vq->used + 4 +
                                         8 * v->vq->size);
    uint16_t old = v->published;

    qatomic_store_release(idx, cpu_to_le16(v->avail));
    v->published = v->avail;
    /* the device reads the index after it writes avail_event */
    smp_mb();
    return vring_need_event(le16_to_cpu(qatomic_read(avail_event)),
                            v->avail, old);
}

static void vblk_bench_ring(Bench *b)
{
    VBlk *v = b->vblk;

    v->dev->vdev.bus->virtqueue_kick(&v->dev->vdev, v->vq);
    v->kicks++;
}

static int vblk_bench_reap(Bench *b)
{
    VBlk *v = b->vblk;
    QVirtQueue *vq = v->vq;
    uint16_t *idx = (uint16_t *)(b->ram + vq->used + 2);
    uint16_t used = le16_to_cpu(qatomic_load_acquire(idx));
    int n;

    for (n = 0; vq->last_used_idx != used; vq->last_used_idx++, n++) {
        uint32_t head = ldl_le_p(b->ram + vq->used + 4 +
                                 8 * (vq->last_used_idx % vq->size));

        g_assert_cmpint(b->ram[v->req + head / 3 * 32 + 16], ==,
                        VIRTIO_BLK_S_OK);
        bench_complete(b, head / 3);
    }
    if (n) {
        /* used_event: an interrupt for the next completion */
        qatomic_set((uint16_t *)(b->ram + vq->avail + 4 + 2 * vq->size),
                    cpu_to_le16(vq->last_used_idx));
    }
    return n;
}

static bool vblk_bench_completion(Bench *b, const char *name,
                                  const char *args, uint32_t *seq,
                                  int *entry)
{
    GHashTable *reqs = b->vblk->reqs;
    uint64_t req, sector;
    gpointer read;

    /* a request is known by its address while it lasts */
    if (!strcmp(name, "virtio_blk_handle_read") &&
        sscanf(args, "vdev %*s req %" SCNx64 " sector %" SCNu64,
               &req, &sector) == 2) {
        g_hash_table_insert(reqs, (gpointer)(uintptr_t)req,
                            GUINT_TO_POINTER(b->block_seq[sector / 8] + 1));
        return false;
    }
    if (strcmp(name, "virtio_blk_req_complete") ||
        sscanf(args, "vdev %*s req %" SCNx64, &req) != 1) {
        return false;
    }
    read = g_hash_table_lookup(reqs, (gpointer)(uintptr_t)req);
    if (!read) {
        return false;
    }
    *seq = GPOINTER_TO_UINT(read) - 1;
    *entry = VBLK_MSIX_ENTRY;
    return true;
}

static const BenchOps vblk_bench_ops = {
    .queue = vblk_bench_queue,
    .publish = vblk_bench_publish,
    .ring = vblk_bench_ring,
    .reap = vblk_bench_reap,
    .completion = vblk_bench_completion,
    .events = (const char *const []) {
        "virtio_blk_handle_read", "virtio_blk_req_complete", NULL
    },
};

static void test_bench_vblk(const void *opaque)
{
    const Mode *m = opaque;
    Bench *b = bench_new(m->name, &vblk_bench_ops);
    VBlk *v = vblk_boot(m, b->args);

    b->vblk = v;
    bench_booted(b, v->qs->qts, v->buf, &v->kicks);
    bench_run(b);
    g_hash_table_destroy(v->reqs);
    qvirtqueue_cleanup(v->dev->vdev.bus, v->vq, &v->qs->alloc);
    qos_object_destroy(&v->dev->obj);
    qtest_shutdown(v->qs);
    g_free(v);
    bench_free(b);
}

static void add_mode_test(const Mode *m, const char *name,
                          void (*fn)(const void *))
{
    g_autofree char *path = g_strdup_printf("/nvme-iothread/%s/%s",
                                            m->name, name);

    qtest_add_data_func(path, m, fn);
}

static void add_bench(const Mode *m, void (*fn)(const void *))
{
    g_autofree char *path = g_strdup_printf("/nvme-iothread/bench/%s",
                                            m->name);

    qtest_add_data_func(path, m, fn);
}

int main(int argc, char **argv)
{
    int i;

    g_test_init(&argc, &argv, NULL);

    for (i = 0; i < ARRAY_SIZE(modes); i++) {
        const Mode *m = &modes[i];

        add_mode_test(m, "io", test_io);
        add_mode_test(m, "io-batch", test_io_batch);
        add_mode_test(m, "vwc-off", test_vwc_off);
        add_mode_test(m, "dbbuf/eventidx-init", test_dbbuf_eventidx_init);
        add_mode_test(m, "dbbuf/inaccessible", test_dbbuf_inaccessible);
        add_mode_test(m, "dbbuf/again", test_dbbuf_again);
        add_mode_test(m, "bar0/cq", test_bar0_cq);
        add_mode_test(m, "bar0/sq", test_bar0_sq);
        add_mode_test(m, "bar0/dbbuf", test_bar0_dbbuf);
        add_mode_test(m, "bar0/prp-list", test_bar0_prp_list);
        add_mode_test(m, "rom-data", test_rom_data);
        add_mode_test(m, "ioapic-prp-list", test_ioapic_prp_list);
        add_mode_test(m, "cq-turned-rom", test_cq_turned_rom);
        add_mode_test(m, "sgl-bounce", test_sgl_bounce);
        add_mode_test(m, "dbbuf/bogus-sq-tail", test_dbbuf_bogus_sq_tail);
        add_mode_test(m, "dbbuf/bogus-cq-head", test_dbbuf_bogus_cq_head);
        add_mode_test(m, "dbbuf/cq-eventidx", test_dbbuf_cq_eventidx);
        add_mode_test(m, "reset-during-io", test_reset_during_io);
        add_mode_test(m, "reset-during-dsm", test_reset_during_dsm);
        add_mode_test(m, "enable-toggle", test_enable_toggle);
        add_mode_test(m, "delete-during-io", test_delete_during_io);
        add_mode_test(m, "stop-cont", test_stop_cont);
        add_mode_test(m, "stop-reset-cont", test_stop_reset_cont);
        add_mode_test(m, "cq-no-fds", test_cq_no_fds);
        add_mode_test(m, "viommu", test_viommu);
        add_mode_test(m, "viommu-fault", test_viommu_fault);
        add_mode_test(m, "virtio-iommu", test_virtio_iommu);
        add_mode_test(m, "amd-iommu", test_amd_iommu);
    }
    add_mode_test(&eager_mode, "dbbuf/cq-eventidx", test_dbbuf_cq_eventidx);
    qtest_add_func("/nvme-iothread/realize-errors", test_realize_errors);
    qtest_add_func("/nvme-iothread/subsys-realize-errors",
                   test_subsys_realize_errors);
    qtest_add_func("/nvme-iothread/realize-undo", test_realize_undo);
    qtest_add_func("/nvme-iothread/abort-in-flight", test_abort_in_flight);
    qtest_add_func("/nvme-iothread/format-quiesces", test_format_quiesces);
    qtest_add_func("/nvme-iothread/reset-during-format",
                   test_reset_during_format);
    qtest_add_data_func("/nvme-iothread/cancel-bounce-wait/delete",
                        "delete", test_cancel_bounce_wait);
    qtest_add_data_func("/nvme-iothread/cancel-bounce-wait/abort",
                        "abort", test_cancel_bounce_wait);
    for (i = 0; i < ARRAY_SIZE(cmb_modes); i++) {
        add_mode_test(&cmb_modes[i], "cmb-queues", test_cmb_queues);
    }

    if (g_test_perf()) {
        for (i = 0; i < ARRAY_SIZE(modes); i++) {
            /* the benchmark raises MSI-X interrupts in every mode */
            if (!modes[i].msix) {
                add_bench(&modes[i], test_bench_nvme);
            }
        }
        for (i = 0; i < ARRAY_SIZE(vblk_modes); i++) {
            add_bench(&vblk_modes[i], test_bench_vblk);
        }
    }

    return g_test_run();
}
