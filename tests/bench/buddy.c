/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sequential buddy allocator (see buddy.h). Written the way a careful textbook
 * implementation would be, so that the locked peers measure the cost of the
 * lock and not of a weak algorithm: allocation takes the first non-empty order
 * at or above the wanted one from a bitmask (one count-trailing-zeros), and a
 * free checks its buddy's tag byte and unlinks it from the middle of its list
 * without a search.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "buddy.h"

#define FREE_TAG 0x80u /* tag byte of a free block's first minimum block: FREE_TAG | order */
#define MAX_ORDERS 64u

/* Lives in the first bytes of every free block. */
struct free_block {
	struct free_block *next;
	struct free_block *prev;
};

struct buddy {
	char *base;
	size_t heap_bytes;
	unsigned min_order;
	unsigned max_order;
	uint64_t nonempty;                   /* bit k: list k has a block */
	struct free_block lists[MAX_ORDERS]; /* circular, each with its head as sentinel */
	uint8_t *tag;                        /* one byte per minimum block */
};

static unsigned log2_ceil(size_t x)
{
	return x <= 1 ? 0 : 64u - (unsigned)__builtin_clzll(x - 1);
}

static unsigned order_for(const struct buddy *b, size_t x)
{
	unsigned k = log2_ceil(x);

	return k < b->min_order ? b->min_order : k;
}

static uint8_t *tag_of(const struct buddy *b, size_t off)
{
	return &b->tag[off >> b->min_order];
}

static void list_push(struct buddy *b, unsigned k, size_t off)
{
	struct free_block *f = (struct free_block *)(b->base + off);
	struct free_block *head = &b->lists[k];

	f->next = head->next;
	f->prev = head;
	head->next->prev = f;
	head->next = f;
	b->nonempty |= 1ull << k;
	*tag_of(b, off) = (uint8_t)(FREE_TAG | k);
}

static void list_unlink(struct buddy *b, unsigned k, size_t off)
{
	struct free_block *f = (struct free_block *)(b->base + off);

	f->prev->next = f->next;
	f->next->prev = f->prev;
	if (b->lists[k].next == &b->lists[k])
		b->nonempty &= ~(1ull << k);
	*tag_of(b, off) = 0;
}

struct buddy *buddy_create(size_t heap_bytes, size_t min_block)
{
	struct buddy *b;

	if (heap_bytes == 0 || (heap_bytes & (heap_bytes - 1)) != 0 ||
	    min_block < sizeof(struct free_block) || (min_block & (min_block - 1)) != 0 ||
	    min_block > heap_bytes) {
		errno = EINVAL;
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->heap_bytes = heap_bytes;
	b->min_order = log2_ceil(min_block);
	b->max_order = log2_ceil(heap_bytes);
	/* calloc of this size is fresh zero pages: untouched tags cost nothing */
	b->tag = calloc(heap_bytes >> b->min_order, 1);
	b->base = mmap(NULL, heap_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b->tag == NULL || b->base == MAP_FAILED) {
		if (b->base != MAP_FAILED)
			munmap(b->base, heap_bytes);
		free(b->tag);
		free(b);
		errno = ENOMEM;
		return NULL;
	}
	for (unsigned k = 0; k < MAX_ORDERS; k++)
		b->lists[k].next = b->lists[k].prev = &b->lists[k];
	list_push(b, b->max_order, 0);
	return b;
}

void buddy_destroy(struct buddy *b)
{
	munmap(b->base, b->heap_bytes);
	free(b->tag);
	free(b);
}

void *buddy_alloc(struct buddy *b, size_t x)
{
	unsigned k, j;
	uint64_t avail;
	size_t off;

	if (x == 0 || x > b->heap_bytes)
		return NULL;
	k = order_for(b, x);
	avail = b->nonempty >> k;
	if (avail == 0)
		return NULL;
	j = k + (unsigned)__builtin_ctzll(avail);
	off = (size_t)((char *)b->lists[j].next - b->base);
	list_unlink(b, j, off);
	/* Split: keep the lower half, put each upper half on its order's list. */
	while (j > k) {
		j--;
		list_push(b, j, off + ((size_t)1 << j));
	}
	return b->base + off;
}

void buddy_free(struct buddy *b, void *p, size_t x)
{
	unsigned k = order_for(b, x);
	size_t off = (size_t)((char *)p - b->base);

	/* Coalesce upward while the buddy is a free block of the same order. */
	while (k < b->max_order) {
		size_t buddy = off ^ ((size_t)1 << k);

		if (*tag_of(b, buddy) != (FREE_TAG | k))
			break;
		list_unlink(b, k, buddy);
		off &= ~((size_t)1 << k);
		k++;
	}
	list_push(b, k, off);
}

bool buddy_is_whole(const struct buddy *b)
{
	const struct free_block *top = &b->lists[b->max_order];

	return b->nonempty == 1ull << b->max_order && top->next == (const void *)b->base &&
	       top->next->next == top;
}

const void *buddy_base(const struct buddy *b)
{
	return b->base;
}
