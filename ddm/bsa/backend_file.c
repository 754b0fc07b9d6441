/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The file backend: a regular file or a device, read and written with
 * preadv/pwritev straight between the file and the host's buffers in the
 * frame window (the kernel's copy is the only one). A short transfer is
 * continued where it stopped; an error stops the request with the bytes
 * moved so far counted, never reported as whole. CacheFlush is fdatasync.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "bsa.h" /* BSA_SLOT_SCRATCH_BYTES: the pieces a bounced transfer goes in */

/* One system call: pread/pwrite for one buffer (the kernel need not copy in an iovec). */
static ssize_t file_io(struct bsa_backend *b, int write, const struct iovec *iov, int n, off_t off)
{
	int fd = b->fd;

	b->st.loop_calls++;
	if (n == 1)
		return write ? pwrite(fd, iov->iov_base, iov->iov_len, off)
			     : pread(fd, iov->iov_base, iov->iov_len, off);
	return write ? pwritev(fd, iov, n, off) : preadv(fd, iov, n, off);
}

/*
 * What a short transfer left: the iovecs copied, so that the start of the
 * one it stopped in (`into` bytes in) can move. Out of line: its array is
 * only the slow path's.
 */
static __attribute__((noinline)) int file_rw_rest(struct bsa_backend *b, int write, uint64_t off,
						   const struct iovec *iov, int n, size_t into,
						   uint64_t moved, uint64_t *done)
{
	struct iovec rest[BSA_IOV_BATCH];
	int first = 0;

	memcpy(rest, iov, (size_t)n * sizeof(*iov));
	rest[0].iov_base = (char *)rest[0].iov_base + into;
	rest[0].iov_len -= into;
	while (first < n) {
		ssize_t r = file_io(b, write, rest + first, n - first, (off_t)(off + moved));

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			*done = moved;
			/* No byte and no error: the file ends inside the capacity (it shrank). */
			return r < 0 ? -errno : -EIO;
		}
		moved += (uint64_t)r;
		/* Step over the buffers this call filled, and into the one it stopped in. */
		while (first < n && (size_t)r >= rest[first].iov_len)
			r -= (ssize_t)rest[first++].iov_len;
		if (first < n) {
			rest[first].iov_base = (char *)rest[first].iov_base + r;
			rest[first].iov_len -= (size_t)r;
		}
	}
	*done = moved;
	return 0;
}

/* Nearly always one call moves every byte; only a short transfer goes on in file_rw_rest. */
static int file_rw(struct bsa_backend *b, int write, uint64_t off, const struct iovec *iov,
		   int iovcnt, uint64_t *done)
{
	int n = iovcnt < BSA_IOV_BATCH ? iovcnt : BSA_IOV_BATCH, first = 0;
	ssize_t r;

	if (n <= 0) {
		*done = 0;
		return 0;
	}
	do
		r = file_io(b, write, iov, n, (off_t)off);
	while (r < 0 && errno == EINTR);
	if (r <= 0) {
		*done = 0;
		return r < 0 ? -errno : -EIO; /* as in file_rw_rest */
	}
	*done = (uint64_t)r;
	/* Step over the buffers it filled: all of them, unless it was short. */
	while (first < n && (size_t)r >= iov[first].iov_len)
		r -= (ssize_t)iov[first++].iov_len;
	if (first == n)
		return 0;
	return file_rw_rest(b, write, off, iov + first, n - first, (size_t)r, *done, done);
}

/* EINVAL: a device that cannot be synced (a character device) has no cache to flush. */
static int file_flush(struct bsa_backend *b)
{
	b->st.loop_calls++;
	return fdatasync(b->fd) == 0 || errno == EINVAL ? 0 : -errno;
}

static int file_verify(struct bsa_backend *b, uint64_t off, uint64_t len, void *scratch,
		       size_t scratch_len, uint64_t *done)
{
	uint64_t moved = 0;
	int rc = 0;

	while (moved < len && rc == 0) {
		struct iovec v = { scratch, len - moved < scratch_len ? len - moved : scratch_len };
		uint64_t got = 0;

		rc = file_rw(b, 0, off + moved, &v, 1, &got);
		moved += got;
	}
	*done = moved;
	return rc;
}

static void file_close(struct bsa_backend *b)
{
	close(b->fd);
	b->fd = -1;
}

static const struct bsa_backend_ops file_ops = {
	.rw = file_rw,
	.flush = file_flush,
	.verify = file_verify,
	.close = file_close,
};

static int fail(const struct bsa_config *c, const char *what, int err)
{
	fprintf(stderr, "bsa: %s: %s: %s\n", c->path, what, strerror(err));
	return -err;
}

/* The capacity the file gives, extended or checked against what was asked. */
static int file_capacity(int fd, const struct bsa_config *c, bool read_only, uint64_t *cap)
{
	struct stat st;
	uint64_t have;

	if (fstat(fd, &st) != 0)
		return fail(c, "fstat", errno);
	if (S_ISREG(st.st_mode)) {
		have = (uint64_t)st.st_size;
		if (c->size > have && read_only) {
			fprintf(stderr, "bsa: %s: size= is larger than the file (%llu bytes), which "
				"is opened read-only and cannot be extended\n", c->path,
				(unsigned long long)have);
			return -EROFS;
		}
		if (c->size > have && ftruncate(fd, (off_t)c->size) != 0)
			return fail(c, "extending to size", errno);
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(fd, BLKGETSIZE64, &have) != 0)
			return fail(c, "BLKGETSIZE64", errno);
		if (c->size > have)
			return fail(c, "size is larger than the device", ENOSPC);
	} else {
		/* A character device has no size of its own: it must be given. */
		have = 0;
		if (c->size == 0)
			return fail(c, "not a regular file or a block device: give size=", EINVAL);
	}
	*cap = c->size != 0 ? c->size : have - have % c->block_size;
	if (*cap == 0)
		return fail(c, "an empty file: give size=", EINVAL);
	return 0;
}

/* direct=1 where there is no direct I/O: said the same way wherever it shows. */
static int no_direct(const struct bsa_config *c, int err)
{
	fprintf(stderr, "bsa: %s: direct=1: O_DIRECT refused (%s): its file system (or the "
		"device) does not do direct I/O; leave out direct=1, or keep the file on one "
		"that does (ext4, xfs, btrfs, a block device)\n", c->path, strerror(err));
	return -EINVAL;
}

/*
 * The alignment O_DIRECT needs of fd: statx's STATX_DIOALIGN where the
 * kernel and the file system give it (a file system that says 0 has no
 * direct I/O); else a block device's logical sector size; none for a
 * character device; else 4096, which every file system that takes O_DIRECT
 * accepts.
 */
static int direct_alignment(int fd, const struct bsa_config *c, uint32_t *mem, uint32_t *len,
			    bool *guessed)
{
	struct stat st;
	int sector = 0;

	*mem = *len = 4096;
	*guessed = false;
#ifdef STATX_DIOALIGN
	struct statx sx;

	if (statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) != 0) {
		if (sx.stx_dio_offset_align == 0)
			return no_direct(c, EINVAL);
		*mem = sx.stx_dio_mem_align != 0 ? sx.stx_dio_mem_align : 1;
		*len = sx.stx_dio_offset_align;
		return 0;
	}
#endif
	/* A block device says its logical sector size; anything else gets the usual 4096. */
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode) && ioctl(fd, BLKSSZGET, &sector) == 0 &&
	    sector > 0)
		*mem = *len = (uint32_t)sector;
	else
		*guessed = true;
	return 0;
}

/*
 * direct=1: what O_DIRECT needs, checked once at init. Blocks must be whole
 * multiples of its alignment (so every offset is aligned); the first block
 * is read to find a file system that took the flag at open but refuses
 * direct I/O.
 */
static int direct_check(struct bsa_backend *b, const struct bsa_config *c)
{
	uint32_t mem, len;
	size_t probe_len;
	bool guessed;
	void *probe;
	ssize_t r;
	int rc = direct_alignment(b->fd, c, &mem, &len, &guessed);

	if (rc != 0)
		return rc;
	if ((mem & (mem - 1)) != 0 || (len & (len - 1)) != 0) {
		fprintf(stderr, "bsa: %s: direct=1: an alignment that is not a power of two "
			"(%u, %u)\n", c->path, mem, len);
		return -EINVAL;
	}
	/* The ring moves a bounced transfer in pieces of BSA_SLOT_SCRATCH_BYTES: each aligned. */
	if (len > BSA_SLOT_SCRATCH_BYTES) {
		fprintf(stderr, "bsa: %s: direct=1: O_DIRECT needs %u-byte aligned transfers here, "
			"more than the %u bytes the DDM bounces at a time\n", c->path, len,
			(unsigned)BSA_SLOT_SCRATCH_BYTES);
		return -EINVAL;
	}
	if (c->block_size < len) {
		fprintf(stderr, "bsa: %s: direct=1: bs=%u is smaller than the %u bytes O_DIRECT "
			"needs here%s: give bs=%u or more\n", c->path, c->block_size, len,
			guessed ? " (the file system does not say, through statx STATX_DIOALIGN: "
				  "4096 is assumed)" : "", len);
		return -EINVAL;
	}
	b->dio_mem_align = mem;
	b->dio_len_align = len;
	probe_len = c->block_size;
	if (posix_memalign(&probe, mem < 4096 ? 4096 : mem, probe_len) != 0)
		return -ENOMEM;
	do
		r = pread(b->fd, probe, probe_len, 0);
	while (r < 0 && errno == EINTR);
	rc = r < 0 && errno == EINVAL ? no_direct(c, EINVAL) : 0;
	free(probe);
	return rc;
}

int bsa_backend_file_open(struct bsa_backend *b, const struct bsa_config *c)
{
	int direct = c->direct ? O_DIRECT : 0;
	int fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC | direct, 0644);
	bool read_only = false;
	uint64_t cap = 0;
	int rc;

	if (fd < 0 && errno == EINVAL && direct != 0)
		return no_direct(c, EINVAL);
	/* A file the IOP may only read is served read-only: its writes fail EBADF, WRITE_PROTECTED. */
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EPERM)) {
		int err = errno;

		fd = open(c->path, O_RDONLY | O_CLOEXEC | direct);
		if (fd < 0 && errno == EINVAL && direct != 0) {
			return no_direct(c, EINVAL);
		} else if (fd < 0) {
			errno = err;
		} else {
			read_only = true;
			fprintf(stderr, "bsa: %s: opening for writing: %s: the device is read-only "
				"(writes answer WRITE_PROTECTED)\n", c->path, strerror(err));
		}
	}
	if (fd < 0)
		return fail(c, "open", errno);
	rc = file_capacity(fd, c, read_only, &cap);
	if (rc != 0) {
		close(fd);
		return rc;
	}
	b->ops = &file_ops;
	b->kind = IOP_BSA_BACKEND_FILE;
	b->capacity = cap;
	b->block_size = c->block_size;
	b->mem = NULL;
	b->fd = fd;
	b->direct = c->direct;
	b->dio_mem_align = b->dio_len_align = 1;
	if (c->direct) {
		rc = direct_check(b, c);
		if (rc != 0) {
			close(fd);
			b->fd = -1;
			return rc;
		}
	}
	return 0;
}
