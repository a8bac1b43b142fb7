/*
 * snapfuzz example harness for Linux user space
 *
 *   example            fuzz target (also as a guest's /init): runs every
 *                      input through target(), which has a planted bug:
 *                      an input starting with "BUG!" writes through NULL.
 *                      The SIGSEGV handler reports the crash.
 *   example stress     runs inputs until the device's max-inputs are
 *                      spent; each dirties 1-256 pages, makes system calls
 *                      and sometimes sleeps.  Prints the device's counters
 *                      and how far apart in guest time the inputs started.
 *   example hang       odd inputs loop forever (for the device's timeout),
 *                      even ones end at once.  Prints the counters.
 *   example fuzz-hang  like the default, but an input starting with 'H'
 *                      loops forever: a planted hang for an engine to
 *                      find.  As a guest's /init, the mode comes from the
 *                      kernel command line after "--".
 *   example disk DEV   runs inputs until max-inputs are spent; before the
 *                      snapshot it fills the first 64 KiB of block device
 *                      DEV with a pattern; every input reads them (O_DIRECT),
 *                      counts those that differ from the pattern, then
 *                      overwrites them and leaves another write in flight
 *                      (Linux AIO) when it ends.  Prints the counters and
 *                      "disk-mismatches N": N inputs saw what an earlier one
 *                      wrote, which the restore was to take back.
 *   example smp-arg    needs two vCPUs: a second thread writes a bogus ARG
 *                      whenever it sees DONE running, and every input
 *                      ends with DONE and its own number as ARG; the next
 *                      input checks LAST_ARG.  Prints "arg-mismatches N".
 *   example smp-copy   needs two vCPUs: a thread on the second copies a
 *                      word from one page to another for ever, with push
 *                      and pop, so that its registers are the same
 *                      whenever the device pauses it and a restore finds
 *                      that vCPU's state unchanged; every input writes its
 *                      number to the first page and waits for the copy.
 *                      With verify=on, a restore that missed the copier's
 *                      writes shows as a verify error.
 *   example fuzz-exec  an input "\xb8 IMM32 \xc3" (mov $IMM32, %eax; ret)
 *                      is run as code where it lies, in the input window,
 *                      and must return IMM32: else the vCPU ran an
 *                      earlier input's code, which is a crash.  Other
 *                      inputs do nothing (no planted bug).
 *   example fuzz-kernel
 *                      like the default, but an input starting with 'P'
 *                      panics the guest's kernel, 'R' reboots it and 'S'
 *                      powers it off: planted guest failures, which the
 *                      device reports to the engine as crashes.  Needs
 *                      root; run as /init with "panic=-1".
 *
 * Build: gcc -O2 -static example.c libsnapfuzz.c, or with afl-clang-fast
 * for coverage in the device's coverage map.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/syscall.h>
#include <linux/aio_abi.h>
#include <time.h>
#include <unistd.h>

#include "snapfuzz.h"

#define PAGE 4096
#define SCRATCH_MAGIC 0x53435243u

static struct snapfuzz sf;
static unsigned char area[256 * PAGE] __attribute__((aligned(PAGE)));

/*
 * Kept in the input window past any input, which restores leave alone:
 * how far apart the inputs started.
 */
struct scratch {
    uint32_t magic;
    uint64_t mono_min, mono_max;
    uint64_t tsc_min, tsc_max;
    uint32_t disk_mismatches;
    uint32_t arg_mismatches;
};

/* Writes ARG while a command runs: the device must use the one before. */
/*
 * Set by the input right before its DONE, and 0 again after the restore:
 * the meddler only writes while DONE runs.  A BUSY it saw during
 * NEXT_INPUT could otherwise land its write after the new input's ARG
 * and before its CMD, when the host is slow to run this vCPU on, which
 * no device can tell from a harness's own ARG.
 */
static volatile int arg_armed;

static void *arg_meddler(void *opaque)
{
    for (;;) {
        if (arg_armed && sf.regs[SF_REG_STATUS / 4] == SF_ST_BUSY) {
            sf.regs[SF_REG_ARG / 4] = 0xbad;
        }
    }
    return NULL;
}

/*
 * The copier: its loop is a single translation block under TCG, which a
 * vCPU leaves only at its start, so the vCPU is always paused in the same
 * state.  The device's restore then finds its CPU state unchanged and
 * loads nothing for it, so nothing but the restore itself re-arms the
 * dirty tracking of the page the vCPU keeps writing.
 */
static uint64_t copy_src[PAGE / 8] __attribute__((aligned(PAGE)));
static uint64_t copy_dst[PAGE / 8] __attribute__((aligned(PAGE)));
static int copier_started;

static void *copier(void *opaque)
{
    __atomic_store_n(&copier_started, 1, __ATOMIC_RELAXED);
    asm volatile("1: pushq %0\n\t"
                 "popq %1\n\t"
                 "jmp 1b"
                 : : "m"(copy_src[0]), "m"(copy_dst[0]) : "memory");
    return NULL;
}

static int copier_start(void)
{
    pthread_attr_t attr;
    pthread_t t;
    cpu_set_t cpus;

    CPU_ZERO(&cpus);
    CPU_SET(0, &cpus);
    if (sched_setaffinity(0, sizeof(cpus), &cpus) < 0) {
        return -1;
    }
    CPU_ZERO(&cpus);
    CPU_SET(1, &cpus);
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof(cpus), &cpus);
    if (pthread_create(&t, &attr, copier, NULL)) {
        return -1;
    }
    /*
     * Copying before the snapshot, and interrupted by timer ticks: the
     * segment registers that a return to user space loads under TCG depend
     * on the way back (a system call's or an interrupt's), and from the
     * snapshot on, the copier only ever comes back from interrupts.
     */
    while (!__atomic_load_n(&copier_started, __ATOMIC_RELAXED)) {
        /* The copier starts on the other vCPU. */
    }
    for (uint64_t v = 1; v <= 2; v++) {
        struct timespec ts = { 0, 50000000 };

        __atomic_store_n(&copy_src[0], ~v, __ATOMIC_RELAXED);
        while (__atomic_load_n(&copy_dst[0], __ATOMIC_RELAXED) != ~v) {
            /* The copier copies on the other vCPU. */
        }
        nanosleep(&ts, NULL);
    }
    return 0;
}

/* This input's number in the source; the copier must copy it now. */
static void copy_input(void)
{
    uint64_t seq = sf_reg(&sf, SF_REG_INPUT_SEQ);

    __atomic_store_n(&copy_src[0], seq, __ATOMIC_RELAXED);
    while (__atomic_load_n(&copy_dst[0], __ATOMIC_RELAXED) != seq) {
        /* The copier runs on the other vCPU. */
    }
}

#define DISK_BYTES (64 * 1024)

static int disk_fd = -1;
static aio_context_t disk_aio;
static unsigned char disk_buf[DISK_BYTES] __attribute__((aligned(PAGE)));
static unsigned char disk_late[DISK_BYTES] __attribute__((aligned(PAGE)));

static int disk_open(const char *dev)
{
    disk_fd = open(dev, O_RDWR | O_DIRECT);
    if (disk_fd < 0 || syscall(SYS_io_setup, 4, &disk_aio) < 0) {
        perror(dev);
        return -1;
    }
    memset(disk_buf, 'S', DISK_BYTES);
    if (pwrite(disk_fd, disk_buf, DISK_BYTES, 0) != DISK_BYTES ||
        fsync(disk_fd) < 0) {
        perror("writing the pattern");
        return -1;
    }
    return 0;
}

/* The snapshot's data, or a mismatch; then writes it does not wait for. */
static void disk_input(struct scratch *sc, const uint8_t *in, size_t len)
{
    struct iocb cb, *cbs[1] = { &cb };
    uint32_t seq = sf_reg(&sf, SF_REG_INPUT_SEQ);

    if (pread(disk_fd, disk_buf, DISK_BYTES, 0) != DISK_BYTES) {
        sc->disk_mismatches++;
        return;
    }
    for (size_t i = 0; i < DISK_BYTES; i++) {
        if (disk_buf[i] != 'S') {
            sc->disk_mismatches++;
            break;
        }
    }
    memset(disk_buf, seq & 0xff, DISK_BYTES);
    if (pwrite(disk_fd, disk_buf, DISK_BYTES / 2, 0) < 0) {
        sc->disk_mismatches++;
    }
    /* In flight when DONE restores: drained first, then taken back */
    memset(disk_late, (seq >> 8) | 1, DISK_BYTES);
    memset(&cb, 0, sizeof(cb));
    cb.aio_fildes = disk_fd;
    cb.aio_lio_opcode = IOCB_CMD_PWRITE;
    cb.aio_buf = (uintptr_t)disk_late;
    cb.aio_nbytes = DISK_BYTES;
    cb.aio_offset = len > 0 && in[0] & 1 ? 0 : DISK_BYTES / 2;
    syscall(SYS_io_submit, disk_aio, 1, cbs);
}

static void target(const uint8_t *d, size_t n)
{
    if (n > 0 && d[0] == 'B') {
        if (n > 1 && d[1] == 'U') {
            if (n > 2 && d[2] == 'G') {
                if (n > 3 && d[3] == '!') {
                    /* volatile: the planted bug must stay in */
                    *(volatile int *)(uintptr_t)(n - 4) = 1;
                }
            }
        }
    }
}

static void on_fault(int sig)
{
    sf_crash(&sf, sig == SIGSEGV ? "SIGSEGV in the target"
                                 : "fatal signal in the target");
    _exit(128 + sig);
}

static void *exec_window;

/*
 * The input window once more, executable: sysfs's BAR files cannot be
 * (sysfs is noexec), /dev/mem can.
 */
static int exec_map(void)
{
    int fd;

    if (getpid() == 1) {
        mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
    }
    fd = open("/dev/mem", O_RDWR | O_SYNC);
    if (fd < 0 || !sf.input_phys) {
        return -1;
    }
    exec_window = mmap(NULL, sf.input_size, PROT_READ | PROT_EXEC,
                       MAP_SHARED, fd, sf.input_phys);
    close(fd);
    return exec_window == MAP_FAILED ? -1 : 0;
}

/* Code in the input window: what the device wrote there must run. */
static void exec_target(const uint8_t *d, size_t n)
{
    int (*code)(void) = (int (*)(void))(uintptr_t)exec_window;
    uint32_t want;

    if (n < 6 || d[0] != 0xb8 || d[5] != 0xc3) {
        return;
    }
    memcpy(&want, d + 1, sizeof(want));
    if ((uint32_t)code() != want) {
        sf_crash(&sf, "stale code: an earlier input's code ran");
    }
}

/* Planted failures of the whole guest: the device must catch each. */
static void kernel_target(const uint8_t *d, size_t n)
{
    int fd;

    if (n > 0 && d[0] == 'P') {
        fd = open("/proc/sysrq-trigger", O_WRONLY);
        if (fd >= 0) {
            if (write(fd, "c", 1) < 0) {
                /* No panic: the input ends normally. */
            }
            close(fd);
        }
    } else if (n > 0 && d[0] == 'R') {
        reboot(RB_AUTOBOOT);
    } else if (n > 0 && d[0] == 'S') {
        reboot(RB_POWER_OFF);
    }
    target(d, n);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void note_start(struct scratch *sc)
{
    uint64_t mono = now_ns();
    uint64_t tsc = __builtin_ia32_rdtsc();

    if (sc->magic != SCRATCH_MAGIC) {
        sc->magic = SCRATCH_MAGIC;
        sc->mono_min = sc->mono_max = mono;
        sc->tsc_min = sc->tsc_max = tsc;
        return;
    }
    sc->mono_min = mono < sc->mono_min ? mono : sc->mono_min;
    sc->mono_max = mono > sc->mono_max ? mono : sc->mono_max;
    sc->tsc_min = tsc < sc->tsc_min ? tsc : sc->tsc_min;
    sc->tsc_max = tsc > sc->tsc_max ? tsc : sc->tsc_max;
}

static void stress(const uint8_t *in, size_t len)
{
    unsigned pages = 1 + (len > 0 ? in[0] : 0);
    char name[32];
    int fd;

    for (unsigned i = 0; i < pages; i++) {
        area[i * PAGE + (len > 1 ? in[1] : 0) * 8] = in[(2 + i) % len] | 1;
    }
    (void)getpid();
    snprintf(name, sizeof(name), "/tmp/sf-%u", len > 2 ? in[2] : 0);
    fd = open(name, O_CREAT | O_RDWR, 0600);
    if (fd >= 0) {
        if (write(fd, in, len) < 0) {
            /* Nothing to do. */
        }
        close(fd);
    }
    if (len > 3 && in[3] % 8 == 0) {
        struct timespec ts = { 0, 1000000 };

        nanosleep(&ts, NULL);
    }
}

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "fuzz";
    struct sigaction sa;
    struct scratch *sc;
    const uint8_t *in;
    size_t len;
    uint32_t st;
    int ret;

    if (getpid() == 1) {
        mount("sysfs", "/sys", "sysfs", 0, NULL);
        mount("proc", "/proc", "proc", 0, NULL);
    }
    ret = sf_open(&sf);
    if (ret < 0) {
        fprintf(stderr, "example: no snapfuzz device (%s)\n", strerror(-ret));
        return 1;
    }
    /* Nothing may fault in from disk while an input runs. */
    mlockall(MCL_CURRENT | MCL_FUTURE);
    memset(area, 0, sizeof(area));
    sc = (struct scratch *)(sf.input + sf.input_size - PAGE);
    memset(sc, 0, sizeof(*sc));
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fault;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);

    if (!strcmp(mode, "disk") && (argc < 3 || disk_open(argv[2]) < 0)) {
        fprintf(stderr, "example: disk DEV: cannot use the device\n");
        return 1;
    }
    if (!strcmp(mode, "fuzz-exec") && exec_map() < 0) {
        perror("example: fuzz-exec: cannot map the input window executable");
        return 1;
    }
    if (!strcmp(mode, "smp-copy") && copier_start() < 0) {
        fprintf(stderr, "example: smp-copy: no copier on the second vCPU\n");
        return 1;
    }
    if (!strcmp(mode, "smp-arg")) {
        pthread_t t;

        if (pthread_create(&t, NULL, arg_meddler, NULL)) {
            fprintf(stderr, "example: smp-arg: no second thread\n");
            return 1;
        }
    }
    while ((st = sf_next_input(&sf, &in, &len)) == SF_ST_OK) {
        if (!strcmp(mode, "smp-arg")) {
            uint32_t seq = sf_reg(&sf, SF_REG_INPUT_SEQ);

            if (seq > 1 && sf_reg(&sf, SF_REG_LAST_ARG) != seq - 1) {
                sc->arg_mismatches++;
            }
            arg_armed = 1;
            st = sf_done(&sf, seq);
            fprintf(stderr, "example: DONE failed with status %u\n", st);
            return 1;
        } else if (!strcmp(mode, "smp-copy")) {
            copy_input();
        } else if (!strcmp(mode, "disk")) {
            disk_input(sc, in, len);
        } else if (!strcmp(mode, "stress")) {
            note_start(sc);
            stress(in, len);
        } else if (!strcmp(mode, "fuzz-hang")) {
            if (len > 0 && in[0] == 'H') {
                for (;;) {
                    /* The engine's or the device's timeout ends this. */
                }
            }
            target(in, len);
        } else if (!strcmp(mode, "fuzz-exec")) {
            exec_target(in, len);
        } else if (!strcmp(mode, "fuzz-kernel")) {
            kernel_target(in, len);
        } else if (!strcmp(mode, "hang")) {
            if (sf_reg(&sf, SF_REG_INPUT_SEQ) & 1) {
                for (;;) {
                    /* The device's timeout ends this. */
                }
            }
        } else {
            target(in, len);
        }
        st = sf_done(&sf, 0);
        fprintf(stderr, "example: DONE failed with status %u\n", st);
        return 1;
    }
    if (st != SF_ST_EXHAUSTED) {
        fprintf(stderr, "example: NEXT_INPUT failed with status %u\n", st);
        return 1;
    }
    printf("inputs %u verify-errors %u timeouts %u crashes %u restores %u\n",
           sf_reg(&sf, SF_REG_INPUT_SEQ), sf_reg(&sf, SF_REG_VERIFY_ERRORS),
           sf_reg(&sf, SF_REG_TIMEOUTS), sf_reg(&sf, SF_REG_CRASHES),
           sf_reg(&sf, SF_REG_RESTORES));
    if (!strcmp(mode, "disk")) {
        printf("disk-mismatches %u\n", sc->disk_mismatches);
    }
    if (!strcmp(mode, "smp-arg")) {
        printf("arg-mismatches %u\n", sc->arg_mismatches);
    }
    if (sc->magic == SCRATCH_MAGIC) {
        printf("start time spread: monotonic %llu us, tsc %llu cycles\n",
               (unsigned long long)(sc->mono_max - sc->mono_min) / 1000,
               (unsigned long long)(sc->tsc_max - sc->tsc_min));
    }
    return 0;
}
