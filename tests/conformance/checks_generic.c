/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The generic checks: what every host enforces of every target, whatever its
 * class (docs/iop-conform.md). Each check brings up its own runtime, so one
 * defect fails the check that looks for it and leaves the others to judge
 * the rest. The runtime answers much of this for every DDM; a check still
 * looks, from the host's side, at what actually came back.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_host.h"

/* A function no class of I2O defines (the utility range, unassigned). */
#define UNDEFINED_FUNCTION 0x02u

/* A request for the DDM's function, posted, and its reply. */
static int ddm_call(struct raw_chan *rc, struct raw_reply *r)
{
	uint32_t *f = raw_ddm_request(rc);

	if (f == NULL)
		return -ENOMEM;
	return raw_call(rc, f, r);
}

/* A request of `function` with no payload, posted, and its reply. */
static int function_call(struct raw_chan *rc, uint8_t function, struct raw_reply *r)
{
	uint32_t *f = raw_frame(rc, 32);

	if (f == NULL)
		return -ENOMEM;
	raw_header(rc, f, 5, rc->fx->tid, function);
	return raw_call(rc, f, r);
}

/* The ReqStatus values I2O defines. */
static bool req_status_defined(uint8_t s)
{
	return s <= 0x06 || (s >= 0x08 && s <= 0x0B) || s == 0x80;
}

static void check_one_reply_per_request(void)
{
	enum { N = 64 };
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct iop_ddm_stats s;
	unsigned replies = 0;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < N; i++)
		replies += ddm_call(&rc, &r) == 0;
	CU_ASSERT_EQUAL(replies, N);
	/* A second reply the runtime let through would be in the ring now. */
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	fixture_stats(&fx, &s);
	CU_ASSERT_EQUAL(s.double_replies, 0);
	CU_ASSERT_EQUAL(s.missing_replies, 0);
	check_down(&fx, &rc);
}

static void check_contexts_echoed(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < 16; i++) {
		uint32_t *f = raw_frame(&rc, 32);
		uint32_t tc;

		CU_ASSERT_PTR_NOT_NULL(f);
		if (f == NULL)
			break;
		rc.initiator_context = 0xA5000000u ^ (i * 0x01010101u);
		tc = raw_header(&rc, f, 5, fx.tid, conform.function);
		if (raw_call(&rc, f, &r) != 0) {
			CU_FAIL("no reply");
			break;
		}
		CU_ASSERT(r.words >= IOP_MSG_HDR_WORDS);
		CU_ASSERT_EQUAL(r.w[2], rc.initiator_context);
		CU_ASSERT_EQUAL(r.w[3], tc);
	}
	check_down(&fx, &rc);
}

static void check_reply_flag_and_status(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct iop_msg_hdr m;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < 16; i++) {
		if (ddm_call(&rc, &r) != 0) {
			CU_FAIL("no reply");
			break;
		}
		CU_ASSERT(r.words >= IOP_REPLY_WORDS);
		iop_msg_hdr_decode(r.w, &m);
		CU_ASSERT(m.flags & IOP_MSG_REPLY);
		CU_ASSERT_FALSE(m.flags & IOP_MSG_FAIL);
		CU_ASSERT_EQUAL(m.version, IOP_MSG_VERSION_1_5);
		CU_ASSERT_EQUAL(m.function, conform.function);
		CU_ASSERT_EQUAL(m.target_tid, fx.tid);
		CU_ASSERT_EQUAL(m.initiator_tid, IOP_TID_HOST);
		CU_ASSERT(req_status_defined(reply_req_status(&r)));
	}
	check_down(&fx, &rc);
}

static void check_reply_fits_frame(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < 16; i++) {
		if (ddm_call(&rc, &r) != 0) {
			CU_FAIL("no reply");
			break;
		}
		/* The MessageSize the reply claims, not what the host kept of it. */
		CU_ASSERT((r.w[0] >> 16) * 4u <= r.block);
	}
	check_down(&fx, &rc);
}

static void check_unknown_function_status(void)
{
	static const uint8_t utility[] = {
		IOP_UTIL_ABORT,		 IOP_UTIL_CLAIM,	IOP_UTIL_CLAIM_RELEASE,
		IOP_UTIL_DEVICE_RESERVE, IOP_UTIL_DEVICE_RELEASE,
		IOP_UTIL_EVENT_ACK,	 IOP_UTIL_REPLY_FAULT_NOTIFY, IOP_UTIL_LOCK,
		IOP_UTIL_LOCK_RELEASE,	 IOP_UTIL_PRIVATE,
	};
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;

	if (!check_up(&fx, &rc))
		return;
	if (function_call(&rc, UNDEFINED_FUNCTION, &r) != 0) {
		CU_FAIL("function 0x02 not answered");
		goto out;
	}
	CU_ASSERT(r.words >= IOP_REPLY_WORDS);
	CU_ASSERT_FALSE(reply_flags(&r) & IOP_MSG_FAIL);
	CU_ASSERT_NOT_EQUAL(reply_req_status(&r), IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(reply_dsc(&r), IOP_DSC_UNKNOWN_FUNCTION);
	/* A utility function every class defines, which this DDM does not take. */
	for (size_t i = 0; i < sizeof(utility); i++) {
		if (ddm_lists(utility[i]))
			continue;
		if (function_call(&rc, utility[i], &r) != 0) {
			CU_FAIL("a utility function the DDM does not list not answered");
			break;
		}
		CU_ASSERT(r.words >= IOP_REPLY_WORDS);
		CU_ASSERT_FALSE(reply_flags(&r) & IOP_MSG_FAIL);
		CU_ASSERT_NOT_EQUAL(reply_req_status(&r), IOP_REPLY_STATUS_SUCCESS);
		CU_ASSERT_EQUAL(reply_dsc(&r), IOP_DSC_UNSUPPORTED_FUNCTION);
		break;
	}
out:
	check_down(&fx, &rc);
}

/* How each malformed request is spoiled, and the FailureCode it must get. */
enum spoil { BAD_VERSION, TOO_LARGE, BAD_OFFSET, BAD_FLAGS };

static void spoil(uint32_t *f, enum spoil how)
{
	switch (how) {
	case BAD_VERSION:
		f[0] = (f[0] & ~7u) | 3u;
		break;
	case TOO_LARGE: /* more words than the 32-byte block holds */
		f[0] = (f[0] & 0xFFFFu) | 1024u << 16;
		break;
	case BAD_OFFSET: /* an SGL inside the header */
		f[0] = (f[0] & ~0xF0u) | 2u << 4;
		break;
	case BAD_FLAGS: /* 64-bit contexts, which iopool does not use */
		f[0] |= (uint32_t)IOP_MSG_64BIT_CONTEXT << 8;
		break;
	}
}

static void check_malformed_frames_fail(void)
{
	static const uint8_t code[] = {
		[BAD_VERSION] = IOP_FAIL_INVALID_VERSION,
		[TOO_LARGE] = IOP_FAIL_FRAME_TOO_LARGE,
		[BAD_OFFSET] = IOP_FAIL_INVALID_OFFSET,
		[BAD_FLAGS] = IOP_FAIL_INVALID_MSG_FLAGS,
	};
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned how = BAD_VERSION; how <= BAD_FLAGS; how++) {
		uint32_t *f = raw_ddm_request(&rc);
		uint32_t mfa, preserved = 0;
		uint8_t fail_code = 0;

		if (f == NULL) {
			CU_FAIL("no request frame");
			break;
		}
		spoil(f, how);
		mfa = raw_post(&rc, f);
		if (mfa == 0) {
			iop_qp_frame_free(rc.qp, f);
			CU_FAIL("the malformed request could not be posted");
			break;
		}
		if (raw_take(&rc, &r, CONFORM_TIMEOUT_MS) != 0) {
			CU_FAIL("a malformed request was not answered");
			break;
		}
		CU_ASSERT(reply_flags(&r) & IOP_MSG_REPLY);
		CU_ASSERT(reply_flags(&r) & IOP_MSG_FAIL);
		if (r.words < IOP_FAIL_REPLY_WORDS) {
			CU_FAIL("a FAIL reply shorter than its 8 words");
			continue;
		}
		CU_ASSERT_EQUAL(iop_fail_reply_decode(r.w, &fail_code, NULL, &preserved), 0);
		CU_ASSERT_EQUAL(fail_code, code[how]);
		CU_ASSERT_EQUAL(preserved, mfa);
	}
	check_down(&fx, &rc);
}

/*
 * The DDM's function with payloads the runtime cannot judge for it: it knows
 * the header, not what a DDM's words after it mean. Word 4 all ones, only its
 * top bit, then none at all (MessageSize 4), then 12 words of all ones. Each
 * is a well-formed frame, so each gets exactly one REPLY, not FAIL, with any
 * status; then the DDM still answers a plain request. (Its contexts are
 * contexts_echoed's to judge.)
 */
static void check_bad_payload_answered(void)
{
	static const struct {
		unsigned words;
		uint32_t fill;
	} payload[] = { { 5, 0xFFFFFFFFu }, { 5, 0x80000000u }, { 4, 0 }, { 16, 0xFFFFFFFFu } };
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct iop_msg_hdr m;

	if (!check_up(&fx, &rc))
		return;
	for (size_t i = 0; i < sizeof(payload) / sizeof(payload[0]); i++) {
		uint32_t *f = raw_frame(&rc, 64);

		if (f == NULL) {
			CU_FAIL("no request frame");
			goto out;
		}
		raw_header(&rc, f, payload[i].words, fx.tid, conform.function);
		for (unsigned w = IOP_MSG_HDR_WORDS; w < payload[i].words; w++)
			f[w] = payload[i].fill;
		if (raw_call(&rc, f, &r) != 0) {
			CU_FAIL("a request with a payload the DDM does not expect was not answered");
			break;
		}
		if (r.words < IOP_REPLY_WORDS) {
			CU_FAIL("a reply shorter than 5 words");
			continue;
		}
		iop_msg_hdr_decode(r.w, &m);
		CU_ASSERT(m.flags & IOP_MSG_REPLY);
		CU_ASSERT_FALSE(m.flags & IOP_MSG_FAIL);
		CU_ASSERT_EQUAL(m.function, conform.function);
	}
	CU_ASSERT_EQUAL(ddm_call(&rc, &r), 0);
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
out:
	check_down(&fx, &rc);
}

/* Wait until the inbound heap has `want` bytes free again. */
static bool inbound_back_to(const struct fixture *fx, uint64_t want)
{
	uint64_t in, out;

	for (unsigned ms = 0; ms < CONFORM_TIMEOUT_MS; ms++) {
		fixture_heap_free(fx, &in, &out);
		if (in == want)
			return true;
		usleep(1000);
	}
	return false;
}

static void check_utilnop_no_reply(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct iop_ddm_stats before, after;
	uint64_t in0, out0;

	if (!check_up(&fx, &rc))
		return;
	fixture_stats(&fx, &before);
	/* Both sizes I2O allows: 4 words, and 3 (no TransactionContext). */
	for (unsigned words = 4; words >= 3; words--) {
		uint32_t *f;

		fixture_heap_free(&fx, &in0, &out0);
		f = raw_frame(&rc, 16);
		if (f == NULL) {
			CU_FAIL("no request frame");
			goto out;
		}
		raw_header(&rc, f, words, fx.tid, IOP_UTIL_NOP);
		if (raw_post(&rc, f) == 0) {
			iop_qp_frame_free(rc.qp, f);
			CU_FAIL("UtilNOP could not be posted");
			goto out;
		}
		CU_ASSERT_TRUE(inbound_back_to(&fx, in0));
		CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	}
	fixture_stats(&fx, &after);
	CU_ASSERT_EQUAL(after.requests, before.requests + 2);
	CU_ASSERT_EQUAL(after.replies, before.replies);
out:
	check_down(&fx, &rc);
}

static void check_params_get_target_stats(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	uint64_t v[IOP_PARAMS_MAX_FIELDS];
	unsigned n = 0;
	uint32_t *f;

	if (!check_up(&fx, &rc))
		return;
	if (ddm_call(&rc, &r) != 0) {
		CU_FAIL("the request of the DDM's function not answered");
		goto out;
	}
	f = raw_frame(&rc, 32);
	if (f == NULL) {
		CU_FAIL("no request frame");
		goto out;
	}
	CU_ASSERT_EQUAL(iop_build_params_get(f, 32, fx.tid, IOP_PARAMS_GROUP_TARGET_STATS), 5);
	if (raw_call(&rc, f, &r) != 0) {
		CU_FAIL("UtilParamsGet of 0xF000 not answered");
		goto out;
	}
	CU_ASSERT_FALSE(reply_flags(&r) & IOP_MSG_FAIL);
	CU_ASSERT_EQUAL(reply_req_status(&r), IOP_REPLY_STATUS_SUCCESS);
	if (iop_read_params_reply(r.w, r.words, v, IOP_PARAMS_MAX_FIELDS, &n) != 8) {
		CU_FAIL("the reply of 0xF000 not 8 fields");
		goto out;
	}
	CU_ASSERT_EQUAL(v[0], 2); /* requests: the DDM's and this one */
	CU_ASSERT_EQUAL(v[1], 1); /* replies before this one */
out:
	check_down(&fx, &rc);
}

/* Everything the other checks send, then both heaps must be where they started. */
static void check_no_frames_leaked(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	uint64_t in, out;
	uint32_t *f;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < 32; i++)
		CU_ASSERT_EQUAL(ddm_call(&rc, &r), 0);
	CU_ASSERT_EQUAL(function_call(&rc, UNDEFINED_FUNCTION, &r), 0);
	f = raw_ddm_request(&rc);
	if (f == NULL)
		goto no_frame;
	spoil(f, BAD_VERSION);
	CU_ASSERT_EQUAL(raw_call(&rc, f, &r), 0);
	f = raw_frame(&rc, 32);
	if (f == NULL)
		goto no_frame;
	iop_build_params_get(f, 32, fx.tid, IOP_PARAMS_GROUP_TARGET_STATS);
	CU_ASSERT_EQUAL(raw_call(&rc, f, &r), 0);
	f = raw_frame(&rc, 16);
	if (f == NULL)
		goto no_frame;
	raw_header(&rc, f, 4, fx.tid, IOP_UTIL_NOP);
	CU_ASSERT_NOT_EQUAL(raw_post(&rc, f), 0);
	CU_ASSERT_EQUAL(ddm_call(&rc, &r), 0); /* behind the UtilNOP: it was taken */
	raw_close(&rc);
	fixture_stop(&fx);
	fixture_heap_free(&fx, &in, &out);
	CU_ASSERT_EQUAL(in, fx.in_free0);
	CU_ASSERT_EQUAL(out, fx.out_free0);
	fixture_down(&fx);
	return;
no_frame:
	/* The heaps are not judged: frames may be held by what could not be sent. */
	CU_FAIL("no request frame");
	check_down(&fx, &rc);
}

/* One host thread of many_channels; CUnit's asserts are for the main thread. */
struct channel_run {
	struct fixture *fx;
	unsigned id;
	unsigned replies, bad;
	int rc;
};

static void *channel_main(void *arg)
{
	enum { N = 512, BURST = 8 };
	struct channel_run *cr = arg;
	struct raw_chan rc;
	struct raw_reply r;
	struct iop_msg_hdr m;

	cr->rc = raw_open(cr->fx, &rc, 0xC4000000u + cr->id);
	if (cr->rc != 0)
		return NULL;
	for (unsigned sent = 0; sent < N; sent += BURST) {
		unsigned posted = 0;

		for (unsigned i = 0; i < BURST; i++) {
			uint32_t *f = raw_ddm_request(&rc);

			if (f != NULL && raw_post(&rc, f) != 0)
				posted++;
			else if (f != NULL)
				iop_qp_frame_free(rc.qp, f);
		}
		for (unsigned i = 0; i < posted; i++) {
			if (raw_take(&rc, &r, CONFORM_TIMEOUT_MS) != 0)
				break;
			cr->replies++;
			iop_msg_hdr_decode(r.w, &m);
			if (r.words < IOP_REPLY_WORDS || !(m.flags & IOP_MSG_REPLY) ||
			    (m.flags & IOP_MSG_FAIL) || m.function != conform.function ||
			    m.target_tid != cr->fx->tid)
				cr->bad++;
		}
	}
	raw_close(&rc);
	return NULL;
}

static void check_many_channels(void)
{
	enum { THREADS = 4 };
	struct channel_run cr[THREADS];
	pthread_t t[THREADS];
	struct fixture fx;
	unsigned started = 0;

	if (fixture_up(&fx) != 0) {
		CU_FAIL("the runtime with the DDM did not come up");
		return;
	}
	for (unsigned i = 0; i < THREADS; i++) {
		cr[i] = (struct channel_run){ .fx = &fx, .id = i };
		if (pthread_create(&t[i], NULL, channel_main, &cr[i]) != 0) {
			CU_FAIL("a host thread could not be started");
			break;
		}
		started++;
	}
	for (unsigned i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(cr[i].rc, 0);
		CU_ASSERT_EQUAL(cr[i].replies, 512);
		CU_ASSERT_EQUAL(cr[i].bad, 0);
	}
	fixture_down(&fx);
}

const struct conform_check conform_generic[] = {
	{ "one_reply_per_request", check_one_reply_per_request },
	{ "contexts_echoed", check_contexts_echoed },
	{ "reply_flag_and_status", check_reply_flag_and_status },
	{ "reply_fits_frame", check_reply_fits_frame },
	{ "unknown_function_status", check_unknown_function_status },
	{ "malformed_frames_fail", check_malformed_frames_fail },
	{ "bad_payload_answered", check_bad_payload_answered },
	{ "utilnop_no_reply", check_utilnop_no_reply },
	{ "params_get_target_stats", check_params_get_target_stats },
	{ "no_frames_leaked", check_no_frames_leaked },
	{ "many_channels", check_many_channels },
	{ NULL, NULL },
};
