/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame codec: header round trips at every field's limits and against bytes
 * written by hand from the I2O table, replies, FAIL replies, and the
 * validator, one malformed frame per FailureCode, at a guard page and
 * against an independent statement of its rules.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iop_frame.h"
#include "iop_test.h"

#define RANDOM_ITERATIONS 100000

static void assert_hdr_equal(const struct iop_msg_hdr *a, const struct iop_msg_hdr *b)
{
	CU_ASSERT_EQUAL(a->version, b->version);
	CU_ASSERT_EQUAL(a->sgl_offset, b->sgl_offset);
	CU_ASSERT_EQUAL(a->flags, b->flags);
	CU_ASSERT_EQUAL(a->size_words, b->size_words);
	CU_ASSERT_EQUAL(a->target_tid, b->target_tid);
	CU_ASSERT_EQUAL(a->initiator_tid, b->initiator_tid);
	CU_ASSERT_EQUAL(a->function, b->function);
	CU_ASSERT_EQUAL(a->initiator_context, b->initiator_context);
	CU_ASSERT_EQUAL(a->transaction_context, b->transaction_context);
}

static struct iop_msg_hdr round_trip(const struct iop_msg_hdr *h, uint32_t *words)
{
	struct iop_msg_hdr out;

	memset(&out, 0xA5, sizeof(out));
	iop_msg_hdr_encode(h, words);
	iop_msg_hdr_decode(words, &out);
	return out;
}

/* Each field alone at its maximum must land on exactly its own bits. */
static void test_hdr_field_limits(void)
{
	static const struct {
		struct iop_msg_hdr h;
		unsigned word;
		uint32_t bits;
	} cases[] = {
		{ { .version = 7 }, 0, 0x00000007u },
		{ { .sgl_offset = 15 }, 0, 0x000000F0u },
		{ { .flags = 0xFF }, 0, 0x0000FF00u },
		{ { .size_words = 0xFFFF }, 0, 0xFFFF0000u },
		{ { .target_tid = 0xFFF }, 1, 0x00000FFFu },
		{ { .initiator_tid = 0xFFF }, 1, 0x00FFF000u },
		{ { .function = 0xFF }, 1, 0xFF000000u },
		{ { .initiator_context = 0xFFFFFFFFu }, 2, 0xFFFFFFFFu },
		{ { .transaction_context = 0xFFFFFFFFu }, 3, 0xFFFFFFFFu },
	};
	uint32_t words[4];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct iop_msg_hdr out = round_trip(&cases[i].h, words);

		assert_hdr_equal(&out, &cases[i].h);
		for (unsigned w = 0; w < 4; w++)
			CU_ASSERT_EQUAL(le32toh(words[w]), w == cases[i].word ? cases[i].bits : 0);
	}
}

static void test_hdr_all_zero_and_all_max(void)
{
	const struct iop_msg_hdr zero = { 0 };
	const struct iop_msg_hdr max = {
		.version = 7, .sgl_offset = 15, .flags = 0xFF, .size_words = 0xFFFF,
		.target_tid = 0xFFF, .initiator_tid = 0xFFF, .function = 0xFF,
		.initiator_context = 0xFFFFFFFFu, .transaction_context = 0xFFFFFFFFu,
	};
	uint32_t words[4];
	struct iop_msg_hdr out;

	out = round_trip(&zero, words);
	assert_hdr_equal(&out, &zero);
	for (unsigned w = 0; w < 4; w++)
		CU_ASSERT_EQUAL(words[w], 0);
	out = round_trip(&max, words);
	assert_hdr_equal(&out, &max);
	/* Bit 3 of word 0 is reserved: the only bit of words 0-3 left clear. */
	CU_ASSERT_EQUAL(le32toh(words[0]), 0xFFFFFFF7u);
	for (unsigned w = 1; w < 4; w++)
		CU_ASSERT_EQUAL(words[w], 0xFFFFFFFFu);
}

static void test_hdr_wide_values_truncate(void)
{
	const struct iop_msg_hdr wide = {
		.version = 0xF9, .sgl_offset = 0x35, .target_tid = 0xF123, .initiator_tid = 0x7456,
	};
	uint32_t words[4];
	struct iop_msg_hdr out = round_trip(&wide, words);

	CU_ASSERT_EQUAL(out.version, 1);
	CU_ASSERT_EQUAL(out.sgl_offset, 5);
	CU_ASSERT_EQUAL(out.target_tid, 0x123);
	CU_ASSERT_EQUAL(out.initiator_tid, 0x456);
}

/* A BSA BlockWrite header, its bytes worked out by hand from the word table. */
static void test_hdr_byte_layout(void)
{
	const struct iop_msg_hdr h = {
		.version = 1, .sgl_offset = 8, .flags = IOP_MSG_STATIC | IOP_MSG_LAST,
		.size_words = 0x0112, .target_tid = 0x123, .initiator_tid = 0x456,
		.function = 0x31, .initiator_context = 0x11223344u,
		.transaction_context = 0xA1B2C3D4u,
	};
	static const uint8_t expected[16] = {
		0x81, 0x41, 0x12, 0x01, /* version 1, offset 8; flags; size 0x0112 */
		0x23, 0x61, 0x45, 0x31, /* target 0x123, initiator 0x456, function */
		0x44, 0x33, 0x22, 0x11, /* InitiatorContext */
		0xD4, 0xC3, 0xB2, 0xA1, /* TransactionContext */
	};
	uint32_t words[4];
	struct iop_msg_hdr out;

	iop_msg_hdr_encode(&h, words);
	CU_ASSERT_EQUAL(memcmp(words, expected, sizeof(expected)), 0);
	memcpy(words, expected, sizeof(expected));
	iop_msg_hdr_decode(words, &out);
	assert_hdr_equal(&out, &h);
}

static const struct iop_msg_hdr request = {
	.version = 1, .sgl_offset = 0, .flags = IOP_MSG_STATIC, .size_words = 6,
	.target_tid = 0x234, .initiator_tid = IOP_TID_HOST, .function = IOP_UTIL_PARAMS_GET,
	.initiator_context = 0xDEADBEEFu, .transaction_context = 0xFFFFFFFFu,
};

static void test_reply_build(void)
{
	uint32_t words[8];
	struct iop_msg_hdr r;
	uint8_t st = 0xEE;
	uint16_t dsc = 0xEEEE;

	memset(words, 0x5A, sizeof(words));
	iop_reply_build(&request, 0x234, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			IOP_DSC_UNSUPPORTED_FUNCTION, words, 5);
	iop_msg_hdr_decode(words, &r);
	CU_ASSERT_EQUAL(r.version, IOP_MSG_VERSION_1_5);
	CU_ASSERT_EQUAL(r.flags, IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(r.size_words, 5);
	CU_ASSERT_EQUAL(r.sgl_offset, 0);
	CU_ASSERT_EQUAL(r.target_tid, 0x234);
	CU_ASSERT_EQUAL(r.initiator_tid, IOP_TID_HOST);
	CU_ASSERT_EQUAL(r.function, IOP_UTIL_PARAMS_GET);
	CU_ASSERT_EQUAL(r.initiator_context, 0xDEADBEEFu);
	CU_ASSERT_EQUAL(r.transaction_context, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(le32toh(words[4]), 0x0500000Au);
	CU_ASSERT_EQUAL(words[5], 0x5A5A5A5Au);
	CU_ASSERT_EQUAL(iop_reply_status(words, &st, &dsc), 0);
	CU_ASSERT_EQUAL(st, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
	CU_ASSERT_EQUAL(dsc, IOP_DSC_UNSUPPORTED_FUNCTION);
	CU_ASSERT_EQUAL(iop_reply_status(words, NULL, NULL), 0);
}

/* What iop_reply_seal() must equal: decode, set the fields the runtime vouches for, encode. */
static void seal_by_hand(uint32_t *words, const struct iop_msg_hdr *req, uint16_t tid,
			 uint8_t flags, uint16_t size, uint8_t st, uint16_t dsc)
{
	struct iop_msg_hdr h;

	iop_msg_hdr_decode(words, &h);
	h.version = IOP_MSG_VERSION_1_5;
	h.flags &= (uint8_t)~(IOP_MSG_FAIL | IOP_MSG_MULTIPLE | IOP_MSG_LAST);
	h.flags |= IOP_MSG_REPLY | flags;
	h.size_words = size;
	h.initiator_context = req->initiator_context;
	h.transaction_context = req->transaction_context;
	h.function = req->function;
	h.initiator_tid = req->initiator_tid;
	h.target_tid = tid;
	iop_msg_hdr_encode(&h, words);
	words[4] = htole32((uint32_t)dsc | (uint32_t)st << 24);
}

/*
 * Whatever a DDM wrote over words 0-4, sealing leaves exactly what the
 * long way would: over many random headers and every flag combination, and
 * nothing past word 4 is touched.
 */
static void test_reply_seal(void)
{
	static const uint8_t flag_sets[] = { 0, IOP_MSG_MULTIPLE, IOP_MSG_MULTIPLE | IOP_MSG_LAST };
	uint64_t x = 0x9E3779B97F4A7C15ull;

	for (unsigned i = 0; i < 3000; i++) {
		uint32_t a[8], b[8];
		uint8_t flags = flag_sets[i % 3];
		uint16_t size = (uint16_t)(5 + i % 60);

		for (unsigned j = 0; j < 8; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			a[j] = b[j] = (uint32_t)x;
		}
		iop_reply_seal(a, &request, (uint16_t)(0x010 + i % 7), flags, size,
			       (uint8_t)i, (uint16_t)(i * 31));
		seal_by_hand(b, &request, (uint16_t)(0x010 + i % 7), flags, size, (uint8_t)i,
			     (uint16_t)(i * 31));
		CU_ASSERT_EQUAL(memcmp(a, b, sizeof(a)), 0);
	}
	{
		uint32_t w[6] = { htole32(0xFFFFFFFFu), 0, 0, 0, 0, 0x5A5A5A5Au };
		struct iop_msg_hdr h;

		iop_reply_seal(w, &request, 0x011, IOP_MSG_MULTIPLE, 6, 0, 0);
		iop_msg_hdr_decode(w, &h);
		CU_ASSERT_EQUAL(h.flags & (IOP_MSG_FAIL | IOP_MSG_LAST | IOP_MSG_REPLY |
					   IOP_MSG_MULTIPLE),
				IOP_MSG_REPLY | IOP_MSG_MULTIPLE);
		CU_ASSERT_EQUAL(h.version, IOP_MSG_VERSION_1_5);
		CU_ASSERT_EQUAL(h.sgl_offset, 0xF); /* the DDM's */
		CU_ASSERT_EQUAL(w[5], 0x5A5A5A5Au);
	}
}

static void test_reply_size_and_status_limits(void)
{
	uint32_t words[8];
	struct iop_msg_hdr r;
	uint8_t st;
	uint16_t dsc;

	iop_reply_build(&request, IOP_TID_EXEC, IOP_REPLY_STATUS_PROGRESS_REPORT, 0xFFFF, words, 2);
	iop_msg_hdr_decode(words, &r);
	CU_ASSERT_EQUAL(r.size_words, IOP_REPLY_WORDS);
	CU_ASSERT_EQUAL(le32toh(words[4]), 0x8000FFFFu);
	CU_ASSERT_EQUAL(iop_reply_status(words, &st, &dsc), 0);
	CU_ASSERT_EQUAL(st, 0x80);
	CU_ASSERT_EQUAL(dsc, 0xFFFF);
	iop_reply_build(&request, IOP_TID_EXEC, 0, 0, words, 128);
	iop_msg_hdr_decode(words, &r);
	CU_ASSERT_EQUAL(r.size_words, 128);
	CU_ASSERT_EQUAL(words[4], 0);
}

static void test_reply_status_refuses_non_replies(void)
{
	uint32_t words[IOP_FAIL_REPLY_WORDS] = { 0 };
	uint8_t st = 0x77;

	iop_msg_hdr_encode(&request, words);
	CU_ASSERT_EQUAL(iop_reply_status(words, &st, NULL), -EPROTO);
	CU_ASSERT_EQUAL(st, 0x77);
	iop_fail_reply_build(&request, IOP_FAIL_INVALID_VERSION, IOP_FAIL_SEV_FORMAT_ERROR, 0, 0,
			     words);
	CU_ASSERT_EQUAL(iop_reply_status(words, &st, NULL), -EPROTO);
	CU_ASSERT_EQUAL(st, 0x77);
}

static void test_fail_reply_round_trip(void)
{
	uint32_t words[IOP_FAIL_REPLY_WORDS + 1];
	struct iop_msg_hdr r;
	uint8_t code = 0, sev = 0;
	uint32_t mfa = 0;

	memset(words, 0x5A, sizeof(words));
	iop_fail_reply_build(&request, IOP_FAIL_INVALID_TARGET_ID,
			     IOP_FAIL_SEV_FORMAT_ERROR | IOP_FAIL_SEV_PATH_ERROR, 0xABC,
			     0x00012340u, words);
	iop_msg_hdr_decode(words, &r);
	CU_ASSERT_EQUAL(r.version, 1);
	CU_ASSERT_EQUAL(r.flags, IOP_MSG_FAIL | IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(r.size_words, IOP_FAIL_REPLY_WORDS);
	CU_ASSERT_EQUAL(r.target_tid, request.target_tid);
	CU_ASSERT_EQUAL(r.initiator_tid, request.initiator_tid);
	CU_ASSERT_EQUAL(r.function, request.function);
	CU_ASSERT_EQUAL(r.initiator_context, request.initiator_context);
	CU_ASSERT_EQUAL(le32toh(words[4]), 0x8D030101u);
	CU_ASSERT_EQUAL(le32toh(words[5]), 0x00000ABCu);
	CU_ASSERT_EQUAL(words[6], 0);
	CU_ASSERT_EQUAL(le32toh(words[7]), 0x00012340u);
	CU_ASSERT_EQUAL(words[8], 0);
	CU_ASSERT_EQUAL(words[9], 0x5A5A5A5Au);
	CU_ASSERT_EQUAL(iop_fail_reply_decode(words, &code, &sev, &mfa), 0);
	CU_ASSERT_EQUAL(code, IOP_FAIL_INVALID_TARGET_ID);
	CU_ASSERT_EQUAL(sev, IOP_FAIL_SEV_FORMAT_ERROR | IOP_FAIL_SEV_PATH_ERROR);
	CU_ASSERT_EQUAL(mfa, 0x00012340u);
}

static void test_fail_reply_without_request(void)
{
	uint32_t words[IOP_FAIL_REPLY_WORDS];
	struct iop_msg_hdr r;
	uint8_t code = 0, sev = 0;
	uint32_t mfa = 0;

	memset(words, 0x5A, sizeof(words));
	iop_fail_reply_build(NULL, IOP_FAIL_UNKNOWN, IOP_FAIL_SEV_CONGESTION, 0xFFFF, 0xFFFFFFFFu,
			     words);
	iop_msg_hdr_decode(words, &r);
	CU_ASSERT_EQUAL(r.flags, IOP_MSG_FAIL | IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(r.target_tid, IOP_TID_NONE);
	CU_ASSERT_EQUAL(r.initiator_tid, IOP_TID_NONE);
	CU_ASSERT_EQUAL(r.initiator_context, 0);
	CU_ASSERT_EQUAL(le32toh(words[5]), 0x00000FFFu); /* iop_id is 12 bits */
	CU_ASSERT_EQUAL(iop_fail_reply_decode(words, &code, &sev, &mfa), 0);
	CU_ASSERT_EQUAL(code, IOP_FAIL_UNKNOWN);
	CU_ASSERT_EQUAL(sev, IOP_FAIL_SEV_CONGESTION);
	CU_ASSERT_EQUAL(mfa, 0xFFFFFFFFu);
	CU_ASSERT_EQUAL(iop_fail_reply_decode(words, NULL, NULL, NULL), 0);
}

static void test_fail_decode_refuses_plain_reply(void)
{
	uint32_t words[IOP_FAIL_REPLY_WORDS] = { 0 };
	uint8_t code = 0x77;

	iop_reply_build(&request, 0x234, 0, 0, words, 5);
	CU_ASSERT_EQUAL(iop_fail_reply_decode(words, &code, NULL, NULL), -EPROTO);
	CU_ASSERT_EQUAL(code, 0x77);
}

/* A valid 6-word ParamsGet with an SGL at word 5, then one field spoilt. */
struct bad_frame {
	const char *what;
	struct iop_msg_hdr h;
	size_t block_bytes;
	uint8_t code;
};

#define HDR(ver, off, fl, size, tgt, ini, fn)                                            \
	{ .version = (ver), .sgl_offset = (off), .flags = (fl), .size_words = (size),     \
	  .target_tid = (tgt), .initiator_tid = (ini), .function = (fn) }
#define GOOD_FLAGS (IOP_MSG_STATIC | IOP_MSG_LAST)
#define GET IOP_UTIL_PARAMS_GET
#define GOOD_HDR HDR(1, 5, GOOD_FLAGS, 6, 0x010, IOP_TID_HOST, GET)

static const struct bad_frame bad_frames[] = {
	{ "good", GOOD_HDR, 64, 0 },
	{ "good NOP of 3 words", HDR(1, 0, 0, 3, 0x010, 1, IOP_UTIL_NOP), 12, 0 },
	{ "good, no SGL", HDR(1, 0, GOOD_FLAGS, 6, 0x010, 1, GET), 64, 0 },
	{ "good, MULTIPLE", HDR(1, 5, IOP_MSG_MULTIPLE, 6, 0x010, 1, GET), 64, 0 },
	{ "good, target exec", HDR(1, 5, GOOD_FLAGS, 6, IOP_TID_EXEC, 1, GET), 24, 0 },
	{ "version 2", HDR(2, 5, GOOD_FLAGS, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_VERSION },
	{ "version 0", HDR(0, 5, GOOD_FLAGS, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_VERSION },
	{ "offset 3", HDR(1, 3, GOOD_FLAGS, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_OFFSET },
	{ "offset 1", HDR(1, 1, GOOD_FLAGS, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_OFFSET },
	{ "offset == size", HDR(1, 6, GOOD_FLAGS, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_OFFSET },
	{ "REPLY", HDR(1, 5, IOP_MSG_REPLY, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_MSG_FLAGS },
	{ "FAIL", HDR(1, 5, IOP_MSG_FAIL, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_MSG_FLAGS },
	{ "64BIT_CONTEXT", HDR(1, 5, IOP_MSG_64BIT_CONTEXT, 6, 0x010, 1, GET), 64,
	  IOP_FAIL_INVALID_MSG_FLAGS },
	{ "flag 0x04", HDR(1, 5, 0x04, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_MSG_FLAGS },
	{ "flag 0x08", HDR(1, 5, 0x08, 6, 0x010, 1, GET), 64, IOP_FAIL_INVALID_MSG_FLAGS },
	{ "size 2", HDR(1, 0, GOOD_FLAGS, 2, 0x010, 1, GET), 64, IOP_FAIL_FRAME_TOO_SMALL },
	{ "size 0", HDR(1, 0, GOOD_FLAGS, 0, 0x010, 1, GET), 64, IOP_FAIL_FRAME_TOO_SMALL },
	{ "3 words, not NOP", HDR(1, 0, GOOD_FLAGS, 3, 0x010, 1, GET), 64,
	  IOP_FAIL_FRAME_TOO_SMALL },
	{ "block of 11 bytes", HDR(1, 0, 0, 3, 0x010, 1, IOP_UTIL_NOP), 11,
	  IOP_FAIL_FRAME_TOO_SMALL },
	{ "size 17 in 64 bytes", HDR(1, 5, GOOD_FLAGS, 17, 0x010, 1, GET), 64,
	  IOP_FAIL_FRAME_TOO_LARGE },
	{ "size 0xFFFF", HDR(1, 5, GOOD_FLAGS, 0xFFFF, 0x010, 1, GET), 64,
	  IOP_FAIL_FRAME_TOO_LARGE },
	{ "target none", HDR(1, 5, GOOD_FLAGS, 6, IOP_TID_NONE, 1, GET), 64,
	  IOP_FAIL_INVALID_TARGET_ID },
	{ "initiator none", HDR(1, 5, GOOD_FLAGS, 6, 0x010, IOP_TID_NONE, GET), 64,
	  IOP_FAIL_INVALID_INITIATOR_ID },
};

static int validate_hdr(const struct iop_msg_hdr *h, size_t block_bytes,
			struct iop_frame_verdict *v)
{
	uint32_t words[16] = { 0 };

	iop_msg_hdr_encode(h, words);
	return iop_frame_validate(words, block_bytes, v);
}

static void test_validate_one_per_code(void)
{
	bool seen[0x8F] = { false };

	for (size_t i = 0; i < sizeof(bad_frames) / sizeof(bad_frames[0]); i++) {
		const struct bad_frame *b = &bad_frames[i];
		struct iop_frame_verdict v = { 0x55, 0x55 };
		int rc = validate_hdr(&b->h, b->block_bytes, &v);

		if (v.failure_code != b->code)
			fprintf(stderr, "%s: got 0x%02x, want 0x%02x\n", b->what, v.failure_code,
				b->code);
		CU_ASSERT_EQUAL(rc, b->code == 0 ? 0 : -EPROTO);
		CU_ASSERT_EQUAL(v.failure_code, b->code);
		CU_ASSERT_EQUAL(v.severity, b->code == 0 ? 0 : IOP_FAIL_SEV_FORMAT_ERROR);
		if (b->code != 0)
			seen[b->code] = true;
	}
	for (unsigned c = IOP_FAIL_INVALID_VERSION; c <= IOP_FAIL_INVALID_INITIATOR_ID; c++)
		CU_ASSERT_TRUE(seen[c]);
}

static void test_validate_reserved_version_bit(void)
{
	uint32_t words[4];
	struct iop_frame_verdict v;
	const struct iop_msg_hdr h = GOOD_HDR;

	iop_msg_hdr_encode(&h, words);
	words[0] = htole32(le32toh(words[0]) | 0x8u);
	CU_ASSERT_EQUAL(iop_frame_validate(words, 64, &v), -EPROTO);
	CU_ASSERT_EQUAL(v.failure_code, IOP_FAIL_INVALID_VERSION);
}

static void test_validate_exact_fit(void)
{
	static const size_t blocks[] = { 12, 16, 24, 26, 64, 512 };
	struct iop_frame_verdict v;

	for (size_t i = 0; i < sizeof(blocks) / sizeof(blocks[0]); i++) {
		uint32_t words[4];
		struct iop_msg_hdr h = HDR(1, 0, GOOD_FLAGS, 0, 0x010, 1, GET);

		h.size_words = blocks[i] / 4;
		if (h.size_words == 3)
			h.function = IOP_UTIL_NOP;
		iop_msg_hdr_encode(&h, words);
		CU_ASSERT_EQUAL(iop_frame_validate(words, blocks[i], &v), 0);
		CU_ASSERT_EQUAL(v.failure_code, 0);
		h.size_words++;
		iop_msg_hdr_encode(&h, words);
		CU_ASSERT_EQUAL(iop_frame_validate(words, blocks[i], &v), -EPROTO);
		CU_ASSERT_EQUAL(v.failure_code, IOP_FAIL_FRAME_TOO_LARGE);
	}
}

static void test_validate_bad_arguments(void)
{
	uint32_t words[4] = { 0 };
	struct iop_frame_verdict v = { 0x55, 0x55 };

	CU_ASSERT_EQUAL(iop_frame_validate(words, 16, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_frame_validate(NULL, 16, &v), -EINVAL);
	CU_ASSERT_EQUAL(v.failure_code, 0x55);
	CU_ASSERT_EQUAL(iop_frame_validate(NULL, 0, &v), -EPROTO);
	CU_ASSERT_EQUAL(v.failure_code, IOP_FAIL_FRAME_TOO_SMALL);
}

/*
 * Random bytes, but half the time shaped into a plausible header so that
 * the checks past the size ones are reached often.
 */
static void random_frame(uint8_t *b, size_t block_bytes)
{
	static const uint8_t good_flags[] = { 0, IOP_MSG_STATIC, IOP_MSG_MULTIPLE, IOP_MSG_LAST,
					      IOP_MSG_STATIC | IOP_MSG_LAST };
	unsigned size;

	for (size_t i = 0; i < block_bytes; i++)
		b[i] = iop_test_rng();
	if (block_bytes < 8 || iop_test_rng() % 2 == 0)
		return;
	size = iop_test_rng() % (block_bytes / 4 + 2);
	b[2] = size;
	b[3] = size >> 8;
	if (iop_test_rng() % 4 != 0)
		b[0] = (b[0] & 0xF0) | 1;
	if (iop_test_rng() % 2 == 0)
		b[0] &= 0x0F;
	if (iop_test_rng() % 4 != 0)
		b[1] = good_flags[iop_test_rng() % sizeof(good_flags)];
	if (iop_test_rng() % 4 == 0)
		b[7] = IOP_UTIL_NOP;
	if (iop_test_rng() % 8 == 0) {
		b[4] = 0xFF;
		b[5] |= 0x0F;
	}
	if (iop_test_rng() % 8 == 0) {
		b[5] |= 0xF0;
		b[6] = 0xFF;
	}
}

static void test_validate_stays_in_block(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	uint8_t *end = map + page;

	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_FATAL(mprotect(end, page, PROT_NONE) == 0);
	iop_test_rng_seed(iop_test_seed());
	for (int i = 0; i < RANDOM_ITERATIONS; i++) {
		size_t block_bytes = 4 + iop_test_rng() % 61;
		struct iop_frame_verdict v;
		int rc;

		random_frame(end - block_bytes, block_bytes);
		rc = iop_frame_validate(end - block_bytes, block_bytes, &v);
		CU_ASSERT_FATAL(rc == 0 || rc == -EPROTO);
		if (block_bytes < 12)
			CU_ASSERT_FATAL(v.failure_code == IOP_FAIL_FRAME_TOO_SMALL);
	}
	munmap(map, 2 * page);
}

/* The rules of iop_frame_validate(), restated on raw bytes. */
static uint8_t model_verdict(const uint8_t *b, size_t block_bytes)
{
	unsigned version, offset, flags, size, target, initiator, function;

	if (block_bytes < 12)
		return 0x8B;
	version = b[0] & 0x0F;
	offset = b[0] >> 4;
	flags = b[1];
	size = b[2] | b[3] << 8;
	target = b[4] | (b[5] & 0x0F) << 8;
	initiator = b[5] >> 4 | b[6] << 4;
	function = b[7];
	if (size < 3)
		return 0x8B;
	if (size * 4 > block_bytes)
		return 0x8C;
	if (size == 3 && function != 0x00)
		return 0x8B;
	if (version != 1)
		return 0x88;
	if (offset != 0 && (offset < 4 || offset >= size))
		return 0x89;
	if (flags & (0x80 | 0x20 | 0x08 | 0x04 | 0x02))
		return 0x8A;
	if (target == 0xFFF)
		return 0x8D;
	if (initiator == 0xFFF)
		return 0x8E;
	return 0;
}

static void test_validate_matches_model(void)
{
	unsigned counts[256] = { 0 };
	uint8_t buf[64];

	iop_test_rng_seed(iop_test_seed() + 1);
	for (int i = 0; i < RANDOM_ITERATIONS; i++) {
		size_t block_bytes = iop_test_rng() % (sizeof(buf) + 1);
		uint8_t want;
		struct iop_frame_verdict v;
		int rc;

		random_frame(buf, block_bytes);
		want = model_verdict(buf, block_bytes);
		rc = iop_frame_validate(buf, block_bytes, &v);
		if (v.failure_code != want) {
			fprintf(stderr, "iteration %d: block %zu got 0x%02x want 0x%02x\n", i,
				block_bytes, v.failure_code, want);
			CU_FAIL_FATAL("verdict differs from the model");
		}
		CU_ASSERT_FATAL(rc == (want == 0 ? 0 : -EPROTO));
		counts[want]++;
	}
	/* The generator must have reached every outcome for the match to mean much. */
	CU_ASSERT(counts[0] > 0);
	for (unsigned c = 0x88; c <= 0x8E; c++)
		CU_ASSERT(counts[c] > 0);
}

/* What iop_frame_validate_decode() must leave in h, by the rules of its comment. */
static void expect_decoded(const uint8_t *b, size_t block_bytes, bool accepted,
			   struct iop_msg_hdr *want)
{
	uint32_t words[4] = { 0 };

	/* Whole words only: a word the block does not hold all of is not read. */
	memcpy(words, b, (block_bytes < sizeof(words) ? block_bytes : sizeof(words)) & ~(size_t)3);
	iop_msg_hdr_decode(words, want);
	if (accepted && want->size_words < 4)
		want->transaction_context = 0; /* a 3-word UtilNOP has none */
}

/*
 * Validating and decoding in one read says what iop_frame_validate() says,
 * decodes what iop_msg_hdr_decode() does, and stays in the block (a guard
 * page right after it).
 */
static void test_validate_decode_agrees(void)
{
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			    -1, 0);
	uint8_t *end = map + page;
	unsigned accepted = 0;

	CU_ASSERT_FATAL(map != MAP_FAILED);
	CU_ASSERT_FATAL(mprotect(end, page, PROT_NONE) == 0);
	iop_test_rng_seed(iop_test_seed() + 2);
	for (int i = 0; i < RANDOM_ITERATIONS; i++) {
		size_t block_bytes = 1 + iop_test_rng() % 64;
		uint8_t *b = end - block_bytes;
		struct iop_frame_verdict v1, v2;
		struct iop_msg_hdr h, want, untouched;
		int rc1, rc2;

		random_frame(b, block_bytes);
		memset(&h, 0x5A, sizeof(h));
		untouched = h;
		rc1 = iop_frame_validate(b, block_bytes, &v1);
		rc2 = iop_frame_validate_decode(b, block_bytes, &h, &v2);
		CU_ASSERT_FATAL(rc1 == rc2);
		CU_ASSERT_FATAL(v1.failure_code == v2.failure_code && v1.severity == v2.severity);
		if (block_bytes < 12) {
			CU_ASSERT_FATAL(memcmp(&h, &untouched, sizeof(h)) == 0);
			continue;
		}
		expect_decoded(b, block_bytes, rc2 == 0, &want);
		CU_ASSERT_FATAL(h.version == want.version && h.sgl_offset == want.sgl_offset &&
				h.flags == want.flags && h.size_words == want.size_words &&
				h.target_tid == want.target_tid &&
				h.initiator_tid == want.initiator_tid &&
				h.function == want.function &&
				h.initiator_context == want.initiator_context &&
				h.transaction_context == want.transaction_context);
		accepted += rc2 == 0;
	}
	CU_ASSERT(accepted > 0);
	munmap(map, 2 * page);
}

static void test_validate_decode_bad_arguments(void)
{
	uint32_t words[4] = { 0 };
	struct iop_frame_verdict v = { 0x55, 0x55 };
	struct iop_msg_hdr h;

	CU_ASSERT_EQUAL(iop_frame_validate_decode(words, 16, &h, NULL), -EINVAL);
	CU_ASSERT_EQUAL(iop_frame_validate_decode(words, 16, NULL, &v), -EINVAL);
	CU_ASSERT_EQUAL(iop_frame_validate_decode(NULL, 16, &h, &v), -EINVAL);
	CU_ASSERT_EQUAL(v.failure_code, 0x55);
	CU_ASSERT_EQUAL(iop_frame_validate_decode(NULL, 0, &h, &v), -EPROTO);
	CU_ASSERT_EQUAL(v.failure_code, IOP_FAIL_FRAME_TOO_SMALL);
}

/* The inline word packers write what the encoder writes. */
static void test_word_packers_match_encode(void)
{
	const struct iop_msg_hdr h = HDR(1, 5, GOOD_FLAGS, 0x1234, 0xABC, 0x123, GET);
	uint32_t words[4];

	iop_msg_hdr_encode(&h, words);
	CU_ASSERT_EQUAL(le32toh(words[0]), iop_msg_word0(1, 5, GOOD_FLAGS, 0x1234));
	CU_ASSERT_EQUAL(le32toh(words[1]), iop_msg_word1(0xABC, 0x123, GET));
	/* Wider values are cut to their fields, as the encoder does. */
	CU_ASSERT_EQUAL(iop_msg_word0(0xFF, 0xFF, 0, 0), 0x7u | 0xFu << 4);
	CU_ASSERT_EQUAL(iop_msg_word1(0xFFFF, 0xFFFF, 0), 0xFFFFFFu);
}

static const struct iop_test_case codec_tests[] = {
	{ "hdr_field_limits", test_hdr_field_limits },
	{ "hdr_all_zero_and_all_max", test_hdr_all_zero_and_all_max },
	{ "hdr_wide_values_truncate", test_hdr_wide_values_truncate },
	{ "hdr_byte_layout", test_hdr_byte_layout },
	{ "reply_build", test_reply_build },
	{ "reply_seal", test_reply_seal },
	{ "reply_size_and_status_limits", test_reply_size_and_status_limits },
	{ "reply_status_refuses_non_replies", test_reply_status_refuses_non_replies },
	{ "fail_reply_round_trip", test_fail_reply_round_trip },
	{ "fail_reply_without_request", test_fail_reply_without_request },
	{ "fail_decode_refuses_plain_reply", test_fail_decode_refuses_plain_reply },
	{ "validate_one_per_code", test_validate_one_per_code },
	{ "validate_reserved_version_bit", test_validate_reserved_version_bit },
	{ "validate_exact_fit", test_validate_exact_fit },
	{ "validate_bad_arguments", test_validate_bad_arguments },
	{ "validate_stays_in_block", test_validate_stays_in_block },
	{ "validate_matches_model", test_validate_matches_model },
	{ "validate_decode_agrees", test_validate_decode_agrees },
	{ "validate_decode_bad_arguments", test_validate_decode_bad_arguments },
	{ "word_packers_match_encode", test_word_packers_match_encode },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "frame_codec", codec_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
