/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer harness for the frame validator: any bytes a host could write,
 * in a block of exactly that size, so AddressSanitizer sees any read past it.
 * Whatever it accepts must satisfy what the rest of the IOP relies on, and
 * the validator that decodes as it checks must say and read the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iop_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* An accepted frame fits its block, has a header, and is a 32-bit request. */
static void check_accepted(const uint8_t *frame, size_t size)
{
	struct iop_msg_hdr m;
	uint32_t words[4] = { 0 };

	memcpy(words, frame, size < sizeof(words) ? size : sizeof(words));
	iop_msg_hdr_decode(words, &m);
	if ((size_t)m.size_words * 4 > size || m.size_words < 3 || m.version != 1 ||
	    (m.flags & (IOP_MSG_REPLY | IOP_MSG_FAIL | IOP_MSG_64BIT_CONTEXT)) ||
	    m.target_tid == IOP_TID_NONE || m.initiator_tid == IOP_TID_NONE ||
	    (m.size_words == 3 && m.function != IOP_UTIL_NOP) ||
	    (m.sgl_offset != 0 && (m.sgl_offset < 4 || m.sgl_offset >= m.size_words)))
		abort();
}

/*
 * Validating and decoding in one read: the same verdict, and (when it
 * decodes) the header iop_msg_hdr_decode() reads, within the block.
 */
static void check_decoding_agrees(const uint8_t *frame, size_t size, int rc,
				  const struct iop_frame_verdict *v)
{
	struct iop_frame_verdict v2;
	struct iop_msg_hdr h, want;
	uint32_t words[4] = { 0 };

	if (iop_frame_validate_decode(frame, size, &h, &v2) != rc ||
	    v2.failure_code != v->failure_code || v2.severity != v->severity)
		abort();
	if (size < 12)
		return; /* nothing decoded */
	/* Whole words only: a word the block does not hold all of is not read. */
	memcpy(words, frame, (size < sizeof(words) ? size : sizeof(words)) & ~(size_t)3);
	iop_msg_hdr_decode(words, &want);
	if (rc == 0 && want.size_words < 4)
		want.transaction_context = 0;
	if (h.version != want.version || h.sgl_offset != want.sgl_offset ||
	    h.flags != want.flags || h.size_words != want.size_words ||
	    h.target_tid != want.target_tid || h.initiator_tid != want.initiator_tid ||
	    h.function != want.function || h.initiator_context != want.initiator_context ||
	    h.transaction_context != want.transaction_context)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *block = malloc(size ? size : 1);
	struct iop_frame_verdict v;
	int rc;

	if (block == NULL)
		return 0;
	memcpy(block, data, size);
	rc = iop_frame_validate(size ? block : NULL, size, &v);
	check_decoding_agrees(size ? block : NULL, size, rc, &v);
	if (rc == 0)
		check_accepted(block, size);
	else if (v.failure_code < IOP_FAIL_INVALID_VERSION ||
		 v.failure_code > IOP_FAIL_INVALID_INITIATOR_ID)
		abort(); /* a refusal always names one of the format failure codes */
	free(block);
	return 0;
}
