/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Lock-freedom, shown: one thread is stopped at a point inside alloc or free
 * (a test hook compiled into this program's copy of the heap) while other
 * threads allocate and free to completion. Then the stopped thread resumes
 * and finishes, and the heap is whole again.
 *
 * The hooks sit in the splits and merges of the heap underneath the thread
 * caches, and each scenario depends on where the uncached heap places a
 * block (which block the victim must split, where the workers live), so
 * every heap here is made with IOP_HEAP_F_NO_CACHE, but the last: it stops a
 * thread inside a cached free.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "heap_hooks.h"
#include "iop_heap.h"
#include "iop_test.h"

static _Thread_local bool is_victim;
static _Atomic int armed_point = -1;
static sem_t victim_stopped;
static sem_t victim_resume;

/* Called by the heap at each hook point; stops the victim thread once. */
static void stop_victim_here(enum heap_hook_point point)
{
	int expected = (int)point;

	if (!is_victim || !atomic_compare_exchange_strong(&armed_point, &expected, -1))
		return;
	sem_post(&victim_stopped);
	sem_wait(&victim_resume);
}

enum victim_op { VICTIM_ALLOC, VICTIM_FREE, VICTIM_COALESCE };

struct victim {
	struct iop_heap *h;
	enum victim_op op;
	void *block; /* VICTIM_FREE: what to free; VICTIM_ALLOC: what it got */
	size_t size;
	int rc;
};

static void *victim_thread(void *arg)
{
	struct victim *v = arg;

	is_victim = true;
	if (v->op == VICTIM_ALLOC) {
		v->block = iop_heap_alloc(v->h, v->size);
		v->rc = v->block != NULL ? 0 : -errno;
	} else if (v->op == VICTIM_FREE) {
		v->rc = iop_heap_free(v->h, v->block, v->size);
	} else {
		v->rc = iop_heap_coalesce(v->h) != 0 ? 0 : -ENOENT; /* it had pairs to merge */
	}
	return NULL;
}

/* Start the victim and return once it is stopped at point. */
static pthread_t stop_victim_at(struct victim *v, enum heap_hook_point point)
{
	pthread_t t;

	atomic_store(&armed_point, (int)point);
	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, victim_thread, v), 0);
	sem_wait(&victim_stopped);
	return t;
}

static void resume_victim(pthread_t t)
{
	sem_post(&victim_resume);
	pthread_join(t, NULL);
}

struct worker {
	struct iop_heap *h;
	unsigned seed;
	unsigned ops;
	unsigned enomem;
	unsigned bad_free;
};

/* Small random alloc/free, at most 16 live blocks of up to 4 KiB. */
static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	void *live[16];
	size_t size[16];
	unsigned n = 0;

	for (unsigned op = 0; op < w->ops; op++) {
		unsigned r = (unsigned)rand_r(&w->seed);

		if (n < 16 && (n == 0 || r % 2 == 0)) {
			size[n] = 64u << (r / 2 % 7);
			live[n] = iop_heap_alloc(w->h, size[n]);
			if (live[n] == NULL)
				w->enomem++;
			else
				n++;
		} else {
			unsigned i = r / 2 % n;

			if (iop_heap_free(w->h, live[i], size[i]) != 0)
				w->bad_free++;
			live[i] = live[--n];
			size[i] = size[n];
		}
	}
	while (n > 0) {
		n--;
		if (iop_heap_free(w->h, live[n], size[n]) != 0)
			w->bad_free++;
	}
	return NULL;
}

/* Two workers run to completion while the victim is stopped. */
static void run_workers_to_completion(struct iop_heap *h)
{
	struct worker w[2] = {
		{ .h = h, .seed = (unsigned)iop_test_seed(), .ops = 100000 },
		{ .h = h, .seed = (unsigned)iop_test_seed() + 1, .ops = 100000 },
	};
	pthread_t t[2];

	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, worker_thread, &w[i]);
	for (int i = 0; i < 2; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(w[i].enomem, 0);
		CU_ASSERT_EQUAL(w[i].bad_free, 0);
	}
}

/*
 * Heap of 1 MiB with free blocks 512K@0 and 256K@768K, and 256K@512K in use.
 * A 64-byte allocation takes the smallest order that has a block: the 256K
 * at 768K, which it must split; the workers live in the 512K at 0.
 */
static struct iop_heap *heap_with_room_for_workers(void **pinned)
{
	struct iop_heap_opts opts = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(1 << 20, &opts);
	void *low = iop_heap_alloc(h, 512 << 10);

	*pinned = iop_heap_alloc(h, 256 << 10);
	CU_ASSERT_EQUAL(iop_heap_free(h, low, 512 << 10), 0);
	return h;
}

static void finish(struct iop_heap *h, void *pinned)
{
	struct iop_heap_stats s;

	char report[200];

	CU_ASSERT_EQUAL(iop_heap_free(h, pinned, 256 << 10), 0);
	iop_heap_coalesce(h); /* what the frees deferred */
	CU_ASSERT_EQUAL(iop_heap_check_report(h, report, sizeof(report)), 0);
	if (strcmp(report, "ok") != 0)
		printf("\n  check: %s\n", report);
	iop_heap_stats(h, &s);
	CU_ASSERT_EQUAL(s.largest_free, s.heap_bytes);
	iop_heap_destroy(h);
}

static void stopped_in_alloc(enum heap_hook_point point)
{
	void *pinned;
	struct iop_heap *h = heap_with_room_for_workers(&pinned);
	struct victim v = { .h = h, .op = VICTIM_ALLOC, .size = 64 };
	pthread_t t = stop_victim_at(&v, point);

	run_workers_to_completion(h);
	resume_victim(t);
	CU_ASSERT_EQUAL(v.rc, 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, v.block, 64), 0);
	finish(h, pinned);
}

static void test_stopped_after_claiming_block_to_split(void)
{
	stopped_in_alloc(HEAP_HOOK_ALLOC_CLAIMED);
}

static void test_stopped_between_split_halves(void)
{
	stopped_in_alloc(HEAP_HOOK_ALLOC_SPLIT);
}

/*
 * The victim merges what frees deferred and stops at point, holding a pair
 * (or a parent on its way up) out of every bitmap: the 64-byte block it
 * freed, taken from the 256K at 768K, and its buddy, free since the split.
 */
static void stopped_in_coalesce(enum heap_hook_point point)
{
	void *pinned;
	struct iop_heap *h = heap_with_room_for_workers(&pinned);
	struct victim v = { .h = h, .op = VICTIM_COALESCE };
	void *block = iop_heap_alloc(h, 64);
	pthread_t t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(block);
	CU_ASSERT_EQUAL(iop_heap_free(h, block, 64), 0);
	t = stop_victim_at(&v, point);
	run_workers_to_completion(h);
	resume_victim(t);
	CU_ASSERT_EQUAL(v.rc, 0);
	finish(h, pinned);
}

static void test_stopped_holding_coalesced_pair(void)
{
	stopped_in_coalesce(HEAP_HOOK_COALESCE_PAIRS);
}

static void test_stopped_while_merging(void)
{
	stopped_in_coalesce(HEAP_HOOK_FREE_MERGING);
}

static void test_stopped_after_plain_free(void)
{
	void *pinned;
	struct iop_heap *h = heap_with_room_for_workers(&pinned);
	void *keep = iop_heap_alloc(h, 64); /* the victim's buddy: no merge */
	struct victim v = { .h = h, .op = VICTIM_FREE, .block = iop_heap_alloc(h, 64), .size = 64 };
	pthread_t t = stop_victim_at(&v, HEAP_HOOK_FREE_DONE_WORD);

	run_workers_to_completion(h);
	resume_victim(t);
	CU_ASSERT_EQUAL(v.rc, 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, keep, 64), 0);
	finish(h, pinned);
}

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * The stopped thread holds all the memory there is (it is splitting the only
 * block). Another allocation must not wait for it forever: it returns ENOMEM
 * after enomem_wait_ns. Once the victim resumes, memory is there again.
 */
static void test_enomem_wait_is_bounded(void)
{
	struct iop_heap_opts opts = { .enomem_wait_ns = 20 * 1000 * 1000,
				      .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(1 << 16, &opts);
	struct victim v = { .h = h, .op = VICTIM_ALLOC, .size = 64 };
	pthread_t t = stop_victim_at(&v, HEAP_HOOK_ALLOC_CLAIMED);
	struct timespec t0;
	void *p;
	double waited;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	p = iop_heap_alloc(h, 64);
	waited = seconds_since(&t0);
	CU_ASSERT_PTR_NULL(p);
	CU_ASSERT_EQUAL(errno, ENOMEM);
	CU_ASSERT(waited >= 0.019);
	printf("\n  ENOMEM after %.1f ms with the only block held by a stopped split\n",
	       waited * 1e3);
	resume_victim(t);
	p = iop_heap_alloc(h, 64);
	CU_ASSERT_PTR_NOT_NULL(p);
	CU_ASSERT_EQUAL(iop_heap_free(h, p, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, v.block, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

struct waiter {
	struct iop_heap *h;
	void *got;
	int err;
};

static void *waiter_thread(void *arg)
{
	struct waiter *w = arg;

	w->got = iop_heap_alloc(w->h, 64);
	w->err = w->got == NULL ? errno : 0;
	return NULL;
}

/*
 * A split in flight is not exhaustion: an allocation that finds nothing while
 * another thread holds the block mid-split keeps looking, and succeeds once
 * the split is published.
 */
static void test_split_in_flight_is_not_enomem(void)
{
	struct iop_heap_opts opts = { .enomem_wait_ns = 10ull * 1000 * 1000 * 1000,
				      .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(1 << 16, &opts);
	struct victim v = { .h = h, .op = VICTIM_ALLOC, .size = 64 };
	pthread_t t = stop_victim_at(&v, HEAP_HOOK_ALLOC_CLAIMED);
	struct waiter w = { .h = h };
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pthread_t wt;

	pthread_create(&wt, NULL, waiter_thread, &w);
	nanosleep(&pause, NULL); /* let the waiter find the heap empty */
	resume_victim(t);
	pthread_join(wt, NULL);
	CU_ASSERT_PTR_NOT_NULL(w.got);
	CU_ASSERT_EQUAL(w.err, 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, w.got, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, v.block, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

/*
 * The same for a free: a block freed into an empty word is invisible until
 * its summary bits are set, and the freeing thread is stopped right there.
 */
static void test_free_publishing_is_not_enomem(void)
{
	struct iop_heap_opts opts = { .enomem_wait_ns = 10ull * 1000 * 1000 * 1000,
				      .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(1 << 16, &opts);
	struct victim v = { .h = h, .op = VICTIM_FREE, .block = iop_heap_alloc(h, 1 << 16),
			    .size = 1 << 16 };
	pthread_t t = stop_victim_at(&v, HEAP_HOOK_FREE_PUBLISHING);
	struct waiter w = { .h = h };
	struct timespec pause = { 0, 50 * 1000 * 1000 };
	pthread_t wt;

	pthread_create(&wt, NULL, waiter_thread, &w);
	nanosleep(&pause, NULL);
	resume_victim(t);
	pthread_join(wt, NULL);
	CU_ASSERT_EQUAL(v.rc, 0);
	CU_ASSERT_PTR_NOT_NULL(w.got);
	CU_ASSERT_EQUAL(w.err, 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, w.got, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

/*
 * Two threads free one cached block. The victim is stopped with the block
 * in its cache and the A bit still set; the other thread's free wins
 * meanwhile. The victim's clearing RMW then finds A clear: refused, and the
 * block out of its cache again, so the heap holds it once, in the winner's
 * cache (twice would be a block two threads may allocate at once).
 */
static void test_double_free_lost_in_cache_is_undone(void)
{
	struct iop_heap *h = iop_heap_create(16 << 20, NULL);
	struct victim v = { .h = h, .op = VICTIM_FREE, .size = 64 };
	struct iop_heap_stats before, after;
	pthread_t t;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	v.block = iop_heap_alloc(h, 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v.block);
	iop_heap_stats(h, &before);
	t = stop_victim_at(&v, HEAP_HOOK_CACHE_FREE_PUSHED);
	CU_ASSERT_EQUAL(iop_heap_free(h, v.block, 64), 0);
	resume_victim(t); /* the victim's exit gives its cache back */
	CU_ASSERT_EQUAL(v.rc, -EALREADY);
	iop_heap_stats(h, &after);
	CU_ASSERT_EQUAL(after.refused_frees, before.refused_frees + 1);
	CU_ASSERT_EQUAL(after.bytes_in_use, before.bytes_in_use - 64);
	CU_ASSERT_EQUAL(after.bytes_free, before.bytes_free + 64);
	iop_heap_cache_flush(h);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_stats(h, &after);
	CU_ASSERT_EQUAL(after.largest_free, after.heap_bytes);
	iop_heap_destroy(h);
}

static const struct iop_test_case suspend_tests[] = {
	{ "stopped_after_claiming_block_to_split", test_stopped_after_claiming_block_to_split },
	{ "stopped_between_split_halves", test_stopped_between_split_halves },
	{ "stopped_holding_coalesced_pair", test_stopped_holding_coalesced_pair },
	{ "stopped_while_merging", test_stopped_while_merging },
	{ "stopped_after_plain_free", test_stopped_after_plain_free },
	{ "enomem_wait_is_bounded", test_enomem_wait_is_bounded },
	{ "split_in_flight_is_not_enomem", test_split_in_flight_is_not_enomem },
	{ "free_publishing_is_not_enomem", test_free_publishing_is_not_enomem },
	{ "double_free_lost_in_cache_is_undone", test_double_free_lost_in_cache_is_undone },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_suspend", suspend_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	sem_init(&victim_stopped, 0, 0);
	sem_init(&victim_resume, 0, 0);
	heap_test_hook = stop_victim_here;
	return iop_test_main(argc, argv, suites);
}
