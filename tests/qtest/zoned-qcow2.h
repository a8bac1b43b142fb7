/*
 * Zoned qcow2 images for qtests: an empty image in a temporary file, and a
 * blkdebug node over it that fails flushes after chosen data writes
 *
 * Copyright (c) 2026 QEMU Storage Series contributors
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_QTEST_ZONED_QCOW2_H
#define TESTS_QTEST_ZONED_QCOW2_H

#include "libqtest.h"

/*
 * Create an empty zoned qcow2 image of @size bytes in a temporary file:
 * host-managed zones of @zone_size bytes, the first @nr_conv of them
 * conventional.  Returns its path (the caller unlinks the file and frees
 * the path), or NULL if there is no qemu-img to create it with.
 */
static inline char *zoned_qcow2_create(uint64_t size, uint64_t zone_size,
                                       int nr_conv)
{
    g_autofree char *cmd = NULL;
    char *path = NULL;
    int fd, status;

    if (!have_qemu_img()) {
        return NULL;
    }
    fd = g_file_open_tmp("qtest-zoned-XXXXXX.qcow2", &path, NULL);
    g_assert(fd >= 0);
    close(fd);
    cmd = g_strdup_printf("%s create -q -f qcow2 -o zone.mode=host-managed,"
                          "zone.size=%" PRIu64 ",zone.conventional_zones=%d"
                          " %s %" PRIu64, g_getenv("QTEST_QEMU_IMG"),
                          zone_size, nr_conv, path, size);
    g_assert_true(g_spawn_command_line_sync(cmd, NULL, NULL, &status, NULL));
    g_assert_cmpint(status, ==, 0);
    return path;
}

/*
 * The -blockdev option of a blkdebug node named @node over the node
 * @image that fails with EIO, once each, the first flush after the
 * @after[i]-th data write of the image's format driver (its write_aio
 * events, counted from 1), for each of the @n increasing @after[i].
 */
static inline char *zoned_qcow2_flush_errors(const char *node,
                                             const char *image,
                                             const int *after, int n)
{
    GString *opts = g_string_new(NULL);
    int i;

    g_string_append_printf(opts, " -blockdev driver=blkdebug,node-name=%s,"
                           "image=%s", node, image);
    for (i = 0; i < after[n - 1]; i++) {
        g_string_append_printf(opts, ",set-state.%d.event=write_aio,"
                               "set-state.%d.state=%d,"
                               "set-state.%d.new_state=%d",
                               i, i, i + 1, i, i + 2);
    }
    for (i = 0; i < n; i++) {
        g_string_append_printf(opts, ",inject-error.%d.event=flush_to_disk,"
                               "inject-error.%d.state=%d,"
                               "inject-error.%d.iotype=flush,"
                               "inject-error.%d.errno=%d,"
                               "inject-error.%d.once=on",
                               i, i, after[i] + 1, i, i, EIO, i);
    }
    return g_string_free(opts, false);
}

#endif
