/*
 * The libFuzzer entry points of the disk image fuzzer
 *
 * Copyright (c) 2026 QEMU Storage Series
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_IMAGE_FUZZ_H
#define TESTS_IMAGE_FUZZ_H

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv, char ***envp);

#endif
