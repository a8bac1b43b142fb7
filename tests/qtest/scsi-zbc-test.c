/*
 * QTest testcase for the ZBC (zoned block device) emulation of scsi-hd,
 * through virtio-scsi, on null-co zoned drives
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "qemu/module.h"
#include "qemu/bswap.h"
#include "qemu/timer.h"
#include "scsi/constants.h"
#include "libqos/virtio.h"
#include "libqos/virtio-pci.h"
#include "standard-headers/linux/virtio_ids.h"
#include "standard-headers/linux/virtio_scsi.h"
#include "libqos/virtio-scsi.h"
#include "libqos/qgraph.h"
#include "zoned-qcow2.h"

#define TIMEOUT_US      (10 * 1000 * 1000)
#define ZONE_BLOCKS     2048            /* 1 MiB zones of 512-byte blocks */
#define NR_ZONES        16
#define NR_CONV         2
#define RO_ZONE         14
#define OFFLINE_ZONE    15
#define MAX_OPEN        2

#define ZSTART(z)       ((uint64_t)(z) * ZONE_BLOCKS)

/* Zone conditions in REPORT ZONES */
#define ZC_NOT_WP       0x0
#define ZC_EMPTY        0x1
#define ZC_IOPEN        0x2
#define ZC_EOPEN        0x3
#define ZC_CLOSED       0x4
#define ZC_RDONLY       0xd
#define ZC_FULL         0xe
#define ZC_OFFLINE      0xf

typedef struct {
    QVirtioDevice *dev;
    int num_queues;
    QVirtQueue *vq[3];
    QGuestAllocator *alloc;
    struct virtio_scsi_cmd_resp resp;
    bool stop_expected;     /* the next command stops the VM (werror=stop) */
} ZbcTest;

/* The VM must still run: no zone error may stop it (werror/rerror=stop) */
static void assert_running(void)
{
    QDict *rsp = qmp("{'execute': 'query-status'}");
    QDict *ret = qdict_get_qdict(rsp, "return");

    g_assert_cmpstr(qdict_get_str(ret, "status"), ==, "running");
    qobject_unref(rsp);
}

/*
 * Wait until the error policy stopped the VM for an I/O error of a write
 * (werror=stop), then resume it.
 */
static void stopped_then_cont(void)
{
    bool running = true;
    QDict *rsp;
    int i;

    /* Not for ever: an answer instead of the stop fails here */
    for (i = 0; i < 500 && running; i++) {
        rsp = qmp("{'execute': 'query-status'}");
        running = qdict_get_bool(qdict_get_qdict(rsp, "return"), "running");
        qobject_unref(rsp);
        if (running) {
            g_usleep(10 * 1000);
        }
    }
    g_assert_false(running);
    rsp = qtest_qmp_eventwait_ref(global_qtest, "BLOCK_IO_ERROR");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "data"), "operation"),
                    ==, "write");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "data"), "action"),
                    ==, "stop");
    qobject_unref(rsp);
    qobject_unref(qmp("{'execute': 'cont'}"));
    assert_running();
}

/* Send @cdb; data out from @out, data in to @in; returns the SCSI status */
/*
 * Run @cdb with @out_len bytes of data out from @out and @in_len bytes of
 * data in, into guest memory at @in_addr; the status
 */
static uint8_t zbc_cmd_at(ZbcTest *t, const uint8_t *cdb, const void *out,
                          size_t out_len, uint64_t in_addr, size_t in_len)
{
    QTestState *qts = global_qtest;
    QVirtQueue *vq = t->vq[2];
    struct virtio_scsi_cmd_req req = { { 0 } };
    struct virtio_scsi_cmd_resp resp = { .response = 0xff, .status = 0xff };
    uint64_t req_addr, resp_addr, out_addr = 0;
    uint32_t free_head;

    req.lun[0] = 1;
    req.lun[1] = 1;
    memcpy(req.cdb, cdb, VIRTIO_SCSI_CDB_SIZE);

    req_addr = guest_alloc(t->alloc, sizeof(req));
    memwrite(req_addr, &req, sizeof(req));
    free_head = qvirtqueue_add(qts, vq, req_addr, sizeof(req), false, true);
    if (out_len) {
        out_addr = guest_alloc(t->alloc, out_len);
        memwrite(out_addr, out, out_len);
        qvirtqueue_add(qts, vq, out_addr, out_len, false, true);
    }
    resp_addr = guest_alloc(t->alloc, sizeof(resp));
    memwrite(resp_addr, &resp, sizeof(resp));
    qvirtqueue_add(qts, vq, resp_addr, sizeof(resp), true, !!in_len);
    if (in_len) {
        qvirtqueue_add(qts, vq, in_addr, in_len, true, false);
    }
    qvirtqueue_kick(qts, t->dev, vq, free_head);
    if (t->stop_expected) {
        t->stop_expected = false;
        stopped_then_cont();
    }
    qvirtio_wait_used_elem(qts, t->dev, vq, free_head, NULL, TIMEOUT_US);

    memread(resp_addr, &t->resp, sizeof(t->resp));
    guest_free(t->alloc, req_addr);
    guest_free(t->alloc, resp_addr);
    guest_free(t->alloc, out_addr);
    g_assert_cmpint(t->resp.response, ==, VIRTIO_SCSI_S_OK);
    return t->resp.status;
}

/* zbc_cmd_at() with the data in copied to @in, where 0xa5 was before */
static uint8_t zbc_cmd(ZbcTest *t, const uint8_t *cdb, const void *out,
                       size_t out_len, void *in, size_t in_len)
{
    uint64_t in_addr = 0;
    uint8_t status;

    if (in_len) {
        in_addr = guest_alloc(t->alloc, in_len);
        qtest_memset(global_qtest, in_addr, 0xa5, in_len);
    }
    status = zbc_cmd_at(t, cdb, out, out_len, in_addr, in_len);
    if (in_len) {
        memread(in_addr, in, in_len);
        guest_free(t->alloc, in_addr);
    }
    return status;
}

static void assert_good(ZbcTest *t, uint8_t status)
{
    if (status != GOOD) {
        g_test_message("sense %x/%02x/%02x", t->resp.sense[2] & 0xf,
                       t->resp.sense[12], t->resp.sense[13]);
    }
    g_assert_cmphex(status, ==, GOOD);
}

#define assert_sense(t, status, key, asc, ascq) \
    do_assert_sense(t, status, key, asc, ascq, __LINE__)

static void do_assert_sense(ZbcTest *t, uint8_t status, uint8_t key,
                            uint8_t asc, uint8_t ascq, int line)
{
    g_test_message("sense expected at line %d", line);
    g_assert_cmphex(status, ==, CHECK_CONDITION);
    g_assert_cmphex(t->resp.sense[0] & 0x7f, ==, 0x70);
    g_assert_cmphex(t->resp.sense[2] & 0xf, ==, key);
    g_assert_cmphex(t->resp.sense[12], ==, asc);
    g_assert_cmphex(t->resp.sense[13], ==, ascq);
}

static ZbcTest *zbc_init(QVirtioSCSI *scsi, QGuestAllocator *alloc)
{
    ZbcTest *t = g_new0(ZbcTest, 1);
    const uint8_t tur[VIRTIO_SCSI_CDB_SIZE] = { TEST_UNIT_READY };
    uint64_t features;
    int i;

    t->dev = scsi->vdev;
    t->alloc = alloc;
    features = qvirtio_get_features(t->dev);
    features &= ~(QVIRTIO_F_BAD_FEATURE | (1ull << VIRTIO_RING_F_EVENT_IDX));
    qvirtio_set_features(t->dev, features);
    t->num_queues = qvirtio_config_readl(t->dev, 0);
    for (i = 0; i < 3; i++) {
        t->vq[i] = qvirtqueue_setup(t->dev, alloc, i);
    }
    qvirtio_set_driver_ok(t->dev);
    /* POWER ON OCCURRED */
    assert_sense(t, zbc_cmd(t, tur, NULL, 0, NULL, 0), UNIT_ATTENTION,
                 0x29, 0x00);
    return t;
}

static void zbc_free(ZbcTest *t)
{
    int i;

    for (i = 0; i < 3; i++) {
        qvirtqueue_cleanup(t->dev->bus, t->vq[i], t->alloc);
    }
    g_free(t);
}

static uint8_t report_zones(ZbcTest *t, uint64_t lba, uint8_t options,
                            uint32_t alloc_len, uint8_t *buf)
{
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_IN, ZI_REPORT_ZONES };

    stq_be_p(&cdb[2], lba);
    stl_be_p(&cdb[10], alloc_len);
    cdb[14] = options;
    return zbc_cmd(t, cdb, NULL, 0, buf, alloc_len);
}

/* The condition of zone @z, from REPORT ZONES; the write pointer in @wp */
static uint8_t zone_cond(ZbcTest *t, uint32_t z, uint64_t *wp)
{
    uint8_t buf[128];

    assert_good(t, report_zones(t, ZSTART(z), 0x80, sizeof(buf), buf));
    g_assert_cmpuint(ldl_be_p(&buf[0]), ==, 64);
    g_assert_cmpuint(ldq_be_p(&buf[64 + 16]), ==, ZSTART(z));
    if (wp) {
        *wp = ldq_be_p(&buf[64 + 24]);
    }
    return buf[64 + 1] >> 4;
}

static uint8_t zone_op(ZbcTest *t, uint8_t sa, uint64_t lba, uint8_t all)
{
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_OUT, sa };

    stq_be_p(&cdb[2], lba);
    cdb[14] = all;
    return zbc_cmd(t, cdb, NULL, 0, NULL, 0);
}

static uint8_t rw16(ZbcTest *t, bool write, uint64_t lba, uint32_t blocks,
                    void *buf)
{
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { write ? WRITE_16 : READ_16 };

    stq_be_p(&cdb[2], lba);
    stl_be_p(&cdb[10], blocks);
    return write ? zbc_cmd(t, cdb, buf, blocks * 512, NULL, 0)
                 : zbc_cmd(t, cdb, NULL, 0, buf, blocks * 512);
}

static uint8_t write_blocks(ZbcTest *t, uint64_t lba, uint32_t blocks)
{
    g_autofree uint8_t *buf = g_malloc(blocks * 512);

    memset(buf, lba & 0xff, blocks * 512);
    return rw16(t, true, lba, blocks, buf);
}

static uint8_t inquiry(ZbcTest *t, bool evpd, uint8_t page, uint8_t *buf,
                       uint16_t len)
{
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { INQUIRY, evpd, page };

    stw_be_p(&cdb[3], len);
    return zbc_cmd(t, cdb, NULL, 0, buf, len);
}

static void zbc_identify(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t buf[256];
    uint8_t rc16[VIRTIO_SCSI_CDB_SIZE] = {
        SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16
    };
    uint8_t unmap[VIRTIO_SCSI_CDB_SIZE] = { UNMAP };
    int i;
    bool b1 = false, b2 = false, b6 = false;

    assert_good(t, inquiry(t, false, 0, buf, 36));
    g_assert_cmphex(buf[0] & 0x1f, ==, TYPE_ZBC);

    assert_good(t, inquiry(t, true, 0x00, buf, 64));
    g_assert_cmphex(buf[0] & 0x1f, ==, TYPE_ZBC);
    for (i = 0; i < buf[3]; i++) {
        b1 |= buf[4 + i] == 0xb1;
        b2 |= buf[4 + i] == 0xb2;
        b6 |= buf[4 + i] == 0xb6;
    }
    g_assert_true(b1 && b6 && !b2);

    assert_good(t, inquiry(t, true, 0xb1, buf, 64));
    g_assert_cmphex(buf[0] & 0x1f, ==, TYPE_ZBC);
    g_assert_cmphex(buf[8] & 0x30, ==, 0);  /* ZONED: reserved for HM */

    assert_good(t, inquiry(t, true, 0xb6, buf, 64));
    g_assert_cmphex(buf[0] & 0x1f, ==, TYPE_ZBC);
    g_assert_cmphex(buf[1], ==, 0xb6);
    g_assert_cmpuint(lduw_be_p(&buf[2]), ==, 0x3c);
    g_assert_cmphex(buf[4] & 1, ==, 0);     /* URSWRZ off here */
    g_assert_cmpuint(ldl_be_p(&buf[16]), ==, MAX_OPEN);

    /* A page that is not there */
    assert_sense(t, inquiry(t, true, 0xb2, buf, 64), ILLEGAL_REQUEST,
                 0x24, 0x00);

    stl_be_p(&rc16[10], 32);
    assert_good(t, zbc_cmd(t, rc16, NULL, 0, buf, 32));
    g_assert_cmpuint(ldq_be_p(&buf[0]), ==, NR_ZONES * ZONE_BLOCKS - 1);
    g_assert_cmpuint(ldl_be_p(&buf[8]), ==, 512);
    g_assert_cmphex(buf[12] & 0x30, ==, 0x10);  /* RC BASIS 01b */
    g_assert_cmphex(buf[14] & 0x80, ==, 0);     /* no LBPME */

    /* No logical block provisioning on a host-managed device */
    stw_be_p(&unmap[7], 24);
    memset(buf, 0, 24);
    assert_sense(t, zbc_cmd(t, unmap, buf, 24, NULL, 0), ILLEGAL_REQUEST,
                 0x20, 0x00);
    assert_running();
    zbc_free(t);
}

static void zbc_report(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    const uint32_t len = 64 * (NR_ZONES + 1);
    g_autofree uint8_t *buf = g_malloc(len);
    uint8_t small[200];
    struct {
        uint8_t option;
        uint32_t matches;
        uint32_t first;
    } opt[] = {
        { 0x00, NR_ZONES, 0 },
        { 0x01, NR_ZONES - NR_CONV - 4, 4 },    /* empty */
        { 0x02, 1, 2 },                         /* implicitly open */
        { 0x03, 1, 3 },                         /* explicitly open */
        { 0x04, 0, 0 },                         /* closed */
        { 0x05, 0, 0 },                         /* full */
        { 0x06, 1, RO_ZONE },                   /* read only */
        { 0x07, 1, OFFLINE_ZONE },              /* offline */
        { 0x10, 0, 0 },                         /* RWP recommended */
        { 0x11, 0, 0 },                         /* non-sequential */
        { 0x3f, NR_CONV, 0 },                   /* not write pointer */
    };
    int i;

    /* Zone 2 implicitly open, zone 3 explicitly open */
    assert_good(t, write_blocks(t, ZSTART(2), 8));
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(3), false));

    assert_good(t, report_zones(t, 0, 0, len, buf));
    g_assert_cmpuint(ldl_be_p(&buf[0]), ==, 64 * NR_ZONES);
    g_assert_cmpuint(ldq_be_p(&buf[8]), ==, NR_ZONES * ZONE_BLOCKS - 1);
    for (i = 0; i < NR_ZONES; i++) {
        uint8_t *d = &buf[64 * (i + 1)];
        uint8_t type = i < NR_CONV ? 1 : 2;

        g_assert_cmphex(d[0] & 0xf, ==, type);
        g_assert_cmpuint(ldq_be_p(&d[8]), ==, ZONE_BLOCKS);
        g_assert_cmpuint(ldq_be_p(&d[16]), ==, ZSTART(i));
    }
    g_assert_cmphex(buf[64 * 1 + 1] >> 4, ==, ZC_NOT_WP);
    g_assert_cmphex(buf[64 * 3 + 1] >> 4, ==, ZC_IOPEN);
    g_assert_cmpuint(ldq_be_p(&buf[64 * 3 + 24]), ==, ZSTART(2) + 8);
    g_assert_cmphex(buf[64 * 4 + 1] >> 4, ==, ZC_EOPEN);
    g_assert_cmphex(buf[64 * 5 + 1] >> 4, ==, ZC_EMPTY);
    g_assert_cmpuint(ldq_be_p(&buf[64 * 5 + 24]), ==, ZSTART(4));
    g_assert_cmphex(buf[64 * (RO_ZONE + 1) + 1] >> 4, ==, ZC_RDONLY);
    g_assert_cmphex(buf[64 * (OFFLINE_ZONE + 1) + 1] >> 4, ==, ZC_OFFLINE);

    for (i = 0; i < ARRAY_SIZE(opt); i++) {
        memset(buf, 0, len);
        assert_good(t, report_zones(t, 0, opt[i].option, len, buf));
        g_assert_cmpuint(ldl_be_p(&buf[0]), ==, 64 * opt[i].matches);
        if (opt[i].matches) {
            g_assert_cmpuint(ldq_be_p(&buf[64 + 16]), ==,
                             ZSTART(opt[i].first));
        }
    }

    /* From a zone's middle: that zone first */
    assert_good(t, report_zones(t, ZSTART(5) + 7, 0, len, buf));
    g_assert_cmpuint(ldl_be_p(&buf[0]), ==, 64 * (NR_ZONES - 5));
    g_assert_cmpuint(ldq_be_p(&buf[64 + 16]), ==, ZSTART(5));

    /*
     * Short allocation length: the full count, unless PARTIAL; the data
     * ends with the allocation length (SPC-4), inside zone 2's descriptor
     */
    assert_good(t, report_zones(t, 0, 0x00, sizeof(small), small));
    g_assert_cmpuint(ldl_be_p(&small[0]), ==, 64 * NR_ZONES);
    g_assert_cmpuint(ldq_be_p(&small[128 + 16]), ==, ZSTART(1));
    g_assert_cmphex(small[192] & 0xf, ==, 2);
    g_assert_cmphex(small[193] >> 4, ==, ZC_IOPEN);
    {
        uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_IN, ZI_REPORT_ZONES };

        /* A larger buffer than the allocation length: never overrun */
        stl_be_p(&cdb[10], sizeof(small));
        assert_good(t, zbc_cmd(t, cdb, NULL, 0, buf, len));
        g_assert_cmphex(buf[sizeof(small) - 1], ==, 0);
        g_assert_cmphex(buf[sizeof(small)], ==, 0xa5);
        g_assert_cmpuint(t->resp.resid, ==, len - sizeof(small));
    }
    assert_good(t, report_zones(t, 0, 0x80, sizeof(small), small));
    g_assert_cmpuint(ldl_be_p(&small[0]), ==, 64 * 2);
    assert_good(t, report_zones(t, 0, 0x81, sizeof(small), small));
    g_assert_cmpuint(ldl_be_p(&small[0]), ==, 64 * 2);
    g_assert_cmpuint(ldq_be_p(&small[64 + 16]), ==, ZSTART(4));
    /* Only part of the header */
    memset(small, 0, sizeof(small));
    assert_good(t, report_zones(t, 0, 0, 10, small));
    g_assert_cmpuint(ldl_be_p(&small[0]), ==, 64 * NR_ZONES);
    /* A larger allocation length: only the header and the zones come */
    {
        g_autofree uint8_t *big = g_malloc(8192);

        assert_good(t, report_zones(t, 0, 0, 8192, big));
        g_assert_cmpuint(ldl_be_p(&big[0]), ==, 64 * NR_ZONES);
        g_assert_cmphex(big[len], ==, 0xa5);
    }

    /* Reserved reporting options, reserved bits, bad service action */
    assert_sense(t, report_zones(t, 0, 0x08, len, buf), ILLEGAL_REQUEST,
                 0x24, 0x00);
    assert_sense(t, report_zones(t, 0, 0x40, len, buf), ILLEGAL_REQUEST,
                 0x24, 0x00);
    {
        uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_IN, 0x06 };

        stl_be_p(&cdb[10], 128);
        assert_sense(t, zbc_cmd(t, cdb, NULL, 0, buf, 128), ILLEGAL_REQUEST,
                     0x24, 0x00);
    }
    /* Beyond the last LBA */
    assert_sense(t, report_zones(t, ZSTART(NR_ZONES), 0, len, buf),
                 ILLEGAL_REQUEST, 0x21, 0x00);
    assert_running();
    zbc_free(t);
}

static void zbc_mgmt(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint64_t wp;
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_OUT, ZO_OPEN_ZONE };

    /* Single zones: open, close, finish, reset */
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_EOPEN);
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2), false));
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_EMPTY);
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, ZSTART(2), false));
    assert_good(t, write_blocks(t, ZSTART(2), 16));
    g_assert_cmphex(zone_cond(t, 2, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(2) + 16);
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_CLOSED);
    assert_good(t, zone_op(t, ZO_FINISH_ZONE, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_FULL);
    assert_good(t, zone_op(t, ZO_FINISH_ZONE, ZSTART(2), false));
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_FULL);
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(2), false));
    g_assert_cmphex(zone_cond(t, 2, &wp), ==, ZC_EMPTY);
    g_assert_cmpuint(wp, ==, ZSTART(2));
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(2), false));

    /* ZONE COUNT: two zones at once */
    stq_be_p(&cdb[2], ZSTART(4));
    stw_be_p(&cdb[12], 2);
    cdb[1] = ZO_FINISH_ZONE;
    assert_good(t, zbc_cmd(t, cdb, NULL, 0, NULL, 0));
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_FULL);
    g_assert_cmphex(zone_cond(t, 5, NULL), ==, ZC_FULL);
    cdb[1] = ZO_RESET_WRITE_POINTER;
    assert_good(t, zbc_cmd(t, cdb, NULL, 0, NULL, 0));
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_EMPTY);
    g_assert_cmphex(zone_cond(t, 5, NULL), ==, ZC_EMPTY);
    /* More zones than the device has */
    stq_be_p(&cdb[2], ZSTART(NR_ZONES - 1));
    assert_sense(t, zbc_cmd(t, cdb, NULL, 0, NULL, 0), ILLEGAL_REQUEST,
                 0x24, 0x00);

    /* ALL: the zone ID is ignored, even a bad one */
    assert_good(t, write_blocks(t, ZSTART(2), 8));
    assert_good(t, write_blocks(t, ZSTART(3), 8));
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, 12345, true));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_CLOSED);
    g_assert_cmphex(zone_cond(t, 3, NULL), ==, ZC_CLOSED);
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(NR_ZONES) + 1, true));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_EOPEN);
    g_assert_cmphex(zone_cond(t, 3, NULL), ==, ZC_EOPEN);
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_EMPTY);
    assert_good(t, zone_op(t, ZO_FINISH_ZONE, 1, true));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_FULL);
    g_assert_cmphex(zone_cond(t, 3, NULL), ==, ZC_FULL);
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_EMPTY);
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, 0, true));
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_EMPTY);
    g_assert_cmphex(zone_cond(t, 3, NULL), ==, ZC_EMPTY);
    g_assert_cmphex(zone_cond(t, RO_ZONE, NULL), ==, ZC_RDONLY);
    g_assert_cmphex(zone_cond(t, OFFLINE_ZONE, NULL), ==, ZC_OFFLINE);

    /* Bad zone IDs */
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2) + 1, false),
                 ILLEGAL_REQUEST, 0x24, 0x00);
    assert_sense(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(0), false),
                 ILLEGAL_REQUEST, 0x24, 0x00);
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(NR_ZONES), false),
                 ILLEGAL_REQUEST, 0x21, 0x00);
    /* Read-only and offline zones */
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(RO_ZONE), false),
                 DATA_PROTECT, 0x27, 0x08);
    assert_sense(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(OFFLINE_ZONE),
                            false),
                 DATA_PROTECT, 0x2c, 0x0e);
    /* Reserved fields, unknown service action */
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2), 0x02),
                 ILLEGAL_REQUEST, 0x24, 0x00);
    assert_sense(t, zone_op(t, 0x05, ZSTART(2), false),
                 ILLEGAL_REQUEST, 0x24, 0x00);
    assert_sense(t, zone_op(t, 0x00, ZSTART(2), false),
                 ILLEGAL_REQUEST, 0x24, 0x00);

    /* The open limit: two explicitly open zones, no third */
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(2), false));
    assert_good(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(3), false));
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, ZSTART(4), false),
                 DATA_PROTECT, 0x55, 0x0e);
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_EMPTY);
    /* ... nor a write to a third zone */
    assert_sense(t, write_blocks(t, ZSTART(4), 8), DATA_PROTECT, 0x55, 0x0e);
    /* Closed zones 2 and 3 and one more: OPEN ALL is all or nothing */
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, 0, true));
    assert_good(t, write_blocks(t, ZSTART(2), 8));
    assert_good(t, write_blocks(t, ZSTART(3), 8));
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, 0, true));
    assert_good(t, write_blocks(t, ZSTART(5), 8));
    assert_good(t, zone_op(t, ZO_CLOSE_ZONE, 0, true));
    g_assert_cmphex(zone_cond(t, 5, NULL), ==, ZC_CLOSED);
    assert_sense(t, zone_op(t, ZO_OPEN_ZONE, 0, true), DATA_PROTECT,
                 0x55, 0x0e);
    g_assert_cmphex(zone_cond(t, 2, NULL), ==, ZC_CLOSED);
    /* ZBC has no active limit: a fourth zone with data */
    assert_good(t, write_blocks(t, ZSTART(6), 8));
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, 0, true));
    assert_running();
    zbc_free(t);
}

static void zbc_rw(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    g_autofree uint8_t *wbuf = g_malloc(32 * 512);
    g_autofree uint8_t *rbuf = g_malloc(32 * 512);
    uint64_t wp;
    int i;

    for (i = 0; i < 32 * 512; i++) {
        wbuf[i] = i * 7 + 3;
    }

    /* Conventional zones: anywhere, and across them */
    assert_good(t, rw16(t, true, 100, 4, wbuf));
    assert_good(t, rw16(t, true, ZSTART(1) - 2, 4, wbuf));
    assert_good(t, rw16(t, false, ZSTART(1) - 2, 4, rbuf));
    g_assert_cmpmem(wbuf, 4 * 512, rbuf, 4 * 512);
    /* ... but not into a sequential zone */
    assert_sense(t, rw16(t, true, ZSTART(2) - 2, 4, wbuf), ILLEGAL_REQUEST,
                 0x21, 0x05);

    /* At the write pointer, then read back */
    assert_good(t, rw16(t, true, ZSTART(2), 16, wbuf));
    assert_good(t, rw16(t, true, ZSTART(2) + 16, 16, wbuf + 16 * 512));
    assert_good(t, rw16(t, false, ZSTART(2), 32, rbuf));
    g_assert_cmpmem(wbuf, 32 * 512, rbuf, 32 * 512);
    g_assert_cmphex(zone_cond(t, 2, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(2) + 32);
    /* Off the write pointer */
    assert_sense(t, rw16(t, true, ZSTART(2) + 40, 4, wbuf), ILLEGAL_REQUEST,
                 0x21, 0x04);
    assert_sense(t, rw16(t, true, ZSTART(2), 4, wbuf), ILLEGAL_REQUEST,
                 0x21, 0x04);
    g_assert_cmpuint((zone_cond(t, 2, &wp), wp), ==, ZSTART(2) + 32);
    /* Across a zone boundary */
    assert_sense(t, rw16(t, true, ZSTART(4) - 2, 4, wbuf), ILLEGAL_REQUEST,
                 0x21, 0x05);
    /* To a full zone */
    assert_good(t, zone_op(t, ZO_FINISH_ZONE, ZSTART(3), false));
    assert_sense(t, rw16(t, true, ZSTART(3), 4, wbuf), ILLEGAL_REQUEST,
                 0x24, 0x00);
    /* Read-only and offline zones */
    assert_sense(t, rw16(t, true, ZSTART(RO_ZONE), 4, wbuf), DATA_PROTECT,
                 0x27, 0x08);
    assert_good(t, rw16(t, false, ZSTART(RO_ZONE), 4, rbuf));
    assert_sense(t, rw16(t, true, ZSTART(OFFLINE_ZONE), 4, wbuf),
                 DATA_PROTECT, 0x2c, 0x0e);
    assert_sense(t, rw16(t, false, ZSTART(OFFLINE_ZONE), 4, rbuf),
                 DATA_PROTECT, 0x2c, 0x0e);
    /* Reads across sequential zones, and from a conventional one into one */
    assert_sense(t, rw16(t, false, ZSTART(3) - 2, 4, rbuf), ILLEGAL_REQUEST,
                 0x21, 0x07);
    assert_sense(t, rw16(t, false, ZSTART(2) - 2, 4, rbuf), ILLEGAL_REQUEST,
                 0x21, 0x07);
    /*
     * Without unrestricted reads, no read may reach the write pointer of a
     * zone that has one (ATTEMPT TO READ INVALID DATA): not above it in an
     * open zone, nor across it, nor in an empty zone; a full zone (3) and a
     * read-only one (above) are read whole.
     */
    assert_good(t, rw16(t, false, ZSTART(2) + 28, 4, rbuf));
    assert_sense(t, rw16(t, false, ZSTART(2) + 30, 4, rbuf), ILLEGAL_REQUEST,
                 0x21, 0x06);
    assert_sense(t, rw16(t, false, ZSTART(3) - 4, 4, rbuf), ILLEGAL_REQUEST,
                 0x21, 0x06);
    g_assert_cmphex(zone_cond(t, 4, NULL), ==, ZC_EMPTY);
    assert_sense(t, rw16(t, false, ZSTART(4), 1, rbuf), ILLEGAL_REQUEST,
                 0x21, 0x06);
    assert_good(t, rw16(t, false, ZSTART(4) - 4, 4, rbuf));

    /* WRITE SAME is a write too */
    {
        uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { WRITE_SAME_16 };

        stq_be_p(&cdb[2], ZSTART(2) + 32);
        stl_be_p(&cdb[10], 8);
        assert_good(t, zbc_cmd(t, cdb, wbuf, 512, NULL, 0));
        stq_be_p(&cdb[2], ZSTART(2) + 64);
        assert_sense(t, zbc_cmd(t, cdb, wbuf, 512, NULL, 0), ILLEGAL_REQUEST,
                     0x21, 0x04);
        stq_be_p(&cdb[2], ZSTART(5) - 4);
        assert_sense(t, zbc_cmd(t, cdb, wbuf, 512, NULL, 0), ILLEGAL_REQUEST,
                     0x21, 0x05);
        g_assert_cmpuint((zone_cond(t, 2, &wp), wp), ==, ZSTART(2) + 40);
    }
    assert_running();
    zbc_free(t);
}

/*
 * The error policy reported the last command's error: a BLOCK_IO_ERROR
 * event with action "report".  The monitor sends at most one such event a
 * second (on the virtual clock under qtest) and holds back the others:
 * step the clock past that, then the event comes before the answer to a
 * QMP command sent after it.
 */
static void assert_io_error_reported(void)
{
    QDict *rsp;

    qtest_clock_step(global_qtest, NANOSECONDS_PER_SECOND);
    assert_running();
    rsp = qtest_qmp_event_ref(global_qtest, "BLOCK_IO_ERROR");
    g_assert_nonnull(rsp);
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "data"), "action"),
                    ==, "report");
    qobject_unref(rsp);
}

/*
 * Linux fails a write off the write pointer with -EIO, the errno of a write
 * the drive could not do.  Only a write that really misses the write pointer
 * (or goes to a full zone) gets the zone's sense data; a write at the write
 * pointer, or to a conventional zone, that the drive fails (blkdebug injects
 * -EIO once at the start of zones 2, 3 and 4, at block 100 and on a flush)
 * is an I/O error and goes through werror/rerror (report here), WRITE SAME
 * too, and so is a zone reset that the drive fails (-EIO once at the start
 * of zone 5).
 */
static void zbc_media_error(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t sync[VIRTIO_SCSI_CDB_SIZE] = { SYNCHRONIZE_CACHE };
    uint8_t same[VIRTIO_SCSI_CDB_SIZE] = { WRITE_SAME_16 };
    uint8_t block[512];
    QDict *rsp;
    uint64_t wp;
    int i;

    assert_sense(t, write_blocks(t, ZSTART(2), 4), ABORTED_COMMAND,
                 0x00, 0x06);
    rsp = qtest_qmp_eventwait_ref(global_qtest, "BLOCK_IO_ERROR");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "data"), "action"),
                    ==, "report");
    qobject_unref(rsp);
    g_assert_cmphex(zone_cond(t, 2, &wp), ==, ZC_EMPTY);
    assert_good(t, write_blocks(t, ZSTART(2), 4));
    g_assert_cmphex(zone_cond(t, 2, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(2) + 4);
    assert_sense(t, write_blocks(t, ZSTART(2) + 8, 4), ILLEGAL_REQUEST,
                 0x21, 0x04);

    /* WRITE SAME of a pattern in zone 3, of zeroes in zone 4 */
    for (i = 3; i <= 4; i++) {
        memset(block, i == 3 ? 0xa5 : 0, sizeof(block));
        stq_be_p(&same[2], ZSTART(i));
        stl_be_p(&same[10], 8);
        assert_sense(t, zbc_cmd(t, same, block, 512, NULL, 0),
                     ABORTED_COMMAND, 0x00, 0x06);
        assert_io_error_reported();
        g_assert_cmphex(zone_cond(t, i, &wp), ==, ZC_EMPTY);
        assert_good(t, zbc_cmd(t, same, block, 512, NULL, 0));
        g_assert_cmphex(zone_cond(t, i, &wp), ==, ZC_IOPEN);
        g_assert_cmpuint(wp, ==, ZSTART(i) + 8);
        stq_be_p(&same[2], ZSTART(i) + 16);
        assert_sense(t, zbc_cmd(t, same, block, 512, NULL, 0),
                     ILLEGAL_REQUEST, 0x21, 0x04);
    }

    assert_sense(t, write_blocks(t, 100, 4), ABORTED_COMMAND, 0x00, 0x06);
    assert_io_error_reported();
    assert_good(t, write_blocks(t, 100, 4));
    assert_sense(t, zbc_cmd(t, sync, NULL, 0, NULL, 0), ABORTED_COMMAND,
                 0x00, 0x06);
    assert_io_error_reported();
    assert_good(t, zbc_cmd(t, sync, NULL, 0, NULL, 0));

    /* A zone operation that the drive fails: no zone rule gives it -EIO */
    assert_good(t, write_blocks(t, ZSTART(5), 4));
    assert_sense(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(5), 0),
                 ABORTED_COMMAND, 0x00, 0x06);
    assert_io_error_reported();
    g_assert_cmphex(zone_cond(t, 5, &wp), ==, ZC_IOPEN);
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(5), 0));
    g_assert_cmphex(zone_cond(t, 5, &wp), ==, ZC_EMPTY);
    zbc_free(t);
}

/*
 * With werror=stop, a zone reset that the drive fails stops the VM, and
 * the command is sent again when it resumes.
 */
static void zbc_media_error_stop(void *obj, void *data,
                                 QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint64_t wp;

    assert_good(t, write_blocks(t, ZSTART(5), 4));
    t->stop_expected = true;
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, ZSTART(5), 0));
    g_assert_cmphex(zone_cond(t, 5, &wp), ==, ZC_EMPTY);
    g_assert_cmpuint(wp, ==, ZSTART(5));
    zbc_free(t);
}

/*
 * A FUA write whose flush fails (a zoned qcow2 image, which has no FUA of
 * its own, on blkdebug's -EIO for a flush after the data): the data is
 * written and the write pointer has moved past it, but the error is the
 * flush's, no zone error, and goes through werror (report here, stop below,
 * where the retry flushes only: writing the data again would miss the write
 * pointer).  The same for any write without a write cache (WCE=0), which
 * the block layer made FUA.
 */
/* The image of zbc_setup_fua() */
static char *zbc_qcow2_path;

/* The argument of zbc_setup_fua() and its tests */
typedef struct ZbcFuaArg {
    const char *werror;
    bool writethrough;      /* write-cache=off, and writes without FUA */
} ZbcFuaArg;

/* A cluster of the image: a write of it that needs no copy on write */
#define FUA_BLOCKS      128

static void zbc_fua_write(ZbcTest *t, const ZbcFuaArg *arg, uint64_t lba,
                          uint8_t *buf, uint8_t expect)
{
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { WRITE_16 };
    g_autofree uint8_t *rbuf = g_malloc(FUA_BLOCKS * 512);

    cdb[1] = arg->writethrough ? 0 : 0x08;                      /* FUA */
    stq_be_p(&cdb[2], lba);
    stl_be_p(&cdb[10], FUA_BLOCKS);
    memset(buf, 0x5a ^ (lba & 0xff), FUA_BLOCKS * 512);
    if (expect == GOOD) {
        assert_good(t, zbc_cmd(t, cdb, buf, FUA_BLOCKS * 512, NULL, 0));
    } else {
        assert_sense(t, zbc_cmd(t, cdb, buf, FUA_BLOCKS * 512, NULL, 0),
                     ABORTED_COMMAND, 0x00, 0x06);
    }
    assert_good(t, rw16(t, false, lba, FUA_BLOCKS, rbuf));
    g_assert_cmpmem(rbuf, FUA_BLOCKS * 512, buf, FUA_BLOCKS * 512);
}

/*
 * The drive of zbc_setup_fua(), with a plain write done first: blkdebug
 * fails the flush after the next one.  NULL when the test skips.
 */
static ZbcTest *zbc_fua_init(QVirtioSCSI *scsi, QGuestAllocator *alloc,
                             uint8_t *buf)
{
    ZbcTest *t = zbc_init(scsi, alloc);

    if (!zbc_qcow2_path) {
        g_test_skip("no qemu-img to make a zoned qcow2 image");
        zbc_free(t);
        return NULL;
    }
    assert_good(t, rw16(t, true, ZSTART(7), FUA_BLOCKS, buf));
    return t;
}

static void zbc_fua_flush_error(void *obj, void *data, QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = g_malloc0(FUA_BLOCKS * 512);
    ZbcTest *t = zbc_fua_init(obj, alloc, buf);
    uint64_t wp;

    if (!t) {
        return;
    }
    zbc_fua_write(t, data, ZSTART(6), buf, CHECK_CONDITION);
    assert_io_error_reported();
    g_assert_cmphex(zone_cond(t, 6, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(6) + FUA_BLOCKS);
    zbc_fua_write(t, data, ZSTART(6) + FUA_BLOCKS, buf, GOOD);
    g_assert_cmphex(zone_cond(t, 6, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(6) + 2 * FUA_BLOCKS);
    zbc_free(t);
}

static void zbc_fua_flush_error_stop(void *obj, void *data,
                                     QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = g_malloc0(FUA_BLOCKS * 512);
    ZbcTest *t = zbc_fua_init(obj, alloc, buf);
    uint64_t wp;

    if (!t) {
        return;
    }
    t->stop_expected = true;
    zbc_fua_write(t, data, ZSTART(6), buf, GOOD);
    g_assert_cmphex(zone_cond(t, 6, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(6) + FUA_BLOCKS);
    zbc_free(t);
}

static void zbc_urswrz(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t buf[64];
    g_autofree uint8_t *rbuf = g_malloc(8 * 512);

    assert_good(t, inquiry(t, true, 0xb6, buf, 64));
    g_assert_cmphex(buf[4] & 1, ==, 1);
    assert_good(t, rw16(t, false, ZSTART(3) - 4, 8, rbuf));
    zbc_free(t);
}

static void zbc_host_aware(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t buf[64 * 9];
    g_autofree uint8_t *wbuf = g_malloc(16 * 512);
    g_autofree uint8_t *rbuf = g_malloc(16 * 512);
    int i;
    bool b6 = false;

    assert_good(t, inquiry(t, false, 0, buf, 36));
    g_assert_cmphex(buf[0] & 0x1f, ==, TYPE_DISK);
    assert_good(t, inquiry(t, true, 0x00, buf, 64));
    for (i = 0; i < buf[3]; i++) {
        b6 |= buf[4 + i] == 0xb6;
    }
    g_assert_true(b6);
    assert_good(t, inquiry(t, true, 0xb1, buf, 64));
    g_assert_cmphex(buf[8] & 0x30, ==, 0x10);   /* ZONED: host-aware */
    assert_good(t, inquiry(t, true, 0xb6, buf, 64));
    g_assert_cmphex(buf[4] & 1, ==, 1);

    assert_good(t, report_zones(t, 0, 0, sizeof(buf), buf));
    g_assert_cmpuint(ldl_be_p(&buf[0]), ==, 64 * 8);
    g_assert_cmphex(buf[64] & 0xf, ==, 3);      /* sequential preferred */

    /* A plain disk for old guests: random writes, across zones */
    for (i = 0; i < 16 * 512; i++) {
        wbuf[i] = i ^ 0x5a;
    }
    assert_good(t, rw16(t, true, ZSTART(1) - 8, 16, wbuf));
    assert_good(t, rw16(t, true, 100, 4, wbuf));
    assert_good(t, rw16(t, false, ZSTART(1) - 8, 16, rbuf));
    g_assert_cmpmem(wbuf, 16 * 512, rbuf, 16 * 512);
    assert_good(t, zone_op(t, ZO_RESET_WRITE_POINTER, 0, true));
    assert_running();
    zbc_free(t);
}

/*
 * A read-only drive is write protected (the WP bit of MODE SENSE): writes,
 * WRITE SAME and every zone action of ZBC OUT get DATA PROTECT, WRITE
 * PROTECTED, none stops the VM (werror=stop) and no zone changes.
 */
static void zbc_read_only(void *obj, void *data, QGuestAllocator *alloc)
{
    static const uint8_t actions[] = {
        ZO_OPEN_ZONE, ZO_CLOSE_ZONE, ZO_FINISH_ZONE, ZO_RESET_WRITE_POINTER,
    };
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t sense6[VIRTIO_SCSI_CDB_SIZE] = { MODE_SENSE, 0, 0x3f, 0, 64 };
    uint8_t same[VIRTIO_SCSI_CDB_SIZE] = { WRITE_SAME_16 };
    g_autofree uint8_t *buf = g_malloc0(8 * 512);
    int i;

    assert_good(t, zbc_cmd(t, sense6, NULL, 0, buf, 64));
    g_assert_cmphex(buf[2] & 0x80, ==, 0x80);

    assert_good(t, rw16(t, false, ZSTART(2), 8, buf));
    assert_sense(t, rw16(t, true, ZSTART(2), 8, buf), DATA_PROTECT,
                 0x27, 0x00);
    stq_be_p(&same[2], ZSTART(2));
    stl_be_p(&same[10], 8);
    assert_sense(t, zbc_cmd(t, same, buf, 512, NULL, 0), DATA_PROTECT,
                 0x27, 0x00);
    for (i = 0; i < ARRAY_SIZE(actions); i++) {
        assert_sense(t, zone_op(t, actions[i], ZSTART(2), false),
                     DATA_PROTECT, 0x27, 0x00);
        assert_sense(t, zone_op(t, actions[i], 0, true), DATA_PROTECT,
                     0x27, 0x00);
    }
    for (i = NR_CONV; i < RO_ZONE; i++) {
        g_assert_cmphex(zone_cond(t, i, NULL), ==, ZC_EMPTY);
    }
    assert_running();
    zbc_free(t);
}

/* Add a host-managed drive of 8 zones and scsi-hd on it; the QMP answer */
/* zbc_report_chunks(): a drive of 1 Mi zones, 64 MiB of REPORT ZONES */
#define BIG_NR_ZONES    (1u << 20)
#define BIG_SLACK_KB    (16 * 1024)

/*
 * Check descriptor @k (1 for the first, after the header) of the REPORT
 * ZONES data in guest memory at @addr: zone @z, in condition @cond
 */
static void assert_desc(uint64_t addr, uint32_t k, uint32_t z, uint8_t cond)
{
    uint8_t d[64];

    memread(addr + 64ULL * k, d, sizeof(d));
    g_assert_cmpuint(ldq_be_p(&d[16]), ==, ZSTART(z));
    g_assert_cmphex(d[1] >> 4, ==, cond);
}

/*
 * REPORT ZONES data larger than scsi-hd builds at once (64 KiB): the header
 * counts what the whole data holds, the descriptors follow each other
 * across the chunks, and QEMU's peak resident size grows by less than
 * BIG_SLACK_KB for 64 MiB of data (the second time: the first brought the
 * guest's buffer in).
 */
static void zbc_report_chunks(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    const uint32_t len = 64 * (BIG_NR_ZONES + 1);
    uint8_t cdb[VIRTIO_SCSI_CDB_SIZE] = { ZBC_IN, ZI_REPORT_ZONES };
    uint64_t addr = guest_alloc(t->alloc, len);
    long base = 0, peak;
    uint8_t hdr[64];
    int i;

    /* Zones 1000 and 5000 implicitly open */
    assert_good(t, write_blocks(t, ZSTART(1000), 8));
    assert_good(t, write_blocks(t, ZSTART(5000), 8));

    stl_be_p(&cdb[10], len);
    for (i = 0; i < 2; i++) {
        if (i == 1) {
            if (!qtest_reset_peak_rss(global_qtest)) {
                g_test_skip("cannot reset the peak resident size");
                goto out;
            }
            base = qtest_peak_rss_kb(global_qtest);
        }
        assert_good(t, zbc_cmd_at(t, cdb, NULL, 0, addr, len));
        memread(addr, hdr, sizeof(hdr));
        g_assert_cmpuint(ldl_be_p(&hdr[0]), ==, 64ULL * BIG_NR_ZONES);
        /* The first chunk holds the header and 1023 descriptors */
        assert_desc(addr, 1, 0, ZC_EMPTY);
        assert_desc(addr, 1023, 1022, ZC_EMPTY);
        assert_desc(addr, 1024, 1023, ZC_EMPTY);
        assert_desc(addr, 1001, 1000, ZC_IOPEN);
        assert_desc(addr, 5001, 5000, ZC_IOPEN);
        assert_desc(addr, BIG_NR_ZONES, BIG_NR_ZONES - 1, ZC_EMPTY);
    }
    peak = qtest_peak_rss_kb(global_qtest);
    g_test_message("peak resident size grew by %ld kB", peak - base);
    g_assert_cmpint(peak - base, <, BIG_SLACK_KB);

    /* EMPTY zones only: zones 1000 and 5000 are left out */
    qtest_memset(global_qtest, addr, 0xa5, len);
    cdb[14] = 0x01;
    assert_good(t, zbc_cmd_at(t, cdb, NULL, 0, addr, len));
    memread(addr, hdr, sizeof(hdr));
    g_assert_cmpuint(ldl_be_p(&hdr[0]), ==, 64ULL * (BIG_NR_ZONES - 2));
    assert_desc(addr, 1000, 999, ZC_EMPTY);
    assert_desc(addr, 1001, 1001, ZC_EMPTY);
    assert_desc(addr, 4999, 4999, ZC_EMPTY);
    assert_desc(addr, 5000, 5001, ZC_EMPTY);
    assert_desc(addr, BIG_NR_ZONES - 2, BIG_NR_ZONES - 1, ZC_EMPTY);
    memread(addr + 64ULL * (BIG_NR_ZONES - 1), hdr, sizeof(hdr));
    g_assert_cmphex(hdr[0], ==, 0xa5);      /* nothing beyond them */

    /* PARTIAL, from zone 3, with room for 100000 descriptors */
    cdb[14] = 0x80;
    stq_be_p(&cdb[2], ZSTART(3));
    stl_be_p(&cdb[10], 64 * 100001);
    assert_good(t, zbc_cmd_at(t, cdb, NULL, 0, addr, 64 * 100001));
    memread(addr, hdr, sizeof(hdr));
    g_assert_cmpuint(ldl_be_p(&hdr[0]), ==, 64 * 100000);
    assert_desc(addr, 1, 3, ZC_EMPTY);
    assert_desc(addr, 100000, 100002, ZC_EMPTY);
    assert_running();

out:
    guest_free(t->alloc, addr);
    zbc_free(t);
}

static QDict *add_hm_disk(const char *node, int scsi_id,
                          uint32_t max_active_zones,
                          uint32_t physical_block_size)
{
    QDict *rsp;

    rsp = qmp("{'execute': 'blockdev-add', 'arguments': {"
              " 'driver': 'null-co', 'node-name': %s, 'size': 8388608,"
              " 'zoned': 'host-managed', 'zone-size': 1048576,"
              " 'max-active-zones': %u } }", node, max_active_zones);
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);

    return qmp("{'execute': 'device_add', 'arguments': {"
               " 'driver': 'scsi-hd', 'drive': %s, 'scsi-id': %d,"
               " 'physical_block_size': %u } }",
               node, scsi_id, physical_block_size);
}

/* add_hm_disk() fails, with @msg in its error */
static void add_hm_disk_refused(const char *node, int scsi_id,
                                uint32_t max_active_zones,
                                uint32_t physical_block_size, const char *msg)
{
    QDict *rsp = add_hm_disk(node, scsi_id, max_active_zones,
                             physical_block_size);

    g_assert(qdict_haskey(rsp, "error"));
    g_assert_nonnull(strstr(qdict_get_str(qdict_get_qdict(rsp, "error"),
                                          "desc"), msg));
    qobject_unref(rsp);
}

/*
 * ZBC has no active zone limit, and closed zones keep their active
 * resources: scsi-hd refuses a host-managed drive that has fewer active
 * zones than sequential ones, and takes one with as many.
 */
static void zbc_active_limit(void *obj, void *data, QGuestAllocator *alloc)
{
    QDict *rsp;

    add_hm_disk_refused("z1", 2, 7, 512, "drive 'z1' limits active zones "
                        "(max-active-zones=7), which ZBC cannot present");
    rsp = add_hm_disk("z2", 3, 8, 512);
    g_assert(qdict_haskey(rsp, "return"));
    qobject_unref(rsp);
    assert_running();
}

/*
 * MODE SELECT with a block descriptor may change the logical block size of
 * a regular disk; a zoned one has its zones, write pointers and last LBA
 * in blocks of the size it was set up with, and refuses (INVALID FIELD IN
 * PARAMETER LIST).  With 4 KiB blocks taken, LBAs counted in the old size
 * passed the LBA check and read the zone bitmap out of its bounds.
 */
static void zbc_block_size(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    const uint8_t ms[VIRTIO_SCSI_CDB_SIZE] = { MODE_SELECT, 0x10, 0, 0, 12 };
    /* Header, then a block descriptor for 4096-byte blocks */
    const uint8_t param[12] = { 0, 0, 0, 8, 0, 0, 0, 0, 0, 0x00, 0x10, 0x00 };
    uint8_t rc16[VIRTIO_SCSI_CDB_SIZE] = {
        SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16,
    };
    uint8_t cap[32];

    assert_sense(t, zbc_cmd(t, ms, param, sizeof(param), NULL, 0),
                 ILLEGAL_REQUEST, 0x26, 0x00);
    stl_be_p(&rc16[10], sizeof(cap));
    assert_good(t, zbc_cmd(t, rc16, NULL, 0, cap, sizeof(cap)));
    g_assert_cmpuint(ldl_be_p(&cap[8]), ==, 512);
    g_assert_cmpuint(ldq_be_p(&cap[0]), ==,
                     (uint64_t)NR_ZONES * ZONE_BLOCKS - 1);
    /* Across the last two zones: a boundary, in 512-byte blocks */
    assert_sense(t, write_blocks(t, ZSTART(NR_ZONES - 2) - 1, 2),
                 ILLEGAL_REQUEST, 0x21, 0x05);
    assert_running();
    zbc_free(t);
}

/*
 * ZBC-3 4.5.3.3.2: with 4 KiB physical blocks of 512-byte logical blocks
 * (LOGICAL BLOCKS PER PHYSICAL BLOCK EXPONENT 3), a write to a sequential
 * write required zone that does not start and end on a physical block
 * boundary is UNALIGNED WRITE COMMAND and changes nothing, even at the
 * write pointer; conventional zones take any logical block.
 */
static void zbc_physical_block(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    uint8_t rc16[VIRTIO_SCSI_CDB_SIZE] = {
        SERVICE_ACTION_IN_16, SAI_READ_CAPACITY_16,
    };
    uint8_t cap[32];
    uint64_t wp;

    stl_be_p(&rc16[10], sizeof(cap));
    assert_good(t, zbc_cmd(t, rc16, NULL, 0, cap, sizeof(cap)));
    g_assert_cmpuint(ldl_be_p(&cap[8]), ==, 512);
    g_assert_cmpuint(cap[13] & 0xf, ==, 3);

    assert_sense(t, write_blocks(t, ZSTART(NR_CONV), 1),
                 ILLEGAL_REQUEST, 0x21, 0x04);
    assert_sense(t, write_blocks(t, ZSTART(NR_CONV), 9),
                 ILLEGAL_REQUEST, 0x21, 0x04);
    assert_sense(t, write_blocks(t, ZSTART(NR_CONV) + 1, 8),
                 ILLEGAL_REQUEST, 0x21, 0x04);
    g_assert_cmpuint(zone_cond(t, NR_CONV, &wp), ==, ZC_EMPTY);
    g_assert_cmpuint(wp, ==, ZSTART(NR_CONV));

    assert_good(t, write_blocks(t, ZSTART(NR_CONV), 8));
    assert_sense(t, write_blocks(t, ZSTART(NR_CONV) + 8, 2),
                 ILLEGAL_REQUEST, 0x21, 0x04);
    assert_good(t, write_blocks(t, ZSTART(NR_CONV) + 8, 16));
    g_assert_cmpuint(zone_cond(t, NR_CONV, &wp), ==, ZC_IOPEN);
    g_assert_cmpuint(wp, ==, ZSTART(NR_CONV) + 24);

    /* Conventional */
    assert_good(t, write_blocks(t, 1, 1));
    assert_good(t, write_blocks(t, 3, 2));
    assert_running();
    zbc_free(t);
}

/*
 * A zone that is not whole physical blocks could not be written to its end
 * by writes of whole physical blocks: refused at realize.
 */
static void zbc_physical_block_zone(void *obj, void *data,
                                    QGuestAllocator *alloc)
{
    add_hm_disk_refused("z1", 2, 0, 2097152, "drive 'z1': zone size "
                        "(1048576) is not a multiple of physical_block_size "
                        "(2097152)");
    assert_running();
}

/*
 * Wait for the element of @head in the used ring of @vq, without the
 * interrupt: the control queue's may not be taken by the time it is used.
 */
static void wait_used(QVirtQueue *vq, uint32_t head)
{
    gint64 start_time = g_get_monotonic_time();
    uint32_t got;

    while (!qvirtqueue_get_buf(global_qtest, vq, &got, NULL)) {
        g_assert(g_get_monotonic_time() - start_time <= TIMEOUT_US);
    }
    g_assert_cmpuint(got, ==, head);
}

/* zbc_abort_report()'s drive takes this long for each zone report */
#define ABORT_LATENCY_NS    100000000

/*
 * ABORT TASK of a REPORT ZONES whose zone report is in flight: the abort
 * completes when the command is done with, and no data of it reaches the
 * guest after that.  The abort completed at once, and the report, when the
 * drive answered, was copied through the scatter/gather list of a request
 * the HBA had freed (into the aborted command's buffer, or the next one's).
 */
static void zbc_abort_report(void *obj, void *data, QGuestAllocator *alloc)
{
    ZbcTest *t = zbc_init(obj, alloc);
    QTestState *qts = global_qtest;
    struct virtio_scsi_cmd_req req = { { 0 } };
    struct virtio_scsi_cmd_resp resp = { .response = 0xff, .status = 0xff };
    struct virtio_scsi_ctrl_tmf_req tmf = {
        .type = cpu_to_le32(VIRTIO_SCSI_T_TMF),
        .subtype = cpu_to_le32(VIRTIO_SCSI_T_TMF_ABORT_TASK),
        .tag = cpu_to_le64(7),
    };
    struct virtio_scsi_ctrl_tmf_resp tmf_resp = { .response = 0xff };
    uint64_t req_addr, resp_addr, in_addr, tmf_addr, tmf_resp_addr;
    uint8_t in[4096], expect[4096];
    uint32_t head, tmf_head;

    req.lun[0] = 1;
    req.lun[1] = 1;
    req.tag = cpu_to_le64(7);
    req.cdb[0] = ZBC_IN;
    req.cdb[1] = ZI_REPORT_ZONES;
    stl_be_p(&req.cdb[10], sizeof(in));
    req_addr = guest_alloc(t->alloc, sizeof(req));
    memwrite(req_addr, &req, sizeof(req));
    resp_addr = guest_alloc(t->alloc, sizeof(resp));
    memwrite(resp_addr, &resp, sizeof(resp));
    in_addr = guest_alloc(t->alloc, sizeof(in));
    qtest_memset(qts, in_addr, 0xa5, sizeof(in));
    head = qvirtqueue_add(qts, t->vq[2], req_addr, sizeof(req), false, true);
    qvirtqueue_add(qts, t->vq[2], resp_addr, sizeof(resp), true, true);
    qvirtqueue_add(qts, t->vq[2], in_addr, sizeof(in), true, false);
    qvirtqueue_kick(qts, t->dev, t->vq[2], head);
    /* The report's second pass (its descriptors) is waiting for the drive */
    g_usleep(ABORT_LATENCY_NS / 1000 * 3 / 2);

    memcpy(tmf.lun, req.lun, sizeof(tmf.lun));
    tmf_addr = guest_alloc(t->alloc, sizeof(tmf));
    memwrite(tmf_addr, &tmf, sizeof(tmf));
    tmf_resp_addr = guest_alloc(t->alloc, sizeof(tmf_resp));
    memwrite(tmf_resp_addr, &tmf_resp, sizeof(tmf_resp));
    tmf_head = qvirtqueue_add(qts, t->vq[0], tmf_addr, sizeof(tmf), false,
                              true);
    qvirtqueue_add(qts, t->vq[0], tmf_resp_addr, sizeof(tmf_resp), true,
                   false);
    qvirtqueue_kick(qts, t->dev, t->vq[0], tmf_head);
    wait_used(t->vq[0], tmf_head);
    memread(tmf_resp_addr, &tmf_resp, sizeof(tmf_resp));
    /* FUNCTION COMPLETE */
    g_assert_cmpuint(tmf_resp.response, ==, VIRTIO_SCSI_S_OK);
    wait_used(t->vq[2], head);
    memread(resp_addr, &resp, sizeof(resp));
    g_assert_cmpuint(resp.response, ==, VIRTIO_SCSI_S_ABORTED);

    /*
     * A READ while the drive would still answer the report: the HBA may
     * give it what the aborted command had (the freed request), and it
     * must read the data, zeroes, not the report
     */
    assert_good(t, rw16(t, false, 0, 8, in));
    memset(expect, 0, sizeof(expect));
    g_assert_cmpmem(in, sizeof(in), expect, sizeof(expect));
    /* Nothing came to the aborted command's buffer after the abort */
    g_usleep(ABORT_LATENCY_NS / 1000 * 2);
    memset(expect, 0xa5, sizeof(expect));
    memread(in_addr, in, sizeof(in));
    g_assert_cmpmem(in, sizeof(in), expect, sizeof(expect));

    /* The drive still answers */
    g_assert_cmpuint(zone_cond(t, NR_CONV, NULL), ==, ZC_EMPTY);
    guest_free(t->alloc, req_addr);
    guest_free(t->alloc, resp_addr);
    guest_free(t->alloc, in_addr);
    guest_free(t->alloc, tmf_addr);
    guest_free(t->alloc, tmf_resp_addr);
    zbc_free(t);
}

/* The drive of the test cases; HM_DRIVE_OPTS adds options to the node */
#define HM_DRIVE_OPTS(opts) \
    " -blockdev driver=null-co,node-name=z0,size=%d,zoned=host-managed," \
    "zone-size=1048576,zone-nr-conv=%d,max-open-zones=%d," \
    "read-only-zones.0=%d,offline-zones.0=%d," \
    "memory-backed=on,read-zeroes=on" opts \
    " -device scsi-hd,drive=z0,scsi-id=1,lun=0,werror=stop,rerror=stop"
#define HM_DRIVE HM_DRIVE_OPTS("")

static void zbc_invalidate_qemu(void *unused)
{
    /*
     * The zone states live in QEMU: every test case starts a new one, also
     * when qos-test runs them all with the same command line.
     */
    qos_invalidate_command_line();
}

static void *zbc_setup(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line, HM_DRIVE, NR_ZONES << 20, NR_CONV,
                           MAX_OPEN, RO_ZONE, OFFLINE_ZONE);
    g_string_append(cmd_line, ",zoned-unrestricted-reads=off");
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

static void *zbc_setup_pb(GString *cmd_line, void *arg)
{
    zbc_setup(cmd_line, arg);
    g_string_append(cmd_line, ",physical_block_size=4096");
    return arg;
}

static void *zbc_setup_slow(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line,
                           HM_DRIVE_OPTS(",latency-ns="
                                         stringify(ABORT_LATENCY_NS)),
                           NR_ZONES << 20, NR_CONV, MAX_OPEN, RO_ZONE,
                           OFFLINE_ZONE);
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

static void *zbc_setup_urswrz(GString *cmd_line, void *arg)
{
    /* Unrestricted reads are the default */
    g_string_append_printf(cmd_line, HM_DRIVE, NR_ZONES << 20, NR_CONV,
                           MAX_OPEN, RO_ZONE, OFFLINE_ZONE);
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

static void *zbc_setup_read_only(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line, HM_DRIVE_OPTS(",read-only=on"),
                           NR_ZONES << 20, NR_CONV, MAX_OPEN, RO_ZONE,
                           OFFLINE_ZONE);
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

static void *zbc_setup_ha(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line,
                    " -blockdev driver=null-co,node-name=z0,size=8388608,"
                    "zoned=host-aware,zone-size=1048576,memory-backed=on,"
                    "read-zeroes=on"
                    " -device scsi-hd,drive=z0,scsi-id=1,lun=0,"
                    "werror=stop,rerror=stop");
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

/* zbc_report_chunks()'s drive, and guest memory for its report */
static void *zbc_setup_big(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line,
                           " -m 256"
                           " -blockdev driver=null-co,node-name=z0,"
                           "size=%llu,zoned=host-managed,zone-size=1048576"
                           " -device scsi-hd,drive=z0,scsi-id=1,lun=0,"
                           "werror=stop,rerror=stop",
                           (unsigned long long)BIG_NR_ZONES << 20);
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

/* HM_DRIVE under blkdebug, with werror=report, or @arg */
static void *zbc_setup_media_error(GString *cmd_line, void *arg)
{
    const char *werror = arg ? arg : "report";

    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=zz,size=%d,"
                           "zoned=host-managed,zone-size=1048576,"
                           "zone-nr-conv=%d,memory-backed=on,read-zeroes=on"
                           " -blockdev driver=blkdebug,node-name=z0,image=zz,"
                           "inject-error.0.event=none,"
                           "inject-error.0.iotype=write,"
                           "inject-error.0.errno=%d,"
                           "inject-error.0.sector=%" PRIu64 ","
                           "inject-error.0.once=on,"
                           "inject-error.1.event=none,"
                           "inject-error.1.iotype=write,"
                           "inject-error.1.errno=%d,"
                           "inject-error.1.sector=100,"
                           "inject-error.1.once=on,"
                           "inject-error.2.event=none,"
                           "inject-error.2.iotype=flush,"
                           "inject-error.2.errno=%d,"
                           "inject-error.2.once=on,"
                           "inject-error.3.event=none,"
                           "inject-error.3.iotype=write,"
                           "inject-error.3.errno=%d,"
                           "inject-error.3.sector=%" PRIu64 ","
                           "inject-error.3.once=on,"
                           "inject-error.4.event=none,"
                           "inject-error.4.iotype=write-zeroes,"
                           "inject-error.4.errno=%d,"
                           "inject-error.4.sector=%" PRIu64 ","
                           "inject-error.4.once=on,"
                           "inject-error.5.event=none,"
                           "inject-error.5.iotype=zone-mgmt,"
                           "inject-error.5.errno=%d,"
                           "inject-error.5.sector=%" PRIu64 ","
                           "inject-error.5.once=on"
                           " -device scsi-hd,drive=z0,scsi-id=1,lun=0,"
                           "werror=%s,rerror=%s",
                           NR_ZONES << 20, NR_CONV, EIO, ZSTART(2), EIO, EIO,
                           EIO, ZSTART(3), EIO, ZSTART(4), EIO, ZSTART(5),
                           werror, werror);
    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    return arg;
}

static void zbc_remove_qcow2(void *unused)
{
    unlink(zbc_qcow2_path);
    g_free(zbc_qcow2_path);
    zbc_qcow2_path = NULL;
}

/*
 * zbc_fua_flush_error()'s drive: HM_DRIVE's zones in a zoned qcow2 image on
 * blkdebug, which fails the first flush after qcow2 wrote guest data twice
 * (zbc_fua_init() writes once; the flushes before that succeed); @arg is a
 * ZbcFuaArg.  Without qemu-img, HM_DRIVE (the test skips).
 */
static void *zbc_setup_fua(GString *cmd_line, void *arg)
{
    static const int after[] = { 2 };
    const ZbcFuaArg *fua = arg;
    g_autofree char *blkdebug = NULL;

    g_test_queue_destroy(zbc_invalidate_qemu, NULL);
    zbc_qcow2_path = zoned_qcow2_create(NR_ZONES << 20, 1 << 20, NR_CONV);
    if (!zbc_qcow2_path) {
        g_string_append_printf(cmd_line, HM_DRIVE, NR_ZONES << 20, NR_CONV,
                               MAX_OPEN, RO_ZONE, OFFLINE_ZONE);
        return arg;
    }
    blkdebug = zoned_qcow2_flush_errors("d0", "f0", after, ARRAY_SIZE(after));
    g_string_append_printf(cmd_line,
                           " -blockdev driver=file,node-name=f0,filename=%s"
                           "%s -blockdev driver=qcow2,node-name=z0,file=d0"
                           " -device scsi-hd,drive=z0,scsi-id=1,lun=0,"
                           "werror=%s,rerror=%s%s",
                           zbc_qcow2_path, blkdebug, fua->werror, fua->werror,
                           fua->writethrough ? ",write-cache=off" : "");
    g_test_queue_destroy(zbc_remove_qcow2, NULL);
    return arg;
}

static ZbcFuaArg zbc_fua_report = { "report", false };
static ZbcFuaArg zbc_fua_stop = { "stop", false };
static ZbcFuaArg zbc_writethrough_report = { "report", true };
static ZbcFuaArg zbc_writethrough_stop = { "stop", true };

static void register_scsi_zbc_test(void)
{
    QOSGraphTestOptions opts = { .before = zbc_setup };

    qos_add_test("zbc-identify", "virtio-scsi", zbc_identify, &opts);
    qos_add_test("zbc-report", "virtio-scsi", zbc_report, &opts);
    qos_add_test("zbc-mgmt", "virtio-scsi", zbc_mgmt, &opts);
    qos_add_test("zbc-rw", "virtio-scsi", zbc_rw, &opts);
    qos_add_test("zbc-active-limit", "virtio-scsi", zbc_active_limit, &opts);
    qos_add_test("zbc-block-size", "virtio-scsi", zbc_block_size, &opts);
    qos_add_test("zbc-physical-block-zone", "virtio-scsi",
                 zbc_physical_block_zone, &opts);
    opts.before = zbc_setup_pb;
    qos_add_test("zbc-physical-block", "virtio-scsi", zbc_physical_block,
                 &opts);
    opts.before = zbc_setup_slow;
    qos_add_test("zbc-abort-report", "virtio-scsi", zbc_abort_report, &opts);
    opts.before = zbc_setup_media_error;
    qos_add_test("zbc-media-error", "virtio-scsi", zbc_media_error, &opts);
    opts.arg = (void *)"stop";
    qos_add_test("zbc-media-error-stop", "virtio-scsi", zbc_media_error_stop,
                 &opts);
    opts.before = zbc_setup_fua;
    opts.arg = &zbc_fua_stop;
    qos_add_test("zbc-fua-flush-error-stop", "virtio-scsi",
                 zbc_fua_flush_error_stop, &opts);
    opts.arg = &zbc_fua_report;
    qos_add_test("zbc-fua-flush-error", "virtio-scsi", zbc_fua_flush_error,
                 &opts);
    opts.arg = &zbc_writethrough_stop;
    qos_add_test("zbc-writethrough-flush-error-stop", "virtio-scsi",
                 zbc_fua_flush_error_stop, &opts);
    opts.arg = &zbc_writethrough_report;
    qos_add_test("zbc-writethrough-flush-error", "virtio-scsi",
                 zbc_fua_flush_error, &opts);
    opts.arg = NULL;
    opts.before = zbc_setup_urswrz;
    qos_add_test("zbc-unrestricted-reads", "virtio-scsi", zbc_urswrz, &opts);
    opts.before = zbc_setup_read_only;
    qos_add_test("zbc-read-only", "virtio-scsi", zbc_read_only, &opts);
    opts.before = zbc_setup_ha;
    qos_add_test("zbc-host-aware", "virtio-scsi", zbc_host_aware, &opts);
    opts.before = zbc_setup_big;
    qos_add_test("zbc-report-chunks", "virtio-scsi", zbc_report_chunks,
                 &opts);
}

libqos_init(register_scsi_zbc_test);
