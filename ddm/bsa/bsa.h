/* SPDX-License-Identifier: BSD-3-Clause */
/* The bsa DDM's state and the pieces its dispatch (bsa.c) shares with transfer.c. */
#ifndef BSA_BSA_H
#define BSA_BSA_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "backend.h"
#include "iop_sgl.h"

struct iop_msg_hdr;
struct iop_request;
struct iop_window;

/* Bytes WriteVerify and MediaVerify read back at a time (and a bounce buffer's, direct=1). */
#define BSA_SCRATCH_BYTES (256u << 10)
/* What the DDM's own buffers are aligned to: O_DIRECT's needs, on every file system seen. */
#define BSA_BUFFER_ALIGN 4096u

/* Word 5 and words 6-7 of a transfer or MediaVerify request; 8 words at least. */
#define BSA_WORD_BYTE_COUNT 5u
#define BSA_WORD_ADDRESS 6u
#define BSA_REQUEST_WORDS 8u

/* One transfer request in hand: where it goes, and how far it got. */
struct bsa_xfer {
	bool write, verify;
	uint64_t addr;           /* device byte address of the transfer's start */
	uint32_t count;          /* TransferByteCount */
	uint64_t gathered;       /* bytes of the SGL's buffers gathered for the backend so far */
	int ready;               /* buffers of the first walk waiting in the DDM's iov (0: none) */
	uint64_t moved;          /* bytes that reached the device or the host's buffers */
	bool dirty;              /* WriteVerify: written past `moved`, unverified */
	bool bounce;             /* direct=1: the rest goes through a bounce buffer */
	int cur_i, cur_n;        /* bounce: the buffer of the batch in iov it is at, of cur_n */
	size_t cur_in;           /* ... and how far into it */
	uint16_t dsc;            /* why it stopped, when it did */
	struct iop_sgl_iter it;  /* the second walk of the SGL, where it is */
	const struct iop_sgl_bounds *bounds;
};

/*
 * Bytes of an in-flight slot's scratch buffer (WriteVerify's read-back,
 * MediaVerify's reads) and of its bounce buffer (direct=1): each slot has
 * both, one after the other in one mapping, aligned.
 */
#define BSA_SLOT_SCRATCH_BYTES (64u << 10)

enum bsa_io_kind {
	BSA_IO_TRANSFER,     /* BlockRead, BlockWrite, WriteVerify */
	BSA_IO_FLUSH,        /* CacheFlush, DeviceReset */
	BSA_IO_MEDIA_VERIFY,
};

/* Where a transfer's batch is: WriteVerify goes through all three, the others the first. */
enum bsa_io_step {
	BSA_STEP_RW,       /* its buffers being read or written */
	BSA_STEP_SYNC,     /* WriteVerify: its fdatasync */
	BSA_STEP_READBACK, /* WriteVerify: read back into scratch and compared */
};

/*
 * A request an asynchronous backend has in flight (inflight.c): a transfer,
 * one batch of its buffers at a time, a flush, or a MediaVerify; one I/O of
 * the backend at a time. Its reply frame was taken before anything started,
 * so its completion always has one to answer with.
 */
struct bsa_io {
	struct iop_request *r;
	uint32_t *rep;
	enum bsa_io_kind kind;
	enum bsa_io_step step;
	bool started;                    /* a flush: its fdatasync submitted */
	uint64_t seq;                    /* the order requests were accepted in */
	struct bsa_xfer x;               /* MediaVerify: addr, count, and moved (bytes read) */
	uint64_t batch_off;              /* device address of the batch */
	uint64_t batch_moved;            /* bytes of the batch done */
	int n, first;                    /* buffers in the batch; the first not done */
	int split;                       /* the buffer a short transfer split, or -1 */
	struct iovec split_orig;         /* that buffer as the walk gave it */
	struct iovec iov[BSA_IOV_BATCH]; /* the batch, as the kernel reads it */
	uint64_t rb_done;                /* WriteVerify: bytes of the batch read back and compared */
	int cmp_i;                       /* ... the host's buffer the comparison is in, */
	size_t cmp_in;                   /* ... and how far into it */
	struct iovec rb_iov;             /* the scratch piece being read */
	unsigned char *scratch;          /* BSA_SLOT_SCRATCH_BYTES of the slot's own */
	unsigned char *bounce;           /* direct=1: BSA_SLOT_SCRATCH_BYTES more, the bounce buffer */
	size_t piece;                    /* bounce: bytes of the piece in the bounce buffer */
	struct bsa_io *next_free;
};

/* One instance: iop_ddm_priv(). */
struct bsa {
	struct bsa_backend be;
	struct iovec iov[BSA_IOV_BATCH]; /* the batch of SGL buffers being moved */
	const struct iop_window *window; /* whose inbound heap `bounds` are */
	struct iop_sgl_bounds bounds;    /* where an SGL's buffers may lie */
	unsigned char *scratch;          /* BSA_SCRATCH_BYTES, for reading back (aligned) */
	unsigned char *bounce;           /* direct=1: BSA_SCRATCH_BYTES, aligned; else NULL */
	struct bsa_io *io;               /* asynchronous backend: be.queue_depth of them */
	void *io_scratch;                /* their scratch buffers, one mapping */
	struct bsa_io *io_free;
	unsigned io_busy;                /* requests in flight */
	uint64_t io_seq;                 /* the last request's seq */
	unsigned flushes_waiting;        /* flushes whose fdatasync waits for earlier requests */
	bool reap_failed;                /* a reap error was logged */
	bool abandoned;                  /* the ring broke with I/O in flight: slots leaked */
	bool idle_wait;                  /* idle=wait in effect: an idle poll sleeps in the kernel */
};

/*
 * The request's block range, checked: 0, or the BSA detailed status to
 * refuse it with (ACCESS_ERROR: not whole blocks or empty; ACCESS_VIOLATION:
 * past the capacity). Inline: every transfer asks it, and a call cost about
 * what the check does.
 */
static inline uint16_t bsa_check_range(const struct bsa *s, uint64_t addr, uint64_t len)
{
	uint64_t mask = s->be.block_size - 1;

	if (len == 0 || (addr & mask) != 0 || (len & mask) != 0)
		return IOP_BSA_DSC_ACCESS_ERROR;
	if (addr > s->be.capacity || len > s->be.capacity - addr)
		return IOP_BSA_DSC_ACCESS_VIOLATION;
	return 0;
}

/* The detailed status of a backend error (a negative errno). */
uint16_t bsa_dsc_of_errno(int rc);

/*
 * BlockRead, BlockWrite, WriteVerify (h: the request's header, as the
 * dispatch already has it): checked, moved between the SGL's buffers and the
 * backend, answered with the TransferCount.
 * @return an enum iop_ddm_result, or a negative errno.
 */
int bsa_transfer(struct bsa *s, struct iop_request *r, const struct iop_msg_hdr *h);

/*
 * The next batch of the SGL's buffers for x (at most BSA_IOV_BATCH, ending
 * at TransferByteCount) into iov. @return buffers, or -EPROTO with x->dsc
 * set when the second walk refuses the list.
 */
int bsa_gather(struct bsa_xfer *x, struct iovec *iov);

/*
 * direct=1: a transfer whose batch of n buffers (in the iov it was gathered
 * into) O_DIRECT would refuse goes through a bounce buffer from there on:
 * counted, and its cursor put at the batch's start.
 */
void bsa_bounce_start(struct bsa_backend *be, struct bsa_xfer *x, int n);

/*
 * Copy len bytes between buf and the host's buffers, from x's cursor on
 * (into the host's when to_host), gathering the next batch into iov when
 * the one there is used up. @return the bytes copied: len, or fewer when
 * the walk refused the list (x->dsc says why).
 */
size_t bsa_bounce_copy(struct bsa_xfer *x, struct iovec *iov, unsigned char *buf, size_t len,
		       bool to_host);

/* Answer a transfer with what x says: status, detailed status, TransferCount. */
void bsa_transfer_answer(struct iop_request *r, uint32_t *rep, const struct bsa_xfer *x);

/* Answer a MediaVerify: the bytes read, and why it stopped (0: it did not). */
void bsa_media_verify_answer(struct iop_request *r, uint32_t *rep, uint64_t done, uint16_t dsc);

/* ---- inflight.c: requests on an asynchronous backend ---- */

/* Slots for be.queue_depth requests. @return 0 or -ENOMEM. */
int bsa_inflight_init(struct bsa *s);
void bsa_inflight_fini(struct bsa *s);

/* Is a slot free? A request that finds none is handed back (IOP_DDM_RETRY) before anything. */
bool bsa_inflight_room(const struct bsa *s);

/*
 * Start a checked BlockRead, BlockWrite or WriteVerify (x after the first
 * walk: its first batch ready, or its iterator at the list's start) on the
 * backend. @return IOP_DDM_PENDING, or
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
 * Start a MediaVerify of a checked range: read into the slot's scratch, a
 * piece at a time. @return IOP_DDM_PENDING, or IOP_DDM_DONE when it was
 * answered at once.
 */
int bsa_inflight_media_verify(struct bsa *s, struct iop_request *r, uint32_t *rep,
			      uint64_t addr, uint32_t len);

/*
 * Take the backend's completions and carry their requests on: the next
 * batch, the rest of a short transfer, or the reply. With requests in
 * flight and no completion there yet, wait for one as the backend's reap
 * does (wait_us: 0, > 0 microseconds at most, or BSA_WAIT_FOREVER).
 * @return completions taken, or the backend's negative errno.
 */
int bsa_inflight_poll(struct bsa *s, long wait_us);

/*
 * The ring is broken with requests in flight (bsa_fini): each one is left
 * unanswered for good (iop_request_abandon), with its slot, so the host's
 * channel never goes idle and its buffers are never handed back while the
 * kernel may still write into them.
 */
void bsa_inflight_abandon(struct bsa *s);

#endif /* BSA_BSA_H */
