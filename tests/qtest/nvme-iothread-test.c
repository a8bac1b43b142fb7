/*
 * QTest testcase for the NVMe controller's I/O queue processing: the
 * shadow doorbell buffer and the modes the I/O queues run in
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "block/nvme.h"

#define QSIZE       16
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
    bool dbbuf;
    uint64_t dbs, eis;      /* shadow doorbell and EventIdx pages */
    uint64_t buf;           /* NR_IOQ * QSIZE pages for data */
} Nvme;

static void nvme_sq_doorbell(Nvme *c, int q)
{
    if (c->dbbuf) {
        qtest_writel(c->qts, c->dbs + 8 * q, c->sq_tail[q]);
    }
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8 * q, c->sq_tail[q]);
}

static void nvme_cq_doorbell(Nvme *c, int q)
{
    if (c->dbbuf) {
        qtest_writel(c->qts, c->dbs + 8 * q + 4, c->cq_head[q]);
    }
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8 * q + 4, c->cq_head[q]);
}

/* Put @cmd into submission queue @q without ringing; return its cid */
static uint16_t nvme_queue(Nvme *c, int q, NvmeCmd *cmd)
{
    cmd->cid = cpu_to_le16(++c->cid);
    qtest_memwrite(c->qts, c->sq[q] + c->sq_tail[q] * sizeof(*cmd), cmd,
                   sizeof(*cmd));
    c->sq_tail[q] = (c->sq_tail[q] + 1) % QSIZE;
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
    qtest_memread(c->qts, c->cq[q] + c->cq_head[q] * sizeof(*cqe), cqe,
                  sizeof(*cqe));
    return (le16_to_cpu(cqe->status) & 1) == c->phase[q];
}

/* Wait for the next completion of queue @q, consume it, ring the doorbell */
static void nvme_wait(Nvme *c, int q, NvmeCqe *cqe)
{
    int i;

    for (i = 0; !nvme_cqe_ready(c, q, cqe); i++) {
        g_assert_cmpint(i, <, 2000000);
        g_usleep(10);
    }
    c->cq_head[q] = (c->cq_head[q] + 1) % QSIZE;
    if (!c->cq_head[q]) {
        c->phase[q] ^= 1;
    }
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
    qtest_memset(c->qts, c->cq[q], 0, 4096);
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
        .cdw10 = cpu_to_le32((QSIZE - 1) << 16 | q),
        /* PC, vector q with MSI-X, else 0 (the only one of INTx) */
        .cdw11 = cpu_to_le32(1 | (c->mode->msix ? q : 0) << 16),
    };

    return nvme_cmd(c, 0, &cmd, NULL);
}

/* Create I/O submission queue @q at @addr, on completion queue @q */
static uint16_t nvme_create_sq_at(Nvme *c, int q, uint64_t addr)
{
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_CREATE_SQ,
        .dptr.prp1 = cpu_to_le64(addr),
        .cdw10 = cpu_to_le32((QSIZE - 1) << 16 | q),
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
    qtest_memset(c->qts, c->cq[0], 0, 4096);

    qpci_io_writel(c->dev, c->bar, 0x24, (QSIZE - 1) | (QSIZE - 1) << 16);
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

static Nvme *nvme_boot(const Mode *m, int nr_ioq, const char *extra)
{
    Nvme *c = g_new0(Nvme, 1);
    int q;

    c->mode = m;
    c->nr_ioq = nr_ioq;
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
        c->sq[q] = guest_alloc(&c->qs->alloc, QSIZE * sizeof(NvmeCmd));
        c->cq[q] = guest_alloc(&c->qs->alloc, 4096);
    }
    c->dbs = QEMU_ALIGN_UP(guest_alloc(&c->qs->alloc, 2 * 4096), 4096);
    c->eis = QEMU_ALIGN_UP(guest_alloc(&c->qs->alloc, 2 * 4096), 4096);
    c->buf = guest_alloc(&c->qs->alloc, (NR_IOQ * QSIZE + 1) * 4096);
    c->buf = QEMU_ALIGN_UP(c->buf, 4096);

    nvme_enable(c);
    return c;
}

static Nvme *nvme_start(const Mode *m)
{
    /* both IOThreads of "iothreads" get a queue */
    return nvme_boot(m, strstr(m->args, "vq-mapping") ? 2 : 1, NULL);
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

/* CC.EN toggles without I/O, and a reset of the whole VM */
static void test_enable_toggle(const void *opaque)
{
    Nvme *c = nvme_start(opaque);
    QDict *rsp;
    int i;

    for (i = 0; i < 4; i++) {
        nvme_disable(c);
        nvme_enable(c);
    }
    nvme_io_rounds(c, 2);

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

static void check_realize_error(const char *args, const char *msg)
{
    g_autofree char *cmd = g_strdup_printf(
        "echo quit | %s -M pc -display none -nodefaults -monitor stdio "
        "-S " DRIVE " %s",
        qtest_qemu_binary(NULL), args);
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;

    g_assert(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &err,
                          &status, NULL));
    if (!strstr(err, msg)) {
        g_test_message("stderr: %s", err);
    }
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    g_assert_nonnull(strstr(err, msg));
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
 * Format NVM changes the namespace under the I/O queues: the queues in
 * IOThreads wait until it completes.  A write submitted while the format
 * runs (a null-co drive whose requests take 300 ms) completes after it
 * and is not lost to the format's zeroes.  Before, it went through the
 * IOThread while the main loop changed the namespace and failed with
 * Format In Progress.
 */
static void test_format_quiesces(void)
{
    static const Mode m = {
        "format",
        "-object iothread,id=t0,poll-max-ns=0 -blockdev null-co,"
        "node-name=d1,size=16777216,memory-backed=on,latency-ns=300000000",
        "{'driver': 'nvme', 'id': 'nvme0', 'serial': 'iot', 'addr': '04.0', "
        "'drive': 'd1', 'ioeventfd': true, 'iothread': 't0'}",
        false, true
    };
    Nvme *c = nvme_boot(&m, 1, NULL);
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
    Nvme *c = nvme_boot(&m, 1, NULL);
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

static void add_mode_test(const Mode *m, const char *name,
                          void (*fn)(const void *))
{
    g_autofree char *path = g_strdup_printf("/nvme-iothread/%s/%s",
                                            m->name, name);

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
        add_mode_test(m, "dbbuf/eventidx-init", test_dbbuf_eventidx_init);
        add_mode_test(m, "dbbuf/inaccessible", test_dbbuf_inaccessible);
        add_mode_test(m, "dbbuf/again", test_dbbuf_again);
        add_mode_test(m, "bar0/cq", test_bar0_cq);
        add_mode_test(m, "bar0/sq", test_bar0_sq);
        add_mode_test(m, "bar0/dbbuf", test_bar0_dbbuf);
        add_mode_test(m, "bar0/prp-list", test_bar0_prp_list);
        add_mode_test(m, "dbbuf/bogus-sq-tail", test_dbbuf_bogus_sq_tail);
        add_mode_test(m, "dbbuf/bogus-cq-head", test_dbbuf_bogus_cq_head);
        add_mode_test(m, "dbbuf/cq-eventidx", test_dbbuf_cq_eventidx);
        add_mode_test(m, "reset-during-io", test_reset_during_io);
        add_mode_test(m, "enable-toggle", test_enable_toggle);
        add_mode_test(m, "delete-during-io", test_delete_during_io);
        add_mode_test(m, "stop-cont", test_stop_cont);
        add_mode_test(m, "cq-no-fds", test_cq_no_fds);
    }
    add_mode_test(&eager_mode, "dbbuf/cq-eventidx", test_dbbuf_cq_eventidx);
    qtest_add_func("/nvme-iothread/realize-errors", test_realize_errors);
    qtest_add_func("/nvme-iothread/realize-undo", test_realize_undo);
    qtest_add_func("/nvme-iothread/format-quiesces", test_format_quiesces);
    for (i = 0; i < ARRAY_SIZE(cmb_modes); i++) {
        add_mode_test(&cmb_modes[i], "cmb-queues", test_cmb_queues);
    }

    return g_test_run();
}
