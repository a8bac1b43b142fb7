/*
 * Zone emulation: the zone state machine of a zoned block device
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * See include/block/zone-emu.h for the model and the error conventions.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/host-utils.h"
#include "qemu/coroutine.h"
#include "block/block_int-common.h"
#include "block/zone-emu.h"
#include "trace.h"

/*
 * The zone array takes host memory: 4 Mi zones are a 1 PiB device of
 * 256 MiB zones, in about 300 MiB.
 */
#define ZONE_EMU_MAX_ZONES (4u << 20)

typedef struct EmuZone {
    uint64_t start;
    uint64_t len;           /* the zone size; the last zone may be smaller */
    uint64_t cap;           /* writable bytes from start */
    uint64_t wp;            /* the data below it is written */
    /*
     * Sequential-write-required zones: the writes in flight go up to
     * wp_alloc; each moves wp when it and the ones below it are done.
     */
    uint64_t wp_alloc;
    uint32_t in_flight;
    uint32_t epoch;         /* changes when a write in flight fails */
    uint64_t open_seq;      /* when implicitly opened: the oldest is closed */
    BlockZoneType type;
    BlockZoneState cond;
} EmuZone;

struct BlockZoneEmu {
    BlockZoneEmuConfig cfg;
    CoMutex lock;
    /* Writes that wait for the ones below them, and zones for their writes */
    CoQueue waiters;
    unsigned zone_shift;
    uint32_t nr_zones;
    EmuZone *zones;
    /*
     * Resource accounting: open zones are the implicitly and explicitly
     * open ones; active zones are the open and the closed ones.
     */
    uint32_t nr_imp_open;
    uint32_t nr_exp_open;
    uint32_t nr_closed;
    uint64_t open_seq;
    /* Bumped whenever a write pointer moves: tells a driver what to save. */
    uint64_t generation;
    uint64_t *saved_wps;    /* what block_zone_emu_save() gives a driver */
};

static const char *zone_cond_name(BlockZoneState cond)
{
    switch (cond) {
    case BLK_ZS_NOT_WP:
        return "not-write-pointer";
    case BLK_ZS_EMPTY:
        return "empty";
    case BLK_ZS_IOPEN:
        return "implicitly-open";
    case BLK_ZS_EOPEN:
        return "explicitly-open";
    case BLK_ZS_CLOSED:
        return "closed";
    case BLK_ZS_RDONLY:
        return "read-only";
    case BLK_ZS_FULL:
        return "full";
    case BLK_ZS_OFFLINE:
        return "offline";
    }
    return "?";
}

static void zone_set_cond(BlockZoneEmu *ze, EmuZone *z, BlockZoneState cond)
{
    trace_zone_emu_cond(ze, z->start, zone_cond_name(z->cond),
                        zone_cond_name(cond));
    z->cond = cond;
}

/* Limits are enforced for host-managed devices; host-aware ones only hint. */
static bool zone_limits_enforced(BlockZoneEmu *ze)
{
    return ze->cfg.model == BLK_Z_HM;
}

/* ZNS "Active Resources", ZBC max active: a zone that leaves empty needs one */
static int zone_check_active(BlockZoneEmu *ze)
{
    uint32_t active = ze->nr_imp_open + ze->nr_exp_open + ze->nr_closed;

    if (!zone_limits_enforced(ze) || !ze->cfg.max_active_zones ||
        active < ze->cfg.max_active_zones) {
        return 0;
    }
    return -EOVERFLOW;
}

/* The zone leaves an open or closed condition: give back what it held. */
static void zone_put_resources(BlockZoneEmu *ze, EmuZone *z)
{
    switch (z->cond) {
    case BLK_ZS_IOPEN:
        ze->nr_imp_open--;
        break;
    case BLK_ZS_EOPEN:
        ze->nr_exp_open--;
        break;
    case BLK_ZS_CLOSED:
        ze->nr_closed--;
        break;
    default:
        /* Empty, full, read-only and offline zones hold nothing. */
        break;
    }
}

static void zone_close_locked(BlockZoneEmu *ze, EmuZone *z)
{
    zone_put_resources(ze, z);
    if (z->wp_alloc == z->start) {
        zone_set_cond(ze, z, BLK_ZS_EMPTY);
    } else {
        ze->nr_closed++;
        zone_set_cond(ze, z, BLK_ZS_CLOSED);
    }
}

/*
 * ZBC-2 "manage open zone resources": when the open limit is reached, the
 * least recently opened implicitly open zone is closed to make room; if every
 * open zone is explicitly open, there is no room.
 */
static int zone_check_open(BlockZoneEmu *ze)
{
    EmuZone *oldest = NULL;
    uint32_t i;

    if (!zone_limits_enforced(ze) || !ze->cfg.max_open_zones ||
        ze->nr_imp_open + ze->nr_exp_open < ze->cfg.max_open_zones) {
        return 0;
    }
    if (!ze->nr_imp_open) {
        return -ETOOMANYREFS;
    }
    for (i = 0; i < ze->nr_zones; i++) {
        EmuZone *z = &ze->zones[i];
        if (z->cond == BLK_ZS_IOPEN &&
            (!oldest || z->open_seq < oldest->open_seq)) {
            oldest = z;
        }
    }
    zone_close_locked(ze, oldest);
    return 0;
}

/* Resources for a zone about to become open. */
static int zone_check_resources(BlockZoneEmu *ze, EmuZone *z)
{
    int ret;

    switch (z->cond) {
    case BLK_ZS_EMPTY:
        ret = zone_check_active(ze);
        if (ret) {
            return ret;
        }
        /* fall through */
    case BLK_ZS_CLOSED:
        return zone_check_open(ze);
    default:
        /* Already open: nothing more to account. */
        return 0;
    }
}

static int zone_bad_cond(EmuZone *z)
{
    switch (z->cond) {
    case BLK_ZS_OFFLINE:
        return -ENXIO;
    case BLK_ZS_RDONLY:
        return -EROFS;
    default:
        return 0;
    }
}

static EmuZone *zone_at(BlockZoneEmu *ze, uint64_t offset)
{
    return &ze->zones[offset >> ze->zone_shift];
}

/* Zone management waits for the writes in flight to a zone. */
static void coroutine_fn zone_wait_idle_locked(BlockZoneEmu *ze, EmuZone *z)
{
    while (z->in_flight) {
        qemu_co_queue_wait(&ze->waiters, &ze->lock);
    }
}

/*
 * A write of [offset, offset + bytes) to a sequential-write-required zone,
 * at the write pointer once the writes in flight are done (wp_alloc), with
 * the zone open for it: store the data without the zones locked, so that
 * the writes to a zone go on at once, as on a device; then move the write
 * pointer, in the order of the writes.  A write fails if one below it in
 * the zone failed: a write pointer never moves over data that is not there.
 */
static int coroutine_fn zone_write_swr_locked(BlockZoneEmu *ze, EmuZone *z,
                                              uint64_t offset, uint64_t bytes,
                                              BlockZoneEmuStoreFunc *store,
                                              void *opaque,
                                              uint64_t req_offset)
{
    uint32_t epoch = z->epoch;
    int ret = 0;

    z->wp_alloc = offset + bytes;
    z->in_flight++;
    if (store) {
        qemu_co_mutex_unlock(&ze->lock);
        ret = store(opaque, offset, bytes, req_offset);
        qemu_co_mutex_lock(&ze->lock);
    }
    while (z->epoch == epoch && z->wp != offset) {
        qemu_co_queue_wait(&ze->waiters, &ze->lock);
    }
    z->in_flight--;
    if (z->epoch != epoch) {
        ret = ret ?: -EIO;
    } else if (ret) {
        /* The writes in flight above this one fail: they would leave a hole */
        z->wp_alloc = z->wp;
        z->epoch++;
        if (z->wp == z->start && z->cond == BLK_ZS_IOPEN) {
            /* Nothing was written: the zone stays empty */
            zone_put_resources(ze, z);
            zone_set_cond(ze, z, BLK_ZS_EMPTY);
        }
    } else {
        z->wp = offset + bytes;
        ze->generation++;
        if (z->wp == z->start + z->cap) {
            zone_put_resources(ze, z);
            zone_set_cond(ze, z, BLK_ZS_FULL);
        }
    }
    qemu_co_queue_restart_all(&ze->waiters);
    return ret;
}

/*
 * A write of [offset, offset + bytes) inside zone @z, @bytes > 0, whose data
 * starts at byte @req_offset of the request.
 */
static int coroutine_fn zone_write_locked(BlockZoneEmu *ze, EmuZone *z,
                                          uint64_t offset, uint64_t bytes,
                                          BlockZoneEmuStoreFunc *store,
                                          void *opaque, uint64_t req_offset)
{
    int ret;

    /*
     * A write that starts where the writes in flight to the zone are going
     * is judged when they are done, as a drive judges commands in order: it
     * fails if they move the write pointer past it, and goes on if one
     * fails and leaves the write pointer at it.  Judged at once, it would
     * fail with the write pointer that a report shows at its start, which
     * a frontend takes for the drive failing the write.
     */
    while (z->type == BLK_ZT_SWR && z->in_flight &&
           offset >= z->wp && offset < z->wp_alloc) {
        qemu_co_queue_wait(&ze->waiters, &ze->lock);
    }
    ret = zone_bad_cond(z);
    if (ret) {
        return ret;
    }
    if ((offset | bytes) % BDRV_SECTOR_SIZE) {
        /* A write pointer moves by whole logical blocks only. */
        return -EINVAL;
    }
    if (z->type == BLK_ZT_SWR &&
        (z->cond == BLK_ZS_FULL || z->wp_alloc == z->start + z->cap)) {
        /*
         * A full zone, before the capacity check: an append goes to the
         * write pointer, at the capacity, and is no boundary violation.
         */
        return -EIO;
    }
    if (offset + bytes > z->start + z->cap) {
        /* Crosses the zone's capacity (ZBC: write boundary violation). */
        return -EINVAL;
    }
    if (z->type == BLK_ZT_SWR && offset != z->wp_alloc) {
        return -EIO;
    }
    if (z->cond == BLK_ZS_EMPTY || z->cond == BLK_ZS_CLOSED) {
        /* May close the oldest implicitly open zone to make room. */
        ret = zone_check_resources(ze, z);
        if (ret) {
            return ret;
        }
    }
    if (z->type == BLK_ZT_SWR) {
        if (z->cond == BLK_ZS_EMPTY || z->cond == BLK_ZS_CLOSED) {
            zone_put_resources(ze, z);
            ze->nr_imp_open++;
            z->open_seq = ++ze->open_seq;
            zone_set_cond(ze, z, BLK_ZS_IOPEN);
        }
        return zone_write_swr_locked(ze, z, offset, bytes, store, opaque,
                                     req_offset);
    }

    /* Host-aware: the data is stored with the zones locked. */
    if (offset > z->wp && z->cond != BLK_ZS_FULL && ze->cfg.zone_finish_cb) {
        /*
         * The write pointer moves over [wp, offset), which nothing wrote
         * since the zone was empty: it must read as zeroes, whatever a
         * crash or a failed write left there, as for a finish.
         */
        ret = ze->cfg.zone_finish_cb(ze->cfg.opaque, z->wp, offset);
        if (ret) {
            return ret;
        }
    }
    if (store) {
        ret = store(opaque, offset, bytes, req_offset);
        if (ret) {
            return ret;
        }
    }

    switch (z->cond) {
    case BLK_ZS_EMPTY:
    case BLK_ZS_CLOSED:
        zone_put_resources(ze, z);
        ze->nr_imp_open++;
        z->open_seq = ++ze->open_seq;
        zone_set_cond(ze, z, BLK_ZS_IOPEN);
        break;
    case BLK_ZS_FULL:
        /* Host-aware: rewriting a full zone leaves it full. */
        return 0;
    default:
        break;
    }

    z->wp = z->wp_alloc = MAX(z->wp, offset + bytes);
    ze->generation++;
    if (z->wp == z->start + z->cap) {
        zone_put_resources(ze, z);
        zone_set_cond(ze, z, BLK_ZS_FULL);
    }
    return 0;
}

int coroutine_fn block_zone_emu_write(BlockZoneEmu *ze, int64_t offset,
                                      int64_t bytes,
                                      BlockZoneEmuStoreFunc *store,
                                      void *opaque)
{
    uint64_t capacity = ze->cfg.capacity;
    EmuZone *z;
    int ret = 0;

    if (offset < 0 || bytes < 0 || offset > capacity ||
        bytes > capacity - offset) {
        return -EINVAL;
    }
    if (!bytes) {
        return 0;
    }

    qemu_co_mutex_lock(&ze->lock);
    z = zone_at(ze, offset);
    if (z->type == BLK_ZT_CONV) {
        /*
         * Conventional zones come first: a write may span them, but not
         * leave them.
         */
        uint64_t conv_end = (uint64_t)ze->cfg.nr_conv_zones << ze->zone_shift;

        if (offset + bytes > conv_end) {
            ret = -EINVAL;
        } else if (store) {
            /* No zone state to keep: no need to hold the zones. */
            qemu_co_mutex_unlock(&ze->lock);
            ret = store(opaque, offset, bytes, 0);
            qemu_co_mutex_lock(&ze->lock);
        }
    } else if (z->type == BLK_ZT_SWP) {
        /* Host-aware: a write may span zones; each one's pointer moves. */
        uint64_t pos = offset, end = offset + bytes;
        uint64_t first = offset >> ze->zone_shift;
        uint64_t last = (end - 1) >> ze->zone_shift;
        uint64_t i;

        for (i = first; i <= last && !ret; i++) {
            ret = zone_bad_cond(&ze->zones[i]);
        }
        for (i = first; i <= last && !ret; i++) {
            z = &ze->zones[i];
            ret = zone_write_locked(ze, z, pos,
                                    MIN(end, z->start + z->len) - pos,
                                    store, opaque, pos - offset);
            pos = z->start + z->len;
        }
    } else if (offset + bytes > z->start + z->len) {
        ret = -EINVAL;
    } else {
        ret = zone_write_locked(ze, z, offset, bytes, store, opaque, 0);
    }
    qemu_co_mutex_unlock(&ze->lock);
    trace_zone_emu_write(ze, offset, bytes, ret);
    return ret;
}

int coroutine_fn block_zone_emu_append(BlockZoneEmu *ze, int64_t *offset,
                                       int64_t bytes,
                                       BlockZoneEmuStoreFunc *store,
                                       void *opaque)
{
    EmuZone *z;
    int ret;

    if (*offset < 0 || *offset >= ze->cfg.capacity || bytes < 0 ||
        (*offset & ((1ULL << ze->zone_shift) - 1))) {
        return -EINVAL;
    }
    /* Whole blocks, at least one, as bdrv_co_zone_append() checks too. */
    if (!bytes || bytes % BDRV_SECTOR_SIZE ||
        bytes > ze->cfg.max_append_bytes) {
        return -EINVAL;
    }

    qemu_co_mutex_lock(&ze->lock);
    z = zone_at(ze, *offset);
    if (z->type == BLK_ZT_CONV) {
        ret = -EINVAL;
    } else {
        /* After the writes in flight, as a device would process it */
        uint64_t wp = z->type == BLK_ZT_SWR ? z->wp_alloc : z->wp;
        ret = zone_write_locked(ze, z, wp, bytes, store, opaque, 0);
        if (!ret) {
            *offset = wp;
        }
    }
    qemu_co_mutex_unlock(&ze->lock);
    trace_zone_emu_append(ze, z->start, bytes, ret);
    return ret;
}

int coroutine_fn block_zone_emu_read(BlockZoneEmu *ze, int64_t offset,
                                     int64_t bytes)
{
    uint64_t i, first, last;
    int ret = 0;

    if (offset < 0 || bytes < 0 || offset > ze->cfg.capacity ||
        bytes > ze->cfg.capacity - offset) {
        return -EINVAL;
    }
    if (!bytes || !ze->cfg.nr_offline_zones) {
        return 0;
    }
    first = offset >> ze->zone_shift;
    last = (offset + bytes - 1) >> ze->zone_shift;
    qemu_co_mutex_lock(&ze->lock);
    for (i = first; i <= last; i++) {
        if (ze->zones[i].cond == BLK_ZS_OFFLINE) {
            ret = -ENXIO;
            break;
        }
    }
    qemu_co_mutex_unlock(&ze->lock);
    return ret;
}

static int zone_open_locked(BlockZoneEmu *ze, EmuZone *z)
{
    int ret;

    switch (z->cond) {
    case BLK_ZS_EOPEN:
        /* Opening an explicitly open zone is not an error. */
        return 0;
    case BLK_ZS_IOPEN:
        break;
    case BLK_ZS_EMPTY:
    case BLK_ZS_CLOSED:
        ret = zone_check_resources(ze, z);
        if (ret) {
            return ret;
        }
        break;
    case BLK_ZS_FULL:
        return -EINVAL;
    default:
        return zone_bad_cond(z);
    }
    zone_put_resources(ze, z);
    ze->nr_exp_open++;
    zone_set_cond(ze, z, BLK_ZS_EOPEN);
    return 0;
}

static int zone_close_op_locked(BlockZoneEmu *ze, EmuZone *z)
{
    switch (z->cond) {
    case BLK_ZS_CLOSED:
        /* Closing a closed zone is not an error. */
        return 0;
    case BLK_ZS_IOPEN:
    case BLK_ZS_EOPEN:
        zone_close_locked(ze, z);
        return 0;
    case BLK_ZS_EMPTY:
    case BLK_ZS_FULL:
        return -EINVAL;
    default:
        return zone_bad_cond(z);
    }
}

static int coroutine_fn zone_finish_locked(BlockZoneEmu *ze, EmuZone *z)
{
    int ret;

    switch (z->cond) {
    case BLK_ZS_FULL:
        /* Finishing a full zone is not an error. */
        return 0;
    case BLK_ZS_EMPTY:
        ret = zone_check_active(ze);
        if (ret) {
            return ret;
        }
        break;
    case BLK_ZS_IOPEN:
    case BLK_ZS_EOPEN:
    case BLK_ZS_CLOSED:
        break;
    default:
        return zone_bad_cond(z);
    }
    if (ze->cfg.zone_finish_cb && z->wp < z->start + z->cap) {
        ret = ze->cfg.zone_finish_cb(ze->cfg.opaque, z->wp, z->start + z->cap);
        if (ret) {
            return ret;
        }
    }
    zone_put_resources(ze, z);
    z->wp = z->wp_alloc = z->start + z->cap;
    ze->generation++;
    zone_set_cond(ze, z, BLK_ZS_FULL);
    return 0;
}

static int coroutine_fn zone_reset_locked(BlockZoneEmu *ze, EmuZone *z)
{
    int ret;

    switch (z->cond) {
    case BLK_ZS_EMPTY:
        /* Resetting an empty zone is not an error. */
        return 0;
    case BLK_ZS_IOPEN:
    case BLK_ZS_EOPEN:
    case BLK_ZS_CLOSED:
    case BLK_ZS_FULL:
        break;
    default:
        return zone_bad_cond(z);
    }
    if (ze->cfg.zone_reset_cb) {
        ret = ze->cfg.zone_reset_cb(ze->cfg.opaque, z->start, z->len);
        if (ret) {
            return ret;
        }
    }
    zone_put_resources(ze, z);
    z->wp = z->wp_alloc = z->start;
    ze->generation++;
    zone_set_cond(ze, z, BLK_ZS_EMPTY);
    return 0;
}

int coroutine_fn block_zone_emu_mgmt(BlockZoneEmu *ze, BlockZoneOp op,
                                     int64_t offset, int64_t len)
{
    uint64_t capacity = ze->cfg.capacity;
    uint64_t zone_mask = (1ULL << ze->zone_shift) - 1;
    uint64_t i, first, last;
    bool all;
    int ret = 0;

    if (offset < 0 || len <= 0 || offset >= capacity ||
        len > capacity - offset || (offset & zone_mask) ||
        ((offset + len) & zone_mask && offset + len != capacity)) {
        return -EINVAL;
    }
    all = op == BLK_ZO_RESET && offset == 0 && len == capacity;
    first = offset >> ze->zone_shift;
    last = (offset + len - 1) >> ze->zone_shift;

    qemu_co_mutex_lock(&ze->lock);
    for (i = first; i <= last && !ret; i++) {
        EmuZone *z = &ze->zones[i];

        if (z->type == BLK_ZT_CONV) {
            if (all) {
                continue;
            }
            ret = -EINVAL;
            break;
        }
        /* As a device would, after the writes that came before */
        zone_wait_idle_locked(ze, z);
        switch (op) {
        case BLK_ZO_OPEN:
            ret = zone_open_locked(ze, z);
            break;
        case BLK_ZO_CLOSE:
            ret = zone_close_op_locked(ze, z);
            break;
        case BLK_ZO_FINISH:
            ret = zone_finish_locked(ze, z);
            break;
        case BLK_ZO_RESET:
            ret = zone_reset_locked(ze, z);
            if (all && (ret == -EROFS || ret == -ENXIO)) {
                /* Reset all skips the zones that cannot be reset. */
                ret = 0;
            }
            break;
        default:
            ret = -EINVAL;
            break;
        }
    }
    qemu_co_mutex_unlock(&ze->lock);
    trace_zone_emu_mgmt(ze, op, offset, len, ret);
    return ret;
}

int coroutine_fn block_zone_emu_report(BlockZoneEmu *ze, int64_t offset,
                                       unsigned int *nr_zones,
                                       BlockZoneDescriptor *zones)
{
    uint64_t i;
    unsigned int n = 0;

    if (offset < 0 || offset >= ze->cfg.capacity) {
        *nr_zones = 0;
        return offset == ze->cfg.capacity ? 0 : -EINVAL;
    }
    qemu_co_mutex_lock(&ze->lock);
    for (i = offset >> ze->zone_shift; i < ze->nr_zones && n < *nr_zones; i++) {
        EmuZone *z = &ze->zones[i];

        zones[n++] = (BlockZoneDescriptor) {
            .start = z->start,
            .length = z->len,
            .cap = z->cap,
            .wp = z->type == BLK_ZT_CONV || z->cond == BLK_ZS_OFFLINE ||
                  z->cond == BLK_ZS_RDONLY ? z->start : z->wp,
            .type = z->type,
            .state = z->cond,
        };
    }
    qemu_co_mutex_unlock(&ze->lock);
    *nr_zones = n;
    return 0;
}

uint64_t coroutine_fn block_zone_emu_read_end(BlockZoneEmu *ze,
                                              uint64_t offset)
{
    EmuZone *z;
    uint64_t end;

    assert(offset < ze->cfg.capacity);
    qemu_co_mutex_lock(&ze->lock);
    z = zone_at(ze, offset);
    end = z->type == BLK_ZT_CONV ? z->start + z->len : z->wp;
    qemu_co_mutex_unlock(&ze->lock);
    return end;
}

int coroutine_fn block_zone_emu_save(BlockZoneEmu *ze,
                                     BlockZoneEmuSaveFunc *save, void *opaque)
{
    uint32_t i;
    int ret;

    qemu_co_mutex_lock(&ze->lock);
    if (!ze->saved_wps) {
        ze->saved_wps = g_new(uint64_t, ze->nr_zones);
    }
    for (i = 0; i < ze->nr_zones; i++) {
        ze->saved_wps[i] = ze->zones[i].wp;
    }
    ret = save(opaque, ze->saved_wps, ze->generation);
    qemu_co_mutex_unlock(&ze->lock);
    return ret;
}

uint64_t coroutine_fn block_zone_emu_generation(BlockZoneEmu *ze)
{
    uint64_t generation;

    qemu_co_mutex_lock(&ze->lock);
    generation = ze->generation;
    qemu_co_mutex_unlock(&ze->lock);
    return generation;
}

int block_zone_emu_check_wp(BlockZoneEmu *ze, uint32_t index, uint64_t wp,
                            Error **errp)
{
    EmuZone *z = &ze->zones[index];

    assert(index < ze->nr_zones);
    if (z->type == BLK_ZT_CONV) {
        return 0;
    }
    if (wp < z->start || wp > z->start + z->cap) {
        error_setg(errp, "zone %" PRIu32 ": write pointer 0x%" PRIx64
                   " outside of the zone's writable range [0x%" PRIx64
                   ", 0x%" PRIx64 "]", index, wp, z->start, z->start + z->cap);
        return -ERANGE;
    }
    if (wp % BDRV_SECTOR_SIZE) {
        error_setg(errp, "zone %" PRIu32 ": write pointer 0x%" PRIx64
                   " is not a multiple of 512 bytes", index, wp);
        return -EINVAL;
    }
    return 0;
}

int block_zone_emu_set_wps(BlockZoneEmu *ze, const uint64_t *wps, Error **errp)
{
    uint32_t i, nr_closed = 0;

    for (i = 0; i < ze->nr_zones; i++) {
        if (block_zone_emu_check_wp(ze, i, wps[i], errp) < 0) {
            return -EINVAL;
        }
        if (ze->zones[i].type != BLK_ZT_CONV && wps[i] != ze->zones[i].start &&
            wps[i] != ze->zones[i].start + ze->zones[i].cap) {
            nr_closed++;
        }
    }
    if (zone_limits_enforced(ze) && ze->cfg.max_active_zones &&
        nr_closed > ze->cfg.max_active_zones) {
        error_setg(errp, "%" PRIu32 " zones are partly written, more than the "
                   "maximum of active zones (%" PRIu32 ")", nr_closed,
                   ze->cfg.max_active_zones);
        return -EINVAL;
    }

    ze->nr_imp_open = ze->nr_exp_open = ze->nr_closed = 0;
    for (i = 0; i < ze->nr_zones; i++) {
        EmuZone *z = &ze->zones[i];

        if (z->type == BLK_ZT_CONV) {
            continue;
        }
        z->wp = z->wp_alloc = wps[i];
        if (z->wp == z->start) {
            z->cond = BLK_ZS_EMPTY;
        } else if (z->wp == z->start + z->cap) {
            z->cond = BLK_ZS_FULL;
        } else {
            /* A zone that was open when the device stopped comes back closed */
            z->cond = BLK_ZS_CLOSED;
            ze->nr_closed++;
        }
    }
    ze->generation++;
    return 0;
}

void block_zone_emu_get_state(BlockZoneEmu *ze, uint64_t *wps,
                              BlockZoneState *conds)
{
    uint32_t i;

    for (i = 0; i < ze->nr_zones; i++) {
        assert(!ze->zones[i].in_flight);
        wps[i] = ze->zones[i].wp;
        conds[i] = ze->zones[i].cond;
    }
}

int block_zone_emu_set_open(BlockZoneEmu *ze, const BlockZoneState *conds,
                            Error **errp)
{
    uint32_t i, nr_open = ze->nr_imp_open + ze->nr_exp_open;
    uint32_t nr_active = nr_open + ze->nr_closed;

    for (i = 0; i < ze->nr_zones; i++) {
        EmuZone *z = &ze->zones[i];

        if (conds[i] != BLK_ZS_IOPEN && conds[i] != BLK_ZS_EOPEN) {
            continue;
        }
        /* A closed zone, or an empty one that was opened explicitly */
        if (z->type == BLK_ZT_CONV ||
            !(z->cond == BLK_ZS_CLOSED ||
              (z->cond == BLK_ZS_EMPTY && conds[i] == BLK_ZS_EOPEN))) {
            error_setg(errp, "zone %" PRIu32 ": %s with the write pointer "
                       "at 0x%" PRIx64, i, zone_cond_name(conds[i]), z->wp);
            return -EINVAL;
        }
        nr_open++;
        if (z->cond == BLK_ZS_EMPTY) {
            nr_active++;
        }
    }
    if (zone_limits_enforced(ze) &&
        ((ze->cfg.max_open_zones && nr_open > ze->cfg.max_open_zones) ||
         (ze->cfg.max_active_zones && nr_active > ze->cfg.max_active_zones))) {
        error_setg(errp, "%" PRIu32 " open and %" PRIu32 " active zones, "
                   "more than the limits (%" PRIu32 " open, %" PRIu32
                   " active)", nr_open, nr_active, ze->cfg.max_open_zones,
                   ze->cfg.max_active_zones);
        return -EINVAL;
    }

    for (i = 0; i < ze->nr_zones; i++) {
        EmuZone *z = &ze->zones[i];

        if (conds[i] != BLK_ZS_IOPEN && conds[i] != BLK_ZS_EOPEN) {
            continue;
        }
        zone_put_resources(ze, z);
        if (conds[i] == BLK_ZS_IOPEN) {
            ze->nr_imp_open++;
            z->open_seq = ++ze->open_seq;
        } else {
            ze->nr_exp_open++;
        }
        zone_set_cond(ze, z, conds[i]);
    }
    return 0;
}

uint32_t block_zone_emu_nr_zones(BlockZoneEmu *ze)
{
    return ze->nr_zones;
}

void block_zone_emu_refresh_limits(BlockZoneEmu *ze, BlockLimits *bl)
{
    bl->zoned = ze->cfg.model;
    bl->zone_size = ze->cfg.zone_size;
    bl->nr_zones = ze->nr_zones;
    bl->max_open_zones = ze->cfg.max_open_zones;
    bl->max_active_zones = ze->cfg.max_active_zones;
    /*
     * BlockLimits counts them in 32 bits, and zones may hold more: at most
     * what 32 bits hold, in whole 4 KiB blocks
     */
    bl->max_append_sectors = MIN(ze->cfg.max_append_bytes >> BDRV_SECTOR_BITS,
                                 QEMU_ALIGN_DOWN(UINT32_MAX, 8));
    bl->write_granularity = BDRV_SECTOR_SIZE;
}

static bool zone_index_ok(const BlockZoneEmuConfig *cfg, uint32_t nr_zones,
                          uint32_t index, const char *option, Error **errp)
{
    if (index >= nr_zones) {
        error_setg(errp, "%s: zone %" PRIu32 " does not exist (the device has "
                   "%" PRIu32 " zones)", option, index, nr_zones);
        return false;
    }
    if (index < cfg->nr_conv_zones) {
        error_setg(errp, "%s: zone %" PRIu32 " is conventional", option, index);
        return false;
    }
    return true;
}

/* The options of null-co, the first driver with zones here */
static const BlockZoneEmuOptionNames null_co_names = {
    .size = "size",
    .zone_size = "zone-size",
    .zone_capacity = "zone-capacity",
    .nr_conv_zones = "zone-nr-conv",
    .max_open_zones = "max-open-zones",
    .max_active_zones = "max-active-zones",
    .max_append_bytes = "max-append-bytes",
};

BlockZoneEmu *block_zone_emu_new(const BlockZoneEmuConfig *cfg, Error **errp)
{
    g_autofree BlockZoneEmu *ze = NULL;
    uint64_t zone_size = cfg->zone_size;
    uint64_t zone_cap = cfg->zone_capacity ?: zone_size;
    const BlockZoneEmuOptionNames *n = cfg->option_names ?: &null_co_names;
    uint64_t nr_zones64;
    uint32_t nr_zones, nr_seq, i;

    if (cfg->model != BLK_Z_HM && cfg->model != BLK_Z_HA) {
        error_setg(errp, "zoned: the zone model must be host-managed or "
                   "host-aware");
        return NULL;
    }
    if (zone_size < BDRV_SECTOR_SIZE || !is_power_of_2(zone_size)) {
        error_setg(errp, "%s (%" PRIu64 ") must be a power of two of at "
                   "least 512 bytes", n->zone_size, zone_size);
        return NULL;
    }
    if ((typeof_field(BlockLimits, zone_size))zone_size != zone_size) {
        error_setg(errp, "%s (%" PRIu64 ") is too large", n->zone_size,
                   zone_size);
        return NULL;
    }
    if (!cfg->capacity || cfg->capacity % BDRV_SECTOR_SIZE) {
        error_setg(errp, "%s (%" PRIu64 ") of a zoned device must be a "
                   "non-zero multiple of 512 bytes", n->size, cfg->capacity);
        return NULL;
    }
    if (zone_cap > zone_size) {
        error_setg(errp, "%s (%" PRIu64 ") larger than %s (%" PRIu64 ")",
                   n->zone_capacity, zone_cap, n->zone_size, zone_size);
        return NULL;
    }
    if (zone_cap % BDRV_SECTOR_SIZE) {
        error_setg(errp, "%s (%" PRIu64 ") must be a multiple of 512 bytes",
                   n->zone_capacity, zone_cap);
        return NULL;
    }
    if (cfg->model == BLK_Z_HA && zone_cap != zone_size) {
        error_setg(errp, "%s must equal %s on a host-aware device",
                   n->zone_capacity, n->zone_size);
        return NULL;
    }
    nr_zones64 = DIV_ROUND_UP(cfg->capacity, zone_size);
    if (nr_zones64 > ZONE_EMU_MAX_ZONES) {
        error_setg(errp, "%s (%" PRIu64 ") too small for %s (%" PRIu64 "): "
                   "%" PRIu64 " zones, at most %u", n->zone_size, zone_size,
                   n->size, cfg->capacity, nr_zones64, ZONE_EMU_MAX_ZONES);
        return NULL;
    }
    nr_zones = nr_zones64;
    if (cfg->nr_conv_zones >= nr_zones) {
        error_setg(errp, "%s (%" PRIu32 ") must leave at least one "
                   "sequential zone (the device has %" PRIu32 " zones)",
                   n->nr_conv_zones, cfg->nr_conv_zones, nr_zones);
        return NULL;
    }
    nr_seq = nr_zones - cfg->nr_conv_zones;
    if (cfg->max_open_zones > nr_seq) {
        error_setg(errp, "%s (%" PRIu32 ") larger than the number of "
                   "sequential zones (%" PRIu32 ")", n->max_open_zones,
                   cfg->max_open_zones, nr_seq);
        return NULL;
    }
    if (cfg->max_active_zones > nr_seq) {
        error_setg(errp, "%s (%" PRIu32 ") larger than the number of "
                   "sequential zones (%" PRIu32 ")", n->max_active_zones,
                   cfg->max_active_zones, nr_seq);
        return NULL;
    }
    if (cfg->max_active_zones && cfg->max_open_zones > cfg->max_active_zones) {
        error_setg(errp, "%s (%" PRIu32 ") larger than %s (%" PRIu32 ")",
                   n->max_open_zones, cfg->max_open_zones,
                   n->max_active_zones, cfg->max_active_zones);
        return NULL;
    }
    if (cfg->max_append_bytes > zone_cap ||
        cfg->max_append_bytes % BDRV_SECTOR_SIZE) {
        error_setg(errp, "%s (%" PRIu64 ") must be a multiple of 512 bytes "
                   "no larger than the zone capacity (%" PRIu64 ")",
                   n->max_append_bytes, cfg->max_append_bytes, zone_cap);
        return NULL;
    }
    for (i = 0; i < cfg->nr_read_only_zones; i++) {
        if (!zone_index_ok(cfg, nr_zones, cfg->read_only_zones[i],
                           "read-only-zones", errp)) {
            return NULL;
        }
    }
    for (i = 0; i < cfg->nr_offline_zones; i++) {
        if (!zone_index_ok(cfg, nr_zones, cfg->offline_zones[i],
                           "offline-zones", errp)) {
            return NULL;
        }
    }

    ze = g_new0(BlockZoneEmu, 1);
    ze->cfg = *cfg;
    ze->cfg.zone_capacity = zone_cap;
    ze->cfg.max_append_bytes = cfg->max_append_bytes ?: zone_cap;
    /* The lists are only read here. */
    ze->cfg.read_only_zones = NULL;
    ze->cfg.offline_zones = NULL;
    ze->zone_shift = ctz64(zone_size);
    ze->nr_zones = nr_zones;
    ze->zones = g_new0(EmuZone, nr_zones);
    for (i = 0; i < nr_zones; i++) {
        EmuZone *z = &ze->zones[i];

        z->start = (uint64_t)i << ze->zone_shift;
        z->len = MIN(zone_size, cfg->capacity - z->start);
        z->cap = MIN(zone_cap, z->len);
        z->wp = z->wp_alloc = z->start;
        if (i < cfg->nr_conv_zones) {
            /*
             * zone-capacity applies to sequential zones: all of a
             * conventional zone is writable (Linux refuses a disk whose
             * conventional zones report less).
             */
            z->cap = z->len;
            z->type = BLK_ZT_CONV;
            z->cond = BLK_ZS_NOT_WP;
        } else {
            z->type = cfg->model == BLK_Z_HM ? BLK_ZT_SWR : BLK_ZT_SWP;
            z->cond = BLK_ZS_EMPTY;
        }
    }
    for (i = 0; i < cfg->nr_read_only_zones; i++) {
        ze->zones[cfg->read_only_zones[i]].cond = BLK_ZS_RDONLY;
    }
    for (i = 0; i < cfg->nr_offline_zones; i++) {
        ze->zones[cfg->offline_zones[i]].cond = BLK_ZS_OFFLINE;
    }
    qemu_co_mutex_init(&ze->lock);
    qemu_co_queue_init(&ze->waiters);
    return g_steal_pointer(&ze);
}

void block_zone_emu_free(BlockZoneEmu *ze)
{
    if (!ze) {
        return;
    }
    g_free(ze->zones);
    g_free(ze->saved_wps);
    g_free(ze);
}
