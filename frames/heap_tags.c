/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Block tags: who holds each block, for heaps that have a table of them
 * (see iop_heap.h). The table lives in the heap's mapping and is found from
 * the header by a relative offset, like the rest of the heap's metadata.
 */
#include <errno.h>
#include <stdbool.h>

#include "heap_layout.h"
#include "heap_tags.h"

size_t heap_tags_bytes(size_t n, const struct iop_heap_opts *opts)
{
	size_t min = opts != NULL && opts->min_block != 0 ? opts->min_block
							  : IOP_HEAP_MIN_BLOCK_DEFAULT;

	return (size_t)((1ull << heap_ceil_log2(n)) / min * sizeof(uint16_t));
}

void heap_tags_attach(struct iop_heap *h, void *table)
{
	h->tags_rel = (int64_t)((char *)table - (char *)h);
}

/* The tag entry of the allocated block starting at p, or NULL (*rc says why). */
static _Atomic uint16_t *tag_of(const struct iop_heap *h, const void *p, int *rc)
{
	_Atomic uint16_t *t = heap_valid(h) ? heap_tags(h) : NULL;

	if (t == NULL) {
		*rc = -ENOTSUP;
		return NULL;
	}
	if (iop_heap_allocated_size(h, p) == 0) {
		*rc = -EFAULT;
		return NULL;
	}
	return &t[(size_t)((const char *)p - heap_blocks(h)) >> h->min_order];
}

int iop_heap_tag_set(struct iop_heap *h, const void *p, uint16_t tag)
{
	int rc = 0;
	_Atomic uint16_t *t = tag_of(h, p, &rc);

	if (t != NULL)
		atomic_store_explicit(t, tag, memory_order_relaxed);
	return rc;
}

/*
 * Is p the start of a block of block_bytes, as far as the heap's bounds and
 * alignment go? *off gets its offset in the block area.
 */
static bool block_in_bounds(const struct iop_heap *h, const void *p, size_t block_bytes,
			    uint64_t *off)
{
	/*
	 * Below the blocks, p - blocks wraps; below the smallest block
	 * (min_block_mask + 1), so does block_bytes - 1 - min_block_mask: one
	 * compare for both ends of each range.
	 */
	*off = (uint64_t)((uintptr_t)p - (uintptr_t)heap_blocks(h));
	return *off < h->heap_bytes &&
	       block_bytes - 1 - h->min_block_mask < h->heap_bytes - h->min_block_mask &&
	       ((block_bytes & (block_bytes - 1)) | (*off & (block_bytes - 1))) == 0;
}

int iop_heap_tag_set_block(struct iop_heap *h, const void *p, size_t block_bytes, uint16_t tag)
{
	_Atomic uint16_t *t = heap_valid(h) ? heap_tags(h) : NULL;
	uint64_t off;

	if (t == NULL)
		return -ENOTSUP;
	if (!block_in_bounds(h, p, block_bytes, &off))
		return -EFAULT;
	atomic_store_explicit(&t[off >> h->min_order], tag, memory_order_relaxed);
	return 0;
}

int iop_heap_tag_view(const struct iop_heap *h, struct iop_heap_tag_view *v)
{
	if (v == NULL || !heap_valid(h))
		return -EINVAL;
	*v = (struct iop_heap_tag_view){
		.blocks = heap_blocks(h),
		.tags = heap_tags(h),
		.heap_bytes = h->heap_bytes,
		.min_order = h->min_order,
	};
	return v->tags != NULL ? 0 : -ENOTSUP;
}

int iop_heap_block_tag(const struct iop_heap *h, const void *p, size_t block_bytes)
{
	_Atomic uint16_t *t = heap_valid(h) ? heap_tags(h) : NULL;
	uint32_t n;
	uint64_t off, b;

	if (t == NULL)
		return -ENOTSUP;
	if (!block_in_bounds(h, p, block_bytes, &off))
		return -EFAULT;
	/* Allocated as a block of exactly this size: the A bit of its order, and no other. */
	n = (uint32_t)__builtin_ctzll(block_bytes);
	b = off >> n;
	if (!((atomic_load_explicit(heap_block_word(h, n, b), memory_order_acquire) >>
	       (32 + b % HEAP_BLOCKS_PER_WORD)) & 1))
		return -EFAULT;
	return atomic_load_explicit(&t[off >> h->min_order], memory_order_relaxed);
}

int iop_heap_tag(const struct iop_heap *h, const void *p)
{
	int rc = 0;
	_Atomic uint16_t *t = tag_of(h, p, &rc);

	return t != NULL ? atomic_load_explicit(t, memory_order_relaxed) : rc;
}

size_t iop_heap_reclaim_tag(struct iop_heap *h, uint16_t tag)
{
	_Atomic uint16_t *t = heap_valid(h) ? heap_tags(h) : NULL;
	size_t n, freed = 0;

	if (t == NULL)
		return 0;
	n = (size_t)(1ull << (h->max_order - h->min_order));
	for (size_t i = 0; i < n; i++) {
		char *p;
		size_t bytes;

		if (atomic_load_explicit(&t[i], memory_order_relaxed) != tag)
			continue;
		/*
		 * Only an allocated block's tag counts: a free block keeps the tag
		 * of its last holder, and an entry inside a larger block is no
		 * block's. An allocation that made this block someone else's wrote
		 * its own tag first, so the tag is read again after the A bit.
		 */
		p = heap_blocks(h) + (i << h->min_order);
		bytes = iop_heap_allocated_size(h, p);
		atomic_thread_fence(memory_order_acquire);
		if (bytes == 0 || atomic_load_explicit(&t[i], memory_order_relaxed) != tag)
			continue;
		if (iop_heap_free(h, p, bytes) == 0)
			freed++;
	}
	return freed;
}
