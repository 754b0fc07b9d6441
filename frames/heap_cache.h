/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Thread caches (magazines) of free blocks for a heap's smallest orders.
 *
 * A cached block is "held": it carries neither the free nor the allocated
 * bit, as if it were being split, so the bitmaps' invariants still hold and
 * a free of a cached block (a double free) is refused as before. An
 * alloc+free pair through the cache costs two atomic RMWs on the block's
 * word (set A, clear A: what makes every free validated) and no split,
 * merge, search or summary update.
 *
 * A cache belongs to one thread: its slot (in the heap's memory, so stats
 * and check see it from any process) is claimed with a CAS and given back
 * when the thread exits. Only the owner moves blocks in or out. Other
 * threads ask for them back through cache_epoch: an allocation that finds
 * no block bumps it, and every owner, at its next cached operation, sees
 * the new epoch and returns all its blocks to the heap, where they
 * coalesce. An owner that makes no further call keeps what it has (at most
 * 1/512 of the heap) until it exits or calls iop_heap_cache_flush().
 */
#ifndef IOP_HEAP_CACHE_H
#define IOP_HEAP_CACHE_H

#include "heap_hooks.h"
#include "heap_layout.h"

struct heap_cache_reg;

/* What a thread knows about its cache of one heap. */
struct heap_cache_binding {
	struct iop_heap *h;
	struct heap_cache *c;      /* NULL: no slot was free; use the heap */
	struct heap_cache_reg *reg;
	uint64_t seen_epoch;       /* h->cache_epoch when last drained */
};

#define HEAP_CACHE_BINDINGS 4u

extern _Thread_local struct heap_cache_binding heap_cache_bindings[HEAP_CACHE_BINDINGS];
extern _Thread_local uint64_t heap_cache_bindings_gen;
extern _Atomic uint64_t heap_cache_destroy_gen;

struct heap_cache_binding *heap_cache_bind(struct iop_heap *h);
void heap_cache_revalidate(void);
void *heap_cache_refill_alloc(struct iop_heap *h, struct heap_cache_binding *cb, uint32_t n,
			      uint16_t tag);
void heap_cache_spill(struct iop_heap *h, struct heap_cache *c, uint32_t i);
void heap_cache_drain(struct iop_heap *h, struct heap_cache_binding *cb);
uint64_t heap_cache_request_drain(struct iop_heap *h);
/* Every block in the depot back to the heap (where it coalesces). @return how many. */
unsigned heap_depot_drain(struct iop_heap *h);
/* Does the depot hold blocks? */
bool heap_depot_holding(const struct iop_heap *h);
bool heap_caches_draining(const struct iop_heap *h, uint64_t epoch);
void heap_cache_forget_heap(struct iop_heap *h);
struct heap_cache_binding *heap_cache_find(struct iop_heap *h);

/* From heap_alloc.c: the global heap underneath the caches. */
int64_t heap_take_held(struct iop_heap *h, uint32_t n);
/* Publish held block b of order k free, merging upward; returns the merges it made. */
unsigned heap_release_held(struct iop_heap *h, uint32_t k, uint64_t b);
/* Merge every pair of free buddies, upward as far as they go (heap_coalesce.c); returns the merges. */
uint64_t heap_coalesce(struct iop_heap *h);
int heap_unmark_alloc(struct iop_heap *h, uint64_t off, uint32_t n);

static inline bool heap_cache_covers(const struct iop_heap *h, uint32_t n)
{
	return n - h->min_order < h->cache_orders;
}

/* This thread's binding to h, or NULL if it has no cache for h. */
static inline struct heap_cache_binding *heap_cache_binding(struct iop_heap *h)
{
	/* A heap destroyed somewhere in the process invalidates bindings first. */
	if (__builtin_expect(heap_cache_bindings_gen !=
				     atomic_load_explicit(&heap_cache_destroy_gen, memory_order_acquire),
			     0))
		heap_cache_revalidate();
	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++)
		if (heap_cache_bindings[i].h == h)
			return heap_cache_bindings[i].c != NULL ? &heap_cache_bindings[i] : NULL;
	return heap_cache_bind(h);
}

static inline void heap_cache_check_epoch(struct iop_heap *h, struct heap_cache_binding *cb)
{
	if (__builtin_expect(atomic_load_explicit(&h->cache_epoch, memory_order_relaxed) !=
				     cb->seen_epoch,
			     0))
		heap_cache_drain(h, cb);
}

static inline void *heap_cache_alloc(struct iop_heap *h, struct heap_cache_binding *cb,
				     uint32_t n, uint16_t tag)
{
	struct heap_cache *c = cb->c;
	uint32_t i = n - h->min_order;
	uint32_t cnt;
	uint64_t b;

	heap_cache_check_epoch(h, cb);
	cnt = atomic_load_explicit(&c->count[i], memory_order_relaxed);
	if (cnt == 0)
		return heap_cache_refill_alloc(h, cb, n, tag);
	b = atomic_load_explicit(&c->block[i][cnt - 1], memory_order_relaxed);
	/*
	 * Tagged, then allocated, then out of the cache: at every point a
	 * process killed here leaves the block either in its cache (drained by
	 * iop_heap_cache_reclaim_process(), which skips an allocated one) or
	 * allocated with its tag (freed by iop_heap_reclaim_tag()).
	 * acq_rel: ordered after the free that made it held (same word), and it
	 * publishes the tag.
	 */
	heap_tag_block(h, n, b, tag);
	HEAP_HOOK(HEAP_HOOK_CACHE_POP_TAGGED);
	atomic_fetch_or_explicit(heap_block_word(h, n, b), heap_alloc_bit(b), memory_order_acq_rel);
	HEAP_HOOK(HEAP_HOOK_CACHE_POP_ALLOCATED);
	atomic_store_explicit(&c->count[i], cnt - 1, memory_order_relaxed);
	return heap_blocks(h) + (b << n);
}

/*
 * Free into this thread's cache. Validated first, like any free (of two frees
 * of one block exactly one wins), so a refused free changes nothing: no slot
 * is claimed, no cache drained, nothing cached.
 *
 * The block goes into the cache before its A bit is cleared, so a process
 * killed at any point leaves it allocated (freed by iop_heap_reclaim_tag()),
 * or cached and free (drained by iop_heap_cache_reclaim_process()), never
 * in neither. A free that loses the race to a second free of the same block
 * takes it out of the cache again.
 */
static inline int heap_cache_free(struct iop_heap *h, uint32_t n, uint64_t off)
{
	uint32_t i = n - h->min_order;
	uint64_t b = off >> n;
	struct heap_cache_binding *cb;
	struct heap_cache *c;
	uint32_t cnt;
	int rc;

	if (!(atomic_load_explicit(heap_block_word(h, n, b), memory_order_relaxed) &
	      heap_alloc_bit(b)))
		return heap_unmark_alloc(h, off, n); /* refused, and diagnosed, there */
	cb = heap_cache_binding(h);
	if (cb == NULL) {
		rc = heap_unmark_alloc(h, off, n);
		if (rc == 0)
			heap_release_held(h, n, b); /* no cache: straight back to the heap */
		return rc;
	}
	heap_cache_check_epoch(h, cb);
	c = cb->c;
	cnt = atomic_load_explicit(&c->count[i], memory_order_relaxed);
	if (cnt == h->cache_depth[i]) {
		heap_cache_spill(h, c, i);
		cnt = atomic_load_explicit(&c->count[i], memory_order_relaxed);
	}
	atomic_store_explicit(&c->block[i][cnt], (uint32_t)b, memory_order_relaxed);
	atomic_store_explicit(&c->count[i], cnt + 1, memory_order_relaxed);
	HEAP_HOOK(HEAP_HOOK_CACHE_FREE_PUSHED);
	/* Its release orders the cache stores before the block is seen free. */
	rc = heap_unmark_alloc(h, off, n);
	if (rc != 0)
		atomic_store_explicit(&c->count[i], cnt, memory_order_relaxed);
	return rc;
}

#endif /* IOP_HEAP_CACHE_H */
