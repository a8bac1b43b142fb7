/*
 * snapfuzz: snapshot fuzzing device, internals
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_INTERNAL_H
#define HW_MISC_SNAPFUZZ_INTERNAL_H

#include "hw/pci/pci_device.h"
#include "hw/misc/snapfuzz.h"
#include "io/channel-buffer.h"
#include "qemu/timer.h"
#include "qom/object.h"
#include "system/snapfuzz-engine.h"

OBJECT_DECLARE_SIMPLE_TYPE(SnapfuzzState, SNAPFUZZ)

/* One RAM block of the snapshot. */
typedef struct SnapfuzzRAM {
    RAMBlock *rb;
    uint8_t *host;
    uint8_t *copy;          /* contents at snapshot time */
    uint64_t len;
    unsigned long *dirty;   /* pages to copy back, one bit each */
} SnapfuzzRAM;

/* The pages of one RAM block that a pushed snapshot keeps. */
typedef struct SnapfuzzKept {
    unsigned long *pages;   /* page numbers, ascending */
    uint8_t *data;          /* their contents, in the same order */
    unsigned long n;
} SnapfuzzKept;

/*
 * Device and CPU vmstate as qemu_save_device_state_marked() wrote it, and
 * where each of its sections starts: section i is buf[mark[i]..mark[i + 1]),
 * empty for a device that had nothing to save.
 */
typedef struct SnapfuzzDevState {
    uint8_t *buf;
    size_t len;
    size_t cap;             /* bytes allocated at buf */
    uint64_t *mark;
    unsigned nr_mark;       /* sections + 1 */
    unsigned long *always;  /* sections that restores load all the same */
} SnapfuzzDevState;

/*
 * A snapshot pushed above the root: the pages that differed from the
 * snapshot below it when it was taken, per RAM block, and its device
 * state.
 */
typedef struct SnapfuzzLevel {
    SnapfuzzKept *kept;     /* one per RAM block */
    uint64_t kept_bytes;    /* of all their pages, counted in ram-limit */
    SnapfuzzDevState dev;
} SnapfuzzLevel;

typedef struct SnapfuzzStats {
    uint64_t pages;
    uint64_t sync_ns, copy_ns, device_ns, total_ns;
    uint32_t sections;      /* device state sections loaded */
    uint64_t turnaround_ns; /* DONE or CRASH to the next input's start */
} SnapfuzzStats;

struct SnapfuzzState {
    PCIDevice parent_obj;

    MemoryRegion regs;
    MemoryRegion input_bar;
    MemoryRegion input_ram;
    MemoryRegion cov_bar;
    MemoryRegion cov_ram;
    uint8_t *input;         /* host view of the input window */
    uint8_t *cov;           /* host view of the coverage map */
    uint64_t cov_len;       /* bytes of the coverage map */

    /* Properties */
    uint64_t input_size;
    uint64_t cov_size;
    uint32_t timeout_ms;
    uint32_t max_inputs;
    uint32_t random_len;
    bool verify;
    bool afl;
    bool libfuzzer;
    bool ignore_blockers;
    uint64_t disk_limit;
    uint64_t ram_limit;

    /* Registers */
    uint32_t status;
    uint32_t state;
    uint32_t arg;
    uint32_t input_len;
    uint32_t input_seq;
    uint32_t last_result;
    uint32_t last_arg;
    uint32_t timeouts;
    uint32_t crashes;
    uint32_t verify_errors;
    uint32_t restores;
    uint8_t msg[SNAPFUZZ_MSG_SIZE];
    SnapfuzzStats stats;

    /* Command execution outside the MMIO callback */
    QEMUBH *bh;
    uint32_t pending_cmd;
    uint32_t cmd_arg;       /* ARG when the pending command was written */
    int64_t turnaround_t0;  /* when DONE or CRASH was written, or 0 */
    bool timed_out;
    uint32_t guest_end;     /* SNAPFUZZ_CRASH_GUEST_*, for GUEST_END */
    QEMUTimer *timer;
    QEMUClockType timer_clock;  /* host time, or qtest's virtual clock */

    /* The snapshot */
    bool have_snapshot;
    uint32_t snap_cmd;      /* the command the snapshot was taken in */
    bool dirty_log_on;
    uint32_t ram_version;
    SnapfuzzRAM *ram;
    unsigned nr_ram;
    SnapfuzzDevState dev;   /* device and CPU vmstate */
    SnapfuzzDevState dev_now;   /* the state a restore compares with it */
    GByteArray *dev_load;   /* what a restore loads of it */
    /* What device state is saved and loaded through, kept for the next */
    QIOChannelBuffer *save_ioc;
    QEMUFile *save_file;
    QIOChannelBuffer *load_ioc;
    QEMUFile *load_file;
    SnapfuzzLevel levels[SNAPFUZZ_MAX_DEPTH];
    uint32_t depth;         /* levels in use */

    Error *migration_blocker;
    /*
     * afl=on or libfuzzer=on, else NULL (the device makes its own inputs);
     * port.waiting: the engine had no input yet, the guest waits for it
     */
    const SnapfuzzEngine *engine;
    SnapfuzzPort port;
    bool held;              /* waiting, the vCPUs paused since the command */
};

/* snapshot.c */
bool snapfuzz_snapshot_take(SnapfuzzState *s, Error **errp);
bool snapfuzz_snapshot_restore(SnapfuzzState *s, Error **errp);
bool snapfuzz_snapshot_push(SnapfuzzState *s, Error **errp);
bool snapfuzz_snapshot_pop(SnapfuzzState *s, Error **errp);
uint64_t snapfuzz_snapshot_verify(SnapfuzzState *s);
void snapfuzz_snapshot_free(SnapfuzzState *s);
void snapfuzz_input_written(SnapfuzzState *s);

/* snapfuzz.c */
bool snapfuzz_add_blocker(SnapfuzzState *s, Error **errp);

#endif
