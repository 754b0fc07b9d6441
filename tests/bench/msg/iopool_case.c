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
 * Correctness is checked as it goes (every callback: SUCCESS, a 5-word
 * reply, the request it was posted for, in order) and at the end: the DDM
 * saw exactly the requests posted and answered each once, the runtime sent no
 * FAIL reply, and both heaps have the bytes in use they started with.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_pause.h>

#include "iop_build.h"
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

struct iopool {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	uint16_t tid;
	bool shared;
	enum msg_mode mode;
	const struct msg_env *env;
	struct msg_run *run;
	int host_rc;       /* the host thread's: 0 or -errno */
	uint64_t answered; /* callbacks run: the next expected sequence number */
	uint64_t ok;       /* of those, replies that were right */
	uint64_t stamp[SLOTS];
	struct slot slots[SLOTS];
	_Alignas(64) _Atomic int stop;
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
	struct slot *s = &p->slots[seq & (SLOTS - 1)];

	if (f == NULL)
		return NULL;
	iop_build_util_private(f, REQUEST_BYTES, p->tid, XFUNCTION, 0);
	s->seq = seq;
	*arg = s;
	return f;
}

static int host_one(struct iopool *p, struct iop_qp *qp, uint64_t seq, uint64_t n)
{
	struct msg_hist *h = &p->run->hist;

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
				wait_a_little(p->shared);
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
	struct msg_hist *h = &p->run->hist;
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
			wait_a_little(p->shared);
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
	return p->mode == MSG_ONE ? host_one(p, qp, seq, n) : host_burst(p, qp, seq, n);
}

static double elapsed(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

static void *iopool_host(void *arg)
{
	struct iopool *p = arg;
	const struct msg_env *env = p->env;
	struct iop_qp *qp = iop_qp_create(p->h, NULL);
	struct timespec t0, t1;
	int rc;

	if (qp == NULL) {
		p->host_rc = -errno;
		return NULL;
	}
	rc = host_rounds(p, qp, 0, env->warmup);
	p->run->errors += p->answered - p->ok;
	msg_hist_reset(&p->run->hist);
	p->ok = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (rc == 0)
		rc = host_rounds(p, qp, env->warmup, env->count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	p->run->round_trips = p->ok;
	p->run->errors += env->count - p->ok;
	p->run->seconds = elapsed(&t0, &t1);
	/* While the loop still runs, so that anything left in flight can come back. */
	if (iop_qp_destroy(qp, DRAIN_MS) != 0 && rc == 0)
		rc = -ETIMEDOUT;
	if (iop_host_detach(p->h, DRAIN_MS) != 0 && rc == 0)
		rc = -ETIMEDOUT;
	p->h = NULL;
	p->host_rc = rc;
	return NULL;
}

static void *iopool_iop(void *arg)
{
	struct iopool *p = arg;

	if (!p->shared) {
		iop_runtime_lcore_loop(p->rt, 0, &p->stop);
		return NULL;
	}
	/* One CPU for both threads: an idle loop gives the host its turn at once. */
	while (!atomic_load_explicit(&p->stop, memory_order_acquire))
		if (iop_runtime_poll(p->rt, 0) == 0)
			sched_yield();
	return NULL;
}

static uint64_t in_use(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	return iop_heap_stats(h, &s) == 0 ? s.bytes_in_use : UINT64_MAX;
}

/* What the IOP side saw must match what the host posted: counted as errors, with a message. */
static void check_iop(struct iopool *p, uint64_t in0, uint64_t out0, char *why, size_t whylen)
{
	uint64_t posted = p->env->warmup + p->env->count;
	struct iop_runtime_stats rs;
	struct iop_ddm_stats ds;
	uint64_t in1 = in_use(iop_window_inbound(p->w)), out1 = in_use(iop_window_outbound(p->w));

	iop_runtime_stats(p->rt, &rs);
	if (iop_runtime_ddm_stats(p->rt, p->tid, &ds) != 0 || ds.requests != posted ||
	    ds.replies != posted || ds.failures != 0 || rs.fail_replies != 0) {
		snprintf(why, whylen, "the nop DDM saw %llu requests and sent %llu replies "
			 "(%llu failed, %llu FAIL replies) for %llu posted",
			 (unsigned long long)ds.requests, (unsigned long long)ds.replies,
			 (unsigned long long)ds.failures, (unsigned long long)rs.fail_replies,
			 (unsigned long long)posted);
		p->run->errors++;
	}
	if (in1 != in0 || out1 != out0) {
		snprintf(why, whylen,
			 "heap bytes in use: inbound %llu -> %llu, outbound %llu -> %llu",
			 (unsigned long long)in0, (unsigned long long)in1,
			 (unsigned long long)out0, (unsigned long long)out1);
		p->run->errors++;
	}
	if (why[0] != '\0')
		fprintf(stderr, "  %-7s iopool: %s\n", msg_mode_name(p->mode), why);
}

static int iopool_start(struct iopool *p, uint32_t heap_flags, char *why, size_t whylen)
{
	struct iop_heap_opts ho = { .flags = heap_flags };
	struct iop_window_opts wo = { .heap = heap_flags != 0 ? &ho : NULL };
	struct iop_runtime_ddm ddm = { .name = "nop", .lcore = 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = &ddm, .n_ddms = 1 };

	p->w = iop_window_create(&wo);
	if (p->w == NULL) {
		snprintf(why, whylen, "iop_window_create: %s", strerror(errno));
		return -errno;
	}
	cfg.window = p->w;
	p->rt = iop_runtime_create(&cfg, why, whylen);
	if (p->rt == NULL)
		return -errno;
	p->tid = iop_runtime_ddm_tid(p->rt, 0);
	p->h = iop_host_attach_runtime(p->rt, why, whylen);
	return p->h != NULL ? 0 : -errno;
}

static int iopool_run(const struct msg_case *c, enum msg_mode mode, const struct msg_env *env,
		      struct msg_run *run, char *why, size_t whylen)
{
	struct iopool *p = aligned_alloc(64, sizeof(*p));
	uint64_t in0, out0;
	int rc;

	if (p == NULL)
		return -ENOMEM;
	memset(p, 0, sizeof(*p));
	p->shared = msg_cpus_shared(&env->cpus);
	p->mode = mode;
	p->env = env;
	p->run = run;
	for (unsigned i = 0; i < SLOTS; i++)
		p->slots[i].p = p;
	rc = iopool_start(p, c->flags, why, whylen);
	if (rc == 0) {
		in0 = in_use(iop_window_inbound(p->w));
		out0 = in_use(iop_window_outbound(p->w));
		rc = msg_pair_run(&env->cpus, iopool_host, iopool_iop, p, &p->stop);
		if (rc == 0)
			rc = p->host_rc;
		if (rc != 0)
			snprintf(why, whylen, "host thread: %s", strerror(-rc));
		else
			check_iop(p, in0, out0, why, whylen);
	}
	if (p->h != NULL)
		iop_host_detach(p->h, DRAIN_MS);
	if (p->rt != NULL)
		iop_runtime_destroy(p->rt);
	if (p->w != NULL)
		iop_window_close(p->w);
	free(p);
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
