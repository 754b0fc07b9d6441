/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopool: the lock-free buddy heap of frames/, as a program gets it from
 * libiop, with default options (64-byte minimum block, per-thread caches);
 * iopool-uncached: the same with IOP_HEAP_F_NO_CACHE.
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

static void *iopool_uncached_create(size_t heap_bytes, size_t obj_size)
{
	struct iop_heap_opts opts = { .flags = IOP_HEAP_F_NO_CACHE };

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

const struct bench_peer bench_peer_iopool_uncached = {
	.name = "iopool-uncached",
	.create = iopool_uncached_create,
	.destroy = iopool_destroy,
	.alloc = iopool_alloc,
	.free = iopool_free,
};

/* Bytes a 64-byte alloc+free pair leaves in this thread's cache of a peer's heap. */
static long long cached_after_pair(const struct bench_peer *peer)
{
	struct iop_heap *h = peer->create(64u << 20, 64);
	struct iop_heap_stats s;
	void *p;

	if (h == NULL || (p = peer->alloc(h, 64)) == NULL)
		return -1;
	peer->free(h, p, 64);
	iop_heap_stats(h, &s);
	peer->destroy(h);
	return (long long)s.bytes_cached;
}

int bench_iopool_selftest(void)
{
	long long cached = cached_after_pair(&bench_peer_iopool);
	long long uncached = cached_after_pair(&bench_peer_iopool_uncached);

	printf("iopool peers: %s caches (%lld bytes after a pair), %s does not (%lld)\n",
	       bench_peer_iopool.name, cached, bench_peer_iopool_uncached.name, uncached);
	return cached > 0 && uncached == 0 ? 0 : -1;
}
