/*
 * mmio-remap: read a PCI device's MMIO register on one vCPU while another
 * vCPU turns a second device's memory decoding off and on.
 *
 *   mmio-remap TARGET-DIR TOGGLE-DIR SECONDS
 *
 * TARGET-DIR and TOGGLE-DIR are /sys/bus/pci/devices/... directories of two
 * edu devices (QEMU's educational device, no Linux driver), the toggled
 * one's BAR 0 below the target's.  A thread pinned to CPU 1 maps the
 * target's BAR 0 and reads its identification register (0x010000ed) four
 * times in one translation block, over and over; CPU 0 writes the toggled
 * device's PCI command register, so QEMU commits a new memory map each
 * time.  The first read of a block can wait for the BQL while the map
 * changes; the next ones then run with the TLB entries of the old map.
 * Every read must still reach the target.
 *
 * Prints "toggles N blocks M mismatches K" and exits 1 if any read
 * returned something else (or 2 on a setup error).
 *
 * Copyright (c) 2026 QEMU Storage Series
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define EDU_ID          0x010000edu
#define PCI_COMMAND     4
#define PCI_COMMAND_MEM 0x2

static atomic_int stop;
static atomic_long blocks, mismatches;
static atomic_uint first_bad;
static volatile uint32_t *target;

static void pin(int cpu)
{
    cpu_set_t set;

    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    if (sched_setaffinity(0, sizeof(set), &set) < 0) {
        perror("sched_setaffinity");
        exit(2);
    }
}

/*
 * Four loads and the check in one basic block, so that TCG translates them
 * into one translation block: a kick (the new map's TLB flush) is only
 * seen between blocks.  Returns the four values XORed with the expected
 * one and ORed together: 0 when every read reached the device.
 */
static uint32_t read4(volatile uint32_t *p)
{
    uint32_t acc;

    asm volatile("movl (%1), %0\n\t"
                 "movl (%1), %%edx\n\t"
                 "movl (%1), %%r8d\n\t"
                 "movl (%1), %%r9d\n\t"
                 "xorl %2, %0\n\t"
                 "xorl %2, %%edx\n\t"
                 "xorl %2, %%r8d\n\t"
                 "xorl %2, %%r9d\n\t"
                 "orl %%edx, %0\n\t"
                 "orl %%r8d, %0\n\t"
                 "orl %%r9d, %0\n\t"
                 : "=&r"(acc)
                 : "r"(p), "r"(EDU_ID)
                 : "rdx", "r8", "r9", "memory");
    return acc;
}

static void *reader(void *arg)
{
    pin(1);
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        uint32_t bad = read4(target);

        atomic_fetch_add_explicit(&blocks, 1, memory_order_relaxed);
        if (bad) {
            unsigned int zero = 0;

            atomic_compare_exchange_strong(&first_bad, &zero, bad);
            atomic_fetch_add(&mismatches, 1);
        }
    }
    return NULL;
}

static int open_path(const char *dir, const char *name, int flags)
{
    char path[4096];
    int fd;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fd = open(path, flags);
    if (fd < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(2);
    }
    return fd;
}

int main(int argc, char **argv)
{
    pthread_t thread;
    struct timespec now, end;
    uint16_t cmd, off, on;
    long toggles = 0;
    void *map;
    int fd, cfg;

    if (argc != 4) {
        fprintf(stderr, "usage: %s TARGET-DIR TOGGLE-DIR SECONDS\n", argv[0]);
        return 2;
    }

    fd = open_path(argv[1], "resource0", O_RDWR | O_SYNC);
    map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
        perror("mmap resource0");
        return 2;
    }
    target = map;
    if (*target != EDU_ID) {
        fprintf(stderr, "target reads 0x%08x, not the edu's 0x%08x\n",
                *target, EDU_ID);
        return 2;
    }

    cfg = open_path(argv[2], "config", O_RDWR);
    if (pread(cfg, &cmd, 2, PCI_COMMAND) != 2) {
        perror("read the command register");
        return 2;
    }
    on = cmd | PCI_COMMAND_MEM;
    off = cmd & ~PCI_COMMAND_MEM;

    pin(0);
    if (pthread_create(&thread, NULL, reader, NULL)) {
        fprintf(stderr, "pthread_create failed\n");
        return 2;
    }

    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += atoi(argv[3]);
    do {
        if (pwrite(cfg, &off, 2, PCI_COMMAND) != 2 ||
            pwrite(cfg, &on, 2, PCI_COMMAND) != 2) {
            perror("write the command register");
            return 2;
        }
        toggles++;
        clock_gettime(CLOCK_MONOTONIC, &now);
    } while (now.tv_sec < end.tv_sec ||
             (now.tv_sec == end.tv_sec && now.tv_nsec < end.tv_nsec));

    atomic_store(&stop, 1);
    pthread_join(thread, NULL);
    printf("toggles %ld blocks %ld mismatches %ld",
           toggles, atomic_load(&blocks), atomic_load(&mismatches));
    if (atomic_load(&mismatches)) {
        printf(" first-difference 0x%08x", atomic_load(&first_bad));
    }
    printf("\n");
    return atomic_load(&mismatches) ? 1 : 0;
}
