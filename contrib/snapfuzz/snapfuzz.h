/*
 * snapfuzz guest library: the device's interface (docs/specs/snapfuzz.rst)
 *
 * The inline functions below need nothing but the three BARs mapped and
 * work freestanding (a kernel, firmware, bare metal): fill in a struct
 * snapfuzz with the BARs' addresses and call them.  libsnapfuzz.c adds
 * sf_open() for Linux user space, which finds the device in sysfs and maps
 * its BARs.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef SNAPFUZZ_GUEST_H
#define SNAPFUZZ_GUEST_H

#include <stddef.h>
#include <stdint.h>

#define SF_VENDOR_ID            0x1b36
#define SF_DEVICE_ID            0x0016

#define SF_REG_MAGIC            0x00
#define SF_REG_VERSION          0x04
#define SF_REG_CAPS             0x08
#define SF_REG_STATUS           0x0c
#define SF_REG_STATE            0x10
#define SF_REG_CMD              0x14
#define SF_REG_ARG              0x18
#define SF_REG_INPUT_LEN        0x1c
#define SF_REG_INPUT_SIZE       0x20
#define SF_REG_COV_SIZE         0x24
#define SF_REG_INPUT_SEQ        0x28
#define SF_REG_LAST_RESULT      0x2c
#define SF_REG_LAST_ARG         0x30
#define SF_REG_TIMEOUTS         0x34
#define SF_REG_CRASHES          0x38
#define SF_REG_VERIFY_ERRORS    0x3c
#define SF_REG_RESTORES         0x40
#define SF_REG_DIRTY_PAGES      0x44
#define SF_REG_T_SYNC           0x48
#define SF_REG_T_COPY           0x4c
#define SF_REG_T_DEVICE         0x50
#define SF_REG_DEV_SECTIONS     0x54
#define SF_REG_T_TOTAL          0x58
#define SF_REG_TIMEOUT_MS       0x5c
#define SF_REG_MAX_INPUTS       0x60
#define SF_REG_DEPTH            0x64
#define SF_REG_T_TURNAROUND     0x68
#define SF_REG_MSG              0x100
#define SF_MSG_SIZE             0x100

#define SF_MAGIC                0x7a666e73u

#define SF_CAP_TIMEOUT          (1u << 0)
#define SF_CAP_VERIFY           (1u << 1)
#define SF_CAP_AFL              (1u << 2)
#define SF_CAP_TCG              (1u << 3)
#define SF_CAP_INCREMENTAL      (1u << 4)

#define SF_CMD_SNAPSHOT         1
#define SF_CMD_RESTORE          2
#define SF_CMD_NEXT_INPUT       3
#define SF_CMD_DONE             4
#define SF_CMD_CRASH            5
#define SF_CMD_LOG              6
#define SF_CMD_PUSH             7
#define SF_CMD_POP              8

#define SF_MAX_DEPTH            8

#define SF_ST_OK                0
#define SF_ST_BUSY              1
#define SF_ST_ERR_CMD           2
#define SF_ST_ERR_ORDER         3
#define SF_ST_ERR_VALUE         4
#define SF_ST_ERR_NO_SNAPSHOT   5
#define SF_ST_EXHAUSTED         6
#define SF_ST_ERR_HOST          7

#define SF_STATE_NONE           0
#define SF_STATE_READY          1
#define SF_STATE_INPUT          2

#define SF_RESULT_NONE          0
#define SF_RESULT_DONE          1
#define SF_RESULT_CRASH         2
#define SF_RESULT_TIMEOUT       3

struct snapfuzz {
    volatile uint32_t *regs;    /* BAR 0; volatile: device registers */
    uint8_t *input;             /* BAR 1 */
    size_t input_size;
    uint64_t input_phys;        /* BAR 1's physical address */
    uint8_t *cov;               /* BAR 2 */
    size_t cov_size;
};

static inline uint32_t sf_reg(const struct snapfuzz *sf, unsigned off)
{
    return sf->regs[off / 4];
}

/* Run a command; returns its status (SF_ST_*). */
static inline uint32_t sf_cmd(const struct snapfuzz *sf, uint32_t cmd,
                              uint32_t arg)
{
    uint32_t st;

    sf->regs[SF_REG_ARG / 4] = arg;
    sf->regs[SF_REG_CMD / 4] = cmd;
    do {
        st = sf->regs[SF_REG_STATUS / 4];
    } while (st == SF_ST_BUSY);
    return st;
}

static inline uint32_t sf_put_msg(const struct snapfuzz *sf, const char *msg)
{
    /* volatile: device memory */
    volatile uint8_t *buf = (volatile uint8_t *)sf->regs + SF_REG_MSG;
    uint32_t n = 0;

    while (msg && msg[n] && n < SF_MSG_SIZE) {
        buf[n] = msg[n];
        n++;
    }
    return n;
}

/*
 * The next input.  The first call takes the snapshot; every input after
 * that starts here again, in the restored VM.  Returns SF_ST_OK with the
 * input in *data and *len, SF_ST_EXHAUSTED when there are no more, or an
 * error status.
 */
static inline uint32_t sf_next_input(const struct snapfuzz *sf,
                                     const uint8_t **data, size_t *len)
{
    uint32_t st = sf_cmd(sf, SF_CMD_NEXT_INPUT, 0);

    if (st == SF_ST_OK) {
        *data = sf->input;
        *len = sf_reg(sf, SF_REG_INPUT_LEN);
    }
    return st;
}

/* End the input; returns only on error (the VM is restored). */
static inline uint32_t sf_done(const struct snapfuzz *sf, uint32_t result)
{
    return sf_cmd(sf, SF_CMD_DONE, result);
}

/* End the input as a crash; returns only on error. */
static inline uint32_t sf_crash(const struct snapfuzz *sf, const char *msg)
{
    return sf_cmd(sf, SF_CMD_CRASH, sf_put_msg(sf, msg));
}

/*
 * Take a snapshot above the current one (during an input, version 2,
 * SF_CAP_INCREMENTAL).  Returns SF_ST_OK twice, like fork(): now, with the
 * input going on, and after every DONE, CRASH or timeout that restores it,
 * with the next input in the window: compare SF_REG_INPUT_SEQ.
 */
static inline uint32_t sf_push(const struct snapfuzz *sf)
{
    return sf_cmd(sf, SF_CMD_PUSH, 0);
}

/* Drop the top snapshot: inputs end back in the one below. */
static inline uint32_t sf_pop(const struct snapfuzz *sf)
{
    return sf_cmd(sf, SF_CMD_POP, 0);
}

/* Print a message on the host. */
static inline uint32_t sf_log(const struct snapfuzz *sf, const char *msg)
{
    return sf_cmd(sf, SF_CMD_LOG, sf_put_msg(sf, msg));
}

/*
 * Linux user space (libsnapfuzz.c): find the device, enable it and map
 * its BARs; if the program is built with AFL++'s instrumentation, point
 * it at the coverage map.  Returns 0 or a negative errno.
 */
int sf_open(struct snapfuzz *sf);

/* AFL++'s instrumentation counts edges through this, when linked in. */
extern unsigned char *__afl_area_ptr __attribute__((weak));

#endif
