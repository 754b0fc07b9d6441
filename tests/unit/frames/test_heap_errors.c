/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Bad input: each is refused with its documented error and leaves the heap
 * exactly as it was (compared byte for byte, bitmaps and summaries included).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "heap_layout.h"
#include "heap_tags.h"
#include "iop_heap.h"
#include "iop_test.h"

/* Everything but the block contents and the refused-free counter. */
struct snapshot {
	char *bytes;
	size_t len;
};

static struct snapshot take(const struct iop_heap *h)
{
	struct snapshot s = { malloc(h->blocks_off), h->blocks_off };

	memcpy(s.bytes, h, s.len);
	((struct iop_heap *)s.bytes)->refused_frees = 0;
	return s;
}

static void assert_unchanged(const struct iop_heap *h, struct snapshot *s)
{
	struct snapshot now = take(h);

	CU_ASSERT_EQUAL(memcmp(now.bytes, s->bytes, s->len), 0);
	free(now.bytes);
	free(s->bytes);
}

/* aligned_alloc wants a size that is a multiple of the alignment. */
static void *page_alloc(size_t len)
{
	return aligned_alloc(4096, (len + 4095) & ~(size_t)4095);
}

static void test_create_rejects_bad_sizes(void)
{
	struct iop_heap_opts odd = { .min_block = 48 };
	struct iop_heap_opts tiny = { .min_block = 8 };
	struct iop_heap_opts big_min = { .min_block = 8192 };
	struct iop_heap_opts both = { .flags = IOP_HEAP_F_CACHED | IOP_HEAP_F_NO_CACHE };

	errno = 0;
	CU_ASSERT_PTR_NULL(iop_heap_create(0, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create((1ull << IOP_HEAP_MAX_ORDER) + 1, NULL));
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_PTR_NULL(iop_heap_create(SIZE_MAX, NULL));
	CU_ASSERT_EQUAL(errno, E2BIG);
	CU_ASSERT_PTR_NULL(iop_heap_create(4096, &odd));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create(4096, &tiny));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create(4096, &big_min));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create(1 << 20, &both)); /* caches, and none */
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_EQUAL(iop_heap_footprint(1 << 20, &both), 0);
	CU_ASSERT_EQUAL(iop_heap_footprint(0, NULL), 0);
	CU_ASSERT_EQUAL(iop_heap_footprint(4096, &odd), 0);
	CU_ASSERT(iop_heap_footprint(4096, NULL) > 4096);
}

static void test_create_in_rejects_bad_memory(void)
{
	size_t need = iop_heap_footprint(4096, NULL);
	char *mem = page_alloc(need + 4096);

	CU_ASSERT_PTR_NULL(iop_heap_create_in(NULL, need, 4096, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create_in(mem + 8, need, 4096, NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_create_in(mem, need - 1, 4096, NULL));
	CU_ASSERT_EQUAL(errno, ENOSPC);
	CU_ASSERT_PTR_NOT_NULL(iop_heap_create_in(mem, need, 4096, NULL));
	free(mem);
}

static void test_attach_rejects_what_is_not_a_heap(void)
{
	size_t len = iop_heap_footprint(1024, NULL);
	char *junk = page_alloc(len);
	struct iop_heap *h;

	memset(junk, 0xa5, len);
	CU_ASSERT_PTR_NULL(iop_heap_attach(NULL));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_attach(junk));
	CU_ASSERT_EQUAL(errno, EPROTO);
	h = iop_heap_create_in(junk, len, 1024, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	h->layout_version++; /* a heap from another, incompatible build */
	CU_ASSERT_PTR_NULL(iop_heap_attach(junk));
	CU_ASSERT_EQUAL(errno, EPROTO);
	free(junk);
}

static void test_alloc_rejects_bad_sizes(void)
{
	struct iop_heap *h = iop_heap_create(8192, NULL);
	struct snapshot s = take(h);

	errno = 0;
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, 0));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, 8193));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, SIZE_MAX));
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_heap_alloc(NULL, 64));
	CU_ASSERT_EQUAL(errno, EINVAL);
	assert_unchanged(h, &s);
	iop_heap_destroy(h);
}

/* One refused free: its error, the heap unchanged, the refusal counted. */
static void refuse(struct iop_heap *h, void *p, size_t x, int err)
{
	struct iop_heap_stats before, after;
	struct snapshot s = take(h);

	iop_heap_stats(h, &before);
	CU_ASSERT_EQUAL(iop_heap_free(h, p, x), err);
	iop_heap_stats(h, &after);
	assert_unchanged(h, &s);
	CU_ASSERT_EQUAL(after.refused_frees, before.refused_frees + 1);
}

/* Uncached, so that the offsets below are where blocks land and a freed
 * block merges at once (the cached heap's refusals: test_heap_cache, fuzz). */
static void test_free_refuses_each_bad_free(void)
{
	struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(8192, &uncached);
	char *a = iop_heap_alloc(h, 1024); /* offset 0 */
	char *b = iop_heap_alloc(h, 64);   /* offset 1024 */
	char *c = iop_heap_alloc(h, 64);   /* offset 1088 */
	int local;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_EQUAL(iop_heap_free(h, c, 64), 0);
	refuse(h, c, 64, -EALREADY);        /* double free */
	refuse(h, a + 4096, 64, -EALREADY); /* never allocated: free memory */
	refuse(h, a + 64, 64, -ENXIO);      /* interior pointer of a live block */
	refuse(h, a + 1, 1024, -ENXIO);     /* misaligned interior pointer */
	refuse(h, a, 64, -ERANGE);          /* live block, smaller size */
	refuse(h, a, 2048, -ERANGE);        /* live block, larger size */
	refuse(h, b, 128, -ERANGE);         /* a 64-byte block starts there */
	refuse(h, &local, 64, -EFAULT);     /* not in this heap */
	refuse(h, a - 1, 64, -EFAULT);
	refuse(h, a + 8192, 64, -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 8193), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_free(NULL, a, 64), -EINVAL);

	/* After all that, the real frees still work and everything merges. */
	CU_ASSERT_EQUAL(iop_heap_free(h, b, 64), 0);
	refuse(h, b, 64, -EALREADY); /* now inside a merged free block */
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 1000), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

/* Two threads free the same block at the same moment: exactly one wins. */
struct race {
	pthread_barrier_t go;
	struct iop_heap *h;
	void *_Atomic block;
	int rc[2];
};

static void *race_thread(void *arg, int me)
{
	struct race *r = arg;

	for (int round = 0; round < 2000; round++) {
		pthread_barrier_wait(&r->go);
		r->rc[me] = iop_heap_free(r->h, atomic_load(&r->block), 256);
		pthread_barrier_wait(&r->go);
		pthread_barrier_wait(&r->go); /* main checks and sets the next block */
	}
	return NULL;
}

static void *race_thread0(void *arg)
{
	return race_thread(arg, 0);
}

static void *race_thread1(void *arg)
{
	return race_thread(arg, 1);
}

/* With thread caches (the default; 4 MiB caches 256-byte blocks) and without. */
static void concurrent_double_free_one_wins(const struct iop_heap_opts *opts)
{
	struct race r = { .h = iop_heap_create(4 << 20, opts) };
	pthread_t t[2];
	void *keep = iop_heap_alloc(r.h, 256); /* so the freed block has a live buddy sometimes */

	pthread_barrier_init(&r.go, NULL, 3);
	atomic_store(&r.block, iop_heap_alloc(r.h, 256));
	pthread_create(&t[0], NULL, race_thread0, &r);
	pthread_create(&t[1], NULL, race_thread1, &r);
	for (int round = 0; round < 2000; round++) {
		pthread_barrier_wait(&r.go);
		pthread_barrier_wait(&r.go);
		CU_ASSERT((r.rc[0] == 0) != (r.rc[1] == 0));
		CU_ASSERT_EQUAL(r.rc[0] + r.rc[1], -EALREADY);
		atomic_store(&r.block, iop_heap_alloc(r.h, 256));
		pthread_barrier_wait(&r.go);
	}
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	CU_ASSERT_EQUAL(iop_heap_free(r.h, atomic_load(&r.block), 256), 0);
	CU_ASSERT_EQUAL(iop_heap_free(r.h, keep, 256), 0);
	iop_heap_cache_flush(r.h);
	CU_ASSERT_EQUAL(iop_heap_check(r.h), 0);
	pthread_barrier_destroy(&r.go);
	iop_heap_destroy(r.h);
}

static void test_concurrent_double_free_one_wins(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };

	concurrent_double_free_one_wins(NULL);
	concurrent_double_free_one_wins(&uncached);
}

/*
 * An untrusted address: only the start of a live block has a size, and it is
 * the block's, whatever size was asked for; with thread caches (the default)
 * and without.
 */
static void test_allocated_size_only_for_live_block_starts(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };
	const struct iop_heap_opts *opts[2] = { NULL, &uncached };

	for (int i = 0; i < 2; i++) {
		struct iop_heap *h = iop_heap_create(1 << 20, opts[i]);
		char *small, *big, *whole;
		int local;

		CU_ASSERT_PTR_NOT_NULL_FATAL(h);
		small = iop_heap_alloc(h, 100);
		big = iop_heap_alloc(h, 5000);
		CU_ASSERT_PTR_NOT_NULL_FATAL(small);
		CU_ASSERT_PTR_NOT_NULL_FATAL(big);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, small), 128);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, big), 8192);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, big + 64), 0);   /* inside */
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, big + 4096), 0); /* buddy half */
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, &local), 0);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(NULL, small), 0);
		CU_ASSERT_EQUAL(iop_heap_free(h, small, 100), 0);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, small), 0); /* freed (or cached) */
		CU_ASSERT_EQUAL(iop_heap_free(h, big, 5000), 0);
		iop_heap_cache_flush(h);
		whole = iop_heap_alloc(h, 1 << 20);
		CU_ASSERT_PTR_NOT_NULL_FATAL(whole);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, whole), 1 << 20);
		CU_ASSERT_EQUAL(iop_heap_free(h, whole, 1 << 20), 0);
		CU_ASSERT_EQUAL(iop_heap_allocated_size(h, whole), 0);
		iop_heap_destroy(h);
	}
}

/*
 * A 1 MiB heap and a tag table for it, not attached yet: the tag tests look
 * at the heap without a table first.
 */
static struct iop_heap *heap_and_table(uint16_t **table)
{
	struct iop_heap *h = iop_heap_create(1 << 20, NULL);

	*table = calloc(1, heap_tags_bytes(1 << 20, NULL));
	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*table);
	return h;
}

/*
 * iop_heap_tag_set_block() trusts the caller about the bitmaps, not about
 * the numbers: every block size from the smallest to the whole heap, at a
 * start aligned to it, and nothing else.
 */
static void test_tag_set_block_checks_sizes_and_bounds(void)
{
	uint16_t *table;
	struct iop_heap *h = heap_and_table(&table);
	char *start, *end;

	start = heap_blocks(h);
	end = start + (1 << 20);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 64, 1), -ENOTSUP); /* no table yet */
	heap_tags_attach(h, table);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 64, 1), 0);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 1 << 20, 2), 0); /* the whole heap */
	CU_ASSERT_EQUAL(table[0], 2);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, end - 64, 64, 3), 0); /* the last block */
	CU_ASSERT_EQUAL(table[(1 << 20) / 64 - 1], 3);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 2 << 20, 9), -EFAULT); /* above the heap */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 32, 9), -EFAULT);      /* below min */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 0, 9), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start, 192, 9), -EFAULT);     /* no such size */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start + 64, 128, 9), -EFAULT); /* misaligned */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, end, 64, 9), -EFAULT);        /* past the end */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, start - 64, 64, 9), -EFAULT); /* before it */
	CU_ASSERT_EQUAL(table[0], 2);
	CU_ASSERT_EQUAL(table[1], 0);
	iop_heap_destroy(h);
	free(table);
}

/*
 * iop_heap_block_tag() answers only for a live block of exactly the size
 * asked: the tag of an allocated 128-byte block as 128 bytes, and -EFAULT
 * for it as 64 or 256 bytes, for its middle, for a free block, and for
 * anything outside the heap.
 */
static void test_block_tag_only_for_live_blocks_of_that_size(void)
{
	uint16_t *table;
	struct iop_heap *h = heap_and_table(&table);
	char *b, *freed;

	b = iop_heap_alloc(h, 128);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b, 128), -ENOTSUP); /* no table yet */
	heap_tags_attach(h, table);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(h, b, 128, 7), 0);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b, 128), 7);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b, 64), -EFAULT);  /* smaller than the block */
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b, 256), -EFAULT); /* larger */
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b + 64, 64), -EFAULT);
	freed = iop_heap_alloc_tagged(h, 64, 9);
	CU_ASSERT_PTR_NOT_NULL_FATAL(freed);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, freed, 64), 9);
	CU_ASSERT_EQUAL(iop_heap_free(h, freed, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, freed, 64), -EFAULT); /* keeps its tag, not live */
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, heap_blocks(h) + (1 << 20), 64), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, heap_blocks(h) - 64, 64), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_free(h, b, 128), 0);
	iop_heap_destroy(h);
	free(table);
}

/*
 * A tag view stores through the table inline, what iop_heap_tag_set_block()
 * would, and nothing for a pointer outside the heap (either side), or from a
 * view of a heap without a table; a NULL or broken heap gives no view.
 */
static void test_tag_view_stores_inside_the_heap_only(void)
{
	uint16_t *table;
	struct iop_heap *h = heap_and_table(&table);
	struct iop_heap_tag_view v, none;
	char *b = iop_heap_alloc(h, 128);

	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_EQUAL(iop_heap_tag_view(NULL, &v), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_tag_view(h, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_tag_view(h, &none), -ENOTSUP); /* no table yet */
	iop_heap_tag_store(&none, b, 5);
	heap_tags_attach(h, table);
	CU_ASSERT_EQUAL(iop_heap_tag(h, b), 0);
	CU_ASSERT_EQUAL(iop_heap_tag_view(h, &v), 0);
	iop_heap_tag_store(&v, b, 7);
	CU_ASSERT_EQUAL(iop_heap_tag(h, b), 7);
	CU_ASSERT_EQUAL(iop_heap_block_tag(h, b, 128), 7);
	iop_heap_tag_store(&v, heap_blocks(h) + (1 << 20) - 64, 8); /* the last block */
	CU_ASSERT_EQUAL(table[(1 << 20) / 64 - 1], 8);
	iop_heap_tag_store(&v, heap_blocks(h) + (1 << 20), 9); /* past the end */
	iop_heap_tag_store(&v, heap_blocks(h) - 64, 9);        /* before the start */
	iop_heap_tag_store(&none, b, 9);                       /* a view without a table */
	for (size_t i = 0; i < (1 << 20) / 64; i++)
		CU_ASSERT_FATAL(table[i] != 9);
	CU_ASSERT_EQUAL(iop_heap_tag(h, b), 7);
	CU_ASSERT_EQUAL(iop_heap_free(h, b, 128), 0);
	iop_heap_destroy(h);
	free(table);
}

/*
 * A block view answers as the heap's own calls do, for every block start in
 * the heap and for pointers just outside it or misaligned: live blocks of
 * the view's size, of other sizes, free and cached blocks, the middles of
 * blocks. It refuses sizes the heap has no blocks of (and the view it was
 * to fill then refuses every block), and a view of a heap without a tag
 * table has no tags to give.
 */
static void test_block_view_answers_as_the_heap(void)
{
	static const size_t sizes[] = { 0, 64, 128, 1024, 1 << 20 };
	uint16_t *table;
	struct iop_heap *h = heap_and_table(&table);
	struct iop_heap_block_view v;
	char *live[512];
	unsigned n = 0, seed = 12345;

	CU_ASSERT_EQUAL(iop_heap_block_view(NULL, 64, &v), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_block_view(h, 64, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_block_view(h, 96, &v), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_block_view(h, 32, &v), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_block_view(h, 2 << 20, &v), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(iop_heap_block_view(h, 128, &v), 0);
	live[0] = iop_heap_alloc(h, 128);
	CU_ASSERT_PTR_NOT_NULL_FATAL(live[0]);
	CU_ASSERT_TRUE(iop_heap_view_holds(&v, live[0]));
	CU_ASSERT_EQUAL(iop_heap_view_block_tag(&v, live[0]), -ENOTSUP); /* no table yet */
	/* A view that could not be made refuses every block rather than trusting one. */
	CU_ASSERT_EQUAL(iop_heap_block_view(h, 96, &v), -EINVAL);
	CU_ASSERT_FALSE(iop_heap_view_holds(&v, live[0]));
	CU_ASSERT_EQUAL(iop_heap_view_allocated_size(&v, live[0]), 0);
	CU_ASSERT_EQUAL(iop_heap_view_block_tag(&v, live[0]), -ENOTSUP);
	CU_ASSERT_EQUAL(iop_heap_free(h, live[0], 128), 0);
	heap_tags_attach(h, table);

	/* Blocks of 64 B to 8 KiB, tagged with their number; every third freed again. */
	while (n < 512) {
		size_t bytes = (size_t)64 << (rand_r(&seed) % 8);
		char *b = iop_heap_alloc(h, bytes);

		if (b == NULL)
			break;
		CU_ASSERT_EQUAL_FATAL(iop_heap_tag_set(h, b, (uint16_t)(n + 1)), 0);
		live[n++] = b;
	}
	CU_ASSERT_FATAL(n > 100);
	for (unsigned i = 0; i < n; i += 3)
		CU_ASSERT_EQUAL_FATAL(iop_heap_free(h, live[i], iop_heap_allocated_size(h, live[i])), 0);

	for (unsigned s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
		size_t block;

		CU_ASSERT_EQUAL_FATAL(iop_heap_block_view(h, sizes[s], &v), 0);
		block = sizes[s] != 0 ? sizes[s] : iop_heap_min_block(h);
		for (long off = -128; off < (1 << 20) + 128; off += 32) {
			const char *p = heap_blocks(h) + off;
			size_t size = iop_heap_allocated_size(h, p);

			CU_ASSERT_EQUAL_FATAL(iop_heap_view_holds(&v, p), size == block);
			CU_ASSERT_EQUAL_FATAL(iop_heap_view_allocated_size(&v, p), size);
			CU_ASSERT_EQUAL_FATAL(iop_heap_view_block_tag(&v, p),
					      iop_heap_block_tag(h, p, block));
		}
	}
	for (unsigned i = 0; i < n; i++)
		if (i % 3 != 0)
			CU_ASSERT_EQUAL(iop_heap_free(h, live[i], iop_heap_allocated_size(h, live[i])), 0);
	iop_heap_destroy(h);
	free(table);
}

static const struct iop_test_case error_tests[] = {
	{ "create_rejects_bad_sizes", test_create_rejects_bad_sizes },
	{ "create_in_rejects_bad_memory", test_create_in_rejects_bad_memory },
	{ "attach_rejects_what_is_not_a_heap", test_attach_rejects_what_is_not_a_heap },
	{ "alloc_rejects_bad_sizes", test_alloc_rejects_bad_sizes },
	{ "free_refuses_each_bad_free", test_free_refuses_each_bad_free },
	{ "concurrent_double_free_one_wins", test_concurrent_double_free_one_wins },
	{ "allocated_size_only_for_live_block_starts",
	  test_allocated_size_only_for_live_block_starts },
	{ "tag_set_block_checks_sizes_and_bounds", test_tag_set_block_checks_sizes_and_bounds },
	{ "block_tag_only_for_live_blocks_of_that_size",
	  test_block_tag_only_for_live_blocks_of_that_size },
	{ "tag_view_stores_inside_the_heap_only", test_tag_view_stores_inside_the_heap_only },
	{ "block_view_answers_as_the_heap", test_block_view_answers_as_the_heap },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_errors", error_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
