/*
 * snapfuzz: snapshot fuzzing device
 *
 * A PCI device through which a harness in the guest takes a snapshot of
 * the whole VM, gets inputs, reports results and has the VM restored, in
 * the same QEMU process.  BAR 0 holds the registers, BAR 1 the input
 * window and BAR 2 the coverage map; both windows are host memory that
 * restores leave alone.  docs/specs/snapfuzz.rst is the interface.
 *
 * Commands that snapshot or restore are not run in the MMIO callback: the
 * callback marks the device busy and schedules a bottom half, which pauses
 * the vCPUs, does the work and resumes them.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/log.h"
#include "qemu/main-loop.h"
#include "qemu/module.h"
#include "qemu/units.h"
#include "exec/icount.h"
#include "hw/core/cpu.h"
#include "hw/pci/pci.h"
#include "hw/qdev-properties.h"
#include "migration/blocker.h"
#include "system/cpus.h"
#include "system/cpu-timers.h"
#include "system/qtest.h"
#include "system/runstate.h"
#include "system/tcg.h"
#include "snapfuzz-internal.h"
#include "trace.h"

/* Commands of the device's own, never written by the guest */
#define SNAPFUZZ_CMD_TIMEOUT    0x100   /* the timer fired */
#define SNAPFUZZ_CMD_GUEST_END  0x101   /* snapfuzz_guest_end() */

/* libfuzzer=on's engine: see snapfuzz_set_libfuzzer_engine() */
static const SnapfuzzEngine *snapfuzz_libfuzzer_engine;

void snapfuzz_set_libfuzzer_engine(const SnapfuzzEngine *engine)
{
    snapfuzz_libfuzzer_engine = engine;
}

static void snapfuzz_log_msg(SnapfuzzState *s, const char *what, uint32_t len)
{
    g_autofree char *text = g_strndup((const char *)s->msg, len);

    for (char *c = text; *c; c++) {
        if (!g_ascii_isprint(*c)) {
            *c = '.';
        }
    }
    error_report("snapfuzz: %s: %s", what, text);
}

/* The input for a run without an engine: pseudo-random, from its number. */
static void snapfuzz_random_input(SnapfuzzState *s)
{
    uint64_t x = 0x9e3779b97f4a7c15ULL * (s->input_seq + 1);
    uint32_t len = MIN(s->random_len, s->input_size);

    for (uint32_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s->input[i] = x >> 24;
    }
    s->input_len = len;
}

static bool snapfuzz_inputs_left(SnapfuzzState *s)
{
    return !s->max_inputs || s->input_seq < s->max_inputs;
}

/* Put the next input in the window and start it (vCPUs paused). */
static void snapfuzz_deliver(SnapfuzzState *s)
{
    if (!snapfuzz_inputs_left(s)) {
        s->state = SNAPFUZZ_STATE_READY;
        s->status = SNAPFUZZ_ST_EXHAUSTED;
        return;
    }
    if (s->engine) {
        size_t len;

        if (!s->engine->next_input(&s->port, &len)) {
            /* Stay BUSY until the engine has an input. */
            trace_snapfuzz_engine_wait(s->input_seq);
            s->port.waiting = true;
            return;
        }
        s->input_len = len;
    } else {
        snapfuzz_random_input(s);
    }
    snapfuzz_input_written(s);
    s->input_seq++;
    trace_snapfuzz_input_start(s->input_seq, s->input_len);
    s->state = SNAPFUZZ_STATE_INPUT;
    s->timed_out = false;
    if (s->timeout_ms) {
        timer_mod(s->timer, qemu_clock_get_ms(s->timer_clock) +
                  s->timeout_ms);
    }
    s->status = SNAPFUZZ_ST_OK;
}

/*
 * Restore the snapshot and finish the command it was taken in: the guest
 * resumes there, as if that command had just completed.
 */
static void snapfuzz_restore(SnapfuzzState *s)
{
    Error *err = NULL;

    if (!snapfuzz_snapshot_restore(s, &err)) {
        error_report_err(err);
        s->state = SNAPFUZZ_STATE_READY;
        s->status = SNAPFUZZ_ST_ERR_HOST;
        return;
    }
    s->restores++;
    if (s->verify && snapfuzz_snapshot_verify(s)) {
        s->verify_errors++;
    }
    /* A pushed snapshot was taken while an input ran, like NEXT_INPUT's. */
    if (s->snap_cmd == SNAPFUZZ_CMD_NEXT_INPUT || s->depth) {
        snapfuzz_deliver(s);
    } else {
        s->state = SNAPFUZZ_STATE_READY;
        s->status = SNAPFUZZ_ST_OK;
    }
}

static void snapfuzz_take(SnapfuzzState *s, uint32_t cmd)
{
    Error *err = NULL;

    if (!snapfuzz_snapshot_take(s, &err)) {
        error_report_err(err);
        s->state = SNAPFUZZ_STATE_NONE;
        s->status = SNAPFUZZ_ST_ERR_HOST;
        return;
    }
    s->snap_cmd = cmd;
    s->state = SNAPFUZZ_STATE_READY;
    s->status = SNAPFUZZ_ST_OK;
}

/* The current input is over: note how, then on to the next one. */
static void snapfuzz_finish_input(SnapfuzzState *s, uint32_t result,
                                  uint32_t arg)
{
    timer_del(s->timer);
    trace_snapfuzz_input_end(s->input_seq, result, arg);
    s->last_result = result;
    s->last_arg = arg;
    if (result == SNAPFUZZ_RESULT_CRASH) {
        s->crashes++;
    } else if (result == SNAPFUZZ_RESULT_TIMEOUT) {
        s->timeouts++;
    }
    if (s->engine) {
        s->engine->report(&s->port, result);
    }
    snapfuzz_restore(s);
}

static void snapfuzz_run(SnapfuzzState *s, uint32_t cmd)
{
    switch (cmd) {
    case SNAPFUZZ_CMD_SNAPSHOT:
        snapfuzz_take(s, cmd);
        break;
    case SNAPFUZZ_CMD_RESTORE:
        snapfuzz_restore(s);
        break;
    case SNAPFUZZ_CMD_NEXT_INPUT:
        snapfuzz_take(s, cmd);
        if (s->status == SNAPFUZZ_ST_OK) {
            snapfuzz_deliver(s);
        }
        break;
    case SNAPFUZZ_CMD_DONE:
        snapfuzz_finish_input(s, s->timed_out ? SNAPFUZZ_RESULT_TIMEOUT
                                              : SNAPFUZZ_RESULT_DONE,
                              s->cmd_arg);
        break;
    case SNAPFUZZ_CMD_CRASH:
        snapfuzz_finish_input(s, SNAPFUZZ_RESULT_CRASH, 0);
        break;
    case SNAPFUZZ_CMD_PUSH:
    case SNAPFUZZ_CMD_POP: {
        Error *err = NULL;

        /* The input goes on either way. */
        if (cmd == SNAPFUZZ_CMD_PUSH ? snapfuzz_snapshot_push(s, &err)
                                     : snapfuzz_snapshot_pop(s, &err)) {
            s->status = SNAPFUZZ_ST_OK;
        } else {
            error_report_err(err);
            s->status = SNAPFUZZ_ST_ERR_HOST;
        }
        break;
    }
    case SNAPFUZZ_CMD_GUEST_END:
        warn_report("snapfuzz: input %u ended in a guest %s", s->input_seq,
                    s->guest_end == SNAPFUZZ_CRASH_GUEST_PANIC ? "panic" :
                    s->guest_end == SNAPFUZZ_CRASH_GUEST_SHUTDOWN ?
                    "shutdown" : "reset");
        snapfuzz_finish_input(s, SNAPFUZZ_RESULT_CRASH, s->guest_end);
        break;
    default:
        /* Only the timeout comes here. */
        snapfuzz_finish_input(s, SNAPFUZZ_RESULT_TIMEOUT, 0);
        break;
    }
}

/*
 * The guest asked for a reset (a triple fault is one), a shutdown, or
 * reported a panic.  During an input that is the input's crash: it ends as
 * if with CRASH, the snapshot is restored and the next input starts, so
 * that a fuzzing campaign goes on.  Outside of an input the request takes
 * its course (see snapfuzz_reset_hold()).
 */
static bool snapfuzz_guest_end(ShutdownCause cause, void *opaque)
{
    SnapfuzzState *s = opaque;

    if (s->state != SNAPFUZZ_STATE_INPUT || s->port.waiting) {
        return false;
    }
    if (s->status == SNAPFUZZ_ST_BUSY &&
        s->pending_cmd != SNAPFUZZ_CMD_PUSH &&
        s->pending_cmd != SNAPFUZZ_CMD_POP) {
        /* The input is ending already (DONE, CRASH, its timeout). */
        return true;
    }
    s->guest_end = cause == SHUTDOWN_CAUSE_GUEST_PANIC ?
                   SNAPFUZZ_CRASH_GUEST_PANIC :
                   cause == SHUTDOWN_CAUSE_GUEST_SHUTDOWN ?
                   SNAPFUZZ_CRASH_GUEST_SHUTDOWN : SNAPFUZZ_CRASH_GUEST_RESET;
    timer_del(s->timer);
    s->status = SNAPFUZZ_ST_BUSY;
    s->pending_cmd = SNAPFUZZ_CMD_GUEST_END;
    qemu_bh_schedule(s->bh);
    /* A panic comes from a vCPU: stop it until the bottom half runs. */
    cpu_stop_current();
    return true;
}

static void snapfuzz_bh(void *opaque)
{
    SnapfuzzState *s = opaque;
    bool running = runstate_is_running();
    uint32_t cmd = s->pending_cmd;

    if (s->status != SNAPFUZZ_ST_BUSY) {
        /*
         * A reset dropped the command.  A vCPU that reported a panic
         * stopped (snapfuzz_guest_end()): let it go on.
         */
        resume_all_vcpus();
        return;
    }
    if (running) {
        pause_all_vcpus();
        /*
         * On a vCPU thread (snapfuzz_vcpu_work()) this dropped the BQL for
         * a moment: the main loop may have reset the machine, stopped the
         * VM or ended the input meanwhile.
         */
        if (s->status != SNAPFUZZ_ST_BUSY || s->pending_cmd != cmd) {
            resume_all_vcpus();
            return;
        }
        running = runstate_is_running();
    }
    if (running) {
        /* Guest time stands still meanwhile; the saved clocks absolute. */
        cpu_disable_ticks();
    }
    snapfuzz_run(s, cmd);
    if (s->port.waiting) {
        /* Paused until the input arrives: snapfuzz_port_input_ready(). */
        s->held = running;
        return;
    }
    if (running) {
        cpu_enable_ticks();
        resume_all_vcpus();
    }
}

/*
 * A command that a vCPU wrote, on that vCPU's thread: see
 * snapfuzz_command().
 */
static void snapfuzz_vcpu_work(CPUState *cpu, run_on_cpu_data data)
{
    SnapfuzzState *s = data.host_ptr;

    if (s->status != SNAPFUZZ_ST_BUSY) {
        /* A reset dropped the command; this vCPU never stopped. */
        return;
    }
    snapfuzz_bh(s);
}

/*
 * The engine has an input for the guest that waits in NEXT_INPUT (or in
 * the restore that ended the previous input).
 */
void snapfuzz_port_input_ready(SnapfuzzPort *port)
{
    SnapfuzzState *s = container_of(port, SnapfuzzState, port);

    if (!s->port.waiting) {
        return;
    }
    s->port.waiting = false;
    snapfuzz_deliver(s);
    if (s->held) {
        s->held = false;
        cpu_enable_ticks();
        resume_all_vcpus();
    }
}


/* End the running input as a timeout (unless it is ending anyway). */
static void snapfuzz_end_input_timeout(SnapfuzzState *s)
{
    if (s->state != SNAPFUZZ_STATE_INPUT) {
        return;
    }
    if (s->status == SNAPFUZZ_ST_BUSY) {
        if (s->pending_cmd == SNAPFUZZ_CMD_PUSH ||
            s->pending_cmd == SNAPFUZZ_CMD_POP) {
            /* The input goes on after these: try again once done. */
            timer_mod(s->timer, qemu_clock_get_ms(s->timer_clock) + 1);
        }
        return;
    }
    timer_del(s->timer);
    s->timed_out = true;
    s->status = SNAPFUZZ_ST_BUSY;
    s->pending_cmd = SNAPFUZZ_CMD_TIMEOUT;
    qemu_bh_schedule(s->bh);
}

static void snapfuzz_timer(void *opaque)
{
    snapfuzz_end_input_timeout(opaque);
}

void snapfuzz_port_timed_out(SnapfuzzPort *port)
{
    snapfuzz_end_input_timeout(container_of(port, SnapfuzzState, port));
}

/* Check a command against the state; run it or schedule it. */
static void snapfuzz_command(SnapfuzzState *s, uint32_t cmd)
{
    uint32_t st = SNAPFUZZ_ST_OK;

    trace_snapfuzz_command(cmd, s->arg, s->state);
    switch (cmd) {
    case SNAPFUZZ_CMD_SNAPSHOT:
        if (s->state == SNAPFUZZ_STATE_INPUT) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        }
        break;
    case SNAPFUZZ_CMD_RESTORE:
        if (s->state == SNAPFUZZ_STATE_NONE) {
            st = SNAPFUZZ_ST_ERR_NO_SNAPSHOT;
        } else if (s->state == SNAPFUZZ_STATE_INPUT) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        }
        break;
    case SNAPFUZZ_CMD_NEXT_INPUT:
        if (s->state == SNAPFUZZ_STATE_INPUT) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        } else if (!snapfuzz_inputs_left(s)) {
            st = SNAPFUZZ_ST_EXHAUSTED;
        }
        break;
    case SNAPFUZZ_CMD_DONE:
        if (s->state != SNAPFUZZ_STATE_INPUT) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        }
        break;
    case SNAPFUZZ_CMD_PUSH:
        if (s->state != SNAPFUZZ_STATE_INPUT ||
            s->depth >= SNAPFUZZ_MAX_DEPTH) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        }
        break;
    case SNAPFUZZ_CMD_POP:
        if (s->state != SNAPFUZZ_STATE_INPUT || !s->depth) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        }
        break;
    case SNAPFUZZ_CMD_CRASH:
        if (s->arg > SNAPFUZZ_MSG_SIZE) {
            st = SNAPFUZZ_ST_ERR_VALUE;
        } else if (s->state != SNAPFUZZ_STATE_INPUT) {
            st = SNAPFUZZ_ST_ERR_ORDER;
        } else {
            snapfuzz_log_msg(s, "crash", s->arg);
        }
        break;
    case SNAPFUZZ_CMD_LOG:
        if (s->arg > SNAPFUZZ_MSG_SIZE) {
            st = SNAPFUZZ_ST_ERR_VALUE;
        } else {
            snapfuzz_log_msg(s, "log", s->arg);
        }
        s->status = st;
        return;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "snapfuzz: unknown command 0x%x\n",
                      cmd);
        st = SNAPFUZZ_ST_ERR_CMD;
        break;
    }
    if (st != SNAPFUZZ_ST_OK) {
        s->status = st;
        return;
    }
    if (cmd == SNAPFUZZ_CMD_DONE || cmd == SNAPFUZZ_CMD_CRASH) {
        timer_del(s->timer);
        s->turnaround_t0 = get_clock();
    }
    s->status = SNAPFUZZ_ST_BUSY;
    s->pending_cmd = cmd;
    /* Other vCPUs run until they are paused: ARG is the command's now. */
    s->cmd_arg = s->arg;
    if (!current_cpu) {
        /* qtest */
        qemu_bh_schedule(s->bh);
        return;
    }
    if (CPU_NEXT(first_cpu)) {
        /*
         * pause_all_vcpus() on a vCPU thread waits for the other vCPUs
         * with the BQL dropped.  If the main loop pauses them meanwhile
         * (QMP stop, a reset), whichever of the two goes on first resumes
         * the vCPUs that the other still waits for, and that one waits
         * for ever.  With several vCPUs this one stops, and the main loop
         * runs the command as it runs the timeout.
         */
        cpu_stop_current();
        qemu_bh_schedule(s->bh);
        return;
    }
    /*
     * Run the command on the vCPU that wrote it, as soon as it has left
     * the translation block (or KVM_RUN) of the write, rather than in a
     * bottom half: neither the main loop nor, afterwards, this vCPU's
     * thread has to be woken up, which under TCG took about half of the
     * time from DONE to the next input's start.  Other vCPUs are paused
     * as the bottom half pauses them; this one runs no guest code until
     * the command is done, so the guest cannot poll STATUS meanwhile
     * (however many times it managed to would be noise in its coverage
     * map: hit counts of its polling loop that differ between runs).
     */
    async_run_on_cpu(current_cpu, snapfuzz_vcpu_work, RUN_ON_CPU_HOST_PTR(s));
}

static uint32_t snapfuzz_sat32(uint64_t v)
{
    return MIN(v, UINT32_MAX);
}

static uint64_t snapfuzz_read(void *opaque, hwaddr addr, unsigned size)
{
    SnapfuzzState *s = opaque;

    if (addr >= SNAPFUZZ_REG_MSG && addr < SNAPFUZZ_REG_MSG +
        SNAPFUZZ_MSG_SIZE) {
        uint64_t v = 0;

        addr -= SNAPFUZZ_REG_MSG;
        memcpy(&v, &s->msg[addr], MIN(size, SNAPFUZZ_MSG_SIZE - addr));
        return le64_to_cpu(v);
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "snapfuzz: %u-byte read at 0x%"
                      HWADDR_PRIx "\n", size, addr);
        return 0;
    }

    switch (addr) {
    case SNAPFUZZ_REG_MAGIC:
        return SNAPFUZZ_MAGIC;
    case SNAPFUZZ_REG_VERSION:
        return SNAPFUZZ_VERSION;
    case SNAPFUZZ_REG_CAPS:
        return SNAPFUZZ_CAP_TIMEOUT | SNAPFUZZ_CAP_INCREMENTAL |
               (s->verify ? SNAPFUZZ_CAP_VERIFY : 0) |
               (s->engine == &snapfuzz_engine_afl ? SNAPFUZZ_CAP_AFL : 0) |
               (tcg_enabled() ? SNAPFUZZ_CAP_TCG : 0);
    case SNAPFUZZ_REG_STATUS:
        if (s->turnaround_t0 && s->status != SNAPFUZZ_ST_BUSY) {
            /* The guest learns that the next input started. */
            s->stats.turnaround_ns = get_clock() - s->turnaround_t0;
            s->turnaround_t0 = 0;
        }
        return s->status;
    case SNAPFUZZ_REG_STATE:
        return s->state;
    case SNAPFUZZ_REG_ARG:
        return s->arg;
    case SNAPFUZZ_REG_INPUT_LEN:
        return s->input_len;
    case SNAPFUZZ_REG_INPUT_SIZE:
        return s->input_size;
    case SNAPFUZZ_REG_COV_SIZE:
        return s->cov_len;
    case SNAPFUZZ_REG_INPUT_SEQ:
        return s->input_seq;
    case SNAPFUZZ_REG_LAST_RESULT:
        return s->last_result;
    case SNAPFUZZ_REG_LAST_ARG:
        return s->last_arg;
    case SNAPFUZZ_REG_TIMEOUTS:
        return s->timeouts;
    case SNAPFUZZ_REG_CRASHES:
        return s->crashes;
    case SNAPFUZZ_REG_VERIFY_ERRORS:
        return s->verify_errors;
    case SNAPFUZZ_REG_RESTORES:
        return s->restores;
    case SNAPFUZZ_REG_DIRTY_PAGES:
        return snapfuzz_sat32(s->stats.pages);
    case SNAPFUZZ_REG_T_SYNC:
        return snapfuzz_sat32(s->stats.sync_ns);
    case SNAPFUZZ_REG_T_COPY:
        return snapfuzz_sat32(s->stats.copy_ns);
    case SNAPFUZZ_REG_T_DEVICE:
        return snapfuzz_sat32(s->stats.device_ns);
    case SNAPFUZZ_REG_T_TOTAL:
        return snapfuzz_sat32(s->stats.total_ns);
    case SNAPFUZZ_REG_DEV_SECTIONS:
        return s->stats.sections;
    case SNAPFUZZ_REG_T_TURNAROUND:
        return snapfuzz_sat32(s->stats.turnaround_ns);
    case SNAPFUZZ_REG_TIMEOUT_MS:
        return s->timeout_ms;
    case SNAPFUZZ_REG_MAX_INPUTS:
        return s->max_inputs;
    case SNAPFUZZ_REG_DEPTH:
        return s->depth;
    default:
        return 0;
    }
}

static void snapfuzz_write(void *opaque, hwaddr addr, uint64_t val,
                           unsigned size)
{
    SnapfuzzState *s = opaque;

    if (addr >= SNAPFUZZ_REG_MSG && addr < SNAPFUZZ_REG_MSG +
        SNAPFUZZ_MSG_SIZE) {
        uint64_t v = cpu_to_le64(val);

        addr -= SNAPFUZZ_REG_MSG;
        memcpy(&s->msg[addr], &v, MIN(size, SNAPFUZZ_MSG_SIZE - addr));
        return;
    }
    if (size != 4 || (addr & 3)) {
        qemu_log_mask(LOG_GUEST_ERROR, "snapfuzz: %u-byte write at 0x%"
                      HWADDR_PRIx "\n", size, addr);
        return;
    }

    switch (addr) {
    case SNAPFUZZ_REG_CMD:
        if (s->status == SNAPFUZZ_ST_BUSY) {
            qemu_log_mask(LOG_GUEST_ERROR,
                          "snapfuzz: command 0x%" PRIx64 " while busy\n", val);
            return;
        }
        snapfuzz_command(s, val);
        break;
    case SNAPFUZZ_REG_ARG:
        s->arg = val;
        break;
    default:
        qemu_log_mask(LOG_GUEST_ERROR, "snapfuzz: write to read-only 0x%"
                      HWADDR_PRIx "\n", addr);
        break;
    }
}

static const MemoryRegionOps snapfuzz_ops = {
    .read = snapfuzz_read,
    .write = snapfuzz_write,
    .endianness = DEVICE_LITTLE_ENDIAN,
    .valid = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
    .impl = {
        .min_access_size = 1,
        .max_access_size = 4,
    },
};

static bool snapfuzz_check_size(uint64_t v, uint64_t min, uint64_t max,
                                const char *prop, Error **errp)
{
    if (v < min || v > max || !is_power_of_2(v)) {
        error_setg(errp, "snapfuzz: %s must be a power of two from %" PRIu64
                   " to %" PRIu64 " (got %" PRIu64 ")", prop, min, max, v);
        return false;
    }
    return true;
}

bool snapfuzz_add_blocker(SnapfuzzState *s, Error **errp)
{
    error_setg(&s->migration_blocker,
               "the snapfuzz device keeps snapshots that cannot migrate");
    return migrate_add_blocker(&s->migration_blocker, errp) >= 0;
}

static void snapfuzz_realize(PCIDevice *pdev, Error **errp)
{
    SnapfuzzState *s = SNAPFUZZ(pdev);
    bool ambiguous = false;

    /*
     * Each device would snapshot and restore the whole VM, and take the
     * other's dirty pages from it.
     */
    object_resolve_path_type("", TYPE_SNAPFUZZ, &ambiguous);
    if (ambiguous) {
        error_setg(errp, "snapfuzz: only one snapfuzz device is supported");
        return;
    }
    if (!snapfuzz_check_size(s->input_size, 4 * KiB, 256 * MiB,
                             "input-size", errp) ||
        !snapfuzz_check_size(s->cov_size, 4 * KiB, 256 * MiB,
                             "cov-size", errp)) {
        return;
    }
    if (s->random_len > s->input_size) {
        error_setg(errp, "snapfuzz: random-len (%u) is larger than "
                   "input-size (%" PRIu64 ")", s->random_len, s->input_size);
        return;
    }
    if (s->afl && s->libfuzzer) {
        error_setg(errp, "snapfuzz: afl=on and libfuzzer=on exclude each "
                   "other");
        return;
    }
    if (s->libfuzzer && s->max_inputs) {
        error_setg(errp, "snapfuzz: max-inputs cannot be used with "
                   "libfuzzer=on (libFuzzer decides how many inputs run)");
        return;
    }
    if (s->timeout_ms > 24 * 3600 * 1000) {
        error_setg(errp, "snapfuzz: timeout must be at most a day (ms)");
        return;
    }
    if (icount_enabled()) {
        /* Snapshots and restores were not made to keep icount's clock. */
        error_setg(errp, "snapfuzz: -icount is not supported");
        return;
    }

    if (!snapfuzz_add_blocker(s, errp)) {
        return;
    }

    memory_region_init_io(&s->regs, OBJECT(s), &snapfuzz_ops, s,
                          "snapfuzz-regs", SNAPFUZZ_BAR0_SIZE);
    pci_register_bar(pdev, 0, PCI_BASE_ADDRESS_SPACE_MEMORY, &s->regs);

    if (!memory_region_init_ram(&s->input_ram, OBJECT(s), "snapfuzz-input",
                                s->input_size, errp)) {
        goto fail;
    }
    s->input = memory_region_get_ram_ptr(&s->input_ram);
    memory_region_init(&s->input_bar, OBJECT(s), "snapfuzz-input-bar",
                       s->input_size);
    memory_region_add_subregion(&s->input_bar, 0, &s->input_ram);
    pci_register_bar(pdev, 1, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->input_bar);

    if (s->libfuzzer && !snapfuzz_libfuzzer_engine) {
        error_setg(errp, "snapfuzz: libfuzzer=on works only in QEMU's "
                   "libFuzzer target (qemu-fuzz-x86_64 "
                   "--fuzz-target=snapfuzz)");
        goto fail;
    }
    s->engine = s->afl ? &snapfuzz_engine_afl :
                s->libfuzzer ? snapfuzz_libfuzzer_engine : NULL;
    if (s->engine) {
        s->port.input = s->input;
        s->port.input_size = s->input_size;
        s->port.timeout_ms = s->timeout_ms;
        /* The engine's coverage map: AFL++'s shared memory, libFuzzer's. */
        if (!s->engine->init(&s->port, errp)) {
            goto fail;
        }
        s->cov = s->port.cov;
        s->cov_len = s->port.cov_len;
        memory_region_init_ram_ptr(&s->cov_ram, OBJECT(s), "snapfuzz-cov",
                                   s->cov_len, s->cov);
    } else {
        s->cov_len = s->cov_size;
        if (!memory_region_init_ram(&s->cov_ram, OBJECT(s), "snapfuzz-cov",
                                    s->cov_len, errp)) {
            goto fail;
        }
        s->cov = memory_region_get_ram_ptr(&s->cov_ram);
    }
    memory_region_init(&s->cov_bar, OBJECT(s), "snapfuzz-cov-bar",
                       pow2ceil(s->cov_len));
    memory_region_add_subregion(&s->cov_bar, 0, &s->cov_ram);
    pci_register_bar(pdev, 2, PCI_BASE_ADDRESS_SPACE_MEMORY |
                     PCI_BASE_ADDRESS_MEM_PREFETCH, &s->cov_bar);

    /*
     * Not guarded against re-entrancy: the bottom half does no DMA, and
     * the vCPUs poll STATUS while it waits for them to pause.
     */
    s->bh = qemu_bh_new(snapfuzz_bh, s);
    /*
     * The timeout is host time, but the qtest accelerator (the device's
     * qtest, generic-fuzz) steps the virtual clock instead, as it does for
     * throttle groups: there the test decides when the timeout fires, and
     * an input ends the same way every time it runs.
     */
    s->timer_clock = qtest_enabled() ? QEMU_CLOCK_VIRTUAL
                                     : QEMU_CLOCK_REALTIME;
    s->timer = timer_new_ms(s->timer_clock, snapfuzz_timer, s);
    s->state = SNAPFUZZ_STATE_NONE;
    s->status = SNAPFUZZ_ST_OK;
    qemu_system_set_guest_end_handler(snapfuzz_guest_end, s);
    return;

fail:
    if (s->engine) {
        s->engine->free(&s->port);
        s->engine = NULL;
    }
    migrate_del_blocker(&s->migration_blocker);
}

/*
 * Drop the snapshots and stop the dirty tracking they need, and let RAM be
 * discarded again.
 */
static void snapfuzz_drop_snapshots(SnapfuzzState *s)
{
    snapfuzz_snapshot_free(s);
    if (s->dirty_log_on) {
        memory_global_dirty_log_stop(GLOBAL_DIRTY_MIGRATION);
        ram_block_discard_disable(false);
        s->dirty_log_on = false;
    }
}

/*
 * A reset (the machine's, or a reset of the PCI bus) puts the device back
 * as realized: no snapshot, no command running, every register at its
 * reset value.  An input that was running is over; an engine waiting to
 * learn how it ended is told it crashed, as the guest never finished it.
 */
static void snapfuzz_reset_hold(Object *obj, ResetType type)
{
    SnapfuzzState *s = SNAPFUZZ(obj);

    /* A command still BUSY is dropped: see snapfuzz_bh(). */
    timer_del(s->timer);
    if (s->state == SNAPFUZZ_STATE_INPUT && !s->port.waiting) {
        warn_report("snapfuzz: the VM was reset while input %u ran",
                    s->input_seq);
        if (s->engine) {
            s->engine->report(&s->port, SNAPFUZZ_RESULT_CRASH);
        }
    }
    if (s->held) {
        /* snapfuzz_bh() stopped the clocks; the reset resumes the vCPUs. */
        cpu_enable_ticks();
    }
    snapfuzz_drop_snapshots(s);

    s->status = SNAPFUZZ_ST_OK;
    s->state = SNAPFUZZ_STATE_NONE;
    s->arg = 0;
    s->input_len = 0;
    s->input_seq = 0;
    s->last_result = SNAPFUZZ_RESULT_NONE;
    s->last_arg = 0;
    s->timeouts = 0;
    s->crashes = 0;
    s->verify_errors = 0;
    s->restores = 0;
    memset(s->msg, 0, sizeof(s->msg));
    memset(&s->stats, 0, sizeof(s->stats));
    s->turnaround_t0 = 0;
    s->pending_cmd = 0;
    s->timed_out = false;
    s->snap_cmd = 0;
    s->port.waiting = false;
    s->held = false;
    s->guest_end = 0;
    s->cmd_arg = 0;
}

static void snapfuzz_exit(PCIDevice *pdev)
{
    SnapfuzzState *s = SNAPFUZZ(pdev);

    qemu_system_set_guest_end_handler(NULL, NULL);
    if (s->timer) {
        timer_free(s->timer);
        s->timer = NULL;
    }
    if (s->bh) {
        qemu_bh_delete(s->bh);
        s->bh = NULL;
    }
    snapfuzz_drop_snapshots(s);
    if (s->engine) {
        s->engine->free(&s->port);
        s->engine = NULL;
    }
    migrate_del_blocker(&s->migration_blocker);
}

static const Property snapfuzz_properties[] = {
    DEFINE_PROP_SIZE("input-size", SnapfuzzState, input_size, 1 * MiB),
    DEFINE_PROP_SIZE("cov-size", SnapfuzzState, cov_size, 64 * KiB),
    DEFINE_PROP_UINT32("timeout", SnapfuzzState, timeout_ms, 0),
    DEFINE_PROP_UINT32("max-inputs", SnapfuzzState, max_inputs, 0),
    DEFINE_PROP_UINT32("random-len", SnapfuzzState, random_len, 64),
    DEFINE_PROP_BOOL("verify", SnapfuzzState, verify, false),
    DEFINE_PROP_BOOL("afl", SnapfuzzState, afl, false),
    DEFINE_PROP_BOOL("libfuzzer", SnapfuzzState, libfuzzer, false),
    DEFINE_PROP_BOOL("ignore-blockers", SnapfuzzState, ignore_blockers,
                     false),
    DEFINE_PROP_SIZE("disk-limit", SnapfuzzState, disk_limit, 1 * GiB),
    DEFINE_PROP_SIZE("ram-limit", SnapfuzzState, ram_limit, 1 * GiB),
};

static void snapfuzz_class_init(ObjectClass *klass, const void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    ResettableClass *rc = RESETTABLE_CLASS(klass);
    PCIDeviceClass *k = PCI_DEVICE_CLASS(klass);

    k->realize = snapfuzz_realize;
    k->exit = snapfuzz_exit;
    rc->phases.hold = snapfuzz_reset_hold;
    k->vendor_id = PCI_VENDOR_ID_REDHAT;
    k->device_id = PCI_DEVICE_ID_REDHAT_SNAPFUZZ;
    k->revision = SNAPFUZZ_REVISION;
    k->class_id = PCI_CLASS_OTHERS;
    dc->desc = "Snapshot fuzzing device";
    dc->hotpluggable = false;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, snapfuzz_properties);
}

static const TypeInfo snapfuzz_types[] = {
    {
        .name          = TYPE_SNAPFUZZ,
        .parent        = TYPE_PCI_DEVICE,
        .instance_size = sizeof(SnapfuzzState),
        .class_init    = snapfuzz_class_init,
        .interfaces    = (const InterfaceInfo[]) {
            { INTERFACE_CONVENTIONAL_PCI_DEVICE },
            { },
        },
    },
};

DEFINE_TYPES(snapfuzz_types)
