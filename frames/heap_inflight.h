/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * In-flight accounting. A split holds the block it took out of the bitmaps
 * until it has published the halves; a merge holds the pair it joined until
 * it has published the parent. For that moment the memory is in no bitmap, so
 * an allocation that finds nothing must not conclude that memory is exhausted.
 * Each thread announces such operations in a slot of its own (one cache line,
 * so the common path touches no shared line); the failing allocation compares
 * every slot before and after its search (heap_alloc.c).
 */
#ifndef IOP_HEAP_INFLIGHT_H
#define IOP_HEAP_INFLIGHT_H

#include "heap_layout.h"

#define INFLIGHT_ONE 1ull
#define INFLIGHT_DONE ((1ull << 32) - 1) /* in flight - 1, completed + 1 */

extern _Thread_local unsigned heap_thread_slot;
unsigned heap_assign_thread_slot(void);

static inline _Atomic uint64_t *inflight_slot(struct iop_heap *h)
{
	unsigned s = heap_thread_slot;

	if (__builtin_expect(s == 0, 0))
		s = heap_assign_thread_slot();
	return &h->inflight[s - 1].word;
}

/*
 * Announce before the CAS that takes a block out of the bitmaps. That CAS (or
 * the summary RMW after it) is a release that the searcher, which misses the
 * block, reads with acquire: so this increment happens before the searcher's
 * second snapshot, which sees it or its completion.
 */
static inline void inflight_begin(_Atomic uint64_t *slot)
{
	atomic_fetch_add_explicit(slot, INFLIGHT_ONE, memory_order_acq_rel);
}

/* The CAS did not take anything: withdraw without counting a completion. */
static inline void inflight_abort(_Atomic uint64_t *slot)
{
	atomic_fetch_sub_explicit(slot, INFLIGHT_ONE, memory_order_release);
}

/* The held memory is back in the bitmaps (release: after publishing it). */
static inline void inflight_end(_Atomic uint64_t *slot)
{
	atomic_fetch_add_explicit(slot, INFLIGHT_DONE, memory_order_release);
}

#endif /* IOP_HEAP_INFLIGHT_H */
