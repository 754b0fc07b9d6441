/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Frame codec: pack and unpack the I2O header, build replies and
 * transport-failure replies. Every word goes through htole32()/le32toh()
 * because the frame window is shared with hosts that read it as
 * little-endian, whatever byte order this IOP runs in.
 */
#include <endian.h>
#include <errno.h>

#include "frame_words.h"
#include "iop_frame.h"

static uint32_t load(const uint32_t *words, unsigned i)
{
	return le32toh(words[i]);
}

static void store(uint32_t *words, unsigned i, uint32_t v)
{
	words[i] = htole32(v);
}

void iop_msg_hdr_encode(const struct iop_msg_hdr *h, uint32_t *words)
{
	store(words, 0, iop_msg_word0(h->version, h->sgl_offset, h->flags, h->size_words));
	store(words, 1, iop_msg_word1(h->target_tid, h->initiator_tid, h->function));
	store(words, 2, h->initiator_context);
	store(words, 3, h->transaction_context);
}

void iop_msg_hdr_decode(const uint32_t *words, struct iop_msg_hdr *h)
{
	frame_hdr_unpack(load(words, 0), load(words, 1), load(words, 2), load(words, 3), h);
}

void iop_reply_build(const struct iop_msg_hdr *req, uint16_t replying_tid, uint8_t req_status,
		     uint16_t detailed_status, uint32_t *words, unsigned size_words)
{
	/* Words 0-4 are always written, so the size never claims fewer. */
	uint16_t size = size_words < IOP_REPLY_WORDS ? IOP_REPLY_WORDS
		      : size_words > UINT16_MAX  ? UINT16_MAX
						 : (uint16_t)size_words;

	store(words, 0, iop_msg_word0(IOP_MSG_VERSION_1_5, 0, IOP_MSG_REPLY, size));
	store(words, 1, iop_msg_word1(replying_tid, req->initiator_tid, req->function));
	store(words, 2, req->initiator_context);
	store(words, 3, req->transaction_context);
	store(words, 4, (uint32_t)detailed_status | (uint32_t)req_status << 24);
}

void iop_reply_seal(uint32_t *words, const struct iop_msg_hdr *req, uint16_t replying_tid,
		    uint8_t flags, uint16_t size_words, uint8_t req_status,
		    uint16_t detailed_status)
{
	uint32_t w0 = load(words, 0);
	uint8_t kept = (uint8_t)((w0 >> 8) & ~(uint32_t)(IOP_MSG_FAIL | IOP_MSG_MULTIPLE |
							 IOP_MSG_LAST));

	store(words, 0, iop_msg_word0(IOP_MSG_VERSION_1_5, (w0 >> 4) & 0xFu,
				      kept | IOP_MSG_REPLY | flags, size_words));
	store(words, 1, iop_msg_word1(replying_tid, req->initiator_tid, req->function));
	store(words, 2, req->initiator_context);
	store(words, 3, req->transaction_context);
	store(words, 4, (uint32_t)detailed_status | (uint32_t)req_status << 24);
}

int iop_reply_status(const uint32_t *words, uint8_t *req_status, uint16_t *dsc)
{
	uint8_t flags = (load(words, 0) >> 8) & 0xFFu;
	uint32_t w4;

	if ((flags & (IOP_MSG_REPLY | IOP_MSG_FAIL)) != IOP_MSG_REPLY)
		return -EPROTO;
	w4 = load(words, 4);
	if (req_status != NULL)
		*req_status = w4 >> 24;
	if (dsc != NULL)
		*dsc = w4 & 0xFFFFu;
	return 0;
}

void iop_fail_reply_build(const struct iop_msg_hdr *req_or_null, uint8_t failure_code,
			  uint8_t severity, uint16_t iop_id, uint32_t preserved_mfa,
			  uint32_t *words)
{
	static const struct iop_msg_hdr unknown = {
		.target_tid = IOP_TID_NONE,
		.initiator_tid = IOP_TID_NONE,
	};
	const struct iop_msg_hdr *req = req_or_null != NULL ? req_or_null : &unknown;

	store(words, 0, iop_msg_word0(IOP_MSG_VERSION_1_5, 0, IOP_MSG_FAIL | IOP_MSG_REPLY,
				      IOP_FAIL_REPLY_WORDS));
	store(words, 1, iop_msg_word1(req->target_tid, req->initiator_tid, req->function));
	store(words, 2, req->initiator_context);
	store(words, 3, req->transaction_context);
	store(words, 4, IOP_MSG_VERSION_1_5 | IOP_MSG_VERSION_1_5 << 8 |
				(uint32_t)severity << 16 | (uint32_t)failure_code << 24);
	/* FailingHostUnitID stays 0: iopool has one host unit per IOP. */
	store(words, 5, (uint32_t)(iop_id & 0xFFFu));
	store(words, 6, 0);
	store(words, 7, preserved_mfa);
	store(words, 8, 0);
}

int iop_fail_reply_decode(const uint32_t *words, uint8_t *failure_code, uint8_t *severity,
			  uint32_t *preserved_mfa)
{
	uint8_t flags = (load(words, 0) >> 8) & 0xFFu;
	uint32_t w4;

	if ((flags & (IOP_MSG_REPLY | IOP_MSG_FAIL)) != (IOP_MSG_REPLY | IOP_MSG_FAIL))
		return -EPROTO;
	w4 = load(words, 4);
	if (failure_code != NULL)
		*failure_code = w4 >> 24;
	if (severity != NULL)
		*severity = (w4 >> 16) & 0xFFu;
	if (preserved_mfa != NULL)
		*preserved_mfa = load(words, 7);
	return 0;
}
