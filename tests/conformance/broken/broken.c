/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Deliberately broken DDMs, one defect each, for the test that iop-conform
 * catches each one with the check named for it (tests/conformance/broken/
 * check.sh). Built once per defect with -DDEFECT_<NAME>; every one is a
 * DDM-class target that answers UtilClaim and UtilPrivate.
 *
 * The runtime already refuses what it can (a second reply, a reply larger
 * than its frame, contexts rewritten before sending), so the defects here are
 * the ones it cannot prevent: what a DDM does wrong on its own side, or to a
 * reply frame after it sent it (replies are posted at the end of the loop's
 * turn, so such a write always lands before the host sees the reply).
 */
#include <errno.h>

#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_lct.h"
#include "iop_window.h"

#if defined(DEFECT_WRONG_UNKNOWN_STATUS)
/* Claims the utility range's codes that I2O leaves undefined, and says SUCCESS to them. */
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE, 0x02, 0x03, 0x04, 0x07,
				     0x08, 0x0A, 0x0C, 0x0E, 0x10, 0x11, 0x12, 0x16, 0x18,
				     0x1A, 0x1B, 0x1C, 0x1D, 0x1E, 0x1F };
#elif defined(DEFECT_ANSWERS_EVENT_REGISTER)
/* Takes UtilEventRegister over from the runtime, and answers it as any request. */
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE, IOP_UTIL_EVENT_REGISTER };
#else
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE };
#endif

#if defined(DEFECT_NEVER_REPLIES)
static int handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	(void)r;
	return IOP_DDM_DONE; /* finished, but no reply sent */
}
#else
static int handle(struct iop_ddm *d, struct iop_request *r)
{
	uint32_t *p;

	(void)d;
#if defined(DEFECT_LEAKS_A_FRAME)
	/* Scratch space from the outbound heap, never given back. */
	if (iop_heap_alloc(iop_window_outbound(iop_request_window(r)), 64) == NULL)
		return IOP_DDM_RETRY;
#endif
	p = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	if (p == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	iop_request_reply_send(r, p, IOP_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
#if defined(DEFECT_REPLIES_TWICE)
	(void)iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
#elif defined(DEFECT_CHANGES_A_CONTEXT)
	p[3] ^= 0x00FF0000u; /* the TransactionContext, after sending */
#elif defined(DEFECT_OVERRUNS_REPLY)
	p[0] = (p[0] & 0xFFFFu) | 64u << 16; /* a MessageSize past its 5-word frame */
#endif
	return IOP_DDM_DONE;
}
#endif

#if defined(DEFECT_QUIESCE_NEVER_DONE)
/* Never done: asked again every turn, so ExecSysQuiesce is never answered. */
static int quiesce(struct iop_ddm *d)
{
	(void)d;
	return -EAGAIN;
}
#endif

static const struct iop_ddm_ops ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = DDM_NAME,
	.class_id = IOP_CLASS_DDM,
	.functions = functions,
	.n_functions = sizeof(functions),
	.handle = handle,
#if defined(DEFECT_QUIESCE_NEVER_DONE)
	.quiesce = quiesce,
#endif
};

IOP_DDM_EXPORT(ops)
