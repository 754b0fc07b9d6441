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

/*
 * No CU_*_FATAL in these checks: a fatal assertion leaves the check at once,
 * with the fixture's loop still running on the check's stack. A step that
 * fails says so with CU_FAIL and returns false, and the check goes down.
 */

/* Post a registration with this mask. @return its TransactionContext, 0 when not posted. */
static uint32_t event_register(struct raw_chan *rc, uint32_t mask)
{
	uint32_t *f = raw_frame(rc, 32);
	uint32_t tc;

	if (f == NULL) {
		CU_FAIL("no request frame for UtilEventRegister");
		return 0;
	}
	tc = raw_header(rc, f, IOP_EVENT_MASK_WORD + 1, rc->fx->tid, IOP_UTIL_EVENT_REGISTER);
	f[IOP_EVENT_MASK_WORD] = htole32(mask);
	if (raw_post(rc, f) == 0) {
		CU_FAIL("UtilEventRegister could not be posted");
		return 0;
	}
	return tc;
}

static bool is_event(const struct raw_reply *r)
{
	return r->words > IOP_EVENT_INDICATOR_WORD &&
	       reply_function(r) == IOP_UTIL_EVENT_REGISTER &&
	       (reply_flags(r) & (IOP_MSG_MULTIPLE | IOP_MSG_LAST)) == IOP_MSG_MULTIPLE;
}

/*
 * Post an executive request and take replies until its answer, then for a
 * quiet spell more: the events the step caused, in the order they came.
 * @return false when it was not answered (a target whose control work never
 * ends cannot be judged further here).
 */
static bool exec_step(struct raw_chan *rc, uint8_t fn, struct step *s)
{
	uint32_t *f = raw_frame(rc, 16);
	struct raw_reply r;
	uint32_t tc;

	memset(s, 0, sizeof(*s));
	if (f == NULL) {
		CU_FAIL("no request frame for the executive");
		return false;
	}
	tc = raw_header(rc, f, IOP_MSG_HDR_WORDS, IOP_TID_EXEC, fn);
	if (raw_post(rc, f) == 0) {
		CU_FAIL("the executive request could not be posted");
		return false;
	}
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
	if (!s->answered) {
		CU_FAIL("the executive request was not answered within the timeout");
		return false;
	}
	CU_ASSERT_EQUAL(s->dsc, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(s->strays, 0);
	return true;
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
		CU_ASSERT(r->words > IOP_EVENT_DATA_WORD);
		if (r->words > IOP_EVENT_DATA_WORD)
			CU_ASSERT_EQUAL(r->w[IOP_EVENT_DATA_WORD], (uint32_t)data);
	}
}

/* A step's events: exactly `n`, the i-th as given (data -1: none to check). */
static bool expect_events(const struct raw_chan *rc, const struct step *s, unsigned n,
			  uint32_t tc, const uint32_t *indicators, const int *data)
{
	CU_ASSERT_EQUAL(s->n_events, n);
	if (s->n_events != n)
		return false;
	for (unsigned i = 0; i < n; i++)
		expect_event(rc, &s->events[i], tc, indicators[i], data[i]);
	return true;
}

/* No reply to a registration, and its frame is back in the heap: nothing leaks. */
static void check_event_register_no_reply(void)
{
	struct iop_ddm_stats st;
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	uint32_t *f;

	if (!check_up(&fx, &rc))
		return;
	if (event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_DEVICE_RESET) == 0)
		goto out;
	/* A request after it: the first reply on the channel must be that one's. */
	f = raw_ddm_request(&rc);
	if (f == NULL || raw_post(&rc, f) == 0) {
		CU_FAIL("the request after the registration could not be posted");
		goto out;
	}
	if (raw_take(&rc, &r, CONFORM_TIMEOUT_MS) != 0) {
		CU_FAIL("no reply to the request after the registration");
		goto out;
	}
	/* Its function, not the registration's (whose contexts match is contexts_echoed's). */
	CU_ASSERT_EQUAL(reply_function(&r), conform.function);
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	fixture_stats(&fx, &st);
	CU_ASSERT_EQUAL(st.in_flight, 0);
out:
	check_down(&fx, &rc);
}

/* Quiesce, enable, reset and the bring-up after it: each told, in order. */
static void check_events_on_state_changes(void)
{
	static const uint32_t state[] = { IOP_EVENT_STATE_CHANGE };
	static const uint32_t reset[] = { IOP_EVENT_DEVICE_RESET, IOP_EVENT_STATE_CHANGE };
	static const int suspended[] = { IOP_EVENT_STATE_SUSPENDED };
	static const int normal[] = { IOP_EVENT_STATE_NORMAL };
	static const int restart[] = { -1, IOP_EVENT_STATE_RESTART };
	struct fixture fx;
	struct raw_chan rc;
	struct step s;
	uint32_t tc;

	if (!check_up(&fx, &rc))
		return;
	tc = event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_DEVICE_RESET);
	if (tc == 0 || !exec_step(&rc, IOP_EXEC_SYS_QUIESCE, &s) ||
	    !expect_events(&rc, &s, 1, tc, state, suspended) ||
	    !exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s) ||
	    !expect_events(&rc, &s, 1, tc, state, normal) ||
	    /* Reset: the reset first, then the state it left the target in. */
	    !exec_step(&rc, IOP_EXEC_IOP_RESET, &s) ||
	    !expect_events(&rc, &s, 2, tc, reset, restart) ||
	    !exec_step(&rc, IOP_EXEC_OUTBOUND_INIT, &s) ||
	    !expect_events(&rc, &s, 0, tc, NULL, NULL) ||
	    !exec_step(&rc, IOP_EXEC_SYS_TAB_SET, &s) ||
	    !expect_events(&rc, &s, 0, tc, NULL, NULL) ||
	    !exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s))
		goto out;
	expect_events(&rc, &s, 1, tc, state, normal);
out:
	check_down(&fx, &rc);
}

/* Mask 0 cancels: told to a registration that asked, then nothing more. */
static void check_event_mask_zero_cancels(void)
{
	static const uint32_t modified[] = { IOP_EVENT_MASK_MODIFIED };
	static const int new_mask[] = { 0 };
	struct fixture fx;
	struct raw_chan rc;
	struct step s;
	uint32_t tc;

	if (!check_up(&fx, &rc))
		return;
	tc = event_register(&rc, IOP_EVENT_STATE_CHANGE | IOP_EVENT_MASK_MODIFIED);
	if (tc == 0 || event_register(&rc, 0) == 0)
		goto out;
	/* Its one event, taken with the next executive request's replies. */
	if (!exec_step(&rc, IOP_EXEC_STATUS_GET, &s) ||
	    !expect_events(&rc, &s, 1, tc, modified, new_mask) ||
	    !exec_step(&rc, IOP_EXEC_SYS_QUIESCE, &s) ||
	    !expect_events(&rc, &s, 0, tc, NULL, NULL) || !exec_step(&rc, IOP_EXEC_SYS_ENABLE, &s))
		goto out;
	expect_events(&rc, &s, 0, tc, NULL, NULL);
out:
	check_down(&fx, &rc);
}

const struct conform_check conform_events[] = {
	{ "event_register_no_reply", check_event_register_no_reply },
	{ "events_on_state_changes", check_events_on_state_changes },
	{ "event_mask_zero_cancels", check_event_mask_zero_cancels },
	{ NULL, NULL },
};
