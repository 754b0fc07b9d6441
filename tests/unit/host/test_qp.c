/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs against a real runtime in the same process, its poll loop on
 * a thread of its own as an lcore would run it: calls, bursts whose
 * callbacks come back matched and in order, FAIL replies that hand the
 * request back, back-pressure that loses nothing, calls that time out, and
 * detach giving every frame back.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "iop_build.h"
#include "iop_channel.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_lct.h"
#include "iop_mfa_ring.h"
#include "iop_runtime.h"
#include "iop_test.h"
#include "runtime_harness.h" /* heap_free_bytes() */
#include "iop_window.h"

#define NOP_TID 0x010u
#define TIMEOUT_MS 5000u

struct iop_fixture {
	struct iop_window *w;
	struct iop_runtime *rt;
	pthread_t loop;
	_Atomic int stop;
	bool running;
	uint64_t in_free0, out_free0;
};

static struct iop_fixture fx;

static void *loop_main(void *arg)
{
	(void)arg;
	iop_runtime_lcore_loop(fx.rt, 0, &fx.stop);
	iop_heap_cache_flush(iop_window_inbound(fx.w));
	iop_heap_cache_flush(iop_window_outbound(fx.w));
	return NULL;
}

static void loop_start(void)
{
	atomic_store(&fx.stop, 0);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&fx.loop, NULL, loop_main, NULL), 0);
	fx.running = true;
}

static void loop_stop(void)
{
	if (!fx.running)
		return;
	atomic_store(&fx.stop, 1);
	pthread_join(fx.loop, NULL);
	fx.running = false;
}

/* A window with rings of `entries`; the nop DDM. */
static void up_rings(bool run, unsigned entries)
{
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20,
				      .channels = 8, .ring_entries = entries };
	struct iop_runtime_ddm ddm = { "nop", NULL, 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .iop_id = 3, .ddms = &ddm, .n_ddms = 1 };
	char err[256] = "";

	memset(&fx, 0, sizeof(fx));
	fx.w = iop_window_create(&wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.w);
	cfg.window = fx.w;
	fx.rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (fx.rt == NULL)
		fprintf(stderr, "iop_runtime_create: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.rt);
	fx.in_free0 = heap_free_bytes(iop_window_inbound(fx.w));
	fx.out_free0 = heap_free_bytes(iop_window_outbound(fx.w));
	if (run)
		loop_start();
}

/* A window with small rings, so that back-pressure is easy to reach. */
static void up(bool run)
{
	up_rings(run, 64);
}

/* Every frame back where it started, once the host has detached. */
static void down(void)
{
	loop_stop();
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(fx.w)), fx.in_free0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(fx.w)), fx.out_free0);
	iop_runtime_destroy(fx.rt);
	iop_window_close(fx.w);
}

static struct iop_host *attach(void)
{
	char err[256] = "";
	struct iop_host *h = iop_host_attach_runtime(fx.rt, err, sizeof(err));

	if (h == NULL)
		fprintf(stderr, "attach: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	return h;
}

/* The fixture with no loop turning (the test plays the IOP, or nobody does), a host, a queue pair. */
static struct iop_qp *qp_without_loop(struct iop_host **h)
{
	up(false);
	*h = attach();
	return iop_qp_create(*h, NULL);
}

static uint32_t *private_frame(struct iop_qp *qp, uint16_t tid)
{
	uint32_t *f = iop_qp_frame_alloc(qp, 32);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(iop_build_util_private(f, 32, tid, 0x1234, 0x5678), 5);
	return f;
}

static void test_call_round_trip(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_completion c;
	struct iop_msg_hdr m;
	uint32_t reply[8] = { 0 };

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	for (int i = 0; i < 1000; i++) {
		CU_ASSERT_EQUAL_FATAL(iop_qp_call(qp, private_frame(qp, NOP_TID), reply, 8, &c,
						  TIMEOUT_MS), 0);
		iop_msg_hdr_decode(reply, &m);
		CU_ASSERT_TRUE(m.flags & IOP_MSG_REPLY);
		CU_ASSERT_EQUAL(m.function, IOP_UTIL_PRIVATE);
		CU_ASSERT_EQUAL(m.target_tid, NOP_TID);
		CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
		CU_ASSERT_EQUAL(c.reply_words, IOP_REPLY_WORDS);
	}
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_qp_destroy(qp, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* Callbacks of bursts: each request's own argument, once, in the order posted. */
struct order_check {
	uintptr_t next;
	unsigned bad;
};

/* arg: a slot of two pointers, the checker and the request's sequence number. */
static void in_order(struct iop_qp *qp, const struct iop_completion *c)
{
	void **slot = c->arg;
	struct order_check *oc = slot[0];
	uintptr_t seq = (uintptr_t)slot[1];

	(void)qp;
	if (c->result != 0 || seq != oc->next)
		oc->bad++;
	oc->next = seq + 1;
}

static void test_bursts_match_callbacks_in_order(void)
{
	enum { TOTAL = 20000, BURST = 32 };
	struct order_check oc = { 0 };
	void **slots = calloc(TOTAL, 2 * sizeof(void *));
	struct iop_host *h;
	struct iop_qp *qp;
	unsigned posted = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(slots);
	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	while (oc.next < TOTAL && oc.bad == 0) {
		uint32_t *frames[BURST];
		void *args[BURST];
		unsigned n = 0, k;

		while (n < BURST && posted + n < TOTAL) {
			frames[n] = iop_qp_frame_alloc(qp, 16 << (n % 3));
			if (frames[n] == NULL)
				break;
			iop_build_util(frames[n], 16, NOP_TID, IOP_UTIL_CLAIM);
			slots[2 * (posted + n)] = &oc;
			slots[2 * (posted + n) + 1] = (void *)(uintptr_t)(posted + n);
			args[n] = &slots[2 * (posted + n)];
			n++;
		}
		k = iop_qp_post_burst(qp, frames, n, in_order, args);
		for (unsigned i = k; i < n; i++) /* back-pressure: ours again */
			iop_qp_frame_free(qp, frames[i]);
		posted += k;
		iop_qp_poll(qp, 64);
	}
	CU_ASSERT_EQUAL(oc.bad, 0);
	CU_ASSERT_EQUAL(oc.next, TOTAL);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0); /* destroys the queue pair too */
	down();
	free(slots);
}

static void test_executive_through_builders(void)
{
	uint32_t reply[64], *f;
	struct iop_exec_status s;
	struct iop_lct_header lh;
	struct iop_lct_entry e;
	const uint32_t *lct;
	size_t lct_bytes;
	struct iop_completion c;
	struct iop_host *h;
	struct iop_qp *qp;
	bool nop_listed = false;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	f = iop_qp_frame_alloc(qp, 16);
	CU_ASSERT_EQUAL(iop_build_exec_status_get(f, 16), 4);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(qp, f, reply, 64, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(iop_read_exec_status(reply, c.reply_words, &s), 0);
	CU_ASSERT_EQUAL(s.iop_state, IOP_STATE_OPERATIONAL);
	CU_ASSERT_EQUAL(s.iop_id, 3);
	CU_ASSERT_EQUAL(s.targets, 2);
	CU_ASSERT_EQUAL(s.channels, 8);
	CU_ASSERT_EQUAL(s.inbound_kib, 1024);
	CU_ASSERT(s.outbound_in_use > 0); /* this reply's own frame */

	f = iop_qp_frame_alloc(qp, 32);
	CU_ASSERT_EQUAL(iop_build_exec_lct_notify(f, 32, 0xFFFFFFFFu, 0), 6);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(qp, f, reply, 64, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(iop_read_lct_reply(reply, c.reply_words, &lct, &lct_bytes), 0);
	CU_ASSERT_EQUAL_FATAL(iop_lct_parse(lct, lct_bytes, &lh), 2);
	for (unsigned i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(iop_lct_entry_get(lct, lct_bytes, i, &e), 0);
		if (e.local_tid == NOP_TID && strncmp((const char *)e.identity_tag, "nop", 3) == 0)
			nop_listed = true;
	}
	CU_ASSERT_TRUE(nop_listed);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

static void test_params_get_and_refused_set(void)
{
	uint32_t reply[64], *f;
	uint64_t v[16], one = 1;
	unsigned n = 0;
	struct iop_completion c;
	struct iop_host *h;
	struct iop_qp *qp;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	for (int i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, NULL,
					    TIMEOUT_MS), 0);
	f = iop_qp_frame_alloc(qp, 32);
	CU_ASSERT_EQUAL(iop_build_params_get(f, 32, NOP_TID, IOP_PARAMS_GROUP_TARGET_STATS), 5);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(qp, f, reply, 64, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_read_params_reply(reply, c.reply_words, v, 16, &n), 8);
	CU_ASSERT_EQUAL(n, 8);
	CU_ASSERT_EQUAL(v[0], 6); /* requests: the five calls and this one */
	CU_ASSERT_EQUAL(v[1], 5); /* replies sent before this one */
	/* The counters are read-only: refused with a status, not a FAIL. */
	f = iop_qp_frame_alloc(qp, 64);
	CU_ASSERT_EQUAL(iop_build_params_set(f, 64, NOP_TID, IOP_PARAMS_GROUP_TARGET_STATS, &one,
					     1), 8);
	CU_ASSERT_EQUAL(iop_qp_call(qp, f, reply, 64, &c, TIMEOUT_MS), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	CU_ASSERT_EQUAL(iop_read_params_reply(reply, c.reply_words, v, 16, &n), -EPROTO);
	/* A function the nop DDM does not take. */
	f = iop_qp_frame_alloc(qp, 16);
	iop_build_util(f, 16, NOP_TID, IOP_UTIL_REPLY_FAULT_NOTIFY);
	CU_ASSERT_EQUAL(iop_qp_call(qp, f, NULL, 0, &c, TIMEOUT_MS), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_UNSUPPORTED_FUNCTION);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* A FAIL reply hands the request back; the queue pair frees it after the callback. */
static uint32_t *fail_seen_request;
static uint8_t fail_seen_code;

static void on_fail(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	CU_ASSERT_EQUAL(c->result, -EPROTO);
	fail_seen_request = c->request;
	fail_seen_code = c->fail_code;
}

static void test_fail_reply_gives_the_request_back(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	uint32_t *f;
	uint32_t w0;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	f = private_frame(qp, 0x0ABC); /* no such target */
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, on_fail, NULL), 0);
	while (iop_qp_poll(qp, 8) == 0)
		;
	CU_ASSERT_PTR_EQUAL(fail_seen_request, f);
	CU_ASSERT_EQUAL(fail_seen_code, IOP_FAIL_INVALID_TARGET_ID);
	/* A frame with a bad version: matched by PreservedMFA, its context not trusted. */
	f = private_frame(qp, NOP_TID);
	w0 = le32toh(f[0]);
	f[0] = htole32((w0 & ~7u) | 3u);
	fail_seen_request = NULL;
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, on_fail, NULL), 0);
	while (iop_qp_poll(qp, 8) == 0)
		;
	CU_ASSERT_PTR_EQUAL(fail_seen_request, f);
	CU_ASSERT_EQUAL(fail_seen_code, IOP_FAIL_INVALID_VERSION);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	/* A UtilNOP to nobody: no entry, no callback, but its frame comes back and is freed. */
	f = iop_qp_frame_alloc(qp, 16);
	iop_build_util_nop(f, 16, 0x0ABC);
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, on_fail, NULL), 0);
	fail_seen_request = NULL;
	CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, NULL, TIMEOUT_MS), 0);
	CU_ASSERT_PTR_NULL(fail_seen_request);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down(); /* both request frames were freed */
}

static unsigned completions;

static void count_ok(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	CU_ASSERT_EQUAL(c->result, 0);
	completions++;
}

/* A full table or ring is -EAGAIN, the frame stays the caller's, and nothing is lost. */
static void test_back_pressure_loses_nothing(void)
{
	struct iop_qp_opts small = { .depth = 10 }, deep = { .depth = 500 };
	struct iop_host *h;
	struct iop_qp *qp;
	uint32_t *f;
	unsigned posted = 0, capacity;

	up(false); /* nothing takes requests yet */
	h = attach();
	qp = iop_qp_create(h, &small);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(iop_qp_post(qp, private_frame(qp, NOP_TID), count_ok, NULL), 0);
	f = private_frame(qp, NOP_TID);
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, count_ok, NULL), -EAGAIN); /* the table */
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 10);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);

	qp = iop_qp_create(h, &deep);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	capacity = iop_mfa_ring_capacity(iop_qp_channel(qp)->to_iop);
	for (;;) {
		f = private_frame(qp, NOP_TID);
		if (iop_qp_post(qp, f, count_ok, NULL) != 0)
			break;
		posted++;
	}
	CU_ASSERT_EQUAL(posted, capacity); /* the ring */
	CU_ASSERT_EQUAL(le32toh(f[1]) >> 24, IOP_UTIL_PRIVATE); /* untouched, still ours */
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	completions = 0;
	loop_start();
	while (completions < posted)
		iop_qp_poll(qp, 64);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_qp_destroy(qp, TIMEOUT_MS), 0);
	/* The first queue pair's ten, polled by destroy. */
	completions = 0;
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* A call that times out leaves its request with the IOP; the late reply is freed. */
static void test_call_timeout_then_late_reply(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_completion c;

	qp = qp_without_loop(&h);
	CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, &c, 50), -ETIMEDOUT);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 1);
	loop_start();
	while (iop_qp_outstanding(qp) != 0)
		CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 0); /* no callback for it */
	CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* iop_qp_call_turning(): the loop here has no thread of its own; the caller's turns answer. */
static unsigned turns;

static void turn_loop(void *arg)
{
	turns++;
	iop_runtime_poll(arg, 0);
}

static void turn_nothing(void *arg)
{
	(void)arg;
	turns++;
}

static void test_call_turning_the_loop(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_completion c;
	struct iop_msg_hdr m;
	uint32_t reply[8] = { 0 }, *f;
	unsigned posted = 0, outstanding;

	qp = qp_without_loop(&h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	/* Nothing turns the loop: no reply, whatever the turn does. */
	turns = 0;
	CU_ASSERT_EQUAL(iop_qp_call_turning(qp, private_frame(qp, NOP_TID), NULL, 0, &c, 50,
					    turn_nothing, NULL), -ETIMEDOUT);
	CU_ASSERT_TRUE(turns > 0);
	/* No turn: refused before posting, so the frame is still the caller's to free. */
	f = private_frame(qp, NOP_TID);
	outstanding = iop_qp_outstanding(qp);
	CU_ASSERT_EQUAL(iop_qp_call_turning(qp, f, NULL, 0, &c, 50, NULL, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), outstanding);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	/* The turns answer it, and the timed-out one (freed without a callback). */
	turns = 0;
	CU_ASSERT_EQUAL_FATAL(iop_qp_call_turning(qp, private_frame(qp, NOP_TID), reply, 8, &c,
						  TIMEOUT_MS, turn_loop, fx.rt), 0);
	CU_ASSERT_TRUE(turns > 0);
	iop_msg_hdr_decode(reply, &m);
	CU_ASSERT_TRUE(m.flags & IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(m.function, IOP_UTIL_PRIVATE);
	CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
	while (iop_qp_outstanding(qp) != 0) {
		iop_runtime_poll(fx.rt, 0);
		iop_qp_poll(qp, 8);
	}
	/* A full request ring: the turns make room to post, and the earlier replies' callbacks run. */
	completions = 0;
	for (;;) {
		f = private_frame(qp, NOP_TID);
		if (iop_qp_post(qp, f, count_ok, NULL) != 0)
			break;
		posted++;
	}
	CU_ASSERT_TRUE_FATAL(posted > 0);
	turns = 0;
	CU_ASSERT_EQUAL(iop_qp_call_turning(qp, f, reply, 8, &c, TIMEOUT_MS, turn_loop, fx.rt), 0);
	CU_ASSERT_TRUE(turns > 0);
	CU_ASSERT_EQUAL(completions, posted);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_qp_destroy(qp, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

static void test_bad_frames_refused(void)
{
	uint32_t stack_frame[8] = { 0 }, *f;
	struct iop_host *h;
	struct iop_qp *qp;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	iop_build_util(stack_frame, sizeof(stack_frame), NOP_TID, IOP_UTIL_CLAIM);
	CU_ASSERT_EQUAL(iop_qp_post(qp, stack_frame, count_ok, NULL), -EINVAL);
	f = iop_qp_frame_alloc(qp, 16);
	iop_build_util(f, 16, NOP_TID, IOP_UTIL_CLAIM);
	f[0] = htole32((le32toh(f[0]) & 0xFFFFu) | 64u << 16); /* 64 words in a 16-byte block */
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, count_ok, NULL), -EINVAL);
	errno = 0;
	CU_ASSERT_EQUAL(iop_qp_post_burst(qp, &f, 1, count_ok, NULL), 0);
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, stack_frame), -EFAULT);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* UtilNOP: posted, freed by the IOP, no table entry and no callback. */
static void test_nop_takes_no_entry(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_completion c;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	for (int i = 0; i < 100; i++) {
		uint32_t *f = iop_qp_frame_alloc(qp, 16);

		int rc;

		CU_ASSERT_EQUAL(iop_build_util_nop(f, 16, NOP_TID), 4);
		while ((rc = iop_qp_post(qp, f, count_ok, NULL)) == -EAGAIN)
			; /* the ring is full until the loop takes some */
		CU_ASSERT_EQUAL(rc, 0);
	}
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	/* A call after them: the NOPs are done once it answers (one channel, in order). */
	CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* Replies seen by a callback that records them. */
static unsigned n_seen;
static bool seen_more[8];

static void record(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	CU_ASSERT_EQUAL(c->result, 0);
	if (n_seen < 8)
		seen_more[n_seen] = c->more;
	n_seen++;
}

/*
 * The IOP's part on the rings, played by the test: post a private request
 * with callback cb and take it off the channel as the IOP would; its header
 * in *req, its block in *block.
 */
static uint32_t *post_and_take(struct iop_qp *qp, iop_qp_cb cb, struct iop_msg_hdr *req,
			       size_t *block)
{
	uint32_t mfa, *f;

	CU_ASSERT_EQUAL(iop_qp_post(qp, private_frame(qp, NOP_TID), cb, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_take(iop_qp_channel(qp)->to_iop, &mfa, 1), 1);
	f = iop_window_frame_block(fx.w, mfa, block);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	iop_msg_hdr_decode(f, req);
	return f;
}

/* A SUCCESS reply to req in a frame of the host's, as the IOP would build it. */
static uint32_t *reply_for(struct iop_host *h, const struct iop_msg_hdr *req)
{
	uint32_t *r = iop_heap_alloc_tagged(iop_window_outbound(fx.w), IOP_REPLY_WORDS * 4,
					    iop_host_owner(h));

	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	iop_reply_build(req, NOP_TID, IOP_REPLY_STATUS_SUCCESS, 0, r, IOP_REPLY_WORDS);
	return r;
}

/*
 * A request answered with several replies (MULTIPLE; the last also LAST, as
 * LAN DDMs batch received packets): one callback each, and the request stays
 * in flight until the last. The test plays the IOP's part on the rings.
 */
static void test_multiple_replies_keep_the_request(void)
{
	const uint8_t flags[3] = { IOP_MSG_MULTIPLE, IOP_MSG_MULTIPLE,
				   IOP_MSG_MULTIPLE | IOP_MSG_LAST };
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_msg_hdr req;
	uint32_t *f;
	size_t block;

	qp = qp_without_loop(&h);
	n_seen = 0;
	f = post_and_take(qp, record, &req, &block);
	for (int i = 0; i < 3; i++) {
		uint32_t *r = reply_for(h, &req);
		uint32_t rm;

		r[0] = htole32(le32toh(r[0]) | (uint32_t)flags[i] << 8);
		rm = iop_window_mfa(fx.w, r);
		CU_ASSERT_EQUAL(iop_mfa_ring_post(iop_qp_channel(qp)->to_host, &rm, 1), 1);
		CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 1);
		CU_ASSERT_EQUAL(iop_qp_outstanding(qp), i < 2 ? 1u : 0u);
	}
	CU_ASSERT_EQUAL(n_seen, 3);
	CU_ASSERT_TRUE(seen_more[0] && seen_more[1]);
	CU_ASSERT_FALSE(seen_more[2]);
	iop_heap_free(iop_window_inbound(fx.w), f, block); /* the IOP's part: the request */
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

static int last_result = 1;

static void record_result(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	last_result = c->result;
}

/*
 * A frame on the reply ring that matches a request but is no reply (its
 * REPLY flag clear): its word 4 is no status, so the request completes with
 * -EPROTO, never as a success.
 */
static void test_frame_that_is_no_reply_is_no_success(void)
{
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_msg_hdr req;
	uint32_t rm, *f, *r;
	size_t block;

	qp = qp_without_loop(&h);
	last_result = 1;
	f = post_and_take(qp, record_result, &req, &block);
	r = reply_for(h, &req);
	r[0] = htole32(le32toh(r[0]) & ~((uint32_t)IOP_MSG_REPLY << 8));
	rm = iop_window_mfa(fx.w, r);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(iop_qp_channel(qp)->to_host, &rm, 1), 1);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 1);
	CU_ASSERT_EQUAL(last_result, -EPROTO);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	iop_heap_free(iop_window_inbound(fx.w), f, block); /* the IOP's part: the request */
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* Events seen by a callback: target, indicator, first EventData word; refusals apart. */
struct events_seen {
	unsigned n, refused;
	uint16_t tid[16];
	uint32_t indicator[16], data[16];
	uint16_t refused_dsc;
};

static void record_event(struct iop_qp *qp, const struct iop_completion *c)
{
	struct events_seen *es = c->arg;

	(void)qp;
	if (!c->event) {
		CU_ASSERT_EQUAL(c->result, -EIO);
		es->refused++;
		es->refused_dsc = c->dsc;
		return;
	}
	CU_ASSERT_EQUAL(c->result, 0);
	CU_ASSERT_TRUE(c->more);
	CU_ASSERT(c->reply_words > IOP_EVENT_DATA_WORD);
	if (es->n < 16 && c->reply_words > IOP_EVENT_DATA_WORD) {
		es->tid[es->n] = le32toh(c->reply[1]) & IOP_TID_MAX;
		es->indicator[es->n] = c->event_indicator;
		es->data[es->n] = le32toh(c->reply[IOP_EVENT_DATA_WORD]);
	}
	es->n++;
}

static void exec_call(struct iop_qp *qp, uint8_t fn)
{
	uint32_t *f = iop_qp_frame_alloc(qp, 16);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(iop_build_exec(f, 16, fn), 4);
	CU_ASSERT_EQUAL(iop_qp_call(qp, f, NULL, 0, NULL, TIMEOUT_MS), 0);
}

/* Poll until `n` events have come (a bounded wait: a missing event fails the test). */
static void wait_events(struct iop_qp *qp, const struct events_seen *es, unsigned n)
{
	for (unsigned spins = 0; es->n < n && spins < 50000000u; spins++)
		iop_qp_poll(qp, 8);
	CU_ASSERT_EQUAL(es->n, n);
}

/*
 * UtilEventRegister through a queue pair against the running loop: events
 * of the executive and of a DDM reach their callbacks, registrations take
 * no outstanding request, a cancel stops the DDM's, a refused registration
 * ends with its callback, and nothing is left behind at detach.
 */
static void test_events_reach_their_callbacks(void)
{
	struct events_seen es = { 0 }, refused = { 0 };
	struct iop_host *h;
	struct iop_qp *qp;
	uint32_t *f;

	up(true);
	h = attach();
	qp = iop_qp_create(h, NULL);
	CU_ASSERT_EQUAL(iop_qp_event_register(qp, IOP_TID_EXEC, IOP_EVENT_STATE_CHANGE,
					      record_event, &es), 0);
	CU_ASSERT_EQUAL(iop_qp_event_register(qp, NOP_TID, IOP_EVENT_STATE_CHANGE, record_event,
					      &es), 0);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);

	exec_call(qp, IOP_EXEC_SYS_QUIESCE);
	wait_events(qp, &es, 2);
	for (unsigned i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(es.indicator[i], IOP_EVENT_STATE_CHANGE);
		CU_ASSERT_EQUAL(es.data[i], IOP_EVENT_STATE_SUSPENDED);
	}
	/* The DDM's comes first: its quiesce ends before the executive answers. */
	CU_ASSERT_EQUAL(es.tid[0], NOP_TID);
	CU_ASSERT_EQUAL(es.tid[1], IOP_TID_EXEC);
	exec_call(qp, IOP_EXEC_SYS_ENABLE);
	wait_events(qp, &es, 4);
	CU_ASSERT_EQUAL(es.data[2], IOP_EVENT_STATE_NORMAL);
	CU_ASSERT_EQUAL(es.data[3], IOP_EVENT_STATE_NORMAL);

	/* Cancelled: the DDM's events stop; the executive's go on. */
	CU_ASSERT_EQUAL(iop_qp_event_register(qp, NOP_TID, 0, NULL, NULL), 0);
	exec_call(qp, IOP_EXEC_SYS_QUIESCE);
	wait_events(qp, &es, 5);
	CU_ASSERT_EQUAL(es.tid[4], IOP_TID_EXEC);
	exec_call(qp, IOP_EXEC_SYS_ENABLE);
	wait_events(qp, &es, 6);
	CU_ASSERT_EQUAL(es.tid[5], IOP_TID_EXEC);
	/* And no late one of the DDM's: a round trip to it, after which none may come. */
	CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, NULL, TIMEOUT_MS), 0);
	iop_qp_poll(qp, 8);
	CU_ASSERT_EQUAL(es.n, 6);

	/* Without its mask: refused, with a final reply its callback is told of. */
	f = iop_qp_frame_alloc(qp, 16);
	CU_ASSERT_EQUAL(iop_build_util(f, 16, NOP_TID, IOP_UTIL_EVENT_REGISTER), 4);
	CU_ASSERT_EQUAL(iop_qp_post(qp, f, record_event, &refused), 0);
	for (unsigned spins = 0; refused.refused == 0 && spins < 50000000u; spins++)
		iop_qp_poll(qp, 8);
	CU_ASSERT_EQUAL(refused.refused, 1);
	CU_ASSERT_EQUAL(refused.refused_dsc, IOP_DSC_MISSING_PARAMETER);
	CU_ASSERT_EQUAL(refused.n, 0);

	/* A call has no reply to wait for here. */
	f = iop_qp_frame_alloc(qp, 32);
	CU_ASSERT_EQUAL(iop_build_util_event_register(f, 32, NOP_TID, IOP_EVENT_STATE_CHANGE), 5);
	CU_ASSERT_EQUAL(iop_qp_call(qp, f, NULL, 0, NULL, TIMEOUT_MS), -EINVAL);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

static const uint32_t *reply_seen;

static void record_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	CU_ASSERT_EQUAL(c->result, 0);
	reply_seen = c->reply;
	completions++;
}

/* One request answered with the loop turned by hand. @return its reply frame. */
static const uint32_t *one_round_trip(struct iop_qp *qp, uint32_t **request)
{
	uint32_t *f = private_frame(qp, NOP_TID);

	if (request != NULL)
		*request = f;
	reply_seen = NULL;
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(qp, f, record_reply, NULL), 0);
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 1);
	return reply_seen;
}

/*
 * Take what a free list holds, check that each is an allocated frame of
 * heap h's smallest block tagged `owner`, and put them back in order (the
 * test is the list's one consumer while it does). @return how many.
 */
static unsigned free_list_check(struct rte_ring *r, struct iop_heap *h, uint16_t owner,
				uint32_t *mfas, unsigned max)
{
	unsigned n = iop_mfa_ring_take(r, mfas, max);

	for (unsigned i = 0; i < n; i++) {
		void *f = iop_window_frame(fx.w, mfas[i]);

		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, f), iop_heap_min_block(h));
		CU_ASSERT_EQUAL(iop_heap_tag(h, f), owner);
	}
	CU_ASSERT_EQUAL(iop_mfa_ring_post(r, mfas, n), n);
	return n;
}

/*
 * Frames of the smallest block go round on the channel's free lists: the
 * IOP puts an answered request's frame on free_to_host, tagged as the
 * host's again, and the queue pair fills it again; the queue pair gives
 * spent reply frames back on free_to_iop a batch at a time, when a poll
 * finds nothing to take, and the IOP
 * answers in them, oldest first. Detach gives back what the lists and the
 * queue pair hold.
 */
static void test_frames_go_round_on_the_free_lists(void)
{
	enum { FIRST = 20, BATCH = 32 };
	struct iop_host *h;
	struct iop_qp *qp = qp_without_loop(&h);
	struct iop_heap *in = iop_window_inbound(fx.w), *out = iop_window_outbound(fx.w);
	struct iop_heap_stats in0, out0, in1, out1;
	const struct iop_channel *ch;
	uint32_t *sent[FIRST], mfas[BATCH], *f;
	bool found = false;

	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	ch = iop_qp_channel(qp);
	completions = 0;
	for (unsigned i = 0; i < FIRST; i++) {
		sent[i] = private_frame(qp, NOP_TID);
		CU_ASSERT_EQUAL_FATAL(iop_qp_post(qp, sent[i], count_ok, NULL), 0);
	}
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 64), FIRST);
	CU_ASSERT_EQUAL(completions, FIRST);

	/* The answered requests' frames, in the order they were answered, the host's again. */
	CU_ASSERT_EQUAL_FATAL(free_list_check(ch->free_to_host, in, iop_host_owner(h), mfas,
					      BATCH), FIRST);
	for (unsigned i = 0; i < FIRST; i++)
		CU_ASSERT_PTR_EQUAL(iop_window_frame(fx.w, mfas[i]), sent[i]);
	/* The next frame is one of them: the queue pair took them all at once. */
	f = iop_qp_frame_alloc(qp, 32);
	for (unsigned i = 0; i < FIRST; i++)
		found |= f == sent[i];
	CU_ASSERT(found);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), 0);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);

	/*
	 * The next requests go in the frames the queue pair took; their
	 * replies come from the heap (free_to_iop is still empty), and the
	 * queue pair keeps them rather than free them.
	 */
	iop_heap_stats(in, &in0);
	iop_heap_stats(out, &out0);
	for (unsigned i = FIRST; i < BATCH; i++) {
		uint32_t *request;

		found = false;
		one_round_trip(qp, &request);
		for (unsigned k = 0; k < FIRST; k++)
			found |= request == sent[k];
		CU_ASSERT(found);
	}
	iop_heap_stats(in, &in1);
	iop_heap_stats(out, &out1);
	CU_ASSERT_EQUAL(in1.blocks_in_use, in0.blocks_in_use);

	/*
	 * BATCH replies spent: kept until a poll finds no reply (the host has
	 * time on its hands), then back on free_to_iop together, the host's
	 * still.
	 */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 0);
	CU_ASSERT_EQUAL_FATAL(free_list_check(ch->free_to_iop, out, iop_host_owner(h), mfas,
					      BATCH), BATCH);
	CU_ASSERT_EQUAL(out1.blocks_in_use, out0.blocks_in_use + BATCH - FIRST);
	CU_ASSERT_PTR_EQUAL(one_round_trip(qp, NULL), iop_window_frame(fx.w, mfas[0]));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), BATCH - 1);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * The IOP puts no more than IOP_FREE_LIST_HOLD frames on free_to_host: a
 * host that leaves them there (here, one that allocates its requests from
 * the heap itself) does not keep more than that out of the heap.
 */
static void test_free_to_host_holds_no_more_than_its_share(void)
{
	enum { ROUNDS = 4, PER_ROUND = 40 };
	struct iop_host *h;
	struct iop_qp *qp;
	struct iop_heap *in;
	struct iop_heap_stats s0, s1;

	up_rings(false, 256); /* rings that hold more than the list may */
	h = attach();
	qp = iop_qp_create(h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	in = iop_window_inbound(fx.w);
	iop_heap_stats(in, &s0);
	completions = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		for (unsigned i = 0; i < PER_ROUND; i++) {
			uint32_t *f = iop_heap_alloc_tagged(in, 32, iop_host_owner(h));

			CU_ASSERT_PTR_NOT_NULL_FATAL(f);
			iop_build_util_private(f, 32, NOP_TID, 0x1234, 0x5678);
			CU_ASSERT_EQUAL_FATAL(iop_qp_post(qp, f, count_ok, NULL), 0);
		}
		for (int turn = 0; turn < 4; turn++) /* a turn takes up to a burst a channel */
			iop_runtime_poll(fx.rt, 0);
		CU_ASSERT_EQUAL(iop_qp_poll(qp, 64), PER_ROUND);
	}
	CU_ASSERT_EQUAL(completions, ROUNDS * PER_ROUND);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(iop_qp_channel(qp)->free_to_host), IOP_FREE_LIST_HOLD);
	iop_heap_stats(in, &s1);
	CU_ASSERT_EQUAL(s1.blocks_in_use, s0.blocks_in_use + IOP_FREE_LIST_HOLD);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * What a host puts on free_to_iop that is not a marked reply frame of its
 * own of the list's size (another owner's, a larger block, a request frame,
 * a block it gave back to the heap, which a reply may have taken since) is
 * not answered in, counted as a bad MFA, and left as it was: each request
 * is answered from the heap instead.
 */
static void test_bad_frames_on_the_outbound_free_list_are_not_used(void)
{
	struct iop_host *h;
	struct iop_qp *qp = qp_without_loop(&h);
	struct iop_heap *out = iop_window_outbound(fx.w);
	struct iop_runtime_stats rs0, rs1;
	uint32_t mfas[4], *other, *large, *request, *freed;
	const uint32_t *r;

	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	other = iop_heap_alloc_tagged(out, 32, iop_host_owner(h) - 1);
	large = iop_heap_alloc_tagged(out, 1024, iop_host_owner(h));
	request = iop_qp_frame_alloc(qp, 32);
	freed = iop_heap_alloc_tagged(out, 32, iop_host_owner(h));
	CU_ASSERT_FATAL(other != NULL && large != NULL && request != NULL && freed != NULL);
	/*
	 * Marked as a host marks what it gives back: only the other checks
	 * refuse them. The freed block first, before any reply may take it
	 * from the heap again: its allocation bit alone refuses it.
	 */
	memset(other, 0xA5, 64);
	memset(large, 0x5A, 64);
	other[0] = large[0] = request[0] = freed[0] = htole32(IOP_FREE_FRAME_MARK);
	mfas[0] = iop_window_mfa(fx.w, freed);
	mfas[1] = iop_window_mfa(fx.w, other);
	mfas[2] = iop_window_mfa(fx.w, large);
	mfas[3] = iop_window_mfa(fx.w, request);
	CU_ASSERT_EQUAL(iop_heap_free(out, freed, 32), 0);
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(iop_qp_channel(qp)->free_to_iop, mfas, 4), 4);
	iop_runtime_stats(fx.rt, &rs0);
	completions = 0;
	for (int i = 0; i < 4; i++) {
		r = one_round_trip(qp, NULL);
		CU_ASSERT(r != other && r != large && r != request);
	}
	CU_ASSERT_EQUAL(completions, 4);
	iop_runtime_stats(fx.rt, &rs1);
	CU_ASSERT_EQUAL(rs1.bad_mfas, rs0.bad_mfas + 4);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(iop_qp_channel(qp)->free_to_iop), 0);
	CU_ASSERT_EQUAL(iop_heap_tag(out, other), iop_host_owner(h) - 1);
	CU_ASSERT_EQUAL(le32toh(other[0]), IOP_FREE_FRAME_MARK);
	CU_ASSERT_EQUAL(other[1], 0xA5A5A5A5u);
	CU_ASSERT_EQUAL(large[1], 0x5A5A5A5Au);
	CU_ASSERT_EQUAL(iop_heap_free(out, other, 32), 0);
	CU_ASSERT_EQUAL(iop_heap_free(out, large, 1024), 0);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, request), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* n requests to the nop DDM, each in a frame from the queue pair, counted by count_ok. */
static void post_counted(struct iop_qp *qp, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		CU_ASSERT_EQUAL_FATAL(iop_qp_post(qp, private_frame(qp, NOP_TID), count_ok, NULL),
				      0);
}

/*
 * A queue pair that posted `posted` requests and took the replies of one
 * loop turn, which answers up to 32.
 */
static struct iop_qp *replies_of_one_turn(struct iop_host **h, unsigned posted)
{
	struct iop_qp *qp = qp_without_loop(h);
	unsigned turn = posted < 32 ? posted : 32;

	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	completions = 0;
	post_counted(qp, posted);
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_poll(qp, 64), turn);
	CU_ASSERT_EQUAL(iop_qp_outstanding(qp), posted - turn);
	return qp;
}

/*
 * The queue pair refills its request frames from free_to_host when a poll
 * finds no reply, once it is down to half a batch, so that taking a batch
 * (indices and MFAs the IOP wrote) is not on a request's way: not when a
 * reply is taken, and not when a frame is next allocated.
 */
static void test_request_frames_taken_when_a_poll_finds_nothing(void)
{
	enum { BATCH = 32 };
	struct iop_host *h;
	struct iop_qp *qp = replies_of_one_turn(&h, BATCH);
	const struct iop_channel *ch = iop_qp_channel(qp);
	uint32_t *f;

	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_count(ch->free_to_host), BATCH);
	/* The first allocation takes the batch; each round trip puts its frame back. */
	f = iop_qp_frame_alloc(qp, 32);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), 0);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	for (unsigned i = 0; i < BATCH / 2 - 1; i++)
		one_round_trip(qp, NULL);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), BATCH / 2 - 1);
	/* Down to half a batch: a poll that takes a reply leaves the list alone... */
	one_round_trip(qp, NULL);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), BATCH / 2);
	/* ...one that finds nothing takes it all, and the next frame is one of them. */
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), 0);
	CU_ASSERT_PTR_NOT_NULL(iop_qp_frame_alloc(qp, 32));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * With more than one request in flight the next reply is on its way, and no
 * poll may find nothing for a while: the queue pair gives a batch of spent
 * reply frames back as soon as it has one.
 */
static void test_spent_frames_back_at_once_with_a_burst_in_flight(void)
{
	enum { BATCH = 32, POSTED = BATCH + 2, TURN = 32 };
	struct iop_host *h;
	struct iop_qp *qp = replies_of_one_turn(&h, POSTED);
	const struct iop_channel *ch = iop_qp_channel(qp);

	/* The batch went back with the poll that took its last reply. */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), BATCH);
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 64), POSTED - TURN);
	CU_ASSERT_EQUAL(completions, POSTED);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * A take from free_to_host that leaves the queue pair below half a batch
 * (the list held only what the first allocation waits for) still gets a
 * look again: at a quarter, the next poll that finds nothing takes more.
 */
static void test_short_take_still_topped_up(void)
{
	enum { TAKE = 16 };
	struct iop_host *h;
	struct iop_qp *qp = replies_of_one_turn(&h, TAKE);
	const struct iop_channel *ch = iop_qp_channel(qp);
	uint32_t *f;

	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_count(ch->free_to_host), TAKE);
	f = iop_qp_frame_alloc(qp, 32); /* takes all TAKE, keeps TAKE - 1 */
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_EQUAL(iop_qp_frame_free(qp, f), 0);
	for (unsigned i = 0; i < TAKE / 2 - 1; i++)
		one_round_trip(qp, NULL);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), TAKE / 2 - 1);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_host), 0);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * With one request in flight, or none, the host is waiting: spent reply
 * frames wait for a poll that finds nothing, or go back at once when twice a
 * batch has piled up without one.
 */
static void test_spent_frames_wait_for_a_poll_that_finds_nothing(void)
{
	enum { BATCH = 32, POSTED = BATCH + 1 };
	struct iop_host *h;
	struct iop_qp *qp = replies_of_one_turn(&h, POSTED);
	const struct iop_channel *ch = iop_qp_channel(qp);

	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), BATCH);
	/* The last request's reply, in one of them: one spent, BATCH - 1 left on the list. */
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), 1);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), BATCH - 1);
	/*
	 * Round trips one at a time, every poll taking a reply: the IOP uses up
	 * the list, and the spent frames go back when they are two batches.
	 */
	for (unsigned i = 0; i < 2 * BATCH - 2; i++)
		one_round_trip(qp, NULL);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop), 0);
	one_round_trip(qp, NULL);
	/* As many as the list takes (this fixture's rings hold 63); the rest went to the heap. */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch->free_to_iop),
			RTE_MIN(2u * BATCH, iop_mfa_ring_capacity(ch->free_to_iop)));
	CU_ASSERT_EQUAL(completions, POSTED + 2 * BATCH - 1);
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/*
 * With the inbound heap exhausted, a queue pair still gets a frame while
 * its channel's free list has any, fewer than it would otherwise wait for.
 */
static void test_frames_on_the_free_list_when_the_heap_has_none(void)
{
	enum { ANSWERED = 5, MAX_HOGS = 64 };
	struct iop_host *h;
	struct iop_qp *qp = qp_without_loop(&h);
	struct iop_heap *in = iop_window_inbound(fx.w);
	void *hog[MAX_HOGS];
	size_t hog_bytes[MAX_HOGS];
	unsigned n_hogs = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
	completions = 0;
	post_counted(qp, ANSWERED);
	iop_runtime_poll(fx.rt, 0);
	CU_ASSERT_EQUAL(iop_qp_poll(qp, 8), ANSWERED);
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_count(iop_qp_channel(qp)->free_to_host), ANSWERED);
	/* Every block the heap has, largest first. */
	for (size_t bytes = iop_heap_size(in); bytes >= iop_heap_min_block(in) && n_hogs < MAX_HOGS;)
		if ((hog[n_hogs] = iop_heap_alloc(in, bytes)) != NULL)
			hog_bytes[n_hogs++] = bytes;
		else
			bytes /= 2;
	CU_ASSERT_PTR_NULL_FATAL(iop_heap_alloc(in, 16));
	CU_ASSERT_PTR_NOT_NULL(iop_qp_frame_alloc(qp, 32));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(iop_qp_channel(qp)->free_to_host), 0);
	while (n_hogs != 0) {
		n_hogs--;
		CU_ASSERT_EQUAL(iop_heap_free(in, hog[n_hogs], hog_bytes[n_hogs]), 0);
	}
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* Detach with requests in flight and replies unread gives every frame back. */
static void test_detach_gives_everything_back(void)
{
	struct iop_host *h;
	struct iop_qp *qp[3];

	up(true);
	h = attach();
	for (int q = 0; q < 3; q++) {
		qp[q] = iop_qp_create(h, NULL);
		CU_ASSERT_PTR_NOT_NULL_FATAL(qp[q]);
		for (int i = 0; i < 40; i++)
			CU_ASSERT_EQUAL(iop_qp_post(qp[q], private_frame(qp[q], NOP_TID), count_ok,
						    NULL), 0);
	}
	iop_qp_frame_alloc(qp[0], 512); /* allocated, never posted */
	completions = 0;
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(completions, 0); /* detach runs no callbacks */
	down();
}

/* Queue pairs made and destroyed many times over: the channel slots come back. */
static void test_channels_come_back(void)
{
	struct iop_host *h;
	struct iop_completion c;

	up(true);
	h = attach();
	for (int i = 0; i < 100; i++) {
		struct iop_qp *qp = iop_qp_create(h, NULL);

		CU_ASSERT_PTR_NOT_NULL_FATAL(qp);
		CU_ASSERT_EQUAL(iop_qp_call(qp, private_frame(qp, NOP_TID), NULL, 0, &c,
					    TIMEOUT_MS), 0);
		CU_ASSERT_EQUAL(iop_qp_destroy(qp, TIMEOUT_MS), 0);
	}
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

/* Host threads that are not lcores, each with its own queue pair, at once. */
static void *host_thread(void *arg)
{
	struct iop_host *h = arg;
	struct iop_qp *qp = iop_qp_create(h, NULL);
	struct iop_completion c;
	long bad = 0;

	if (qp == NULL)
		return (void *)1;
	for (int i = 0; i < 3000; i++) {
		uint32_t *f;

		while ((f = iop_qp_frame_alloc(qp, 16 << (i % 4))) == NULL)
			iop_qp_poll(qp, 8);
		iop_build_util(f, 16, NOP_TID, IOP_UTIL_LOCK);
		bad += iop_qp_call(qp, f, NULL, 0, &c, TIMEOUT_MS) != 0;
	}
	bad += iop_qp_destroy(qp, TIMEOUT_MS) != 0;
	return (void *)bad;
}

static void test_threads_each_with_a_queue_pair(void)
{
	pthread_t t[6];
	struct iop_host *h;

	up(true);
	h = attach();
	for (int i = 0; i < 6; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, host_thread, h), 0);
	for (int i = 0; i < 6; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		CU_ASSERT_PTR_NULL(bad);
	}
	CU_ASSERT_EQUAL(iop_host_detach(h, TIMEOUT_MS), 0);
	down();
}

static const struct iop_test_case qp_tests[] = {
	{ "call_round_trip", test_call_round_trip },
	{ "bursts_match_callbacks_in_order", test_bursts_match_callbacks_in_order },
	{ "executive_through_builders", test_executive_through_builders },
	{ "params_get_and_refused_set", test_params_get_and_refused_set },
	{ "fail_reply_gives_the_request_back", test_fail_reply_gives_the_request_back },
	{ "back_pressure_loses_nothing", test_back_pressure_loses_nothing },
	{ "call_timeout_then_late_reply", test_call_timeout_then_late_reply },
	{ "call_turning_the_loop", test_call_turning_the_loop },
	{ "bad_frames_refused", test_bad_frames_refused },
	{ "nop_takes_no_entry", test_nop_takes_no_entry },
	{ "multiple_replies_keep_the_request", test_multiple_replies_keep_the_request },
	{ "frame_that_is_no_reply_is_no_success", test_frame_that_is_no_reply_is_no_success },
	{ "events_reach_their_callbacks", test_events_reach_their_callbacks },
	{ "frames_go_round_on_the_free_lists", test_frames_go_round_on_the_free_lists },
	{ "request_frames_taken_when_a_poll_finds_nothing",
	  test_request_frames_taken_when_a_poll_finds_nothing },
	{ "spent_frames_back_at_once_with_a_burst_in_flight",
	  test_spent_frames_back_at_once_with_a_burst_in_flight },
	{ "short_take_still_topped_up", test_short_take_still_topped_up },
	{ "spent_frames_wait_for_a_poll_that_finds_nothing",
	  test_spent_frames_wait_for_a_poll_that_finds_nothing },
	{ "free_to_host_holds_no_more_than_its_share",
	  test_free_to_host_holds_no_more_than_its_share },
	{ "frames_on_the_free_list_when_the_heap_has_none",
	  test_frames_on_the_free_list_when_the_heap_has_none },
	{ "bad_frames_on_the_outbound_free_list_are_not_used",
	  test_bad_frames_on_the_outbound_free_list_are_not_used },
	{ "detach_gives_everything_back", test_detach_gives_everything_back },
	{ "channels_come_back", test_channels_come_back },
	{ "threads_each_with_a_queue_pair", test_threads_each_with_a_queue_pair },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "queue_pairs", qp_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
