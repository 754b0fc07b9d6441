/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Reference buddy allocator for the heap fuzzer. Deliberately simple: every
 * min-block unit records the block that covers it, so "what is at this byte"
 * is one array read, and per-order free sets give the lowest free block of an
 * order. Speed only matters enough for the fuzzer to run thousands of inputs.
 */
#include <errno.h>
#include <string.h>

#include "heap_model.h"


static uint32_t units_of(const struct heap_model *m, unsigned order)
{
	return 1u << (order - m->min_order);
}

static uint64_t heap_bytes(const struct heap_model *m)
{
	return 1ull << m->max_order;
}

static void paint(struct heap_model *m, uint32_t start, unsigned order, enum hm_state state)
{
	struct hm_unit u = { .start = (uint16_t)start, .order = (uint8_t)order,
			     .state = (uint8_t)state };

	for (uint32_t i = start; i < start + units_of(m, order); i++)
		m->unit[i] = u;
}

static uint32_t block_index(const struct heap_model *m, uint32_t start, unsigned order)
{
	return start >> (order - m->min_order);
}

static void add_free(struct heap_model *m, uint32_t start, unsigned order)
{
	uint32_t i = block_index(m, start, order);

	paint(m, start, order, HM_FREE);
	m->free_set[order][i / 64] |= 1ull << (i % 64);
	m->free_blocks[order]++;
	m->bytes_free += 1ull << order;
}

/* The caller repaints the units; only the free set and counters change here. */
static void take_free(struct heap_model *m, uint32_t start, unsigned order)
{
	uint32_t i = block_index(m, start, order);

	m->free_set[order][i / 64] &= ~(1ull << (i % 64));
	m->free_blocks[order]--;
	m->bytes_free -= 1ull << order;
}

/* Lowest free block of an order, as its first unit, or -1. */
static int64_t lowest_free(const struct heap_model *m, unsigned order)
{
	uint32_t blocks = 1u << (m->max_order - order);

	for (uint32_t w = 0; w * 64 < blocks; w++) {
		uint64_t v = m->free_set[order][w];

		if (v != 0)
			return (int64_t)(w * 64 + (uint32_t)__builtin_ctzll(v)) << (order - m->min_order);
	}
	return -1;
}

static bool whole_free_block(const struct heap_model *m, uint32_t start, unsigned order)
{
	const struct hm_unit *u = &m->unit[start];

	return u->start == start && u->order == order && u->state == HM_FREE;
}

int hm_init(struct heap_model *m, unsigned max_order, unsigned min_order)
{
	if (min_order < HM_MIN_ORDER || max_order > HM_MAX_ORDER || min_order > max_order)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	m->max_order = max_order;
	m->min_order = min_order;
	m->units = 1u << (max_order - min_order);
	add_free(m, 0, max_order);
	return 0;
}

int hm_order_for(const struct heap_model *m, size_t x)
{
	unsigned n = 0;

	if (x == 0 || x > heap_bytes(m))
		return -1;
	while ((1ull << n) < x)
		n++;
	return (int)(n < m->min_order ? m->min_order : n);
}

/* The smallest order from n up with a free block, and its lowest block (*start), or -1. */
static int smallest_with_free(const struct heap_model *m, unsigned n, int64_t *start)
{
	for (unsigned j = n; j <= m->max_order; j++) {
		*start = lowest_free(m, j);
		if (*start >= 0)
			return (int)j;
	}
	return -1;
}

void hm_set_thread_slot(struct heap_model *m, unsigned slot)
{
	unsigned v = (slot - 1) % 64, rev = 0;

	for (unsigned i = 0; i < 6; i++, v >>= 1)
		rev = rev << 1 | (v & 1);
	m->region_lo = m->region_hi = 0;
	if (m->max_order < m->min_order + 11)
		return;
	m->region_lo = (uint64_t)rev << (m->max_order - 6);
	m->region_hi = m->region_lo + (1ull << (m->max_order - 6));
}

/* The same within bytes [lo, hi): blocks of order j that overlap them. */
static int smallest_in_range(const struct heap_model *m, unsigned n, uint64_t lo, uint64_t hi,
			     int64_t *start)
{
	for (unsigned j = n; j <= m->max_order; j++) {
		for (uint64_t i = lo >> j; i <= (hi - 1) >> j; i++) {
			if (m->free_set[j][i / 64] & (1ull << (i % 64))) {
				*start = (int64_t)(i << (j - m->min_order));
				return (int)j;
			}
		}
	}
	return -1;
}

/*
 * Every search: the region's first, if the thread has one, then from the
 * region's start ranges of 2, 4, 8, ... times its length (cut at the heap's
 * end), then the whole heap.
 */
static int find_block(const struct heap_model *m, unsigned n, int64_t *start, uint64_t *toward)
{
	int j;

	if (m->region_hi != 0) {
		uint64_t len = m->region_hi - m->region_lo, hi = m->region_hi;

		*toward = m->region_lo;
		j = smallest_in_range(m, n, m->region_lo, hi, start);
		while (j < 0 && hi < heap_bytes(m)) {
			len *= 2;
			hi = m->region_lo + len < heap_bytes(m) ? m->region_lo + len : heap_bytes(m);
			j = smallest_in_range(m, n, m->region_lo, hi, start);
		}
		if (j >= 0)
			return j;
	}
	*toward = 0;
	return smallest_with_free(m, n, start);
}

int64_t hm_alloc(struct heap_model *m, size_t x)
{
	int order = hm_order_for(m, x), found;
	uint64_t toward = 0;
	unsigned n;
	unsigned j;
	int64_t start = -1;

	if (order < 0)
		return -EINVAL;
	n = (unsigned)order;
	found = find_block(m, n, &start, &toward);
	if (found < 0) {
		/* What frees deferred, before the heap may say ENOMEM. */
		hm_coalesce(m);
		found = find_block(m, n, &start, &toward);
	}
	if (found < 0)
		return -ENOMEM;
	j = (unsigned)found;

	take_free(m, (uint32_t)start, j);
	/* Keep the half towards `toward` (the lower one when it is below the
	 * upper); the other half becomes free. */
	while (j > n) {
		uint32_t upper;

		j--;
		upper = (uint32_t)start + units_of(m, j);
		if ((toward >> m->min_order) >= upper) {
			add_free(m, (uint32_t)start, j);
			start = upper;
		} else {
			add_free(m, upper, j);
		}
	}
	paint(m, (uint32_t)start, n, HM_ALLOC);
	m->blocks_in_use++;
	m->bytes_in_use += 1ull << n;
	return start << m->min_order;
}

int hm_free_predict(const struct heap_model *m, struct hm_free_where where, size_t x)
{
	const struct hm_unit *u;
	int n = hm_order_for(m, x);

	if (n < 0)
		return -EINVAL;
	if (where.outside || where.off >= heap_bytes(m))
		return -EFAULT;
	u = &m->unit[where.off >> m->min_order];
	if (u->state != HM_ALLOC)
		return -EALREADY;
	if (((uint64_t)u->start << m->min_order) != where.off)
		return -ENXIO;
	return u->order == n ? 0 : -ERANGE;
}

/* Give back an allocated block: free at its own order, merged later by hm_coalesce(). */
static void release(struct heap_model *m, uint32_t start, unsigned order)
{
	m->blocks_in_use--;
	m->bytes_in_use -= 1ull << order;
	add_free(m, start, order);
}

uint64_t hm_coalesce(struct heap_model *m)
{
	uint64_t merges = 0;

	for (unsigned k = m->min_order; k < m->max_order; k++) {
		uint32_t blocks = 1u << (m->max_order - k);

		/* Pairs (2i, 2i + 1); a merge adds to order k + 1, looked at next. */
		for (uint32_t i = 0; i < blocks; i += 2) {
			uint32_t a = i << (k - m->min_order), b = (i + 1) << (k - m->min_order);

			if (!whole_free_block(m, a, k) || !whole_free_block(m, b, k))
				continue;
			take_free(m, a, k);
			take_free(m, b, k);
			add_free(m, a, k + 1);
			merges++;
		}
	}
	return merges;
}

int hm_free(struct heap_model *m, struct hm_free_where where, size_t x)
{
	int rc = hm_free_predict(m, where, x);

	if (rc == 0) {
		const struct hm_unit *u = &m->unit[where.off >> m->min_order];

		release(m, u->start, u->order);
	} else {
		/* Every refused free counts, bad sizes included (iop_heap.h). */
		m->refused_frees++;
	}
	return rc;
}

int hm_alloc_order_at(const struct heap_model *m, uint64_t off)
{
	const struct hm_unit *u;

	if (off >= heap_bytes(m))
		return -1;
	u = &m->unit[off >> m->min_order];
	if (u->state != HM_ALLOC || ((uint64_t)u->start << m->min_order) != off)
		return -1;
	return u->order;
}

uint64_t hm_largest_free(const struct heap_model *m)
{
	for (unsigned k = m->max_order + 1; k-- > m->min_order;)
		if (m->free_blocks[k] != 0)
			return 1ull << k;
	return 0;
}

static bool in_free_set(const struct heap_model *m, uint32_t start, unsigned order)
{
	uint32_t i = block_index(m, start, order);

	return (m->free_set[order][i / 64] >> (i % 64)) & 1;
}

static const char *check_free_sets(const struct heap_model *m, const uint64_t *free_blocks)
{
	for (unsigned k = m->min_order; k <= m->max_order; k++) {
		uint64_t bits = 0;

		for (uint32_t w = 0; w * 64 < (1u << (m->max_order - k)); w++)
			bits += (uint64_t)__builtin_popcountll(m->free_set[k][w]);
		if (bits != free_blocks[k] || bits != m->free_blocks[k])
			return "model: free set size disagrees with the blocks";
	}
	return NULL;
}

const char *hm_self_check(const struct heap_model *m)
{
	uint64_t free_blocks[HM_ORDER_SLOTS] = { 0 };
	uint64_t bytes_free = 0, bytes_in_use = 0, blocks_in_use = 0;
	uint32_t u = 0;

	while (u < m->units) {
		const struct hm_unit *b = &m->unit[u];
		uint32_t len;

		if (b->start != u || b->order < m->min_order || b->order > m->max_order)
			return "model: unit does not start a block of a valid order";
		len = units_of(m, b->order);
		if (u % len != 0 || u + len > m->units)
			return "model: block misaligned or past the end";
		for (uint32_t i = u; i < u + len; i++)
			if (memcmp(&m->unit[i], b, sizeof(*b)) != 0)
				return "model: units of one block disagree";
		if (b->state == HM_FREE) {
			if (!in_free_set(m, u, b->order))
				return "model: free block missing from its free set";
			free_blocks[b->order]++;
			bytes_free += 1ull << b->order;
		} else if (b->state == HM_ALLOC) {
			if (in_free_set(m, u, b->order))
				return "model: allocated block in a free set";
			blocks_in_use++;
			bytes_in_use += 1ull << b->order;
		} else {
			return "model: unit in no state";
		}
		u += len;
	}
	if (bytes_free != m->bytes_free || bytes_in_use != m->bytes_in_use ||
	    blocks_in_use != m->blocks_in_use || bytes_free + bytes_in_use != heap_bytes(m))
		return "model: counters do not add up";
	return check_free_sets(m, free_blocks);
}
