/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The behaviour the patent describes for HeapCreate, HeapAlloc (FIG. 5) and
 * HeapFree (FIG. 6), one step per test, on the example HeapCreate(5000).
 *
 * The walkthrough asserts exact addresses and the exact free blocks left
 * after each call: that is the uncached heap's behaviour, so its heaps are
 * made with IOP_HEAP_F_NO_CACHE (with thread caches, a freed block may wait
 * in a cache instead of coalescing at once). Alignment holds either way and
 * is checked on a default heap too.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "iop_heap.h"
#include "iop_test.h"

/* HeapCreate(n) as the patent describes it: no thread caches. */
static struct iop_heap *patent_heap(size_t n, size_t min_block)
{
	struct iop_heap_opts opts = { .min_block = min_block, .flags = IOP_HEAP_F_NO_CACHE };

	return iop_heap_create(n, &opts);
}

static struct iop_heap_stats stats_of(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	CU_ASSERT_EQUAL_FATAL(iop_heap_stats(h, &s), 0);
	return s;
}

/* Offset of p from the block area's start (the first block HeapAlloc can give). */
static uint64_t block_off(const struct iop_heap *h, const void *p, const void *base)
{
	(void)h;
	return (uint64_t)((const char *)p - (const char *)base);
}

/* Exactly the free blocks listed (order:count pairs, ended by 0) and no others. */
static void assert_free_blocks(const struct iop_heap *h, const unsigned *expect)
{
	struct iop_heap_stats s = stats_of(h);
	uint64_t want[IOP_HEAP_ORDER_SLOTS] = { 0 };

	for (; *expect != 0; expect += 2)
		want[expect[0]] = expect[1];
	for (unsigned k = 0; k < IOP_HEAP_ORDER_SLOTS; k++)
		CU_ASSERT_EQUAL(s.free_blocks[k], want[k]);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
}

/* HeapCreate: 2^M bytes, M = ceil(log2 n), one free block of order M. */
static void test_create_rounds_up_to_power_of_two(void)
{
	struct iop_heap *h = patent_heap(5000, 0);
	struct iop_heap_stats s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	s = stats_of(h);
	CU_ASSERT_EQUAL(iop_heap_size(h), 8192);
	CU_ASSERT_EQUAL(s.heap_bytes, 8192);
	CU_ASSERT_EQUAL(s.min_block, 64);
	CU_ASSERT_EQUAL(s.bytes_free, 8192);
	CU_ASSERT_EQUAL(s.largest_free, 8192);
	assert_free_blocks(h, (const unsigned[]){ 13, 1, 0 });
	iop_heap_destroy(h);

	h = patent_heap(8192, 0); /* an exact power stays as it is */
	CU_ASSERT_EQUAL(iop_heap_size(h), 8192);
	iop_heap_destroy(h);
	h = patent_heap(8193, 0);
	CU_ASSERT_EQUAL(iop_heap_size(h), 16384);
	iop_heap_destroy(h);
}

/* FIG. 5: HeapAlloc(1000) takes order 10; splitting 8192 leaves the
 * upper halves 4096, 2048 and 1024 free. */
static void test_alloc_splits_and_leaves_upper_halves(void)
{
	struct iop_heap *h = patent_heap(5000, 0);
	void *p = iop_heap_alloc(h, 1000);
	void *base = p;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(iop_heap_block_size(h, 1000), 1024);
	assert_free_blocks(h, (const unsigned[]){ 10, 1, 11, 1, 12, 1, 0 });
	CU_ASSERT_EQUAL(stats_of(h).bytes_in_use, 1024);

	/* The free halves are exactly the upper halves: each next allocation of
	 * their size lands right after what was taken. */
	CU_ASSERT_EQUAL(block_off(h, iop_heap_alloc(h, 1024), base), 1024);
	CU_ASSERT_EQUAL(block_off(h, iop_heap_alloc(h, 2048), base), 2048);
	CU_ASSERT_EQUAL(block_off(h, iop_heap_alloc(h, 4096), base), 4096);
	assert_free_blocks(h, (const unsigned[]){ 0 });
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, 1));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	iop_heap_destroy(h);
}

/* FIG. 5: the first order at or above N with a free block is used, so a
 * small request does not split a large block when a small one is free. */
static void test_alloc_uses_smallest_sufficient_order(void)
{
	struct iop_heap *h = patent_heap(8192, 0);
	char *a = iop_heap_alloc(h, 64);  /* leaves 64,128,...,4096 free */
	char *b = iop_heap_alloc(h, 200); /* takes the free 256, no split */

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(b - a, 256);
	assert_free_blocks(h, (const unsigned[]){ 6, 1, 7, 1, 9, 1, 10, 1, 11, 1, 12, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_free(h, a, 64), 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, b, 200), 0);
	CU_ASSERT_EQUAL(iop_heap_coalesce(h), 7); /* 64+64, 128+128, 256+256, ... up to 8192 */
	assert_free_blocks(h, (const unsigned[]){ 13, 1, 0 });
	iop_heap_destroy(h);
}

/*
 * FIG. 6, deferred: a free leaves its block free at its own order, its buddy
 * free or not; the merge the patent's HeapFree does at once, up as far as it
 * carries, is done by iop_heap_coalesce() (or by an allocation that finds no
 * block large enough), and leaves exactly what the eager free would have.
 */
static void test_free_coalesces_upward(void)
{
	struct iop_heap *h = patent_heap(8192, 0);
	char *p1024 = iop_heap_alloc(h, 1024);
	char *q1024 = iop_heap_alloc(h, 1024);
	char *p2048 = iop_heap_alloc(h, 2048);
	char *p4096 = iop_heap_alloc(h, 4096);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p4096);
	CU_ASSERT_EQUAL(iop_heap_free(h, p1024, 1024), 0);
	assert_free_blocks(h, (const unsigned[]){ 10, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_free(h, p4096, 4096), 0);
	assert_free_blocks(h, (const unsigned[]){ 10, 1, 12, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_free(h, q1024, 1000), 0); /* its buddy is free: both stay */
	assert_free_blocks(h, (const unsigned[]){ 10, 2, 12, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_coalesce(h), 1);           /* the eager free's 2048 */
	assert_free_blocks(h, (const unsigned[]){ 11, 1, 12, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_free(h, p2048, 2048), 0);
	assert_free_blocks(h, (const unsigned[]){ 11, 2, 12, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_coalesce(h), 2);           /* 2048 -> 4096 -> 8192 */
	assert_free_blocks(h, (const unsigned[]){ 13, 1, 0 });
	CU_ASSERT_EQUAL(iop_heap_coalesce(h), 0);

	/* An allocation that needs the merge does it: 2 x 4096 freed, 8192 wanted. */
	p4096 = iop_heap_alloc(h, 4096);
	q1024 = iop_heap_alloc(h, 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(q1024);
	CU_ASSERT_EQUAL(iop_heap_free(h, p4096, 4096), 0);
	CU_ASSERT_EQUAL(iop_heap_free(h, q1024, 4096), 0);
	assert_free_blocks(h, (const unsigned[]){ 12, 2, 0 });
	p4096 = iop_heap_alloc(h, 8192);
	CU_ASSERT_PTR_NOT_NULL(p4096);
	CU_ASSERT_EQUAL(iop_heap_free(h, p4096, 8192), 0);
	iop_heap_destroy(h);
}

/* Every block is aligned to its own size from the heap start, for all sizes,
 * with thread caches (the default) and without. */
static void test_alignment_for_every_order(void)
{
	struct iop_heap *heaps[2] = { iop_heap_create(1 << 20, NULL), patent_heap(1 << 20, 0) };

	srand((unsigned)iop_test_seed());
	for (int i = 0; i < 2; i++) {
		struct iop_heap *h = heaps[i];
		char *base = iop_heap_alloc(h, 1 << 20);

		CU_ASSERT_PTR_NOT_NULL_FATAL(base);
		CU_ASSERT_EQUAL(iop_heap_free(h, base, 1 << 20), 0);
		for (int round = 0; round < 2000; round++) {
			size_t x = 1 + (size_t)rand() % (64 << 10);
			char *p = iop_heap_alloc(h, x);
			size_t bs = iop_heap_block_size(h, x);

			CU_ASSERT_PTR_NOT_NULL_FATAL(p);
			CU_ASSERT(bs >= x && bs < 2 * x + 64 && (bs & (bs - 1)) == 0);
			CU_ASSERT_EQUAL((uint64_t)(p - base) % bs, 0);
			CU_ASSERT_EQUAL(iop_heap_free(h, p, round & 1 ? x : bs), 0);
		}
		iop_heap_cache_flush(h); /* what this thread's cache holds coalesces now */
		CU_ASSERT_EQUAL(stats_of(h).largest_free, 1 << 20);
		iop_heap_destroy(h);
	}
}

/* A heap of 128 minimum blocks gives exactly 128, all distinct, and merges
 * back to one block whatever order they are freed in. */
static void test_fill_with_min_blocks_and_merge_back(void)
{
	struct iop_heap *h = patent_heap(8192, 0);
	char *blocks[128];
	unsigned char seen[128] = { 0 };
	char *base;

	for (int i = 0; i < 128; i++) {
		blocks[i] = iop_heap_alloc(h, 1);
		CU_ASSERT_PTR_NOT_NULL_FATAL(blocks[i]);
	}
	base = blocks[0];
	for (int i = 0; i < 128; i++) {
		uint64_t idx = (uint64_t)(blocks[i] - base) / 64;

		CU_ASSERT_FATAL(idx < 128);
		CU_ASSERT_EQUAL(seen[idx]++, 0);
	}
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, 1));
	CU_ASSERT_EQUAL(errno, ENOMEM);
	srand((unsigned)iop_test_seed());
	for (int i = 127; i > 0; i--) {
		int j = rand() % (i + 1);
		char *t = blocks[i];

		blocks[i] = blocks[j];
		blocks[j] = t;
	}
	for (int i = 0; i < 128; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, blocks[i], 64), 0);
	assert_free_blocks(h, (const unsigned[]){ 6, 128, 0 }); /* merging deferred */
	CU_ASSERT_EQUAL(iop_heap_coalesce(h), 127);
	assert_free_blocks(h, (const unsigned[]){ 13, 1, 0 });
	iop_heap_destroy(h);
}

/* HeapAlloc(2^M) takes the whole heap; a custom minimum block is honoured. */
static void test_whole_heap_and_custom_min_block(void)
{
	struct iop_heap *h = patent_heap(4096, 16);
	void *all = iop_heap_alloc(h, 4096);

	CU_ASSERT_PTR_NOT_NULL_FATAL(all);
	CU_ASSERT_PTR_NULL(iop_heap_alloc(h, 16));
	CU_ASSERT_EQUAL(iop_heap_free(h, all, 4096), 0);
	CU_ASSERT_EQUAL(iop_heap_min_block(h), 16);
	CU_ASSERT_EQUAL(iop_heap_block_size(h, 1), 16);
	CU_ASSERT_EQUAL(iop_heap_block_size(h, 17), 32);
	CU_ASSERT_EQUAL(iop_heap_block_size(h, 4097), 0);
	assert_free_blocks(h, (const unsigned[]){ 12, 1, 0 });
	iop_heap_destroy(h);
}

static const struct iop_test_case patent_tests[] = {
	{ "create_rounds_up_to_power_of_two", test_create_rounds_up_to_power_of_two },
	{ "alloc_splits_and_leaves_upper_halves", test_alloc_splits_and_leaves_upper_halves },
	{ "alloc_uses_smallest_sufficient_order", test_alloc_uses_smallest_sufficient_order },
	{ "free_coalesces_upward", test_free_coalesces_upward },
	{ "alignment_for_every_order", test_alignment_for_every_order },
	{ "fill_with_min_blocks_and_merge_back", test_fill_with_min_blocks_and_merge_back },
	{ "whole_heap_and_custom_min_block", test_whole_heap_and_custom_min_block },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_patent", patent_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
