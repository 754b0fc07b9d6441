/* SPDX-License-Identifier: BSD-3-Clause */
/* iopctl lct: the Logical Configuration Table, one line per target. */
#include <ctype.h>
#include <stdio.h>

#include "iopctl.h"
#include "json.h"

static void print_json(const struct iopctl_lct *lct)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_uint(&j, "change_indicator", lct->change_indicator);
	json_array_begin(&j, "entries");
	for (unsigned i = 0; i < lct->n; i++) {
		const struct iop_lct_entry *e = &lct->entries[i];
		char id[9];

		iopctl_identity(e, id);
		json_object_begin(&j, NULL);
		json_uint(&j, "tid", e->local_tid);
		json_string(&j, "class", iop_class_name(e->class_id));
		json_uint(&j, "class_id", e->class_id);
		json_string(&j, "identity", id);
		/* UserTID 0xFFF: nobody has claimed the target. */
		if (e->user_tid == IOP_LCT_UNCLAIMED)
			json_null(&j, "user_tid");
		else
			json_uint(&j, "user_tid", e->user_tid);
		json_uint(&j, "parent_tid", e->parent_tid);
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_end(&j);
}

static void print_text(const struct iopctl_lct *lct)
{
	printf("LCT change indicator %u, %u entries\n", lct->change_indicator, lct->n);
	printf("%-6s %-20s %-9s %-6s %s\n", "TID", "CLASS", "IDENTITY", "USER", "PARENT");
	for (unsigned i = 0; i < lct->n; i++) {
		const struct iop_lct_entry *e = &lct->entries[i];
		char id[9], class[32], user[8];

		iopctl_identity(e, id);
		/* The tag comes from a DDM: keep the terminal's control characters out of it. */
		for (size_t k = 0; id[k] != '\0'; k++)
			if (!isprint((unsigned char)id[k]))
				id[k] = '.';
		snprintf(class, sizeof(class), "%s (0x%03X)", iop_class_name(e->class_id),
			 e->class_id);
		if (e->user_tid == IOP_LCT_UNCLAIMED)
			snprintf(user, sizeof(user), "-");
		else
			snprintf(user, sizeof(user), "0x%03X", e->user_tid);
		printf("0x%03X  %-20s %-9s %-6s 0x%03X\n", e->local_tid, class, id, user,
		       e->parent_tid);
	}
}

int iopctl_cmd_lct(struct iopctl *s)
{
	struct iopctl_lct lct;

	if (iopctl_lct_fetch(s, &lct) != 0)
		return IOPCTL_EXIT_FAIL;
	if (s->o->json)
		print_json(&lct);
	else
		print_text(&lct);
	iopctl_lct_free(&lct);
	return 0;
}
