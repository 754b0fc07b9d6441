/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime's dispatch, turn by turn on one thread (one test adds a host
 * thread that takes replies while the loop turns): what it answers for
 * every DDM (malformed frames, unknown targets, bad MFAs, UtilNOP, functions a
 * DDM does not take), exactly one reply per request whatever a DDM does,
 * requests a DDM keeps or hands back, replies that wait for a full ring or
 * an empty heap, requests that cross lcores, and hosts that leave. Every test
 * ends with both heaps as they started.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "iop_ddm.h"
#include "iop_lct.h"
#include "runtime_harness.h"
#include "runtime_impl.h" /* CHAN_RESCAN_TURNS */

/* ---- DDMs that misbehave, one way each ---- */

static const uint8_t claim_only[] = { IOP_UTIL_CLAIM };

static int twice_handle(struct iop_ddm *d, struct iop_request *r)
{
	uint32_t *second;

	(void)d;
	second = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	CU_ASSERT_EQUAL(iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS), 0);
	/* Allocated before the first reply went out, sent after: refused. */
	CU_ASSERT_PTR_NULL(iop_request_reply_alloc(r, IOP_REPLY_WORDS));
	CU_ASSERT_EQUAL(errno, EALREADY);
	CU_ASSERT_EQUAL(iop_request_reply_send(r, second, IOP_REPLY_WORDS, 0, 0), -EALREADY);
	/* The status-only helper's second reply: refused and counted the same way. */
	CU_ASSERT_EQUAL(iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS), -EALREADY);
	return IOP_DDM_DONE;
}

static int never_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	(void)r;
	return IOP_DDM_DONE;
}

static int error_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	(void)r;
	return -EIO;
}

/* Keeps each request and answers it from its poll callback two turns later. */
struct later {
	struct iop_request *held;
	unsigned turns;
};

static int later_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct later *l = iop_ddm_priv(d);

	if (l->held != NULL)
		return IOP_DDM_RETRY; /* one at a time: the runtime keeps the rest */
	l->held = r;
	l->turns = 2;
	return IOP_DDM_PENDING;
}

static int later_poll(struct iop_ddm *d)
{
	struct later *l = iop_ddm_priv(d);

	if (l->held == NULL || --l->turns != 0)
		return 0;
	CU_ASSERT_EQUAL(iop_request_reply(l->held, IOP_REPLY_STATUS_SUCCESS, 0x1234), 0);
	l->held = NULL;
	return 1;
}

/* Echoes the request's payload words back after the status word. */
static int echo_handle(struct iop_ddm *d, struct iop_request *r)
{
	unsigned n = iop_request_hdr(r)->size_words;
	uint32_t *p = iop_request_reply_alloc(r, n + 1);

	(void)d;
	if (p == NULL)
		return IOP_DDM_RETRY;
	for (unsigned i = IOP_MSG_HDR_WORDS; i < n; i++)
		p[i + 1] = iop_request_frame(r)[i];
	/* Trying to rewrite the contexts changes nothing the host sees. */
	p[2] = 0xBAD;
	p[3] = 0xBAD;
	CU_ASSERT_EQUAL(iop_request_reply_send(r, p, n + 1, IOP_REPLY_STATUS_SUCCESS, 0), 0);
	return IOP_DDM_DONE;
}

/* A DDM with one settable parameter group (1) of two fields. */
struct knobs {
	uint64_t v[2];
};

static int knob_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	struct knobs *k = iop_ddm_priv(d);

	if (group != 1 || max < 2)
		return -ENOENT;
	fields[0] = k->v[0];
	fields[1] = k->v[1];
	return 2;
}

static int knob_set(struct iop_ddm *d, uint16_t group, const uint64_t *fields, unsigned n)
{
	struct knobs *k = iop_ddm_priv(d);

	if (group != 1)
		return -ENOENT;
	for (unsigned i = 0; i < n && i < 2; i++)
		k->v[i] = fields[i];
	return n <= 2 ? 0 : -EINVAL;
}

static const struct iop_ddm_ops knobs_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "knobs",
	.class_id = IOP_CLASS_DDM,
	.functions = claim_only,
	.n_functions = 1,
	.priv_size = sizeof(struct knobs),
	.handle = never_handle,
	.params_get = knob_get,
	.params_set = knob_set,
};
IOP_DDM_REGISTER(knobs_ops)

/* Parks every request until told to answer them all at once (from its poll). */
#define PARKED_MAX 1024
static struct iop_request *parked[PARKED_MAX];
static unsigned n_parked;
static bool release_parked;

static int park_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	if (n_parked == PARKED_MAX)
		return IOP_DDM_RETRY;
	parked[n_parked++] = r;
	return IOP_DDM_PENDING;
}

static int park_poll(struct iop_ddm *d)
{
	unsigned n = 0;

	(void)d;
	if (!release_parked)
		return 0;
	while (n < n_parked && iop_request_reply(parked[n], IOP_REPLY_STATUS_SUCCESS, 0) == 0)
		n++;
	memmove(parked, parked + n, (n_parked - n) * sizeof(parked[0]));
	n_parked -= n;
	return (int)n;
}

/*
 * Answers each request with several replies: word 4 of the request says how
 * many intermediate ones (MULTIPLE), one per turn from its poll, each
 * carrying its number in word 5, then the final one (MULTIPLE | LAST).
 */
struct batcher {
	struct iop_request *held;
	uint32_t sent, want;
};

static int batch_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct batcher *b = iop_ddm_priv(d);

	if (b->held != NULL)
		return IOP_DDM_RETRY;
	b->held = r;
	b->sent = 0;
	b->want = rte_le_to_cpu_32(iop_request_frame(r)[4]);
	return IOP_DDM_PENDING;
}

static int batch_poll(struct iop_ddm *d)
{
	struct batcher *b = iop_ddm_priv(d);
	struct iop_request *r = b->held;
	uint32_t *p;

	if (r == NULL)
		return 0;
	p = iop_request_reply_alloc(r, IOP_REPLY_WORDS + 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	p[5] = rte_cpu_to_le_32(b->sent);
	if (b->sent < b->want) {
		CU_ASSERT_EQUAL(iop_request_reply_more(r, p, IOP_REPLY_WORDS + 1, 0, 0), 0);
		b->sent++;
		return 1;
	}
	CU_ASSERT_EQUAL(iop_request_reply_send(r, p, IOP_REPLY_WORDS + 1, 0, 0x55), 0);
	b->held = NULL;
	return 1;
}

/* Sends one intermediate reply, then the final, then tries another intermediate. */
static int more_after_final_handle(struct iop_ddm *d, struct iop_request *r)
{
	uint32_t *p = iop_request_reply_alloc(r, IOP_REPLY_WORDS);

	(void)d;
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(iop_request_reply_more(r, p, IOP_REPLY_WORDS, 0, 0), 0);
	/* The frame just sent is no longer the request's to send again. */
	CU_ASSERT_EQUAL(iop_request_reply_more(r, p, IOP_REPLY_WORDS, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0), 0);
	CU_ASSERT_EQUAL(iop_request_reply_more(r, p, IOP_REPLY_WORDS, 0, 0), -EALREADY);
	return IOP_DDM_DONE;
}

/*
 * Abandons every request, then by word 4: 0 keeps it so (for good), 1 answers
 * it after all, 2 finishes without a reply (the runtime answers for it).
 */
static int abandon_handle(struct iop_ddm *d, struct iop_request *r)
{
	uint32_t how = rte_le_to_cpu_32(iop_request_frame(r)[4]);

	(void)d;
	iop_request_abandon(r);
	if (how == 0)
		return IOP_DDM_PENDING;
	if (how == 1)
		return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == 0 ? IOP_DDM_DONE :
										 IOP_DDM_RETRY;
	return IOP_DDM_DONE;
}

#define TEST_DDM(id, handler, pollfn, priv)                                                 \
	static const struct iop_ddm_ops id##_ops = {                                         \
		.abi_version = IOP_DDM_ABI_VERSION,                                          \
		.name = #id,                                                                 \
		.class_id = IOP_CLASS_DDM,                                                   \
		.functions = claim_only,                                                     \
		.n_functions = 1,                                                            \
		.priv_size = priv,                                                           \
		.handle = handler,                                                           \
		.poll = pollfn,                                                              \
	};                                                                                   \
	IOP_DDM_REGISTER(id##_ops)

/*
 * Looks, from inside the loop's turn, at what a host on another CPU could
 * see at that moment: every reply already in the watched channels' reply
 * rings is taken, and its request's frame must be the host's again: free in
 * the heap, or tagged as the host's (on the channel's inbound free list, or
 * about to go there or to the heap once the turn's replies are posted).
 */
#define WATCH_CHANNELS 3u
#define WATCH_REQUESTS (WATCH_CHANNELS * POLL_BURST)
#define WATCH_OWNER 0x77u

static struct {
	struct iop_window *w;
	struct iop_channel ch[WATCH_CHANNELS];
	uint32_t *request[WATCH_REQUESTS]; /* by TransactionContext */
	_Atomic unsigned seen, still_the_iops;
	unsigned seen_in_turn;
	_Atomic bool stop;
} watch;

static void watch_take(uint32_t mfa)
{
	struct iop_heap *in = iop_window_inbound(watch.w);
	size_t block;
	uint32_t *r = iop_window_frame_block(watch.w, mfa, &block);
	struct iop_msg_hdr m;
	int tag;

	/* Counted, not asserted: a host thread of the second test calls this too. */
	if (r == NULL || (iop_msg_hdr_decode(r, &m), m.transaction_context >= WATCH_REQUESTS)) {
		watch.still_the_iops++;
	} else {
		/*
		 * One look: the frame may be freed meanwhile (one that finds
		 * its free list full goes to the heap after the replies are
		 * posted, the host's all the while).
		 */
		tag = iop_heap_tag(in, watch.request[m.transaction_context]);
		if (tag != WATCH_OWNER && tag != -EFAULT)
			watch.still_the_iops++;
	}
	if (r != NULL)
		iop_heap_free(iop_window_outbound(watch.w), r, block);
	watch.seen++;
}

static unsigned watch_take_all(void)
{
	unsigned n = 0;
	uint32_t mfa;

	for (unsigned k = 0; k < WATCH_CHANNELS; k++)
		for (; iop_mfa_ring_take(watch.ch[k].to_host, &mfa, 1) == 1; n++)
			watch_take(mfa);
	return n;
}

static int watch_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	watch.seen_in_turn += watch_take_all();
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == 0 ? IOP_DDM_DONE :
									   IOP_DDM_RETRY;
}

/*
 * Looks, as each request of a turn is handled, at how many replies a host
 * could already take: posted to the reply ring, not waiting in the loop.
 */
static struct {
	struct rte_ring *to_host;
	unsigned handled;            /* requests handled so far */
	unsigned posted[POLL_BURST]; /* replies in the ring as each was handled */
} early;

static int early_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	if (early.handled < POLL_BURST)
		early.posted[early.handled] = iop_mfa_ring_count(early.to_host);
	early.handled++;
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == 0 ? IOP_DDM_DONE :
									   IOP_DDM_RETRY;
}

TEST_DDM(twice, twice_handle, NULL, 0)
TEST_DDM(never, never_handle, NULL, 0)
TEST_DDM(error, error_handle, NULL, 0)
TEST_DDM(later, later_handle, later_poll, sizeof(struct later))
TEST_DDM(echo, echo_handle, NULL, 0)
TEST_DDM(parker, park_handle, park_poll, 0)
TEST_DDM(batch, batch_handle, batch_poll, sizeof(struct batcher))
TEST_DDM(moreafter, more_after_final_handle, NULL, 0)
TEST_DDM(abandoner, abandon_handle, NULL, 0)
TEST_DDM(watcher, watch_handle, NULL, 0)
TEST_DDM(early, early_handle, NULL, 0)

/* Polls that ask iop_ddm_loop_idle() and keep its answer for the test: -1 before they are asked. */
static int idle_told[2];

static int idler_a_poll(struct iop_ddm *d)
{
	idle_told[0] = iop_ddm_loop_idle(d);
	return 0;
}

static int idler_b_poll(struct iop_ddm *d)
{
	idle_told[1] = iop_ddm_loop_idle(d);
	return 0;
}

TEST_DDM(idler_a, never_handle, idler_a_poll, 0)
TEST_DDM(idler_b, never_handle, idler_b_poll, 0)

/* The nop DDM at TID 0x010 and each test DDM after it. */
static const struct iop_runtime_ddm all_ddms[] = {
	{ "nop", NULL, 0 },   { "twice", NULL, 0 }, { "never", NULL, 0 },
	{ "error", NULL, 0 }, { "later", NULL, 0 }, { "echo", NULL, 0 },
	{ "knobs", NULL, 0 }, { "batch", NULL, 0 }, { "moreafter", NULL, 0 },
};
enum { NOP = 0x010, TWICE, NEVER, ERROR, LATER, ECHO, KNOBS, BATCH, MORE_AFTER };

static const struct iop_window_opts small = { .inbound_bytes = 1 << 20,
					      .outbound_bytes = 1 << 18,
					      .channels = 4,
					      .ring_entries = 64 };

/* Rings of 16 entries (15 MFAs): full after a handful of requests. */
static const struct iop_window_opts tiny_rings = { .inbound_bytes = 1 << 20,
						   .outbound_bytes = 1 << 18,
						   .channels = 2,
						   .ring_entries = 16 };

static void up(struct harness *t)
{
	harness_up(t, &small, all_ddms, sizeof(all_ddms) / sizeof(all_ddms[0]), 1);
}

static void test_nop_round_trip(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_ddm_stats st;

	up(&t);
	CU_ASSERT_EQUAL(iop_runtime_ddm_tid(t.rt, 0), NOP);
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, 42, &s));
	CU_ASSERT(s.hdr.flags & IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(s.hdr.target_tid, NOP);
	CU_ASSERT_EQUAL(s.hdr.initiator_tid, IOP_TID_HOST);
	CU_ASSERT_EQUAL(s.hdr.function, IOP_UTIL_CLAIM);
	CU_ASSERT_EQUAL(s.hdr.initiator_context, 0xC0FFEE00u);
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 42);
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_ddm_stats(t.rt, NOP, &st), 0);
	CU_ASSERT_EQUAL(st.requests, 1);
	CU_ASSERT_EQUAL(st.replies, 1);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	harness_down(&t);
}

/* UtilNOP, 4 words or 3: the frame goes back, no reply comes. */
static void test_util_nop_frees_and_never_replies(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_ddm_stats st;

	up(&t);
	harness_post(&t, harness_request(&t, NOP, IOP_UTIL_NOP, 4, 1));
	harness_post(&t, harness_request(&t, NOP, IOP_UTIL_NOP, 3, 0));
	harness_post(&t, harness_request(&t, IOP_TID_EXEC, IOP_UTIL_NOP, 3, 0));
	CU_ASSERT_FALSE(harness_wait(&t, &s, 20));
	iop_runtime_ddm_stats(t.rt, NOP, &st);
	CU_ASSERT_EQUAL(st.requests, 2);
	CU_ASSERT_EQUAL(st.replies, 0);
	harness_down(&t); /* the frames were freed */
}

static void test_unsupported_and_unknown_functions(void)
{
	const struct {
		uint16_t target;
		uint8_t function;
		uint16_t dsc;
	} cases[] = {
		{ NOP, IOP_UTIL_ABORT, IOP_DSC_UNSUPPORTED_FUNCTION },      /* I2O utility */
		{ NOP, IOP_UTIL_REPLY_FAULT_NOTIFY, IOP_DSC_UNSUPPORTED_FUNCTION },
		{ NOP, 0x77, IOP_DSC_UNKNOWN_FUNCTION },                    /* not I2O */
		{ NOP, 0x30, IOP_DSC_UNKNOWN_FUNCTION },       /* BlockRead, at a DDM-class target */
		{ NOP, IOP_EXEC_STATUS_GET, IOP_DSC_UNKNOWN_FUNCTION },     /* executive only */
		{ IOP_TID_EXEC, IOP_EXEC_HRT_GET, IOP_DSC_UNSUPPORTED_FUNCTION },
		{ IOP_TID_EXEC, 0x30, IOP_DSC_UNKNOWN_FUNCTION },
	};
	struct harness t;
	struct iop_ddm_stats st;

	up(&t);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen_reply s;

		CU_ASSERT_FATAL(harness_call(&t, cases[i].target, cases[i].function, 4, i, &s));
		CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		CU_ASSERT_EQUAL(s.dsc, cases[i].dsc);
		CU_ASSERT_EQUAL(s.hdr.transaction_context, i);
		CU_ASSERT_EQUAL(s.hdr.function, cases[i].function);
	}
	iop_runtime_ddm_stats(t.rt, NOP, &st);
	CU_ASSERT_EQUAL(st.unsupported, 5);
	CU_ASSERT_EQUAL(st.failures, 5);
	harness_down(&t);
}

/* A ParamsGet or ParamsSet frame: group in word 4, then count and 64-bit fields. */
static uint32_t *params_frame(struct harness *t, uint16_t target, uint8_t fn, uint16_t group,
			      const uint64_t *fields, unsigned n, unsigned count_claimed)
{
	uint32_t *f = harness_request(t, target, fn, 6 + 2 * n, 0x50);

	f[4] = rte_cpu_to_le_32(group);
	f[5] = rte_cpu_to_le_32(count_claimed);
	for (unsigned i = 0; i < n; i++) {
		f[6 + 2 * i] = rte_cpu_to_le_32((uint32_t)fields[i]);
		f[7 + 2 * i] = rte_cpu_to_le_32((uint32_t)(fields[i] >> 32));
	}
	return f;
}

static uint64_t field(const struct seen_reply *s, unsigned i)
{
	return s->words[6 + 2 * i] | (uint64_t)s->words[7 + 2 * i] << 32;
}

/* The runtime's counters of any target, and a DDM's own groups, by UtilParamsGet/Set. */
static void test_params_get_and_set(void)
{
	const uint64_t set[2] = { 5, 1ull << 40 };
	struct harness t;
	struct seen_reply s;

	up(&t);
	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, i, &s));
	harness_post(&t, params_frame(&t, NOP, IOP_UTIL_PARAMS_GET,
				      IOP_PARAMS_GROUP_TARGET_STATS, NULL, 0, 0));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(s.words[5], 8);
	CU_ASSERT_EQUAL(s.hdr.size_words, 6 + 2 * 8);
	CU_ASSERT_EQUAL(field(&s, 0), 4); /* requests, this one included */
	CU_ASSERT_EQUAL(field(&s, 1), 3); /* replies before this one */
	CU_ASSERT_EQUAL(field(&s, 7), 1); /* in flight: this one */

	/* A DDM's own group: set, then read back; 64-bit values survive. */
	harness_post(&t, params_frame(&t, KNOBS, IOP_UTIL_PARAMS_SET, 1, set, 2, 2));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_SUCCESS);
	harness_post(&t, params_frame(&t, KNOBS, IOP_UTIL_PARAMS_GET, 1, NULL, 0, 0));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.words[5], 2);
	CU_ASSERT_EQUAL(field(&s, 0), 5);
	CU_ASSERT_EQUAL(field(&s, 1), 1ull << 40);

	/* Refusals, each with its DSC. */
	const struct {
		uint16_t target;
		uint8_t fn;
		uint16_t group;
		unsigned n, claimed;
		uint16_t dsc;
	} bad[] = {
		{ NOP, IOP_UTIL_PARAMS_GET, 1, 0, 0, IOP_DSC_INVALID_PARAMETER },   /* no such group */
		{ KNOBS, IOP_UTIL_PARAMS_GET, 2, 0, 0, IOP_DSC_INVALID_PARAMETER },
		{ KNOBS, IOP_UTIL_PARAMS_SET, 2, 1, 1, IOP_DSC_INVALID_PARAMETER },
		{ KNOBS, IOP_UTIL_PARAMS_SET, IOP_PARAMS_GROUP_TARGET_STATS, 1, 1,
		  IOP_DSC_INVALID_PARAMETER },                                      /* read-only */
		{ KNOBS, IOP_UTIL_PARAMS_SET, 1, 1, 3, IOP_DSC_MESSAGE_TOO_SMALL }, /* 3 claimed, 1 sent */
		{ KNOBS, IOP_UTIL_PARAMS_SET, 1, 1, 1000, IOP_DSC_INVALID_PARAMETER },
		{ NOP, IOP_UTIL_PARAMS_SET, 1, 1, 1, IOP_DSC_INVALID_PARAMETER },   /* nothing to set */
	};
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		harness_post(&t, params_frame(&t, bad[i].target, bad[i].fn, bad[i].group, set,
					      bad[i].n, bad[i].claimed));
		CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
		CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		CU_ASSERT_EQUAL(s.dsc, bad[i].dsc);
	}
	/* No group word at all. */
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_PARAMS_GET, 4, 9, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_MISSING_PARAMETER);
	/* The executive's counters too. */
	harness_post(&t, params_frame(&t, IOP_TID_EXEC, IOP_UTIL_PARAMS_GET,
				      IOP_PARAMS_GROUP_TARGET_STATS, NULL, 0, 0));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.words[5], 8);
	CU_ASSERT_EQUAL(field(&s, 0), 1);
	harness_down(&t);
}

/*
 * What cannot be delivered gets a FAIL reply naming the request by
 * PreservedMFA; the request frame stays the host's, which frees it.
 */
static void test_fail_replies(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_runtime_stats rs;
	uint32_t *bad_version, *no_target, *big;
	uint32_t mfa;

	up(&t);
	bad_version = harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, 1);
	bad_version[0] = rte_cpu_to_le_32((rte_le_to_cpu_32(bad_version[0]) & ~7u) | 2);
	mfa = harness_post(&t, bad_version);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT(s.hdr.flags & IOP_MSG_FAIL);
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_INVALID_VERSION);
	CU_ASSERT_EQUAL(s.preserved_mfa, mfa);
	CU_ASSERT_EQUAL(s.words[5] & 0xFFF, 7); /* FailingIOP_ID */
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), bad_version, 16), 0);

	no_target = harness_request(&t, 0x123, IOP_UTIL_CLAIM, 4, 2);
	mfa = harness_post(&t, no_target);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_INVALID_TARGET_ID);
	CU_ASSERT_EQUAL(s.preserved_mfa, mfa);
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 2); /* echoed where readable */
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), no_target, 16), 0);

	/* MessageSize past its block: 64 words claimed in a 64-byte block. */
	big = harness_request(&t, NOP, IOP_UTIL_CLAIM, 16, 3);
	big[0] = rte_cpu_to_le_32((rte_le_to_cpu_32(big[0]) & 0xFFFFu) | 64u << 16);
	mfa = harness_post(&t, big);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_FRAME_TOO_LARGE);
	CU_ASSERT_EQUAL(s.preserved_mfa, mfa);
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), big, 64), 0);

	/* MFAs that name no live frame: inside a block, the header, a freed block. */
	big = harness_request(&t, NOP, IOP_UTIL_CLAIM, 16, 4);
	mfa = iop_window_mfa(t.w, big) + 16;
	CU_ASSERT_EQUAL(iop_mfa_ring_post(t.ch.to_iop, &mfa, 1), 1);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_UNKNOWN);
	CU_ASSERT_EQUAL(s.preserved_mfa, mfa);
	mfa = 0;
	CU_ASSERT_EQUAL(iop_mfa_ring_post(t.ch.to_iop, &mfa, 1), 1);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_UNKNOWN);
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), big, 64), 0);

	/* A live block of the outbound heap is no request, whatever it holds. */
	{
		uint32_t *out = iop_heap_alloc(iop_window_outbound(t.w), 64);
		struct iop_msg_hdr m = { .version = 1, .size_words = 4, .target_tid = NOP,
					 .initiator_tid = IOP_TID_HOST,
					 .function = IOP_UTIL_CLAIM };

		CU_ASSERT_PTR_NOT_NULL_FATAL(out);
		iop_msg_hdr_encode(&m, out);
		mfa = iop_window_mfa(t.w, out);
		CU_ASSERT_EQUAL(iop_mfa_ring_post(t.ch.to_iop, &mfa, 1), 1);
		CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
		CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_UNKNOWN);
		CU_ASSERT_EQUAL(s.preserved_mfa, mfa);
		CU_ASSERT_EQUAL(iop_heap_free(iop_window_outbound(t.w), out, 64), 0);
	}

	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.fail_replies, 6);
	CU_ASSERT_EQUAL(rs.bad_mfas, 3);
	harness_down(&t);
}

/* Exactly one reply per request, whatever the DDM does; each defect counted. */
static void test_exactly_one_reply(void)
{
	const struct {
		uint16_t tid;
		uint8_t status;
		uint16_t dsc;
	} cases[] = {
		{ TWICE, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS },
		{ NEVER, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, IOP_DSC_UNKNOWN_ERROR },
		{ ERROR, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, IOP_DSC_UNKNOWN_ERROR },
	};
	struct harness t;

	up(&t);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct seen_reply s;
		struct iop_ddm_stats st;

		CU_ASSERT_FATAL(harness_call(&t, cases[i].tid, IOP_UTIL_CLAIM, 4, i, &s));
		CU_ASSERT_EQUAL(s.status, cases[i].status);
		CU_ASSERT_EQUAL(s.dsc, cases[i].dsc);
		CU_ASSERT_FALSE(harness_wait(&t, &s, 10)); /* and no second one */
		iop_runtime_ddm_stats(t.rt, cases[i].tid, &st);
		CU_ASSERT_EQUAL(st.replies, 1);
		CU_ASSERT_EQUAL(st.double_replies, cases[i].tid == TWICE ? 2 : 0);
		CU_ASSERT_EQUAL(st.missing_replies, cases[i].tid != TWICE);
		CU_ASSERT_EQUAL(st.in_flight, 0);
	}
	harness_down(&t);
}

/* A DDM keeps requests and answers later; the ones it cannot take yet come back. */
/* One turn, and what the two idlers were told in it: 2 * a + b. */
static int idle_turn(struct harness *t)
{
	idle_told[0] = idle_told[1] = -1;
	harness_turn(t);
	CU_ASSERT(idle_told[0] >= 0 && idle_told[1] >= 0);
	return 2 * idle_told[0] + idle_told[1];
}

/*
 * iop_ddm_loop_idle: true on a turn that has done nothing before the DDM's
 * poll, to the first DDM that asks only (a turn sleeps once at most); false
 * on a turn that took a request, or carried one on; a request that only
 * goes back to wait again (IOP_DDM_RETRY) is no progress.
 */
static void test_loop_idle_told_once_on_idle_turns(void)
{
	static const struct iop_runtime_ddm ddms[] = {
		{ "idler_a", NULL, 0 }, { "idler_b", NULL, 0 }, { "later", NULL, 0 }, { "nop", NULL, 0 },
	};
	enum { LATER_TID = 0x012, NOP_TID = 0x013 };
	struct harness t;
	struct seen_reply s;

	harness_up(&t, &small, ddms, sizeof(ddms) / sizeof(ddms[0]), 1);
	CU_ASSERT_EQUAL(idle_turn(&t), 2);
	CU_ASSERT_EQUAL(idle_turn(&t), 2);
	/* A request taken: no one may sleep in that turn; in the next, the first asker. */
	harness_post(&t, harness_request(&t, NOP_TID, IOP_UTIL_CLAIM, 4, 1));
	CU_ASSERT_EQUAL(idle_turn(&t), 0);
	CU_ASSERT(harness_take(&t, &s));
	CU_ASSERT_EQUAL(idle_turn(&t), 2);
	/*
	 * Two for the DDM that keeps one at a time for two turns: both taken
	 * (busy); the second handed back again while the first is held (idle);
	 * then, the first answered, the second taken by the DDM (busy).
	 */
	harness_post(&t, harness_request(&t, LATER_TID, IOP_UTIL_CLAIM, 4, 2));
	harness_post(&t, harness_request(&t, LATER_TID, IOP_UTIL_CLAIM, 4, 3));
	CU_ASSERT_EQUAL(idle_turn(&t), 0);
	CU_ASSERT_EQUAL(idle_turn(&t), 2);
	CU_ASSERT_EQUAL(idle_turn(&t), 0);
	CU_ASSERT_EQUAL(harness_take_in_order(&t, 2, 4), 4);
	CU_ASSERT_EQUAL(idle_turn(&t), 2);
	harness_down(&t);
}

static void test_pending_and_retry(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_ddm_stats st;
	unsigned got = 0;

	up(&t);
	for (uint32_t i = 0; i < 3; i++)
		harness_post(&t, harness_request(&t, LATER, IOP_UTIL_CLAIM, 4, i));
	for (unsigned turn = 0; turn < 50 && got < 3; turn++) {
		harness_turn(&t);
		while (harness_take(&t, &s)) {
			CU_ASSERT_EQUAL(s.hdr.transaction_context, got); /* in order */
			CU_ASSERT_EQUAL(s.dsc, 0x1234);
			got++;
		}
	}
	CU_ASSERT_EQUAL(got, 3);
	iop_runtime_ddm_stats(t.rt, LATER, &st);
	CU_ASSERT(st.retries >= 2);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	harness_down(&t);
}

static void test_reply_payload_and_contexts_kept(void)
{
	struct harness t;
	struct seen_reply s;
	uint32_t *f;

	up(&t);
	f = harness_request(&t, ECHO, IOP_UTIL_CLAIM, 8, 77);
	for (unsigned i = 4; i < 8; i++)
		f[i] = rte_cpu_to_le_32(0x1000 + i);
	harness_post(&t, f);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.hdr.size_words, 9);
	CU_ASSERT_EQUAL(s.hdr.initiator_context, 0xC0FFEE00u);
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 77);
	for (unsigned i = 4; i < 8; i++)
		CU_ASSERT_EQUAL(s.words[i + 1], 0x1000 + i);
	harness_down(&t);
}

/*
 * A host that stops taking replies: the IOP takes no more of its requests
 * than its reply ring has room for, the rest wait in its request ring, and
 * another host's channel keeps flowing. Nothing is lost or reordered.
 */
static void test_stalled_host_holds_up_only_itself(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_runtime_stats rs;
	struct iop_channel stalled;

	harness_up(&t, &tiny_rings, all_ddms, 1, 1);
	stalled = t.ch;
	for (uint32_t i = 0; i < 30; i++) {
		if (i == 15)
			for (int k = 0; k < 5; k++)
				harness_turn(&t); /* the first 15 answered: the reply ring is full */
		harness_post(&t, harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, i));
	}
	for (int k = 0; k < 5; k++)
		harness_turn(&t);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(stalled.to_host), 15);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(stalled.to_iop), 15); /* not taken: no room */
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_held, 0);

	/* Another host is served meanwhile. */
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &t.ch), 0);
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, 1000, &s));
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 1000);
	harness_leave(&t, &t.ch);

	t.ch = stalled;
	CU_ASSERT_EQUAL(harness_take_in_order(&t, 0, 30), 30);
	harness_down(&t);
}

/*
 * A host that breaks the rules and fills its own reply ring while the IOP
 * holds its requests: the replies wait on the loop's held list, in order,
 * and go out once the host makes room. Nothing is dropped.
 */
static void test_replies_held_when_a_host_fills_its_reply_ring(void)
{
	struct harness t;
	struct iop_runtime_stats rs;

	harness_up(&t, &tiny_rings, all_ddms, sizeof(all_ddms) / sizeof(all_ddms[0]), 1);
	for (uint32_t i = 0; i < 3; i++)
		harness_post(&t, harness_request(&t, LATER, IOP_UTIL_CLAIM, 4, i));
	harness_turn(&t); /* taken: LATER answers them over the next turns */
	harness_fill_reply_ring(&t);
	for (int i = 0; i < 20; i++)
		harness_turn(&t);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT(rs.replies_held > 0);
	harness_drain_junk(&t);
	CU_ASSERT_EQUAL(harness_take_in_order(&t, 0, 3), 3);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_held, 0);
	harness_down(&t);
}

/* Many held replies at once: the held list grows; order and every reply kept. */
static void test_held_replies_grow_in_order(void)
{
	const struct iop_window_opts wide = { .inbound_bytes = 1 << 20,
					      .outbound_bytes = 1 << 20,
					      .channels = 2,
					      .ring_entries = 1024 };
	const struct iop_runtime_ddm ddms[] = { { "parker", NULL, 0 } };
	struct harness t;
	struct iop_runtime_stats rs;

	n_parked = 0;
	release_parked = false;
	harness_up(&t, &wide, ddms, 1, 1);
	for (uint32_t i = 0; i < 600; i++)
		harness_post(&t, harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, i));
	for (int i = 0; i < 40; i++)
		harness_turn(&t);
	CU_ASSERT_EQUAL(n_parked, 600);
	harness_fill_reply_ring(&t);
	release_parked = true;
	for (int i = 0; i < 5; i++)
		harness_turn(&t);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_held, 600); /* past the list's first 256 */
	harness_drain_junk(&t);
	CU_ASSERT_EQUAL(harness_take_in_order(&t, 0, 600), 600);
	harness_down(&t);
}

/* No reply frame free: requests wait until the host frees replies. */
static void test_empty_outbound_heap_waits(void)
{
	const struct iop_window_opts tiny_out = { .inbound_bytes = 1 << 20,
						  .outbound_bytes = 4096,
						  .channels = 2,
						  .ring_entries = 256 };
	struct harness t;
	uint32_t mfas[200];
	unsigned n = 0;

	harness_up(&t, &tiny_out, all_ddms, 1, 1);
	for (uint32_t i = 0; i < 100; i++)
		harness_post(&t, harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, i));
	for (int i = 0; i < 20; i++)
		harness_turn(&t);
	/* 4096 bytes hold 64 replies; the host holds them all without freeing. */
	while (n < 200 && iop_mfa_ring_take(t.ch.to_host, &mfas[n], 1) == 1)
		n++;
	CU_ASSERT(n > 0 && n < 100);
	for (unsigned i = 0; i < n; i++) {
		size_t block;
		void *r = iop_window_frame_block(t.w, mfas[i], &block);

		CU_ASSERT_EQUAL(iop_heap_free(iop_window_outbound(t.w), r, block), 0);
	}
	CU_ASSERT_EQUAL(harness_take_in_order(&t, n, 100), 100);
	harness_down(&t);
}

/* The nop DDM on lcore 1, the channel polled by lcore 0: forwarded there. */
static void test_requests_cross_lcores(void)
{
	const struct iop_runtime_ddm on_one[] = { { "nop", NULL, 1 }, { "echo", NULL, 0 } };
	struct harness t;
	struct seen_reply s;

	harness_up(&t, &small, on_one, 2, 2);
	CU_ASSERT_EQUAL(t.ch.id % 2, 0); /* polled by lcore 0 */
	for (uint32_t i = 0; i < 200; i++) {
		CU_ASSERT_FATAL(harness_call(&t, i % 2 ? NOP : NOP + 1, IOP_UTIL_CLAIM, 4, i, &s));
		CU_ASSERT_EQUAL(s.hdr.transaction_context, i);
		CU_ASSERT_EQUAL(s.hdr.target_tid, i % 2 ? NOP : NOP + 1);
	}
	harness_down(&t);
}

/*
 * A channel's free lists have one IOP-side user, the loop that takes its
 * requests (lcore 0 here): requests it answers itself give their frames
 * back on free_to_host and are answered in frames from free_to_iop;
 * requests answered on lcore 1 use the heap for both, and leave the lists
 * alone.
 */
static void test_free_lists_only_on_the_channels_loop(void)
{
	const struct iop_runtime_ddm ddms[] = { { "nop", NULL, 1 }, { "echo", NULL, 0 } };
	struct iop_heap *out;
	struct harness t;
	struct seen_reply s;
	uint32_t marked[4];

	harness_up(&t, &small, ddms, 2, 2);
	CU_ASSERT_EQUAL_FATAL(t.ch.id % 2, 0); /* lcore 0's */
	out = iop_window_outbound(t.w);
	for (unsigned i = 0; i < 4; i++) {
		uint32_t *f = iop_heap_alloc_tagged(out, 32, t.ch.owner);

		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		f[0] = rte_cpu_to_le_32(IOP_FREE_FRAME_MARK);
		marked[i] = iop_window_mfa(t.w, f);
	}
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(t.ch.free_to_iop, marked, 4), 4);
	for (uint32_t i = 0; i < 10; i++)
		CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, i, &s)); /* on lcore 1 */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(t.ch.free_to_host), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(t.ch.free_to_iop), 4);
	for (uint32_t i = 0; i < 3; i++)
		CU_ASSERT_FATAL(harness_call(&t, NOP + 1, IOP_UTIL_CLAIM, 4, i, &s)); /* on lcore 0 */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(t.ch.free_to_host), 3);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(t.ch.free_to_iop), 1);
	harness_down(&t); /* the slot's reclaim frees what the lists still hold */
}

/*
 * Lcore 0 runs alone and forwards more than lcore 1's forward ring holds:
 * the rest of that burst waits on lcore 0, the rest of the requests stay in
 * the hosts' rings, and once lcore 1 runs every host gets its replies in the
 * order it posted.
 */
static void test_forwarding_keeps_order_when_the_ring_is_full(void)
{
	const struct iop_window_opts wide = { .inbound_bytes = 1 << 20,
					      .outbound_bytes = 1 << 20,
					      .channels = 12,
					      .ring_entries = 1024 };
	const struct iop_runtime_ddm on_one[] = { { "nop", NULL, 1 } };
	struct iop_channel ch[6];
	struct harness t;
	unsigned left = 0, got[6] = { 0 }, n = 0;

	harness_up(&t, &wide, on_one, 1, 2);
	/* Six channels polled by lcore 0 (even ids), 1000 requests each. */
	while (n < 6) {
		struct iop_channel c;

		if (t.ch.id % 2 == 0)
			ch[n++] = t.ch;
		CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &c), 0);
		t.ch = c;
	}
	for (unsigned k = 0; k < 6; k++) {
		t.ch = ch[k];
		for (uint32_t i = 0; i < 1000; i++)
			harness_post(&t, harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, i));
	}
	for (int i = 0; i < 500; i++)
		iop_runtime_poll(t.rt, 0); /* lcore 1 does not run */
	for (unsigned k = 0; k < 6; k++)
		left += iop_mfa_ring_count(ch[k].to_iop);
	/*
	 * The forward ring holds 4095; the burst that found it full waits on
	 * lcore 0, which then takes nothing more from the hosts' rings.
	 */
	CU_ASSERT(left < 6000 - 4095 && left >= 6000 - 4095 - 32);

	for (unsigned done = 0; done < 6;) {
		harness_turn(&t);
		done = 0;
		for (unsigned k = 0; k < 6; k++) {
			struct seen_reply s;

			t.ch = ch[k];
			while (harness_take(&t, &s)) {
				CU_ASSERT_EQUAL_FATAL(s.hdr.transaction_context, got[k]);
				got[k]++;
			}
			done += got[k] == 1000;
		}
	}
	harness_down(&t);
}

/* A host that left while its request was in the IOP: the reply is freed, not posted. */
static void test_replies_to_a_closed_channel_are_freed(void)
{
	struct harness t;
	struct iop_runtime_stats rs;
	struct iop_channel again;

	up(&t);
	harness_post(&t, harness_request(&t, LATER, IOP_UTIL_CLAIM, 4, 1));
	harness_turn(&t); /* taken; LATER answers two turns on */
	CU_ASSERT_EQUAL(iop_channel_close(t.w, &t.ch), 0);
	CU_ASSERT_EQUAL(iop_channel_reclaim(t.w, t.ch.id, t.ch.generation), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &again), 0); /* the slot, reused */
	CU_ASSERT_EQUAL(again.id, t.ch.id);
	for (int i = 0; i < 5; i++)
		harness_turn(&t);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_dropped, 1);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(again.to_host), 0); /* not the new host's */
	harness_down(&t); /* request and reply frames both back */
}

/* A request answered with several replies: MULTIPLE on each, LAST on the final, in order. */
static void test_multiple_replies(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_ddm_stats st;
	uint32_t *f;

	up(&t);
	f = harness_request(&t, BATCH, IOP_UTIL_CLAIM, 5, 9);
	f[4] = rte_cpu_to_le_32(3);
	harness_post(&t, f);
	for (uint32_t i = 0; i <= 3; i++) {
		CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
		CU_ASSERT_EQUAL(s.hdr.transaction_context, 9);
		CU_ASSERT_EQUAL(s.hdr.initiator_context, 0xC0FFEE00u);
		CU_ASSERT(s.hdr.flags & IOP_MSG_REPLY);
		CU_ASSERT(s.hdr.flags & IOP_MSG_MULTIPLE);
		CU_ASSERT_EQUAL(!!(s.hdr.flags & IOP_MSG_LAST), i == 3);
		CU_ASSERT_EQUAL(s.words[5], i);
		CU_ASSERT_EQUAL(s.dsc, i == 3 ? 0x55 : 0);
		iop_runtime_ddm_stats(t.rt, BATCH, &st);
		CU_ASSERT_EQUAL(st.in_flight, i < 3); /* the request stays until the last */
	}
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10));
	iop_runtime_ddm_stats(t.rt, BATCH, &st);
	CU_ASSERT_EQUAL(st.replies, 4);
	CU_ASSERT_EQUAL(st.double_replies, 0);
	/* A request answered once carries neither flag. */
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, 10, &s));
	CU_ASSERT_EQUAL(s.hdr.flags & (IOP_MSG_MULTIPLE | IOP_MSG_LAST), 0);
	CU_ASSERT(iop_runtime_channel_idle(t.rt, t.ch.id));
	harness_down(&t);
}

/* After the final reply an intermediate one is refused and counted. */
static void test_more_after_final_refused(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_ddm_stats st;

	up(&t);
	harness_post(&t, harness_request(&t, MORE_AFTER, IOP_UTIL_CLAIM, 4, 3));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.hdr.flags & (IOP_MSG_MULTIPLE | IOP_MSG_LAST), IOP_MSG_MULTIPLE);
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.hdr.flags & (IOP_MSG_MULTIPLE | IOP_MSG_LAST),
			IOP_MSG_MULTIPLE | IOP_MSG_LAST);
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10));
	iop_runtime_ddm_stats(t.rt, MORE_AFTER, &st);
	CU_ASSERT_EQUAL(st.replies, 2);
	CU_ASSERT_EQUAL(st.double_replies, 1);
	CU_ASSERT_EQUAL(st.in_flight, 0);
	harness_down(&t);
}

/*
 * More intermediate replies than the reply ring holds, the host taking none
 * meanwhile: they wait on the loop, in order, and the request's credit comes
 * back only with the final one.
 */
static void test_multiple_replies_wait_for_a_full_ring(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_runtime_stats rs;
	uint32_t *f;

	harness_up(&t, &tiny_rings, all_ddms, sizeof(all_ddms) / sizeof(all_ddms[0]), 1);
	f = harness_request(&t, BATCH, IOP_UTIL_CLAIM, 5, 1);
	f[4] = rte_cpu_to_le_32(40);
	harness_post(&t, f);
	for (int i = 0; i < 60; i++)
		harness_turn(&t);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT(rs.replies_held > 0);
	CU_ASSERT_FALSE(iop_runtime_channel_idle(t.rt, t.ch.id));
	for (uint32_t i = 0; i <= 40; i++) {
		CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
		CU_ASSERT_EQUAL(s.words[5], i);
		CU_ASSERT_EQUAL(!!(s.hdr.flags & IOP_MSG_LAST), i == 40);
	}
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_held, 0);
	CU_ASSERT(iop_runtime_channel_idle(t.rt, t.ch.id));
	harness_down(&t);
}

/*
 * requests_abandoned counts requests abandoned for good: one the DDM answers
 * after all, or finishes without a reply (answered for it), is not one.
 */
static void test_abandoned_counts_only_what_stays(void)
{
	const struct iop_runtime_ddm ddms[] = { { "abandoner", NULL, 0 } };
	struct iop_runtime_stats rs;
	struct seen_reply s;
	struct harness t;
	uint32_t *f;

	harness_up(&t, &small, ddms, 1, 1);
	for (uint32_t how = 1; how <= 2; how++) {
		f = harness_request(&t, NOP, IOP_UTIL_CLAIM, 5, how);
		f[4] = rte_cpu_to_le_32(how);
		harness_post(&t, f);
		CU_ASSERT_FATAL(harness_wait(&t, &s, 20));
		iop_runtime_stats(t.rt, &rs);
		CU_ASSERT_EQUAL(rs.requests_abandoned, 0);
	}
	f = harness_request(&t, NOP, IOP_UTIL_CLAIM, 5, 0);
	f[4] = 0;
	harness_post(&t, f);
	CU_ASSERT_FALSE(harness_wait(&t, &s, 20));
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.requests_abandoned, 1);
	/* Its frame stays the IOP's for good: not harness_down(), which wants it back. */
	iop_runtime_destroy(t.rt);
	iop_window_close(t.w);
}

/*
 * A runtime with the one DDM `ddm` at TID 0x010, and the watched channels
 * open, as a host with an owner id: the one whose tag its frames get back.
 */
static void watch_up(struct harness *t, const struct iop_runtime_ddm *ddm)
{
	harness_up(t, &small, ddm, 1, 1);
	harness_leave(t, &t->ch);
	memset(&watch, 0, sizeof(watch));
	watch.w = t->w;
	for (unsigned k = 0; k < WATCH_CHANNELS; k++)
		CU_ASSERT_EQUAL_FATAL(iop_channel_open_as(t->w, &watch.ch[k], WATCH_OWNER), 0);
	t->ch = watch.ch[0];
}

static void watch_down(struct harness *t)
{
	for (unsigned k = 1; k < WATCH_CHANNELS; k++)
		harness_leave(t, &watch.ch[k]);
	harness_down(t);
}

/* POLL_BURST requests on each watched channel: what one turn takes. */
static void watch_post_all(struct harness *t)
{
	for (uint32_t i = 0; i < WATCH_REQUESTS; i++) {
		t->ch = watch.ch[i / POLL_BURST];
		watch.request[i] = harness_request(t, NOP, IOP_UTIL_CLAIM, 4, i);
		harness_post(t, watch.request[i]);
	}
	t->ch = watch.ch[0];
}

/*
 * A request's frame goes back to the host (to the heap, or to the channel's
 * inbound free list) before its reply reaches the host, also when one turn
 * answers more requests than the loop keeps replies for (so some are posted
 * in the middle of the turn, while later requests are still being handled).
 * Replies seen in the middle of the turn prove the test looked where it
 * matters.
 */
static void test_request_frames_free_before_their_replies_show(void)
{
	static const struct iop_runtime_ddm watcher = { "watcher", NULL, 0 };
	struct harness t;

	watch_up(&t, &watcher);
	watch_post_all(&t);
	iop_runtime_poll(t.rt, 0);
	watch_take_all();
	CU_ASSERT_EQUAL(watch.seen, WATCH_REQUESTS);
	CU_ASSERT(watch.seen_in_turn >= LCORE_OUTBOX && LCORE_OUTBOX < WATCH_REQUESTS);
	CU_ASSERT_EQUAL(watch.still_the_iops, 0);
	watch_down(&t);
}

/*
 * A turn that takes a host's whole burst posts the first half of its replies
 * while it still answers the second: a host on a CPU of its own takes them,
 * and posts more requests, meanwhile, rather than waiting for the turn to
 * end. The first 16 go out as the 17th request is answered, so the 18th and
 * later are handled with 16 in the host's ring; all come, in order.
 */
_Static_assert(2 * LCORE_OUTBOX == POLL_BURST, "a burst a turn takes is two batches of replies");

static void test_replies_go_out_while_the_turn_goes_on(void)
{
	static const struct iop_runtime_ddm ddm = { "early", NULL, 0 };
	struct harness t;

	harness_up(&t, &small, &ddm, 1, 1);
	memset(&early, 0, sizeof(early));
	early.to_host = t.ch.to_host;
	for (uint32_t i = 0; i < POLL_BURST; i++)
		harness_post(&t, harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, i));
	iop_runtime_poll(t.rt, 0);
	CU_ASSERT_EQUAL_FATAL(early.handled, POLL_BURST);
	for (unsigned i = 0; i < POLL_BURST; i++)
		CU_ASSERT_EQUAL(early.posted[i], i <= LCORE_OUTBOX ? 0 : LCORE_OUTBOX);
	CU_ASSERT_EQUAL(harness_take_in_order(&t, 0, POLL_BURST), POLL_BURST);
	harness_down(&t);
}

static void *watch_host(void *unused)
{
	(void)unused;
	while (!atomic_load(&watch.stop))
		watch_take_all();
	return NULL;
}

/*
 * The same with a host thread taking the replies as they are posted: within
 * a flush of the loop's replies, the frames go back before the replies are
 * posted, not after (on a CPU of its own the host takes a reply within
 * microseconds, before 96 frames would have gone back; where the two threads
 * share one CPU the test cannot see the order, and passes either way).
 */
static void test_request_frames_free_before_a_host_thread_sees_replies(void)
{
	static const struct iop_runtime_ddm nop = { "nop", NULL, 0 };
	struct harness t;
	pthread_t host;
	unsigned rounds = 0;

	watch_up(&t, &nop);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&host, NULL, watch_host, NULL), 0);
	for (; rounds < 200; rounds++) {
		watch_post_all(&t);
		iop_runtime_poll(t.rt, 0);
		/* Every reply taken before the next round allocates these frames again. */
		for (unsigned spins = 0; atomic_load(&watch.seen) < (rounds + 1) * WATCH_REQUESTS &&
					 spins < 10000000u;
		     spins++)
			sched_yield();
		if (atomic_load(&watch.seen) < (rounds + 1) * WATCH_REQUESTS)
			break;
	}
	atomic_store(&watch.stop, true);
	pthread_join(host, NULL);
	CU_ASSERT_EQUAL(rounds, 200);
	CU_ASSERT_EQUAL(atomic_load(&watch.seen), rounds * WATCH_REQUESTS);
	CU_ASSERT_EQUAL(atomic_load(&watch.still_the_iops), 0);
	watch_down(&t);
}

/*
 * The window's count of channel changes lives where every host can write:
 * a host that puts an old value back after another host opened a channel
 * delays the loop's look at the new channel, never hides it. Unhidden, a
 * request on a new channel is answered on the first turn.
 */
static void test_hidden_channel_opening_still_served(void)
{
	_Atomic uint64_t *changes;
	struct iop_channel ch2;
	struct harness t;
	uint32_t mfa, *f;
	unsigned turns = 0;

	up(&t);
	changes = (_Atomic uint64_t *)iop_channel_changes(t.w);
	harness_turn(&t); /* the loop has looked at every slot */
	for (int hide = 1; hide >= 0; hide--) {
		uint64_t before = atomic_load(changes);

		CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &ch2), 0);
		if (hide)
			atomic_store(changes, before);
		f = harness_request(&t, NOP, IOP_UTIL_CLAIM, 4, 7);
		mfa = iop_window_mfa(t.w, f);
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(ch2.to_iop, &mfa, 1), 1);
		for (turns = 1; turns <= 3 * CHAN_RESCAN_TURNS; turns++) {
			harness_turn(&t);
			if (iop_mfa_ring_count(ch2.to_host) != 0)
				break;
		}
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_take(ch2.to_host, &mfa, 1), 1);
		if (hide) {
			CU_ASSERT(turns <= CHAN_RESCAN_TURNS + 1);
		} else {
			CU_ASSERT_EQUAL(turns, 1);
		}
		f = iop_window_frame(t.w, mfa);
		CU_ASSERT_PTR_NOT_NULL_FATAL(f);
		CU_ASSERT_EQUAL(iop_heap_free(iop_window_outbound(t.w), f,
					      iop_heap_allocated_size(iop_window_outbound(t.w), f)),
				0);
		CU_ASSERT_EQUAL(iop_channel_close(t.w, &ch2), 0);
		harness_turn(&t);
		CU_ASSERT_EQUAL(iop_channel_reclaim(t.w, ch2.id, ch2.generation), 0);
	}
	harness_down(&t);
}

static const struct iop_test_case dispatch_tests[] = {
	{ "nop_round_trip", test_nop_round_trip },
	{ "hidden_channel_opening_still_served", test_hidden_channel_opening_still_served },
	{ "util_nop_frees_and_never_replies", test_util_nop_frees_and_never_replies },
	{ "unsupported_and_unknown_functions", test_unsupported_and_unknown_functions },
	{ "fail_replies", test_fail_replies },
	{ "exactly_one_reply", test_exactly_one_reply },
	{ "params_get_and_set", test_params_get_and_set },
	{ "pending_and_retry", test_pending_and_retry },
	{ "loop_idle_told_once_on_idle_turns", test_loop_idle_told_once_on_idle_turns },
	{ "reply_payload_and_contexts_kept", test_reply_payload_and_contexts_kept },
	{ "stalled_host_holds_up_only_itself", test_stalled_host_holds_up_only_itself },
	{ "replies_held_when_a_host_fills_its_reply_ring",
	  test_replies_held_when_a_host_fills_its_reply_ring },
	{ "held_replies_grow_in_order", test_held_replies_grow_in_order },
	{ "empty_outbound_heap_waits", test_empty_outbound_heap_waits },
	{ "requests_cross_lcores", test_requests_cross_lcores },
	{ "free_lists_only_on_the_channels_loop", test_free_lists_only_on_the_channels_loop },
	{ "forwarding_keeps_order_when_the_ring_is_full",
	  test_forwarding_keeps_order_when_the_ring_is_full },
	{ "replies_to_a_closed_channel_are_freed", test_replies_to_a_closed_channel_are_freed },
	{ "multiple_replies", test_multiple_replies },
	{ "more_after_final_refused", test_more_after_final_refused },
	{ "multiple_replies_wait_for_a_full_ring", test_multiple_replies_wait_for_a_full_ring },
	{ "abandoned_counts_only_what_stays", test_abandoned_counts_only_what_stays },
	{ "replies_go_out_while_the_turn_goes_on", test_replies_go_out_while_the_turn_goes_on },
	{ "request_frames_free_before_their_replies_show",
	  test_request_frames_free_before_their_replies_show },
	{ "request_frames_free_before_a_host_thread_sees_replies",
	  test_request_frames_free_before_a_host_thread_sees_replies },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "dispatch", dispatch_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
