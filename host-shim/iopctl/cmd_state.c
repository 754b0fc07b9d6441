/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl quiesce, enable, reset: the IOP's state through the executive.
 * quiesce is ExecSysQuiesce (every DDM's quiesce, then READY); reset is
 * ExecIopReset (every DDM's reset, then RESET); enable brings the IOP to
 * OPERATIONAL from where it is, in the order I2O gives (OutboundInit from
 * RESET, SysTabSet from HOLD, SysEnable from READY). Each prints the state
 * the IOP is left in.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iop_runtime.h"
#include "iopctl.h"
#include "json.h"

static int read_state(struct iopctl *s, uint8_t *state)
{
	struct iop_exec_status st;
	uint32_t *f = iopctl_frame(s);
	int rc = f ? iop_build_exec_status_get(f, IOPCTL_FRAME_BYTES) : -ENOMEM;

	if (iopctl_call(s, f, rc, "ExecStatusGet", IOP_TID_EXEC) != 0)
		return -1;
	if (iop_read_exec_status(s->reply, s->reply_words, &st) != 0) {
		iopctl_error(s->o, "ExecStatusGet: the reply is too short for the status block");
		return -1;
	}
	*state = st.iop_state;
	return 0;
}

static int exec(struct iopctl *s, uint8_t fn, const char *what)
{
	uint32_t *f = iopctl_frame(s);
	int rc = f ? iop_build_exec(f, IOPCTL_FRAME_BYTES, fn) : -ENOMEM;

	return iopctl_call(s, f, rc, what, IOP_TID_EXEC);
}

static void print_state(const struct iopctl *s, uint8_t state)
{
	struct json j;

	if (!s->o->json) {
		printf("state        %s (0x%02X)\n", iopctl_state_name(state), state);
		return;
	}
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_string(&j, "state", iopctl_state_name(state));
	json_uint(&j, "state_code", state);
	json_object_end(&j);
	json_end(&j);
}

/* The step I2O's bring-up order takes from `state`, or 0 at OPERATIONAL (or none known). */
static uint8_t next_step(uint8_t state, const char **what)
{
	switch (state) {
	case IOP_STATE_RESET:
		*what = "ExecOutboundInit";
		return IOP_EXEC_OUTBOUND_INIT;
	case IOP_STATE_HOLD:
		*what = "ExecSysTabSet";
		return IOP_EXEC_SYS_TAB_SET;
	case IOP_STATE_READY:
		*what = "ExecSysEnable";
		return IOP_EXEC_SYS_ENABLE;
	default:
		return 0;
	}
}

int iopctl_cmd_state(struct iopctl *s, const char *command)
{
	uint8_t state;

	if (strcmp(command, "quiesce") == 0 && exec(s, IOP_EXEC_SYS_QUIESCE, "ExecSysQuiesce") != 0)
		return IOPCTL_EXIT_FAIL;
	if (strcmp(command, "reset") == 0 && exec(s, IOP_EXEC_IOP_RESET, "ExecIopReset") != 0)
		return IOPCTL_EXIT_FAIL;
	if (read_state(s, &state) != 0)
		return IOPCTL_EXIT_FAIL;
	/* Three steps at most from RESET; a state with no way up (FAILED) stops it. */
	for (unsigned i = 0; strcmp(command, "enable") == 0 && i < 3; i++) {
		const char *what = NULL;
		uint8_t fn = next_step(state, &what);

		if (fn == 0)
			break;
		if (exec(s, fn, what) != 0 || read_state(s, &state) != 0)
			return IOPCTL_EXIT_FAIL;
	}
	print_state(s, state);
	if (strcmp(command, "enable") == 0 && state != IOP_STATE_OPERATIONAL) {
		iopctl_error(s->o, "enable: the IOP is %s (0x%02X), not OPERATIONAL",
			     iopctl_state_name(state), state);
		return IOPCTL_EXIT_FAIL;
	}
	return 0;
}
