/*
 * snapfuzz: QEMU's libFuzzer target as the engine (libfuzzer=on)
 *
 * The fuzz target lives in the same process and runs the main loop.  When
 * the guest asks for an input and the target has none yet, the device
 * leaves the command BUSY and the vCPUs paused (snapfuzz.c) until the
 * target starts one: libFuzzer's own work between inputs costs no guest
 * time and no spinning vCPU.  The coverage map is memory the target
 * provides (libFuzzer's extra counters), shown as BAR 2.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "hw/misc/snapfuzz-fuzz.h"
#include "snapfuzz-internal.h"

static struct {
    uint8_t *cov;
    size_t cov_len;
    SnapfuzzState *dev;
    const uint8_t *data;    /* the input to deliver, valid until delivered */
    size_t size;
    bool have_input;
    bool ended;
    uint32_t result;
} inproc;

void snapfuzz_fuzz_set_coverage(uint8_t *map, size_t len)
{
    inproc.cov = map;
    inproc.cov_len = len;
}

static bool snapfuzz_inproc_init(SnapfuzzState *s, Error **errp)
{
    if (!inproc.cov) {
        error_setg(errp, "snapfuzz: libfuzzer=on works only in QEMU's "
                   "libFuzzer target (qemu-fuzz-x86_64 "
                   "--fuzz-target=snapfuzz)");
        return false;
    }
    if (inproc.dev) {
        error_setg(errp, "snapfuzz: libfuzzer=on is already in use by "
                   "another snapfuzz device");
        return false;
    }
    inproc.dev = s;
    s->cov = inproc.cov;
    s->cov_len = inproc.cov_len;
    return true;
}

static void snapfuzz_inproc_free(SnapfuzzState *s)
{
    if (inproc.dev == s) {
        inproc.dev = NULL;
        s->cov = NULL;
    }
}

/* Take the pending input into the window, if the target started one. */
static bool snapfuzz_inproc_next_input(SnapfuzzState *s)
{
    size_t len;

    if (!inproc.have_input) {
        return false;
    }
    len = MIN(inproc.size, s->input_size);
    memcpy(s->input, inproc.data, len);
    s->input_len = len;
    inproc.have_input = false;
    inproc.data = NULL;
    return true;
}

static void snapfuzz_inproc_report(SnapfuzzState *s, uint32_t result)
{
    inproc.ended = true;
    inproc.result = result;
}

const SnapfuzzEngine snapfuzz_engine_inproc = {
    .name = "libFuzzer",
    .init = snapfuzz_inproc_init,
    .next_input = snapfuzz_inproc_next_input,
    .report = snapfuzz_inproc_report,
    .free = snapfuzz_inproc_free,
};

bool snapfuzz_fuzz_waiting(void)
{
    return inproc.dev && inproc.dev->wait_input;
}

void snapfuzz_fuzz_start(const uint8_t *data, size_t size)
{
    assert(snapfuzz_fuzz_waiting());
    inproc.data = data;
    inproc.size = size;
    inproc.have_input = true;
    inproc.ended = false;
    snapfuzz_input_arrived(inproc.dev);
}

bool snapfuzz_fuzz_ended(uint32_t *result)
{
    *result = inproc.result;
    return inproc.ended;
}

uint32_t snapfuzz_fuzz_timeout_ms(void)
{
    return inproc.dev ? inproc.dev->timeout_ms : 0;
}
