/*
 * snapfuzz: interface for QEMU's libFuzzer target (libfuzzer=on)
 *
 * The target (tests/qtest/fuzz/snapfuzz_fuzz.c) runs QEMU's main loop in
 * its own thread.  It hands the device its coverage map before QEMU starts,
 * waits for the guest's first NEXT_INPUT, and then, per libFuzzer input,
 * starts the input and runs the main loop until the input has ended and
 * the device waits for the next one (the VM restored, the vCPUs paused).
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef HW_MISC_SNAPFUZZ_FUZZ_H
#define HW_MISC_SNAPFUZZ_FUZZ_H

/*
 * The coverage map the device's BAR 2 shows with libfuzzer=on; call before
 * the device is realized.  It must stay allocated.
 */
void snapfuzz_fuzz_set_coverage(uint8_t *map, size_t len);

/* True when the device exists and waits for an input, vCPUs paused. */
bool snapfuzz_fuzz_waiting(void);

/*
 * Start an input (snapfuzz_fuzz_waiting() must be true); data is copied,
 * truncated to the input window.
 */
void snapfuzz_fuzz_start(const uint8_t *data, size_t size);

/*
 * True when the input started last has ended; *result is how
 * (SNAPFUZZ_RESULT_*).
 */
bool snapfuzz_fuzz_ended(uint32_t *result);

/* The device's timeout property (ms), 0 when there is none or no device. */
uint32_t snapfuzz_fuzz_timeout_ms(void);

/*
 * The bounds of the section of the inline 8-bit counters that
 * -fsanitize-coverage puts in instrumented code (defined by the linker;
 * NULL when nothing is instrumented).  The target clears QEMU's own
 * counters after each input, so that libFuzzer sees only the guest's.
 */
extern uint8_t __start___sancov_cntrs[] __attribute__((weak));
extern uint8_t __stop___sancov_cntrs[] __attribute__((weak));

#endif
