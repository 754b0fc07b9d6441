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
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
#elif defined(DEFECT_OWN_STATS_GROUP)
/* Answers UtilParamsGet itself, the runtime's group 0xF000 included. */
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE, IOP_UTIL_PARAMS_GET };
#elif defined(DEFECT_SHORT_PARAMS_REPLIES)
/* Answers UtilParamsGet itself, as any request: 5 words, SUCCESS, no field count. */
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE, IOP_UTIL_PARAMS_GET };
#elif defined(DEFECT_ANSWERS_EVENT_REGISTER)
/* Takes UtilEventRegister over from the runtime, and answers it as any request. */
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE, IOP_UTIL_EVENT_REGISTER };
#else
static const uint8_t functions[] = { IOP_UTIL_CLAIM, IOP_UTIL_PRIVATE };
#endif

#if defined(DEFECT_ANSWERS_EVERY_GROUP)
/* One field for any group asked: never -ENOENT, so a host cannot tell which groups exist. */
static int params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	(void)d;
	(void)group;
	if (max < 1)
		return -ENOSPC;
	fields[0] = 7;
	return 1;
}
#elif defined(DEFECT_SET_CHANGES_READ_ONLY)
/* Group 0: two fields, read-only, which its params_set writes before refusing. */
struct state {
	uint64_t group0[2];
};

static int params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	struct state *st = iop_ddm_priv(d);

	if (group != 0)
		return -ENOENT;
	if (max < 2)
		return -ENOSPC;
	fields[0] = st->group0[0];
	fields[1] = st->group0[1];
	return 2;
}

static int params_set(struct iop_ddm *d, uint16_t group, const uint64_t *fields, unsigned n)
{
	struct state *st = iop_ddm_priv(d);

	if (group != 0)
		return -ENOENT;
	for (unsigned i = 0; i < n && i < 2; i++)
		st->group0[i] = fields[i]; /* before the check it should have made first */
	return -EPERM;
}
#elif defined(LIVE_COUNTER)
/*
 * Not a defect: group 0 of two read-only fields, a constant and a counter
 * that moves by itself (here, at each read), as a port's statistics do.
 */
struct state {
	uint64_t reads;
};

static int params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	struct state *st = iop_ddm_priv(d);

	if (group != 0)
		return -ENOENT;
	if (max < 2)
		return -ENOSPC;
	fields[0] = 7;
	fields[1] = ++st->reads;
	return 2;
}

static int params_set(struct iop_ddm *d, uint16_t group, const uint64_t *fields, unsigned n)
{
	(void)d;
	(void)fields;
	(void)n;
	return group == 0 ? -EPERM : -ENOENT;
}
#elif defined(DEFECT_OWN_STATS_GROUP)
/* Its own count of what reached it, given out as the runtime's target stats. */
struct state {
	uint32_t handled, answered;
};

static int own_params_get(struct state *st, struct iop_request *r)
{
	const uint32_t *f = iop_request_frame(r);
	uint32_t *p;

	st->handled++;
	if (iop_request_hdr(r)->size_words < 5 ||
	    (le32toh(f[4]) & 0xFFFFu) != IOP_PARAMS_GROUP_TARGET_STATS) {
		st->answered++;
		return iop_request_reply(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
					 IOP_DSC_INVALID_PARAMETER) == 0 ? IOP_DDM_DONE : IOP_DDM_RETRY;
	}
	p = iop_request_reply_alloc(r, 6 + 2 * 8);
	if (p == NULL)
		return IOP_DDM_RETRY;
	memset(p + 5, 0, (1 + 2 * 8) * 4);
	p[5] = htole32(8);
	p[6] = htole32(st->handled);  /* requests: only those it was handed */
	p[8] = htole32(st->answered); /* replies */
	p[20] = htole32(1);           /* in flight: this one */
	st->answered++;
	iop_request_reply_send(r, p, 6 + 2 * 8, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
	return IOP_DDM_DONE;
}
#endif

#if defined(DEFECT_TRUSTS_PAYLOAD)
/*
 * A status per sub-command, chosen by word 4 of the request with no bound:
 * any word 4 past the table reads far outside it. The runtime cannot know
 * what the DDM's words mean, so only the DDM can check this one.
 */
static const uint64_t status_of[2] = { IOP_REPLY_STATUS_SUCCESS, IOP_REPLY_STATUS_SUCCESS };

static uint8_t sub_command_status(const struct iop_request *r)
{
	const uint32_t *f = iop_request_frame(r);
	uint32_t cmd = iop_request_hdr(r)->size_words > 4 ? le32toh(f[4]) : 0;

	return (uint8_t)*(const volatile uint64_t *)&status_of[cmd];
}
#endif

#if defined(DEFECT_HANGS_ON_PAYLOAD)
/*
 * Waits, on its loop, for a sub-command (word 4) it does not know to be
 * done by a device that never does it: the loop never turns again.
 */
static void wait_for_sub_command(const struct iop_request *r)
{
	const uint32_t *f = iop_request_frame(r);

	if (iop_request_hdr(r)->size_words > 4 && le32toh(f[4]) > 1)
		for (;;)
			sleep(1);
}
#endif

#if defined(DEFECT_HANGS_LATE)
/* From its ninth request on, its loop never turns again. */
static void hang_after_eight(void)
{
	static unsigned handled;

	if (++handled > 8)
		for (;;)
			sleep(1);
}
#endif

#if defined(DEFECT_HANGS_AT_EXIT)
/* Registered by the first request: only a process that ran a test hangs in exit. */
static void hang_forever(void)
{
	for (;;)
		pause();
}

static void hang_at_exit(void)
{
	static bool registered;

	if (!registered)
		registered = atexit(hang_forever) == 0;
}
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
#if defined(DEFECT_OWN_STATS_GROUP)
	if (iop_request_hdr(r)->function == IOP_UTIL_PARAMS_GET)
		return own_params_get(iop_ddm_priv(d), r);
	((struct state *)iop_ddm_priv(d))->handled++;
	((struct state *)iop_ddm_priv(d))->answered++;
#endif
#if defined(DEFECT_HANGS_ON_PAYLOAD)
	wait_for_sub_command(r);
#endif
#if defined(DEFECT_HANGS_LATE)
	hang_after_eight();
#endif
#if defined(DEFECT_HANGS_AT_EXIT)
	hang_at_exit();
#endif
#if defined(DEFECT_LEAKS_A_FRAME)
	/* Scratch space from the outbound heap, never given back. */
	if (iop_heap_alloc(iop_window_outbound(iop_request_window(r)), 64) == NULL)
		return IOP_DDM_RETRY;
#endif
	p = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	if (p == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
#if defined(DEFECT_TRUSTS_PAYLOAD)
	iop_request_reply_send(r, p, IOP_REPLY_WORDS, sub_command_status(r), IOP_DSC_SUCCESS);
#else
	iop_request_reply_send(r, p, IOP_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
#endif
#if defined(DEFECT_REPLIES_TWICE)
	(void)iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
#elif defined(DEFECT_CHANGES_A_CONTEXT) || defined(DEFECT_HANGS_LATE)
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
#if defined(DEFECT_ANSWERS_EVERY_GROUP) || defined(DEFECT_SET_CHANGES_READ_ONLY) || \
	defined(LIVE_COUNTER)
	.params_get = params_get,
#endif
#if defined(DEFECT_SET_CHANGES_READ_ONLY) || defined(LIVE_COUNTER)
	.params_set = params_set,
#endif
#if defined(DEFECT_SET_CHANGES_READ_ONLY) || defined(DEFECT_OWN_STATS_GROUP) || \
	defined(LIVE_COUNTER)
	.priv_size = sizeof(struct state),
#endif
#if defined(DEFECT_QUIESCE_NEVER_DONE)
	.quiesce = quiesce,
#endif
};

IOP_DDM_EXPORT(ops)
