/*
 * snapfuzz: hosts without the AFL++ fork server
 *
 * The fork server (snapfuzz-afl.c) forks, attaches System V shared memory
 * and asks Linux to end its helper with QEMU (prctl): it is built for
 * Linux hosts only.  Elsewhere afl=on fails at realize.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "system/snapfuzz-engine.h"

static bool snapfuzz_afl_init(SnapfuzzPort *port, Error **errp)
{
    error_setg(errp, "snapfuzz: afl=on needs the AFL++ fork server, which "
               "this QEMU was built without (Linux hosts only)");
    return false;
}

static void snapfuzz_afl_free(SnapfuzzPort *port)
{
}

const SnapfuzzEngine snapfuzz_engine_afl = {
    .name = "AFL++",
    .init = snapfuzz_afl_init,
    .free = snapfuzz_afl_free,
};
