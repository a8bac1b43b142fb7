/*
 * libFuzzer target for the snapfuzz device: fuzzes code in the guest
 *
 * The guest is a VM with a harness that uses the snapfuzz device
 * (docs/specs/snapfuzz.rst); QEMU runs it under TCG with
 * -device snapfuzz,libfuzzer=on.  pre_fuzz() runs the VM until the
 * harness's first NEXT_INPUT has taken the root snapshot; then every
 * libFuzzer input is put into the input window, run, and the VM restored.
 * The coverage map the guest's instrumentation writes is libFuzzer's extra
 * counters, so libFuzzer sees the guest's edges (it clears them before each
 * input).  A CRASH from the guest aborts, which makes libFuzzer save the
 * input as crash-*; an input that the device's timeout ends is saved as
 * timeout-* and ends the run the way libFuzzer's own -timeout does.
 *
 * Environment:
 *   QEMU_SNAPFUZZ_GUEST   QEMU options for the guest, e.g.
 *                         "-kernel vmlinuz -initrd initrd -append quiet"
 *                         (required; -L and -m options go here too)
 *   QEMU_SNAPFUZZ_DEVICE  more snapfuzz options, e.g. "timeout=1000"
 *   QEMU_SNAPFUZZ_BOOT_TIMEOUT  seconds to wait for the first NEXT_INPUT
 *                         (default 300)
 *   QEMU_SNAPFUZZ_HANGS   "ignore": inputs ended by the device's timeout
 *                         are not reported
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "qapi/error.h"
#include "system/snapfuzz-engine.h"
#include "fuzz.h"
#include "sancov.h"

/* The size of AFL++'s map: what the example's instrumentation indexes. */
#define SNAPFUZZ_FUZZ_COV_SIZE  (64 * KiB)

/*
 * libFuzzer collects the counters of this section after every input and
 * clears them before the next one.  (Inline 8-bit counters registered at
 * run time would not match the PC tables of the instrumented QEMU code,
 * which libFuzzer checks.)
 */
static uint8_t snapfuzz_counters[SNAPFUZZ_FUZZ_COV_SIZE]
    __attribute__((section("__libfuzzer_extra_counters"), aligned(4096),
                   used));

/*
 * The engine of libfuzzer=on.  When the guest asks for an input and there
 * is none yet, the device leaves the command BUSY and the vCPUs paused
 * until snapfuzz_fuzz() starts one: libFuzzer's own work between inputs
 * costs no guest time and no spinning vCPU.  The coverage map is
 * snapfuzz_counters.
 */
static struct {
    SnapfuzzPort *port;
    const uint8_t *data;    /* the input to deliver, valid until delivered */
    size_t size;
    bool have_input;
    bool ended;
    uint32_t result;
} inproc;

static bool snapfuzz_inproc_init(SnapfuzzPort *port, Error **errp)
{
    if (inproc.port) {
        error_setg(errp, "snapfuzz: libfuzzer=on is already in use by "
                   "another snapfuzz device");
        return false;
    }
    inproc.port = port;
    port->cov = snapfuzz_counters;
    port->cov_len = sizeof(snapfuzz_counters);
    return true;
}

static void snapfuzz_inproc_free(SnapfuzzPort *port)
{
    if (inproc.port == port) {
        inproc.port = NULL;
        port->cov = NULL;
    }
}

/* Take the pending input into the window, if snapfuzz_fuzz() has one. */
static bool snapfuzz_inproc_next_input(SnapfuzzPort *port, size_t *len)
{
    if (!inproc.have_input) {
        return false;
    }
    *len = MIN(inproc.size, port->input_size);
    memcpy(port->input, inproc.data, *len);
    inproc.have_input = false;
    inproc.data = NULL;
    return true;
}

static void snapfuzz_inproc_report(SnapfuzzPort *port, uint32_t result)
{
    inproc.ended = true;
    inproc.result = result;
}

static const SnapfuzzEngine snapfuzz_engine_inproc = {
    .name = "libFuzzer",
    .init = snapfuzz_inproc_init,
    .next_input = snapfuzz_inproc_next_input,
    .report = snapfuzz_inproc_report,
    .free = snapfuzz_inproc_free,
};

/* The device exists and its guest waits for an input, vCPUs paused. */
static bool snapfuzz_fuzz_waiting(void)
{
    return inproc.port && inproc.port->waiting;
}

/*
 * QEMU's own inline 8-bit counters.  A fuzzing build instruments the device
 * models and the block layer (scripts/oss-fuzz/instrumentation-filter-
 * template) for generic-fuzz and the image fuzzer; while the guest runs an
 * input, QEMU's timers and devices (and the loop below that waits for the
 * guest) run a number of times that depends on the host, and as features
 * they would fill the corpus with noise.  They are cleared when an input
 * ends, so the only features libFuzzer sees are the guest's (and the fixed
 * path through fuzz.c).  The section's bounds are declared in sancov.h.
 */
static void snapfuzz_fuzz_drop_host_coverage(void)
{
    if (__start___sancov_cntrs &&
        __stop___sancov_cntrs > __start___sancov_cntrs) {
        memset(__start___sancov_cntrs, 0,
               __stop___sancov_cntrs - __start___sancov_cntrs);
    }
}

static void snapfuzz_fuzz_usage(void)
{
    fprintf(stderr, "snapfuzz: set QEMU_SNAPFUZZ_GUEST to the QEMU options "
            "that boot a guest with a snapfuzz harness, e.g.\n"
            "  QEMU_SNAPFUZZ_GUEST='-kernel vmlinuz -initrd harness.cpio "
            "-append quiet'\n"
            "and optionally QEMU_SNAPFUZZ_DEVICE to more snapfuzz options, "
            "e.g. 'timeout=1000'\n");
    exit(1);
}

static GString *snapfuzz_fuzz_cmdline(FuzzTarget *t)
{
    const char *guest = getenv("QEMU_SNAPFUZZ_GUEST");
    const char *dev = getenv("QEMU_SNAPFUZZ_DEVICE");
    GString *cmd;

    if (!guest || !*guest) {
        snapfuzz_fuzz_usage();
    }
    cmd = g_string_new(TARGET_NAME);
    g_string_append_printf(cmd, " -machine q35 -accel tcg -cpu max -m 256 "
                           "-nodefaults -display none -no-reboot %s "
                           "-device snapfuzz,libfuzzer=on%s%s", guest,
                           dev && *dev ? "," : "", dev ? dev : "");
    return cmd;
}

static void snapfuzz_fuzz_pre_vm_init(void)
{
    snapfuzz_set_libfuzzer_engine(&snapfuzz_engine_inproc);
}

/* Boot the guest until its harness waits for the first input. */
static void snapfuzz_fuzz_pre_fuzz(QTestState *qts)
{
    const char *env = getenv("QEMU_SNAPFUZZ_BOOT_TIMEOUT");
    uint64_t limit = 300;
    int64_t deadline;

    if (env && (qemu_strtou64(env, NULL, 10, &limit) < 0 || !limit)) {
        fprintf(stderr, "snapfuzz: QEMU_SNAPFUZZ_BOOT_TIMEOUT '%s' is not "
                "a number of seconds\n", env);
        exit(1);
    }
    deadline = g_get_monotonic_time() + limit * G_USEC_PER_SEC;
    while (!snapfuzz_fuzz_waiting()) {
        if (g_get_monotonic_time() > deadline) {
            fprintf(stderr, "snapfuzz: the guest's harness did not ask for "
                    "an input within %" PRIu64 " s (QEMU_SNAPFUZZ_BOOT_TIMEOUT)"
                    "\n", limit);
            exit(1);
        }
        main_loop_wait(false);
    }
}

/* libFuzzer's option -NAME=VALUE from our command line, or NULL. */
static char *snapfuzz_fuzz_option(const char *name)
{
    g_autofree char *cmdline = NULL;
    g_autofree char *prefix = g_strdup_printf("-%s=", name);
    char *value = NULL;
    size_t len;

    if (!g_file_get_contents("/proc/self/cmdline", &cmdline, &len, NULL)) {
        return NULL;
    }
    for (size_t i = 0; i < len; i += strlen(cmdline + i) + 1) {
        if (g_str_has_prefix(cmdline + i, prefix)) {
            g_free(value);
            value = g_strdup(cmdline + i + strlen(prefix));
        }
    }
    return value;
}

/*
 * The device's timeout ended the input: save it and exit as libFuzzer does
 * when its own -timeout fires (artifact timeout-SHA1, -timeout_exitcode).
 */
static void snapfuzz_fuzz_hang(const unsigned char *data, size_t size)
{
    g_autofree char *sha1 = g_compute_checksum_for_data(G_CHECKSUM_SHA1,
                                                        data, size);
    g_autofree char *exact = snapfuzz_fuzz_option("exact_artifact_path");
    g_autofree char *prefix = snapfuzz_fuzz_option("artifact_prefix");
    g_autofree char *code = snapfuzz_fuzz_option("timeout_exitcode");
    g_autofree char *path = NULL;
    GError *err = NULL;
    int exitcode = 70;

    if (code && qemu_strtoi(code, NULL, 10, &exitcode) < 0) {
        exitcode = 70;
    }
    path = exact ? g_strdup(exact)
                 : g_strdup_printf("%stimeout-%s", prefix ? prefix : "", sha1);
    fprintf(stderr, "==%d== ERROR: libFuzzer: timeout: the input ran "
            "past the snapfuzz device's timeout of %u ms\n", getpid(),
            inproc.port ? inproc.port->timeout_ms : 0);
    if (!g_file_set_contents(path, (const char *)data, size, &err)) {
        fprintf(stderr, "snapfuzz: cannot write %s: %s\n", path,
                err->message);
        g_error_free(err);
    } else {
        fprintf(stderr, "artifact_prefix='%s'; Test unit written to %s\n",
                prefix ? prefix : "./", path);
    }
    fprintf(stderr, "SUMMARY: libFuzzer: timeout\n");
    _exit(exitcode);
}

static void snapfuzz_fuzz(QTestState *qts, const unsigned char *data,
                          size_t size)
{
    const char *hangs = getenv("QEMU_SNAPFUZZ_HANGS");
    uint32_t result;

    if (!snapfuzz_fuzz_waiting()) {
        fprintf(stderr, "snapfuzz: the guest's harness does not wait for an "
                "input (a failed restore?)\n");
        exit(1);
    }
    inproc.data = data;
    inproc.size = size;
    inproc.have_input = true;
    inproc.ended = false;
    snapfuzz_port_input_ready(inproc.port);
    while (!inproc.ended) {
        main_loop_wait(false);
    }
    result = inproc.result;
    snapfuzz_fuzz_drop_host_coverage();
    switch (result) {
    case SNAPFUZZ_RESULT_CRASH:
        /* The device printed the guest's message. */
        fprintf(stderr, "snapfuzz: the guest reported a crash\n");
        abort();
    case SNAPFUZZ_RESULT_TIMEOUT:
        if (!hangs || strcmp(hangs, "ignore")) {
            snapfuzz_fuzz_hang(data, size);
        }
        break;
    default:
        break;
    }
}

static void register_snapfuzz_fuzz_targets(void)
{
    fuzz_add_target(&(FuzzTarget){
        .name = "snapfuzz",
        .description = "Fuzz a guest's harness through the snapfuzz device "
                       "(QEMU_SNAPFUZZ_GUEST names the guest)",
        .get_init_cmdline = snapfuzz_fuzz_cmdline,
        .pre_vm_init = snapfuzz_fuzz_pre_vm_init,
        .pre_fuzz = snapfuzz_fuzz_pre_fuzz,
        .fuzz = snapfuzz_fuzz,
    });
}

fuzz_target_init(register_snapfuzz_fuzz_targets);
