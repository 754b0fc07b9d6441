/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-heap --selftest: the locked peers are only a fair comparison if
 * their buddy allocator is correct, so check it: the patent's split example,
 * exhaustion with minimum blocks, and random operations with every live block
 * tagged line by line (two live blocks that overlap overwrite each other's
 * tags) and aligned to its size. Each part must end with the heap coalesced
 * back into one block.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "buddy.h"

#define HEAP (1u << 20)
#define MIN 64u
#define LIVE 512u
#define RANDOM_OPS 200000u

struct live {
	uint64_t *p;
	size_t size;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static int fail(const char *what)
{
	fprintf(stderr, "buddy selftest: %s\n", what);
	return -1;
}

/* HeapCreate(8192), HeapAlloc(1000) takes 1024 at 0 and leaves halves of 4096, 2048, 1024. */
static int check_split(void)
{
	static const size_t ask[] = { 1000, 1024, 2048, 4096 };
	struct buddy *b = buddy_create(8192, MIN);
	char *p[4];

	if (b == NULL)
		return fail("create 8192");
	for (unsigned i = 0; i < 4; i++) {
		p[i] = buddy_alloc(b, ask[i]);
		if (p[i] != (const char *)buddy_base(b) + (i == 0 ? 0 : ask[i]))
			return fail("split: a block is not where the smallest fit puts it");
	}
	if (buddy_alloc(b, 1) != NULL)
		return fail("split: allocation from a full heap");
	for (unsigned i = 0; i < 4; i++)
		buddy_free(b, p[i], ask[i]);
	if (!buddy_is_whole(b))
		return fail("split: not coalesced");
	buddy_destroy(b);
	return 0;
}

static int check_exhaust(void)
{
	struct buddy *b = buddy_create(HEAP, MIN);
	void **p = malloc(HEAP / MIN * sizeof(*p));
	uint64_t rng = 42;
	int rc = 0;

	if (b == NULL || p == NULL)
		return fail("create for exhaustion");
	for (unsigned i = 0; i < HEAP / MIN && rc == 0; i++)
		if ((p[i] = buddy_alloc(b, MIN)) == NULL)
			rc = fail("exhaust: a minimum block missing");
	if (rc == 0 && buddy_alloc(b, 1) != NULL)
		rc = fail("exhaust: allocation from a full heap");
	for (unsigned i = HEAP / MIN - 1; rc == 0 && i > 0; i--) {
		unsigned j = (unsigned)(xorshift(&rng) % (i + 1));
		void *t = p[i];

		p[i] = p[j];
		p[j] = t;
	}
	for (unsigned i = 0; rc == 0 && i < HEAP / MIN; i++)
		buddy_free(b, p[i], MIN);
	if (rc == 0 && !buddy_is_whole(b))
		rc = fail("exhaust: not coalesced after freeing in random order");
	free(p);
	buddy_destroy(b);
	return rc;
}

static void tag_block(uint64_t *p, size_t size, uint64_t tag)
{
	for (size_t off = 0; off < size; off += MIN)
		p[off / 8] = tag;
}

static bool tag_intact(const uint64_t *p, size_t size)
{
	for (size_t off = MIN; off < size; off += MIN)
		if (p[off / 8] != p[0])
			return false;
	return true;
}

static size_t block_of(size_t x)
{
	size_t s = MIN;

	while (s < x)
		s <<= 1;
	return s;
}

static bool aligned(const struct buddy *b, const void *p, size_t x)
{
	return ((size_t)((const char *)p - (const char *)buddy_base(b)) & (block_of(x) - 1)) == 0;
}

static int random_op(struct buddy *b, struct live *slot, uint64_t *rng, uint64_t op)
{
	if (slot->p != NULL) {
		if (!tag_intact(slot->p, slot->size))
			return fail("random: two live blocks overlap");
		buddy_free(b, slot->p, slot->size);
		slot->p = NULL;
		return 0;
	}
	slot->size = 1 + xorshift(rng) % (1u << (xorshift(rng) % 17));
	slot->p = buddy_alloc(b, slot->size);
	if (slot->p == NULL)
		return 0; /* a 1 MiB heap does fill up: that is allowed */
	if (!aligned(b, slot->p, slot->size))
		return fail("random: block not aligned to its size");
	tag_block(slot->p, slot->size, op);
	return 0;
}

static int check_random(void)
{
	struct buddy *b = buddy_create(HEAP, MIN);
	struct live *live = calloc(LIVE, sizeof(*live));
	uint64_t rng = 7;
	int rc = 0;

	if (b == NULL || live == NULL)
		return fail("create for random");
	for (uint64_t op = 1; op <= RANDOM_OPS && rc == 0; op++)
		rc = random_op(b, &live[xorshift(&rng) % LIVE], &rng, op);
	for (unsigned i = 0; i < LIVE; i++)
		if (live[i].p != NULL)
			buddy_free(b, live[i].p, live[i].size);
	if (rc == 0 && !buddy_is_whole(b))
		rc = fail("random: not coalesced after freeing everything");
	free(live);
	buddy_destroy(b);
	return rc;
}

int buddy_selftest(void)
{
	if (check_split() != 0 || check_exhaust() != 0 || check_random() != 0)
		return -1;
	printf("buddy selftest: split, exhaustion and %u random ops ok, coalesced to one block\n",
	       RANDOM_OPS);
	return 0;
}
