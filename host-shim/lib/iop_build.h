/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Request builders and reply readers for hosts: utility, executive,
 * block-storage (BSA) and LAN requests, written into a frame the caller allocated
 * (iop_qp_frame_alloc()). Each builder writes the header (version 1.5,
 * InitiatorAddress = the host, MessageSize, SGL offset) and the request's
 * own words; the contexts are left 0 for the queue pair to write when it
 * posts.
 *
 * Every builder takes the frame's size in bytes and returns the words it
 * wrote, or -ENOSPC when the request does not fit (the frame is then left
 * as it was), or -EINVAL for arguments no frame could carry.
 * Needs only libc, like the frame codec.
 */
#ifndef IOP_BUILD_H
#define IOP_BUILD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_window;
struct iop_sgl_bounds;

/* ---- Utility class: any target ----------------------------------------- */

/** UtilNOP, 4 words: the IOP frees it and sends no reply. */
int iop_build_util_nop(uint32_t *frame, size_t frame_bytes, uint16_t tid);

/**
 * A utility request with no payload (Claim, ClaimRelease, DeviceReserve,
 * DeviceRelease, Lock, LockRelease, Abort): 4 words.
 * @return -EINVAL for a function that is not a utility code (0x00-0x1F).
 */
int iop_build_util(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function);

/** UtilPrivate: word 4 XFunctionCode (bits 0-15) | OrganizationID (bits 16-31). */
int iop_build_util_private(uint32_t *frame, size_t frame_bytes, uint16_t tid,
			   uint16_t xfunction, uint16_t org_id);

/**
 * UtilEventRegister, 5 words: word 4 EventMask (IOP_EVENT_* bits; 0 cancels
 * the registration this channel holds with the target). No reply comes to
 * it; each event the mask asks for comes as a reply of its own
 * (<iop/frame.h>). Post it with iop_qp_post(), or use iop_qp_event_register().
 */
int iop_build_util_event_register(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				  uint32_t mask);

/** UtilParamsGet of one group: word 4 GroupNumber. */
int iop_build_params_get(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint16_t group);

/**
 * UtilParamsSet of one group: word 4 GroupNumber, word 5 the field count,
 * then each field as a 64-bit little-endian value, low word first.
 * @return -EINVAL for more than 64 fields, or n != 0 with values NULL.
 */
int iop_build_params_set(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint16_t group,
			 const uint64_t *values, unsigned n);

/**
 * Read a UtilParamsGet reply: the field count (word 5) and up to max values.
 * @param n  gets the count the reply states (untouched on -EPROTO).
 * @return how many values were stored (min of max and the count), or
 *         -EPROTO for a reply too short for the count it states, or not a
 *         successful reply.
 */
int iop_read_params_reply(const uint32_t *reply, size_t reply_words, uint64_t *values,
			  unsigned max, unsigned *n);

/* ---- Executive class: TID 0 -------------------------------------------- */

/** An executive request with no payload (SysQuiesce, SysEnable, IopReset, ...). */
int iop_build_exec(uint32_t *frame, size_t frame_bytes, uint8_t function);

/** ExecStatusGet. */
int iop_build_exec_status_get(uint32_t *frame, size_t frame_bytes);

/**
 * ExecLctNotify: word 4 the class filter (0xFFFFFFFF = all), word 5 the
 * change indicator (0 = reply now; else the reply waits until the table
 * changes past it).
 */
int iop_build_exec_lct_notify(uint32_t *frame, size_t frame_bytes, uint32_t class_filter,
			      uint32_t change_indicator);

/** ExecDdmDestroy of the DDM at ddm_tid (word 4). */
int iop_build_exec_ddm_destroy(uint32_t *frame, size_t frame_bytes, uint16_t ddm_tid);

/** What an ExecStatusGet reply says (docs/runtime.md has the words). */
struct iop_exec_status {
	uint8_t iop_state;        /**< IOP_STATE_* */
	uint8_t i2o_version;      /**< 1 = I2O 1.5 */
	uint16_t iop_id;
	uint32_t targets;         /**< entries of the LCT: the executive and live DDMs */
	uint32_t lct_change;      /**< CurrentChangeIndicator */
	uint32_t inbound_kib;     /**< inbound heap size */
	uint32_t outbound_kib;
	uint32_t channels;
	uint32_t loops;
	uint32_t inbound_in_use;  /**< bytes */
	uint32_t outbound_in_use;
};

/** Read an ExecStatusGet reply. @return 0, or -EPROTO (too short, not SUCCESS). */
int iop_read_exec_status(const uint32_t *reply, size_t reply_words, struct iop_exec_status *s);

/**
 * The LCT carried by an ExecLctNotify reply: where it starts and how many
 * bytes it may span, for iop_lct_parse() / iop_lct_entry_get().
 * @return 0, or -EPROTO (not a successful reply, or no room for a table).
 */
int iop_read_lct_reply(const uint32_t *reply, size_t reply_words, const uint32_t **lct,
		       size_t *lct_bytes);

/* ---- Block storage (BSA, class 0x010) ---------------------------------- */

/** BSA function codes. */
enum iop_bsa_function {
	IOP_BSA_STATUS_CHECK = 0x25,
	IOP_BSA_DEVICE_RESET = 0x27,
	IOP_BSA_BLOCK_READ   = 0x30,
	IOP_BSA_BLOCK_WRITE  = 0x31,
	IOP_BSA_WRITE_VERIFY = 0x33,
	IOP_BSA_MEDIA_VERIFY = 0x35,
	IOP_BSA_CACHE_FLUSH  = 0x37,
	IOP_BSA_MEDIA_MOUNT  = 0x41,
	IOP_BSA_MEDIA_EJECT  = 0x43,
	IOP_BSA_MEDIA_LOCK   = 0x49,
	IOP_BSA_MEDIA_UNLOCK = 0x4B,
	IOP_BSA_POWER_MGT    = 0x70,
};

/** One buffer of a transfer: memory inside the host's frame window. */
struct iop_buf {
	void *addr;
	uint32_t len;
};

/**
 * BlockRead, BlockWrite or WriteVerify: word 4 ControlFlags | TimeMultiplier
 * | FetchAhead (0), word 5 TransferByteCount (the buffers' total), words 6-7
 * the 64-bit byte address, and from word 8 an SGL of one simple element per
 * buffer (END_OF_BUFFER on each, DIR on writes, LAST_ELEMENT on the final).
 * @param w  the window the buffers lie in (their addresses become offsets).
 * @return words written; -EINVAL for a buffer outside the window, an empty
 *         transfer, or a total over 4 GiB - 1; -ENOSPC.
 */
int iop_build_bsa_rw(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function,
		     uint64_t byte_address, const struct iop_window *w, const struct iop_buf *bufs,
		     unsigned n_bufs);

/**
 * The same transfer as a frame iop_build_bsa_rw() built (`built`, of
 * built_bytes: its function, buffers and count), at another byte address: a
 * copy of its words with words 6-7 set, and words 2-3 cleared for the queue
 * pair. For a host that moves the same buffers many times: the buffers'
 * checks and the SGL are done once, when `built` is built, and a request
 * costs a copy.
 * @return words written; -EINVAL when `built` is not a BlockRead, BlockWrite
 *         or WriteVerify with an SGL of whole simple elements inside
 *         built_bytes, or is `frame` itself; -ENOSPC.
 */
int iop_build_bsa_rw_again(uint32_t *frame, size_t frame_bytes, const uint32_t *built,
			   size_t built_bytes, uint64_t byte_address);

/**
 * MediaVerify of byte_count bytes at byte_address: the words of a transfer
 * (word 5 the count, words 6-7 the address) without an SGL; 8 words.
 * @return words written; -EINVAL for a count of 0; -ENOSPC.
 */
int iop_build_bsa_media_verify(uint32_t *frame, size_t frame_bytes, uint16_t tid,
			       uint64_t byte_address, uint32_t byte_count);

/** A BSA request with no payload (StatusCheck, CacheFlush, DeviceReset, ...). */
int iop_build_bsa(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function);

/**
 * The TransferCount word of a BlockRead/BlockWrite/WriteVerify/MediaVerify
 * reply (word 5): the bytes moved, on failures too.
 * @return 0, or -EPROTO when the reply has no word 5.
 */
int iop_read_bsa_transfer_count(const uint32_t *reply, size_t reply_words, uint32_t *count);

/* ---- LAN (class 0x020): iopool's frames, <iop/lan.h> and docs/lan.md --- */

/** A LAN request with no payload: LanReset, LanSuspend. */
int iop_build_lan(uint32_t *frame, size_t frame_bytes, uint16_t tid, uint8_t function);

/**
 * LanPacketSend of one packet carried in the frame: word 4 the transmit
 * control word (0), from word 5 one immediate-data element holding the packet
 * (LAST_ELEMENT | END_OF_BUFFER). Needs 6 + ceil(len / 4) words.
 * @return words written; -EINVAL for a NULL packet, len 0 or over 24 bits; -ENOSPC.
 */
int iop_build_lan_packet_send_inline(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				     const void *packet, uint32_t len);

/**
 * LanPacketSend of one packet held in buffers of the inbound heap, in order:
 * word 4 the transmit control word (0), from word 5 one simple element per
 * buffer (DIR), END_OF_BUFFER and LAST_ELEMENT on the final one.
 * @return words written; -EINVAL for a buffer outside the window's inbound
 *         heap, none, or an empty one; -ENOSPC.
 */
int iop_build_lan_packet_send_sgl(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				  const struct iop_window *w, const struct iop_buf *bufs,
				  unsigned n_bufs);

/** One packet of a multi-packet LanPacketSend carried in the frame. */
struct iop_lan_inline {
	const void *data; /**< the packet's bytes */
	uint32_t len;     /**< its length, 1 to IOP_SGL_COUNT_MAX */
};

/**
 * LanPacketSend of n packets (1 to IOP_LAN_SEND_MAX_PACKETS), each held in
 * one buffer of the inbound heap: word 4 the transmit control word (0), from
 * word 5 one simple element per packet (DIR | END_OF_BUFFER), LAST_ELEMENT on
 * the final one. n = 1 builds what iop_build_lan_packet_send_sgl() does for
 * one buffer. Needs 5 + 2n words. The reply: iop_read_lan_send_reply().
 * @return words written; -EINVAL for a packet outside the window's inbound
 *         heap, an empty one, none, or more than IOP_LAN_SEND_MAX_PACKETS; -ENOSPC.
 */
int iop_build_lan_packet_send_multi(uint32_t *frame, size_t frame_bytes, uint16_t tid,
				    const struct iop_window *w, const struct iop_buf *packets,
				    unsigned n);

/**
 * LanPacketSend of n packets (1 to IOP_LAN_SEND_MAX_PACKETS) carried in the
 * frame: word 4 the transmit control word (0), from word 5 one immediate-data
 * element per packet (END_OF_BUFFER), LAST_ELEMENT on the final one. Needs
 * 5 + the sum of (1 + ceil(len / 4)) words, at most 0xFFFF (MessageSize is
 * 16 bits) whatever the frame's size. n = 1 builds what
 * iop_build_lan_packet_send_inline() does.
 * @return words written; -EINVAL for a NULL or empty packet, one over 24
 *         bits, none, or more than IOP_LAN_SEND_MAX_PACKETS; -ENOSPC. Every
 *         refusal is decided before anything is written: the frame is left
 *         as it was.
 */
int iop_build_lan_packet_send_inline_multi(uint32_t *frame, size_t frame_bytes, uint16_t tid,
					   const struct iop_lan_inline *packets, unsigned n);

/**
 * A LanPacketSend carried in the frame, built a packet at a time: each packet
 * is copied straight into the frame as it is added, so a caller gathering
 * packets from a buffer it cannot keep (libpcap's, which the next read
 * overwrites) needs no copy of its own. The result is what
 * iop_build_lan_packet_send_inline_multi() builds for the same packets.
 * The fields are private; they are public only so that a builder can live
 * on the stack.
 */
struct iop_lan_send_builder {
	uint32_t *frame;
	size_t frame_words;
	size_t used;      /* SGL words written, from word 5 */
	size_t last;      /* the last element's header, in words from word 5 */
	unsigned n;       /* packets added */
	uint16_t tid;
};

/**
 * Start a PacketSend in the frame (nothing is written until a packet is added).
 * @return 0; -EINVAL for a NULL builder or frame, or a TID out of range;
 *         -ENOSPC for a frame too small for any packet (under 7 words). On a
 *         refusal *b (when not NULL) is an empty builder, which _add and _end
 *         refuse (-EINVAL).
 */
int iop_build_lan_packet_send_begin(struct iop_lan_send_builder *b, uint32_t *frame,
				    size_t frame_bytes, uint16_t tid);

/**
 * Copy one packet into the frame: an immediate-data element, END_OF_BUFFER,
 * of 1 + ceil(len / 4) words.
 * @return 0; -EINVAL for a NULL or empty packet, one over 24 bits, or one past
 *         IOP_LAN_SEND_MAX_PACKETS; -ENOSPC when it does not fit in what is
 *         left of the frame. On an error nothing is added.
 */
int iop_build_lan_packet_send_add(struct iop_lan_send_builder *b, const void *data,
				  uint32_t len);

/**
 * Add one packet held in a buffer of the window's inbound heap, by
 * reference: a simple element, DIR | END_OF_BUFFER, of 2 words, whatever the
 * packet's length. `bounds` are the window's, from iop_window_sgl_bounds(),
 * taken once (this is a packet's whole cost on the host's side). The buffer
 * must stay as it is until the request is answered. Packets added by _add
 * and by _add_buf mix in one request, in the order added; with _add_buf
 * only, the result is what iop_build_lan_packet_send_multi() builds for the
 * same buffers.
 * @return 0; -EINVAL for a NULL builder, bounds or buffer, an empty buffer,
 *         one over 24 bits or outside the inbound heap, or one past
 *         IOP_LAN_SEND_MAX_PACKETS; -ENOSPC when the 2 words do not fit. On
 *         an error nothing is added.
 */
int iop_build_lan_packet_send_add_buf(struct iop_lan_send_builder *b,
				      const struct iop_sgl_bounds *bounds, const struct iop_buf *buf);

/**
 * Add n packets by reference at once: what n calls of
 * iop_build_lan_packet_send_add_buf() add, word for word, in one pass (a
 * sender with a request's packets at hand pays one call, not one a packet).
 * All or nothing.
 * @return n; -EINVAL for a NULL builder, bounds or array, any buffer
 *         _add_buf refuses, or more packets than IOP_LAN_SEND_MAX_PACKETS
 *         in all; -ENOSPC when the 2n words do not fit. On an error nothing
 *         is added.
 */
int iop_build_lan_packet_send_add_bufs(struct iop_lan_send_builder *b,
				       const struct iop_sgl_bounds *bounds,
				       const struct iop_buf *bufs, unsigned n);

/**
 * Finish the PacketSend: the header (MessageSize the words used), the
 * transmit control word (0), LAST_ELEMENT on the final packet. The frame is
 * then ready to post; the builder is done with.
 * @return words written; -EINVAL when no packet was added.
 */
int iop_build_lan_packet_send_end(struct iop_lan_send_builder *b);

/**
 * Read a PacketSend reply: how many of the request's packets were sent, in
 * order from the first. A 5-word reply (a one-packet request) sent its packet
 * on SUCCESS and none otherwise; a 6-word reply says in word 5 (all on
 * SUCCESS, fewer on ERROR_PARTIAL_TRANSFER, none on a refusal).
 * @return the packets sent, or -EPROTO for a reply too short or a word 5
 *         above n (the packets the request carried).
 */
int iop_read_lan_send_reply(const uint32_t *reply, size_t reply_words, unsigned n);

/**
 * LanReceivePost: word 4 the bucket count, from word 5 one simple element
 * per bucket (END_OF_BUFFER on each, LAST_ELEMENT on the final). The buckets
 * stay the IOP's to fill until the request's last reply (LAST, or a reply
 * without MULTIPLE).
 * @return words written; -EINVAL for a bucket outside the window's inbound
 *         heap, an empty one, none, or more than IOP_LAN_MAX_BUCKETS; -ENOSPC.
 */
int iop_build_lan_receive_post(uint32_t *frame, size_t frame_bytes, uint16_t tid,
			       const struct iop_window *w, const struct iop_buf *buckets,
			       unsigned n_buckets);

/** One received packet, as a ReceivePost reply reports it. */
struct iop_lan_packet {
	uint32_t bucket; /**< index of its bucket in the request's SGL, 0 first */
	uint32_t len;    /**< bytes */
};

/**
 * Read a ReceivePost reply: the packets it reports (word 5 their count,
 * word 6 the buckets still empty, then two words a packet).
 * @param left  if not NULL, gets the request's buckets still empty.
 * @return how many packets were stored (at most max), or -EPROTO for a
 *         reply that is not SUCCESS or too short for the count it states.
 */
int iop_read_lan_receive_reply(const uint32_t *reply, size_t reply_words,
			       struct iop_lan_packet *pkts, unsigned max, uint32_t *left);

#ifdef __cplusplus
}
#endif

#endif /* IOP_BUILD_H */
