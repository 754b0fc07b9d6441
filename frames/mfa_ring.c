/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * MFA rings: rte_rings of 4-byte elements in memory the caller provides.
 * The enqueue and dequeue paths are inline in iop_mfa_ring.h; only the
 * layout lives here.
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
