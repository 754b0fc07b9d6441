/* SPDX-License-Identifier: BSD-3-Clause */
/* The bsa DDM's state and the pieces its dispatch (bsa.c) shares with transfer.c. */
#ifndef BSA_BSA_H
#define BSA_BSA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"
#include "iop_sgl.h"

struct iop_request;

/* Bytes WriteVerify and MediaVerify read back at a time. */
#define BSA_SCRATCH_BYTES (256u << 10)

/* Word 5 and words 6-7 of a transfer or MediaVerify request; 8 words at least. */
#define BSA_WORD_BYTE_COUNT 5u
#define BSA_WORD_ADDRESS 6u
#define BSA_REQUEST_WORDS 8u

/* One transfer request in hand: where it goes, and how far it got. */
struct bsa_xfer {
	bool write, verify;
	uint64_t addr;           /* device byte address of the transfer's start */
	uint32_t count;          /* TransferByteCount */
	uint64_t gathered;       /* bytes of the SGL's buffers handed to the backend so far */
	uint64_t moved;          /* bytes that reached the device or the host's buffers */
	bool dirty;              /* WriteVerify: written past `moved`, unverified */
	uint16_t dsc;            /* why it stopped, when it did */
	struct iop_sgl_iter it;  /* the second walk of the SGL, where it is */
	const struct iop_sgl_bounds *bounds;
};

/*
 * A request an asynchronous backend has in flight (inflight.c): a transfer,
 * one batch of its buffers at a time, or a flush. Its reply frame was taken
 * before anything started, so its completion always has one to answer with.
 */
struct bsa_io {
	struct iop_request *r;
	uint32_t *rep;
	bool flush;                      /* CacheFlush or DeviceReset, not a transfer */
	bool started;                    /* a flush: its fdatasync submitted */
	uint64_t seq;                    /* the order requests were accepted in */
	struct bsa_xfer x;
	struct iop_sgl_bounds bounds;    /* x.bounds points here */
	uint64_t batch_off;              /* device address of the batch */
	uint64_t batch_moved;            /* bytes of the batch done */
	int n, first;                    /* buffers in the batch; the first not done */
	struct iovec iov[BSA_IOV_BATCH]; /* the batch, as the kernel reads it */
	struct bsa_io *next_free;
};

/* One instance: iop_ddm_priv(). */
struct bsa {
	struct bsa_backend be;
	struct iovec iov[BSA_IOV_BATCH]; /* the batch of SGL buffers being moved */
	unsigned char *scratch;          /* BSA_SCRATCH_BYTES, for reading back */
	struct bsa_io *io;               /* asynchronous backend: be.queue_depth of them */
	struct bsa_io *io_free;
	unsigned io_busy;                /* requests in flight */
	uint64_t io_seq;                 /* the last request's seq */
	unsigned flushes_waiting;        /* flushes whose fdatasync waits for earlier requests */
	bool reap_failed;                /* a reap error was logged */
	bool abandoned;                  /* the ring broke with I/O in flight: slots leaked */
};

/*
 * The request's block range, checked: 0, or the BSA detailed status to
 * refuse it with (ACCESS_ERROR: not whole blocks or empty; ACCESS_VIOLATION:
 * past the capacity).
 */
uint16_t bsa_check_range(const struct bsa *s, uint64_t addr, uint64_t len);

/* The detailed status of a backend error (a negative errno). */
uint16_t bsa_dsc_of_errno(int rc);

/*
 * BlockRead, BlockWrite, WriteVerify: checked, moved between the SGL's
 * buffers and the backend, answered with the TransferCount.
 * @return an enum iop_ddm_result, or a negative errno.
 */
int bsa_transfer(struct bsa *s, struct iop_request *r);

/*
 * The next batch of the SGL's buffers for x (at most BSA_IOV_BATCH, ending
 * at TransferByteCount) into iov. @return buffers, or -EPROTO with x->dsc
 * set when the second walk refuses the list.
 */
int bsa_gather(struct bsa_xfer *x, struct iovec *iov);

/* Answer a transfer with what x says: status, detailed status, TransferCount. */
void bsa_transfer_answer(struct iop_request *r, uint32_t *rep, const struct bsa_xfer *x);

/* ---- inflight.c: requests on an asynchronous backend ---- */

/* Slots for be.queue_depth requests. @return 0 or -ENOMEM. */
int bsa_inflight_init(struct bsa *s);
void bsa_inflight_fini(struct bsa *s);

/* Is a slot free? A request that finds none is handed back (IOP_DDM_RETRY) before anything. */
bool bsa_inflight_room(const struct bsa *s);

/*
 * Start a checked BlockRead or BlockWrite (x after the first walk, its
 * iterator at the list's start) on the backend. @return IOP_DDM_PENDING, or
 * IOP_DDM_DONE when it was answered at once (the second walk refused).
 */
int bsa_inflight_transfer(struct bsa *s, struct iop_request *r, uint32_t *rep,
			  const struct bsa_xfer *x);

/*
 * Take a flush: its fdatasync is submitted once every request accepted
 * before it has been answered (at once when none is in flight, otherwise
 * from the poll turn). @return IOP_DDM_PENDING, or IOP_DDM_DONE when it
 * was answered at once (the backend refused it).
 */
int bsa_inflight_flush(struct bsa *s, struct iop_request *r, uint32_t *rep);

/*
 * Take the backend's completions and carry their requests on: the next
 * batch, the rest of a short transfer, or the reply. wait: block until one
 * comes (with requests in flight). @return completions taken, or the
 * backend's negative errno.
 */
int bsa_inflight_poll(struct bsa *s, bool wait);

/*
 * The ring is broken with requests in flight (bsa_fini): each one is left
 * unanswered for good (iop_request_abandon), with its slot, so the host's
 * channel never goes idle and its buffers are never handed back while the
 * kernel may still write into them.
 */
void bsa_inflight_abandon(struct bsa *s);

#endif /* BSA_BSA_H */
