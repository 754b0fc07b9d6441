/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The event checks: UtilEventRegister as ../shared/i2o-reference.md and
 * docs/runtime.md promise it to a host. A registration gets no reply and
 * keeps no frame; each event is an intermediate reply (MULTIPLE, not LAST)
 * that echoes the registration's contexts, with the indicator in word 4;
 * quiesce, enable and reset are told; mask 0 cancels, and a registration
 * that asked for IOP_EVENT_MASK_MODIFIED hears of it. The runtime answers
 * UtilEventRegister for a DDM that does not list it; one that lists it must
 * keep these same promises.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_frame.h"
#include "iop_runtime.h"

/* Replies one step of a check took: the executive's answer and the events. */
struct step {
	bool answered;
	uint16_t dsc;
	unsigned n_events;
	struct raw_reply events[8];
	unsigned strays;
};

static uint32_t event_register(struct raw_chan *rc, uint32_t mask)
{
	uint32_t *f = raw_frame(rc, 32);
	uint32_t tc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	tc = raw_header(rc, f, IOP_EVENT_MASK_WORD + 1, rc->fx->tid, IOP_UTIL_EVENT_REGISTER);
	f[IOP_EVENT_MASK_WORD] = htole32(mask);
	CU_ASSERT_NOT_EQUAL_FATAL(raw_post(rc, f), 0);
	return tc;
}

static bool is_event(const struct raw_reply *r)
{
	return r->words > IOP_EVENT_INDICATOR_WORD &&
	       reply_function(r) == IOP_UTIL_EVENT_REGISTER &&
	       (reply_flags(r) & (IOP_MSG_MULTIPLE | IOP_MSG_LAST)) == IOP_MSG_MULTIPLE;
}

/*
 * Post an executive request (its parameters in word 4, when words > 4) and
 * take replies until its answer, then for a quiet spell more: the events the
 * step caused, in the order they came.
 */
static void exec_step(struct raw_chan *rc, uint8_t fn, struct step *s)
{
	uint32_t *f = raw_frame(rc, 16);
	struct raw_reply r;
	uint32_t tc;

	memset(s, 0, sizeof(*s));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	tc = raw_header(rc, f, IOP_MSG_HDR_WORDS, IOP_TID_EXEC, fn);
	CU_ASSERT_NOT_EQUAL_FATAL(raw_post(rc, f), 0);
	while (raw_take(rc, &r, s->answered ? CONFORM_QUIET_MS : CONFORM_TIMEOUT_MS) == 0) {
		if (!s->answered && r.w[3] == tc && !(reply_flags(&r) & IOP_MSG_MULTIPLE)) {
			s->answered = true;
			s->dsc = reply_dsc(&r);
		} else if (is_event(&r) && s->n_events < 8) {
			s->events[s->n_events++] = r;
		} else {
			s->strays++;
		}
	}
	/* A target whose control work never ends cannot be judged further here. */
	CU_ASSERT_TRUE_FATAL(s->answered);
	CU_ASSERT_EQUAL(s->dsc, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(s->strays, 0);
}

/* One event of the DDM, for the registration `tc`, with this indicator and first data word. */
static void expect_event(const struct raw_chan *rc, const struct raw_reply *r, uint32_t tc,
			 uint32_t indicator, int data)
{
	CU_ASSERT_TRUE(is_event(r));
	CU_ASSERT_TRUE(reply_flags(r) & IOP_MSG_REPLY);
	CU_ASSERT_FALSE(reply_flags(r) & IOP_MSG_FAIL);
	CU_ASSERT_EQUAL(r->w[1] & IOP_TID_MAX, rc->fx->tid);
	CU_ASSERT_EQUAL(r->w[2], rc->initiator_context);
	CU_ASSERT_EQUAL(r->w[3], tc);
	CU_ASSERT((r->w[0] >> 16) * 4u <= r->block);
	CU_ASSERT_EQUAL(r->w[IOP_EVENT_INDICATOR_WORD], indicator);
	if (data >= 0) {
		CU_ASSERT_FATAL(r->words > IOP_EVENT_DATA_WORD);
		CU_ASSERT_EQUAL(r->w[IOP_EVENT_DATA_WORD], (uint32_t)data);
	}
}

/* No reply to a registration, and its frame is back in the heap: nothing leaks. */
static void check_event_register_no_reply(void)
{
	struct iop_ddm_stats st;
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	uint32_t tc, *f;

	if (!check_up(&fx, &rc))
		return;
	event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_DEVICE_RESET);
	/* A request after it: the first reply on the channel must be that one's. */
	f = raw_ddm_request(&rc);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	tc = le32toh(f[3]);
	CU_ASSERT_NOT_EQUAL_FATAL(raw_post(&rc, f), 0);
	CU_ASSERT_EQUAL_FATAL(raw_take(&rc, &r, CONFORM_TIMEOUT_MS), 0);
	/* Its function, not the registration's (whose contexts match is contexts_echoed's). */
	CU_ASSERT_EQUAL(reply_function(&r), conform.function);
	(void)tc;
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	fixture_stats(&fx, &st);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	check_down(&fx, &rc);
}

/* Quiesce, enable, reset and the bring-up after it: each told, in order. */
static void check_events_on_state_changes(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct step s;
	uint32_t tc;

	if (!check_up(&fx, &rc))
		return;
	tc = event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_DEVICE_RESET);
	exec_step(&rc, IOP_EXEC_SYS_QUIESCE, &s);
	CU_ASSERT_EQUAL_FATAL(s.n_events, 1);
	expect_event(&rc, &s.events[0], tc, IOP_EVENT_STATE_CHANGE, IOP_EVENT_STATE_SUSPENDED);
	exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s);
	CU_ASSERT_EQUAL_FATAL(s.n_events, 1);
	expect_event(&rc, &s.events[0], tc, IOP_EVENT_STATE_CHANGE, IOP_EVENT_STATE_NORMAL);
	/* Reset: the reset first, then the state it left the target in. */
	exec_step(&rc, IOP_EXEC_IOP_RESET, &s);
	CU_ASSERT_EQUAL_FATAL(s.n_events, 2);
	expect_event(&rc, &s.events[0], tc, IOP_EVENT_DEVICE_RESET, -1);
	expect_event(&rc, &s.events[1], tc, IOP_EVENT_STATE_CHANGE, IOP_EVENT_STATE_RESTART);
	exec_step(&rc, IOP_EXEC_OUTBOUND_INIT, &s);
	CU_ASSERT_EQUAL(s.n_events, 0);
	exec_step(&rc, IOP_EXEC_SYS_TAB_SET, &s);
	CU_ASSERT_EQUAL(s.n_events, 0);
	exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s);
	CU_ASSERT_EQUAL_FATAL(s.n_events, 1);
	expect_event(&rc, &s.events[0], tc, IOP_EVENT_STATE_CHANGE, IOP_EVENT_STATE_NORMAL);
	check_down(&fx, &rc);
}

/* Mask 0 cancels: told to a registration that asked, then nothing more. */
static void check_event_mask_zero_cancels(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct step s;
	uint32_t tc;

	if (!check_up(&fx, &rc))
		return;
	tc = event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_MASK_MODIFIED);
	event_register(&rc, 0);
	CU_ASSERT_EQUAL_FATAL(raw_take(&rc, &r, CONFORM_TIMEOUT_MS), 0);
	expect_event(&rc, &r, tc, IOP_EVENT_MASK_MODIFIED, 0);
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	exec_step(&rc, IOP_EXEC_SYS_QUIESCE, &s);
	CU_ASSERT_EQUAL(s.n_events, 0);
	exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s);
	CU_ASSERT_EQUAL(s.n_events, 0);
	check_down(&fx, &rc);
}

const struct conform_check conform_events[] = {
	{ "event_register_no_reply", check_event_register_no_reply },
	{ "events_on_state_changes", check_events_on_state_changes },
	{ "event_mask_zero_cancels", check_event_mask_zero_cancels },
	{ NULL, NULL },
};
