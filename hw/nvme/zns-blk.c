/*
 * QEMU NVM Express zoned namespaces backed by the zones of the block layer
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

/*
 * With zoned.backend=on, a zoned namespace keeps no zone state of its own:
 * the zones, their conditions and write pointers are those of the drive
 * (null-co zoned, host_device on a Linux zoned device, a raw node over
 * either), so they survive what the drive survives.  Zone Management Receive
 * reports them from zone reports of the drive, Zone Management Send changes
 * them with zone operations, Zone Append is a zone append of the drive, and
 * the errors of the drive (docs/devel/zoned-storage.rst) become ZNS statuses.
 *
 * Commands that take more than one request of the drive (reports, select-all
 * operations, the report that refines a failed write) run in a coroutine and
 * count in zns_blk.nr_running, which nvme_ns_drain() waits for: a controller
 * reset frees the queues and their requests only once they have completed.
 * They do not hold an in-flight reference of the BlockBackend across their
 * requests: a request started while the drive is drained waits for the end
 * of the drained section, and the drain would wait for the reference.
 *
 * Zone appends and reports go through a buffer of their own (at most MDTS or
 * ZASL bytes each); the buffers of all the commands of a namespace hold at
 * most NVME_ZNS_BLK_BOUNCE_MAX bytes together, whatever the guest queues:
 * a command that would go beyond waits for the ones before it.
 */

#include "qemu/osdep.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qemu/coroutine.h"
#include "qapi/error.h"
#include "block/aio-wait.h"
#include "block/block_int-common.h"
#include "system/block-backend.h"

#include "nvme.h"
#include "trace.h"

/* Zones per zone report of the drive: bounds what a command allocates */
#define NVME_ZNS_BLK_REPORT_CHUNK 64

/*
 * The smallest zone append limit Identify Controller can report: ZASL is a
 * power of two of CAP.MPSMIN pages (4 KiB) and 0 means MDTS, which cannot
 * be one page either, so ZASL=1, 8 KiB.
 */
#define NVME_ZNS_BLK_MIN_APPEND_BYTES (2 * 4096)

/* The buffers of appends and reports of a namespace, together */
#define NVME_ZNS_BLK_BOUNCE_MAX (8 * MiB)

typedef struct NvmeZnsBlkAIOCB {
    BlockAIOCB common;
    NvmeRequest *req;
    void *buf;
    size_t len;
} NvmeZnsBlkAIOCB;

/* Not cancellable: cancelling waits for the command to complete */
static const AIOCBInfo nvme_zns_blk_aiocb_info = {
    .aiocb_size = sizeof(NvmeZnsBlkAIOCB),
};

static inline uint64_t nvme_zns_blk_end(NvmeNamespace *ns)
{
    return nvme_l2b(ns, (uint64_t)ns->num_zones * ns->zone_size);
}

int nvme_zns_blk_setup(NvmeNamespace *ns, Error **errp)
{
    BlockBackend *blk = ns->blkconf.blk;
    BlockDriverState *bs = blk_bs(blk);
    const char *name = *blk_name(blk) ? blk_name(blk) :
                       bdrv_get_node_name(bs);
    g_autofree BlockZoneDescriptor *zones = NULL;
    NvmeIdNsZoned *id_ns_z;
    uint64_t zone_size, end, offset;
    uint32_t max_open, max_active, nr_conv = 0;
    int i;

    switch (bs->bl.zoned) {
    case BLK_Z_HM:
        break;
    case BLK_Z_HA:
        error_setg(errp, "zoned.backend=on: drive '%s' is host-aware, and "
                   "a zoned namespace cannot show zones that take random "
                   "writes", name);
        error_append_hint(errp, "Use the drive as a regular namespace "
                          "(without zoned.backend=on).\n");
        return -1;
    default:
        error_setg(errp, "zoned.backend=on: drive '%s' is not zoned", name);
        return -1;
    }

    if (ns->lbaf.ms) {
        error_setg(errp, "zoned.backend=on does not support metadata "
                   "(ms=%u)", ns->lbaf.ms);
        return -1;
    }

    zone_size = bs->bl.zone_size;
    if (!zone_size || zone_size % ns->lbasz) {
        error_setg(errp, "zoned.backend=on: the zone size of drive '%s' "
                   "(%" PRIu64 " bytes) is not a multiple of the logical "
                   "block size (%zu bytes)", name, zone_size, ns->lbasz);
        return -1;
    }

    /*
     * ZNS writes whole logical blocks: a drive that takes coarser writes in
     * its sequential zones (a host ZBC disk of 4 KiB physical blocks) would
     * fail writes the namespace lets the host send.
     */
    if (bs->bl.write_granularity > ns->lbasz) {
        error_setg(errp, "zoned.backend=on: drive '%s' takes writes to its "
                   "sequential zones in blocks of %" PRIu32 " bytes, more "
                   "than the logical block size (%zu bytes)", name,
                   bs->bl.write_granularity, ns->lbasz);
        error_append_hint(errp, "Set logical_block_size=%" PRIu32 ".\n",
                          bs->bl.write_granularity);
        return -1;
    }

    /* A smaller last zone is left out: the zones of a namespace are equal */
    ns->zone_size = zone_size / ns->lbasz;
    ns->num_zones = ns->size / zone_size;
    if (!ns->num_zones) {
        error_setg(errp, "zoned.backend=on: drive '%s' is smaller than a "
                   "zone", name);
        return -1;
    }
    end = nvme_zns_blk_end(ns);

    ns->zns_blk.max_append_bytes =
        (uint64_t)bs->bl.max_append_sectors << BDRV_SECTOR_BITS;
    if (ns->zns_blk.max_append_bytes < ns->lbasz) {
        error_setg(errp, "zoned.backend=on: drive '%s' does not support "
                   "zone append", name);
        return -1;
    }
    if (ns->zns_blk.max_append_bytes < NVME_ZNS_BLK_MIN_APPEND_BYTES) {
        error_setg(errp, "zoned.backend=on: the zone append limit of drive "
                   "'%s' (%" PRIu64 " bytes) is less than the smallest one "
                   "the controller can report (zoned.zasl=1, %d bytes)",
                   name, ns->zns_blk.max_append_bytes,
                   NVME_ZNS_BLK_MIN_APPEND_BYTES);
        error_append_hint(errp, "Give the drive a larger zone append limit "
                          "(null-co: max-append-bytes).\n");
        return -1;
    }

    /* Every zone must be sequential and its capacity whole blocks */
    zones = g_new(BlockZoneDescriptor, NVME_ZNS_BLK_REPORT_CHUNK);
    for (offset = 0; offset < end;) {
        unsigned int nr = NVME_ZNS_BLK_REPORT_CHUNK;
        int ret = blk_zone_report(blk, offset, &nr, zones);

        if (ret < 0) {
            error_setg_errno(errp, -ret, "zoned.backend=on: could not "
                             "report the zones of drive '%s'", name);
            return -1;
        }
        if (!nr) {
            break;
        }
        for (i = 0; i < nr && zones[i].start < end; i++) {
            if (zones[i].type == BLK_ZT_CONV) {
                nr_conv++;
            } else if (zones[i].cap % ns->lbasz) {
                error_setg(errp, "zoned.backend=on: the capacity of zone "
                           "%" PRIu64 " of drive '%s' (%" PRIu64 " bytes) "
                           "is not a multiple of the logical block size "
                           "(%zu bytes)", zones[i].start / zone_size, name,
                           zones[i].cap, ns->lbasz);
                return -1;
            }
        }
        offset = zones[nr - 1].start + zones[nr - 1].length;
    }
    if (nr_conv) {
        error_setg(errp, "zoned.backend=on: drive '%s' has %" PRIu32
                   " conventional zones, which an NVMe zoned namespace "
                   "cannot represent (its zones are all sequential write "
                   "required)", name, nr_conv);
        return -1;
    }

    id_ns_z = g_new0(NvmeIdNsZoned, 1);

    /* MAR/MOR are zeroes-based, FFFFFFFFh means no limit */
    max_active = bs->bl.max_active_zones;
    max_open = bs->bl.max_open_zones ? bs->bl.max_open_zones : max_active;
    id_ns_z->mar = cpu_to_le32(max_active - 1);
    id_ns_z->mor = cpu_to_le32(max_open - 1);

    /* The drive reads across zones; no zone descriptor extensions */
    id_ns_z->ozcs = cpu_to_le16(NVME_ID_NS_ZONED_OZCS_RAZB);
    for (i = 0; i <= ns->id_ns.nlbaf; i++) {
        if (zone_size % (1ULL << ns->id_ns.lbaf[i].ds) == 0) {
            id_ns_z->lbafe[i].zsze =
                cpu_to_le64(zone_size >> ns->id_ns.lbaf[i].ds);
        }
    }

    ns->csi = NVME_CSI_ZONED;
    ns->id_ns.nsze = cpu_to_le64((uint64_t)ns->num_zones * ns->zone_size);
    ns->id_ns.ncap = ns->id_ns.nsze;
    ns->id_ns.nuse = ns->id_ns.ncap;

    /* Reads of unwritten blocks are not reported as errors (DULBE) */
    ns->id_ns.nsfeat &= ~NVME_ID_NS_NSFEAT_DAE;

    /* A read-only drive is a write protected namespace (NSATTR bit 0) */
    if (!blk_is_writable(blk)) {
        ns->id_ns.nsattr |= NVME_ID_NS_NSATTR_WP;
    }

    ns->id_ns_zoned = id_ns_z;
    ns->zns_blk.bounce = shres_create(NVME_ZNS_BLK_BOUNCE_MAX);
    /* See nvme_zns_blk_writethrough() */
    blk_set_device_writethrough(blk, true);
    blk_set_device_zoned(blk, true);

    trace_pci_nvme_zns_blk_setup(name, ns->zone_size, ns->num_zones,
                                 max_open, max_active,
                                 ns->zns_blk.max_append_bytes);
    return 0;
}

/*
 * A zeroed buffer of @len bytes for a command, once the commands before it
 * leave room (one larger than NVME_ZNS_BLK_BOUNCE_MAX runs alone)
 */
static void *coroutine_fn nvme_zns_blk_bounce_get(NvmeNamespace *ns,
                                                   size_t len)
{
    trace_pci_nvme_zns_blk_bounce_get(nvme_nsid(ns), len);
    co_get_from_shres(ns->zns_blk.bounce, MIN(len, NVME_ZNS_BLK_BOUNCE_MAX));
    return g_malloc0(len);
}

static void coroutine_fn nvme_zns_blk_bounce_put(NvmeNamespace *ns, void *buf,
                                                 size_t len)
{
    g_free(buf);
    co_put_to_shres(ns->zns_blk.bounce, MIN(len, NVME_ZNS_BLK_BOUNCE_MAX));
}

void nvme_zns_blk_drain(NvmeNamespace *ns)
{
    AIO_WAIT_WHILE_UNLOCKED(NULL, qatomic_read(&ns->zns_blk.nr_running) > 0);
}

/*
 * Controller shutdown closes the open zones, as nvme_zoned_ns_shutdown()
 * does for the zones in memory: a zone with data becomes closed, an
 * explicitly opened empty zone empty again.  The drive keeps its zones
 * across the shutdown; left open, they would hold open resources that the
 * host does not know about when it starts again.
 */
void nvme_zns_blk_shutdown(NvmeNamespace *ns)
{
    BlockBackend *blk = ns->blkconf.blk;
    g_autofree BlockZoneDescriptor *zones =
        g_new(BlockZoneDescriptor, NVME_ZNS_BLK_REPORT_CHUNK);
    uint64_t end = nvme_zns_blk_end(ns);
    uint64_t offset = 0;

    if (!blk_is_writable(blk)) {
        return;     /* the namespace could open no zone, and can close none */
    }

    while (offset < end) {
        unsigned int nr = NVME_ZNS_BLK_REPORT_CHUNK;
        unsigned int i;
        int ret;

        ret = blk_zone_report(blk, offset, &nr, zones);
        if (ret < 0) {
            error_report("nvme: zone report failed at shutdown: %s",
                         strerror(-ret));
            return;
        }
        if (!nr) {
            break;
        }
        for (i = 0; i < nr && zones[i].start < end; i++) {
            if (zones[i].state != BLK_ZS_IOPEN &&
                zones[i].state != BLK_ZS_EOPEN) {
                continue;
            }
            ret = blk_zone_mgmt(blk, BLK_ZO_CLOSE, zones[i].start,
                                zones[i].length);
            if (ret < 0) {
                error_report("nvme: could not close the zone at LBA %" PRIu64
                             " at shutdown: %s", zones[i].start / ns->lbasz,
                             strerror(-ret));
            }
        }
        offset = zones[nr - 1].start + zones[nr - 1].length;
    }
}

/* The largest zone append, in bytes, as Identify Controller reports it */
static uint64_t nvme_zns_blk_append_limit(NvmeCtrl *n, NvmeNamespace *ns)
{
    uint64_t limit = ns->zns_blk.max_append_bytes;
    uint8_t zasl = nvme_zns_blk_zasl(n, n->params.zasl);

    if (zasl) {
        limit = MIN(limit, (uint64_t)n->page_size << zasl);
    }
    if (n->params.mdts) {
        limit = MIN(limit, (uint64_t)n->page_size << n->params.mdts);
    }
    return limit;
}

/*
 * ZASL of Identify Controller: the property zoned.zasl, lowered to the
 * largest append of every namespace of the controller backed by a drive
 * (a power of two of pages, at least two; 0 means MDTS).  Two pages of
 * CAP.MPSMIN never exceed the drive: nvme_zns_blk_setup() refuses less.
 */
uint8_t nvme_zns_blk_zasl(NvmeCtrl *n, uint8_t zasl)
{
    int i;

    for (i = 1; i <= NVME_MAX_NAMESPACES; i++) {
        NvmeNamespace *ns = nvme_ns(n, i);
        uint64_t pages;
        uint8_t shift;

        if (!ns || !nvme_ns_zoned_blk(ns)) {
            continue;
        }

        pages = ns->zns_blk.max_append_bytes / n->page_size;
        shift = pages > 1 ? 63 - clz64(pages) : 1;
        if (n->params.mdts && shift >= n->params.mdts) {
            continue;
        }
        if (!zasl || shift < zasl) {
            zasl = shift;
        }
    }

    return zasl;
}

/*
 * The status of a request of the drive that failed with @ret on a zone
 * rule (docs/devel/zoned-storage.rst), or 0 if @ret is not such an error.
 */
static uint16_t nvme_zns_blk_io_status(int ret, bool write)
{
    switch (ret) {
    case -EINVAL:
        return write ? NVME_ZONE_BOUNDARY_ERROR : 0;
    case -EIO:
        return write ? NVME_ZONE_INVALID_WRITE : 0;
    case -ETOOMANYREFS:
        return NVME_ZONE_TOO_MANY_OPEN;
    case -EOVERFLOW:
        return NVME_ZONE_TOO_MANY_ACTIVE;
    case -EROFS:
        return NVME_ZONE_READ_ONLY;
    case -ENXIO:
        return NVME_ZONE_OFFLINE;
    default:
        return 0;
    }
}

/* The status of a failed zone operation of the drive */
static uint16_t nvme_zns_blk_mgmt_status(int ret)
{
    switch (ret) {
    case 0:
        return NVME_SUCCESS;
    case -ETOOMANYREFS:
        return NVME_ZONE_TOO_MANY_OPEN | NVME_DNR;
    case -EOVERFLOW:
        return NVME_ZONE_TOO_MANY_ACTIVE | NVME_DNR;
    case -EINVAL:   /* the condition of the zone does not allow it */
    case -EROFS:    /* read-only zones only go offline */
    case -ENXIO:    /* offline zones stay offline */
        return NVME_ZONE_INVAL_TRANSITION | NVME_DNR;
    default:
        error_report("zone operation failed: %s", strerror(-ret));
        return NVME_INTERNAL_DEV_ERROR;
    }
}

static void nvme_zns_blk_complete(void *opaque, int ret)
{
    NvmeRequest *req = opaque;

    nvme_enqueue_req_completion(nvme_cq(req), req);
}

/*
 * Run @entry in a coroutine; it ends with nvme_zns_blk_done().  @len is the
 * size of the buffer that @entry takes with nvme_zns_blk_bounce_get(), if any.
 */
static uint16_t nvme_zns_blk_run(NvmeRequest *req, CoroutineEntry *entry,
                                 size_t len)
{
    NvmeNamespace *ns = req->ns;
    NvmeZnsBlkAIOCB *iocb;

    iocb = blk_aio_get(&nvme_zns_blk_aiocb_info, ns->blkconf.blk,
                       nvme_zns_blk_complete, req);
    iocb->req = req;
    iocb->buf = NULL;
    iocb->len = len;
    req->aiocb = &iocb->common;

    qatomic_inc(&ns->zns_blk.nr_running);
    qemu_coroutine_enter(qemu_coroutine_create(entry, iocb));

    return NVME_NO_COMPLETE;
}

static void coroutine_fn nvme_zns_blk_done(NvmeZnsBlkAIOCB *iocb,
                                           uint16_t status)
{
    NvmeRequest *req = iocb->req;
    NvmeNamespace *ns = req->ns;

    req->status = status;
    req->aiocb = NULL;
    if (iocb->buf) {
        nvme_zns_blk_bounce_put(ns, iocb->buf, iocb->len);
    }
    iocb->common.cb(iocb->common.opaque, 0);
    qemu_aio_unref(iocb);

    qatomic_dec(&ns->zns_blk.nr_running);
    aio_wait_kick();
}

/*
 * A write failed with -EIO: the zone is full, or the write was not at the
 * write pointer.  A report of the zone tells which; if neither, the drive
 * failed the write.
 */
static void coroutine_fn nvme_zns_blk_co_write_error(void *opaque)
{
    NvmeZnsBlkAIOCB *iocb = opaque;
    NvmeRequest *req = iocb->req;
    NvmeNamespace *ns = req->ns;
    NvmeRwCmd *rw = (NvmeRwCmd *)&req->cmd;
    uint64_t offset = nvme_l2b(ns, le64_to_cpu(rw->slba));
    BlockZoneDescriptor zone;
    unsigned int nr = 1;
    uint16_t status;
    int ret;

    ret = blk_co_zone_report(ns->blkconf.blk, offset, &nr, &zone);
    if (ret == 0 && nr == 1 && zone.state == BLK_ZS_FULL) {
        status = NVME_ZONE_FULL | NVME_DNR;
    } else if (ret == 0 && nr == 1 && zone.wp != offset) {
        status = NVME_ZONE_INVALID_WRITE | NVME_DNR;
    } else {
        error_report("nvme: write failed: %s", strerror(EIO));
        status = NVME_WRITE_FAULT;
    }

    trace_pci_nvme_zns_blk_write_error(nvme_cid(req), offset,
                                       nr ? zone.wp : 0, status);
    nvme_zns_blk_done(iocb, status);
}

/*
 * Without a volatile write cache, the block backend makes writes FUA, and a
 * driver without FUA of its own emulates it with a flush after the write
 * whose error fails the write: nvme_zns_blk_co_write_error() would find the
 * write pointer past the write and call it an invalid write, and an append
 * would be a full zone.  So the drive writes without FUA
 * (blk_set_device_writethrough()) and flushes after each write itself; a
 * failed flush is a write fault, which a retry of the write that landed
 * cannot mend (DNR).
 */
static bool nvme_zns_blk_writethrough(NvmeNamespace *ns)
{
    return !blk_enable_write_cache(ns->blkconf.blk);
}

static uint16_t nvme_zns_blk_flush_status(NvmeRequest *req, int ret)
{
    trace_pci_nvme_zns_blk_flush(nvme_cid(req), ret);
    if (ret) {
        error_report("nvme: flush after a write failed: %s", strerror(-ret));
        return NVME_WRITE_FAULT | NVME_DNR;
    }
    return NVME_SUCCESS;
}

static void nvme_zns_blk_flush_cb(void *opaque, int ret)
{
    NvmeRequest *req = opaque;
    BlockAcctStats *stats = blk_get_stats(req->ns->blkconf.blk);

    if (ret) {
        block_acct_failed(stats, &req->acct);
    } else {
        block_acct_done(stats, &req->acct);
    }
    req->aiocb = NULL;
    req->status = nvme_zns_blk_flush_status(req, ret);
    nvme_enqueue_req_completion(nvme_cq(req), req);
}

static void nvme_zns_blk_rw_cb(void *opaque, int ret)
{
    NvmeRequest *req = opaque;
    NvmeNamespace *ns = req->ns;
    BlockAcctStats *stats = blk_get_stats(ns->blkconf.blk);
    bool write = req->cmd.opcode != NVME_CMD_READ;
    uint16_t status;

    trace_pci_nvme_zns_blk_rw_cb(nvme_cid(req), ret);

    if (!ret) {
        block_acct_done(stats, &req->acct);
        if (write && nvme_zns_blk_writethrough(ns)) {
            block_acct_start(stats, &req->acct, 0, BLOCK_ACCT_FLUSH);
            req->aiocb = blk_aio_flush(ns->blkconf.blk, nvme_zns_blk_flush_cb,
                                       req);
            return;
        }
        nvme_enqueue_req_completion(nvme_cq(req), req);
        return;
    }

    block_acct_failed(stats, &req->acct);

    if (ret == -EIO && write) {
        nvme_zns_blk_run(req, nvme_zns_blk_co_write_error, 0);
        return;
    }

    /*
     * Zone errors, and data that is not RAM (nvme_dma_not_ram()), are the
     * guest's: no werror/rerror action, no message
     */
    if (nvme_dma_not_ram(req, ret)) {
        status = NVME_DATA_TRAS_ERROR;
    } else {
        status = nvme_zns_blk_io_status(ret, write);
    }
    if (status) {
        req->status = status | NVME_DNR;
    } else {
        error_report("nvme: %s failed: %s", write ? "write" : "read",
                     strerror(-ret));
        req->status = write ? NVME_WRITE_FAULT : NVME_UNRECOVERED_READ;
    }
    nvme_enqueue_req_completion(nvme_cq(req), req);
}

static uint16_t nvme_zns_blk_rw(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeRwCmd *rw = (NvmeRwCmd *)&req->cmd;
    NvmeNamespace *ns = req->ns;
    BlockBackend *blk = ns->blkconf.blk;
    uint64_t slba = le64_to_cpu(rw->slba);
    uint32_t nlb = (uint32_t)le16_to_cpu(rw->nlb) + 1;
    uint64_t data_size = nvme_l2b(ns, nlb);
    uint8_t opcode = rw->opcode;
    enum BlockAcctType type = opcode == NVME_CMD_READ ? BLOCK_ACCT_READ :
                                                        BLOCK_ACCT_WRITE;
    uint16_t status;

    trace_pci_nvme_zns_blk_rw(nvme_cid(req), nvme_io_opc_str(opcode),
                              nvme_nsid(ns), slba, nlb);

    if (opcode != NVME_CMD_WRITE_ZEROES) {
        status = nvme_check_mdts(n, data_size);
        if (status) {
            goto invalid;
        }
    }

    status = nvme_check_bounds(ns, slba, nlb);
    if (status) {
        goto invalid;
    }

    /* Writes stay in a zone; reads cross zones (OZCS.RAZB) */
    if (type == BLOCK_ACCT_WRITE &&
        slba / ns->zone_size != (slba + nlb - 1) / ns->zone_size) {
        trace_pci_nvme_zns_blk_err_boundary(nvme_cid(req), slba, nlb);
        status = NVME_ZONE_BOUNDARY_ERROR;
        goto invalid;
    }

    if (opcode == NVME_CMD_WRITE_ZEROES) {
        /* Not MAY_UNMAP: a discard would not advance the write pointer */
        block_acct_start(blk_get_stats(blk), &req->acct, 0, type);
        req->aiocb = blk_aio_pwrite_zeroes(blk, nvme_l2b(ns, slba),
                                           data_size, 0, nvme_zns_blk_rw_cb,
                                           req);
        return NVME_NO_COMPLETE;
    }

    status = nvme_map_data(n, nlb, req);
    if (status) {
        goto invalid;
    }

    block_acct_start(blk_get_stats(blk), &req->acct, data_size, type);
    if (type == BLOCK_ACCT_READ) {
        nvme_blk_read(blk, nvme_l2b(ns, slba), BDRV_SECTOR_SIZE,
                      nvme_zns_blk_rw_cb, req);
    } else {
        nvme_blk_write(blk, nvme_l2b(ns, slba), BDRV_SECTOR_SIZE,
                       nvme_zns_blk_rw_cb, req);
    }
    return NVME_NO_COMPLETE;

invalid:
    block_acct_invalid(blk_get_stats(blk), type);
    return status | NVME_DNR;
}

static void coroutine_fn nvme_zns_blk_co_append(void *opaque)
{
    NvmeZnsBlkAIOCB *iocb = opaque;
    NvmeRequest *req = iocb->req;
    NvmeNamespace *ns = req->ns;
    BlockBackend *blk = ns->blkconf.blk;
    NvmeRwCmd *rw = (NvmeRwCmd *)&req->cmd;
    NvmeZonedResult *res = (NvmeZonedResult *)&req->cqe;
    int64_t offset = nvme_l2b(ns, le64_to_cpu(rw->slba));
    QEMUIOVector qiov;
    uint16_t status = NVME_SUCCESS;
    int ret;

    iocb->buf = nvme_zns_blk_bounce_get(ns, iocb->len);
    status = nvme_h2c(nvme_ctrl(req), iocb->buf, iocb->len, req);
    if (status) {
        nvme_zns_blk_done(iocb, status);
        return;
    }
    qemu_iovec_init_buf(&qiov, iocb->buf, iocb->len);
    block_acct_start(blk_get_stats(blk), &req->acct, iocb->len,
                     BLOCK_ACCT_WRITE);

    ret = blk_co_zone_append(blk, &offset, &qiov, 0);
    if (ret == 0) {
        block_acct_done(blk_get_stats(blk), &req->acct);
        res->slba = cpu_to_le64(offset / ns->lbasz);
        if (nvme_zns_blk_writethrough(ns)) {
            status = nvme_zns_blk_flush_status(req, blk_co_flush(blk));
        }
    } else {
        block_acct_failed(blk_get_stats(blk), &req->acct);
        if (ret == -EIO) {
            /* an append is always at the write pointer: the zone is full */
            status = NVME_ZONE_FULL | NVME_DNR;
        } else if (nvme_zns_blk_io_status(ret, true)) {
            status = nvme_zns_blk_io_status(ret, true) | NVME_DNR;
        } else {
            error_report("nvme: zone append failed: %s", strerror(-ret));
            status = NVME_WRITE_FAULT;
        }
    }

    trace_pci_nvme_zns_blk_append_done(nvme_cid(req), ret == 0 ? offset : -1,
                                       status);
    nvme_zns_blk_done(iocb, status);
}

static uint16_t nvme_zns_blk_append(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeRwCmd *rw = (NvmeRwCmd *)&req->cmd;
    NvmeNamespace *ns = req->ns;
    uint64_t slba = le64_to_cpu(rw->slba);
    uint32_t nlb = (uint32_t)le16_to_cpu(rw->nlb) + 1;
    uint64_t data_size = nvme_l2b(ns, nlb);
    uint16_t status;

    trace_pci_nvme_zns_blk_append(nvme_cid(req), nvme_nsid(ns), slba, nlb);

    status = nvme_check_bounds(ns, slba, 1);
    if (status) {
        return status;
    }
    if (slba % ns->zone_size) {
        trace_pci_nvme_err_append_not_at_start(slba,
                                               slba - slba % ns->zone_size);
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (data_size > nvme_zns_blk_append_limit(n, ns)) {
        trace_pci_nvme_err_zasl(data_size);
        return NVME_INVALID_FIELD | NVME_DNR;
    }

    /* At most ZASL: the data goes through a buffer to blk_co_zone_append() */
    return nvme_zns_blk_run(req, nvme_zns_blk_co_append, data_size);
}

static bool nvme_zns_blk_zone_matches(uint8_t zrasf, BlockZoneState state)
{
    switch (zrasf) {
    case NVME_ZONE_REPORT_ALL:
        return true;
    case NVME_ZONE_REPORT_EMPTY:
        return state == BLK_ZS_EMPTY;
    case NVME_ZONE_REPORT_IMPLICITLY_OPEN:
        return state == BLK_ZS_IOPEN;
    case NVME_ZONE_REPORT_EXPLICITLY_OPEN:
        return state == BLK_ZS_EOPEN;
    case NVME_ZONE_REPORT_CLOSED:
        return state == BLK_ZS_CLOSED;
    case NVME_ZONE_REPORT_FULL:
        return state == BLK_ZS_FULL;
    case NVME_ZONE_REPORT_READ_ONLY:
        return state == BLK_ZS_RDONLY;
    case NVME_ZONE_REPORT_OFFLINE:
        return state == BLK_ZS_OFFLINE;
    default:
        return false;
    }
}

static void nvme_zns_blk_fill_descr(NvmeNamespace *ns, NvmeZoneDescr *d,
                                    BlockZoneDescriptor *z)
{
    d->zt = NVME_ZONE_TYPE_SEQ_WRITE;
    d->zs = z->state << 4;    /* the block layer uses the ZNS codes */
    d->zcap = cpu_to_le64(z->cap / ns->lbasz);
    d->zslba = cpu_to_le64(z->start / ns->lbasz);

    switch (z->state) {
    case BLK_ZS_EMPTY:
    case BLK_ZS_IOPEN:
    case BLK_ZS_EOPEN:
    case BLK_ZS_CLOSED:
        d->wp = cpu_to_le64(z->wp / ns->lbasz);
        break;
    default:
        d->wp = cpu_to_le64(~0ULL);   /* no valid write pointer */
        break;
    }
}

/*
 * Report the zones from the one that holds SLBA, in chunks of the drive's
 * zone reports: descriptors for as many as the buffer holds, and the number
 * of zones that match the filter up to the end of the namespace (or, with
 * the partial report bit, the number of descriptors).
 */
static void coroutine_fn nvme_zns_blk_co_report(void *opaque)
{
    NvmeZnsBlkAIOCB *iocb = opaque;
    NvmeRequest *req = iocb->req;
    NvmeNamespace *ns = req->ns;
    NvmeCmd *cmd = &req->cmd;
    uint32_t dw13 = le32_to_cpu(cmd->cdw13);
    uint8_t zrasf = (dw13 >> 8) & 0xff;
    bool partial = (dw13 >> 16) & 0x1;
    uint64_t slba = le32_to_cpu(cmd->cdw10) |
                    (uint64_t)le32_to_cpu(cmd->cdw11) << 32;
    uint64_t max_descr = (iocb->len - sizeof(NvmeZoneReportHeader)) /
                         sizeof(NvmeZoneDescr);
    uint64_t end = nvme_zns_blk_end(ns);
    uint64_t offset = nvme_l2b(ns, slba - slba % ns->zone_size);
    uint64_t nr_descr = 0, nr_matching = 0;
    NvmeZoneReportHeader *header;
    NvmeZoneDescr *descr;
    g_autofree BlockZoneDescriptor *zones = NULL;
    uint16_t status = NVME_SUCCESS;

    iocb->buf = nvme_zns_blk_bounce_get(ns, iocb->len);
    header = iocb->buf;
    descr = iocb->buf + sizeof(NvmeZoneReportHeader);
    zones = g_new(BlockZoneDescriptor, NVME_ZNS_BLK_REPORT_CHUNK);

    while (offset < end && !(partial && nr_descr == max_descr)) {
        unsigned int nr = NVME_ZNS_BLK_REPORT_CHUNK;
        unsigned int i;
        int ret;

        ret = blk_co_zone_report(ns->blkconf.blk, offset, &nr, zones);
        if (ret < 0) {
            error_report("nvme: zone report failed: %s", strerror(-ret));
            status = NVME_INTERNAL_DEV_ERROR;
            goto out;
        }
        if (!nr) {
            break;
        }

        for (i = 0; i < nr && zones[i].start < end; i++) {
            if (!nvme_zns_blk_zone_matches(zrasf, zones[i].state)) {
                continue;
            }
            if (nr_descr < max_descr) {
                nvme_zns_blk_fill_descr(ns, &descr[nr_descr++], &zones[i]);
            } else if (partial) {
                break;
            }
            nr_matching++;
        }
        offset = zones[nr - 1].start + zones[nr - 1].length;
    }

    header->nr_zones = cpu_to_le64(partial ? nr_descr : nr_matching);
    trace_pci_nvme_zns_blk_report_done(nvme_cid(req), nr_descr,
                                       le64_to_cpu(header->nr_zones));
    status = nvme_c2h(nvme_ctrl(req), iocb->buf, iocb->len, req);

out:
    nvme_zns_blk_done(iocb, status);
}

static uint16_t nvme_zns_blk_zone_mgmt_recv(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeCmd *cmd = &req->cmd;
    NvmeNamespace *ns = req->ns;
    /* cdw12 is the zeroes-based number of dwords to return */
    uint64_t data_size = ((uint64_t)le32_to_cpu(cmd->cdw12) + 1) << 2;
    uint32_t dw13 = le32_to_cpu(cmd->cdw13);
    uint8_t zra = dw13 & 0xff;
    uint8_t zrasf = (dw13 >> 8) & 0xff;
    uint64_t slba = le32_to_cpu(cmd->cdw10) |
                    (uint64_t)le32_to_cpu(cmd->cdw11) << 32;
    uint64_t zones_left, len;
    uint16_t status;

    trace_pci_nvme_zns_blk_report(nvme_cid(req), nvme_nsid(ns), slba, zra,
                                  zrasf, (dw13 >> 16) & 0x1, data_size);

    if (slba >= le64_to_cpu(ns->id_ns.nsze)) {
        trace_pci_nvme_err_invalid_lba_range(slba, 0,
                                             le64_to_cpu(ns->id_ns.nsze));
        return NVME_LBA_RANGE | NVME_DNR;
    }

    /* No zone descriptor extensions, so no extended report */
    if (zra != NVME_ZONE_REPORT) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (zrasf > NVME_ZONE_REPORT_OFFLINE) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    if (data_size < sizeof(NvmeZoneReportHeader)) {
        return NVME_INVALID_FIELD | NVME_DNR;
    }
    status = nvme_check_mdts(n, data_size);
    if (status) {
        return status;
    }

    /* Transfer no more than the descriptors of the zones that are left */
    zones_left = ns->num_zones - slba / ns->zone_size;
    len = MIN(data_size, sizeof(NvmeZoneReportHeader) +
                         zones_left * sizeof(NvmeZoneDescr));

    return nvme_zns_blk_run(req, nvme_zns_blk_co_report, len);
}

/* Whether select-all applies @action to a zone in @state (ZNS, 4.5) */
static bool nvme_zns_blk_all_selects(uint8_t action, BlockZoneState state)
{
    bool open = state == BLK_ZS_IOPEN || state == BLK_ZS_EOPEN;

    switch (action) {
    case NVME_ZONE_ACTION_OPEN:
        return state == BLK_ZS_CLOSED;
    case NVME_ZONE_ACTION_CLOSE:
        return open;
    case NVME_ZONE_ACTION_FINISH:
        return open || state == BLK_ZS_CLOSED;
    case NVME_ZONE_ACTION_RESET:
        return open || state == BLK_ZS_CLOSED || state == BLK_ZS_FULL;
    case NVME_ZONE_ACTION_OFFLINE:
        return state == BLK_ZS_RDONLY;
    default:
        return false;
    }
}

/*
 * Apply @action to one zone.  A drive cannot take zones offline: an offline
 * zone stays so, and the others, read-only ones too, cannot change.
 */
static uint16_t coroutine_fn nvme_zns_blk_co_zone_action(NvmeNamespace *ns,
                                                         uint8_t action,
                                                         BlockZoneDescriptor *z)
{
    static const BlockZoneOp ops[] = {
        [NVME_ZONE_ACTION_OPEN] = BLK_ZO_OPEN,
        [NVME_ZONE_ACTION_CLOSE] = BLK_ZO_CLOSE,
        [NVME_ZONE_ACTION_FINISH] = BLK_ZO_FINISH,
        [NVME_ZONE_ACTION_RESET] = BLK_ZO_RESET,
    };

    trace_pci_nvme_zns_blk_zone_action(action, z->start / ns->lbasz,
                                       z->state);

    if (action == NVME_ZONE_ACTION_OFFLINE) {
        return z->state == BLK_ZS_OFFLINE ? NVME_SUCCESS :
                                            NVME_ZONE_INVAL_TRANSITION |
                                            NVME_DNR;
    }

    return nvme_zns_blk_mgmt_status(blk_co_zone_mgmt(ns->blkconf.blk,
                                                     ops[action], z->start,
                                                     z->length));
}

static void coroutine_fn nvme_zns_blk_co_mgmt(void *opaque)
{
    NvmeZnsBlkAIOCB *iocb = opaque;
    NvmeRequest *req = iocb->req;
    NvmeNamespace *ns = req->ns;
    NvmeZoneSendCmd *cmd = (NvmeZoneSendCmd *)&req->cmd;
    bool all = cmd->zsflags & NVME_ZSFLAG_SELECT_ALL;
    uint64_t end = nvme_zns_blk_end(ns);
    uint64_t offset = all ? 0 : nvme_l2b(ns, le64_to_cpu(cmd->slba));
    g_autofree BlockZoneDescriptor *zones = NULL;
    uint16_t status = NVME_SUCCESS;

    zones = g_new(BlockZoneDescriptor, NVME_ZNS_BLK_REPORT_CHUNK);

    while (offset < end) {
        unsigned int nr = all ? NVME_ZNS_BLK_REPORT_CHUNK : 1;
        unsigned int i;
        int ret;

        ret = blk_co_zone_report(ns->blkconf.blk, offset, &nr, zones);
        if (ret < 0 || !nr) {
            error_report("nvme: zone report failed: %s", strerror(-ret));
            status = NVME_INTERNAL_DEV_ERROR;
            break;
        }

        if (!all) {
            status = nvme_zns_blk_co_zone_action(ns, cmd->zsa, &zones[0]);
            break;
        }

        for (i = 0; i < nr && zones[i].start < end && !status; i++) {
            if (nvme_zns_blk_all_selects(cmd->zsa, zones[i].state)) {
                status = nvme_zns_blk_co_zone_action(ns, cmd->zsa,
                                                     &zones[i]);
            }
        }
        if (status) {
            break;
        }
        offset = zones[nr - 1].start + zones[nr - 1].length;
    }

    nvme_zns_blk_done(iocb, status);
}

static uint16_t nvme_zns_blk_zone_mgmt_send(NvmeCtrl *n, NvmeRequest *req)
{
    NvmeZoneSendCmd *cmd = (NvmeZoneSendCmd *)&req->cmd;
    NvmeNamespace *ns = req->ns;
    bool all = cmd->zsflags & NVME_ZSFLAG_SELECT_ALL;
    uint64_t slba = le64_to_cpu(cmd->slba);

    trace_pci_nvme_zns_blk_mgmt(nvme_cid(req), nvme_nsid(ns), slba, cmd->zsa,
                                all);

    if (!all) {
        if (slba >= le64_to_cpu(ns->id_ns.nsze)) {
            trace_pci_nvme_err_invalid_lba_range(slba, 0,
                                                 le64_to_cpu(ns->id_ns.nsze));
            return NVME_LBA_RANGE | NVME_DNR;
        }
        if (slba % ns->zone_size) {
            trace_pci_nvme_err_unaligned_zone_cmd(cmd->zsa, slba,
                                                  slba - slba % ns->zone_size);
            return NVME_INVALID_FIELD | NVME_DNR;
        }
    }

    switch (cmd->zsa) {
    case NVME_ZONE_ACTION_OPEN:
        if (cmd->zsflags & NVME_ZSFLAG_ZRWA_ALLOC) {
            return NVME_INVALID_ZONE_OP | NVME_DNR;    /* no ZRWA */
        }
        /* fall through */
    case NVME_ZONE_ACTION_CLOSE:
    case NVME_ZONE_ACTION_FINISH:
    case NVME_ZONE_ACTION_RESET:
    case NVME_ZONE_ACTION_OFFLINE:
        return nvme_zns_blk_run(req, nvme_zns_blk_co_mgmt, 0);

    case NVME_ZONE_ACTION_ZRWA_FLUSH:
        return all ? NVME_INVALID_FIELD | NVME_DNR :
                     NVME_INVALID_ZONE_OP | NVME_DNR;

    case NVME_ZONE_ACTION_SET_ZD_EXT:   /* no zone descriptor extensions */
    default:
        trace_pci_nvme_err_invalid_mgmt_action(cmd->zsa);
        return NVME_INVALID_FIELD | NVME_DNR;
    }
}

bool nvme_zns_blk_cmd(uint8_t opcode)
{
    switch (opcode) {
    case NVME_CMD_READ:
    case NVME_CMD_WRITE:
    case NVME_CMD_WRITE_ZEROES:
    case NVME_CMD_COPY:
    case NVME_CMD_ZONE_APPEND:
    case NVME_CMD_ZONE_MGMT_SEND:
    case NVME_CMD_ZONE_MGMT_RECV:
        return true;
    default:
        return false;
    }
}

uint16_t nvme_zns_blk_io_cmd(NvmeCtrl *n, NvmeRequest *req)
{
    switch (req->cmd.opcode) {
    case NVME_CMD_WRITE:
    case NVME_CMD_WRITE_ZEROES:
    case NVME_CMD_ZONE_APPEND:
    case NVME_CMD_ZONE_MGMT_SEND:
        /*
         * Nothing may change a write protected namespace: not its data,
         * not its zones.  The drive would refuse it too, but as an error of
         * its own (a message and a Write Fault per command).
         */
        if (!blk_is_writable(req->ns->blkconf.blk)) {
            trace_pci_nvme_zns_blk_write_protected(nvme_cid(req),
                                                   req->cmd.opcode);
            return NVME_NS_WRITE_PROTECTED | NVME_DNR;
        }
        break;
    }

    switch (req->cmd.opcode) {
    case NVME_CMD_READ:
    case NVME_CMD_WRITE:
    case NVME_CMD_WRITE_ZEROES:
        return nvme_zns_blk_rw(n, req);
    case NVME_CMD_ZONE_APPEND:
        return nvme_zns_blk_append(n, req);
    case NVME_CMD_ZONE_MGMT_SEND:
        return nvme_zns_blk_zone_mgmt_send(n, req);
    case NVME_CMD_ZONE_MGMT_RECV:
        return nvme_zns_blk_zone_mgmt_recv(n, req);
    case NVME_CMD_COPY:
    default:
        /* Copy would need the zone checks of every range: not supported */
        trace_pci_nvme_err_invalid_opc(req->cmd.opcode);
        return NVME_INVALID_OPCODE | NVME_DNR;
    }
}
