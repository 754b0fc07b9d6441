/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The frame window: one shared mapping that holds all of an IOP's frame
 * memory, a header, the inbound heap (host-to-IOP requests), the outbound
 * heap (IOP-to-host replies) and an area for the MFA rings. Frames are named
 * by MFAs: 32-bit byte offsets from the window's start, the same in every
 * process that maps it, wherever it is mapped.
 *
 * The window lives in a memfd (on hugetlbfs pages when the system has them,
 * otherwise ordinary pages), so another process attaches with the file
 * descriptor alone. Needs only libc; not the DPDK EAL.
 */
#ifndef IOP_WINDOW_H
#define IOP_WINDOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The MFA that means "no frame" ("queue empty" in I2O). */
#define IOP_MFA_EMPTY 0xFFFFFFFFu

/** Do not try hugetlbfs pages, even when the system has them. */
#define IOP_WINDOW_F_NO_HUGEPAGES 0x1u

/** Options for iop_window_create(). Zero-filled means defaults. */
struct iop_window_opts {
	size_t inbound_bytes;  /**< inbound heap, rounded up to a power of two; 0 = 16 MiB */
	size_t outbound_bytes; /**< outbound heap, likewise; 0 = 16 MiB */
	unsigned channels;     /**< channel slots, each four MFA rings (<iop/channel.h>); 0 = 16 */
	unsigned ring_entries; /**< entries per ring, a power of two; 0 = 1024 */
	const struct iop_heap_opts *heap; /**< options of both heaps (<iop/heap.h>); NULL = defaults */
	uint32_t flags;        /**< IOP_WINDOW_F_* */
};

/** What a window is made of, as iop_window_info() reports it. */
struct iop_window_info {
	size_t total_bytes;    /**< the whole mapping, at most 4 GiB */
	size_t ring_offset;    /**< where the ring area starts (an MFA-style offset) */
	size_t ring_bytes;     /**< the ring area: the channel table and its rings */
	unsigned channels;     /**< channel slots */
	unsigned ring_entries; /**< entries per MFA ring; each holds one less */
	size_t owner_bytes;    /**< the frame-owner tables: 2 bytes per smallest block */
	int hugepages;         /**< 1 if the memory is on hugetlbfs pages */
};

struct iop_window;
struct iop_heap;
struct iop_heap_opts;

/**
 * Make a window in a new memfd and map it.
 * @return the window, or NULL with errno: EINVAL (bad heap options, more than
 *         IOP_CHANNELS_MAX channels, ring_entries not a power of two in
 *         [2, IOP_CHANNEL_RING_MAX]), E2BIG
 *         (the window would pass 4 GiB, beyond 32-bit MFAs), or what
 *         memfd_create, ftruncate or mmap said.
 */
struct iop_window *iop_window_create(const struct iop_window_opts *opts);

/**
 * Map a window another process made, from its file descriptor (for example
 * received over a Unix socket). The fd is duplicated; the caller keeps its own.
 * @return the window, or NULL with errno: EBADF (not an open file), EPROTO
 *         (not a window, a window of another layout version, or a header that
 *         disagrees with the file: a corrupt or foreign window is refused).
 */
struct iop_window *iop_window_attach(int fd);

/** Unmap and close. The window lives on while any process still maps it. */
void iop_window_close(struct iop_window *w);

/** The window's file descriptor, to hand to another process. */
int iop_window_fd(const struct iop_window *w);

/** The inbound heap (requests: hosts allocate, the IOP frees). */
struct iop_heap *iop_window_inbound(const struct iop_window *w);

/** The outbound heap (replies: the IOP allocates, hosts free). */
struct iop_heap *iop_window_outbound(const struct iop_window *w);

/** Fill *info. @return 0, or -EINVAL for a NULL argument. */
int iop_window_info(const struct iop_window *w, struct iop_window_info *info);

/** Start of the ring area (the channel table) in this process. */
void *iop_window_rings(const struct iop_window *w);

/**
 * The MFA of a frame: p must point into the block area of one of the two
 * heaps. @return the MFA, or IOP_MFA_EMPTY if p is anywhere else.
 */
uint32_t iop_window_mfa(const struct iop_window *w, const void *p);

/**
 * The MFA of a reply frame: iop_window_mfa() for a p in the outbound heap,
 * which it looks at alone. @return the MFA, or IOP_MFA_EMPTY if p is not
 * in the outbound heap's block area.
 */
uint32_t iop_window_reply_mfa(const struct iop_window *w, const void *p);

/**
 * Where a window's frames lie in one process, for converting MFAs and
 * pointers inline on the message path: iop_window_mfa() and
 * iop_window_frame() are calls that look at both heaps, and every request
 * and reply goes through such a conversion on each side. Filled once by
 * iop_window_map(); good while the window stays mapped. It lives in the
 * caller's memory, never in the window, and the inline conversions below
 * read its fields: its layout is part of the library's ABI, so a program
 * built against one release of these headers is rebuilt for another.
 */
struct iop_window_map {
	char *base;               /**< MFA 0 in this process: the window's first byte */
	uint32_t in_lo, in_hi;    /**< MFAs of the inbound heap's block area: [in_lo, in_hi) */
	uint32_t out_lo, out_hi;  /**< MFAs of the outbound heap's block area */
	struct iop_heap *inbound; /**< iop_window_inbound() */
	struct iop_heap *outbound; /**< iop_window_outbound() */
};

/**
 * Fill *m for w in this process.
 * @return 0, or -EINVAL for a NULL argument.
 * Thread safety: any thread.
 */
int iop_window_map(const struct iop_window *w, struct iop_window_map *m);

/**
 * The request frame an MFA names: a pointer into the inbound heap's block
 * area, or NULL for any MFA outside it (IOP_MFA_EMPTY, a reply, metadata).
 * Says nothing of whether a block is allocated there: an MFA from an
 * untrusted peer still goes to iop_heap_allocated_size() before the frame
 * is read as one.
 * Thread safety: any thread.
 */
static inline void *iop_window_map_request(const struct iop_window_map *m, uint32_t mfa)
{
	/* Unsigned: an MFA below in_lo wraps to a large difference. */
	return mfa - m->in_lo < m->in_hi - m->in_lo ? m->base + mfa : NULL;
}

/** iop_window_map_request() for the outbound heap: a reply frame, or NULL. */
static inline void *iop_window_map_reply(const struct iop_window_map *m, uint32_t mfa)
{
	return mfa - m->out_lo < m->out_hi - m->out_lo ? m->base + mfa : NULL;
}

/**
 * The MFA of a frame the caller knows to lie in one of the two block areas
 * (it allocated it from iop_window_inbound() or iop_window_outbound()): no
 * check, unlike iop_window_mfa(), which takes any pointer.
 * Thread safety: any thread.
 */
static inline uint32_t iop_window_map_mfa(const struct iop_window_map *m, const void *frame)
{
	return (uint32_t)((const char *)frame - m->base);
}

/**
 * The frame an MFA names, in this process. @return the pointer, or NULL for
 * IOP_MFA_EMPTY and for an MFA outside both heaps' block areas (a header,
 * metadata or ring offset, or past the end), so an MFA from an untrusted
 * peer can never yield a pointer outside frame memory.
 */
void *iop_window_frame(const struct iop_window *w, uint32_t mfa);

/**
 * The frame an untrusted MFA names, and how many bytes of it may be read:
 * the MFA must be the start of a block allocated now in one of the two heaps.
 * This is what the IOP calls on an MFA a host posted, before
 * iop_frame_validate() reads the frame.
 *
 * @param block_bytes  gets the block's size (not what the frame claims).
 * @return the frame, or NULL when the MFA names no live block (empty, out
 *         of the heaps, inside a block, a free block).
 * Thread safety: any thread.
 */
void *iop_window_frame_block(const struct iop_window *w, uint32_t mfa, size_t *block_bytes);

/** Owner of a frame nobody outside the IOP holds: the IOP's. */
#define IOP_OWNER_IOP 0u

/*
 * Owners. Every frame carries its holder's owner id in its heap's tag table
 * (<iop/heap.h>, "Tags"), in the window's owner area: a host's id (iopd
 * gives them from 1 up, in-process hosts take them from 0xFFFF down) or
 * IOP_OWNER_IOP. Hosts' requests are tagged as they are allocated
 * (iop_heap_alloc_tagged()), replies as the IOP allocates them for a channel
 * opened as that host (iop_channel_open_as()), and the IOP re-tags a request
 * as its own when it delivers it to its target. A free leaves the tag. So
 * when a host dies, iop_window_reclaim() finds every frame it held.
 */

/**
 * Re-tag the allocated frame at `frame` (the start of an allocated block of
 * either heap) with its new holder.
 * @return 0; -EFAULT when frame is not the start of an allocated block.
 * Thread safety: any thread; the holder of the frame re-tags it.
 */
int iop_window_owner_set(const struct iop_window *w, const void *frame, uint16_t owner);

/** The owner of the allocated frame at `frame`, or -EFAULT as for iop_window_owner_set(). */
int iop_window_owner(const struct iop_window *w, const void *frame);

/**
 * Free every allocated frame tagged with `owner` (not IOP_OWNER_IOP), in
 * both heaps: what a dead host held. The caller makes sure the owner makes no
 * more calls, that none of its frames is in a ring or in the IOP, and, for a
 * process that died, that its heap caches were given back first
 * (iop_heap_cache_reclaim_process()).
 *
 * @return how many frames were freed.
 * Thread safety: any thread, while the owner makes no more calls.
 */
size_t iop_window_reclaim(const struct iop_window *w, uint16_t owner);

struct iop_sgl_bounds;

/**
 * Bounds for walking an untrusted SGL (<iop/sgl.h>) in this window: its base
 * in this process, and the inbound heap's block area as the offsets a list
 * may name. Data buffers are host memory, which hosts allocate from the
 * inbound heap; so no list can make the IOP read or write the window header,
 * either heap's metadata, the outbound heap's replies or the rings.
 *
 * @return 0, or -EINVAL for a NULL argument.
 * Thread safety: any thread.
 */
int iop_window_sgl_bounds(const struct iop_window *w, struct iop_sgl_bounds *b);

#ifdef __cplusplus
}
#endif

#endif /* IOP_WINDOW_H */
