/*
 * Fuzzing engines of the snapfuzz device
 *
 * The snapfuzz device (hw/misc/snapfuzz, docs/specs/snapfuzz.rst) restores
 * the VM to a snapshot for every input a harness in the guest runs.  Where
 * the inputs come from, which memory the guest's coverage map is and where
 * each input's result goes is an engine's business: AFL++'s fork server
 * (backends/snapfuzz-afl.c, afl=on) or QEMU's libFuzzer target
 * (tests/qtest/fuzz/snapfuzz_fuzz.c, libfuzzer=on).  The device and its
 * engines know each other only through this interface: the device hands an
 * engine a SnapfuzzPort, and the engine calls the device only through the
 * snapfuzz_port_*() functions below.
 *
 * Everything here runs in the main loop with the BQL held.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SYSTEM_SNAPFUZZ_ENGINE_H
#define SYSTEM_SNAPFUZZ_ENGINE_H

/* How an input ended: the values of the device's LAST_RESULT register */
#include "hw/misc/snapfuzz.h"

/* A device as an engine sees it. */
typedef struct SnapfuzzPort {
    /* Set by the device before the engine's init() */
    uint8_t *input;         /* the input window ... */
    size_t input_size;      /* ... and its size */
    uint32_t timeout_ms;    /* the device's own timeout, 0 for none */

    /* Set by the engine's init(): the coverage map the guest writes */
    uint8_t *cov;
    size_t cov_len;

    /*
     * Kept by the device: the guest waits for an input that next_input()
     * did not have (the vCPUs paused); snapfuzz_port_input_ready() ends
     * the wait.
     */
    bool waiting;

    void *opaque;           /* the engine's */
} SnapfuzzPort;

typedef struct SnapfuzzEngine {
    const char *name;
    /*
     * Set up for @port: set port->cov and port->cov_len.  free() is called
     * after a failed init() too.
     */
    bool (*init)(SnapfuzzPort *port, Error **errp);
    /*
     * Copy the next input into port->input, at most port->input_size
     * bytes, and set *@len; false when there is none yet (the device then
     * waits for snapfuzz_port_input_ready()).
     */
    bool (*next_input)(SnapfuzzPort *port, size_t *len);
    /* The input ended: a SNAPFUZZ_RESULT_* */
    void (*report)(SnapfuzzPort *port, uint32_t result);
    void (*free)(SnapfuzzPort *port);
} SnapfuzzEngine;

/*
 * AFL++'s fork server (Linux hosts; elsewhere its init() fails with a
 * message).
 */
extern const SnapfuzzEngine snapfuzz_engine_afl;

/*
 * The engine of libfuzzer=on.  A libFuzzer target sets it before the
 * machine is created; without one, libfuzzer=on fails at realize.
 */
void snapfuzz_set_libfuzzer_engine(const SnapfuzzEngine *engine);

/* An input is there for a device that waits (port->waiting). */
void snapfuzz_port_input_ready(SnapfuzzPort *port);

/*
 * The engine timed out the input that runs: the device ends it as its own
 * timeout would (a no-op when no input runs).
 */
void snapfuzz_port_timed_out(SnapfuzzPort *port);

#endif
