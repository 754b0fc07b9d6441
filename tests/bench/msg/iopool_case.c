/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The iopool case: a round trip host -> nop DDM -> host through everything a
 * request goes through. A runtime of this process (a frame window with the
 * default heaps, rings and channels, one poll loop, the nop DDM on it) runs
 * its loop on the IOP thread; the host thread attaches with the host library
 * and, per round trip, allocates a frame from the inbound heap, builds a
 * UtilPrivate to the nop DDM (UtilNOP gets no reply in I2O), posts it on its
 * queue pair and polls until the callback has seen the 5-word SUCCESS reply,
 * which the queue pair then frees into the outbound heap.
 *
 * With several pairs (--pairs N) the runtime has N loops with a nop DDM on
 * each, and each host thread makes its own queue pair on the one host
 * attachment and sends to the DDM of the loop that polls its channel: N
 * independent streams that share only what iopool shares between them, the
 * frame window's two heaps and the runtime.
 *
 * Correctness is checked as it goes (every callback: SUCCESS, a 5-word
 * reply, the request it was posted for, in order) and at the end: the DDMs
 * saw exactly the requests posted and answered each once, the runtime sent no
 * FAIL reply, and both heaps have the bytes in use they started with.
 */
#include <errno.h>
#include <stdatomic.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_common.h>
#include <rte_pause.h>

#include "iop_build.h"
#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_runtime.h"
#include "iop_window.h"
#include "msg.h"

#define SLOTS 64u /* per-request records; at least MSG_BURST, so none is reused in flight */
#define REQUEST_BYTES (5u * 4u)
#define XFUNCTION 1u
#define DRAIN_MS 5000u

struct iopool;

/* What a request is posted with: its sequence number, to check order. */
struct slot {
	struct iopool *p;
	uint64_t seq;
};

/* msg_case.flags of iopool-apart: each pair on a window and runtime of its own. */
#define IOPOOL_APART 0x80000000u

/* What the pairs share: the window, the runtime on it, the host attachment. */
struct shared {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	const struct msg_env *env;
	enum msg_mode mode;
	unsigned loops;              /* the runtime's loops: the pairs it serves */
	_Atomic unsigned hosts_left; /* the last host thread to finish detaches */
	int detach_rc;
	_Atomic int *stop;           /* of every pair */
	uint64_t in0, out0;          /* heap bytes in use before the run */
	struct iop_heap_stats hs_in, hs_out; /* and the heaps' counts */
};

/* One pair's. */
struct iopool {
	struct shared *s;
	unsigned loop;     /* the runtime loop this pair's IOP thread runs */
	unsigned chan_loop;/* the loop that polls the queue pair's channel */
	uint16_t tid;      /* the nop DDM on that loop */
	int host_rc;       /* the host thread's: 0 or -errno */
	uint64_t answered; /* callbacks run: the next expected sequence number */
	uint64_t ok;       /* of those, replies that were right */
	uint64_t stamp[SLOTS];
	struct slot slots[SLOTS];
	struct msg_run run;
};

static inline void wait_a_little(bool shared)
{
	if (shared)
		sched_yield();
	else
		rte_pause();
}

static void on_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	const struct slot *s = c->arg;
	struct iopool *p = s->p;

	(void)qp;
	p->ok += c->result == 0 && c->dsc == IOP_DSC_SUCCESS && c->reply_words == IOP_REPLY_WORDS &&
		 s->seq == p->answered;
	p->answered++;
}

/* A built request for sequence number seq, or NULL when the inbound heap has no frame now. */
static uint32_t *request(struct iopool *p, struct iop_qp *qp, uint64_t seq, void **arg)
{
	uint32_t *f = iop_qp_frame_alloc(qp, REQUEST_BYTES);
	struct slot *sl = &p->slots[seq & (SLOTS - 1)];

	if (f == NULL)
		return NULL;
	iop_build_util_private(f, REQUEST_BYTES, p->tid, XFUNCTION, 0);
	sl->seq = seq;
	*arg = sl;
	return f;
}

static int host_one(struct iopool *p, struct iop_qp *qp, uint64_t seq, uint64_t n)
{
	struct msg_hist *h = &p->run.hist;

	for (uint64_t end = seq + n; seq < end; seq++) {
		uint64_t t0 = msg_ticks();
		uint32_t *f;
		void *arg;
		int rc;

		while ((f = request(p, qp, seq, &arg)) == NULL)
			iop_qp_poll(qp, MSG_BURST);
		while ((rc = iop_qp_post(qp, f, on_reply, arg)) == -EAGAIN)
			iop_qp_poll(qp, MSG_BURST);
		if (rc != 0) {
			iop_qp_frame_free(qp, f);
			return rc;
		}
		while (p->answered == seq)
			if (iop_qp_poll(qp, MSG_BURST) == 0)
				wait_a_little(p->s->env->shared);
		msg_hist_add(h, msg_ticks() - t0);
	}
	return 0;
}

/*
 * MSG_BURST in flight: build what is free, post it as one burst, poll, refill.
 * A request's latency runs from the post that carried it to the poll that ran
 * its callback (one tick read for each, per burst).
 */
static int host_burst(struct iopool *p, struct iop_qp *qp, uint64_t base, uint64_t n)
{
	struct msg_hist *h = &p->run.hist;
	uint32_t *pend[MSG_BURST];
	void *args[MSG_BURST];
	uint64_t prepared = 0, posted = 0;
	unsigned npend = 0;

	while (p->answered < base + n) {
		uint64_t done = p->answered - base, t;

		while (prepared - done < MSG_BURST && prepared < n &&
		       (pend[npend] = request(p, qp, base + prepared, &args[npend])) != NULL) {
			npend++;
			prepared++;
		}
		if (npend != 0) {
			unsigned m;

			errno = 0;
			m = iop_qp_post_burst(qp, pend, npend, on_reply, args);
			if (m < npend && errno == EINVAL) {
				while (npend > m)
					iop_qp_frame_free(qp, pend[--npend]);
				return -EINVAL;
			}
			t = msg_ticks();
			for (unsigned j = 0; j < m; j++)
				p->stamp[(base + posted + j) & (SLOTS - 1)] = t;
			posted += m;
			npend -= m;
			memmove(pend, pend + m, npend * sizeof(pend[0]));
			memmove(args, args + m, npend * sizeof(args[0]));
		}
		if (iop_qp_poll(qp, MSG_BURST) == 0) {
			wait_a_little(p->s->env->shared);
			continue;
		}
		t = msg_ticks();
		for (uint64_t s = base + done; s < p->answered; s++)
			msg_hist_add(h, t - p->stamp[s & (SLOTS - 1)]);
	}
	return 0;
}

static int host_rounds(struct iopool *p, struct iop_qp *qp, uint64_t seq, uint64_t n)
{
	return p->s->mode == MSG_ONE ? host_one(p, qp, seq, n) : host_burst(p, qp, seq, n);
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

/* The last host thread out detaches, while every loop still runs, so that anything in flight comes back. */
static void host_done(struct shared *s)
{
	if (atomic_fetch_sub(&s->hosts_left, 1) != 1)
		return;
	s->detach_rc = iop_host_detach(s->h, DRAIN_MS);
	s->h = NULL;
}

static void *iopool_host(void *arg)
{
	struct iopool *p = arg;
	struct shared *s = p->s;
	const struct msg_env *env = s->env;
	struct iop_qp *qp = iop_qp_create(s->h, NULL);
	struct timespec t0, t1;
	int rc;

	if (qp == NULL) {
		p->host_rc = -errno;
		msg_measure_start(env);
		host_done(s);
		return NULL;
	}
	/* Loop i polls channels i, i + loops, ...: send where no request is forwarded. */
	p->chan_loop = iop_qp_channel(qp)->id % s->loops;
	p->tid = iop_runtime_ddm_tid(s->rt, p->chan_loop);
	rc = host_rounds(p, qp, 0, env->warmup);
	p->run.errors += p->answered - p->ok;
	msg_hist_reset(&p->run.hist);
	p->ok = 0;
	msg_measure_start(env);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rc == 0)
		rc = host_rounds(p, qp, env->warmup, env->count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->run.round_trips = p->ok;
	p->run.errors += env->count - p->ok;
	p->run.seconds = elapsed(&t0, &t1);
	if (iop_qp_destroy(qp, DRAIN_MS) != 0 && rc == 0)
		rc = -ETIMEDOUT;
	p->host_rc = rc;
	host_done(s);
	return NULL;
}

static void *iopool_iop(void *arg)
{
	struct iopool *p = arg;
	struct shared *s = p->s;

	if (!s->env->shared) {
		iop_runtime_lcore_loop(s->rt, p->loop, s->stop);
		return NULL;
	}
	/* CPUs shared between threads: an idle loop gives the others their turn at once. */
	while (!atomic_load_explicit(s->stop, memory_order_acquire))
		if (iop_runtime_poll(s->rt, p->loop) == 0)
			sched_yield();
	return NULL;
}

/*
 * How often the thread caches went to the depot or the heap itself during the
 * run (iop_heap_stats' cache_* counts): the depot is what keeps frames that
 * travel between threads off the heap's bitmaps, and this says whether it
 * kept up. To stderr, with the progress lines.
 */
static void print_cache_events(const struct shared *s)
{
	const struct iop_heap *heaps[2] = { iop_window_inbound(s->w), iop_window_outbound(s->w) };
	const struct iop_heap_stats *before[2] = { &s->hs_in, &s->hs_out };
	uint64_t rt = (s->env->warmup + s->env->count) * s->loops;

	fprintf(stderr, "  %-7s iopool: per million round trips, caches:", msg_mode_name(s->mode));
	for (unsigned i = 0; i < 2; i++) {
		struct iop_heap_stats a;

		if (iop_heap_stats(heaps[i], &a) != 0)
			continue;
		fprintf(stderr, " %s depot takes %.0f, chunk cuts %.0f, depot gives %.0f, heap "
			"releases %.0f%s", i == 0 ? "inbound" : "outbound",
			(double)(a.cache_depot_takes - before[i]->cache_depot_takes) * 1e6 / rt,
			(double)(a.cache_chunk_cuts - before[i]->cache_chunk_cuts) * 1e6 / rt,
			(double)(a.cache_depot_gives - before[i]->cache_depot_gives) * 1e6 / rt,
			(double)(a.cache_heap_releases - before[i]->cache_heap_releases) * 1e6 / rt,
			i == 0 ? ";" : "\n");
	}
}

static uint64_t in_use(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	return iop_heap_stats(h, &s) == 0 ? s.bytes_in_use : UINT64_MAX;
}

/*
 * What the IOP side saw must match what the hosts posted, and every pair must
 * have had a loop of its own: counted as errors, with a message.
 */
static void check_iop(struct shared *s, struct iopool *const *p, struct msg_run *run,
		      char *why, size_t whylen)
{
	const struct msg_env *env = s->env;
	uint64_t posted = env->warmup + env->count;
	struct iop_runtime_stats rs;
	uint64_t in0 = s->in0, out0 = s->out0;
	uint64_t in1 = in_use(iop_window_inbound(s->w)), out1 = in_use(iop_window_outbound(s->w));
	unsigned loops_used = 0;

	iop_runtime_stats(s->rt, &rs);
	for (unsigned i = 0; i < s->loops; i++) {
		struct iop_ddm_stats ds;

		loops_used |= 1u << p[i]->chan_loop;
		if (iop_runtime_ddm_stats(s->rt, iop_runtime_ddm_tid(s->rt, i), &ds) != 0 ||
		    ds.requests != posted || ds.replies != posted || ds.failures != 0) {
			snprintf(why, whylen, "nop DDM %u saw %llu requests and sent %llu replies "
				 "(%llu failed) for %llu posted", i,
				 (unsigned long long)ds.requests, (unsigned long long)ds.replies,
				 (unsigned long long)ds.failures, (unsigned long long)posted);
			run->errors++;
		}
	}
	if (rs.fail_replies != 0) {
		snprintf(why, whylen, "the runtime sent %llu FAIL replies",
			 (unsigned long long)rs.fail_replies);
		run->errors++;
	}
	if (loops_used != (1u << s->loops) - 1u) {
		snprintf(why, whylen, "the queue pairs' channels are not one per loop");
		run->errors++;
	}
	if (in1 != in0 || out1 != out0) {
		snprintf(why, whylen,
			 "heap bytes in use: inbound %llu -> %llu, outbound %llu -> %llu",
			 (unsigned long long)in0, (unsigned long long)in1,
			 (unsigned long long)out0, (unsigned long long)out1);
		run->errors++;
	}
	if (why[0] != '\0')
		fprintf(stderr, "  %-7s iopool: %s\n", msg_mode_name(s->mode), why);
}

static int iopool_start(struct shared *s, uint32_t heap_flags, char *why, size_t whylen)
{
	struct iop_heap_opts ho = { .flags = heap_flags };
	/* A channel per pair and the host attachment's, with room to spare. */
	struct iop_window_opts wo = { .heap = heap_flags != 0 ? &ho : NULL,
				      .channels = 2 * MSG_MAX_PAIRS };
	struct iop_runtime_ddm ddm[MSG_MAX_PAIRS];
	struct iop_runtime_config cfg = { .lcores = s->loops, .ddms = ddm, .n_ddms = s->loops };

	for (unsigned i = 0; i < s->loops; i++)
		ddm[i] = (struct iop_runtime_ddm){ .name = "nop", .lcore = i };
	s->w = iop_window_create(&wo);
	if (s->w == NULL) {
		snprintf(why, whylen, "iop_window_create: %s", strerror(errno));
		return -errno;
	}
	cfg.window = s->w;
	s->rt = iop_runtime_create(&cfg, why, whylen);
	if (s->rt == NULL)
		return -errno;
	s->h = iop_host_attach_runtime(s->rt, why, whylen);
	return s->h != NULL ? 0 : -errno;
}

static void shared_free(struct shared *s)
{
	if (s->h != NULL)
		iop_host_detach(s->h, DRAIN_MS);
	if (s->rt != NULL)
		iop_runtime_destroy(s->rt);
	if (s->w != NULL)
		iop_window_close(s->w);
	free(s);
}

/* One window and runtime for `loops` pairs, ready to run; NULL with why filled. */
static struct shared *shared_new(const struct msg_case *c, enum msg_mode mode,
				 const struct msg_env *env, unsigned loops, _Atomic int *stop,
				 char *why, size_t whylen)
{
	struct shared *s = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*s), 64));

	if (s == NULL) {
		snprintf(why, whylen, "out of memory");
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->env = env;
	s->mode = mode;
	s->loops = loops;
	s->stop = stop;
	atomic_init(&s->hosts_left, loops);
	if (iopool_start(s, c->flags & ~IOPOOL_APART, why, whylen) != 0) {
		shared_free(s);
		return NULL;
	}
	s->in0 = in_use(iop_window_inbound(s->w));
	s->out0 = in_use(iop_window_outbound(s->w));
	iop_heap_stats(iop_window_inbound(s->w), &s->hs_in);
	iop_heap_stats(iop_window_outbound(s->w), &s->hs_out);
	return s;
}

static int iopool_run(const struct msg_case *c, enum msg_mode mode, const struct msg_env *env,
		      struct msg_run *run, char *why, size_t whylen)
{
	bool apart = (c->flags & IOPOOL_APART) != 0;
	unsigned nshared = apart ? env->pairs : 1, loops = apart ? 1 : env->pairs;
	struct shared *s[MSG_MAX_PAIRS] = { NULL };
	struct iopool *p[MSG_MAX_PAIRS] = { NULL };
	_Alignas(64) _Atomic int stop = 0;
	unsigned ns = 0, n = 0;
	int rc = -ENOMEM;

	while (ns < nshared &&
	       (s[ns] = shared_new(c, mode, env, loops, &stop, why, whylen)) != NULL)
		ns++;
	if (ns < nshared) {
		rc = -(errno != 0 ? errno : ENOMEM);
		goto out;
	}
	for (; n < env->pairs; n++) {
		p[n] = aligned_alloc(64, RTE_ALIGN_CEIL(sizeof(*p[n]), 64));
		if (p[n] == NULL)
			goto out;
		memset(p[n], 0, sizeof(*p[n]));
		p[n]->s = s[apart ? n : 0];
		p[n]->loop = apart ? 0 : n;
		for (unsigned i = 0; i < SLOTS; i++)
			p[n]->slots[i].p = p[n];
	}
	rc = msg_pairs_run(env, iopool_host, iopool_iop, (void *const *)p, &stop);
	for (unsigned i = 0; i < n && rc == 0; i++)
		rc = p[i]->host_rc;
	for (unsigned j = 0; j < ns && rc == 0; j++)
		if (s[j]->detach_rc != 0)
			rc = -ETIMEDOUT;
	if (rc != 0) {
		snprintf(why, whylen, "host thread: %s", strerror(-rc));
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		msg_run_merge(run, &p[i]->run);
	for (unsigned j = 0; j < ns; j++)
		check_iop(s[j], &p[apart ? j : 0], run, why, whylen);
	/* Apart, every window sees the same: the first one's counts stand for all. */
	print_cache_events(s[0]);
out:
	for (unsigned j = 0; j < ns; j++)
		shared_free(s[j]);
	for (unsigned i = 0; i < n; i++)
		free(p[i]);
	return rc;
}

const struct msg_case msg_case_iopool = {
	.key = "iopool",
	.name = "iopool",
	.what = "host library -> runtime -> nop DDM -> host library, default heaps (thread caches)",
	.run = iopool_run,
};

const struct msg_case msg_case_iopool_uncached = {
	.key = "iopool-uncached",
	.name = "iopool-uncached",
	.what = "the same with IOP_HEAP_F_NO_CACHE heaps",
	.run = iopool_run,
	.flags = IOP_HEAP_F_NO_CACHE,
};

const struct msg_case msg_case_iopool_apart = {
	.key = "iopool-apart",
	.name = "iopool-apart",
	.what = "as iopool, each pair on a window and runtime of its own (nothing shared)",
	.run = iopool_run,
	.flags = IOPOOL_APART,
};
