/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The workloads, and the runner that measures one (peer, workload, threads)
 * cell: start the threads, let them set up (untimed), release them together,
 * stop them after the cell's duration (or let each do exactly --ops ops), and
 * take the wall time between the two barriers that bracket the timed part.
 * Every allocated block gets its first 8 bytes written, so no allocator can
 * hand out memory it never maps or reuse a block without a cache miss.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define CHUNK 64u            /* ops between looks at the stop flag */
#define BATCH 1000u          /* threadtest: blocks per batch */
#define LIVE_SLOTS 1000u     /* random: live set per thread */
#define SIZE_TABLE 4096u     /* random: sizes drawn before the timed part */
#define RING_SLOTS 1024u     /* prodcons: pointers in flight per pair */
#define SPINS_BEFORE_YIELD 64u

const struct bench_workload bench_workloads[] = {
	{ "fixed64", BENCH_FIXED, 64 },
	{ "fixed256", BENCH_FIXED, 256 },
	{ "fixed2k", BENCH_FIXED, 2048 },
	{ "fixed64k", BENCH_FIXED, 65536 },
	{ "threadtest", BENCH_THREADTEST, 0 },
	{ "prodcons", BENCH_PRODCONS, 256 },
	{ "random", BENCH_RANDOM, 0 },
};
const unsigned bench_nworkloads = sizeof(bench_workloads) / sizeof(bench_workloads[0]);
_Static_assert(sizeof(bench_workloads) / sizeof(bench_workloads[0]) <= 32,
	       "workload_mask is too narrow");

/* prodcons: a single-producer single-consumer ring of block pointers. */
struct ring {
	_Alignas(64) _Atomic uint64_t head; /* next slot the consumer reads */
	_Alignas(64) _Atomic uint64_t tail; /* next slot the producer writes */
	_Alignas(64) atomic_bool done;      /* the producer has put its last block */
	_Alignas(64) void *slot[RING_SLOTS];
};

struct cell {
	const struct bench_peer *peer;
	const struct bench_workload *w;
	void *heap;
	bool ops_mode;
	uint64_t ops_target;
	pthread_barrier_t start;
	pthread_barrier_t end;
	_Alignas(64) atomic_bool stop;
};

struct worker {
	_Alignas(64) struct cell *cell;
	void (*run)(struct worker *wk);
	struct ring *ring; /* prodcons only */
	uint64_t seed;
	uint64_t ops;
	uint64_t nulls;
	uint64_t errors;
	pthread_t tid;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* volatile: with link-time optimisation, malloc + dead store + free could vanish altogether. */
static inline void touch(void *p, uint64_t v)
{
	*(volatile uint64_t *)p = v;
}

static void sleep_until(uint64_t deadline_ns)
{
	struct timespec ts = { .tv_sec = (time_t)(deadline_ns / 1000000000u),
			       .tv_nsec = (long)(deadline_ns % 1000000000u) };

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

/* How many ops to do before looking again: 0 when the cell is over. */
static uint64_t next_chunk(const struct cell *c, uint64_t done, uint64_t chunk)
{
	if (c->ops_mode)
		return c->ops_target - done < chunk ? c->ops_target - done : chunk;
	return atomic_load_explicit(&c->stop, memory_order_relaxed) ? 0 : chunk;
}

/* Oversubscribed on purpose: a waiter that keeps spinning would hold the core its partner needs. */
static void backoff(unsigned *spins)
{
	if (++*spins < SPINS_BEFORE_YIELD) {
		bench_cpu_relax();
	} else {
		*spins = 0;
		sched_yield();
	}
}

static void timed_start(struct worker *wk)
{
	pthread_barrier_wait(&wk->cell->start);
}

static void timed_end(struct worker *wk)
{
	pthread_barrier_wait(&wk->cell->end);
}

static void *alloc_touched(struct worker *wk, size_t size, uint64_t v)
{
	const struct cell *c = wk->cell;
	void *p = c->peer->alloc(c->heap, size);

	if (p == NULL)
		wk->nulls++;
	else
		touch(p, v);
	return p;
}

static void run_fixed(struct worker *wk)
{
	const struct cell *c = wk->cell;
	size_t size = c->w->size;
	uint64_t n;

	timed_start(wk);
	while ((n = next_chunk(c, wk->ops, CHUNK)) != 0) {
		for (uint64_t i = 0; i < n; i++) {
			void *p = alloc_touched(wk, size, i);

			if (p != NULL)
				c->peer->free(c->heap, p, size);
		}
		wk->ops += n;
	}
	timed_end(wk);
}

/* Larson and Krishnan's threadtest: allocate a batch, then free it, oldest first. */
static void run_threadtest(struct worker *wk)
{
	const struct cell *c = wk->cell;
	void **blk = calloc(BATCH, sizeof(*blk));
	size_t *size = calloc(BATCH, sizeof(*size));
	uint64_t n;

	for (unsigned i = 0; i < BATCH; i++)
		size[i] = 64 + xorshift(&wk->seed) % (512 - 64 + 1);
	timed_start(wk);
	while ((n = next_chunk(c, wk->ops, BATCH)) != 0) {
		for (uint64_t i = 0; i < n; i++)
			blk[i] = alloc_touched(wk, size[i], i);
		for (uint64_t i = 0; i < n; i++)
			if (blk[i] != NULL)
				c->peer->free(c->heap, blk[i], size[i]);
		wk->ops += n;
	}
	timed_end(wk);
	free(blk);
	free(size);
}

/* Log-uniform between 64 B and 64 KiB: as many 64..128 B blocks as 32..64 KiB ones. */
static size_t log_uniform_size(uint64_t *seed)
{
	double u = (double)(xorshift(seed) >> 11) * 0x1p-53;

	return (size_t)exp2(6.0 + 10.0 * u);
}

struct slot {
	void *p;
	size_t size;
};

static void replace_slot(struct worker *wk, struct slot *s, size_t size)
{
	const struct cell *c = wk->cell;

	if (s->p != NULL)
		c->peer->free(c->heap, s->p, s->size);
	s->p = alloc_touched(wk, size, size);
	s->size = size;
}

static void run_random(struct worker *wk)
{
	const struct cell *c = wk->cell;
	struct slot *live = calloc(LIVE_SLOTS, sizeof(*live));
	size_t *sizes = calloc(SIZE_TABLE, sizeof(*sizes));
	uint64_t n;

	for (unsigned i = 0; i < SIZE_TABLE; i++)
		sizes[i] = log_uniform_size(&wk->seed);
	for (unsigned i = 0; i < LIVE_SLOTS; i++)
		replace_slot(wk, &live[i], sizes[i]);
	timed_start(wk);
	while ((n = next_chunk(c, wk->ops, CHUNK)) != 0) {
		for (uint64_t i = 0; i < n; i++) {
			uint64_t r = xorshift(&wk->seed);

			replace_slot(wk, &live[(uint32_t)r % LIVE_SLOTS], sizes[(r >> 32) % SIZE_TABLE]);
		}
		wk->ops += n;
	}
	timed_end(wk);
	for (unsigned i = 0; i < LIVE_SLOTS; i++)
		if (live[i].p != NULL)
			c->peer->free(c->heap, live[i].p, live[i].size);
	free(live);
	free(sizes);
}

static void ring_put(struct ring *r, void *p)
{
	uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	unsigned spins = 0;

	while (t - atomic_load_explicit(&r->head, memory_order_acquire) == RING_SLOTS)
		backoff(&spins);
	r->slot[t % RING_SLOTS] = p;
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}

static void *ring_get(struct ring *r)
{
	uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	void *p;

	if (h == atomic_load_explicit(&r->tail, memory_order_acquire))
		return NULL;
	p = r->slot[h % RING_SLOTS];
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return p;
}

/* The host side of a frame: allocate, fill in (a sequence number), post. */
static void run_producer(struct worker *wk)
{
	const struct cell *c = wk->cell;
	uint64_t made = 0, seq = 0, n;

	timed_start(wk);
	while ((n = next_chunk(c, made, CHUNK)) != 0) {
		for (uint64_t i = 0; i < n; i++) {
			void *p = alloc_touched(wk, c->w->size, seq);

			if (p != NULL) {
				ring_put(wk->ring, p);
				seq++;
			}
		}
		made += n;
	}
	atomic_store_explicit(&wk->ring->done, true, memory_order_release);
	timed_end(wk);
}

/* The IOP side: take the frame, read it, free it. Counts the ops of the pair. */
static void run_consumer(struct worker *wk)
{
	const struct cell *c = wk->cell;
	struct ring *r = wk->ring;
	uint64_t expect = 0;
	unsigned spins = 0;

	timed_start(wk);
	for (;;) {
		void *p = ring_get(r);

		if (p == NULL) {
			/* done is set after the last put: once seen, an empty ring stays empty */
			if (atomic_load_explicit(&r->done, memory_order_acquire) &&
			    atomic_load_explicit(&r->tail, memory_order_acquire) ==
				    atomic_load_explicit(&r->head, memory_order_relaxed))
				break;
			backoff(&spins);
			continue;
		}
		if (*(volatile uint64_t *)p != expect++)
			wk->errors++;
		c->peer->free(c->heap, p, c->w->size);
		wk->ops++;
	}
	timed_end(wk);
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	const struct bench_peer *p = wk->cell->peer;

	if (p->thread_start != NULL && p->thread_start(wk->cell->heap) != 0)
		wk->errors++;
	wk->run(wk);
	if (p->thread_stop != NULL)
		p->thread_stop(wk->cell->heap);
	return NULL;
}

static void (*const run_of_kind[])(struct worker *) = {
	[BENCH_FIXED] = run_fixed,
	[BENCH_THREADTEST] = run_threadtest,
	[BENCH_RANDOM] = run_random,
};

/* prodcons: even workers produce into the ring they share with the next, which consumes. */
static void assign_roles(struct cell *c, struct worker *wk, unsigned n, struct ring *rings)
{
	for (unsigned i = 0; i < n; i++) {
		wk[i].cell = c;
		wk[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
		if (c->w->kind == BENCH_PRODCONS) {
			wk[i].ring = &rings[i / 2];
			wk[i].run = i % 2 == 0 ? run_producer : run_consumer;
		} else {
			wk[i].run = run_of_kind[c->w->kind];
		}
	}
}

static unsigned workers_for(const struct bench_workload *w, unsigned threads)
{
	if (w->kind != BENCH_PRODCONS)
		return threads;
	return threads < 2 ? 2 : threads / 2 * 2;
}

/* Release the threads, let them run, and return the timed wall time in ns. */
static uint64_t run_timed(struct cell *c, uint64_t duration_ns)
{
	uint64_t t0, t1;

	pthread_barrier_wait(&c->start);
	t0 = bench_now_ns();
	if (!c->ops_mode) {
		sleep_until(t0 + duration_ns);
		atomic_store_explicit(&c->stop, true, memory_order_relaxed);
	}
	pthread_barrier_wait(&c->end);
	t1 = bench_now_ns();
	return t1 - t0;
}

static void start_workers(struct worker *wk, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = pthread_create(&wk[i].tid, NULL, worker_main, &wk[i]);

		if (rc != 0) {
			/* the others already wait at a barrier counting this one */
			fprintf(stderr, "iop-bench-heap: pthread_create: %s\n", strerror(rc));
			exit(2);
		}
	}
}

static int measure(struct cell *c, unsigned n, const struct bench_opts *o,
		   struct bench_result *res)
{
	struct worker *wk = aligned_alloc(64, n * sizeof(*wk));
	struct ring *rings = aligned_alloc(64, (n / 2 + 1) * sizeof(*rings));

	if (wk == NULL || rings == NULL) {
		free(wk);
		free(rings);
		return -ENOMEM;
	}
	memset(wk, 0, n * sizeof(*wk));
	memset(rings, 0, (n / 2 + 1) * sizeof(*rings));
	assign_roles(c, wk, n, rings);
	pthread_barrier_init(&c->start, NULL, n + 1);
	pthread_barrier_init(&c->end, NULL, n + 1);
	start_workers(wk, n);
	res->seconds = (double)run_timed(c, o->duration_ns) / 1e9;
	for (unsigned i = 0; i < n; i++) {
		pthread_join(wk[i].tid, NULL);
		res->ops += wk[i].ops;
		res->nulls += wk[i].nulls;
		res->errors += wk[i].errors;
	}
	pthread_barrier_destroy(&c->start);
	pthread_barrier_destroy(&c->end);
	free(wk);
	free(rings);
	return 0;
}

int bench_run_cell(const struct bench_peer *p, const struct bench_workload *w,
		   unsigned threads, const struct bench_opts *o, struct bench_result *res)
{
	struct cell c = { .peer = p, .w = w, .ops_mode = o->ops_mode, .ops_target = o->ops };
	int rc;

	*res = (struct bench_result){ .peer = p->name, .w = w, .threads = threads };
	errno = 0;
	c.heap = p->create(BENCH_HEAP_BYTES, w->size);
	if (c.heap == NULL)
		return errno != 0 ? -errno : -ENOMEM;
	atomic_init(&c.stop, false);
	rc = measure(&c, workers_for(w, threads), o, res);
	p->destroy(c.heap);
	return rc;
}
