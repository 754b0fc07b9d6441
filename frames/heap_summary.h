/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Summary bits: which block words of an order hold a free block, kept as a
 * tree of 64-bit words per order and topped by the heap data structure
 * (nonempty_orders). They are hints that searches follow; what a search takes
 * is decided by the compare-and-swap on the block word itself.
 *
 * At quiescence each summary bit equals "the word below holds a free
 * block"; above all, a free block is never left invisible (an allocation could
 * fail with memory free). One rule gives that: the thread whose RMW changes a
 * word's emptiness syncs the bit above it: read the word, set or clear the bit
 * to match (an RMW), re-read the word, and repeat if it changed meanwhile;
 * then, if any of its RMWs changed the parent's emptiness, sync one level up.
 *
 * Why the last sync is right: all updates of a parent word are RMWs, so they
 * are totally ordered and each reads the one before it (release -> acquire).
 * Take the last RMW on the bit, by thread T. A word change M after T's re-read
 * would have its own sync RMW after T's (if it came before, T's RMW would
 * have read it, M would happen before T's re-read, and the re-read would see
 * M), contradicting "last". So T's re-read saw the final word, and T left the
 * bit matching it. A search may meet a set bit over an empty word for a
 * moment and skips it.
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

/* (level, idx) changed emptiness: make the bits above it agree (see top). */
static inline void summary_sync(const struct iop_heap *h, uint32_t k, uint32_t level, uint64_t idx)
{
	for (;;) {
		_Atomic uint64_t *child = heap_level_word(h, k, level, idx);
		uint64_t bit;
		_Atomic uint64_t *parent = summary_parent(h, k, level, idx, &bit);
		bool parent_changed = false;
		bool want = summary_word_nonempty(
			level, atomic_load_explicit(child, memory_order_acquire));

		for (;;) {
			uint64_t prev, now;
			bool again;

			if (want) {
				prev = atomic_fetch_or_explicit(parent, bit, memory_order_acq_rel);
				now = prev | bit;
			} else {
				prev = atomic_fetch_and_explicit(parent, ~bit, memory_order_acq_rel);
				now = prev & ~bit;
			}
			parent_changed |= (prev != 0) != (now != 0);
			again = summary_word_nonempty(
				level, atomic_load_explicit(child, memory_order_acquire));
			if (again == want)
				break;
			want = again;
		}
		if (level + 1 == h->orders[k].levels || !parent_changed)
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
