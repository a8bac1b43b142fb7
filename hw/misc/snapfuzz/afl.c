/*
 * snapfuzz: QEMU as an AFL++ fork server
 *
 * With afl=on, QEMU is the target afl-fuzz starts: it speaks the fork
 * server protocol on the control (198) and status (199) pipes, maps the
 * coverage map AFL++ shares through __AFL_SHM_ID as the device's coverage
 * window, and reads each test case from its standard input, which afl-fuzz
 * points at its current input file.  A "child" is one input: its status is
 * reported when the input ends, and the VM is restored instead of forked.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/ipc.h>
#include <sys/shm.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "qemu/units.h"
#include "snapfuzz-afl.h"

#define AFL_CTL_FD      198
#define AFL_ST_FD       199

typedef struct SnapfuzzAFL {
    bool hello_sent;
} SnapfuzzAFL;

static void afl_fatal(const char *what)
{
    error_report("snapfuzz: AFL++ fork server: %s; exiting", what);
    exit(1);
}

static void afl_write4(uint32_t v, const char *what)
{
    if (qemu_write_full(AFL_ST_FD, &v, 4) != 4) {
        afl_fatal(what);
    }
}

static uint32_t afl_read4(const char *what)
{
    uint32_t v;
    size_t done = 0;

    while (done < 4) {
        ssize_t n = read(AFL_CTL_FD, (uint8_t *)&v + done, 4 - done);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            afl_fatal(what);
        }
        done += n;
    }
    return v;
}

void *snapfuzz_afl_init(SnapfuzzState *s, Error **errp)
{
    const char *id = getenv("__AFL_SHM_ID");
    struct shmid_ds ds;
    SnapfuzzAFL *afl;
    const char *end;
    long shm;
    void *map;

    if (fcntl(AFL_CTL_FD, F_GETFD) < 0 || fcntl(AFL_ST_FD, F_GETFD) < 0) {
        error_setg(errp, "snapfuzz: afl=on, but file descriptors %d and %d "
                   "(AFL++'s fork server pipes) are not open: run QEMU "
                   "under afl-fuzz", AFL_CTL_FD, AFL_ST_FD);
        return NULL;
    }
    if (!id) {
        error_setg(errp, "snapfuzz: afl=on, but __AFL_SHM_ID is not set");
        return NULL;
    }
    if (qemu_strtol(id, &end, 10, &shm) < 0 || *end || shm < 0 ||
        shm > INT_MAX) {
        error_setg(errp, "snapfuzz: __AFL_SHM_ID '%s' is not a number", id);
        return NULL;
    }
    if (shmctl(shm, IPC_STAT, &ds) < 0) {
        error_setg_errno(errp, errno, "snapfuzz: shared memory %ld "
                         "(__AFL_SHM_ID)", shm);
        return NULL;
    }
    if (ds.shm_segsz < 64 || ds.shm_segsz > 256 * MiB) {
        error_setg(errp, "snapfuzz: AFL++'s coverage map has %zu bytes",
                   (size_t)ds.shm_segsz);
        return NULL;
    }
    map = shmat(shm, NULL, 0);
    if (map == (void *)-1) {
        error_setg_errno(errp, errno, "snapfuzz: cannot attach shared "
                         "memory %ld (__AFL_SHM_ID)", shm);
        return NULL;
    }
    s->cov = map;
    s->cov_len = ds.shm_segsz;
    afl = g_new0(SnapfuzzAFL, 1);
    return afl;
}

void snapfuzz_afl_free(SnapfuzzState *s)
{
    if (s->engine && s->cov) {
        shmdt(s->cov);
        s->cov = NULL;
    }
    g_free(s->engine);
    s->engine = NULL;
}

/* Wait for afl-fuzz's go, then take its test case into the window. */
void snapfuzz_afl_next_input(SnapfuzzState *s)
{
    SnapfuzzAFL *afl = s->engine;
    uint64_t len = 0;
    struct stat st;

    if (!afl->hello_sent) {
        /* The old-style hello: no options. */
        afl_write4(0, "cannot write the hello to the status pipe");
        afl->hello_sent = true;
    }
    afl_read4("afl-fuzz closed the control pipe");
    /*
     * A "child" pid for afl-fuzz; it is never sent a signal when
     * QEMU's own timeout is shorter than afl-fuzz's -t.
     */
    afl_write4(getpid(), "cannot write to the status pipe");

    if (fstat(0, &st) == 0) {
        len = MIN((uint64_t)st.st_size, s->input_size);
    }
    if (len) {
        ssize_t n = pread(0, s->input, len, 0);

        len = n > 0 ? n : 0;
    }
    s->input_len = len;
}

/* Tell afl-fuzz how the input ended. */
void snapfuzz_afl_report(SnapfuzzState *s, uint32_t result)
{
    /* waitpid() status: killed by SIGSEGV for a crash, else exit 0. */
    afl_write4(result == SNAPFUZZ_RESULT_CRASH ? SIGSEGV : 0,
               "cannot write to the status pipe");
}
