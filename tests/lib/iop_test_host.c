/* SPDX-License-Identifier: BSD-3-Clause */
/* What tests of host programs ask a running iopd: see iop_test_host.h. */
#include <errno.h>

#include "iop_build.h"
#include "iop_host.h"
#include "iop_test_host.h"
#include "iop_test_iopd.h"

#define TIMEOUT_MS 10000u

int iop_test_heap_use(const char *sock_path, uint32_t *in, uint32_t *out)
{
	char err[256];
	struct iop_host *h = iop_host_attach(sock_path, err, sizeof(err));
	struct iop_qp *qp = h != NULL ? iop_qp_create(h, NULL) : NULL;
	uint32_t reply[16], *f = qp != NULL ? iop_qp_frame_alloc(qp, 16) : NULL;
	struct iop_exec_status s;
	struct iop_completion c;
	int rc = h == NULL ? -errno : -ENOMEM;

	if (f != NULL) {
		iop_build_exec_status_get(f, 16);
		rc = iop_qp_call(qp, f, reply, 16, &c, TIMEOUT_MS);
		if (rc == 0)
			rc = iop_read_exec_status(reply, c.reply_words, &s);
	}
	if (rc == 0) {
		*in = s.inbound_in_use;
		*out = s.outbound_in_use;
	}
	if (h != NULL)
		iop_host_detach(h, TIMEOUT_MS);
	return rc;
}

int iop_test_heap_use_back(const char *sock_path, uint32_t in0, uint32_t out0, uint32_t *in,
			   uint32_t *out)
{
	for (int i = 0; i < 100; i++) {
		int rc = iop_test_heap_use(sock_path, in, out);

		if (rc != 0)
			return rc;
		if (*in == in0 && *out == out0)
			return 0;
		iop_test_sleep_ms(50);
	}
	return -ETIMEDOUT;
}
