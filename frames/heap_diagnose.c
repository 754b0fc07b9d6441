/* SPDX-License-Identifier: BSD-3-Clause */
#include <errno.h>

#include "heap_diagnose.h"

int heap_diagnose_free(const struct iop_heap *h, uint64_t off, uint32_t n)
{
	(void)n;
	/* Exactly one block of some order covers any byte at quiescence; find
	 * it from the smallest order up. Under concurrent change the answer is
	 * the state seen at that moment, which is all a refused free can say. */
	for (uint32_t k = h->min_order; k <= h->max_order; k++) {
		uint64_t b = off >> k;
		uint64_t v = atomic_load_explicit(heap_block_word(h, k, b), memory_order_acquire);

		if (v & heap_alloc_bit(b))
			return (b << k) == off ? -ERANGE : -ENXIO;
		if (v & heap_free_bit(b))
			return -EALREADY;
	}
	/* Covered by nothing: a merge is carrying it upward right now. */
	return -EALREADY;
}
