/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * BlockRead, BlockWrite and WriteVerify: the request's SGL, walked as
 * untrusted with the window's bounds, becomes batches of iovecs that point
 * straight at the host's buffers, which the backend reads into or writes
 * from. All of the list is checked before any byte moves (so a bad list,
 * or one too short for TransferByteCount, is refused with nothing
 * transferred); that first walk also gathers the first BSA_IOV_BATCH
 * buffers, so a transfer that fits in them (nearly every one) moves from
 * them without a second walk. A longer list is walked again, batch by batch,
 * as it moves: a host that rewrites its list between the two walks gets what
 * the second walk finds, and a refusal there stops the request with the
 * bytes already moved reported.
 *
 * No silent partial transfer: the reply's TransferCount is always the bytes
 * that reached the device (or the host's buffers), and its ReqStatus is
 * SUCCESS only when that is all of TransferByteCount; otherwise
 * ERROR_PARTIAL_TRANSFER (some moved) or ERROR_NO_DATA_TRANSFER (none),
 * with the detailed status of what stopped it; a WriteVerify that wrote a
 * batch it could not verify says ERROR_DIRTY: the media changed past the
 * verified TransferCount.
 *
 * On an asynchronous backend, the three go on in inflight.c once checked
 * here, with the same walk (bsa_gather) and the same answer
 * (bsa_transfer_answer); WriteVerify's write, flush, read-back and compare
 * of each batch are I/Os of the ring there too.
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "bsa.h"
#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_sgl.h"
#include "iop_window.h"

/* The SGL bounds of the window's inbound heap, worked out once per window. */
static const struct iop_sgl_bounds *sgl_bounds(struct bsa *s, const struct iop_window *w)
{
	if (s->window != w) {
		iop_window_sgl_bounds(w, &s->bounds);
		s->window = w;
	}
	return &s->bounds;
}

/*
 * A buffer the IOP may move data through: a simple element's window memory,
 * or, for writes, immediate data in the frame. Reads into the frame are
 * refused: the frame is the request, not a buffer.
 */
static void *elem_data(const struct iop_sgl_bounds *b, const struct iop_sgl_elem *e, bool write)
{
	if (e->kind == IOP_SGL_KIND_SIMPLE)
		return (unsigned char *)b->window + e->offset;
	return write ? (void *)e->data : NULL;
}

/*
 * The first walk: every element acceptable, and bytes enough for the
 * transfer. On the way it gathers the first batch of buffers into iov, as
 * bsa_gather would: when the whole transfer fits in that batch (nearly
 * always: a request has a few buffers) it is ready to move, and the list is
 * not walked again (x->ready, x->gathered).
 */
static uint16_t first_walk(const uint32_t *f, size_t bytes, unsigned sgl_offset,
			   const struct iop_sgl_bounds *b, struct bsa_xfer *x, struct iovec *iov)
{
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	uint64_t total = 0;
	int rc = 0, n = 0;
	bool fits = true;

	/* Words 4-7 are the request's own: a list there would overlap them. */
	if (sgl_offset != 0 && sgl_offset < BSA_REQUEST_WORDS)
		return IOP_DSC_INVALID_OFFSET;
	iop_sgl_iter_init(&it, f, bytes, sgl_offset, b);
	while (total < x->count && (rc = iop_sgl_next(&it, &e)) == 1) {
		void *data = elem_data(b, &e, x->write);
		uint32_t take;

		if (data == NULL)
			return IOP_DSC_INVALID_PARAMETER;
		take = e.count < x->count - total ? e.count : (uint32_t)(x->count - total);
		total += e.count;
		if (take == 0)
			continue;
		if (n == BSA_IOV_BATCH)
			fits = false;
		else
			iov[n++] = (struct iovec){ data, take };
	}
	if (total < x->count)
		return rc < 0 ? it.dsc : IOP_DSC_INVALID_PARAMETER;
	if (fits) {
		x->ready = n;
		x->gathered = x->count;
	}
	return 0;
}

/* WriteVerify: read back what the batch wrote, compare it with the host's buffers. */
static int compare_back(struct bsa *s, uint64_t off, const struct iovec *iov, int n)
{
	struct bsa_backend *be = &s->be;
	size_t in = 0;
	int i = 0;

	while (i < n) {
		size_t chunk = 0, c = 0;
		uint64_t got;
		int rc;

		for (int j = i; j < n && chunk < BSA_SCRATCH_BYTES; j++)
			chunk += iov[j].iov_len - (j == i ? in : 0);
		if (chunk > BSA_SCRATCH_BYTES)
			chunk = BSA_SCRATCH_BYTES;
		rc = be->ops->rw(be, 0, off, &(struct iovec){ s->scratch, chunk }, 1, &got);
		if (rc != 0)
			return rc;
		while (c < chunk) {
			size_t left = iov[i].iov_len - in, k = left < chunk - c ? left : chunk - c;
			const unsigned char *host = (const unsigned char *)iov[i].iov_base + in;

			if (memcmp(s->scratch + c, host, k) != 0)
				return -EILSEQ;
			c += k;
			in += k;
			if (in == iov[i].iov_len) {
				i++;
				in = 0;
			}
		}
		off += chunk;
	}
	return 0;
}

/* Move one batch; a WriteVerify batch counts only once it is durable and reads back the same. */
static int move_batch(struct bsa *s, struct bsa_xfer *x, int n)
{
	struct bsa_backend *be = &s->be;
	uint64_t off = x->addr + x->moved, done = 0;
	int rc = be->ops->rw(be, x->write, off, s->iov, n, &done);

	if (rc == 0 && x->verify) {
		rc = be->ops->flush(be);
		if (rc == 0)
			rc = compare_back(s, off, s->iov, n);
	}
	/*
	 * WriteVerify counts verified bytes: none of a batch that failed to write
	 * or verify; what it did write changed the media all the same (dirty).
	 */
	if (rc != 0 && x->verify) {
		x->dirty = done != 0;
		done = 0;
	}
	x->moved += done;
	if (rc != 0)
		x->dsc = rc == -EILSEQ ? IOP_BSA_DSC_MEDIA_FAILURE : bsa_dsc_of_errno(rc);
	return rc;
}

int bsa_gather(struct bsa_xfer *x, struct iovec *iov)
{
	struct iop_sgl_elem e;
	int n = 0;

	while (x->gathered < x->count && n < BSA_IOV_BATCH) {
		int rc = iop_sgl_next(&x->it, &e);
		void *data;
		uint32_t take;

		if (rc != 1) {
			x->dsc = rc < 0 ? x->it.dsc : IOP_DSC_INVALID_PARAMETER;
			return -EPROTO;
		}
		data = elem_data(x->bounds, &e, x->write);
		if (data == NULL) {
			x->dsc = IOP_DSC_INVALID_PARAMETER;
			return -EPROTO;
		}
		take = e.count < x->count - x->gathered ? e.count
							 : (uint32_t)(x->count - x->gathered);
		if (take == 0)
			continue;
		iov[n++] = (struct iovec){ data, take };
		x->gathered += take;
	}
	return n;
}

size_t bsa_bounce_copy(struct bsa_xfer *x, struct iovec *iov, unsigned char *buf, size_t len,
		       bool to_host)
{
	size_t done = 0;

	while (done < len) {
		const struct iovec *v;
		size_t k;

		if (x->cur_i == x->cur_n) {
			int n = bsa_gather(x, iov);

			if (n <= 0) {
				if (n == 0) /* cannot be: the first walk found bytes enough */
					x->dsc = IOP_DSC_INVALID_PARAMETER;
				return done;
			}
			x->cur_i = 0;
			x->cur_n = n;
			x->cur_in = 0;
		}
		v = &iov[x->cur_i];
		k = v->iov_len - x->cur_in;
		if (k > len - done)
			k = len - done;
		if (to_host)
			memcpy((unsigned char *)v->iov_base + x->cur_in, buf + done, k);
		else
			memcpy(buf + done, (const unsigned char *)v->iov_base + x->cur_in, k);
		done += k;
		x->cur_in += k;
		if (x->cur_in == v->iov_len) {
			x->cur_i++;
			x->cur_in = 0;
		}
	}
	return done;
}

void bsa_bounce_start(struct bsa_backend *be, struct bsa_xfer *x, int n)
{
	x->bounce = true;
	x->cur_i = 0;
	x->cur_n = n;
	x->cur_in = 0;
	be->st.bounced++;
}

/*
 * direct=1, buffers O_DIRECT refuses (an address or a length off its
 * alignment): the rest of the transfer, from the batch of n buffers in
 * s->iov on, moves through the DDM's aligned bounce buffer, a piece of
 * BSA_SCRATCH_BYTES at a time, at offsets that stay aligned (the batches
 * before it were aligned, so whole multiples of the alignment). A
 * WriteVerify checks each piece as it checks a batch: written, flushed,
 * read back into the scratch buffer and compared with the bounce buffer.
 */
static void bounce(struct bsa *s, struct bsa_xfer *x, int n)
{
	struct bsa_backend *be = &s->be;

	bsa_bounce_start(be, x, n);
	while (x->moved < x->count) {
		uint64_t left = x->count - x->moved, off = x->addr + x->moved, done = 0, back;
		size_t piece = left < BSA_SCRATCH_BYTES ? (size_t)left : BSA_SCRATCH_BYTES, got;
		int rc;

		if (x->write) {
			if (bsa_bounce_copy(x, s->iov, s->bounce, piece, false) < piece)
				return; /* the walk refused: x->dsc says why */
			be->st.bounce_bytes += piece;
			rc = be->ops->rw(be, 1, off, &(struct iovec){ s->bounce, piece }, 1, &done);
			if (rc == 0 && x->verify)
				rc = be->ops->flush(be);
			if (rc == 0 && x->verify) {
				rc = be->ops->rw(be, 0, off, &(struct iovec){ s->scratch, piece }, 1,
						 &back);
				if (rc == 0 && memcmp(s->scratch, s->bounce, piece) != 0)
					rc = -EILSEQ;
			}
			if (rc != 0 && x->verify) {
				x->dirty = done != 0;
				done = 0;
			}
			x->moved += done;
		} else {
			rc = be->ops->rw(be, 0, off, &(struct iovec){ s->bounce, piece }, 1, &done);
			got = bsa_bounce_copy(x, s->iov, s->bounce, (size_t)done, true);
			be->st.bounce_bytes += got;
			x->moved += got;
			if (got < done)
				return; /* the walk refused: x->dsc says why */
		}
		if (rc != 0) {
			x->dsc = rc == -EILSEQ ? IOP_BSA_DSC_MEDIA_FAILURE : bsa_dsc_of_errno(rc);
			return;
		}
	}
}

/* Synchronously: the buffers, in batches, to the backend (a second walk for a long list). */
static void move(struct bsa *s, struct bsa_xfer *x)
{
	int n = x->ready;

	x->ready = 0;
	if (n == 0)
		n = x->gathered < x->count ? bsa_gather(x, s->iov) : 0;
	while (n > 0) {
		/* direct=1 and buffers O_DIRECT would refuse: the rest goes through the bounce buffer. */
		if (!bsa_backend_direct_ok(&s->be, s->iov, n)) {
			bounce(s, x, n);
			return;
		}
		if (move_batch(s, x, n) != 0)
			return;
		n = x->gathered < x->count ? bsa_gather(x, s->iov) : 0;
	}
}

void bsa_transfer_answer(struct iop_request *r, uint32_t *rep, const struct bsa_xfer *x)
{
	uint8_t status;

	if (x->dsc == 0)
		status = IOP_REPLY_STATUS_SUCCESS;
	else if (x->dirty)
		status = IOP_REPLY_STATUS_ERROR_DIRTY; /* the media changed past TransferCount */
	else if (x->moved == 0)
		status = IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER;
	else
		status = IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER;
	rep[5] = htole32((uint32_t)x->moved);
	iop_request_reply_send(r, rep, IOP_BSA_REPLY_WORDS, status, x->dsc);
}

int bsa_transfer(struct bsa *s, struct iop_request *r, const struct iop_msg_hdr *h)
{
	const uint32_t *f = iop_request_frame(r);
	size_t bytes = (size_t)h->size_words * 4;
	struct bsa_xfer x = { .write = h->function != IOP_BSA_BLOCK_READ,
			      .verify = h->function == IOP_BSA_WRITE_VERIFY };
	bool async = s->be.ops->submit_rw != NULL;
	const struct iop_sgl_bounds *b;
	uint32_t *rep;

	/* No slot, or no reply frame: the request waits with nothing done. */
	if (async && !bsa_inflight_room(s))
		return IOP_DDM_RETRY;
	rep = iop_request_reply_alloc(r, IOP_BSA_REPLY_WORDS);
	if (rep == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	if (h->size_words < BSA_REQUEST_WORDS) {
		x.dsc = IOP_DSC_MESSAGE_TOO_SMALL;
	} else {
		x.count = le32toh(f[BSA_WORD_BYTE_COUNT]);
		x.addr = le32toh(f[BSA_WORD_ADDRESS]) |
			 (uint64_t)le32toh(f[BSA_WORD_ADDRESS + 1]) << 32;
		x.dsc = bsa_check_range(s, x.addr, x.count);
	}
	if (x.dsc == 0) {
		b = sgl_bounds(s, iop_request_window(r));
		x.dsc = first_walk(f, bytes, h->sgl_offset, b, &x, s->iov);
	}
	if (x.dsc == 0) {
		x.bounds = b;
		/* A list longer than one batch is walked again, batch by batch, as it moves. */
		if (x.ready == 0)
			iop_sgl_iter_init(&x.it, f, bytes, h->sgl_offset, b);
		if (async)
			return bsa_inflight_transfer(s, r, rep, &x);
		move(s, &x);
	}
	bsa_transfer_answer(r, rep, &x);
	return IOP_DDM_DONE;
}
