/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spin-buddy: the sequential buddy allocator behind one test-and-test-and-set
 * spinlock, the usual way to share a classic buddy heap between cores that
 * must not sleep (an IOP's polling lcores). Waiters spin on a plain load, so
 * the lock's line stays shared until it is released, and pause between loads.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "bench.h"
#include "buddy.h"

struct spin_buddy {
	_Alignas(64) atomic_bool locked; /* own cache line: waiters do not disturb the heap's */
	_Alignas(64) struct buddy *b;
};

static void spin_lock(struct spin_buddy *s)
{
	while (atomic_exchange_explicit(&s->locked, true, memory_order_acquire))
		while (atomic_load_explicit(&s->locked, memory_order_relaxed))
			bench_cpu_relax();
}

static void spin_unlock(struct spin_buddy *s)
{
	atomic_store_explicit(&s->locked, false, memory_order_release);
}

static void *spin_buddy_create(size_t heap_bytes, size_t obj_size)
{
	struct spin_buddy *s = aligned_alloc(64, sizeof(*s));

	(void)obj_size;
	if (s == NULL)
		return NULL;
	atomic_init(&s->locked, false);
	s->b = buddy_create(heap_bytes, BENCH_MIN_BLOCK);
	if (s->b == NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static void spin_buddy_destroy(void *heap)
{
	struct spin_buddy *s = heap;

	buddy_destroy(s->b);
	free(s);
}

static void *spin_buddy_alloc(void *heap, size_t x)
{
	struct spin_buddy *s = heap;
	void *p;

	spin_lock(s);
	p = buddy_alloc(s->b, x);
	spin_unlock(s);
	return p;
}

static void spin_buddy_free(void *heap, void *p, size_t x)
{
	struct spin_buddy *s = heap;

	spin_lock(s);
	buddy_free(s->b, p, x);
	spin_unlock(s);
}

const struct bench_peer bench_peer_spin_buddy = {
	.name = "spin-buddy",
	.create = spin_buddy_create,
	.destroy = spin_buddy_destroy,
	.alloc = spin_buddy_alloc,
	.free = spin_buddy_free,
};
