/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Summary bits: which block words of an order hold a free block, kept as a
 * tree of 64-bit words per order and topped by the heap data structure
 * (nonempty_orders). They are hints that searches follow; what a search takes
 * is decided by the compare-and-swap on the block word itself.
 *
 * The one invariant that matters: a word with a free block always has its
 * summary bit set (otherwise the block would be invisible and an allocation
 * could fail with memory free). Both sides follow one rule:
 *   setter:  RMW child 0 -> non-zero, then RMW parent |= bit;
 *   clearer: RMW child -> 0, then RMW parent &= ~bit, then load child and,
 *            if it became non-zero meanwhile, parent |= bit again.
 * All these are sequentially consistent, so either the clearer's load sees
 * the setter's child write, or the setter's parent write comes after the
 * clearer's (the store-load pattern that needs seq_cst, not acq_rel).
 * A summary bit may be set for an empty word for a moment; searches skip it.
 */
#ifndef IOP_HEAP_SUMMARY_H
#define IOP_HEAP_SUMMARY_H

#include "heap_layout.h"

/* The word one level up that holds the bit for (level, idx), and that bit. */
static inline _Atomic uint64_t *summary_parent(const struct iop_heap *h, uint32_t k,
					       uint32_t level, uint64_t idx, uint64_t *bit)
{
	if (level + 1 == h->orders[k].levels) {
		*bit = 1ull << k;
		return (_Atomic uint64_t *)&h->nonempty_orders;
	}
	*bit = 1ull << (idx % 64);
	return heap_level_word(h, k, level + 1, idx / 64);
}

static inline bool summary_word_nonempty(uint32_t level, uint64_t v)
{
	return level == 0 ? (v & HEAP_FREE_MASK) != 0 : v != 0;
}

/* (level, idx) went from empty to non-empty: set its bit, upward while new. */
static inline void summary_mark_nonempty(const struct iop_heap *h, uint32_t k,
					 uint32_t level, uint64_t idx)
{
	for (;;) {
		uint64_t bit;
		_Atomic uint64_t *parent = summary_parent(h, k, level, idx, &bit);
		uint64_t prev = atomic_fetch_or(parent, bit);

		if (level + 1 == h->orders[k].levels || prev != 0)
			return;
		level++;
		idx /= 64;
	}
}

/* (level, idx) went from non-empty to empty: clear its bit, upward while empty. */
static inline void summary_mark_empty(const struct iop_heap *h, uint32_t k,
				      uint32_t level, uint64_t idx)
{
	for (;;) {
		uint64_t bit;
		_Atomic uint64_t *parent = summary_parent(h, k, level, idx, &bit);
		uint64_t after = atomic_fetch_and(parent, ~bit) & ~bit;
		uint64_t child = atomic_load(heap_level_word(h, k, level, idx));

		if (summary_word_nonempty(level, child)) {
			/* A setter saw our bit still set and did not propagate: redo it. */
			summary_mark_nonempty(h, k, level, idx);
			return;
		}
		if (level + 1 == h->orders[k].levels || after != 0)
			return;
		level++;
		idx /= 64;
	}
}

/*
 * Find a block word of order k with a free block, starting at the lowest
 * address (address-ordered first fit keeps large blocks whole longer).
 * Skips stale summary bits. Returns false if the order looks empty.
 */
static inline bool summary_find_rec(const struct iop_heap *h, uint32_t k, uint32_t level,
				    uint64_t idx, uint64_t *word)
{
	uint64_t v = atomic_load_explicit(heap_level_word(h, k, level, idx), memory_order_acquire);

	if (level == 0) {
		*word = idx;
		return (v & HEAP_FREE_MASK) != 0;
	}
	while (v != 0) {
		uint64_t child = idx * 64 + (uint64_t)__builtin_ctzll(v);

		if (summary_find_rec(h, k, level - 1, child, word))
			return true;
		v &= v - 1;
	}
	return false;
}

static inline bool summary_find(const struct iop_heap *h, uint32_t k, uint64_t *word)
{
	return summary_find_rec(h, k, h->orders[k].levels - 1, 0, word);
}

#endif /* IOP_HEAP_SUMMARY_H */
