/* SPDX-License-Identifier: BSD-3-Clause */
/* The bsa DDM's state and the pieces its dispatch (bsa.c) shares with transfer.c. */
#ifndef BSA_BSA_H
#define BSA_BSA_H

#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"

struct iop_request;

/* Bytes WriteVerify and MediaVerify read back at a time. */
#define BSA_SCRATCH_BYTES (256u << 10)

/* Word 5 and words 6-7 of a transfer or MediaVerify request; 8 words at least. */
#define BSA_WORD_BYTE_COUNT 5u
#define BSA_WORD_ADDRESS 6u
#define BSA_REQUEST_WORDS 8u

/* One instance: iop_ddm_priv(). */
struct bsa {
	struct bsa_backend be;
	struct iovec iov[BSA_IOV_BATCH]; /* the batch of SGL buffers being moved */
	unsigned char *scratch;          /* BSA_SCRATCH_BYTES, for reading back */
};

/*
 * The request's block range, checked: 0, or the BSA detailed status to
 * refuse it with (ACCESS_ERROR: not whole blocks or empty; ACCESS_VIOLATION:
 * past the capacity).
 */
uint16_t bsa_check_range(const struct bsa *s, uint64_t addr, uint64_t len);

/* The detailed status of a backend error (a negative errno). */
uint16_t bsa_dsc_of_errno(int rc);

/*
 * BlockRead, BlockWrite, WriteVerify: checked, moved between the SGL's
 * buffers and the backend, answered with the TransferCount.
 * @return an enum iop_ddm_result, or a negative errno.
 */
int bsa_transfer(struct bsa *s, struct iop_request *r);

#endif /* BSA_BSA_H */
