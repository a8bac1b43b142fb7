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
#include "snapfuzz-internal.h"

#define AFL_CTL_FD      198
#define AFL_ST_FD       199

typedef struct SnapfuzzAFL {
    SnapfuzzState *s;
    bool hello_sent;
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

static bool snapfuzz_afl_init(SnapfuzzState *s, Error **errp)
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
    afl->s = s;
    afl->helper_fd = -1;
    s->engine_data = afl;
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
    snapfuzz_end_input_timeout(afl->s);
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

static void snapfuzz_afl_free(SnapfuzzState *s)
{
    SnapfuzzAFL *afl = s->engine_data;

    if (afl) {
        afl_helper_reap(afl);
    }
    if (afl && s->cov) {
        shmdt(s->cov);
        s->cov = NULL;
    }
    g_free(afl);
    s->engine_data = NULL;
}

/* Wait for afl-fuzz's go, then take its test case into the window. */
static bool snapfuzz_afl_next_input(SnapfuzzState *s)
{
    SnapfuzzAFL *afl = s->engine_data;
    uint64_t len = 0;
    struct stat st;

    if (!afl->hello_sent) {
        /* The old-style hello: no options. */
        afl_write4(0, "cannot write the hello to the status pipe");
        afl->hello_sent = true;
    }
    afl_read4("afl-fuzz closed the control pipe");
    /* The "child" afl-fuzz kills when it times the input out. */
    afl_write4(afl_helper_pid(afl), "cannot write to the status pipe");

    if (fstat(0, &st) == 0) {
        len = MIN((uint64_t)st.st_size, s->input_size);
    }
    if (len) {
        ssize_t n = pread(0, s->input, len, 0);

        len = n > 0 ? n : 0;
    }
    s->input_len = len;
    return true;
}

/* Tell afl-fuzz how the input ended. */
static void snapfuzz_afl_report(SnapfuzzState *s, uint32_t result)
{
    SnapfuzzAFL *afl = s->engine_data;
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
