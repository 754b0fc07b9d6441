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

/*
 * A thread's bindings, in one thread-local object: one address for the
 * lookup. The TLS model is the default one, so that libiop.so can be loaded
 * with dlopen() (initial-exec would make the loader find room in its small
 * static TLS reserve, and fail when there is none); the library is built with
 * TLS descriptors where the compiler has them (-mtls-dialect=gnu2), whose
 * call preserves every register but its result, and executables linked with
 * the static archive get a plain offset from the thread pointer.
 */
struct heap_cache_thread {
	uint64_t gen; /* heap_cache_destroy_gen when the bindings were last revalidated */
	struct heap_cache_binding binding[HEAP_CACHE_BINDINGS];
};

extern _Thread_local struct heap_cache_thread heap_cache_thread;
extern _Atomic uint64_t heap_cache_destroy_gen;

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
/* A free of the block at off, order n, that is not allocated: counted, diagnosed, refused. */
int heap_free_refused(struct iop_heap *h, uint64_t off, uint32_t n);
/* The free of a cached order by a thread without a cache: to the bitmap, merged later. */
int heap_free_uncached_held(struct iop_heap *h, uint64_t off, uint32_t n);
/*
 * The cached free of an allocated-looking block when heap_cache_free() cannot
 * finish it inline: no binding at hand, a drain asked for, a full cache.
 */
int heap_cache_free_slow(struct iop_heap *h, uint32_t n, uint64_t off);
/* heap_cache_binding() when the first look missed: revalidate, search, bind. */
struct heap_cache_binding *heap_cache_binding_slow(struct iop_heap *h);

static inline bool heap_cache_covers(const struct iop_heap *h, uint32_t n)
{
	return n - h->min_order < h->cache_orders;
}

/*
 * The common case of the lookup, with no call: no heap destroyed since the
 * last look, and h in the first binding or the second (a window's two heaps;
 * heap_cache_binding_slow() moves the busiest forward). NULL: ask the slow one.
 */
static inline struct heap_cache_binding *heap_cache_binding_at_hand(struct iop_heap *h)
{
	struct heap_cache_thread *t = &heap_cache_thread;

	/* A heap destroyed somewhere in the process invalidates bindings first. */
	if (__builtin_expect(t->gen !=
				     atomic_load_explicit(&heap_cache_destroy_gen, memory_order_acquire),
			     0))
		return NULL;
	if (t->binding[0].h == h && t->binding[0].c != NULL)
		return &t->binding[0];
	if (t->binding[1].h == h && t->binding[1].c != NULL)
		return &t->binding[1];
	return NULL;
}

/* This thread's binding to h, or NULL if it has no cache for h. */
static inline struct heap_cache_binding *heap_cache_binding(struct iop_heap *h)
{
	struct heap_cache_binding *cb = heap_cache_binding_at_hand(h);

	return cb != NULL ? cb : heap_cache_binding_slow(h);
}

static inline bool heap_cache_epoch_moved(const struct iop_heap *h,
					  const struct heap_cache_binding *cb)
{
	return atomic_load_explicit(&h->cache_epoch, memory_order_relaxed) != cb->seen_epoch;
}

static inline void heap_cache_check_epoch(struct iop_heap *h, struct heap_cache_binding *cb)
{
	if (__builtin_expect(heap_cache_epoch_moved(h, cb), 0))
		heap_cache_drain(h, cb);
}

/*
 * Block b of order n = min_order + i, the top of cache c's order i (count
 * cnt), to its caller. Tagged, then allocated, then out of the cache: at
 * every point a process killed here leaves the block either in its cache
 * (drained by iop_heap_cache_reclaim_process(), which skips an allocated one)
 * or allocated with its tag (freed by iop_heap_reclaim_tag()).
 */
static inline void *heap_cache_pop(struct iop_heap *h, struct heap_cache *c, uint32_t n,
				   uint32_t cnt, uint16_t tag)
{
	uint32_t i = n - h->min_order;
	uint64_t b = atomic_load_explicit(&c->block[i][cnt - 1], memory_order_relaxed);
	/* b << i: its first smallest block, which indexes the tags and the block area alike. */
	uint64_t first = b << i;
	_Atomic uint16_t *tags = heap_tags(h);
	/* Before the RMW, across which the compiler would read the header again. */
	char *block = heap_blocks(h) + (first << h->min_order);

	if (tags != NULL)
		atomic_store_explicit(&tags[first], tag, memory_order_relaxed);
	HEAP_HOOK(HEAP_HOOK_CACHE_POP_TAGGED);
	/* acq_rel: ordered after the free that made it held (same word); publishes the tag. */
	atomic_fetch_or_explicit(heap_block_word(h, n, b), heap_alloc_bit(b), memory_order_acq_rel);
	HEAP_HOOK(HEAP_HOOK_CACHE_POP_ALLOCATED);
	atomic_store_explicit(&c->count[i], cnt - 1, memory_order_relaxed);
	return block;
}

/* The cached alloc, whatever it takes: a drain, a refill. NULL: the cache could not. */
static inline void *heap_cache_alloc(struct iop_heap *h, struct heap_cache_binding *cb,
				     uint32_t n, uint16_t tag)
{
	struct heap_cache *c = cb->c;
	uint32_t cnt;

	heap_cache_check_epoch(h, cb);
	cnt = atomic_load_explicit(&c->count[n - h->min_order], memory_order_relaxed);
	if (cnt == 0)
		return heap_cache_refill_alloc(h, cb, n, tag);
	return heap_cache_pop(h, c, n, cnt, tag);
}

/*
 * The cached alloc when nothing but the pop is needed: a binding at hand,
 * no drain asked for, a block in the cache. NULL, having done nothing,
 * otherwise: the caller goes the whole way (a tail call, so that this path
 * saves no registers for the others).
 */
static inline void *heap_cache_alloc_at_hand(struct iop_heap *h, uint32_t n, uint16_t tag)
{
	struct heap_cache_binding *cb = heap_cache_binding_at_hand(h);
	uint32_t cnt;

	if (__builtin_expect(cb == NULL || heap_cache_epoch_moved(h, cb), 0))
		return NULL;
	cnt = atomic_load_explicit(&cb->c->count[n - h->min_order], memory_order_relaxed);
	if (__builtin_expect(cnt == 0, 0))
		return NULL;
	return heap_cache_pop(h, cb->c, n, cnt, tag);
}

/*
 * Block off (order n), seen allocated in its bitmap word, into cache c
 * (count cnt, room for one more), then its A bit cleared: in that order, so
 * that a process killed at any point leaves it allocated (freed by
 * iop_heap_reclaim_tag()), or cached and free (drained by
 * iop_heap_cache_reclaim_process()), never in neither. The RMW that clears A
 * returns the word as it was: a free that lost the race to a second free of
 * the same block finds A already clear (so its RMW changed nothing) and
 * takes the block out of the cache again.
 */
static inline int heap_cache_push(struct iop_heap *h, struct heap_cache *c, uint32_t n,
				  uint32_t cnt, uint64_t off, _Atomic uint64_t *word)
{
	uint32_t i = n - h->min_order;
	uint64_t b = off >> n;

	atomic_store_explicit(&c->block[i][cnt], (uint32_t)b, memory_order_relaxed);
	atomic_store_explicit(&c->count[i], cnt + 1, memory_order_relaxed);
	HEAP_HOOK(HEAP_HOOK_CACHE_FREE_PUSHED);
	/*
	 * release: the cache stores, and the caller's writes to the block,
	 * before anyone sees it not allocated; acquire: as the CAS it replaced.
	 */
	if (__builtin_expect(!(atomic_fetch_and_explicit(word, ~heap_alloc_bit(b),
							  memory_order_acq_rel) &
			       heap_alloc_bit(b)),
			     0)) {
		atomic_store_explicit(&c->count[i], cnt, memory_order_relaxed);
		return heap_free_refused(h, off, n);
	}
	return 0;
}

/*
 * Free into this thread's cache. Validated first, like any free (of two frees
 * of one block exactly one wins), so a refused free changes nothing: no slot
 * is claimed, no cache drained, nothing cached. Inline only the common case;
 * everything else is a tail call.
 */
static inline int heap_cache_free(struct iop_heap *h, uint32_t n, uint64_t off)
{
	uint64_t b = off >> n;
	_Atomic uint64_t *word = heap_block_word(h, n, b);
	struct heap_cache_binding *cb;
	uint32_t cnt;

	/* The check before any cache work, so that a refused free claims and drains nothing. */
	if (__builtin_expect(!(atomic_load_explicit(word, memory_order_relaxed) & heap_alloc_bit(b)),
			     0))
		return heap_free_refused(h, off, n);
	cb = heap_cache_binding_at_hand(h);
	if (__builtin_expect(cb == NULL || heap_cache_epoch_moved(h, cb), 0))
		return heap_cache_free_slow(h, n, off);
	cnt = atomic_load_explicit(&cb->c->count[n - h->min_order], memory_order_relaxed);
	if (__builtin_expect(cnt == h->cache_depth[n - h->min_order], 0))
		return heap_cache_free_slow(h, n, off);
	return heap_cache_push(h, cb->c, n, cnt, off, word);
}

#endif /* IOP_HEAP_CACHE_H */
