/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A DDM for test_iopd's shutdown check: it abandons every UtilPrivate it is
 * given (iop_request_abandon, as the bsa DDM does when its io_uring breaks
 * with I/O in flight), so those requests are never answered and their
 * channel never goes idle. UtilClaim is answered, so a host can see the
 * target is there.
 */
#include <errno.h>

#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lct.h"

static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE };

static int handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	if (iop_request_hdr(r)->function == IOP_UTIL_PRIVATE) {
		iop_request_abandon(r);
		return IOP_DDM_PENDING;
	}
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS) == -ENOMEM
		       ? IOP_DDM_RETRY
		       : IOP_DDM_DONE;
}

static const struct iop_ddm_ops ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "abandons",
	.class_id = IOP_CLASS_DDM,
	.functions = functions,
	.n_functions = sizeof(functions),
	.handle = handle,
};

IOP_DDM_EXPORT(ops)
