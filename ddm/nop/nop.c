/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The nop DDM: a utility-class target that does nothing and answers at once.
 * It takes the stateless utility requests (Claim, ClaimRelease,
 * DeviceReserve, DeviceRelease, Lock, LockRelease) and UtilPrivate, each
 * answered SUCCESS with a 5-word reply, so hosts, tests and the message
 * benchmark have a round trip that costs nothing but the message path.
 * UtilNOP (no reply) and everything it does not list are the runtime's.
 */
#include <errno.h>

#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lct.h"

static const uint8_t nop_functions[] = {
	IOP_UTIL_CLAIM, IOP_UTIL_CLAIM_RELEASE, IOP_UTIL_DEVICE_RESERVE, IOP_UTIL_DEVICE_RELEASE,
	IOP_UTIL_LOCK,  IOP_UTIL_LOCK_RELEASE,  IOP_UTIL_PRIVATE,
};

static int nop_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	/* No reply frame free now: the runtime hands the request back later. */
	if (iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS) == -ENOMEM)
		return IOP_DDM_RETRY;
	return IOP_DDM_DONE;
}

static const struct iop_ddm_ops nop_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "nop",
	.class_id = IOP_CLASS_DDM,
	.identity = "nop",
	.functions = nop_functions,
	.n_functions = sizeof(nop_functions),
	.handle = nop_handle,
};

IOP_DDM_REGISTER(nop_ops)
