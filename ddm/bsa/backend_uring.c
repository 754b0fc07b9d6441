/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The file backend with its reads, writes and flushes on an io_uring that
 * the DDM instance owns: readv/writev SQEs whose iovecs point straight at
 * the host's buffers in the frame window (the kernel's copy is still the
 * only one), queued by the DDM's handler and started, and reaped, on its
 * poll turn. One loop thus keeps up to BSA_URING_DEPTH transfers in flight
 * and never waits for the file system on them.
 *
 * The ring is set up with no flags: no SQPOLL thread (the loop submits on
 * its own turns, and a kernel thread per DDM would take a CPU of its own),
 * and the default task-work notification, so completions that io-wq
 * workers post reach the CQ while the loop spins in user space without
 * entering the kernel.
 *
 * The synchronous calls (rw, flush, verify) stay the file backend's, on the
 * same descriptor; the DDM sends all its I/O through the ring (inflight.c)
 * and keeps them for what has no ring.
 *
 * A bounded wait (idle=wait) passes its timeout to io_uring_enter itself
 * (IORING_FEAT_EXT_ARG, Linux 5.11): before that, liburing would queue a
 * timeout SQE, whose completion is none of the DDM's, so an older kernel
 * does not wait at all (timed_waits false), and the loop polls as with
 * idle=spin.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <liburing.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"

/* Transfers in flight per instance: the SQ's size; each in-flight I/O holds one SQE at most. */
#define BSA_URING_DEPTH 128u

/* Waits in a row that fail for good before close takes the ring for broken (1 ms apart). */
#define BSA_URING_BROKEN_TRIES 1000u

struct uring {
	struct io_uring ring;
	const struct bsa_backend_ops *file; /* the synchronous calls */
	unsigned in_flight;                 /* queued or started, not yet reaped */
};

/* Errors after which the ring is asked again: a signal, the kernel short of memory, a full CQ. */
static bool transient(int rc)
{
	return rc == -EINTR || rc == -EAGAIN || rc == -EBUSY || rc == -ETIME;
}

/* I/Os the kernel was given: those prepared but never submitted it has not seen. */
static unsigned submitted(struct uring *u)
{
	unsigned ready = io_uring_sq_ready(&u->ring);

	return u->in_flight > ready ? u->in_flight - ready : 0;
}

static int uring_rw(struct bsa_backend *b, int write, uint64_t off, const struct iovec *iov,
		    int iovcnt, uint64_t *done)
{
	return ((struct uring *)b->async)->file->rw(b, write, off, iov, iovcnt, done);
}

static int uring_flush(struct bsa_backend *b)
{
	return ((struct uring *)b->async)->file->flush(b);
}

static int uring_verify(struct bsa_backend *b, uint64_t off, uint64_t len, void *scratch,
			size_t scratch_len, uint64_t *done)
{
	return ((struct uring *)b->async)->file->verify(b, off, len, scratch, scratch_len, done);
}

/* An SQE for one more I/O, or NULL at the depth. */
static struct io_uring_sqe *take_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;

	if (u->in_flight == BSA_URING_DEPTH)
		return NULL;
	/* Every in-flight I/O holds one SQE at most, and the SQ has BSA_URING_DEPTH. */
	sqe = io_uring_get_sqe(&u->ring);
	if (sqe != NULL)
		u->in_flight++;
	return sqe;
}

static int uring_submit_rw(struct bsa_backend *b, int write, uint64_t off,
			   const struct iovec *iov, int iovcnt, void *tag)
{
	struct uring *u = b->async;
	struct io_uring_sqe *sqe = take_sqe(u);

	if (sqe == NULL)
		return -EBUSY;
	if (write)
		io_uring_prep_writev(sqe, b->fd, iov, (unsigned)iovcnt, off);
	else
		io_uring_prep_readv(sqe, b->fd, iov, (unsigned)iovcnt, off);
	io_uring_sqe_set_data(sqe, tag);
	b->st.ring_ios++;
	return 0;
}

/*
 * No IOSQE_IO_DRAIN: the DDM submits a flush only once every request
 * accepted before it is done (inflight.c), and does not hold later ones
 * behind it.
 */
static int uring_submit_flush(struct bsa_backend *b, void *tag)
{
	struct uring *u = b->async;
	struct io_uring_sqe *sqe = take_sqe(u);

	if (sqe == NULL)
		return -EBUSY;
	io_uring_prep_fsync(sqe, b->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, tag);
	b->st.ring_ios++;
	return 0;
}

/*
 * Start every SQE queued this turn and, with wait_us not 0, wait for a
 * completion: at most wait_us, or until one comes. One system call, but for
 * a bounded wait with SQEs to start: two (liburing before 2.2 has no call
 * that does both; on an idle turn there is seldom anything to start).
 */
static int submit_and_wait(struct bsa_backend *b, long wait_us)
{
	struct uring *u = b->async;
	struct io_uring_cqe *cqe;
	struct __kernel_timespec ts = { wait_us / 1000000, wait_us % 1000000 * 1000 };
	int rc = 0;

	if (wait_us == BSA_WAIT_FOREVER)
		return io_uring_submit_and_wait(&u->ring, 1);
	if (io_uring_sq_ready(&u->ring) != 0)
		rc = io_uring_submit(&u->ring);
	if (wait_us == 0 || !b->timed_waits || (rc < 0 && !transient(rc)))
		return rc;
	b->st.idle_waits++;
	/* Peeks, and consumes nothing: the CQE is taken with the others below. */
	return io_uring_wait_cqe_timeout(&u->ring, &cqe, &ts);
}

static int uring_reap(struct bsa_backend *b, struct bsa_completion *c, int max, long wait_us)
{
	struct uring *u = b->async;
	struct io_uring_cqe *cqes[32];
	bool block = wait_us != 0 && u->in_flight != 0;
	int err = 0;
	unsigned n;

	/* io_uring_sq_ready: what is prepared and not yet submitted, after an EINTR too. */
	if (io_uring_sq_ready(&u->ring) != 0 || block) {
		int rc = submit_and_wait(b, block ? wait_us : 0);

		/* EINTR, EAGAIN, EBUSY, the end of a bounded wait (ETIME): next turn. */
		if (rc < 0 && !transient(rc)) {
			err = rc;
			/* Submitting fails: still wait for what the kernel already has. */
			if (block && wait_us == BSA_WAIT_FOREVER && submitted(u) != 0) {
				struct io_uring_cqe *cqe;
				int w = io_uring_wait_cqe(&u->ring, &cqe);

				err = w == 0 || transient(w) ? 0 : w;
			}
		}
	}
	if (max > (int)(sizeof(cqes) / sizeof(cqes[0])))
		max = (int)(sizeof(cqes) / sizeof(cqes[0]));
	n = io_uring_peek_batch_cqe(&u->ring, cqes, (unsigned)max);
	for (unsigned i = 0; i < n; i++)
		c[i] = (struct bsa_completion){ io_uring_cqe_get_data(cqes[i]), cqes[i]->res };
	io_uring_cq_advance(&u->ring, n);
	u->in_flight -= n;
	return n == 0 && err != 0 ? err : (int)n;
}

/*
 * The ring must not outlive the buffers it writes into: wait for every I/O
 * the kernel was given, however long, retrying what fails. Only a ring that
 * fails every wait for a second is taken for broken: then it is left as it
 * is, mapped and open (the kernel keeps its I/O), and leaked, never torn
 * down under I/O in flight.
 */
static void uring_close(struct bsa_backend *b)
{
	struct uring *u = b->async;
	unsigned fails = 0;

	while (submitted(u) != 0) {
		struct io_uring_cqe *cqe;
		int rc = io_uring_wait_cqe(&u->ring, &cqe);

		if (rc == 0) {
			io_uring_cqe_seen(&u->ring, cqe);
			u->in_flight--;
			fails = 0;
		} else if (!transient(rc) && ++fails == BSA_URING_BROKEN_TRIES) {
			fprintf(stderr, "bsa: io_uring: waiting for %u I/Os in flight: %s: the ring "
				"is left as it is\n", submitted(u), strerror(-rc));
			u->file->close(b);
			b->async = NULL;
			return;
		} else if (!transient(rc)) {
			usleep(1000);
		}
	}
	io_uring_queue_exit(&u->ring);
	u->file->close(b);
	free(u);
	b->async = NULL;
}

static const struct bsa_backend_ops uring_ops = {
	.rw = uring_rw,
	.flush = uring_flush,
	.verify = uring_verify,
	.close = uring_close,
	.submit_rw = uring_submit_rw,
	.submit_flush = uring_submit_flush,
	.reap = uring_reap,
};

int bsa_backend_uring_attach(struct bsa_backend *b)
{
	struct uring *u;
	int rc;

	if (getenv("IOP_BSA_NO_URING") != NULL)
		return -ENOSYS;
	u = calloc(1, sizeof(*u));
	if (u == NULL)
		return -ENOMEM;
	rc = io_uring_queue_init(BSA_URING_DEPTH, &u->ring, 0);
	if (rc != 0) {
		free(u);
		return rc;
	}
	b->timed_waits = (u->ring.features & IORING_FEAT_EXT_ARG) != 0;
	u->file = b->ops;
	b->ops = &uring_ops;
	b->kind = IOP_BSA_BACKEND_URING;
	b->queue_depth = BSA_URING_DEPTH;
	b->async = u;
	return 0;
}
