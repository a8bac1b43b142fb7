/*
 * snapfuzz: snapshot fuzzing device, register interface
 *
 * See docs/specs/snapfuzz.rst.  The guest side keeps its own copy of these
 * values in contrib/snapfuzz/snapfuzz.h.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_H
#define HW_MISC_SNAPFUZZ_H

#define TYPE_SNAPFUZZ "snapfuzz"

/*
 * PCI identity: PCI_VENDOR_ID_REDHAT, PCI_DEVICE_ID_REDHAT_SNAPFUZZ
 * (hw/pci/pci.h, docs/specs/pci-ids.rst)
 */
#define SNAPFUZZ_REVISION        1

/* BAR 0: registers, 4 KiB of MMIO, 32-bit accesses */
#define SNAPFUZZ_REG_MAGIC          0x00  /* RO "snfz" */
#define SNAPFUZZ_REG_VERSION        0x04  /* RO interface version */
#define SNAPFUZZ_REG_CAPS           0x08  /* RO capability bits */
#define SNAPFUZZ_REG_STATUS         0x0c  /* RO status of the last command */
#define SNAPFUZZ_REG_STATE          0x10  /* RO state machine */
#define SNAPFUZZ_REG_CMD            0x14  /* WO command */
#define SNAPFUZZ_REG_ARG            0x18  /* RW command argument */
#define SNAPFUZZ_REG_INPUT_LEN      0x1c  /* RO bytes of the current input */
#define SNAPFUZZ_REG_INPUT_SIZE     0x20  /* RO input window size */
#define SNAPFUZZ_REG_COV_SIZE       0x24  /* RO coverage map size */
#define SNAPFUZZ_REG_INPUT_SEQ      0x28  /* RO number of the current input */
#define SNAPFUZZ_REG_LAST_RESULT    0x2c  /* RO how the previous input ended */
#define SNAPFUZZ_REG_LAST_ARG       0x30  /* RO DONE argument of that input */
#define SNAPFUZZ_REG_TIMEOUTS       0x34  /* RO inputs ended by the timeout */
#define SNAPFUZZ_REG_CRASHES        0x38  /* RO inputs ended by CRASH */
#define SNAPFUZZ_REG_VERIFY_ERRORS  0x3c  /* RO restores leaving RAM unequal */
#define SNAPFUZZ_REG_RESTORES       0x40  /* RO restores done */
#define SNAPFUZZ_REG_DIRTY_PAGES    0x44  /* RO pages copied by last restore */
#define SNAPFUZZ_REG_T_SYNC         0x48  /* RO ns: dirty bitmap sync */
#define SNAPFUZZ_REG_T_COPY         0x4c  /* RO ns: page copy */
#define SNAPFUZZ_REG_T_DEVICE       0x50  /* RO ns: device and CPU vmstate */
#define SNAPFUZZ_REG_DEV_SECTIONS   0x54  /* RO vmstate sections loaded */
#define SNAPFUZZ_REG_T_TOTAL        0x58  /* RO ns: whole restore */
#define SNAPFUZZ_REG_TIMEOUT_MS     0x5c  /* RO per-input timeout, 0: none */
#define SNAPFUZZ_REG_MAX_INPUTS     0x60  /* RO input budget, 0: unlimited */
#define SNAPFUZZ_REG_DEPTH          0x64  /* RO snapshots pushed on the root */
#define SNAPFUZZ_REG_T_TURNAROUND   0x68  /* RO ns: DONE to next input */
#define SNAPFUZZ_REG_MSG            0x100 /* RW 256-byte message buffer */
#define SNAPFUZZ_MSG_SIZE           0x100
#define SNAPFUZZ_BAR0_SIZE          0x1000

#define SNAPFUZZ_MAGIC              0x7a666e73  /* "snfz", little endian */
#define SNAPFUZZ_VERSION            3
#define SNAPFUZZ_MAX_DEPTH          8   /* snapshots above the root */

/* SNAPFUZZ_REG_CAPS */
#define SNAPFUZZ_CAP_TIMEOUT        (1u << 0)   /* per-input timeout */
#define SNAPFUZZ_CAP_VERIFY         (1u << 1)   /* RAM checked after restore */
#define SNAPFUZZ_CAP_AFL            (1u << 2)   /* inputs come from AFL++ */
#define SNAPFUZZ_CAP_TCG            (1u << 3)   /* translated code flushed */
#define SNAPFUZZ_CAP_INCREMENTAL    (1u << 4)   /* PUSH/POP */

/* SNAPFUZZ_REG_CMD */
#define SNAPFUZZ_CMD_SNAPSHOT       1
#define SNAPFUZZ_CMD_RESTORE        2
#define SNAPFUZZ_CMD_NEXT_INPUT     3
#define SNAPFUZZ_CMD_DONE           4
#define SNAPFUZZ_CMD_CRASH          5
#define SNAPFUZZ_CMD_LOG            6
#define SNAPFUZZ_CMD_PUSH           7
#define SNAPFUZZ_CMD_POP            8

/* SNAPFUZZ_REG_STATUS */
#define SNAPFUZZ_ST_OK              0
#define SNAPFUZZ_ST_BUSY            1
#define SNAPFUZZ_ST_ERR_CMD         2   /* unknown command */
#define SNAPFUZZ_ST_ERR_ORDER       3   /* not valid in this state */
#define SNAPFUZZ_ST_ERR_VALUE       4   /* bad ARG */
#define SNAPFUZZ_ST_ERR_NO_SNAPSHOT 5   /* RESTORE before any snapshot */
#define SNAPFUZZ_ST_EXHAUSTED       6   /* no more inputs */
#define SNAPFUZZ_ST_ERR_HOST        7   /* the host could not do it */

/* SNAPFUZZ_REG_STATE */
#define SNAPFUZZ_STATE_NONE         0   /* no snapshot */
#define SNAPFUZZ_STATE_READY        1   /* snapshot, no input running */
#define SNAPFUZZ_STATE_INPUT        2   /* an input is running */

/* SNAPFUZZ_REG_LAST_RESULT */
#define SNAPFUZZ_RESULT_NONE        0
#define SNAPFUZZ_RESULT_DONE        1
#define SNAPFUZZ_RESULT_CRASH       2
#define SNAPFUZZ_RESULT_TIMEOUT     3

/* SNAPFUZZ_REG_LAST_ARG after a crash: who ended the input */
#define SNAPFUZZ_CRASH_HARNESS          0   /* the CRASH command */
#define SNAPFUZZ_CRASH_GUEST_RESET      1   /* reset, triple fault */
#define SNAPFUZZ_CRASH_GUEST_SHUTDOWN   2   /* power off */
#define SNAPFUZZ_CRASH_GUEST_PANIC      3   /* reported panic (pvpanic) */

#endif
