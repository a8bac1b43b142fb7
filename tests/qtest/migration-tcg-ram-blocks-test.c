/*
 * Migration with TCG of a machine whose main RAM is not the first RAM block
 *
 * Migration's dirty bitmap sync re-arms TCG's dirty tracking of the block
 * it synced; it must do so at the block's own ram_addr_t, not at the
 * block-relative offset.  Here a memory backend created before the
 * machine's RAM takes ram_addr 0, so that re-arming the wrong range hits
 * a range that spans two blocks.
 *
 * Copyright (c) 2026 QEMU Storage Series
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "libqtest.h"
#include "qobject/qdict.h"

static char *migration_status(QTestState *qts)
{
    QDict *rsp = qtest_qmp_assert_success_ref(qts,
                                              "{ 'execute': 'query-migrate' }");
    char *status = g_strdup(qdict_get_try_str(rsp, "status"));

    qobject_unref(rsp);
    return status;
}

static void test_main_ram_not_first(void)
{
    g_autofree char *path = g_strdup_printf("%s/migration-tcg-ram-blocks-%d",
                                            g_get_tmp_dir(), getpid());
    g_autofree char *uri = g_strdup_printf("file:%s", path);
    g_autofree char *status = NULL;
    QTestState *qts;

    if (!qtest_has_accel("tcg")) {
        g_test_skip("TCG is not available");
        return;
    }

    /* The guest (the BIOS) runs under TCG while RAM is migrated. */
    qts = qtest_init("-accel tcg "
                     "-object memory-backend-ram,id=first,size=4M "
                     "-object memory-backend-ram,id=mem,size=64M "
                     "-machine memory-backend=mem -m 64M");
    qtest_qmp_assert_success(qts, "{ 'execute': 'migrate', "
                             "'arguments': { 'uri': %s } }", uri);
    for (;;) {
        g_free(status);
        status = migration_status(qts);
        if (strcmp(status, "setup") && strcmp(status, "active") &&
            strcmp(status, "device")) {
            break;
        }
        g_usleep(10 * 1000);
    }
    g_assert_cmpstr(status, ==, "completed");

    qtest_quit(qts);
    unlink(path);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/migration/tcg/main-ram-not-first",
                   test_main_ram_not_first);
    return g_test_run();
}
