/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl params get TID GROUP: UtilParamsGet of one group. The runtime's
 * counters (group 0xF000) by name; a DDM's own groups by field index.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>

#include "iop_build.h"
#include "iop_ddm.h"
#include "iopctl.h"
#include "json.h"

static void print(const struct iopctl *s, uint16_t tid, uint16_t group, const uint64_t *v,
		  unsigned n, bool named)
{
	struct json j;

	if (!s->o->json) {
		for (unsigned i = 0; i < n; i++)
			if (named)
				printf("%-16s %" PRIu64 "\n", iopctl_target_stat_names[i], v[i]);
			else
				printf("%-4u %" PRIu64 "\n", i, v[i]);
		return;
	}
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_uint(&j, "tid", tid);
	json_uint(&j, "group", group);
	if (named) {
		json_object_begin(&j, "counters");
		for (unsigned i = 0; i < n; i++)
			json_uint(&j, iopctl_target_stat_names[i], v[i]);
		json_object_end(&j);
	} else {
		json_array_begin(&j, "fields");
		for (unsigned i = 0; i < n; i++)
			json_uint(&j, NULL, v[i]);
		json_array_end(&j);
	}
	json_object_end(&j);
	json_end(&j);
}

int iopctl_cmd_params_get(struct iopctl *s, uint16_t tid, uint16_t group)
{
	uint64_t v[IOP_PARAMS_MAX_FIELDS];
	struct iop_completion c;
	uint32_t *f;
	unsigned n = 0;
	int rc;

	if (group == IOP_PARAMS_GROUP_TARGET_STATS) {
		rc = iopctl_target_stats(s, tid, v, &c);
		if (rc != 0) {
			iopctl_report(s, "UtilParamsGet 0xF000", tid, rc, &c);
			return IOPCTL_EXIT_FAIL;
		}
		print(s, tid, group, v, IOPCTL_TARGET_STATS, true);
		return 0;
	}
	f = iopctl_frame(s);
	rc = f ? iop_build_params_get(f, IOPCTL_FRAME_BYTES, tid, group) : -ENOMEM;
	if (iopctl_call(s, f, rc, "UtilParamsGet", tid) != 0)
		return IOPCTL_EXIT_FAIL;
	rc = iop_read_params_reply(s->reply, s->reply_words, v, IOP_PARAMS_MAX_FIELDS, &n);
	if (rc < 0) {
		iopctl_error(s->o, "UtilParamsGet to TID 0x%03X: the reply is shorter than the %u "
			     "fields it states", tid, n);
		return IOPCTL_EXIT_FAIL;
	}
	print(s, tid, group, v, (unsigned)rc, false);
	return 0;
}
