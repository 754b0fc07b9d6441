/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Thread caches (the default; IOP_HEAP_F_NO_CACHE turns them off): a pair of
 * one size reuses its block, frees are validated as without the cache, and
 * cached memory is never stranded by a live or exiting thread: it comes back
 * when its thread exits (or its process exits), and when another thread needs
 * a larger block while the owner keeps working. A killed process is the
 * documented exception, shown here too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "heap_home.h"
#include "heap_layout.h"
#include "iop_heap.h"
#include "iop_test.h"

/* A heap with default options but the ENOMEM wait: it has thread caches. */
static struct iop_heap *cached_heap(size_t n, uint64_t wait_ns)
{
	struct iop_heap_opts opts = { .enomem_wait_ns = wait_ns };
	struct iop_heap *h = iop_heap_create(n, &opts);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	return h;
}

static struct iop_heap_stats stats_of(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	CU_ASSERT_EQUAL_FATAL(iop_heap_stats(h, &s), 0);
	return s;
}

/*
 * One free block of 2^M once the merges frees defer are done, nothing cached
 * (cached blocks carry no bits, so merging cannot hide them), and every
 * invariant holds.
 */
static void assert_whole(struct iop_heap *h)
{
	struct iop_heap_stats s;
	char report[200];

	iop_heap_coalesce(h);
	s = stats_of(h);
	CU_ASSERT_EQUAL(s.bytes_cached, 0);
	CU_ASSERT_EQUAL(s.bytes_in_use, 0);
	CU_ASSERT_EQUAL(s.largest_free, s.heap_bytes);
	CU_ASSERT_EQUAL(iop_heap_check_report(h, report, sizeof(report)), 0);
	if (strcmp(report, "ok") != 0)
		printf("\n  check: %s\n", report);
}

static void test_pair_reuses_its_block(void)
{
	struct iop_heap *h = cached_heap(16 << 20, 0);
	void *p = iop_heap_alloc(h, 200);
	struct iop_heap_stats s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(iop_heap_free(h, p, 200), 0);
	CU_ASSERT_PTR_EQUAL(iop_heap_alloc(h, 256), p); /* last freed, first reused */
	CU_ASSERT_EQUAL(iop_heap_free(h, p, 256), 0);
	s = stats_of(h);
	CU_ASSERT(s.bytes_cached > 0);
	CU_ASSERT_EQUAL(s.bytes_free, s.heap_bytes); /* cached memory is free memory */
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);       /* cached blocks are accounted for */
	iop_heap_cache_flush(h);
	assert_whole(h);
	iop_heap_destroy(h);
}

/* Everything the uncached heap refuses, the cached one refuses the same way. */
static void test_frees_are_validated(void)
{
	struct iop_heap *h = cached_heap(16 << 20, 0);
	char *a = iop_heap_alloc(h, 64);
	char *big = iop_heap_alloc(h, 4096);
	struct iop_heap_stats before, after;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 64), 0);
	before = stats_of(h);
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 64), -EALREADY); /* already in the cache */
	CU_ASSERT_EQUAL(iop_heap_free(h, big, 64), -ERANGE);
	CU_ASSERT_EQUAL(iop_heap_free(h, big + 64, 64), -ENXIO);
	CU_ASSERT_EQUAL(iop_heap_free(h, a - 1, 64), -EFAULT);
	after = stats_of(h);
	CU_ASSERT_EQUAL(after.refused_frees, before.refused_frees + 4);
	CU_ASSERT_EQUAL(after.bytes_cached, before.bytes_cached);
	CU_ASSERT_PTR_EQUAL(iop_heap_alloc(h, 64), a); /* handed out once, not twice */
	CU_ASSERT_PTR_NOT_EQUAL(iop_heap_alloc(h, 64), a);
	iop_heap_destroy(h);
}

struct handoff {
	struct iop_heap *h;
	void *blocks[1000];
};

static void *free_them(void *arg)
{
	struct handoff *ho = arg;

	for (int i = 0; i < 1000; i++)
		if (iop_heap_free(ho->h, ho->blocks[i], 64 << (i % 4)) != 0)
			return (void *)1;
	return NULL; /* exiting gives this thread's cache back */
}

/* Allocated here, freed (into its own cache) by a thread that then exits. */
static void test_cross_thread_free_then_exit(void)
{
	struct handoff ho = { .h = cached_heap(16 << 20, 0) };
	pthread_t t;
	void *rc;

	for (int i = 0; i < 1000; i++) {
		ho.blocks[i] = iop_heap_alloc(ho.h, 64 << (i % 4));
		CU_ASSERT_PTR_NOT_NULL_FATAL(ho.blocks[i]);
	}
	iop_heap_cache_flush(ho.h);
	pthread_create(&t, NULL, free_them, &ho);
	pthread_join(t, &rc);
	CU_ASSERT_PTR_NULL(rc);
	assert_whole(ho.h);
	iop_heap_destroy(ho.h);
}

#define FILLERS 4

struct fill {
	struct iop_heap *h;
	pthread_barrier_t *filled;
	_Atomic bool *stop;
	uint64_t bytes;
	int bad;
};

/* Take 64-byte blocks until the heap says there are none. */
static void **fill_until_enomem(struct fill *f, size_t *n)
{
	size_t cap = 1024;
	void **mine = malloc(cap * sizeof(*mine));
	void *p;

	*n = 0;
	while ((p = iop_heap_alloc(f->h, 64)) != NULL) {
		if (*n == cap)
			mine = realloc(mine, (cap *= 2) * sizeof(*mine));
		mine[(*n)++] = p;
	}
	f->bytes = *n * 64;
	return mine;
}

static void free_all(struct fill *f, void **mine, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (iop_heap_free(f->h, mine[i], 64) != 0)
			f->bad++;
	free(mine);
}

static void *fill_free_exit(void *arg)
{
	struct fill *f = arg;
	size_t n;
	void **mine = fill_until_enomem(f, &n);

	pthread_barrier_wait(f->filled);
	free_all(f, mine, n);
	return NULL;
}

/* After exhaustion every byte was handed out: none was stuck in a cache. */
static void assert_filled(struct fill *f, size_t heap)
{
	uint64_t total = 0;

	for (int i = 0; i < FILLERS; i++)
		total += f[i].bytes;
	CU_ASSERT_EQUAL(total, heap);
}

/*
 * Fill the heap with small blocks through several threads' caches, free them
 * all, and let the threads exit: the whole heap is one block again.
 */
static void test_exited_threads_give_back(void)
{
	size_t heap = 4 << 20;
	struct iop_heap *h = cached_heap(heap, 2000000000ull);
	pthread_barrier_t filled;
	struct fill f[FILLERS];
	pthread_t t[FILLERS];
	void *all;

	pthread_barrier_init(&filled, NULL, FILLERS + 1);
	for (int i = 0; i < FILLERS; i++) {
		f[i] = (struct fill){ .h = h, .filled = &filled };
		pthread_create(&t[i], NULL, fill_free_exit, &f[i]);
	}
	pthread_barrier_wait(&filled);
	assert_filled(f, heap);
	for (int i = 0; i < FILLERS; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(f[i].bad, 0);
	}
	all = iop_heap_alloc(h, heap);
	CU_ASSERT_PTR_NOT_NULL(all);
	CU_ASSERT_EQUAL(iop_heap_free(h, all, heap), 0);
	assert_whole(h);
	pthread_barrier_destroy(&filled);
	iop_heap_destroy(h);
}

static void *fill_free_keep_working(void *arg)
{
	struct fill *f = arg;
	size_t n;
	void **mine = fill_until_enomem(f, &n);

	pthread_barrier_wait(f->filled);
	free_all(f, mine, n);
	pthread_barrier_wait(f->filled); /* all freed: the heap is not exhausted now */
	/* Alive and busy, like an lcore: small pairs from its own cache. */
	while (!atomic_load(f->stop)) {
		void *p = iop_heap_alloc(f->h, 64);

		if (p == NULL || iop_heap_free(f->h, p, 64) != 0)
			f->bad++;
	}
	return NULL;
}

/* Every cache has given its blocks back since epoch, or holds none. */
static bool all_caches_answered(const struct iop_heap *h, uint64_t epoch, bool report)
{
	for (unsigned s = 0; s < HEAP_CACHE_SLOTS; s++) {
		struct heap_cache *c = heap_cache_slot(h, s);
		uint32_t held = 0;

		for (uint32_t i = 0; i < h->cache_orders; i++)
			held += atomic_load(&c->count[i]) + atomic_load(&c->reserve_end[i]) -
				atomic_load(&c->reserve_next[i]);
		if (atomic_load(&c->owner) != 0 && held != 0 && atomic_load(&c->seen_epoch) < epoch) {
			if (report)
				printf("\n  slot %u owner %llu held %u seen %llu epoch %llu now %llu\n", s,
				       (unsigned long long)atomic_load(&c->owner), held,
				       (unsigned long long)atomic_load(&c->seen_epoch),
				       (unsigned long long)epoch,
				       (unsigned long long)atomic_load(&h->cache_epoch));
			return false;
		}
	}
	return true;
}

/*
 * Threads that stay alive and keep allocating, like lcores: a request that
 * cannot be met (the whole heap, while they hold blocks) makes each of them
 * give its cache back before the request gives up. It does not wait for
 * them to stop allocating: a busy heap has no fairness to offer.
 */
static void test_busy_threads_answer_drain_requests(void)
{
	size_t heap = 4 << 20;
	struct iop_heap *h = cached_heap(heap, 2000000000ull);
	pthread_barrier_t filled;
	_Atomic bool stop = false;
	struct fill f[FILLERS];
	pthread_t t[FILLERS];
	uint64_t epoch;

	pthread_barrier_init(&filled, NULL, FILLERS + 1);
	for (int i = 0; i < FILLERS; i++) {
		f[i] = (struct fill){ .h = h, .filled = &filled, .stop = &stop };
		pthread_create(&t[i], NULL, fill_free_keep_working, &f[i]);
	}
	pthread_barrier_wait(&filled);
	assert_filled(f, heap);
	pthread_barrier_wait(&filled);
	CU_ASSERT(stats_of(h).bytes_cached > 0);
	for (int round = 0; round < 5; round++) {
		struct timespec ms = { 0, 1000000 };
		int waited = 0;

		CU_ASSERT_PTR_NULL(iop_heap_alloc(h, heap));
		epoch = atomic_load(&h->cache_epoch);
		/* A free that looked at the epoch just before the request may put
		 * one block in its cache after it; the owner's next call returns it. */
		bool answered;

		while (!(answered = all_caches_answered(h, epoch, false)) && waited++ < 10000)
			nanosleep(&ms, NULL);
		/*
		 * Once is what counts: the fillers keep working, so a later look
		 * may catch a block cached by a free that read the epoch before
		 * the request (it goes back at that owner's next call).
		 */
		if (!answered)
			all_caches_answered(h, epoch, true); /* say which slot */
		CU_ASSERT(answered);
	}
	atomic_store(&stop, true);
	for (int i = 0; i < FILLERS; i++) {
		pthread_join(t[i], NULL);
		CU_ASSERT_EQUAL(f[i].bad, 0);
	}
	assert_whole(h);
	pthread_barrier_destroy(&filled);
	iop_heap_destroy(h);
}

/* A process that exits normally gives its caches back too. */
static void test_exiting_process_gives_back(void)
{
	struct iop_heap_opts opts = { 0 };
	size_t n = 4 << 20;
	size_t len = iop_heap_footprint(n, &opts);
	int fd = memfd_create("iop-cache-test", 0);
	void *mem;
	struct iop_heap *h;
	pid_t pid;
	int status;

	CU_ASSERT_FATAL(fd >= 0 && ftruncate(fd, (off_t)len) == 0);
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	h = iop_heap_create_in(mem, len, n, &opts);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	pid = fork();
	if (pid == 0) {
		void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		struct iop_heap *ch = iop_heap_attach(m);
		int bad = ch == NULL;

		for (int i = 0; !bad && i < 10000; i++) {
			void *p = iop_heap_alloc(ch, 64 << (i % 3));

			bad = p == NULL || iop_heap_free(ch, p, 64 << (i % 3)) != 0;
		}
		exit(bad);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT(stats_of(h).bytes_in_use == 0);
	assert_whole(h);
	iop_heap_destroy(h);
	munmap(mem, len);
	close(fd);
}

struct rebind {
	struct iop_heap *_Atomic h;
	pthread_barrier_t step;
	int bad;
};

static void *use_two_heaps(void *arg)
{
	struct rebind *r = arg;
	void *p;

	p = iop_heap_alloc(atomic_load(&r->h), 64); /* binds a cache of the first heap */
	r->bad += p == NULL || iop_heap_free(atomic_load(&r->h), p, 64) != 0;
	pthread_barrier_wait(&r->step); /* main destroys it, makes another */
	pthread_barrier_wait(&r->step);
	p = iop_heap_alloc(atomic_load(&r->h), 64);
	r->bad += p == NULL || iop_heap_free(atomic_load(&r->h), p, 64) != 0;
	return NULL; /* exit must not touch the destroyed heap */
}

/* A heap destroyed while another thread has a cache of it. */
static void test_destroy_while_another_thread_caches(void)
{
	struct rebind r = { .h = cached_heap(16 << 20, 0) };
	pthread_t t;

	pthread_barrier_init(&r.step, NULL, 2);
	pthread_create(&t, NULL, use_two_heaps, &r);
	pthread_barrier_wait(&r.step);
	iop_heap_destroy(atomic_load(&r.h));
	atomic_store(&r.h, cached_heap(16 << 20, 0));
	pthread_barrier_wait(&r.step);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(r.bad, 0);
	assert_whole(atomic_load(&r.h));
	iop_heap_destroy(atomic_load(&r.h));
	pthread_barrier_destroy(&r.step);
}

static unsigned owned_slots(const struct iop_heap *h)
{
	unsigned n = 0;

	for (unsigned s = 0; s < HEAP_CACHE_SLOTS; s++)
		n += atomic_load(&heap_cache_slot(h, s)->owner) != 0;
	return n;
}

struct refuser {
	struct iop_heap *h;
	void *p;
	int rc;
};

static void *refuse_once(void *arg)
{
	struct refuser *r = arg;

	r->rc = iop_heap_free(r->h, r->p, 64);
	iop_heap_cache_flush(r->h); /* nothing to flush: must not claim a slot either */
	return NULL;
}

/* A refused free changes nothing, not even which threads own caches. */
static void test_refused_free_claims_no_cache(void)
{
	struct refuser r = { .h = cached_heap(16 << 20, 0) };
	unsigned before;
	pthread_t t;

	r.p = iop_heap_alloc(r.h, 64);
	CU_ASSERT_EQUAL(iop_heap_free(r.h, r.p, 64), 0);
	before = owned_slots(r.h);
	pthread_create(&t, NULL, refuse_once, &r);
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(r.rc, -EALREADY);
	CU_ASSERT_EQUAL(owned_slots(r.h), before);
	iop_heap_destroy(r.h);
}

/*
 * A heap in caller memory outlives its handle (other processes use it):
 * destroying the handle returns this process's cached blocks and slots.
 */
static void test_destroy_returns_caches_of_shared_heap(void)
{
	struct iop_heap_opts opts = { 0 };
	size_t n = 16 << 20;
	size_t len = iop_heap_footprint(n, &opts);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct iop_heap *h = iop_heap_create_in(mem, len, n, &opts);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	for (int round = 0; round < 3; round++) {
		struct handoff ho = { .h = iop_heap_attach(mem) };
		pthread_t t;

		for (int i = 0; i < 1000; i++)
			ho.blocks[i] = iop_heap_alloc(ho.h, 64 << (i % 4));
		/* Freed by a thread that stays bound until the handle is destroyed. */
		pthread_create(&t, NULL, free_them, &ho);
		pthread_join(t, NULL);
		iop_heap_destroy(ho.h);
		CU_ASSERT_EQUAL(stats_of(h).bytes_cached, 0);
		CU_ASSERT_EQUAL(owned_slots(h), 0);
	}
	assert_whole(h);
	munmap(mem, len);
}

/* iop_heap_check sees a block held by two caches, which no bit would show. */
static void test_check_finds_block_cached_twice(void)
{
	struct iop_heap *h = cached_heap(16 << 20, 0);
	void *p = iop_heap_alloc(h, 64);
	struct heap_cache *c = NULL;
	char report[200];
	uint32_t n;

	CU_ASSERT_EQUAL(iop_heap_free(h, p, 64), 0);
	for (unsigned s = 0; s < HEAP_CACHE_SLOTS && c == NULL; s++)
		if (atomic_load(&heap_cache_slot(h, s)->count[0]) != 0)
			c = heap_cache_slot(h, s);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	n = atomic_load(&c->count[0]);
	atomic_store(&c->block[0][n], atomic_load(&c->block[0][n - 1]));
	atomic_store(&c->count[0], n + 1);
	CU_ASSERT_EQUAL(iop_heap_check_report(h, report, sizeof(report)), -EUCLEAN);
	CU_ASSERT_PTR_NOT_NULL(strstr(report, "held twice"));
	atomic_store(&c->count[0], n);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

/* Small heaps get no cache: it would hold too large a share of them. */
static void test_small_heap_is_not_cached(void)
{
	struct iop_heap *h = cached_heap(64 << 10, 0);
	void *p = iop_heap_alloc(h, 64);

	CU_ASSERT_EQUAL(iop_heap_free(h, p, 64), 0);
	CU_ASSERT_EQUAL(stats_of(h).bytes_cached, 0);
	assert_whole(h);
	iop_heap_destroy(h);
}

/*
 * Caches are the default wherever the heap is large enough: NULL options,
 * zeroed options and IOP_HEAP_F_CACHED make the same heap; IOP_HEAP_F_NO_CACHE
 * makes one without them, smaller by the cache slots; both flags are refused.
 */
static void test_default_heap_is_cached(void)
{
	const struct iop_heap_opts zero = { 0 };
	const struct iop_heap_opts cached = { .flags = IOP_HEAP_F_CACHED };
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };
	const struct iop_heap_opts both = { .flags = IOP_HEAP_F_CACHED | IOP_HEAP_F_NO_CACHE };
	const struct iop_heap_opts *with[3] = { NULL, &zero, &cached };
	uint32_t orders;
	uint64_t meta, depots_bytes;
	size_t n = 16 << 20;
	struct iop_heap *h;
	void *p;

	for (int i = 0; i < 3; i++) {
		h = iop_heap_create(n, with[i]);
		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		CU_ASSERT(h->cache_orders > 0);
		CU_ASSERT_EQUAL(iop_heap_footprint(n, with[i]), iop_heap_footprint(n, NULL));
		p = iop_heap_alloc(h, 64);
		CU_ASSERT_EQUAL(iop_heap_free(h, p, 64), 0);
		CU_ASSERT(stats_of(h).bytes_cached > 0);
		iop_heap_destroy(h);
	}
	h = iop_heap_create(n, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	orders = h->cache_orders;
	depots_bytes = h->depots_bytes;
	meta = stats_of(h).metadata_bytes;
	iop_heap_destroy(h);
	h = iop_heap_create(n, &uncached);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_EQUAL(h->cache_orders, 0);
	/* What caches cost: their slots, and a depot per cached order. */
	CU_ASSERT(orders > 0);
	CU_ASSERT_EQUAL(meta - stats_of(h).metadata_bytes,
			HEAP_CACHE_SLOTS * sizeof(struct heap_cache) + depots_bytes);
	CU_ASSERT(iop_heap_footprint(n, NULL) - iop_heap_footprint(n, &uncached) >=
		  meta - stats_of(h).metadata_bytes);
	p = iop_heap_alloc(h, 64);
	CU_ASSERT_EQUAL(iop_heap_free(h, p, 64), 0);
	CU_ASSERT_EQUAL(stats_of(h).bytes_cached, 0);
	assert_whole(h); /* no flush needed: the free coalesced at once */
	iop_heap_destroy(h);
	errno = 0;
	CU_ASSERT_PTR_NULL(iop_heap_create(n, &both));
	CU_ASSERT_EQUAL(errno, EINVAL);
}

/*
 * A process killed while it caches blocks of a shared heap strands them: the
 * heap stays consistent (check passes, the blocks count as cached, so as
 * free) and the rest of it usable, but a request for the whole heap fails
 * after enomem_wait_ns, until someone who knows the process is gone reclaims
 * its cache; then the heap is whole again. (A process that flushes before
 * _exit() strands nothing.)
 */
static void test_killed_process_cache_reclaimed(void)
{
	struct iop_heap_opts opts = { .enomem_wait_ns = 20 * 1000 * 1000 };
	size_t n = 4 << 20;
	size_t len = iop_heap_footprint(n, &opts);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	struct iop_heap *h = iop_heap_create_in(mem, len, n, &opts);
	int ready[2];
	unsigned owned;
	pid_t pid;
	char byte;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_FATAL(pipe(ready) == 0);
	owned = owned_slots(h);
	pid = fork();
	if (pid == 0) {
		void *p = iop_heap_alloc(h, 64);

		if (p == NULL || iop_heap_free(h, p, 64) != 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause(); /* killed holding its cache */
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	kill(pid, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
	CU_ASSERT_EQUAL(owned_slots(h), owned + 1);
	CU_ASSERT(stats_of(h).bytes_cached > 0);
	CU_ASSERT_EQUAL(stats_of(h).bytes_free, n);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, n));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	{
		void *half = iop_heap_alloc(h, n / 2); /* the rest is usable */

		CU_ASSERT_PTR_NOT_NULL_FATAL(half);
		CU_ASSERT_EQUAL(iop_heap_free(h, half, n / 2), 0);
	}
	/* Whoever knows the process is gone gives its cache back: whole again. */
	CU_ASSERT_EQUAL(iop_heap_cache_reclaim_process(h, getpid()), 0); /* never our own */
	CU_ASSERT_EQUAL(iop_heap_cache_reclaim_process(h, pid), 1);
	CU_ASSERT_EQUAL(iop_heap_cache_reclaim_process(h, pid), 0);
	CU_ASSERT_EQUAL(owned_slots(h), owned);
	iop_heap_cache_flush(h);
	CU_ASSERT_EQUAL(stats_of(h).bytes_cached, 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	{
		void *whole = iop_heap_alloc(h, n);

		CU_ASSERT_PTR_NOT_NULL(whole);
		iop_heap_free(h, whole, n);
	}
	close(ready[0]);
	close(ready[1]);
	iop_heap_destroy(h);
	munmap(mem, len);
}

/*
 * The cache event counts say how the caches met the rest of the heap: on one
 * thread, N fresh 64-byte blocks come from N / chunk reserve chunks; freeing
 * them spills every half cache, into the depot while it has empty magazines
 * and into the heap after; allocating them again takes every full magazine
 * back. A heap without caches counts nothing.
 */
static void test_cache_events_counted(void)
{
	enum { N = 4096 };
	struct iop_heap *h = cached_heap(16 << 20, 0);
	struct iop_heap_opts no_cache = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *u = iop_heap_create(16 << 20, &no_cache);
	void **p = calloc(N, sizeof(*p));
	struct iop_heap_stats s;
	uint32_t depth, half, spills;

	CU_ASSERT_PTR_NOT_NULL_FATAL(u);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	depth = h->cache_depth[0];
	half = depth / 2;
	/* The first spill is the free that finds the cache full, then one per half refilled. */
	spills = 1 + (N - (depth + 1)) / half;
	CU_ASSERT_FATAL(spills > h->depot_mags[0]); /* the depot must run out of room */

	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[i] = iop_heap_alloc(h, 64));
	s = stats_of(h);
	CU_ASSERT_EQUAL(s.cache_chunk_cuts, N >> h->cache_chunk[0]);
	CU_ASSERT_EQUAL(s.cache_depot_takes, 0);
	CU_ASSERT_EQUAL(s.cache_depot_gives, 0);
	CU_ASSERT_EQUAL(s.cache_heap_releases, 0);

	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, p[i], 64), 0);
	s = stats_of(h);
	CU_ASSERT_EQUAL(s.cache_depot_gives, h->depot_mags[0]);
	CU_ASSERT_EQUAL(s.cache_heap_releases, spills - h->depot_mags[0]);

	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[i] = iop_heap_alloc(h, 64));
	CU_ASSERT_EQUAL(stats_of(h).cache_depot_takes, h->depot_mags[0]);
	for (unsigned i = 0; i < N; i++)
		iop_heap_free(h, p[i], 64);

	for (unsigned i = 0; i < N; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(p[i] = iop_heap_alloc(u, 64));
	for (unsigned i = 0; i < N; i++)
		iop_heap_free(u, p[i], 64);
	s = stats_of(u);
	CU_ASSERT_EQUAL(s.cache_chunk_cuts + s.cache_depot_takes + s.cache_depot_gives +
				s.cache_heap_releases, 0);
	free(p);
	iop_heap_destroy(u);
	iop_heap_destroy(h);
}

struct cutter {
	struct iop_heap *h;
	void **p;
	unsigned n;
};

static void *cut_blocks(void *arg)
{
	struct cutter *k = arg;

	for (unsigned i = 0; i < k->n; i++)
		k->p[i] = iop_heap_alloc(k->h, 64);
	return NULL;
}

/* Full magazines on shard s of order 0's depot. */
static unsigned full_mags(const struct iop_heap *h, uint32_t s)
{
	const struct heap_depot *d = heap_depot(h, 0);
	uint32_t top = (uint32_t)atomic_load(&d->shard[s].full);
	unsigned n = 0;

	while (top != 0 && n <= h->depot_mags[0]) {
		n++;
		top = atomic_load(&d->mag[top - 1].next);
	}
	return n;
}

/*
 * Blocks one thread cut and another freed go into the depot on the shard of
 * their chunk, the one the cutting thread takes from first: the frame's way
 * back to the thread that allocates it.
 */
static void test_depot_shard_of_the_cutter(void)
{
	struct iop_heap *h = NULL;
	struct cutter k = { 0 };
	void *mine = NULL;
	uint32_t shard = 0;
	bool apart = false;

	/*
	 * This thread's own chunk first, then a thread that cuts one of its own,
	 * at its home: their shards are the eighths of the heap the chunks lie
	 * in, so a new cutter (a new thread slot, a new home) on a new heap until
	 * they differ.
	 */
	for (unsigned attempt = 0; attempt < 16 && !apart; attempt++) {
		pthread_t t;

		if (h != NULL) {
			for (unsigned i = 0; i < k.n; i++)
				CU_ASSERT_EQUAL(iop_heap_free(h, k.p[i], 64), 0);
			CU_ASSERT_EQUAL(iop_heap_free(h, mine, 64), 0);
			free(k.p);
			iop_heap_destroy(h);
		}
		h = cached_heap(16 << 20, 0);
		k = (struct cutter){ .h = h, .n = 2 * h->cache_depth[0] };
		mine = iop_heap_alloc(h, 64);
		CU_ASSERT_PTR_NOT_NULL_FATAL(mine);
		k.p = calloc(k.n, sizeof(*k.p));
		CU_ASSERT_PTR_NOT_NULL_FATAL(k.p);
		CU_ASSERT_FATAL(k.n <= 1u << h->cache_chunk[0]); /* all from one chunk */
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, cut_blocks, &k), 0);
		pthread_join(t, NULL);
		for (unsigned i = 0; i < k.n; i++)
			CU_ASSERT_PTR_NOT_NULL_FATAL(k.p[i]);
		shard = heap_depot_shard_of(h, 0, (uint64_t)((char *)k.p[0] - heap_blocks(h)) >>
							  h->min_order);
		apart = shard != heap_depot_shard_of(h, 0, (uint64_t)((char *)mine -
								      heap_blocks(h)) >>
								      h->min_order);
	}
	CU_ASSERT_FATAL(apart);
	/* Freed here: this thread's cache fills, then spills twice, both to the cutter's shard. */
	for (unsigned i = 0; i < k.n; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, k.p[i], 64), 0);
	for (uint32_t s = 0; s < HEAP_DEPOT_SHARDS; s++)
		CU_ASSERT_EQUAL(full_mags(h, s), s == shard ? 2u : 0u);
	CU_ASSERT_EQUAL(iop_heap_free(h, mine, 64), 0);
	iop_heap_cache_flush(h);
	assert_whole(h);
	free(k.p);
	iop_heap_destroy(h);
}

enum { OWN_BLOCKS = 96, OTHER_BLOCKS = 8 };

/* A second thread's allocations, made only if its home is on another shard than avoid's. */
struct other_thread {
	struct iop_heap *h;
	uint32_t avoid;
	void *const *mine; /* the first thread's freed blocks */
	bool apart;
	void *p[OTHER_BLOCKS];
	unsigned n, theirs, mags_left;
};

static bool among(void *const *set, unsigned n, const void *p)
{
	for (unsigned i = 0; i < n; i++)
		if (set[i] == p)
			return true;
	return false;
}

static void *alloc_away_from(void *arg)
{
	struct other_thread *k = arg;
	struct heap_region r = { 0, 0 };

	k->apart = heap_home_region(k->h, &r) && heap_depot_shard_at(k->h, r.lo) != k->avoid;
	if (!k->apart)
		return NULL; /* before any heap call: no cache, nothing to give back at exit */
	for (unsigned i = 0; i < k->n; i++) {
		k->p[i] = iop_heap_alloc(k->h, 64);
		k->theirs += among(k->mine, OWN_BLOCKS, k->p[i]);
	}
	/* Now: this thread's exit gives the depot back to the heap. */
	k->mags_left = full_mags(k->h, k->avoid);
	return NULL;
}

/* Run k's allocations on a new thread whose home is on another shard (a new slot each try). */
static void run_away_from(struct other_thread *k)
{
	for (unsigned tries = 0; tries < 16 && !k->apart; tries++) {
		pthread_t t;

		CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, alloc_away_from, k), 0);
		pthread_join(t, NULL);
	}
	CU_ASSERT_FATAL(k->apart);
}

/* This thread's shard, and OWN_BLOCKS blocks of its own allocated and freed into the depot. */
static uint32_t own_blocks_to_depot(struct iop_heap *h, void **mine)
{
	struct heap_region r = { 0, 0 };
	uint32_t shard;

	CU_ASSERT_FATAL(heap_home_region(h, &r));
	shard = heap_depot_shard_at(h, r.lo);
	for (unsigned i = 0; i < OWN_BLOCKS; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(mine[i] = iop_heap_alloc(h, 64));
	for (unsigned i = 0; i < OWN_BLOCKS; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, mine[i], 64), 0);
	CU_ASSERT(full_mags(h, shard) > 0);
	return shard;
}

/*
 * A thread with nothing on its own shard of the depot cuts a chunk of its
 * own rather than take the blocks of another thread's magazines, whose
 * bitmap lines it would then share with that thread; only when no chunk can
 * be cut does it take them.
 */
static void test_depot_keeps_threads_apart(void)
{
	struct iop_heap *h = cached_heap(16 << 20, 0);
	size_t chunk = (size_t)64 << h->cache_chunk[0];
	void *mine[OWN_BLOCKS];
	void **fill = calloc((16u << 20) / chunk, sizeof(*fill));
	unsigned filled = 0, mags;
	struct other_thread k = { .h = h, .mine = mine, .n = OTHER_BLOCKS };
	uint64_t cuts;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fill);
	k.avoid = own_blocks_to_depot(h, mine);
	mags = full_mags(h, k.avoid);
	cuts = stats_of(h).cache_chunk_cuts;
	run_away_from(&k);
	CU_ASSERT_EQUAL(k.theirs, 0);
	CU_ASSERT_EQUAL(k.mags_left, mags);
	CU_ASSERT_EQUAL(stats_of(h).cache_chunk_cuts, cuts + 1);
	for (unsigned i = 0; i < k.n; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, k.p[i], 64), 0);

	/* No chunk left to cut: the other thread's first block comes from our magazines. */
	k = (struct other_thread){ .h = h, .mine = mine, .n = 1 };
	k.avoid = own_blocks_to_depot(h, mine);
	mags = full_mags(h, k.avoid);
	while (stats_of(h).largest_free >= chunk)
		CU_ASSERT_PTR_NOT_NULL_FATAL(fill[filled++] = iop_heap_alloc(h, chunk));
	run_away_from(&k);
	CU_ASSERT_EQUAL(k.theirs, 1);
	CU_ASSERT_EQUAL(k.mags_left, mags - 1);
	CU_ASSERT_EQUAL(iop_heap_free(h, k.p[0], 64), 0);
	while (filled > 0)
		CU_ASSERT_EQUAL(iop_heap_free(h, fill[--filled], chunk), 0);
	iop_heap_cache_flush(h);
	assert_whole(h);
	free(fill);
	iop_heap_destroy(h);
}

struct placed {
	char *p;
	size_t size;
};

static int by_address(const void *a, const void *b)
{
	const struct placed *x = a, *y = b;

	return x->p < y->p ? -1 : x->p > y->p;
}

/*
 * A heap large enough for every cached order (64 B to 64 KiB) and for the
 * largest depots: each order's magazines as many as the heap allows (256,
 * fewer where 256 would hold more than 1/16 of the heap). Freeing enough of
 * every order fills every magazine of every depot, one spill more goes to
 * the heap; the check walks them all, and the same number of blocks
 * allocated again are all distinct and inside the heap.
 */
static void test_large_heap_fills_every_depot(void)
{
	struct iop_heap *h = cached_heap(1ull << 30, 0);
	uint64_t mags = 0;
	unsigned total = 0, at = 0, per_order[HEAP_CACHE_ORDERS];
	struct placed *b;
	struct iop_heap_stats s;

	CU_ASSERT_EQUAL_FATAL(h->cache_orders, HEAP_CACHE_ORDERS);
	for (uint32_t i = 0; i < h->cache_orders; i++) {
		uint32_t k = h->min_order + i;

		CU_ASSERT_EQUAL(h->depot_mags[i], k <= 14 ? 256u : 1u << (22 - k));
		mags += h->depot_mags[i];
		/* Spills: one when the cache is full, then one per half: one more than the magazines. */
		per_order[i] = h->cache_depth[i] + 1 + h->cache_depth[i] / 2 * h->depot_mags[i];
		total += per_order[i];
	}
	b = calloc(total, sizeof(*b));
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	for (int round = 0; round < 2; round++) {
		at = 0;
		for (uint32_t i = 0; i < h->cache_orders; i++) {
			for (unsigned j = 0; j < per_order[i]; j++, at++) {
				b[at].size = (size_t)1 << (h->min_order + i);
				b[at].p = iop_heap_alloc(h, b[at].size);
				CU_ASSERT_PTR_NOT_NULL_FATAL(b[at].p);
			}
		}
		qsort(b, total, sizeof(*b), by_address);
		for (unsigned j = 0; j + 1 < total; j++)
			CU_ASSERT_FATAL(b[j].p + b[j].size <= b[j + 1].p);
		CU_ASSERT(b[0].p >= (char *)heap_blocks(h));
		CU_ASSERT(b[total - 1].p + b[total - 1].size <= (char *)heap_blocks(h) + (1ull << 30));
		/* Freed smallest order first, as allocated: each order's depot fills, then releases. */
		for (unsigned j = 0; j < total; j++)
			CU_ASSERT_EQUAL(iop_heap_free(h, b[j].p, b[j].size), 0);
		s = stats_of(h);
		if (round == 0) {
			CU_ASSERT_EQUAL(s.cache_depot_gives, mags);
			CU_ASSERT(s.cache_heap_releases >= h->cache_orders);
		}
		CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	}
	iop_heap_cache_flush(h);
	assert_whole(h);
	free(b);
	iop_heap_destroy(h);
}

static const struct iop_test_case cache_tests[] = {
	{ "pair_reuses_its_block", test_pair_reuses_its_block },
	{ "frees_are_validated", test_frees_are_validated },
	{ "cross_thread_free_then_exit", test_cross_thread_free_then_exit },
	{ "exited_threads_give_back", test_exited_threads_give_back },
	{ "busy_threads_answer_drain_requests", test_busy_threads_answer_drain_requests },
	{ "exiting_process_gives_back", test_exiting_process_gives_back },
	{ "destroy_while_another_thread_caches", test_destroy_while_another_thread_caches },
	{ "refused_free_claims_no_cache", test_refused_free_claims_no_cache },
	{ "destroy_returns_caches_of_shared_heap", test_destroy_returns_caches_of_shared_heap },
	{ "check_finds_block_cached_twice", test_check_finds_block_cached_twice },
	{ "small_heap_is_not_cached", test_small_heap_is_not_cached },
	{ "default_heap_is_cached", test_default_heap_is_cached },
	{ "killed_process_cache_reclaimed", test_killed_process_cache_reclaimed },
	{ "cache_events_counted", test_cache_events_counted },
	{ "depot_shard_of_the_cutter", test_depot_shard_of_the_cutter },
	{ "depot_keeps_threads_apart", test_depot_keeps_threads_apart },
	{ "large_heap_fills_every_depot", test_large_heap_fills_every_depot },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_cache", cache_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
