/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Fuzzer for the heap with default options, which has thread caches. The
 * reference model of fuzz_heap.c predicts the uncached heap's exact
 * placement, which caches change on purpose, so this harness checks what
 * does not depend on placement. One input drives two heaps of one geometry,
 * a default one and an uncached twin (IOP_HEAP_F_NO_CACHE), with the same
 * operations; a live block is a pair, one block in each heap.
 *
 *   - No two live blocks overlap (a map of the units each live block covers,
 *     and a fill pattern checked before each free).
 *   - Every free of a live block succeeds, in both heaps.
 *   - Every bad free is refused with the errno its relation to the live
 *     blocks calls for (EINVAL, EFAULT, EALREADY, ENXIO, ERANGE), and a bad
 *     free of one kind made in both heaps (an interior pointer of the same
 *     pair, a wrong size, ...) gets the same errno from the cached heap as
 *     from the uncached one.
 *   - bytes_free + bytes_in_use == heap bytes, bytes_in_use and blocks_in_use
 *     are what the harness holds, and iop_heap_check() passes, caches and all.
 *   - ENOMEM from the cached heap is the truth: its thread's cache is empty
 *     afterwards and no free block is large enough.
 *   - After iop_heap_cache_flush() nothing is cached and check passes; at the
 *     end, with everything freed and flushed, the heap is one free block and
 *     the whole of it can be allocated.
 *
 * Input layout, as fuzz_heap.c's with other sizes:
 *   byte 0     heap size 2^(min_order + 14 + b % 3): 256 KiB to 4 MiB, large
 *              enough for caches
 *   byte 1     min_block 16 << (b % 3)
 *   byte 2     alloc_cut = 48 + b % 160: opcodes below it allocate
 *   rest       operations (see run_op()); an exhausted input reads as zeros
 *
 * Any violation prints what broke and calls abort().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iop_heap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_UNITS (1u << 16) /* heap / min_block, at most */
#define FREED_RING 64u
#define CHECK_EVERY 32u
#define FILL_BYTES 64u /* patterned at each end of a block */

enum { CACHED, UNCACHED, SIDES };

static const char *const side_name[SIDES] = { "cached", "uncached" };

struct pair {
	uint64_t off[SIDES]; /* offset of the block in each heap's block area */
	size_t req;
	unsigned order;
	uint8_t tag;
};

struct side {
	struct iop_heap *h;
	char *base;
	uint32_t cover[MAX_UNITS]; /* live pair index + 1 of the block covering a unit */
	uint64_t refused;
};

struct fuzz {
	const uint8_t *data;
	size_t size;
	size_t pos;
	unsigned max_order;
	unsigned min_order;
	unsigned alloc_cut;
	unsigned long op;
	const char *what;

	struct side s[SIDES];
	struct pair live[MAX_UNITS];
	unsigned nlive;
	uint64_t bytes_live;
	struct pair freed[FREED_RING];
	unsigned nfreed;
	uint8_t next_tag;
};

static struct fuzz fz;

__attribute__((format(printf, 2, 3), noreturn)) static void fail(struct fuzz *f,
								  const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz_heap_cached: heap 2^%u min_block %u, op %lu %s: ", f->max_order,
		1u << f->min_order, f->op, f->what != NULL ? f->what : "setup");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	fflush(stderr);
	abort();
}

static uint8_t next8(struct fuzz *f)
{
	return f->pos < f->size ? f->data[f->pos++] : 0;
}

static uint32_t next16(struct fuzz *f)
{
	uint32_t lo = next8(f);

	return lo | (uint32_t)next8(f) << 8;
}

static uint64_t heap_bytes(const struct fuzz *f)
{
	return 1ull << f->max_order;
}

static unsigned order_of(const struct fuzz *f, size_t x)
{
	unsigned n = 0;

	while ((1ull << n) < x)
		n++;
	return n < f->min_order ? f->min_order : n;
}

/* A size in (2^(e-1), 2^e], or 1 for e == 0. */
static size_t size_of_order(struct fuzz *f, unsigned e)
{
	size_t lo;

	if (e == 0)
		return 1;
	lo = (size_t)1 << (e - 1);
	return lo + 1 + next16(f) % lo;
}

/* Mostly the cached orders, sometimes any order, now and then a bad size. */
static size_t pick_size(struct fuzz *f)
{
	uint8_t b = next8(f);

	switch (b % 16) {
	case 0:
		return 0;
	case 1:
		return b & 0x80 ? SIZE_MAX - next8(f) : heap_bytes(f) + 1 + next8(f);
	case 2:
		return heap_bytes(f);
	case 3: case 4: case 5: case 6: case 7: case 8: case 9: case 10:
		return size_of_order(f, next8(f) % (f->min_order + 4));
	default:
		return size_of_order(f, next8(f) % (f->max_order + 1));
	}
}

/* ---- fill patterns ---- */

static uint8_t pattern(uint8_t tag, uint64_t i)
{
	return (uint8_t)(tag * 31u + i + (i >> 8));
}

/* The first and last FILL_BYTES of a block (all of a small one). */
static void fill(struct fuzz *f, int side, const struct pair *b, bool verify)
{
	uint8_t *p = (uint8_t *)f->s[side].base + b->off[side];
	uint64_t len = 1ull << b->order;

	for (uint64_t i = 0; i < len; i++) {
		if (i == FILL_BYTES && len > 2 * FILL_BYTES)
			i = len - FILL_BYTES;
		if (!verify)
			p[i] = pattern(b->tag, i);
		else if (p[i] != pattern(b->tag, i))
			fail(f, "%s block at %#llx (order %u) byte %llu was overwritten", side_name[side],
			     (unsigned long long)b->off[side], b->order, (unsigned long long)i);
	}
}

/* ---- the live table and the cover maps ---- */

static void cover(struct fuzz *f, int side, uint64_t off, unsigned order, uint32_t val)
{
	uint32_t first = (uint32_t)(off >> f->min_order);
	uint32_t n = 1u << (order - f->min_order);

	for (uint32_t u = first; u < first + n; u++) {
		if (val != 0 && f->s[side].cover[u] != 0)
			fail(f, "%s heap gave %#llx (order %u), which overlaps live block at %#llx",
			     side_name[side], (unsigned long long)off, order,
			     (unsigned long long)f->live[f->s[side].cover[u] - 1].off[side]);
		f->s[side].cover[u] = val;
	}
}

static void live_add(struct fuzz *f, const uint64_t off[SIDES], size_t req, unsigned order)
{
	struct pair *b = &f->live[f->nlive];

	b->off[CACHED] = off[CACHED];
	b->off[UNCACHED] = off[UNCACHED];
	b->req = req;
	b->order = order;
	b->tag = ++f->next_tag;
	f->nlive++;
	f->bytes_live += 1ull << order;
	for (int side = 0; side < SIDES; side++) {
		cover(f, side, off[side], order, f->nlive);
		fill(f, side, b, false);
	}
}

static void live_remove(struct fuzz *f, unsigned i)
{
	unsigned last = --f->nlive;

	f->freed[f->nfreed++ % FREED_RING] = f->live[i];
	f->bytes_live -= 1ull << f->live[i].order;
	for (int side = 0; side < SIDES; side++)
		cover(f, side, f->live[i].off[side], f->live[i].order, 0);
	if (i != last) {
		f->live[i] = f->live[last];
		for (int side = 0; side < SIDES; side++) {
			cover(f, side, f->live[i].off[side], f->live[i].order, 0);
			cover(f, side, f->live[i].off[side], f->live[i].order, i + 1);
		}
	}
}

/*
 * What iop_heap_free(p, x) must return, from the live blocks alone: the
 * rules of <iop/heap.h>, in the order the heap applies them.
 */
static int expected_free(const struct fuzz *f, int side, uintptr_t p, size_t x, int *li)
{
	uintptr_t base = (uintptr_t)f->s[side].base;
	const struct pair *b;
	uint64_t off;
	uint32_t c;

	*li = -1;
	if (x == 0 || x > heap_bytes(f))
		return -EINVAL;
	if (p < base || p - base >= heap_bytes(f))
		return -EFAULT;
	off = p - base;
	c = f->s[side].cover[off >> f->min_order];
	if (c == 0)
		return -EALREADY;
	b = &f->live[c - 1];
	if (b->off[side] != off)
		return -ENXIO;
	if (b->order != order_of(f, x))
		return -ERANGE;
	*li = (int)c - 1;
	return 0;
}

/* ---- operations ---- */

static void expect_truthful_enomem(struct fuzz *f, int side, size_t x)
{
	struct iop_heap_stats s;

	iop_heap_stats(f->s[side].h, &s);
	if (s.bytes_cached != 0)
		fail(f, "%s heap: ENOMEM for %zu with %llu bytes still cached", side_name[side], x,
		     (unsigned long long)s.bytes_cached);
	if (s.largest_free >= iop_heap_block_size(f->s[side].h, x))
		fail(f, "%s heap: ENOMEM for %zu with a free block of %llu", side_name[side], x,
		     (unsigned long long)s.largest_free);
}

static void do_alloc(struct fuzz *f, size_t x)
{
	void *p[SIDES];
	int err[SIDES];
	uint64_t off[SIDES];

	f->what = "alloc";
	for (int side = 0; side < SIDES; side++) {
		errno = 0;
		p[side] = iop_heap_alloc(f->s[side].h, x);
		err[side] = errno;
	}
	if (p[CACHED] == NULL && p[UNCACHED] == NULL) {
		if (err[CACHED] != err[UNCACHED])
			fail(f, "alloc(%zu): errno %d cached, %d uncached", x, err[CACHED],
			     err[UNCACHED]);
		if (err[CACHED] == ENOMEM)
			for (int side = 0; side < SIDES; side++)
				expect_truthful_enomem(f, side, x);
		return;
	}
	for (int side = 0; side < SIDES; side++) {
		size_t bs = (size_t)1 << order_of(f, x);

		if (p[side] == NULL) {
			/* Placement differs, so fragmentation may: ENOMEM alone is fine. */
			if (err[side] != ENOMEM)
				fail(f, "alloc(%zu): %s heap errno %d, the other gave a block", x,
				     side_name[side], err[side]);
			expect_truthful_enomem(f, side, x);
			continue;
		}
		off[side] = (uint64_t)((char *)p[side] - f->s[side].base);
		if (off[side] % bs != 0 || off[side] >= heap_bytes(f))
			fail(f, "alloc(%zu): %s heap gave %#llx, not a block of %zu", x,
			     side_name[side], (unsigned long long)off[side], bs);
		if (iop_heap_allocated_size(f->s[side].h, p[side]) != bs)
			fail(f, "alloc(%zu): %s heap: allocated_size %zu", x, side_name[side],
			     iop_heap_allocated_size(f->s[side].h, p[side]));
	}
	if (p[CACHED] == NULL || p[UNCACHED] == NULL) {
		int side = p[CACHED] != NULL ? CACHED : UNCACHED;

		/* Not a pair: give the one block straight back. */
		if (iop_heap_free(f->s[side].h, p[side], x) != 0)
			fail(f, "free of a block just allocated from the %s heap refused",
			     side_name[side]);
		return;
	}
	live_add(f, off, x, order_of(f, x));
}

/*
 * One free in both heaps. A structural free (the same relation to the same
 * pair in both heaps) must get the same answer from both; any free must get
 * the answer the live blocks call for.
 */
static void do_free(struct fuzz *f, const char *what, const uintptr_t p[SIDES], size_t x,
		    bool structural)
{
	int want[SIDES], got[SIDES], li[SIDES];

	f->what = what;
	for (int side = 0; side < SIDES; side++)
		want[side] = expected_free(f, side, p[side], x, &li[side]);
	if (structural && (want[CACHED] != want[UNCACHED] || li[CACHED] != li[UNCACHED]))
		fail(f, "harness: a structural free means different things in the two heaps");
	/* A "bad" free that lands on a live block in one heap only would part a pair. */
	if (!structural && (want[CACHED] == 0 || want[UNCACHED] == 0))
		return;
	if (want[CACHED] == 0)
		for (int side = 0; side < SIDES; side++)
			fill(f, side, &f->live[li[side]], true);
	for (int side = 0; side < SIDES; side++) {
		got[side] = iop_heap_free(f->s[side].h, (void *)p[side], x);
		if (got[side] != want[side])
			fail(f, "%s heap: free(base+%#llx, %zu) = %d, expected %d", side_name[side],
			     (unsigned long long)(p[side] - (uintptr_t)f->s[side].base), x, got[side],
			     want[side]);
		if (got[side] != 0)
			f->s[side].refused++;
	}
	if (structural && got[CACHED] != got[UNCACHED])
		fail(f, "free(%zu): cached heap %d, uncached heap %d", x, got[CACHED],
		     got[UNCACHED]);
	if (want[CACHED] == 0) {
		for (int side = 0; side < SIDES; side++)
			if (iop_heap_allocated_size(f->s[side].h, (void *)p[side]) != 0)
				fail(f, "%s heap: a freed block still has a size", side_name[side]);
		live_remove(f, (unsigned)li[CACHED]);
	}
}

static uintptr_t at(const struct fuzz *f, int side, uint64_t off)
{
	return (uintptr_t)f->s[side].base + off;
}

static struct pair *pick_live(struct fuzz *f)
{
	return f->nlive == 0 ? NULL : &f->live[next16(f) % f->nlive];
}

static void op_free_live(struct fuzz *f)
{
	struct pair *b = pick_live(f);
	uintptr_t p[SIDES];
	size_t x;

	if (b == NULL)
		return;
	switch (next8(f) % 3) {
	case 0:
		x = b->req;
		break;
	case 1:
		x = (size_t)1 << b->order;
		break;
	default:
		x = size_of_order(f, b->order == f->min_order ? next8(f) % (f->min_order + 1)
							       : b->order);
		break;
	}
	p[CACHED] = at(f, CACHED, b->off[CACHED]);
	p[UNCACHED] = at(f, UNCACHED, b->off[UNCACHED]);
	do_free(f, "free", p, x, true);
}

/* A block freed earlier: free memory (cached or not) unless since reused. */
static void op_double_free(struct fuzz *f)
{
	unsigned n = f->nfreed < FREED_RING ? f->nfreed : FREED_RING;
	const struct pair *d;
	uintptr_t p[SIDES];

	if (n == 0)
		return;
	d = &f->freed[next8(f) % n];
	p[CACHED] = at(f, CACHED, d->off[CACHED]);
	p[UNCACHED] = at(f, UNCACHED, d->off[UNCACHED]);
	do_free(f, "double_free", p, d->req, false);
}

static void op_free_interior(struct fuzz *f)
{
	struct pair *b = pick_live(f);
	uint64_t bs, delta;
	uintptr_t p[SIDES];

	if (b == NULL)
		return;
	bs = 1ull << b->order;
	delta = 1 + next16(f) % (bs - 1);
	p[CACHED] = at(f, CACHED, b->off[CACHED] + delta);
	p[UNCACHED] = at(f, UNCACHED, b->off[UNCACHED] + delta);
	do_free(f, "free_interior", p, next8(f) & 1 ? bs : b->req, true);
}

static void op_free_wrong_order(struct fuzz *f)
{
	struct pair *b = pick_live(f);
	uintptr_t p[SIDES];
	unsigned k;

	if (b == NULL)
		return;
	k = f->min_order + next8(f) % (f->max_order - f->min_order);
	if (k >= b->order)
		k++;
	p[CACHED] = at(f, CACHED, b->off[CACHED]);
	p[UNCACHED] = at(f, UNCACHED, b->off[UNCACHED]);
	do_free(f, "free_wrong_order", p, next8(f) & 1 ? (size_t)1 << k : size_of_order(f, k),
		true);
}

static void op_free_outside(struct fuzz *f)
{
	size_t x = size_of_order(f, next8(f) % (f->max_order + 1));
	uint8_t kind = next8(f) % 4;
	uint32_t beyond = next16(f);
	char on_stack = 0;
	uintptr_t p[SIDES];

	for (int side = 0; side < SIDES; side++) {
		switch (kind) {
		case 0:
			p[side] = at(f, side, 0) - 1;
			break;
		case 1:
			p[side] = at(f, side, heap_bytes(f) + beyond);
			break;
		case 2:
			p[side] = (uintptr_t)&on_stack;
			break;
		default:
			p[side] = (uintptr_t)f->s[side].h; /* the metadata */
			break;
		}
	}
	do_free(f, "free_outside", p, x, true);
}

static void op_free_bad_size(struct fuzz *f)
{
	struct pair *b = pick_live(f);
	uintptr_t p[SIDES] = { at(f, CACHED, 0), at(f, UNCACHED, 0) };
	uint8_t kind = next8(f) % 3;
	size_t x = kind == 0 ? 0 : kind == 1 ? heap_bytes(f) + 1 + next8(f) : SIZE_MAX;

	if (b != NULL) {
		p[CACHED] = at(f, CACHED, b->off[CACHED]);
		p[UNCACHED] = at(f, UNCACHED, b->off[UNCACHED]);
	}
	do_free(f, "free_bad_size", p, x, true);
}

/* The same offset in both heaps: a different place relative to the live blocks. */
static void op_free_anywhere(struct fuzz *f)
{
	uint64_t off = next16(f);
	uintptr_t p[SIDES];

	off = (off | (uint64_t)next8(f) << 16) % heap_bytes(f);
	if (next8(f) & 1)
		off &= ~((1ull << f->min_order) - 1);
	p[CACHED] = at(f, CACHED, off);
	p[UNCACHED] = at(f, UNCACHED, off);
	do_free(f, "free_anywhere", p, pick_size(f), false);
}

/* ---- whole-heap checks ---- */

static void check_side(struct fuzz *f, int side)
{
	struct iop_heap_stats s;
	char report[256] = "";
	int rc = iop_heap_check_report(f->s[side].h, report, sizeof(report));

	if (rc != 0)
		fail(f, "%s heap: iop_heap_check = %d: %s", side_name[side], rc, report);
	iop_heap_stats(f->s[side].h, &s);
	if (s.bytes_free + s.bytes_in_use != heap_bytes(f))
		fail(f, "%s heap: bytes_free %llu + bytes_in_use %llu != %llu", side_name[side],
		     (unsigned long long)s.bytes_free, (unsigned long long)s.bytes_in_use,
		     (unsigned long long)heap_bytes(f));
	if (s.bytes_in_use != f->bytes_live || s.blocks_in_use != f->nlive)
		fail(f, "%s heap: %llu bytes in %llu blocks in use, harness holds %llu in %u",
		     side_name[side], (unsigned long long)s.bytes_in_use,
		     (unsigned long long)s.blocks_in_use, (unsigned long long)f->bytes_live,
		     f->nlive);
	if (s.refused_frees != f->s[side].refused)
		fail(f, "%s heap: %llu refused frees, harness saw %llu", side_name[side],
		     (unsigned long long)s.refused_frees, (unsigned long long)f->s[side].refused);
	if (s.bytes_cached > s.bytes_free || (side == UNCACHED && s.bytes_cached != 0))
		fail(f, "%s heap: %llu bytes cached", side_name[side],
		     (unsigned long long)s.bytes_cached);
}

static void full_check(struct fuzz *f)
{
	for (int side = 0; side < SIDES; side++)
		check_side(f, side);
}

static void flush_and_check(struct fuzz *f)
{
	struct iop_heap_stats s;

	f->what = "flush";
	iop_heap_cache_flush(f->s[CACHED].h);
	iop_heap_stats(f->s[CACHED].h, &s);
	if (s.bytes_cached != 0)
		fail(f, "%llu bytes cached after iop_heap_cache_flush",
		     (unsigned long long)s.bytes_cached);
	check_side(f, CACHED);
}

static void run_op(struct fuzz *f)
{
	uint8_t op = next8(f);

	if (op < f->alloc_cut) {
		do_alloc(f, pick_size(f));
		return;
	}
	switch ((op - f->alloc_cut) % 12) {
	case 0: case 1: case 2: case 3:
		op_free_live(f);
		break;
	case 4:
		op_double_free(f);
		break;
	case 5:
		op_free_interior(f);
		break;
	case 6:
		op_free_wrong_order(f);
		break;
	case 7:
		op_free_outside(f);
		break;
	case 8:
		op_free_bad_size(f);
		break;
	case 9:
		op_free_anywhere(f);
		break;
	case 10:
		f->what = "check";
		full_check(f);
		break;
	default:
		flush_and_check(f);
		break;
	}
}

/* ---- one input ---- */

static void setup(struct fuzz *f, const uint8_t *data, size_t size)
{
	struct iop_heap_opts opts[SIDES] = { { 0 }, { .flags = IOP_HEAP_F_NO_CACHE } };

	uint8_t size_byte, min_byte;

	f->data = data;
	f->size = size;
	f->pos = 0;
	f->op = 0;
	f->what = NULL;
	f->nlive = 0;
	f->bytes_live = 0;
	f->nfreed = 0;
	f->next_tag = 0;
	size_byte = next8(f);
	min_byte = next8(f);
	f->min_order = 4 + min_byte % 3;
	f->max_order = f->min_order + 14 + size_byte % 3;
	f->alloc_cut = 48 + next8(f) % 160;
	for (int side = 0; side < SIDES; side++) {
		struct side *s = &f->s[side];

		memset(s->cover, 0, sizeof(uint32_t) << (f->max_order - f->min_order));
		s->refused = 0;
		opts[side].min_block = (size_t)1 << f->min_order;
		s->h = iop_heap_create((size_t)heap_bytes(f), &opts[side]);
		if (s->h == NULL)
			fail(f, "iop_heap_create (%s) failed: errno %d", side_name[side], errno);
		/* The one block of 2^M shows where the block area starts. */
		s->base = iop_heap_alloc(s->h, heap_bytes(f));
		if (s->base == NULL || iop_heap_free(s->h, s->base, heap_bytes(f)) != 0)
			fail(f, "%s heap: alloc+free of the whole heap failed", side_name[side]);
	}
	full_check(f);
}

/* Free what is left and flush: the heap must be whole, and all of it allocatable. */
static void teardown(struct fuzz *f)
{
	f->what = "final_free";
	while (f->nlive != 0) {
		const struct pair *b = &f->live[f->nlive - 1];
		uintptr_t p[SIDES] = { at(f, CACHED, b->off[CACHED]),
				       at(f, UNCACHED, b->off[UNCACHED]) };
		unsigned before = f->nlive;

		do_free(f, "final_free", p, b->req, true);
		if (f->nlive == before)
			fail(f, "a live block with the size it was asked for is refused");
	}
	flush_and_check(f);
	f->what = "final_check";
	for (int side = 0; side < SIDES; side++) {
		struct iop_heap_stats s;
		void *all;

		check_side(f, side);
		iop_heap_coalesce(f->s[side].h); /* the uncached side's frees deferred their merges */
		iop_heap_stats(f->s[side].h, &s);
		if (s.largest_free != heap_bytes(f) || s.free_blocks[f->max_order] != 1)
			fail(f, "%s heap: empty and flushed, but not one free block",
			     side_name[side]);
		all = iop_heap_alloc(f->s[side].h, heap_bytes(f));
		if (all != f->s[side].base || iop_heap_free(f->s[side].h, all, heap_bytes(f)) != 0)
			fail(f, "%s heap: the whole heap cannot be allocated at the end",
			     side_name[side]);
		iop_heap_destroy(f->s[side].h);
		f->s[side].h = NULL;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz *f = &fz;

	setup(f, data, size);
	while (f->pos < f->size) {
		f->op++;
		run_op(f);
		if (f->op % CHECK_EVERY == 0) {
			f->what = "periodic_check";
			full_check(f);
		}
	}
	teardown(f);
	return 0;
}
