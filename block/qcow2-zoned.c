/*
 * Zoned qcow2 images
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A zoned image presents a zoned block device whose zones survive a restart
 * of QEMU: the geometry is in the zoned header extension, and the image file
 * keeps one write pointer a zone in a table (docs/interop/qcow2.rst).  The
 * zone rules are those of block/zone-emu.c, as for null-co's zones; this
 * file stores the data of the writes that the rules allow, and keeps the
 * table.
 *
 * Crash consistency: a write pointer on disk is never ahead of the data
 * below it, and the data below a write pointer on disk is not lost.
 *   - The table is written on flush, after the data and the qcow2 metadata
 *     of every write that moved a pointer are on disk (flushed first): one
 *     table write a flush, none a write.
 *   - A reset writes the zone's new write pointer and flushes it before it
 *     drops the zone's data.
 *   - Data above a write pointer (a write that failed, or whose pointer was
 *     not saved before a crash) reads as zeroes; a finish zeroes the rest of
 *     the zone before the pointer moves to its end.
 * Open zones are not saved: they come back closed, as after a power cycle.
 * Only a hand-over to another process (live migration on shared storage:
 * .bdrv_inactivate, then .bdrv_co_invalidate_cache where the image goes on)
 * keeps them, in the low bits of the table's entries, until the next writer
 * opens the image.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/bswap.h"
#include "qemu/error-report.h"
#include "qemu/option.h"
#include "block/block-io.h"
#include "block/block_int.h"
#include "block/zone-emu.h"
#include "qcow2.h"
#include "trace.h"

/* The table is written in blocks of this size (512 write pointers). */
#define ZONED_TABLE_BLOCK 4096
#define ZONED_ENTRIES_PER_BLOCK (ZONED_TABLE_BLOCK / sizeof(uint64_t))

/*
 * Bits 0-1 of an entry: the zone's open condition when the image was handed
 * over to another process (docs/interop/qcow2.rst)
 */
#define ZONED_ENTRY_OPEN_MASK   3ULL
#define ZONED_ENTRY_IMP_OPEN    1
#define ZONED_ENTRY_EXP_OPEN    2

static uint64_t zoned_entry_wp(uint64_t entry)
{
    return entry & ~ZONED_ENTRY_OPEN_MASK;
}

struct Qcow2Zoned {
    BlockZoneEmu *ze;
    uint32_t nr_zones;
    /*
     * The entries of the table as the image file has them: the write
     * pointers, with the open conditions of a hand-over.
     */
    uint64_t *disk_wps;
    /* The generation of the zones (zone-emu.h) that disk_wps holds */
    uint64_t saved_generation;
    /* What is on disk is not known (a write failed): save it all. */
    bool disk_stale;
    /* Opened for a check with a bad table: no I/O until it is repaired */
    bool table_bad;
};

void qcow2_zoned_ext_from_be(BDRVQcow2State *s,
                             const Qcow2ZonedHeaderExtension *be)
{
    s->zoned_ext = (Qcow2ZonedHeaderExtension) {
        .zoned = be->zoned,
        .reserved = { be->reserved[0], be->reserved[1], be->reserved[2] },
        .zone_size = be64_to_cpu(be->zone_size),
        .zone_capacity = be64_to_cpu(be->zone_capacity),
        .conventional_zones = be32_to_cpu(be->conventional_zones),
        .nr_zones = be32_to_cpu(be->nr_zones),
        .max_active_zones = be32_to_cpu(be->max_active_zones),
        .max_open_zones = be32_to_cpu(be->max_open_zones),
        .max_append_bytes = be32_to_cpu(be->max_append_bytes),
        .zonedmeta_size = be64_to_cpu(be->zonedmeta_size),
        .zonedmeta_offset = be64_to_cpu(be->zonedmeta_offset),
    };
}

void qcow2_zoned_ext_to_be(BDRVQcow2State *s, Qcow2ZonedHeaderExtension *be)
{
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;

    *be = (Qcow2ZonedHeaderExtension) {
        .zoned = ext->zoned,
        .zone_size = cpu_to_be64(ext->zone_size),
        .zone_capacity = cpu_to_be64(ext->zone_capacity),
        .conventional_zones = cpu_to_be32(ext->conventional_zones),
        .nr_zones = cpu_to_be32(ext->nr_zones),
        .max_active_zones = cpu_to_be32(ext->max_active_zones),
        .max_open_zones = cpu_to_be32(ext->max_open_zones),
        .max_append_bytes = cpu_to_be32(ext->max_append_bytes),
        .zonedmeta_size = cpu_to_be64(ext->zonedmeta_size),
        .zonedmeta_offset = cpu_to_be64(ext->zonedmeta_offset),
    };
}

/* The fields of the extension, named as docs/interop/qcow2.rst does */
static const BlockZoneEmuOptionNames zoned_ext_names = {
    .size = "size",
    .zone_size = "zone_size",
    .zone_capacity = "zone_capacity",
    .nr_conv_zones = "conventional_zones",
    .max_open_zones = "max_open_zones",
    .max_active_zones = "max_active_zones",
    .max_append_bytes = "max_append_bytes",
};

/* The options of qemu-img create */
static const BlockZoneEmuOptionNames zoned_create_names = {
    .size = "size",
    .zone_size = "zone.size",
    .zone_capacity = "zone.capacity",
    .nr_conv_zones = "zone.conventional_zones",
    .max_open_zones = "zone.max_open_zones",
    .max_active_zones = "zone.max_active_zones",
    .max_append_bytes = "zone.max_append_bytes",
};

static BlockZoneModel zoned_model(const Qcow2ZonedHeaderExtension *ext)
{
    return ext->zoned == QCOW2_ZONED_HA ? BLK_Z_HA : BLK_Z_HM;
}

/*
 * Check the geometry of the zoned extension against the image: every field
 * that is wrong is named.  On success, make the zones (all empty).
 */
static BlockZoneEmu *zoned_check_ext(BlockDriverState *bs, uint64_t size,
                                     const BlockZoneEmuConfig *base,
                                     Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    BlockZoneEmuConfig cfg = base ? *base : (BlockZoneEmuConfig) {
        .option_names = &zoned_create_names,
    };
    const BlockZoneEmuOptionNames *n = cfg.option_names;
    /* Opening an image checks its header; creating one, the options */
    const char *what = base ? "zoned extension: " : "";
    BlockZoneEmu *ze;
    uint32_t nr_zones;

    if (ext->zoned != QCOW2_ZONED_HM && ext->zoned != QCOW2_ZONED_HA) {
        error_setg(errp, "zoned extension: unknown zone model %u",
                   ext->zoned);
        return NULL;
    }
    if (ext->reserved[0] || ext->reserved[1] || ext->reserved[2]) {
        error_setg(errp, "zoned extension: reserved bytes are not zero");
        return NULL;
    }
    if (ext->zone_size < s->cluster_size) {
        error_setg(errp, "%s%s (%" PRIu64 ") smaller than the cluster size "
                   "(%d)", what, n->zone_size, ext->zone_size,
                   s->cluster_size);
        return NULL;
    }
    cfg.model = zoned_model(ext);
    cfg.capacity = size;
    cfg.zone_size = ext->zone_size;
    cfg.zone_capacity = ext->zone_capacity;
    cfg.nr_conv_zones = ext->conventional_zones;
    cfg.max_open_zones = ext->max_open_zones;
    cfg.max_active_zones = ext->max_active_zones;
    cfg.max_append_bytes = ext->max_append_bytes;
    if (!ext->zone_capacity) {
        error_setg(errp, "%s%s is zero", what, n->zone_capacity);
        return NULL;
    }
    if (!ext->max_append_bytes) {
        error_setg(errp, "%s%s is zero", what, n->max_append_bytes);
        return NULL;
    }
    if (base && is_power_of_2(ext->zone_size) &&
        DIV_ROUND_UP(size, ext->zone_size) * sizeof(uint64_t) !=
        ext->zonedmeta_size) {
        /*
         * Before the zones are made: the table, which the caller found in
         * the image file, bounds how many an image can make QEMU allocate.
         */
        error_setg(errp, "zoned extension: zonedmeta_size (%" PRIu64 ") is "
                   "not 8 bytes a zone (%" PRIu64 ")", ext->zonedmeta_size,
                   DIV_ROUND_UP(size, ext->zone_size) * sizeof(uint64_t));
        return NULL;
    }
    ze = block_zone_emu_new(&cfg, errp);
    if (!ze) {
        error_prepend(errp, "%s", what);
        return NULL;
    }
    nr_zones = block_zone_emu_nr_zones(ze);
    if (ext->nr_zones != nr_zones) {
        error_setg(errp, "zoned extension: nr_zones (%" PRIu32 ") does not "
                   "match the image: %" PRIu64 " bytes are %" PRIu32 " zones",
                   ext->nr_zones, size, nr_zones);
        goto fail;
    }
    if (ext->zonedmeta_size != (uint64_t)nr_zones * sizeof(uint64_t)) {
        error_setg(errp, "zoned extension: zonedmeta_size (%" PRIu64 ") is "
                   "not 8 bytes a zone (%" PRIu64 ")", ext->zonedmeta_size,
                   (uint64_t)nr_zones * sizeof(uint64_t));
        goto fail;
    }
    if (!ext->zonedmeta_offset ||
        !QEMU_IS_ALIGNED(ext->zonedmeta_offset, s->cluster_size)) {
        error_setg(errp, "zoned extension: zonedmeta_offset (0x%" PRIx64
                   ") is not a cluster offset", ext->zonedmeta_offset);
        goto fail;
    }
    if (ext->zonedmeta_offset > INT64_MAX - ext->zonedmeta_size) {
        error_setg(errp, "zoned extension: zonedmeta_offset (0x%" PRIx64
                   ") is out of range", ext->zonedmeta_offset);
        goto fail;
    }
    return ze;

fail:
    block_zone_emu_free(ze);
    return NULL;
}

/* Read the table of write pointers into @wps (host byte order). */
static int coroutine_fn GRAPH_RDLOCK
zoned_read_table(BlockDriverState *bs, uint64_t *wps, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    uint32_t i;
    int ret;

    ret = bdrv_co_pread(bs->file, ext->zonedmeta_offset, ext->zonedmeta_size,
                        wps, 0);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "zoned extension: could not read the "
                         "write pointers at 0x%" PRIx64, ext->zonedmeta_offset);
        return ret;
    }
    for (i = 0; i < ext->nr_zones; i++) {
        wps[i] = be64_to_cpu(wps[i]);
    }
    return 0;
}

/*
 * The entries [*first, *last] of @wps hold all that differ from the table
 * on disk (all of them when the disk may be stale); false if none does.
 */
static bool zoned_changed_range(Qcow2Zoned *z, const uint64_t *wps,
                                uint32_t *first, uint32_t *last)
{
    uint32_t i = 0, j = z->nr_zones - 1;

    if (!z->disk_stale) {
        while (i < z->nr_zones && wps[i] == z->disk_wps[i]) {
            i++;
        }
        if (i == z->nr_zones) {
            return false;
        }
        while (j > i && wps[j] == z->disk_wps[j]) {
            j--;
        }
    }
    *first = i;
    *last = j;
    return true;
}

/*
 * Write the blocks of the table that hold entries [first, last] from @wps,
 * and take them as what is on disk.  Also outside of a coroutine, for the
 * hand-over.
 */
static int coroutine_mixed_fn GRAPH_RDLOCK
zoned_write_table(BlockDriverState *bs, const uint64_t *wps, uint32_t first,
                  uint32_t last)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    uint64_t buf[ZONED_ENTRIES_PER_BLOCK];
    uint32_t start = QEMU_ALIGN_DOWN(first, ZONED_ENTRIES_PER_BLOCK);
    int ret;

    while (start <= last) {
        uint32_t n = MIN(ZONED_ENTRIES_PER_BLOCK, z->nr_zones - start);
        uint32_t i;

        for (i = 0; i < n; i++) {
            buf[i] = cpu_to_be64(wps[start + i]);
        }
        ret = bdrv_pwrite(bs->file,
                          s->zoned_ext.zonedmeta_offset +
                          start * sizeof(uint64_t),
                          n * sizeof(uint64_t), buf, 0);
        if (ret < 0) {
            z->disk_stale = true;
            return ret;
        }
        if (wps != z->disk_wps) {
            memcpy(&z->disk_wps[start], &wps[start], n * sizeof(uint64_t));
        }
        start += n;
    }
    return 0;
}

/*
 * Make what was written to the image file durable, then write the blocks
 * of the table that hold entries [first, last]: a write pointer on disk is
 * never ahead of the data below it.
 */
static int coroutine_mixed_fn GRAPH_RDLOCK
zoned_write_table_after_data(BlockDriverState *bs, const uint64_t *wps,
                             uint32_t first, uint32_t last)
{
    BDRVQcow2State *s = bs->opaque;
    int ret;

    ret = bdrv_flush(bs->file->bs);
    if (ret < 0) {
        return ret;
    }
    s->zoned->disk_stale = false;
    return zoned_write_table(bs, wps, first, last);
}

/*
 * Zone reset callback: save the zone's new write pointer, and make sure it
 * is on disk, before its data goes.  The data above the write pointer reads
 * as zeroes anyway: dropping it only gives the space back.
 */
static int coroutine_fn GRAPH_RDLOCK
zoned_reset_cb(void *opaque, uint64_t start, uint64_t len)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    uint32_t index = start / s->zoned_ext.zone_size;
    uint64_t end = QEMU_ALIGN_DOWN(start + len, s->cluster_size);
    int ret;

    z->disk_wps[index] = start;
    ret = zoned_write_table(bs, z->disk_wps, index, index);
    if (ret < 0) {
        return ret;
    }
    ret = bdrv_co_flush(bs->file->bs);
    if (ret < 0) {
        z->disk_stale = true;
        return ret;
    }
    trace_qcow2_zoned_reset(bs, start, len);

    if (end > start) {
        qemu_co_mutex_lock(&s->lock);
        /* Best effort: a failure leaves data that nobody can read. */
        qcow2_cluster_discard(bs, start, end - start, QCOW2_DISCARD_REQUEST,
                              false);
        qemu_co_mutex_unlock(&s->lock);
    }
    return 0;
}

/* Write zeroes to [offset, offset + bytes) below the zones. */
static int coroutine_fn GRAPH_RDLOCK
zoned_zero_data(BlockDriverState *bs, uint64_t offset, uint64_t bytes)
{
    g_autofree void *zeroes = g_malloc0(bytes);
    QEMUIOVector qiov;

    qemu_iovec_init_buf(&qiov, zeroes, bytes);
    return qcow2_co_pwritev_data(bs, offset, bytes, &qiov, 0, 0);
}

/* Zone finish callback: [wp, end) must read as zeroes when it is full. */
static int coroutine_fn GRAPH_RDLOCK
zoned_finish_cb(void *opaque, uint64_t wp, uint64_t end)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    uint64_t mid = MIN(ROUND_UP(wp, s->cluster_size), end);
    uint64_t tail = MAX(QEMU_ALIGN_DOWN(end, s->cluster_size), mid);
    int ret;

    trace_qcow2_zoned_finish(bs, wp, end);
    if (mid > wp) {
        ret = zoned_zero_data(bs, wp, mid - wp);
        if (ret < 0) {
            return ret;
        }
    }
    if (tail > mid) {
        ret = qcow2_co_pwrite_zeroes_data(bs, mid, tail - mid,
                                          BDRV_REQ_MAY_UNMAP);
        if (ret < 0) {
            return ret;
        }
    }
    if (end > tail) {
        ret = zoned_zero_data(bs, tail, end - tail);
        if (ret < 0) {
            return ret;
        }
    }
    return 0;
}

/*
 * Activation after a hand-over: open again the zones that the entries of
 * the table say were open in the process that handed the image over.
 */
static int zoned_take_over(BlockDriverState *bs, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    g_autofree BlockZoneState *conds = g_new(BlockZoneState, z->nr_zones);
    uint32_t i, nr_open = 0;

    for (i = 0; i < z->nr_zones; i++) {
        switch (z->disk_wps[i] & ZONED_ENTRY_OPEN_MASK) {
        case 0:
            conds[i] = BLK_ZS_NOT_WP;   /* left as it is */
            continue;
        case ZONED_ENTRY_IMP_OPEN:
            conds[i] = BLK_ZS_IOPEN;
            break;
        case ZONED_ENTRY_EXP_OPEN:
            conds[i] = BLK_ZS_EOPEN;
            break;
        default:
            error_setg(errp, "zoned image: zone %" PRIu32 ": open "
                       "condition 3 is reserved", i);
            return -EINVAL;
        }
        nr_open++;
    }
    if (block_zone_emu_set_open(z->ze, conds, errp) < 0) {
        error_prepend(errp, "zoned image: taking over the open zones: ");
        return -EINVAL;
    }
    trace_qcow2_zoned_take_over(bs, nr_open);
    return 0;
}

/* Write the entries that have open bits again, without them */
static int coroutine_fn GRAPH_RDLOCK
zoned_clear_open_bits(BlockDriverState *bs, const uint64_t *wps, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    uint32_t first, last;
    int ret;

    if (!zoned_changed_range(z, wps, &first, &last)) {
        return 0;
    }
    ret = zoned_write_table(bs, wps, first, last);
    if (ret >= 0) {
        ret = bdrv_co_flush(bs->file->bs);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "zoned image: could not write the "
                         "write pointers");
    }
    return ret;
}

/*
 * Inactivation (.bdrv_inactivate): another process may take the image over
 * (live migration).  Save every write pointer, after the data below it, with
 * the condition of the zones that are open, so that it opens them again.
 */
int GRAPH_RDLOCK qcow2_zoned_hand_over(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    g_autofree uint64_t *entries = NULL;
    g_autofree BlockZoneState *conds = NULL;
    uint32_t i, first, last, nr_open = 0;
    int ret;

    if (!z || z->table_bad || !(bs->open_flags & BDRV_O_RDWR)) {
        return 0;
    }
    entries = g_new(uint64_t, z->nr_zones);
    conds = g_new(BlockZoneState, z->nr_zones);
    block_zone_emu_get_state(z->ze, entries, conds);
    for (i = 0; i < z->nr_zones; i++) {
        if (conds[i] == BLK_ZS_IOPEN) {
            entries[i] |= ZONED_ENTRY_IMP_OPEN;
            nr_open++;
        } else if (conds[i] == BLK_ZS_EOPEN) {
            entries[i] |= ZONED_ENTRY_EXP_OPEN;
            nr_open++;
        }
    }
    trace_qcow2_zoned_hand_over(bs, nr_open);
    if (!zoned_changed_range(z, entries, &first, &last)) {
        return 0;
    }

    ret = zoned_write_table_after_data(bs, entries, first, last);
    if (ret < 0) {
        return ret;
    }
    /*
     * Should the node stay active (a parent refused to let go of it), the
     * next save writes every entry again, without the bits.
     */
    z->disk_stale = true;
    return bdrv_flush(bs->file->bs);
}

int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_open(BlockDriverState *bs, int flags, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    bool has_bit = s->incompatible_features & QCOW2_INCOMPAT_ZONED;
    uint64_t size = bs->total_sectors * BDRV_SECTOR_SIZE;
    BlockZoneEmuConfig cfg = {
        .zone_reset_cb = zoned_reset_cb,
        .zone_finish_cb = zoned_finish_cb,
        .opaque = bs,
        .option_names = &zoned_ext_names,
    };
    Error *local_err = NULL;
    int64_t file_length;
    Qcow2Zoned *z;
    BlockZoneEmu *ze;
    int ret;

    if (!ext->zoned) {
        if (has_bit) {
            error_setg(errp, "the zoned feature bit is set, but the image "
                       "has no zoned extension");
            return -EINVAL;
        }
        return 0;
    }
    if (!has_bit) {
        error_setg(errp, "the image has a zoned extension, but not the "
                   "zoned feature bit");
        return -EINVAL;
    }
    if (has_data_file(bs)) {
        error_setg(errp, "zoned images keep their data in the image file: "
                   "an external data file is not supported");
        return -ENOTSUP;
    }
    if (s->image_backing_file || s->nb_snapshots) {
        error_setg(errp, "zoned images have no %s: this one is inconsistent",
                   s->image_backing_file ? "backing file" :
                   "internal snapshots");
        return -EINVAL;
    }
    /* Before the zones are made: the table has an entry a zone */
    file_length = bdrv_co_getlength(bs->file->bs);
    if (file_length < 0) {
        error_setg_errno(errp, -file_length, "Could not get the length of "
                         "the image file");
        return file_length;
    }
    if (ext->zonedmeta_offset > file_length ||
        ext->zonedmeta_size > file_length - ext->zonedmeta_offset) {
        error_setg(errp, "zoned extension: the write pointers at "
                   "zonedmeta_offset (0x%" PRIx64 ") are beyond the end of "
                   "the image file", ext->zonedmeta_offset);
        return -EINVAL;
    }
    ze = zoned_check_ext(bs, size, &cfg, errp);
    if (!ze) {
        return -EINVAL;
    }
    ret = qcow2_check_metadata_overlap(bs, QCOW2_OL_ZONED_TABLE,
                                       ext->zonedmeta_offset,
                                       ext->zonedmeta_size);
    if (ret) {
        error_setg(errp, "zoned extension: the write pointers at "
                   "zonedmeta_offset (0x%" PRIx64 ") overlap other metadata",
                   ext->zonedmeta_offset);
        block_zone_emu_free(ze);
        return ret < 0 ? ret : -EINVAL;
    }

    z = g_new0(Qcow2Zoned, 1);
    z->ze = ze;
    z->nr_zones = ext->nr_zones;
    z->disk_wps = g_try_new0(uint64_t, z->nr_zones);
    if (!z->disk_wps) {
        error_setg(errp, "zoned extension: cannot allocate the write "
                   "pointers of %" PRIu32 " zones", z->nr_zones);
        ret = -ENOMEM;
        goto fail;
    }
    s->zoned = z;

    if (!(flags & BDRV_O_NO_IO)) {
        g_autofree uint64_t *wps = g_try_new(uint64_t, z->nr_zones);
        uint32_t i;

        if (!wps) {
            error_setg(errp, "zoned extension: cannot allocate the write "
                       "pointers of %" PRIu32 " zones", z->nr_zones);
            ret = -ENOMEM;
            goto fail;
        }
        ret = zoned_read_table(bs, z->disk_wps, errp);
        if (ret < 0) {
            goto fail;
        }
        for (i = 0; i < z->nr_zones; i++) {
            wps[i] = zoned_entry_wp(z->disk_wps[i]);
        }
        if (block_zone_emu_set_wps(ze, wps, &local_err) < 0) {
            if (!(flags & BDRV_O_CHECK)) {
                error_propagate_prepend(errp, local_err, "zoned image: ");
                error_append_hint(errp, "'qemu-img check -r all' repairs "
                                  "the write pointers.\n");
                ret = -EINVAL;
                goto fail;
            }
            /* qemu-img check repairs it; until then, no zone I/O */
            error_free(local_err);
            z->table_bad = true;
        } else {
            if (s->zoned_take_over) {
                ret = zoned_take_over(bs, errp);
                if (ret < 0) {
                    goto fail;
                }
            }
            /*
             * The open zones of a hand-over are for the next writer only:
             * another writer may close them, and crash, before an inactive
             * open takes the image over again.
             */
            if ((flags & BDRV_O_RDWR) && !(flags & BDRV_O_INACTIVE)) {
                ret = zoned_clear_open_bits(bs, wps, errp);
                if (ret < 0) {
                    goto fail;
                }
            }
        }
    }
    z->saved_generation = block_zone_emu_generation(ze);
    return 0;

fail:
    qcow2_zoned_close(bs);
    return ret;
}

void qcow2_zoned_close(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;

    if (!z) {
        return;
    }
    block_zone_emu_free(z->ze);
    g_free(z->disk_wps);
    g_free(z);
    s->zoned = NULL;
}

void qcow2_zoned_refresh_limits(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;

    if (s->zoned) {
        block_zone_emu_refresh_limits(s->zoned->ze, &bs->bl);
    }
}

bool qcow2_zoned_covers_seq_zone(BlockDriverState *bs, int64_t offset,
                                 int64_t bytes)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t conv_end;

    if (!s->zoned) {
        return false;
    }
    conv_end = s->zoned_ext.conventional_zones * s->zoned_ext.zone_size;
    return offset + bytes > conv_end;
}

/*
 * Reads: the data below each zone's write pointer; above it, zeroes (what a
 * failed write or a crash left there is not the device's data).
 */
int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_co_preadv(BlockDriverState *bs, int64_t offset, int64_t bytes,
                      QEMUIOVector *qiov, size_t qiov_offset,
                      BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    BlockZoneEmu *ze = s->zoned->ze;
    uint64_t zone_mask = s->zoned_ext.zone_size - 1;
    int ret;

    while (bytes > 0) {
        uint64_t n = MIN(bytes, (offset | zone_mask) + 1 - offset);
        uint64_t data_end = block_zone_emu_read_end(ze, offset);
        uint64_t r = data_end > offset ? MIN(n, data_end - offset) : 0;

        if (r) {
            ret = qcow2_co_preadv_data(bs, offset, r, qiov, qiov_offset,
                                       flags);
            if (ret < 0) {
                return ret;
            }
        }
        if (n > r) {
            qemu_iovec_memset(qiov, qiov_offset + r, 0, n - r);
        }
        offset += n;
        qiov_offset += n;
        bytes -= n;
    }
    return 0;
}

typedef struct ZonedStore {
    BlockDriverState *bs;
    QEMUIOVector *qiov;
    size_t qiov_offset;
    BdrvRequestFlags flags;
} ZonedStore;

/* The store function of the zones: the data of a write that they allow. */
static int coroutine_fn GRAPH_RDLOCK
zoned_store(void *opaque, uint64_t offset, uint64_t bytes,
            uint64_t req_offset)
{
    ZonedStore *st = opaque;

    return qcow2_co_pwritev_data(st->bs, offset, bytes, st->qiov,
                                 st->qiov_offset + req_offset, st->flags);
}

int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_co_pwritev(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       QEMUIOVector *qiov, size_t qiov_offset,
                       BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    ZonedStore st = {
        .bs = bs, .qiov = qiov, .qiov_offset = qiov_offset, .flags = flags,
    };

    if (s->zoned->table_bad) {
        return -EIO;
    }
    return block_zone_emu_write(s->zoned->ze, offset, bytes, zoned_store,
                                &st);
}

int coroutine_fn GRAPH_RDLOCK
qcow2_co_zone_report(BlockDriverState *bs, int64_t offset,
                     unsigned int *nr_zones, BlockZoneDescriptor *zones)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->zoned) {
        return -ENOTSUP;
    }
    return block_zone_emu_report(s->zoned->ze, offset, nr_zones, zones);
}

int coroutine_fn GRAPH_RDLOCK
qcow2_co_zone_mgmt(BlockDriverState *bs, BlockZoneOp op, int64_t offset,
                   int64_t len)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->zoned) {
        return -ENOTSUP;
    }
    if (s->zoned->table_bad) {
        return -EIO;
    }
    return block_zone_emu_mgmt(s->zoned->ze, op, offset, len);
}

int coroutine_fn GRAPH_RDLOCK
qcow2_co_zone_append(BlockDriverState *bs, int64_t *offset,
                     QEMUIOVector *qiov, BdrvRequestFlags flags)
{
    BDRVQcow2State *s = bs->opaque;
    ZonedStore st = { .bs = bs, .qiov = qiov, .flags = flags };

    if (!s->zoned) {
        return -ENOTSUP;
    }
    if (s->zoned->table_bad) {
        return -EIO;
    }
    return block_zone_emu_append(s->zoned->ze, offset, qiov->size,
                                 zoned_store, &st);
}

/*
 * Save the write pointers, with the zones locked: first make the data and
 * the metadata of the writes that moved them durable, then write the blocks
 * of the table that changed.  The flush that called us makes the table
 * durable after that.
 */
static int coroutine_fn GRAPH_RDLOCK
zoned_save_cb(void *opaque, const uint64_t *wps, uint64_t generation)
{
    BlockDriverState *bs = opaque;
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    uint32_t first, last;
    int ret;

    if (generation == z->saved_generation && !z->disk_stale) {
        return 0;
    }
    if (!zoned_changed_range(z, wps, &first, &last)) {
        z->saved_generation = generation;
        return 0;
    }

    qemu_co_mutex_lock(&s->lock);
    ret = qcow2_write_caches(bs);
    qemu_co_mutex_unlock(&s->lock);
    if (ret < 0) {
        return ret;
    }
    ret = zoned_write_table_after_data(bs, wps, first, last);
    if (ret < 0) {
        return ret;
    }
    trace_qcow2_zoned_save(bs, first, last);
    z->saved_generation = generation;
    return 0;
}

int coroutine_fn GRAPH_RDLOCK qcow2_zoned_co_save(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;

    if (!z || z->table_bad || !(bs->open_flags & BDRV_O_RDWR) ||
        (bs->open_flags & (BDRV_O_INACTIVE | BDRV_O_NO_IO))) {
        return 0;
    }
    return block_zone_emu_save(z->ze, zoned_save_cb, bs);
}

Qcow2ZoneOptions *qcow2_zoned_get_info(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    Qcow2ZoneOptions *info;

    if (!s->zoned) {
        return NULL;
    }
    info = g_new0(Qcow2ZoneOptions, 1);
    *info = (Qcow2ZoneOptions) {
        .mode = ext->zoned == QCOW2_ZONED_HA ? BLOCK_ZONED_MODEL_HOST_AWARE :
                BLOCK_ZONED_MODEL_HOST_MANAGED,
        .has_size = true,
        .size = ext->zone_size,
        .has_capacity = true,
        .capacity = ext->zone_capacity,
        .has_conventional_zones = true,
        .conventional_zones = ext->conventional_zones,
        .has_max_open_zones = true,
        .max_open_zones = ext->max_open_zones,
        .has_max_active_zones = true,
        .max_active_zones = ext->max_active_zones,
        .has_max_append_bytes = true,
        .max_append_bytes = ext->max_append_bytes,
    };
    return info;
}

/*
 * Create: set the zoned extension of a new image of its final size, and
 * write its table, every zone empty.
 */
int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_co_create(BlockDriverState *bs, Qcow2ZoneOptions *opts,
                      Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t size = bs->total_sectors * BDRV_SECTOR_SIZE;
    Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    g_autofree uint64_t *wps = NULL;
    BlockZoneEmu *ze;
    uint64_t capacity, max_append;
    int64_t offset;
    uint32_t i;
    int ret;

    if (opts->mode == BLOCK_ZONED_MODEL_NONE) {
        return 0;
    }
    if (s->qcow_version < 3) {
        error_setg(errp, "zoned images need compatibility level 1.1 or "
                   "above (use version=v3 or greater)");
        return -EINVAL;
    }
    if (s->nb_snapshots || bs->backing || s->image_backing_file) {
        error_setg(errp, "zoned images cannot have snapshots or a backing "
                   "file");
        return -EINVAL;
    }
    if (has_data_file(bs)) {
        error_setg(errp, "zoned images keep their data in the image file: "
                   "an external data file is not supported");
        return -ENOTSUP;
    }
    *ext = (Qcow2ZonedHeaderExtension) {
        .zoned = opts->mode == BLOCK_ZONED_MODEL_HOST_AWARE ?
                 QCOW2_ZONED_HA : QCOW2_ZONED_HM,
        .zone_size = opts->has_size ? opts->size : 256 * MiB,
        .conventional_zones = opts->has_conventional_zones ?
                              opts->conventional_zones : 0,
        .max_open_zones = opts->has_max_open_zones ? opts->max_open_zones : 0,
        .max_active_zones = opts->has_max_active_zones ?
                            opts->max_active_zones : 0,
    };
    capacity = opts->has_capacity ? opts->capacity : ext->zone_size;
    ext->zone_capacity = capacity;
    max_append = opts->has_max_append_bytes ? opts->max_append_bytes :
                 MIN(capacity, UINT32_MAX & ~(uint64_t)(BDRV_SECTOR_SIZE - 1));
    if (max_append > UINT32_MAX) {
        error_setg(errp, "zone.max_append_bytes (%" PRIu64 ") must be less "
                   "than 4 GiB", max_append);
        ext->zoned = 0;
        return -EINVAL;
    }
    ext->max_append_bytes = max_append;
    if (ext->zone_size) {
        /* zoned_check_ext() refuses more zones than zone-emu takes */
        ext->nr_zones = MIN(DIV_ROUND_UP(size, ext->zone_size), UINT32_MAX);
    }
    ext->zonedmeta_size = (uint64_t)ext->nr_zones * sizeof(uint64_t);
    ext->zonedmeta_offset = s->cluster_size; /* any non-zero value, for now */
    ze = zoned_check_ext(bs, size, NULL, errp);
    if (!ze) {
        ext->zoned = 0;
        return -EINVAL;
    }

    wps = g_new(uint64_t, ext->nr_zones);
    for (i = 0; i < ext->nr_zones; i++) {
        wps[i] = cpu_to_be64((uint64_t)i * ext->zone_size);
    }
    block_zone_emu_free(ze);

    offset = qcow2_alloc_clusters(bs, ext->zonedmeta_size);
    if (offset < 0) {
        error_setg_errno(errp, -offset, "Could not allocate the zone write "
                         "pointers");
        ext->zoned = 0;
        return offset;
    }
    ext->zonedmeta_offset = offset;
    ret = bdrv_co_pwrite_zeroes(bs->file, offset,
                                ROUND_UP(ext->zonedmeta_size, s->cluster_size),
                                0);
    if (ret >= 0) {
        ret = bdrv_co_pwrite(bs->file, offset, ext->zonedmeta_size, wps, 0);
    }
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write the zone write "
                         "pointers");
        ext->zoned = 0;
        return ret;
    }
    s->incompatible_features |= QCOW2_INCOMPAT_ZONED;
    ret = qcow2_update_header(bs);
    if (ret < 0) {
        error_setg_errno(errp, -ret, "Could not write the zoned extension");
        return ret;
    }
    return 0;
}

/* Check: the table's clusters are in use. */
int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_check_refcounts(BlockDriverState *bs, BdrvCheckResult *res,
                            void **refcount_table, int64_t *nb_clusters)
{
    BDRVQcow2State *s = bs->opaque;

    if (!s->zoned) {
        return 0;
    }
    return qcow2_inc_refcounts_imrt(bs, res, refcount_table, nb_clusters,
                                    s->zoned_ext.zonedmeta_offset,
                                    s->zoned_ext.zonedmeta_size);
}

/*
 * From @start on, up to @end: where the run of allocated clusters (data or
 * zeroes) ends (@prefix_end), where the last allocated cluster ends
 * (@alloc_end, if not NULL), and how many bytes of clusters that hold data
 * there are (@data_bytes, if not NULL).
 */
static int coroutine_fn GRAPH_RDLOCK
zoned_scan(BlockDriverState *bs, uint64_t start, uint64_t end,
           uint64_t *prefix_end, uint64_t *alloc_end, uint64_t *data_bytes)
{
    uint64_t pos = start;
    bool in_prefix = true;

    *prefix_end = start;
    if (alloc_end) {
        *alloc_end = start;
    }
    if (data_bytes) {
        *data_bytes = 0;
    }
    while (pos < end) {
        unsigned int bytes = MIN(end - pos, INT_MAX);
        uint64_t host_offset;
        QCow2SubclusterType type;
        int ret;

        ret = qcow2_get_host_offset(bs, pos, &bytes, &host_offset, &type);
        if (ret < 0) {
            return ret;
        }
        if (type == QCOW2_SUBCLUSTER_UNALLOCATED_PLAIN) {
            in_prefix = false;
            if (!alloc_end && !data_bytes) {
                break;
            }
        } else {
            if (in_prefix) {
                *prefix_end = MIN(pos + bytes, end);
            }
            if (alloc_end) {
                *alloc_end = MIN(pos + bytes, end);
            }
        }
        if (data_bytes && type != QCOW2_SUBCLUSTER_UNALLOCATED_PLAIN &&
            type != QCOW2_SUBCLUSTER_ZERO_PLAIN) {
            *data_bytes += MIN(bytes, end - pos);
        }
        pos += bytes;
    }
    return 0;
}

/*
 * Check: make [from, end) of a zone read as zeroes, with s->lock held (so
 * not through the data paths, which take it).
 */
static int coroutine_fn GRAPH_RDLOCK
zoned_check_zero(BlockDriverState *bs, uint64_t from, uint64_t end)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t mid = MIN(ROUND_UP(from, s->cluster_size), end);
    uint64_t disk_end = bs->total_sectors * BDRV_SECTOR_SIZE;
    uint64_t pos = from;
    int ret;

    while (pos < mid) {
        unsigned int bytes = mid - pos;
        uint64_t host_offset;
        QCow2SubclusterType type;

        ret = qcow2_get_host_offset(bs, pos, &bytes, &host_offset, &type);
        if (ret < 0) {
            return ret;
        }
        if (type == QCOW2_SUBCLUSTER_NORMAL) {
            ret = bdrv_co_pwrite_zeroes(s->data_file, host_offset, bytes, 0);
            if (ret < 0) {
                return ret;
            }
        } else if (type != QCOW2_SUBCLUSTER_UNALLOCATED_PLAIN &&
                   type != QCOW2_SUBCLUSTER_ZERO_PLAIN &&
                   type != QCOW2_SUBCLUSTER_ZERO_ALLOC) {
            /* Compressed data has no business in a zoned image */
            ret = qcow2_cluster_discard(bs, QEMU_ALIGN_DOWN(pos,
                                                            s->cluster_size),
                                        s->cluster_size, QCOW2_DISCARD_ALWAYS,
                                        true);
            if (ret < 0) {
                return ret;
            }
        }
        pos += bytes;
    }
    if (end > mid) {
        /*
         * From @mid, a cluster boundary, whole clusters: the one that @end
         * (a zone's capacity) may end inside is in its zone, and what it
         * holds above @end cannot be read.
         */
        uint64_t drop_end = MIN(ROUND_UP(end, s->cluster_size), disk_end);

        return qcow2_cluster_discard(bs, mid, drop_end - mid,
                                     QCOW2_DISCARD_ALWAYS, true);
    }
    return 0;
}

/*
 * Check (and with @fix repair) the write pointers against the data: each
 * one inside its zone's writable range, a multiple of 512 bytes, and, in a
 * host-managed zone that is not full, no cluster below it unallocated (a
 * write pointer ahead of the data: writes allocate their clusters, but a
 * finish need not allocate the rest of the zone, which reads as zeroes; a
 * host-aware zone takes writes anywhere below its write pointer).  A
 * write pointer that is repaired goes where the zone's data ends.  Data
 * above a write pointer is what a crash can leave: it is counted as leaked
 * space, and dropped by a repair of leaks, but not in a zone whose write
 * pointer is wrong and stays so.  Called with s->lock held.
 */
int coroutine_fn GRAPH_RDLOCK
qcow2_zoned_co_check(BlockDriverState *bs, BdrvCheckResult *res,
                     BdrvCheckMode fix)
{
    BDRVQcow2State *s = bs->opaque;
    Qcow2Zoned *z = s->zoned;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    uint64_t size = bs->total_sectors * BDRV_SECTOR_SIZE;
    g_autofree uint64_t *wps = NULL;
    uint32_t i, nr_fixed = 0;
    uint64_t nr_dropped = 0;
    uint32_t nr_partly = 0;
    Error *local_err = NULL;
    int ret;

    if (!z) {
        return 0;
    }
    wps = g_new(uint64_t, z->nr_zones);
    ret = zoned_read_table(bs, wps, &local_err);
    if (ret < 0) {
        error_report_err(local_err);
        res->check_errors++;
        return ret;
    }
    /* The open conditions of a hand-over are no error */
    for (i = 0; i < z->nr_zones; i++) {
        wps[i] = zoned_entry_wp(wps[i]);
    }

    for (i = ext->conventional_zones; i < z->nr_zones; i++) {
        uint64_t start = (uint64_t)i * ext->zone_size;
        uint64_t len = MIN(ext->zone_size, size - start);
        uint64_t cap = MIN(ext->zone_capacity, len);
        uint64_t wp = wps[i], fixed = wp;
        uint64_t prefix_end, alloc_end, data_end, data_from, stale;
        bool wp_bad = false;

        ret = zoned_scan(bs, start, start + len, &prefix_end,
                         ext->zoned == QCOW2_ZONED_HA ? &alloc_end : NULL,
                         NULL);
        if (ret < 0) {
            res->check_errors++;
            return ret;
        }
        prefix_end = MIN(prefix_end, start + cap);
        /* Where the zone's data ends */
        data_end = ext->zoned == QCOW2_ZONED_HA ?
                   MIN(alloc_end, start + cap) : prefix_end;

        if (block_zone_emu_check_wp(z->ze, i, wp, &local_err) < 0) {
            fprintf(stderr, "%s %s\n",
                    fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR",
                    error_get_pretty(local_err));
            error_free(local_err);
            local_err = NULL;
            wp_bad = true;
            fixed = QEMU_ALIGN_DOWN(wp < start ? data_end : MIN(wp, data_end),
                                    BDRV_SECTOR_SIZE);
        } else if (ext->zoned == QCOW2_ZONED_HM &&
                   wp > start && wp < start + cap && prefix_end < wp) {
            fprintf(stderr, "%s zone %" PRIu32 ": write pointer 0x%" PRIx64
                    " ahead of the data (allocated up to 0x%" PRIx64 ")\n",
                    fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", i, wp,
                    prefix_end);
            fixed = QEMU_ALIGN_DOWN(prefix_end, BDRV_SECTOR_SIZE);
        }
        if (fixed != wp) {
            res->corruptions++;
            if (fix & BDRV_FIX_ERRORS) {
                wps[i] = fixed;
                nr_fixed++;
                res->corruptions--;
                res->corruptions_fixed++;
                wp_bad = false;
            }
        }
        if (wp_bad) {
            /* Which clusters are above it is not known */
            continue;
        }

        /* Clusters above the write pointer that hold data */
        data_from = ROUND_UP(wps[i], s->cluster_size);
        if (data_from < start + len) {
            uint64_t unused;

            ret = zoned_scan(bs, data_from, start + len, &unused, NULL,
                             &stale);
            if (ret < 0) {
                res->check_errors++;
                return ret;
            }
        } else {
            stale = 0;
        }
        if (stale) {
            uint64_t nr = DIV_ROUND_UP(stale, s->cluster_size);

            fprintf(stderr, "%s zone %" PRIu32 ": %" PRIu64 " clusters of "
                    "data above the write pointer (0x%" PRIx64 ")\n",
                    fix & BDRV_FIX_LEAKS ? "Dropping" : "Leaked", i, nr,
                    wps[i]);
            if (fix & BDRV_FIX_LEAKS) {
                ret = qcow2_cluster_discard(bs, data_from,
                                            start + len - data_from,
                                            QCOW2_DISCARD_ALWAYS, true);
                if (ret < 0) {
                    res->check_errors++;
                    return ret;
                }
                nr_dropped += nr;
                res->leaks_fixed += nr;
            } else {
                res->leaks += nr;
            }
        }
        if (wps[i] != start && wps[i] != start + cap) {
            nr_partly++;
        }
    }

    if (ext->zoned == QCOW2_ZONED_HM && ext->max_active_zones &&
        nr_partly > ext->max_active_zones) {
        fprintf(stderr, "%s %" PRIu32 " zones are partly written, more than "
                "the maximum of active zones (%" PRIu32 ")\n",
                fix & BDRV_FIX_ERRORS ? "Repairing" : "ERROR", nr_partly,
                ext->max_active_zones);
        res->corruptions++;
        if (fix & BDRV_FIX_ERRORS) {
            /* Finish the last ones: that loses no data */
            for (i = z->nr_zones - 1; nr_partly > ext->max_active_zones;
                 i--) {
                uint64_t start = (uint64_t)i * ext->zone_size;
                uint64_t cap = MIN(ext->zone_capacity, size - start);

                if (wps[i] == start || wps[i] == start + cap) {
                    continue;
                }
                ret = zoned_check_zero(bs, wps[i], start + cap);
                if (ret < 0) {
                    res->check_errors++;
                    return ret;
                }
                fprintf(stderr, "Finishing zone %" PRIu32 "\n", i);
                wps[i] = start + cap;
                nr_fixed++;
                nr_partly--;
            }
            res->corruptions--;
            res->corruptions_fixed++;
        }
    }

    if (nr_fixed) {
        ret = zoned_write_table(bs, wps, ext->conventional_zones,
                                z->nr_zones - 1);
        if (ret >= 0) {
            ret = bdrv_co_flush(bs->file->bs);
        }
        if (ret < 0) {
            fprintf(stderr, "ERROR writing the repaired write pointers: %s\n",
                    strerror(-ret));
            res->check_errors++;
            return ret;
        }
    }
    if (nr_dropped) {
        /* The rest of the check reads the L2 tables from the image file */
        ret = qcow2_write_caches(bs);
        if (ret < 0) {
            res->check_errors++;
            return ret;
        }
    }
    if ((nr_fixed || z->table_bad) && !res->corruptions) {
        if (block_zone_emu_set_wps(z->ze, wps, &local_err) < 0) {
            error_report_err(local_err);
            res->check_errors++;
            return -EINVAL;
        }
        z->table_bad = false;
        memcpy(z->disk_wps, wps, z->nr_zones * sizeof(uint64_t));
    }
    return 0;
}

typedef struct ZonedAmend {
    BlockDriverState *bs;
    Qcow2ZoneOptions *want;
    Error **errp;
    int ret;
    bool done;
} ZonedAmend;

/*
 * Whether the image has data: a cluster that holds data, or a zone whose
 * write pointer is not at its start.
 */
static int coroutine_fn GRAPH_RDLOCK zoned_has_data(BlockDriverState *bs)
{
    BDRVQcow2State *s = bs->opaque;
    uint64_t size = bs->total_sectors * BDRV_SECTOR_SIZE;
    uint64_t pos = 0;
    uint32_t i;
    int ret = 0;

    if (s->zoned) {
        for (i = s->zoned_ext.conventional_zones; i < s->zoned->nr_zones; i++) {
            if (zoned_entry_wp(s->zoned->disk_wps[i]) !=
                (uint64_t)i * s->zoned_ext.zone_size) {
                return 1;
            }
        }
    }
    qemu_co_mutex_lock(&s->lock);
    while (pos < size && !ret) {
        unsigned int bytes = MIN(size - pos, INT_MAX);
        uint64_t host_offset;
        QCow2SubclusterType type;

        ret = qcow2_get_host_offset(bs, pos, &bytes, &host_offset, &type);
        if (ret == 0 && type != QCOW2_SUBCLUSTER_UNALLOCATED_PLAIN &&
            type != QCOW2_SUBCLUSTER_ZERO_PLAIN) {
            ret = 1;
        }
        pos += bytes;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/*
 * The header names the new zones, or none, before the old table goes: an
 * amend that fails leaves the image as it was, and a crash in between
 * leaks the old table's clusters at worst.
 */
static void coroutine_fn zoned_amend_entry(void *opaque)
{
    ZonedAmend *a = opaque;
    BlockDriverState *bs = a->bs;
    BDRVQcow2State *s = bs->opaque;
    Qcow2ZonedHeaderExtension old_ext = s->zoned_ext;
    uint64_t old_features = s->incompatible_features;
    int ret;

    GRAPH_RDLOCK_GUARD();

    ret = zoned_has_data(bs);
    if (ret) {
        if (ret > 0) {
            error_setg(a->errp, "Cannot change the zones of an image that has "
                       "data; create a new image instead");
            ret = -EBUSY;
        } else {
            error_setg_errno(a->errp, -ret, "Could not read the image");
        }
        goto out;
    }
    s->zoned_ext = (Qcow2ZonedHeaderExtension) { 0 };
    s->incompatible_features &= ~QCOW2_INCOMPAT_ZONED;
    if (a->want->mode == BLOCK_ZONED_MODEL_NONE) {
        ret = qcow2_update_header(bs);
        if (ret < 0) {
            error_setg_errno(a->errp, -ret, "Could not update the header");
        }
    } else {
        ret = qcow2_zoned_co_create(bs, a->want, a->errp);
    }
    if (ret < 0) {
        s->zoned_ext = old_ext;
        s->incompatible_features = old_features;
        goto out;
    }
    if (s->zoned) {
        /* Drop the old zones and their table */
        qcow2_free_clusters(bs, old_ext.zonedmeta_offset,
                            old_ext.zonedmeta_size, QCOW2_DISCARD_OTHER);
        qcow2_zoned_close(bs);
    }
    if (a->want->mode != BLOCK_ZONED_MODEL_NONE) {
        ret = qcow2_zoned_open(bs, bs->open_flags, a->errp);
    }
out:
    a->ret = ret;
    a->done = true;
    aio_wait_kick();
}

/*
 * Amend the zones with the zone.* options in @opts: what is not given stays
 * as it is.  The zones of an image that has data are fixed (the write
 * pointers and the data depend on them); an empty image can be given other
 * zones, or made zoned, or regular.
 */
int qcow2_zoned_amend(BlockDriverState *bs, QemuOpts *opts, Error **errp)
{
    BDRVQcow2State *s = bs->opaque;
    const Qcow2ZonedHeaderExtension *ext = &s->zoned_ext;
    g_autoptr(Qcow2ZoneOptions) want = g_new0(Qcow2ZoneOptions, 1);
    const char *mode = qemu_opt_get(opts, "zone.mode");
    ZonedAmend a = { .bs = bs, .want = want, .errp = errp };
    Coroutine *co;

    want->mode = !ext->zoned ? BLOCK_ZONED_MODEL_NONE :
                 ext->zoned == QCOW2_ZONED_HA ? BLOCK_ZONED_MODEL_HOST_AWARE :
                 BLOCK_ZONED_MODEL_HOST_MANAGED;
    if (mode) {
        int m = qapi_enum_parse(&BlockZonedModel_lookup, mode, -1, errp);

        if (m < 0) {
            return -EINVAL;
        }
        want->mode = m;
    }
    if (ext->zoned) {
        want->has_size = want->has_capacity = true;
        want->has_conventional_zones = want->has_max_open_zones = true;
        want->has_max_active_zones = want->has_max_append_bytes = true;
        want->size = ext->zone_size;
        want->capacity = ext->zone_capacity;
        want->conventional_zones = ext->conventional_zones;
        want->max_open_zones = ext->max_open_zones;
        want->max_active_zones = ext->max_active_zones;
        want->max_append_bytes = ext->max_append_bytes;
    }
#define ZONED_AMEND(field, opt, get)                                \
    if (qemu_opt_find(opts, "zone." opt)) {                         \
        want->has_##field = true;                                   \
        want->field = get(opts, "zone." opt, 0);                    \
    }
    ZONED_AMEND(size, "size", qemu_opt_get_size)
    ZONED_AMEND(capacity, "capacity", qemu_opt_get_size)
    ZONED_AMEND(conventional_zones, "conventional_zones", qemu_opt_get_number)
    ZONED_AMEND(max_open_zones, "max_open_zones", qemu_opt_get_number)
    ZONED_AMEND(max_active_zones, "max_active_zones", qemu_opt_get_number)
    ZONED_AMEND(max_append_bytes, "max_append_bytes", qemu_opt_get_size)
#undef ZONED_AMEND
    /* What is derived from a new size or capacity takes its default */
    if (qemu_opt_find(opts, "zone.size") &&
        !qemu_opt_find(opts, "zone.capacity")) {
        want->has_capacity = false;
    }
    if ((qemu_opt_find(opts, "zone.size") ||
         qemu_opt_find(opts, "zone.capacity")) &&
        !qemu_opt_find(opts, "zone.max_append_bytes")) {
        want->has_max_append_bytes = false;
    }

    if (ext->zoned && want->mode != BLOCK_ZONED_MODEL_NONE &&
        (want->mode == BLOCK_ZONED_MODEL_HOST_AWARE) ==
        (ext->zoned == QCOW2_ZONED_HA) &&
        want->size == ext->zone_size && want->has_capacity &&
        want->capacity == ext->zone_capacity && want->has_max_append_bytes &&
        want->conventional_zones == ext->conventional_zones &&
        want->max_open_zones == ext->max_open_zones &&
        want->max_active_zones == ext->max_active_zones &&
        want->max_append_bytes == ext->max_append_bytes) {
        return 0;
    }
    if (!ext->zoned && want->mode == BLOCK_ZONED_MODEL_NONE) {
        if (qemu_opt_find(opts, "zone.size") ||
            qemu_opt_find(opts, "zone.capacity") ||
            qemu_opt_find(opts, "zone.conventional_zones") ||
            qemu_opt_find(opts, "zone.max_open_zones") ||
            qemu_opt_find(opts, "zone.max_active_zones") ||
            qemu_opt_find(opts, "zone.max_append_bytes")) {
            error_setg(errp, "The image is not zoned: zone options need "
                       "zone.mode=host-managed or host-aware");
            return -EINVAL;
        }
        return 0;
    }

    co = qemu_coroutine_create(zoned_amend_entry, &a);
    if (qemu_in_coroutine()) {
        qemu_coroutine_enter(co);
    } else {
        aio_co_enter(bdrv_get_aio_context(bs), co);
        BDRV_POLL_WHILE(bs, !a.done);
    }
    return a.ret;
}
