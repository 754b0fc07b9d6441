/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bsa DDM: a random block storage target (class 0x010) on a RAM disk
 * or a file (backend.h), registered as the built-in "bsa". Parameters are
 * parsed by config.c; the transfers are transfer.c's. Here: the dispatch,
 * the requests without data (StatusCheck, DeviceReset, CacheFlush,
 * MediaVerify) and the device-information parameter group.
 *
 * On the RAM and file backends every call is synchronous on the DDM's loop:
 * the loop waits for the file system, and the requests of a loop are
 * answered in order. On the io_uring backend, every request with I/O (reads,
 * writes, WriteVerify, MediaVerify, flushes) is kept in flight (inflight.c)
 * and answered from the poll turn as it completes.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bsa.h"
#include "iop_build.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lct.h"
#include "iop_window.h"

static const uint8_t bsa_functions[] = {
	IOP_BSA_STATUS_CHECK, IOP_BSA_DEVICE_RESET, IOP_BSA_BLOCK_READ,  IOP_BSA_BLOCK_WRITE,
	IOP_BSA_WRITE_VERIFY, IOP_BSA_MEDIA_VERIFY, IOP_BSA_CACHE_FLUSH,
};

uint16_t bsa_dsc_of_errno(int rc)
{
	switch (rc) {
	case -EIO:
		return IOP_BSA_DSC_MEDIA_ERROR;
	case -EROFS:
	case -EBADF:
	case -EACCES:
	case -EPERM:
		return IOP_BSA_DSC_WRITE_PROTECTED;
	default:
		return IOP_BSA_DSC_DEVICE_FAILURE;
	}
}

/* A reply frame before any work, so a request that must wait for one has done nothing. */
static uint32_t *reply_first(struct iop_request *r, unsigned words, int *result)
{
	uint32_t *rep = iop_request_reply_alloc(r, words);

	if (rep == NULL)
		*result = errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	return rep;
}

/* StatusCheck, DeviceReset, CacheFlush: a status-only reply. */
static int answer_status(struct bsa *s, struct iop_request *r, uint8_t function)
{
	/* A reset leaves nothing unwritten behind it: the state after init is "all durable". */
	bool flush = function == IOP_BSA_CACHE_FLUSH || function == IOP_BSA_DEVICE_RESET;
	bool async = flush && s->be.ops->submit_flush != NULL;
	int result = IOP_DDM_DONE, rc = 0;
	uint32_t *rep;

	if (async && !bsa_inflight_room(s))
		return IOP_DDM_RETRY;
	rep = reply_first(r, IOP_REPLY_WORDS, &result);
	if (rep == NULL)
		return result;
	if (async)
		return bsa_inflight_flush(s, r, rep);
	if (flush)
		rc = s->be.ops->flush(&s->be);
	iop_request_reply_send(r, rep, IOP_REPLY_WORDS,
			       rc == 0 ? IOP_REPLY_STATUS_SUCCESS
				       : IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			       rc == 0 ? IOP_BSA_DSC_SUCCESS : bsa_dsc_of_errno(rc));
	return IOP_DDM_DONE;
}

void bsa_media_verify_answer(struct iop_request *r, uint32_t *rep, uint64_t done, uint16_t dsc)
{
	rep[5] = htole32((uint32_t)done);
	iop_request_reply_send(r, rep, IOP_BSA_REPLY_WORDS,
			       dsc == 0     ? IOP_REPLY_STATUS_SUCCESS
			       : done == 0 ? IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER
					   : IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER,
			       dsc);
}

/*
 * MediaVerify: word 5 ByteCount, words 6-7 the address; the range is read,
 * the data dropped: on the loop, or on the ring (inflight.c) of an
 * asynchronous backend.
 */
static int answer_media_verify(struct bsa *s, struct iop_request *r)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	const uint32_t *f = iop_request_frame(r);
	bool async = s->be.ops->submit_rw != NULL;
	int result = IOP_DDM_DONE;
	uint64_t addr = 0, done = 0;
	uint32_t len = 0, *rep;
	uint16_t dsc;
	int rc;

	/* No slot, or no reply frame: the request waits with nothing done. */
	if (async && !bsa_inflight_room(s))
		return IOP_DDM_RETRY;
	rep = reply_first(r, IOP_BSA_REPLY_WORDS, &result);
	if (rep == NULL)
		return result;
	if (h->size_words < BSA_REQUEST_WORDS) {
		dsc = IOP_DSC_MESSAGE_TOO_SMALL;
	} else {
		len = le32toh(f[BSA_WORD_BYTE_COUNT]);
		addr = le32toh(f[BSA_WORD_ADDRESS]) |
		       (uint64_t)le32toh(f[BSA_WORD_ADDRESS + 1]) << 32;
		dsc = bsa_check_range(s, addr, len);
	}
	if (dsc == 0 && async)
		return bsa_inflight_media_verify(s, r, rep, addr, len);
	if (dsc == 0) {
		rc = s->be.ops->verify(&s->be, addr, len, s->scratch, BSA_SCRATCH_BYTES, &done);
		dsc = rc == 0 ? 0 : bsa_dsc_of_errno(rc);
	}
	bsa_media_verify_answer(r, rep, done, dsc);
	return IOP_DDM_DONE;
}

static int bsa_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct bsa *s = iop_ddm_priv(d);
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	uint8_t function = h->function;

	switch (function) {
	case IOP_BSA_BLOCK_READ:
	case IOP_BSA_BLOCK_WRITE:
	case IOP_BSA_WRITE_VERIFY:
		return bsa_transfer(s, r, h);
	case IOP_BSA_MEDIA_VERIFY:
		return answer_media_verify(s, r);
	default:
		return answer_status(s, r, function);
	}
}

static int bsa_params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	const struct bsa *s = iop_ddm_priv(d);
	uint64_t info[IOP_BSA_INFO_FIELDS] = {
		[IOP_BSA_INFO_BLOCK_SIZE] = s->be.block_size,
		[IOP_BSA_INFO_CAPACITY] = s->be.capacity,
		[IOP_BSA_INFO_BACKEND] = s->be.kind,
	};
	uint64_t stats[IOP_BSA_STAT_FIELDS] = {
		[IOP_BSA_STAT_RING_IOS] = s->be.st.ring_ios,
		[IOP_BSA_STAT_LOOP_CALLS] = s->be.st.loop_calls,
		[IOP_BSA_STAT_BOUNCED] = s->be.st.bounced,
		[IOP_BSA_STAT_BOUNCE_BYTES] = s->be.st.bounce_bytes,
		[IOP_BSA_STAT_DIRECT] = s->be.direct,
		[IOP_BSA_STAT_IDLE_WAIT] = s->idle_wait,
		[IOP_BSA_STAT_IDLE_WAITS] = s->be.st.idle_waits,
	};
	const uint64_t *g;
	unsigned n;

	if (group == IOP_BSA_PARAMS_DEVICE_INFO) {
		g = info;
		n = IOP_BSA_INFO_FIELDS;
	} else if (group == IOP_BSA_PARAMS_STATS) {
		g = stats;
		n = IOP_BSA_STAT_FIELDS;
	} else {
		return -ENOENT;
	}
	if (n > max)
		n = max;
	for (unsigned i = 0; i < n; i++)
		fields[i] = g[i];
	return (int)n;
}

/*
 * A file on io_uring where it was asked for (io=uring); where the ring
 * cannot be set up, the file backend as it was opened, said in one line.
 */
static int open_file(struct bsa *s, const struct bsa_config *c)
{
	int rc = bsa_backend_file_open(&s->be, c);

	if (rc != 0 || c->io == BSA_IO_SYNC)
		return rc;
	rc = bsa_backend_uring_attach(&s->be);
	if (rc == 0) {
		rc = bsa_inflight_init(s);
		if (rc != 0)
			s->be.ops->close(&s->be);
		return rc;
	}
	fprintf(stderr, "bsa: %s: io_uring not available (%s): using preadv/pwritev\n",
		c->path, strerror(-rc));
	return 0;
}

/* The backend closed (waiting for what its ring has in flight), and its slots gone. */
static void bsa_fini_backend(struct bsa *s)
{
	s->be.ops->close(&s->be);
	bsa_inflight_fini(s);
}

static int bsa_init(struct iop_ddm *d, const char *params)
{
	struct bsa *s = iop_ddm_priv(d);
	struct bsa_config c;
	int rc = bsa_config_parse(params, &c);

	if (rc != 0)
		return rc;
	/* Aligned: with direct=1 the kernel reads into them with O_DIRECT. */
	if (posix_memalign((void **)&s->scratch, BSA_BUFFER_ALIGN, BSA_SCRATCH_BYTES) != 0)
		return -ENOMEM;
	if (c.direct &&
	    posix_memalign((void **)&s->bounce, BSA_BUFFER_ALIGN, BSA_SCRATCH_BYTES) != 0) {
		free(s->scratch);
		s->scratch = NULL;
		return -ENOMEM;
	}
	rc = c.kind == IOP_BSA_BACKEND_FILE ? open_file(s, &c) : bsa_backend_ram_open(&s->be, &c);
	/* idle=wait on a ring (not one that fell back to the system calls). */
	if (rc == 0 && c.idle == BSA_IDLE_WAIT && s->io != NULL) {
		s->idle_wait = s->be.timed_waits;
		if (!s->idle_wait)
			fprintf(stderr, "bsa: %s: idle=wait: this kernel cannot bound a wait in "
				"io_uring_enter (no IORING_FEAT_EXT_ARG, Linux 5.11): the loop "
				"spins\n", c.path);
	}
	if (rc == 0 && s->be.direct && s->be.dio_mem_align > BSA_BUFFER_ALIGN) {
		fprintf(stderr, "bsa: %s: direct=1: buffers must be aligned to %u bytes, more than "
			"the %u the DDM's are\n", c.path, s->be.dio_mem_align, BSA_BUFFER_ALIGN);
		bsa_fini_backend(s);
		rc = -EINVAL;
	}
	if (rc != 0) {
		free(s->scratch);
		free(s->bounce);
		s->scratch = NULL;
		s->bounce = NULL;
	}
	return rc;
}

/* A reap error: said once; the requests in flight stay held, never answered for it. */
static int reaped(struct bsa *s, int n)
{
	if (n >= 0) {
		s->reap_failed = false;
		return n;
	}
	if (!s->reap_failed)
		fprintf(stderr, "bsa: io_uring: taking completions: %s: %u requests held until "
			"it works again\n", strerror(-n), s->io_busy);
	s->reap_failed = true;
	return 0;
}

/*
 * idle=wait: on a turn of the loop that has done nothing so far
 * (iop_ddm_loop_idle), with I/O in flight, the poll sleeps in
 * io_uring_enter until a completion comes (BSA_IDLE_WAIT_US at most), as
 * fio's io_uring engine does, rather than spin. Where the kernel's io-wq
 * workers do the I/O (buffered writes, files whose reads cannot go without
 * blocking) and the loop's CPU is one they need, the spinning loop would
 * take the time they run in. A turn that took or answered requests never
 * sleeps: more may follow them, and its replies are still to be posted.
 */
static int bsa_poll(struct iop_ddm *d)
{
	struct bsa *s = iop_ddm_priv(d);
	long wait_us = 0;

	if (s->io == NULL)
		return 0;
	if (s->idle_wait && s->io_busy != 0 && iop_ddm_loop_idle(d))
		wait_us = BSA_IDLE_WAIT_US;
	return reaped(s, bsa_inflight_poll(s, wait_us));
}

/* Quiesce and reset: done once nothing is in flight; asked again on the next turn until then. */
static int bsa_drain(struct iop_ddm *d)
{
	struct bsa *s = iop_ddm_priv(d);

	if (s->io == NULL)
		return 0;
	reaped(s, bsa_inflight_poll(s, 0));
	return s->io_busy == 0 ? 0 : -EAGAIN;
}

/* Failed waits in a row before fini takes the ring for broken (1 ms apart). */
#define BSA_BROKEN_TRIES 1000u

static void bsa_fini(struct iop_ddm *d)
{
	struct bsa *s = iop_ddm_priv(d);
	unsigned fails = 0;

	/*
	 * Requests in flight are answered as they complete: the kernel must be
	 * done with their buffers before the runtime may answer anything. A
	 * failing wait is tried again; a ring that fails every wait for a second
	 * is broken, and what it holds is abandoned, never answered.
	 */
	while (s->io != NULL && s->io_busy != 0) {
		int n = bsa_inflight_poll(s, BSA_WAIT_FOREVER);

		if (n >= 0) {
			fails = 0;
			continue;
		}
		reaped(s, n);
		if (++fails == BSA_BROKEN_TRIES) {
			bsa_inflight_abandon(s);
			break;
		}
		usleep(1000);
	}
	bsa_fini_backend(s);
	free(s->scratch);
	free(s->bounce);
	s->scratch = NULL;
	s->bounce = NULL;
}

static const struct iop_ddm_ops bsa_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "bsa",
	.class_id = IOP_CLASS_RANDOM_BLOCK_STORAGE,
	.identity = "bsa",
	.functions = bsa_functions,
	.n_functions = sizeof(bsa_functions),
	.priv_size = sizeof(struct bsa),
	.init = bsa_init,
	.handle = bsa_handle,
	.poll = bsa_poll,
	.params_get = bsa_params_get,
	.quiesce = bsa_drain,
	.reset = bsa_drain,
	.fini = bsa_fini,
};

IOP_DDM_REGISTER(bsa_ops)
