/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scatter-gather lists: the builder at its limits and against bytes written
 * by hand, -ENOSPC and -EINVAL leaving the writer as it was, every flags
 * byte against the table of <iop/sgl.h>, one malformed
 * list per refusal rule with its DetailedStatusCode, chains up to and past
 * the hop limit, lists against guard pages, and random lists built and
 * walked back.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iop_frame.h"
#include "iop_sgl.h"
#include "iop_test.h"

#define RANDOM_ITERATIONS 20000
/* The test frames put their SGL right after the 4-word header. */
#define SGL_AT 4u
/* A 16 KiB window; lists may name [WIN_LO, WIN_BYTES) of it. */
#define WIN_WORDS 4096u
#define WIN_BYTES (4u * WIN_WORDS)
#define WIN_LO 64u
/* Where the hand-written tests put a chained segment. */
#define SEG 256u

#define H(flags, count) ((uint32_t)(flags) << 24 | (uint32_t)(count))

static uint32_t window[WIN_WORDS];
static const struct iop_sgl_bounds win_bounds = { window, WIN_LO, WIN_BYTES };
/* Any buffer offset, no chains: for lists that only name buffers. */
static const struct iop_sgl_bounds all_offsets = { NULL, 0, UINT64_C(1) << 32 };

/* A frame: 4 zero header words, then sgl[0 .. n) stored little-endian. */
static size_t make_frame(uint32_t *frame, const uint32_t *sgl, size_t n)
{
	memset(frame, 0, SGL_AT * 4);
	for (size_t i = 0; i < n; i++)
		frame[SGL_AT + i] = htole32(sgl[i]);
	return (SGL_AT + n) * 4;
}

static void put_window(uint32_t byte_offset, const uint32_t *words, size_t n)
{
	for (size_t i = 0; i < n; i++)
		window[byte_offset / 4 + i] = htole32(words[i]);
}

/* Walk a frame through iop_sgl_check(); the DSC, 0 when accepted. */
static uint16_t verdict(const void *frame, size_t frame_bytes, unsigned sgl_offset,
			const struct iop_sgl_bounds *b)
{
	uint16_t dsc = 0xDEAD;
	int rc = iop_sgl_check(frame, frame_bytes, sgl_offset, b, &dsc, NULL);

	CU_ASSERT(rc == 0 || rc == -EPROTO);
	CU_ASSERT_EQUAL(rc == 0, dsc == 0);
	return dsc;
}

/* ---- Builder ---- */

static void test_writer_simple_limits(void)
{
	static const struct {
		uint32_t offset, count;
		unsigned flags;
		uint16_t dsc; /* walked with every offset allowed, [0, 2^32) */
	} cases[] = {
		{ 0, 0, 0, 0 },
		{ 0, 0xFFFFFF, IOP_SGL_DIR, 0 },
		{ 0xFFFFFFFCu, 0, IOP_SGL_END_OF_BUFFER, 0 },
		{ 0xFFFFFFFCu, 4, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER, 0 },
		/* Ends 0xFFFFFB bytes past 4 GiB: in 32 bits it would wrap into range. */
		{ 0xFFFFFFFCu, 0xFFFFFF, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER,
		  IOP_DSC_INVALID_OFFSET },
	};
	uint32_t frame[SGL_AT + 2];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iop_sgl_writer w;
		struct iop_sgl_iter it;
		struct iop_sgl_elem e;
		uint8_t flags = (uint8_t)(0x90 | cases[i].flags);

		memset(frame, 0, sizeof(frame));
		CU_ASSERT_EQUAL_FATAL(iop_sgl_writer_init(&w, frame + SGL_AT, 2), 0);
		CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, cases[i].offset, cases[i].count,
						   cases[i].flags), 0);
		CU_ASSERT_EQUAL(iop_sgl_finish(&w), 2);
		CU_ASSERT_EQUAL(le32toh(frame[SGL_AT]), H(flags, cases[i].count));
		CU_ASSERT_EQUAL(le32toh(frame[SGL_AT + 1]), cases[i].offset);

		CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, sizeof(frame), SGL_AT, &all_offsets), 0);
		if (cases[i].dsc != 0) {
			CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), -EPROTO);
			CU_ASSERT_EQUAL(it.dsc, cases[i].dsc);
			continue;
		}
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_SIMPLE);
		CU_ASSERT_EQUAL(e.flags, flags);
		CU_ASSERT_EQUAL(e.count, cases[i].count);
		CU_ASSERT_EQUAL(e.offset, cases[i].offset);
		CU_ASSERT_PTR_NULL(e.data);
		CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	}
}

static void test_writer_immediate_padding(void)
{
	uint8_t data[32];
	uint32_t frame[SGL_AT + 1 + 8 + 1];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(0xA0 + i);
	for (uint32_t len = 0; len <= 29; len++) {
		uint32_t words = 1 + (len + 3) / 4;
		unsigned flags = len % 2 ? IOP_SGL_END_OF_BUFFER : 0;
		const uint8_t *bytes = (const uint8_t *)(frame + SGL_AT + 1);
		struct iop_sgl_writer w;
		struct iop_sgl_iter it;
		struct iop_sgl_elem e;

		memset(frame, 0xEE, sizeof(frame));
		CU_ASSERT_EQUAL_FATAL(iop_sgl_writer_init(&w, frame + SGL_AT, words), 0);
		CU_ASSERT_EQUAL(iop_sgl_add_immediate(&w, len ? data : NULL, len, flags), 0);
		CU_ASSERT_EQUAL(iop_sgl_finish(&w), (int)words);
		CU_ASSERT_EQUAL(le32toh(frame[SGL_AT]), H(0x8C | flags, len));
		CU_ASSERT(memcmp(bytes, data, len) == 0);
		for (uint32_t p = len; p < (words - 1) * 4; p++)
			CU_ASSERT_EQUAL(bytes[p], 0); /* padding zeroed */
		CU_ASSERT_EQUAL(bytes[(words - 1) * 4], 0xEE); /* nothing written past it */

		CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, (SGL_AT + words) * 4, SGL_AT,
						  &all_offsets), 0);
		CU_ASSERT_EQUAL_FATAL(iop_sgl_next(&it, &e), 1);
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_IMMEDIATE);
		CU_ASSERT_EQUAL(e.flags, 0x8C | flags);
		CU_ASSERT_EQUAL(e.count, len);
		CU_ASSERT_PTR_EQUAL(e.data, bytes);
		CU_ASSERT_EQUAL(e.offset, 0);
		CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	}
}

/* 0xFFFFFF bytes inline: the largest Count, padded by one byte. */
static void test_writer_immediate_max(void)
{
	size_t words = SGL_AT + 1 + 0x400000;
	uint32_t *frame = calloc(words, 4);
	uint8_t *data = malloc(IOP_SGL_COUNT_MAX);
	struct iop_sgl_writer w;
	uint64_t total = 0;
	uint16_t dsc = 1;

	CU_ASSERT_FATAL(frame != NULL && data != NULL);
	memset(data, 0x5A, IOP_SGL_COUNT_MAX);
	CU_ASSERT_EQUAL(iop_sgl_writer_init(&w, frame + SGL_AT, words - SGL_AT), 0);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&w, data, IOP_SGL_COUNT_MAX + 1, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&w, data, IOP_SGL_COUNT_MAX, 0), 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), (int)(words - SGL_AT));
	CU_ASSERT_EQUAL(((uint8_t *)frame)[words * 4 - 1], 0);
	CU_ASSERT_EQUAL(iop_sgl_check(frame, words * 4, SGL_AT, &all_offsets, &dsc, &total), 0);
	CU_ASSERT_EQUAL(dsc, 0);
	CU_ASSERT_EQUAL(total, IOP_SGL_COUNT_MAX);
	/* One word short: the padded data runs past the message. */
	CU_ASSERT_EQUAL(verdict(frame, words * 4 - 4, SGL_AT, &all_offsets),
			IOP_DSC_MESSAGE_TOO_SMALL);
	free(data);
	free(frame);
}

/* The wire bytes of a known list, written by hand from the I2O layout. */
static void test_writer_exact_bytes(void)
{
	static const uint8_t want[] = {
		0x00, 0x02, 0x00, 0x54, /* simple | DIR | END_OF_BUFFER, 512 bytes */
		0x00, 0x10, 0x00, 0x00, /* at window offset 0x1000 */
		0x56, 0x34, 0x12, 0x10, /* simple, 0x123456 bytes */
		0x00, 0x20, 0x00, 0x00, /* at 0x2000 */
		0x05, 0x00, 0x00, 0xCC, /* immediate | END_OF_BUFFER | LAST, 5 bytes */
		0x01, 0x02, 0x03, 0x04, 0x05, 0x00, 0x00, 0x00,
	};
	static const uint8_t want_chain[] = {
		0x04, 0x00, 0x00, 0x10, /* simple, 4 bytes */
		0x40, 0x00, 0x00, 0x00, /* at 0x40 */
		0x10, 0x00, 0x00, 0x30, /* chain: 16 bytes, no LAST */
		0x00, 0x01, 0x00, 0x00, /* at 0x100 */
	};
	static const uint8_t five[] = { 1, 2, 3, 4, 5 };
	uint32_t words[8];
	struct iop_sgl_writer w;

	memset(words, 0xEE, sizeof(words));
	iop_sgl_writer_init(&w, words, 8);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x1000, 512, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER), 0);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x2000, 0x123456, 0), 0);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&w, five, 5, IOP_SGL_END_OF_BUFFER), 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 7);
	CU_ASSERT(memcmp(words, want, sizeof(want)) == 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 7); /* again: nothing changes */
	CU_ASSERT(memcmp(words, want, sizeof(want)) == 0);

	memset(words, 0xEE, sizeof(words));
	iop_sgl_writer_init(&w, words, 8);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x40, 4, 0), 0);
	CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, 0x100, 16), 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 4);
	CU_ASSERT(memcmp(words, want_chain, sizeof(want_chain)) == 0);
}

/* A writer and its words, to show that a failed add changed neither. */
struct snapshot {
	struct iop_sgl_writer w;
	uint32_t words[16];
	size_t n;
};

static void take(struct snapshot *s, const struct iop_sgl_writer *w, const uint32_t *words,
		 size_t n)
{
	s->w = *w;
	s->n = n;
	memcpy(s->words, words, n * 4);
}

static void expect_unchanged(const struct snapshot *s, const struct iop_sgl_writer *w,
			     const uint32_t *words, int rc, int want)
{
	CU_ASSERT_EQUAL(rc, want);
	CU_ASSERT(w->words == s->w.words && w->cap_words == s->w.cap_words &&
		  w->used == s->w.used && w->last == s->w.last && w->state == s->w.state);
	CU_ASSERT(memcmp(words, s->words, s->n * 4) == 0);
}

static void test_writer_enospc_unchanged(void)
{
	static const uint8_t nine[9] = { 9, 9, 9, 9, 9, 9, 9, 9, 9 };
	uint32_t words[16];
	struct iop_sgl_writer w;
	struct snapshot s;

	memset(words, 0xEE, sizeof(words));
	iop_sgl_writer_init(&w, words, 5);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x40, 8, 0), 0);
	take(&s, &w, words, 16);
	expect_unchanged(&s, &w, words, iop_sgl_add_immediate(&w, nine, 9, 0), -ENOSPC);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x80, 8, 0), 0);
	take(&s, &w, words, 16);
	expect_unchanged(&s, &w, words, iop_sgl_add_simple(&w, 0xC0, 8, 0), -ENOSPC);
	expect_unchanged(&s, &w, words, iop_sgl_add_chain(&w, 0xC0, 8), -ENOSPC);
	expect_unchanged(&s, &w, words, iop_sgl_add_immediate(&w, nine, 1, 0), -ENOSPC);
	/* The one word left still takes an empty immediate element. */
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&w, NULL, 0, 0), 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 5);
	CU_ASSERT_EQUAL(words[5], 0xEEEEEEEEu);

	iop_sgl_writer_init(&w, NULL, 0);
	take(&s, &w, words, 0);
	expect_unchanged(&s, &w, words, iop_sgl_add_immediate(&w, NULL, 0, 0), -ENOSPC);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), -EINVAL);
}

static void test_writer_refuses_bad_input(void)
{
	static const uint8_t one = 1;
	uint32_t words[16];
	struct iop_sgl_writer w;
	struct snapshot s;

	CU_ASSERT_EQUAL(iop_sgl_writer_init(NULL, words, 16), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_writer_init(&w, NULL, 16), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(NULL, 0, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(NULL, NULL, 0, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_add_chain(NULL, 0, 4), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_finish(NULL), -EINVAL);

	memset(words, 0xEE, sizeof(words));
	iop_sgl_writer_init(&w, words, 16);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), -EINVAL); /* no element to mark LAST */
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x40, 4, 0), 0);
	take(&s, &w, words, 16);
#define REFUSED(call) expect_unchanged(&s, &w, words, (call), -EINVAL)
	REFUSED(iop_sgl_add_simple(&w, 0x40, IOP_SGL_COUNT_MAX + 1, 0));
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, IOP_SGL_LOCAL_ADDRESS));
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, IOP_SGL_LAST_ELEMENT));
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, IOP_SGL_TYPE_SIMPLE));
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, 0x100));
	REFUSED(iop_sgl_add_immediate(&w, NULL, 1, 0));
	REFUSED(iop_sgl_add_immediate(&w, &one, IOP_SGL_COUNT_MAX + 1, 0));
	REFUSED(iop_sgl_add_immediate(&w, &one, 1, IOP_SGL_DIR));
	REFUSED(iop_sgl_add_immediate(&w, &one, 1, IOP_SGL_LAST_ELEMENT));
	REFUSED(iop_sgl_add_chain(&w, 0x42, 8));
	REFUSED(iop_sgl_add_chain(&w, 0x40, 0));
	REFUSED(iop_sgl_add_chain(&w, 0x40, 6));
	REFUSED(iop_sgl_add_chain(&w, 0x40, 0x1000000));

	/* A chain closes the segment; finishing closes the list. */
	CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, 0x40, 0xFFFFFC), 0);
	take(&s, &w, words, 16);
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, 0));
	REFUSED(iop_sgl_add_immediate(&w, NULL, 0, 0));
	REFUSED(iop_sgl_add_chain(&w, 0x40, 4));
	iop_sgl_writer_init(&w, words, 16);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x40, 4, 0), 0);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 2);
	take(&s, &w, words, 16);
	REFUSED(iop_sgl_add_simple(&w, 0x40, 4, 0));
	REFUSED(iop_sgl_add_chain(&w, 0x40, 4));
#undef REFUSED
}

/* ---- Walker ---- */

/* One malformed list per refusal rule. The window holds seg at SEG. */
static const struct bad_sgl {
	const char *what;
	unsigned sgl_offset;
	uint32_t sgl[6];
	size_t n;
	uint32_t seg[4];
	size_t seg_n;
	uint16_t dsc;
} bad_sgls[] = {
	{ "SGL offset inside the header", 2, { H(0x90, 4), 64 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "SGL offset at the end of the message", SGL_AT, { 0 }, 0, { 0 }, 0,
	  IOP_DSC_MESSAGE_TOO_SMALL },
	{ "simple element without its address", SGL_AT, { H(0x90, 4) }, 1, { 0 }, 0,
	  IOP_DSC_MESSAGE_TOO_SMALL },
	{ "immediate data past the message", SGL_AT, { H(0x8C, 5), 0 }, 2, { 0 }, 0,
	  IOP_DSC_MESSAGE_TOO_SMALL },
	{ "message ends without LAST_ELEMENT", SGL_AT, { H(0x50, 4), 64 }, 2, { 0 }, 0,
	  IOP_DSC_MESSAGE_TOO_SMALL },
	{ "chain without its address", SGL_AT, { H(0x30, 8) }, 1, { 0 }, 0,
	  IOP_DSC_MESSAGE_TOO_SMALL },
	{ "chained segment ends without LAST_ELEMENT", SGL_AT, { H(0x30, 8), SEG }, 2,
	  { H(0x10, 4), 64 }, 2, IOP_DSC_MESSAGE_TOO_SMALL },
	{ "address past the chained segment", SGL_AT, { H(0x30, 4), SEG }, 2,
	  { H(0x90, 4), 64 }, 2, IOP_DSC_MESSAGE_TOO_SMALL },
	{ "buffer below lo", SGL_AT, { H(0x90, 4), WIN_LO - 4 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "buffer past hi", SGL_AT, { H(0x90, 8), WIN_BYTES - 4 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "buffer starting at hi", SGL_AT, { H(0x90, 1), WIN_BYTES }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "offset + count wraps to 0x100 in 32 bits", SGL_AT, { H(0x90, 0x200), 0xFFFFFF00u }, 2,
	  { 0 }, 0, IOP_DSC_INVALID_OFFSET },
	{ "chain target not 4-aligned", SGL_AT, { H(0x30, 8), SEG + 2 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "chain target below lo", SGL_AT, { H(0x30, 8), 0 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "chained segment past hi", SGL_AT, { H(0x30, 16), WIN_BYTES - 8 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "chain target wraps in 32 bits", SGL_AT, { H(0x30, 0x200), 0xFFFFFF00u }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_OFFSET },
	{ "page list", SGL_AT, { H(0xA0, 4), 64 }, 2, { 0 }, 0, IOP_DSC_INVALID_PARAMETER },
	{ "ignore element", SGL_AT, { H(0x80, 4), 64 }, 2, { 0 }, 0, IOP_DSC_INVALID_PARAMETER },
	{ "transport element", SGL_AT, { H(0x84, 4), 64 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_PARAMETER },
	{ "bit bucket", SGL_AT, { H(0x88, 4), 64 }, 2, { 0 }, 0, IOP_DSC_INVALID_PARAMETER },
	{ "LOCAL_ADDRESS", SGL_AT, { H(0x98, 4), 64 }, 2, { 0 }, 0, IOP_DSC_INVALID_PARAMETER },
	{ "transaction-context count", SGL_AT, { H(0x91, 4), 64, 0 }, 3, { 0 }, 0,
	  IOP_DSC_INVALID_PARAMETER },
	{ "short transaction element", SGL_AT, { H(0x70, 4), 64 }, 2, { 0 }, 0,
	  IOP_DSC_INVALID_PARAMETER },
	{ "64-bit attributes element", SGL_AT, { H(0x7C, 0x020002), 0x1000, H(0x90, 4), 64, 0 }, 5,
	  { 0 }, 0, IOP_DSC_INVALID_PARAMETER },
	{ "chain with LAST_ELEMENT", SGL_AT, { H(0xB0, 8), SEG }, 2, { H(0x90, 4), 64 }, 2,
	  IOP_DSC_INVALID_PARAMETER },
	{ "chain with DIR", SGL_AT, { H(0x34, 8), SEG }, 2, { H(0x90, 4), 64 }, 2,
	  IOP_DSC_INVALID_PARAMETER },
	{ "chain not the last element of its segment", SGL_AT, { H(0x30, 8), SEG, H(0x90, 4), 64 },
	  4, { H(0x90, 4), 64 }, 2, IOP_DSC_INVALID_PARAMETER },
	{ "chain of length 0", SGL_AT, { H(0x30, 0), SEG }, 2, { H(0x90, 4), 64 }, 2,
	  IOP_DSC_INVALID_PARAMETER },
	{ "chain length not a multiple of 4", SGL_AT, { H(0x30, 6), SEG }, 2, { H(0x90, 4), 64 }, 2,
	  IOP_DSC_INVALID_PARAMETER },
	{ "immediate data in a chained segment", SGL_AT, { H(0x30, 8), SEG }, 2, { H(0x8C, 4), 0 },
	  2, IOP_DSC_INVALID_PARAMETER },
};

static void test_walk_one_per_rule(void)
{
	uint32_t frame[SGL_AT + 8];

	for (size_t i = 0; i < sizeof(bad_sgls) / sizeof(bad_sgls[0]); i++) {
		const struct bad_sgl *c = &bad_sgls[i];
		size_t bytes = make_frame(frame, c->sgl, c->n);
		uint16_t got;

		memset(window, 0, sizeof(window));
		put_window(SEG, c->seg, c->seg_n);
		got = verdict(frame, bytes, c->sgl_offset, &win_bounds);
		if (got != c->dsc)
			fprintf(stderr, "%s: DSC 0x%04x, want 0x%04x\n", c->what, got, c->dsc);
		CU_ASSERT_EQUAL(got, c->dsc);
	}
}

/*
 * Every flags byte, as the first element of a frame's list and of a chained
 * segment's, against the table of <iop/sgl.h> written out here on its own:
 * accepted as simple or immediate data exactly when the table says, with
 * the element's fields, the walk ending after it exactly when it carries
 * LAST_ELEMENT; refused with INVALID_PARAMETER otherwise (a chain here is
 * refused too: words follow it in its segment).
 */
static void test_walk_every_flags_byte(void)
{
	uint32_t frame[SGL_AT + 4];

	for (unsigned chained = 0; chained <= 1; chained++) {
		for (unsigned f = 0; f < 256; f++) {
			/* The element, then a last one the walk reaches unless f ends it. */
			const uint32_t list[4] = { H(f, 4), 0x1000, H(0x90, 4), 0x1000 };
			enum iop_sgl_kind want = 0;
			struct iop_sgl_iter it;
			struct iop_sgl_elem e = { 0 };
			size_t bytes;
			int rc;

			if ((f & IOP_SGL_CONTEXT_COUNT_MASK) != 0)
				want = 0;
			else if ((f & IOP_SGL_TYPE_MASK) == IOP_SGL_TYPE_SIMPLE)
				want = (f & IOP_SGL_LOCAL_ADDRESS) == 0 ? IOP_SGL_KIND_SIMPLE : 0;
			else if ((f & IOP_SGL_TYPE_MASK) == 0)
				want = (f & IOP_SGL_SPECIAL_MASK) == IOP_SGL_IMMEDIATE && !chained ?
					       IOP_SGL_KIND_IMMEDIATE :
					       0;
			memset(window, 0, sizeof(window));
			if (chained) {
				put_window(SEG, list, 4);
				bytes = make_frame(frame, (const uint32_t[]){ H(0x30, 16), SEG }, 2);
			} else {
				bytes = make_frame(frame, list, 4);
			}
			CU_ASSERT_EQUAL_FATAL(iop_sgl_iter_init(&it, frame, bytes, SGL_AT,
								&win_bounds), 0);
			rc = iop_sgl_next(&it, &e);
			if (rc != (want != 0 ? 1 : -EPROTO))
				fprintf(stderr, "flags 0x%02x%s: %d\n", f, chained ? " chained" : "", rc);
			if (want == 0) {
				CU_ASSERT_EQUAL(rc, -EPROTO);
				CU_ASSERT_EQUAL(it.dsc, IOP_DSC_INVALID_PARAMETER);
				continue;
			}
			CU_ASSERT_EQUAL(rc, 1);
			CU_ASSERT_EQUAL(e.kind, want);
			CU_ASSERT_EQUAL(e.flags, f);
			CU_ASSERT_EQUAL(e.count, 4);
			if (want == IOP_SGL_KIND_SIMPLE) {
				CU_ASSERT_EQUAL(e.offset, 0x1000);
			} else {
				CU_ASSERT_PTR_EQUAL(e.data, &frame[SGL_AT + 1]);
			}
			CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), (f & IOP_SGL_LAST_ELEMENT) ? 0 : 1);
			CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
		}
	}
}

/* The same lists made acceptable by one change each: the rules are not too wide. */
static void test_walk_near_misses_accepted(void)
{
	static const struct {
		uint32_t sgl[4];
		size_t n;
		uint32_t seg[2];
		size_t seg_n;
	} ok[] = {
		{ { H(0x90, 4), WIN_LO }, 2, { 0 }, 0 },
		{ { H(0x90, 8), WIN_BYTES - 8 }, 2, { 0 }, 0 },
		{ { H(0x90, 0), WIN_BYTES }, 2, { 0 }, 0 }, /* empty buffer at hi */
		{ { H(0xD4, 4), 64 }, 2, { 0 }, 0 },       /* DIR, END_OF_BUFFER */
		{ { H(0xCC, 3), 0x00030201 }, 2, { 0 }, 0 },
		{ { H(0x8C, 0) }, 1, { 0 }, 0 },
		{ { H(0x30, 8), SEG }, 2, { H(0x90, 4), 64 }, 2 },
		{ { H(0x30, 8), WIN_BYTES - 8 }, 2, { 0 }, 0 }, /* segment ending at hi */
	};
	uint32_t frame[SGL_AT + 4];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		size_t bytes = make_frame(frame, ok[i].sgl, ok[i].n);

		memset(window, 0, sizeof(window));
		put_window(SEG, ok[i].seg, ok[i].seg_n);
		put_window(WIN_BYTES - 8, (const uint32_t[]){ H(0x80 | 0x10, 0), WIN_LO }, 2);
		CU_ASSERT_EQUAL(verdict(frame, bytes, SGL_AT, &win_bounds), 0);
	}
}

static void test_walk_chain_without_window(void)
{
	static const uint32_t sgl[] = { H(0x30, 8), SEG };
	struct iop_sgl_bounds no_window = { NULL, WIN_LO, WIN_BYTES };
	uint32_t frame[SGL_AT + 2];
	size_t bytes = make_frame(frame, sgl, 2);

	CU_ASSERT_EQUAL(verdict(frame, bytes, SGL_AT, &no_window), IOP_DSC_INVALID_PARAMETER);
}

/*
 * hops segments in the window, 64 bytes apart from SEG: each names one
 * buffer and chains to the next, the last one ends the list. With loop, the
 * last one chains back to itself instead.
 */
static size_t build_chain(uint32_t *frame, unsigned hops, int loop)
{
	uint32_t next_bytes = 0;
	struct iop_sgl_writer w;

	memset(window, 0, sizeof(window));
	for (unsigned k = hops; k-- > 0;) {
		uint32_t at = SEG + 64 * k;

		iop_sgl_writer_init(&w, window + at / 4, 16);
		CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x1000 + k, 1, 0), 0);
		if (k + 1 < hops) {
			CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, at + 64, next_bytes), 0);
		} else if (loop) {
			CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, at, 16), 0);
		}
		next_bytes = 4 * (uint32_t)iop_sgl_finish(&w);
	}
	memset(frame, 0, SGL_AT * 4);
	iop_sgl_writer_init(&w, frame + SGL_AT, 4);
	CU_ASSERT_EQUAL(iop_sgl_add_simple(&w, 0x800, 2, IOP_SGL_END_OF_BUFFER), 0);
	if (hops > 0) {
		CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, SEG, next_bytes), 0);
	}
	return (SGL_AT + (size_t)iop_sgl_finish(&w)) * 4;
}

/*
 * Walk a list from build_chain(); the elements returned before the end or
 * the refusal. Segment k's buffer is at 0x1000 + k, so the offsets show
 * that the segments were visited in order (a loop revisits one: loop set).
 */
static unsigned walk_count(const uint32_t *frame, size_t bytes, int loop, int *rc,
			   uint16_t *dsc)
{
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	unsigned n = 0;

	CU_ASSERT_EQUAL_FATAL(iop_sgl_iter_init(&it, frame, bytes, SGL_AT, &win_bounds), 0);
	while ((*rc = iop_sgl_next(&it, &e)) == 1) {
		CU_ASSERT_EQUAL(e.kind, IOP_SGL_KIND_SIMPLE);
		CU_ASSERT_EQUAL(e.offset, n == 0 ? 0x800u : 0x1000u + (loop ? 0 : n - 1));
		n++;
	}
	*dsc = it.dsc;
	return n;
}

static void test_walk_chains(void)
{
	uint32_t frame[SGL_AT + 4];
	uint16_t dsc;
	int rc;

	for (unsigned hops = 0; hops <= IOP_SGL_MAX_CHAIN; hops++) {
		size_t bytes = build_chain(frame, hops, 0);

		CU_ASSERT_EQUAL(walk_count(frame, bytes, 0, &rc, &dsc), hops + 1);
		CU_ASSERT_EQUAL(rc, 0);
		CU_ASSERT_EQUAL(dsc, 0);
	}
	/* A ninth chain: refused when reached, after the elements before it. */
	CU_ASSERT_EQUAL(walk_count(frame, build_chain(frame, IOP_SGL_MAX_CHAIN + 1, 0), 0, &rc,
				   &dsc),
			IOP_SGL_MAX_CHAIN + 1);
	CU_ASSERT_EQUAL(rc, -EPROTO);
	CU_ASSERT_EQUAL(dsc, IOP_DSC_INVALID_PARAMETER);
	/* A segment chaining to itself: the hop limit ends it. */
	CU_ASSERT_EQUAL(walk_count(frame, build_chain(frame, 1, 1), 1, &rc, &dsc),
			IOP_SGL_MAX_CHAIN + 1);
	CU_ASSERT_EQUAL(rc, -EPROTO);
	CU_ASSERT_EQUAL(dsc, IOP_DSC_INVALID_PARAMETER);
}

static void test_walk_end_and_refusal_are_final(void)
{
	static const uint32_t good[] = { H(0x90, 4), 64, 0xFFFFFFFFu }; /* a word after LAST */
	static const uint32_t bad[] = { H(0x10, 4), 64, H(0xA0, 0) };
	uint32_t frame[SGL_AT + 3];
	struct iop_sgl_iter it;
	struct iop_sgl_elem e, before;
	uint64_t total = 7;
	uint16_t dsc = 7;
	size_t bytes = make_frame(frame, good, 3);

	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, bytes + 3, SGL_AT, &win_bounds), 0);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 1);
	before = e;
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 0);
	CU_ASSERT(memcmp(&e, &before, sizeof(e)) == 0);

	bytes = make_frame(frame, bad, 3);
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, bytes, SGL_AT, &win_bounds), 0);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), 1);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), -EPROTO);
	CU_ASSERT_EQUAL(it.dsc, IOP_DSC_INVALID_PARAMETER);
	frame[SGL_AT + 2] = htole32(H(0x8C, 0)); /* fixing the frame now changes nothing */
	CU_ASSERT_EQUAL(iop_sgl_next(&it, &e), -EPROTO);
	CU_ASSERT_EQUAL(it.dsc, IOP_DSC_INVALID_PARAMETER);

	/* No SGL: nothing to walk, nothing read. */
	CU_ASSERT_EQUAL(iop_sgl_check(NULL, 0, 0, &win_bounds, &dsc, &total), 0);
	CU_ASSERT_EQUAL(dsc, 0);
	CU_ASSERT_EQUAL(total, 0);
	/* A partial last word is not part of the message. */
	bytes = make_frame(frame, good, 2);
	frame[SGL_AT] = htole32(H(0x10, 4));
	CU_ASSERT_EQUAL(verdict(frame, bytes + 3, SGL_AT, &win_bounds), IOP_DSC_MESSAGE_TOO_SMALL);
}

static void test_walk_bad_arguments(void)
{
	uint32_t frame[SGL_AT + 2] = { 0 };
	struct iop_sgl_bounds b = win_bounds;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	uint16_t dsc = 0x55;

	CU_ASSERT_EQUAL(iop_sgl_iter_init(NULL, frame, sizeof(frame), SGL_AT, &b), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, sizeof(frame), SGL_AT, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, NULL, sizeof(frame), SGL_AT, &b), -EINVAL);
	b.lo = b.hi + 1;
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, sizeof(frame), SGL_AT, &b), -EINVAL);
	b.lo = 0;
	b.hi = (UINT64_C(1) << 32) + 1;
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, sizeof(frame), SGL_AT, &b), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_check(frame, sizeof(frame), SGL_AT, &b, &dsc, NULL), -EINVAL);
	CU_ASSERT_EQUAL(dsc, 0x55);
	CU_ASSERT_EQUAL(iop_sgl_iter_init(&it, frame, sizeof(frame), SGL_AT, &win_bounds), 0);
	CU_ASSERT_EQUAL(iop_sgl_next(NULL, &e), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_next(&it, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_next_burst(NULL, &e, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_next_burst(&it, NULL, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_sgl_next_burst(&it, &e, 0), -EINVAL);
	/* An SGL offset past any 4-bit field: past the message, not a wild read. */
	CU_ASSERT_EQUAL(verdict(frame, sizeof(frame), 0xFFFFFFFFu, &win_bounds),
			IOP_DSC_MESSAGE_TOO_SMALL);
}

/* iop_sgl_check() sums the Counts of buffers and immediate data alike. */
static void test_check_total_bytes(void)
{
	uint32_t frame[SGL_AT + 8];
	struct iop_sgl_writer w;
	uint64_t total = 0;
	uint16_t dsc = 1;

	memset(frame, 0, sizeof(frame));
	iop_sgl_writer_init(&w, frame + SGL_AT, 8);
	iop_sgl_add_simple(&w, WIN_LO, 1000, IOP_SGL_END_OF_BUFFER);
	iop_sgl_add_immediate(&w, "abcdef", 6, 0);
	iop_sgl_add_simple(&w, 2048, 24, IOP_SGL_DIR);
	CU_ASSERT_EQUAL(iop_sgl_finish(&w), 7);
	CU_ASSERT_EQUAL(iop_sgl_check(frame, (SGL_AT + 7) * 4, SGL_AT, &win_bounds, &dsc, &total),
			0);
	CU_ASSERT_EQUAL(dsc, 0);
	CU_ASSERT_EQUAL(total, 1030);
	total = 99;
	CU_ASSERT_EQUAL(iop_sgl_check(frame, (SGL_AT + 6) * 4, SGL_AT, &win_bounds, &dsc, &total),
			-EPROTO);
	CU_ASSERT_EQUAL(dsc, IOP_DSC_MESSAGE_TOO_SMALL);
	CU_ASSERT_EQUAL(total, 99); /* not set for a refused list */
}

/* Two pages, the second PROT_NONE: returns the end of the first. */
static uint8_t *guarded_page(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);

	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_FATAL(mprotect(map + page, page, PROT_NONE) == 0);
	return map + page;
}

/*
 * A list whose frame ends at a guard page, chaining to a segment that ends
 * at another: every truncation of either is refused as too small, and no
 * read touches the guard pages (it would fault).
 */
static void test_walk_stays_in_frame(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *frame_end = guarded_page();
	uint8_t *win_end = guarded_page();
	uint8_t *win = win_end - page;
	struct iop_sgl_bounds b = { win, WIN_LO, (uint64_t)page };
	uint32_t frame[SGL_AT + 8], seg[6];
	struct iop_sgl_writer w;
	size_t frame_bytes;
	uint32_t seg_bytes;

	iop_sgl_writer_init(&w, seg, 6);
	iop_sgl_add_simple(&w, WIN_LO, 16, 0);
	iop_sgl_add_simple(&w, WIN_LO + 16, 16, IOP_SGL_END_OF_BUFFER);
	iop_sgl_add_simple(&w, WIN_LO + 32, 1, 0);
	seg_bytes = 4 * (uint32_t)iop_sgl_finish(&w);
	for (uint32_t len = 4; len <= seg_bytes; len += 4) {
		memset(frame, 0, sizeof(frame));
		iop_sgl_writer_init(&w, frame + SGL_AT, 8);
		iop_sgl_add_immediate(&w, "0123456789", 10, IOP_SGL_END_OF_BUFFER);
		iop_sgl_add_chain(&w, (uint32_t)page - len, len);
		frame_bytes = (SGL_AT + (size_t)iop_sgl_finish(&w)) * 4;
		memcpy(win_end - len, seg, len);
		for (size_t cut = 0; cut <= frame_bytes; cut++) {
			uint16_t want = cut == frame_bytes && len == seg_bytes
						? 0
						: IOP_DSC_MESSAGE_TOO_SMALL;

			memcpy(frame_end - cut, frame, cut);
			CU_ASSERT_EQUAL(verdict(frame_end - cut, cut, SGL_AT, &b), want);
		}
	}
	/* Random bytes in both, the frame and its chained segments at the guards. */
	iop_test_rng_seed(iop_test_seed() + 2);
	for (int i = 0; i < RANDOM_ITERATIONS; i++) {
		size_t cut = iop_test_rng() % 64;
		uint32_t len = 4 * (1 + iop_test_rng() % 8);

		for (size_t j = 0; j < cut; j++)
			frame_end[-1 - (long)j] = (uint8_t)iop_test_rng();
		for (uint32_t j = 0; j < len; j++)
			win_end[-1 - (long)j] = (uint8_t)iop_test_rng();
		if (cut >= 24 && iop_test_rng() % 2) { /* often a chain to the guarded segment */
			uint32_t h = htole32(H(0x30, len)), at = htole32((uint32_t)page - len);

			memcpy(frame_end - 8, &h, 4);
			memcpy(frame_end - 4, &at, 4);
		}
		verdict(frame_end - cut, cut, SGL_AT, &b);
	}
	munmap(frame_end - page, 2 * page);
	munmap(win, 2 * page);
}

/* ---- Random round trips ---- */

struct want_elem {
	enum iop_sgl_kind kind;
	uint8_t flags;
	uint32_t count, offset;
	uint8_t bytes[16];
};

#define MAX_ELEMS 24
#define MAX_SEGS 4

/* A random element; immediate data only where it may go: in the frame. */
static void random_elem(struct want_elem *e, int in_frame)
{
	memset(e, 0, sizeof(*e));
	e->flags = (uint8_t)(iop_test_rng() % 2 ? IOP_SGL_END_OF_BUFFER : 0);
	if (in_frame && iop_test_rng() % 3 == 0) {
		e->kind = IOP_SGL_KIND_IMMEDIATE;
		e->flags |= IOP_SGL_IMMEDIATE;
		e->count = iop_test_rng() % 17;
		for (unsigned i = 0; i < e->count; i++)
			e->bytes[i] = (uint8_t)iop_test_rng();
		return;
	}
	e->kind = IOP_SGL_KIND_SIMPLE;
	e->flags |= (uint8_t)(IOP_SGL_TYPE_SIMPLE | (iop_test_rng() % 2 ? IOP_SGL_DIR : 0));
	e->offset = WIN_LO + iop_test_rng() % (WIN_BYTES - WIN_LO + 1);
	e->count = iop_test_rng() % 4 ? iop_test_rng() % (WIN_BYTES - e->offset + 1) : 0;
}

static void add_elem(struct iop_sgl_writer *w, const struct want_elem *e)
{
	/* DIR shares its bit with the immediate-data type: only simple elements have it. */
	int rc = e->kind == IOP_SGL_KIND_IMMEDIATE
			 ? iop_sgl_add_immediate(w, e->bytes, e->count,
						 e->flags & IOP_SGL_END_OF_BUFFER)
			 : iop_sgl_add_simple(w, e->offset, e->count,
					      e->flags & (IOP_SGL_END_OF_BUFFER | IOP_SGL_DIR));

	CU_ASSERT_EQUAL(rc, 0);
}

/* Build segs segments (the frame first), segments k >= 1 at SEG * k. */
static size_t build_random(uint32_t *frame, struct want_elem *want, const unsigned *per_seg,
			   unsigned segs)
{
	unsigned first[MAX_SEGS + 1];
	uint32_t next_bytes = 0;
	struct iop_sgl_writer w;

	first[0] = 0;
	for (unsigned s = 0; s < segs; s++)
		first[s + 1] = first[s] + per_seg[s];
	for (unsigned s = segs; s-- > 0;) {
		uint32_t *at = s == 0 ? frame + SGL_AT : window + SEG * s / 4;

		iop_sgl_writer_init(&w, at, s == 0 ? 64 : SEG / 4);
		for (unsigned i = first[s]; i < first[s + 1]; i++) {
			random_elem(&want[i], s == 0);
			add_elem(&w, &want[i]);
		}
		if (s + 1 < segs) {
			CU_ASSERT_EQUAL(iop_sgl_add_chain(&w, SEG * (s + 1), next_bytes), 0);
		}
		next_bytes = 4 * (uint32_t)iop_sgl_finish(&w);
	}
	want[first[segs] - 1].flags |= IOP_SGL_LAST_ELEMENT;
	return SGL_AT * 4 + next_bytes;
}

static void test_random_round_trips(void)
{
	static uint32_t frame[SGL_AT + 64];
	struct want_elem want[MAX_ELEMS];

	iop_test_rng_seed(iop_test_seed());
	for (int i = 0; i < RANDOM_ITERATIONS; i++) {
		unsigned segs = 1 + iop_test_rng() % MAX_SEGS, per_seg[MAX_SEGS], n = 0;
		struct iop_sgl_iter it;
		struct iop_sgl_elem e;
		uint64_t sum = 0, total = 0;
		size_t bytes;

		for (unsigned s = 0; s < segs; s++) {
			per_seg[s] = 1 + iop_test_rng() % (MAX_ELEMS / MAX_SEGS);
			n += per_seg[s];
		}
		bytes = build_random(frame, want, per_seg, segs);
		CU_ASSERT_FATAL(iop_sgl_iter_init(&it, frame, bytes, SGL_AT, &win_bounds) == 0);
		for (unsigned k = 0; k < n; k++) {
			CU_ASSERT_FATAL(iop_sgl_next(&it, &e) == 1);
			CU_ASSERT_FATAL(e.kind == want[k].kind && e.flags == want[k].flags &&
					e.count == want[k].count && e.offset == want[k].offset);
			if (e.kind == IOP_SGL_KIND_IMMEDIATE) {
				CU_ASSERT_FATAL(memcmp(e.data, want[k].bytes, e.count) == 0);
			}
			sum += e.count;
		}
		CU_ASSERT_FATAL(iop_sgl_next(&it, &e) == 0);
		CU_ASSERT_FATAL(iop_sgl_check(frame, bytes, SGL_AT, &win_bounds, NULL, &total) == 0);
		CU_ASSERT_FATAL(total == sum);
	}
}

/*
 * A walk in bursts of max against one a call: the same elements in the same
 * order, then the same end (0) or refusal (-EPROTO, the same DSC), which a
 * further burst repeats. @return the elements walked.
 */
static unsigned bursts_agree(const uint32_t *frame, size_t bytes, unsigned sgl_offset,
			     unsigned max)
{
	struct iop_sgl_elem got[64], e;
	struct iop_sgl_iter one, burst;
	unsigned n = 0;
	int rc, rc1;

	CU_ASSERT_FATAL(max <= sizeof(got) / sizeof(got[0]));
	CU_ASSERT_FATAL(iop_sgl_iter_init(&one, frame, bytes, sgl_offset, &win_bounds) == 0);
	CU_ASSERT_FATAL(iop_sgl_iter_init(&burst, frame, bytes, sgl_offset, &win_bounds) == 0);
	while ((rc = iop_sgl_next_burst(&burst, got, max)) > 0) {
		CU_ASSERT_FATAL((unsigned)rc <= max);
		for (int i = 0; i < rc; i++, n++) {
			CU_ASSERT_FATAL(iop_sgl_next(&one, &e) == 1);
			CU_ASSERT_FATAL(e.kind == got[i].kind && e.flags == got[i].flags &&
					e.count == got[i].count && e.offset == got[i].offset &&
					e.data == got[i].data);
		}
	}
	rc1 = iop_sgl_next(&one, &e);
	CU_ASSERT_EQUAL(rc, rc1);
	CU_ASSERT_EQUAL(burst.dsc, one.dsc);
	CU_ASSERT_EQUAL(iop_sgl_next_burst(&burst, got, max), rc);
	return n;
}

/*
 * iop_sgl_next_burst() is iop_sgl_next() many times over: on every refusal
 * rule; on every flags byte, in the frame and in a chained segment, alone
 * and behind a buffer or immediate data (so inside a run the burst takes in
 * one loop); on chains up to the hop limit and past it; and on random lists
 * of every kind of element, accepted whole or spoiled at a random element
 * (an address out of range, a page list, the message cut short), in bursts
 * that end anywhere in the list.
 */
static void test_walk_in_bursts(void)
{
	static const unsigned maxes[] = { 1, 2, 3, 5, 64 };
	static const uint32_t leaders[][2] = { { 0 }, { H(0x10, 4), 0x1000 }, { H(0x0C, 4), 0 } };
	static uint32_t frame[SGL_AT + 64];
	struct want_elem want[MAX_ELEMS];

	for (unsigned chained = 0; chained <= 1; chained++) {
		for (size_t l = 0; l < sizeof(leaders) / sizeof(leaders[0]); l++) {
			for (unsigned f = 0; f < 256; f++) {
				uint32_t list[6] = { leaders[l][0], leaders[l][1], H(f, 4), 0x1000,
						     H(0x90, 4), 0x1000 };
				const uint32_t *at = l == 0 ? list + 2 : list;
				size_t n = l == 0 ? 4 : 6, bytes;

				memset(window, 0, sizeof(window));
				if (chained) {
					put_window(SEG, at, n);
					bytes = make_frame(frame,
							   (const uint32_t[]){ H(0x30, 4 * n), SEG }, 2);
				} else {
					bytes = make_frame(frame, at, n);
				}
				for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++)
					bursts_agree(frame, bytes, SGL_AT, maxes[m]);
			}
		}
	}
	for (size_t m = 0; m < sizeof(maxes) / sizeof(maxes[0]); m++) {
		for (size_t i = 0; i < sizeof(bad_sgls) / sizeof(bad_sgls[0]); i++) {
			const struct bad_sgl *c = &bad_sgls[i];
			size_t bytes = make_frame(frame, c->sgl, c->n);

			memset(window, 0, sizeof(window));
			put_window(SEG, c->seg, c->seg_n);
			bursts_agree(frame, bytes, c->sgl_offset, maxes[m]);
		}
		for (unsigned hops = 0; hops <= IOP_SGL_MAX_CHAIN + 1; hops++)
			CU_ASSERT_EQUAL(bursts_agree(frame, build_chain(frame, hops, 0), SGL_AT,
						     maxes[m]),
					(hops < IOP_SGL_MAX_CHAIN ? hops : IOP_SGL_MAX_CHAIN) + 1);
	}
	iop_test_rng_seed(iop_test_seed());
	for (int i = 0; i < RANDOM_ITERATIONS / 10; i++) {
		unsigned segs = 1 + iop_test_rng() % MAX_SEGS, per_seg[MAX_SEGS], n = 0;
		unsigned spoil = iop_test_rng() % 4, at, k;
		size_t bytes;

		memset(window, 0, sizeof(window));
		for (unsigned s = 0; s < segs; s++) {
			per_seg[s] = 1 + iop_test_rng() % (MAX_ELEMS / MAX_SEGS);
			n += per_seg[s];
		}
		bytes = build_random(frame, want, per_seg, segs);
		/* One of the frame's own elements, found by walking its headers. */
		k = iop_test_rng() % per_seg[0];
		at = SGL_AT;
		for (unsigned j = 0; j < k; j++)
			at += want[j].kind == IOP_SGL_KIND_IMMEDIATE ? 1 + (want[j].count + 3) / 4 : 2;
		if (want[k].kind != IOP_SGL_KIND_SIMPLE && spoil != 3)
			spoil = 0;
		if (spoil == 1)
			frame[at + 1] = htole32(WIN_LO - 4); /* below lo, whatever its count */
		else if (spoil == 2)
			frame[at] = htole32(H(0xA0, 4)); /* a page list */
		else if (spoil == 3)
			bytes -= 4 * (1 + iop_test_rng() % 3); /* the message ends early */
		CU_ASSERT_EQUAL(bursts_agree(frame, bytes, SGL_AT, 1 + iop_test_rng() % 9) == n,
				spoil == 0);
	}
}

static const struct iop_test_case sgl_tests[] = {
	{ "writer_simple_limits", test_writer_simple_limits },
	{ "writer_immediate_padding", test_writer_immediate_padding },
	{ "writer_immediate_max", test_writer_immediate_max },
	{ "writer_exact_bytes", test_writer_exact_bytes },
	{ "writer_enospc_unchanged", test_writer_enospc_unchanged },
	{ "writer_refuses_bad_input", test_writer_refuses_bad_input },
	{ "walk_one_per_rule", test_walk_one_per_rule },
	{ "walk_every_flags_byte", test_walk_every_flags_byte },
	{ "walk_near_misses_accepted", test_walk_near_misses_accepted },
	{ "walk_chain_without_window", test_walk_chain_without_window },
	{ "walk_chains", test_walk_chains },
	{ "walk_end_and_refusal_are_final", test_walk_end_and_refusal_are_final },
	{ "walk_bad_arguments", test_walk_bad_arguments },
	{ "check_total_bytes", test_check_total_bytes },
	{ "walk_stays_in_frame", test_walk_stays_in_frame },
	{ "random_round_trips", test_random_round_trips },
	{ "walk_in_bursts", test_walk_in_bursts },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "sgl", sgl_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
