/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Many threads on few cores: random alloc/free of random sizes with blocks
 * freed by other threads than the allocating one, every block filled with its
 * owner's tag and checked before it is freed (two live blocks that overlap
 * would overwrite each other's tags). At the end the heap must be one free
 * block of 2^M and pass iop_heap_check(). Also: fixed-size allocations with
 * live memory at most half the heap never see ENOMEM.
 *
 * Sizes come from the environment so the same program runs long in a normal
 * build and shorter under ThreadSanitizer:
 *   IOP_STRESS_THREADS (default 4), IOP_STRESS_OPS per thread (default 1000000).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iop_heap.h"
#include "iop_test.h"

#define LINE 64u

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Block layout while live: word 0 tag, word 1 requested size, and the tag at
 * the start of every further 64-byte line. */
static void fill(uint64_t *p, size_t size, uint64_t tag)
{
	p[0] = tag;
	p[1] = size;
	for (size_t off = LINE; off < size; off += LINE)
		p[off / 8] = tag;
}

/* Returns the requested size, or 0 if any tag was overwritten. */
static size_t verify(const uint64_t *p)
{
	uint64_t tag = p[0];
	size_t size = p[1];

	for (size_t off = LINE; off < size; off += LINE)
		if (p[off / 8] != tag)
			return 0;
	return size;
}

struct stress {
	struct iop_heap *h;
	unsigned threads;
	unsigned ops;
	unsigned live_cap;       /* blocks a thread keeps at most */
	size_t fixed_size;       /* 0: random sizes 64 B..64 KiB */
	unsigned nslots;         /* exchange slots for cross-thread frees */
	_Atomic(uint64_t *) *slots;
	_Atomic uint64_t enomem;
	_Atomic uint64_t corrupt;
	_Atomic uint64_t bad_free;
	_Atomic uint64_t cross_frees;
	_Atomic unsigned next_id;
};

static size_t pick_size(struct stress *st, uint64_t *rng)
{
	unsigned order;

	if (st->fixed_size != 0)
		return st->fixed_size;
	order = 6 + (unsigned)(xorshift(rng) % 10); /* blocks of 128 B .. 64 KiB, log-uniform */
	return (1ull << order) + xorshift(rng) % (1ull << order) / 2 + 16;
}

static void release(struct stress *st, uint64_t *p)
{
	size_t size = verify(p);

	if (size == 0) {
		atomic_fetch_add(&st->corrupt, 1);
		return; /* leave it allocated: the final check will fail loudly too */
	}
	if (iop_heap_free(st->h, p, size) != 0)
		atomic_fetch_add(&st->bad_free, 1);
}

static void *stress_thread(void *arg)
{
	struct stress *st = arg;
	unsigned id = atomic_fetch_add(&st->next_id, 1);
	uint64_t rng = iop_test_seed() * 0x9e3779b97f4a7c15ull + id + 1;
	uint64_t **live = calloc(st->live_cap, sizeof(*live));
	unsigned nlive = 0;

	for (unsigned op = 0; op < st->ops; op++) {
		uint64_t r = xorshift(&rng);

		if (nlive < st->live_cap && (nlive == 0 || r % 8 < 4)) {
			size_t size = pick_size(st, &rng);
			uint64_t *p = iop_heap_alloc(st->h, size);

			if (p == NULL) {
				atomic_fetch_add(&st->enomem, 1);
				continue;
			}
			fill(p, size, ((uint64_t)id << 48) | op);
			live[nlive++] = p;
		} else if (r % 8 < 6) {
			unsigned i = (unsigned)(r >> 8) % nlive;

			release(st, live[i]);
			live[i] = live[--nlive];
		} else {
			/* Hand a block to whichever thread takes this slot next;
			 * free what was there: a block someone else allocated. */
			unsigned i = (unsigned)(r >> 8) % nlive;
			unsigned s = (unsigned)(r >> 32) % st->nslots;
			uint64_t *got = atomic_exchange(&st->slots[s], live[i]);

			live[i] = live[--nlive];
			if (got != NULL) {
				release(st, got);
				atomic_fetch_add_explicit(&st->cross_frees, 1, memory_order_relaxed);
			}
		}
	}
	while (nlive > 0)
		release(st, live[--nlive]);
	free(live);
	return NULL;
}

static void run_stress(struct stress *st)
{
	pthread_t *t = calloc(st->threads, sizeof(*t));
	struct iop_heap_stats s;
	char report[200];

	st->slots = calloc(st->nslots, sizeof(*st->slots));
	for (unsigned i = 0; i < st->threads; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, stress_thread, st), 0);
	for (unsigned i = 0; i < st->threads; i++)
		pthread_join(t[i], NULL);
	for (unsigned i = 0; i < st->nslots; i++) {
		uint64_t *p = atomic_load(&st->slots[i]);

		if (p != NULL)
			release(st, p);
	}
	iop_heap_cache_flush(st->h); /* what this thread freed; the others exited */
	CU_ASSERT_EQUAL(iop_heap_stats(st->h, &s), 0);
	printf("\n  %u threads x %u ops: %" PRIu64 " cross-thread frees, %" PRIu64
	       " ENOMEM, %" PRIu64 " corrupt, %" PRIu64 " refused frees\n",
	       st->threads, st->ops, atomic_load(&st->cross_frees), atomic_load(&st->enomem),
	       atomic_load(&st->corrupt), atomic_load(&st->bad_free));
	CU_ASSERT_EQUAL(atomic_load(&st->corrupt), 0);
	CU_ASSERT_EQUAL(atomic_load(&st->bad_free), 0);
	CU_ASSERT_EQUAL(s.bytes_in_use, 0);
	CU_ASSERT_EQUAL(s.free_blocks[s.max_order], 1);
	CU_ASSERT_EQUAL(s.largest_free, s.heap_bytes);
	CU_ASSERT_EQUAL(iop_heap_check_report(st->h, report, sizeof(report)), 0);
	if (strcmp(report, "ok") != 0)
		printf("  check: %s\n", report);
	free(st->slots);
	free(t);
}

static void random_sizes(uint32_t flags)
{
	struct iop_heap_opts opts = { .flags = flags };
	struct stress st = {
		.h = iop_heap_create(64u << 20, &opts),
		.threads = env_uint("IOP_STRESS_THREADS", 4),
		.ops = env_uint("IOP_STRESS_OPS", 1000000),
		.live_cap = 64,
		.nslots = 256,
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st.h);
	run_stress(&st);
	iop_heap_destroy(st.h);
}

static void test_random_sizes_cross_thread(void)
{
	random_sizes(0); /* the default: thread caches */
}

static void test_random_sizes_cross_thread_uncached(void)
{
	random_sizes(IOP_HEAP_F_NO_CACHE);
}

/*
 * Fixed size, live memory never above half the heap: a buddy heap never
 * fragments for one size, so every allocation must succeed, however the
 * threads interleave with each other's splits and merges.
 */
static void no_enomem_at_size(size_t size, uint32_t flags)
{
	struct iop_heap_opts opts = { .flags = flags };
	size_t heap = 4u << 20;
	unsigned threads = 2 * env_uint("IOP_STRESS_THREADS", 4);
	size_t budget = heap / 2 / size; /* blocks that may be live at once */
	struct stress st = {
		.h = iop_heap_create(heap, &opts),
		.threads = threads,
		.ops = env_uint("IOP_STRESS_OPS", 1000000) / 4,
		.fixed_size = size,
		.live_cap = (unsigned)(budget / 2 / threads),
		.nslots = (unsigned)(budget / 2),
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(st.h);
	CU_ASSERT_FATAL(st.live_cap >= 1);
	run_stress(&st);
	CU_ASSERT_EQUAL(atomic_load(&st.enomem), 0);
	iop_heap_destroy(st.h);
}

static void test_no_spurious_enomem_64(void)
{
	no_enomem_at_size(64, 0); /* the default: thread caches */
}

static void test_no_spurious_enomem_64_uncached(void)
{
	no_enomem_at_size(64, IOP_HEAP_F_NO_CACHE);
}

static void test_no_spurious_enomem_2k(void)
{
	no_enomem_at_size(2048, 0);
}

static void test_no_spurious_enomem_64k(void)
{
	no_enomem_at_size(65536, 0);
}

/*
 * Threads that allocate and free small blocks of an uncached heap at the
 * same time keep to block words of their own (heap_home.h): a block word
 * that two threads both take blocks from moves its cache line between their
 * cores at every operation. Each thread records the words of the blocks it
 * got; no word may appear for two threads. Each first takes and frees one
 * block alone, in turn: on a fresh heap, a thread whose region is still
 * inside another thread's split in flight takes its block from the whole
 * heap, wherever that is, which is right, but not what is tested here.
 */
#define HOME_THREADS 4u
#define HOME_HEAP (4u << 20)
#define HOME_SPAN (64u * 32u) /* bytes of 64-byte blocks under one block word */

/*
 * The block area starts 4 KiB-aligned from the heap base, so offsets from the
 * base divided by HOME_SPAN number the block words (plus a constant).
 */
struct home_run {
	struct iop_heap *h;
	_Atomic unsigned *turn; /* whose first pair it is */
	unsigned index;
	pthread_barrier_t *start;
	uint8_t *used; /* per HOME_SPAN of the footprint */
	unsigned failed;
};

static void *home_thread(void *arg)
{
	struct home_run *r = arg;

	while (atomic_load(r->turn) != r->index)
		sched_yield();
	if (iop_heap_free(r->h, iop_heap_alloc(r->h, 64), 64) != 0)
		r->failed++;
	atomic_fetch_add(r->turn, 1);
	pthread_barrier_wait(r->start);
	for (unsigned i = 0; i < 20000; i++) {
		void *p = iop_heap_alloc(r->h, 64);
		uint32_t off;

		if (p == NULL || iop_heap_ptr_to_offset(r->h, p, &off) != 0) {
			r->failed++;
			continue;
		}
		r->used[off / HOME_SPAN] = 1;
		if (iop_heap_free(r->h, p, 64) != 0)
			r->failed++;
	}
	return NULL;
}

static void test_threads_keep_to_their_own_words(void)
{
	struct iop_heap_opts opts = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(HOME_HEAP, &opts);
	size_t spans = iop_heap_footprint(HOME_HEAP, &opts) / HOME_SPAN + 1;
	struct home_run *runs = calloc(HOME_THREADS, sizeof(*runs));
	pthread_t t[HOME_THREADS];
	pthread_barrier_t start;
	_Atomic unsigned turn = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(runs);
	CU_ASSERT_EQUAL_FATAL(iop_heap_min_block(h), 64u);
	pthread_barrier_init(&start, NULL, HOME_THREADS);
	for (unsigned i = 0; i < HOME_THREADS; i++) {
		runs[i].h = h;
		runs[i].turn = &turn;
		runs[i].index = i;
		runs[i].start = &start;
		runs[i].used = calloc(spans, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(runs[i].used);
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, home_thread, &runs[i]), 0);
	}
	for (unsigned i = 0; i < HOME_THREADS; i++)
		pthread_join(t[i], NULL);
	for (size_t w = 0; w < spans; w++) {
		unsigned users = 0;

		for (unsigned i = 0; i < HOME_THREADS; i++)
			users += runs[i].used[w];
		CU_ASSERT(users <= 1);
	}
	for (unsigned i = 0; i < HOME_THREADS; i++) {
		CU_ASSERT_EQUAL(runs[i].failed, 0);
		free(runs[i].used);
	}
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	pthread_barrier_destroy(&start);
	free(runs);
	iop_heap_destroy(h);
}

static const struct iop_test_case stress_tests[] = {
	{ "random_sizes_cross_thread", test_random_sizes_cross_thread },
	{ "random_sizes_cross_thread_uncached", test_random_sizes_cross_thread_uncached },
	{ "no_spurious_enomem_64", test_no_spurious_enomem_64 },
	{ "no_spurious_enomem_64_uncached", test_no_spurious_enomem_64_uncached },
	{ "no_spurious_enomem_2k", test_no_spurious_enomem_2k },
	{ "no_spurious_enomem_64k", test_no_spurious_enomem_64k },
	{ "threads_keep_to_their_own_words", test_threads_keep_to_their_own_words },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_threads", stress_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
