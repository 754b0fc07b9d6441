/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests on an asynchronous backend (io_uring): the handler checks a
 * request, takes a slot and its reply frame, queues the first batch of its
 * buffers and keeps it (IOP_DDM_PENDING, the runtime's way for a DDM to
 * answer later); the DDM's poll turn takes completions and carries each
 * request on, until its one reply. Many requests are thus in flight at once
 * on one loop, which never waits on the file system for them.
 *
 * A transfer goes one batch (BSA_IOV_BATCH buffers) at a time, in order: a
 * batch that moved fewer bytes than asked is queued again for the rest, as
 * the file backend continues a short preadv/pwritev; a read that moves no
 * byte has found the end of a file that shrank (EIO); an error stops the
 * request. The answer is the file backend's: TransferCount the bytes moved
 * from the start, SUCCESS only when that is all of TransferByteCount.
 *
 * Order of a flush (CacheFlush, DeviceReset): every request is numbered as
 * it is accepted (seq). A flush is held, with no I/O of its own, until it is
 * the oldest request in flight: until every request accepted before it
 * (transfers with all their batches and short-transfer continuations, and
 * earlier flushes) has been answered. Only then is its fdatasync submitted,
 * from the turn that answered the last of them; so the flush covers every
 * write accepted before it, and is answered after each of them, as on the
 * synchronous path. Requests accepted after a flush are not held behind it:
 * they start at once and may be answered before it (the synchronous path
 * would answer them after it); a write accepted after a flush may or may not
 * be covered by it. A host that needs a write ordered after a flush waits
 * for the flush's reply before it posts the write, as block hosts do.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "bsa.h"
#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"

int bsa_inflight_init(struct bsa *s)
{
	unsigned n = s->be.queue_depth;

	s->io = calloc(n, sizeof(*s->io));
	if (s->io == NULL)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++)
		s->io[i].next_free = i + 1 < n ? &s->io[i + 1] : NULL;
	s->io_free = &s->io[0];
	s->io_busy = 0;
	s->io_seq = 0;
	s->flushes_waiting = 0;
	s->reap_failed = false;
	s->abandoned = false;
	return 0;
}

void bsa_inflight_fini(struct bsa *s)
{
	/* Abandoned: the kernel may still hold the slots' iovecs. */
	if (!s->abandoned)
		free(s->io);
	s->io = NULL;
	s->io_free = NULL;
}

bool bsa_inflight_room(const struct bsa *s)
{
	return s->io_free != NULL;
}

static struct bsa_io *take(struct bsa *s, struct iop_request *r, uint32_t *rep)
{
	struct bsa_io *io = s->io_free;

	s->io_free = io->next_free;
	s->io_busy++;
	io->r = r;
	io->rep = rep;
	io->seq = ++s->io_seq;
	return io;
}

static void give_back(struct bsa *s, struct bsa_io *io)
{
	io->r = NULL;
	io->next_free = s->io_free;
	s->io_free = io;
	s->io_busy--;
}

static void answer(struct bsa *s, struct bsa_io *io)
{
	bsa_transfer_answer(io->r, io->rep, &io->x);
	give_back(s, io);
}

/*
 * Queue what is left of the batch. The slot was free and every slot holds
 * one backend I/O at most, so the backend has room (queue_depth slots).
 */
static int queue_rest(struct bsa *s, struct bsa_io *io)
{
	return s->be.ops->submit_rw(&s->be, io->x.write, io->batch_off + io->batch_moved,
				    io->iov + io->first, io->n - io->first, io);
}

/* The next batch, or the answer when the transfer is done or the walk refuses. */
static void next_batch(struct bsa *s, struct bsa_io *io)
{
	int n = io->x.gathered < io->x.count ? bsa_gather(&io->x, io->iov) : 0;

	if (n <= 0) {
		answer(s, io); /* n == 0: all moved; n < 0: x.dsc says why not */
		return;
	}
	io->batch_off = io->x.addr + io->x.moved;
	io->batch_moved = 0;
	io->n = n;
	io->first = 0;
	if (queue_rest(s, io) != 0) {
		io->x.dsc = IOP_BSA_DSC_DEVICE_FAILURE;
		answer(s, io);
	}
}

static void stop(struct bsa *s, struct bsa_io *io, int err)
{
	io->x.moved += io->batch_moved;
	io->x.dsc = bsa_dsc_of_errno(err);
	answer(s, io);
}

/* A batch's I/O completed with res: count it, then the rest, the next batch, or the answer. */
static void transfer_done(struct bsa *s, struct bsa_io *io, int res)
{
	size_t r;

	if (res <= 0) {
		/* No byte and no error: the file ends inside the capacity (it shrank). */
		stop(s, io, res < 0 ? res : -EIO);
		return;
	}
	io->batch_moved += (uint64_t)res;
	/* Step over the buffers it filled, and into the one it stopped in. */
	r = (size_t)res;
	while (io->first < io->n && r >= io->iov[io->first].iov_len)
		r -= io->iov[io->first++].iov_len;
	if (io->first < io->n) {
		io->iov[io->first].iov_base = (char *)io->iov[io->first].iov_base + r;
		io->iov[io->first].iov_len -= r;
		if (queue_rest(s, io) != 0)
			stop(s, io, -EIO);
		return;
	}
	io->x.moved += io->batch_moved;
	next_batch(s, io);
}

/* EINVAL: a device that cannot be synced (a character device) has no cache to flush. */
static void flush_done(struct bsa *s, struct bsa_io *io, int res)
{
	int ok = res == 0 || res == -EINVAL;

	iop_request_reply_send(io->r, io->rep, IOP_REPLY_WORDS,
			       ok ? IOP_REPLY_STATUS_SUCCESS : IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			       ok ? IOP_BSA_DSC_SUCCESS : bsa_dsc_of_errno(res));
	give_back(s, io);
}

/* The request in flight accepted first, or NULL. */
static struct bsa_io *oldest(struct bsa *s)
{
	struct bsa_io *o = NULL;

	for (unsigned i = 0; i < s->be.queue_depth; i++)
		if (s->io[i].r != NULL && (o == NULL || s->io[i].seq < o->seq))
			o = &s->io[i];
	return o;
}

/*
 * Submit the fdatasync of the flush that is now the oldest request in
 * flight, if one is; a flush the backend refuses is answered, and the next
 * one may then be the oldest.
 */
static void start_flushes(struct bsa *s)
{
	while (s->flushes_waiting != 0) {
		struct bsa_io *io = oldest(s);

		if (io == NULL || !io->flush || io->started)
			return;
		io->started = true;
		s->flushes_waiting--;
		if (s->be.ops->submit_flush(&s->be, io) == 0)
			return;
		flush_done(s, io, -EIO);
	}
}

int bsa_inflight_transfer(struct bsa *s, struct iop_request *r, uint32_t *rep,
			  const struct bsa_xfer *x)
{
	struct bsa_io *io = take(s, r, rep);

	io->flush = false;
	io->x = *x;
	/* The slot keeps the bounds the walk checks against: the caller's are on its stack. */
	io->bounds = *x->bounds;
	io->x.bounds = &io->bounds;
	io->x.it.bounds = io->bounds;
	next_batch(s, io);
	return io->r == NULL ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

int bsa_inflight_flush(struct bsa *s, struct iop_request *r, uint32_t *rep)
{
	struct bsa_io *io = take(s, r, rep);

	io->flush = true;
	io->started = false;
	s->flushes_waiting++;
	start_flushes(s);
	return io->r == NULL ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

int bsa_inflight_poll(struct bsa *s, bool wait)
{
	struct bsa_completion c[32];
	int n;

	if (s->io_busy == 0)
		return 0;
	n = s->be.ops->reap(&s->be, c, 32, wait);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct bsa_io *io = c[i].tag;

		if (io->flush)
			flush_done(s, io, c[i].res);
		else
			transfer_done(s, io, c[i].res);
	}
	/* A flush whose earlier requests were all answered just now goes in. */
	start_flushes(s);
	return n;
}

void bsa_inflight_abandon(struct bsa *s)
{
	unsigned n = 0;

	for (unsigned i = 0; i < s->be.queue_depth; i++) {
		if (s->io[i].r != NULL) {
			iop_request_abandon(s->io[i].r);
			n++;
		}
	}
	fprintf(stderr, "bsa: the io_uring ring is broken with %u requests in flight: they stay "
		"unanswered, and their buffers the host's, for good\n", n);
	s->abandoned = true;
}
