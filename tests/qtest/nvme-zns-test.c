/*
 * QTest testcase for NVMe zoned namespaces backed by a zoned drive
 * (nvme-ns zoned.backend=on over null-co zoned)
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "libqos/libqos-pc.h"
#include "libqos/pci.h"
#include "block/nvme.h"
#include "zoned-qcow2.h"

/*
 * 32 MiB, 512-byte blocks: 8 zones of 4 MiB (8192 blocks), capacity 2 MiB
 * (4096 blocks); at most 2 open and 3 active zones; appends up to 8 KiB;
 * zone 6 read-only, zone 7 offline.
 */
#define ZSZE        8192
#define ZCAP        4096
#define NR_ZONES    8
#define RO_ZONE     6
#define OFF_ZONE    7
#define ZNS_DRIVE   "-drive if=none,id=z,driver=null-co,size=33554432," \
                    "zoned=host-managed,zone-size=4194304," \
                    "zone-capacity=2097152,max-open-zones=2," \
                    "max-active-zones=3,max-append-bytes=8192," \
                    "read-only-zones.0=6,offline-zones.0=7,memory-backed=on," \
                    "werror=stop,rerror=stop"

#define QSIZE       16
#define NSID        1

/* Status of a completion: the status field without the phase bit */
#define SC(st)      ((st) & 0x7ff)

typedef struct Nvme {
    QOSState *qs;
    QPCIDevice *dev;
    QPCIBar bar;
    uint64_t sq[2], cq[2];
    uint16_t sq_tail[2], cq_head[2];
    uint16_t phase[2];
    uint16_t cid;
    uint64_t buf;           /* two pages for data */
} Nvme;

/* Submit @cmd on queue @q and wait for its completion; return its status */
static uint16_t nvme_cmd(Nvme *c, int q, NvmeCmd *cmd, uint32_t *dw0)
{
    QTestState *qts = c->qs->qts;
    NvmeCqe cqe;
    int i;

    cmd->cid = cpu_to_le16(++c->cid);
    qtest_memwrite(qts, c->sq[q] + c->sq_tail[q] * sizeof(*cmd), cmd,
                   sizeof(*cmd));
    c->sq_tail[q] = (c->sq_tail[q] + 1) % QSIZE;
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8 * q, c->sq_tail[q]);

    for (i = 0; ; i++) {
        qtest_memread(qts, c->cq[q] + c->cq_head[q] * sizeof(cqe), &cqe,
                      sizeof(cqe));
        if ((le16_to_cpu(cqe.status) & 1) == c->phase[q]) {
            break;
        }
        g_assert_cmpint(i, <, 1000000);
        g_usleep(10);
    }
    g_assert_cmpint(le16_to_cpu(cqe.cid), ==, c->cid);

    c->cq_head[q] = (c->cq_head[q] + 1) % QSIZE;
    if (!c->cq_head[q]) {
        c->phase[q] ^= 1;
    }
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8 * q + 4, c->cq_head[q]);

    if (dw0) {
        *dw0 = le32_to_cpu(cqe.result);
    }
    return le16_to_cpu(cqe.status) >> 1;
}

/* Enable the controller (CC.EN) and create I/O queue 1 */
static void nvme_enable(Nvme *c)
{
    NvmeCmd cmd = {};
    int i;

    for (i = 0; i < 2; i++) {
        qtest_memset(c->qs->qts, c->cq[i], 0, 4096);
        c->sq_tail[i] = c->cq_head[i] = 0;
        c->phase[i] = 1;
    }

    /* Enable with all I/O command sets (CC.CSS = 6), 64/16-byte entries */
    qpci_io_writel(c->dev, c->bar, 0x24, (QSIZE - 1) | (QSIZE - 1) << 16);
    qpci_io_writeq(c->dev, c->bar, 0x28, c->sq[0]);
    qpci_io_writeq(c->dev, c->bar, 0x30, c->cq[0]);
    qpci_io_writel(c->dev, c->bar, 0x14, 1 | 6 << 4 | 6 << 16 | 4 << 20);
    for (i = 0; !(qpci_io_readl(c->dev, c->bar, 0x1c) & 1); i++) {
        g_assert_cmpint(i, <, 1000000);
        g_usleep(10);
    }

    cmd.opcode = NVME_ADM_CMD_CREATE_CQ;
    cmd.dptr.prp1 = cpu_to_le64(c->cq[1]);
    cmd.cdw10 = cpu_to_le32((QSIZE - 1) << 16 | 1);
    cmd.cdw11 = cpu_to_le32(1);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);

    cmd.opcode = NVME_ADM_CMD_CREATE_SQ;
    cmd.dptr.prp1 = cpu_to_le64(c->sq[1]);
    cmd.cdw11 = cpu_to_le32(1 << 16 | 1);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
}

/* Start with the options @drive of a drive (or node) named "z" */
static Nvme *nvme_start_with(const char *drive)
{
    Nvme *c = g_new0(Nvme, 1);
    int i;

    c->qs = qtest_pc_boot("%s -device nvme,id=nvme0,serial=zns,"
                          "addr=04.0 -device nvme-ns,bus=nvme0,nsid=1,"
                          "drive=z,zoned.backend=on", drive);
    c->dev = qpci_device_find(c->qs->pcibus, QPCI_DEVFN(4, 0));
    g_assert(c->dev);
    qpci_device_enable(c->dev);
    c->bar = qpci_iomap(c->dev, 0, NULL);

    for (i = 0; i < 2; i++) {
        c->sq[i] = guest_alloc(&c->qs->alloc, QSIZE * sizeof(NvmeCmd));
        c->cq[i] = guest_alloc(&c->qs->alloc, 4096);
    }
    c->buf = guest_alloc(&c->qs->alloc, 3 * 4096);
    c->buf = QEMU_ALIGN_UP(c->buf, 4096);

    nvme_enable(c);
    return c;
}

/* Start with ZNS_DRIVE and @drive_opts added to its options */
static Nvme *nvme_start_drive(const char *drive_opts)
{
    g_autofree char *drive = g_strdup_printf(ZNS_DRIVE "%s", drive_opts);

    return nvme_start_with(drive);
}

static Nvme *nvme_start(void)
{
    return nvme_start_drive("");
}

static void nvme_stop(Nvme *c)
{
    QDict *rsp;

    /* werror=stop,rerror=stop: a zone error must not have stopped the VM */
    rsp = qtest_qmp(c->qs->qts, "{'execute': 'query-status'}");
    g_assert(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);

    qpci_iounmap(c->dev, c->bar);
    g_free(c->dev);
    qtest_shutdown(c->qs);
    g_free(c);
}

/* Read, write, write zeroes or append of @nlb blocks from/to c->buf */
static uint16_t nvme_rw(Nvme *c, uint8_t opcode, uint64_t slba, uint32_t nlb,
                        uint32_t *dw0)
{
    NvmeCmd cmd = {
        .opcode = opcode,
        .nsid = cpu_to_le32(NSID),
        .dptr.prp1 = cpu_to_le64(c->buf),
        .dptr.prp2 = cpu_to_le64(c->buf + 4096),
        .cdw10 = cpu_to_le32(slba),
        .cdw11 = cpu_to_le32(slba >> 32),
        .cdw12 = cpu_to_le32(nlb - 1),
    };

    return nvme_cmd(c, 1, &cmd, dw0);
}

/* Zone Management Send */
static uint16_t zms(Nvme *c, uint64_t slba, uint8_t zsa, bool all)
{
    NvmeCmd cmd = {
        .opcode = NVME_CMD_ZONE_MGMT_SEND,
        .nsid = cpu_to_le32(NSID),
        .cdw10 = cpu_to_le32(slba),
        .cdw11 = cpu_to_le32(slba >> 32),
        .cdw13 = cpu_to_le32(zsa | (all ? 1 << 8 : 0)),
    };

    return nvme_cmd(c, 1, &cmd, NULL);
}

/* Zone Management Receive of @len bytes into c->buf */
static uint16_t zmr(Nvme *c, uint64_t slba, uint8_t zra, uint8_t zrasf,
                    bool partial, uint32_t len)
{
    NvmeCmd cmd = {
        .opcode = NVME_CMD_ZONE_MGMT_RECV,
        .nsid = cpu_to_le32(NSID),
        .dptr.prp1 = cpu_to_le64(c->buf),
        .dptr.prp2 = cpu_to_le64(c->buf + 4096),
        .cdw10 = cpu_to_le32(slba),
        .cdw11 = cpu_to_le32(slba >> 32),
        .cdw12 = cpu_to_le32(len / 4 - 1),
        .cdw13 = cpu_to_le32(zra | zrasf << 8 | (partial ? 1 << 16 : 0)),
    };

    qtest_memset(c->qs->qts, c->buf, 0xff, 8192);
    return nvme_cmd(c, 1, &cmd, NULL);
}

static uint64_t report_nr_zones(Nvme *c)
{
    return qtest_readq(c->qs->qts, c->buf);
}

static NvmeZoneDescr report_descr(Nvme *c, int i)
{
    NvmeZoneDescr d;

    qtest_memread(c->qs->qts, c->buf + 64 + i * 64, &d, sizeof(d));
    return d;
}

/* The condition (ZNS zone state << 4) of zone @z */
static uint8_t zone_state(Nvme *c, int z)
{
    g_assert_cmphex(zmr(c, (uint64_t)z * ZSZE, NVME_ZONE_REPORT, 0, true,
                        128), ==, 0);
    return report_descr(c, 0).zs;
}

static uint64_t zone_wp(Nvme *c, int z)
{
    g_assert_cmphex(zmr(c, (uint64_t)z * ZSZE, NVME_ZONE_REPORT, 0, true,
                        128), ==, 0);
    return le64_to_cpu(report_descr(c, 0).wp);
}

static void test_identify(void)
{
    Nvme *c = nvme_start();
    NvmeIdNsZoned id;
    NvmeIdNs idns;
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_IDENTIFY,
        .nsid = cpu_to_le32(NSID),
        .dptr.prp1 = cpu_to_le64(c->buf),
    };

    /* Identify Namespace: NVM fields */
    cmd.cdw10 = cpu_to_le32(NVME_ID_CNS_NS);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    qtest_memread(c->qs->qts, c->buf, &idns, sizeof(idns));
    g_assert_cmpuint(le64_to_cpu(idns.nsze), ==, NR_ZONES * ZSZE);

    /* I/O Command Set specific Identify Namespace, CSI 2 (zoned) */
    cmd.cdw10 = cpu_to_le32(NVME_ID_CNS_CS_NS);
    cmd.cdw11 = cpu_to_le32(NVME_CSI_ZONED << 24);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    qtest_memread(c->qs->qts, c->buf, &id, sizeof(id));
    g_assert_cmpuint(le32_to_cpu(id.mor), ==, 1);     /* 0-based: 2 */
    g_assert_cmpuint(le32_to_cpu(id.mar), ==, 2);     /* 0-based: 3 */
    g_assert_cmpuint(le64_to_cpu(id.lbafe[0].zsze), ==, ZSZE);
    g_assert_cmpuint(id.lbafe[0].zdes, ==, 0);
    g_assert_cmphex(le16_to_cpu(id.ozcs) & NVME_ID_NS_ZONED_OZCS_RAZB, !=, 0);

    /*
     * Identify Controller, CSI 2: ZASL = 8 KiB = 2^1 pages of 4 KiB, the
     * drive's limit, not zoned.zasl (0: MDTS, 512 KiB)
     */
    cmd.cdw10 = cpu_to_le32(NVME_ID_CNS_CS_CTRL);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    g_assert_cmpuint(qtest_readb(c->qs->qts, c->buf), ==, 1);

    nvme_stop(c);
}

static void test_report(void)
{
    Nvme *c = nvme_start();
    NvmeZoneDescr d;
    int i;

    /* All zones, in a buffer for all of them */
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, NVME_ZONE_REPORT_ALL, false,
                        64 + NR_ZONES * 64), ==, 0);
    g_assert_cmpuint(report_nr_zones(c), ==, NR_ZONES);
    for (i = 0; i < NR_ZONES; i++) {
        d = report_descr(c, i);
        g_assert_cmpuint(d.zt, ==, NVME_ZONE_TYPE_SEQ_WRITE);
        g_assert_cmpuint(le64_to_cpu(d.zslba), ==, i * ZSZE);
        g_assert_cmpuint(le64_to_cpu(d.zcap), ==, ZCAP);
        if (i == RO_ZONE) {
            g_assert_cmphex(d.zs, ==, NVME_ZONE_STATE_READ_ONLY << 4);
        } else if (i == OFF_ZONE) {
            g_assert_cmphex(d.zs, ==, NVME_ZONE_STATE_OFFLINE << 4);
        } else {
            g_assert_cmphex(d.zs, ==, NVME_ZONE_STATE_EMPTY << 4);
            g_assert_cmpuint(le64_to_cpu(d.wp), ==, i * ZSZE);
        }
    }

    /* From a block inside zone 2: zones 2..7 */
    g_assert_cmphex(zmr(c, 2 * ZSZE + 7, NVME_ZONE_REPORT, 0, false, 4096),
                    ==, 0);
    g_assert_cmpuint(report_nr_zones(c), ==, NR_ZONES - 2);
    g_assert_cmpuint(le64_to_cpu(report_descr(c, 0).zslba), ==, 2 * ZSZE);

    /* Zone 0 implicitly open, 1 explicitly open, 2 closed, 3 full */
    g_assert_cmphex(zms(c, 3 * ZSZE, NVME_ZONE_ACTION_FINISH, false), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 2 * ZSZE, 1, NULL), ==, 0);
    g_assert_cmphex(zms(c, 2 * ZSZE, NVME_ZONE_ACTION_CLOSE, false), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 1, NULL), ==, 0);
    g_assert_cmphex(zms(c, ZSZE, NVME_ZONE_ACTION_OPEN, false), ==, 0);

    {
        static const struct { uint8_t zrasf; uint64_t nr, zslba; } f[] = {
            { NVME_ZONE_REPORT_EMPTY, 2, 4 * ZSZE },
            { NVME_ZONE_REPORT_IMPLICITLY_OPEN, 1, 0 },
            { NVME_ZONE_REPORT_EXPLICITLY_OPEN, 1, ZSZE },
            { NVME_ZONE_REPORT_CLOSED, 1, 2 * ZSZE },
            { NVME_ZONE_REPORT_FULL, 1, 3 * ZSZE },
            { NVME_ZONE_REPORT_READ_ONLY, 1, RO_ZONE * ZSZE },
            { NVME_ZONE_REPORT_OFFLINE, 1, OFF_ZONE * ZSZE },
        };

        for (i = 0; i < ARRAY_SIZE(f); i++) {
            g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, f[i].zrasf, false,
                                4096), ==, 0);
            g_assert_cmpuint(report_nr_zones(c), ==, f[i].nr);
            g_assert_cmpuint(le64_to_cpu(report_descr(c, 0).zslba), ==,
                             f[i].zslba);
        }
    }
    g_assert_cmpuint(le64_to_cpu(report_descr(c, 0).wp), ==, ~0ULL);
    g_assert_cmphex(zone_state(c, 0), ==,
                    NVME_ZONE_STATE_IMPLICITLY_OPEN << 4);
    g_assert_cmpuint(zone_wp(c, 0), ==, 1);

    /* Room for 2 descriptors: partial counts them, else all that match */
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, 0, true, 64 + 2 * 64), ==, 0);
    g_assert_cmpuint(report_nr_zones(c), ==, 2);
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, 0, false, 64 + 2 * 64), ==, 0);
    g_assert_cmpuint(report_nr_zones(c), ==, NR_ZONES);
    /* nothing written past the data length */
    g_assert_cmphex(qtest_readb(c->qs->qts, c->buf + 64 + 2 * 64), ==, 0xff);

    /* No descriptor extensions: no extended report; bad fields */
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT_EXTENDED, 0, false, 4096), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zmr(c, 0, 2, 0, false, 4096), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, 8, false, 4096), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, 0, false, 32), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zmr(c, NR_ZONES * ZSZE, NVME_ZONE_REPORT, 0, false, 4096),
                    ==, NVME_LBA_RANGE | NVME_DNR);

    nvme_stop(c);
}

static void fill(Nvme *c, uint8_t pattern, size_t len)
{
    qtest_memset(c->qs->qts, c->buf, pattern, len);
}

static void test_io(void)
{
    Nvme *c = nvme_start();
    uint8_t data[3 * 512];
    uint32_t dw0 = 0;
    int i;

    /* Writes at the write pointer, then off it, across zones, when full */
    fill(c, 0xa1, 512);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 1, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 5, 1, NULL), ==,
                    NVME_ZONE_INVALID_WRITE | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, ZSZE - 1, 2, NULL), ==,
                    NVME_ZONE_BOUNDARY_ERROR | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, ZCAP - 1, 2, NULL), ==,
                    NVME_ZONE_BOUNDARY_ERROR | NVME_DNR);   /* past ZCAP */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE_ZEROES, 1, 1, NULL), ==, 0);
    g_assert_cmpuint(zone_wp(c, 0), ==, 2);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_FINISH, false), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 2, 1, NULL), ==,
                    NVME_ZONE_FULL | NVME_DNR);

    /* Appends return where the data went */
    fill(c, 0xb2, 1024);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, ZSZE, 2, &dw0), ==, 0);
    g_assert_cmpuint(dw0, ==, ZSZE);
    fill(c, 0xc3, 512);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, ZSZE, 1, &dw0), ==, 0);
    g_assert_cmpuint(dw0, ==, ZSZE + 2);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, ZSZE + 1, 1, NULL), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, ZSZE, 17, NULL), ==,
                    NVME_INVALID_FIELD | NVME_DNR);     /* > ZASL (8 KiB) */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, 0, 1, NULL), ==,
                    NVME_ZONE_FULL | NVME_DNR);

    /* The data reads back */
    fill(c, 0, sizeof(data));
    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, ZSZE, 3, NULL), ==, 0);
    qtest_memread(c->qs->qts, c->buf, data, sizeof(data));
    for (i = 0; i < sizeof(data); i++) {
        g_assert_cmphex(data[i], ==, i < 1024 ? 0xb2 : 0xc3);
    }
    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, 0, 1, NULL), ==, 0);
    g_assert_cmphex(qtest_readb(c->qs->qts, c->buf), ==, 0xa1);

    /* Read-only and offline zones */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, RO_ZONE * ZSZE, 1, NULL), ==,
                    NVME_ZONE_READ_ONLY | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, RO_ZONE * ZSZE, 1, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, OFF_ZONE * ZSZE, 1, NULL), ==,
                    NVME_ZONE_OFFLINE | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, OFF_ZONE * ZSZE, 1, NULL), ==,
                    NVME_ZONE_OFFLINE | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, NR_ZONES * ZSZE, 1, NULL), ==,
                    NVME_LBA_RANGE | NVME_DNR);

    /* Copy is not supported */
    {
        NvmeCmd cmd = { .opcode = NVME_CMD_COPY, .nsid = cpu_to_le32(NSID) };
        g_assert_cmphex(nvme_cmd(c, 1, &cmd, NULL), ==,
                        NVME_INVALID_OPCODE | NVME_DNR);
    }

    /* ... nor advertised: Commands Supported and Effects log, CSI 2 */
    {
        NvmeCmd cmd = {
            .opcode = NVME_ADM_CMD_GET_LOG_PAGE,
            .dptr.prp1 = cpu_to_le64(c->buf),
            .cdw10 = cpu_to_le32(NVME_LOG_CMD_EFFECTS |
                                 (sizeof(NvmeEffectsLog) / 4 - 1) << 16),
            .cdw14 = cpu_to_le32(NVME_CSI_ZONED << 24),
        };
        NvmeEffectsLog log;

        g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
        qtest_memread(c->qs->qts, c->buf, &log, sizeof(log));
        g_assert_cmphex(le32_to_cpu(log.iocs[NVME_CMD_COPY]), ==, 0);
        g_assert_cmphex(le32_to_cpu(log.iocs[NVME_CMD_ZONE_APPEND]) &
                        NVME_CMD_EFF_CSUPP, !=, 0);
    }

    nvme_stop(c);
}

static void test_mgmt(void)
{
    Nvme *c = nvme_start();

    /* Single zones */
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_OPEN, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_EXPLICITLY_OPEN << 4);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_CLOSE, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_EMPTY << 4);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 1, NULL), ==, 0);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_CLOSE, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_CLOSED << 4);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_FINISH, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_FULL << 4);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_ZONE_INVAL_TRANSITION | NVME_DNR);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_RESET, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_EMPTY << 4);

    /* Bad SLBA, actions and flags */
    g_assert_cmphex(zms(c, 1, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zms(c, NR_ZONES * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_LBA_RANGE | NVME_DNR);
    g_assert_cmphex(zms(c, 0, 0x7, false), ==, NVME_INVALID_FIELD | NVME_DNR);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_SET_ZD_EXT, false), ==,
                    NVME_INVALID_FIELD | NVME_DNR);

    /* Read-only and offline zones */
    g_assert_cmphex(zms(c, RO_ZONE * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_ZONE_INVAL_TRANSITION | NVME_DNR);
    g_assert_cmphex(zms(c, RO_ZONE * ZSZE, NVME_ZONE_ACTION_OFFLINE, false),
                    ==, NVME_ZONE_INVAL_TRANSITION | NVME_DNR);
    g_assert_cmphex(zms(c, OFF_ZONE * ZSZE, NVME_ZONE_ACTION_OFFLINE, false),
                    ==, 0);
    g_assert_cmphex(zms(c, OFF_ZONE * ZSZE, NVME_ZONE_ACTION_RESET, false),
                    ==, NVME_ZONE_INVAL_TRANSITION | NVME_DNR);

    nvme_stop(c);
}

static void test_limits(void)
{
    Nvme *c = nvme_start();
    int i;

    /* 2 open zones at most */
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_OPEN, false), ==, 0);
    g_assert_cmphex(zms(c, ZSZE, NVME_ZONE_ACTION_OPEN, false), ==, 0);
    g_assert_cmphex(zms(c, 2 * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_ZONE_TOO_MANY_OPEN | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 2 * ZSZE, 1, NULL), ==,
                    NVME_ZONE_TOO_MANY_OPEN | NVME_DNR);

    /* Close all: both open zones; they stay active (written or not) */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 1, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, ZSZE, 1, NULL), ==, 0);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_CLOSE, true), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_CLOSED << 4);
    g_assert_cmphex(zone_state(c, 1), ==, NVME_ZONE_STATE_CLOSED << 4);

    /* 3 active zones at most */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 2 * ZSZE, 1, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 3 * ZSZE, 1, NULL), ==,
                    NVME_ZONE_TOO_MANY_ACTIVE | NVME_DNR);
    g_assert_cmphex(zms(c, 3 * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==,
                    NVME_ZONE_TOO_MANY_ACTIVE | NVME_DNR);

    /* Open all opens the closed zones: zones 0 and 1 */
    g_assert_cmphex(zms(c, 2 * ZSZE, NVME_ZONE_ACTION_CLOSE, false), ==, 0);
    g_assert_cmphex(zms(c, 2 * ZSZE, NVME_ZONE_ACTION_FINISH, false), ==, 0);
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_OPEN, true), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_EXPLICITLY_OPEN << 4);
    g_assert_cmphex(zone_state(c, 1), ==, NVME_ZONE_STATE_EXPLICITLY_OPEN << 4);
    g_assert_cmphex(zone_state(c, 2), ==, NVME_ZONE_STATE_FULL << 4);

    /* Finish all: open and closed zones; reset all: every zone */
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_FINISH, true), ==, 0);
    for (i = 0; i < 3; i++) {
        g_assert_cmphex(zone_state(c, i), ==, NVME_ZONE_STATE_FULL << 4);
    }
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_RESET, true), ==, 0);
    g_assert_cmphex(zmr(c, 0, NVME_ZONE_REPORT, NVME_ZONE_REPORT_EMPTY, false,
                        4096), ==, 0);
    g_assert_cmpuint(report_nr_zones(c), ==, NR_ZONES - 2);
    g_assert_cmphex(zone_state(c, RO_ZONE), ==,
                    NVME_ZONE_STATE_READ_ONLY << 4);

    /* Offline all: the read-only zone cannot go offline */
    g_assert_cmphex(zms(c, 0, NVME_ZONE_ACTION_OFFLINE, true), ==,
                    NVME_ZONE_INVAL_TRANSITION | NVME_DNR);

    nvme_stop(c);
}

/*
 * A controller shutdown (CC.SHN) closes the open zones of the drive, as it
 * closes the zones of a zoned namespace in memory: zones with data become
 * closed, an explicitly opened empty zone empty.  The drive keeps them so
 * across the controller reset that follows.
 */
static void test_shutdown(void)
{
    Nvme *c = nvme_start();
    uint32_t cc;
    int i;

    /* Zone 0 implicitly open with data, zone 1 explicitly open and empty */
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 1, NULL), ==, 0);
    g_assert_cmphex(zms(c, ZSZE, NVME_ZONE_ACTION_OPEN, false), ==, 0);

    /* Normal shutdown (SHN = 01b), then wait for SHST = 10b (complete) */
    cc = qpci_io_readl(c->dev, c->bar, 0x14);
    qpci_io_writel(c->dev, c->bar, 0x14, cc | 1 << 14);
    for (i = 0; (qpci_io_readl(c->dev, c->bar, 0x1c) >> 2 & 3) != 2; i++) {
        g_assert_cmpint(i, <, 1000000);
        g_usleep(10);
    }

    /* Reset (CC.EN = 0), enable again and look at the zones */
    qpci_io_writel(c->dev, c->bar, 0x14, 0);
    for (i = 0; qpci_io_readl(c->dev, c->bar, 0x1c) & 1; i++) {
        g_assert_cmpint(i, <, 1000000);
        g_usleep(10);
    }
    nvme_enable(c);

    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_CLOSED << 4);
    g_assert_cmpuint(zone_wp(c, 0), ==, 1);
    g_assert_cmphex(zone_state(c, 1), ==, NVME_ZONE_STATE_EMPTY << 4);
    g_assert_cmpuint(zone_wp(c, 1), ==, ZSZE);

    /* No zone holds an open resource: two other zones open */
    g_assert_cmphex(zms(c, 2 * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==, 0);
    g_assert_cmphex(zms(c, 3 * ZSZE, NVME_ZONE_ACTION_OPEN, false), ==, 0);
    g_assert_cmphex(zone_state(c, 0), ==, NVME_ZONE_STATE_CLOSED << 4);

    nvme_stop(c);
}

/*
 * A read-only drive is a write protected namespace: NSATTR says so, and
 * writes, appends and zone changes get Namespace Is Write Protected, not
 * an error of the drive (which would be a Write Fault or an Internal
 * Device Error, and a message per command).  Reads and reports work.
 */
static void test_read_only(void)
{
    Nvme *c = nvme_start_drive(",readonly=on");
    NvmeIdNs idns;
    NvmeCmd cmd = {
        .opcode = NVME_ADM_CMD_IDENTIFY,
        .nsid = cpu_to_le32(NSID),
        .dptr.prp1 = cpu_to_le64(c->buf),
        .cdw10 = cpu_to_le32(NVME_ID_CNS_NS),
    };
    uint8_t zsa[] = { NVME_ZONE_ACTION_OPEN, NVME_ZONE_ACTION_CLOSE,
                      NVME_ZONE_ACTION_FINISH, NVME_ZONE_ACTION_RESET,
                      NVME_ZONE_ACTION_OFFLINE };
    int i;

    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    qtest_memread(c->qs->qts, c->buf, &idns, sizeof(idns));
    g_assert_cmphex(idns.nsattr & NVME_ID_NS_NSATTR_WP, !=, 0);

    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, 0, 8, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 8, NULL), ==,
                    NVME_NS_WRITE_PROTECTED | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE_ZEROES, 0, 8, NULL), ==,
                    NVME_NS_WRITE_PROTECTED | NVME_DNR);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, 0, 8, NULL), ==,
                    NVME_NS_WRITE_PROTECTED | NVME_DNR);
    for (i = 0; i < ARRAY_SIZE(zsa); i++) {
        g_assert_cmphex(zms(c, ZSZE, zsa[i], false), ==,
                        NVME_NS_WRITE_PROTECTED | NVME_DNR);
        g_assert_cmphex(zms(c, 0, zsa[i], true), ==,
                        NVME_NS_WRITE_PROTECTED | NVME_DNR);
    }
    for (i = 0; i < NR_ZONES - 2; i++) {
        g_assert_cmphex(zone_state(c, i), ==, NVME_ZONE_STATE_EMPTY << 4);
        g_assert_cmpuint(zone_wp(c, i), ==, (uint64_t)i * ZSZE);
    }

    nvme_stop(c);
}

/*
 * The buffers of appends in flight are bounded together, whatever the guest
 * queues: 255 appends of 512 KiB (ZASL) at once, held by a throttle node,
 * would take 127.5 MiB of host memory; QEMU's peak resident size grows by
 * less than 32 MiB (the namespace allows 8 MiB of buffers), and every
 * append lands.
 */
#define BIG_QSIZE       256
#define BIG_APPEND_LBAS 1024    /* 512 KiB */

static void test_append_buffers(void)
{
    Nvme *c = nvme_start_with(
        "-object throttle-group,id=tg0,x-bps-write=268435456 "
        "-blockdev driver=null-co,node-name=zz,size=268435456,"
        "zoned=host-managed,zone-size=134217728,max-append-bytes=524288 "
        "-blockdev driver=throttle,node-name=z,throttle-group=tg0,file=zz");
    QTestState *qts = c->qs->qts;
    uint64_t cq = guest_alloc(&c->qs->alloc, 2 * BIG_QSIZE * 16 + 4096);
    uint64_t sq = guest_alloc(&c->qs->alloc, BIG_QSIZE * 64 + 4096);
    uint64_t data = guest_alloc(&c->qs->alloc, BIG_APPEND_LBAS * 512 + 4096);
    uint64_t prps[BIG_APPEND_LBAS * 512 / 4096];
    NvmeCmd cmd = {};
    long base, peak;
    int i, n = BIG_QSIZE - 1;

    cq = QEMU_ALIGN_UP(cq, 4096);
    sq = QEMU_ALIGN_UP(sq, 4096);
    data = QEMU_ALIGN_UP(data, 4096);
    qtest_memset(qts, cq, 0, BIG_QSIZE * 16);

    /* I/O queue pair 2, of 256 entries */
    cmd.opcode = NVME_ADM_CMD_CREATE_CQ;
    cmd.dptr.prp1 = cpu_to_le64(cq);
    cmd.cdw10 = cpu_to_le32((BIG_QSIZE - 1) << 16 | 2);
    cmd.cdw11 = cpu_to_le32(1);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);
    cmd.opcode = NVME_ADM_CMD_CREATE_SQ;
    cmd.dptr.prp1 = cpu_to_le64(sq);
    cmd.cdw11 = cpu_to_le32(2 << 16 | 1);
    g_assert_cmphex(nvme_cmd(c, 0, &cmd, NULL), ==, 0);

    /* The data: the first page in PRP1, the list of the others in PRP2 */
    for (i = 1; i < ARRAY_SIZE(prps); i++) {
        prps[i - 1] = cpu_to_le64(data + i * 4096);
    }
    qtest_memwrite(qts, c->buf, prps, sizeof(prps) - sizeof(prps[0]));
    for (i = 0; i < n; i++) {
        NvmeCmd app = {
            .opcode = NVME_CMD_ZONE_APPEND,
            .cid = cpu_to_le16(i),
            .nsid = cpu_to_le32(NSID),
            .dptr.prp1 = cpu_to_le64(data),
            .dptr.prp2 = cpu_to_le64(c->buf),
            .cdw12 = cpu_to_le32(BIG_APPEND_LBAS - 1),
        };

        qtest_memwrite(qts, sq + i * sizeof(app), &app, sizeof(app));
    }

    if (qtest_peak_rss_kb(qts) < 0 || !qtest_reset_peak_rss(qts)) {
        g_test_skip("the host does not tell the peak resident size");
        nvme_stop(c);
        return;
    }
    base = qtest_peak_rss_kb(qts);
    qpci_io_writel(c->dev, c->bar, 0x1000 + 8 * 2, n);

    for (i = 0; i < n; i++) {
        NvmeCqe cqe;
        int t;

        for (t = 0; ; t++) {
            qtest_memread(qts, cq + i * sizeof(cqe), &cqe, sizeof(cqe));
            if (le16_to_cpu(cqe.status) & 1) {
                break;
            }
            g_assert_cmpint(t, <, 1000000);
            g_usleep(10);
        }
        g_assert_cmphex(le16_to_cpu(cqe.status) >> 1, ==, 0);
    }
    peak = qtest_peak_rss_kb(qts);
    g_test_message("peak resident size grew by %ld kB", peak - base);
    g_assert_cmpint(peak - base, <, 32 * 1024);
    g_assert_cmpuint(zone_wp(c, 0), ==, (uint64_t)n * BIG_APPEND_LBAS);

    nvme_stop(c);
}

/*
 * Without a volatile write cache (Set Features VWC=0), every write is
 * flushed.  A zoned qcow2 image has no FUA of its own: the block layer made
 * the writes FUA, flushed after them, and failed a write whose data was
 * written when the flush failed, so the guest got Zone Invalid Write (the
 * write pointer was past the write) and, for an append, Zone Is Full.  The
 * namespace flushes itself now: Write Fault, which a retry of a write that
 * landed cannot mend (DNR), and the write pointer after the data.  blkdebug
 * fails the flush after the second and the fourth data write.
 */
static void test_writethrough(void)
{
    static const int after[] = { 2, 4 };
    g_autofree char *path = zoned_qcow2_create(32 << 20, 4 << 20, 0);
    g_autofree char *blkdebug = NULL;
    g_autofree char *drive = NULL;
    NvmeCmd vwc = {
        .opcode = NVME_ADM_CMD_SET_FEATURES,
        .cdw10 = cpu_to_le32(NVME_VOLATILE_WRITE_CACHE),
    };
    uint32_t dw0 = 0;
    Nvme *c;

    if (!path) {
        g_test_skip("no qemu-img to make a zoned qcow2 image");
        return;
    }
    blkdebug = zoned_qcow2_flush_errors("d0", "f0", after, ARRAY_SIZE(after));
    drive = g_strdup_printf("-blockdev driver=file,node-name=f0,filename=%s"
                            "%s -blockdev driver=qcow2,node-name=z,file=d0",
                            path, blkdebug);
    c = nvme_start_with(drive);

    g_assert_cmphex(nvme_cmd(c, 0, &vwc, NULL), ==, 0);
    fill(c, 0xa1, 4096);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 0, 8, NULL), ==, 0);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 8, 8, NULL), ==,
                    NVME_WRITE_FAULT | NVME_DNR);
    g_assert_cmpuint(zone_wp(c, 0), ==, 16);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_WRITE, 16, 8, NULL), ==, 0);
    g_assert_cmpuint(zone_wp(c, 0), ==, 24);

    fill(c, 0xb2, 4096);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_ZONE_APPEND, ZSZE, 8, &dw0), ==,
                    NVME_WRITE_FAULT | NVME_DNR);
    g_assert_cmpuint(zone_wp(c, 1), ==, ZSZE + 8);
    fill(c, 0, 4096);
    g_assert_cmphex(nvme_rw(c, NVME_CMD_READ, ZSZE, 8, NULL), ==, 0);
    g_assert_cmphex(qtest_readb(c->qs->qts, c->buf + 4095), ==, 0xb2);

    nvme_stop(c);
    unlink(path);
}

/* QEMU with @drive and @ns must fail to start, saying @msg */
static void check_realize_error(const char *drive, const char *ns,
                                const char *msg)
{
    g_autofree char *cmd = g_strdup_printf(
        "echo quit | %s -M pc -display none -nodefaults -monitor stdio "
        "-S %s -device nvme,id=nvme0,serial=zns "
        "-device nvme-ns,bus=nvme0,drive=z,%s",
        qtest_qemu_binary(NULL), drive, ns);
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", cmd, NULL };
    g_autofree char *out = NULL, *err = NULL;
    int status;

    g_assert(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL, &out, &err,
                          &status, NULL));
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!strstr(err, msg)) {
        g_test_message("stderr: %s", err);
    }
    g_assert_nonnull(strstr(err, msg));
}

static void test_realize_errors(void)
{
    check_realize_error("-drive if=none,id=z,driver=null-co,size=33554432",
                        "zoned.backend=on", "drive 'z' is not zoned");
    check_realize_error("-drive if=none,id=z,driver=null-co,size=33554432,"
                        "zoned=host-managed,zone-size=4194304,zone-nr-conv=2",
                        "zoned.backend=on",
                        "has 2 conventional zones, which an NVMe zoned "
                        "namespace cannot represent");
    check_realize_error("-drive if=none,id=z,driver=null-co,size=33554432,"
                        "zoned=host-aware,zone-size=4194304",
                        "zoned.backend=on", "is host-aware");
    check_realize_error(ZNS_DRIVE, "zoned.backend=on,zoned.max_open=2",
                        "conflicts with zoned.max_open");
    check_realize_error(ZNS_DRIVE, "zoned=on", "zoned=on emulates zones in "
                        "memory and cannot use the host-managed zoned drive");
    /* ZASL cannot be less than 2^1 pages of 4 KiB: 4 KiB appends fail */
    check_realize_error("-drive if=none,id=z,driver=null-co,size=33554432,"
                        "zoned=host-managed,zone-size=4194304,"
                        "max-append-bytes=4096",
                        "zoned.backend=on",
                        "the zone append limit of drive 'z' (4096 bytes) is "
                        "less than the smallest one the controller can "
                        "report (zoned.zasl=1, 8192 bytes)");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);

    qtest_add_func("/nvme-zns/identify", test_identify);
    qtest_add_func("/nvme-zns/report", test_report);
    qtest_add_func("/nvme-zns/io", test_io);
    qtest_add_func("/nvme-zns/mgmt", test_mgmt);
    qtest_add_func("/nvme-zns/limits", test_limits);
    qtest_add_func("/nvme-zns/shutdown", test_shutdown);
    qtest_add_func("/nvme-zns/read-only", test_read_only);
    qtest_add_func("/nvme-zns/append-buffers", test_append_buffers);
    qtest_add_func("/nvme-zns/writethrough", test_writethrough);
    qtest_add_func("/nvme-zns/realize-errors", test_realize_errors);

    return g_test_run();
}
