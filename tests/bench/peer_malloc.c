/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The malloc family. glibc runs in this process. jemalloc, mimalloc and
 * tcmalloc replace malloc itself, so each runs the same two calls in a child
 * process that has its shared object preloaded (preload.c); they differ only
 * in that object, which is why they share this file.
 */
#include <stdlib.h>

#include "bench.h"

/* No heap to make: any non-NULL handle will do. */
static void *malloc_create(size_t heap_bytes, size_t obj_size)
{
	static char handle;

	(void)heap_bytes;
	(void)obj_size;
	return &handle;
}

static void malloc_destroy(void *heap)
{
	(void)heap;
}

static void *malloc_alloc(void *heap, size_t x)
{
	(void)heap;
	return malloc(x);
}

static void malloc_free(void *heap, void *p, size_t x)
{
	(void)heap;
	(void)x;
	free(p);
}

#define MALLOC_PEER(peer_name, shared_object) {	\
	.name = peer_name,				\
	.preload = shared_object,			\
	.create = malloc_create,			\
	.destroy = malloc_destroy,			\
	.alloc = malloc_alloc,				\
	.free = malloc_free,				\
}

const struct bench_peer bench_peer_glibc = MALLOC_PEER("glibc", NULL);
const struct bench_peer bench_peer_jemalloc = MALLOC_PEER("jemalloc", "libjemalloc.so.2");
const struct bench_peer bench_peer_mimalloc = MALLOC_PEER("mimalloc", "libmimalloc.so.2");
const struct bench_peer bench_peer_tcmalloc = MALLOC_PEER("tcmalloc", "libtcmalloc_minimal.so.4");
