/*
 * Coverage-guided fuzzing of the disk image format drivers
 *
 * One libFuzzer binary, one target per image format.  The input is an
 * image (see decode_input() for the encoding) that an in-memory protocol
 * driver serves to the format driver, so no file is involved; the files
 * that a multi-file image names come from the input too, and an image
 * that makes QEMU open anything else is a finding (fuzz_denied_open()).
 * An input that is an image as it is goes through the stages that only
 * read it, as "qemu-img info", "map", "check", "convert" and "measure"
 * would; an input in the fuzzer's container (see decode_input()) selects
 * which of the stages below run, so that the cheap "qemu-img info"
 * executions dominate:
 *
 *   info (always)      probe the format, open without I/O, image info,
 *                      snapshots
 *   STAGE_MAP          block status map and bounded reads
 *   STAGE_CHECK        qemu-img check: open with BDRV_O_CHECK, check; then
 *                      check -r all on a writable copy when the check
 *                      found something, the image did not open, or its
 *                      header says it needs a check (qcow2's dirty and
 *                      corrupt bits, qed's need-check feature)
 *   STAGE_CONVERT_RAW  convert to raw in memory
 *   STAGE_CONVERT_QCOW2 convert to qcow2 in memory (compressed, or
 *                      offloaded to the protocol as with -C, as the
 *                      input picks)
 *   STAGE_WRITE        read-write open with discards on and runtime
 *                      options that the input picks (qcow2), writes
 *                      derived from the input (compressed ones when the
 *                      driver compresses; zone operations first on a
 *                      zoned image), repair
 *   STAGE_REOPEN       after the writes, open the result again and check
 *   STAGE_SNAPSHOT     with STAGE_WRITE: a persistent bitmap, create,
 *                      apply and delete snapshots, resize
 *   STAGE_AMEND        with STAGE_WRITE: qemu-img amend (qcow2 only)
 *   STAGE_MEASURE      qemu-img measure -O qcow2
 *   STAGE_BITMAPS      with STAGE_WRITE, before the writes: qemu-img bitmap
 *                      --add, and --merge, --disable, --clear or --remove
 *                      of each bitmap of the image
 *   STAGE_REBASE       with STAGE_WRITE: qemu-img rebase -u
 *   STAGE_COMMIT       qemu-img commit into a new qcow2 backing image
 *   STAGE_CONVERT_SELF convert into a new image of the target's own format
 *                      (qemu-img convert -O FORMAT -o ...), then check it
 *
 * Copyright (c) 2026 QEMU Storage Series
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/cutils.h"
#include "qemu/error-report.h"
#include "qemu/units.h"
#include "qemu/range.h"
#include "qemu/option.h"
#include "qapi/error.h"
#include "qobject/qdict.h"
#include "qobject/qjson.h"
#include "qapi/qapi-types-block-core.h"
#include "qapi/qapi-visit-block-core.h"
#include "block/dirty-bitmap.h"
#include "block/snapshot.h"
#include "crypto/init.h"
#include "crypto/pbkdf.h"
#include "crypto/secret.h"
#include "block/block_int.h"
#include "block/qapi.h"
#include "qapi/qapi-commands-block-core.h"
#include "system/block-backend.h"
#include "image-fuzz.h"

#ifdef QEMU_SANITIZE_ADDRESS
#include <sanitizer/asan_interface.h>
#else
#define ASAN_POISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#define ASAN_UNPOISON_MEMORY_REGION(addr, size) ((void)(addr), (void)(size))
#endif

#define FUZZ_MEM_PROTOCOL "fuzz-mem"

enum {
    STAGE_MAP           = 1 << 0,
    STAGE_CHECK         = 1 << 1,
    STAGE_CONVERT_RAW   = 1 << 2,
    STAGE_CONVERT_QCOW2 = 1 << 3,
    STAGE_WRITE         = 1 << 4,
    STAGE_REOPEN        = 1 << 5,
    STAGE_SNAPSHOT      = 1 << 6,
    STAGE_AMEND         = 1 << 7,
    STAGE_MEASURE       = 1 << 8,
    STAGE_BITMAPS       = 1 << 9,
    STAGE_REBASE        = 1 << 10,
    STAGE_COMMIT        = 1 << 11,
    /* 1 << 12 would be INPUT_FILES of the header's second byte */
    STAGE_CONVERT_SELF  = 1 << 13,
    STAGE_ALL           = ((1 << 12) - 1) | STAGE_CONVERT_SELF,
};

/*
 * An input that does not start with INPUT_MAGIC is an image as it is, so
 * that a crash file opens in qemu-img and image corpora are seeds as they
 * are; the stages that only read an image run on it.  The container:
 * INPUT_MAGIC, then byte 0 the stages 0-7, byte 1 two flags and the
 * stages 8-13 in its bits 2-7, then the image (tests/image-fuzz/unpack.py
 * writes it out and prints the stages).
 */
#define INPUT_MAGIC         "QEMUFUZZ"
#define INPUT_MAGIC_SIZE    (sizeof(INPUT_MAGIC) - 1)
#define INPUT_HEADER_SIZE   (INPUT_MAGIC_SIZE + 2)
#define STAGES_PLAIN        (STAGE_MAP | STAGE_CHECK | STAGE_CONVERT_RAW | \
                             STAGE_CONVERT_QCOW2 | STAGE_MEASURE)
#define INPUT_CHUNKED       (1 << 0)
#define INPUT_COMPRESS      (1 << 1)    /* STAGE_CONVERT_QCOW2 compresses */
#define INPUT_FILES         (1 << 6)    /* other files before the image */
#define INPUT_FLAGS         (INPUT_CHUNKED | INPUT_COMPRESS | INPUT_FILES)

/*
 * Bounds per execution.  A legitimately huge virtual disk is fine: only
 * its first bytes are read and converted.
 */
#define MAX_IMAGE_SIZE      (16 * MiB)  /* decoded input */
#define MAX_OUTPUT_SIZE     (32 * MiB)  /* each in-memory output */
#define MAX_MAP_EXTENTS     256         /* block status calls */
#define MAX_READ_BYTES      (1 * MiB)   /* total read by STAGE_MAP */
#define MAX_CONVERT_BYTES   (4 * MiB)   /* virtual bytes converted */
#define MAX_COPY_REQUESTS   1024        /* block status calls of a convert */
#define MAX_WRITES          4
#define MAX_ZONE_OPS        8           /* zone operations of STAGE_WRITE */
#define MAX_ZONE_REPORT     16          /* zones in one report */
/*
 * Virtual disk sizes up to which measure and commit run: both walk the
 * block status of the whole disk, as qemu-img does
 */
#define MAX_MEASURE_BYTES   (64 * MiB)
#define MAX_COMMIT_BYTES    (16 * MiB)

/*
 * The in-memory protocol: named buffers, "fuzz-mem:in" is the input's
 * image, the input's other files have their own names (INPUT_FILES), and
 * the stages create the others (fuzz_mem_reserved()).
 */
typedef struct FuzzMemBuffer {
    char *name;
    uint8_t *data;
    int64_t size;
    int64_t filled;             /* bytes at data; the rest up to size is 0 */
    int64_t capacity;           /* allocated bytes at data */
    int64_t max_size;
    bool read_only;
    bool borrowed;              /* data is not the buffer's to free */
    bool extra;                 /* one of the input's other files */
    QLIST_ENTRY(FuzzMemBuffer) next;
} FuzzMemBuffer;

static QLIST_HEAD(, FuzzMemBuffer) fuzz_mem_buffers =
    QLIST_HEAD_INITIALIZER(fuzz_mem_buffers);

/*
 * The allocations of the writable buffers, kept from one execution to the
 * next by name: the outputs are megabytes, and allocating them anew each
 * time costs more than the rest of an execution (page faults, and ASan
 * quarantines freed memory instead of reusing it)
 */
static QLIST_HEAD(, FuzzMemBuffer) fuzz_mem_spares =
    QLIST_HEAD_INITIALIZER(fuzz_mem_spares);

typedef struct BDRVFuzzMemState {
    FuzzMemBuffer *buf;
} BDRVFuzzMemState;

/* The names of the buffers that the stages make */
static bool fuzz_mem_reserved(const char *name)
{
    static const char *const names[] = {
        "in", "rw", "check", "base", "out-raw", "out-qcow2",
    };
    int i;

    for (i = 0; i < ARRAY_SIZE(names); i++) {
        if (!strcmp(name, names[i])) {
            return true;
        }
    }
    return false;
}

static FuzzMemBuffer *fuzz_mem_find(const char *name)
{
    FuzzMemBuffer *buf;

    strstart(name, FUZZ_MEM_PROTOCOL ":", &name);
    QLIST_FOREACH(buf, &fuzz_mem_buffers, next) {
        if (!strcmp(buf->name, name)) {
            return buf;
        }
    }
    return NULL;
}

static FuzzMemBuffer *fuzz_mem_add(const char *name, uint8_t *data,
                                   int64_t size, bool read_only)
{
    FuzzMemBuffer *buf = g_new0(FuzzMemBuffer, 1);
    FuzzMemBuffer *spare;

    buf->name = g_strdup(name);
    buf->data = data;
    buf->size = size;
    buf->filled = size;
    buf->capacity = size;
    if (!data) {
        QLIST_FOREACH(spare, &fuzz_mem_spares, next) {
            if (!strcmp(spare->name, name)) {
                buf->data = spare->data;
                buf->capacity = spare->capacity;
                spare->data = NULL;
                spare->capacity = 0;
                break;
            }
        }
    }
    buf->max_size = read_only ? size : MAX_OUTPUT_SIZE;
    buf->read_only = read_only;
    QLIST_INSERT_HEAD(&fuzz_mem_buffers, buf, next);
    return buf;
}

/* Write the in-memory image @name, if there is one, to the file @path */
static void fuzz_mem_save(const char *name, const char *path)
{
    FuzzMemBuffer *buf = fuzz_mem_find(name);
    g_autofree uint8_t *bytes = NULL;

    if (!buf) {
        return;
    }
    bytes = g_malloc0(buf->size);
    memcpy(bytes, buf->data, buf->filled);
    if (!g_file_set_contents(path, (char *)bytes, buf->size, NULL)) {
        fprintf(stderr, "image-fuzz: cannot write %s\n", path);
    }
}

static void fuzz_mem_free_all(void)
{
    FuzzMemBuffer *buf, *tmp;

    QLIST_FOREACH_SAFE(buf, &fuzz_mem_buffers, next, tmp) {
        FuzzMemBuffer *spare;

        QLIST_REMOVE(buf, next);
        /* The other files' names come from the input: no spares for them */
        if (!buf->read_only && !buf->extra) {
            QLIST_FOREACH(spare, &fuzz_mem_spares, next) {
                if (!strcmp(spare->name, buf->name)) {
                    break;
                }
            }
            if (!spare) {
                spare = g_new0(FuzzMemBuffer, 1);
                spare->name = g_strdup(buf->name);
                QLIST_INSERT_HEAD(&fuzz_mem_spares, spare, next);
            }
            if (!spare->data) {
                /*
                 * Kept for the next execution, unreadable until then (the
                 * bytes past filled are poisoned already)
                 */
                ASAN_POISON_MEMORY_REGION(buf->data, buf->filled);
                spare->data = g_steal_pointer(&buf->data);
                spare->capacity = buf->capacity;
            }
        }
        g_free(buf->name);
        if (!buf->borrowed) {
            g_free(buf->data);
        }
        g_free(buf);
    }
}

static const char *fuzz_format;         /* the target: an image format */

/*
 * While qemu-img info opens the image, the only file it may open (NULL:
 * any).  Since CVE-2024-4467, info does not open the external data file
 * of a qcow2 image, so that it can vet an image that names other files;
 * only VMDK's extents are the image itself.
 */
static const char *fuzz_info_file;

static void G_NORETURN fuzz_finding(const char *what, const char *name)
{
    fprintf(stderr, "image-fuzz: the %s image made QEMU open '%s' %s\n",
            fuzz_format, name, what);
    abort();
}

static int fuzz_mem_open(BlockDriverState *bs, QDict *options, int flags,
                         Error **errp)
{
    BDRVFuzzMemState *s = bs->opaque;
    const char *filename = qdict_get_try_str(options, "filename");
    const char *name;

    if (!filename) {
        error_setg(errp, "%s needs a filename", FUZZ_MEM_PROTOCOL);
        return -EINVAL;
    }
    if (!strstart(filename, FUZZ_MEM_PROTOCOL ":", &name)) {
        name = filename;
    }
    if (fuzz_info_file && strcmp(name, fuzz_info_file)) {
        fuzz_finding("during qemu-img info", filename);
    }
    s->buf = fuzz_mem_find(filename);
    if (!s->buf) {
        error_setg(errp, "no in-memory image '%s'", filename);
        return -ENOENT;
    }
    if (s->buf->read_only && (flags & BDRV_O_RDWR)) {
        error_setg(errp, "in-memory image '%s' is read-only", filename);
        return -EACCES;
    }
    qdict_del(options, "filename");
    bs->supported_zero_flags = BDRV_REQ_MAY_UNMAP;
    return 0;
}

/* Commit makes its backing image writable for the time it runs */
static int fuzz_mem_reopen_prepare(BDRVReopenState *state,
                                   BlockReopenQueue *queue, Error **errp)
{
    BDRVFuzzMemState *s = state->bs->opaque;

    if (s->buf->read_only && (state->flags & BDRV_O_RDWR)) {
        error_setg(errp, "in-memory image '%s' is read-only", s->buf->name);
        return -EACCES;
    }
    return 0;
}

static int coroutine_fn fuzz_mem_co_preadv(BlockDriverState *bs,
                                           int64_t offset, int64_t bytes,
                                           QEMUIOVector *qiov,
                                           BdrvRequestFlags flags)
{
    BDRVFuzzMemState *s = bs->opaque;
    int64_t avail = offset < s->buf->filled ? s->buf->filled - offset : 0;
    int64_t n = MIN(bytes, avail);

    if (n > 0) {
        qemu_iovec_from_buf(qiov, 0, s->buf->data + offset, n);
    }
    if (n < bytes) {
        qemu_iovec_memset(qiov, n, 0, bytes - n);
    }
    return 0;
}

/* Make the buffer @end bytes long; the new bytes read as zeroes */
static int fuzz_mem_grow(FuzzMemBuffer *buf, int64_t end)
{
    if (end > buf->max_size) {
        return -ENOSPC;
    }
    buf->size = MAX(buf->size, end);
    return 0;
}

/*
 * Store the bytes up to @end, so that data[offset, end) can be written:
 * the zeroes between what is stored and @offset are written out, those
 * after @offset are left to the caller
 */
static void fuzz_mem_fill(FuzzMemBuffer *buf, int64_t offset, int64_t end)
{
    if (end <= buf->filled) {
        return;
    }
    if (end > buf->capacity) {
        /*
         * Outputs grow a cluster at a time: double the allocation, so that
         * the bytes are not copied again and again
         */
        int64_t capacity = MIN(MAX(end, MAX(buf->capacity * 2, 64 * KiB)),
                               MAX(end, buf->max_size));

        ASAN_UNPOISON_MEMORY_REGION(buf->data, buf->capacity);
        buf->data = g_realloc(buf->data, capacity);
        buf->capacity = capacity;
        ASAN_POISON_MEMORY_REGION(buf->data + buf->filled,
                                  buf->capacity - buf->filled);
    }
    ASAN_UNPOISON_MEMORY_REGION(buf->data + buf->filled, end - buf->filled);
    if (offset > buf->filled) {
        memset(buf->data + buf->filled, 0, offset - buf->filled);
    }
    buf->filled = end;
}

/* A write that ends at @end: refused on the input, grows an output buffer */
static int fuzz_mem_prepare_write(FuzzMemBuffer *buf, int64_t end)
{
    if (buf->read_only) {
        return -EACCES;
    }
    return fuzz_mem_grow(buf, end);
}

static int coroutine_fn fuzz_mem_co_pwritev(BlockDriverState *bs,
                                            int64_t offset, int64_t bytes,
                                            QEMUIOVector *qiov,
                                            BdrvRequestFlags flags)
{
    BDRVFuzzMemState *s = bs->opaque;
    int ret = fuzz_mem_prepare_write(s->buf, offset + bytes);

    if (ret < 0) {
        return ret;
    }
    fuzz_mem_fill(s->buf, offset, offset + bytes);
    qemu_iovec_to_buf(qiov, 0, s->buf->data + offset, bytes);
    return 0;
}

static int coroutine_fn fuzz_mem_co_pwrite_zeroes(BlockDriverState *bs,
                                                  int64_t offset,
                                                  int64_t bytes,
                                                  BdrvRequestFlags flags)
{
    BDRVFuzzMemState *s = bs->opaque;
    int ret = fuzz_mem_prepare_write(s->buf, offset + bytes);

    if (ret < 0) {
        return ret;
    }
    /* What is not stored reads as zeroes already */
    if (offset < s->buf->filled) {
        memset(s->buf->data + offset, 0,
               MIN(offset + bytes, s->buf->filled) - offset);
    }
    return 0;
}

/*
 * Copy offloading between in-memory files, as file-posix does it between
 * files with copy_file_range(): the source's driver hands the request to
 * the destination's
 */
static int coroutine_fn GRAPH_RDLOCK
fuzz_mem_co_copy_range_from(BlockDriverState *bs, BdrvChild *src,
                            int64_t src_offset, BdrvChild *dst,
                            int64_t dst_offset, int64_t bytes,
                            BdrvRequestFlags read_flags,
                            BdrvRequestFlags write_flags)
{
    return bdrv_co_copy_range_to(src, src_offset, dst, dst_offset, bytes,
                                 read_flags, write_flags);
}

static int coroutine_fn GRAPH_RDLOCK
fuzz_mem_co_copy_range_to(BlockDriverState *bs, BdrvChild *src,
                          int64_t src_offset, BdrvChild *dst,
                          int64_t dst_offset, int64_t bytes,
                          BdrvRequestFlags read_flags,
                          BdrvRequestFlags write_flags)
{
    g_autofree uint8_t *buf = NULL;
    QEMUIOVector qiov;
    int ret;

    if (write_flags & BDRV_REQ_ZERO_WRITE) {
        return fuzz_mem_co_pwrite_zeroes(bs, dst_offset, bytes, write_flags);
    }
    /* Requests of a cluster or less: the convert copies 64 KiB at a time */
    if (src->bs->drv != bs->drv || bytes > 2 * MiB) {
        return -ENOTSUP;
    }
    buf = g_malloc(bytes);
    qemu_iovec_init_buf(&qiov, buf, bytes);
    ret = fuzz_mem_co_preadv(src->bs, src_offset, bytes, &qiov, 0);
    if (ret == 0) {
        ret = fuzz_mem_co_pwritev(bs, dst_offset, bytes, &qiov, 0);
    }
    return ret;
}

static int coroutine_fn fuzz_mem_co_pdiscard(BlockDriverState *bs,
                                             int64_t offset, int64_t bytes)
{
    return 0;
}

static int coroutine_fn fuzz_mem_co_flush(BlockDriverState *bs)
{
    return 0;
}

static int64_t coroutine_fn fuzz_mem_co_getlength(BlockDriverState *bs)
{
    BDRVFuzzMemState *s = bs->opaque;

    return s->buf->size;
}

static int coroutine_fn fuzz_mem_co_truncate(BlockDriverState *bs,
                                             int64_t offset, bool exact,
                                             PreallocMode prealloc,
                                             BdrvRequestFlags flags,
                                             Error **errp)
{
    BDRVFuzzMemState *s = bs->opaque;

    if (s->buf->read_only || offset > s->buf->max_size ||
        prealloc != PREALLOC_MODE_OFF) {
        error_setg(errp, "cannot resize in-memory image '%s' to %" PRId64,
                   s->buf->name, offset);
        return -ENOTSUP;
    }
    if (offset > s->buf->size) {
        return fuzz_mem_grow(s->buf, offset);
    }
    s->buf->size = offset;
    if (s->buf->filled > offset) {
        ASAN_POISON_MEMORY_REGION(s->buf->data + offset,
                                  s->buf->filled - offset);
        s->buf->filled = offset;
    }
    return 0;
}

static QemuOptsList fuzz_mem_create_opts = {
    .name = "fuzz-mem-create-opts",
    .head = QTAILQ_HEAD_INITIALIZER(fuzz_mem_create_opts.head),
    .desc = {
        {
            .name = BLOCK_OPT_SIZE,
            .type = QEMU_OPT_SIZE,
            .help = "Virtual disk size"
        },
        { /* end of list */ }
    }
};

static int coroutine_fn fuzz_mem_co_create_opts(BlockDriver *drv,
                                                const char *filename,
                                                QemuOpts *opts,
                                                Error **errp)
{
    uint64_t size = qemu_opt_get_size_del(opts, BLOCK_OPT_SIZE, 0);
    FuzzMemBuffer *buf;

    strstart(filename, FUZZ_MEM_PROTOCOL ":", &filename);
    if (fuzz_mem_find(filename)) {
        error_setg(errp, "in-memory image '%s' exists", filename);
        return -EEXIST;
    }
    buf = fuzz_mem_add(filename, NULL, 0, false);
    if (fuzz_mem_grow(buf, size) < 0) {
        error_setg(errp, "in-memory image '%s' too large", filename);
        return -ENOSPC;
    }
    return 0;
}

static int fuzz_mem_has_zero_init(BlockDriverState *bs)
{
    return 1;
}

static BlockDriver bdrv_fuzz_mem = {
    .format_name            = FUZZ_MEM_PROTOCOL,
    .protocol_name          = FUZZ_MEM_PROTOCOL,
    .instance_size          = sizeof(BDRVFuzzMemState),
    .bdrv_needs_filename    = true,

    .bdrv_open              = fuzz_mem_open,
    .bdrv_reopen_prepare    = fuzz_mem_reopen_prepare,
    .bdrv_co_preadv         = fuzz_mem_co_preadv,
    .bdrv_co_pwritev        = fuzz_mem_co_pwritev,
    .bdrv_co_pwrite_zeroes  = fuzz_mem_co_pwrite_zeroes,
    .bdrv_co_pdiscard       = fuzz_mem_co_pdiscard,
    .bdrv_co_copy_range_from = fuzz_mem_co_copy_range_from,
    .bdrv_co_copy_range_to  = fuzz_mem_co_copy_range_to,
    .bdrv_co_flush_to_disk  = fuzz_mem_co_flush,
    .bdrv_co_getlength      = fuzz_mem_co_getlength,
    .bdrv_co_truncate       = fuzz_mem_co_truncate,
    .bdrv_co_create_opts    = fuzz_mem_co_create_opts,
    .create_opts            = &fuzz_mem_create_opts,
    .bdrv_has_zero_init     = fuzz_mem_has_zero_init,
};

/*
 * The whitelist: the target's format, qcow2 (the output of
 * STAGE_CONVERT_QCOW2), the in-memory protocol and the file protocol,
 * which serves the input's files by name (fuzz_take_over_file()).  An
 * image that gets any other driver to open, through a name that the block
 * layer parses as a protocol or json: filename, would reach the host or
 * the network: a finding.
 */
static int fuzz_denied_open(BlockDriverState *bs, QDict *options, int flags,
                            Error **errp)
{
    g_autoptr(GString) json = qobject_to_json(QOBJECT(options));
    g_autofree char *what = g_strdup_printf("with the %s driver",
                                            bs->drv->format_name);

    fuzz_finding(what, json->str);
}

/*
 * The file protocol serves the input's files from memory: the extents and
 * data files that an image names, relative names resolved against its own
 * name "in", are looked up among them and never on the host.
 */
static void fuzz_take_over_file(BlockDriver *drv)
{
    BlockDriver mem = bdrv_fuzz_mem;

    mem.format_name = drv->format_name;
    mem.protocol_name = drv->protocol_name;
    mem.list = drv->list;
    *drv = mem;
}

static void fuzz_restrict_drivers(void)
{
    BlockDriver *drv;

    /* bdrv_register() inserts at the head, so this walks all of them */
    bdrv_register(&bdrv_fuzz_mem);
    for (drv = &bdrv_fuzz_mem; drv; drv = QLIST_NEXT(drv, list)) {
        if (drv == &bdrv_fuzz_mem || !strcmp(drv->format_name, fuzz_format) ||
            !strcmp(drv->format_name, "qcow2")) {
            continue;
        }
        if (!strcmp(drv->format_name, "file")) {
            fuzz_take_over_file(drv);
            continue;
        }
        drv->bdrv_open = fuzz_denied_open;
        drv->bdrv_probe = NULL;
        drv->bdrv_probe_device = NULL;
        drv->bdrv_co_create_opts = NULL;
        drv->bdrv_co_create = NULL;
    }
}

/* A small deterministic generator for the writes of STAGE_WRITE */
static uint64_t fuzz_rand(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* The size of the image that a list of chunks makes */
static int64_t chunks_length(const uint8_t *data, size_t size)
{
    const uint8_t *p = data, *end = data + size;
    int64_t len = 0;

    while (end - p >= 6) {
        uint32_t off = ldl_le_p(p);
        size_t n = MIN(lduw_le_p(p + 4), end - p - 6);

        if (off + n <= MAX_IMAGE_SIZE) {
            len = MAX(len, off + n);
        }
        p += 6 + n;
    }
    return len;
}

/* Lay the chunks out in @image; their ranges go to @dirty, if not NULL */
static void chunks_copy(uint8_t *image, const uint8_t *data, size_t size,
                        GArray *dirty)
{
    const uint8_t *p = data, *end = data + size;

    while (end - p >= 6) {
        uint32_t off = ldl_le_p(p);
        size_t n = MIN(lduw_le_p(p + 4), end - p - 6);

        if (n && off + n <= MAX_IMAGE_SIZE) {
            memcpy(image + off, p + 6, n);
            if (dirty) {
                Range r;

                range_set_bounds(&r, off, off + n - 1);
                g_array_append_val(dirty, r);
            }
        }
        p += 6 + n;
    }
}

/*
 * The image: either the bytes after the header as they are, or (flag
 * INPUT_CHUNKED) a list of chunks {le32 offset, le16 length, data} laid
 * out in an image of zeroes, for formats whose structures are megabytes
 * apart.  The result is the input itself or a buffer that the next call
 * reuses: a new allocation of megabytes each time, or zeroing all of it,
 * costs more than the rest of an info-only execution.  So the buffer stays
 * zero but for the chunks of the last input, which are cleared first.
 */
static uint8_t *decode_input(const uint8_t *data, size_t size, int flags,
                             int64_t *image_size)
{
    static uint8_t *image;
    static int64_t capacity;
    static int64_t valid;       /* the last image's size; the rest poisoned */
    static GArray *dirty;       /* Range of the chunks of the last input */
    int64_t len;
    guint i;

    if (!(flags & INPUT_CHUNKED)) {
        /* Read-only, like the input: fuzz_mem refuses writes to "in" */
        *image_size = size;
        return (uint8_t *)data;
    }
    len = chunks_length(data, size);
    if (!dirty) {
        dirty = g_array_new(false, false, sizeof(Range));
    }
    /*
     * Poison and unpoison only what changed: the shadow of the whole
     * buffer, twice per input, costs more than a small input's execution.
     */
    if (len > capacity) {
        ASAN_UNPOISON_MEMORY_REGION(image, capacity);
        g_free(image);
        capacity = len;
        image = g_malloc0(capacity);
        valid = capacity;
        g_array_set_size(dirty, 0);
    } else if (len > valid) {
        ASAN_UNPOISON_MEMORY_REGION(image + valid, len - valid);
    }
    for (i = 0; i < dirty->len; i++) {
        Range *r = &g_array_index(dirty, Range, i);

        memset(image + range_lob(r), 0, range_size(r));
    }
    g_array_set_size(dirty, 0);
    chunks_copy(image, data, size, dirty);
    if (len < valid) {
        ASAN_POISON_MEMORY_REGION(image + len, valid - len);
    }
    valid = len;
    *image_size = len;
    return image;
}

/*
 * The input's other files (flag INPUT_FILES), before the image: a count
 * byte, then for each file {u8 name length, name, le32 size, le32 length,
 * data}: a file of size bytes (at most MAX_IMAGE_SIZE), whose first bytes
 * are the length bytes of data, or with INPUT_CHUNKED the chunks in them,
 * and the rest zeroes.  The chunked files of an input take at most
 * MAX_IMAGE_SIZE bytes of memory together.  Returns the bytes they take.
 */
static size_t decode_files(const uint8_t *data, size_t size, int flags)
{
    const uint8_t *p = data, *end = data + size;
    int64_t budget = MAX_IMAGE_SIZE;
    unsigned count, i;

    if (!size) {
        return 0;
    }
    count = *p++;
    for (i = 0; i < count && p < end; i++) {
        size_t name_len = *p++;
        g_autofree char *name = NULL;
        uint32_t file_size, len;
        FuzzMemBuffer *buf;

        if (end - p < name_len + 8) {
            return size;
        }
        name = g_strndup((const char *)p, name_len);
        file_size = ldl_le_p(p + name_len);
        len = MIN(ldl_le_p(p + name_len + 4), end - p - name_len - 8);
        p += name_len + 8;
        if (!*name || fuzz_mem_reserved(name) || fuzz_mem_find(name)) {
            p += len;
            continue;
        }
        if (flags & INPUT_CHUNKED) {
            int64_t stored = chunks_length(p, len);

            if (stored > budget) {
                p += len;
                continue;
            }
            budget -= stored;
            buf = fuzz_mem_add(name, g_malloc0(stored), stored, true);
            chunks_copy(buf->data, p, len, NULL);
        } else {
            buf = fuzz_mem_add(name, (uint8_t *)p, len, true);
            buf->borrowed = true;
        }
        buf->extra = true;
        buf->size = MIN(MAX(file_size, buf->filled), MAX_IMAGE_SIZE);
        buf->max_size = buf->size;
        p += len;
    }
    return p - data;
}

/* The write stages write to the other files too, as to the image's copy */
static void fuzz_mem_files_writable(void)
{
    FuzzMemBuffer *buf;

    QLIST_FOREACH(buf, &fuzz_mem_buffers, next) {
        if (buf->extra && buf->read_only) {
            if (buf->borrowed) {
                buf->data = g_memdup2(buf->data, buf->filled);
                buf->borrowed = false;
            }
            buf->read_only = false;
            buf->max_size = MAX_OUTPUT_SIZE;
        }
    }
}

/*
 * The passphrase of the encrypted seeds (make-seeds.py), a secret object
 * that every open of an encrypted image names, as a user's --object would
 */
#define FUZZ_SECRET_ID      "fuzz-secret"
#define FUZZ_SECRET         "fuzz"

/*
 * A LUKS header says how many PBKDF2 iterations its key slots and master
 * key digest take, up to 2^32 each: hours that a real image's owner pays
 * knowingly.  The fuzzer bounds its work per execution by count instead,
 * and refuses more (the link wraps qcrypto_pbkdf2(), see meson.build).
 */
#define MAX_PBKDF_ITERATIONS 100000

int __wrap_qcrypto_pbkdf2(QCryptoHashAlgo hash, const uint8_t *key,
                          size_t nkey, const uint8_t *salt, size_t nsalt,
                          uint64_t iterations, uint8_t *out, size_t nout,
                          Error **errp)
{
    if (iterations > MAX_PBKDF_ITERATIONS) {
        error_setg(errp, "%" PRIu64 " PBKDF2 iterations, more than the "
                   "image fuzzer's %d", iterations, MAX_PBKDF_ITERATIONS);
        return -1;
    }
    return __real_qcrypto_pbkdf2(hash, key, nkey, salt, nsalt, iterations,
                                 out, nout, errp);
}

/*
 * Creating a LUKS image times PBKDF2 for half a second or more to pick its
 * iteration counts from iter-time: a count instead, the same on every
 * machine, which gives the least that LUKS takes (1000) at iter-time=1.
 */
#define FUZZ_PBKDF_ITERS_PER_SECOND 1000

uint64_t __wrap_qcrypto_pbkdf2_count_iters(QCryptoHashAlgo hash,
                                           const uint8_t *key, size_t nkey,
                                           const uint8_t *salt, size_t nsalt,
                                           size_t nout, Error **errp)
{
    return FUZZ_PBKDF_ITERS_PER_SECOND;
}

/* The header's encryption method of a qcow or qcow2 image, 0 if none */
static uint32_t fuzz_qcow_crypt_method(const char *name)
{
    FuzzMemBuffer *buf = fuzz_mem_find(name);

    if (!buf || buf->filled < 40 || memcmp(buf->data, "QFI\xfb", 4)) {
        return 0;
    }
    /* qcow (version 1) has it after the cluster and L2 bits */
    return ldl_be_p(buf->data + (ldl_be_p(buf->data + 4) == 1 ? 36 : 32));
}

static bool fuzz_verbose(void)
{
    return getenv("QEMU_FUZZ_IMAGE_VERBOSE");
}

/*
 * Open @name as @format, with the runtime options @opt_str
 * ("key=value,..." as --image-opts takes them, or NULL)
 */
static BlockBackend *fuzz_open_opts(const char *format, const char *name,
                                    int flags, const char *opt_str)
{
    QDict *opts = qdict_new();
    Error *local_err = NULL;
    BlockBackend *blk;

    if (opt_str && *opt_str) {
        g_auto(GStrv) pairs = g_strsplit(opt_str, ",", -1);
        char **p;

        for (p = pairs; *p; p++) {
            g_auto(GStrv) kv = g_strsplit(*p, "=", 2);

            assert(kv[0] && kv[1]);
            qdict_put_str(opts, kv[0], kv[1]);
        }
    }

    qdict_put_str(opts, "driver", format);
    qdict_put_str(opts, "file.driver", FUZZ_MEM_PROTOCOL);
    qdict_put_str(opts, "file.filename", name);
    if (!strcmp(format, "luks")) {
        qdict_put_str(opts, "key-secret", FUZZ_SECRET_ID);
    } else if ((!strcmp(format, "qcow2") || !strcmp(format, "qcow")) &&
               fuzz_qcow_crypt_method(name)) {
        qdict_put_str(opts, "encrypt.key-secret", FUZZ_SECRET_ID);
    } else if (!strcmp(format, "parallels")) {
        /*
         * By default Parallels preallocates 128 MiB past the end of the
         * file whenever it allocates a cluster there, more than a file in
         * memory may grow (MAX_OUTPUT_SIZE): no allocating write would
         * succeed.  Preallocate as little as the driver can, one cluster.
         */
        qdict_put_str(opts, "prealloc-size", "0");
    }
    blk = blk_new_open(NULL, NULL, opts, flags | BDRV_O_NO_BACKING,
                       &local_err);
    if (fuzz_verbose() && opt_str && *opt_str) {
        fprintf(stderr, "image-fuzz: open with %s: %s\n", opt_str,
                blk ? "ok" : error_get_pretty(local_err));
    }
    error_free(local_err);
    return blk;
}

static BlockBackend *fuzz_open(const char *format, const char *name,
                               int flags)
{
    return fuzz_open_opts(format, name, flags, NULL);
}

/*
 * Runtime options of the write stage's open, one of which the input picks:
 * what users give qemu-io and -blockdev to tune a driver, which changes
 * how it walks the image's tables (a cache of a few entries evicts at
 * every request, for one)
 */
static const struct {
    const char *format;
    const char *opts[8];
} fuzz_rw_opts[] = {
    { "qcow2", { "", "",
                 "l2-cache-size=1024,l2-cache-entry-size=512",
                 "refcount-cache-size=2048,overlap-check=all",
                 "cache-size=65536,cache-clean-interval=0",
                 "overlap-check=none,lazy-refcounts=on",
                 "pass-discard-request=off,pass-discard-other=on,"
                 "discard-no-unref=on",
                 "overlap-check.template=cached,"
                 "overlap-check.inactive-l2=on,pass-discard-snapshot=off" } },
};

static const char *fuzz_rw_opts_pick(uint64_t seed)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(fuzz_rw_opts); i++) {
        if (!strcmp(fuzz_rw_opts[i].format, fuzz_format)) {
            seed ^= 0x5bd1e995;
            return fuzz_rw_opts[i].opts[fuzz_rand(&seed) %
                                        ARRAY_SIZE(fuzz_rw_opts[i].opts)];
        }
    }
    return NULL;
}

/* A writable copy of the image, which may grow as an output does */
static void fuzz_mem_add_copy(const char *name, const uint8_t *image,
                              int64_t image_size)
{
    FuzzMemBuffer *buf = fuzz_mem_add(name, NULL, 0, false);

    buf->max_size = MAX(image_size, MAX_OUTPUT_SIZE);
    if (image_size) {
        fuzz_mem_grow(buf, image_size);
        fuzz_mem_fill(buf, 0, image_size);
        memcpy(buf->data, image, image_size);
    }
}

/*
 * What qemu-img info without -f does first: the first bytes of the file,
 * zero-filled past its end as a read of a short file is, go to every
 * driver's probe (of the drivers that fuzz_restrict_drivers() keeps)
 */
static void stage_probe(const uint8_t *image, int64_t image_size)
{
    uint8_t buf[BLOCK_PROBE_BUF_SIZE] = {};
    BlockDriver *drv;

    if (image_size) {
        /* An empty image has no buffer */
        memcpy(buf, image, MIN(image_size, sizeof(buf)));
    }
    drv = bdrv_probe_all(buf, sizeof(buf), FUZZ_MEM_PROTOCOL ":in");
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: probe: %s\n",
                drv ? drv->format_name : "none");
    }
}

/* What qemu-img info does */
static void stage_info(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    ImageInfo *info = NULL;
    BlockDriverInfo bdi;
    QEMUSnapshotInfo *sn = NULL;
    Error *local_err = NULL;
    int nb;

    blk_getlength(blk);
    bdrv_graph_rdlock_main_loop();
    bdrv_query_image_info(bs, &info, true, false, &local_err);
    error_free(local_err);
    qapi_free_ImageInfo(info);
    bdrv_get_info(bs, &bdi);
    nb = bdrv_snapshot_list(bs, &sn);
    (void)nb;
    g_free(sn);
    bdrv_graph_rdunlock_main_loop();
}

/* Walk the block status of the first bytes, read what is data */
static void stage_map(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    int64_t len = blk_getlength(blk);
    int64_t offset = 0, read_bytes = 0;
    int i;

    for (i = 0; i < MAX_MAP_EXTENTS && offset < len; i++) {
        int64_t pnum = 0, map;
        BlockDriverState *file;
        int ret;

        bdrv_graph_rdlock_main_loop();
        ret = bdrv_block_status_above(bs, NULL, offset, len - offset, &pnum,
                                      &map, &file);
        bdrv_graph_rdunlock_main_loop();
        if (ret < 0 || pnum <= 0) {
            break;
        }
        if ((ret & BDRV_BLOCK_DATA) && read_bytes < MAX_READ_BYTES) {
            int64_t n = MIN(pnum, 64 * KiB);
            uint8_t *buf = g_malloc(n);

            blk_pread(blk, offset, n, buf, 0);
            g_free(buf);
            read_bytes += n;
        }
        offset += pnum;
    }
}

/* True if the check found something to repair */
static bool stage_check(BlockBackend *blk, BdrvCheckMode fix)
{
    BdrvCheckResult result = {};
    int ret;

    bdrv_graph_rdlock_main_loop();
    ret = bdrv_check(blk_bs(blk), &result, fix);
    bdrv_graph_rdunlock_main_loop();
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: check%s: %d, %d corruptions, %d leaks, "
                "%d errors, %d corruptions and %d leaks fixed\n",
                fix ? " -r all" : "", ret, result.corruptions, result.leaks,
                result.check_errors, result.corruptions_fixed,
                result.leaks_fixed);
    }
    return ret < 0 || result.corruptions || result.leaks ||
           result.check_errors;
}

/* The header's own "check me": qcow2 dirty or corrupt, qed need-check */
static bool image_wants_check(const uint8_t *image, int64_t size)
{
    if (size >= 80 && !memcmp(image, "QFI\xfb", 4) &&
        ldl_be_p(image + 4) >= 3) {
        return ldq_be_p(image + 72) & 3;
    }
    if (size >= 24 && !memcmp(image, "QED\0", 4)) {
        return ldq_le_p(image + 16) & 2;
    }
    return false;
}

/* What qemu-img check does, and check -r all when it is called for */
static void stage_check_repair(const uint8_t *image, int64_t image_size)
{
    BlockBackend *blk = fuzz_open(fuzz_format, "in", BDRV_O_CHECK);
    bool repair = !blk || image_wants_check(image, image_size);

    if (blk) {
        repair |= stage_check(blk, 0);
        blk_unref(blk);
    }
    if (!repair) {
        return;
    }
    fuzz_mem_add_copy("check", image, image_size);
    blk = fuzz_open(fuzz_format, "check", BDRV_O_RDWR | BDRV_O_CHECK);
    if (blk) {
        stage_check(blk, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS);
        blk_unref(blk);
    }
}

typedef struct FuzzCopyRange {
    BlockBackend *src, *dst;
    int64_t offset, bytes;
    int ret;
    bool done;
} FuzzCopyRange;

static void coroutine_fn fuzz_copy_range_co(void *opaque)
{
    FuzzCopyRange *c = opaque;

    c->ret = blk_co_copy_range(c->src, c->offset, c->dst, c->offset,
                               c->bytes, 0, 0);
    c->done = true;
    aio_wait_kick();
}

/*
 * Copy the first bytes of src to dst as qemu-img convert does; with
 * @offload as convert -C does: the data offloaded to the protocol,
 * through both drivers' copy_range callbacks
 */
static void fuzz_copy(BlockBackend *src, BlockBackend *dst, int64_t len,
                      bool offload)
{
    BlockDriverState *bs = blk_bs(src);
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    int64_t offset = 0;
    int i;

    for (i = 0; i < MAX_COPY_REQUESTS && offset < len; i++) {
        int64_t pnum = 0;
        int ret;

        /* Zeroes in one request, data through the buffer or offloaded */
        bdrv_graph_rdlock_main_loop();
        ret = bdrv_block_status_above(bs, NULL, offset, len - offset, &pnum,
                                      NULL, NULL);
        bdrv_graph_rdunlock_main_loop();
        if (ret < 0 || pnum <= 0) {
            break;
        }
        if (ret & BDRV_BLOCK_ZERO) {
            ret = blk_pwrite_zeroes(dst, offset, pnum, BDRV_REQ_MAY_UNMAP);
        } else if (offload) {
            FuzzCopyRange c = {
                .src = src, .dst = dst, .offset = offset,
                .bytes = pnum = MIN(pnum, 64 * KiB),
            };

            qemu_coroutine_enter(qemu_coroutine_create(fuzz_copy_range_co,
                                                       &c));
            AIO_WAIT_WHILE_UNLOCKED(NULL, !c.done);
            ret = c.ret;
        } else {
            pnum = MIN(pnum, 64 * KiB);
            ret = blk_pread(src, offset, pnum, buf, 0);
            if (ret >= 0) {
                ret = blk_pwrite(dst, offset, pnum, buf, 0);
            }
        }
        if (ret < 0) {
            break;
        }
        offset += pnum;
    }
    blk_flush(dst);
}

/* Copy the first bytes of src to dst as qemu-img convert -c does */
static void fuzz_copy_compressed(BlockBackend *src, BlockBackend *dst,
                                 int64_t len)
{
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    int64_t offset;

    /* At most MAX_CONVERT_BYTES / 64 KiB requests */
    for (offset = 0; offset < len; offset += 64 * KiB) {
        int64_t n = MIN(len - offset, 64 * KiB);

        if (blk_pread(src, offset, n, buf, 0) < 0 ||
            blk_pwrite(dst, offset, n, buf, BDRV_REQ_WRITE_COMPRESSED) < 0) {
            break;
        }
    }
    blk_flush(dst);
}

/*
 * A new qcow2 image of a given size is always the same bytes: create it
 * once and copy it after that, as creating it costs as much as the rest of
 * a conversion
 */
static struct {
    int64_t len;                /* size option of the image, 0: none yet */
    int64_t size;               /* bytes of the image file */
    GByteArray *bytes;          /* what of them is stored */
} fuzz_qcow2_template;

static void fuzz_create_qcow2(const char *name, int64_t len)
{
    BlockDriver *drv = bdrv_find_format("qcow2");
    QemuOpts *opts;
    Error *local_err = NULL;
    FuzzMemBuffer *buf;
    g_autofree char *filename = NULL;
    int ret;

    if (fuzz_qcow2_template.len == len) {
        buf = fuzz_mem_add(name, NULL, 0, false);
        fuzz_mem_grow(buf, fuzz_qcow2_template.size);
        fuzz_mem_fill(buf, 0, fuzz_qcow2_template.bytes->len);
        memcpy(buf->data, fuzz_qcow2_template.bytes->data,
               fuzz_qcow2_template.bytes->len);
        return;
    }
    opts = qemu_opts_create(drv->create_opts, NULL, 0, &error_abort);
    qemu_opt_set_number(opts, BLOCK_OPT_SIZE, len, &error_abort);
    filename = g_strdup_printf(FUZZ_MEM_PROTOCOL ":%s", name);
    ret = bdrv_create(drv, filename, opts, &local_err);
    qemu_opts_del(opts);
    if (ret < 0) {
        /* The output is ours, not the input's: this is a bug */
        error_report_err(local_err);
        abort();
    }
    buf = fuzz_mem_find(name);
    if (!fuzz_qcow2_template.bytes) {
        fuzz_qcow2_template.bytes = g_byte_array_new();
    }
    g_byte_array_set_size(fuzz_qcow2_template.bytes, 0);
    g_byte_array_append(fuzz_qcow2_template.bytes, buf->data, buf->filled);
    fuzz_qcow2_template.size = buf->size;
    fuzz_qcow2_template.len = len;
}

static void stage_convert(BlockBackend *src, const char *out_format,
                          bool compress, bool offload)
{
    int64_t len = MIN(blk_getlength(src), MAX_CONVERT_BYTES);
    const char *name = out_format ? "out-qcow2" : "out-raw";
    BlockBackend *dst;

    if (len <= 0) {
        return;
    }
    len = QEMU_ALIGN_DOWN(len, BDRV_SECTOR_SIZE);
    if (out_format) {
        fuzz_create_qcow2(name, len);
        dst = fuzz_open(out_format, name, BDRV_O_RDWR);
    } else {
        Error *local_err = NULL;
        QDict *opts = qdict_new();

        fuzz_mem_grow(fuzz_mem_add(name, NULL, 0, false), len);
        qdict_put_str(opts, "driver", FUZZ_MEM_PROTOCOL);
        qdict_put_str(opts, "filename", name);
        dst = blk_new_open(NULL, NULL, opts, BDRV_O_RDWR, &local_err);
        error_free(local_err);
    }
    if (!dst) {
        return;
    }
    if (compress) {
        fuzz_copy_compressed(src, dst, len);
    } else {
        /* convert -C fails at once on a format that cannot offload */
        fuzz_copy(src, dst, len,
                  offload && blk_bs(src)->drv->bdrv_co_copy_range_from);
    }
    /*
     * Compressed clusters are the part of the output that the input
     * shapes most: check those images (qemu-img convert does not, and a
     * check costs as much as the conversion)
     */
    if (out_format && compress) {
        stage_check(dst, 0);
    }
    blk_unref(dst);
}

/* What qemu-img bitmap --add and snapshot -c/-a/-d do, before the writes */
static void stage_snapshot(BlockBackend *blk, uint64_t *seed)
{
    BlockDriverState *bs = blk_bs(blk);
    QEMUSnapshotInfo *list = NULL, sn = {};
    Error *local_err = NULL;
    int nb;

    if (bdrv_supports_persistent_dirty_bitmap(bs)) {
        BdrvDirtyBitmap *bm = bdrv_create_dirty_bitmap(bs, 64 * KiB,
                                                       "fuzz", &local_err);

        if (bm) {
            bdrv_dirty_bitmap_set_persistence(bm, true);
        }
        error_free(local_err);
        local_err = NULL;
    }

    bdrv_graph_rdlock_main_loop();
    nb = bdrv_snapshot_list(bs, &list);
    pstrcpy(sn.name, sizeof(sn.name), "fuzz");
    bdrv_snapshot_create(bs, &sn);
    bdrv_graph_rdunlock_main_loop();

    if (nb > 0) {
        /* Go back to a snapshot of the image, then delete another one */
        QEMUSnapshotInfo *old = &list[fuzz_rand(seed) % nb];

        bdrv_snapshot_goto(bs, old->id_str, &local_err);
        error_free(local_err);
        local_err = NULL;
        old = &list[fuzz_rand(seed) % nb];
        bdrv_drain_all_begin();
        bdrv_graph_rdlock_main_loop();
        bdrv_snapshot_delete(bs, old->id_str, old->name, &local_err);
        bdrv_graph_rdunlock_main_loop();
        bdrv_drain_all_end();
        error_free(local_err);
        local_err = NULL;
    }
    g_free(list);
}

/* qemu-img resize, to a size derived from the input */
static void stage_resize(BlockBackend *blk, uint64_t *seed)
{
    int64_t len = blk_getlength(blk);
    uint64_t r = fuzz_rand(seed);
    Error *local_err = NULL;

    if (len <= 0) {
        return;
    }
    if (r & 1) {
        len += ((r >> 8) % (2 * MiB)) & ~(BDRV_SECTOR_SIZE - 1);
    } else {
        len = QEMU_ALIGN_DOWN(len / 2, BDRV_SECTOR_SIZE);
    }
    blk_truncate(blk, len, false, PREALLOC_MODE_OFF, 0, &local_err);
    error_free(local_err);
}

static void fuzz_amend_status(BlockDriverState *bs, int64_t offset,
                              int64_t total_work_size, void *opaque)
{
}

/* qemu-img amend, with options derived from the input */
static void stage_amend(BlockBackend *blk, uint64_t *seed)
{
    static const char *const amend[] = {
        "compat=0.10", "compat=1.1", "lazy_refcounts=on",
        "lazy_refcounts=off", "refcount_bits=1", "refcount_bits=4",
        "refcount_bits=16", "refcount_bits=64",
        /* The zones of a qcow2 image, which only an empty one changes */
        "zone.mode=host-managed,zone.size=65536,zone.capacity=49152,"
        "zone.conventional_zones=1,zone.max_open_zones=2",
        "zone.mode=host-aware,zone.size=131072,zone.max_active_zones=3",
        "zone.mode=none",
    };
    /*
     * LUKS key slots, as qemu-img amend -o state=... changes them: a new
     * key in the first free slot or a given one, and slots erased by
     * number or by the key they hold (the last active one is kept:
     * erasing it needs --force)
     */
    static const char *const amend_luks[] = {
        "state=active,new-secret=" FUZZ_SECRET_ID ",iter-time=1",
        "state=active,new-secret=" FUZZ_SECRET_ID ",iter-time=1,keyslot=7",
        "state=inactive,keyslot=0",
        "state=inactive,keyslot=3",
        "state=inactive,old-secret=" FUZZ_SECRET_ID,
    };
    BlockDriverState *bs = blk_bs(blk);
    bool luks = !strcmp(fuzz_format, "luks");
    const char *opt_str;
    QEMUSnapshotInfo *list = NULL;
    Error *local_err = NULL;
    QemuOpts *opts;

    if (!bs->drv || !bs->drv->bdrv_amend_options || !bs->drv->amend_opts) {
        return;
    }
    /*
     * Amending rewrites every table of every snapshot, for seconds on
     * images with a few snapshots: the seeds amend images without any
     */
    if (bdrv_snapshot_list(bs, &list) > 0) {
        g_free(list);
        return;
    }
    g_free(list);
    opt_str = luks ? amend_luks[fuzz_rand(seed) % ARRAY_SIZE(amend_luks)] :
                     amend[fuzz_rand(seed) % ARRAY_SIZE(amend)];
    opts = qemu_opts_create(bs->drv->amend_opts, NULL, 0, &error_abort);
    if (qemu_opts_do_parse(opts, opt_str, NULL, &local_err)) {
        bdrv_graph_rdlock_main_loop();
        bdrv_amend_options(bs, opts, fuzz_amend_status, NULL, false,
                           &local_err);
        bdrv_graph_rdunlock_main_loop();
    }
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: amend -o %s: %s\n", opt_str,
                local_err ? error_get_pretty(local_err) : "ok");
    }
    error_free(local_err);
    qemu_opts_del(opts);
}

/* qemu-img measure -O @format -o @opt_str of the input */
static void fuzz_measure(BlockBackend *blk, const char *format,
                         const char *opt_str)
{
    BlockDriver *drv = bdrv_find_format(format);
    BlockMeasureInfo *info;
    Error *local_err = NULL;
    QemuOpts *opts;

    opts = qemu_opts_create(drv->create_opts, NULL, 0, &error_abort);
    if (opt_str && !qemu_opts_do_parse(opts, opt_str, NULL, &local_err)) {
        /* The table is ours: an option the driver does not know is a bug */
        error_report_err(local_err);
        abort();
    }
    info = bdrv_measure(drv, opts, blk_bs(blk), &local_err);
    if (fuzz_verbose() && info) {
        /* qcow2's line is the one scripts/image-fuzz-stages.sh compares */
        fprintf(stderr, "image-fuzz: measure%s%s: required %" PRIu64
                ", fully allocated %" PRIu64 "\n",
                strcmp(format, "qcow2") ? " -O " : "",
                strcmp(format, "qcow2") ? format : "", info->required,
                info->fully_allocated);
    }
    qapi_free_BlockMeasureInfo(info);
    error_free(local_err);
    qemu_opts_del(opts);
}

/*
 * qemu-img measure -O qcow2 of the input, and -O luks of a LUKS input
 * (the other formats that the fuzzer has cannot be measured)
 */
static void stage_measure(BlockBackend *blk)
{
    int64_t len = blk_getlength(blk);

    if (len < 0 || len > MAX_MEASURE_BYTES) {
        return;
    }
    fuzz_measure(blk, "qcow2", NULL);
    if (!strcmp(fuzz_format, "luks")) {
        fuzz_measure(blk, "luks", "key-secret=" FUZZ_SECRET_ID ",iter-time=1");
    }
}

/*
 * qemu-img bitmap, through the QMP commands it uses: add a persistent
 * bitmap, then merge each bitmap that the image has into it, or disable,
 * clear or remove it, in turn
 */
static void stage_bitmaps(BlockBackend *blk)
{
    static const char *const action[] = {
        "merge", "disable", "clear", "remove"
    };
    const char *node = bdrv_get_node_name(blk_bs(blk));
    BdrvDirtyBitmap *bm;
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    Error *local_err = NULL;
    guint i;

    if (!bdrv_supports_persistent_dirty_bitmap(blk_bs(blk))) {
        return;
    }
    FOR_EACH_DIRTY_BITMAP(blk_bs(blk), bm) {
        if (bdrv_dirty_bitmap_name(bm)) {
            g_ptr_array_add(names, g_strdup(bdrv_dirty_bitmap_name(bm)));
        }
    }
    qmp_block_dirty_bitmap_add(node, "fuzz-add", false, 0, true, true,
                               false, false, &local_err);
    error_free(local_err);
    for (i = 0; i < names->len; i++) {
        const char *name = g_ptr_array_index(names, i);

        local_err = NULL;
        switch (i % ARRAY_SIZE(action)) {
        case 0: {
            BlockDirtyBitmapOrStrList *list = NULL;

            QAPI_LIST_PREPEND(list, g_new0(BlockDirtyBitmapOrStr, 1));
            list->value->type = QTYPE_QSTRING;
            list->value->u.local = g_strdup(name);
            qmp_block_dirty_bitmap_merge(node, "fuzz-add", list, &local_err);
            qapi_free_BlockDirtyBitmapOrStrList(list);
            break;
        }
        case 1:
            qmp_block_dirty_bitmap_disable(node, name, &local_err);
            break;
        case 2:
            qmp_block_dirty_bitmap_clear(node, name, &local_err);
            break;
        case 3:
            qmp_block_dirty_bitmap_remove(node, name, &local_err);
            break;
        }
        if (fuzz_verbose()) {
            fprintf(stderr, "image-fuzz: bitmap %s: %s: %s\n", name,
                    action[i % ARRAY_SIZE(action)],
                    local_err ? error_get_pretty(local_err) : "ok");
        }
        error_free(local_err);
    }
}

/*
 * qemu-img rebase -u: an image with a backing file loses it, one without
 * gets one (which is never opened)
 */
static void stage_rebase(BlockBackend *blk)
{
    BlockDriverState *bs = blk_bs(blk);
    int ret;

    if (bs->backing_file[0]) {
        ret = bdrv_change_backing_file(bs, NULL, NULL, false);
    } else {
        ret = bdrv_change_backing_file(bs, FUZZ_MEM_PROTOCOL ":base",
                                       "qcow2", false);
    }
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: rebase: %d\n", ret);
    }
}

/*
 * qemu-img commit of the written copy into a new qcow2 image in memory as
 * its backing file (the image's own backing file is never opened), which
 * empties the image when its driver can
 */
/*
 * Creation options of each format whose driver creates images, one of
 * which STAGE_CONVERT_SELF picks for each input: the sub-formats, and the
 * options that change the layout of what is written
 */
static const struct {
    const char *format;
    const char *opts[6];
} fuzz_self_opts[] = {
    { "qcow2", { "cluster_size=4096,refcount_bits=1",
                 "extended_l2=on,compression_type=zstd",
                 "compat=0.10,cluster_size=512",
                 "lazy_refcounts=on,refcount_bits=64,cluster_size=2097152",
                 "zone.mode=host-managed,zone.size=65536,"
                 "zone.capacity=61440,zone.conventional_zones=1,"
                 "zone.max_open_zones=2,zone.max_active_zones=3",
                 "zone.mode=host-aware,zone.size=1048576,"
                 "cluster_size=4096" } },
    { "vmdk", { "subformat=monolithicSparse", "subformat=streamOptimized",
                "subformat=monolithicSparse,zeroed_grain=on",
                "subformat=monolithicSparse,hwversion=6,adapter_type=ide" } },
    { "vhdx", { "subformat=dynamic", "subformat=fixed",
                "block_size=1048576,block_state_zero=off",
                "log_size=1048576,block_size=4194304" } },
    { "vpc", { "subformat=dynamic", "subformat=fixed",
               "subformat=dynamic,force_size=on",
               "subformat=fixed,force_size=on" } },
    { "vdi", { "static=off", "static=on" } },
    { "qed", { "cluster_size=4096,table_size=1",
               "cluster_size=65536,table_size=16" } },
    { "parallels", { "cluster_size=4096", "cluster_size=1048576" } },
    { "qcow", { "" } },
    { "luks", { "key-secret=" FUZZ_SECRET_ID ",iter-time=1",
                "key-secret=" FUZZ_SECRET_ID ",iter-time=1,cipher-alg=aes-128,"
                "cipher-mode=cbc,ivgen-alg=essiv,ivgen-hash-alg=sha256",
                "key-secret=" FUZZ_SECRET_ID ",iter-time=1,hash-alg=sha1,"
                "ivgen-alg=plain",
                "key-secret=" FUZZ_SECRET_ID ",iter-time=1,cipher-alg=aes-192,"
                "cipher-mode=cbc,ivgen-alg=plain64" } },
};

/*
 * What qemu-img convert -O FORMAT does with the target's own format: a new
 * image with creation options picked by the input, the first bytes copied
 * into it, then what qemu-img check would say of it.  The input shapes the
 * virtual size and the data, which the driver lays out in a fresh image.
 */
static void stage_convert_self(BlockBackend *src, uint64_t seed)
{
    int64_t len = MIN(blk_getlength(src), MAX_CONVERT_BYTES);
    BlockDriver *drv = bdrv_find_format(fuzz_format);
    const char *const *variants = NULL;
    const char *opt_str;
    QemuOpts *opts;
    Error *local_err = NULL;
    BlockBackend *dst;
    size_t i, n = 0;
    int ret;

    for (i = 0; i < ARRAY_SIZE(fuzz_self_opts); i++) {
        if (!strcmp(fuzz_self_opts[i].format, fuzz_format)) {
            variants = fuzz_self_opts[i].opts;
        }
    }
    if (!variants || !drv->create_opts || len <= 0) {
        return;
    }
    len = QEMU_ALIGN_DOWN(len, BDRV_SECTOR_SIZE);
    while (n < ARRAY_SIZE(fuzz_self_opts[0].opts) && variants[n]) {
        n++;
    }
    opt_str = variants[fuzz_rand(&seed) % n];

    opts = qemu_opts_create(drv->create_opts, NULL, 0, &error_abort);
    qemu_opt_set_number(opts, BLOCK_OPT_SIZE, len, &error_abort);
    if (!qemu_opts_do_parse(opts, opt_str, NULL, &local_err)) {
        /* The table is ours: an option the driver does not know is a bug */
        error_report_err(local_err);
        abort();
    }
    ret = bdrv_create(drv, FUZZ_MEM_PROTOCOL ":out-self", opts, &local_err);
    qemu_opts_del(opts);
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: convert -O %s -o %s of %" PRId64
                " bytes: create %s\n", fuzz_format, opt_str, len,
                ret < 0 ? error_get_pretty(local_err) : "ok");
    }
    error_free(local_err);
    if (ret < 0) {
        return;
    }
    dst = fuzz_open(fuzz_format, "out-self", BDRV_O_RDWR);
    if (!dst) {
        return;
    }
    fuzz_copy(src, dst, len, false);
    stage_check(dst, 0);
    blk_unref(dst);
}

static void stage_commit(void)
{
    BlockBackend *blk;
    QDict *opts = qdict_new();
    Error *local_err = NULL;
    int64_t len;
    int ret;

    qdict_put_str(opts, "driver", fuzz_format);
    qdict_put_str(opts, "file.driver", FUZZ_MEM_PROTOCOL);
    qdict_put_str(opts, "file.filename", "rw");
    qdict_put_str(opts, "backing.driver", "qcow2");
    qdict_put_str(opts, "backing.file.driver", FUZZ_MEM_PROTOCOL);
    qdict_put_str(opts, "backing.file.filename", "base");
    /* The backing image's size is the image's: open without it first */
    blk = fuzz_open(fuzz_format, "rw", 0);
    len = blk ? blk_getlength(blk) : -1;
    blk_unref(blk);
    if (len <= 0 || len > MAX_COMMIT_BYTES ||
        !bdrv_find_format(fuzz_format)->supports_backing) {
        qobject_unref(opts);
        return;
    }
    fuzz_create_qcow2("base", QEMU_ALIGN_UP(len, BDRV_SECTOR_SIZE));
    blk = blk_new_open(NULL, NULL, opts, BDRV_O_RDWR, &local_err);
    if (!blk) {
        error_free(local_err);
        return;
    }
    ret = bdrv_commit(blk_bs(blk));
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: commit: %d\n", ret);
    }
    blk_unref(blk);
}

/*
 * What qemu-io's zone commands do on a zoned image (qcow2's zoned images):
 * reports, open, close, finish and reset of one zone or of all of them,
 * appends, and writes at a write pointer, which the random writes below
 * rarely hit.  Offsets are mostly zone starts and write pointers, so that
 * the zones change state; some are not, as a guest's may not be.
 */
static void stage_zones(BlockBackend *blk, uint64_t *seed)
{
    static const char *const op_names[] = {
        "zone_report", "zone_open", "zone_close", "zone_finish",
        "zone_reset", "zone_append", "write at the write pointer",
        "zone_reset of all zones",
    };
    static const BlockZoneOp mgmt_ops[] = {
        BLK_ZO_OPEN, BLK_ZO_CLOSE, BLK_ZO_FINISH, BLK_ZO_RESET,
    };
    BlockDriverState *bs = blk_bs(blk);
    BlockZoneDescriptor zones[MAX_ZONE_REPORT];
    uint64_t zone_size = bs->bl.zone_size;
    uint32_t nr_zones = bs->bl.nr_zones;
    int64_t len = blk_getlength(blk);
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    int i;

    if (bs->bl.zoned == BLK_Z_NONE || !zone_size || !nr_zones || len <= 0) {
        return;
    }
    memset(buf, 0x5a, 64 * KiB);
    for (i = 0; i < MAX_ZONE_OPS; i++) {
        uint64_t r = fuzz_rand(seed);
        int op = r & 7;
        int64_t offset = ((r >> 16) % nr_zones) * zone_size;
        int64_t bytes = ((r >> 8) & 0x7f) * BDRV_SECTOR_SIZE + BDRV_SECTOR_SIZE;
        unsigned int n = (r >> 3) % MAX_ZONE_REPORT + 1;
        int ret = 0;

        if (r & (1ULL << 15)) {
            /* Off a zone start: the request must fail, not misbehave */
            offset += (r >> 48) % zone_size & ~(BDRV_SECTOR_SIZE - 1);
        }
        switch (op) {
        case 0:
            ret = blk_zone_report(blk, offset, &n, zones);
            break;
        case 1 ... 4:
            ret = blk_zone_mgmt(blk, mgmt_ops[op - 1], offset, zone_size);
            break;
        case 5: {
            QEMUIOVector qiov;

            qemu_iovec_init_buf(&qiov, buf, bytes);
            ret = blk_zone_append(blk, &offset, &qiov, 0);
            break;
        }
        case 6:
            n = 1;
            ret = blk_zone_report(blk, offset, &n, zones);
            if (ret == 0 && n == 1 && zones[0].wp < len) {
                offset = zones[0].wp;
                ret = blk_pwrite(blk, offset, MIN(bytes, len - offset), buf,
                                 0);
            }
            break;
        case 7:
            ret = blk_zone_mgmt(blk, BLK_ZO_RESET, 0, len);
            break;
        }
        if (fuzz_verbose()) {
            fprintf(stderr, "image-fuzz: zones: %s at %" PRId64 ": %d\n",
                    op_names[op], offset, ret);
        }
    }
}

/*
 * A compressed write of the cluster at @offset, as qemu-io's write -c and
 * qemu-img convert -n -c into an existing image do: whole clusters, the
 * last one of the disk maybe shorter
 */
static void fuzz_write_compressed(BlockBackend *blk, int64_t offset)
{
    BlockDriverState *bs = blk_bs(blk);
    int64_t len = blk_getlength(blk);
    BlockDriverInfo bdi = {};
    g_autofree uint8_t *buf = NULL;
    int64_t bytes;
    int ret;

    bdrv_graph_rdlock_main_loop();
    ret = bdrv_get_info(bs, &bdi);
    bdrv_graph_rdunlock_main_loop();
    if (ret < 0 || bdi.cluster_size <= 0 || bdi.cluster_size > 2 * MiB) {
        return;
    }
    offset = QEMU_ALIGN_DOWN(offset, bdi.cluster_size);
    bytes = MIN(bdi.cluster_size, len - offset);
    if (fuzz_verbose()) {
        fprintf(stderr, "image-fuzz: write: write -c -P 0xa5 %" PRId64 " %"
                PRId64 "\n", offset, bytes);
    }
    buf = g_malloc(bytes);
    memset(buf, 0xa5, bytes);
    blk_pwrite_compressed(blk, offset, bytes, buf);
}

static void stage_write(BlockBackend *blk, uint64_t seed, int stages)
{
    /* The qemu-io commands of the requests below */
    static const char *const op_names[] = {
        "write -P 0xa5", "write -P 0xa5", "write -z -u", "discard",
    };
    BlockDriver *drv = blk_bs(blk)->drv;
    bool can_compress = drv && block_driver_can_compress(drv);
    int64_t len = blk_getlength(blk);
    g_autofree uint8_t *buf = g_malloc(64 * KiB);
    int i;

    if (len <= 0) {
        return;
    }
    if (stages & STAGE_BITMAPS) {
        stage_bitmaps(blk);
    }
    if (stages & STAGE_SNAPSHOT) {
        stage_snapshot(blk, &seed);
        len = blk_getlength(blk);
        if (len <= 0) {
            return;
        }
    }
    stage_zones(blk, &seed);
    memset(buf, 0xa5, 64 * KiB);
    for (i = 0; i < MAX_WRITES; i++) {
        uint64_t r = fuzz_rand(&seed);
        int64_t offset = QEMU_ALIGN_DOWN((r >> 16) % len, BDRV_SECTOR_SIZE);
        int64_t bytes = MIN(((r & 0x7f) + 1) * BDRV_SECTOR_SIZE,
                            len - offset);
        int op = (r >> 8) & 3;

        if (op < 2 && can_compress && (r & (1 << 10))) {
            fuzz_write_compressed(blk, offset);
            continue;
        }
        if (fuzz_verbose()) {
            fprintf(stderr, "image-fuzz: write: %s %" PRId64 " %" PRId64 "\n",
                    op_names[op], offset, bytes);
        }
        switch (op) {
        case 0:
        case 1:
            blk_pwrite(blk, offset, bytes, buf, 0);
            break;
        case 2:
            blk_pwrite_zeroes(blk, offset, bytes, BDRV_REQ_MAY_UNMAP);
            break;
        case 3:
            blk_pdiscard(blk, offset, bytes);
            break;
        }
    }
    if (stages & STAGE_SNAPSHOT) {
        stage_resize(blk, &seed);
    }
    if (stages & STAGE_REBASE) {
        stage_rebase(blk);
    }
    blk_flush(blk);
    stage_check(blk, BDRV_FIX_LEAKS | BDRV_FIX_ERRORS);
    if (stages & STAGE_AMEND) {
        stage_amend(blk, &seed);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *env_stages = getenv("QEMU_FUZZ_IMAGE_STAGES");
    const char *dump = getenv("QEMU_FUZZ_IMAGE_DUMP");
    const char *result = getenv("QEMU_FUZZ_IMAGE_RESULT");
    int stages = STAGES_PLAIN, flags = 0;
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    size_t header = 0;
    int64_t image_size;
    uint8_t *image;
    BlockBackend *blk;
    bool opened;
    size_t i;

    if (size >= INPUT_HEADER_SIZE &&
        !memcmp(data, INPUT_MAGIC, INPUT_MAGIC_SIZE)) {
        const uint8_t *p = data + INPUT_MAGIC_SIZE;

        stages = (p[0] | (p[1] & ~INPUT_FLAGS) << 6) & STAGE_ALL;
        flags = p[1] & INPUT_FLAGS;
        header = INPUT_HEADER_SIZE;
    }
    if (env_stages && qemu_strtoi(env_stages, NULL, 0, &stages) == 0) {
        stages &= STAGE_ALL;
    }
    if (flags & INPUT_FILES) {
        header += decode_files(data + header, size - header, flags);
    }
    image = decode_input(data + header, size - header, flags, &image_size);
    if (fuzz_verbose()) {
        FuzzMemBuffer *buf;

        fprintf(stderr, "image-fuzz: input: %s, image of %" PRId64
                " bytes, stages 0x%x\n", header ? "container" : "plain image",
                image_size, stages);
        QLIST_FOREACH(buf, &fuzz_mem_buffers, next) {
            fprintf(stderr, "image-fuzz: file '%s' of %" PRId64 " bytes\n",
                    buf->name, buf->size);
        }
    }
    if (dump) {
        g_file_set_contents(dump, (char *)image, image_size, NULL);
    }
    for (i = 0; i < size; i++) {
        seed = (seed ^ data[i]) * 0x100000001b3ULL;
    }
    if (stages & (STAGE_WRITE | STAGE_COMMIT)) {
        fuzz_mem_add_copy("rw", image, image_size);
    }
    fuzz_mem_add("in", image, image_size, true)->borrowed = true;

    /* qemu-img info */
    stage_probe(image, image_size);
    fuzz_info_file = strcmp(fuzz_format, "vmdk") ? "in" : NULL;
    blk = fuzz_open(fuzz_format, "in", BDRV_O_NO_IO);
    fuzz_info_file = NULL;
    opened = blk;
    if (blk) {
        stage_info(blk);
        blk_unref(blk);
    }
    /* qemu-img check opens what a plain open may refuse */
    if (stages & STAGE_CHECK) {
        stage_check_repair(image, image_size);
    }
    if (!opened) {
        goto out;
    }
    if (stages & (STAGE_MAP | STAGE_CONVERT_RAW | STAGE_CONVERT_QCOW2 |
                  STAGE_MEASURE | STAGE_CONVERT_SELF)) {
        blk = fuzz_open(fuzz_format, "in", 0);
        if (blk) {
            if (stages & STAGE_MAP) {
                stage_map(blk);
            }
            if (stages & STAGE_CONVERT_RAW) {
                stage_convert(blk, NULL, false, false);
            }
            if (stages & STAGE_CONVERT_QCOW2) {
                /* One uncompressed convert in two offloads the copy */
                stage_convert(blk, "qcow2", flags & INPUT_COMPRESS,
                              seed & (1 << 20));
            }
            if (stages & STAGE_MEASURE) {
                stage_measure(blk);
            }
            if (stages & STAGE_CONVERT_SELF) {
                stage_convert_self(blk, seed);
            }
            blk_unref(blk);
        }
    }
    if (stages & (STAGE_WRITE | STAGE_COMMIT)) {
        fuzz_mem_files_writable();
    }
    if (stages & STAGE_WRITE) {
        /*
         * Resizing needs the permission, as in qemu-img resize; discards
         * reach the image, as with qemu-io -d unmap and a guest's
         * discard=unmap
         */
        blk = fuzz_open_opts(fuzz_format, "rw", BDRV_O_RDWR | BDRV_O_UNMAP |
                             (stages & STAGE_SNAPSHOT ? BDRV_O_RESIZE : 0),
                             fuzz_rw_opts_pick(seed));
        if (blk) {
            stage_write(blk, seed, stages);
            blk_unref(blk);
            if (stages & STAGE_REOPEN) {
                blk = fuzz_open(fuzz_format, "rw", 0);
                if (blk) {
                    stage_check(blk, 0);
                    blk_unref(blk);
                }
            }
        }
    }
    if (stages & STAGE_COMMIT) {
        stage_commit();
    }

out:
    if (result) {
        g_autofree char *base = g_strdup_printf("%s.base", result);
        g_autofree char *self = g_strdup_printf("%s.%s", result, fuzz_format);

        fuzz_mem_save("rw", result);
        fuzz_mem_save("base", base);
        fuzz_mem_save("out-self", self);
    }
    fuzz_mem_free_all();
    return 0;
}

static void usage(const char *argv0)
{
    printf("Usage: %s --fuzz-target=FORMAT [libFuzzer arguments]\n"
           "   or: qemu-fuzz-image-target-FORMAT [libFuzzer arguments]\n"
           "FORMAT is the image format of the target, for example qcow2.\n"
           "QEMU_FUZZ_IMAGE_STAGES=N forces the stages of every input,\n"
           "QEMU_FUZZ_IMAGE_DUMP=FILE writes the decoded image to FILE,\n"
           "QEMU_FUZZ_IMAGE_RESULT=FILE the written image to FILE (and\n"
           "the backing image of the commit stage to FILE.base, the\n"
           "image of the convert into the own format to FILE.FORMAT),\n"
           "QEMU_FUZZ_IMAGE_VERBOSE=1 prints what the stages did.\n",
           argv0);
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv, char ***envp)
{
    const char *name = strstr(**argv, "-target-");
    sigset_t alarm_set;
    int i;

    if (name) {
        /* The binary name picks the target, as on OSS-Fuzz */
        fuzz_format = name + strlen("-target-");
    }
    for (i = 1; i < *argc; i++) {
        if (strstart((*argv)[i], "--fuzz-target=", &name)) {
            fuzz_format = name;
        }
    }
    if (!fuzz_format) {
        usage(**argv);
    }

    error_init(**argv);
    qemu_init_exec_dir(**argv);
    qemu_init_main_loop(&error_fatal);
    /*
     * qemu_init_main_loop() blocks SIGALRM for its signalfd, but nothing
     * here waits for it, and libFuzzer's -timeout is a SIGALRM that only
     * counts in this thread: unblocked, an input that runs for too long
     * is reported as a timeout instead of running for ever.
     */
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    pthread_sigmask(SIG_UNBLOCK, &alarm_set, NULL);
    qcrypto_init(&error_fatal);
    module_call_init(MODULE_INIT_QOM);
    bdrv_init();
    object_new_with_props(TYPE_QCRYPTO_SECRET, object_get_objects_root(),
                          FUZZ_SECRET_ID, &error_fatal,
                          "data", FUZZ_SECRET, NULL);
    if (!bdrv_find_format(fuzz_format)) {
        fprintf(stderr, "Unknown image format '%s'\n", fuzz_format);
        exit(1);
    }
    fuzz_restrict_drivers();
    return 0;
}
