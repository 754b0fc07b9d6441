/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Differential fuzzer for the buddy heap: one input is one heap and a
 * sequence of alloc/free calls, good and bad. Every call goes to the real
 * heap (frames/) and to the reference model (heap_model.c); they must agree
 * on the exact offset returned, the errno, the return code, and periodically
 * on the whole statistics. Blocks are filled with a pattern that is checked
 * before each free, so two live blocks that overlap are caught even if both
 * sides agree on the offsets.
 *
 * Input layout:
 *   byte 0     heap size 2^(10 + b % 7); the thread's heap slot 1 + (b / 7) % 4,
 *              whose region (heap_home.h) its searches try first where the
 *              heap is large enough for regions
 *   byte 1     min_block 16 << (b % 3)
 *   byte 2     alloc_cut = 48 + b % 160: opcodes below it allocate
 *   rest       operations, each an opcode byte and its argument bytes
 *              (an exhausted input reads as zeros and ends the loop);
 *              see run_op() and make_corpus.py.
 *
 * Any disagreement prints what differed and calls abort().
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "heap_inflight.h"
#include "heap_model.h"
#include "iop_heap.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_UNITS (1u << (HM_MAX_ORDER - HM_MIN_ORDER))
#define FREED_RING 64u
#define CHECK_EVERY 32u

struct live_block {
	uint64_t off;
	size_t req;     /* the size asked of alloc */
	unsigned order; /* log2 of the block size */
	uint8_t tag;    /* seeds the fill pattern */
};

struct freed_block {
	uint64_t off;
	size_t req;
};

struct fuzz {
	const uint8_t *data;
	size_t size;
	size_t pos;

	struct iop_heap *h;
	char *base;        /* the block area, found through alloc(2^M) */
	uint32_t base_off; /* iop_heap_ptr_to_offset(base) */
	unsigned max_order;
	unsigned min_order;
	unsigned alloc_cut;
	unsigned thread_slot; /* heap_thread_slot while this input runs */
	struct heap_model model;

	struct live_block live[MAX_UNITS];
	uint16_t live_at[MAX_UNITS]; /* live index + 1 of the block starting at a unit */
	unsigned nlive;
	struct freed_block freed[FREED_RING];
	unsigned nfreed;
	uint8_t next_tag;

	/* The operation in progress, for the mismatch report. */
	unsigned long op;
	const char *what;
	bool has_p; /* frees have a pointer argument, allocs and checks do not */
	const void *arg_p;
	size_t arg_x;
};

/* Large (the model and the block table): static, and one input at a time. */
static struct fuzz fz;

static bool trace_enabled(void)
{
	static int enabled = -1;

	if (enabled < 0) {
		const char *e = getenv("IOP_FUZZ_TRACE");

		enabled = e != NULL && *e != '\0' && *e != '0';
	}
	return enabled;
}

static const char *err_name(int e)
{
	switch (e < 0 ? -e : e) {
	case 0: return "0";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EFAULT: return "EFAULT";
	case ERANGE: return "ERANGE";
	case ENXIO: return "ENXIO";
	case EALREADY: return "EALREADY";
	default: return "other";
	}
}

/* A pointer relative to the block area, which is what the model knows. */
static const char *rel(const struct fuzz *f, const void *ptr, char *buf, size_t len)
{
	uintptr_t p = (uintptr_t)ptr, b = (uintptr_t)f->base;

	if (p == 0)
		snprintf(buf, len, "NULL");
	else if (p >= b)
		snprintf(buf, len, "base+%#llx", (unsigned long long)(p - b));
	else
		snprintf(buf, len, "base-%#llx", (unsigned long long)(b - p));
	return buf;
}

static void print_args(const struct fuzz *f)
{
	char buf[40];

	if (f->has_p)
		fprintf(stderr, "(%s, x=%zu)", rel(f, f->arg_p, buf, sizeof(buf)), f->arg_x);
	else
		fprintf(stderr, "(x=%zu)", f->arg_x);
}

__attribute__((format(printf, 2, 3), noreturn)) static void fail(struct fuzz *f,
								  const char *fmt, ...)
{
	char report[256] = "";
	va_list ap;

	fprintf(stderr, "fuzz_heap: MISMATCH heap 2^%u min_block %u slot %u, op %lu %s",
		f->max_order, 1u << f->min_order, f->thread_slot, f->op,
		f->what != NULL ? f->what : "setup");
	print_args(f);
	fprintf(stderr, ": ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (f->h != NULL)
		iop_heap_check_report(f->h, report, sizeof(report));
	fprintf(stderr, "\nfuzz_heap: iop_heap_check says: %s\n", report);
	fflush(stderr);
	abort();
}

static void note_op(struct fuzz *f, const char *what, bool has_p, const void *p, size_t x)
{
	f->what = what;
	f->has_p = has_p;
	f->arg_p = p;
	f->arg_x = x;
	if (trace_enabled()) {
		fprintf(stderr, "op %lu %s", f->op, what);
		print_args(f);
		fprintf(stderr, "\n");
	}
}

/* ---- input bytes ---- */

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

/* A size in (2^(e-1), 2^e], or 1 for e == 0: every order gets asked for. */
static size_t size_of_order(struct fuzz *f, unsigned e)
{
	size_t lo;

	if (e == 0)
		return 1;
	lo = (size_t)1 << (e - 1);
	return lo + 1 + next16(f) % lo;
}

/* Any size alloc/free may be called with, the invalid ones included. */
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
	default:
		return size_of_order(f, next8(f) % (f->max_order + 1));
	}
}

/* ---- the harness's view of live blocks ---- */

static void *ptr_at(const struct fuzz *f, uint64_t off)
{
	return f->base + off;
}

/* A pointer that may lie outside the block area, without pointer arithmetic
 * that would be undefined outside the object. */
static void *raw_ptr(const struct fuzz *f, intptr_t delta)
{
	return (void *)((uintptr_t)f->base + (uintptr_t)delta);
}

static uint8_t pattern(uint8_t tag, uint64_t i)
{
	return (uint8_t)(tag * 31u + i + (i >> 8));
}

static void fill(struct fuzz *f, const struct live_block *b)
{
	uint8_t *p = ptr_at(f, b->off);

	for (uint64_t i = 0; i < 1ull << b->order; i++)
		p[i] = pattern(b->tag, i);
}

static void verify_fill(struct fuzz *f, const struct live_block *b)
{
	const uint8_t *p = ptr_at(f, b->off);

	for (uint64_t i = 0; i < 1ull << b->order; i++)
		if (p[i] != pattern(b->tag, i))
			fail(f, "block at %#llx (order %u) byte %llu is %#x, wrote %#x: overlap",
			     (unsigned long long)b->off, b->order, (unsigned long long)i, p[i],
			     pattern(b->tag, i));
}

static int live_find(const struct fuzz *f, uint64_t off)
{
	unsigned slot;

	if (off >= heap_bytes(f) || off % (1ull << f->min_order) != 0)
		return -1;
	slot = f->live_at[off >> f->min_order];
	return slot != 0 && f->live[slot - 1].off == off ? (int)slot - 1 : -1;
}

static void live_add(struct fuzz *f, uint64_t off, size_t req, unsigned order)
{
	struct live_block *b;

	if (f->nlive >= MAX_UNITS)
		fail(f, "more live blocks than min blocks");
	b = &f->live[f->nlive];
	b->off = off;
	b->req = req;
	b->order = order;
	b->tag = ++f->next_tag;
	f->live_at[off >> f->min_order] = (uint16_t)++f->nlive;
	fill(f, b);
}

static void live_remove(struct fuzz *f, unsigned i)
{
	unsigned last = --f->nlive;

	f->freed[f->nfreed % FREED_RING] = (struct freed_block){ f->live[i].off, f->live[i].req };
	f->nfreed++;
	f->live_at[f->live[i].off >> f->min_order] = 0;
	if (i != last) {
		f->live[i] = f->live[last];
		f->live_at[f->live[i].off >> f->min_order] = (uint16_t)(i + 1);
	}
}

/* ---- one call on both sides ---- */

static void check_offset_api(struct fuzz *f, void *p, uint64_t off)
{
	uint32_t o = 0;
	int rc = iop_heap_ptr_to_offset(f->h, p, &o);

	if (rc != 0 || o != f->base_off + off)
		fail(f, "iop_heap_ptr_to_offset = %d, %#x; expected 0, %#llx", rc, o,
		     (unsigned long long)(f->base_off + off));
	if (iop_heap_offset_to_ptr(f->h, o) != p)
		fail(f, "iop_heap_offset_to_ptr(%#x) does not give the block back", o);
}

static void do_alloc(struct fuzz *f, size_t x)
{
	int64_t want = hm_alloc(&f->model, x);
	int order = hm_order_for(&f->model, x);
	size_t bs = iop_heap_block_size(f->h, x);
	char buf[40];
	void *p;
	int err;

	note_op(f, "alloc", false, NULL, x);
	if (bs != (order < 0 ? 0 : (size_t)1 << order))
		fail(f, "iop_heap_block_size = %zu, model order %d", bs, order);
	errno = 0;
	p = iop_heap_alloc(f->h, x);
	err = errno;
	if (want < 0) {
		if (p != NULL || err != -want)
			fail(f, "got %s errno %s, model says NULL errno %s",
			     rel(f, p, buf, sizeof(buf)), err_name(err), err_name((int)want));
		if (trace_enabled())
			fprintf(stderr, "  -> %s\n", err_name(err));
		return;
	}
	if (trace_enabled())
		fprintf(stderr, "  -> base+%#llx\n", (unsigned long long)want);
	if (p == NULL)
		fail(f, "got NULL errno %s, model says base+%#llx", err_name(err),
		     (unsigned long long)want);
	if ((uintptr_t)p - (uintptr_t)f->base != (uint64_t)want)
		fail(f, "got %s, model says base+%#llx", rel(f, p, buf, sizeof(buf)),
		     (unsigned long long)want);
	check_offset_api(f, p, (uint64_t)want);
	live_add(f, (uint64_t)want, x, (unsigned)order);
}

/*
 * free(p, x) on both sides. `where` is p as the model sees it. When the model
 * says the free will succeed, the harness must be tracking that block: its
 * pattern is checked first, and it leaves the live table afterwards, whatever
 * kind of operation (a "double free" of reused memory, say) got there.
 */
static int do_free(struct fuzz *f, const char *what, void *p, size_t x)
{
	struct hm_free_where where = { .outside = true };
	uintptr_t up = (uintptr_t)p, ub = (uintptr_t)f->base;
	int want;
	int got;
	int li = -1;

	if (up >= ub && up - ub < heap_bytes(f))
		where = (struct hm_free_where){ .outside = false, .off = up - ub };
	note_op(f, what, true, p, x);
	want = hm_free_predict(&f->model, where, x);
	if (want == 0) {
		li = live_find(f, where.off);
		if (li < 0)
			fail(f, "model frees a block the harness does not track");
		if ((int)f->live[li].order != hm_order_for(&f->model, x))
			fail(f, "model frees a block of order %u with x of order %d",
			     f->live[li].order, hm_order_for(&f->model, x));
		verify_fill(f, &f->live[li]);
	}
	hm_free(&f->model, where, x);
	got = iop_heap_free(f->h, p, x);
	if (got != want)
		fail(f, "returned %d (%s), model says %d (%s)", got, err_name(got), want,
		     err_name(want));
	if (trace_enabled())
		fprintf(stderr, "  -> %s\n", err_name(got));
	if (li >= 0)
		live_remove(f, (unsigned)li);
	return got;
}

/* ---- whole-heap comparison ---- */

static void expect_u64(struct fuzz *f, const char *name, uint64_t got, uint64_t want)
{
	if (got != want)
		fail(f, "stats %s = %llu, model says %llu", name, (unsigned long long)got,
		     (unsigned long long)want);
}

static void compare_stats(struct fuzz *f)
{
	const struct heap_model *m = &f->model;
	struct iop_heap_stats s;
	int rc = iop_heap_stats(f->h, &s);

	if (rc != 0)
		fail(f, "iop_heap_stats = %d", rc);
	expect_u64(f, "heap_bytes", s.heap_bytes, heap_bytes(f));
	expect_u64(f, "min_block", s.min_block, 1ull << f->min_order);
	expect_u64(f, "min_order", s.min_order, f->min_order);
	expect_u64(f, "max_order", s.max_order, f->max_order);
	expect_u64(f, "bytes_free", s.bytes_free, m->bytes_free);
	expect_u64(f, "bytes_in_use", s.bytes_in_use, m->bytes_in_use);
	expect_u64(f, "blocks_in_use", s.blocks_in_use, m->blocks_in_use);
	expect_u64(f, "largest_free", s.largest_free, hm_largest_free(m));
	expect_u64(f, "refused_frees", s.refused_frees, m->refused_frees);
	for (unsigned k = 0; k < IOP_HEAP_ORDER_SLOTS; k++)
		if (s.free_blocks[k] != m->free_blocks[k])
			fail(f, "stats free_blocks[%u] = %llu, model says %llu", k,
			     (unsigned long long)s.free_blocks[k],
			     (unsigned long long)m->free_blocks[k]);
}

static void full_check(struct fuzz *f)
{
	char report[256] = "";
	const char *broken = hm_self_check(&f->model);
	int rc = iop_heap_check_report(f->h, report, sizeof(report));

	if (broken != NULL)
		fail(f, "%s", broken);
	if (rc != 0)
		fail(f, "iop_heap_check = %d: %s", rc, report);
	compare_stats(f);
	if (f->nlive != f->model.blocks_in_use)
		fail(f, "harness tracks %u blocks, model has %llu", f->nlive,
		     (unsigned long long)f->model.blocks_in_use);
	for (unsigned i = 0; i < f->nlive; i++)
		if (hm_alloc_order_at(&f->model, f->live[i].off) != (int)f->live[i].order)
			fail(f, "harness block at %#llx unknown to the model",
			     (unsigned long long)f->live[i].off);
}

/* ---- operations ---- */

static struct live_block *pick_live(struct fuzz *f)
{
	return f->nlive == 0 ? NULL : &f->live[next16(f) % f->nlive];
}

/* With the size asked, the block size, or any size of the same order. */
static void op_free_live(struct fuzz *f)
{
	struct live_block *b = pick_live(f);
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
		/* Every size up to min_block maps to the minimum order. */
		if (b->order == f->min_order)
			x = size_of_order(f, next8(f) % (f->min_order + 1));
		else
			x = size_of_order(f, b->order);
		break;
	}
	do_free(f, "free", ptr_at(f, b->off), x);
}

static void op_double_free(struct fuzz *f)
{
	const struct freed_block *d;
	unsigned n = f->nfreed < FREED_RING ? f->nfreed : FREED_RING;

	if (n == 0)
		return;
	d = &f->freed[next8(f) % n];
	do_free(f, "double_free", ptr_at(f, d->off), d->req);
}

static void op_free_interior(struct fuzz *f)
{
	struct live_block *b = pick_live(f);
	size_t bs;
	uint64_t delta;

	if (b == NULL)
		return;
	/* Bytes are read in statements of their own: the order of argument
	 * evaluation is unspecified, and an input must mean the same thing to
	 * every compiler. */
	bs = (size_t)1 << b->order;
	delta = 1 + next16(f) % (bs - 1);
	do_free(f, "free_interior", ptr_at(f, b->off + delta), next8(f) & 1 ? bs : b->req);
}

static void op_free_wrong_order(struct fuzz *f)
{
	struct live_block *b = pick_live(f);
	unsigned k;

	if (b == NULL)
		return;
	/* Any order of the heap but the block's own. */
	k = f->min_order + next8(f) % (f->max_order - f->min_order);
	if (k >= b->order)
		k++;
	do_free(f, "free_wrong_order", ptr_at(f, b->off),
		next8(f) & 1 ? (size_t)1 << k : size_of_order(f, k));
}

static void op_free_outside(struct fuzz *f)
{
	char on_stack = 0;
	size_t x = size_of_order(f, next8(f) % (f->max_order + 1));
	void *p;

	switch (next8(f) % 6) {
	case 0:
		p = raw_ptr(f, -1);
		break;
	case 1:
		p = raw_ptr(f, (intptr_t)heap_bytes(f));
		break;
	case 2:
		p = &on_stack;
		break;
	case 3:
		p = f->h;
		break;
	case 4:
		p = NULL;
		break;
	default:
		p = raw_ptr(f, (intptr_t)heap_bytes(f) + next16(f));
		break;
	}
	do_free(f, "free_outside", p, x);
}

static void op_free_bad_size(struct fuzz *f)
{
	struct live_block *b = pick_live(f);
	void *p = b != NULL ? ptr_at(f, b->off) : f->base;
	size_t x;

	switch (next8(f) % 3) {
	case 0:
		x = 0;
		break;
	case 1:
		x = heap_bytes(f) + 1 + next8(f);
		break;
	default:
		x = SIZE_MAX;
		break;
	}
	do_free(f, "free_bad_size", p, x);
}

/* Anywhere in the heap (aligned or not) with any size: free memory, block
 * interiors, and now and then a live block's start. */
static void op_free_anywhere(struct fuzz *f)
{
	uint64_t off = next16(f);

	off = (off | (uint64_t)next8(f) << 16) % heap_bytes(f);
	if (next8(f) & 1)
		off &= ~((1ull << f->min_order) - 1);
	do_free(f, "free_anywhere", ptr_at(f, off), pick_size(f));
}

/*
 * An opcode below alloc_cut allocates; the others pick one of the rest. The
 * cut comes from the input, so some inputs fill the heap up to exhaustion and
 * others keep it nearly empty: random bytes alone would hover at a few live
 * blocks and never reach a full 2^16 heap.
 */
/* Merge what frees deferred, on both sides: the same number of merges, then everything agrees. */
static void op_coalesce(struct fuzz *f)
{
	uint64_t want, got;

	note_op(f, "coalesce", false, NULL, 0);
	want = hm_coalesce(&f->model);
	got = iop_heap_coalesce(f->h);
	if (got != want)
		fail(f, "iop_heap_coalesce merged %llu pairs, model says %llu",
		     (unsigned long long)got, (unsigned long long)want);
	full_check(f);
}

static void run_op(struct fuzz *f)
{
	uint8_t op = next8(f);

	if (op < f->alloc_cut) {
		do_alloc(f, pick_size(f));
		return;
	}
	switch ((op - f->alloc_cut) % 11) {
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
	default:
		op_coalesce(f);
		break;
	}
}

/* ---- one input ---- */

/*
 * The public API does not say where the block area starts; the one block of
 * 2^M bytes does, and freeing it leaves a fresh heap again.
 */
static void find_base(struct fuzz *f)
{
	void *p;
	int rc;

	note_op(f, "setup_alloc_free_whole_heap", false, NULL, heap_bytes(f));
	p = iop_heap_alloc(f->h, heap_bytes(f));
	if (p == NULL)
		fail(f, "alloc(2^M) on a new heap failed: %s", err_name(errno));
	f->base = p;
	if (iop_heap_ptr_to_offset(f->h, p, &f->base_off) != 0)
		fail(f, "iop_heap_ptr_to_offset of the whole-heap block failed");
	rc = iop_heap_free(f->h, p, heap_bytes(f));
	if (rc != 0)
		fail(f, "free of the whole-heap block = %d", rc);
}

static void setup(struct fuzz *f, const uint8_t *data, size_t size)
{
	/* The model predicts the uncached heap's placement and its free blocks
	 * after every free; thread caches would hold blocks back (heaps this
	 * small get none, but that is a sizing rule, not a promise). The default,
	 * cached heap has a harness of its own: fuzz_heap_cached.c. */
	struct iop_heap_opts opts = { .flags = IOP_HEAP_F_NO_CACHE };
	unsigned geometry;

	memset(f->live_at, 0, sizeof(f->live_at));
	f->data = data;
	f->size = size;
	f->pos = 0;
	f->h = NULL;
	f->base = NULL;
	f->nlive = 0;
	f->nfreed = 0;
	f->next_tag = 0;
	f->op = 0;
	f->what = NULL;
	f->has_p = false;
	f->arg_p = NULL;
	f->arg_x = 0;
	geometry = next8(f);
	f->max_order = 10 + geometry % 7;
	f->min_order = 4 + next8(f) % 3;
	f->alloc_cut = 48 + next8(f) % 160;
	opts.min_block = (size_t)1 << f->min_order;

	if (hm_init(&f->model, f->max_order, f->min_order) != 0)
		fail(f, "model refuses the geometry");
	/*
	 * This thread's heap slot, and so its home (heap_home.h): slots are
	 * handed out round robin, so take them until it is the one wanted.
	 */
	f->thread_slot = 1 + (geometry / 7) % 4;
	while (heap_assign_thread_slot() != f->thread_slot)
		;
	hm_set_thread_slot(&f->model, f->thread_slot);
	f->h = iop_heap_create((size_t)heap_bytes(f), &opts);
	if (f->h == NULL)
		fail(f, "iop_heap_create failed: %s", err_name(errno));
	if (iop_heap_size(f->h) != heap_bytes(f) ||
	    iop_heap_min_block(f->h) != (size_t)1 << f->min_order)
		fail(f, "heap size %zu / min_block %zu", iop_heap_size(f->h),
		     iop_heap_min_block(f->h));
	note_op(f, "setup_create", false, NULL, heap_bytes(f));
	full_check(f);
	find_base(f);
	full_check(f);
}

/* Free what is left, then the heap must be one free block of 2^M again. */
static void teardown(struct fuzz *f)
{
	struct iop_heap_stats s;

	note_op(f, "final_check", false, NULL, 0);
	full_check(f);
	while (f->nlive != 0) {
		const struct live_block *b = &f->live[f->nlive - 1];

		/* Both sides agreeing on a refusal here would loop forever. */
		if (do_free(f, "final_free", ptr_at(f, b->off), b->req) != 0)
			fail(f, "a live block with the size it was asked for is refused");
	}
	op_coalesce(f);
	iop_heap_stats(f->h, &s);
	for (unsigned k = 0; k < IOP_HEAP_ORDER_SLOTS; k++)
		if (s.free_blocks[k] != (k == f->max_order ? 1u : 0u))
			fail(f, "empty heap has %llu free blocks of order %u",
			     (unsigned long long)s.free_blocks[k], k);
	if (s.bytes_free != heap_bytes(f) || s.blocks_in_use != 0 ||
	    s.largest_free != heap_bytes(f))
		fail(f, "empty heap is not one free block of 2^M");
	iop_heap_destroy(f->h);
	f->h = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz *f = &fz;

	setup(f, data, size);
	while (f->pos < f->size) {
		f->op++;
		run_op(f);
		if (f->op % CHECK_EVERY == 0) {
			note_op(f, "periodic_check", false, NULL, 0);
			full_check(f);
		}
	}
	teardown(f);
	return 0;
}
