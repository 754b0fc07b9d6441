/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Requests on an asynchronous backend (io_uring): the handler checks a
 * request, takes a slot and its reply frame, queues the first I/O and keeps
 * it (IOP_DDM_PENDING, the runtime's way for a DDM to answer later); the
 * DDM's poll turn takes completions and carries each request on, until its
 * one reply. Many requests are thus in flight at once on one loop, which
 * never waits on the file system for them.
 *
 * A transfer goes one batch (BSA_IOV_BATCH buffers) at a time, in order: a
 * batch that moved fewer bytes than asked is queued again for the rest, as
 * the file backend continues a short preadv/pwritev; a read that moves no
 * byte has found the end of a file that shrank (EIO); an error stops the
 * request. The answer is the file backend's: TransferCount the bytes moved
 * from the start, SUCCESS only when that is all of TransferByteCount.
 *
 * WriteVerify does what the synchronous path does, each step an I/O of the
 * ring: a batch is written, then flushed (an fsync SQE with
 * IORING_FSYNC_DATASYNC, once its write has completed), then read back into
 * the slot's scratch buffer (BSA_SLOT_SCRATCH_BYTES at a time) and compared
 * with the host's buffers; only then does it count, and the next batch
 * starts. A batch whose write, flush or read-back fails, or reads back other
 * bytes, counts nothing and leaves the request dirty when any of it was
 * written. MediaVerify reads its range into the slot's scratch buffer, a
 * piece at a time, and drops it.
 *
 * Order of a flush (CacheFlush, DeviceReset): every request is numbered as
 * it is accepted (seq). A flush is held, with no I/O of its own, until it is
 * the oldest request in flight: until every request accepted before it
 * (transfers with all their batches and short-transfer continuations,
 * verifies, and earlier flushes) has been answered. Only then is its
 * fdatasync submitted, from the turn that answered the last of them; so the
 * flush covers every write accepted before it, and is answered after each of
 * them, as on the synchronous path. Requests accepted after a flush are not
 * held behind it: they start at once and may be answered before it (the
 * synchronous path would answer them after it); a write accepted after a
 * flush may or may not be covered by it. A host that needs a write ordered
 * after a flush waits for the flush's reply before it posts the write, as
 * block hosts do.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bsa.h"
#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"

/* Every slot's scratch and bounce buffers, one mapping (pages only where they are used). */
static size_t scratch_bytes(const struct bsa *s)
{
	return (size_t)s->be.queue_depth * 2 * BSA_SLOT_SCRATCH_BYTES;
}

int bsa_inflight_init(struct bsa *s)
{
	unsigned n = s->be.queue_depth;

	void *scratch;

	/* Address space only: a slot's pages are the kernel's to give once a verify uses them. */
	scratch = mmap(NULL, scratch_bytes(s), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (scratch == MAP_FAILED)
		return -ENOMEM;
	s->io = calloc(n, sizeof(*s->io));
	if (s->io == NULL) {
		munmap(scratch, scratch_bytes(s));
		return -ENOMEM;
	}
	s->io_scratch = scratch;
	for (unsigned i = 0; i < n; i++) {
		unsigned char *mine = (unsigned char *)scratch + (size_t)i * 2 * BSA_SLOT_SCRATCH_BYTES;

		s->io[i].next_free = i + 1 < n ? &s->io[i + 1] : NULL;
		s->io[i].scratch = mine;
		s->io[i].bounce = mine + BSA_SLOT_SCRATCH_BYTES;
	}
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
	/* Abandoned: the kernel may still hold the slots' iovecs and write into their scratch. */
	if (!s->abandoned && s->io != NULL) {
		munmap(s->io_scratch, scratch_bytes(s));
		free(s->io);
	}
	s->io_scratch = NULL;
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

/* The one reply of a transfer or a MediaVerify, from what x says; the slot goes back. */
static void answer(struct bsa *s, struct bsa_io *io)
{
	if (io->kind == BSA_IO_MEDIA_VERIFY)
		bsa_media_verify_answer(io->r, io->rep, io->x.moved, io->x.dsc);
	else
		bsa_transfer_answer(io->r, io->rep, &io->x);
	give_back(s, io);
}

/* The batch's buffer that a short transfer split goes back to what the walk gave. */
static void unsplit(struct bsa_io *io)
{
	if (io->split >= 0) {
		io->iov[io->split] = io->split_orig;
		io->split = -1;
	}
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

static void next_piece(struct bsa *s, struct bsa_io *io);

/*
 * The next batch, or the answer when the transfer is done or the walk
 * refuses. The first batch may be the first walk's (x.ready buffers in the
 * DDM's iov, taken over here).
 */
static void next_batch(struct bsa *s, struct bsa_io *io)
{
	int n;

	if (io->x.ready != 0) {
		n = io->x.ready;
		io->x.ready = 0;
		memcpy(io->iov, s->iov, (size_t)n * sizeof(io->iov[0]));
	} else {
		n = io->x.gathered < io->x.count ? bsa_gather(&io->x, io->iov) : 0;
	}
	if (n <= 0) {
		answer(s, io); /* n == 0: all moved; n < 0: x.dsc says why not */
		return;
	}
	io->batch_off = io->x.addr + io->x.moved;
	io->batch_moved = 0;
	io->n = n;
	io->first = 0;
	io->split = -1;
	io->step = BSA_STEP_RW;
	/* direct=1 and buffers O_DIRECT would refuse: the rest goes through the bounce buffer. */
	if (!bsa_backend_direct_ok(&s->be, io->iov, n)) {
		bsa_bounce_start(&s->be, &io->x, n);
		next_piece(s, io);
		return;
	}
	if (queue_rest(s, io) != 0) {
		io->x.dsc = IOP_BSA_DSC_DEVICE_FAILURE;
		answer(s, io);
	}
}

/*
 * A backend error stops the request. A transfer counts what its batch moved;
 * a WriteVerify counts none of an unverified batch, but the media changed if
 * any of it was written (dirty). EILSEQ: it read back other bytes.
 */
static void stop(struct bsa *s, struct bsa_io *io, int err)
{
	unsplit(io);
	if (io->x.verify)
		io->x.dirty = io->batch_moved != 0;
	else
		io->x.moved += io->batch_moved;
	io->x.dsc = err == -EILSEQ ? IOP_BSA_DSC_MEDIA_FAILURE : bsa_dsc_of_errno(err);
	answer(s, io);
}

/* WriteVerify: read back the next piece of the batch into the slot's scratch. */
static int queue_readback(struct bsa *s, struct bsa_io *io)
{
	uint64_t left = io->batch_moved - io->rb_done;

	io->rb_iov = (struct iovec){ io->scratch,
				     left < BSA_SLOT_SCRATCH_BYTES ? left : BSA_SLOT_SCRATCH_BYTES };
	return s->be.ops->submit_rw(&s->be, 0, io->batch_off + io->rb_done, &io->rb_iov, 1, io);
}

/* WriteVerify: are the len bytes read back the host's next ones? The cursor moves on. */
static bool same_as_host(struct bsa_io *io, const unsigned char *back, size_t len)
{
	while (len != 0) {
		const struct iovec *v = &io->iov[io->cmp_i];
		size_t k = v->iov_len - io->cmp_in;

		if (k > len)
			k = len;
		if (memcmp(back, (const unsigned char *)v->iov_base + io->cmp_in, k) != 0)
			return false;
		back += k;
		len -= k;
		io->cmp_in += k;
		if (io->cmp_in == v->iov_len) {
			io->cmp_i++;
			io->cmp_in = 0;
		}
	}
	return true;
}

/* A whole batch reached the device: a WriteVerify flushes it next; anything else goes on. */
static void batch_moved(struct bsa *s, struct bsa_io *io)
{
	if (!io->x.verify) {
		io->x.moved += io->batch_moved;
		if (io->x.bounce)
			next_piece(s, io);
		else
			next_batch(s, io);
		return;
	}
	io->step = BSA_STEP_SYNC;
	if (s->be.ops->submit_flush(&s->be, io) != 0)
		stop(s, io, -EIO);
}

/* WriteVerify: the batch's fdatasync completed (EINVAL: nothing to sync, as file_flush). */
static void sync_done(struct bsa *s, struct bsa_io *io, int res)
{
	if (res != 0 && res != -EINVAL) {
		stop(s, io, res);
		return;
	}
	io->step = BSA_STEP_READBACK;
	io->rb_done = 0;
	io->cmp_i = 0;
	io->cmp_in = 0;
	if (queue_readback(s, io) != 0)
		stop(s, io, -EIO);
}

/* WriteVerify: a piece read back; compared, then the next piece or the next batch. */
static void readback_done(struct bsa *s, struct bsa_io *io, int res)
{
	if (res <= 0) {
		stop(s, io, res < 0 ? res : -EIO); /* 0: the file shrank under the batch */
		return;
	}
	/* Bouncing: what was written is the bounce buffer's piece, not the host's buffers. */
	if (io->x.bounce ? memcmp(io->scratch, io->bounce + io->rb_done, (size_t)res) != 0
			 : !same_as_host(io, io->scratch, (size_t)res)) {
		stop(s, io, -EILSEQ);
		return;
	}
	io->rb_done += (uint64_t)res;
	if (io->rb_done < io->batch_moved) {
		if (queue_readback(s, io) != 0)
			stop(s, io, -EIO);
		return;
	}
	io->x.moved += io->batch_moved;
	if (io->x.bounce)
		next_piece(s, io);
	else
		next_batch(s, io);
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
	while (io->first < io->n && r >= io->iov[io->first].iov_len) {
		r -= io->iov[io->first].iov_len;
		if (io->split == io->first)
			unsplit(io);
		io->first++;
	}
	if (io->first < io->n) {
		if (io->split != io->first) {
			io->split = io->first;
			io->split_orig = io->iov[io->first];
		}
		io->iov[io->first].iov_base = (char *)io->iov[io->first].iov_base + r;
		io->iov[io->first].iov_len -= r;
		if (queue_rest(s, io) != 0)
			stop(s, io, -EIO);
		return;
	}
	batch_moved(s, io);
}

/*
 * direct=1, buffers O_DIRECT refuses: the rest of the transfer goes through
 * the slot's bounce buffer, a piece of BSA_SLOT_SCRATCH_BYTES at a time, at
 * aligned offsets (the batches before were aligned). A write's piece is
 * copied from the host's buffers, then written (and, for WriteVerify,
 * flushed, read back and compared with the bounce buffer); a read's piece is
 * read, then copied to the host's buffers as it comes.
 */
static int queue_piece(struct bsa *s, struct bsa_io *io)
{
	io->rb_iov = (struct iovec){ io->bounce + io->batch_moved, io->piece - io->batch_moved };
	return s->be.ops->submit_rw(&s->be, io->x.write, io->batch_off + io->batch_moved,
				    &io->rb_iov, 1, io);
}

static void next_piece(struct bsa *s, struct bsa_io *io)
{
	uint64_t left = io->x.count - io->x.moved;

	if (left == 0) {
		answer(s, io);
		return;
	}
	io->step = BSA_STEP_RW;
	io->batch_off = io->x.addr + io->x.moved;
	io->batch_moved = 0;
	io->piece = left < BSA_SLOT_SCRATCH_BYTES ? (size_t)left : BSA_SLOT_SCRATCH_BYTES;
	if (io->x.write) {
		if (bsa_bounce_copy(&io->x, io->iov, io->bounce, io->piece, false) < io->piece) {
			answer(s, io); /* the walk refused: x.dsc says why */
			return;
		}
		s->be.st.bounce_bytes += io->piece;
	}
	if (queue_piece(s, io) != 0)
		stop(s, io, -EIO);
}

/* A piece's I/O completed with res: a read's bytes to the host; the rest, or what follows. */
static void piece_done(struct bsa *s, struct bsa_io *io, int res)
{
	if (res <= 0) {
		stop(s, io, res < 0 ? res : -EIO);
		return;
	}
	if (!io->x.write) {
		size_t got = bsa_bounce_copy(&io->x, io->iov, io->bounce + io->batch_moved,
					     (size_t)res, true);

		s->be.st.bounce_bytes += got;
		if (got < (size_t)res) {
			io->x.moved += io->batch_moved + got;
			answer(s, io); /* the walk refused: x.dsc says why */
			return;
		}
	}
	io->batch_moved += (uint64_t)res;
	if (io->batch_moved < io->piece) {
		if (queue_piece(s, io) != 0)
			stop(s, io, -EIO);
		return;
	}
	batch_moved(s, io);
}

/* MediaVerify: read the next piece of the range into the slot's scratch, to drop it. */
static int queue_media_read(struct bsa *s, struct bsa_io *io)
{
	uint64_t left = io->x.count - io->x.moved;

	io->rb_iov = (struct iovec){ io->scratch,
				     left < BSA_SLOT_SCRATCH_BYTES ? left : BSA_SLOT_SCRATCH_BYTES };
	return s->be.ops->submit_rw(&s->be, 0, io->x.addr + io->x.moved, &io->rb_iov, 1, io);
}

/* MediaVerify: a piece read; the next one, or the answer (file_verify's rules). */
static void media_read_done(struct bsa *s, struct bsa_io *io, int res)
{
	if (res <= 0) {
		io->x.dsc = bsa_dsc_of_errno(res < 0 ? res : -EIO);
		answer(s, io);
		return;
	}
	io->x.moved += (uint64_t)res;
	if (io->x.moved < io->x.count && queue_media_read(s, io) == 0)
		return;
	if (io->x.moved < io->x.count)
		io->x.dsc = IOP_BSA_DSC_DEVICE_FAILURE;
	answer(s, io);
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

		if (io == NULL || io->kind != BSA_IO_FLUSH || io->started)
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

	io->kind = BSA_IO_TRANSFER;
	io->x = *x;
	next_batch(s, io);
	return io->r == NULL ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

int bsa_inflight_flush(struct bsa *s, struct iop_request *r, uint32_t *rep)
{
	struct bsa_io *io = take(s, r, rep);

	io->kind = BSA_IO_FLUSH;
	io->started = false;
	s->flushes_waiting++;
	start_flushes(s);
	return io->r == NULL ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

int bsa_inflight_media_verify(struct bsa *s, struct iop_request *r, uint32_t *rep,
			      uint64_t addr, uint32_t len)
{
	struct bsa_io *io = take(s, r, rep);

	io->kind = BSA_IO_MEDIA_VERIFY;
	io->x = (struct bsa_xfer){ .addr = addr, .count = len };
	if (queue_media_read(s, io) != 0) {
		io->x.dsc = IOP_BSA_DSC_DEVICE_FAILURE;
		answer(s, io);
	}
	return io->r == NULL ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

/* A completion, to the step of its request that was waiting for it. */
static void completed(struct bsa *s, struct bsa_io *io, int res)
{
	switch (io->kind) {
	case BSA_IO_FLUSH:
		flush_done(s, io, res);
		return;
	case BSA_IO_MEDIA_VERIFY:
		media_read_done(s, io, res);
		return;
	case BSA_IO_TRANSFER:
		break;
	}
	switch (io->step) {
	case BSA_STEP_RW:
		if (io->x.bounce)
			piece_done(s, io, res);
		else
			transfer_done(s, io, res);
		return;
	case BSA_STEP_SYNC:
		sync_done(s, io, res);
		return;
	case BSA_STEP_READBACK:
		readback_done(s, io, res);
		return;
	}
}

int bsa_inflight_poll(struct bsa *s, long wait_us)
{
	struct bsa_completion c[32];
	int n;

	if (s->io_busy == 0)
		return 0;
	n = s->be.ops->reap(&s->be, c, 32, wait_us);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		completed(s, c[i].tag, c[i].res);
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
