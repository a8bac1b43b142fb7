/*
 * snapfuzz: in-memory snapshots of the whole VM
 *
 * RAM: a copy of every RAM block but the device's own windows; dirty
 * tracking (DIRTY_MEMORY_MIGRATION, global dirty logging on) tells which
 * pages the guest changed, and a restore copies back only those.  Under
 * TCG, translated code of restored pages is invalidated.
 * Devices and CPUs: their vmstate, saved to and loaded from a memory
 * buffer.  The guest clocks are stopped around both, so that the saved
 * clock offsets are absolute and a restore takes the guest's time back to
 * the snapshot's.
 *
 * Snapshots pushed above the root keep only the pages that differed from
 * the snapshot below when they were taken; a restore takes each page it
 * copies back from the topmost snapshot that has it, or from the root's
 * copy.  Every RAM block's dirty bitmap holds the pages that may differ
 * from the top snapshot and were not collected yet; popping a snapshot
 * adds the pages it kept, which differ from the one below.
 *
 * All of this runs in the main loop with the BQL held and the vCPUs
 * paused (see snapfuzz.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qobject/qdict.h"
#include "qemu/bitmap.h"
#include "qemu/bitops.h"
#include "exec/ramlist.h"
#include "exec/target_page.h"
#include "exec/translation-block.h"
#include "system/memory.h"
#include "system/physmem.h"
#include "system/ramblock.h"
#include "system/tcg.h"
#include "block/aio-wait.h"
#include "block/block-global-state.h"
#include "migration/blocker.h"
#include "migration/global_state.h"
#include "migration/migration.h"
#include "migration/qemu-file.h"
#include "migration/savevm.h"
#include "system/block-backend.h"
#include "system/iothread.h"
#include "snapfuzz-internal.h"
#include "snapfuzz-overlay.h"

static bool snapfuzz_own_block(SnapfuzzState *s, RAMBlock *rb)
{
    return rb->mr == &s->input_ram || rb->mr == &s->cov_ram;
}

static void snapfuzz_level_free(SnapfuzzState *s, SnapfuzzLevel *l)
{
    if (l->kept) {
        for (unsigned i = 0; i < s->nr_ram; i++) {
            g_free(l->kept[i].pages);
            g_free(l->kept[i].data);
        }
    }
    g_free(l->kept);
    l->kept = NULL;
    g_free(l->devstate);
    l->devstate = NULL;
    l->devstate_len = 0;
}

void snapfuzz_snapshot_free(SnapfuzzState *s)
{
    while (s->depth) {
        snapfuzz_level_free(s, &s->levels[--s->depth]);
    }
    for (unsigned i = 0; i < s->nr_ram; i++) {
        g_free(s->ram[i].copy);
        g_free(s->ram[i].dirty);
    }
    g_free(s->ram);
    s->ram = NULL;
    s->nr_ram = 0;
    g_free(s->devstate);
    s->devstate = NULL;
    s->devstate_len = 0;
    s->have_snapshot = false;
}

/*
 * Collect (and clear) what was dirtied since the last call; TCG notes the
 * next write to each of these pages again.
 */
static uint64_t snapfuzz_sync_dirty(SnapfuzzState *s)
{
    uint64_t pages = 0;

    if (!tcg_enabled()) {
        /* TCG marks pages itself; others keep a log of their own. */
        memory_global_dirty_log_sync(false);
    }
    RCU_READ_LOCK_GUARD();
    for (unsigned i = 0; i < s->nr_ram; i++) {
        pages += physical_memory_sync_dirty_bitmap(s->ram[i].rb, 0,
                                                   s->ram[i].len,
                                                   s->ram[i].dirty);
    }
    return pages;
}

/*
 * The vmstate goes through a QIOChannelBuffer whose data the device owns:
 * closing the QEMUFile closes the channel, which would free it.
 */
static bool snapfuzz_save_devices(uint8_t **buf, size_t *len, Error **errp)
{
    QIOChannelBuffer *bioc;
    QEMUFile *f;
    int ret;

    bioc = qio_channel_buffer_new(*len ? *len : 65536);
    qio_channel_set_name(QIO_CHANNEL(bioc), "snapfuzz-save");
    f = qemu_file_new_output(QIO_CHANNEL(bioc));
    /* Its post_load wants a run state; migration stores it the same way. */
    global_state_store();
    ret = qemu_save_device_state(f);
    qemu_fflush(f);
    if (ret >= 0) {
        ret = qemu_file_get_error(f);
    }
    g_free(*buf);
    *buf = bioc->data;
    *len = bioc->usage;
    bioc->data = NULL;
    bioc->capacity = bioc->usage = bioc->offset = 0;
    qemu_fclose(f);
    object_unref(OBJECT(bioc));
    if (ret < 0) {
        error_setg(errp, "saving the device state failed (%d)", ret);
        return false;
    }
    return true;
}

static bool snapfuzz_load_devices(uint8_t *buf, size_t len, Error **errp)
{
    QIOChannelBuffer *bioc;
    QEMUFile *f;
    int ret = -1;

    bioc = qio_channel_buffer_new(0);
    qio_channel_set_name(QIO_CHANNEL(bioc), "snapfuzz-load");
    g_free(bioc->data);
    bioc->data = buf;
    bioc->capacity = bioc->usage = len;
    f = qemu_file_new_input(QIO_CHANNEL(bioc));
    if (qemu_get_be32(f) != QEMU_VM_FILE_MAGIC ||
        qemu_get_be32(f) != QEMU_VM_FILE_VERSION) {
        error_setg(errp, "the saved device state is corrupt");
    } else {
        ret = qemu_load_device_state(f, errp);
    }
    bioc->data = NULL;
    bioc->capacity = bioc->usage = bioc->offset = 0;
    qemu_fclose(f);
    object_unref(OBJECT(bioc));
    return ret >= 0;
}

static bool snapfuzz_take_vm(SnapfuzzState *s, Error **errp)
{
    size_t page_size = qemu_target_page_size();
    unsigned n = 0, i = 0;
    RAMBlock *rb;

    if (!s->dirty_log_on) {
        if (!memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION, errp)) {
            return false;
        }
        s->dirty_log_on = true;
    }

    snapfuzz_snapshot_free(s);

    WITH_RCU_READ_LOCK_GUARD() {
        RAMBLOCK_FOREACH(rb) {
            if (!snapfuzz_own_block(s, rb)) {
                n++;
            }
        }
        s->ram = g_new0(SnapfuzzRAM, n);
        RAMBLOCK_FOREACH(rb) {
            SnapfuzzRAM *r;

            if (snapfuzz_own_block(s, rb) || i == n) {
                continue;
            }
            r = &s->ram[i++];
            r->rb = rb;
            r->host = qemu_ram_get_host_addr(rb);
            r->len = qemu_ram_get_used_length(rb);
            r->dirty = g_try_new0(unsigned long,
                                  BITS_TO_LONGS(DIV_ROUND_UP(r->len,
                                                             page_size)));
            r->copy = g_try_malloc(r->len);
            s->nr_ram = i;
            if (!r->dirty || !r->copy) {
                error_setg(errp, "no memory for a copy of RAM block %s "
                           "(%" PRIu64 " bytes)", qemu_ram_get_idstr(rb),
                           r->len);
                snapfuzz_snapshot_free(s);
                return false;
            }
        }
        s->ram_version = ram_list.version;
    }

    /* From now on, writes are new; then the copy. */
    snapfuzz_sync_dirty(s);
    for (i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];

        bitmap_zero(r->dirty, DIV_ROUND_UP(r->len, page_size));
        memcpy(r->copy, r->host, r->len);
    }

    if (!snapfuzz_save_devices(&s->devstate, &s->devstate_len, errp)) {
        snapfuzz_snapshot_free(s);
        return false;
    }
    s->have_snapshot = true;
    return true;
}

/* The copy of page p that k keeps, or NULL. */
static uint8_t *snapfuzz_kept_page(SnapfuzzKept *k, unsigned long p)
{
    unsigned long lo = 0, hi = k->n;

    while (lo < hi) {
        unsigned long mid = lo + (hi - lo) / 2;

        if (k->pages[mid] == p) {
            return k->data + (uint64_t)mid * qemu_target_page_size();
        }
        if (k->pages[mid] < p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* Page p of RAM block i as the top snapshot has it. */
static uint8_t *snapfuzz_snap_page(SnapfuzzState *s, unsigned i,
                                   unsigned long p)
{
    for (unsigned d = s->depth; d > 0; d--) {
        uint8_t *copy = snapfuzz_kept_page(&s->levels[d - 1].kept[i], p);

        if (copy) {
            return copy;
        }
    }
    return s->ram[i].copy + (uint64_t)p * qemu_target_page_size();
}

static void snapfuzz_copy_back(SnapfuzzState *s, unsigned i)
{
    SnapfuzzRAM *r = &s->ram[i];
    size_t page_size = qemu_target_page_size();
    unsigned long npages = r->len / page_size;
    unsigned long p;

    for (p = find_first_bit(r->dirty, npages); p < npages;
         p = find_next_bit(r->dirty, npages, p + 1)) {
        uint64_t off = (uint64_t)p * page_size;

        clear_bit(p, r->dirty);
        memcpy(r->host + off, snapfuzz_snap_page(s, i, p), page_size);
#ifdef CONFIG_TCG
        if (tcg_enabled()) {
            ram_addr_t addr = r->rb->offset + off;

            /* A page with translated code has its CODE bit clear. */
            if (!physical_memory_get_dirty_flag(addr, DIRTY_MEMORY_CODE)) {
                tb_invalidate_phys_range(NULL, addr, addr + page_size - 1);
            }
        }
#endif
    }
}

static bool snapfuzz_ram_unchanged(SnapfuzzState *s, Error **errp)
{
    if (ram_list.version != s->ram_version) {
        error_setg(errp, "RAM blocks were added or removed since the "
                   "snapshot");
        return false;
    }
    for (unsigned i = 0; i < s->nr_ram; i++) {
        if (qemu_ram_get_used_length(s->ram[i].rb) != s->ram[i].len) {
            error_setg(errp, "RAM block %s was resized since the snapshot",
                       qemu_ram_get_idstr(s->ram[i].rb));
            return false;
        }
    }
    return true;
}

static bool snapfuzz_restore_vm(SnapfuzzState *s, Error **errp)
{
    int64_t t0, t1, t2, t3;
    uint64_t pages;

    if (!snapfuzz_ram_unchanged(s, errp)) {
        return false;
    }

    t0 = get_clock();
    pages = snapfuzz_sync_dirty(s);
    t1 = get_clock();
    for (unsigned i = 0; i < s->nr_ram; i++) {
        snapfuzz_copy_back(s, i);
    }
    t2 = get_clock();
    if (s->depth) {
        SnapfuzzLevel *l = &s->levels[s->depth - 1];

        if (!snapfuzz_load_devices(l->devstate, l->devstate_len, errp)) {
            return false;
        }
    } else if (!snapfuzz_load_devices(s->devstate, s->devstate_len, errp)) {
        return false;
    }
    t3 = get_clock();

    s->stats.pages = pages;
    s->stats.sync_ns = t1 - t0;
    s->stats.copy_ns = t2 - t1;
    s->stats.device_ns = t3 - t2;
    s->stats.total_ns = t3 - t0;
    return true;
}

static void snapfuzz_pop_vm(SnapfuzzState *s);

/*
 * Take a snapshot above the top one: keep the pages written since the top
 * one was taken or restored, and the device state.  The caller checks the
 * depth.
 */
static bool snapfuzz_push_vm(SnapfuzzState *s, Error **errp)
{
    size_t page_size = qemu_target_page_size();
    SnapfuzzLevel *l = &s->levels[s->depth];

    if (!snapfuzz_ram_unchanged(s, errp)) {
        return false;
    }
    snapfuzz_sync_dirty(s);

    /*
     * The guest decides how many pages there are to keep: allocate for all
     * of them before anything changes, and fail if the host cannot.
     */
    l->kept = g_try_new0(SnapfuzzKept, s->nr_ram);
    if (!l->kept && s->nr_ram) {
        error_setg(errp, "no memory for a snapshot above the root");
        return false;
    }
    for (unsigned i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];
        SnapfuzzKept *k = &l->kept[i];
        unsigned long n = bitmap_count_one(r->dirty, r->len / page_size);

        if (!n) {
            continue;
        }
        k->pages = g_try_new(unsigned long, n);
        k->data = g_try_malloc((uint64_t)n * page_size);
        if (!k->pages || !k->data) {
            error_setg(errp, "no memory for a copy of %lu pages of RAM block "
                       "%s (%" PRIu64 " bytes)", n, qemu_ram_get_idstr(r->rb),
                       (uint64_t)n * page_size);
            snapfuzz_level_free(s, l);
            return false;
        }
    }

    for (unsigned i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];
        SnapfuzzKept *k = &l->kept[i];
        unsigned long npages = r->len / page_size;

        for (unsigned long p = find_first_bit(r->dirty, npages); p < npages;
             p = find_next_bit(r->dirty, npages, p + 1)) {
            clear_bit(p, r->dirty);
            k->pages[k->n] = p;
            memcpy(k->data + (uint64_t)k->n * page_size,
                   r->host + (uint64_t)p * page_size, page_size);
            k->n++;
        }
    }
    if (!snapfuzz_save_devices(&l->devstate, &l->devstate_len, errp)) {
        /* The kept pages still differ from the snapshot below. */
        s->depth++;
        snapfuzz_pop_vm(s);
        return false;
    }
    s->depth++;
    return true;
}

/* Drop the top snapshot; the next restore goes to the one below. */
static void snapfuzz_pop_vm(SnapfuzzState *s)
{
    SnapfuzzLevel *l = &s->levels[s->depth - 1];

    snapfuzz_sync_dirty(s);
    for (unsigned i = 0; i < s->nr_ram; i++) {
        SnapfuzzKept *k = &l->kept[i];

        for (unsigned long j = 0; j < k->n; j++) {
            set_bit(k->pages[j], s->ram[i].dirty);
        }
    }
    snapfuzz_level_free(s, l);
    s->depth--;
}

/*
 * Disks.  The guest's writable disks get an overlay with the first snapshot
 * (overlay.c), whose levels follow the snapshots.
 */
static bool snapfuzz_add_overlays(SnapfuzzState *s, Error **errp)
{
    BlockBackend *blk = NULL;

    while ((blk = blk_all_next(blk))) {
        BlockDriverState *bs = blk_bs(blk);
        BlockDriverState *ov;
        QDict *opts;

        if (!bs || !blk_get_attached_dev(blk) || !blk_is_writable(blk) ||
            snapfuzz_overlay_is(bs)) {
            continue;
        }
        opts = qdict_new();
        qdict_put_str(opts, "driver", "snapfuzz-overlay");
        qdict_put_str(opts, "file", bdrv_get_node_name(bs));
        qdict_put_int(opts, "limit", s->disk_limit);
        ov = bdrv_insert_node(bs, opts, BDRV_O_RDWR, errp);
        if (!ov) {
            error_prepend(errp, "cannot snapshot the disk of %s: ",
                          blk_get_attached_dev_id(blk));
            return false;
        }
        /* The disk's users hold it from now on. */
        bdrv_unref(ov);
    }
    return true;
}

/* Apply @op to the overlay of each of the guest's disks. */
static void snapfuzz_disks(void (*op)(BlockDriverState *bs))
{
    BlockBackend *blk = NULL;

    while ((blk = blk_all_next(blk))) {
        BlockDriverState *bs = blk_bs(blk);

        if (snapfuzz_overlay_is(bs)) {
            op(bs);
        }
    }
}

/*
 * Devices that cannot migrate (virtio-9p with a mounted export, say) keep
 * state that a restore would not take back.
 */
static bool snapfuzz_check_blockers(SnapfuzzState *s, Error **errp)
{
    Error *err = NULL;
    bool blocked;

    if (s->ignore_blockers) {
        return true;
    }
    /* The device's own blocker aside */
    migrate_del_blocker(&s->migration_blocker);
    blocked = migration_is_blocked(&err);
    if (!snapfuzz_add_blocker(s, errp)) {
        error_free(err);
        return false;
    }
    if (blocked) {
        error_propagate_prepend(errp, err, "snapfuzz: a device cannot be "
                                "snapshotted (ignore-blockers=on to take "
                                "snapshots all the same): ");
        return false;
    }
    return true;
}

static void snapfuzz_noop(void *opaque)
{
}

static int snapfuzz_sync_iothread(Object *obj, void *opaque)
{
    IOThread *t = (IOThread *)object_dynamic_cast(obj, TYPE_IOTHREAD);

    if (t) {
        aio_wait_bh_oneshot(iothread_get_aio_context(t), snapfuzz_noop, NULL);
    }
    return 0;
}

/*
 * Snapshots and restores run with block I/O drained: requests in flight
 * complete (and write guest RAM) before RAM is copied, and devices that
 * run in IOThreads stop taking requests from their queues.
 *
 * A drained section alone is not enough for those: an IOThread that is
 * running a queue handler when the section begins submits what it popped
 * afterwards, and the BlockBackend holds such requests back until the
 * section ends, when they would run in the restored VM.  So first let each
 * IOThread finish: with the vCPUs paused nothing new arrives, and a bottom
 * half that an IOThread runs twice comes after every handler it had ready
 * (an event loop iteration runs its bottom halves before its handlers).
 */
static void snapfuzz_quiesce_begin(void)
{
    for (int i = 0; i < 2; i++) {
        object_child_foreach(object_get_objects_root(),
                             snapfuzz_sync_iothread, NULL);
    }
    bdrv_drain_all_begin();
}

bool snapfuzz_snapshot_take(SnapfuzzState *s, Error **errp)
{
    bool ok;

    if (!snapfuzz_check_blockers(s, errp)) {
        return false;
    }
    snapfuzz_quiesce_begin();
    ok = snapfuzz_add_overlays(s, errp) && snapfuzz_take_vm(s, errp);
    if (ok) {
        snapfuzz_disks(snapfuzz_overlay_take);
    }
    bdrv_drain_all_end();
    return ok;
}

bool snapfuzz_snapshot_restore(SnapfuzzState *s, Error **errp)
{
    int64_t t0 = get_clock();
    bool ok;

    snapfuzz_quiesce_begin();
    ok = snapfuzz_restore_vm(s, errp);
    if (ok) {
        snapfuzz_disks(snapfuzz_overlay_restore);
    }
    bdrv_drain_all_end();
    if (ok) {
        /* With the quiescing and the disks */
        s->stats.total_ns = get_clock() - t0;
    }
    return ok;
}

bool snapfuzz_snapshot_push(SnapfuzzState *s, Error **errp)
{
    bool ok;

    snapfuzz_quiesce_begin();
    ok = snapfuzz_push_vm(s, errp);
    if (ok) {
        snapfuzz_disks(snapfuzz_overlay_push);
    }
    bdrv_drain_all_end();
    return ok;
}

void snapfuzz_snapshot_pop(SnapfuzzState *s)
{
    snapfuzz_quiesce_begin();
    snapfuzz_pop_vm(s);
    snapfuzz_disks(snapfuzz_overlay_pop);
    bdrv_drain_all_end();
}

/*
 * The device wrote an input into the window, behind the vCPUs' back: under
 * TCG, drop translated code of those pages, for guests that run inputs.
 */
void snapfuzz_input_written(SnapfuzzState *s)
{
#ifdef CONFIG_TCG
    size_t page_size = qemu_target_page_size();
    ram_addr_t base;

    if (!tcg_enabled()) {
        return;
    }
    base = memory_region_get_ram_addr(&s->input_ram);
    for (uint64_t off = 0; off < s->input_len; off += page_size) {
        ram_addr_t addr = base + off;

        /* A page with translated code has its CODE bit clear. */
        if (!physical_memory_get_dirty_flag(addr, DIRTY_MEMORY_CODE)) {
            tb_invalidate_phys_range(NULL, addr, addr + page_size - 1);
        }
    }
#endif
}

/* Pages whose contents differ from the top snapshot's (verify=on). */
uint64_t snapfuzz_snapshot_verify(SnapfuzzState *s)
{
    size_t page_size = qemu_target_page_size();
    uint64_t bad = 0;

    for (unsigned i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];

        if (!s->depth && !memcmp(r->host, r->copy, r->len)) {
            continue;
        }
        for (uint64_t off = 0; off < r->len; off += page_size) {
            if (memcmp(r->host + off, snapfuzz_snap_page(s, i, off / page_size),
                       page_size)) {
                if (bad < 8) {
                    error_report("snapfuzz: verify: %s+0x%" PRIx64
                                 " differs from the snapshot",
                                 qemu_ram_get_idstr(r->rb), off);
                }
                bad++;
            }
        }
    }
    return bad;
}
