/*
 * Zone emulation: the zone state machine of a zoned block device
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A block driver that emulates a zoned device (null-co with zoned=...) keeps
 * its zones here.  The model follows ZBC-2 and NVMe ZNS as Linux's null_blk
 * does: conventional and sequential zones, the conditions empty, implicitly
 * open, explicitly open, closed, full, read-only and offline, implicit open on
 * write, and the open and active zone limits.
 *
 * Offsets and lengths are in bytes.  Errors follow Linux's block layer, so a
 * frontend maps the same errno to the same status whether the zones are
 * emulated here or come from a host device:
 *   -EINVAL       malformed request: not zone aligned, crossing a zone
 *                 boundary or the zone's capacity, an append or zone operation
 *                 on a conventional zone, a write to a sequential zone or an
 *                 append that is not whole 512-byte blocks, an empty append,
 *                 an invalid condition transition
 *   -EIO          write not at the zone's write pointer, or to a full zone
 *   -ETOOMANYREFS no open zone resource left (BLK_STS_ZONE_OPEN_RESOURCE)
 *   -EOVERFLOW    no active zone resource left (BLK_STS_ZONE_ACTIVE_RESOURCE)
 *   -EROFS        write to, or zone operation on, a read-only zone
 *   -ENXIO        access to an offline zone
 * A failed request changes no zone.
 */

#ifndef BLOCK_ZONE_EMU_H
#define BLOCK_ZONE_EMU_H

#include "block/block_int-common.h"

/* What a driver calls the fields of BlockZoneEmuConfig, for its errors */
typedef struct BlockZoneEmuOptionNames {
    const char *size;
    const char *zone_size;
    const char *zone_capacity;
    const char *nr_conv_zones;
    const char *max_open_zones;
    const char *max_active_zones;
    const char *max_append_bytes;
} BlockZoneEmuOptionNames;

typedef struct BlockZoneEmuConfig {
    BlockZoneModel model;       /* BLK_Z_HM or BLK_Z_HA */
    uint64_t capacity;          /* device size; the last zone may be smaller */
    uint64_t zone_size;         /* a power of two, a multiple of 512 */
    uint64_t zone_capacity;     /* <= zone_size; 0 means zone_size */
    uint32_t nr_conv_zones;     /* the first zones are conventional */
    uint32_t max_open_zones;    /* 0: no limit */
    uint32_t max_active_zones;  /* 0: no limit */
    uint64_t max_append_bytes;  /* 0: the zone capacity */
    /* Zones (by index) that start read-only or offline: fault injection. */
    const uint32_t *read_only_zones;
    uint32_t nr_read_only_zones;
    const uint32_t *offline_zones;
    uint32_t nr_offline_zones;
    /*
     * Called in coroutine context, with the zones locked, before a reset
     * empties the zone [start, start + len), so that a driver which keeps
     * data can drop the zone's (and first save the new write pointer, if it
     * keeps them).  On an error (a negative errno) the zone stays as it was.
     */
    int coroutine_fn (*zone_reset_cb)(void *opaque, uint64_t start,
                                      uint64_t len);
    /*
     * Called like zone_reset_cb before a write pointer moves from @wp to
     * @end over what nothing wrote: a finish, to the end of the zone's
     * capacity, or a host-aware write above the write pointer, to where the
     * write starts.  [wp, end) must read as zeroes afterwards.  A driver
     * whose data above a write pointer always reads as zeroes needs none.
     */
    int coroutine_fn (*zone_finish_cb)(void *opaque, uint64_t wp,
                                       uint64_t end);
    void *opaque;
    /* The names of the options in error messages; NULL: null-co's */
    const BlockZoneEmuOptionNames *option_names;
} BlockZoneEmuConfig;

typedef struct BlockZoneEmu BlockZoneEmu;

/*
 * Validate @cfg and make the zones, all empty.  On a bad configuration, fail
 * with an error that names the option, as the block driver's options call it
 * (cfg->option_names).
 */
BlockZoneEmu *block_zone_emu_new(const BlockZoneEmuConfig *cfg, Error **errp);
void block_zone_emu_free(BlockZoneEmu *ze);

/* Fill the zone fields of @bl (zoned, zone_size, nr_zones, limits). */
void block_zone_emu_refresh_limits(BlockZoneEmu *ze, BlockLimits *bl);

uint32_t block_zone_emu_nr_zones(BlockZoneEmu *ze);

/*
 * Report the zones from the one holding @offset: at most *nr_zones of them;
 * *nr_zones is set to the number reported.
 */
int coroutine_fn block_zone_emu_report(BlockZoneEmu *ze, int64_t offset,
                                       unsigned int *nr_zones,
                                       BlockZoneDescriptor *zones);

/*
 * Open, close, finish or reset the zones in [offset, offset + len): offset
 * is a zone start, len covers whole zones (the last one may be smaller).
 * Reset of the whole device resets every sequential zone that can be reset.
 * Zones are handled in order; on an error the ones before stay done, as
 * Linux's zone management does.
 */
int coroutine_fn block_zone_emu_mgmt(BlockZoneEmu *ze, BlockZoneOp op,
                                     int64_t offset, int64_t len);

/*
 * Store the data of a write or an append that the zone rules allow: the
 * bytes [offset, offset + bytes) of the device, which start at byte
 * @req_offset of the request's data.  For a sequential-write-required zone
 * it is called without the zones locked, once the write has its place at the
 * write pointer (after the writes in flight to the zone): no zone operation
 * comes between the check, the data and the move of the write pointer, which
 * waits for the writes below it.  Conventional zones too; host-aware zones
 * call it with the zones locked.  It returns 0 or a negative errno; on an
 * error the zone's write pointer does not move, and the writes in flight
 * above it in the zone fail.
 */
typedef int coroutine_fn BlockZoneEmuStoreFunc(void *opaque, uint64_t offset,
                                               uint64_t bytes,
                                               uint64_t req_offset);

/*
 * A write of [offset, offset + bytes): check it against the zone rules and,
 * when it may go ahead, store the data with @store (unless it is NULL) and
 * advance the write pointer (implicitly opening the zone).  A host-aware
 * write that spans zones is stored and advanced zone by zone; on an error
 * the zones before stay written.
 */
int coroutine_fn block_zone_emu_write(BlockZoneEmu *ze, int64_t offset,
                                      int64_t bytes,
                                      BlockZoneEmuStoreFunc *store,
                                      void *opaque);

/*
 * A zone append of @bytes (whole blocks, at least one, at most the append
 * limit) to the zone starting at *offset: on success, the data was stored
 * with @store (unless it is NULL) and *offset is where it went (the old
 * write pointer).
 */
int coroutine_fn block_zone_emu_append(BlockZoneEmu *ze, int64_t *offset,
                                       int64_t bytes,
                                       BlockZoneEmuStoreFunc *store,
                                       void *opaque);

/* A read of [offset, offset + bytes): fails only on an offline zone. */
int coroutine_fn block_zone_emu_read(BlockZoneEmu *ze, int64_t offset,
                                     int64_t bytes);

/*
 * Where the data that can be read from the zone holding @offset ends: the
 * end of a conventional zone, the write pointer of a sequential one.  A
 * driver that may keep stale data above a write pointer (what a write that
 * failed or was not made durable before a crash left there) reads zeroes
 * from that point on, as a device does.
 */
uint64_t coroutine_fn block_zone_emu_read_end(BlockZoneEmu *ze,
                                              uint64_t offset);

/*
 * Persistent zones: a driver that keeps the write pointers of a zoned image
 * saves them with block_zone_emu_save() and gives them back, when the image
 * is opened again, with block_zone_emu_set_wps().
 *
 * block_zone_emu_save() calls @save with the zones locked, so that no write
 * pointer moves and no zone is reset while it saves them.  @wps has one
 * entry a zone: the write pointer as a device offset (a conventional zone's
 * start for a conventional zone).  @generation changes whenever a write
 * pointer moves, so that a driver can skip saving what it saved before.
 * The zones' reset and finish callbacks run with the zones locked too: they
 * never come between the pointers that @save gets and what it writes.
 */
typedef int coroutine_fn BlockZoneEmuSaveFunc(void *opaque,
                                              const uint64_t *wps,
                                              uint64_t generation);
int coroutine_fn block_zone_emu_save(BlockZoneEmu *ze,
                                     BlockZoneEmuSaveFunc *save, void *opaque);

/* The generation of the zones, as block_zone_emu_save() gives it. */
uint64_t coroutine_fn block_zone_emu_generation(BlockZoneEmu *ze);

/*
 * Check the write pointer @wp of zone @index as it was saved: inside the
 * zone's writable range and a multiple of 512 bytes.  Conventional zones
 * have no write pointer, any value is fine.  On an error, the message names
 * the zone and what is wrong.
 */
int block_zone_emu_check_wp(BlockZoneEmu *ze, uint32_t index, uint64_t wp,
                            Error **errp);

/*
 * Set every write pointer from @wps (as block_zone_emu_save() gave them),
 * before the device serves any request.  Zones come back empty, full or
 * closed: a zone that was open when the device stopped is closed, as after
 * a power cycle.  Fails if a write pointer is not valid or if there are
 * more closed zones than the active zone limit allows.
 */
int block_zone_emu_set_wps(BlockZoneEmu *ze, const uint64_t *wps, Error **errp);

/*
 * Hand the zones over to another process (live migration): the write
 * pointer of every zone into @wps, as block_zone_emu_save() gives them, and
 * its condition into @conds.  Only while no request runs (the node is
 * drained or inactive).
 */
void block_zone_emu_get_state(BlockZoneEmu *ze, uint64_t *wps,
                              BlockZoneState *conds);

/*
 * Take the zones over, after block_zone_emu_set_wps(): open again the zones
 * that @conds says were implicitly (BLK_ZS_IOPEN) or explicitly
 * (BLK_ZS_EOPEN) open; other values leave a zone as it is.  Implicitly
 * open zones are taken in zone order, which is the order in which they are
 * closed to make room for others.  Fails, with the zone named, if a zone
 * cannot be open with its write pointer or the limits are exceeded.
 */
int block_zone_emu_set_open(BlockZoneEmu *ze, const BlockZoneState *conds,
                            Error **errp);

#endif /* BLOCK_ZONE_EMU_H */
