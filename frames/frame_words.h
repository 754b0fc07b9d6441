/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The header's bit fields, unpacked from words already loaded: one place
 * for the layout, shared by the decoder (frame_codec.c) and the validator
 * that decodes what it has checked (frame_validate.c). Private to frames/.
 */
#ifndef IOP_FRAME_WORDS_H
#define IOP_FRAME_WORDS_H

#include <stdint.h>

#include "iop_frame.h"

/* Words 0-3, in host byte order, into h. */
static inline void frame_hdr_unpack(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3,
				    struct iop_msg_hdr *h)
{
	h->version = w0 & 0x7u;
	h->sgl_offset = (w0 >> 4) & 0xFu;
	h->flags = (w0 >> 8) & 0xFFu;
	h->size_words = w0 >> 16;
	h->target_tid = w1 & IOP_TID_MAX;
	h->initiator_tid = (w1 >> 12) & IOP_TID_MAX;
	h->function = w1 >> 24;
	h->initiator_context = w2;
	h->transaction_context = w3;
}

#endif /* IOP_FRAME_WORDS_H */
