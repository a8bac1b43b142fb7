/*
 * QTest testcase for the zoned commands of the virtio-blk device
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * The device is backed by null-co's zoned emulation: a 1 GiB host-managed
 * device of 16 zones of 64 MiB, zone 0 conventional, zones 1 to 13
 * sequential write required, zone 14 read-only and zone 15 offline, at most
 * 2 open and 3 active zones, zone appends of at most 128 KiB, and the data
 * kept in memory.  Every test case starts a new QEMU, so it begins with all
 * sequential zones empty.
 */

#include "qemu/osdep.h"
#include "libqtest-single.h"
#include "qemu/bswap.h"
#include "qemu/module.h"
#include "qobject/qdict.h"
#include "standard-headers/linux/virtio_blk.h"
#include "libqos/qgraph.h"
#include "libqos/virtio-blk.h"
#include "zoned-qcow2.h"

#define ZT_TIMEOUT_US           (30 * 1000 * 1000)

#define ZT_SECTOR               512
#define ZT_CAPACITY             (1ULL << 30)
#define ZT_ZONE_BYTES           (64ULL << 20)
#define ZT_ZONE_SECTORS         (ZT_ZONE_BYTES / ZT_SECTOR)
#define ZT_NR_ZONES             16
#define ZT_NR_CONV              1
#define ZT_MAX_OPEN             2
#define ZT_MAX_ACTIVE           3
#define ZT_MAX_APPEND_BYTES     (128 * 1024)
#define ZT_RDONLY_ZONE          14
#define ZT_OFFLINE_ZONE         15

/* The first sector of zone @z. */
#define ZSTART(z)               ((uint64_t)(z) * ZT_ZONE_SECTORS)

/* Size of the request header: type, ioprio (reserved) and sector. */
#define ZT_OUTHDR_SIZE          16

typedef struct ZonedTest {
    QTestState *qts;
    QVirtioDevice *dev;
    QGuestAllocator *alloc;
    QVirtQueue *vq;
} ZonedTest;

/* A zone descriptor of a report, in host byte order. */
typedef struct ZoneInfo {
    uint64_t cap;
    uint64_t start;
    uint64_t wp;
    uint8_t type;
    uint8_t state;
} ZoneInfo;

static uint32_t zt_dev32(ZonedTest *t, uint32_t v)
{
    return qvirtio_is_big_endian(t->dev) ? cpu_to_be32(v) : cpu_to_le32(v);
}

static uint64_t zt_dev64(ZonedTest *t, uint64_t v)
{
    return qvirtio_is_big_endian(t->dev) ? cpu_to_be64(v) : cpu_to_le64(v);
}

static uint64_t zt_host64(ZonedTest *t, uint64_t v)
{
    return qvirtio_is_big_endian(t->dev) ? be64_to_cpu(v) : le64_to_cpu(v);
}

/*
 * Negotiate the features, with VIRTIO_BLK_F_ZONED, and set up the request
 * queue.
 */
static void zt_init(ZonedTest *t, void *obj, QGuestAllocator *alloc)
{
    QVirtioBlk *blk = obj;
    uint64_t features;

    t->qts = global_qtest;
    t->dev = blk->vdev;
    t->alloc = alloc;

    features = qvirtio_get_features(t->dev);
    g_assert_true(features & (1ULL << VIRTIO_BLK_F_ZONED));
    features &= ~(QVIRTIO_F_BAD_FEATURE |
                  (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                  (1ULL << VIRTIO_RING_F_EVENT_IDX) |
                  (1ULL << VIRTIO_BLK_F_SCSI));
    qvirtio_set_features(t->dev, features);

    t->vq = qvirtqueue_setup(t->dev, alloc, 0);
    qvirtio_set_driver_ok(t->dev);
}

static void zt_cleanup(ZonedTest *t)
{
    qvirtqueue_cleanup(t->dev->bus, t->vq, t->alloc);
}

/* A request in flight (zt_submit), for zt_complete. */
typedef struct ZtRequest {
    uint64_t addr;
    uint64_t in_addr;
    uint64_t status_addr;
    size_t in_len;
    uint32_t head;
} ZtRequest;

/*
 * Queue one request without notifying the device: the header, @out_len
 * bytes the device reads (from @out, or left as they are in guest memory
 * when @out is NULL), @in_len bytes the device writes, and the status byte.
 */
static void zt_queue(ZonedTest *t, ZtRequest *r, uint32_t type,
                     uint64_t sector, const void *out, size_t out_len,
                     size_t in_len)
{
    struct {
        uint32_t type;
        uint32_t ioprio;
        uint64_t sector;
    } hdr = {
        .type = zt_dev32(t, type),
        .ioprio = 0,
        .sector = zt_dev64(t, sector),
    };
    uint64_t out_addr;
    uint8_t status = 0xff;

    QEMU_BUILD_BUG_ON(sizeof(hdr) != ZT_OUTHDR_SIZE);

    r->addr = guest_alloc(t->alloc, ZT_OUTHDR_SIZE + out_len + in_len + 1);
    out_addr = r->addr + ZT_OUTHDR_SIZE;
    r->in_addr = out_addr + out_len;
    r->in_len = in_len;
    r->status_addr = r->in_addr + in_len;

    qtest_memwrite(t->qts, r->addr, &hdr, sizeof(hdr));
    if (out && out_len) {
        qtest_memwrite(t->qts, out_addr, out, out_len);
    }
    qtest_memwrite(t->qts, r->status_addr, &status, 1);

    r->head = qvirtqueue_add(t->qts, t->vq, r->addr, ZT_OUTHDR_SIZE, false,
                             true);
    if (out_len) {
        qvirtqueue_add(t->qts, t->vq, out_addr, out_len, false, true);
    }
    if (type == VIRTIO_BLK_T_ZONE_APPEND) {
        /*
         * One buffer for the sector and the status, as Linux submits it:
         * a retry (werror=stop) must find the status at its end again
         */
        qvirtqueue_add(t->qts, t->vq, r->in_addr, in_len + 1, true, false);
        return;
    }
    if (in_len) {
        qvirtqueue_add(t->qts, t->vq, r->in_addr, in_len, true, true);
    }
    qvirtqueue_add(t->qts, t->vq, r->status_addr, 1, true, false);
}

/* Queue one request (see zt_queue) and notify the device. */
static void zt_submit(ZonedTest *t, ZtRequest *r, uint32_t type,
                      uint64_t sector, const void *out, size_t out_len,
                      size_t in_len)
{
    zt_queue(t, r, type, sector, out, out_len, in_len);
    qvirtqueue_kick(t->qts, t->dev, t->vq, r->head);
}

/*
 * Wait for a request of zt_submit() and return its status byte; the bytes
 * the device wrote are copied to @in unless it is NULL.
 */
static uint8_t zt_complete(ZonedTest *t, ZtRequest *r, void *in)
{
    uint8_t status;

    qvirtio_wait_used_elem(t->qts, t->dev, t->vq, r->head, NULL,
                           ZT_TIMEOUT_US);
    status = qtest_readb(t->qts, r->status_addr);
    if (in && r->in_len) {
        qtest_memread(t->qts, r->in_addr, in, r->in_len);
    }
    guest_free(t->alloc, r->addr);
    return status;
}

/* Submit one request (see zt_submit) and wait for it (zt_complete). */
static uint8_t zt_request(ZonedTest *t, uint32_t type, uint64_t sector,
                          const void *out, size_t out_len,
                          void *in, size_t in_len)
{
    ZtRequest r;

    zt_submit(t, &r, type, sector, out, out_len, in_len);
    return zt_complete(t, &r, in);
}

static uint8_t zt_write(ZonedTest *t, uint64_t sector, const void *buf,
                        size_t len)
{
    return zt_request(t, VIRTIO_BLK_T_OUT, sector, buf, len, NULL, 0);
}

static uint8_t zt_read(ZonedTest *t, uint64_t sector, void *buf, size_t len)
{
    return zt_request(t, VIRTIO_BLK_T_IN, sector, NULL, 0, buf, len);
}

/* The segment of a write zeroes of @nr_sectors sectors from @sector. */
static struct virtio_blk_discard_write_zeroes
zt_zeroes_seg(ZonedTest *t, uint64_t sector, uint32_t nr_sectors)
{
    struct virtio_blk_discard_write_zeroes seg = {
        .sector = zt_dev64(t, sector),
        .num_sectors = zt_dev32(t, nr_sectors),
        .flags = 0,
    };

    return seg;
}

/* Write zeroes to @nr_sectors sectors from @sector. */
static uint8_t zt_write_zeroes(ZonedTest *t, uint64_t sector,
                               uint32_t nr_sectors)
{
    struct virtio_blk_discard_write_zeroes seg =
        zt_zeroes_seg(t, sector, nr_sectors);

    return zt_request(t, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof(seg),
                      NULL, 0);
}

/* A zone operation (open, close, finish, reset) on the zone at @sector. */
static uint8_t zt_zone_op(ZonedTest *t, uint32_t type, uint64_t sector)
{
    return zt_request(t, type, sector, NULL, 0, NULL, 0);
}

/*
 * Append @len bytes of @buf to the zone at @sector.  On success,
 * *@append_sector is where the device put the data.
 */
static uint8_t zt_append(ZonedTest *t, uint64_t sector, const void *buf,
                         size_t len, uint64_t *append_sector)
{
    uint64_t where = UINT64_MAX;
    uint8_t status;

    status = zt_request(t, VIRTIO_BLK_T_ZONE_APPEND, sector, buf, len,
                        &where, sizeof(where));
    if (append_sector) {
        *append_sector = zt_host64(t, where);
    }
    return status;
}

/*
 * Report the zones from the one holding @sector into a buffer with room for
 * @room descriptors.  *@nr_zones is the number the device reports.
 */
static uint8_t zt_report(ZonedTest *t, uint64_t sector, unsigned room,
                         uint64_t *nr_zones, ZoneInfo *zones)
{
    size_t len = sizeof(struct virtio_blk_zone_report) +
                 room * sizeof(struct virtio_blk_zone_descriptor);
    g_autofree uint8_t *buf = g_malloc0(len);
    struct virtio_blk_zone_report hdr;
    uint8_t status;
    unsigned i;

    status = zt_request(t, VIRTIO_BLK_T_ZONE_REPORT, sector, NULL, 0,
                        buf, len);
    if (status != VIRTIO_BLK_S_OK) {
        return status;
    }

    memcpy(&hdr, buf, sizeof(hdr));
    *nr_zones = zt_host64(t, hdr.nr_zones);
    g_assert_cmpuint(*nr_zones, <=, room);
    for (i = 0; i < *nr_zones; i++) {
        struct virtio_blk_zone_descriptor d;

        memcpy(&d, buf + sizeof(hdr) + i * sizeof(d), sizeof(d));
        zones[i] = (ZoneInfo) {
            .cap = zt_host64(t, d.z_cap),
            .start = zt_host64(t, d.z_start),
            .wp = zt_host64(t, d.z_wp),
            .type = d.z_type,
            .state = d.z_state,
        };
    }
    return status;
}

/* Report zone @z alone. */
static ZoneInfo zt_zone(ZonedTest *t, unsigned z)
{
    ZoneInfo zi;
    uint64_t nr = 0;

    g_assert_cmpuint(zt_report(t, ZSTART(z), 1, &nr, &zi), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, 1);
    g_assert_cmpuint(zi.start, ==, ZSTART(z));
    return zi;
}

/* Check the state and write pointer (relative to the zone start) of zone @z. */
static void zt_assert_zone(ZonedTest *t, unsigned z, uint8_t state,
                           uint64_t wp_offset)
{
    ZoneInfo zi = zt_zone(t, z);

    g_assert_cmpuint(zi.state, ==, state);
    g_assert_cmpuint(zi.wp, ==, ZSTART(z) + wp_offset);
}

/* @len bytes of a pattern that depends on @seed. */
static uint8_t *zt_pattern(size_t len, unsigned seed)
{
    uint8_t *buf = g_malloc(len);
    size_t i;

    for (i = 0; i < len; i++) {
        buf[i] = (i * 7 + seed * 31 + i / 512) & 0xff;
    }
    return buf;
}

/* 1. The zoned characteristics in the configuration space. */
static void zoned_config(void *obj, void *data, QGuestAllocator *alloc)
{
    ZonedTest t;

    zt_init(&t, obj, alloc);

    g_assert_cmpuint(qvirtio_config_readq(t.dev, 0), ==,
                     ZT_CAPACITY / ZT_SECTOR);
    g_assert_cmpuint(qvirtio_config_readb(t.dev,
                         offsetof(struct virtio_blk_config, zoned.model)),
                     ==, VIRTIO_BLK_Z_HM);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.zone_sectors)),
                     ==, ZT_ZONE_SECTORS);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.max_open_zones)),
                     ==, ZT_MAX_OPEN);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.max_active_zones)),
                     ==, ZT_MAX_ACTIVE);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.max_append_sectors)),
                     ==, ZT_MAX_APPEND_BYTES / ZT_SECTOR);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.write_granularity)),
                     ==, ZT_SECTOR);

    zt_cleanup(&t);
}

/* 2. ZONE_REPORT: the whole device, from the middle, into a small buffer. */
static void zoned_report(void *obj, void *data, QGuestAllocator *alloc)
{
    ZoneInfo zones[ZT_NR_ZONES + 4];
    uint64_t nr = 0;
    ZonedTest t;
    unsigned i;

    zt_init(&t, obj, alloc);

    /* Room for more zones than there are: all of them are reported. */
    g_assert_cmpuint(zt_report(&t, 0, ZT_NR_ZONES + 4, &nr, zones), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, ZT_NR_ZONES);
    for (i = 0; i < ZT_NR_ZONES; i++) {
        g_assert_cmpuint(zones[i].start, ==, ZSTART(i));
        g_assert_cmpuint(zones[i].cap, ==, ZT_ZONE_SECTORS);
        g_assert_cmpuint(zones[i].wp, ==, ZSTART(i));
        if (i < ZT_NR_CONV) {
            g_assert_cmpuint(zones[i].type, ==, VIRTIO_BLK_ZT_CONV);
            g_assert_cmpuint(zones[i].state, ==, VIRTIO_BLK_ZS_NOT_WP);
            continue;
        }
        g_assert_cmpuint(zones[i].type, ==, VIRTIO_BLK_ZT_SWR);
        if (i == ZT_RDONLY_ZONE) {
            g_assert_cmpuint(zones[i].state, ==, VIRTIO_BLK_ZS_RDONLY);
        } else if (i == ZT_OFFLINE_ZONE) {
            g_assert_cmpuint(zones[i].state, ==, VIRTIO_BLK_ZS_OFFLINE);
        } else {
            g_assert_cmpuint(zones[i].state, ==, VIRTIO_BLK_ZS_EMPTY);
        }
    }

    /* A written zone shows its write pointer and the implicit open. */
    g_assert_cmpuint(zt_write(&t, ZSTART(3), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);

    /*
     * From a sector in the middle of zone 3 (the sector need not be a zone
     * start): zones 3 to 15.
     */
    g_assert_cmpuint(zt_report(&t, ZSTART(3) + 1000, ZT_NR_ZONES, &nr, zones),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, ZT_NR_ZONES - 3);
    for (i = 0; i < nr; i++) {
        g_assert_cmpuint(zones[i].start, ==, ZSTART(3 + i));
    }
    g_assert_cmpuint(zones[0].state, ==, VIRTIO_BLK_ZS_IOPEN);
    g_assert_cmpuint(zones[0].wp, ==, ZSTART(3) + 8);
    g_assert_cmpuint(zones[1].state, ==, VIRTIO_BLK_ZS_EMPTY);
    g_assert_cmpuint(zones[1].wp, ==, ZSTART(4));

    /* A buffer with room for 3 of the 16 zones gets the first 3. */
    g_assert_cmpuint(zt_report(&t, 0, 3, &nr, zones), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, 3);
    for (i = 0; i < nr; i++) {
        g_assert_cmpuint(zones[i].start, ==, ZSTART(i));
    }
    g_assert_cmpuint(zones[0].type, ==, VIRTIO_BLK_ZT_CONV);
    g_assert_cmpuint(zones[1].type, ==, VIRTIO_BLK_ZT_SWR);

    /* From the last sector of the device: the last zone only. */
    g_assert_cmpuint(zt_report(&t, ZT_CAPACITY / ZT_SECTOR - 1, 4, &nr, zones),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, 1);
    g_assert_cmpuint(zones[0].start, ==, ZSTART(ZT_NR_ZONES - 1));

    /* Past the end of the device. */
    g_assert_cmpuint(zt_report(&t, ZT_CAPACITY / ZT_SECTOR + ZT_ZONE_SECTORS,
                               4, &nr, zones),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);

    zt_cleanup(&t);
}

/* 3. Writes at, off and across the write pointer and zone boundaries. */
static void zoned_write(void *obj, void *data, QGuestAllocator *alloc)
{
    ZonedTest t;

    zt_init(&t, obj, alloc);

    /* At the write pointer: it advances, the zone is implicitly open. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 8, NULL, 16 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 24);

    /* Behind and ahead of the write pointer: UNALIGNED_WP, no change. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 32, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 24);

    /* An empty zone must be written from its start. */
    g_assert_cmpuint(zt_write(&t, ZSTART(2) + 8, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EMPTY, 0);

    /* Conventional zones take writes anywhere. */
    g_assert_cmpuint(zt_write(&t, 4096, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, 8, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);

    /* From the conventional zone into the first sequential one. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1) - 8, NULL, 16 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 24);

    /*
     * Across the boundary of two sequential zones, at the write pointer:
     * fill zone 2 up to 8 sectors before its end (the data is whatever is in
     * guest memory), then write 16 sectors.
     */
    g_assert_cmpuint(zt_write(&t, ZSTART(2), NULL,
                              ZT_ZONE_BYTES - 8 * ZT_SECTOR),
                     ==, VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_IOPEN, ZT_ZONE_SECTORS - 8);
    g_assert_cmpuint(zt_write(&t, ZSTART(3) - 8, NULL, 16 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_IOPEN, ZT_ZONE_SECTORS - 8);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_EMPTY, 0);

    /* The last 8 sectors fill the zone. */
    g_assert_cmpuint(zt_write(&t, ZSTART(3) - 8, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    /*
     * A full zone has no write pointer to write at: the device reports
     * UNALIGNED_WP (a zoned status of the spec; Linux's guest driver makes
     * it an I/O error as it would INVALID_CMD).
     */
    g_assert_cmpuint(zt_write(&t, ZSTART(2), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    /* Beyond the capacity: the plain block device check, IOERR. */
    g_assert_cmpuint(zt_write(&t, ZT_CAPACITY / ZT_SECTOR - 8, NULL,
                              16 * ZT_SECTOR),
                     ==, VIRTIO_BLK_S_IOERR);

    /*
     * A read of sequential zones must stay in one zone: across a boundary
     * (zone 2 is full, zone 1 partly written) ZONE_INVALID_CMD, also from
     * the conventional zone into the first sequential one.
     */
    {
        uint8_t rbuf[16 * ZT_SECTOR];

        g_assert_cmpuint(zt_read(&t, ZSTART(3) - 8, rbuf, sizeof(rbuf)), ==,
                         VIRTIO_BLK_S_ZONE_INVALID_CMD);
        g_assert_cmpuint(zt_read(&t, ZSTART(1) - 8, rbuf, sizeof(rbuf)), ==,
                         VIRTIO_BLK_S_ZONE_INVALID_CMD);
        g_assert_cmpuint(zt_read(&t, ZSTART(3) - 16, rbuf, sizeof(rbuf)), ==,
                         VIRTIO_BLK_S_OK);
    }

    /* WRITE_ZEROES is a write: off the write pointer UNALIGNED_WP. */
    g_assert_cmpuint(zt_write_zeroes(&t, ZSTART(3) + 8, 8), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_EMPTY, 0);
    g_assert_cmpuint(zt_write_zeroes(&t, ZSTART(3), 8), ==, VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_IOPEN, 8);

    zt_cleanup(&t);
}

/* 4. ZONE_APPEND. */
static void zoned_append(void *obj, void *data, QGuestAllocator *alloc)
{
    uint64_t where;
    ZonedTest t;

    zt_init(&t, obj, alloc);

    /* Each append returns the write pointer it wrote at. */
    where = 0;
    g_assert_cmpuint(zt_append(&t, ZSTART(1), NULL, 8 * ZT_SECTOR, &where),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(1));
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);

    g_assert_cmpuint(zt_append(&t, ZSTART(1), NULL, 4 * ZT_SECTOR, &where),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(1) + 8);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 12);

    /* Exactly max_append_sectors is fine. */
    g_assert_cmpuint(zt_append(&t, ZSTART(1), NULL, ZT_MAX_APPEND_BYTES,
                               &where),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(1) + 12);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN,
                   12 + ZT_MAX_APPEND_BYTES / ZT_SECTOR);

    /* One sector more than max_append_sectors: INVALID_CMD. */
    g_assert_cmpuint(zt_append(&t, ZSTART(1), NULL,
                               ZT_MAX_APPEND_BYTES + ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN,
                   12 + ZT_MAX_APPEND_BYTES / ZT_SECTOR);

    /* To a conventional zone: INVALID_CMD. */
    g_assert_cmpuint(zt_append(&t, ZSTART(0), NULL, 8 * ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);

    /* The sector must be the zone's first: INVALID_CMD. */
    g_assert_cmpuint(zt_append(&t, ZSTART(1) + 8, NULL, 8 * ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN,
                   12 + ZT_MAX_APPEND_BYTES / ZT_SECTOR);

    /* An empty zone: the data goes to its start. */
    g_assert_cmpuint(zt_append(&t, ZSTART(5), NULL, ZT_SECTOR, &where),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(5));
    zt_assert_zone(&t, 5, VIRTIO_BLK_ZS_IOPEN, 1);

    /* A full zone: the append exceeds its writable capacity. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(5)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_append(&t, ZSTART(5), NULL, ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 5, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    zt_cleanup(&t);
}

/* 5. OPEN, CLOSE, FINISH, RESET and RESET_ALL. */
static void zoned_mgmt(void *obj, void *data, QGuestAllocator *alloc)
{
    ZoneInfo zones[ZT_NR_ZONES];
    uint64_t nr = 0;
    ZonedTest t;
    unsigned i;

    zt_init(&t, obj, alloc);

    /* Empty -> explicitly open; opening it again is not an error. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 0);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 0);

    /* Closing an open zone that was never written empties it. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EMPTY, 0);

    /* An empty zone cannot be closed. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EMPTY, 0);

    /* Implicitly open -> closed -> explicitly open, keeping the data. */
    g_assert_cmpuint(zt_write(&t, ZSTART(2), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_IOPEN, 8);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_CLOSED, 8);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_CLOSED, 8);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 8);

    /* A write keeps an explicitly open zone explicitly open. */
    g_assert_cmpuint(zt_write(&t, ZSTART(2) + 8, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 16);

    /* Finish: full, the write pointer at the end of the zone. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    /* A full zone can be neither opened nor closed. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    /* Reset: empty again; resetting an empty zone is not an error. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EMPTY, 0);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EMPTY, 0);

    /* An empty zone can be finished. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(4)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 4, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    /* Zone operations on the conventional zone: INVALID_CMD. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, 0), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, 0), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, 0), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET, 0), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);

    /* A sector that is not a zone start, or past the end: INVALID_CMD. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(3) + 8), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_EMPTY, 0);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET,
                                ZSTART(ZT_NR_ZONES)),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);

    /*
     * RESET_ALL: zone 1 implicitly open, 2 explicitly open, 3 closed and 4
     * full all become empty; the conventional, read-only and offline zones
     * stay as they are.
     */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, ZSTART(3), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(3)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 0);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_CLOSED, 8);
    zt_assert_zone(&t, 4, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);

    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET_ALL, 0), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_report(&t, 0, ZT_NR_ZONES, &nr, zones), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, ZT_NR_ZONES);
    g_assert_cmpuint(zones[0].state, ==, VIRTIO_BLK_ZS_NOT_WP);
    for (i = ZT_NR_CONV; i < ZT_RDONLY_ZONE; i++) {
        g_assert_cmpuint(zones[i].state, ==, VIRTIO_BLK_ZS_EMPTY);
        g_assert_cmpuint(zones[i].wp, ==, ZSTART(i));
    }
    g_assert_cmpuint(zones[ZT_RDONLY_ZONE].state, ==, VIRTIO_BLK_ZS_RDONLY);
    g_assert_cmpuint(zones[ZT_OFFLINE_ZONE].state, ==,
                     VIRTIO_BLK_ZS_OFFLINE);

    /* The zones work as before: written from their start. */
    g_assert_cmpuint(zt_write(&t, ZSTART(3), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_IOPEN, 8);

    zt_cleanup(&t);
}

/* 6. The open and active zone limits (2 open, 3 active). */
static void zoned_limits(void *obj, void *data, QGuestAllocator *alloc)
{
    uint64_t where;
    ZonedTest t;

    zt_init(&t, obj, alloc);

    /* Two explicitly open zones use up the open resources. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(1)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);

    /* A third one, explicitly or by a write or append: OPEN_RESOURCE. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(3)), ==,
                     VIRTIO_BLK_S_ZONE_OPEN_RESOURCE);
    g_assert_cmpuint(zt_write(&t, ZSTART(3), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_OPEN_RESOURCE);
    g_assert_cmpuint(zt_append(&t, ZSTART(3), NULL, 8 * ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_ZONE_OPEN_RESOURCE);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_EMPTY, 0);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_EOPEN, 0);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_EOPEN, 0);

    /* Writes to the open zones are fine. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, ZSTART(2), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);

    /*
     * Close zone 1: 1 open (zone 2) and 2 active zones; then zone 3 can be
     * opened implicitly: 2 open, 3 active.
     */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(1)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_CLOSED, 8);
    g_assert_cmpuint(zt_append(&t, ZSTART(3), NULL, 8 * ZT_SECTOR, &where),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(3));
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_IOPEN, 8);

    /*
     * Opening a fourth zone would exceed both limits: the spec wants
     * ACTIVE_RESOURCE then.
     */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(4)), ==,
                     VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE);
    zt_assert_zone(&t, 4, VIRTIO_BLK_ZS_EMPTY, 0);

    /*
     * Close zone 3: 1 open, still 3 active.  An empty zone cannot leave the
     * empty state, by an open, a write, an append or a finish.
     */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(3)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_CLOSED, 8);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(4)), ==,
                     VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE);
    g_assert_cmpuint(zt_write(&t, ZSTART(4), NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE);
    g_assert_cmpuint(zt_append(&t, ZSTART(4), NULL, 8 * ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(4)), ==,
                     VIRTIO_BLK_S_ZONE_ACTIVE_RESOURCE);
    zt_assert_zone(&t, 4, VIRTIO_BLK_ZS_EMPTY, 0);

    /* Closed zones (active already) can be reopened within the limits. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(3)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_EOPEN, 8);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(1)), ==,
                     VIRTIO_BLK_S_ZONE_OPEN_RESOURCE);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_CLOSED, 8);

    /* Finishing zone 1 frees an active resource: zone 4 can be opened. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_FINISH, ZSTART(1)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_FULL, ZT_ZONE_SECTORS);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_CLOSE, ZSTART(2)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(4)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 4, VIRTIO_BLK_ZS_EOPEN, 0);

    /* Resetting frees both resources. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET_ALL, 0), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(5)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, ZSTART(6)), ==,
                     VIRTIO_BLK_S_OK);

    zt_cleanup(&t);
}

/* 7. The read-only and the offline zone. */
static void zoned_faults(void *obj, void *data, QGuestAllocator *alloc)
{
    static const uint32_t ops[] = {
        VIRTIO_BLK_T_ZONE_OPEN, VIRTIO_BLK_T_ZONE_CLOSE,
        VIRTIO_BLK_T_ZONE_FINISH, VIRTIO_BLK_T_ZONE_RESET,
    };
    uint8_t buf[8 * ZT_SECTOR];
    ZonedTest t;
    unsigned i;

    zt_init(&t, obj, alloc);

    /*
     * A read-only zone can be read, but not written or appended to; an
     * offline zone can be neither read nor written.  The virtio zoned device
     * completes all of these, and zone operations that cannot make their
     * transition, with ZONE_INVALID_CMD.
     */
    g_assert_cmpuint(zt_read(&t, ZSTART(ZT_RDONLY_ZONE), buf, sizeof(buf)),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, ZSTART(ZT_RDONLY_ZONE), NULL, sizeof(buf)),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_append(&t, ZSTART(ZT_RDONLY_ZONE), NULL, sizeof(buf),
                               NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, ZT_RDONLY_ZONE, VIRTIO_BLK_ZS_RDONLY, 0);

    g_assert_cmpuint(zt_read(&t, ZSTART(ZT_OFFLINE_ZONE), buf, sizeof(buf)),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_write(&t, ZSTART(ZT_OFFLINE_ZONE), NULL, sizeof(buf)),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_append(&t, ZSTART(ZT_OFFLINE_ZONE), NULL,
                               sizeof(buf), NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, ZT_OFFLINE_ZONE, VIRTIO_BLK_ZS_OFFLINE, 0);

    for (i = 0; i < ARRAY_SIZE(ops); i++) {
        g_assert_cmpuint(zt_zone_op(&t, ops[i], ZSTART(ZT_RDONLY_ZONE)), ==,
                         VIRTIO_BLK_S_ZONE_INVALID_CMD);
        g_assert_cmpuint(zt_zone_op(&t, ops[i], ZSTART(ZT_OFFLINE_ZONE)), ==,
                         VIRTIO_BLK_S_ZONE_INVALID_CMD);
    }
    zt_assert_zone(&t, ZT_RDONLY_ZONE, VIRTIO_BLK_ZS_RDONLY, 0);
    zt_assert_zone(&t, ZT_OFFLINE_ZONE, VIRTIO_BLK_ZS_OFFLINE, 0);

    /* The device still works. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), NULL, sizeof(buf)), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);

    zt_cleanup(&t);
}

/* 8. memory-backed=on keeps the data: written, appended, reset. */
static void zoned_data(void *obj, void *data, QGuestAllocator *alloc)
{
    const size_t len = 8 * ZT_SECTOR;
    g_autofree uint8_t *p1 = zt_pattern(len, 1);
    g_autofree uint8_t *p2 = zt_pattern(len, 2);
    g_autofree uint8_t *p3 = zt_pattern(len, 3);
    g_autofree uint8_t *zero = g_malloc0(2 * len);
    g_autofree uint8_t *buf = g_malloc(2 * len);
    uint64_t where;
    ZonedTest t;

    zt_init(&t, obj, alloc);

    /* A write, then an append behind it, read back at once. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), p1, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_append(&t, ZSTART(1), p2, len, &where), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(1) + len / ZT_SECTOR);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, 2 * len), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, len, p1, len);
    g_assert_cmpmem(buf + len, len, p2, len);

    /* Each half on its own. */
    g_assert_cmpuint(zt_read(&t, where, buf, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, len, p2, len);

    /* The conventional zone is written in place. */
    g_assert_cmpuint(zt_write(&t, 1000, p3, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, 1004, p1, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_read(&t, 1000, buf, len + 4 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, 4 * ZT_SECTOR, p3, 4 * ZT_SECTOR);
    g_assert_cmpmem(buf + 4 * ZT_SECTOR, len, p1, len);

    /* A failed write leaves the data as it was. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), p3, len), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, len, p1, len);

    /* A reset drops the zone's data: it reads back as zeroes. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET, ZSTART(1)), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, 2 * len), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, 2 * len, zero, 2 * len);

    /* Written again from the start, with new data. */
    g_assert_cmpuint(zt_write(&t, ZSTART(1), p3, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, len, p3, len);

    /* RESET_ALL leaves the conventional zone's data alone. */
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET_ALL, 0), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_read(&t, 1000, buf, 4 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, 4 * ZT_SECTOR, p3, 4 * ZT_SECTOR);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, len), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpmem(buf, len, zero, len);

    zt_cleanup(&t);
}

/*
 * A driver that does not accept VIRTIO_BLK_F_ZONED cannot drive a
 * host-managed device: the device refuses FEATURES_OK.  With the feature
 * accepted, it takes FEATURES_OK.
 */
static void zoned_features_ok(void *obj, void *data, QGuestAllocator *alloc)
{
    QVirtioBlk *blk = obj;
    QVirtioDevice *dev = blk->vdev;
    uint64_t features = qvirtio_get_features(dev);
    uint8_t status;

    g_assert_true(features & (1ULL << VIRTIO_F_VERSION_1));
    g_assert_true(features & (1ULL << VIRTIO_BLK_F_ZONED));
    features &= ~(QVIRTIO_F_BAD_FEATURE |
                  (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                  (1ULL << VIRTIO_RING_F_EVENT_IDX) |
                  (1ULL << VIRTIO_BLK_F_SCSI));

    dev->bus->set_features(dev, features & ~(1ULL << VIRTIO_BLK_F_ZONED));
    status = dev->bus->get_status(dev);
    dev->bus->set_status(dev, status | VIRTIO_CONFIG_S_FEATURES_OK);
    g_assert_cmphex(dev->bus->get_status(dev) & VIRTIO_CONFIG_S_FEATURES_OK,
                    ==, 0);

    /* Start again, with the feature: qvirtio_set_features() checks it. */
    qvirtio_reset(dev);
    qvirtio_set_acknowledge(dev);
    qvirtio_set_driver(dev);
    qvirtio_set_features(dev, features);
}

/*
 * A legacy driver (no VIRTIO_F_VERSION_1) never sets FEATURES_OK, where
 * zoned_features_ok()'s refusal happens: the device must stop at
 * DRIVER_OK instead, and take no request from that driver.
 */
static void zoned_legacy_driver(void *obj, void *data, QGuestAllocator *alloc)
{
    QVirtioBlk *blk = obj;
    QVirtioDevice *dev = blk->vdev;
    uint64_t features = qvirtio_get_features(dev);
    QVirtQueue *vq;
    QDict *rsp;

    features &= ~(QVIRTIO_F_BAD_FEATURE |
                  (1ULL << VIRTIO_F_VERSION_1) |
                  (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                  (1ULL << VIRTIO_RING_F_EVENT_IDX) |
                  (1ULL << VIRTIO_BLK_F_SCSI) |
                  (1ULL << VIRTIO_BLK_F_ZONED));
    qvirtio_set_features(dev, features);
    vq = qvirtqueue_setup(dev, alloc, 0);
    qvirtio_set_driver_ok(dev);

    rsp = qtest_qmp(global_qtest, "{'execute': 'x-query-virtio-status',"
                    " 'arguments': {'path':"
                    " '/machine/peripheral/drv0/virtio-backend'}}");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "broken"));
    qobject_unref(rsp);
    qvirtqueue_cleanup(dev->bus, vq, alloc);
}

/* The host-aware device of zoned_unzoned_driver(): 16 zones of 1 MiB */
#define ZT_HA_ZONE_SECTORS      ((1 << 20) / ZT_SECTOR)
#define ZT_HA_RDONLY_ZONE       14
#define ZT_HA_OFFLINE_ZONE      15

/*
 * A driver that does not accept VIRTIO_BLK_F_ZONED drives a host-aware
 * device as a disk that is not zoned: the zoned characteristics read as
 * zero, zone requests are not supported, and the zone errors are I/O
 * errors, which do not stop the VM either.
 */
static void zoned_unzoned_driver(void *obj, void *data, QGuestAllocator *alloc)
{
    QVirtioBlk *blk = obj;
    ZonedTest t = {
        .qts = global_qtest,
        .dev = blk->vdev,
        .alloc = alloc,
    };
    g_autofree uint8_t *buf = g_malloc0(ZT_SECTOR);
    uint64_t features = qvirtio_get_features(t.dev);
    uint64_t nr = 0;
    ZoneInfo zi;
    size_t off;

    g_assert_true(features & (1ULL << VIRTIO_BLK_F_ZONED));
    features &= ~(QVIRTIO_F_BAD_FEATURE |
                  (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
                  (1ULL << VIRTIO_RING_F_EVENT_IDX) |
                  (1ULL << VIRTIO_BLK_F_SCSI) |
                  (1ULL << VIRTIO_BLK_F_ZONED));
    qvirtio_set_features(t.dev, features);
    t.vq = qvirtqueue_setup(t.dev, alloc, 0);
    qvirtio_set_driver_ok(t.dev);

    for (off = offsetof(struct virtio_blk_config, zoned);
         off < offsetof(struct virtio_blk_config, zoned) +
               sizeof(struct virtio_blk_zoned_characteristics);
         off++) {
        g_assert_cmpuint(qvirtio_config_readb(t.dev, off), ==, 0);
    }

    /* Writes anywhere, across zones */
    g_assert_cmpuint(zt_write(&t, ZT_HA_ZONE_SECTORS - 1, buf, ZT_SECTOR),
                     ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, 8, buf, ZT_SECTOR), ==, VIRTIO_BLK_S_OK);

    /* A read-only and an offline zone: I/O errors, no zone statuses */
    g_assert_cmpuint(zt_write(&t, ZT_HA_RDONLY_ZONE * ZT_HA_ZONE_SECTORS,
                              buf, ZT_SECTOR), ==, VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(zt_read(&t, ZT_HA_OFFLINE_ZONE * ZT_HA_ZONE_SECTORS,
                             buf, ZT_SECTOR), ==, VIRTIO_BLK_S_IOERR);

    /* No zone requests */
    g_assert_cmpuint(zt_report(&t, 0, 1, &nr, &zi), ==, VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_OPEN, 0), ==,
                     VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(zt_zone_op(&t, VIRTIO_BLK_T_ZONE_RESET_ALL, 0), ==,
                     VIRTIO_BLK_S_UNSUPP);
    g_assert_cmpuint(zt_append(&t, 0, buf, ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_UNSUPP);

    zt_cleanup(&t);
}

/*
 * A host-aware drive to a driver that accepted VIRTIO_BLK_F_ZONED: its zones
 * are sequential write preferred, they take writes anywhere, and zone
 * appends, which the specification allows in SWR zones only, fail with
 * ZONE_INVALID_CMD.
 */
static void zoned_host_aware(void *obj, void *data, QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = g_malloc0(ZT_SECTOR);
    uint64_t nr = 0;
    ZoneInfo zi;
    ZonedTest t;

    zt_init(&t, obj, alloc);
    g_assert_cmpuint(qvirtio_config_readb(t.dev,
                         offsetof(struct virtio_blk_config, zoned.model)),
                     ==, VIRTIO_BLK_Z_HA);
    g_assert_cmpuint(zt_report(&t, 0, 1, &nr, &zi), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(nr, ==, 1);
    g_assert_cmpuint(zi.type, ==, VIRTIO_BLK_ZT_SWP);

    g_assert_cmpuint(zt_write(&t, 8, buf, ZT_SECTOR), ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_append(&t, 0, buf, ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_append(&t, ZT_HA_ZONE_SECTORS, buf, ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);

    zt_cleanup(&t);
}

/*
 * Wait until the VM stopped for an I/O error of drive0's device (werror=stop)
 * and check the request @r did not complete; then resume it and return the
 * status of @r, which the device did again (and what it wrote, in @in).
 */
static uint8_t zt_stopped_then_resumed(ZonedTest *t, ZtRequest *r, void *in)
{
    QDict *rsp, *data;
    bool running = true;
    int i;

    /* Not for ever: a zone status instead of the stop fails here. */
    for (i = 0; i < 500 && running; i++) {
        rsp = qtest_qmp(t->qts, "{'execute': 'query-status'}");
        running = qdict_get_bool(qdict_get_qdict(rsp, "return"), "running");
        qobject_unref(rsp);
        if (running) {
            g_usleep(10 * 1000);
        }
    }
    g_assert_false(running);
    g_assert_cmpuint(qtest_readb(t->qts, r->status_addr), ==, 0xff);

    rsp = qtest_qmp_eventwait_ref(t->qts, "BLOCK_IO_ERROR");
    data = qdict_get_qdict(rsp, "data");
    g_assert_cmpstr(qdict_get_str(data, "operation"), ==, "write");
    g_assert_cmpstr(qdict_get_str(data, "action"), ==, "stop");
    g_assert_cmpstr(qdict_get_str(data, "reason"), ==,
                    "Input/output error");
    qobject_unref(rsp);

    qobject_unref(qtest_qmp(t->qts, "{'execute': 'cont'}"));
    return zt_complete(t, r, in);
}

/*
 * Linux fails a write off the write pointer, or an append to a zone without
 * room for it, with -EIO, the errno of a write the drive could not do.  A
 * write at the write pointer, or an append to a zone with room, that fails
 * (blkdebug injects -EIO there once) is an I/O error: werror=stop stops the
 * VM, and "cont" does the request again.  A write off the write pointer is
 * the guest's and still gets UNALIGNED_WP.
 */
static void zoned_media_error(void *obj, void *data, QGuestAllocator *alloc)
{
    struct virtio_blk_discard_write_zeroes seg;
    uint64_t where = UINT64_MAX;
    ZonedTest t;
    ZtRequest r;

    zt_init(&t, obj, alloc);

    zt_submit(&t, &r, VIRTIO_BLK_T_OUT, ZSTART(1), NULL, 8 * ZT_SECTOR, 0);
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, NULL), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);

    seg = zt_zeroes_seg(&t, ZSTART(2), 8);
    zt_submit(&t, &r, VIRTIO_BLK_T_WRITE_ZEROES, 0, &seg, sizeof(seg), 0);
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, NULL), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_IOPEN, 8);

    /* A conventional zone has no write pointer to miss */
    zt_submit(&t, &r, VIRTIO_BLK_T_OUT, 8, NULL, 8 * ZT_SECTOR, 0);
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, NULL), ==,
                     VIRTIO_BLK_S_OK);

    /* An append that the zone has room for */
    zt_submit(&t, &r, VIRTIO_BLK_T_ZONE_APPEND, ZSTART(3), NULL,
              8 * ZT_SECTOR, sizeof(where));
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, &where), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_host64(&t, where), ==, ZSTART(3));
    zt_assert_zone(&t, 3, VIRTIO_BLK_ZS_IOPEN, 8);

    /*
     * A zone reset that the drive fails: no zone rule gives a zone
     * operation -EIO.  Before, the guest got ZONE_INVALID_CMD.
     */
    zt_submit(&t, &r, VIRTIO_BLK_T_ZONE_RESET, ZSTART(4), NULL, 0, 0);
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, NULL), ==,
                     VIRTIO_BLK_S_OK);

    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 16, NULL, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_write_zeroes(&t, ZSTART(2) + 16, 8), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 8);
    zt_assert_zone(&t, 2, VIRTIO_BLK_ZS_IOPEN, 8);

    zt_cleanup(&t);
}

/*
 * Make the requests queued with zt_queue() (@n of them, heads in @heads)
 * available to the device, and notify it once: it takes them together.
 */
static void zt_kick_all(ZonedTest *t, const uint32_t *heads, unsigned n)
{
    uint16_t idx = qtest_readw(t->qts, t->vq->avail + 2);
    unsigned i;

    for (i = 0; i < n; i++) {
        qtest_writew(t->qts,
                     t->vq->avail + 4 + 2 * ((idx + i) % t->vq->size),
                     heads[i]);
    }
    qtest_writew(t->qts, t->vq->avail + 2, idx + n);
    t->dev->bus->virtqueue_kick(t->dev, t->vq);
}

/*
 * Wait for @n requests of zt_queue() (@rs), completed in any order, and
 * return the status of each in @status.
 */
static void zt_complete_all(ZonedTest *t, ZtRequest *rs, unsigned n,
                            uint8_t *status)
{
    gint64 start_time = g_get_monotonic_time();
    unsigned i, done = 0;

    while (done < n) {
        /* One interrupt may tell of both: look at the used ring itself */
        if (qvirtqueue_get_buf(t->qts, t->vq, NULL, NULL)) {
            done++;
            continue;
        }
        g_assert(g_get_monotonic_time() - start_time <= ZT_TIMEOUT_US);
    }
    for (i = 0; i < n; i++) {
        status[i] = qtest_readb(t->qts, rs[i].status_addr);
        guest_free(t->alloc, rs[i].addr);
    }
}

/* zoned_no_merge()'s drive: zones of 64 MiB that take 64 KiB each */
#define ZT_SMALL_CAP            (64 * 1024)

/*
 * Requests of one notification to a zoned drive are not merged: each gets
 * its own status.  A write at the write pointer, then one right after it
 * that crosses the zone's capacity: the first is written, the second fails
 * alone (a merged write failed both, and lost the first one's data).
 */
static void zoned_no_merge(void *obj, void *data, QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(ZT_SMALL_CAP, 9);
    g_autofree uint8_t *rbuf = g_malloc0(16 * 1024);
    ZtRequest r[2];
    uint32_t heads[2];
    uint8_t status[2];
    ZonedTest t;

    zt_init(&t, obj, alloc);
    zt_queue(&t, &r[0], VIRTIO_BLK_T_OUT, ZSTART(1), buf, 16 * 1024, 0);
    zt_queue(&t, &r[1], VIRTIO_BLK_T_OUT, ZSTART(1) + 32, buf, ZT_SMALL_CAP,
             0);
    heads[0] = r[0].head;
    heads[1] = r[1].head;
    zt_kick_all(&t, heads, 2);
    zt_complete_all(&t, r, 2, status);
    g_assert_cmpuint(status[0], ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(status[1], ==, VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 32);
    g_assert_cmpuint(zt_read(&t, ZSTART(1), rbuf, 16 * 1024), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(rbuf, 16 * 1024, buf, 16 * 1024);
    zt_cleanup(&t);
}

/* The image of zoned_write_in_flight(), made by zoned_qcow2_setup() */
static char *zt_qcow2_path;

/*
 * On a drive whose writes yield while their data is stored (a zoned qcow2
 * image), a write to the write pointer while a write to the zone is in
 * flight: the drive judges it after that write, as a drive takes commands
 * in order.  That write moves the write pointer past it, so it is a write
 * off the write pointer (ZONE_UNALIGNED_WP).  Judged at once, it failed
 * with the write pointer at its start: the drive failing, IOERR, and with
 * werror=stop a VM that any guest could stop.
 */
static void zoned_write_in_flight(void *obj, void *data,
                                  QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(64 * 1024, 10);
    ZtRequest r[2];
    uint32_t heads[2];
    uint8_t status[2];
    ZonedTest t;
    QDict *rsp;

    if (!zt_qcow2_path) {
        g_test_skip("no qemu-img to make a zoned qcow2 image");
        return;
    }
    zt_init(&t, obj, alloc);
    zt_queue(&t, &r[0], VIRTIO_BLK_T_OUT, ZSTART(1), buf, 64 * 1024, 0);
    zt_queue(&t, &r[1], VIRTIO_BLK_T_OUT, ZSTART(1), buf, 4096, 0);
    heads[0] = r[0].head;
    heads[1] = r[1].head;
    zt_kick_all(&t, heads, 2);
    zt_complete_all(&t, r, 2, status);
    g_assert_cmpuint(status[0], ==, VIRTIO_BLK_S_OK);
    g_assert_cmpuint(status[1], ==, VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 128);

    rsp = qtest_qmp(t.qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);
    zt_cleanup(&t);
}

/*
 * Without a write cache, every write is flushed.  A zoned qcow2 image has
 * no FUA of its own: the block layer made the writes FUA, flushed after
 * them, and failed a write whose data was written when the flush failed.
 * The write pointer was past the write, so the guest got UNALIGNED_WP for
 * the drive's error, and a retry (werror=stop) wrote the data again.  The
 * device flushes itself now: a failed flush is an I/O error, and a retry
 * only flushes.  The tests skip without qemu-img (zoned_writethrough_setup).
 */
static bool zt_writethrough_init(ZonedTest *t, void *obj,
                                 QGuestAllocator *alloc, const uint8_t *buf)
{
    if (!zt_qcow2_path) {
        g_test_skip("no qemu-img to make a zoned qcow2 image");
        return false;
    }
    zt_init(t, obj, alloc);
    /* The first of the two data writes before the flush that fails */
    g_assert_cmpuint(zt_write(t, ZSTART(1), buf, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    return true;
}

/* The 8 sectors of @buf are at @sector of zone @z, its write pointer 8 on */
static void zt_assert_written(ZonedTest *t, unsigned z, uint64_t sector,
                              const uint8_t *buf)
{
    g_autofree uint8_t *rbuf = g_malloc(8 * ZT_SECTOR);

    zt_assert_zone(t, z, VIRTIO_BLK_ZS_IOPEN, sector + 8 - ZSTART(z));
    g_assert_cmpuint(zt_read(t, sector, rbuf, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpmem(rbuf, 8 * ZT_SECTOR, buf, 8 * ZT_SECTOR);
}

/* werror=report: the write is an I/O error, its data is there */
static void zoned_writethrough_report(void *obj, void *data,
                                      QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(8 * ZT_SECTOR, 11);
    ZonedTest t;

    if (!zt_writethrough_init(&t, obj, alloc, buf)) {
        return;
    }
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 8, buf, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_IOERR);
    zt_assert_written(&t, 1, ZSTART(1) + 8, buf);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 16, buf, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 24);
    zt_cleanup(&t);
}

/* werror=stop: the VM stops, and "cont" completes the write once */
static void zoned_writethrough_stop(void *obj, void *data,
                                    QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(8 * ZT_SECTOR, 12);
    ZonedTest t;
    ZtRequest r;

    if (!zt_writethrough_init(&t, obj, alloc, buf)) {
        return;
    }
    zt_submit(&t, &r, VIRTIO_BLK_T_OUT, ZSTART(1) + 8, buf, 8 * ZT_SECTOR,
              0);
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, NULL), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_written(&t, 1, ZSTART(1) + 8, buf);
    zt_cleanup(&t);
}

/* werror=stop: the VM stops, and "cont" completes the append once */
static void zoned_writethrough_append_stop(void *obj, void *data,
                                           QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(8 * ZT_SECTOR, 13);
    uint64_t where = UINT64_MAX;
    ZonedTest t;
    ZtRequest r;

    if (!zt_writethrough_init(&t, obj, alloc, buf)) {
        return;
    }
    zt_submit(&t, &r, VIRTIO_BLK_T_ZONE_APPEND, ZSTART(2), buf,
              8 * ZT_SECTOR, sizeof(where));
    g_assert_cmpuint(zt_stopped_then_resumed(&t, &r, &where), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_host64(&t, where), ==, ZSTART(2));
    zt_assert_written(&t, 2, ZSTART(2), buf);
    zt_cleanup(&t);
}

/* zoned_report_reset()'s drive: 4096 zones, 16 chunks of a report */
#define ZT_MANY_NR_ZONES        4096
#define ZT_MANY_ZONE_BYTES      (64 * 1024)
#define ZT_MANY_LATENCY_NS      (20 * 1000 * 1000)

/*
 * A device reset while a report of many zones is in flight, each chunk of
 * it taking a while: the reset waits for the report, which completes in the
 * queue it was made in.  The queue set up after the reset gets nothing of
 * it.  The report's chunks went on after the reset, and put an element the
 * guest never made in the new queue (or, after an unplug, crashed QEMU).
 */
static void zoned_report_reset(void *obj, void *data, QGuestAllocator *alloc)
{
    size_t len = sizeof(struct virtio_blk_zone_report) +
                 ZT_MANY_NR_ZONES * sizeof(struct virtio_blk_zone_descriptor);
    struct virtio_blk_zone_report hdr;
    QVirtioBlk *blk = obj;
    gint64 start_time;
    ZonedTest t;
    ZtRequest r;

    zt_init(&t, obj, alloc);
    zt_submit(&t, &r, VIRTIO_BLK_T_ZONE_REPORT, 0, NULL, 0, len);
    /*
     * In the middle of the report: its first chunk is in the buffer (of
     * guest memory that nothing wrote before, zeroes)
     */
    start_time = g_get_monotonic_time();
    while (qtest_readb(t.qts, r.in_addr + sizeof(hdr) +
                       offsetof(struct virtio_blk_zone_descriptor, z_type)) !=
           VIRTIO_BLK_ZT_SWR) {
        g_assert(g_get_monotonic_time() - start_time <= ZT_TIMEOUT_US);
        g_usleep(1000);
    }

    qvirtio_start_device(blk->vdev);
    /* The reset waited for the report: it is all in the guest's buffer */
    g_assert_cmpuint(qtest_readb(t.qts, r.status_addr), ==, VIRTIO_BLK_S_OK);
    qtest_memread(t.qts, r.in_addr, &hdr, sizeof(hdr));
    g_assert_cmpuint(zt_host64(&t, hdr.nr_zones), ==, ZT_MANY_NR_ZONES);
    guest_free(t.alloc, r.addr);
    zt_cleanup(&t);

    zt_init(&t, obj, alloc);
    /* Longer than the whole report */
    g_usleep(ZT_MANY_LATENCY_NS / 1000 * (ZT_MANY_NR_ZONES / 256 + 4));
    qtest_clock_step(t.qts, 1000);
    g_assert_cmpuint(qtest_readw(t.qts, t.vq->used + 2), ==, 0);
    g_assert_cmpuint(zt_request(&t, VIRTIO_BLK_T_IN, 0, NULL, 0, NULL, 512),
                     ==, VIRTIO_BLK_S_OK);
    zt_cleanup(&t);
}

/*
 * A read-only drive: the device offers VIRTIO_BLK_F_RO, and a zone append
 * or zone operation gets VIRTIO_BLK_S_IOERR as a write would, without
 * stopping the VM (werror=stop); reports and reads work, and no zone
 * changes.
 */
static void zoned_read_only(void *obj, void *data, QGuestAllocator *alloc)
{
    static const uint32_t ops[] = {
        VIRTIO_BLK_T_ZONE_OPEN, VIRTIO_BLK_T_ZONE_CLOSE,
        VIRTIO_BLK_T_ZONE_FINISH, VIRTIO_BLK_T_ZONE_RESET,
        VIRTIO_BLK_T_ZONE_RESET_ALL,
    };
    QVirtioBlk *blk = obj;
    g_autofree uint8_t *buf = g_malloc0(8 * ZT_SECTOR);
    ZonedTest t;
    QDict *rsp;
    unsigned i;

    g_assert_true(qvirtio_get_features(blk->vdev) &
                  (1ULL << VIRTIO_BLK_F_RO));
    zt_init(&t, obj, alloc);

    g_assert_cmpuint(zt_read(&t, ZSTART(1), buf, 8 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_append(&t, ZSTART(1), buf, 8 * ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_IOERR);
    for (i = 0; i < ARRAY_SIZE(ops); i++) {
        g_assert_cmpuint(zt_zone_op(&t, ops[i], ZSTART(1)), ==,
                         VIRTIO_BLK_S_IOERR);
    }
    for (i = ZT_NR_CONV; i < ZT_RDONLY_ZONE; i++) {
        zt_assert_zone(&t, i, VIRTIO_BLK_ZS_EMPTY, 0);
    }

    rsp = qtest_qmp(t.qts, "{'execute': 'query-status'}");
    g_assert_true(qdict_get_bool(qdict_get_qdict(rsp, "return"), "running"));
    qobject_unref(rsp);
    zt_cleanup(&t);
}

/*
 * Logical blocks of 4 KiB on a node that writes 512-byte sectors: the
 * device's write granularity is its block, not the node's sector.  An
 * append that is not whole blocks is a write to an SWR zone whose end is
 * not a multiple of write_granularity, ZONE_UNALIGNED_WP (virtio 1.3,
 * 5.2.6); an empty one, or one that does not name a zone's start, is
 * ZONE_INVALID_CMD.
 */
static void zoned_append_block_size(void *obj, void *data,
                                    QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(2 * 4096, 5);
    uint64_t where;
    ZonedTest t;

    zt_init(&t, obj, alloc);
    g_assert_cmpuint(qvirtio_config_readl(t.dev, 20), ==, 4096);
    g_assert_cmpuint(qvirtio_config_readl(t.dev,
                         offsetof(struct virtio_blk_config,
                                  zoned.write_granularity)),
                     ==, 4096);

    g_assert_cmpuint(zt_append(&t, ZSTART(1), buf, ZT_SECTOR, NULL), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_append(&t, ZSTART(1), buf, 4096 + ZT_SECTOR, NULL),
                     ==, VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_append(&t, ZSTART(1), NULL, 0, NULL), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    g_assert_cmpuint(zt_append(&t, ZSTART(1) + 8, buf, 4096, NULL), ==,
                     VIRTIO_BLK_S_ZONE_INVALID_CMD);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_EMPTY, 0);

    g_assert_cmpuint(zt_append(&t, ZSTART(1), buf, 2 * 4096, &where), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(where, ==, ZSTART(1));
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 2 * 4096 / ZT_SECTOR);
    zt_cleanup(&t);
}

/*
 * The same for writes: one to a sequential zone that does not start and end
 * on the write granularity (4 KiB blocks) is ZONE_UNALIGNED_WP and changes
 * nothing, even at the write pointer; in a conventional zone, where the
 * granularity does not apply, it is the I/O error of any drive.
 */
static void zoned_write_granularity(void *obj, void *data,
                                    QGuestAllocator *alloc)
{
    g_autofree uint8_t *buf = zt_pattern(2 * 4096, 6);
    ZonedTest t;

    zt_init(&t, obj, alloc);

    g_assert_cmpuint(zt_write(&t, ZSTART(1), buf, ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_write(&t, ZSTART(1), buf, 4096 + ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 1, buf, 4096), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_EMPTY, 0);

    g_assert_cmpuint(zt_write(&t, ZSTART(1), buf, 4096), ==,
                     VIRTIO_BLK_S_OK);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 8, buf, 2 * ZT_SECTOR), ==,
                     VIRTIO_BLK_S_ZONE_UNALIGNED_WP);
    g_assert_cmpuint(zt_write(&t, ZSTART(1) + 8, buf, 2 * 4096), ==,
                     VIRTIO_BLK_S_OK);
    zt_assert_zone(&t, 1, VIRTIO_BLK_ZS_IOPEN, 3 * 4096 / ZT_SECTOR);

    /* Zone 0 is conventional. */
    g_assert_cmpuint(zt_write(&t, ZSTART(0), buf, ZT_SECTOR), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(zt_write(&t, ZSTART(0) + 1, buf, 4096), ==,
                     VIRTIO_BLK_S_IOERR);
    g_assert_cmpuint(zt_write(&t, ZSTART(0), buf, 4096), ==,
                     VIRTIO_BLK_S_OK);

    /* Beyond the capacity: an I/O error, as on any drive. */
    g_assert_cmpuint(zt_write(&t, ZT_CAPACITY / ZT_SECTOR, buf, ZT_SECTOR),
                     ==, VIRTIO_BLK_S_IOERR);
    zt_cleanup(&t);
}

/*
 * A drive of 1 Mi zones of 1 MiB for zoned_report_memory(): a buffer with
 * room for all of them takes 64 MiB of descriptors.
 */
#define ZT_BIG_ZONE_BYTES       (1ULL << 20)
#define ZT_BIG_NR_ZONES         (1ULL << 20)
#define ZT_BIG_SLACK_KB         (16 * 1024)

/*
 * The host memory of a report is bounded whatever the guest's buffer
 * and the number of zones: with room for all of the drive's 1 Mi zones,
 * QEMU's peak resident size during the report (the second one: the first
 * brought the guest's buffer in) grows by less than ZT_BIG_SLACK_KB,
 * where one array of host descriptors for all zones would take 40 MiB and
 * one of virtio descriptors 64 MiB.
 */
static void zoned_report_memory(void *obj, void *data, QGuestAllocator *alloc)
{
    size_t len = sizeof(struct virtio_blk_zone_report) +
                 ZT_BIG_NR_ZONES * sizeof(struct virtio_blk_zone_descriptor);
    struct virtio_blk_zone_report hdr;
    struct virtio_blk_zone_descriptor last;
    long base = 0, peak;
    ZonedTest t;
    ZtRequest r;
    int i;

    zt_init(&t, obj, alloc);
    if (qtest_peak_rss_kb(t.qts) < 0) {
        g_test_skip("the host does not tell the peak resident size");
        goto out;
    }

    for (i = 0; i < 2; i++) {
        if (i == 1) {
            if (!qtest_reset_peak_rss(t.qts)) {
                g_test_skip("cannot reset the peak resident size");
                goto out;
            }
            base = qtest_peak_rss_kb(t.qts);
        }
        zt_submit(&t, &r, VIRTIO_BLK_T_ZONE_REPORT, 0, NULL, 0, len);
        g_assert_cmpuint(zt_complete(&t, &r, NULL), ==, VIRTIO_BLK_S_OK);

        /* Every zone is reported: the count, and the last descriptor */
        qtest_memread(t.qts, r.in_addr, &hdr, sizeof(hdr));
        g_assert_cmpuint(zt_host64(&t, hdr.nr_zones), ==, ZT_BIG_NR_ZONES);
        qtest_memread(t.qts, r.in_addr + len - sizeof(last), &last,
                      sizeof(last));
        g_assert_cmpuint(zt_host64(&t, last.z_start), ==,
                         (ZT_BIG_NR_ZONES - 1) * ZT_BIG_ZONE_BYTES /
                         ZT_SECTOR);
        g_assert_cmpuint(last.z_state, ==, VIRTIO_BLK_ZS_EMPTY);
    }
    peak = qtest_peak_rss_kb(t.qts);
    g_test_message("peak resident size grew by %ld kB", peak - base);
    g_assert_cmpint(peak - base, <, ZT_BIG_SLACK_KB);

out:
    zt_cleanup(&t);
}

static void zt_invalidate_qemu(void *unused)
{
    /* The zone states live in QEMU: every test case starts a new one. */
    qos_invalidate_command_line();
}

/* The drive of the test cases, with @opts added to its options */
static void zt_add_drive(GString *cmd_line, const char *opts)
{
    /*
     * The libqos virtio-blk nodes attach drive=drive0.  werror and rerror
     * stop the VM on an I/O error: zone errors are the guest's and must be
     * reported to it instead, or the request never completes here.
     */
    g_string_append(cmd_line, " -global virtio-blk-device.werror=stop"
                              " -global virtio-blk-device.rerror=stop");
    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=drive0,"
                           "size=%llu,zoned=host-managed,zone-size=%llu,"
                           "zone-nr-conv=%d,max-open-zones=%d,"
                           "max-active-zones=%d,max-append-bytes=%d,"
                           "memory-backed=on,read-only-zones.0=%d,"
                           "offline-zones.0=%d%s ",
                           ZT_CAPACITY, ZT_ZONE_BYTES, ZT_NR_CONV,
                           ZT_MAX_OPEN, ZT_MAX_ACTIVE, ZT_MAX_APPEND_BYTES,
                           ZT_RDONLY_ZONE, ZT_OFFLINE_ZONE, opts);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
}

static void *zoned_test_setup(GString *cmd_line, void *arg)
{
    zt_add_drive(cmd_line, "");
    return arg;
}

static void *zoned_4k_test_setup(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line,
                    " -global virtio-blk-device.logical_block_size=4096"
                    " -global virtio-blk-device.physical_block_size=4096");
    zt_add_drive(cmd_line, "");
    return arg;
}

static void *zoned_ro_test_setup(GString *cmd_line, void *arg)
{
    zt_add_drive(cmd_line, ",read-only=on");
    return arg;
}

static void *zoned_small_cap_setup(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line, " -global virtio-blk-device.werror=stop"
                              " -global virtio-blk-device.rerror=stop");
    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=drive0,"
                           "size=%llu,zoned=host-managed,zone-size=%llu,"
                           "zone-nr-conv=%d,zone-capacity=%d,"
                           "memory-backed=on ",
                           ZT_CAPACITY, ZT_ZONE_BYTES, ZT_NR_CONV,
                           ZT_SMALL_CAP);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    return arg;
}

static void zt_remove_qcow2(void *unused)
{
    unlink(zt_qcow2_path);
    g_free(zt_qcow2_path);
    zt_qcow2_path = NULL;
}

/*
 * A zoned qcow2 image of zoned_test_setup()'s geometry, empty, as drive0
 * with @file_opts between it and its file (a blkdebug node "d0" on file
 * "f0", or nothing); werror and rerror are @werror.  Without qemu-img, a
 * null-co zoned drive0 (the test skips).
 */
static void zt_add_qcow2(GString *cmd_line, const char *file_opts,
                         const char *werror)
{
    g_string_append_printf(cmd_line, " -global virtio-blk-device.werror=%s"
                           " -global virtio-blk-device.rerror=%s",
                           werror, werror);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    zt_qcow2_path = zoned_qcow2_create(ZT_CAPACITY, ZT_ZONE_BYTES,
                                       ZT_NR_CONV);
    if (!zt_qcow2_path) {
        g_string_append_printf(cmd_line,
                               " -blockdev driver=null-co,node-name=drive0,"
                               "size=%llu,zoned=host-managed,zone-size=%llu ",
                               ZT_CAPACITY, ZT_ZONE_BYTES);
        return;
    }
    g_string_append_printf(cmd_line,
                           " -blockdev driver=file,node-name=f0,filename=%s"
                           "%s -blockdev driver=qcow2,node-name=drive0,"
                           "file=%s ",
                           zt_qcow2_path, file_opts, *file_opts ? "d0" : "f0");
    g_test_queue_destroy(zt_remove_qcow2, NULL);
}

static void *zoned_qcow2_setup(GString *cmd_line, void *arg)
{
    zt_add_qcow2(cmd_line, "", "stop");
    return arg;
}

/*
 * zt_add_qcow2() without a write cache, on blkdebug failing the first flush
 * after qcow2 wrote guest data twice (the flushes before that succeed);
 * werror and rerror are @arg.
 */
static void *zoned_writethrough_setup(GString *cmd_line, void *arg)
{
    static const int after[] = { 2 };
    g_autofree char *blkdebug =
        zoned_qcow2_flush_errors("d0", "f0", after, ARRAY_SIZE(after));

    g_string_append(cmd_line, " -global virtio-blk-device.write-cache=off");
    zt_add_qcow2(cmd_line, blkdebug, arg);
    return arg;
}

static void *zoned_many_test_setup(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=drive0,"
                           "size=%llu,zoned=host-managed,zone-size=%llu,"
                           "latency-ns=%llu ",
                           (unsigned long long)ZT_MANY_NR_ZONES *
                           ZT_MANY_ZONE_BYTES,
                           (unsigned long long)ZT_MANY_ZONE_BYTES,
                           (unsigned long long)ZT_MANY_LATENCY_NS);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    return arg;
}

/* zoned_test_setup()'s device without the modern virtio-pci interface */
static void *zoned_legacy_test_setup(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line, " -global virtio-blk-pci.disable-modern=on"
                              " -global virtio-blk-pci.disable-legacy=off");
    return zoned_test_setup(cmd_line, arg);
}

static void *zoned_ha_test_setup(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line, " -global virtio-blk-device.werror=stop"
                              " -global virtio-blk-device.rerror=stop");
    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=drive0,"
                           "size=%d,zoned=host-aware,zone-size=%d,"
                           "max-open-zones=2,memory-backed=on,"
                           "read-only-zones.0=%d,offline-zones.0=%d ",
                           16 << 20, 1 << 20, ZT_HA_RDONLY_ZONE,
                           ZT_HA_OFFLINE_ZONE);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    return arg;
}

/* zoned_report_memory()'s drive, and guest memory for its buffer */
static void *zoned_big_test_setup(GString *cmd_line, void *arg)
{
    g_string_append_printf(cmd_line,
                           " -m 256"
                           " -blockdev driver=null-co,node-name=drive0,"
                           "size=%llu,zoned=host-managed,zone-size=%llu ",
                           ZT_BIG_NR_ZONES * ZT_BIG_ZONE_BYTES,
                           ZT_BIG_ZONE_BYTES);
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    return arg;
}

/*
 * The zoned node of zoned_test_setup under a blkdebug filter that fails the
 * first write at the start of zones 1 and 2 (a write zeroes there), at
 * sector 8 of the conventional zone 0, the first append to zone 3 and the
 * first zone operation on zone 4 with -EIO, once each.
 */
static void *zoned_media_error_setup(GString *cmd_line, void *arg)
{
    g_string_append(cmd_line, " -global virtio-blk-device.werror=stop"
                              " -global virtio-blk-device.rerror=stop");
    g_string_append_printf(cmd_line,
                           " -blockdev driver=null-co,node-name=zoned0,"
                           "size=%llu,zoned=host-managed,zone-size=%llu,"
                           "zone-nr-conv=%d,memory-backed=on"
                           " -blockdev driver=blkdebug,node-name=drive0,"
                           "image=zoned0,"
                           "inject-error.0.event=none,"
                           "inject-error.0.iotype=write,"
                           "inject-error.0.errno=%d,"
                           "inject-error.0.sector=%llu,"
                           "inject-error.0.once=on,"
                           "inject-error.1.event=none,"
                           "inject-error.1.iotype=write-zeroes,"
                           "inject-error.1.errno=%d,"
                           "inject-error.1.sector=%llu,"
                           "inject-error.1.once=on,"
                           "inject-error.2.event=none,"
                           "inject-error.2.iotype=write,"
                           "inject-error.2.errno=%d,"
                           "inject-error.2.sector=8,"
                           "inject-error.2.once=on,"
                           "inject-error.3.event=none,"
                           "inject-error.3.iotype=zone-append,"
                           "inject-error.3.errno=%d,"
                           "inject-error.3.sector=%llu,"
                           "inject-error.3.once=on,"
                           "inject-error.4.event=none,"
                           "inject-error.4.iotype=zone-mgmt,"
                           "inject-error.4.errno=%d,"
                           "inject-error.4.sector=%llu,"
                           "inject-error.4.once=on ",
                           ZT_CAPACITY, ZT_ZONE_BYTES, ZT_NR_CONV,
                           EIO, (unsigned long long)ZSTART(1), EIO,
                           (unsigned long long)ZSTART(2), EIO, EIO,
                           (unsigned long long)ZSTART(3), EIO,
                           (unsigned long long)ZSTART(4));
    g_test_queue_destroy(zt_invalidate_qemu, NULL);
    return arg;
}

static void register_virtio_blk_zoned_test(void)
{
    QOSGraphTestOptions opts = {
        .before = zoned_test_setup,
    };

    qos_add_test("zoned-config", "virtio-blk", zoned_config, &opts);
    qos_add_test("zoned-report", "virtio-blk", zoned_report, &opts);
    qos_add_test("zoned-write", "virtio-blk", zoned_write, &opts);
    qos_add_test("zoned-append", "virtio-blk", zoned_append, &opts);
    qos_add_test("zoned-mgmt", "virtio-blk", zoned_mgmt, &opts);
    qos_add_test("zoned-limits", "virtio-blk", zoned_limits, &opts);
    qos_add_test("zoned-faults", "virtio-blk", zoned_faults, &opts);
    qos_add_test("zoned-data", "virtio-blk", zoned_data, &opts);
    qos_add_test("zoned-features-ok", "virtio-blk", zoned_features_ok, &opts);
    opts.before = zoned_media_error_setup;
    qos_add_test("zoned-media-error", "virtio-blk", zoned_media_error, &opts);
    opts.before = zoned_ha_test_setup;
    qos_add_test("zoned-unzoned-driver", "virtio-blk", zoned_unzoned_driver,
                 &opts);
    qos_add_test("zoned-host-aware", "virtio-blk", zoned_host_aware, &opts);
    opts.before = zoned_4k_test_setup;
    qos_add_test("zoned-append-block-size", "virtio-blk",
                 zoned_append_block_size, &opts);
    qos_add_test("zoned-write-granularity", "virtio-blk",
                 zoned_write_granularity, &opts);
    opts.before = zoned_ro_test_setup;
    qos_add_test("zoned-read-only", "virtio-blk", zoned_read_only, &opts);
    opts.before = zoned_small_cap_setup;
    qos_add_test("zoned-no-merge", "virtio-blk", zoned_no_merge, &opts);
    opts.before = zoned_qcow2_setup;
    qos_add_test("zoned-write-in-flight", "virtio-blk", zoned_write_in_flight,
                 &opts);
    opts.before = zoned_writethrough_setup;
    opts.arg = (void *)"report";
    qos_add_test("zoned-writethrough-report", "virtio-blk",
                 zoned_writethrough_report, &opts);
    opts.arg = (void *)"stop";
    qos_add_test("zoned-writethrough-stop", "virtio-blk",
                 zoned_writethrough_stop, &opts);
    qos_add_test("zoned-writethrough-append-stop", "virtio-blk",
                 zoned_writethrough_append_stop, &opts);
    opts.arg = NULL;
    opts.before = zoned_many_test_setup;
    qos_add_test("zoned-report-reset", "virtio-blk", zoned_report_reset,
                 &opts);
    opts.before = zoned_legacy_test_setup;
    qos_add_test("zoned-legacy-driver", "virtio-blk", zoned_legacy_driver,
                 &opts);
    opts.before = zoned_big_test_setup;
    qos_add_test("zoned-report-memory", "virtio-blk", zoned_report_memory,
                 &opts);
}

libqos_init(register_virtio_blk_zoned_test);
