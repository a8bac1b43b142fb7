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
#include "qemu/cutils.h"
#include "exec/cputlb.h"
#include "exec/ramlist.h"
#include "exec/target_page.h"
#include "exec/translation-block.h"
#include "hw/core/cpu.h"
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
#include "hw/pci/pci.h"
#include "snapfuzz-internal.h"
#include "snapfuzz-overlay.h"
#include "trace.h"

/* Words of a dirty bitmap that a restore tests at once: 16 MiB of RAM */
#define SNAPFUZZ_SCAN_LONGS 64

static bool snapfuzz_own_block(SnapfuzzState *s, RAMBlock *rb)
{
    return rb->mr == &s->input_ram || rb->mr == &s->cov_ram;
}

static void snapfuzz_devstate_free(SnapfuzzDevState *d)
{
    g_free(d->buf);
    g_free(d->mark);
    g_free(d->always);
    memset(d, 0, sizeof(*d));
}

/*
 * Close a file that device state is saved or loaded through, and its
 * channel (s->save_file and s->save_ioc, or s->load_file and s->load_ioc)
 */
static void snapfuzz_file_close(QEMUFile **f, QIOChannelBuffer **ioc)
{
    if (*f) {
        qemu_fclose(*f);
        *f = NULL;
        object_unref(OBJECT(*ioc));
        *ioc = NULL;
    }
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
    l->kept_bytes = 0;
    snapfuzz_devstate_free(&l->dev);
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
    snapfuzz_devstate_free(&s->dev);
    snapfuzz_devstate_free(&s->dev_now);
    if (s->dev_load) {
        g_byte_array_unref(s->dev_load);
        s->dev_load = NULL;
    }
    snapfuzz_file_close(&s->save_file, &s->save_ioc);
    snapfuzz_file_close(&s->load_file, &s->load_ioc);
    s->have_snapshot = false;
}

/*
 * Collect (and clear) what was dirtied since the last call; TCG notes the
 * next write to each of these pages again.  With @flush, by flushing the
 * TLB of every vCPU (they are paused, as during a migration's load, whose
 * CPU post_load flushes them the same way): a restore, after which they
 * would miss most of their entries anyway, spares the walk through all
 * TLBs that re-arms TCG's tracking of the pages one RAM block at a time.
 */
static uint64_t snapfuzz_sync_dirty(SnapfuzzState *s, bool flush)
{
    uint64_t pages = 0;

    if (!tcg_enabled()) {
        /* TCG marks pages itself; others keep a log of their own. */
        memory_global_dirty_log_sync(false);
        flush = false;
    }
    WITH_RCU_READ_LOCK_GUARD() {
        for (unsigned i = 0; i < s->nr_ram; i++) {
            if (flush) {
                pages += physical_memory_sync_dirty_bitmap_norearm(
                    s->ram[i].rb, 0, s->ram[i].len, s->ram[i].dirty);
            } else {
                pages += physical_memory_sync_dirty_bitmap(s->ram[i].rb, 0,
                                                           s->ram[i].len,
                                                           s->ram[i].dirty);
            }
        }
    }
#ifdef CONFIG_TCG
    if (flush) {
        CPUState *cpu;

        CPU_FOREACH(cpu) {
            tlb_flush(cpu);
        }
    }
#endif
    return pages;
}

typedef struct SnapfuzzMarks {
    GArray *pos;
    uint64_t base;
    const unsigned long *skip;  /* sections to leave out, or NULL */
    unsigned nr_skip;           /* bits in skip */
} SnapfuzzMarks;

static bool snapfuzz_mark(void *opaque, uint64_t pos)
{
    SnapfuzzMarks *m = opaque;
    uint64_t off = pos - m->base;
    unsigned i = m->pos->len;   /* the section that comes next */

    g_array_append_val(m->pos, off);
    return !m->skip || i >= m->nr_skip || !test_bit(i, m->skip);
}

/*
 * The vmstate goes through a QIOChannelBuffer and a QEMUFile that stay
 * open from one save to the next: creating them costs more than a
 * restore's comparison with the current state saves.  The data saved is
 * swapped with @d's buffer, which the next save writes over; closing the
 * file closes the channel, which frees the buffer it has then.  The
 * sections set in @skip (@nr_skip bits) are left out.
 */
static bool snapfuzz_save_devices(SnapfuzzState *s, SnapfuzzDevState *d,
                                  const unsigned long *skip, unsigned nr_skip,
                                  Error **errp)
{
    SnapfuzzMarks m = { .skip = skip, .nr_skip = nr_skip };
    QIOChannelBuffer *bioc;
    uint8_t *old_buf = d->buf;
    size_t old_cap = d->cap;
    int ret;

    if (!s->save_file) {
        s->save_ioc = qio_channel_buffer_new(0);
        qio_channel_set_name(QIO_CHANNEL(s->save_ioc), "snapfuzz-save");
        s->save_file = qemu_file_new_output(QIO_CHANNEL(s->save_ioc));
    }
    bioc = s->save_ioc;
    bioc->usage = bioc->offset = 0;
    m.pos = g_array_sized_new(false, false, sizeof(uint64_t),
                              d->nr_mark ? d->nr_mark : 64);
    m.base = qemu_file_transferred(s->save_file);
    /* Its post_load wants a run state; migration stores it the same way. */
    global_state_store();
    ret = qemu_save_device_state_marked(s->save_file, snapfuzz_mark, &m);
    qemu_fflush(s->save_file);
    if (ret >= 0) {
        ret = qemu_file_get_error(s->save_file);
    }
    d->buf = NULL;
    snapfuzz_devstate_free(d);
    d->buf = bioc->data;
    d->cap = bioc->capacity;
    d->len = bioc->usage;
    d->nr_mark = m.pos->len;
    d->mark = (uint64_t *)g_array_free(m.pos, false);
    bioc->data = old_buf;
    bioc->capacity = old_cap;
    bioc->usage = bioc->offset = 0;
    if (ret >= 0 && (!d->nr_mark || d->mark[d->nr_mark - 1] >= d->len)) {
        ret = -EINVAL;
    }
    if (ret < 0) {
        /* The file keeps its error: start again with a new one */
        snapfuzz_file_close(&s->save_file, &s->save_ioc);
        error_setg(errp, "saving the device state failed (%d)", ret);
        return false;
    }
    return true;
}

/*
 * Like saves, loads go through a channel and a file kept from one load to
 * the next.  The channel reads the bytes given (it neither frees nor
 * changes them: they are taken back before the file is closed).  The
 * streams loaded here end with their QEMU_VM_EOF, so a load that succeeds
 * has read them all, and the next load starts at its own first byte; the
 * channel must have none left.  A load that fails may leave bytes, or an
 * error, in the file, which is then made anew.
 */
static bool snapfuzz_load_devices(SnapfuzzState *s, const uint8_t *buf,
                                  size_t len, Error **errp)
{
    QIOChannelBuffer *bioc;
    QEMUFile *f;
    int ret = -1;

    if (!s->load_file) {
        s->load_ioc = qio_channel_buffer_new(0);
        qio_channel_set_name(QIO_CHANNEL(s->load_ioc), "snapfuzz-load");
        g_free(s->load_ioc->data);
        s->load_ioc->data = NULL;
        s->load_file = qemu_file_new_input(QIO_CHANNEL(s->load_ioc));
    }
    bioc = s->load_ioc;
    f = s->load_file;
    bioc->data = (uint8_t *)buf;
    bioc->capacity = bioc->usage = len;
    bioc->offset = 0;
    if (qemu_get_be32(f) != QEMU_VM_FILE_MAGIC ||
        qemu_get_be32(f) != QEMU_VM_FILE_VERSION) {
        error_setg(errp, "the saved device state is corrupt");
    } else {
        ret = qemu_load_device_state(f, errp);
    }
    if (ret >= 0 && bioc->offset != len) {
        error_setg(errp, "the saved device state has bytes past its end");
        ret = -1;
    }
    bioc->data = NULL;
    bioc->capacity = bioc->usage = bioc->offset = 0;
    if (ret < 0 || qemu_file_get_error(f)) {
        snapfuzz_file_close(&s->load_file, &s->load_ioc);
    }
    return ret >= 0;
}

static bool snapfuzz_section_equal(SnapfuzzDevState *a, SnapfuzzDevState *b,
                                   unsigned i)
{
    uint64_t len = a->mark[i + 1] - a->mark[i];

    return len == b->mark[i + 1] - b->mark[i] &&
           !memcmp(a->buf + a->mark[i], b->buf + b->mark[i], len);
}

/*
 * Section i of @d names its device: QEMU_VM_SECTION_FULL, the section id,
 * then the idstr with its length byte first.
 */
static char *snapfuzz_section_name(SnapfuzzDevState *d, unsigned i)
{
    uint64_t off = d->mark[i] + 5, end = d->mark[i + 1];

    if (off >= end || off + 1 + d->buf[off] > end) {
        return g_strdup("?");
    }
    return g_strndup((const char *)d->buf + off + 1, d->buf[off]);
}

static int snapfuzz_find_dma(Object *obj, void *opaque)
{
    PCIDevice *pd = (PCIDevice *)object_dynamic_cast(obj, TYPE_PCI_DEVICE);
    g_autofree char *path = NULL;

    if (pd && pci_get_word(pd->config + PCI_COMMAND) & PCI_COMMAND_MASTER) {
        path = qdev_get_dev_path(DEVICE(pd));
        if (path) {
            g_ptr_array_add(opaque, g_strdup_printf("%s/", path));
        }
    }
    return 0;
}

/*
 * The sections of snapshot @d that every restore loads: those of devices
 * that use guest RAM (PCI devices with bus mastering on, and the virtio
 * devices behind them).  Some keep what they read there without migrating
 * it: virtio's index of a ring's last available entry, which only a load
 * reads again from the restored RAM.  Their sections would compare equal
 * with a stale copy.  Their idstr starts with the PCI device's path.
 */
static void snapfuzz_find_always(SnapfuzzDevState *d)
{
    g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
    unsigned n = d->nr_mark - 1;

    object_child_foreach_recursive(object_get_root(), snapfuzz_find_dma,
                                   paths);
    g_free(d->always);
    d->always = bitmap_new(n);
    for (unsigned i = 0; i < n; i++) {
        g_autofree char *name = snapfuzz_section_name(d, i);

        for (unsigned k = 0; k < paths->len; k++) {
            if (g_str_has_prefix(name, g_ptr_array_index(paths, k))) {
                set_bit(i, d->always);
                break;
            }
        }
    }
}

/*
 * Load the device state of snapshot @snap, but only the sections that
 * differ from the devices' current state: loading a device whose state the
 * input did not change (most of them) runs its post_load for nothing, and
 * some of those are the dearest part of a restore (memory region updates,
 * kvmvapic rewriting guest memory).  A device that saves the same bytes is
 * in the same state as far as migration goes, which is all a full load
 * would give it back.  The saved sections come in the handlers' order, so
 * section i is the same device in both, unless devices were added or
 * removed since the snapshot: then everything is loaded.
 */
static bool snapfuzz_load_changed(SnapfuzzState *s, SnapfuzzDevState *snap,
                                  Error **errp)
{
    SnapfuzzDevState *now = &s->dev_now;
    static const uint8_t eof = QEMU_VM_EOF;
    unsigned n = snap->nr_mark - 1, loaded = 0;

    /* Those that are loaded anyway need no comparison. */
    if (!snapfuzz_save_devices(s, now, snap->always, n, errp)) {
        return false;
    }
    if (now->nr_mark != snap->nr_mark || now->mark[0] != snap->mark[0]) {
        s->stats.sections = n;
        return snapfuzz_load_devices(s, snap->buf, snap->len, errp);
    }
    if (!s->dev_load) {
        s->dev_load = g_byte_array_sized_new(snap->len);
    }
    g_byte_array_set_size(s->dev_load, 0);
    /* The file's header */
    g_byte_array_append(s->dev_load, snap->buf, snap->mark[0]);
    for (unsigned i = 0; i < n; i++) {
        if (test_bit(i, snap->always) ||
            !snapfuzz_section_equal(snap, now, i)) {
            g_byte_array_append(s->dev_load, snap->buf + snap->mark[i],
                                snap->mark[i + 1] - snap->mark[i]);
            loaded++;
        }
    }
    s->stats.sections = loaded;
    if (!loaded) {
        return true;
    }
    g_byte_array_append(s->dev_load, &eof, 1);
    return snapfuzz_load_devices(s, s->dev_load->data, s->dev_load->len,
                                 errp);
}

/* The snapshot that restores go back to: the top one. */
static SnapfuzzDevState *snapfuzz_top_devstate(SnapfuzzState *s)
{
    return s->depth ? &s->levels[s->depth - 1].dev : &s->dev;
}

static bool snapfuzz_take_vm(SnapfuzzState *s, Error **errp)
{
    size_t page_size = qemu_target_page_size();
    unsigned n = 0, i = 0;
    uint64_t copied = 0;
    RAMBlock *rb;

    if (!s->dirty_log_on) {
        /*
         * A discard (virtio-balloon inflating, free page reporting) drops
         * RAM without a dirty bit: a restore would not bring it back.
         */
        if (ram_block_discard_disable(true)) {
            error_setg(errp, "a device needs to discard RAM (virtio-mem, a "
                       "VFIO device?), which snapshots could not restore");
            return false;
        }
        if (!memory_global_dirty_log_start(GLOBAL_DIRTY_MIGRATION, errp)) {
            ram_block_discard_disable(false);
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
    snapfuzz_sync_dirty(s, false);
    for (i = 0; i < s->nr_ram; i++) {
        SnapfuzzRAM *r = &s->ram[i];

        bitmap_zero(r->dirty, DIV_ROUND_UP(r->len, page_size));
        memcpy(r->copy, r->host, r->len);
        copied += r->len;
    }

    if (!snapfuzz_save_devices(s, &s->dev, NULL, 0, errp)) {
        snapfuzz_snapshot_free(s);
        return false;
    }
    snapfuzz_find_always(&s->dev);
    s->have_snapshot = true;
    trace_snapfuzz_snapshot(0, copied, s->dev.len);
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

/* Copy page @p of RAM block @i back from the snapshot. */
static void snapfuzz_copy_page(SnapfuzzState *s, unsigned i, unsigned long p)
{
    SnapfuzzRAM *r = &s->ram[i];
    size_t page_size = qemu_target_page_size();
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

static void snapfuzz_copy_back(SnapfuzzState *s, unsigned i)
{
    SnapfuzzRAM *r = &s->ram[i];
    size_t page_size = qemu_target_page_size();
    unsigned long npages = r->len / page_size;
    unsigned long w, nwords = BITS_TO_LONGS(npages);

    /*
     * Skip clean stretches of the bitmap a chunk at a time (a vectorised
     * test), not a word at a time: an input dirties a few dozen pages,
     * and a block has up to millions.
     */
    for (w = 0; w < nwords; w += SNAPFUZZ_SCAN_LONGS) {
        unsigned long n = MIN(SNAPFUZZ_SCAN_LONGS, nwords - w);
        unsigned long end = MIN(npages, (w + n) * BITS_PER_LONG);
        unsigned long p;

        if (buffer_is_zero(r->dirty + w, n * sizeof(unsigned long))) {
            continue;
        }
        for (p = find_next_bit(r->dirty, end, w * BITS_PER_LONG); p < end;
             p = find_next_bit(r->dirty, end, p + 1)) {
            snapfuzz_copy_page(s, i, p);
        }
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
    pages = snapfuzz_sync_dirty(s, true);
    t1 = get_clock();
    for (unsigned i = 0; i < s->nr_ram; i++) {
        snapfuzz_copy_back(s, i);
    }
    t2 = get_clock();
    if (!snapfuzz_load_changed(s, snapfuzz_top_devstate(s), errp)) {
        return false;
    }
    t3 = get_clock();

    s->stats.pages = pages;
    s->stats.sync_ns = t1 - t0;
    s->stats.copy_ns = t2 - t1;
    s->stats.device_ns = t3 - t2;
    s->stats.total_ns = t3 - t0;
    trace_snapfuzz_restore(s->depth, pages, s->stats.sections, t1 - t0,
                           t2 - t1, t3 - t2);
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
    uint64_t kept = 0, below = 0;

    if (!snapfuzz_ram_unchanged(s, errp)) {
        return false;
    }
    snapfuzz_sync_dirty(s, false);

    /*
     * The guest decides how many pages there are to keep: with those of
     * the levels below, no more than ram-limit; allocate for all of them
     * before anything changes, and fail if the host cannot.
     */
    for (unsigned i = 0; i < s->nr_ram; i++) {
        kept += bitmap_count_one(s->ram[i].dirty,
                                 s->ram[i].len / page_size) * page_size;
    }
    for (unsigned d = 0; d < s->depth; d++) {
        below += s->levels[d].kept_bytes;
    }
    if (kept > s->ram_limit || below > s->ram_limit - kept) {
        error_setg(errp, "a snapshot above the root would keep %" PRIu64
                   " bytes of RAM, beyond ram-limit (%" PRIu64 " bytes, "
                   "%" PRIu64 " of them kept by the snapshots below)",
                   kept, s->ram_limit, below);
        return false;
    }
    kept = 0;
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
        kept += k->n;
    }
    if (!snapfuzz_save_devices(s, &l->dev, NULL, 0, errp)) {
        /* The kept pages still differ from the snapshot below. */
        s->depth++;
        snapfuzz_pop_vm(s);
        return false;
    }
    snapfuzz_find_always(&l->dev);
    l->kept_bytes = kept * page_size;
    s->depth++;
    trace_snapfuzz_snapshot(s->depth, kept * page_size, l->dev.len);
    return true;
}

/* Drop the top snapshot; the next restore goes to the one below. */
static void snapfuzz_pop_vm(SnapfuzzState *s)
{
    SnapfuzzLevel *l = &s->levels[s->depth - 1];

    snapfuzz_sync_dirty(s, false);
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

bool snapfuzz_snapshot_pop(SnapfuzzState *s, Error **errp)
{
    /* The pages to keep dirty are in RAM blocks that must still be there */
    if (!snapfuzz_ram_unchanged(s, errp)) {
        return false;
    }
    snapfuzz_quiesce_begin();
    snapfuzz_pop_vm(s);
    snapfuzz_disks(snapfuzz_overlay_pop);
    bdrv_drain_all_end();
    return true;
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
