/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the SGL walker: a frame and a window of any bytes a
 * host could write, each in a block of exactly its size, so AddressSanitizer
 * sees any read past either, and the window poisoned outside [lo, hi) where
 * AddressSanitizer is on. What the walker accepts must be what the IOP
 * relies on: buffers inside [lo, hi), immediate data inside the frame; and
 * a walk in bursts (iop_sgl_next_burst()) must be the same walk.
 *
 * Input layout:
 *   byte 0     bits 0-3: the SGL offset in words; bit 4: shape the list (see
 *              shape_frame()); bit 5: no window (chains are refused)
 *   bytes 1-2  window size (LE), modulo MAX_WINDOW + 1
 *   bytes 3-4  lo (LE), modulo window size + 1
 *   bytes 5-6  hi - lo (LE), modulo window size - lo + 1
 *   then       the window's bytes (zeros where the input runs out), then the
 *              frame: the rest of the input
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iop_frame.h"
#include "iop_sgl.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#endif
#ifdef FUZZ_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define MAX_WINDOW 2048u
#define HEADER_BYTES 7u
#define OPT_SHAPE 0x10u
#define OPT_NO_WINDOW 0x20u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static unsigned le16(const uint8_t *p)
{
	return p[0] | (unsigned)p[1] << 8;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> 8 * i);
}

/*
 * Element kinds for shaped lists, indexed by a random byte: mostly what the
 * walker accepts (without LAST_ELEMENT more often than with, so that lists
 * run on), and a few of each kind it refuses.
 */
static const uint8_t shape_flags[] = {
	0x10, 0x10, 0x14, 0x50, 0x54, 0x10, 0x90, 0xD4, /* simple */
	0x0C, 0x4C, 0x8C,                               /* immediate data */
	0x30, 0x30, 0x30, 0x30, 0x30,                   /* chain */
	0xB0, 0x98, 0xA0, 0x7C, 0x88, 0x91, 0x34,       /* refused */
};

/* Random offsets are out of any small range; shaped ones mostly land inside it. */
struct shape_range {
	uint32_t lo, hi; /* [lo, hi) of the window offsets a list may name */
	uint32_t seg_lo; /* lo rounded up to 8: where shaped segments start */
};

/*
 * Rewrite the element whose header is at p[0], from its own random bytes,
 * into a plausible one. avail: bytes from p to the segment's end (>= 4).
 * Returns the element's length in bytes; *chain set if it is a chain.
 */
static size_t shape_element(uint8_t *p, size_t avail, const struct shape_range *r,
			    int in_frame, int *chain)
{
	uint8_t flags = shape_flags[p[3] % sizeof(shape_flags)];
	uint32_t count = p[0], span = r->hi - r->lo;
	uint32_t addr;

	*chain = flags == 0x30;
	if ((flags & 0x3C) == 0x0C) {
		count %= in_frame ? 16 : 5; /* in a segment: 2 words, like the rest */
		put_le32(p, (uint32_t)flags << 24 | count);
		return 4 + (count + 3) / 4 * 4;
	}
	if (avail < 8) {
		put_le32(p, (uint32_t)flags << 24 | count);
		return 4;
	}
	if (*chain)
		count = 8 * (1 + count % 8); /* 1-8 two-word elements */
	if (p[7] % 8 == 0) /* near the range, either side: the edges get tested */
		addr = le16(p + 4) % (r->hi + 64 + 1);
	else if (*chain) /* an element boundary of the shaped segments */
		addr = r->seg_lo + 8 * (le16(p + 4) % (span / 8 + 1));
	else
		addr = r->lo + le16(p + 4) % (span + 1);
	put_le32(p, (uint32_t)flags << 24 | count);
	put_le32(p + 4, addr);
	return 8;
}

/*
 * Shape the frame's list in layout order, so that headers and addresses
 * line up. A chain usually ends the frame (the walker refuses anything
 * after it): *frame_bytes is cut there, unless the input says not to.
 */
static void shape_frame(uint8_t *frame, size_t *frame_bytes, unsigned sgl_offset,
			const struct shape_range *r)
{
	size_t pos = (size_t)sgl_offset * 4, end = *frame_bytes - *frame_bytes % 4;
	int chain;

	while (pos + 4 <= end) {
		uint8_t keep_going = frame[pos + 2];

		pos += shape_element(frame + pos, end - pos, r, 1, &chain);
		if (chain && keep_going % 8 != 0 && pos <= end) {
			*frame_bytes = pos;
			return;
		}
	}
}

/* The window from seg_lo in 2-word steps: where shaped chains point. */
static void shape_window(uint8_t *window, const struct shape_range *r)
{
	int chain;

	for (size_t pos = r->seg_lo; pos + 8 <= r->hi; pos += 8)
		shape_element(window + pos, 8, r, 0, &chain);
}

static int is_refusal_dsc(uint16_t dsc)
{
	return dsc == IOP_DSC_INVALID_OFFSET || dsc == IOP_DSC_INVALID_PARAMETER ||
	       dsc == IOP_DSC_MESSAGE_TOO_SMALL;
}

/* An accepted element names only what the IOP may touch. */
static void check_elem(const struct iop_sgl_elem *e, const uint8_t *frame, size_t frame_bytes,
		       const struct iop_sgl_bounds *b)
{
	const uint8_t *d = e->data;

	if (e->kind == IOP_SGL_KIND_SIMPLE) {
		if (e->offset < b->lo || (uint64_t)e->offset + e->count > b->hi ||
		    (e->flags & 0x3B) != IOP_SGL_TYPE_SIMPLE || d != NULL)
			abort();
	} else if (e->kind == IOP_SGL_KIND_IMMEDIATE) {
		if (d == NULL || d < frame || (size_t)(d - frame) > frame_bytes ||
		    e->count > frame_bytes - (size_t)(d - frame) || (d - frame) % 4 != 0 ||
		    (e->flags & 0x3F) != IOP_SGL_IMMEDIATE || e->offset != 0)
			abort();
	} else {
		abort();
	}
	if (e->count > IOP_SGL_COUNT_MAX)
		abort();
}

static int same_elem(const struct iop_sgl_elem *a, const struct iop_sgl_elem *b)
{
	return a->kind == b->kind && a->flags == b->flags && a->count == b->count &&
	       a->offset == b->offset && a->data == b->data;
}

/*
 * iop_sgl_next_burst() in bursts of max must hand out what iop_sgl_next()
 * did, element for element, then the same end or refusal (the same DSC),
 * and keep to it.
 */
static void walk_bursts(const uint8_t *frame, size_t frame_bytes, unsigned sgl_offset,
			const struct iop_sgl_bounds *b, unsigned max)
{
	struct iop_sgl_iter one, burst;
	struct iop_sgl_elem e, got[7];
	int rc1, rc;

	if (max > sizeof(got) / sizeof(got[0]) ||
	    iop_sgl_iter_init(&one, frame, frame_bytes, sgl_offset, b) != 0 ||
	    iop_sgl_iter_init(&burst, frame, frame_bytes, sgl_offset, b) != 0)
		abort();
	while ((rc = iop_sgl_next_burst(&burst, got, max)) > 0) {
		if ((unsigned)rc > max)
			abort();
		for (int i = 0; i < rc; i++)
			if (iop_sgl_next(&one, &e) != 1 || !same_elem(&e, &got[i]))
				abort();
	}
	rc1 = iop_sgl_next(&one, &e);
	if (rc != rc1 || burst.dsc != one.dsc || iop_sgl_next_burst(&burst, got, max) != rc)
		abort();
}

/* Walk the whole list; iop_sgl_check() must agree with the element-by-element walk. */
static void walk(const uint8_t *frame, size_t frame_bytes, unsigned sgl_offset,
		 const struct iop_sgl_bounds *b, size_t window_bytes)
{
	/* Each element takes at least a word of the frame or of one of 8 segments. */
	size_t max_elems = frame_bytes / 4 + IOP_SGL_MAX_CHAIN * (window_bytes / 4) + 1;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	uint64_t total = 0, checked_total = 0;
	uint16_t dsc = 0xFFFF;
	size_t n = 0;
	uint8_t last_flags = 0;
	int rc;

	if (iop_sgl_iter_init(&it, frame, frame_bytes, sgl_offset, b) != 0)
		abort();
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		check_elem(&e, frame, frame_bytes, b);
		if (++n > max_elems || it.hops > IOP_SGL_MAX_CHAIN)
			abort();
		total += e.count;
		last_flags = e.flags;
	}
	if (rc == 0) {
		/* Ended by LAST_ELEMENT, or there was no SGL at all. */
		if (it.dsc != 0 || (n == 0 ? sgl_offset != 0 : !(last_flags & IOP_SGL_LAST_ELEMENT)))
			abort();
	} else if (rc != -EPROTO || !is_refusal_dsc(it.dsc) ||
		   iop_sgl_next(&it, &e) != -EPROTO || !is_refusal_dsc(it.dsc)) {
		abort(); /* a refusal names one of the three DSCs, and stays a refusal */
	}
	if (iop_sgl_check(frame, frame_bytes, sgl_offset, b, &dsc, &checked_total) != rc ||
	    dsc != it.dsc || (rc == 0 && checked_total != total))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t opts = size > 0 ? data[0] : 0;
	size_t window_bytes = 0, lo = 0, hi = 0, in_window, frame_bytes;
	uint8_t *window, *scratch, *frame;
	struct iop_sgl_bounds b;

	if (size >= HEADER_BYTES) {
		window_bytes = le16(data + 1) % (MAX_WINDOW + 1);
		lo = le16(data + 3) % (window_bytes + 1);
		hi = lo + le16(data + 5) % (window_bytes - lo + 1);
		data += HEADER_BYTES;
		size -= HEADER_BYTES;
	} else {
		data += size;
		size = 0;
	}
	in_window = size < window_bytes ? size : window_bytes;
	frame_bytes = size - in_window;
	window = calloc(window_bytes ? window_bytes : 1, 1);
	scratch = malloc(frame_bytes ? frame_bytes : 1);
	if (window == NULL || scratch == NULL)
		goto out_scratch;
	memcpy(window, data, in_window);
	memcpy(scratch, data + in_window, frame_bytes);
	if (opts & OPT_SHAPE) {
		struct shape_range r = { (uint32_t)lo, (uint32_t)hi, ((uint32_t)lo + 7) & ~7u };

		if (r.seg_lo > r.hi)
			r.seg_lo = r.hi;
		shape_window(window, &r);
		shape_frame(scratch, &frame_bytes, opts & 0x0F, &r);
	}
	/* Exactly the frame's size, shaped or not: AddressSanitizer sees any read past it. */
	frame = malloc(frame_bytes ? frame_bytes : 1);
	if (frame == NULL)
		goto out_scratch;
	memcpy(frame, scratch, frame_bytes);
	b = (struct iop_sgl_bounds){ opts & OPT_NO_WINDOW ? NULL : window, lo, hi };
	POISON(window, lo);
	POISON(window + hi, window_bytes - hi);
	walk(frame_bytes ? frame : NULL, frame_bytes, opts & 0x0F, &b, window_bytes);
	/* Bursts of one, three and seven elements: where a burst ends falls all over the list. */
	walk_bursts(frame_bytes ? frame : NULL, frame_bytes, opts & 0x0F, &b, 1);
	walk_bursts(frame_bytes ? frame : NULL, frame_bytes, opts & 0x0F, &b, 3);
	walk_bursts(frame_bytes ? frame : NULL, frame_bytes, opts & 0x0F, &b, 7);
	UNPOISON(window, window_bytes);
	free(frame);
out_scratch:
	free(scratch);
	free(window);
	return 0;
}
