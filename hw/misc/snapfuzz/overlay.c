/*
 * snapfuzz: in-memory overlays that restores take back
 *
 * When the device takes its first snapshot it puts one of these nodes
 * above the root node of every writable disk a guest device uses (flash
 * included).  From then on nothing the guest writes reaches the image:
 * the written blocks stay in host memory, in one level per snapshot, and
 * a restore drops what was written since the snapshot it goes back to.
 * Reads take each block from the topmost level that has it, else from the
 * image.  Every operation costs what was written, not the disk's size.
 *
 * Levels: 0 holds what was written before the root snapshot (since the
 * overlay was inserted); 1..n what was written between pushed snapshots;
 * the top one takes writes.  Taking a new root merges them all into 0.
 *
 * Requests may come from several IOThreads (iothread-vq-mapping): a
 * CoMutex serialises them.  The level operations run in the main loop
 * inside a drained section, with no request in flight.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/coroutine.h"
#include "qemu/module.h"
#include "qemu/option.h"
#include "qemu/units.h"
#include "block/block-global-state.h"
#include "block/block-io.h"
#include "block/block_int.h"
#include "snapfuzz-overlay.h"

#define OVERLAY_BLOCK 4096

typedef struct BDRVSnapfuzzOverlayState {
    CoMutex lock;
    GHashTable *levels[SNAPFUZZ_OVERLAY_LEVELS];  /* block -> its bytes */
    unsigned top;
    int64_t size;           /* of the image, fixed */
    uint64_t bytes;         /* host memory the levels hold */
    uint64_t limit;
} BDRVSnapfuzzOverlayState;

static QemuOptsList overlay_opts = {
    .name = "snapfuzz-overlay",
    .head = QTAILQ_HEAD_INITIALIZER(overlay_opts.head),
    .desc = {
        {
            .name = "limit",
            .type = QEMU_OPT_SIZE,
            .help = "host memory the written blocks may take",
        },
        { /* end of list */ }
    },
};

static GHashTable *overlay_new_level(void)
{
    return g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
}

static int overlay_open(BlockDriverState *bs, QDict *options, int flags,
                        Error **errp)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;
    QemuOpts *opts;
    int ret;

    ret = bdrv_open_file_child(NULL, options, "file", bs, errp);
    if (ret < 0) {
        return ret;
    }
    opts = qemu_opts_create(&overlay_opts, NULL, 0, &error_abort);
    if (!qemu_opts_absorb_qdict(opts, options, errp)) {
        qemu_opts_del(opts);
        return -EINVAL;
    }
    s->limit = qemu_opt_get_size(opts, "limit", 1 * GiB);
    qemu_opts_del(opts);

    GRAPH_RDLOCK_GUARD_MAINLOOP();
    if (bs->file->bs->bl.zoned != BLK_Z_NONE) {
        error_setg(errp, "snapfuzz cannot take back the writes to zoned "
                   "node '%s'", bdrv_get_node_name(bs->file->bs));
        return -ENOTSUP;
    }
    s->size = bdrv_getlength(bs->file->bs);
    if (s->size < 0) {
        error_setg_errno(errp, -s->size, "cannot get the size of node '%s'",
                         bdrv_get_node_name(bs->file->bs));
        return s->size;
    }
    qemu_co_mutex_init(&s->lock);
    s->levels[0] = overlay_new_level();
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP;
    return 0;
}

static void overlay_close(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    for (unsigned i = 0; i <= s->top; i++) {
        g_hash_table_destroy(s->levels[i]);
    }
}

/* The bytes of a block from the topmost level that has it, or NULL. */
static uint8_t *overlay_find(BDRVSnapfuzzOverlayState *s, int64_t blk,
                             unsigned from)
{
    for (int i = from; i >= 0; i--) {
        uint8_t *data = g_hash_table_lookup(s->levels[i], &blk);

        if (data) {
            return data;
        }
    }
    return NULL;
}

static int coroutine_fn GRAPH_RDLOCK
overlay_co_preadv_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                       QEMUIOVector *qiov, size_t qiov_offset,
                       BdrvRequestFlags flags)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;
    int64_t end = offset + bytes;
    size_t done = 0;
    int ret = 0;

    qemu_co_mutex_lock(&s->lock);
    while (offset < end) {
        int64_t blk = offset / OVERLAY_BLOCK;
        int64_t in_blk = offset % OVERLAY_BLOCK;
        int64_t n = MIN(end - offset, OVERLAY_BLOCK - in_blk);
        uint8_t *data = overlay_find(s, blk, s->top);

        if (data) {
            qemu_iovec_from_buf(qiov, qiov_offset + done, data + in_blk, n);
        } else {
            /* The image's blocks up to the next written one, at once */
            while (offset + n < end &&
                   !overlay_find(s, (offset + n) / OVERLAY_BLOCK, s->top)) {
                n += MIN(end - offset - n, OVERLAY_BLOCK);
            }
            ret = bdrv_co_preadv_part(bs->file, offset, n, qiov,
                                      qiov_offset + done, flags);
            if (ret < 0) {
                break;
            }
        }
        offset += n;
        done += n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

/* The top level's copy of a block, made from the levels below or the image */
static int coroutine_fn GRAPH_RDLOCK
overlay_top_block(BlockDriverState *bs, int64_t blk, bool whole,
                  uint8_t **data)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;
    int64_t start = blk * OVERLAY_BLOCK;
    uint8_t *below;
    int ret;

    *data = g_hash_table_lookup(s->levels[s->top], &blk);
    if (*data) {
        return 0;
    }
    if (s->bytes + OVERLAY_BLOCK > s->limit) {
        /*
         * An I/O error, not ENOSPC: with the default werror=enospc, the
         * guest's device would stop the VM, and no input ends while it is
         * stopped.
         */
        return -EIO;
    }
    *data = g_try_malloc0(OVERLAY_BLOCK);
    if (!*data) {
        return -ENOMEM;
    }
    if (!whole) {
        below = s->top ? overlay_find(s, blk, s->top - 1) : NULL;
        if (below) {
            memcpy(*data, below, OVERLAY_BLOCK);
        } else {
            ret = bdrv_co_pread(bs->file, start,
                                MIN(OVERLAY_BLOCK, s->size - start), *data, 0);
            if (ret < 0) {
                g_free(*data);
                return ret;
            }
        }
    }
    g_hash_table_insert(s->levels[s->top], g_memdup2(&blk, sizeof(blk)),
                        *data);
    s->bytes += OVERLAY_BLOCK;
    return 0;
}

static int coroutine_fn GRAPH_RDLOCK
overlay_write(BlockDriverState *bs, int64_t offset, int64_t bytes,
              QEMUIOVector *qiov, size_t qiov_offset)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;
    int64_t end = offset + bytes;
    size_t done = 0;
    int ret = 0;

    qemu_co_mutex_lock(&s->lock);
    while (offset < end) {
        int64_t blk = offset / OVERLAY_BLOCK;
        int64_t in_blk = offset % OVERLAY_BLOCK;
        int64_t n = MIN(end - offset, OVERLAY_BLOCK - in_blk);
        uint8_t *data;

        ret = overlay_top_block(bs, blk, n == OVERLAY_BLOCK, &data);
        if (ret < 0) {
            break;
        }
        if (qiov) {
            qemu_iovec_to_buf(qiov, qiov_offset + done, data + in_blk, n);
        } else {
            memset(data + in_blk, 0, n);
        }
        offset += n;
        done += n;
    }
    qemu_co_mutex_unlock(&s->lock);
    return ret;
}

static int coroutine_fn GRAPH_RDLOCK
overlay_co_pwritev_part(BlockDriverState *bs, int64_t offset, int64_t bytes,
                        QEMUIOVector *qiov, size_t qiov_offset,
                        BdrvRequestFlags flags)
{
    return overlay_write(bs, offset, bytes, qiov, qiov_offset);
}

static int coroutine_fn GRAPH_RDLOCK
overlay_co_pwrite_zeroes(BlockDriverState *bs, int64_t offset, int64_t bytes,
                         BdrvRequestFlags flags)
{
    return overlay_write(bs, offset, bytes, NULL, 0);
}

/* Discarded blocks keep their data, which a discard allows. */
static int coroutine_fn GRAPH_RDLOCK
overlay_co_pdiscard(BlockDriverState *bs, int64_t offset, int64_t bytes)
{
    return 0;
}

/* Nothing the guest writes is meant to last. */
static int coroutine_fn GRAPH_RDLOCK overlay_co_flush(BlockDriverState *bs)
{
    return 0;
}

static int64_t coroutine_fn GRAPH_RDLOCK
overlay_co_getlength(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    return s->size;
}

/* All data, none of it at an offset of the image that a caller could use */
static int coroutine_fn GRAPH_RDLOCK
overlay_co_block_status(BlockDriverState *bs, unsigned int mode,
                        int64_t offset, int64_t bytes, int64_t *pnum,
                        int64_t *map, BlockDriverState **file)
{
    *pnum = bytes;
    return BDRV_BLOCK_DATA;
}

/* Nothing written reaches the image: the overlay only reads it. */
static void GRAPH_RDLOCK
overlay_child_perm(BlockDriverState *bs, BdrvChild *c, BdrvChildRole role,
                   BlockReopenQueue *reopen_queue,
                   uint64_t perm, uint64_t shared,
                   uint64_t *nperm, uint64_t *nshared)
{
    *nperm = BLK_PERM_CONSISTENT_READ;
    *nshared = BLK_PERM_ALL;
}

static BlockDriver bdrv_snapfuzz_overlay = {
    .format_name                = "snapfuzz-overlay",
    .instance_size              = sizeof(BDRVSnapfuzzOverlayState),
    .bdrv_open                  = overlay_open,
    .bdrv_close                 = overlay_close,
    .bdrv_child_perm            = overlay_child_perm,
    .bdrv_co_preadv_part        = overlay_co_preadv_part,
    .bdrv_co_pwritev_part       = overlay_co_pwritev_part,
    .bdrv_co_pwrite_zeroes      = overlay_co_pwrite_zeroes,
    .bdrv_co_pdiscard           = overlay_co_pdiscard,
    .bdrv_co_flush              = overlay_co_flush,
    .bdrv_co_getlength          = overlay_co_getlength,
    .bdrv_co_block_status       = overlay_co_block_status,
};

static void overlay_free_level(BDRVSnapfuzzOverlayState *s, unsigned i)
{
    s->bytes -= (uint64_t)g_hash_table_size(s->levels[i]) * OVERLAY_BLOCK;
    g_hash_table_destroy(s->levels[i]);
    s->levels[i] = NULL;
}

/*
 * Move the blocks of level @older into level @newer where @newer has none
 * (its own are newer), and free @older.
 */
static void overlay_merge(BDRVSnapfuzzOverlayState *s, unsigned older,
                          unsigned newer)
{
    GHashTableIter it;
    gpointer key, value;

    g_hash_table_iter_init(&it, s->levels[older]);
    while (g_hash_table_iter_next(&it, &key, &value)) {
        g_hash_table_iter_steal(&it);
        if (g_hash_table_contains(s->levels[newer], key)) {
            g_free(key);
            g_free(value);
            s->bytes -= OVERLAY_BLOCK;
        } else {
            g_hash_table_insert(s->levels[newer], key, value);
        }
    }
    g_hash_table_destroy(s->levels[older]);
    s->levels[older] = NULL;
}

bool snapfuzz_overlay_is(BlockDriverState *bs)
{
    return bs && bs->drv == &bdrv_snapfuzz_overlay;
}

void snapfuzz_overlay_take(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    /* Everything written so far is the new root's: into level 0 */
    for (; s->top > 1; s->top--) {
        overlay_merge(s, s->top - 1, s->top);
        s->levels[s->top - 1] = s->levels[s->top];
        s->levels[s->top] = NULL;
    }
    if (s->top == 1) {
        /* Level 1's blocks are newer than level 0's. */
        overlay_merge(s, 0, 1);
        s->levels[0] = s->levels[1];
        s->levels[1] = NULL;
    }
    s->levels[1] = overlay_new_level();
    s->top = 1;
}

void snapfuzz_overlay_restore(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    overlay_free_level(s, s->top);
    s->levels[s->top] = overlay_new_level();
}

void snapfuzz_overlay_push(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    /* The device pushes at most SNAPFUZZ_MAX_DEPTH snapshots. */
    assert(s->top + 1 < SNAPFUZZ_OVERLAY_LEVELS);
    s->levels[++s->top] = overlay_new_level();
}

void snapfuzz_overlay_pop(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    if (s->top < 2) {
        return;
    }
    /* The writes since the popped snapshot win over what it kept. */
    overlay_merge(s, s->top - 1, s->top);
    s->levels[s->top - 1] = s->levels[s->top];
    s->levels[s->top] = NULL;
    s->top--;
}

uint64_t snapfuzz_overlay_bytes(BlockDriverState *bs)
{
    BDRVSnapfuzzOverlayState *s = bs->opaque;

    return s->bytes;
}

static void snapfuzz_overlay_init(void)
{
    bdrv_register(&bdrv_snapfuzz_overlay);
}

block_init(snapfuzz_overlay_init);
