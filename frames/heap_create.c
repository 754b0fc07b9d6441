/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HeapCreate: lay out the header, the per-order
 * bitmaps and the blocks in one piece of memory, and publish the whole heap
 * as one free block of order M.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "heap_cache.h"
#include "heap_layout.h"
#include "heap_summary.h"

#define HEAP_BLOCKS_ALIGN 4096u

struct heap_geometry {
	uint32_t min_order;
	uint32_t max_order;
	uint64_t enomem_wait_ns;
	uint32_t flags;
};

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static int geometry(size_t n, const struct iop_heap_opts *opts, struct heap_geometry *g)
{
	const uint32_t both_cache_flags = IOP_HEAP_F_CACHED | IOP_HEAP_F_NO_CACHE;
	size_t min_block = opts != NULL && opts->min_block != 0 ? opts->min_block
								 : IOP_HEAP_MIN_BLOCK_DEFAULT;

	if (n == 0 || min_block < IOP_HEAP_MIN_BLOCK_MIN || (min_block & (min_block - 1)) != 0)
		return -EINVAL;
	if (n > (1ull << IOP_HEAP_MAX_ORDER))
		return -E2BIG;
	if (n < min_block)
		return -EINVAL;
	if (opts != NULL && (opts->flags & both_cache_flags) == both_cache_flags)
		return -EINVAL; /* caches asked for and refused at once */
	g->min_order = heap_ceil_log2(min_block);
	g->max_order = heap_ceil_log2(n);
	g->enomem_wait_ns = opts != NULL && opts->enomem_wait_ns != 0 ? opts->enomem_wait_ns
								      : HEAP_DEFAULT_ENOMEM_WAIT_NS;
	g->flags = opts != NULL ? opts->flags : 0;
	return 0;
}

/* Place every order's bitmap levels after the header; return the end offset. */
static uint64_t layout_orders(const struct heap_geometry *g, struct iop_heap *hdr)
{
	struct heap_order *orders = hdr->orders;

	uint64_t off = align_up(sizeof(struct iop_heap), HEAP_CACHE_LINE);

	for (uint32_t k = g->min_order; k <= g->max_order; k++) {
		struct heap_order *o = &orders[k];
		uint64_t words;

		memset(o, 0, sizeof(*o));
		o->blocks = 1ull << (g->max_order - k);
		words = (o->blocks + HEAP_BLOCKS_PER_WORD - 1) / HEAP_BLOCKS_PER_WORD;
		for (;;) {
			o->level_off[o->levels] = off;
			o->level_words[o->levels] = words;
			o->levels++;
			off = align_up(off + words * sizeof(uint64_t), HEAP_CACHE_LINE);
			if (words == 1)
				break;
			words = (words + 63) / 64;
		}
		hdr->block_words_off[k] = o->level_off[0];
	}
	return off;
}

/*
 * Thread caches, on unless IOP_HEAP_F_NO_CACHE: order k keeps up to
 * heap / 4096 / 2^k freed blocks (at most 32), and cuts new ones from a
 * reserve chunk of heap / 2048 / 2^k blocks (at most 256: one cache line of
 * that order's bitmap, so threads do not share lines). 64 threads' caches
 * of 11 orders hold at most 11/64 + 11/32 of the heap (about half), and that
 * only while nobody is short of memory: an allocation that finds no block
 * drains them all. Orders that would keep fewer than 4 are not cached.
 * Returns the end offset.
 */
static uint64_t layout_caches(const struct heap_geometry *g, uint64_t off, struct iop_heap *hdr)
{
	hdr->cache_off = 0;
	memset(hdr->depot_off, 0, sizeof(hdr->depot_off));
	memset(hdr->depot_mags, 0, sizeof(hdr->depot_mags));
	hdr->depots_bytes = 0;
	hdr->cache_orders = 0;
	memset(hdr->cache_depth, 0, sizeof(hdr->cache_depth));
	memset(hdr->cache_chunk, 0, sizeof(hdr->cache_chunk));
	if (g->flags & IOP_HEAP_F_NO_CACHE)
		return off;
	for (uint32_t i = 0; i < HEAP_CACHE_ORDERS; i++) {
		uint32_t k = g->min_order + i;
		uint64_t depth;

		/* Past the top, or block indices that do not fit 32 bits. */
		if (k > g->max_order || g->max_order - k > 31 || g->max_order < 12 + k)
			break;
		depth = (1ull << g->max_order) >> 12 >> k;
		if (depth < 4)
			break;
		hdr->cache_depth[i] = depth < HEAP_CACHE_DEPTH ? (uint32_t)depth : HEAP_CACHE_DEPTH;
		/* 64 threads' chunks of 11 orders: at most 11/32 of the heap. */
		hdr->cache_chunk[i] = g->max_order - 11 - k < 8 ? g->max_order - 11 - k : 8;
		hdr->cache_orders = i + 1;
	}
	if (hdr->cache_orders == 0)
		return off;
	hdr->cache_off = align_up(off, HEAP_CACHE_LINE);
	off = hdr->cache_off + HEAP_CACHE_SLOTS * sizeof(struct heap_cache);
	for (uint32_t i = 0; i < hdr->cache_orders; i++) {
		/* One magazine per MiB within the bounds, and no more than hold 1/16 of the heap. */
		uint64_t mags = (1ull << g->max_order) >> 20;
		uint64_t sixteenth = (1ull << g->max_order) >> 8 >> (g->min_order + i);

		mags = mags < HEAP_DEPOT_MAGS_MIN ? HEAP_DEPOT_MAGS_MIN : mags;
		mags = mags > HEAP_DEPOT_MAGS_MAX ? HEAP_DEPOT_MAGS_MAX : mags;
		/* Never below 64: an order is cached only where heap / 2^k is 2^14 or more. */
		mags = mags > sixteenth ? sixteenth : mags;
		hdr->depot_off[i] = off;
		hdr->depot_mags[i] = (uint32_t)mags;
		off = align_up(off + sizeof(struct heap_depot) + mags * sizeof(struct heap_mag),
			       HEAP_CACHE_LINE);
	}
	hdr->depots_bytes = off - hdr->depot_off[0];
	return off;
}

/* Every magazine of every depot empty, dealt out to its shards' empty stacks in turn. */
static void depots_init(struct iop_heap *h)
{
	for (uint32_t i = 0; i < h->cache_orders; i++) {
		struct heap_depot *d = heap_depot(h, i);

		for (uint32_t s = 0; s < HEAP_DEPOT_SHARDS; s++) {
			atomic_store_explicit(&d->shard[s].empty, 0, memory_order_relaxed);
			atomic_store_explicit(&d->shard[s].full, 0, memory_order_relaxed);
		}
		for (uint32_t m = 0; m < h->depot_mags[i]; m++) {
			_Atomic uint64_t *head = &d->shard[m % HEAP_DEPOT_SHARDS].empty;

			atomic_store_explicit(&d->mag[m].next,
					      (uint32_t)atomic_load_explicit(head, memory_order_relaxed),
					      memory_order_relaxed);
			atomic_store_explicit(head, m + 1, memory_order_relaxed);
		}
	}
}

/* The whole metadata layout into hdr; returns where the metadata ends. */
static uint64_t layout(const struct heap_geometry *g, struct iop_heap *hdr)
{
	return layout_caches(g, layout_orders(g, hdr), hdr);
}

size_t iop_heap_footprint(size_t n, const struct iop_heap_opts *opts)
{
	struct heap_geometry g;
	struct iop_heap *scratch; /* about 10 KiB: neither on the stack nor in every thread's TLS */
	int rc = geometry(n, opts, &g);
	size_t bytes;

	if (rc != 0) {
		errno = -rc;
		return 0;
	}
	scratch = malloc(sizeof(*scratch));
	if (scratch == NULL) {
		errno = ENOMEM;
		return 0;
	}
	bytes = align_up(layout(&g, scratch), HEAP_BLOCKS_ALIGN) + (1ull << g.max_order);
	free(scratch);
	return bytes;
}

struct iop_heap *iop_heap_create_in(void *mem, size_t len, size_t n,
				    const struct iop_heap_opts *opts)
{
	struct heap_geometry g;
	struct iop_heap *h = mem;
	uint64_t meta_end;
	int rc = geometry(n, opts, &g);

	if (rc == 0 && (mem == NULL || ((uintptr_t)mem % HEAP_CACHE_LINE) != 0))
		rc = -EINVAL;
	if (rc == 0 && len < iop_heap_footprint(n, opts))
		rc = -ENOSPC;
	if (rc != 0) {
		errno = -rc;
		return NULL;
	}

	memset(h, 0, sizeof(*h));
	meta_end = layout(&g, h);
	/* Zero all bitmaps: no block is free, allocated or split yet. */
	memset((char *)h + sizeof(*h), 0, meta_end - sizeof(*h));
	h->layout_version = HEAP_LAYOUT_VERSION;
	h->min_order = g.min_order;
	h->max_order = g.max_order;
	h->heap_bytes = 1ull << g.max_order;
	h->min_block_mask = (1ull << g.min_order) - 1;
	h->enomem_wait_ns = g.enomem_wait_ns;
	h->blocks_off = align_up(meta_end, HEAP_BLOCKS_ALIGN);
	h->footprint = h->blocks_off + (1ull << g.max_order);
	h->metadata_bytes = meta_end;

	depots_init(h);

	/* The whole heap starts as one free block of order M. */
	atomic_store(heap_block_word(h, g.max_order, 0), heap_free_bit(0));
	summary_sync(h, g.max_order, 0, 0);

	/* The magic goes last, so an attacher never sees a half-built heap. */
	atomic_thread_fence(memory_order_release);
	h->magic = HEAP_MAGIC;
	return h;
}

struct iop_heap *iop_heap_create(size_t n, const struct iop_heap_opts *opts)
{
	size_t len = iop_heap_footprint(n, opts);
	struct iop_heap *h;
	void *mem;

	if (len == 0)
		return NULL;
	mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		errno = ENOMEM;
		return NULL;
	}
	h = iop_heap_create_in(mem, len, n, opts);
	if (h == NULL) {
		int saved = errno;

		munmap(mem, len);
		errno = saved;
		return NULL;
	}
	h->flags |= HEAP_FLAG_OWNED;
	return h;
}

struct iop_heap *iop_heap_attach(void *mem)
{
	struct iop_heap *h = mem;

	if (mem == NULL) {
		errno = EINVAL;
		return NULL;
	}
	if (!heap_valid(h)) {
		errno = EPROTO;
		return NULL;
	}
	atomic_thread_fence(memory_order_acquire);
	return h;
}

void iop_heap_destroy(struct iop_heap *h)
{
	if (!heap_valid(h))
		return;
	if (h->cache_orders != 0)
		heap_cache_forget_heap(h);
	if (!(h->flags & HEAP_FLAG_OWNED))
		return;
	h->magic = 0;
	munmap(h, h->footprint);
}

size_t iop_heap_size(const struct iop_heap *h)
{
	return heap_valid(h) ? (size_t)1 << h->max_order : 0;
}

size_t iop_heap_min_block(const struct iop_heap *h)
{
	return heap_valid(h) ? (size_t)1 << h->min_order : 0;
}

size_t iop_heap_block_size(const struct iop_heap *h, size_t x)
{
	uint32_t n;

	if (!heap_valid(h) || x == 0 || x > (1ull << h->max_order))
		return 0;
	n = heap_ceil_log2(x);
	return (size_t)1 << (n < h->min_order ? h->min_order : n);
}

int iop_heap_ptr_to_offset(const struct iop_heap *h, const void *p, uint32_t *off)
{
	/* From the header: below the blocks, o - blocks_off wraps (one compare). */
	uint64_t o = (uint64_t)((uintptr_t)p - (uintptr_t)h);

	if (o - h->blocks_off >= h->heap_bytes)
		return -EFAULT;
	if (o > UINT32_MAX)
		return -ERANGE;
	*off = (uint32_t)o;
	return 0;
}

void *iop_heap_offset_to_ptr(const struct iop_heap *h, uint32_t off)
{
	/* Below the blocks, off - blocks_off wraps: one compare for both ends. */
	if ((uint64_t)off - h->blocks_off >= h->heap_bytes)
		return NULL;
	return (char *)h + off;
}
