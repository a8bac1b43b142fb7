/*
 * QTest testcase for the snapfuzz snapshot fuzzing device
 *
 * The register interface, every command and its errors, and restore
 * semantics: guest RAM written, snapshot taken, RAM changed, snapshot
 * restored, RAM compared; the input and coverage windows left alone.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#include "qemu/osdep.h"
#include <sys/resource.h>
#include "libqtest.h"
#include "qobject/qdict.h"
#include "qemu/timer.h"
#include "libqos/pci.h"
#include "libqos/pci-pc.h"
#include "hw/misc/snapfuzz.h"
#include "hw/pci/pci_regs.h"

#define RAM_A   0x00200000      /* 16 pages written before the snapshot */
#define RAM_B   0x01000000      /* 4 pages written only after it */
#define NPAGES  16

#define PCI_VENDOR_ID_REDHAT 0x1b36

typedef struct Snapfuzz {
    QTestState *qts;
    QPCIBus *bus;
    QPCIDevice *dev;
    QPCIBar regs, input, cov;
} Snapfuzz;

/* Enable the device and map its BARs (again after a reset). */
static void sf_map(Snapfuzz *sf)
{
    qpci_device_enable(sf->dev);
    sf->regs = qpci_iomap(sf->dev, 0, NULL);
    sf->input = qpci_iomap(sf->dev, 1, NULL);
    sf->cov = qpci_iomap(sf->dev, 2, NULL);
}

static void sf_start_args(Snapfuzz *sf, const char *props, const char *args)
{
    sf->qts = qtest_initf("-machine pc -m 128 -device snapfuzz,addr=04.0%s%s"
                          " %s", props ? "," : "", props ? props : "",
                          args ? args : "");
    sf->bus = qpci_new_pc(sf->qts, NULL);
    sf->dev = qpci_device_find(sf->bus, QPCI_DEVFN(4, 0));
    g_assert(sf->dev);
    sf_map(sf);
}

static void sf_start(Snapfuzz *sf, const char *props)
{
    sf_start_args(sf, props, NULL);
}

static void sf_stop(Snapfuzz *sf)
{
    g_free(sf->dev);
    qpci_free_pc(sf->bus);
    qtest_quit(sf->qts);
}

static uint32_t rd(Snapfuzz *sf, uint32_t reg)
{
    return qpci_io_readl(sf->dev, sf->regs, reg);
}

static void wr(Snapfuzz *sf, uint32_t reg, uint32_t val)
{
    qpci_io_writel(sf->dev, sf->regs, reg, val);
}

/* Issue a command and wait for it: the device runs it in a bottom half. */
static uint32_t cmd(Snapfuzz *sf, uint32_t c, uint32_t arg)
{
    uint32_t st;
    int i;

    wr(sf, SNAPFUZZ_REG_ARG, arg);
    wr(sf, SNAPFUZZ_REG_CMD, c);
    for (i = 0; i < 10000; i++) {
        st = rd(sf, SNAPFUZZ_REG_STATUS);
        if (st != SNAPFUZZ_ST_BUSY) {
            return st;
        }
        g_usleep(1000);
    }
    g_assert_not_reached();
}

static void fill(Snapfuzz *sf, uint64_t addr, int pages, uint8_t seed)
{
    g_autofree uint8_t *buf = g_malloc(pages * 4096);

    for (int i = 0; i < pages * 4096; i++) {
        buf[i] = seed + i * 7 + (i >> 12);
    }
    qtest_memwrite(sf->qts, addr, buf, pages * 4096);
}

static bool check(Snapfuzz *sf, uint64_t addr, int pages, uint8_t seed)
{
    g_autofree uint8_t *buf = g_malloc(pages * 4096);

    qtest_memread(sf->qts, addr, buf, pages * 4096);
    for (int i = 0; i < pages * 4096; i++) {
        if (buf[i] != (uint8_t)(seed + i * 7 + (i >> 12))) {
            return false;
        }
    }
    return true;
}

static void test_registers(void)
{
    Snapfuzz sf;

    sf_start(&sf, NULL);
    g_assert_cmphex(qpci_config_readw(sf.dev, PCI_VENDOR_ID), ==,
                    PCI_VENDOR_ID_REDHAT);
    g_assert_cmphex(qpci_config_readw(sf.dev, PCI_DEVICE_ID), ==, 0x0016);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_MAGIC), ==, SNAPFUZZ_MAGIC);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERSION), ==, SNAPFUZZ_VERSION);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_CAPS), ==,
                    SNAPFUZZ_CAP_TIMEOUT | SNAPFUZZ_CAP_INCREMENTAL);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATUS), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SIZE), ==, 1024 * 1024);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_COV_SIZE), ==, 65536);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_TIMEOUT_MS), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_MAX_INPUTS), ==, 0);

    /* Read-only registers ignore writes; ARG keeps what is written. */
    wr(&sf, SNAPFUZZ_REG_MAGIC, 0);
    wr(&sf, SNAPFUZZ_REG_STATUS, 5);
    wr(&sf, SNAPFUZZ_REG_STATE, 2);
    wr(&sf, SNAPFUZZ_REG_INPUT_SEQ, 9);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_MAGIC), ==, SNAPFUZZ_MAGIC);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATUS), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 0);
    wr(&sf, SNAPFUZZ_REG_ARG, 0xdeadbeef);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_ARG), ==, 0xdeadbeef);
    /* Undefined registers read 0; narrow register accesses do nothing. */
    g_assert_cmphex(rd(&sf, 0x80), ==, 0);
    g_assert_cmphex(rd(&sf, 0xffc), ==, 0);
    g_assert_cmphex(qpci_io_readw(sf.dev, sf.regs, SNAPFUZZ_REG_MAGIC), ==, 0);
    qpci_io_writeb(sf.dev, sf.regs, SNAPFUZZ_REG_CMD, SNAPFUZZ_CMD_SNAPSHOT);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);

    /* The message buffer takes any access size. */
    qpci_io_writeb(sf.dev, sf.regs, SNAPFUZZ_REG_MSG, 'h');
    qpci_io_writeb(sf.dev, sf.regs, SNAPFUZZ_REG_MSG + 1, 'i');
    qpci_io_writew(sf.dev, sf.regs, SNAPFUZZ_REG_MSG + 2, '!');
    qpci_io_writel(sf.dev, sf.regs, SNAPFUZZ_REG_MSG + 0xfc, 0x64636261);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_MSG), ==, 0x216968);
    g_assert_cmphex(qpci_io_readb(sf.dev, sf.regs, SNAPFUZZ_REG_MSG + 0xff),
                    ==, 'd');
    sf_stop(&sf);
}

static void test_command_errors(void)
{
    Snapfuzz sf;

    sf_start(&sf, NULL);
    g_assert_cmpuint(cmd(&sf, 0, 0), ==, SNAPFUZZ_ST_ERR_CMD);
    g_assert_cmpuint(cmd(&sf, 9, 0), ==, SNAPFUZZ_ST_ERR_CMD);
    g_assert_cmpuint(cmd(&sf, 0xffffffff, 0), ==, SNAPFUZZ_ST_ERR_CMD);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==,
                     SNAPFUZZ_ST_ERR_NO_SNAPSHOT);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_CRASH, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_CRASH, 257), ==,
                     SNAPFUZZ_ST_ERR_VALUE);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_LOG, 257), ==,
                     SNAPFUZZ_ST_ERR_VALUE);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_LOG, 0xffffffff), ==,
                     SNAPFUZZ_ST_ERR_VALUE);
    /* An error changes nothing else. */
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 0);

    qpci_memwrite(sf.dev, sf.regs, SNAPFUZZ_REG_MSG, "hello", 5);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_LOG, 5), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_LOG, 256), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_LOG, 0), ==, SNAPFUZZ_ST_OK);
    sf_stop(&sf);
}

static void test_restore(void)
{
    Snapfuzz sf;

    sf_start(&sf, "verify=on");
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_CAPS) & SNAPFUZZ_CAP_VERIFY, ==,
                    SNAPFUZZ_CAP_VERIFY);
    fill(&sf, RAM_A, NPAGES, 1);
    qpci_io_writel(sf.dev, sf.input, 0, 0x11111111);
    qpci_io_writel(sf.dev, sf.cov, 0, 0x22222222);

    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_READY);

    /* Change RAM and both windows, then restore. */
    fill(&sf, RAM_A, NPAGES, 2);
    fill(&sf, RAM_B, 4, 3);
    g_assert_false(check(&sf, RAM_A, NPAGES, 1));
    qpci_io_writel(sf.dev, sf.input, 0, 0x33333333);
    qpci_io_writel(sf.dev, sf.cov, 0, 0x44444444);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, NPAGES, 1));
    g_assert_false(check(&sf, RAM_B, 4, 3));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DIRTY_PAGES), >=, NPAGES + 4);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_T_TOTAL), >, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_READY);
    /* The windows are not restored. */
    g_assert_cmphex(qpci_io_readl(sf.dev, sf.input, 0), ==, 0x33333333);
    g_assert_cmphex(qpci_io_readl(sf.dev, sf.cov, 0), ==, 0x44444444);

    /* Again: the same snapshot, only the new writes copied back. */
    fill(&sf, RAM_A + 4096, 1, 9);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, NPAGES, 1));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DIRTY_PAGES), >=, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DIRTY_PAGES), <, NPAGES);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 2);

    /* A new root snapshot replaces the old one. */
    fill(&sf, RAM_A, NPAGES, 5);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, NPAGES, 6);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, NPAGES, 5));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    sf_stop(&sf);
}

#define CMOS_INDEX  0x70
#define CMOS_DATA   0x71
#define CMOS_SCRATCH 0x38       /* a byte of CMOS RAM past the clock's */

static uint8_t cmos_read(Snapfuzz *sf, uint8_t index)
{
    qtest_outb(sf->qts, CMOS_INDEX, index);
    return qtest_inb(sf->qts, CMOS_DATA);
}

static void cmos_write(Snapfuzz *sf, uint8_t index, uint8_t val)
{
    qtest_outb(sf->qts, CMOS_INDEX, index);
    qtest_outb(sf->qts, CMOS_DATA, val);
}

/*
 * Device state: a restore takes a device's state back (here the RTC's CMOS
 * RAM), and loads only the state of devices that changed since the
 * snapshot.  The RTC follows the virtual clock, which stands still under
 * qtest: the RTC's state changes only when written.
 */
static void test_device_state(void)
{
    Snapfuzz sf;
    uint32_t base;

    sf_start_args(&sf, "verify=on", "-rtc clock=vm");
    cmos_write(&sf, CMOS_SCRATCH, 0x5a);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);

    /* Nothing changed: whatever changes at every restore */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    base = rd(&sf, SNAPFUZZ_REG_DEV_SECTIONS);

    /* One more device changed: one more section loaded */
    cmos_write(&sf, CMOS_SCRATCH, 0xa5);
    g_assert_cmphex(cmos_read(&sf, CMOS_SCRATCH), ==, 0xa5);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEV_SECTIONS), ==, base + 1);
    g_assert_cmphex(cmos_read(&sf, CMOS_SCRATCH), ==, 0x5a);

    /* The index register cmos_read() left is the snapshot's: unchanged */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEV_SECTIONS), ==, base);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 3);
    sf_stop(&sf);
}

/*
 * A device that can use guest RAM may keep what it read there without
 * migrating it (virtio's shadow of a ring's available index): its state is
 * loaded by every restore, changed or not.
 */
static void test_device_state_dma(void)
{
    Snapfuzz sf;
    QPCIDevice *rng;
    uint32_t base;

    sf_start_args(&sf, NULL, "-rtc clock=vm -device virtio-rng-pci,addr=05.0");
    rng = qpci_device_find(sf.bus, QPCI_DEVFN(5, 0));
    g_assert(rng);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    base = rd(&sf, SNAPFUZZ_REG_DEV_SECTIONS);

    /* Bus mastering on: a new snapshot, then restores load virtio-rng too */
    qpci_device_enable(rng);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    for (int i = 0; i < 2; i++) {
        g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==,
                         SNAPFUZZ_ST_OK);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEV_SECTIONS), >, base);
    }
    g_free(rng);
    sf_stop(&sf);
}

/* The trace events say what a snapshot and a restore did. */
static void test_trace(void)
{
    g_autofree char *log = NULL;
    g_autofree char *text = NULL;
    g_autofree char *args = NULL;
    Snapfuzz sf;
    int fd;

    fd = g_file_open_tmp("snapfuzz-trace-XXXXXX", &log, NULL);
    g_assert(fd >= 0);
    close(fd);
    args = g_strdup_printf("-trace snapfuzz_* -D %s", log);
    sf_start_args(&sf, NULL, args);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, 3, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==, SNAPFUZZ_ST_OK);
    sf_stop(&sf);

    g_assert_true(g_file_get_contents(log, &text, NULL, NULL));
    g_assert_nonnull(strstr(text, "snapfuzz_command command 1 "));
    g_assert_nonnull(strstr(text, "snapfuzz_snapshot depth 0: "));
    g_assert_nonnull(strstr(text, "snapfuzz_command command 2 "));
    g_assert_nonnull(strstr(text, "snapfuzz_restore to depth 0: "));
    unlink(log);
}

static void test_inputs(void)
{
    Snapfuzz sf;
    uint8_t in1[16], in2[16];

    sf_start(&sf, "max-inputs=3,random-len=16");
    fill(&sf, RAM_A, 2, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_LEN), ==, 16);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                     SNAPFUZZ_RESULT_NONE);
    qpci_memread(sf.dev, sf.input, 0, in1, sizeof(in1));

    /* Commands that need no running input are refused meanwhile. */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);

    /* DONE: restored, and the next input is there. */
    fill(&sf, RAM_A, 2, 2);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 42), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 2, 1));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 2);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                     SNAPFUZZ_RESULT_DONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_ARG), ==, 42);
    qpci_memread(sf.dev, sf.input, 0, in2, sizeof(in2));
    g_assert_true(memcmp(in1, in2, sizeof(in1)) != 0);
    /* DONE to the STATUS read that saw the next input: the restore and more */
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_T_TURNAROUND), >=,
                     rd(&sf, SNAPFUZZ_REG_T_TOTAL));

    /* CRASH with a message. */
    qpci_memwrite(sf.dev, sf.regs, SNAPFUZZ_REG_MSG, "boom", 4);
    fill(&sf, RAM_A, 1, 3);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_CRASH, 4), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 2, 1));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 3);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                     SNAPFUZZ_RESULT_CRASH);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_CRASHES), ==, 1);

    /* The budget is spent: restored, then no input. */
    fill(&sf, RAM_A, 1, 4);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==,
                     SNAPFUZZ_ST_EXHAUSTED);
    g_assert_true(check(&sf, RAM_A, 2, 1));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_READY);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 3);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_EXHAUSTED);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    /* RESTORE goes back into NEXT_INPUT, which has nothing to give. */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==,
                     SNAPFUZZ_ST_EXHAUSTED);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 4);
    sf_stop(&sf);
}

static void test_timeout(void)
{
    Snapfuzz sf;
    uint32_t result, timeouts, st;
    int i;

    sf_start(&sf, "timeout=300,max-inputs=2");
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_TIMEOUT_MS), ==, 300);
    fill(&sf, RAM_A, 1, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, 1, 2);
    /*
     * Under qtest the timeout runs on the virtual clock, which only the
     * test moves: nothing ends the input until then, however slow the host.
     */
    qtest_clock_step(sf.qts, 299 * SCALE_MS);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_TIMEOUTS), ==, 0);
    /* The input never ends; the device ends it and restores. */
    qtest_clock_step(sf.qts, SCALE_MS);
    for (i = 0; i < 1000 && rd(&sf, SNAPFUZZ_REG_INPUT_SEQ) < 2; i++) {
        g_usleep(1000);
    }
    /* End the second input before its own timeout, which waits too. */
    result = rd(&sf, SNAPFUZZ_REG_LAST_RESULT);
    timeouts = rd(&sf, SNAPFUZZ_REG_TIMEOUTS);
    st = cmd(&sf, SNAPFUZZ_CMD_DONE, 0);
    g_assert_cmpuint(result, ==, SNAPFUZZ_RESULT_TIMEOUT);
    g_assert_cmpuint(timeouts, ==, 1);
    g_assert_cmpuint(st, ==, SNAPFUZZ_ST_EXHAUSTED);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 2);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_TIMEOUTS), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                     SNAPFUZZ_RESULT_DONE);
    g_assert_true(check(&sf, RAM_A, 1, 1));
    sf_stop(&sf);
}

/*
 * Snapshots pushed above the root: an input's end restores the top one,
 * with the pages it kept and the root's for the rest; popping it makes
 * inputs end in the root again.
 */
static void test_incremental(void)
{
    const uint64_t page = 4096, ram_c = RAM_A + 4 * page;
    uint8_t before_b[4096], buf[4096];
    Snapfuzz sf;
    int i;

    sf_start(&sf, "verify=on,max-inputs=20");
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_CAPS) & SNAPFUZZ_CAP_INCREMENTAL,
                     !=, 0);
    /* Only during an input */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    fill(&sf, RAM_A, 4, 1);
    fill(&sf, ram_c, 12, 11);
    qtest_memread(sf.qts, RAM_B, before_b, sizeof(before_b));
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);

    /* The input changes 4 pages, then pushes. */
    fill(&sf, RAM_A, 4, 2);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);

    /* Twice: everything changes, and DONE goes back to the push. */
    for (i = 0; i < 2; i++) {
        fill(&sf, RAM_A, 4, 3 + i);
        fill(&sf, ram_c, 12, 13 + i);
        fill(&sf, RAM_B, 1, 9);
        g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 7), ==, SNAPFUZZ_ST_OK);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 2 + i);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_ARG), ==, 7);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 1);
        g_assert_true(check(&sf, RAM_A, 4, 2));
        g_assert_true(check(&sf, ram_c, 12, 11));
        qtest_memread(sf.qts, RAM_B, buf, sizeof(buf));
        g_assert_true(!memcmp(buf, before_b, sizeof(buf)));
    }

    /* A second level, popped again before the input ends */
    fill(&sf, ram_c, 12, 15);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 2);
    fill(&sf, RAM_A, 4, 5);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 4, 2));
    g_assert_true(check(&sf, ram_c, 12, 15));
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 4, 2));
    g_assert_true(check(&sf, ram_c, 12, 11));

    /* Popping the last level: inputs end in the root again. */
    fill(&sf, ram_c, 12, 16);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 0);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 4, 1));
    g_assert_true(check(&sf, ram_c, 12, 11));

    /* At most SNAPFUZZ_MAX_DEPTH levels */
    for (i = 0; i < SNAPFUZZ_MAX_DEPTH; i++) {
        fill(&sf, RAM_A, 1, 20 + i);
        g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    }
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==,
                     SNAPFUZZ_ST_ERR_ORDER);
    fill(&sf, RAM_A, 4, 6);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 1, 20 + SNAPFUZZ_MAX_DEPTH - 1));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    sf_stop(&sf);
}

/*
 * POP after the guest unplugged a device with an option ROM (the eject
 * register of PIIX4's ACPI PCI hotplug): the ROM's RAM block is gone, and
 * POP fails with ERR_HOST, dropping nothing, as a restore fails.  It
 * synced the dirty bits of the freed block and aborted QEMU ("Bad ram
 * offset").
 */
static void test_pop_ram_removed(void)
{
    g_autofree char *rom = NULL;
    g_autofree char *args = NULL;
    char zeroes[8192] = { 0 };
    Snapfuzz sf;
    int fd;

    fd = g_file_open_tmp("snapfuzz-rom-XXXXXX", &rom, NULL);
    g_assert(fd >= 0);
    g_assert_cmpint(write(fd, zeroes, sizeof(zeroes)), ==, sizeof(zeroes));
    close(fd);
    args = g_strdup_printf("-device pci-testdev,addr=05.0,romfile=%s", rom);
    sf_start_args(&sf, "max-inputs=4", args);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    /* Eject slot 5; its ROM's RAM block goes after an RCU grace period */
    qtest_outl(sf.qts, 0xae08, 1 << 5);
    g_usleep(2 * G_USEC_PER_SEC);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==, SNAPFUZZ_ST_ERR_HOST);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);
    sf_stop(&sf);
    unlink(rom);
}

/* The BIOS flash of pflash_restored(): 256 KiB below 4 GiB */
#define FLASH_SIZE  (256 * 1024)
#define FLASH_ADDR  (0x100000000ULL - FLASH_SIZE)

/*
 * The guest programs a word of its flash (pflash_cfi01's word program)
 * during an input: the restore brings the flash back, as it does disks.
 * The flash's RAM changed without a dirty bit, and kept the input's data.
 */
static void test_pflash_restored(void)
{
    g_autofree char *flash = NULL;
    g_autofree char *args = NULL;
    g_autofree uint8_t *erased = g_malloc(FLASH_SIZE);
    uint64_t word = FLASH_ADDR + 0x1000;
    Snapfuzz sf;
    int fd;

    memset(erased, 0xff, FLASH_SIZE);
    fd = g_file_open_tmp("snapfuzz-flash-XXXXXX", &flash, NULL);
    g_assert(fd >= 0);
    g_assert_cmpint(write(fd, erased, FLASH_SIZE), ==, FLASH_SIZE);
    close(fd);
    args = g_strdup_printf("-drive if=pflash,format=raw,unit=0,file=%s",
                           flash);
    sf_start_args(&sf, "verify=on,max-inputs=4", args);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    /* Word program, then back to reading the array */
    qtest_writel(sf.qts, word, 0x40);
    qtest_writel(sf.qts, word, 0x11223344);
    qtest_writel(sf.qts, word, 0xff);
    g_assert_cmphex(qtest_readl(sf.qts, word), ==, 0x11223344);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    qtest_writel(sf.qts, word, 0xff);
    g_assert_cmphex(qtest_readl(sf.qts, word), ==, 0xffffffff);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    sf_stop(&sf);
    unlink(flash);
}

/*
 * The guest inflates a virtio-balloon (legacy interface) by a page of its
 * RAM during an input: the page is the snapshot's after the restore.  The
 * balloon discarded it, which no dirty bit tells, and it came back as
 * zeroes; now RAM discards are disabled while there are snapshots.
 */
static void test_balloon_restored(void)
{
    const uint64_t ring = 0x300000, pfns = 0x302000, page = 0x400000;
    QPCIDevice *balloon;
    QPCIBar io;
    uint16_t num;
    Snapfuzz sf;

    sf_start_args(&sf, "verify=on,max-inputs=4",
                  "-device virtio-balloon-pci,addr=06.0,disable-modern=on");
    balloon = qpci_device_find(sf.bus, QPCI_DEVFN(6, 0));
    g_assert(balloon);
    qpci_device_enable(balloon);
    io = qpci_iomap(balloon, 0, NULL);
    /* ACKNOWLEDGE | DRIVER, no features, the inflate queue at @ring */
    qpci_io_writeb(balloon, io, 0x12, 3);
    qpci_io_writel(balloon, io, 0x04, 0);
    qpci_io_writew(balloon, io, 0x0e, 0);
    num = qpci_io_readw(balloon, io, 0x0c);
    g_assert_cmpuint(num, >, 0);
    qpci_io_writel(balloon, io, 0x08, ring >> 12);
    qpci_io_writeb(balloon, io, 0x12, 7);

    qtest_memset(sf.qts, page, 0xab, 4096);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    /* One descriptor: the page's frame number */
    qtest_writel(sf.qts, pfns, page >> 12);
    qtest_writeq(sf.qts, ring, pfns);
    qtest_writel(sf.qts, ring + 8, 4);
    qtest_writel(sf.qts, ring + 12, 0);
    qtest_writew(sf.qts, ring + num * 16 + 4, 0);
    qtest_writew(sf.qts, ring + num * 16 + 2, 1);
    qpci_io_writew(balloon, io, 0x10, 0);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);

    g_assert_cmphex(qtest_readl(sf.qts, page), ==, 0xabababab);
    g_assert_cmphex(qtest_readl(sf.qts, page + 4092), ==, 0xabababab);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    qpci_iounmap(balloon, io);
    g_free(balloon);
    sf_stop(&sf);
}

#ifdef CONFIG_LINUX
/* Bytes of address space the QEMU process uses. */
static uint64_t qemu_vm_size(Snapfuzz *sf)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status",
                                            (int)qtest_pid(sf->qts));
    g_autofree char *status = NULL;
    const char *vm;

    g_assert_true(g_file_get_contents(path, &status, NULL, NULL));
    vm = strstr(status, "\nVmSize:");
    g_assert_nonnull(vm);
    return g_ascii_strtoull(vm + strlen("\nVmSize:"), NULL, 10) * 1024;
}

/*
 * PUSH copies what the input dirtied.  When the host cannot allocate the
 * copy, PUSH fails with ERR_HOST and the input goes on.  Here QEMU's
 * address space is limited to 16 MiB more than it uses when the input has
 * dirtied 64 MiB.
 */
static void test_push_no_memory(void)
{
    const uint64_t dirty = 0x02000000, len = 64 * 1024 * 1024;
    struct rlimit old, lim;
    Snapfuzz sf;
    pid_t pid;

    sf_start(&sf, "verify=on");
    pid = qtest_pid(sf.qts);
    fill(&sf, RAM_A, 2, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, 2, 2);
    qtest_memset(sf.qts, dirty, 0x5a, len);

    g_assert_cmpint(prlimit(pid, RLIMIT_AS, NULL, &old), ==, 0);
    lim = old;
    lim.rlim_cur = qemu_vm_size(&sf) + 16 * 1024 * 1024;
    g_assert_cmpint(prlimit(pid, RLIMIT_AS, &lim, NULL), ==, 0);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==,
                     SNAPFUZZ_ST_ERR_HOST);
    g_assert_cmpint(prlimit(pid, RLIMIT_AS, &old, NULL), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 1);

    /* The input ends in the root, with every page it wrote put back. */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 2, 1));
    g_assert_cmphex(qtest_readb(sf.qts, dirty), ==, 0);
    g_assert_cmphex(qtest_readb(sf.qts, dirty + len - 1), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);

    /* With the memory back, PUSH works. */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 1);
    sf_stop(&sf);
}
#endif

/*
 * The pages that pushed snapshots keep take at most ram-limit in all,
 * whatever the guest dirties (up to all of its RAM for each of
 * SNAPFUZZ_MAX_DEPTH levels otherwise): a PUSH beyond it fails with
 * ERR_HOST and the input goes on; popping a level gives its pages back.
 */
static void test_push_ram_limit(void)
{
    Snapfuzz sf;

    sf_start(&sf, "verify=on,ram-limit=64k");
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, 17, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==,
                     SNAPFUZZ_ST_ERR_HOST);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_INPUT);
    /* Every page the input wrote is put back */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);

    /* 8 pages, then 8 more: the limit; one more page is beyond it */
    fill(&sf, RAM_A, 8, 2);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    fill(&sf, RAM_B, 8, 3);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    fill(&sf, RAM_A, 1, 4);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==,
                     SNAPFUZZ_ST_ERR_HOST);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 2);

    /* Without the second level, 8 pages fit again */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    fill(&sf, RAM_B, 8, 5);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 2);
    fill(&sf, RAM_A, 8, 6);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 8, 2));
    g_assert_true(check(&sf, RAM_B, 8, 5));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_VERIFY_ERRORS), ==, 0);
    sf_stop(&sf);
}

/*
 * A reset drops the snapshots and puts every register back to its reset
 * value, even with an input running on a pushed snapshot; the device then
 * works as it did after realize.
 */
static void test_reset(void)
{
    Snapfuzz sf;

    sf_start(&sf, "max-inputs=5");
    fill(&sf, RAM_A, 2, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 3), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 1);
    wr(&sf, SNAPFUZZ_REG_ARG, 0x1234);
    wr(&sf, SNAPFUZZ_REG_MSG, 0x64636261);

    qtest_system_reset(sf.qts);
    sf_map(&sf);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATUS), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_ARG), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_LEN), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                     SNAPFUZZ_RESULT_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_ARG), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DIRTY_PAGES), ==, 0);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_T_TOTAL), ==, 0);
    g_assert_cmphex(rd(&sf, SNAPFUZZ_REG_MSG), ==, 0);
    /* The properties stay. */
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_MAX_INPUTS), ==, 5);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SIZE), ==, 1024 * 1024);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_RESTORE, 0), ==,
                     SNAPFUZZ_ST_ERR_NO_SNAPSHOT);

    /* A new root, and inputs end in it. */
    fill(&sf, RAM_A, 2, 7);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 1);
    fill(&sf, RAM_A, 2, 8);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_true(check(&sf, RAM_A, 2, 7));
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 2);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, 1);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_DEPTH), ==, 0);
    sf_stop(&sf);
}

#define PM_IO_BASE      0xb000  /* PIIX4 power management, as set here */
#define PM1_CNT         (PM_IO_BASE + 4)
#define PM1_CNT_SLP_EN  (1 << 13)
#define PIIX_RCR        0xcf9   /* reset control register */
#define RCR_SYS_RST     0x04
#define PVPANIC_PORT    0x505
#define PVPANIC_PANICKED 0x01

/* Wait for the next input to start; returns its INPUT_SEQ. */
static uint32_t wait_next_input(Snapfuzz *sf, uint32_t seq)
{
    uint32_t now = seq;

    for (int i = 0; i < 5000 && now == seq; i++) {
        g_usleep(1000);
        now = rd(sf, SNAPFUZZ_REG_INPUT_SEQ);
    }
    return now;
}

/*
 * The guest resets the machine, powers it off or reports a panic while an
 * input runs: each is that input's crash.  The snapshot is restored and
 * the next input starts; LAST_ARG tells which it was.  The machine is not
 * reset (the device keeps its counters) and QEMU does not exit.  Outside
 * of an input, a reset is a reset.
 */
static void test_guest_end(void)
{
    static const struct {
        const char *what;
        uint32_t arg;
    } ends[] = {
        { "reset", SNAPFUZZ_CRASH_GUEST_RESET },
        { "shutdown", SNAPFUZZ_CRASH_GUEST_SHUTDOWN },
        { "panic", SNAPFUZZ_CRASH_GUEST_PANIC },
    };
    QPCIDevice *pm;
    QDict *ev;
    Snapfuzz sf;
    int i;

    sf_start_args(&sf, "max-inputs=4", "-device pvpanic");
    pm = qpci_device_find(sf.bus, QPCI_DEVFN(1, 3));
    g_assert(pm);
    qpci_config_writel(pm, 0x40, PM_IO_BASE | 1);
    qpci_config_writeb(pm, 0x80, 1);

    fill(&sf, RAM_A, 2, 1);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    for (i = 0; i < ARRAY_SIZE(ends); i++) {
        g_test_message("guest %s", ends[i].what);
        fill(&sf, RAM_A, 2, 2 + i);
        switch (ends[i].arg) {
        case SNAPFUZZ_CRASH_GUEST_RESET:
            qtest_outb(sf.qts, PIIX_RCR, RCR_SYS_RST);
            break;
        case SNAPFUZZ_CRASH_GUEST_SHUTDOWN:
            qtest_outw(sf.qts, PM1_CNT, PM1_CNT_SLP_EN);
            break;
        default:
            qtest_outb(sf.qts, PVPANIC_PORT, PVPANIC_PANICKED);
            ev = qtest_qmp_eventwait_ref(sf.qts, "GUEST_PANICKED");
            g_assert_cmpstr(qdict_get_str(qdict_get_qdict(ev, "data"),
                                          "action"), ==, "run");
            qobject_unref(ev);
            break;
        }
        g_assert_cmpuint(wait_next_input(&sf, i + 1), ==, i + 2);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==,
                         SNAPFUZZ_STATE_INPUT);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_RESULT), ==,
                         SNAPFUZZ_RESULT_CRASH);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_LAST_ARG), ==, ends[i].arg);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_CRASHES), ==, i + 1);
        g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_RESTORES), ==, i + 1);
        g_assert_true(check(&sf, RAM_A, 2, 1));
    }

    /* The last input ends; with none left, a reset resets. */
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==,
                     SNAPFUZZ_ST_EXHAUSTED);
    qtest_outb(sf.qts, PIIX_RCR, RCR_SYS_RST);
    qtest_qmp_eventwait(sf.qts, "RESET");
    sf_map(&sf);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_CRASHES), ==, 0);
    g_free(pm);
    sf_stop(&sf);
}

/* qemu-io on drive d0: the guest's writes, as far as the disk can tell */
static void disk_io(Snapfuzz *sf, const char *io)
{
    g_free(qtest_hmp(sf->qts, "qemu-io d0 \"%s\"", io));
}

#define DISK_SIZE (1024 * 1024)

/* What the guest would read from drive d0: a backup of it to @copy */
static void disk_read(Snapfuzz *sf, const char *copy, uint8_t *buf)
{
    int fd;

    qtest_qmp_assert_success(sf->qts,
        "{'execute': 'blockdev-backup', 'arguments': {"
        " 'job-id': 'read', 'device': 'd0', 'target': 'copy',"
        " 'sync': 'full'}}");
    qtest_qmp_eventwait(sf->qts, "BLOCK_JOB_COMPLETED");
    fd = open(copy, O_RDONLY);
    g_assert(fd >= 0);
    g_assert_cmpint(read(fd, buf, DISK_SIZE), ==, DISK_SIZE);
    close(fd);
}

static bool has(const uint8_t *buf, int off, int len, uint8_t want)
{
    for (int i = off; i < off + len; i++) {
        if (buf[i] != want) {
            g_test_message("byte %d is 0x%x, not 0x%x", i, buf[i], want);
            return false;
        }
    }
    return true;
}

static char *disk_file(uint8_t fill)
{
    g_autofree uint8_t *buf = g_malloc(DISK_SIZE);
    char *name;
    int fd;

    fd = g_file_open_tmp("snapfuzz-disk-XXXXXX", &name, NULL);
    g_assert(fd >= 0);
    memset(buf, fill, DISK_SIZE);
    g_assert_cmpint(write(fd, buf, DISK_SIZE), ==, DISK_SIZE);
    close(fd);
    return name;
}

/*
 * Writes to a disk during an input are undone by the restore, at every
 * level of pushed snapshots, and never reach the image; the host memory
 * they take is limited (disk-limit).
 */
static void test_disk(void)
{
    g_autofree uint8_t *buf = g_malloc(DISK_SIZE);
    g_autofree char *img = disk_file(0xaa);
    g_autofree char *copy = disk_file(0);
    g_autofree char *args = NULL;
    Snapfuzz sf;
    int fd;

    /*
     * qemu-io prints on QEMU's standard output, which is this test's TAP
     * stream; libqtest runs QEMU through sh -c, so send it to stderr.
     */
    args = g_strdup_printf("-drive if=none,id=d0,format=raw,file=%s "
                           "-device virtio-blk-pci,drive=d0 "
                           "-blockdev driver=raw,node-name=copy,"
                           "file.driver=file,file.filename=%s 1>&2",
                           img, copy);
    sf_start_args(&sf, "disk-limit=64k", args);

    /* Before the first snapshot, writes reach the image. */
    disk_io(&sf, "write -P 0xbb 64k 4k");
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);

    /* Whole blocks and a part of one */
    disk_io(&sf, "write -P 0x55 0 4k");
    disk_io(&sf, "write -P 0x66 8704 512");
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 0, 4096, 0x55));
    g_assert_true(has(buf, 4096, 4608, 0xaa));
    g_assert_true(has(buf, 8704, 512, 0x66));
    g_assert_true(has(buf, 9216, 3072, 0xaa));
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 0, 65536, 0xaa));
    g_assert_true(has(buf, 65536, 4096, 0xbb));

    /* A pushed snapshot keeps what was written before it. */
    disk_io(&sf, "write -P 0x11 0 8k");
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_PUSH, 0), ==, SNAPFUZZ_ST_OK);
    disk_io(&sf, "write -P 0x22 4k 8k");
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 0, 8192, 0x11));
    g_assert_true(has(buf, 8192, 4096, 0xaa));
    /* Popped: the writes stay, and the next end goes back to the root. */
    disk_io(&sf, "write -P 0x33 0 4k");
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_POP, 0), ==, SNAPFUZZ_ST_OK);
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 0, 4096, 0x33));
    g_assert_true(has(buf, 4096, 4096, 0x11));
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 0, 65536, 0xaa));

    /* 64 KiB of written blocks at most: then errors, not host memory */
    disk_io(&sf, "write -P 0x44 128k 64k");
    disk_io(&sf, "write -P 0x44 256k 4k");
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 131072, 65536, 0x44));
    g_assert_true(has(buf, 262144, 4096, 0xaa));
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    disk_io(&sf, "write -P 0x44 256k 4k");
    disk_read(&sf, copy, buf);
    g_assert_true(has(buf, 262144, 4096, 0x44));
    sf_stop(&sf);

    /* The image has only what was written before the snapshot. */
    fd = open(img, O_RDONLY);
    g_assert(fd >= 0);
    g_assert_cmpint(read(fd, buf, DISK_SIZE), ==, DISK_SIZE);
    close(fd);
    g_assert_true(has(buf, 0, 65536, 0xaa));
    g_assert_true(has(buf, 65536, 4096, 0xbb));
    g_assert_true(has(buf, 69632, DISK_SIZE - 69632, 0xaa));
    unlink(img);
    unlink(copy);
}

#define ATA_DATA    0x1f0
#define ATA_NSECT   0x1f2
#define ATA_LBA0    0x1f3
#define ATA_DEVICE  0x1f6
#define ATA_CMD     0x1f7   /* the status register when read */
#define ATA_BUSY    0x80
#define ATA_DRQ     0x08
#define ATA_ERR     0x01

static uint8_t ata_wait(Snapfuzz *sf, uint8_t mask)
{
    uint8_t st;

    for (int i = 0; i < 10000; i++) {
        st = qtest_inb(sf->qts, ATA_CMD);
        if (!(st & ATA_BUSY) && (st & mask)) {
            return st;
        }
        g_usleep(100);
    }
    g_assert_not_reached();
}

/* WRITE SECTORS of one sector at @lba, by PIO; the status at the end */
static uint8_t ata_write_sector(Snapfuzz *sf, uint32_t lba)
{
    qtest_outb(sf->qts, ATA_DEVICE, 0xe0 | (lba >> 24));
    qtest_outb(sf->qts, ATA_NSECT, 1);
    qtest_outb(sf->qts, ATA_LBA0, lba);
    qtest_outb(sf->qts, ATA_LBA0 + 1, lba >> 8);
    qtest_outb(sf->qts, ATA_LBA0 + 2, lba >> 16);
    qtest_outb(sf->qts, ATA_CMD, 0x30);
    ata_wait(sf, ATA_DRQ);
    for (int i = 0; i < 256; i++) {
        qtest_outw(sf->qts, ATA_DATA, 0x5a5a);
    }
    return ata_wait(sf, 0x40 | ATA_ERR);    /* DRDY, or an error */
}

/*
 * A guest's disk writes beyond disk-limit during an input fail as I/O
 * errors the guest sees, with the disk's default werror (enospc): the VM
 * runs on, and the input's end restores it.  They failed with ENOSPC,
 * which stopped the VM (io-error) for good: no input ended any more.
 */
static void test_disk_limit_error(void)
{
    g_autofree char *img = disk_file(0xaa);
    g_autofree char *args = NULL;
    QDict *rsp;
    Snapfuzz sf;

    args = g_strdup_printf("-drive if=ide,format=raw,file=%s", img);
    sf_start_args(&sf, "disk-limit=8k,max-inputs=4", args);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_OK);
    /* Three sectors in three 4 KiB blocks: the third one is too many */
    g_assert_cmphex(ata_write_sector(&sf, 0) & ATA_ERR, ==, 0);
    g_assert_cmphex(ata_write_sector(&sf, 8) & ATA_ERR, ==, 0);
    g_assert_cmphex(ata_write_sector(&sf, 16) & ATA_ERR, ==, ATA_ERR);
    rsp = qtest_qmp(sf.qts, "{'execute': 'query-status'}");
    g_assert_cmpstr(qdict_get_str(qdict_get_qdict(rsp, "return"), "status"),
                    ==, "running");
    qobject_unref(rsp);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_DONE, 0), ==, SNAPFUZZ_ST_OK);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_INPUT_SEQ), ==, 2);
    sf_stop(&sf);
    unlink(img);
}

/*
 * A device whose state cannot be saved (ivshmem as a peer blocks
 * migration) would not be restored: SNAPSHOT fails, unless
 * ignore-blockers=on.
 */
static void test_blockers(void)
{
    static const char *ivshmem =
        "-object memory-backend-ram,id=hm,size=1M,share=on "
        "-device ivshmem-plain,memdev=hm";
    Snapfuzz sf;

    sf_start_args(&sf, NULL, ivshmem);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==,
                     SNAPFUZZ_ST_ERR_HOST);
    g_assert_cmpuint(rd(&sf, SNAPFUZZ_REG_STATE), ==, SNAPFUZZ_STATE_NONE);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_NEXT_INPUT, 0), ==,
                     SNAPFUZZ_ST_ERR_HOST);
    sf_stop(&sf);

    sf_start_args(&sf, "ignore-blockers=on", ivshmem);
    g_assert_cmpuint(cmd(&sf, SNAPFUZZ_CMD_SNAPSHOT, 0), ==, SNAPFUZZ_ST_OK);
    sf_stop(&sf);
}

/*
 * QEMU with these options must exit with this message.  Should it start
 * instead, its monitor has it quit (with status 0).
 */
static void check_refused(const char *opts, const char *msg)
{
    g_autofree char *sh = g_strdup_printf(
        "echo quit | exec %s -machine pc -display none -nodefaults "
        "-monitor stdio -S %s", qtest_qemu_binary(NULL), opts);
    char *argv[] = { (char *)"/bin/sh", (char *)"-c", sh, NULL };
    g_autofree char *out = NULL;
    g_autofree char *err = NULL;
    int status;

    g_assert_true(g_spawn_sync(NULL, argv, NULL, 0, NULL, NULL,
                               &out, &err, &status, NULL));
    g_assert_false(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    if (!strstr(err, msg)) {
        g_test_message("stderr: %s", err);
        g_assert_not_reached();
    }
}

/* QEMU with a bad snapfuzz configuration must exit with this message. */
static void check_bad_config(const char *props, const char *msg)
{
    g_autofree char *opts = g_strdup_printf("-accel qtest -device snapfuzz,%s",
                                            props);

    check_refused(opts, msg);
}

/* libfuzzer=on: only in the fuzz target, alone, without max-inputs. */
static void test_libfuzzer_config(void)
{
    check_bad_config("libfuzzer=on", "libfuzzer=on works only in QEMU's "
                     "libFuzzer target");
    check_bad_config("libfuzzer=on,afl=on", "afl=on and libfuzzer=on "
                     "exclude each other");
    check_bad_config("libfuzzer=on,max-inputs=3", "max-inputs cannot be "
                     "used with libfuzzer=on");
}

/* Two devices would snapshot and restore the same VM. */
static void test_one_device(void)
{
    check_refused("-accel qtest -device snapfuzz -device snapfuzz",
                  "only one snapfuzz device is supported");
}

/* icount is not supported: realize fails rather than run without it. */
static void test_icount(void)
{
    if (!qtest_has_accel("tcg")) {
        g_test_skip("icount needs TCG");
        return;
    }
    check_refused("-accel tcg -icount shift=0 -device snapfuzz",
                  "-icount is not supported");
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    qtest_add_func("/snapfuzz/registers", test_registers);
    qtest_add_func("/snapfuzz/command-errors", test_command_errors);
    qtest_add_func("/snapfuzz/restore", test_restore);
    qtest_add_func("/snapfuzz/inputs", test_inputs);
    qtest_add_func("/snapfuzz/device-state", test_device_state);
    qtest_add_func("/snapfuzz/device-state-dma", test_device_state_dma);
    qtest_add_func("/snapfuzz/trace", test_trace);
    qtest_add_func("/snapfuzz/timeout", test_timeout);
    qtest_add_func("/snapfuzz/libfuzzer-config", test_libfuzzer_config);
    qtest_add_func("/snapfuzz/incremental", test_incremental);
    qtest_add_func("/snapfuzz/pop-ram-removed", test_pop_ram_removed);
    qtest_add_func("/snapfuzz/pflash-restored", test_pflash_restored);
    qtest_add_func("/snapfuzz/balloon-restored", test_balloon_restored);
    qtest_add_func("/snapfuzz/push-ram-limit", test_push_ram_limit);
    qtest_add_func("/snapfuzz/reset", test_reset);
    qtest_add_func("/snapfuzz/guest-end", test_guest_end);
    qtest_add_func("/snapfuzz/disk", test_disk);
    qtest_add_func("/snapfuzz/disk-limit-error", test_disk_limit_error);
    if (qtest_has_device("ivshmem-plain")) {
        qtest_add_func("/snapfuzz/blockers", test_blockers);
    }
    qtest_add_func("/snapfuzz/one-device", test_one_device);
    qtest_add_func("/snapfuzz/icount", test_icount);
#ifdef CONFIG_LINUX
    qtest_add_func("/snapfuzz/push-no-memory", test_push_no_memory);
#endif
    return g_test_run();
}
