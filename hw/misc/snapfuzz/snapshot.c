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
 * All of this runs in the main loop with the BQL held and the vCPUs
 * paused (see snapfuzz.c).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/rcu.h"
#include "qemu/bitmap.h"
#include "qemu/bitops.h"
#include "exec/ramlist.h"
#include "exec/target_page.h"
#include "exec/translation-block.h"
#include "system/memory.h"
#include "system/physmem.h"
#include "system/ramblock.h"
#include "system/tcg.h"
#include "migration/global_state.h"
#include "migration/qemu-file.h"
#include "migration/savevm.h"
#include "snapfuzz-internal.h"

static bool snapfuzz_own_block(SnapfuzzState *s, RAMBlock *rb)
{
    return rb->mr == &s->input_ram || rb->mr == &s->cov_ram;
}

void snapfuzz_snapshot_free(SnapfuzzState *s)
{
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

/* Collect (and clear) what was dirtied since the last call. */
static uint64_t snapfuzz_sync_dirty(SnapfuzzState *s)
{
    uint64_t pages = 0;

    if (!tcg_enabled()) {
        /* TCG marks pages itself; others keep a log of their own. */
        memory_global_dirty_log_sync(false);
    }
    for (unsigned i = 0; i < s->nr_ram; i++) {
        pages += physical_memory_sync_dirty_for_snapshot(s->ram[i].rb,
                                                          s->ram[i].dirty);
    }
    return pages;
}

/* Make TCG note the next write to every page of the snapshot again. */
static void snapfuzz_rearm_dirty(SnapfuzzState *s)
{
    for (unsigned i = 0; i < s->nr_ram; i++) {
        physical_memory_dirty_bits_cleared(s->ram[i].rb->offset,
                                           s->ram[i].len);
    }
}

/*
 * The vmstate goes through a QIOChannelBuffer whose data the device owns:
 * closing the QEMUFile closes the channel, which would free it.
 */
static bool snapfuzz_save_devices(SnapfuzzState *s, Error **errp)
{
    QIOChannelBuffer *bioc;
    QEMUFile *f;
    int ret;

    bioc = qio_channel_buffer_new(s->devstate_len ? s->devstate_len : 65536);
    qio_channel_set_name(QIO_CHANNEL(bioc), "snapfuzz-save");
    f = qemu_file_new_output(QIO_CHANNEL(bioc));
    /* Its post_load wants a run state; migration stores it the same way. */
    global_state_store();
    ret = qemu_save_device_state(f);
    qemu_fflush(f);
    if (ret >= 0) {
        ret = qemu_file_get_error(f);
    }
    g_free(s->devstate);
    s->devstate = bioc->data;
    s->devstate_len = bioc->usage;
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

static bool snapfuzz_load_devices(SnapfuzzState *s, Error **errp)
{
    QIOChannelBuffer *bioc;
    QEMUFile *f;
    int ret = -1;

    bioc = qio_channel_buffer_new(0);
    qio_channel_set_name(QIO_CHANNEL(bioc), "snapfuzz-load");
    g_free(bioc->data);
    bioc->data = s->devstate;
    bioc->capacity = bioc->usage = s->devstate_len;
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

bool snapfuzz_snapshot_take(SnapfuzzState *s, Error **errp)
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
            r->dirty = bitmap_new(DIV_ROUND_UP(r->len, page_size));
            r->copy = g_try_malloc(r->len);
            s->nr_ram = i;
            if (!r->copy) {
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
    snapfuzz_rearm_dirty(s);

    if (!snapfuzz_save_devices(s, errp)) {
        snapfuzz_snapshot_free(s);
        return false;
    }
    s->have_snapshot = true;
    return true;
}

static void snapfuzz_copy_back(SnapfuzzState *s, SnapfuzzRAM *r)
{
    size_t page_size = qemu_target_page_size();
    unsigned long npages = r->len / page_size;
    unsigned long p;

    for (p = find_first_bit(r->dirty, npages); p < npages;
         p = find_next_bit(r->dirty, npages, p + 1)) {
        uint64_t off = (uint64_t)p * page_size;

        clear_bit(p, r->dirty);
        memcpy(r->host + off, r->copy + off, page_size);
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

bool snapfuzz_snapshot_restore(SnapfuzzState *s, Error **errp)
{
    int64_t t0, t1, t2, t3, t4;
    uint64_t pages;

    if (!snapfuzz_ram_unchanged(s, errp)) {
        return false;
    }

    t0 = get_clock();
    pages = snapfuzz_sync_dirty(s);
    t1 = get_clock();
    for (unsigned i = 0; i < s->nr_ram; i++) {
        snapfuzz_copy_back(s, &s->ram[i]);
    }
    t2 = get_clock();
    if (!snapfuzz_load_devices(s, errp)) {
        return false;
    }
    t3 = get_clock();
    if (pages) {
        snapfuzz_rearm_dirty(s);
    }
    t4 = get_clock();

    s->stats.pages = pages;
    s->stats.sync_ns = t1 - t0;
    s->stats.copy_ns = t2 - t1;
    s->stats.device_ns = t3 - t2;
    s->stats.cpu_ns = t4 - t3;
    s->stats.total_ns = t4 - t0;
    return true;
}

/* Pages whose contents differ from the snapshot's (verify=on). */
uint64_t snapfuzz_snapshot_verify(SnapfuzzState *s)
{
    size_t page_size = qemu_target_page_size();
    uint64_t bad = 0;

    for (unsigned i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];

        if (!memcmp(r->host, r->copy, r->len)) {
            continue;
        }
        for (uint64_t off = 0; off < r->len; off += page_size) {
            if (memcmp(r->host + off, r->copy + off, page_size)) {
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
