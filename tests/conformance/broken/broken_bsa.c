/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Deliberately broken block-storage DDMs for the BSA class checks: the
 * built-in bsa DDM with one defect in front of it. Each takes the requests
 * its defect concerns and hands every other call to bsa, on bsa's own state
 * (this instance's private area, which bsa's callbacks fill as their own),
 * so that only the check named for the defect can fail. Built once per
 * defect with -DDEFECT_<NAME>; parameters are bsa's.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

#include "iop_bsa.h"
#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lct.h"
#include "iop_sgl.h"
#include "iop_window.h"

/* Room for bsa's private state; init refuses if bsa ever needs more. */
#define PRIV_BYTES (64u << 10)

static const uint8_t functions[] = {
	IOP_BSA_STATUS_CHECK, IOP_BSA_DEVICE_RESET, IOP_BSA_BLOCK_READ,  IOP_BSA_BLOCK_WRITE,
	IOP_BSA_WRITE_VERIFY, IOP_BSA_MEDIA_VERIFY, IOP_BSA_CACHE_FLUSH,
};

static const struct iop_ddm_ops *bsa;

#if defined(DEFECT_DROPS_WRITES) || defined(DEFECT_ACCEPTS_PAST_END)
/* Answer a transfer SUCCESS with every byte counted, having moved none. */
static int claim_done(struct iop_request *r)
{
	uint32_t *rep = iop_request_reply_alloc(r, IOP_BSA_REPLY_WORDS);

	if (rep == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	rep[5] = iop_request_frame(r)[5]; /* TransferByteCount, as the host asked */
	iop_request_reply_send(r, rep, IOP_BSA_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS, 0);
	return IOP_DDM_DONE;
}

/* Does the request's SGL pass bsa's walk and hold len bytes? (A bad one is bsa's to refuse.) */
static bool sgl_holds(struct iop_request *r, uint32_t len)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct iop_sgl_bounds b;
	uint64_t total = 0;
	uint16_t dsc;

	iop_window_sgl_bounds(iop_request_window(r), &b);
	return h->sgl_offset >= 8 &&
	       iop_sgl_check(iop_request_frame(r), h->size_words * 4u, h->sgl_offset, &b, &dsc,
			     &total) == 0 &&
	       total >= len;
}

/* Where a transfer lies, as bsa would judge it (a short frame is bsa's to refuse). */
enum range { RANGE_OTHER, RANGE_INSIDE, RANGE_PAST_END };

static enum range range_of(struct iop_ddm *d, struct iop_request *r)
{
	const uint32_t *f = iop_request_frame(r);
	uint64_t info[IOP_BSA_INFO_FIELDS], addr, len, end, mask;

	if (iop_request_hdr(r)->size_words < 8 ||
	    bsa->params_get(d, IOP_BSA_PARAMS_DEVICE_INFO, info, IOP_BSA_INFO_FIELDS) < 2)
		return RANGE_OTHER;
	addr = le32toh(f[6]) | (uint64_t)le32toh(f[7]) << 32;
	len = le32toh(f[5]);
	end = addr + len;
	mask = info[IOP_BSA_INFO_BLOCK_SIZE] - 1;
	if (len == 0 || (addr & mask) != 0 || (len & mask) != 0 || !sgl_holds(r, len))
		return RANGE_OTHER;
	return end < addr || end > info[IOP_BSA_INFO_CAPACITY] ? RANGE_PAST_END : RANGE_INSIDE;
}
#endif

#if defined(DEFECT_TRUSTS_SGL)
/* What it read of the first buffers, so the reads are not optimised away. */
static volatile uint8_t first_bytes;

/*
 * The first byte of the request's first buffer, for a statistic of what
 * hosts write: the element's address taken as it came, with no look at
 * where it points (what iop_sgl_next would have refused).
 */
static void peek_first_buffer(struct iop_request *r)
{
	const uint32_t *f = iop_request_frame(r);
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct iop_sgl_bounds b;
	uint32_t flags;

	if (h->sgl_offset < 8 || h->sgl_offset + 2u > h->size_words)
		return;
	flags = le32toh(f[h->sgl_offset]) >> 24;
	if ((flags & IOP_SGL_TYPE_MASK) != IOP_SGL_TYPE_SIMPLE)
		return;
	iop_window_sgl_bounds(iop_request_window(r), &b);
	first_bytes ^= ((const volatile uint8_t *)b.window)[le32toh(f[h->sgl_offset + 1])];
}
#endif

static int handle(struct iop_ddm *d, struct iop_request *r)
{
	uint8_t fn = iop_request_hdr(r)->function;

#if defined(DEFECT_DROPS_WRITES)
	/*
	 * A write-back cache that forgets: a BlockWrite it would take says done
	 * and writes nothing (refusals stay bsa's).
	 */
	if (fn == IOP_BSA_BLOCK_WRITE && range_of(d, r) == RANGE_INSIDE)
		return claim_done(r);
#elif defined(DEFECT_ACCEPTS_PAST_END)
	/* No range check: a transfer past the end "succeeds" and moves nothing. */
	if ((fn == IOP_BSA_BLOCK_READ || fn == IOP_BSA_BLOCK_WRITE) &&
	    range_of(d, r) == RANGE_PAST_END)
		return claim_done(r);
#elif defined(DEFECT_TRUSTS_SGL)
	if (fn == IOP_BSA_BLOCK_READ || fn == IOP_BSA_BLOCK_WRITE)
		peek_first_buffer(r);
#else
#error "broken_bsa.c: no DEFECT_ given"
#endif
	return bsa->handle(d, r);
}

static int init(struct iop_ddm *d, const char *params)
{
	bsa = iop_ddm_find("bsa");
	if (bsa == NULL || bsa->priv_size > PRIV_BYTES) {
		fprintf(stderr, "%s: no built-in bsa to wrap, or its state exceeds %u bytes\n",
			DDM_NAME, PRIV_BYTES);
		return -ENOENT;
	}
	return bsa->init(d, params);
}

static int params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	return bsa->params_get(d, group, fields, max);
}

static void fini(struct iop_ddm *d)
{
	bsa->fini(d);
}

static const struct iop_ddm_ops ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = DDM_NAME,
	.class_id = IOP_CLASS_RANDOM_BLOCK_STORAGE,
	.functions = functions,
	.n_functions = sizeof(functions),
	.priv_size = PRIV_BYTES,
	.init = init,
	.handle = handle,
	.params_get = params_get,
	.fini = fini,
};

IOP_DDM_EXPORT(ops)
