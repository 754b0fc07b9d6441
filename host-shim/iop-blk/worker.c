/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One host thread of iop-blk: its own queue pair, --qd slots each with a
 * data buffer of the inbound heap, kept busy until the run ends. A slot's
 * completion records its latency and frees it; the loop posts the next
 * request on every free slot, then polls. A verify run writes every block
 * of the thread's slice once (in order, or shuffled for the rand patterns),
 * then reads each back and checks it.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk.h"
#include "iop_build.h"
#include "iop_host.h"

#define FRAME_BYTES 64u

struct slot {
	struct blk_worker *w;
	unsigned char *buf;
	/* The slot's read and its write, built once: a request copies one (iop_build_bsa_rw_again). */
	uint32_t built[2][FRAME_BYTES / 4];
	uint64_t addr;
	uint64_t start_ns;
	bool busy, write;
};

/* One run of requests: a phase of a verify run, or the whole of another. */
struct phase {
	struct blk_worker *w;
	struct iop_qp *qp;
	struct slot *slots;
	uint64_t rng;
	uint64_t blocks;          /* request-sized blocks in the region: the random picks' range */
	uint64_t issued, limit;   /* requests posted; the most to post (0: no limit) */
	uint64_t deadline_ns;     /* 0: none */
	uint64_t *order;          /* verify: the slice's block addresses in the order used */
	bool verify_read;
	bool stamp_ready;         /* w->last_ns is from the poll just before, and not yet used */
};

uint64_t blk_now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/*
 * A pick in [0, n) from a random r: the high half of r * n, as uniform as
 * r % n (both are off by at most n / 2^64) without a division, which costs
 * tens of cycles on every request.
 */
static uint64_t pick(uint64_t r, uint64_t n)
{
#ifdef __SIZEOF_INT128__
	return (uint64_t)(((unsigned __int128)r * n) >> 64);
#else
	return r % n;
#endif
}

static void on_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	struct slot *s = c->arg;
	struct blk_worker *w = s->w;
	const struct blk_opts *o = w->o;
	uint32_t count = 0;

	(void)qp;
	w->last_ns = blk_now_ns();
	blk_hist_add(&w->res.hist, w->last_ns - s->start_ns);
	s->busy = false;
	if (c->result != 0 || iop_read_bsa_transfer_count(c->reply, c->reply_words, &count) != 0 ||
	    count != o->bs) {
		w->res.errors++;
		return;
	}
	w->res.ios++;
	w->res.bytes += count;
	if (o->verify && !s->write) {
		if (blk_pattern_check(s->buf, o->bs, s->addr, o->seed) == 0)
			w->res.verified++;
		else
			w->res.bad++;
	}
}

/* The next request's address and direction; false when the phase has posted all it will. */
static bool next_io(struct phase *p, uint64_t *addr, bool *write)
{
	struct blk_worker *w = p->w;
	const struct blk_opts *o = w->o;

	/* The clock of the last completion: a request is posted when one has freed its slot. */
	if ((p->limit != 0 && p->issued >= p->limit) ||
	    (p->deadline_ns != 0 && w->last_ns >= p->deadline_ns))
		return false;
	if (p->order != NULL) {
		*addr = p->order[p->issued];
		*write = !p->verify_read;
		return true;
	}
	switch (o->rw) {
	case BLK_READ:
	case BLK_WRITE:
		*addr = w->lo + (p->issued * o->bs) % (w->hi - w->lo);
		*write = o->rw == BLK_WRITE;
		break;
	default:
		*addr = pick(next_rand(&p->rng), p->blocks) * o->bs;
		*write = o->rw == BLK_RANDWRITE ||
			 (o->rw == BLK_RANDRW && next_rand(&p->rng) % 100 >= o->read_pct);
		break;
	}
	return true;
}

/* Post on slot s. @return 0, or -EAGAIN when the heap or the ring is full for now. */
static int post(struct phase *p, struct slot *s, uint64_t addr, bool write)
{
	const struct blk_opts *o = p->w->o;
	uint32_t *f = iop_qp_frame_alloc(p->qp, FRAME_BYTES);
	int rc;

	if (f == NULL)
		return -EAGAIN;
	rc = iop_build_bsa_rw_again(f, FRAME_BYTES, s->built[write], FRAME_BYTES, addr);
	if (rc < 0) {
		iop_qp_frame_free(p->qp, f);
		return rc; /* no request could carry this: not worth a retry */
	}
	if (o->verify && write)
		blk_pattern_fill(s->buf, o->bs, addr, o->seed);
	s->addr = addr;
	s->write = write;
	/*
	 * The first post after a poll that completed requests starts at the
	 * clock read for the last of them: earlier than the post by the rest of
	 * that poll and this request's setup, so a latency is never shorter
	 * than it was, and at QD 1 the clock is read once per request instead
	 * of twice. Any other post, and a write whose pattern was just filled
	 * (a verify run), reads the clock.
	 */
	s->start_ns = p->stamp_ready && !(o->verify && write) ? p->w->last_ns : blk_now_ns();
	p->stamp_ready = false;
	rc = iop_qp_post(p->qp, f, on_reply, s);
	if (rc != 0) {
		iop_qp_frame_free(p->qp, f);
		return rc; /* -EAGAIN: the ring or the table is full for now */
	}
	s->busy = true;
	return 0;
}

/* Empty polls before a thread yields its CPU, as iop_qp_call does: the IOP's loop may share it. */
#define SPINS_BEFORE_YIELD 1000u

static void run_phase(struct phase *p)
{
	const struct blk_opts *o = p->w->o;
	unsigned empty = 0;
	bool more = p->w->res.rc == 0;
	int rc;

	p->stamp_ready = false;
	while (more || iop_qp_outstanding(p->qp) != 0) {
		for (unsigned i = 0; i < o->qd && more; i++) {
			struct slot *s = &p->slots[i];
			uint64_t addr;
			bool write;

			if (s->busy)
				continue;
			more = next_io(p, &addr, &write);
			if (!more)
				break;
			rc = post(p, s, addr, write);
			if (rc == -EAGAIN)
				break; /* taken again after replies come back */
			if (rc != 0) {
				/* Nothing more can be posted: finish what is in flight, then stop. */
				p->w->res.rc = rc;
				more = false;
				break;
			}
			p->issued++;
		}
		if (p->w->t->turn != NULL)
			p->w->t->turn(p->w->t); /* --loop-inline: the loop is this thread's */
		p->stamp_ready = iop_qp_poll(p->qp, o->qd) > 0;
		if (p->stamp_ready)
			empty = 0;
		else if (++empty >= SPINS_BEFORE_YIELD)
			sched_yield();
	}
}

/* The slice's block addresses, shuffled for the rand patterns. */
static uint64_t *slice_order(struct blk_worker *w, uint64_t *rng)
{
	uint64_t n = (w->hi - w->lo) / w->o->bs;
	uint64_t *a = malloc(n * sizeof(*a));

	if (a == NULL)
		return NULL;
	for (uint64_t i = 0; i < n; i++)
		a[i] = w->lo + i * w->o->bs;
	if (w->o->rw != BLK_READ && w->o->rw != BLK_WRITE)
		for (uint64_t i = n - 1; i > 0; i--) {
			uint64_t j = next_rand(rng) % (i + 1), t = a[i];

			a[i] = a[j];
			a[j] = t;
		}
	return a;
}

static int run(struct blk_worker *w, struct iop_qp *qp, struct slot *slots)
{
	const struct blk_opts *o = w->o;
	struct phase p = { .w = w, .qp = qp, .slots = slots, .rng = o->seed ^ (w->id + 1) * 7919,
			   .blocks = w->region / o->bs };

	w->last_ns = blk_now_ns();
	if (!o->verify) {
		p.limit = o->ios;
		p.deadline_ns = o->duration > 0 ? w->last_ns + (uint64_t)(o->duration * 1e9) : 0;
		run_phase(&p);
		return 0;
	}
	p.order = slice_order(w, &p.rng);
	if (p.order == NULL)
		return -ENOMEM;
	p.limit = (w->hi - w->lo) / o->bs;
	run_phase(&p);
	p.issued = 0;
	p.verify_read = true;
	run_phase(&p);
	free(p.order);
	return 0;
}

/* The slot's read and write frames: the buffer's checks and the SGL, done once. */
static int build_slot(struct blk_worker *w, struct slot *s)
{
	struct iop_buf b = { s->buf, w->o->bs };
	const struct iop_window *win = iop_host_window(w->t->host);
	int rc = iop_build_bsa_rw(s->built[0], FRAME_BYTES, w->o->tid, IOP_BSA_BLOCK_READ, 0, win,
				  &b, 1);

	if (rc >= 0)
		rc = iop_build_bsa_rw(s->built[1], FRAME_BYTES, w->o->tid, IOP_BSA_BLOCK_WRITE, 0,
				      win, &b, 1);
	return rc < 0 ? rc : 0;
}

void *blk_worker_main(void *arg)
{
	struct blk_worker *w = arg;
	struct iop_qp_opts qo = { .depth = w->o->qd };
	struct iop_qp *qp = iop_qp_create(w->t->host, &qo);
	struct slot *slots = calloc(w->o->qd, sizeof(*slots));

	w->res.rc = qp == NULL || slots == NULL ? -ENOMEM : 0;
	for (unsigned i = 0; i < w->o->qd && w->res.rc == 0; i++) {
		slots[i].w = w;
		slots[i].buf = (unsigned char *)iop_qp_frame_alloc(qp, w->o->bs);
		if (slots[i].buf == NULL)
			w->res.rc = -ENOMEM;
		else
			memset(slots[i].buf, 0xA5, w->o->bs);
		if (w->res.rc == 0)
			w->res.rc = build_slot(w, &slots[i]);
	}
	if (w->res.rc == 0)
		w->res.rc = run(w, qp, slots);
	for (unsigned i = 0; slots != NULL && i < w->o->qd; i++)
		if (slots[i].buf != NULL)
			iop_qp_frame_free(qp, (uint32_t *)slots[i].buf);
	free(slots);
	if (qp != NULL)
		iop_qp_destroy(qp, 5000);
	return NULL;
}
