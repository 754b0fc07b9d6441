/* SPDX-License-Identifier: BSD-3-Clause */
/* The LCT as iopctl reads it: ExecLctNotify now, every entry copied out of the reply. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iopctl.h"

int iopctl_lct_fetch(struct iopctl *s, struct iopctl_lct *lct)
{
	struct iop_lct_header hdr;
	const uint32_t *table;
	size_t bytes;
	uint32_t *f;
	int n, rc;

	memset(lct, 0, sizeof(*lct));
	f = iopctl_frame(s);
	/* Indicator 0: the table as it is now, not after its next change. */
	rc = f ? iop_build_exec_lct_notify(f, IOPCTL_FRAME_BYTES, 0xFFFFFFFFu, 0) : -ENOMEM;
	if (iopctl_call(s, f, rc, "ExecLctNotify", IOP_TID_EXEC) != 0)
		return -1;
	if (iop_read_lct_reply(s->reply, s->reply_words, &table, &bytes) != 0 ||
	    (n = iop_lct_parse(table, bytes, &hdr)) < 0) {
		iopctl_error(s->o, "ExecLctNotify: the reply carries no table iopctl can read");
		return -1;
	}
	lct->change_indicator = hdr.change_indicator;
	lct->entries = calloc(n ? (size_t)n : 1, sizeof(*lct->entries));
	if (lct->entries == NULL) {
		iopctl_error(s->o, "out of memory");
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (iop_lct_entry_get(table, bytes, (unsigned)i, &lct->entries[i]) != 0) {
			iopctl_error(s->o, "ExecLctNotify: LCT entry %d is malformed", i);
			iopctl_lct_free(lct);
			return -1;
		}
	}
	lct->n = (unsigned)n;
	return 0;
}

void iopctl_lct_free(struct iopctl_lct *lct)
{
	free(lct->entries);
	lct->entries = NULL;
	lct->n = 0;
}

void iopctl_identity(const struct iop_lct_entry *e, char out[9])
{
	memcpy(out, e->identity_tag, 8);
	out[8] = '\0';
}
