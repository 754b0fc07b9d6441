/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A heap in caller memory: position independence (one memfd mapped twice at
 * different addresses), offsets, statistics, the metadata cost, and that
 * iop_heap_check() notices each kind of broken invariant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "heap_layout.h"
#include "iop_heap.h"
#include "iop_test.h"

struct two_maps {
	int fd;
	size_t len;
	char *a;
	char *b;
};

static struct two_maps map_twice(size_t len)
{
	struct two_maps m = { .fd = memfd_create("iop-heap-test", 0), .len = len };

	CU_ASSERT_FATAL(m.fd >= 0);
	CU_ASSERT_FATAL(ftruncate(m.fd, (off_t)len) == 0);
	m.a = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	m.b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, m.fd, 0);
	CU_ASSERT_FATAL(m.a != MAP_FAILED && m.b != MAP_FAILED && m.a != m.b);
	return m;
}

static void unmap_twice(struct two_maps *m)
{
	munmap(m->a, m->len);
	munmap(m->b, m->len);
	close(m->fd);
}

static void test_shared_mapping_at_two_addresses(void)
{
	size_t n = 1 << 20;
	struct two_maps m = map_twice(iop_heap_footprint(n, NULL));
	struct iop_heap *ha = iop_heap_create_in(m.a, m.len, n, NULL);
	struct iop_heap *hb = iop_heap_attach(m.b);
	uint32_t off_a, off_b;
	char *pa, *pb;

	CU_ASSERT_PTR_NOT_NULL_FATAL(ha);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hb);
	CU_ASSERT_EQUAL(iop_heap_size(hb), n);
	pa = iop_heap_alloc(ha, 3000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pa);
	strcpy(pa, "request frame");
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(ha, pa, &off_a), 0);
	pb = iop_heap_offset_to_ptr(hb, off_a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pb);
	CU_ASSERT_NOT_EQUAL(pa, pb);
	CU_ASSERT_STRING_EQUAL(pb, "request frame");
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(hb, pb, &off_b), 0);
	CU_ASSERT_EQUAL(off_a, off_b);
	/* Allocated through one mapping, freed through the other. */
	CU_ASSERT_EQUAL(iop_heap_free(hb, pb, 3000), 0);
	CU_ASSERT_EQUAL(iop_heap_free(ha, pa, 3000), -EALREADY);
	CU_ASSERT_EQUAL(iop_heap_check(ha), 0);
	/* destroy on caller memory only forgets the handle */
	iop_heap_destroy(ha);
	CU_ASSERT_PTR_NOT_NULL(iop_heap_attach(m.a));
	CU_ASSERT_PTR_NOT_NULL(iop_heap_alloc(hb, 64)); /* through this thread's cache of hb */
	/* Before unmapping: a cache still bound to hb would be given back into it. */
	iop_heap_destroy(hb);
	unmap_twice(&m);
}

static void test_offsets_are_bounds_checked(void)
{
	struct iop_heap *h = iop_heap_create(1 << 16, NULL);
	char *p = iop_heap_alloc(h, 1 << 16);
	uint32_t off;

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(h, p, &off), 0);
	CU_ASSERT_PTR_EQUAL(iop_heap_offset_to_ptr(h, off), p);
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(h, p + 65535, &off), 0);
	CU_ASSERT_PTR_EQUAL(iop_heap_offset_to_ptr(h, off), p + 65535);
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(h, p + 65536, &off), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(h, p - 1, &off), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_ptr_to_offset(h, h, &off), -EFAULT); /* metadata */
	CU_ASSERT_PTR_NULL(iop_heap_offset_to_ptr(h, 0));
	CU_ASSERT_PTR_NULL(iop_heap_offset_to_ptr(h, off + 1));
	CU_ASSERT_PTR_NULL(iop_heap_offset_to_ptr(h, UINT32_MAX));
	iop_heap_destroy(h);
}

static void test_stats_track_use(void)
{
	struct iop_heap *h = iop_heap_create(1 << 20, NULL);
	struct iop_heap_stats s;
	void *p[10];

	for (int i = 0; i < 10; i++)
		p[i] = iop_heap_alloc(h, 100 * (size_t)(i + 1)); /* 128..1024 */
	CU_ASSERT_EQUAL(iop_heap_stats(h, &s), 0);
	CU_ASSERT_EQUAL(s.blocks_in_use, 10);
	CU_ASSERT_EQUAL(s.bytes_in_use, 128 + 256 + 512 * 3 + 1024 * 5);
	CU_ASSERT_EQUAL(s.bytes_free + s.bytes_in_use, 1 << 20);
	CU_ASSERT_EQUAL(s.largest_free, 1 << 19);
	for (int i = 0; i < 10; i++)
		CU_ASSERT_EQUAL(iop_heap_free(h, p[i], 100 * (size_t)(i + 1)), 0);
	CU_ASSERT_EQUAL(iop_heap_stats(h, &s), 0);
	CU_ASSERT_EQUAL(s.blocks_in_use, 0);
	CU_ASSERT_EQUAL(s.bytes_free, 1 << 20); /* cached blocks count as free */
	iop_heap_cache_flush(h);
	CU_ASSERT_EQUAL(iop_heap_stats(h, &s), 0);
	CU_ASSERT_EQUAL(s.bytes_cached, 0);
	CU_ASSERT_EQUAL(s.largest_free, 1 << 20);
	CU_ASSERT_EQUAL(iop_heap_stats(NULL, &s), -EINVAL);
	CU_ASSERT_EQUAL(iop_heap_stats(h, NULL), -EINVAL);
	iop_heap_destroy(h);
}

/*
 * Two bits (free, allocated) per block per order: about 4 bits per minimum
 * block, plus summaries (1/32 of that) and a fixed header, measured on the
 * bitmaps alone (IOP_HEAP_F_NO_CACHE). Thread caches, the default, add 64
 * cache slots and a depot per cached order, whatever the heap's size;
 * IOP_HEAP_F_CACHED is the default spelled out.
 */
static void test_metadata_cost(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };
	const struct iop_heap_opts cached = { .flags = IOP_HEAP_F_CACHED };
	size_t n = 64u << 20;
	struct iop_heap *h = iop_heap_create(n, &uncached);
	struct iop_heap *hc = iop_heap_create(n, NULL);
	struct iop_heap_stats s, sc;
	double bits_per_min_block;
	uint64_t slots_bytes = HEAP_CACHE_SLOTS * sizeof(struct heap_cache);

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT_PTR_NOT_NULL_FATAL(hc);
	iop_heap_stats(h, &s);
	iop_heap_stats(hc, &sc);
	bits_per_min_block = (double)(s.metadata_bytes - sizeof(struct iop_heap)) * 8 /
			     (double)(n / s.min_block);
	printf("metadata: %.3f bits per minimum block + %zu header bytes; "
	       "thread caches add %llu bytes, their depots %llu\n",
	       bits_per_min_block, sizeof(struct iop_heap), (unsigned long long)slots_bytes,
	       (unsigned long long)hc->depots_bytes);
	CU_ASSERT(bits_per_min_block <= 4.2);
	CU_ASSERT(iop_heap_footprint(n, &uncached) - n <= n / 100);
	/* Cache slots, and a depot of magazines per cached order: one per MiB of heap. */
	CU_ASSERT_EQUAL(sc.metadata_bytes, s.metadata_bytes + slots_bytes + hc->depots_bytes);
	CU_ASSERT_EQUAL(slots_bytes, 104u << 10);
	for (uint32_t i = 0; i < hc->cache_orders; i++)
		CU_ASSERT_EQUAL(hc->depot_mags[i], n >> 20); /* the floor, 64, here */
	CU_ASSERT(hc->depots_bytes <= 48u << 10);
	/* 1 % of this heap for the bitmaps, and the caches' constant 152 KiB. */
	CU_ASSERT(iop_heap_footprint(n, NULL) - n <= n / 100 + (152u << 10));
	CU_ASSERT_EQUAL(iop_heap_footprint(n, &cached), iop_heap_footprint(n, NULL));
	iop_heap_destroy(hc);
	iop_heap_destroy(h);
}

/* Break one invariant at a time by hand; check must name it. Uncached: the
 * bits broken below are where the uncached heap puts its blocks. */
static void expect_broken(struct iop_heap *h, const char *what)
{
	char report[200];

	CU_ASSERT_EQUAL(iop_heap_check_report(h, report, sizeof(report)), -EUCLEAN);
	CU_ASSERT_PTR_NOT_NULL(strstr(report, what));
}

static void test_check_finds_broken_invariants(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(8192, &uncached);
	void *p = iop_heap_alloc(h, 64); /* free: 64@64 ... 4096@4096 */
	_Atomic uint64_t *w6 = heap_block_word(h, 6, 0);
	_Atomic uint64_t *w13 = heap_block_word(h, 13, 0);
	uint64_t saved = atomic_load(w6);
	char report[200];

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_EQUAL(iop_heap_check_report(h, report, sizeof(report)), 0);
	CU_ASSERT_STRING_EQUAL(report, "ok");

	atomic_store(w6, saved | heap_free_bit(0)); /* block 0 free and allocated */
	expect_broken(h, "both free and allocated");
	/* Both buddies free is a state frees leave now (merging is deferred): not broken. */
	atomic_store(w6, (saved & ~heap_alloc_bit(0)) | heap_free_bit(0));
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	atomic_store(w6, saved);

	atomic_store(w13, heap_alloc_bit(0)); /* the root allocated over everything */
	expect_broken(h, "overlaps");
	atomic_store(w13, 0);

	atomic_store(w6, saved & ~heap_alloc_bit(0)); /* a block lost */
	expect_broken(h, "cover");
	atomic_store(w6, saved);

	atomic_fetch_xor(&h->nonempty_orders, 1ull << 9);
	expect_broken(h, "heap data structure");
	atomic_fetch_xor(&h->nonempty_orders, 1ull << 9);

	atomic_fetch_add(&h->inflight[3].word, 1);
	CU_ASSERT_EQUAL(iop_heap_check(h), -EBUSY);
	atomic_fetch_sub(&h->inflight[3].word, 1);

	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	CU_ASSERT_EQUAL(iop_heap_check(NULL), -EINVAL);
	iop_heap_destroy(h);
}

/* A large heap has several summary levels per order; the invariant check
 * covers them, and a missing summary bit is caught. Uncached, so that the
 * freed blocks are in the bitmaps, under the summary bit cleared below. */
static void test_summary_levels(void)
{
	struct iop_heap_opts opts = { .min_block = 16, .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(1 << 22, &opts); /* 2^18 min blocks */
	void *p[3000];

	CU_ASSERT_PTR_NOT_NULL_FATAL(h);
	CU_ASSERT(h->orders[4].levels >= 3);
	for (int i = 0; i < 3000; i++)
		p[i] = iop_heap_alloc(h, 16);
	for (int i = 0; i < 3000; i += 2)
		CU_ASSERT_EQUAL(iop_heap_free(h, p[i], 16), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	atomic_fetch_and(heap_level_word(h, 4, 1, 0), ~1ull);
	expect_broken(h, "summary bit is clear");
	atomic_fetch_or(heap_level_word(h, 4, 1, 0), 1ull);
	for (int i = 1; i < 3000; i += 2)
		CU_ASSERT_EQUAL(iop_heap_free(h, p[i], 16), 0);
	CU_ASSERT_EQUAL(iop_heap_check(h), 0);
	iop_heap_destroy(h);
}

static const struct iop_test_case layout_tests[] = {
	{ "shared_mapping_at_two_addresses", test_shared_mapping_at_two_addresses },
	{ "offsets_are_bounds_checked", test_offsets_are_bounds_checked },
	{ "stats_track_use", test_stats_track_use },
	{ "metadata_cost", test_metadata_cost },
	{ "check_finds_broken_invariants", test_check_finds_broken_invariants },
	{ "summary_levels", test_summary_levels },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "heap_layout", layout_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
