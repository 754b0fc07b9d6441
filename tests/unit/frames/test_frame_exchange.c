/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A frame's whole life between two processes, as iopool runs it: a forked
 * host attaches to the window by descriptor, allocates frames of random
 * sizes from the inbound heap, fills and posts them on its channel; the
 * parent, as the IOP, finds each frame's block from its MFA, validates it,
 * answers from the outbound heap and frees the request; the host checks every
 * reply and frees it. Some requests carry their data in a host buffer named by
 * an SGL, which the IOP walks within the window's bounds; some of those name
 * the ring area and are answered with DSC INVALID_OFFSET. Some requests are
 * malformed on purpose: those come back as FAIL replies naming the request by
 * PreservedMFA, and the host frees its own request. A small outbound heap and
 * small rings, so exhaustion and back-pressure happen all the time. At the end
 * both heaps are back to their starting free bytes. It runs with heaps made
 * with IOP_HEAP_F_NO_CACHE and with default options, which give the inbound
 * heap thread caches (of 64- to 256-byte blocks at its size).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_sgl.h"
#include "iop_test.h"
#include "iop_window.h"

#define FRAMES 20000u
#define DDM_TID 0x010u
#define BAD_EVERY 7u /* every 7th request has a bad version */
#define SGL_EVERY 5u /* of the rest, every 5th carries its data in an SGL buffer */
#define BAD_SGL_EVERY 11u /* and of those, every 11th names the ring area */
#define SGL_WORDS 6u /* header, then one simple element */
#define REPLY_WORDS 6u /* status word, then the request's payload checksum */
#define INBOUND_BYTES (4u << 20) /* large enough for thread caches */
#define OUTBOUND_BYTES (16u << 10) /* small enough to run out often; no caches */

static uint32_t payload_word(uint32_t seq, uint32_t j)
{
	uint32_t x = seq * 2654435761u ^ j * 40503u;

	return x ^ x >> 15;
}

/* The checksum both sides compute over words 4.. of a request. */
static uint32_t checksum(const uint32_t *words, unsigned size_words)
{
	uint32_t sum = 0;

	for (unsigned j = IOP_MSG_HDR_WORDS; j < size_words; j++)
		sum = sum * 31 + words[j];
	return sum;
}

/* The same checksum over a data buffer's bytes. */
static uint32_t checksum_bytes(const uint8_t *p, uint32_t n)
{
	uint32_t sum = 0;

	for (uint32_t i = 0; i < n; i++)
		sum = sum * 31 + p[i];
	return sum;
}

enum kind { PLAIN, BAD_VERSION, SGL, BAD_SGL };

static enum kind kind_of(uint32_t seq)
{
	if (seq % BAD_EVERY == 0)
		return BAD_VERSION;
	if (seq % SGL_EVERY != 0)
		return PLAIN;
	return seq % BAD_SGL_EVERY == 0 ? BAD_SGL : SGL;
}

/* ---- the host (child process) ---- */

struct host {
	struct iop_window *w;
	struct iop_channel ch;
	uint32_t *seq_of;      /* by MFA / min block: the request's sequence number */
	uint32_t *sum_of;      /* by sequence number: expected checksum */
	uint16_t *words_of;    /* by sequence number: its size in words */
	uint8_t **buf_of;      /* by sequence number: its SGL data buffer */
	uint16_t *buf_len_of;  /* by sequence number: that buffer's length */
	uint8_t *answered;     /* by sequence number */
	size_t min_block;
	uint32_t ring_offset;
	unsigned replies;
	unsigned errors;
};

static unsigned slot_of(const struct host *h, uint32_t mfa)
{
	return mfa / h->min_block;
}

static void host_take_replies(struct host *h)
{
	uint32_t burst[32];
	unsigned n = iop_mfa_ring_take(h->ch.to_host, burst, 32);

	for (unsigned i = 0; i < n; i++) {
		uint32_t *r = iop_window_frame(h->w, burst[i]);
		struct iop_msg_hdr m;
		uint8_t status, code, severity;
		uint16_t dsc;
		uint32_t preserved, seq;

		if (r == NULL) {
			h->errors++;
			continue;
		}
		iop_msg_hdr_decode(r, &m);
		if (m.flags & IOP_MSG_FAIL) {
			/* The request is still ours: find it by PreservedMFA, free it. */
			if (iop_fail_reply_decode(r, &code, &severity, &preserved) != 0 ||
			    code != IOP_FAIL_INVALID_VERSION) {
				h->errors++;
			} else {
				seq = h->seq_of[slot_of(h, preserved)];
				if (kind_of(seq) != BAD_VERSION || h->answered[seq] ||
				    iop_heap_free(iop_window_inbound(h->w),
						  iop_window_frame(h->w, preserved),
						  h->words_of[seq] * 4u) != 0)
					h->errors++;
				h->answered[seq] = 1;
			}
			iop_heap_free(iop_window_outbound(h->w), r, IOP_FAIL_REPLY_WORDS * 4);
		} else {
			seq = m.transaction_context;
			if (seq >= FRAMES || h->answered[seq] || kind_of(seq) == BAD_VERSION ||
			    m.initiator_context != (0xC0DE0000u | h->ch.id) ||
			    m.target_tid != DDM_TID || iop_reply_status(r, &status, &dsc) != 0)
				h->errors++;
			else if (kind_of(seq) == BAD_SGL ?
				 status != IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER ||
				 dsc != IOP_DSC_INVALID_OFFSET :
				 status != IOP_REPLY_STATUS_SUCCESS || r[5] != h->sum_of[seq])
				h->errors++;
			else
				h->answered[seq] = 1;
			/* The request is the IOP's to free; its data buffer is ours. */
			if (seq < FRAMES && h->buf_of[seq] != NULL &&
			    iop_heap_free(iop_window_inbound(h->w), h->buf_of[seq],
					  h->buf_len_of[seq]) != 0)
				h->errors++;
			if (iop_heap_free(iop_window_outbound(h->w), r, REPLY_WORDS * 4) != 0)
				h->errors++;
		}
		h->replies++;
	}
	if (n == 0)
		sched_yield();
}

static void *host_alloc(struct host *h, size_t bytes)
{
	void *p;

	/* An empty heap is the IOP's back-pressure too: take replies until it frees. */
	while ((p = iop_heap_alloc(iop_window_inbound(h->w), bytes)) == NULL)
		host_take_replies(h);
	return p;
}

/* A request whose data is a host buffer of 1 to 4096 bytes, named by an SGL. */
static uint32_t *host_build_sgl(struct host *h, uint32_t seq, struct iop_msg_hdr *m)
{
	uint16_t len = (uint16_t)(1 + random() % 4096);
	uint8_t *buf = host_alloc(h, len);
	uint32_t *f = host_alloc(h, SGL_WORDS * 4);
	uint32_t offset = kind_of(seq) == BAD_SGL ? h->ring_offset : iop_window_mfa(h->w, buf);
	struct iop_sgl_writer sw;

	for (uint16_t i = 0; i < len; i++)
		buf[i] = (uint8_t)payload_word(seq, i);
	m->size_words = SGL_WORDS;
	m->sgl_offset = IOP_MSG_HDR_WORDS;
	iop_msg_hdr_encode(m, f);
	if (iop_sgl_writer_init(&sw, f + IOP_MSG_HDR_WORDS, SGL_WORDS - IOP_MSG_HDR_WORDS) != 0 ||
	    iop_sgl_add_simple(&sw, offset, len, IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER) != 0 ||
	    iop_sgl_finish(&sw) != 2)
		h->errors++;
	h->buf_of[seq] = buf;
	h->buf_len_of[seq] = len;
	h->sum_of[seq] = checksum_bytes(buf, len);
	h->words_of[seq] = SGL_WORDS;
	return f;
}

static uint32_t *host_build(struct host *h, uint32_t seq, unsigned size_words)
{
	uint32_t *f;
	struct iop_msg_hdr m = {
		.version = kind_of(seq) == BAD_VERSION ? 2 : IOP_MSG_VERSION_1_5,
		.size_words = (uint16_t)size_words,
		.target_tid = DDM_TID,
		.initiator_tid = IOP_TID_HOST,
		.function = IOP_UTIL_PARAMS_GET,
		.initiator_context = 0xC0DE0000u | h->ch.id,
		.transaction_context = seq,
	};

	if (kind_of(seq) == SGL || kind_of(seq) == BAD_SGL)
		return host_build_sgl(h, seq, &m);
	f = host_alloc(h, size_words * 4);
	iop_msg_hdr_encode(&m, f);
	for (unsigned j = IOP_MSG_HDR_WORDS; j < size_words; j++)
		f[j] = payload_word(seq, j);
	h->sum_of[seq] = checksum(f, size_words);
	h->words_of[seq] = (uint16_t)size_words;
	return f;
}

static int host_main(int fd, unsigned long seed)
{
	struct host h = { 0 };
	struct iop_window_info info;

	alarm(120); /* never outlives a parent that gave up */
	srandom((unsigned)seed);
	h.w = iop_window_attach(fd);
	if (h.w == NULL || iop_channel_open(h.w, &h.ch) != 0)
		return 2;
	h.min_block = iop_heap_min_block(iop_window_inbound(h.w));
	iop_window_info(h.w, &info);
	h.ring_offset = (uint32_t)info.ring_offset;
	h.buf_of = calloc(FRAMES, sizeof(*h.buf_of));
	h.buf_len_of = calloc(FRAMES, sizeof(*h.buf_len_of));
	h.seq_of = calloc(info.total_bytes / h.min_block, sizeof(*h.seq_of));
	h.sum_of = calloc(FRAMES, sizeof(*h.sum_of));
	h.words_of = calloc(FRAMES, sizeof(*h.words_of));
	h.answered = calloc(FRAMES, 1);
	for (uint32_t seq = 0; seq < FRAMES; seq++) {
		/* 4 to 512 words: 16 bytes to 2 KiB. */
		unsigned size_words = 4 + (unsigned)(random() % 509);
		uint32_t *f = host_build(&h, seq, size_words);
		uint32_t mfa = iop_window_mfa(h.w, f);

		h.seq_of[slot_of(&h, mfa)] = seq;
		while (iop_mfa_ring_post(h.ch.to_iop, &mfa, 1) == 0)
			host_take_replies(&h); /* a full ring: retry, never drop */
	}
	while (h.replies < FRAMES)
		host_take_replies(&h);
	for (uint32_t seq = 0; seq < FRAMES; seq++)
		h.errors += !h.answered[seq];
	iop_channel_close(h.w, &h.ch);
	/* Blocks held in this process's caches go back before it exits. */
	iop_heap_cache_flush(iop_window_inbound(h.w));
	iop_heap_cache_flush(iop_window_outbound(h.w));
	return h.errors == 0 ? 0 : 3;
}

/* ---- the IOP (parent process) ---- */

struct iop_side {
	struct iop_window *w;
	struct iop_sgl_bounds bounds;
	unsigned handled, failed, sgl_refused, errors;
};

/* Checksum the request's data: inline payload, or the buffers its SGL names. */
static int iop_request_sum(struct iop_side *s, const uint32_t *f, const struct iop_msg_hdr *m,
			   uint32_t *sum, uint16_t *dsc)
{
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	int rc;

	if (m->sgl_offset == 0) {
		*sum = checksum(f, m->size_words);
		return 0;
	}
	*sum = 0;
	if (iop_sgl_iter_init(&it, f, m->size_words * 4u, m->sgl_offset, &s->bounds) != 0)
		return -EINVAL;
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		const uint8_t *data = e.kind == IOP_SGL_KIND_SIMPLE ?
				      (const uint8_t *)s->bounds.window + e.offset : e.data;

		for (uint32_t i = 0; i < e.count; i++)
			*sum = *sum * 31 + data[i];
	}
	*dsc = it.dsc;
	return rc;
}

static uint32_t *iop_alloc_reply(struct iop_side *s, unsigned words)
{
	uint32_t *r;

	/* Replies wait for the host to free earlier ones; none is dropped. */
	while ((r = iop_heap_alloc(iop_window_outbound(s->w), words * 4)) == NULL)
		sched_yield();
	return r;
}

static void iop_handle(struct iop_side *s, struct rte_ring *to_host, uint32_t mfa)
{
	struct iop_frame_verdict v;
	struct iop_msg_hdr m;
	size_t block = 0;
	uint32_t *f = iop_window_frame_block(s->w, mfa, &block);
	uint32_t *r, reply_mfa;

	if (f == NULL) {
		s->errors++; /* the host posted only live frames */
		return;
	}
	if (iop_frame_validate(f, block, &v) != 0) {
		iop_msg_hdr_decode(f, &m);
		r = iop_alloc_reply(s, IOP_FAIL_REPLY_WORDS);
		iop_fail_reply_build(&m, v.failure_code, v.severity, 0, mfa, r);
		s->failed++;
	} else {
		uint32_t sum = 0;
		uint16_t dsc = IOP_DSC_SUCCESS;
		int rc;

		iop_msg_hdr_decode(f, &m);
		rc = iop_request_sum(s, f, &m, &sum, &dsc);
		r = iop_alloc_reply(s, REPLY_WORDS);
		/* A list the IOP refuses moves no data: ERROR_NO_DATA_TRANSFER and why. */
		iop_reply_build(&m, m.target_tid,
				rc == 0 ? IOP_REPLY_STATUS_SUCCESS :
					  IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				rc == 0 ? IOP_DSC_SUCCESS : dsc, r, REPLY_WORDS);
		s->sgl_refused += rc != 0;
		r[5] = sum;
		if (iop_heap_free(iop_window_inbound(s->w), f, block) != 0)
			s->errors++;
	}
	reply_mfa = iop_window_mfa(s->w, r);
	while (iop_mfa_ring_post(to_host, &reply_mfa, 1) == 0)
		sched_yield();
	s->handled++;
}

static void exchange(const struct iop_heap_opts *heap_opts)
{
	struct iop_window_opts o = { .inbound_bytes = INBOUND_BYTES,
				     .outbound_bytes = OUTBOUND_BYTES,
				     .channels = 4, .ring_entries = 32, .heap = heap_opts };
	struct iop_side s = { .w = iop_window_create(&o) };
	struct iop_heap_stats in0, out0, in1, out1;
	struct iop_channel ch;
	unsigned long seed = iop_test_seed();
	int state, status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s.w);
	CU_ASSERT_EQUAL_FATAL(iop_window_sgl_bounds(s.w, &s.bounds), 0);
	iop_heap_stats(iop_window_inbound(s.w), &in0);
	iop_heap_stats(iop_window_outbound(s.w), &out0);
	pid = fork();
	if (pid == 0)
		_exit(host_main(iop_window_fd(s.w), seed));
	CU_ASSERT_FATAL(pid > 0);

	while ((state = iop_channel_lookup(s.w, 0, &ch)) == IOP_CHANNEL_FREE ||
	       state == IOP_CHANNEL_CLAIMED)
		sched_yield();
	for (;;) {
		uint32_t burst[32];
		unsigned n = iop_mfa_ring_take(ch.to_iop, burst, 32);

		for (unsigned i = 0; i < n; i++)
			iop_handle(&s, ch.to_host, burst[i]);
		/* Closed and drained: the host has every reply it wanted. */
		if (n == 0 && iop_channel_lookup(s.w, 0, &ch) == IOP_CHANNEL_CLOSED &&
		    iop_mfa_ring_count(ch.to_iop) == 0)
			break;
		if (n == 0)
			sched_yield();
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	CU_ASSERT_EQUAL(s.errors, 0);
	CU_ASSERT_EQUAL(s.handled, FRAMES);
	CU_ASSERT_EQUAL(s.failed, (FRAMES + BAD_EVERY - 1) / BAD_EVERY);
	CU_ASSERT(s.sgl_refused > 0); /* each one checked by the host */
	CU_ASSERT_EQUAL(iop_channel_reclaim(s.w, 0, ch.generation), 0);

	iop_heap_cache_flush(iop_window_inbound(s.w));
	iop_heap_cache_flush(iop_window_outbound(s.w));
	iop_heap_stats(iop_window_inbound(s.w), &in1);
	iop_heap_stats(iop_window_outbound(s.w), &out1);
	CU_ASSERT_EQUAL(in1.bytes_free, in0.bytes_free);
	CU_ASSERT_EQUAL(out1.bytes_free, out0.bytes_free);
	CU_ASSERT_EQUAL(in1.largest_free, in0.largest_free); /* coalesced back whole */
	CU_ASSERT_EQUAL(out1.largest_free, out0.largest_free);
	CU_ASSERT_EQUAL(in1.refused_frees + out1.refused_frees, 0);
	CU_ASSERT_EQUAL(iop_heap_check(iop_window_inbound(s.w)), 0);
	CU_ASSERT_EQUAL(iop_heap_check(iop_window_outbound(s.w)), 0);
	iop_window_close(s.w);
}

static void test_exchange_uncached(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };

	exchange(&uncached);
}

/* Default heap options: thread caches. */
static void test_exchange_default(void)
{
	const struct iop_heap_opts uncached = { .flags = IOP_HEAP_F_NO_CACHE };

	/* What this run is for: the inbound heap has caches, their slots cost room. */
	CU_ASSERT(iop_heap_footprint(INBOUND_BYTES, NULL) >
		  iop_heap_footprint(INBOUND_BYTES, &uncached));
	exchange(NULL);
}

static const struct iop_test_case exchange_tests[] = {
	{ "two_processes_uncached_heaps", test_exchange_uncached },
	{ "two_processes_default_heaps", test_exchange_default },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "frame_exchange", exchange_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
