/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A classic sequential buddy allocator, the prior art the patent improves on:
 * power-of-two blocks, one doubly linked free list per order kept inside the
 * free blocks, and a byte per minimum block that gives the order of the free
 * block starting there, so a free finds its buddy (offset XOR size) and takes
 * it off its list in O(1). Not thread safe: the spin-buddy and mutex-buddy
 * peers put one lock around every call.
 */
#ifndef IOP_BENCH_BUDDY_H
#define IOP_BENCH_BUDDY_H

#include <stdbool.h>
#include <stddef.h>

struct buddy;

/* A heap of heap_bytes (a power of two) with blocks of min_block and up; NULL + errno. */
struct buddy *buddy_create(size_t heap_bytes, size_t min_block);
void buddy_destroy(struct buddy *b);
/* A block of the smallest power of two >= x (and >= min_block), or NULL. */
void *buddy_alloc(struct buddy *b, size_t x);
/* x: the size given to buddy_alloc() for p. */
void buddy_free(struct buddy *b, void *p, size_t x);
/* True when the whole heap is one free block: everything was coalesced. */
bool buddy_is_whole(const struct buddy *b);
/* Start of the heap's memory, for checking block alignment. */
const void *buddy_base(const struct buddy *b);

#endif /* IOP_BENCH_BUDDY_H */
