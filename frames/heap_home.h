/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A thread's home in a heap: the address where its searches of the bitmaps
 * start and towards which its splits keep their half.
 *
 * A block word holds 32 blocks, and every alloc and free of any of them is an
 * RMW on that word. Two threads that both search from the lowest address take
 * and give back blocks of the same words (the second thread gets the first
 * one's buddy), so every operation moves that cache line between their cores:
 * on 16 cores an uncached heap fell from 25 M pairs/s at one thread to 4 at
 * two. With homes far apart, each thread works on words of its own and meets
 * the others only where its region runs dry.
 *
 * The home is a fraction of the heap taken from the thread's slot (the one
 * heap_inflight.h assigns, distinct for up to 64 threads of a process), its
 * six bits reversed: slot 1 at 0, slot 2 at 1/2, slot 3 at 1/4, slot 4 at
 * 3/4, ..., so that the first few threads are as far apart as they can be.
 * Its region is the 64th of the heap that starts there. An allocation first
 * looks in its region only, every order from the wanted one up (a block of
 * a larger order counts if it holds the region's start, and is split
 * towards it); when the region has nothing, in ranges from the same start of
 * 2, 4, 8, ... 64ths (to the heap's end), the same way; only then in the
 * whole heap from the lowest address. A process's first thread (home 0) too:
 * otherwise its exact-order search would take the buddies that other
 * threads' splits leave in their regions. The growing ranges keep a thread
 * whose blocks outgrow its region next to it: the first eight threads'
 * homes are 1/8 of the heap apart, so each has that much before it meets
 * another's blocks. Placement stays deterministic for a given slot, which is
 * what the fuzzer's model checks. Only where searches look changes: what a
 * search takes is still decided by the CAS on the word.
 */
#ifndef IOP_HEAP_HOME_H
#define IOP_HEAP_HOME_H

#include "heap_inflight.h"

/* The calling thread's home, in 64ths of any heap (set with its slot). */
extern _Thread_local unsigned heap_thread_home;

/* A byte range of the heap, [lo, hi). */
struct heap_region {
	uint64_t lo;
	uint64_t hi;
};

/*
 * The calling thread's region of heap h: 1/64 of it, starting at its home.
 * False for a heap whose regions would hold less than one block word of
 * minimum blocks: there every thread searches the whole heap, lowest first.
 */
static inline bool heap_home_region(const struct iop_heap *h, struct heap_region *r)
{
	uint64_t rev;

	if (__builtin_expect(heap_thread_slot == 0, 0))
		heap_assign_thread_slot();
	rev = heap_thread_home;
	if (h->max_order < h->min_order + 6 + 5)
		return false;
	r->lo = rev << (h->max_order - 6);
	r->hi = r->lo + (1ull << (h->max_order - 6));
	return true;
}

#endif /* IOP_HEAP_HOME_H */
