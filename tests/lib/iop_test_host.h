/* SPDX-License-Identifier: BSD-3-Clause */
/* What tests of host programs ask a running iopd, through the host library. */
#ifndef IOP_TEST_HOST_H
#define IOP_TEST_HOST_H

#include <stdint.h>

/*
 * The inbound and outbound heaps' bytes in use, as ExecStatusGet reports
 * them, asked by a host of this process that attaches for the question.
 * @return 0, or a negative errno.
 */
int iop_test_heap_use(const char *sock_path, uint32_t *in, uint32_t *out);

/*
 * Wait (up to 5 s) until the heaps' use is back to in0/out0, as iopd takes
 * back what a gone host held. *in and *out get the last use read.
 * @return 0 when it came back, -ETIMEDOUT, or what iop_test_heap_use said.
 */
int iop_test_heap_use_back(const char *sock_path, uint32_t in0, uint32_t out0, uint32_t *in,
			   uint32_t *out);

#endif /* IOP_TEST_HOST_H */
