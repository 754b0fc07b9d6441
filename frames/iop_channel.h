/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * Channels: the host-to-IOP paths of a frame window. The window's ring area
 * holds a table of channel slots; each slot carries four MFA rings:
 *
 *  - to_iop, requests: single producer (the host thread that opened the
 *    channel), single consumer (the IOP poller that owns the channel);
 *  - to_host, replies: several producers in relaxed-tail-sync mode (any of
 *    the IOP's lcores may answer), single consumer (the host thread);
 *  - free_to_host, I2O's inbound free list: request frames the IOP is done
 *    with, still allocated in the inbound heap, for the host to fill again.
 *    Producer: the IOP poller that owns the channel, which tags each frame
 *    with the channel's owner again before it posts it; consumer: the host
 *    thread;
 *  - free_to_iop, I2O's outbound free list: reply frames the host is done
 *    with, still allocated in the outbound heap and tagged with the
 *    channel's owner, each with IOP_FREE_FRAME_MARK written over its first
 *    word, for the IOP poller that owns the channel to answer this
 *    channel's requests in. Producer: the host thread; consumer: that
 *    poller, which answers in a frame only if it is a block of the list's
 *    size, allocated, tagged with the owner and marked, and clears the mark
 *    as it takes it: a frame a host puts on the list twice, or after it gave
 *    it back to the heap, is never answered in twice at once.
 *
 * The free lists keep a frame that goes round and round between one host
 * thread and one poller out of the heap: no allocation bit is set and
 * cleared for it on each trip, and no cache line of the heap's bitmaps
 * moves between the two CPUs. Only frames of the size
 * iop_channel_free_list_block() gives go on them, no more than
 * IOP_FREE_LIST_HOLD at a time, and either side may use the heap instead
 * at any time (a list empty or full, a request answered on another lcore).
 * What is left on them when the slot is reclaimed goes back to the heaps
 * then.
 *
 * A host thread opens a channel of its own, so a host that is preempted or
 * killed mid-post stalls nobody but itself: no other channel shares its
 * producer index.
 *
 * A slot's life: FREE -> CLAIMED (a host is laying out its rings) -> OPEN ->
 * CLOSED (the host is done, or the IOP found it gone) -> FREE once the IOP
 * has drained the request and reply rings and called iop_channel_reclaim().
 * The IOP uses a slot's rings only while it is OPEN or CLOSED.
 *
 * Hosts are trusted as far as the window's memory goes: a host maps all of
 * it writable, so these rings protect against a host that stops, not one
 * that scribbles over ring headers.
 */
#ifndef IOP_CHANNEL_H
#define IOP_CHANNEL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_heap;
struct iop_window;
struct rte_ring;

/** Most channel slots a window can have. */
#define IOP_CHANNELS_MAX 1024u
/** Most entries an MFA ring of a channel can have. */
#define IOP_CHANNEL_RING_MAX (1u << 20)

/** Where a channel slot is in its life. */
enum iop_channel_state {
	IOP_CHANNEL_FREE = 0,    /**< nobody's; its rings are not laid out */
	IOP_CHANNEL_CLAIMED = 1, /**< a host is laying out the rings */
	IOP_CHANNEL_OPEN = 2,    /**< in use by a host */
	IOP_CHANNEL_CLOSED = 3,  /**< the host left; the IOP drains, then reclaims */
};

/**
 * Most frames a free list holds: its producer gives a frame to the heap
 * instead once the list has this many. Each side may keep up to as many
 * again that it took from a list or is about to put on one (the host
 * library keeps up to 32 request frames and 64 reply frames; a loop holds
 * the request frames of the replies it posts at once, at most the 16 of its
 * outbox, between posting the replies and listing the frames).
 */
#define IOP_FREE_LIST_HOLD 64u

/**
 * The size of the frames that go round on the free lists of a window's
 * channels, for the heap h (its inbound or outbound heap): the heap's
 * smallest block, or 0, for no free lists, when the heap is too small for
 * what every channel's lists and both sides of each could hold to be a
 * small part of it (a quarter at most). Every process that maps the window
 * gets the same answer, so the host library and the IOP agree on it.
 * Thread safety: any thread.
 */
size_t iop_channel_free_list_block(const struct iop_window *w, const struct iop_heap *h);

/**
 * The first word of a reply frame on a channel's free_to_iop list, little
 * endian as a frame's words are: a MessageSize of 0, which no message has
 * (see the list's rules above).
 */
#define IOP_FREE_FRAME_MARK 0x0000F4EEu

/** A process's view of one channel; the rings are in the window. */
struct iop_channel {
	unsigned id;              /**< slot index, 0 .. iop_window_channels() - 1 */
	uint32_t generation;      /**< counts opens of this slot; tells a reused slot apart */
	int32_t owner_pid;        /**< pid of the process that opened it */
	uint16_t owner;           /**< owner id it was opened as: the tag of its replies */
	struct rte_ring *to_iop;  /**< requests (see iop_mfa_ring.h) */
	struct rte_ring *to_host; /**< replies */
	struct rte_ring *free_to_host; /**< the inbound free list: request frames to reuse */
	struct rte_ring *free_to_iop;  /**< the outbound free list: reply frames to reuse */
};

/** Number of channel slots in the window. */
unsigned iop_window_channels(const struct iop_window *w);

/**
 * Claim a free slot for the calling thread and lay out its four rings empty.
 *
 * @param w   the window, made here or attached.
 * @param ch  filled with the new channel.
 * @return 0, -ENOSPC when every slot is in use, -EINVAL for a NULL argument.
 * Thread safety: any thread; each channel then has one host thread posting.
 */
int iop_channel_open(struct iop_window *w, struct iop_channel *ch);

/**
 * iop_channel_open() for a host that holds frames as `owner` (its owner id,
 * <iop/window.h>): the IOP allocates the channel's replies tagged with it,
 * so a reply is the host's from the moment it exists, in the IOP's hands,
 * in the ring or in the host's. iop_channel_open() opens as IOP_OWNER_IOP.
 */
int iop_channel_open_as(struct iop_window *w, struct iop_channel *ch, uint16_t owner);

/**
 * The host is done with the channel: OPEN -> CLOSED. Frames still in the
 * rings are the IOP's to drain before it reclaims the slot.
 *
 * @return 0; -ESTALE when the slot is no longer this opening of it (another
 *         generation, or not OPEN); -EINVAL for a bad argument.
 * Thread safety: any thread, once per opening.
 */
int iop_channel_close(struct iop_window *w, const struct iop_channel *ch);

/**
 * The IOP's look at slot id.
 *
 * @param ch  filled in; its rings are NULL unless the slot is OPEN or CLOSED
 *            (the only states in which the IOP may use them).
 * @return the slot's state (enum iop_channel_state), or -EINVAL for an id
 *         past the table or a NULL argument.
 * Thread safety: any thread.
 */
int iop_channel_lookup(const struct iop_window *w, unsigned id, struct iop_channel *ch);

/**
 * Give slot id back to the free pool: CLOSED -> FREE, or CLAIMED -> FREE for
 * a host that died while laying out its rings. The caller has drained the
 * request and reply rings and knows the owner is gone; nothing uses the
 * rings afterwards. The frames left on the free lists of a slot that was
 * OPEN go back to the heaps here (on free_to_iop only marked ones, each
 * once). For a host that died, call this before iop_window_reclaim() frees
 * the rest of its frames by their tag: a frame the sweep freed, and someone
 * then allocated again, must not be on a list any more when it is drained.
 *
 * @param generation  the generation the caller drained; a slot reopened
 *                    since is left alone.
 * @return 0, -EBUSY when the slot is FREE or OPEN, -ESTALE for another
 *         generation, -EINVAL for a bad id.
 * Thread safety: the IOP thread that owns the slot.
 */
int iop_channel_reclaim(struct iop_window *w, unsigned id, uint32_t generation);

/**
 * The word that says slot id's state and generation (generation << 32 |
 * state), for a poller that keeps what iop_channel_lookup() told it and
 * looks it up again only when this word changes: one load per slot and turn.
 * Load it with acquire ordering. NULL for a bad id.
 */
const _Atomic uint64_t *iop_channel_word(const struct iop_window *w, unsigned id);

/**
 * A count of the changes of every slot's word, bumped after each: a poller
 * that reads it (acquire) unchanged since it last looked at the slots' words
 * knows that none has changed before that look, so it need not load all of
 * them on every turn to find a slot opened since. Counts from 0 in a new
 * window. NULL for a NULL window.
 * Thread safety: any thread, any process that maps the window.
 */
const _Atomic uint64_t *iop_channel_changes(const struct iop_window *w);

/** The state and generation a slot's word says (see iop_channel_word()). */
static inline int iop_channel_word_state(uint64_t word)
{
	return (int)(word & 0xFFFFFFFFu);
}

static inline uint32_t iop_channel_word_generation(uint64_t word)
{
	return (uint32_t)(word >> 32);
}

/**
 * Free every reply waiting in a channel's reply ring: for the IOP side, once
 * the channel's host is gone (closed) and nobody else will take them, before
 * the slot is reclaimed.
 * @return how many were freed.
 * Thread safety: the one consumer of the reply ring.
 */
unsigned iop_channel_free_replies(struct iop_window *w, const struct iop_channel *ch);

#ifdef __cplusplus
}
#endif

#endif /* IOP_CHANNEL_H */
