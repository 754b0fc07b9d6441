/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reading a heap whole: statistics, and the invariant check the tests run
 * at quiescence. Both walk every bitmap word, so they cost O(metadata).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_layout.h"

/*
 * Call fn on each full magazine of order i's depot. Exact at quiescence; a
 * snapshot otherwise (the walk is bounded, so a stack that changes under it
 * cannot make it loop).
 */
static int for_each_full_mag(const struct iop_heap *h, uint32_t i,
			     int (*fn)(const struct iop_heap *h, uint32_t i,
				       const struct heap_mag *m, void *arg),
			     void *arg)
{
	struct heap_depot *d = heap_depot(h, i);
	int rc = 0;

	for (uint32_t s = 0; s < HEAP_DEPOT_SHARDS && rc == 0; s++) {
		uint32_t top = (uint32_t)atomic_load_explicit(&d->shard[s].full,
							      memory_order_acquire);

		for (unsigned steps = 0; top != 0 && top <= h->depot_mags[i] &&
					 steps < h->depot_mags[i] && rc == 0;
		     steps++) {
			rc = fn(h, i, &d->mag[top - 1], arg);
			top = atomic_load_explicit(&d->mag[top - 1].next, memory_order_relaxed);
		}
	}
	return rc;
}

static int count_mag(const struct iop_heap *h, uint32_t i, const struct heap_mag *m, void *arg)
{
	uint64_t n = atomic_load_explicit(&m->count, memory_order_relaxed);

	*(uint64_t *)arg += (n <= HEAP_MAG_BLOCKS ? n : 0) << (h->min_order + i);
	return 0;
}

int iop_heap_stats(const struct iop_heap *h, struct iop_heap_stats *s)
{
	if (!heap_valid(h) || s == NULL)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	s->heap_bytes = 1ull << h->max_order;
	s->min_block = 1ull << h->min_order;
	s->min_order = h->min_order;
	s->max_order = h->max_order;
	s->metadata_bytes = h->metadata_bytes;
	s->refused_frees = atomic_load_explicit(&h->refused_frees, memory_order_relaxed);
	for (uint32_t k = h->min_order; k <= h->max_order; k++) {
		const struct heap_order *o = &h->orders[k];

		for (uint64_t w = 0; w < o->level_words[0]; w++) {
			uint64_t v = atomic_load_explicit(heap_level_word(h, k, 0, w),
							  memory_order_relaxed);
			uint64_t nfree = (uint64_t)__builtin_popcountll(v & HEAP_FREE_MASK);
			uint64_t nused = (uint64_t)__builtin_popcountll(v >> 32);

			s->free_blocks[k] += nfree;
			s->bytes_free += nfree << k;
			s->blocks_in_use += nused;
			s->bytes_in_use += nused << k;
		}
		if (s->free_blocks[k] != 0)
			s->largest_free = 1ull << k;
	}
	for (unsigned slot = 0; h->cache_orders != 0 && slot < HEAP_CACHE_SLOTS; slot++) {
		struct heap_cache *c = heap_cache_slot(h, slot);

		for (uint32_t i = 0; i < h->cache_orders; i++) {
			uint64_t n = atomic_load_explicit(&c->count[i], memory_order_acquire);
			uint64_t next = atomic_load_explicit(&c->reserve_next[i], memory_order_acquire);
			uint64_t end = atomic_load_explicit(&c->reserve_end[i], memory_order_acquire);

			/* A reserve being replaced reads empty for a moment (end below next). */
			n += end > next ? end - next : 0;
			s->bytes_cached += n << (h->min_order + i);
		}
		s->cache_depot_takes += atomic_load_explicit(&c->events[HEAP_CACHE_DEPOT_TAKE],
							     memory_order_relaxed);
		s->cache_chunk_cuts += atomic_load_explicit(&c->events[HEAP_CACHE_CHUNK_CUT],
							    memory_order_relaxed);
		s->cache_depot_gives += atomic_load_explicit(&c->events[HEAP_CACHE_DEPOT_GIVE],
							     memory_order_relaxed);
		s->cache_heap_releases += atomic_load_explicit(&c->events[HEAP_CACHE_HEAP_RELEASE],
							       memory_order_relaxed);
	}
	for (uint32_t i = 0; i < h->cache_orders; i++)
		for_each_full_mag(h, i, count_mag, &s->bytes_cached);
	s->bytes_free += s->bytes_cached;
	return 0;
}

struct check_ctx {
	char *buf;
	size_t len;
};

__attribute__((format(printf, 2, 3))) static int broken(struct check_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->buf != NULL && c->len != 0) {
		va_start(ap, fmt);
		vsnprintf(c->buf, c->len, fmt, ap);
		va_end(ap);
	}
	return -EUCLEAN;
}

/*
 * The lowest order from `from` up at which block b of order k, or the block
 * containing it, carries a free or allocated bit; max_order + 1 if none.
 */
static uint32_t marked_order(const struct iop_heap *h, uint32_t k, uint64_t b, uint32_t from)
{
	for (uint32_t up = from; up <= h->max_order; up++) {
		uint64_t a = b >> (up - k);

		if (atomic_load(heap_block_word(h, up, a)) & (heap_free_bit(a) | heap_alloc_bit(a)))
			return up;
	}
	return h->max_order + 1;
}

/* Per block: bits in range, not free and allocated at once, no ancestor
 * holding a bit (no overlap). Free buddies may both be free: frees defer
 * merging (heap_coalesce.c). Adds the bytes it covers. */
static int check_blocks(const struct iop_heap *h, uint32_t k, uint64_t *covered,
			struct check_ctx *c)
{
	const struct heap_order *o = &h->orders[k];

	for (uint64_t w = 0; w < o->level_words[0]; w++) {
		uint64_t v = atomic_load(heap_level_word(h, k, 0, w));
		uint64_t live = (v & HEAP_FREE_MASK) | (v >> 32);

		if (o->blocks < HEAP_BLOCKS_PER_WORD && (live >> o->blocks) != 0)
			return broken(c, "order %u: bits beyond the last block (%#llx)", k,
				      (unsigned long long)v);
		if ((v & HEAP_FREE_MASK) & (v >> 32))
			return broken(c, "order %u word %llu: block both free and allocated", k,
				      (unsigned long long)w);
		for (; live; live &= live - 1) {
			uint64_t b = w * HEAP_BLOCKS_PER_WORD + (uint64_t)__builtin_ctzll(live);

			uint32_t up = marked_order(h, k, b, k + 1);

			if (up <= h->max_order)
				return broken(c, "order %u block %llu overlaps order %u block %llu",
					      k, (unsigned long long)b, up,
					      (unsigned long long)(b >> (up - k)));
			*covered += 1ull << k;
		}
	}
	return 0;
}

/* Held (cached) blocks seen so far, as [start, end) byte ranges. */
struct held_set {
	uint64_t (*range)[2];
	size_t n;
	size_t cap;
};

/* A held block of order k carries no bit, nor does any block above it. */
static int check_held(const struct iop_heap *h, uint32_t k, uint64_t b, struct held_set *held,
		      struct check_ctx *c)
{
	uint32_t up;

	if (b >= h->orders[k].blocks)
		return broken(c, "cached order %u block %llu is outside the heap", k,
			      (unsigned long long)b);
	up = marked_order(h, k, b, k);
	if (up <= h->max_order)
		return broken(c, "cached order %u block %llu overlaps order %u", k,
			      (unsigned long long)b, up);
	if (held->n == held->cap) {
		size_t cap = held->cap ? 2 * held->cap : 1024;
		void *r = realloc(held->range, cap * sizeof(*held->range));

		if (r == NULL)
			return -ENOMEM;
		held->range = r;
		held->cap = cap;
	}
	held->range[held->n][0] = b << k;
	held->range[held->n][1] = (b + 1) << k;
	held->n++;
	return 0;
}

static int by_start(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

/* Thread caches: their blocks and the rest of their reserve chunks. */
static int check_cached_slots(const struct iop_heap *h, struct held_set *held,
			      struct check_ctx *c)
{
	for (unsigned slot = 0; h->cache_orders != 0 && slot < HEAP_CACHE_SLOTS; slot++) {
		struct heap_cache *hc = heap_cache_slot(h, slot);

		for (uint32_t i = 0; i < h->cache_orders; i++) {
			uint32_t n = atomic_load_explicit(&hc->count[i], memory_order_acquire);
			uint32_t k = h->min_order + i;
			uint64_t next = atomic_load_explicit(&hc->reserve_next[i], memory_order_acquire);
			uint64_t end = atomic_load_explicit(&hc->reserve_end[i], memory_order_acquire);
			int rc = 0;

			if (n > h->cache_depth[i])
				return broken(c, "cache %u order %u: %u blocks, room for %u", slot, k, n,
					      h->cache_depth[i]);
			for (uint32_t j = 0; j < n && rc == 0; j++)
				rc = check_held(h, k,
						atomic_load_explicit(&hc->block[i][j],
								     memory_order_acquire),
						held, c);
			for (uint64_t b = next; b < end && rc == 0; b++)
				rc = check_held(h, k, b, held, c);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Cached blocks carry no bits, so only their ranges show two caches holding one block. */
struct mag_check {
	struct held_set *held;
	struct check_ctx *c;
};

static int check_mag(const struct iop_heap *h, uint32_t i, const struct heap_mag *m, void *arg)
{
	struct mag_check *mc = arg;
	uint32_t n = atomic_load_explicit(&m->count, memory_order_acquire);
	int rc = 0;

	if (n > HEAP_MAG_BLOCKS)
		return broken(mc->c, "depot order %u: a magazine of %u blocks", h->min_order + i, n);
	for (uint32_t j = 0; j < n && rc == 0; j++)
		rc = check_held(h, h->min_order + i,
				atomic_load_explicit(&m->block[j], memory_order_acquire), mc->held,
				mc->c);
	return rc;
}

static int check_cached(const struct iop_heap *h, uint64_t *covered, struct check_ctx *c)
{
	struct held_set held = { NULL, 0, 0 };
	struct mag_check mc = { &held, c };
	int rc = check_cached_slots(h, &held, c);

	for (uint32_t i = 0; i < h->cache_orders && rc == 0; i++)
		rc = for_each_full_mag(h, i, check_mag, &mc);

	if (rc == 0 && held.n > 0) {
		qsort(held.range, held.n, sizeof(*held.range), by_start);
		for (size_t i = 0; i < held.n && rc == 0; i++) {
			if (i > 0 && held.range[i][0] < held.range[i - 1][1])
				rc = broken(c, "cached block at offset %llu is held twice",
					    (unsigned long long)held.range[i][0]);
			*covered += held.range[i][1] - held.range[i][0];
		}
	}
	free(held.range);
	return rc;
}

/* The word below holds a free block => its summary bit is set, at every level. */
static int check_summaries(const struct iop_heap *h, uint32_t k, struct check_ctx *c)
{
	const struct heap_order *o = &h->orders[k];
	uint64_t top;

	for (uint32_t l = 0; l + 1 < o->levels; l++) {
		for (uint64_t w = 0; w < o->level_words[l]; w++) {
			uint64_t v = atomic_load(heap_level_word(h, k, l, w));
			bool nonempty = l == 0 ? (v & HEAP_FREE_MASK) != 0 : v != 0;
			uint64_t s = atomic_load(heap_level_word(h, k, l + 1, w / 64));

			/* A set bit over an empty word is allowed: cleared lazily. */
			if (nonempty && !((s >> (w % 64)) & 1))
				return broken(c, "order %u level %u word %llu: summary bit is clear", k,
					      l + 1, (unsigned long long)w);
		}
	}
	top = atomic_load(heap_level_word(h, k, o->levels - 1, 0));
	if (o->levels == 1)
		top &= HEAP_FREE_MASK;
	if (top != 0 && !((atomic_load(&h->nonempty_orders) >> k) & 1))
		return broken(c, "order %u: heap data structure bit disagrees with its top word", k);
	return 0;
}

int iop_heap_check_report(const struct iop_heap *h, char *buf, size_t len)
{
	struct check_ctx c = { buf, len };
	uint64_t covered = 0;
	uint64_t stray;
	int rc;

	if (!heap_valid(h))
		return -EINVAL;
	for (unsigned i = 0; i < HEAP_INFLIGHT_SLOTS; i++) {
		if ((uint32_t)atomic_load(&h->inflight[i].word) != 0) {
			if (buf != NULL && len != 0)
				snprintf(buf, len, "an operation is in flight (slot %u)", i);
			return -EBUSY;
		}
	}
	stray = atomic_load(&h->nonempty_orders) &
		~((~0ull >> (63 - h->max_order)) & (~0ull << h->min_order));
	if (stray != 0)
		return broken(&c, "heap data structure has bits for orders that do not exist");
	for (uint32_t k = h->min_order; k <= h->max_order; k++) {
		rc = check_blocks(h, k, &covered, &c);
		if (rc == 0)
			rc = check_summaries(h, k, &c);
		if (rc != 0)
			return rc;
	}
	rc = check_cached(h, &covered, &c);
	if (rc != 0)
		return rc;
	if (covered != 1ull << h->max_order)
		return broken(&c, "blocks cover %llu bytes of %llu", (unsigned long long)covered,
			      (unsigned long long)(1ull << h->max_order));
	if (buf != NULL && len != 0)
		snprintf(buf, len, "ok");
	return 0;
}

int iop_heap_check(const struct iop_heap *h)
{
	return iop_heap_check_report(h, NULL, 0);
}

size_t iop_heap_allocated_size(const struct iop_heap *h, const void *p)
{
	uint64_t off;
	uint32_t top;

	if (!heap_valid(h))
		return 0;
	/* Below the blocks, p - blocks wraps: one compare for both ends. */
	off = (uint64_t)((uintptr_t)p - (uintptr_t)heap_blocks(h));
	if (off >= h->heap_bytes || (off & h->min_block_mask) != 0)
		return 0;
	/* The largest order a block starting at off can have: its alignment's. */
	top = off == 0 ? h->max_order : (uint32_t)__builtin_ctzll(off);
	if (top > h->max_order)
		top = h->max_order;
	/*
	 * At most one order has an A bit for a block starting at off: a block
	 * of order k allocated there means the orders below were never split
	 * out of it and the orders above were split to make it.
	 */
	for (uint32_t k = h->min_order; k <= top; k++) {
		uint64_t b = off >> k;
		uint64_t v = atomic_load_explicit(heap_block_word(h, k, b), memory_order_acquire);

		if ((v >> (32 + b % HEAP_BLOCKS_PER_WORD)) & 1) /* its A bit */
			return (size_t)1 << k;
	}
	return 0;
}
