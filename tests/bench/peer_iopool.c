/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopool: the lock-free buddy heap of frames/, as a program gets it from
 * libiop, with default options (64-byte minimum block); iopool-cached: the
 * same with per-thread caches (IOP_HEAP_F_CACHED).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "iop_heap.h"

static void *iopool_create(size_t heap_bytes, size_t obj_size)
{
	(void)obj_size;
	return iop_heap_create(heap_bytes, NULL);
}

static void *iopool_cached_create(size_t heap_bytes, size_t obj_size)
{
	struct iop_heap_opts opts = { .flags = IOP_HEAP_F_CACHED };

	(void)obj_size;
	return iop_heap_create(heap_bytes, &opts);
}

static void iopool_destroy(void *heap)
{
	iop_heap_destroy(heap);
}

static void *iopool_alloc(void *heap, size_t x)
{
	return iop_heap_alloc(heap, x);
}

/* The benchmark frees only what it allocated: a refusal is a heap bug, so stop loudly. */
static void iopool_free(void *heap, void *p, size_t x)
{
	int rc = iop_heap_free(heap, p, x);

	if (rc != 0) {
		fprintf(stderr, "iopool: iop_heap_free(%p, %zu) refused: %s\n", p, x, strerror(-rc));
		abort();
	}
}

const struct bench_peer bench_peer_iopool = {
	.name = "iopool",
	.create = iopool_create,
	.destroy = iopool_destroy,
	.alloc = iopool_alloc,
	.free = iopool_free,
};

const struct bench_peer bench_peer_iopool_cached = {
	.name = "iopool-cached",
	.create = iopool_cached_create,
	.destroy = iopool_destroy,
	.alloc = iopool_alloc,
	.free = iopool_free,
};
