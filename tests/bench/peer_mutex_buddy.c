/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mutex-buddy: the sequential buddy allocator behind one pthread mutex, the
 * usual way to share a classic buddy heap between threads that may sleep.
 */
#include <pthread.h>
#include <stdlib.h>

#include "bench.h"
#include "buddy.h"

struct mutex_buddy {
	pthread_mutex_t lock;
	struct buddy *b;
};

static void *mutex_buddy_create(size_t heap_bytes, size_t obj_size)
{
	struct mutex_buddy *m = malloc(sizeof(*m));

	(void)obj_size;
	if (m == NULL)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	m->b = buddy_create(heap_bytes, BENCH_MIN_BLOCK);
	if (m->b == NULL) {
		free(m);
		return NULL;
	}
	return m;
}

static void mutex_buddy_destroy(void *heap)
{
	struct mutex_buddy *m = heap;

	buddy_destroy(m->b);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static void *mutex_buddy_alloc(void *heap, size_t x)
{
	struct mutex_buddy *m = heap;
	void *p;

	pthread_mutex_lock(&m->lock);
	p = buddy_alloc(m->b, x);
	pthread_mutex_unlock(&m->lock);
	return p;
}

static void mutex_buddy_free(void *heap, void *p, size_t x)
{
	struct mutex_buddy *m = heap;

	pthread_mutex_lock(&m->lock);
	buddy_free(m->b, p, x);
	pthread_mutex_unlock(&m->lock);
}

const struct bench_peer bench_peer_mutex_buddy = {
	.name = "mutex-buddy",
	.create = mutex_buddy_create,
	.destroy = mutex_buddy_destroy,
	.alloc = mutex_buddy_alloc,
	.free = mutex_buddy_free,
};
