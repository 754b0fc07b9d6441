/* SPDX-License-Identifier: BSD-3-Clause */
/* A third-party DDM as a shared object, for the loader's tests. */
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lct.h"

#ifndef DDM_NAME
#define DDM_NAME "third-party"
#endif
#ifndef DDM_ABI
#define DDM_ABI IOP_DDM_ABI_VERSION
#endif

static const uint8_t functions[] = { IOP_UTIL_CLAIM };

static int handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == 0 ? IOP_DDM_DONE :
									 IOP_DDM_RETRY;
}

static const struct iop_ddm_ops ops = {
	.abi_version = DDM_ABI,
	.name = DDM_NAME,
	.class_id = IOP_CLASS_DDM,
	.functions = functions,
	.n_functions = 1,
	.handle = handle,
};

#if DDM_ABI == IOP_DDM_ABI_VERSION
IOP_DDM_EXPORT(ops)
#else
/* What a DDM built against another interface exports. */
__attribute__((visibility("default"))) const uint32_t iop_ddm_abi_version = DDM_ABI;
__attribute__((visibility("default"))) const struct iop_ddm_ops *iop_ddm_entry(void);
const struct iop_ddm_ops *iop_ddm_entry(void)
{
	return &ops;
}
#endif
