/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_malloc: DPDK's general-purpose heap (one lock per socket heap, best fit
 * over free lists of size classes), in EAL memory.
 */
#include <stddef.h>

#include <rte_malloc.h>

#include "bench.h"
#include "dpdk_eal.h"

/* The EAL's heap is the heap: any non-NULL handle will do. */
static void *rte_malloc_create(size_t heap_bytes, size_t obj_size)
{
	static char handle;

	(void)heap_bytes;
	(void)obj_size;
	return &handle;
}

static void rte_malloc_destroy(void *heap)
{
	(void)heap;
}

static void *rte_malloc_alloc(void *heap, size_t x)
{
	(void)heap;
	return rte_malloc(NULL, x, 0);
}

static void rte_malloc_free(void *heap, void *p, size_t x)
{
	(void)heap;
	(void)x;
	rte_free(p);
}

const struct bench_peer bench_peer_rte_malloc = {
	.name = "rte_malloc",
	.init = bench_eal_init,
	.create = rte_malloc_create,
	.destroy = rte_malloc_destroy,
	.alloc = rte_malloc_alloc,
	.free = rte_malloc_free,
	.thread_start = bench_eal_thread_start,
	.thread_stop = bench_eal_thread_stop,
};
