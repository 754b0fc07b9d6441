/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The RAM disk: anonymous memory of the IOP process, copied to and from the
 * host's buffers with one memcpy per buffer. Pages are given by the kernel
 * as they are first written, so a large disk costs only what is used.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "backend.h"

static int ram_rw(struct bsa_backend *b, int write, uint64_t off, const struct iovec *iov,
		  int iovcnt, uint64_t *done)
{
	unsigned char *p = b->mem + off;

	for (int i = 0; i < iovcnt; i++) {
		if (write)
			memcpy(p, iov[i].iov_base, iov[i].iov_len);
		else
			memcpy(iov[i].iov_base, p, iov[i].iov_len);
		p += iov[i].iov_len;
	}
	*done = (uint64_t)(p - (b->mem + off));
	return 0;
}

/* Memory is as durable as it gets: it lasts as long as the process. */
static int ram_flush(struct bsa_backend *b)
{
	(void)b;
	return 0;
}

static int ram_verify(struct bsa_backend *b, uint64_t off, uint64_t len, void *scratch,
		      size_t scratch_len, uint64_t *done)
{
	(void)b, (void)off, (void)scratch, (void)scratch_len;
	*done = len;
	return 0;
}

static void ram_close(struct bsa_backend *b)
{
	munmap(b->mem, b->capacity);
	b->mem = NULL;
}

static const struct bsa_backend_ops ram_ops = {
	.rw = ram_rw,
	.flush = ram_flush,
	.verify = ram_verify,
	.close = ram_close,
};

int bsa_backend_ram_open(struct bsa_backend *b, const struct bsa_config *c)
{
	void *m;

	if (c->size > SIZE_MAX)
		return -EFBIG;
	m = mmap(NULL, c->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		 -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	b->ops = &ram_ops;
	b->kind = IOP_BSA_BACKEND_RAM;
	b->capacity = c->size;
	b->block_size = c->block_size;
	b->mem = m;
	b->fd = -1;
	return 0;
}
