/* SPDX-License-Identifier: BSD-3-Clause */
/* Giving a heap its tag table: private to frames/ (the window does it at create). */
#ifndef IOP_HEAP_TAGS_H
#define IOP_HEAP_TAGS_H

#include <stddef.h>

#include "iop_heap.h"

/** Bytes of the tag table of a heap of n bytes (one 16-bit tag per smallest block). */
size_t heap_tags_bytes(size_t n, const struct iop_heap_opts *opts);

/**
 * Give h (just created, used by nobody yet) the zeroed table at `table`, of
 * heap_tags_bytes() bytes, in the same mapping as the heap.
 */
void heap_tags_attach(struct iop_heap *h, void *table);

#endif /* IOP_HEAP_TAGS_H */
