/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A frame's whole life between two processes, as iopool runs it: a forked
 * host attaches to the window by descriptor, allocates frames of random
 * sizes from the inbound heap, fills and posts them on its channel; the
 * parent, as the IOP, finds each frame's block from its MFA, validates it,
 * answers from the outbound heap and frees the request; the host checks every
 * reply and frees it. Some requests are malformed on purpose: those come back
 * as FAIL replies naming the request by PreservedMFA, and the host frees its
 * own request. Small heaps and rings, so exhaustion and back-pressure happen
 * all the time. At the end both heaps are back to their starting free bytes.
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
#include "iop_test.h"
#include "iop_window.h"

#define FRAMES 20000u
#define DDM_TID 0x010u
#define BAD_EVERY 7u /* every 7th request has a bad version */
#define REPLY_WORDS 6u /* status word, then the request's payload checksum */

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

/* ---- the host (child process) ---- */

struct host {
	struct iop_window *w;
	struct iop_channel ch;
	uint32_t *seq_of;      /* by MFA / min block: the request's sequence number */
	uint32_t *sum_of;      /* by sequence number: expected checksum */
	uint16_t *words_of;    /* by sequence number: its size in words */
	uint8_t *answered;     /* by sequence number */
	size_t min_block;
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
				if (seq % BAD_EVERY != 0 || h->answered[seq] ||
				    iop_heap_free(iop_window_inbound(h->w),
						  iop_window_frame(h->w, preserved),
						  h->words_of[seq] * 4u) != 0)
					h->errors++;
				h->answered[seq] = 1;
			}
			iop_heap_free(iop_window_outbound(h->w), r, IOP_FAIL_REPLY_WORDS * 4);
		} else {
			seq = m.transaction_context;
			if (seq >= FRAMES || h->answered[seq] || seq % BAD_EVERY == 0 ||
			    m.initiator_context != (0xC0DE0000u | h->ch.id) ||
			    m.target_tid != DDM_TID || iop_reply_status(r, &status, &dsc) != 0 ||
			    status != IOP_REPLY_STATUS_SUCCESS || r[5] != h->sum_of[seq])
				h->errors++;
			else
				h->answered[seq] = 1;
			if (iop_heap_free(iop_window_outbound(h->w), r, REPLY_WORDS * 4) != 0)
				h->errors++;
		}
		h->replies++;
	}
	if (n == 0)
		sched_yield();
}

static uint32_t *host_build(struct host *h, uint32_t seq, unsigned size_words)
{
	uint32_t *f;
	struct iop_msg_hdr m = {
		.version = seq % BAD_EVERY == 0 ? 2 : IOP_MSG_VERSION_1_5,
		.size_words = (uint16_t)size_words,
		.target_tid = DDM_TID,
		.initiator_tid = IOP_TID_HOST,
		.function = IOP_UTIL_PARAMS_GET,
		.initiator_context = 0xC0DE0000u | h->ch.id,
		.transaction_context = seq,
	};

	/* An empty heap is the IOP's back-pressure too: take replies until it frees. */
	while ((f = iop_heap_alloc(iop_window_inbound(h->w), size_words * 4)) == NULL)
		host_take_replies(h);
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
	unsigned handled, failed, errors;
};

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
		iop_msg_hdr_decode(f, &m);
		r = iop_alloc_reply(s, REPLY_WORDS);
		iop_reply_build(&m, m.target_tid, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS, r,
				REPLY_WORDS);
		r[5] = checksum(f, m.size_words);
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
	struct iop_window_opts o = { .inbound_bytes = 256 << 10, .outbound_bytes = 16 << 10,
				     .channels = 4, .ring_entries = 32, .heap = heap_opts };
	struct iop_side s = { .w = iop_window_create(&o) };
	struct iop_heap_stats in0, out0, in1, out1;
	struct iop_channel ch;
	unsigned long seed = iop_test_seed();
	int state, status;
	pid_t pid;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s.w);
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
	exchange(NULL);
}

static void test_exchange_cached(void)
{
	const struct iop_heap_opts cached = { .flags = IOP_HEAP_F_CACHED };

	exchange(&cached);
}

static const struct iop_test_case exchange_tests[] = {
	{ "two_processes_uncached_heaps", test_exchange_uncached },
	{ "two_processes_cached_heaps", test_exchange_cached },
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
