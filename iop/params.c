/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UtilParamsGet and UtilParamsSet, answered by the runtime for every target
 * (unless a DDM lists them as its own): the runtime's group of counters for
 * any target, and the DDM's own groups through its params callbacks. The
 * frame layout is in <iop/ddm.h> (IOP_PARAMS_GROUP_RUNTIME).
 */
#include <errno.h>

#include <rte_byteorder.h>

#include "runtime_impl.h"

#define PARAMS_GROUP_WORD 4u
#define PARAMS_COUNT_WORD 5u
#define PARAMS_FIELDS_WORD 6u

static unsigned target_stats(const struct iop_ddm *d, uint64_t *f)
{
	f[0] = STAT_GET(d->stats.requests);
	f[1] = STAT_GET(d->stats.replies);
	f[2] = STAT_GET(d->stats.failures);
	f[3] = STAT_GET(d->stats.unsupported);
	f[4] = STAT_GET(d->stats.double_replies);
	f[5] = STAT_GET(d->stats.missing_replies);
	f[6] = STAT_GET(d->stats.retries);
	f[7] = STAT_GET(d->stats.in_flight);
	return 8;
}

static int params_get(struct iop_ddm *d, struct iop_request *r, uint16_t group)
{
	uint64_t fields[IOP_PARAMS_MAX_FIELDS];
	unsigned words;
	uint32_t *p;
	int n;

	if (group == IOP_PARAMS_GROUP_TARGET_STATS)
		n = (int)target_stats(d, fields);
	else if (group < IOP_PARAMS_GROUP_RUNTIME && d->ops->params_get != NULL)
		n = d->ops->params_get(d, group, fields, IOP_PARAMS_MAX_FIELDS);
	else
		n = -ENOENT;
	if (n < 0 || n > (int)IOP_PARAMS_MAX_FIELDS)
		return request_answer(r, n == -ENOENT ? IOP_DSC_INVALID_PARAMETER : IOP_DSC_UNKNOWN_ERROR);
	words = PARAMS_FIELDS_WORD + 2 * (unsigned)n;
	p = iop_request_reply_alloc(r, words);
	if (p == NULL)
		return IOP_DDM_RETRY;
	p[PARAMS_COUNT_WORD] = rte_cpu_to_le_32((uint32_t)n);
	for (int i = 0; i < n; i++) {
		p[PARAMS_FIELDS_WORD + 2 * i] = rte_cpu_to_le_32((uint32_t)fields[i]);
		p[PARAMS_FIELDS_WORD + 2 * i + 1] = rte_cpu_to_le_32((uint32_t)(fields[i] >> 32));
	}
	iop_request_reply_send(r, p, words, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
	return IOP_DDM_DONE;
}

static int params_set(struct iop_ddm *d, struct iop_request *r, uint16_t group)
{
	uint64_t fields[IOP_PARAMS_MAX_FIELDS];
	uint32_t n;
	int rc;

	if (r->hdr.size_words <= PARAMS_COUNT_WORD)
		return request_answer(r, IOP_DSC_MISSING_PARAMETER);
	n = rte_le_to_cpu_32(r->frame[PARAMS_COUNT_WORD]);
	if (n > IOP_PARAMS_MAX_FIELDS)
		return request_answer(r, IOP_DSC_INVALID_PARAMETER);
	if (r->hdr.size_words < PARAMS_FIELDS_WORD + 2 * n)
		return request_answer(r, IOP_DSC_MESSAGE_TOO_SMALL);
	if (group >= IOP_PARAMS_GROUP_RUNTIME || d->ops->params_set == NULL)
		return request_answer(r, IOP_DSC_INVALID_PARAMETER); /* read-only, or nothing to set */
	for (uint32_t i = 0; i < n; i++)
		fields[i] = rte_le_to_cpu_32(r->frame[PARAMS_FIELDS_WORD + 2 * i]) |
			    (uint64_t)rte_le_to_cpu_32(r->frame[PARAMS_FIELDS_WORD + 2 * i + 1]) << 32;
	rc = d->ops->params_set(d, group, fields, n);
	return request_answer(r, rc == 0 ? IOP_DSC_SUCCESS :
		      rc == -ENOENT || rc == -EINVAL || rc == -EPERM ? IOP_DSC_INVALID_PARAMETER :
							    IOP_DSC_UNKNOWN_ERROR);
}

int params_handle(struct iop_ddm *d, struct iop_request *r)
{
	uint16_t group;

	if (r->hdr.size_words <= PARAMS_GROUP_WORD)
		return request_answer(r, IOP_DSC_MISSING_PARAMETER);
	group = (uint16_t)rte_le_to_cpu_32(r->frame[PARAMS_GROUP_WORD]);
	return r->hdr.function == IOP_UTIL_PARAMS_GET ? params_get(d, r, group) :
							params_set(d, r, group);
}
