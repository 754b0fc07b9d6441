/* SPDX-License-Identifier: BSD-3-Clause */
/* Why a free was refused: the slow path that names the error. */
#ifndef IOP_HEAP_DIAGNOSE_H
#define IOP_HEAP_DIAGNOSE_H

#include "heap_layout.h"

/*
 * What lies at byte offset off of the block area, for a refused free of
 * order n: -EALREADY (free memory), -ERANGE (a live block of another order
 * starts there) or -ENXIO (inside a live block). Reads only.
 */
int heap_diagnose_free(const struct iop_heap *h, uint64_t off, uint32_t n);

/* Count a refused free and pass its error through. */
static inline int heap_refuse_free(struct iop_heap *h, int err)
{
	atomic_fetch_add_explicit(&h->refused_frees, 1, memory_order_relaxed);
	return err;
}

#endif /* IOP_HEAP_DIAGNOSE_H */
