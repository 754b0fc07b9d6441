/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LCT codec: header and entry round trips at every field's limits, a
 * one-entry table against bytes written by hand from the layout, the build
 * size limits, the reader refusing each malformed table with its errno, at
 * any alignment and against a guard page, and random tables built and read
 * back.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iop_lct.h"
#include "iop_test.h"

#define RANDOM_ITERATIONS 20000
#define RANDOM_MAX_ENTRIES 20
#define GUARD_ITERATIONS 100000

static void assert_header_equal(const struct iop_lct_header *a, const struct iop_lct_header *b)
{
	CU_ASSERT_EQUAL(a->table_size_words, b->table_size_words);
	CU_ASSERT_EQUAL(a->boot_tid, b->boot_tid);
	CU_ASSERT_EQUAL(a->lct_ver, b->lct_ver);
	CU_ASSERT_EQUAL(a->iop_flags, b->iop_flags);
	CU_ASSERT_EQUAL(a->change_indicator, b->change_indicator);
}

static void assert_entry_equal(const struct iop_lct_entry *a, const struct iop_lct_entry *b)
{
	CU_ASSERT_EQUAL(a->entry_size_words, b->entry_size_words);
	CU_ASSERT_EQUAL(a->local_tid, b->local_tid);
	CU_ASSERT_EQUAL(a->change_indicator, b->change_indicator);
	CU_ASSERT_EQUAL(a->device_flags, b->device_flags);
	CU_ASSERT_EQUAL(a->class_id, b->class_id);
	CU_ASSERT_EQUAL(a->version, b->version);
	CU_ASSERT_EQUAL(a->org_id, b->org_id);
	CU_ASSERT_EQUAL(a->sub_class, b->sub_class);
	CU_ASSERT_EQUAL(a->user_tid, b->user_tid);
	CU_ASSERT_EQUAL(a->parent_tid, b->parent_tid);
	CU_ASSERT_EQUAL(a->bios_info, b->bios_info);
	CU_ASSERT_EQUAL(memcmp(a->identity_tag, b->identity_tag, sizeof(a->identity_tag)), 0);
	CU_ASSERT_EQUAL(a->event_caps, b->event_caps);
}

/* What a decoder gives back for e: each field cut to its width on the wire. */
static struct iop_lct_entry truncated(const struct iop_lct_entry *e)
{
	struct iop_lct_entry t = *e;

	t.local_tid &= 0xFFF;
	t.class_id &= 0xFFF;
	t.version &= 0xF;
	t.user_tid &= 0xFFF;
	t.parent_tid &= 0xFFF;
	return t;
}

static struct iop_lct_header header_round_trip(const struct iop_lct_header *h, uint32_t *words)
{
	struct iop_lct_header out;

	memset(&out, 0xA5, sizeof(out));
	iop_lct_header_encode(h, words);
	iop_lct_header_decode(words, &out);
	return out;
}

static struct iop_lct_entry entry_round_trip(const struct iop_lct_entry *e, uint32_t *words)
{
	struct iop_lct_entry out;

	memset(&out, 0xA5, sizeof(out));
	iop_lct_entry_encode(e, words);
	iop_lct_entry_decode(words, &out);
	return out;
}

/* Each header field alone at its maximum must land on exactly its own bits. */
static void test_header_field_limits(void)
{
	static const struct {
		struct iop_lct_header h;
		unsigned word;
		uint32_t bits;
	} cases[] = {
		{ { .table_size_words = 0xFFFF }, 0, 0x0000FFFFu },
		{ { .boot_tid = 0xFFF }, 0, 0x0FFF0000u },
		{ { .lct_ver = 0xF }, 0, 0xF0000000u },
		{ { .iop_flags = 0xFFFFFFFFu }, 1, 0xFFFFFFFFu },
		{ { .change_indicator = 0xFFFFFFFFu }, 2, 0xFFFFFFFFu },
	};
	uint32_t words[IOP_LCT_HDR_WORDS];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iop_lct_header out = header_round_trip(&cases[i].h, words);

		assert_header_equal(&out, &cases[i].h);
		for (unsigned w = 0; w < IOP_LCT_HDR_WORDS; w++)
			CU_ASSERT_EQUAL(le32toh(words[w]), w == cases[i].word ? cases[i].bits : 0);
	}
}

static void test_header_all_zero_and_all_max(void)
{
	const struct iop_lct_header zero = { 0 };
	const struct iop_lct_header max = {
		.table_size_words = 0xFFFF, .boot_tid = 0xFFF, .lct_ver = 0xF,
		.iop_flags = 0xFFFFFFFFu, .change_indicator = 0xFFFFFFFFu,
	};
	uint32_t words[IOP_LCT_HDR_WORDS];
	struct iop_lct_header out;

	out = header_round_trip(&zero, words);
	assert_header_equal(&out, &zero);
	for (unsigned w = 0; w < IOP_LCT_HDR_WORDS; w++)
		CU_ASSERT_EQUAL(words[w], 0);
	out = header_round_trip(&max, words);
	assert_header_equal(&out, &max);
	for (unsigned w = 0; w < IOP_LCT_HDR_WORDS; w++)
		CU_ASSERT_EQUAL(words[w], 0xFFFFFFFFu);
}

static void test_header_wide_values_truncate(void)
{
	const struct iop_lct_header wide = { .table_size_words = 3, .boot_tid = 0xF123,
					     .lct_ver = 0xA1 };
	uint32_t words[IOP_LCT_HDR_WORDS];
	struct iop_lct_header out = header_round_trip(&wide, words);

	CU_ASSERT_EQUAL(out.boot_tid, 0x123);
	CU_ASSERT_EQUAL(out.lct_ver, 1);
	CU_ASSERT_EQUAL(le32toh(words[0]), 0x11230003u);
}

/* Each entry field alone at its maximum must land on exactly its own bits. */
static void test_entry_field_limits(void)
{
	static const struct {
		struct iop_lct_entry e;
		unsigned word;
		uint32_t bits;
	} cases[] = {
		{ { .entry_size_words = 0xFFFF }, 0, 0x0000FFFFu },
		{ { .local_tid = 0xFFF }, 0, 0x0FFF0000u },
		{ { .change_indicator = 0xFFFFFFFFu }, 1, 0xFFFFFFFFu },
		{ { .device_flags = 0xFFFFFFFFu }, 2, 0xFFFFFFFFu },
		{ { .class_id = 0xFFF }, 3, 0x00000FFFu },
		{ { .version = 0xF }, 3, 0x0000F000u },
		{ { .org_id = 0xFFFF }, 3, 0xFFFF0000u },
		{ { .sub_class = 0xFFFFFFFFu }, 4, 0xFFFFFFFFu },
		{ { .user_tid = 0xFFF }, 5, 0x00000FFFu },
		{ { .parent_tid = 0xFFF }, 5, 0x00FFF000u },
		{ { .bios_info = 0xFF }, 5, 0xFF000000u },
		{ { .event_caps = 0xFFFFFFFFu }, 8, 0xFFFFFFFFu },
	};
	uint32_t words[IOP_LCT_ENTRY_WORDS];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iop_lct_entry out = entry_round_trip(&cases[i].e, words);

		assert_entry_equal(&out, &cases[i].e);
		for (unsigned w = 0; w < IOP_LCT_ENTRY_WORDS; w++)
			CU_ASSERT_EQUAL(le32toh(words[w]), w == cases[i].word ? cases[i].bits : 0);
	}
}

/* The identity tag is bytes: byte i at byte offset 24 + i of the entry. */
static void test_entry_identity_tag_bytes(void)
{
	const struct iop_lct_entry e = { .identity_tag = { 1, 2, 3, 4, 5, 6, 7, 0xFF } };
	uint32_t words[IOP_LCT_ENTRY_WORDS];
	struct iop_lct_entry out = entry_round_trip(&e, words);
	const uint8_t *bytes = (const uint8_t *)words;

	assert_entry_equal(&out, &e);
	for (unsigned b = 0; b < 4 * IOP_LCT_ENTRY_WORDS; b++)
		CU_ASSERT_EQUAL(bytes[b], b >= 24 && b < 32 ? e.identity_tag[b - 24] : 0);
}

static void test_entry_all_zero_and_all_max(void)
{
	const struct iop_lct_entry zero = { 0 };
	struct iop_lct_entry max = {
		.entry_size_words = 0xFFFF, .local_tid = 0xFFF, .change_indicator = 0xFFFFFFFFu,
		.device_flags = 0xFFFFFFFFu, .class_id = 0xFFF, .version = 0xF, .org_id = 0xFFFF,
		.sub_class = 0xFFFFFFFFu, .user_tid = 0xFFF, .parent_tid = 0xFFF,
		.bios_info = 0xFF, .event_caps = 0xFFFFFFFFu,
	};
	uint32_t words[IOP_LCT_ENTRY_WORDS];
	struct iop_lct_entry out;

	memset(max.identity_tag, 0xFF, sizeof(max.identity_tag));
	out = entry_round_trip(&zero, words);
	assert_entry_equal(&out, &zero);
	for (unsigned w = 0; w < IOP_LCT_ENTRY_WORDS; w++)
		CU_ASSERT_EQUAL(words[w], 0);
	out = entry_round_trip(&max, words);
	assert_entry_equal(&out, &max);
	/* Bits 28-31 of word 0 are reserved: the only bits of the entry left clear. */
	CU_ASSERT_EQUAL(le32toh(words[0]), 0x0FFFFFFFu);
	for (unsigned w = 1; w < IOP_LCT_ENTRY_WORDS; w++)
		CU_ASSERT_EQUAL(words[w], 0xFFFFFFFFu);
}

static void test_entry_wide_values_truncate(void)
{
	const struct iop_lct_entry wide = {
		.entry_size_words = 9, .local_tid = 0xF456, .class_id = 0x1051, .version = 0x32,
		.user_tid = 0x8FFF, .parent_tid = 0x7789,
	};
	uint32_t words[IOP_LCT_ENTRY_WORDS];
	struct iop_lct_entry out = entry_round_trip(&wide, words);
	struct iop_lct_entry want = truncated(&wide);

	assert_entry_equal(&out, &want);
	CU_ASSERT_EQUAL(out.local_tid, 0x456);
	CU_ASSERT_EQUAL(out.class_id, IOP_CLASS_SCSI_PERIPHERAL);
	CU_ASSERT_EQUAL(out.version, 2);
	CU_ASSERT_EQUAL(out.user_tid, IOP_LCT_UNCLAIMED);
	CU_ASSERT_EQUAL(out.parent_tid, 0x789);
	CU_ASSERT_EQUAL(le32toh(words[0]), 0x04560009u);
	CU_ASSERT_EQUAL(le32toh(words[3]), 0x00002051u);
	CU_ASSERT_EQUAL(le32toh(words[5]), 0x00789FFFu);
}

/* The reserved bits of entry word 0 are set by no encoder and ignored by the decoder. */
static void test_entry_reserved_bits_ignored(void)
{
	const struct iop_lct_entry e = { .entry_size_words = 9, .local_tid = 0x123 };
	uint32_t words[IOP_LCT_ENTRY_WORDS];
	struct iop_lct_entry out;

	iop_lct_entry_encode(&e, words);
	words[0] = htole32(le32toh(words[0]) | 0xF0000000u);
	iop_lct_entry_decode(words, &out);
	assert_entry_equal(&out, &e);
}

static const struct iop_lct_header known_header = {
	.boot_tid = 0x123, .lct_ver = IOP_LCT_VERSION_1_5, .iop_flags = 0x11223344u,
	.change_indicator = 7,
};

static const struct iop_lct_entry known_entry = {
	.entry_size_words = 9, .local_tid = 0x456, .change_indicator = 5,
	.device_flags = 0xA1B2C3D4u, .class_id = IOP_CLASS_RANDOM_BLOCK_STORAGE, .version = 2,
	.org_id = 0x1B1D, .sub_class = 3, .user_tid = IOP_LCT_UNCLAIMED, .parent_tid = 0x789,
	.bios_info = 0x5A, .identity_tag = { 'B', 'S', 'A', '-', '0', '0', '0', '1' },
	.event_caps = 0x80000001u,
};

/* A one-entry table, its bytes worked out by hand from the word layout. */
static const uint8_t known_table[48] = {
	0x0C, 0x00, 0x23, 0x11, /* TableSize 12; BootTID 0x123; LctVer 1 */
	0x44, 0x33, 0x22, 0x11, /* IopFlags */
	0x07, 0x00, 0x00, 0x00, /* CurrentChangeIndicator */
	0x09, 0x00, 0x56, 0x04, /* EntrySize 9; LocalTID 0x456 */
	0x05, 0x00, 0x00, 0x00, /* ChangeIndicator */
	0xD4, 0xC3, 0xB2, 0xA1, /* DeviceFlags */
	0x10, 0x20, 0x1D, 0x1B, /* Class 0x010, Version 2; OrgID 0x1B1D */
	0x03, 0x00, 0x00, 0x00, /* SubClassInfo */
	0xFF, 0x9F, 0x78, 0x5A, /* UserTID 0xFFF, ParentTID 0x789; BiosInfo 0x5A */
	'B',  'S',  'A',  '-',  /* IdentityTag */
	'0',  '0',  '0',  '1',
	0x01, 0x00, 0x00, 0x80, /* EventCapabilities */
};

static void test_table_byte_layout(void)
{
	uint32_t words[12];
	struct iop_lct_header h;
	struct iop_lct_entry e;

	CU_ASSERT_EQUAL(iop_lct_build(words, 12, &known_header, &known_entry, 1), 12);
	CU_ASSERT_EQUAL(memcmp(words, known_table, sizeof(known_table)), 0);
	CU_ASSERT_EQUAL(iop_lct_parse(known_table, sizeof(known_table), &h), 1);
	CU_ASSERT_EQUAL(h.table_size_words, 12);
	CU_ASSERT_EQUAL(h.boot_tid, 0x123);
	CU_ASSERT_EQUAL(h.lct_ver, IOP_LCT_VERSION_1_5);
	CU_ASSERT_EQUAL(h.iop_flags, 0x11223344u);
	CU_ASSERT_EQUAL(h.change_indicator, 7);
	CU_ASSERT_EQUAL(iop_lct_entry_get(known_table, sizeof(known_table), 0, &e), 0);
	assert_entry_equal(&e, &known_entry);
}

/* TableSize and EntrySize say what was written, whatever the caller's structs said. */
static void test_build_computes_sizes(void)
{
	struct iop_lct_header h = known_header;
	struct iop_lct_entry entries[2] = { known_entry, known_entry };
	uint32_t words[21];
	struct iop_lct_entry e;

	h.table_size_words = 0xBEEF;
	entries[0].entry_size_words = 0;
	entries[1].entry_size_words = 0xFFFF;
	CU_ASSERT_EQUAL(iop_lct_build(words, 21, &h, entries, 2), 21);
	CU_ASSERT_EQUAL(le32toh(words[0]) & 0xFFFF, 21);
	CU_ASSERT_EQUAL(le32toh(words[3]) & 0xFFFF, 9);
	CU_ASSERT_EQUAL(le32toh(words[12]) & 0xFFFF, 9);
	CU_ASSERT_EQUAL(iop_lct_parse(words, sizeof(words), NULL), 2);
	for (unsigned i = 0; i < 2; i++) {
		CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), i, &e), 0);
		assert_entry_equal(&e, &known_entry);
	}
	/* An empty table is the header alone. */
	CU_ASSERT_EQUAL(iop_lct_build(words, 3, &h, NULL, 0), 3);
	CU_ASSERT_EQUAL(le32toh(words[0]), 0x11230003u);
	CU_ASSERT_EQUAL(iop_lct_parse(words, 12, NULL), 0);
}

static void test_build_enospc(void)
{
	const struct iop_lct_entry entries[2] = { known_entry, known_entry };
	uint32_t words[32];

	memset(words, 0x5A, sizeof(words));
	CU_ASSERT_EQUAL(iop_lct_build(words, 20, &known_header, entries, 2), -ENOSPC);
	CU_ASSERT_EQUAL(iop_lct_build(words, 2, &known_header, NULL, 0), -ENOSPC);
	CU_ASSERT_EQUAL(iop_lct_build(NULL, 0, &known_header, NULL, 0), -ENOSPC);
	for (unsigned w = 0; w < 32; w++)
		CU_ASSERT_EQUAL(words[w], 0x5A5A5A5Au);
	CU_ASSERT_EQUAL(iop_lct_build(words, 32, &known_header, entries, 2), 21);
	CU_ASSERT_EQUAL(words[21], 0x5A5A5A5Au);
}

/* The largest table fills TableSize's 16 bits; one entry more cannot be described. */
static void test_build_e2big(void)
{
	const size_t max_words = IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * IOP_LCT_MAX_ENTRIES;
	struct iop_lct_entry *entries = calloc(IOP_LCT_MAX_ENTRIES + 1, sizeof(*entries));
	uint32_t *words = malloc((max_words + 9) * sizeof(*words));
	struct iop_lct_entry e;

	CU_ASSERT_FATAL(entries != NULL && words != NULL);
	CU_ASSERT_EQUAL(IOP_LCT_MAX_ENTRIES, 7281);
	CU_ASSERT(max_words <= 0xFFFF && max_words + IOP_LCT_ENTRY_WORDS > 0xFFFF);
	entries[IOP_LCT_MAX_ENTRIES - 1] = known_entry;
	CU_ASSERT_EQUAL(iop_lct_build(words, max_words, &known_header, entries,
				      IOP_LCT_MAX_ENTRIES),
			(int)max_words);
	CU_ASSERT_EQUAL(iop_lct_parse(words, max_words * 4, NULL), IOP_LCT_MAX_ENTRIES);
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, max_words * 4, IOP_LCT_MAX_ENTRIES - 1, &e), 0);
	assert_entry_equal(&e, &known_entry);
	memset(words, 0x5A, 4);
	CU_ASSERT_EQUAL(iop_lct_build(words, max_words + 9, &known_header, entries,
				      IOP_LCT_MAX_ENTRIES + 1),
			-E2BIG);
	CU_ASSERT_EQUAL(iop_lct_build(words, SIZE_MAX, &known_header, entries, UINT_MAX), -E2BIG);
	/* Too many entries is -E2BIG even where the buffer is also too small. */
	CU_ASSERT_EQUAL(iop_lct_build(words, 1, &known_header, entries, IOP_LCT_MAX_ENTRIES + 1),
			-E2BIG);
	CU_ASSERT_EQUAL(words[0], 0x5A5A5A5Au);
	free(words);
	free(entries);
}

static void test_build_bad_arguments(void)
{
	uint32_t words[12];

	CU_ASSERT_EQUAL(iop_lct_build(words, 12, NULL, &known_entry, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_lct_build(NULL, 12, &known_header, &known_entry, 1), -EINVAL);
	CU_ASSERT_EQUAL(iop_lct_build(words, 12, &known_header, NULL, 1), -EINVAL);
}

/* A 3-entry table in a 32-word buffer, then word 0 rewritten. */
struct bad_table {
	const char *what;
	uint16_t size_words;
	uint8_t lct_ver;
	size_t buf_bytes;
	int want; /* entry count, or -errno */
};

static const struct bad_table bad_tables[] = {
	{ "good, empty", 3, 1, 12, 0 },
	{ "good, one entry", 12, 1, 48, 1 },
	{ "good, three entries", 30, 1, 120, 3 },
	{ "good, room to spare", 21, 1, 128, 2 },
	{ "good, buffer ends mid-word", 12, 1, 51, 1 },
	{ "buffer of 0 bytes", 3, 1, 0, -EPROTO },
	{ "buffer of 11 bytes", 3, 1, 11, -EPROTO },
	{ "size 0", 0, 1, 128, -EPROTO },
	{ "size 1", 1, 1, 128, -EPROTO },
	{ "size 2", 2, 1, 128, -EPROTO },
	{ "size 12 in 47 bytes", 12, 1, 47, -EPROTO },
	{ "size 21 in 48 bytes", 21, 1, 48, -EPROTO },
	{ "size 30 in 119 bytes", 30, 1, 119, -EPROTO },
	{ "size 0xFFFF", 0xFFFF, 1, 128, -EPROTO },
	{ "size 0xFFFC (a whole number of entries)", 0xFFFC, 1, 128, -EPROTO },
	{ "partial entry, 1 word", 4, 1, 128, -EPROTO },
	{ "partial entry, 8 words", 11, 1, 128, -EPROTO },
	{ "partial entry, 10 words", 13, 1, 128, -EPROTO },
	{ "partial second entry", 20, 1, 128, -EPROTO },
	{ "version 0", 12, 0, 128, -EPROTO },
	{ "version 2", 12, 2, 128, -EPROTO },
	{ "version 15", 12, 15, 128, -EPROTO },
};

static void make_table(uint32_t words[32], uint16_t size_words, uint8_t lct_ver)
{
	const struct iop_lct_entry entries[3] = { known_entry, known_entry, known_entry };

	memset(words, 0, 32 * sizeof(*words));
	CU_ASSERT_FATAL(iop_lct_build(words, 32, &known_header, entries, 3) == 30);
	words[0] = htole32((le32toh(words[0]) & 0x0FFF0000u) | size_words |
			   (uint32_t)lct_ver << 28);
}

static void test_parse_refuses_malformed(void)
{
	for (size_t i = 0; i < sizeof(bad_tables) / sizeof(bad_tables[0]); i++) {
		const struct bad_table *b = &bad_tables[i];
		uint32_t words[32];
		struct iop_lct_header h, untouched;
		struct iop_lct_entry e;
		int rc;

		make_table(words, b->size_words, b->lct_ver);
		memset(&h, 0x77, sizeof(h));
		untouched = h;
		rc = iop_lct_parse(words, b->buf_bytes, &h);
		if (rc != b->want)
			fprintf(stderr, "%s: got %d, want %d\n", b->what, rc, b->want);
		CU_ASSERT_EQUAL(rc, b->want);
		if (b->want < 0) {
			CU_ASSERT_EQUAL(memcmp(&h, &untouched, sizeof(h)), 0);
			/* The entry reader checks the header the same way. */
			CU_ASSERT_EQUAL(iop_lct_entry_get(words, b->buf_bytes, 0, &e), b->want);
		} else {
			CU_ASSERT_EQUAL(h.table_size_words, b->size_words);
			CU_ASSERT_EQUAL(h.boot_tid, known_header.boot_tid);
			CU_ASSERT_EQUAL(iop_lct_entry_get(words, b->buf_bytes, b->want, &e),
					-ERANGE);
		}
	}
}

static void test_entry_get_checks_each_entry(void)
{
	static const uint16_t bad_sizes[] = { 0, 1, 8, 10, 18, 0xFFFF };
	uint32_t words[32];
	struct iop_lct_entry e, untouched;

	for (size_t s = 0; s < sizeof(bad_sizes) / sizeof(bad_sizes[0]); s++) {
		make_table(words, 30, 1);
		words[12] = htole32((le32toh(words[12]) & 0xFFFF0000u) | bad_sizes[s]);
		CU_ASSERT_EQUAL(iop_lct_parse(words, sizeof(words), NULL), 3);
		CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 0, &e), 0);
		assert_entry_equal(&e, &known_entry);
		memset(&e, 0x77, sizeof(e));
		untouched = e;
		CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 1, &e), -EPROTO);
		CU_ASSERT_EQUAL(memcmp(&e, &untouched, sizeof(e)), 0);
		CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 2, &e), 0);
		assert_entry_equal(&e, &known_entry);
	}
}

/* Past TableSize is out of range, even where the buffer goes on. */
static void test_entry_get_range(void)
{
	uint32_t words[32];
	struct iop_lct_entry e, untouched;

	make_table(words, 21, 1);
	memset(&e, 0x77, sizeof(e));
	untouched = e;
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 2, &e), -ERANGE);
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 3, &e), -ERANGE);
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), UINT_MAX, &e), -ERANGE);
	CU_ASSERT_EQUAL(memcmp(&e, &untouched, sizeof(e)), 0);
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 1, &e), 0);
	make_table(words, 3, 1);
	CU_ASSERT_EQUAL(iop_lct_entry_get(words, sizeof(words), 0, &e), -ERANGE);
}

static void test_reader_bad_arguments(void)
{
	struct iop_lct_header h;
	struct iop_lct_entry e;

	CU_ASSERT_EQUAL(iop_lct_parse(NULL, 12, &h), -EINVAL);
	CU_ASSERT_EQUAL(iop_lct_parse(NULL, 0, &h), -EPROTO);
	CU_ASSERT_EQUAL(iop_lct_entry_get(known_table, sizeof(known_table), 0, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_lct_entry_get(NULL, 48, 0, &e), -EINVAL);
	CU_ASSERT_EQUAL(iop_lct_entry_get(NULL, 0, 0, &e), -EPROTO);
}

/* A reply buffer may put the table at any byte offset. */
static void test_reader_any_alignment(void)
{
	_Alignas(uint32_t) uint8_t buf[sizeof(known_table) + 8];

	for (unsigned off = 0; off < 8; off++) {
		struct iop_lct_header h;
		struct iop_lct_entry e;

		memset(buf, 0xEE, sizeof(buf));
		memcpy(buf + off, known_table, sizeof(known_table));
		CU_ASSERT_EQUAL(iop_lct_parse(buf + off, sizeof(known_table), &h), 1);
		CU_ASSERT_EQUAL(h.iop_flags, known_header.iop_flags);
		CU_ASSERT_EQUAL(iop_lct_entry_get(buf + off, sizeof(known_table), 0, &e), 0);
		assert_entry_equal(&e, &known_entry);
	}
}

/* One read-write page, then a PROT_NONE one: a read past end faults. */
struct guarded {
	uint8_t *map;
	uint8_t *end;
	size_t page;
};

static bool guard_map(struct guarded *g)
{
	g->page = (size_t)sysconf(_SC_PAGESIZE);
	g->map = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      0);
	if (g->map == MAP_FAILED)
		return false;
	g->end = g->map + g->page;
	return mprotect(g->end, g->page, PROT_NONE) == 0;
}

static void guard_unmap(struct guarded *g)
{
	munmap(g->map, 2 * g->page);
}

/*
 * Tables that end exactly at a PROT_NONE page: read whole; with a TableSize
 * that claims a word, a whole entry, or up to the 16-bit limit more than the
 * buffer holds; and cut short by the guard page. A read past the buffer
 * would fault.
 */
static void test_reader_stays_in_buffer(void)
{
	const struct iop_lct_entry entries[5] = { known_entry, known_entry, known_entry,
						  known_entry, known_entry };
	struct guarded g = { 0 }; /* gcc -O3 does not see CU_ASSERT_FATAL leave when guard_map fails */

	CU_ASSERT_FATAL(guard_map(&g));
	for (unsigned n = 0; n <= 5; n++) {
		size_t bytes = 4 * (IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * n);
		uint32_t *t = (uint32_t *)(g.end - bytes);
		const uint32_t lies[] = { bytes / 4 + 1, bytes / 4 + IOP_LCT_ENTRY_WORDS, 0xFFFC,
					  0xFFFF };
		struct iop_lct_entry e;

		CU_ASSERT_EQUAL(iop_lct_build(t, bytes / 4, &known_header, entries, n),
				(int)(bytes / 4));
		CU_ASSERT_EQUAL(iop_lct_parse(t, bytes, NULL), (int)n);
		for (unsigned i = 0; i < n; i++) {
			CU_ASSERT_EQUAL(iop_lct_entry_get(t, bytes, i, &e), 0);
			assert_entry_equal(&e, &known_entry);
		}
		CU_ASSERT_EQUAL(iop_lct_entry_get(t, bytes, n, &e), -ERANGE);
		for (size_t l = 0; l < sizeof(lies) / sizeof(lies[0]); l++) {
			t[0] = htole32((le32toh(t[0]) & 0xFFFF0000u) | lies[l]);
			CU_ASSERT_EQUAL(iop_lct_parse(t, bytes, NULL), -EPROTO);
			for (unsigned i = 0; i <= n + 1; i++)
				CU_ASSERT_EQUAL(iop_lct_entry_get(t, bytes, i, &e), -EPROTO);
		}
		t[0] = htole32((le32toh(t[0]) & 0xFFFF0000u) | (uint32_t)(bytes / 4));
		/* The same table with its last byte, then its last word, beyond the buffer. */
		for (size_t cut = 1; cut <= 4; cut += 3) {
			uint8_t *moved = g.end - (bytes - cut);

			memmove(moved, t, bytes - cut);
			CU_ASSERT_EQUAL(iop_lct_parse(moved, bytes - cut, NULL), -EPROTO);
			CU_ASSERT_EQUAL(iop_lct_entry_get(moved, bytes - cut, 0, &e), -EPROTO);
			memmove(t, moved, bytes - cut);
		}
	}
	guard_unmap(&g);
}

/*
 * Random bytes of random length against the guard page, shaped half the
 * time into a plausible header: every reader call must stay inside and
 * answer with one of its documented results.
 */
static void test_reader_random_bytes_in_buffer(void)
{
	const size_t max_bytes = 4 * (IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * 4) + 3;
	unsigned accepted = 0;
	struct guarded g = { 0 }; /* gcc -O3 does not see CU_ASSERT_FATAL leave when guard_map fails */

	CU_ASSERT_FATAL(guard_map(&g));
	iop_test_rng_seed(iop_test_seed() + 1);
	for (int it = 0; it < GUARD_ITERATIONS; it++) {
		size_t bytes = iop_test_rng() % (max_bytes + 1);
		uint8_t *b = g.end - bytes;
		struct iop_lct_entry e;
		int n;

		for (size_t k = 0; k < bytes; k++)
			b[k] = iop_test_rng();
		if (bytes >= 12 && iop_test_rng() % 2 == 0) {
			unsigned size = IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * (iop_test_rng() % 5);

			if (iop_test_rng() % 4 == 0)
				size += iop_test_rng() % 3;
			b[0] = size;
			b[1] = size >> 8;
			if (iop_test_rng() % 4 != 0)
				b[3] = (b[3] & 0x0F) | IOP_LCT_VERSION_1_5 << 4;
			for (unsigned at = 12; at + 4 <= bytes; at += 36) {
				if (iop_test_rng() % 4 != 0) {
					b[at] = IOP_LCT_ENTRY_WORDS;
					b[at + 1] = 0;
				}
			}
		}
		n = iop_lct_parse(b, bytes, NULL);
		CU_ASSERT_FATAL(n >= 0 || n == -EPROTO);
		if (n >= 0) {
			accepted++;
			CU_ASSERT_FATAL(IOP_LCT_HDR_WORDS * 4 + (size_t)n * 36 <= bytes);
		}
		for (unsigned i = 0; i <= (n > 0 ? (unsigned)n : 0); i++) {
			int rc = iop_lct_entry_get(b, bytes, i, &e);

			CU_ASSERT_FATAL(rc == 0 || rc == -EPROTO || rc == -ERANGE);
			CU_ASSERT_FATAL(n >= 0 ? (rc == -ERANGE) == (i == (unsigned)n)
					       : rc == -EPROTO);
		}
	}
	/* The generator must reach acceptance often enough for the checks to mean much. */
	CU_ASSERT(accepted > GUARD_ITERATIONS / 20);
	guard_unmap(&g);
}

static void random_entry(struct iop_lct_entry *e)
{
	e->entry_size_words = iop_test_rng();
	e->local_tid = iop_test_rng();
	e->change_indicator = iop_test_rng();
	e->device_flags = iop_test_rng();
	e->class_id = iop_test_rng();
	e->version = iop_test_rng();
	e->org_id = iop_test_rng();
	e->sub_class = iop_test_rng();
	e->user_tid = iop_test_rng();
	e->parent_tid = iop_test_rng();
	e->bios_info = iop_test_rng();
	for (size_t k = 0; k < sizeof(e->identity_tag); k++)
		e->identity_tag[k] = iop_test_rng();
	e->event_caps = iop_test_rng();
}

/* Random tables, built and read back from a random byte offset. */
static void test_random_build_parse(void)
{
	enum { MAX_WORDS = IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * RANDOM_MAX_ENTRIES };
	static struct iop_lct_entry entries[RANDOM_MAX_ENTRIES];
	static uint32_t words[MAX_WORDS];
	static uint8_t bytes[4 * MAX_WORDS + 3];

	iop_test_rng_seed(iop_test_seed());
	for (int it = 0; it < RANDOM_ITERATIONS; it++) {
		unsigned n = iop_test_rng() % (RANDOM_MAX_ENTRIES + 1);
		size_t size = IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * n;
		size_t cap = size + iop_test_rng() % (MAX_WORDS - size + 1);
		size_t off = iop_test_rng() % 4;
		struct iop_lct_header h = {
			.table_size_words = iop_test_rng(), .boot_tid = iop_test_rng(),
			.lct_ver = iop_test_rng() % 4 != 0 ? IOP_LCT_VERSION_1_5 : iop_test_rng(),
			.iop_flags = iop_test_rng(), .change_indicator = iop_test_rng(),
		};
		struct iop_lct_header out;
		struct iop_lct_entry got;
		int rc;

		for (unsigned i = 0; i < n; i++)
			random_entry(&entries[i]);
		CU_ASSERT_FATAL(iop_lct_build(words, cap, &h, entries, n) == (int)size);
		memcpy(bytes + off, words, 4 * size);
		rc = iop_lct_parse(bytes + off, 4 * size, &out);
		if ((h.lct_ver & 0xF) != IOP_LCT_VERSION_1_5) {
			CU_ASSERT_FATAL(rc == -EPROTO);
			continue;
		}
		CU_ASSERT_FATAL(rc == (int)n);
		h.table_size_words = size;
		h.boot_tid &= 0xFFF;
		h.lct_ver = IOP_LCT_VERSION_1_5;
		assert_header_equal(&out, &h);
		for (unsigned i = 0; i < n; i++) {
			struct iop_lct_entry want = truncated(&entries[i]);

			want.entry_size_words = IOP_LCT_ENTRY_WORDS;
			CU_ASSERT_FATAL(iop_lct_entry_get(bytes + off, 4 * size, i, &got) == 0);
			assert_entry_equal(&got, &want);
		}
		CU_ASSERT_FATAL(iop_lct_entry_get(bytes + off, 4 * size, n, &got) ==
				-ERANGE);
	}
}

static void test_class_names(void)
{
	static const struct {
		uint16_t class_id;
		const char *name;
	} names[] = {
		{ IOP_CLASS_EXECUTIVE, "executive" },
		{ IOP_CLASS_DDM, "ddm" },
		{ IOP_CLASS_RANDOM_BLOCK_STORAGE, "block-storage" },
		{ IOP_CLASS_SEQUENTIAL_STORAGE, "sequential-storage" },
		{ IOP_CLASS_LAN, "lan" },
		{ IOP_CLASS_WAN, "wan" },
		{ IOP_CLASS_SCSI_PERIPHERAL, "scsi-peripheral" },
		{ IOP_CLASS_BUS_ADAPTER, "bus-adapter" },
		{ 0x002, "unknown" },
		{ 0x012, "unknown" },
		{ 0x050, "unknown" },
		{ 0x081, "unknown" },
		{ 0xFFF, "unknown" },
		{ 0x1010, "unknown" }, /* past 12 bits: not block storage */
		{ 0xFFFF, "unknown" },
	};

	CU_ASSERT_EQUAL(IOP_CLASS_EXECUTIVE, 0x000);
	CU_ASSERT_EQUAL(IOP_CLASS_DDM, 0x001);
	CU_ASSERT_EQUAL(IOP_CLASS_RANDOM_BLOCK_STORAGE, 0x010);
	CU_ASSERT_EQUAL(IOP_CLASS_SEQUENTIAL_STORAGE, 0x011);
	CU_ASSERT_EQUAL(IOP_CLASS_LAN, 0x020);
	CU_ASSERT_EQUAL(IOP_CLASS_WAN, 0x030);
	CU_ASSERT_EQUAL(IOP_CLASS_SCSI_PERIPHERAL, 0x051);
	CU_ASSERT_EQUAL(IOP_CLASS_BUS_ADAPTER, 0x080);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CU_ASSERT_STRING_EQUAL(iop_class_name(names[i].class_id), names[i].name);
}

static const struct iop_test_case lct_tests[] = {
	{ "header_field_limits", test_header_field_limits },
	{ "header_all_zero_and_all_max", test_header_all_zero_and_all_max },
	{ "header_wide_values_truncate", test_header_wide_values_truncate },
	{ "entry_field_limits", test_entry_field_limits },
	{ "entry_identity_tag_bytes", test_entry_identity_tag_bytes },
	{ "entry_all_zero_and_all_max", test_entry_all_zero_and_all_max },
	{ "entry_wide_values_truncate", test_entry_wide_values_truncate },
	{ "entry_reserved_bits_ignored", test_entry_reserved_bits_ignored },
	{ "table_byte_layout", test_table_byte_layout },
	{ "build_computes_sizes", test_build_computes_sizes },
	{ "build_enospc", test_build_enospc },
	{ "build_e2big", test_build_e2big },
	{ "build_bad_arguments", test_build_bad_arguments },
	{ "parse_refuses_malformed", test_parse_refuses_malformed },
	{ "entry_get_checks_each_entry", test_entry_get_checks_each_entry },
	{ "entry_get_range", test_entry_get_range },
	{ "reader_bad_arguments", test_reader_bad_arguments },
	{ "reader_any_alignment", test_reader_any_alignment },
	{ "reader_stays_in_buffer", test_reader_stays_in_buffer },
	{ "reader_random_bytes_in_buffer", test_reader_random_bytes_in_buffer },
	{ "random_build_parse", test_random_build_parse },
	{ "class_names", test_class_names },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "lct", lct_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
