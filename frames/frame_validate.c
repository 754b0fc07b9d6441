/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Validator for untrusted request frames. It reads words 0 and 1 only (and,
 * decoding, 2 and 3), and only after checking that the block holds them, so
 * a hostile or truncated frame can never make the IOP read outside the
 * block it was given.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "frame_words.h"
#include "iop_frame.h"

/* Reserved bit 3 of word 0 counts as part of the version: it must be 0. */
#define VERSION_NIBBLE_MASK 0xFu
#define FLAGS_REFUSED                                                                \
	(IOP_MSG_REPLY | IOP_MSG_FAIL | IOP_MSG_64BIT_CONTEXT | 0x04u | 0x08u)

/*
 * The checks are inlined into both validators: each is a few instructions,
 * and a call costs as much on the path every request takes.
 */
#define CHECK_INLINE inline __attribute__((always_inline))

/* Frames come from arbitrary offsets: memcpy avoids unaligned loads. */
static uint32_t load_word(const void *frame, unsigned i)
{
	uint32_t w;

	memcpy(&w, (const unsigned char *)frame + 4 * (size_t)i, sizeof(w));
	return le32toh(w);
}

static int refuse(struct iop_frame_verdict *v, uint8_t code)
{
	v->failure_code = code;
	v->severity = IOP_FAIL_SEV_FORMAT_ERROR;
	return -EPROTO;
}

/* Checks 1-3 of iop_frame_validate(); 0 when the size is acceptable. */
static CHECK_INLINE uint8_t size_failure(uint32_t w0, uint32_t w1, size_t block_bytes)
{
	uint32_t size_words = w0 >> 16;

	if (size_words < IOP_MSG_MIN_WORDS)
		return IOP_FAIL_FRAME_TOO_SMALL;
	if ((size_t)size_words * 4 > block_bytes)
		return IOP_FAIL_FRAME_TOO_LARGE;
	if (size_words < IOP_MSG_HDR_WORDS && (w1 >> 24) != IOP_UTIL_NOP)
		return IOP_FAIL_FRAME_TOO_SMALL;
	return 0;
}

/* Checks 4-8 of iop_frame_validate(); 0 when the header is acceptable. */
static CHECK_INLINE uint8_t header_failure(uint32_t w0, uint32_t w1)
{
	uint32_t sgl_offset = (w0 >> 4) & 0xFu;
	uint32_t flags = (w0 >> 8) & 0xFFu;

	if ((w0 & VERSION_NIBBLE_MASK) != IOP_MSG_VERSION_1_5)
		return IOP_FAIL_INVALID_VERSION;
	if (sgl_offset != 0 && (sgl_offset < IOP_MSG_HDR_WORDS || sgl_offset >= (w0 >> 16)))
		return IOP_FAIL_INVALID_OFFSET;
	if ((flags & FLAGS_REFUSED) != 0)
		return IOP_FAIL_INVALID_MSG_FLAGS;
	if ((w1 & IOP_TID_MAX) == IOP_TID_NONE)
		return IOP_FAIL_INVALID_TARGET_ID;
	if (((w1 >> 12) & IOP_TID_MAX) == IOP_TID_NONE)
		return IOP_FAIL_INVALID_INITIATOR_ID;
	return 0;
}

/* Checks 1-8 of iop_frame_validate() on words 0 and 1 as loaded; 0 when acceptable. */
static CHECK_INLINE uint8_t failure(uint32_t w0, uint32_t w1, size_t block_bytes)
{
	uint8_t code = size_failure(w0, w1, block_bytes);

	return code != 0 ? code : header_failure(w0, w1);
}

int iop_frame_validate(const void *frame, size_t block_bytes, struct iop_frame_verdict *v)
{
	uint8_t code;

	if (v == NULL || (frame == NULL && block_bytes != 0))
		return -EINVAL;
	v->failure_code = 0;
	v->severity = 0;
	if (block_bytes < IOP_MSG_MIN_WORDS * 4)
		return refuse(v, IOP_FAIL_FRAME_TOO_SMALL);
	code = failure(load_word(frame, 0), load_word(frame, 1), block_bytes);
	return code == 0 ? 0 : refuse(v, code);
}

int iop_frame_validate_decode(const void *frame, size_t block_bytes, struct iop_msg_hdr *h,
			      struct iop_frame_verdict *v)
{
	uint32_t w0, w1, w2, w3;
	uint8_t code;

	if (v == NULL || h == NULL || (frame == NULL && block_bytes != 0))
		return -EINVAL;
	v->failure_code = 0;
	v->severity = 0;
	if (block_bytes < IOP_MSG_MIN_WORDS * 4)
		return refuse(v, IOP_FAIL_FRAME_TOO_SMALL);
	/*
	 * Each word is read once: the host may be writing the frame meanwhile,
	 * and what is checked must be what is decoded.
	 */
	w0 = load_word(frame, 0);
	w1 = load_word(frame, 1);
	w2 = load_word(frame, 2);
	w3 = block_bytes >= IOP_MSG_HDR_WORDS * 4 ? load_word(frame, 3) : 0;
	/*
	 * The words are plain loads of memory another process writes: the
	 * compiler would be free to load one again where it runs short of
	 * registers. After this barrier it must use what it has loaded.
	 */
	__asm__ volatile("" ::: "memory");
	frame_hdr_unpack(w0, w1, w2, w3, h);
	code = failure(w0, w1, block_bytes);
	/* An accepted 3-word UtilNOP has no TransactionContext: word 3 is not its. */
	if (code == 0 && h->size_words < IOP_MSG_HDR_WORDS)
		h->transaction_context = 0;
	return code == 0 ? 0 : refuse(v, code);
}
