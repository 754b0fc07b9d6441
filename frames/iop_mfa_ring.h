/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * MFA rings: DPDK rte_rings of 4-byte elements, each element one MFA, laid
 * out with rte_ring_init() in memory the caller provides (in iopool, the
 * frame window's ring area), so two processes that map that memory use the
 * same ring without DPDK's multi-process support and without the EAL.
 *
 * A ring stores no pointers: the same ring works wherever each process maps
 * it. Both sides must use the same DPDK build, since the rte_ring header is
 * DPDK's own layout.
 *
 * The hot paths are inline, as DPDK's are. A full ring is back-pressure: a
 * post moves as many MFAs as fit and says how many; the caller keeps the rest
 * and retries. Nothing is ever dropped.
 */
#ifndef IOP_MFA_RING_H
#define IOP_MFA_RING_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <rte_branch_prediction.h>
#include <rte_prefetch.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Size of one ring element: an MFA. */
#define IOP_MFA_RING_ESIZE 4u

/* Producer and consumer modes, as rte_ring's RING_F_* flags. */
/** One producer thread at a time (a host channel's request ring). */
#define IOP_MFA_RING_SP     RING_F_SP_ENQ
/** One consumer thread at a time. */
#define IOP_MFA_RING_SC     RING_F_SC_DEQ
/**
 * Several producers, relaxed tail sync: a producer preempted mid-enqueue does
 * not make the others spin until it runs again, as plain multi-producer
 * rings do on an oversubscribed machine.
 */
#define IOP_MFA_RING_MP_RTS RING_F_MP_RTS_ENQ
/** Several consumers, relaxed tail sync. */
#define IOP_MFA_RING_MC_RTS RING_F_MC_RTS_DEQ

/**
 * Bytes a ring of `entries` slots needs.
 *
 * @param entries  a power of two, at least 2; the ring holds entries - 1 MFAs.
 * @return the size, or -EINVAL for an entry count rte_ring refuses.
 * Thread safety: any thread.
 */
ssize_t iop_mfa_ring_memsize(unsigned entries);

/**
 * Lay out an empty ring in mem, which is at least iop_mfa_ring_memsize()
 * bytes and aligned to a cache line. Whatever mem held is forgotten.
 *
 * @param mem      the ring's memory.
 * @param name     for diagnostics only (rte_ring keeps a copy).
 * @param entries  as for iop_mfa_ring_memsize().
 * @param flags    IOP_MFA_RING_* producer and consumer modes; 0 = the
 *                 multi-producer, multi-consumer defaults of rte_ring.
 * @return the ring (mem), or NULL with errno EINVAL (bad entries, flags or
 *         alignment).
 * Thread safety: nobody may use the ring while it is laid out.
 */
struct rte_ring *iop_mfa_ring_init(void *mem, const char *name, unsigned entries,
				   unsigned flags);

/*
 * ThreadSanitizer cannot follow DPDK 22.11's relaxed-tail-sync producer (it
 * moves head and tail as 8-byte words while the consumer reads the 4-byte
 * position inside them), so it would not see that a frame written before its
 * MFA was posted is read after the MFA is taken. For those rings, and only
 * in TSan builds, the ordering the ring gives is stated to TSan on the
 * ring's address. Single-producer rings need no help.
 *
 * That statement is made before the post (it is about the frame), so it
 * does not cover the ring's slot the post then writes: a take reads its
 * slot in DPDK's own frames, which tests/tsan-dpdk-ring.supp silences, but
 * iop_mfa_ring_take_one() reads it in iopool's. In TSan builds it takes
 * from such a ring through the burst call (IOP_MFA_RING_TSAN_BURST).
 */
#if defined(__SANITIZE_THREAD__)
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define IOP_MFA_RING_TSAN(r, what)                                                                 \
	do {                                                                                       \
		if ((r)->prod.sync_type == RTE_RING_SYNC_MT_RTS)                                   \
			what((void *)(r));                                                         \
	} while (0)
#define IOP_MFA_RING_TSAN_BURST(r) ((r)->prod.sync_type == RTE_RING_SYNC_MT_RTS)
#else
#define IOP_MFA_RING_TSAN(r, what) ((void)0)
#define IOP_MFA_RING_TSAN_BURST(r) false
#endif

/*
 * For a hint that reads a ring's indices with no claim on the ring: TSan is
 * not to see those reads (they are not ordered with a ring laid out again
 * meanwhile, and need not be: any value only picks which of the ring's own
 * lines to prefetch). In other builds, nothing.
 */
#if defined(__SANITIZE_THREAD__)
#define IOP_MFA_RING_HINT __attribute__((no_sanitize("thread")))
#else
#define IOP_MFA_RING_HINT
#endif

/**
 * Post up to n MFAs, in order.
 *
 * @return how many were posted, 0 to n; the first that many of mfas are in
 *         the ring, the rest are still the caller's: a short count is
 *         back-pressure, never a loss.
 * Thread safety: per the ring's producer mode.
 */
static inline unsigned iop_mfa_ring_post(struct rte_ring *r, const uint32_t *mfas, unsigned n)
{
	IOP_MFA_RING_TSAN(r, __tsan_release);
	return rte_ring_enqueue_burst_elem(r, mfas, IOP_MFA_RING_ESIZE, n, NULL);
}

/**
 * Take up to n MFAs, in the order they were posted.
 *
 * @return how many were taken into mfas, 0 when the ring is empty.
 * Thread safety: per the ring's consumer mode.
 */
static inline unsigned iop_mfa_ring_take(struct rte_ring *r, uint32_t *mfas, unsigned n)
{
	unsigned got = rte_ring_dequeue_burst_elem(r, mfas, IOP_MFA_RING_ESIZE, n, NULL);

	if (got != 0)
		IOP_MFA_RING_TSAN(r, __tsan_acquire);
	return got;
}

/**
 * Bring into this core's cache what the consumer's next take reads: the
 * producer's index and the slot taken first. A hint for a consumer with time
 * on its hands (a loop with no requests), so that MFAs the producer posted
 * meanwhile are not fetched from the other core on the way of the next take.
 * Reads nothing into the caller's hands; rte_ring keeps its elements right
 * after its header. The runtime's loop calls it on a channel whose opening it
 * has not checked again, so the ring may be laid out anew meanwhile (another
 * opening of the slot): harmless for a hint, and hidden from TSan.
 * Thread safety: the ring's consumer.
 */
static inline IOP_MFA_RING_HINT void iop_mfa_ring_prefetch_take(const struct rte_ring *r)
{
	const uint32_t *slots = (const uint32_t *)(const void *)&r[1];

	rte_prefetch0(&r->prod.tail);
	rte_prefetch0(&slots[r->cons.head & r->mask]);
}

/**
 * Bring into this core's cache, to be written, the slot a single producer's
 * next post fills: the consumer read that slot's line last (it holds the
 * MFAs before it), so the post's store would first have to take the line
 * back, and the index's store, which tells the consumer, waits behind it. A
 * hint for a producer with time on its hands (a host waiting for its reply);
 * it writes nothing (a prefetch with intent to write).
 * Thread safety: the ring's producer; single-producer rings only.
 */
static inline void iop_mfa_ring_prefetch_post(const struct rte_ring *r)
{
	const uint32_t *slots = (const uint32_t *)(const void *)&r[1];

	__builtin_prefetch(&slots[r->prod.head & r->mask], 1, 3);
}

/**
 * The MFA the consumer's next take returns first, left in the ring, for a
 * consumer that wants the frame it names on its way into the cache (a
 * prefetch) before it takes it.
 *
 * @return true with *mfa set, false when the ring is empty (*mfa untouched).
 * Thread safety: the ring's consumer; single-consumer rings only (another
 * consumer could take it meanwhile, and a relaxed-tail-sync or head-tail-sync
 * consumer keeps its head elsewhere).
 */
static inline bool iop_mfa_ring_peek(const struct rte_ring *r, uint32_t *mfa)
{
	const uint32_t *slots = (const uint32_t *)(const void *)&r[1];
	uint32_t head = r->cons.head;

	RTE_ASSERT(r->cons.sync_type == RTE_RING_SYNC_ST);

	/* Acquire: the slot was written before the producer moved its tail past it. */
	if (head == __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE))
		return false;
	*mfa = slots[head & r->mask];
	return true;
}

/**
 * iop_mfa_ring_take() of one MFA, inline: what a consumer that takes one at
 * a time (a reply frame for each request) would otherwise pay for the burst
 * call's generality, about 50 instructions. On a single-consumer ring it
 * publishes its take as rte_ring's single-consumer dequeue does (the
 * consumer's tail, with release; the head is the consumer's alone), so the
 * ring's producers, of any kind, and takes of bursts see nothing different.
 * Any other ring gets the burst call.
 *
 * @return true with *mfa set, false when the ring is empty (*mfa untouched).
 * Thread safety: as iop_mfa_ring_take().
 */
static inline bool iop_mfa_ring_take_one(struct rte_ring *r, uint32_t *mfa)
{
	const uint32_t *slots = (const uint32_t *)(const void *)&r[1];
	uint32_t head;

	/* A multi-consumer ring keeps its consumer's position elsewhere. */
	if (unlikely(r->cons.sync_type != RTE_RING_SYNC_ST) || IOP_MFA_RING_TSAN_BURST(r))
		return iop_mfa_ring_take(r, mfa, 1) == 1;
	head = r->cons.head;
	/* Acquire: the slot was written before the producer moved its tail past it. */
	if (head == __atomic_load_n(&r->prod.tail, __ATOMIC_ACQUIRE))
		return false;
	*mfa = slots[head & r->mask];
	r->cons.head = head + 1;
	/* Release: the slot is read before a producer may see it free and write it. */
	__atomic_store_n(&r->cons.tail, head + 1, __ATOMIC_RELEASE);
	return true;
}

/** MFAs in the ring now (a snapshot while others post or take). */
static inline unsigned iop_mfa_ring_count(const struct rte_ring *r)
{
	return rte_ring_count(r);
}

/** How many MFAs the ring holds when full. */
static inline unsigned iop_mfa_ring_capacity(const struct rte_ring *r)
{
	return rte_ring_get_capacity(r);
}

#ifdef __cplusplus
}
#endif

#endif /* IOP_MFA_RING_H */
