/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Test hooks: points inside alloc and free where a test may stop a thread to
 * show that the others still complete. Compiled in only when the heap sources
 * are built with IOP_HEAP_TEST_HOOKS (the test programs do that); the library
 * itself has none.
 */
#ifndef IOP_HEAP_HOOKS_H
#define IOP_HEAP_HOOKS_H

enum heap_hook_point {
	HEAP_HOOK_ALLOC_CLAIMED,  /* took a larger block, halves not yet published */
	HEAP_HOOK_ALLOC_SPLIT,    /* between publishing two halves */
	HEAP_HOOK_FREE_MERGING,   /* took the buddy, parent not yet published */
	HEAP_HOOK_COALESCE_PAIRS, /* coalesce: a word's free pairs taken, parents not yet released */
	HEAP_HOOK_FREE_PUBLISHING, /* freed into an empty word, summary not yet set */
	HEAP_HOOK_FREE_DONE_WORD, /* freed without merge, before returning */
	HEAP_HOOK_CACHE_POP_TAGGED,    /* cached block tagged, not yet allocated */
	HEAP_HOOK_CACHE_POP_ALLOCATED, /* cached block allocated, still counted in the cache */
	HEAP_HOOK_REFILL_ALLOCATED,    /* reserve piece allocated, still in the reserve */
	HEAP_HOOK_CACHE_FREE_PUSHED,   /* freed block in the cache, still allocated */
	HEAP_HOOK_ALLOC_TAGGED,        /* uncached: block held and tagged, not yet allocated */
	HEAP_HOOK_REFILL_CHUNK_STARTED, /* new reserve chunk: start recorded, end not yet */
	HEAP_HOOK_CACHE_SPILLING,      /* spill: a block off the cache's record, not yet released */
	HEAP_HOOK_DEPOT_GIVING,        /* spill: a magazine off the cache, not yet in the depot */
};

#ifdef IOP_HEAP_TEST_HOOKS
extern void (*volatile heap_test_hook)(enum heap_hook_point point);
#define HEAP_HOOK(point)                                                                           \
	do {                                                                                       \
		if (heap_test_hook != NULL)                                                        \
			heap_test_hook(point);                                                     \
	} while (0)
#else
#define HEAP_HOOK(point) ((void)0)
#endif

#endif /* IOP_HEAP_HOOKS_H */
