/*
 * The inline 8-bit counters of SanitizerCoverage
 *
 * -fsanitize-coverage=inline-8bit-counters puts one counter per edge of
 * instrumented code into the section __sancov_cntrs; the linker defines
 * its bounds.  Weak: NULL when nothing is instrumented.
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */
#ifndef TESTS_QTEST_FUZZ_SANCOV_H
#define TESTS_QTEST_FUZZ_SANCOV_H

extern uint8_t __start___sancov_cntrs[] __attribute__((weak));
extern uint8_t __stop___sancov_cntrs[] __attribute__((weak));

#endif
