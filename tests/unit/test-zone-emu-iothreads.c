/*
 * Zone emulation with requests from several IOThreads
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * A null-co zoned node takes requests from more than one thread when a
 * device maps its queues to several IOThreads (iothread-vq-mapping).  Its
 * zone emulation stores a write's data without holding the zones' lock, so
 * a zone reset from another thread must wait for the data of the writes in
 * flight to the zone: otherwise the data lands after the reset dropped the
 * zone's, above a write pointer that never moves over it.
 */

#include "qemu/osdep.h"
#include "block/block.h"
#include "qapi/error.h"
#include "qemu/main-loop.h"
#include "qemu/memalign.h"
#include "qemu/units.h"
#include "qobject/qdict.h"
#include "system/block-backend.h"
#include "iothread.h"

#define ZONE_SIZE       (4 * MiB)
#define NR_ZONES        2
#define WRITE_SIZE      (1 * MiB)
#define NR_WRITES       3000
/* Two writers: one writes at the write pointer, the other appends */
#define NR_WRITERS      2

typedef struct ZoneRace ZoneRace;

typedef struct {
    ZoneRace *zr;
    bool append;
    unsigned int ok, failed;
} ZoneWriter;

struct ZoneRace {
    BlockBackend *blk;
    int running;                /* coroutines that have not finished */
    int writers_running;
    unsigned int resets;
    ZoneWriter writers[NR_WRITERS];
};

/*
 * Writes of WRITE_SIZE at the write pointer of the zones in turn, or zone
 * appends of as much
 */
static void coroutine_fn writer_co(void *opaque)
{
    ZoneWriter *w = opaque;
    ZoneRace *zr = w->zr;
    uint8_t *buf = blk_blockalign(zr->blk, WRITE_SIZE);
    int i;

    /* At least one of them gets through, however the threads are run */
    for (i = 0; i < NR_WRITES || !w->ok; i++) {
        int64_t start = (i % NR_ZONES) * ZONE_SIZE;
        BlockZoneDescriptor zone;
        unsigned int nr = 1;
        int ret;

        ret = blk_co_zone_report(zr->blk, start, &nr, &zone);
        g_assert_cmpint(ret, ==, 0);
        g_assert_cmpuint(nr, ==, 1);
        if (zone.wp + WRITE_SIZE > start + ZONE_SIZE) {
            /* Full: the resetter empties it, if it gets the time to */
            qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, 20 * SCALE_US);
            continue;
        }
        memset(buf, 0x11 + i % 200, WRITE_SIZE);
        if (w->append) {
            QEMUIOVector qiov;
            int64_t offset = start;

            qemu_iovec_init_buf(&qiov, buf, WRITE_SIZE);
            ret = blk_co_zone_append(zr->blk, &offset, &qiov, 0);
            /* Full after the other writer's write: -EIO, or beyond it */
            if (ret) {
                g_assert_true(ret == -EIO || ret == -EINVAL);
            }
        } else {
            /*
             * A reset, or the other writer, between the report and the
             * write makes it miss the write pointer
             */
            ret = blk_co_pwrite(zr->blk, zone.wp, WRITE_SIZE, buf, 0);
            if (ret) {
                g_assert_cmpint(ret, ==, -EIO);
            }
        }
        if (ret == 0) {
            w->ok++;
        } else {
            w->failed++;
        }
    }
    qemu_vfree(buf);
    qatomic_dec(&zr->writers_running);
    qatomic_dec(&zr->running);
    aio_wait_kick();
}

/* Resets of the zones in turn until the writers are done */
static void coroutine_fn resetter_co(void *opaque)
{
    ZoneRace *zr = opaque;
    unsigned int i;

    for (i = 0; qatomic_read(&zr->writers_running); i++) {
        int ret = blk_co_zone_mgmt(zr->blk, BLK_ZO_RESET,
                                   (i % NR_ZONES) * ZONE_SIZE, ZONE_SIZE);
        g_assert_cmpint(ret, ==, 0);
        zr->resets++;
        /* Let writes in */
        qemu_co_sleep_ns(QEMU_CLOCK_REALTIME, 20 * SCALE_US);
    }
    qatomic_dec(&zr->running);
    aio_wait_kick();
}

/*
 * Every zone holds data below its write pointer and only zeroes above it,
 * after writes and appends from two IOThreads raced with each other and
 * with resets from a third.
 */
static void test_reset_vs_write(void)
{
    IOThread *writer_threads[NR_WRITERS];
    IOThread *resetter_thread = iothread_new();
    QDict *options = qdict_new();
    ZoneRace zr = {
        .running = NR_WRITERS + 1,
        .writers_running = NR_WRITERS,
    };
    uint8_t *buf;
    int z, ret;

    qdict_put_str(options, "driver", "null-co");
    qdict_put_int(options, "size", NR_ZONES * ZONE_SIZE);
    qdict_put_str(options, "zoned", "host-managed");
    qdict_put_int(options, "zone-size", ZONE_SIZE);
    qdict_put_bool(options, "memory-backed", true);
    qdict_put_bool(options, "read-zeroes", true);
    zr.blk = blk_new_open(NULL, NULL, options, BDRV_O_RDWR, &error_abort);

    for (z = 0; z < NR_WRITERS; z++) {
        zr.writers[z] = (ZoneWriter) { .zr = &zr, .append = z == 1 };
        writer_threads[z] = iothread_new();
        aio_co_enter(iothread_get_aio_context(writer_threads[z]),
                     qemu_coroutine_create(writer_co, &zr.writers[z]));
    }
    aio_co_enter(iothread_get_aio_context(resetter_thread),
                 qemu_coroutine_create(resetter_co, &zr));
    AIO_WAIT_WHILE_UNLOCKED(NULL, qatomic_read(&zr.running) > 0);

    g_test_message("%u writes (%u failed), %u appends (%u failed), "
                   "%u resets", zr.writers[0].ok, zr.writers[0].failed,
                   zr.writers[1].ok, zr.writers[1].failed, zr.resets);
    g_assert_cmpuint(zr.writers[0].ok, >, 0);
    g_assert_cmpuint(zr.writers[1].ok, >, 0);
    g_assert_cmpuint(zr.resets, >, 0);

    buf = blk_blockalign(zr.blk, ZONE_SIZE);
    for (z = 0; z < NR_ZONES; z++) {
        BlockZoneDescriptor zone;
        unsigned int nr = 1;
        int64_t wp, i;

        ret = blk_zone_report(zr.blk, z * ZONE_SIZE, &nr, &zone);
        g_assert_cmpint(ret, ==, 0);
        wp = zone.wp - zone.start;
        ret = blk_pread(zr.blk, zone.start, ZONE_SIZE, buf, 0);
        g_assert_cmpint(ret, ==, 0);
        for (i = 0; i < ZONE_SIZE; i++) {
            if ((i < wp) != (buf[i] != 0)) {
                g_test_message("zone %d (write pointer +%" PRId64 "): byte "
                               "+%" PRId64 " is 0x%x", z, wp, i, buf[i]);
                g_assert_not_reached();
            }
        }
    }
    qemu_vfree(buf);

    blk_unref(zr.blk);
    for (z = 0; z < NR_WRITERS; z++) {
        iothread_join(writer_threads[z]);
    }
    iothread_join(resetter_thread);
}

int main(int argc, char **argv)
{
    bdrv_init();
    qemu_init_main_loop(&error_abort);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/zone-emu/iothreads/reset-vs-write", test_reset_vs_write);
    return g_test_run();
}
