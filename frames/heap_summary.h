/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Summary bits: which block words of an order hold a free block, kept as a
 * tree of 64-bit words per order and topped by the heap data structure
 * (nonempty_orders). They are hints that searches follow; what a search takes
 * is decided by the compare-and-swap on the block word itself.
 *
 * The invariant: a word that holds a free block has its summary bit set,
 * at every level (otherwise the block would be invisible and an allocation
 * could fail with memory free). The converse is kept lazily: an allocation
 * that empties a word leaves the bit set, since a free of the same size often
 * refills it at once; a search that meets a set bit over an empty word clears
 * it then (summary_clean). A merge, whose emptied word stays empty until a
 * split comes back down, clears at once.
 *
 * Whoever sets a word from empty, or clears a bit, calls summary_sync:
 * read the word, set or clear the bit above to match (an RMW), re-read the
 * word, and repeat if it changed meanwhile; then, if any of its RMWs changed
 * the parent's emptiness, sync one level up.
 *
 * Why a free block is never left invisible: take the last RMW R on the bit.
 * If R sets it, fine. If R clears it, R was a sync that then re-read the word.
 * The last setter S of the word synced after its word write; S's RMW came
 * before R (R is last), so R read it or a later RMW (all parent updates are
 * RMWs: release -> acquire), S's word write happens before R's re-read, and
 * the re-read saw the block and set the bit again: contradiction.
 */
#ifndef IOP_HEAP_SUMMARY_H
#define IOP_HEAP_SUMMARY_H

#include "heap_inflight.h"
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
 * A search met a set bit over an empty word: clear it (and upward while
 * that empties the parents). In flight, because between clearing a bit and
 * re-reading the word, a block freed into it meanwhile is invisible.
 */
static inline void summary_clean(struct iop_heap *h, uint32_t k, uint32_t level, uint64_t idx)
{
	_Atomic uint64_t *slot = inflight_slot(h);

	inflight_begin(slot);
	summary_sync(h, k, level, idx);
	inflight_end(slot);
}

/*
 * Find a block word of order k with a free block among words [from, to],
 * lowest first, in the subtree of (level, idx): children wholly outside the
 * range are masked off. Cleans the stale bits it meets, but only of
 * children wholly inside the range: one that straddles an end may hold its
 * free blocks outside, which is not stale, and an RMW on its bit would move
 * a shared line for nothing. Returns false if none.
 */
static inline bool summary_find_rec(struct iop_heap *h, uint32_t k, uint32_t level,
				    uint64_t idx, uint64_t from, uint64_t to, uint64_t *word)
{
	uint64_t v = atomic_load_explicit(heap_level_word(h, k, level, idx), memory_order_acquire);
	uint32_t shift;
	uint64_t base;

	if (level == 0) {
		*word = idx;
		return (v & HEAP_FREE_MASK) != 0;
	}
	/* Child c of this word covers words [(base + c) << shift, (base + c + 1) << shift). */
	shift = 6 * (level - 1);
	base = idx * 64;
	if ((from >> shift) > base)
		v &= ~0ull << ((from >> shift) - base);
	if ((to >> shift) < base + 63)
		v &= ~0ull >> (63 - ((to >> shift) - base));
	while (v != 0) {
		uint64_t child = base + (uint64_t)__builtin_ctzll(v);

		if (summary_find_rec(h, k, level - 1, child, from, to, word))
			return true;
		if (child << shift >= from && ((child + 1) << shift) - 1 <= to)
			summary_clean(h, k, level - 1, child);
		v &= v - 1;
	}
	return false;
}

/*
 * A block word of order k with a free block among words [from, to], the
 * lowest first (address-ordered first fit keeps large blocks whole longer).
 * Returns false if there is none. A search of the whole order that finds
 * nothing clears the order's bit in the heap data structure if it is stale.
 */
static inline bool summary_find(struct iop_heap *h, uint32_t k, uint64_t from, uint64_t to,
				uint64_t *word)
{
	uint32_t top = h->orders[k].levels - 1;

	/* The heap data structure first: one bit says whether to look at all. */
	if (!(atomic_load_explicit(&h->nonempty_orders, memory_order_acquire) & (1ull << k)))
		return false;
	if (summary_find_rec(h, k, top, 0, from, to, word))
		return true;
	if (from == 0 && to + 1 >= h->orders[k].level_words[0])
		summary_clean(h, k, top, 0);
	return false;
}

#endif /* IOP_HEAP_SUMMARY_H */
