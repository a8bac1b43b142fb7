/*
 * The entry points of the disk image fuzzer
 *
 * Copyright (c) 2026 QEMU Storage Series
 *
 * SPDX-License-Identifier: GPL-2.0-or-later
 */

#ifndef TESTS_IMAGE_FUZZ_H
#define TESTS_IMAGE_FUZZ_H

#include "crypto/pbkdf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv, char ***envp);

/* The link wraps qcrypto_pbkdf2() and qcrypto_pbkdf2_count_iters() */
int __real_qcrypto_pbkdf2(QCryptoHashAlgo hash, const uint8_t *key,
                          size_t nkey, const uint8_t *salt, size_t nsalt,
                          uint64_t iterations, uint8_t *out, size_t nout,
                          Error **errp);
int __wrap_qcrypto_pbkdf2(QCryptoHashAlgo hash, const uint8_t *key,
                          size_t nkey, const uint8_t *salt, size_t nsalt,
                          uint64_t iterations, uint8_t *out, size_t nout,
                          Error **errp);
uint64_t __wrap_qcrypto_pbkdf2_count_iters(QCryptoHashAlgo hash,
                                           const uint8_t *key, size_t nkey,
                                           const uint8_t *salt, size_t nsalt,
                                           size_t nout, Error **errp);

#endif
