/*
 * The guest half of scripts/bench/snapfuzz.sh: a Linux guest's /init that
 * runs the device's inputs (max-inputs, no engine) and dirties PAGES pages
 * of its own in each (the kernel command line's argument after "--",
 * default 64).  Every input reads what the device reports of the restore
 * that started it (the T_* registers, DIRTY_PAGES, DEV_SECTIONS) and keeps
 * it in the input window past the input, which restores leave alone.  When
 * the inputs are spent it prints one line per restore:
 *     RESTORE total_ns device_ns sync_ns copy_ns turnaround_ns pages sections
 * and powers the guest off.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <unistd.h>

#include "snapfuzz.h"

#define PAGE 4096
#define MAX_PAGES 4096
#define REGION (256 * 1024)     /* end of the input window */

struct sample {
    uint32_t total, device, sync, copy, turnaround, pages, sections;
};

struct region {
    uint32_t n;
    struct sample s[(REGION - 64) / sizeof(struct sample)];
};

static struct snapfuzz sf;
static unsigned char area[MAX_PAGES * PAGE] __attribute__((aligned(PAGE)));

int main(int argc, char **argv)
{
    unsigned pages = argc > 1 ? strtoul(argv[1], NULL, 0) : 64;
    const uint8_t *in;
    struct region *r;
    size_t len;
    uint32_t st;

    if (getpid() == 1) {
        mount("sysfs", "/sys", "sysfs", 0, NULL);
        mount("proc", "/proc", "proc", 0, NULL);
    }
    if (sf_open(&sf) < 0 || sf.input_size < 2 * REGION) {
        fprintf(stderr, "restore-guest: no usable snapfuzz device\n");
        return 1;
    }
    mlockall(MCL_CURRENT | MCL_FUTURE);
    pages = pages < MAX_PAGES ? pages : MAX_PAGES;
    memset(area, 0, sizeof(area));
    r = (struct region *)(sf.input + sf.input_size - REGION);
    memset(r, 0, sizeof(*r));

    while ((st = sf_next_input(&sf, &in, &len)) == SF_ST_OK) {
        uint32_t seq = sf_reg(&sf, SF_REG_INPUT_SEQ);

        /* The first input follows the snapshot, not a restore. */
        if (seq > 1 && r->n < sizeof(r->s) / sizeof(r->s[0])) {
            struct sample *s = &r->s[r->n++];

            s->total = sf_reg(&sf, SF_REG_T_TOTAL);
            s->device = sf_reg(&sf, SF_REG_T_DEVICE);
            s->sync = sf_reg(&sf, SF_REG_T_SYNC);
            s->copy = sf_reg(&sf, SF_REG_T_COPY);
            s->turnaround = sf_reg(&sf, SF_REG_T_TURNAROUND);
            s->pages = sf_reg(&sf, SF_REG_DIRTY_PAGES);
            s->sections = sf_reg(&sf, SF_REG_DEV_SECTIONS);
        }
        for (unsigned i = 0; i < pages; i++) {
            ((volatile unsigned char *)area)[i * PAGE] = seq | 1;
        }
        st = sf_done(&sf, 0);
        fprintf(stderr, "restore-guest: DONE failed with status %u\n", st);
        return 1;
    }
    if (st != SF_ST_EXHAUSTED) {
        fprintf(stderr, "restore-guest: NEXT_INPUT failed with status %u\n",
                st);
        return 1;
    }
    for (uint32_t i = 0; i < r->n; i++) {
        struct sample *s = &r->s[i];

        printf("RESTORE %u %u %u %u %u %u %u\n", s->total, s->device,
               s->sync, s->copy, s->turnaround, s->pages, s->sections);
    }
    printf("RESTORE-END %u\n", r->n);
    fflush(stdout);
    sync();
    if (getpid() == 1) {
        reboot(RB_POWER_OFF);
    }
    return 0;
}
