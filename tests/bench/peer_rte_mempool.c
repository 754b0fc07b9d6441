/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * rte_mempool: DPDK's fixed-size object pool (the default ring ops behind a
 * per-lcore cache), the usual home of packet buffers. One size per pool, so
 * it runs only the workloads with one object size; the others are "n/a".
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>

#include <rte_errno.h>
#include <rte_mempool.h>

#include "bench.h"
#include "dpdk_eal.h"

/*
 * Enough objects for 8 threads' caches filled to their flush threshold
 * (1.5 x cache size), plus 4 prodcons rings of 1024 in flight, with room to
 * spare: 32767 small objects, or 4095 of 64 KiB (256 MiB of EAL memory).
 * 2^k - 1 objects fit the pool's ring exactly.
 */
static void pool_shape(size_t obj_size, unsigned *n, unsigned *cache)
{
	if (obj_size <= 2048) {
		*n = 32767;
		*cache = 512;
	} else {
		*n = 4095;
		*cache = 256;
	}
}

static void *rte_mempool_peer_create(size_t heap_bytes, size_t obj_size)
{
	static atomic_uint serial; /* pool names must be unique while pools live */
	char name[RTE_MEMPOOL_NAMESIZE];
	struct rte_mempool *mp;
	unsigned n, cache;

	(void)heap_bytes;
	if (obj_size == 0) {
		errno = ENOTSUP;
		return NULL;
	}
	pool_shape(obj_size, &n, &cache);
	snprintf(name, sizeof(name), "bench%u", atomic_fetch_add(&serial, 1));
	mp = rte_mempool_create(name, n, (unsigned)obj_size, cache, 0, NULL, NULL, NULL, NULL,
				SOCKET_ID_ANY, 0);
	if (mp == NULL)
		errno = rte_errno;
	return mp;
}

static void rte_mempool_peer_destroy(void *heap)
{
	rte_mempool_free(heap);
}

/* x is always the pool's object size: create() accepted only one-size workloads. */
static void *rte_mempool_peer_alloc(void *heap, size_t x)
{
	void *p;

	(void)x;
	return rte_mempool_get(heap, &p) == 0 ? p : NULL;
}

static void rte_mempool_peer_free(void *heap, void *p, size_t x)
{
	(void)x;
	rte_mempool_put(heap, p);
}

const struct bench_peer bench_peer_rte_mempool = {
	.name = "rte_mempool",
	.init = bench_eal_init,
	.create = rte_mempool_peer_create,
	.destroy = rte_mempool_peer_destroy,
	.alloc = rte_mempool_peer_alloc,
	.free = rte_mempool_peer_free,
	.thread_start = bench_eal_thread_start,
	.thread_stop = bench_eal_thread_stop,
};
