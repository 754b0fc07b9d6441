/* SPDX-License-Identifier: BSD-3-Clause */
/* The runtime's counters of one target: UtilParamsGet of group 0xF000. */
#include <errno.h>

#include "iop_build.h"
#include "iop_ddm.h"
#include "iopctl.h"

/* The order the runtime writes them in (IOP_PARAMS_GROUP_TARGET_STATS, docs/runtime.md). */
const char *const iopctl_target_stat_names[IOPCTL_TARGET_STATS] = {
	"requests", "replies", "failures", "unsupported",
	"double_replies", "missing_replies", "retries", "in_flight",
};

int iopctl_target_stats(struct iopctl *s, uint16_t tid, uint64_t stats[IOPCTL_TARGET_STATS],
			struct iop_completion *c)
{
	uint32_t *f = iopctl_frame(s);
	unsigned n;
	int rc;

	rc = f ? iop_build_params_get(f, IOPCTL_FRAME_BYTES, tid, IOP_PARAMS_GROUP_TARGET_STATS) :
		 -ENOMEM;
	rc = iopctl_request(s, f, rc, c);
	if (rc != 0)
		return rc;
	rc = iop_read_params_reply(s->reply, s->reply_words, stats, IOPCTL_TARGET_STATS, &n);
	/* A runtime that sends fewer counters than iopctl names is not one iopctl knows. */
	return rc == (int)IOPCTL_TARGET_STATS ? 0 : -EPROTO;
}
