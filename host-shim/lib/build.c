/* SPDX-License-Identifier: BSD-3-Clause */
/* Request builders and reply readers for hosts: <iop/build.h>. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iop_lan.h"
#include "iop_lct.h"
#include "iop_sgl.h"
#include "iop_window.h"

#define PARAMS_MAX_FIELDS 64u
#define STATUS_WORDS 15u     /* the ExecStatusGet reply, status block included */
#define BSA_SGL_WORD 8u

static void put(uint32_t *f, unsigned i, uint32_t v)
{
	f[i] = htole32(v);
}

static uint32_t get(const uint32_t *f, unsigned i)
{
	return le32toh(f[i]);
}

/* Words 0-3 of a request from the host; the contexts are the queue pair's to write. */
static int header(uint32_t *f, size_t frame_bytes, unsigned words, uint16_t tid, uint8_t function,
		  uint8_t sgl_offset)
{
	if (f == NULL || tid >= IOP_TID_MAX || words > 0xFFFF) /* MessageSize is 16 bits */
		return -EINVAL;
	if ((size_t)words * 4 > frame_bytes)
		return -ENOSPC;
	put(f, 0, iop_msg_word0(IOP_MSG_VERSION_1_5, sgl_offset, 0, (uint16_t)words));
	put(f, 1, iop_msg_word1(tid, IOP_TID_HOST, function));
	put(f, 2, 0);
	put(f, 3, 0);
	return (int)words;
}

int iop_build_util_nop(uint32_t *frame, size_t frame_bytes, uint16_t tid)
{
	return header(frame, frame_bytes, IOP_MSG_HDR_WORDS, tid, IOP_UTIL_NOP, 0);
}

int iop_build_util_event_register(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				  uint32_t mask)
{
	int rc = header(frame, frame_bytes, IOP_EVENT_MASK_WORD + 1, tid, IOP_UTIL_EVENT_REGISTER, 0);

	if (rc > 0)
		put(frame, IOP_EVENT_MASK_WORD, mask);
	return rc;
}

int iop_build_util(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function)
{
	if (function > 0x1F)
		return -EINVAL;
	return header(frame, frame_bytes, IOP_MSG_HDR_WORDS, tid, function, 0);
}

int iop_build_util_private(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint16_t xfunction,
			   uint16_t org_id)
{
	int n = header(frame, frame_bytes, 5, tid, IOP_UTIL_PRIVATE, 0);

	if (n > 0)
		put(frame, 4, xfunction | (uint32_t)org_id << 16);
	return n;
}

int iop_build_params_get(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint16_t group)
{
	int n = header(frame, frame_bytes, 5, tid, IOP_UTIL_PARAMS_GET, 0);

	if (n > 0)
		put(frame, 4, group);
	return n;
}

int iop_build_params_set(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint16_t group,
			 const uint64_t *values, unsigned n)
{
	int words;

	if (n > PARAMS_MAX_FIELDS || (n != 0 && values == NULL))
		return -EINVAL;
	words = header(frame, frame_bytes, 6 + 2 * n, tid, IOP_UTIL_PARAMS_SET, 0);
	if (words < 0)
		return words;
	put(frame, 4, group);
	put(frame, 5, n);
	for (unsigned i = 0; i < n; i++) {
		put(frame, 6 + 2 * i, (uint32_t)values[i]);
		put(frame, 7 + 2 * i, (uint32_t)(values[i] >> 32));
	}
	return words;
}

/* A reply that says SUCCESS in at least `words` words. */
static int success(const uint32_t *reply, size_t reply_words, size_t words)
{
	uint8_t status;

	if (reply == NULL || reply_words < words || reply_words < IOP_REPLY_WORDS ||
	    iop_reply_status(reply, &status, NULL) != 0 || status != IOP_REPLY_STATUS_SUCCESS)
		return -EPROTO;
	return 0;
}

int iop_read_params_reply(const uint32_t *reply, size_t reply_words, uint64_t *values,
			  unsigned max, unsigned *n)
{
	unsigned count, stored;

	if (success(reply, reply_words, 6) != 0)
		return -EPROTO;
	count = get(reply, 5);
	if (count > PARAMS_MAX_FIELDS || reply_words < 6 + 2 * (size_t)count)
		return -EPROTO;
	stored = count < max ? count : max;
	for (unsigned i = 0; i < stored; i++)
		values[i] = get(reply, 6 + 2 * i) | (uint64_t)get(reply, 7 + 2 * i) << 32;
	if (n != NULL)
		*n = count;
	return (int)stored;
}

int iop_build_exec(uint32_t *frame, size_t frame_bytes, uint8_t function)
{
	if (function < 0xA0)
		return -EINVAL;
	return header(frame, frame_bytes, IOP_MSG_HDR_WORDS, IOP_TID_EXEC, function, 0);
}

int iop_build_exec_status_get(uint32_t *frame, size_t frame_bytes)
{
	return iop_build_exec(frame, frame_bytes, IOP_EXEC_STATUS_GET);
}

int iop_build_exec_lct_notify(uint32_t *frame, size_t frame_bytes, uint32_t class_filter,
			      uint32_t change_indicator)
{
	int n = header(frame, frame_bytes, 6, IOP_TID_EXEC, IOP_EXEC_LCT_NOTIFY, 0);

	if (n > 0) {
		put(frame, 4, class_filter);
		put(frame, 5, change_indicator);
	}
	return n;
}

int iop_build_exec_ddm_destroy(uint32_t *frame, size_t frame_bytes, uint16_t ddm_tid)
{
	int n;

	if (ddm_tid == IOP_TID_EXEC || ddm_tid >= IOP_TID_MAX)
		return -EINVAL;
	n = header(frame, frame_bytes, 5, IOP_TID_EXEC, IOP_EXEC_DDM_DESTROY, 0);
	if (n > 0)
		put(frame, 4, ddm_tid);
	return n;
}

int iop_read_exec_status(const uint32_t *reply, size_t reply_words, struct iop_exec_status *s)
{
	uint32_t w5;

	if (s == NULL || success(reply, reply_words, STATUS_WORDS) != 0)
		return -EPROTO;
	w5 = get(reply, 5);
	s->iop_state = (uint8_t)w5;
	s->i2o_version = (uint8_t)(w5 >> 8 & 0xF);
	s->iop_id = (uint16_t)get(reply, 6);
	s->targets = get(reply, 7);
	s->lct_change = get(reply, 8);
	s->inbound_kib = get(reply, 9);
	s->outbound_kib = get(reply, 10);
	s->channels = get(reply, 11);
	s->loops = get(reply, 12);
	s->inbound_in_use = get(reply, 13);
	s->outbound_in_use = get(reply, 14);
	return 0;
}

int iop_read_lct_reply(const uint32_t *reply, size_t reply_words, const uint32_t **lct,
		       size_t *lct_bytes)
{
	if (lct == NULL || lct_bytes == NULL ||
	    success(reply, reply_words, IOP_REPLY_WORDS + IOP_LCT_HDR_WORDS) != 0)
		return -EPROTO;
	*lct = reply + IOP_REPLY_WORDS;
	*lct_bytes = (reply_words - IOP_REPLY_WORDS) * 4;
	return 0;
}

int iop_build_bsa(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function)
{
	if (function < 0x20 || function >= 0xA0)
		return -EINVAL;
	return header(frame, frame_bytes, IOP_MSG_HDR_WORDS, tid, function, 0);
}

/*
 * The MFA of a buffer an SGL may name: all of it inside the inbound heap's
 * blocks (b, from iop_window_sgl_bounds()), the only memory the IOP moves a
 * request's data through, and no longer than an element can say. MFAs are
 * offsets from the window's base, so this is a subtraction, not
 * iop_window_mfa()'s call, which tries both heaps.
 * @return the MFA, or IOP_MFA_EMPTY for a buffer that may not be named.
 */
static uint32_t buf_mfa(const struct iop_sgl_bounds *b, const struct iop_buf *buf)
{
	/* Below the window the difference wraps to far above hi: one compare for both ends. */
	uint64_t off = (uint64_t)((uintptr_t)buf->addr - (uintptr_t)b->window);

	if (buf->len == 0 || buf->len > IOP_SGL_COUNT_MAX || off < b->lo || off > b->hi ||
	    buf->len > b->hi - off)
		return IOP_MFA_EMPTY;
	return (uint32_t)off; /* hi is at most 2^32, and off < hi */
}

/* Every buffer in the inbound heap's blocks; *b gets the bounds, for buf_mfa() again. */
static bool bufs_in_window(const struct iop_window *w, const struct iop_buf *bufs, unsigned n,
			   struct iop_sgl_bounds *b)
{
	if (w == NULL || bufs == NULL || n == 0 || iop_window_sgl_bounds(w, b) != 0)
		return false;
	for (unsigned i = 0; i < n; i++)
		if (buf_mfa(b, &bufs[i]) == IOP_MFA_EMPTY)
			return false;
	return true;
}

int iop_build_bsa_rw(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function,
		     uint64_t byte_address, const struct iop_window *w, const struct iop_buf *bufs,
		     unsigned n_bufs)
{
	bool write = function == IOP_BSA_BLOCK_WRITE || function == IOP_BSA_WRITE_VERIFY;
	size_t cap = frame_bytes / 4;
	struct iop_sgl_writer sw;
	struct iop_sgl_bounds b;
	uint64_t total = 0;
	unsigned words;

	/* Everything that makes -EINVAL before anything is written. */
	if ((!write && function != IOP_BSA_BLOCK_READ) || n_bufs > (0xFFFFu - BSA_SGL_WORD) / 2 ||
	    tid >= IOP_TID_MAX || !bufs_in_window(w, bufs, n_bufs, &b))
		return -EINVAL;
	for (unsigned i = 0; i < n_bufs; i++)
		total += bufs[i].len;
	if (total > UINT32_MAX)
		return -EINVAL;
	words = BSA_SGL_WORD + 2 * n_bufs;
	if (frame == NULL || (size_t)words > cap)
		return frame == NULL ? -EINVAL : -ENOSPC;
	iop_sgl_writer_init(&sw, frame + BSA_SGL_WORD, cap - BSA_SGL_WORD);
	for (unsigned i = 0; i < n_bufs; i++)
		iop_sgl_add_simple(&sw, buf_mfa(&b, &bufs[i]), bufs[i].len,
				   IOP_SGL_END_OF_BUFFER | (write ? IOP_SGL_DIR : 0));
	iop_sgl_finish(&sw);
	if (header(frame, frame_bytes, words, tid, function, BSA_SGL_WORD) < 0)
		return -EINVAL;
	put(frame, 4, 0);
	put(frame, 5, (uint32_t)total);
	put(frame, 6, (uint32_t)byte_address);
	put(frame, 7, (uint32_t)(byte_address >> 32));
	return (int)words;
}

int iop_build_bsa_rw_again(uint32_t *frame, size_t frame_bytes, const uint32_t *built,
			   size_t built_bytes, uint64_t byte_address)
{
	uint32_t w0, w1;
	unsigned words;
	uint8_t function;

	if (frame == NULL || built == NULL || frame == built || built_bytes < BSA_SGL_WORD * 4)
		return -EINVAL;
	w0 = get(built, 0);
	w1 = get(built, 1);
	words = w0 >> 16;
	function = (uint8_t)(w1 >> 24);
	/*
	 * What iop_build_bsa_rw() makes: its version and functions, the SGL at
	 * word 8, whole simple elements (two words each), one at least, all of
	 * it inside `built`.
	 */
	if ((w0 & 0x7u) != IOP_MSG_VERSION_1_5 ||
	    (function != IOP_BSA_BLOCK_READ && function != IOP_BSA_BLOCK_WRITE &&
	     function != IOP_BSA_WRITE_VERIFY) ||
	    ((w0 >> 4) & 0xFu) != BSA_SGL_WORD || words < BSA_SGL_WORD + 2 ||
	    (words - BSA_SGL_WORD) % 2 != 0 || (size_t)words * 4 > built_bytes)
		return -EINVAL;
	if ((size_t)words * 4 > frame_bytes)
		return -ENOSPC;
	memcpy(frame, built, (size_t)words * 4);
	put(frame, 2, 0);
	put(frame, 3, 0);
	put(frame, 6, (uint32_t)byte_address);
	put(frame, 7, (uint32_t)(byte_address >> 32));
	return (int)words;
}

int iop_build_bsa_media_verify(uint32_t *frame, size_t frame_bytes, uint16_t tid,
			       uint64_t byte_address, uint32_t byte_count)
{
	int rc = byte_count == 0 ? -EINVAL
				 : header(frame, frame_bytes, BSA_SGL_WORD, tid, IOP_BSA_MEDIA_VERIFY, 0);

	if (rc < 0)
		return rc;
	put(frame, 4, 0);
	put(frame, 5, byte_count);
	put(frame, 6, (uint32_t)byte_address);
	put(frame, 7, (uint32_t)(byte_address >> 32));
	return (int)BSA_SGL_WORD;
}

int iop_read_bsa_transfer_count(const uint32_t *reply, size_t reply_words, uint32_t *count)
{
	if (reply == NULL || count == NULL || reply_words < IOP_REPLY_WORDS + 1)
		return -EPROTO;
	*count = get(reply, 5);
	return 0;
}

int iop_build_lan(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function)
{
	if (function != IOP_LAN_RESET && function != IOP_LAN_SUSPEND)
		return -EINVAL;
	return header(frame, frame_bytes, IOP_MSG_HDR_WORDS, tid, function, 0);
}

int iop_build_lan_packet_send_inline(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				     const void *packet, uint32_t len)
{
	/* One packet is the multi form with one: the same frame, word for word. */
	const struct iop_lan_inline one = { .data = packet, .len = len };

	return iop_build_lan_packet_send_inline_multi(frame, frame_bytes, tid, &one, 1);
}

/* Word 4 and one simple element per buffer from word 5; the last one also END_OF_BUFFER. */
static int lan_simple(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function,
		      uint32_t control, const struct iop_window *w, const struct iop_buf *bufs,
		      unsigned n, unsigned flags, unsigned last_flags)
{
	size_t cap = frame_bytes / 4;
	unsigned words = IOP_LAN_SGL_WORD + 2 * n;
	struct iop_sgl_writer sw;
	struct iop_sgl_bounds b;

	if (frame == NULL || !bufs_in_window(w, bufs, n, &b))
		return -EINVAL;
	if ((size_t)words > cap)
		return -ENOSPC;
	iop_sgl_writer_init(&sw, frame + IOP_LAN_SGL_WORD, cap - IOP_LAN_SGL_WORD);
	for (unsigned i = 0; i < n; i++)
		iop_sgl_add_simple(&sw, buf_mfa(&b, &bufs[i]), bufs[i].len,
				   i + 1 == n ? last_flags : flags);
	iop_sgl_finish(&sw);
	if (header(frame, frame_bytes, words, tid, function, IOP_LAN_SGL_WORD) < 0)
		return -EINVAL;
	put(frame, IOP_LAN_CONTROL_WORD, control);
	return (int)words;
}

int iop_build_lan_packet_send_sgl(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				  const struct iop_window *w, const struct iop_buf *bufs,
				  unsigned n_bufs)
{
	/* The buffers make one packet: END_OF_BUFFER closes it on the last. */
	return lan_simple(frame, frame_bytes, tid, IOP_LAN_PACKET_SEND, 0, w, bufs, n_bufs,
			  IOP_SGL_DIR, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER);
}

int iop_build_lan_packet_send_multi(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				    const struct iop_window *w, const struct iop_buf *packets,
				    unsigned n)
{
	/* A buffer a packet: END_OF_BUFFER closes each. */
	if (n > IOP_LAN_SEND_MAX_PACKETS)
		return -EINVAL;
	return lan_simple(frame, frame_bytes, tid, IOP_LAN_PACKET_SEND, 0, w, packets, n,
			  IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER);
}

int iop_build_lan_packet_send_begin(struct iop_lan_send_builder *b, uint32_t *frame,
				    size_t frame_bytes, uint16_t tid)
{
	if (b == NULL)
		return -EINVAL;
	/* Refused, it is an empty builder all the same: _add and _end refuse it. */
	memset(b, 0, sizeof(*b));
	if (frame == NULL || tid >= IOP_TID_MAX)
		return -EINVAL;
	/* The smallest packet: a header word and a word of data after word 4. */
	if (frame_bytes / 4 < IOP_LAN_SGL_WORD + 2)
		return -ENOSPC;
	/* MessageSize is 16 bits: a packet past it does not fit, whatever the frame's size. */
	*b = (struct iop_lan_send_builder){ .frame = frame,
					    .frame_words = frame_bytes / 4 < 0xFFFF ?
								   frame_bytes / 4 :
								   0xFFFF,
					    .tid = tid };
	return 0;
}

int iop_build_lan_packet_send_add(struct iop_lan_send_builder *b, const void *data,
				  uint32_t len)
{
	size_t at, words;
	uint32_t *e;

	if (b == NULL || b->frame == NULL || data == NULL || len == 0 ||
	    len > IOP_SGL_COUNT_MAX || b->n == IOP_LAN_SEND_MAX_PACKETS)
		return -EINVAL;
	/*
	 * The element iop_sgl_add_immediate() writes, written here directly:
	 * this is a packet's whole cost on the host's side, and a writer set up
	 * and checked for each packet cost three times the copy of a small one.
	 * It goes after the elements already there; at <= frame_words always.
	 */
	at = IOP_LAN_SGL_WORD + b->used;
	words = 1 + ((size_t)len + 3) / 4;
	if (b->frame_words - at < words)
		return -ENOSPC;
	e = b->frame + at;
	/* Flags are bits 24-31 of an element's header (<iop/sgl.h>). */
	e[0] = htole32((uint32_t)(IOP_SGL_IMMEDIATE | IOP_SGL_END_OF_BUFFER) << 24 | len);
	/* The last word zeroed first, then the bytes over it: its padding is no stale frame byte. */
	e[words - 1] = 0;
	memcpy(e + 1, data, len);
	b->last = b->used;
	b->used += words;
	b->n++;
	return 0;
}

int iop_build_lan_packet_send_add_buf(struct iop_lan_send_builder *b,
				      const struct iop_sgl_bounds *bounds, const struct iop_buf *buf)
{
	uint32_t *e;
	uint32_t mfa;
	size_t at;

	if (b == NULL || b->frame == NULL || b->n == IOP_LAN_SEND_MAX_PACKETS || bounds == NULL ||
	    buf == NULL || (mfa = buf_mfa(bounds, buf)) == IOP_MFA_EMPTY)
		return -EINVAL;
	at = IOP_LAN_SGL_WORD + b->used;
	if (b->frame_words - at < 2)
		return -ENOSPC;
	/* The element iop_sgl_add_simple() writes (flags in bits 24-31, <iop/sgl.h>). */
	e = b->frame + at;
	e[0] = htole32((uint32_t)(IOP_SGL_TYPE_SIMPLE | IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER) << 24 |
		       buf->len);
	e[1] = htole32(mfa);
	b->last = b->used;
	b->used += 2;
	b->n++;
	return 0;
}

int iop_build_lan_packet_send_add_bufs(struct iop_lan_send_builder *b,
				       const struct iop_sgl_bounds *bounds,
				       const struct iop_buf *bufs, unsigned n)
{
	uint32_t mfa[IOP_LAN_SEND_MAX_PACKETS];
	uint32_t *e;
	size_t at;

	if (b == NULL || b->frame == NULL || bounds == NULL || bufs == NULL ||
	    n > IOP_LAN_SEND_MAX_PACKETS - b->n)
		return -EINVAL;
	/* Every buffer checked, then the room, before a word is written (as _add_buf). */
	for (unsigned i = 0; i < n; i++)
		if ((mfa[i] = buf_mfa(bounds, &bufs[i])) == IOP_MFA_EMPTY)
			return -EINVAL;
	if (n == 0)
		return 0;
	at = IOP_LAN_SGL_WORD + b->used;
	if ((b->frame_words - at) / 2 < n)
		return -ENOSPC;
	e = b->frame + at;
	for (unsigned i = 0; i < n; i++) {
		e[2 * i] = htole32((uint32_t)(IOP_SGL_TYPE_SIMPLE | IOP_SGL_DIR |
					      IOP_SGL_END_OF_BUFFER) << 24 |
				   bufs[i].len);
		e[2 * i + 1] = htole32(mfa[i]);
	}
	b->last = b->used + 2 * (n - 1);
	b->used += 2 * n;
	b->n += n;
	return (int)n;
}

int iop_build_lan_packet_send_end(struct iop_lan_send_builder *b)
{
	unsigned words;

	if (b == NULL || b->frame == NULL || b->n == 0)
		return -EINVAL;
	words = (unsigned)(IOP_LAN_SGL_WORD + b->used);
	/* Flags are bits 24-31 of an element's header (<iop/sgl.h>). */
	b->frame[IOP_LAN_SGL_WORD + b->last] |= htole32((uint32_t)IOP_SGL_LAST_ELEMENT << 24);
	if (header(b->frame, b->frame_words * 4, words, b->tid, IOP_LAN_PACKET_SEND,
		   IOP_LAN_SGL_WORD) < 0)
		return -EINVAL;
	put(b->frame, IOP_LAN_CONTROL_WORD, 0);
	return (int)words;
}

int iop_build_lan_packet_send_inline_multi(uint32_t *frame, size_t frame_bytes, uint16_t tid,
					   const struct iop_lan_inline *packets, unsigned n)
{
	size_t need = IOP_LAN_SGL_WORD, cap = frame_bytes / 4;
	struct iop_lan_send_builder b;
	int rc;

	if (frame == NULL || packets == NULL || n == 0 || n > IOP_LAN_SEND_MAX_PACKETS)
		return -EINVAL;
	/* Every packet checked first: a refusal leaves the frame as it was. */
	for (unsigned i = 0; i < n; i++) {
		if (packets[i].data == NULL || packets[i].len == 0 ||
		    packets[i].len > IOP_SGL_COUNT_MAX)
			return -EINVAL;
		need += 1 + ((size_t)packets[i].len + 3) / 4;
	}
	/* MessageSize is 16 bits: a larger frame holds no more of a request. */
	if (cap > 0xFFFF)
		cap = 0xFFFF;
	if (cap < need)
		return -ENOSPC;
	rc = iop_build_lan_packet_send_begin(&b, frame, frame_bytes, tid);
	for (unsigned i = 0; rc == 0 && i < n; i++)
		rc = iop_build_lan_packet_send_add(&b, packets[i].data, packets[i].len);
	return rc == 0 ? iop_build_lan_packet_send_end(&b) : rc;
}

int iop_read_lan_send_reply(const uint32_t *reply, size_t reply_words, unsigned n)
{
	uint32_t sent;

	if (reply == NULL || reply_words < IOP_REPLY_WORDS)
		return -EPROTO;
	if (reply_words < IOP_LAN_SEND_REPLY_WORDS)
		return get(reply, 4) >> 24 == IOP_REPLY_STATUS_SUCCESS ? 1 : 0;
	sent = get(reply, IOP_LAN_SEND_SENT_WORD);
	return sent > n ? -EPROTO : (int)sent;
}

int iop_build_lan_receive_post(uint32_t *frame, size_t frame_bytes, uint16_t tid,
			       const struct iop_window *w, const struct iop_buf *buckets,
			       unsigned n_buckets)
{
	if (n_buckets > IOP_LAN_MAX_BUCKETS)
		return -EINVAL;
	return lan_simple(frame, frame_bytes, tid, IOP_LAN_RECEIVE_POST, n_buckets, w, buckets,
			  n_buckets, IOP_SGL_END_OF_BUFFER, IOP_SGL_END_OF_BUFFER);
}

int iop_read_lan_receive_reply(const uint32_t *reply, size_t reply_words,
			       struct iop_lan_packet *pkts, unsigned max, uint32_t *left)
{
	uint32_t n;

	if (success(reply, reply_words, IOP_LAN_RX_FIRST_WORD) != 0 || (max != 0 && pkts == NULL))
		return -EPROTO;
	n = get(reply, IOP_LAN_RX_PACKETS_WORD);
	if (n > (reply_words - IOP_LAN_RX_FIRST_WORD) / 2)
		return -EPROTO;
	if (left != NULL)
		*left = get(reply, IOP_LAN_RX_LEFT_WORD);
	for (uint32_t i = 0; i < n && i < max; i++) {
		pkts[i].bucket = get(reply, IOP_LAN_RX_FIRST_WORD + 2 * i);
		pkts[i].len = get(reply, IOP_LAN_RX_FIRST_WORD + 2 * i + 1);
	}
	return (int)(n < max ? n : max);
}
