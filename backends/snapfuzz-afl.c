/*
 * snapfuzz: QEMU as an AFL++ fork server
 *
 * With afl=on, QEMU is the target afl-fuzz starts: it speaks the fork
 * server protocol on the control (198) and status (199) pipes, maps the
 * coverage map AFL++ shares through __AFL_SHM_ID as the device's coverage
 * window, and takes each test case from the shared memory afl-fuzz offers
 * through __AFL_SHM_FUZZ_ID or else from its standard input, which
 * afl-fuzz points at its current input file.  A "child" is one input: its
 * status is reported when the input ends, and the VM is restored instead
 * of forked.
 *
 * The handshake is the current one (AFL++ 4.20c and later, and LibAFL's
 * forkserver executor): QEMU says hello with the magic "AFL" and protocol
 * version 1; afl-fuzz acknowledges with the hello's bitwise complement;
 * QEMU then sends its options (the map size, always: the size of the
 * coverage window; test cases in shared memory, when afl-fuzz offered
 * them), the map size, and the hello again to close the handshake.
 * Older afl-fuzz (Debian 12 has 4.04c) does not know that hello: it reads
 * it as the old protocol's option word, sees no option in it and starts
 * fuzzing at once, so what comes back on the control pipe is its first
 * "go" (0 or 1, whether the last run timed out), never the acknowledgement.
 * QEMU takes that as an old afl-fuzz, keeps the go for the first input and
 * reads test cases from its standard input, as the old protocol does.
 * AFL_OLD_FORKSERVER, which AFL++'s own targets honour, makes QEMU send
 * the old hello (no options) instead.
 *
 * afl-fuzz classifies a run as a hang only when it times the run out
 * itself and kills the child's pid.  So the pid QEMU reports is a real
 * helper process, forked once and reused while it lives.  When afl-fuzz
 * kills it, QEMU ends the input as a timeout and reports the helper's wait
 * status; when QEMU's own timeout ends an input first, QEMU holds the
 * status back (the vCPUs paused) until afl-fuzz has killed the helper.
 * Either way afl-fuzz sees a timeout and keeps the input under hangs/.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <poll.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/cutils.h"
#include "qemu/main-loop.h"
#include "qemu/units.h"
#include "system/snapfuzz-engine.h"

#define AFL_CTL_FD      198
#define AFL_ST_FD       199

/* The current handshake (words in the host's byte order): "AFL", version 1 */
#define AFL_HELLO               (0x41464c00 | 1)
#define AFL_OPT_MAPSIZE         0x00000001  /* a map size word follows */
#define AFL_OPT_SHMEM_TESTCASE  0x00000002  /* test cases in shared memory */
/* Shared memory test cases: a 32-bit length, then the bytes. */
#define AFL_TESTCASE_HDR        4

typedef struct SnapfuzzAFL {
    SnapfuzzPort *port;
    bool hello_sent;
    bool go_read;           /* the handshake read the first input's go */
    uint8_t *tc;            /* __AFL_SHM_FUZZ_ID's segment, or NULL */
    size_t tc_size;         /* its bytes, header included */
    bool tc_used;           /* afl-fuzz puts the test cases there */
    pid_t helper;           /* the pid afl-fuzz kills on its timeout, or 0 */
    int helper_fd;          /* read end of a pipe the helper holds open */
    bool helper_dead;       /* helper_fd saw EOF */
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

/*
 * Attach the System V shared memory segment named by environment variable
 * @var, of at least @min bytes; NULL with @errp set if that fails.
 */
static void *afl_shm_attach(const char *var, size_t min, size_t *size,
                            Error **errp)
{
    const char *id = getenv(var);
    struct shmid_ds ds;
    const char *end;
    long shm;
    void *map;

    if (!id) {
        error_setg(errp, "snapfuzz: afl=on, but %s is not set", var);
        return NULL;
    }
    if (qemu_strtol(id, &end, 10, &shm) < 0 || *end || shm < 0 ||
        shm > INT_MAX) {
        error_setg(errp, "snapfuzz: %s '%s' is not a number", var, id);
        return NULL;
    }
    if (shmctl(shm, IPC_STAT, &ds) < 0) {
        error_setg_errno(errp, errno, "snapfuzz: shared memory %ld (%s)",
                         shm, var);
        return NULL;
    }
    if (ds.shm_segsz < min) {
        error_setg(errp, "snapfuzz: shared memory %ld (%s) has %zu bytes, "
                   "less than %zu", shm, var, (size_t)ds.shm_segsz, min);
        return NULL;
    }
    map = shmat(shm, NULL, 0);
    if (map == (void *)-1) {
        error_setg_errno(errp, errno, "snapfuzz: cannot attach shared "
                         "memory %ld (%s)", shm, var);
        return NULL;
    }
    *size = ds.shm_segsz;
    return map;
}

/*
 * The coverage window's size: the map afl-fuzz shares, @seg bytes.  The
 * segment may be longer than the map (afl-fuzz 5 adds a few bytes after
 * it), so the map is AFL_MAP_SIZE bytes when that is set (afl-fuzz and its
 * targets agree on the map's size through it), at most the segment, and a
 * multiple of 64 bytes: afl-fuzz rounds AFL_MAP_SIZE up to one.
 */
static bool afl_map_size(size_t seg, size_t *size, Error **errp)
{
    const char *env = getenv("AFL_MAP_SIZE");
    uint64_t want = seg;

    if (!env) {
        env = getenv("AFL_MAPSIZE");
    }
    if (env && (qemu_strtou64(env, NULL, 10, &want) < 0 || want < 64)) {
        error_setg(errp, "snapfuzz: AFL_MAP_SIZE '%s' is not a map size",
                   env);
        return false;
    }
    want = QEMU_ALIGN_UP(MIN(want, seg), 64);
    *size = QEMU_ALIGN_DOWN(MIN(want, seg), 64);
    if (*size > 256 * MiB) {
        error_setg(errp, "snapfuzz: AFL++'s coverage map has %zu bytes, "
                   "more than 256 MiB", *size);
        return false;
    }
    return true;
}

static bool snapfuzz_afl_init(SnapfuzzPort *port, Error **errp)
{
    SnapfuzzAFL *afl;
    size_t seg, len;
    void *map;

    if (fcntl(AFL_CTL_FD, F_GETFD) < 0 || fcntl(AFL_ST_FD, F_GETFD) < 0) {
        error_setg(errp, "snapfuzz: afl=on, but file descriptors %d and %d "
                   "(AFL++'s fork server pipes) are not open: run QEMU "
                   "under afl-fuzz", AFL_CTL_FD, AFL_ST_FD);
        return false;
    }
    map = afl_shm_attach("__AFL_SHM_ID", 64, &seg, errp);
    if (!map) {
        return false;
    }
    if (!afl_map_size(seg, &len, errp)) {
        shmdt(map);
        return false;
    }
    port->cov = map;
    port->cov_len = len;
    afl = g_new0(SnapfuzzAFL, 1);
    afl->port = port;
    afl->helper_fd = -1;
    port->opaque = afl;

    /*
     * The test case memory afl-fuzz offers (it sets the variable when it
     * can fill it); whether it does fill it is settled by the handshake.
     */
    if (getenv("__AFL_SHM_FUZZ_ID")) {
        map = afl_shm_attach("__AFL_SHM_FUZZ_ID", AFL_TESTCASE_HDR + 1, &seg,
                             errp);
        if (!map) {
            return false;
        }
        afl->tc = map;
        afl->tc_size = seg;
    }
    return true;
}

/* The helper, in the forked child: wait to be killed, with nothing open. */
static G_NORETURN void afl_helper_main(pid_t parent, int wfd)
{
    sigset_t all;

    /* Only async-signal-safe calls: the parent has threads. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) {
        _exit(0);
    }
    if (wfd != 3) {
        dup2(wfd, 3);
    }
    /* Not AFL++'s pipes, nor anything else QEMU has open. */
    if (syscall(SYS_close_range, 4, ~0U, 0) < 0) {
        for (int fd = 4; fd < 4096; fd++) {
            close(fd);
        }
    }
    for (int sig = 1; sig < NSIG; sig++) {
        signal(sig, SIG_DFL);
    }
    sigfillset(&all);
    sigprocmask(SIG_UNBLOCK, &all, NULL);
    for (;;) {
        pause();
    }
}

/* Forget the helper; kill it unless it is dead.  Returns its wait status. */
static int afl_helper_reap(SnapfuzzAFL *afl)
{
    int status = 0;

    if (!afl->helper) {
        return 0;
    }
    qemu_set_fd_handler(afl->helper_fd, NULL, NULL, NULL);
    close(afl->helper_fd);
    afl->helper_fd = -1;
    kill(afl->helper, SIGKILL);
    while (waitpid(afl->helper, &status, 0) < 0 && errno == EINTR) {
        /* again */
    }
    afl->helper = 0;
    afl->helper_dead = false;
    return status;
}

/* The helper's end of the pipe closed: afl-fuzz killed it. */
static void afl_helper_eof(void *opaque)
{
    SnapfuzzAFL *afl = opaque;
    char c;
    ssize_t n = read(afl->helper_fd, &c, 1);

    if (n > 0 || (n < 0 && (errno == EINTR || errno == EAGAIN))) {
        return;
    }
    qemu_set_fd_handler(afl->helper_fd, NULL, NULL, NULL);
    afl->helper_dead = true;
    /* afl-fuzz timed the input out. */
    snapfuzz_port_timed_out(afl->port);
}

static void afl_helper_spawn(SnapfuzzAFL *afl)
{
    pid_t parent = getpid();
    int fds[2];
    pid_t pid;

    if (!g_unix_open_pipe(fds, FD_CLOEXEC, NULL)) {
        afl_fatal("cannot create a pipe");
    }
    pid = fork();
    if (pid < 0) {
        afl_fatal("cannot fork the process afl-fuzz times out");
    }
    if (pid == 0) {
        afl_helper_main(parent, fds[1]);
    }
    close(fds[1]);
    afl->helper = pid;
    afl->helper_fd = fds[0];
    afl->helper_dead = false;
    qemu_set_fd_handler(fds[0], afl_helper_eof, NULL, afl);
}

/* A helper that is alive for the next run. */
static pid_t afl_helper_pid(SnapfuzzAFL *afl)
{
    if (afl->helper &&
        (afl->helper_dead || waitpid(afl->helper, NULL, WNOHANG) != 0)) {
        afl_helper_reap(afl);
    }
    if (!afl->helper) {
        afl_helper_spawn(afl);
    }
    return afl->helper;
}

/*
 * Wait until afl-fuzz, timing the input out, has killed the helper;
 * its wait status is what afl-fuzz reads next.
 */
static int afl_helper_wait_killed(SnapfuzzAFL *afl)
{
    while (afl->helper && !afl->helper_dead) {
        struct pollfd pfd[2] = {
            { .fd = afl->helper_fd, .events = POLLIN },
            { .fd = AFL_CTL_FD, .events = POLLIN },
        };
        char c;

        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            afl_fatal("poll failed");
        }
        if (pfd[1].revents & (POLLHUP | POLLERR | POLLNVAL)) {
            afl_fatal("afl-fuzz closed the control pipe");
        }
        if (pfd[0].revents && read(afl->helper_fd, &c, 1) <= 0) {
            afl->helper_dead = true;
        }
    }
    return afl_helper_reap(afl);
}

static void snapfuzz_afl_free(SnapfuzzPort *port)
{
    SnapfuzzAFL *afl = port->opaque;

    if (afl) {
        afl_helper_reap(afl);
    }
    if (afl && port->cov) {
        shmdt(port->cov);
        port->cov = NULL;
    }
    if (afl && afl->tc) {
        shmdt(afl->tc);
    }
    g_free(afl);
    port->opaque = NULL;
}

/*
 * The handshake (see the top of the file): the current protocol, unless
 * afl-fuzz turns out to be older than it.
 */
static void afl_handshake(SnapfuzzAFL *afl)
{
    uint32_t reply, msg[3];

    if (getenv("AFL_OLD_FORKSERVER")) {
        /* The old hello: no options. */
        afl_write4(0, "cannot write the hello to the status pipe");
        return;
    }
    afl_write4(AFL_HELLO, "cannot write the hello to the status pipe");
    reply = afl_read4("afl-fuzz closed the control pipe during the "
                      "handshake");
    if (reply == (AFL_HELLO ^ 0xffffffff)) {
        afl->tc_used = afl->tc != NULL;
        msg[0] = AFL_OPT_MAPSIZE | (afl->tc_used ? AFL_OPT_SHMEM_TESTCASE : 0);
        msg[1] = afl->port->cov_len;
        msg[2] = AFL_HELLO;
        if (qemu_write_full(AFL_ST_FD, msg, sizeof(msg)) != sizeof(msg)) {
            afl_fatal("cannot write the options to the status pipe");
        }
        return;
    }
    if (reply > 1) {
        error_report("snapfuzz: AFL++ fork server: afl-fuzz answered the "
                     "hello with 0x%08" PRIx32 ", neither the "
                     "acknowledgement (0x%08x) nor an older afl-fuzz's first "
                     "go (0 or 1); exiting", reply, AFL_HELLO ^ 0xffffffff);
        exit(1);
    }
    /* An afl-fuzz before 4.20c, and this was its first go. */
    afl->go_read = true;
}

/* Wait for afl-fuzz's go, then take its test case into the window. */
static bool snapfuzz_afl_next_input(SnapfuzzPort *port, size_t *input_len)
{
    SnapfuzzAFL *afl = port->opaque;
    uint64_t len = 0;
    struct stat st;

    if (!afl->hello_sent) {
        afl_handshake(afl);
        afl->hello_sent = true;
    }
    if (afl->go_read) {
        afl->go_read = false;
    } else {
        afl_read4("afl-fuzz closed the control pipe");
    }
    /* The "child" afl-fuzz kills when it times the input out. */
    afl_write4(afl_helper_pid(afl), "cannot write to the status pipe");

    if (afl->tc_used) {
        uint32_t tc_len;

        /* afl-fuzz wrote it before the go, in its (this host's) order. */
        memcpy(&tc_len, afl->tc, sizeof(tc_len));
        len = MIN(tc_len, afl->tc_size - AFL_TESTCASE_HDR);
        len = MIN(len, port->input_size);
        memcpy(port->input, afl->tc + AFL_TESTCASE_HDR, len);
    } else {
        if (fstat(0, &st) == 0) {
            len = MIN((uint64_t)st.st_size, port->input_size);
        }
        if (len) {
            ssize_t n = pread(0, port->input, len, 0);

            len = n > 0 ? n : 0;
        }
    }
    *input_len = len;
    return true;
}

/* Tell afl-fuzz how the input ended. */
static void snapfuzz_afl_report(SnapfuzzPort *port, uint32_t result)
{
    SnapfuzzAFL *afl = port->opaque;
    uint32_t status = 0;

    /* waitpid() status: killed by SIGSEGV for a crash, exit 0 for DONE. */
    if (result == SNAPFUZZ_RESULT_CRASH) {
        status = SIGSEGV;
    } else if (result == SNAPFUZZ_RESULT_TIMEOUT) {
        /* The killed helper's: afl-fuzz counts a hang. */
        status = afl_helper_wait_killed(afl);
    }
    afl_write4(status, "cannot write to the status pipe");
}

const SnapfuzzEngine snapfuzz_engine_afl = {
    .name = "AFL++",
    .init = snapfuzz_afl_init,
    .next_input = snapfuzz_afl_next_input,
    .report = snapfuzz_afl_report,
    .free = snapfuzz_afl_free,
};
