/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block views (iop_heap.h): where one order's allocation bits and the tags
 * are, for the inline checks of a hot path. The inline code reads the bitmap
 * word as heap_layout.h lays it out; the assert keeps the two together.
 */
#include <errno.h>

#include "heap_layout.h"

_Static_assert(HEAP_BLOCKS_PER_WORD == 32, "iop_heap_view_holds() reads 32 blocks a word");

int iop_heap_block_view(const struct iop_heap *h, size_t block_bytes,
			struct iop_heap_block_view *v)
{
	uint32_t order;

	if (v == NULL)
		return -EINVAL;
	/* Refusing until filled: no bounds, no heap to ask, no tags. */
	*v = (struct iop_heap_block_view){ 0 };
	if (!heap_valid(h) || (block_bytes & (block_bytes - 1)) != 0)
		return -EINVAL;
	order = block_bytes == 0 ? h->min_order : (uint32_t)__builtin_ctzll(block_bytes);
	if (order < h->min_order || order > h->max_order)
		return -EINVAL;
	/* Without a table the base stores and finds no tags (-ENOTSUP): the view still works. */
	(void)iop_heap_tag_view(h, &v->base);
	v->heap = h;
	v->words = heap_block_word(h, order, 0);
	v->order = order;
	return 0;
}
