/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * iopool scatter-gather lists (SGL): a builder for the lists an initiator
 * puts in a frame, and a walker for lists that arrive from an untrusted peer.
 *
 * An SGL element starts with a header word, Count:24 (bytes, bits 0-23) |
 * Flags:8 (bits 24-31), little-endian like every word of a frame. In iopool
 * an SGL address is a 32-bit byte offset inside the shared frame window,
 * never a pointer, so a list means the same thing in every process that maps
 * the window.
 *
 * Supported elements (everything else is refused):
 *
 *  - simple (type 0x10): header + 1 word, the window offset of the buffer.
 *    May carry DIR (0x04, data goes from the host buffer to the device),
 *    END_OF_BUFFER (0x40) and LAST_ELEMENT (0x80). LOCAL_ADDRESS (0x08) is
 *    refused: every address is a window offset.
 *  - immediate data (special type 0x0C): header + Count data bytes inline,
 *    zero-padded to whole words. May carry END_OF_BUFFER and LAST_ELEMENT.
 *    Only in the frame itself, not in a chained segment, so that its bytes
 *    always lie inside the frame the IOP was handed.
 *  - chain (type 0x30, no other flag): header + 1 word, the window offset of
 *    the next segment; Count is that segment's length in bytes (a multiple
 *    of 4, at least 4). It must be the final element of its segment and is
 *    never LAST_ELEMENT. A list follows at most IOP_SGL_MAX_CHAIN chains, so
 *    a loop of chains ends in a refusal.
 *
 * A refused list is answered with a reply whose DetailedStatusCode the
 * walker names (the IOP_DSC_* values of <iop/frame.h>). The checks on one element apply in this order, the first
 * failing one deciding:
 *
 *  | rule                                                   | DSC                     |
 *  |--------------------------------------------------------|-------------------------|
 *  | SGL offset 1-3 (inside the message header)             | 0x10 INVALID_OFFSET     |
 *  | no room for a header word: the message or a chained   | 0x15 MESSAGE_TOO_SMALL  |
 *  | segment ends without a LAST_ELEMENT                    |                         |
 *  | flags: page list, special other than immediate data,   | 0x11 INVALID_PARAMETER  |
 *  | LOCAL_ADDRESS, context-count bits (0x03), a chain with |                         |
 *  | any other flag (LAST_ELEMENT, 0x70 short transaction,  |                         |
 *  | 0x7C attributes), immediate data in a chained segment  |                         |
 *  | address word or padded immediate data past the end of  | 0x15 MESSAGE_TOO_SMALL  |
 *  | the message or of the chained segment                  |                         |
 *  | simple: [offset, offset + Count) not inside [lo, hi)   | 0x10 INVALID_OFFSET     |
 *  | chain: not the final element of its segment            | 0x11 INVALID_PARAMETER  |
 *  | chain: more than IOP_SGL_MAX_CHAIN hops, or no window  | 0x11 INVALID_PARAMETER  |
 *  | chain: Count 0, or not a multiple of 4                 | 0x11 INVALID_PARAMETER  |
 *  | chain: offset not 4-aligned, or [offset, offset +      | 0x10 INVALID_OFFSET     |
 *  | Count) not inside [lo, hi)                             |                         |
 *
 * offset + Count is computed in 64 bits, so a sum past 4 GiB is out of range
 * rather than wrapping back into it.
 *
 * The SGL code needs only libc; it does not need the DPDK EAL.
 */
#ifndef IOP_SGL_H
#define IOP_SGL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Flags: bits 24-31 of an element's header word. */
#define IOP_SGL_LAST_ELEMENT     0x80u
#define IOP_SGL_END_OF_BUFFER    0x40u
#define IOP_SGL_TYPE_MASK        0x30u /**< 0: a special element, typed by bits 2-3 */
#define IOP_SGL_TYPE_SIMPLE      0x10u
#define IOP_SGL_TYPE_PAGE_LIST   0x20u
#define IOP_SGL_TYPE_CHAIN       0x30u
#define IOP_SGL_SPECIAL_MASK     0x0Cu /**< type of a special element */
#define IOP_SGL_SPECIAL_IGNORE   0x00u
#define IOP_SGL_SPECIAL_TRANSPORT 0x04u
#define IOP_SGL_SPECIAL_BIT_BUCKET 0x08u
#define IOP_SGL_IMMEDIATE        0x0Cu /**< special type: immediate data */
#define IOP_SGL_DIR              0x04u /**< simple: 1 = host to device */
#define IOP_SGL_LOCAL_ADDRESS    0x08u /**< simple: refused by iopool */
#define IOP_SGL_CONTEXT_COUNT_MASK 0x03u /**< refused by iopool */
#define IOP_SGL_SHORT_TRANSACTION 0x70u /**< refused by iopool */
#define IOP_SGL_ATTRIBUTES_64    0x7Cu /**< refused by iopool */

/** Largest Count: 24 bits. */
#define IOP_SGL_COUNT_MAX 0xFFFFFFu
/** Most chain elements one list may follow. */
#define IOP_SGL_MAX_CHAIN 8u

/**
 * Builds an SGL in a caller's word array. Treat the fields as private; they
 * are public only so that the writer can live on the stack.
 */
struct iop_sgl_writer {
	uint32_t *words;  /**< where the list goes */
	size_t cap_words; /**< room at words */
	size_t used;      /**< words written */
	size_t last;      /**< word index of the last element's header */
	uint8_t state;    /**< empty, open, chained or finished */
};

/** What an SGL may name: the caller's window and the offsets it allows. */
struct iop_sgl_bounds {
	/**
	 * The window's base in this process, for reading chained segments;
	 * [window + lo, window + hi) must be readable. NULL refuses chains.
	 */
	const void *window;
	/**
	 * Window offsets that buffers and chained segments may name: [lo, hi).
	 * Pass the heaps' block area, so that a list can never name the window
	 * header, the heaps' metadata or the rings. hi is at most 2^32.
	 */
	uint64_t lo, hi;
};

/** What an accepted element is. */
enum iop_sgl_kind {
	IOP_SGL_KIND_SIMPLE = 1,    /**< a buffer in the window */
	IOP_SGL_KIND_IMMEDIATE = 2, /**< bytes carried inside the frame */
};

/** One element as iop_sgl_next() hands it out. Chains are followed, not shown. */
struct iop_sgl_elem {
	enum iop_sgl_kind kind;
	uint8_t flags;     /**< the wire flags (IOP_SGL_*), type bits included */
	uint32_t count;    /**< bytes */
	uint32_t offset;   /**< SIMPLE: window offset of the buffer; else 0 */
	const void *data;  /**< IMMEDIATE: the bytes, inside the frame; else NULL */
};

/**
 * Walks an untrusted SGL. Treat the fields as private, except dsc.
 */
struct iop_sgl_iter {
	const unsigned char *seg; /**< the segment being read: the frame or a chained one */
	size_t seg_bytes;         /**< its length, whole words only */
	size_t pos;               /**< byte index of the next element in seg, <= seg_bytes */
	unsigned hops;            /**< chains followed */
	uint8_t in_frame;         /**< seg is the frame */
	uint8_t state;            /**< walking, done or refused */
	uint16_t dsc;             /**< after a refusal: the IOP_DSC_* to reply with; else 0 */
	struct iop_sgl_bounds bounds;
};

/**
 * Start a list in words[0 .. cap_words).
 *
 * @param w          the writer.
 * @param words      4-byte aligned; may be NULL only if cap_words is 0.
 * @param cap_words  room at words, in 32-bit words.
 * @return 0, or -EINVAL for a NULL w, or a NULL words with cap_words != 0.
 * Thread safety: a writer belongs to one thread at a time.
 */
int iop_sgl_writer_init(struct iop_sgl_writer *w, uint32_t *words, size_t cap_words);

/**
 * Append a simple element: 2 words.
 *
 * @param w       the writer.
 * @param offset  window offset of the buffer.
 * @param count   its length in bytes, at most IOP_SGL_COUNT_MAX.
 * @param flags   0, or IOP_SGL_DIR and/or IOP_SGL_END_OF_BUFFER.
 * @return 0; -ENOSPC when the 2 words do not fit; -EINVAL for a count over
 *         24 bits, another flag, or a list already chained or finished. On
 *         any error the writer and its words are unchanged.
 * Thread safety: a writer belongs to one thread at a time.
 */
int iop_sgl_add_simple(struct iop_sgl_writer *w, uint32_t offset, uint32_t count, unsigned flags);

/**
 * Append an immediate-data element: a header and len bytes, copied in order
 * (they are bytes, not words: no byte swapping) and zero-padded to a word.
 *
 * @param w      the writer.
 * @param data   the bytes; may be NULL only if len is 0.
 * @param len    at most IOP_SGL_COUNT_MAX.
 * @param flags  0 or IOP_SGL_END_OF_BUFFER.
 * @return 0; -ENOSPC when 1 + ceil(len / 4) words do not fit; -EINVAL for a
 *         len over 24 bits, a NULL data with len != 0, another flag, or a list
 *         already chained or finished. On any error nothing changes.
 * Thread safety: a writer belongs to one thread at a time.
 */
int iop_sgl_add_immediate(struct iop_sgl_writer *w, const void *data, uint32_t len,
			  unsigned flags);

/**
 * Append a chain element: 2 words, naming the next segment, which the caller
 * builds with another writer in the window. It closes this segment: nothing
 * may follow it here, and iop_sgl_finish() leaves it without LAST_ELEMENT.
 *
 * @param w       the writer.
 * @param offset  window offset of the next segment, 4-byte aligned.
 * @param bytes   the next segment's length: a multiple of 4, 4 to 0xFFFFFC
 *                (4 * the words its writer used).
 * @return 0; -ENOSPC when the 2 words do not fit; -EINVAL for a bad offset
 *         or length, or a list already chained or finished. On any error
 *         nothing changes.
 * Thread safety: a writer belongs to one thread at a time.
 */
int iop_sgl_add_chain(struct iop_sgl_writer *w, uint32_t offset, uint32_t bytes);

/**
 * End the list: set LAST_ELEMENT on its last element, unless that is a chain
 * (the list goes on in the chained segment). Calling it again changes nothing.
 *
 * @param w  the writer.
 * @return the words used (> 0); -EINVAL for a list with no element;
 *         -EOVERFLOW when the count would not fit an int (nothing changes).
 * Thread safety: a writer belongs to one thread at a time.
 */
int iop_sgl_finish(struct iop_sgl_writer *w);

/**
 * Start walking the SGL of an untrusted frame. Reads nothing yet.
 *
 * @param it                the iterator.
 * @param frame             the frame; any alignment; NULL only with frame_bytes 0.
 * @param frame_bytes       MessageSize * 4 (a partial last word is never read).
 * @param sgl_offset_words  the frame's SGL offset: 0 means no SGL (the walk
 *                          ends at once), 1-3 is refused as INVALID_OFFSET.
 * @param b                 the window and the offsets a list may name;
 *                          copied, so it need not outlive the call.
 * @return 0, or -EINVAL for a NULL it or b, a NULL frame with frame_bytes != 0,
 *         lo > hi or hi > 2^32.
 * Thread safety: an iterator belongs to one thread at a time.
 */
int iop_sgl_iter_init(struct iop_sgl_iter *it, const void *frame, size_t frame_bytes,
		      unsigned sgl_offset_words, const struct iop_sgl_bounds *b);

/**
 * The next element, following chains. Each word is read once (memcpy, any
 * alignment) and checked as read, so a peer rewriting the list meanwhile can
 * change what the walk finds but never make it read outside the frame or
 * [window + lo, window + hi).
 *
 * @param it  from iop_sgl_iter_init().
 * @param e   filled in full when 1 is returned; untouched otherwise.
 * @return 1 with an element; 0 once the element with LAST_ELEMENT has been
 *         returned (and on every later call); -EPROTO when the list is
 *         refused, it->dsc then saying why (see the table above; every later
 *         call returns -EPROTO again); -EINVAL for a NULL it or e.
 * Thread safety: an iterator belongs to one thread at a time; the frame and
 *         the window are only read.
 */
int iop_sgl_next(struct iop_sgl_iter *it, struct iop_sgl_elem *e);

/**
 * The next elements, up to max of them: what as many calls of iop_sgl_next()
 * would hand out, with the same checks, in one call (a PacketSend's 64
 * packets, a transfer's buffers) so that a walk costs no call an element.
 *
 * @param it   the iterator.
 * @param e    room for max elements.
 * @param max  at least 1.
 * @return the elements written to e[0..n) (1 to max); 0 at the end of the
 *         list; -EPROTO when refused. Elements accepted before the end or a
 *         refusal are handed out first, and the next call returns 0 or
 *         -EPROTO (it->dsc saying why); -EINVAL for a NULL it or e, or a max
 *         of 0.
 * Thread safety: as iop_sgl_next().
 */
int iop_sgl_next_burst(struct iop_sgl_iter *it, struct iop_sgl_elem *e, unsigned max);

/**
 * Walk a whole SGL: iop_sgl_iter_init() and iop_sgl_next() to the end.
 *
 * @param dsc          if not NULL: 0, or the IOP_DSC_* of a refusal.
 * @param total_bytes  if not NULL: the sum of the Counts of every element
 *                     (buffers and immediate data), when accepted.
 * @return 0 when the list is acceptable; -EPROTO when refused (*dsc says
 *         why); -EINVAL as iop_sgl_iter_init() (outputs untouched).
 * Thread safety: any thread; frame and window are only read.
 */
int iop_sgl_check(const void *frame, size_t frame_bytes, unsigned sgl_offset_words,
		  const struct iop_sgl_bounds *b, uint16_t *dsc, uint64_t *total_bytes);

#ifdef __cplusplus
}
#endif

#endif /* IOP_SGL_H */
