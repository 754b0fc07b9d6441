/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Deferred coalescing. HeapFree (patent FIG. 6) merges a freed block with its
 * buddy at once, and up as far as the merge carries; HeapAlloc splits back
 * down. A pair of one size, allocated and freed in turn, pays both cascades
 * every time: about 18 levels of compare-and-swap on words every thread
 * shares, for a 64-byte block of a 16 MiB heap. Here a free only marks its
 * block free at its own order, where the next allocation of that size takes
 * it with one compare-and-swap, and the merging is done when it is needed:
 * by an allocation that finds no block large enough (alloc_slow, before it
 * can say ENOMEM), by iop_heap_cache_flush() and by iop_heap_coalesce().
 *
 * A sweep takes every pair of free buddies of an order out of their word in
 * one compare-and-swap (both F bits cleared together, so no other thread can
 * take either half meanwhile) and releases the parent, which merges upward
 * while its own buddy is free, as HeapFree would have. The pair is in flight
 * between the two (heap_inflight.h), so an allocation that finds nothing
 * meanwhile searches again instead of failing. Orders are swept from the
 * smallest up, so a parent made by one order's sweep is merged by the next.
 * The result is the heap an eager HeapFree would have left: the buddy system
 * has one fully merged form for each set of allocated blocks.
 */
#include "heap_cache.h"
#include "heap_hooks.h"
#include "heap_inflight.h"
#include "heap_summary.h"

/* Bits 0, 2, 4, ...: the first of each buddy pair in a block word's F half. */
#define PAIR_FIRSTS 0x55555555ull

/* Merge the free buddy pairs of block word w of order k, and upward; returns the merges. */
static uint64_t coalesce_word(struct iop_heap *h, uint32_t k, uint64_t w)
{
	_Atomic uint64_t *word = heap_level_word(h, k, 0, w);
	uint64_t v = atomic_load_explicit(word, memory_order_relaxed);

	for (;;) {
		uint64_t pairs = v & (v >> 1) & PAIR_FIRSTS;
		_Atomic uint64_t *slot;
		uint64_t nv;

		if (pairs == 0)
			return 0;
		slot = inflight_slot(h);
		inflight_begin(slot);
		nv = v & ~(pairs | pairs << 1);
		/* acq_rel: as a claim (after the frees that published them) and a publish. */
		if (atomic_compare_exchange_weak_explicit(word, &v, nv, memory_order_acq_rel,
							  memory_order_relaxed)) {
			uint64_t n = 0;

			/* Emptied: it stays so until a split comes down (see merge_up). */
			if ((nv & HEAP_FREE_MASK) == 0)
				summary_sync(h, k, 0, w);
			HEAP_HOOK(HEAP_HOOK_COALESCE_PAIRS);
			/* Each pair is a merge, and its parent may merge on up. */
			for (; pairs != 0; pairs &= pairs - 1)
				n += 1 + heap_release_held(h, k + 1,
							   (w * HEAP_BLOCKS_PER_WORD +
							    (uint64_t)__builtin_ctzll(pairs)) >> 1);
			inflight_end(slot);
			return n;
		}
		inflight_abort(slot);
	}
}

/*
 * Every word of order k that may hold a free block: those under set bits of
 * the first summary level (its invariant: a word with a free block has its
 * bit set), or every word when the order has no summary level.
 */
static uint64_t coalesce_order(struct iop_heap *h, uint32_t k)
{
	const struct heap_order *o = &h->orders[k];
	uint64_t merged = 0;

	if (o->levels == 1) {
		for (uint64_t w = 0; w < o->level_words[0]; w++)
			merged += coalesce_word(h, k, w);
		return merged;
	}
	for (uint64_t s = 0; s < o->level_words[1]; s++) {
		uint64_t bits = atomic_load_explicit(heap_level_word(h, k, 1, s),
						     memory_order_acquire);

		for (; bits != 0; bits &= bits - 1)
			merged += coalesce_word(h, k, s * 64 + (uint64_t)__builtin_ctzll(bits));
	}
	return merged;
}

uint64_t heap_coalesce(struct iop_heap *h)
{
	uint64_t merged = 0;

	for (uint32_t k = h->min_order; k < h->max_order; k++)
		merged += coalesce_order(h, k);
	return merged;
}

size_t iop_heap_coalesce(struct iop_heap *h)
{
	return heap_valid(h) ? (size_t)heap_coalesce(h) : 0;
}
