/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the bsa DDM stores blocks in. A backend moves bytes between the
 * device and the host's buffers, named by iovecs that point straight at the
 * SGL's buffers in the frame window, so nothing is copied on the way but
 * the one copy into or out of the device. Every call runs on the DDM's loop.
 */
#ifndef BSA_BACKEND_H
#define BSA_BACKEND_H

#include <stdint.h>
#include <sys/uio.h>

#include "iop_bsa.h"

/* Most buffers one backend call is given: a request's SGL is sent in batches of these. */
#define BSA_IOV_BATCH 256

/* What the DDM's parameters ask for (bsa_config_parse). */
struct bsa_config {
	enum iop_bsa_backend_kind kind;
	char path[4096];      /* file backend: the file or device */
	uint64_t size;        /* bytes; 0: the file's own size */
	uint32_t block_size;  /* a power of two, 512 to 1 MiB */
};

struct bsa_backend;

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
	void (*close)(struct bsa_backend *b);
};

struct bsa_backend {
	const struct bsa_backend_ops *ops;
	enum iop_bsa_backend_kind kind;
	uint64_t capacity;    /* bytes, a multiple of block_size */
	uint32_t block_size;
	unsigned char *mem;   /* RAM: the disk */
	int fd;               /* file: its descriptor */
};

/*
 * Parse "ram,size=64M,bs=512" or "file=/path,size=1G,bs=4096" (sizes with
 * k, M, G or T; defaults ram, 64M, 512). @return 0, or -EINVAL with a
 * message on stderr.
 */
int bsa_config_parse(const char *params, struct bsa_config *c);

/* A zeroed RAM disk of c->size bytes. @return 0 or a negative errno. */
int bsa_backend_ram_open(struct bsa_backend *b, const struct bsa_config *c);

/*
 * Open c->path for reading and writing: a regular file is created, and
 * extended to c->size if shorter; a block device gives its own size; another
 * file (a character device) needs c->size. @return 0 or a negative errno,
 * with a message on stderr.
 */
int bsa_backend_file_open(struct bsa_backend *b, const struct bsa_config *c);

#endif /* BSA_BACKEND_H */
