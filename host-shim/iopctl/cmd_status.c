/* SPDX-License-Identifier: BSD-3-Clause */
/* iopctl status: what ExecStatusGet says of the IOP. */
#include <errno.h>
#include <stdio.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iopctl.h"
#include "json.h"

static void print_json(const struct iop_exec_status *st)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "state", iopctl_state_name(st->iop_state));
	json_uint(&j, "state_code", st->iop_state);
	json_uint(&j, "iop_id", st->iop_id);
	json_uint(&j, "i2o_version", st->i2o_version);
	json_uint(&j, "targets", st->targets);
	json_uint(&j, "lct_change", st->lct_change);
	json_object_begin(&j, "inbound");
	json_uint(&j, "kib", st->inbound_kib);
	json_uint(&j, "in_use", st->inbound_in_use);
	json_object_end(&j);
	json_object_begin(&j, "outbound");
	json_uint(&j, "kib", st->outbound_kib);
	json_uint(&j, "in_use", st->outbound_in_use);
	json_object_end(&j);
	json_uint(&j, "channels", st->channels);
	json_uint(&j, "loops", st->loops);
	json_object_end(&j);
	json_end(&j);
}

static void print_text(const struct iop_exec_status *st)
{
	printf("state        %s (0x%02X)\n", iopctl_state_name(st->iop_state), st->iop_state);
	printf("iop id       %u\n", st->iop_id);
	/* I2oVersion 1 is I2O 1.5, the only version there is. */
	printf("i2o version  %u%s\n", st->i2o_version, st->i2o_version == 1 ? " (I2O 1.5)" : "");
	printf("targets      %u\n", st->targets);
	printf("lct change   %u\n", st->lct_change);
	printf("inbound      %u KiB, %u bytes in use\n", st->inbound_kib, st->inbound_in_use);
	printf("outbound     %u KiB, %u bytes in use\n", st->outbound_kib, st->outbound_in_use);
	printf("channels     %u\n", st->channels);
	printf("loops        %u\n", st->loops);
}

int iopctl_cmd_status(struct iopctl *s)
{
	struct iop_exec_status st;
	uint32_t *f = iopctl_frame(s);
	int rc = f ? iop_build_exec_status_get(f, IOPCTL_FRAME_BYTES) : -ENOMEM;

	if (iopctl_call(s, f, rc, "ExecStatusGet", IOP_TID_EXEC) != 0)
		return IOPCTL_EXIT_FAIL;
	if (iop_read_exec_status(s->reply, s->reply_words, &st) != 0) {
		iopctl_error(s->o, "ExecStatusGet: the reply is too short for the status block");
		return IOPCTL_EXIT_FAIL;
	}
	if (s->o->json)
		print_json(&st);
	else
		print_text(&st);
	return 0;
}
