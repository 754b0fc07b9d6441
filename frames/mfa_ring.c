/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MFA rings: rte_rings of 4-byte elements in memory the caller provides.
 * The single-thread enqueue and dequeue paths are inline in iop_mfa_ring.h;
 * the layout and the calls for the shared modes live here.
 */
#include <errno.h>
#include <stdint.h>

#include <rte_common.h>

#include "iop_mfa_ring.h"

ssize_t iop_mfa_ring_memsize(unsigned entries)
{
	/* Checked here so that rte_ring does not log what is only a caller's query. */
	if (entries < 2 || (entries & (entries - 1)) != 0 || entries > RTE_RING_SZ_MASK)
		return -EINVAL;
	return rte_ring_get_memsize_elem(IOP_MFA_RING_ESIZE, entries);
}

struct rte_ring *iop_mfa_ring_init(void *mem, const char *name, unsigned entries,
				   unsigned flags)
{
	const unsigned modes = IOP_MFA_RING_SP | IOP_MFA_RING_SC | IOP_MFA_RING_MP_RTS |
			       IOP_MFA_RING_MC_RTS;

	/* rte_ring's fields are cache-line aligned; so must its memory be. */
	if (mem == NULL || ((uintptr_t)mem & (RTE_CACHE_LINE_SIZE - 1)) != 0 ||
	    (flags & ~modes) != 0 || iop_mfa_ring_memsize(entries) < 0) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * rte_ring_init() writes the header only, as rte_ring_create_elem()
	 * relies on: the element area after it is what memsize_elem() counted,
	 * and the *_elem() calls index it by IOP_MFA_RING_ESIZE.
	 */
	if (rte_ring_init(mem, name, entries, flags) != 0) {
		errno = EINVAL;
		return NULL;
	}
	return mem;
}

unsigned iop_mfa_ring_post_shared(struct rte_ring *r, const uint32_t *mfas, unsigned n)
{
	IOP_MFA_RING_TSAN(r, __tsan_release);
	return rte_ring_enqueue_burst_elem(r, mfas, IOP_MFA_RING_ESIZE, n, NULL);
}

unsigned iop_mfa_ring_take_shared(struct rte_ring *r, uint32_t *mfas, unsigned n)
{
	unsigned got = rte_ring_dequeue_burst_elem(r, mfas, IOP_MFA_RING_ESIZE, n, NULL);

	if (got != 0)
		IOP_MFA_RING_TSAN(r, __tsan_acquire);
	return got;
}
