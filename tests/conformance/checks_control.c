/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The control checks: ExecSysQuiesce and ExecIopReset through the executive,
 * with requests in flight, then ExecSysEnable and the DDM answering again
 * (docs/iop-conform.md). What they judge is what the runtime's documents
 * promise a host (docs/runtime.md, the executive): one reply to the control
 * request once every DDM has done its part; every request answered once, by
 * the DDM or by the runtime; requests to the DDM refused DEVICE_NOT_AVAILABLE
 * while the IOP is not OPERATIONAL; a reset gives back what the DDM held.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_host.h"
#include "iop_lan.h"
#include "iop_lct.h"
#include "iop_runtime.h"

/* Requests of the DDM's function posted back to back just before the control request. */
#define BURST 8u
/* Buckets of the ReceivePost a LAN target holds across the control request. */
#define BUCKETS 4u
#define BUCKET_BYTES 2048u

/* One check's requests, and what came back for each. */
struct ctl {
	struct fixture fx;
	struct raw_chan rc;
	uint32_t burst_tc[BURST];
	unsigned burst_replies[BURST];
	unsigned n_burst;
	/* LAN: the ReceivePost the DDM holds, and its buckets. */
	bool posted;
	uint32_t post_tc;
	unsigned post_finals; /* final replies: the last of a series, or a lone one */
	void *bucket[BUCKETS];
	/* The call waited for (ctl_call), and its replies. */
	uint32_t call_tc;
	uint16_t call_tid;
	uint8_t call_fn;
	unsigned call_replies;
	struct raw_reply call_reply;
	unsigned strays; /* replies that match nothing outstanding, or come after the final one */
};

static bool is_final(const struct raw_reply *r)
{
	uint8_t f = reply_flags(r);

	return !(f & IOP_MSG_MULTIPLE) || (f & IOP_MSG_LAST);
}

/* Count one reply against the request it answers. */
static void route(struct ctl *c, const struct raw_reply *r)
{
	uint32_t tc = r->words >= IOP_MSG_HDR_WORDS ? r->w[3] : 0;

	if (c->call_tc != 0 && tc == c->call_tc) {
		if (c->call_replies++ == 0)
			c->call_reply = *r;
		return;
	}
	if (c->posted && tc == c->post_tc) {
		if (c->post_finals != 0)
			c->strays++;
		c->post_finals += is_final(r);
		return;
	}
	for (unsigned i = 0; i < c->n_burst; i++)
		if (tc == c->burst_tc[i]) {
			c->burst_replies[i]++;
			return;
		}
	/*
	 * A reply of the right function from the right target whose contexts
	 * match nothing: counted for the request it answers in order (the call
	 * waited for, else the oldest of the burst unanswered), so that a DDM
	 * that spoils contexts fails contexts_echoed rather than these checks.
	 */
	if (r->words >= IOP_MSG_HDR_WORDS && (r->w[1] >> 12 & IOP_TID_MAX) == IOP_TID_HOST) {
		uint16_t from = (uint16_t)(r->w[1] & IOP_TID_MAX); /* the target that replies */

		if (c->call_tc != 0 && c->call_replies == 0 && reply_function(r) == c->call_fn &&
		    from == c->call_tid) {
			c->call_replies++;
			c->call_reply = *r;
			return;
		}
		for (unsigned i = 0; i < c->n_burst; i++)
			if (c->burst_replies[i] == 0 && reply_function(r) == conform.function &&
			    from == c->fx.tid) {
				c->burst_replies[i]++;
				return;
			}
	}
	c->strays++;
}

/* Take replies, routing each, until `done` holds or the timeout. */
static bool take_until(struct ctl *c, bool (*done)(const struct ctl *), unsigned timeout_ms)
{
	struct raw_reply r;

	while (!done(c)) {
		if (raw_take(&c->rc, &r, timeout_ms) != 0)
			return false;
		route(c, &r);
	}
	return true;
}

static bool call_answered(const struct ctl *c)
{
	return c->call_replies != 0;
}

static bool all_answered(const struct ctl *c)
{
	if (c->call_replies == 0 || (c->posted && c->post_finals == 0))
		return false;
	for (unsigned i = 0; i < c->n_burst; i++)
		if (c->burst_replies[i] == 0)
			return false;
	return true;
}

static bool burst_answered(const struct ctl *c)
{
	for (unsigned i = 0; i < c->n_burst; i++)
		if (c->burst_replies[i] == 0)
			return false;
	return c->call_replies != 0;
}

/* A request of 5 words (word 4 zero) of `function` to `tid`, not posted. */
static uint32_t *request(struct ctl *c, uint16_t tid, uint8_t function, uint32_t *tc)
{
	uint32_t *f = raw_frame(&c->rc, 32);

	if (f != NULL)
		*tc = raw_header(&c->rc, f, 5, tid, function);
	return f;
}

/*
 * Post a request of `function` to `tid`, word 4 `word4`, and wait for its
 * reply (into c->call_reply), routing the others that come meanwhile.
 * @return 0, or -ETIMEDOUT / -EAGAIN / -ENOMEM.
 */
static int ctl_call_arg(struct ctl *c, uint16_t tid, uint8_t function, uint32_t word4)
{
	uint32_t tc;
	uint32_t *f = request(c, tid, function, &tc);

	if (f == NULL)
		return -ENOMEM;
	f[4] = htole32(word4);
	c->call_tc = tc;
	c->call_tid = tid;
	c->call_fn = function;
	c->call_replies = 0;
	if (raw_post(&c->rc, f) == 0) {
		iop_qp_frame_free(c->rc.qp, f);
		return -EAGAIN;
	}
	return take_until(c, call_answered, CONFORM_TIMEOUT_MS) ? 0 : -ETIMEDOUT;
}

/* ctl_call_arg() with word 4 zero. */
static int ctl_call(struct ctl *c, uint16_t tid, uint8_t function)
{
	return ctl_call_arg(c, tid, function, 0);
}

/* The IOP's state, by ExecStatusGet; 0 when it did not answer. */
static uint8_t iop_state(struct ctl *c)
{
	if (ctl_call(c, IOP_TID_EXEC, IOP_EXEC_STATUS_GET) != 0 || c->call_reply.words < 6 ||
	    reply_req_status(&c->call_reply) != IOP_REPLY_STATUS_SUCCESS)
		return 0;
	return (uint8_t)c->call_reply.w[5];
}

/* An executive request that must be answered SUCCESS. */
static bool exec_ok(struct ctl *c, uint8_t function)
{
	return ctl_call(c, IOP_TID_EXEC, function) == 0 &&
	       !(reply_flags(&c->call_reply) & IOP_MSG_FAIL) &&
	       reply_req_status(&c->call_reply) == IOP_REPLY_STATUS_SUCCESS;
}

/* LAN: post the ReceivePost the DDM will hold. @return false when it could not be. */
static bool post_buckets(struct ctl *c)
{
	struct iop_buf b[BUCKETS];
	size_t bytes = 32 + 8 * BUCKETS;
	uint32_t *f = raw_frame(&c->rc, bytes);
	bool all = f != NULL;

	for (unsigned i = 0; i < BUCKETS; i++) {
		c->bucket[i] = raw_buf(&c->rc, BUCKET_BYTES, 0xEE);
		b[i] = (struct iop_buf){ c->bucket[i], BUCKET_BYTES };
		all = all && c->bucket[i] != NULL;
	}
	if (all && iop_build_lan_receive_post(f, bytes, c->fx.tid, c->fx.w, b, BUCKETS) >= 0) {
		c->post_tc = raw_contexts(&c->rc, f);
		if (raw_post(&c->rc, f) != 0) {
			c->posted = true;
			return true;
		}
	}
	if (f != NULL)
		iop_qp_frame_free(c->rc.qp, f);
	for (unsigned i = 0; i < BUCKETS; i++) {
		raw_buf_free(&c->rc, c->bucket[i]);
		c->bucket[i] = NULL;
	}
	return false;
}

/*
 * Bring up, then put requests in flight: BURST of the DDM's function, and
 * for a LAN target a ReceivePost it holds (behind them: the function may be
 * LanReset, which would finish it). Then post the control request, and take
 * replies until it and every request in flight is answered, or the timeout.
 * destroy_ddm: the control request names the DDM in word 4 (ExecDdmDestroy).
 */
static bool ctl_start(struct ctl *c, uint8_t control, bool destroy_ddm, bool want_post)
{
	uint32_t *f;

	memset(c, 0, sizeof(*c));
	if (!check_up(&c->fx, &c->rc))
		return false;
	for (unsigned i = 0; i < BURST; i++) {
		f = request(c, c->fx.tid, conform.function, &c->burst_tc[c->n_burst]);
		if (f == NULL || raw_post(&c->rc, f) == 0) {
			if (f != NULL)
				iop_qp_frame_free(c->rc.qp, f);
			break;
		}
		c->n_burst++;
	}
	CU_ASSERT_EQUAL(c->n_burst, BURST);
	if (conform.ops->class_id == IOP_CLASS_LAN && !post_buckets(c))
		CU_FAIL("LAN: a ReceivePost could not be posted");
	c->call_tid = IOP_TID_EXEC;
	c->call_fn = control;
	f = request(c, IOP_TID_EXEC, control, &c->call_tc);
	if (f == NULL) {
		/* No reply can come: the check goes down at call_replies == 0. */
		CU_FAIL("no request frame for the control request");
		return true;
	}
	if (destroy_ddm)
		f[4] = htole32(c->fx.tid); /* ExecDdmDestroy's word 4: the TID */
	if (raw_post(&c->rc, f) == 0) {
		iop_qp_frame_free(c->rc.qp, f);
		CU_FAIL("the control request could not be posted");
		return true;
	}
	if (!take_until(c, want_post ? all_answered : burst_answered, CONFORM_TIMEOUT_MS)) {
		if (c->call_replies == 0)
			CU_FAIL("the control request was not answered within the timeout "
				"(the DDM's callback never finished)");
		for (unsigned i = 0; i < c->n_burst; i++)
			if (c->burst_replies[i] == 0)
				CU_FAIL("a request posted before the control request was not answered");
		if (want_post && c->posted && c->post_finals == 0)
			CU_FAIL("the ReceivePost the DDM held was not answered by the control "
				"request (reset or destroy)");
	}
	return true;
}

/* What every control check asserts of the control request and the requests in flight. */
static void ctl_judge_start(struct ctl *c)
{
	CU_ASSERT_EQUAL(c->call_replies, 1);
	if (c->call_replies != 0) {
		CU_ASSERT_FALSE(reply_flags(&c->call_reply) & IOP_MSG_FAIL);
		CU_ASSERT_EQUAL(reply_req_status(&c->call_reply), IOP_REPLY_STATUS_SUCCESS);
	}
	for (unsigned i = 0; i < c->n_burst; i++)
		CU_ASSERT(c->burst_replies[i] <= 1);
	CU_ASSERT(c->post_finals <= 1);
}

/* After the control request: the DDM's requests refused at once, without reaching it. */
static void ctl_judge_refused(struct ctl *c)
{
	for (unsigned i = 0; i < 4; i++) {
		if (ctl_call(c, c->fx.tid, conform.function) != 0) {
			CU_FAIL("a request to the DDM after the control request was not answered");
			return;
		}
		CU_ASSERT_EQUAL(reply_req_status(&c->call_reply),
				IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		CU_ASSERT_EQUAL(reply_dsc(&c->call_reply), IOP_DSC_DEVICE_NOT_AVAILABLE);
	}
}

/*
 * Back to OPERATIONAL: the DDM answers its function again (not
 * DEVICE_NOT_AVAILABLE); a LAN post still held across a quiesce is given
 * back by LanReset. Then nothing more may come, each request has had exactly
 * one final reply, and the inbound heap is where it started. (A second reply
 * the runtime refused, or one it sent for the DDM, is one_reply_per_request's
 * to judge: the host sees one reply either way.)
 */
static void ctl_finish(struct ctl *c)
{
	struct raw_reply r;
	uint64_t in, out;

	CU_ASSERT_EQUAL(iop_state(c), IOP_STATE_OPERATIONAL);
	for (unsigned i = 0; i < 4; i++) {
		if (ctl_call(c, c->fx.tid, conform.function) != 0) {
			CU_FAIL("the DDM did not answer its function after ExecSysEnable");
			break;
		}
		CU_ASSERT_FALSE(reply_flags(&c->call_reply) & IOP_MSG_FAIL);
		CU_ASSERT_NOT_EQUAL(reply_dsc(&c->call_reply), IOP_DSC_DEVICE_NOT_AVAILABLE);
	}
	if (conform.ops->class_id == IOP_CLASS_LAN && c->posted && c->post_finals == 0) {
		/* Still held across the quiesce: LanReset gives the buckets back. */
		if (!ddm_lists(IOP_LAN_RESET)) {
			CU_FAIL("LAN: the ReceivePost is held and the DDM does not list LanReset");
		} else if (ctl_call(c, c->fx.tid, IOP_LAN_RESET) != 0) {
			CU_FAIL("LAN: LanReset was not answered");
		} else if (c->post_finals == 0 &&
			   !take_until(c, all_answered, CONFORM_TIMEOUT_MS)) {
			CU_FAIL("LAN: the ReceivePost held across the quiesce never finished");
		}
	}
	CU_ASSERT_EQUAL(raw_take(&c->rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	for (unsigned i = 0; i < c->n_burst; i++)
		CU_ASSERT_EQUAL(c->burst_replies[i], 1);
	if (c->posted)
		CU_ASSERT_EQUAL(c->post_finals, 1);
	CU_ASSERT_EQUAL(c->strays, 0);
	/* The buckets are the host's again once the post is finished. */
	if (c->post_finals != 0)
		for (unsigned i = 0; i < BUCKETS; i++)
			raw_buf_free(&c->rc, c->bucket[i]);
	raw_close(&c->rc);
	fixture_stop(&c->fx);
	fixture_heap_free(&c->fx, &in, &out);
	/*
	 * Every request frame freed (no request left held by the control work)
	 * and the buckets back: the inbound heap where it started. The outbound
	 * heap, which the DDM's own allocations touch, is no_frames_leaked's.
	 */
	CU_ASSERT_EQUAL(in, c->fx.in_free0);
	(void)out;
	fixture_down(&c->fx);
}

static void check_quiesce_and_enable(void)
{
	struct ctl c;

	if (!ctl_start(&c, IOP_EXEC_SYS_QUIESCE, false, false))
		return;
	ctl_judge_start(&c);
	if (c.call_replies == 0) {
		check_down(&c.fx, &c.rc);
		return;
	}
	ctl_judge_refused(&c);
	CU_ASSERT_EQUAL(iop_state(&c), IOP_STATE_READY);
	CU_ASSERT_TRUE(exec_ok(&c, IOP_EXEC_SYS_ENABLE));
	ctl_finish(&c);
}

static void check_reset_and_enable(void)
{
	struct ctl c;

	if (!ctl_start(&c, IOP_EXEC_IOP_RESET, false, true))
		return;
	ctl_judge_start(&c);
	if (c.call_replies == 0 || (c.posted && c.post_finals == 0)) {
		check_down(&c.fx, &c.rc);
		return;
	}
	ctl_judge_refused(&c);
	CU_ASSERT_EQUAL(iop_state(&c), IOP_STATE_RESET);
	/* The bring-up order after a reset: OutboundInit (HOLD), SysTabSet (READY), SysEnable. */
	CU_ASSERT_TRUE(exec_ok(&c, IOP_EXEC_OUTBOUND_INIT));
	CU_ASSERT_EQUAL(iop_state(&c), IOP_STATE_HOLD);
	CU_ASSERT_TRUE(exec_ok(&c, IOP_EXEC_SYS_TAB_SET));
	CU_ASSERT_EQUAL(iop_state(&c), IOP_STATE_READY);
	CU_ASSERT_TRUE(exec_ok(&c, IOP_EXEC_SYS_ENABLE));
	ctl_finish(&c);
}

/* A request to the destroyed TID: the FAIL reply the runtime gives, INVALID_TARGET_ID. */
static void destroyed_target_fails(struct ctl *c)
{
	uint32_t tc, preserved = 0, mfa;
	uint32_t *f = request(c, c->fx.tid, conform.function, &tc);
	struct raw_reply r;
	uint8_t code = 0;

	if (f == NULL) {
		CU_FAIL("no request frame for the destroyed TID");
		return;
	}
	mfa = raw_post(&c->rc, f);
	if (mfa == 0) {
		iop_qp_frame_free(c->rc.qp, f);
		CU_FAIL("a request to the destroyed TID could not be posted");
		return;
	}
	/* Its own reply, by its TransactionContext; any other is routed as the others are. */
	for (;;) {
		if (raw_take(&c->rc, &r, CONFORM_TIMEOUT_MS) != 0) {
			CU_FAIL("a request to the destroyed TID was not answered");
			return;
		}
		if (r.words >= IOP_MSG_HDR_WORDS && r.w[3] == tc)
			break;
		route(c, &r);
	}
	CU_ASSERT(reply_flags(&r) & IOP_MSG_FAIL);
	if (r.words < IOP_FAIL_REPLY_WORDS) {
		CU_FAIL("the reply to a request to the destroyed TID is not an 8-word FAIL reply");
		return;
	}
	CU_ASSERT_EQUAL(iop_fail_reply_decode(r.w, &code, NULL, &preserved), 0);
	CU_ASSERT_EQUAL(code, IOP_FAIL_INVALID_TARGET_ID);
	CU_ASSERT_EQUAL(preserved, mfa);
}

/* Is the DDM's TID in the LCT (ExecLctNotify, all classes, now)? -1: no table. */
static int in_lct(struct ctl *c)
{
	struct iop_lct_header h;
	struct iop_lct_entry e;
	const uint32_t *lct;
	size_t bytes;
	int n;

	if (ctl_call_arg(c, IOP_TID_EXEC, IOP_EXEC_LCT_NOTIFY, 0xFFFFFFFFu) != 0 ||
	    iop_read_lct_reply(c->call_reply.w, c->call_reply.words, &lct, &bytes) != 0 ||
	    (n = iop_lct_parse(lct, bytes, &h)) < 0)
		return -1;
	for (int i = 0; i < n; i++)
		if (iop_lct_entry_get(lct, bytes, (unsigned)i, &e) == 0 && e.local_tid == c->fx.tid)
			return 1;
	return 0;
}

/*
 * ExecDdmDestroy of the DDM with requests in flight: one reply to it and to
 * each request (the runtime answers what the DDM held); then the TID is gone:
 * out of the LCT, its requests FAIL with INVALID_TARGET_ID, a second destroy
 * refused INVALID_TARGET_ADDRESS; the IOP still OPERATIONAL; nothing more
 * comes; once the host has left, every inbound frame back.
 */
static void check_destroy_with_requests_in_flight(void)
{
	struct raw_reply r;
	struct ctl c;
	uint64_t in, out;

	if (!ctl_start(&c, IOP_EXEC_DDM_DESTROY, true, true))
		return;
	ctl_judge_start(&c);
	if (c.call_replies == 0 || (c.posted && c.post_finals == 0)) {
		check_down(&c.fx, &c.rc);
		return;
	}
	for (unsigned i = 0; i < 4; i++)
		destroyed_target_fails(&c);
	CU_ASSERT_EQUAL(in_lct(&c), 0);
	if (ctl_call_arg(&c, IOP_TID_EXEC, IOP_EXEC_DDM_DESTROY, c.fx.tid) != 0) {
		CU_FAIL("a second ExecDdmDestroy was not answered");
	} else {
		CU_ASSERT_EQUAL(reply_req_status(&c.call_reply),
				IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		CU_ASSERT_EQUAL(reply_dsc(&c.call_reply), IOP_DSC_INVALID_TARGET_ADDRESS);
	}
	CU_ASSERT_EQUAL(iop_state(&c), IOP_STATE_OPERATIONAL);
	CU_ASSERT_EQUAL(raw_take(&c.rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	for (unsigned i = 0; i < c.n_burst; i++)
		CU_ASSERT_EQUAL(c.burst_replies[i], 1);
	if (c.posted)
		CU_ASSERT_EQUAL(c.post_finals, 1);
	CU_ASSERT_EQUAL(c.strays, 0);
	for (unsigned i = 0; i < BUCKETS; i++)
		raw_buf_free(&c.rc, c.bucket[i]);
	raw_close(&c.rc);
	fixture_stop(&c.fx);
	fixture_heap_free(&c.fx, &in, &out);
	CU_ASSERT_EQUAL(in, c.fx.in_free0); /* every request frame and bucket back */
	(void)out;
	fixture_down(&c.fx);
}

const struct conform_check conform_control[] = {
	{ "quiesce_and_enable", check_quiesce_and_enable },
	{ "reset_and_enable", check_reset_and_enable },
	{ "destroy_with_requests_in_flight", check_destroy_with_requests_in_flight },
	{ NULL, NULL },
};
