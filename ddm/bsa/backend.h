/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the bsa DDM stores blocks in. A backend moves bytes between the
 * device and the host's buffers, named by iovecs that point straight at the
 * SGL's buffers in the frame window, so nothing is copied on the way but
 * the one copy into or out of the device. Every call runs on the DDM's loop.
 *
 * Every backend has the synchronous calls (rw, flush, verify). An
 * asynchronous one (io_uring) also has submit_rw, submit_flush and reap:
 * the DDM queues a request's I/O, keeps the request (IOP_DDM_PENDING) and
 * answers it when reap hands back its completion, on a later turn.
 */
#ifndef BSA_BACKEND_H
#define BSA_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "iop_bsa.h"

/* Most buffers one backend call is given: a request's SGL is sent in batches of these. */
#define BSA_IOV_BATCH 256

/* How a file is read and written: the io= parameter. */
enum bsa_io_mode {
	BSA_IO_SYNC = 0, /* preadv/pwritev on the loop: the default, measured the faster at QD 1 */
	BSA_IO_URING,    /* io_uring, falling back to the system calls where it cannot be set up */
};

/* What the DDM's poll does on a turn that brings it no new request: the idle= parameter. */
enum bsa_idle_mode {
	BSA_IDLE_SPIN = 0, /* return at once: the loop polls on (the default) */
	BSA_IDLE_WAIT,     /* io=uring: sleep in io_uring_enter for a completion (BSA_IDLE_WAIT_US) */
};

/*
 * The longest an idle=wait poll sleeps: it returns when a completion comes
 * or this has passed, whichever is first.
 */
#define BSA_IDLE_WAIT_US 1000

/* reap's wait_us: block until a completion comes, however long. */
#define BSA_WAIT_FOREVER (-1)

/* What the DDM's parameters ask for (bsa_config_parse). */
struct bsa_config {
	enum iop_bsa_backend_kind kind;
	enum bsa_io_mode io;  /* file backend only */
	enum bsa_idle_mode idle; /* io=uring only */
	bool direct;          /* file backend only: open with O_DIRECT (direct=1) */
	char path[4096];      /* file backend: the file or device */
	uint64_t size;        /* bytes; 0: the file's own size */
	uint32_t block_size;  /* a power of two, 512 to 1 MiB */
};

struct bsa_backend;

/* What an asynchronous backend's reap hands back: the tag submitted, and the result. */
struct bsa_completion {
	void *tag;
	int res; /* bytes moved (0: the file ended), 0 for a flush, or a negative errno */
};

struct bsa_backend_ops {
	/*
	 * Read (write == 0) or write the bytes iov names at byte offset off,
	 * which the caller has checked lies inside the capacity; at most
	 * BSA_IOV_BATCH buffers.
	 * *done gets the bytes moved, also on an error.
	 * @return 0 when every byte moved, or a negative errno (-EIO for a
	 *         read that found the end of a file that shrank).
	 */
	int (*rw)(struct bsa_backend *b, int write, uint64_t off, const struct iovec *iov,
		  int iovcnt, uint64_t *done);
	/* Make what was written durable. @return 0 or a negative errno. */
	int (*flush)(struct bsa_backend *b);
	/*
	 * Read [off, off + len) and throw it away, into scratch (scratch_len
	 * bytes at a time): the media can be read. @return as rw.
	 */
	int (*verify)(struct bsa_backend *b, uint64_t off, uint64_t len, void *scratch,
		      size_t scratch_len, uint64_t *done);
	/*
	 * An asynchronous backend first waits for every I/O in flight, however
	 * long; a ring that fails every wait is leaked as it is, never torn down
	 * under I/O the kernel may still do.
	 */
	void (*close)(struct bsa_backend *b);

	/* ---- asynchronous backends only; NULL for the others ---- */
	/*
	 * Queue a read or write of iov at off (iovcnt <= BSA_IOV_BATCH); it
	 * completes, with tag, through reap. iov must stay as it is until then.
	 * It may move fewer bytes than asked (a short transfer): the caller
	 * queues the rest. @return 0, or -EBUSY when queue_depth are in flight.
	 */
	int (*submit_rw)(struct bsa_backend *b, int write, uint64_t off, const struct iovec *iov,
			 int iovcnt, void *tag);
	/*
	 * Queue a flush (fdatasync) of what has completed: it is not ordered
	 * against I/O in flight, so the caller queues it once the writes it
	 * must cover have completed (inflight.c). @return as submit_rw.
	 */
	int (*submit_flush)(struct bsa_backend *b, void *tag);
	/*
	 * Start what is queued, then take up to max completions. With I/O in
	 * flight, and none there yet, wait for one: wait_us 0, not at all; > 0,
	 * at most that many microseconds; BSA_WAIT_FOREVER, until it comes. A
	 * signal, a kernel short of memory, or the wait's end is no error: 0,
	 * ask again.
	 * @return completions taken (0: none yet), or a negative errno when
	 *         none was taken and the ring failed (the I/O stays in flight).
	 */
	int (*reap)(struct bsa_backend *b, struct bsa_completion *c, int max, long wait_us);
};

/* What a backend counts: the DDM's IOP_BSA_PARAMS_STATS group. */
struct bsa_backend_stats {
	uint64_t ring_ios;     /* I/Os submitted to an io_uring */
	uint64_t loop_calls;   /* I/O system calls made, and waited for, on the loop */
	uint64_t bounced;      /* requests moved through the O_DIRECT bounce buffer */
	uint64_t bounce_bytes; /* bytes copied through it */
	uint64_t idle_waits;   /* bounded waits for a completion (reap with wait_us > 0) */
};

struct bsa_backend {
	const struct bsa_backend_ops *ops;
	struct bsa_backend_stats st;
	enum iop_bsa_backend_kind kind;
	uint64_t capacity;    /* bytes, a multiple of block_size */
	uint32_t block_size;
	unsigned char *mem;   /* RAM: the disk */
	int fd;               /* file: its descriptor */
	bool direct;          /* file: opened with O_DIRECT (direct=1) */
	uint32_t dio_mem_align; /* direct: what a buffer's address must be a multiple of */
	uint32_t dio_len_align; /* direct: what a buffer's length, and an offset, must be */
	unsigned queue_depth; /* asynchronous: I/Os it can have in flight; 0 for the others */
	bool timed_waits;     /* asynchronous: reap can bound a wait (else wait_us > 0 is 0) */
	void *async;          /* asynchronous: the backend's own state */
};

/*
 * Parse "ram,size=64M,bs=512" or
 * "file=/path,size=1G,bs=4096,io=uring,idle=wait,direct=1" (sizes with k, M,
 * G or T; io= sync or uring; idle= spin or wait, wait only with io=uring;
 * direct= 0 or 1; defaults ram, 64M, 512, sync, spin, 0).
 * @return 0, or -EINVAL with a message on stderr.
 */
int bsa_config_parse(const char *params, struct bsa_config *c);

/* A zeroed RAM disk of c->size bytes. @return 0 or a negative errno. */
int bsa_backend_ram_open(struct bsa_backend *b, const struct bsa_config *c);

/*
 * Open c->path for reading and writing: a regular file is created, and
 * extended to c->size if shorter; a block device gives its own size; another
 * file (a character device) needs c->size. With c->direct, opened with
 * O_DIRECT, and the alignment direct I/O needs found (dio_mem_align,
 * dio_len_align): a file system that refuses O_DIRECT, or a block size
 * below the alignment, fails. @return 0 or a negative errno, with a message
 * on stderr.
 */
int bsa_backend_file_open(struct bsa_backend *b, const struct bsa_config *c);

/*
 * Move the reads, writes and flushes of b, a file backend just opened, onto
 * an io_uring of its own (backend_uring.c); the synchronous calls stay the
 * file backend's. @return 0; or a negative errno with b unchanged, still the
 * file backend: -ENOTSUP when built without liburing, the io_uring setup's
 * error (ENOSYS on an old kernel or under a seccomp filter, EPERM where
 * io_uring is disabled, ENOMEM), or -ENOSYS when IOP_BSA_NO_URING is set in
 * the environment (to try the fallback).
 */
int bsa_backend_uring_attach(struct bsa_backend *b);

/*
 * May these buffers go to a file opened with O_DIRECT as they are? Every
 * address a multiple of dio_mem_align and every length of dio_len_align
 * (offsets are whole blocks, which init made multiples of it). Always true
 * without direct=1.
 */
static inline bool bsa_backend_direct_ok(const struct bsa_backend *b, const struct iovec *iov,
					 int n)
{
	uintptr_t bad = 0;

	if (!b->direct)
		return true;
	for (int i = 0; i < n; i++)
		bad |= ((uintptr_t)iov[i].iov_base & (b->dio_mem_align - 1)) |
		       (iov[i].iov_len & (b->dio_len_align - 1));
	return bad == 0;
}

#endif /* BSA_BACKEND_H */
