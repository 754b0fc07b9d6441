/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The limits: the same round trips with nothing of iopool but its rings.
 *
 * Limit (a) bounces 4-byte values over two single-producer single-consumer
 * rte_rings laid out in ordinary memory as iopool lays out its MFA rings
 * (iop_mfa_ring_init(), the same inline burst calls): no frames, heaps or
 * dispatch. What is left is the rings and the two cores passing their lines
 * back and forth, the floor of any message path on this machine.
 *
 * Limit (b) adds what a request and its reply must cost even with nothing
 * else: the host writes a 5-word UtilPrivate request into the first line of a
 * frame from a preallocated array, indexed by the MFA it posts; the IOP side
 * reads and checks it and writes the 5-word reply into the first line of a
 * reply frame; the host reads the reply and checks its context and status.
 * Each line crosses between the cores once per round trip, as in iopool.
 *
 * Both check every reply (value, order, and in (b) the reply's words), so a
 * wrong limit shows as errors, never as a good number.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_pause.h>

#include "iop_frame.h"
#include "iop_mfa_ring.h"
#include "msg.h"

#define RING_ENTRIES 1024u /* as a frame window's rings by default */
#define LINE 64u
#define SLOTS 64u          /* frames per side; at least MSG_BURST, so none is reused in flight */
#define TARGET_TID 0x010u  /* where iopool's nop DDM is */
#define INITIATOR_CONTEXT 0x6d736721u

#define LIMIT_LINES 0x1u   /* msg_case.flags: limit (b) */

struct line {
	_Alignas(64) uint32_t w[LINE / 4];
};

struct limit {
	struct rte_ring *to_iop;
	struct rte_ring *to_host;
	struct line *req;  /* request frames, MFA = index * LINE */
	struct line *rep;  /* reply frames, at the same index as their request */
	bool lines;
	bool shared;
	enum msg_mode mode;
	const struct msg_env *env;
	_Atomic int *stop;     /* of all pairs */
	uint64_t bad_requests; /* requests the IOP side found malformed */
	struct msg_run run;    /* this pair's */
};

static inline void wait_a_little(bool shared)
{
	if (shared)
		sched_yield();
	else
		rte_pause();
}

static __rte_always_inline uint32_t host_request(struct limit *l, uint64_t seq, bool lines)
{
	uint32_t slot = (uint32_t)seq & (SLOTS - 1);
	uint32_t *w;

	if (!lines)
		return (uint32_t)seq;
	w = l->req[slot].w;
	w[0] = IOP_MSG_VERSION_1_5 | (IOP_REPLY_WORDS << 16);
	w[1] = TARGET_TID | (IOP_TID_HOST << 12) | ((uint32_t)IOP_UTIL_PRIVATE << 24);
	w[2] = INITIATOR_CONTEXT;
	w[3] = (uint32_t)seq;
	w[4] = 0x0001u; /* XFunctionCode 1, OrganizationID 0 */
	return slot * LINE;
}

static __rte_always_inline bool host_reply_ok(struct limit *l, uint32_t mfa, uint64_t seq,
					      bool lines)
{
	uint32_t slot = (uint32_t)seq & (SLOTS - 1);
	const uint32_t *w;

	if (!lines)
		return mfa == (uint32_t)seq;
	if (mfa != slot * LINE)
		return false;
	w = l->rep[slot].w;
	return (w[0] >> 8 & 0xFFu) == IOP_MSG_REPLY && w[2] == INITIATOR_CONTEXT &&
	       w[3] == (uint32_t)seq && w[4] == 0; /* ReqStatus SUCCESS, DSC SUCCESS */
}

/* The IOP side of (b): check the request's header, write the reply's 5 words. */
static __rte_always_inline bool iop_answer(struct limit *l, uint32_t mfa)
{
	uint32_t slot = (mfa / LINE) & (SLOTS - 1);
	const uint32_t *q = l->req[slot].w;
	uint32_t *r = l->rep[slot].w;
	uint32_t w0 = q[0], w1 = q[1];
	bool ok = (w0 & 7u) == IOP_MSG_VERSION_1_5 && (w0 >> 16) >= IOP_REPLY_WORDS &&
		  (w1 >> 24) == IOP_UTIL_PRIVATE;

	r[0] = IOP_MSG_VERSION_1_5 | (IOP_MSG_REPLY << 8) | (IOP_REPLY_WORDS << 16);
	r[1] = (w1 & 0xFF000000u) | ((w1 >> 12) & 0xFFFu) | ((w1 & 0xFFFu) << 12);
	r[2] = q[2];
	r[3] = q[3];
	r[4] = ok ? 0 : ((uint32_t)IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER << 24) |
			IOP_DSC_INVALID_REQUEST;
	return ok;
}

static __rte_always_inline void post_all(struct rte_ring *r, const uint32_t *mfas, unsigned n,
					 bool shared)
{
	unsigned posted = 0;

	while ((posted += iop_mfa_ring_post(r, mfas + posted, n - posted)) < n)
		wait_a_little(shared);
}

/* n round trips, one in flight; returns how many came back right. */
static __rte_always_inline uint64_t host_one(struct limit *l, uint64_t seq, uint64_t n,
					     bool lines)
{
	struct msg_hist *h = &l->run.hist;
	uint64_t ok = 0;

	for (uint64_t end = seq + n; seq < end; seq++) {
		uint64_t t0 = msg_ticks();
		uint32_t mfa = host_request(l, seq, lines), back;

		post_all(l->to_iop, &mfa, 1, l->shared);
		while (iop_mfa_ring_take(l->to_host, &back, 1) == 0)
			wait_a_little(l->shared);
		ok += host_reply_ok(l, back, seq, lines);
		msg_hist_add(h, msg_ticks() - t0);
	}
	return ok;
}

/*
 * n round trips, MSG_BURST in flight: post what is free, take what came,
 * refill. A request's latency runs from the post that carried it to the take
 * that brought its reply back (one tick read for each, per burst).
 */
static __rte_always_inline uint64_t host_burst(struct limit *l, uint64_t base, uint64_t n,
					       bool lines)
{
	struct msg_hist *h = &l->run.hist;
	uint64_t stamp[SLOTS];
	uint32_t pend[MSG_BURST], back[MSG_BURST];
	uint64_t prepared = 0, posted = 0, done = 0, ok = 0;
	unsigned npend = 0;

	while (done < n) {
		unsigned k;

		while (prepared - done < MSG_BURST && prepared < n)
			pend[npend++] = host_request(l, base + prepared++, lines);
		if (npend != 0) {
			unsigned m = iop_mfa_ring_post(l->to_iop, pend, npend);
			uint64_t t = msg_ticks();

			for (unsigned j = 0; j < m; j++)
				stamp[(base + posted + j) & (SLOTS - 1)] = t;
			posted += m;
			npend -= m;
			memmove(pend, pend + m, npend * sizeof(pend[0]));
		}
		k = iop_mfa_ring_take(l->to_host, back, MSG_BURST);
		if (k == 0) {
			wait_a_little(l->shared);
			continue;
		}
		for (unsigned j = 0; j < k; j++)
			ok += host_reply_ok(l, back[j], base + done + j, lines);
		{
			uint64_t t = msg_ticks();

			for (unsigned j = 0; j < k; j++)
				msg_hist_add(h, t - stamp[(base + done + j) & (SLOTS - 1)]);
		}
		done += k;
	}
	return ok;
}

/* Spelled out per mode and limit, so each loop is compiled with its constants. */
static uint64_t host_rounds(struct limit *l, uint64_t seq, uint64_t n)
{
	if (l->mode == MSG_ONE)
		return l->lines ? host_one(l, seq, n, true) : host_one(l, seq, n, false);
	return l->lines ? host_burst(l, seq, n, true) : host_burst(l, seq, n, false);
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void *limit_host(void *arg)
{
	struct limit *l = arg;
	const struct msg_env *env = l->env;
	struct timespec t0, t1;
	uint64_t ok;

	ok = host_rounds(l, 0, env->warmup);
	l->run.errors += env->warmup - ok;
	msg_hist_reset(&l->run.hist);
	msg_measure_start(env);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = host_rounds(l, env->warmup, env->count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	l->run.round_trips = ok;
	l->run.errors += env->count - ok;
	l->run.seconds = elapsed(&t0, &t1);
	return NULL;
}

static __rte_always_inline void iop_loop(struct limit *l, bool lines)
{
	uint32_t mfas[MSG_BURST];

	while (!atomic_load_explicit(l->stop, memory_order_acquire)) {
		unsigned n = iop_mfa_ring_take(l->to_iop, mfas, MSG_BURST);

		if (n == 0) {
			wait_a_little(l->shared);
			continue;
		}
		if (lines)
			for (unsigned i = 0; i < n; i++)
				l->bad_requests += !iop_answer(l, mfas[i]);
		post_all(l->to_host, mfas, n, l->shared);
	}
}

static void *limit_iop(void *arg)
{
	struct limit *l = arg;

	if (l->lines)
		iop_loop(l, true);
	else
		iop_loop(l, false);
	return NULL;
}

static struct rte_ring *ring_new(const char *name, char *why, size_t whylen)
{
	size_t bytes = RTE_ALIGN_CEIL((size_t)iop_mfa_ring_memsize(RING_ENTRIES),
				      RTE_CACHE_LINE_SIZE);
	void *mem = aligned_alloc(RTE_CACHE_LINE_SIZE, bytes);
	struct rte_ring *r = NULL;

	if (mem != NULL)
		r = iop_mfa_ring_init(mem, name, RING_ENTRIES, IOP_MFA_RING_SP | IOP_MFA_RING_SC);

	if (r == NULL) {
		snprintf(why, whylen, "ring %s: %s", name, strerror(mem != NULL ? errno : ENOMEM));
		free(mem);
	}
	return r;
}

/* One pair's rings and frame lines; NULL, with why filled, when they cannot be had. */
static struct limit *limit_new(const struct msg_case *c, enum msg_mode mode,
			       const struct msg_env *env, _Atomic int *stop, char *why,
			       size_t whylen)
{
	struct limit *l = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*l), 64));

	if (l == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memset(l, 0, sizeof(*l));
	l->lines = (c->flags & LIMIT_LINES) != 0;
	l->shared = env->shared;
	l->mode = mode;
	l->env = env;
	l->stop = stop;
	l->to_iop = ring_new("msg-to-iop", why, whylen);
	l->to_host = ring_new("msg-to-host", why, whylen);
	l->req = aligned_alloc(LINE, SLOTS * LINE);
	l->rep = aligned_alloc(LINE, SLOTS * LINE);
	if (l->to_iop != NULL && l->to_host != NULL && l->req != NULL && l->rep != NULL) {
		memset(l->req, 0, SLOTS * LINE);
		memset(l->rep, 0, SLOTS * LINE);
		return l;
	}
	if (l->to_iop != NULL && l->to_host != NULL)
		snprintf(why, whylen, "frame lines: out of memory");
	free(l->to_iop);
	free(l->to_host);
	free(l->req);
	free(l->rep);
	free(l);
	return NULL;
}

static void limit_free(struct limit *l)
{
	free(l->to_iop);
	free(l->to_host);
	free(l->req);
	free(l->rep);
	free(l);
}

/* Each pair on rings and lines of its own: nothing is shared between pairs but the machine. */
static int limit_run(const struct msg_case *c, enum msg_mode mode, const struct msg_env *env,
		     struct msg_run *run, char *why, size_t whylen)
{
	struct limit *l[MSG_MAX_PAIRS] = { NULL };
	_Alignas(64) _Atomic int stop = 0;
	unsigned n = 0;
	int rc = -ENOMEM;

	while (n < env->pairs && (l[n] = limit_new(c, mode, env, &stop, why, whylen)) != NULL)
		n++;
	if (n == env->pairs) {
		rc = msg_pairs_run(env, limit_host, limit_iop, (void *const *)l, &stop);
		if (rc != 0)
			snprintf(why, whylen, "threads: %s", strerror(-rc));
		for (unsigned i = 0; i < n; i++) {
			msg_run_merge(run, &l[i]->run);
			run->errors += l[i]->bad_requests;
		}
	}
	for (unsigned i = 0; i < n; i++)
		limit_free(l[i]);
	return rc;
}

const struct msg_case msg_case_limit_b = {
	.key = "limit-b",
	.name = "limit (b)",
	.what = "bare rte_rings, each side writing and reading a frame's first line",
	.run = limit_run,
	.flags = LIMIT_LINES,
};

const struct msg_case msg_case_limit_a = {
	.key = "limit-a",
	.name = "limit (a)",
	.what = "bare rte_rings, 4-byte values, no frames",
	.run = limit_run,
};
