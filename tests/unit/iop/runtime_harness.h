/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A host and an IOP in one thread, for deterministic runtime tests in the
 * SPDK manner: the test posts requests on a channel as a host would, turns
 * the runtime's poll loops by hand, and reads the replies.
 */
#ifndef IOP_RUNTIME_HARNESS_H
#define IOP_RUNTIME_HARNESS_H

#include <string.h>

#include <rte_byteorder.h>

#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_runtime.h"
#include "iop_test.h"
#include "iop_window.h"

struct harness {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_channel ch;
	unsigned lcores;
	uint64_t in_free0, out_free0; /* free bytes before anything ran */
};

/* A reply as the host sees it, its frame already freed. */
struct seen_reply {
	struct iop_msg_hdr hdr;
	uint8_t status;
	uint16_t dsc;
	uint8_t fail_code;       /* FAIL replies */
	uint32_t preserved_mfa;  /* FAIL replies */
	uint32_t words[32];      /* the first words, for payload checks */
};

static inline uint64_t heap_free_bytes(struct iop_heap *h)
{
	struct iop_heap_stats s;

	iop_heap_cache_flush(h);
	iop_heap_stats(h, &s);
	return s.bytes_free;
}

static inline void harness_up(struct harness *t, const struct iop_window_opts *wo,
			      const struct iop_runtime_ddm *ddms, unsigned n, unsigned lcores)
{
	struct iop_runtime_config cfg = { 0 };
	char err[256] = "";

	memset(t, 0, sizeof(*t));
	t->w = iop_window_create(wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->w);
	cfg.window = t->w;
	cfg.lcores = lcores;
	cfg.iop_id = 7;
	cfg.ddms = ddms;
	cfg.n_ddms = n;
	t->rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (t->rt == NULL)
		fprintf(stderr, "iop_runtime_create: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(t->rt);
	t->lcores = lcores;
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(t->w, &t->ch), 0);
	t->in_free0 = heap_free_bytes(iop_window_inbound(t->w));
	t->out_free0 = heap_free_bytes(iop_window_outbound(t->w));
}

/*
 * The host leaves channel ch, as iopd would see it leave once the runtime
 * is done with it: closed, its replies freed, the slot reclaimed, which
 * gives back the frames left on its free lists. A channel a test has
 * already reclaimed (or that is another opening now) is left alone.
 */
static inline void harness_leave(struct harness *t, struct iop_channel *ch)
{
	struct iop_channel now;

	iop_channel_close(t->w, ch);
	if (iop_channel_lookup(t->w, ch->id, &now) != IOP_CHANNEL_CLOSED ||
	    now.generation != ch->generation)
		return;
	iop_channel_free_replies(t->w, &now);
	CU_ASSERT_EQUAL(iop_channel_reclaim(t->w, ch->id, ch->generation), 0);
}

/* Every frame is back where it started, once the host has left. */
static inline void harness_down(struct harness *t)
{
	harness_leave(t, &t->ch);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(t->w)), t->in_free0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(t->w)), t->out_free0);
	iop_runtime_destroy(t->rt);
	iop_window_close(t->w);
}

/* One turn of every lcore. @return work done. */
static inline int harness_turn(struct harness *t)
{
	int work = 0;

	for (unsigned l = 0; l < t->lcores; l++)
		work += iop_runtime_poll(t->rt, l);
	return work;
}

/* A request frame of `words` words with this header; the rest zero. */
static inline uint32_t *harness_request(struct harness *t, uint16_t target, uint8_t function,
					unsigned words, uint32_t transaction)
{
	uint32_t *f = iop_heap_alloc(iop_window_inbound(t->w), words * 4);
	struct iop_msg_hdr m = {
		.version = IOP_MSG_VERSION_1_5,
		.size_words = (uint16_t)words,
		.target_tid = target,
		.initiator_tid = IOP_TID_HOST,
		.function = function,
		.initiator_context = 0xC0FFEE00u,
		.transaction_context = transaction,
	};

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(f, 0, words * 4);
	iop_msg_hdr_encode(&m, f);
	return f;
}

static inline uint32_t harness_post(struct harness *t, uint32_t *f)
{
	uint32_t mfa = iop_window_mfa(t->w, f);

	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(t->ch.to_iop, &mfa, 1), 1);
	return mfa;
}

/* Read and free one reply if there is one. @return 1 or 0. */
static inline int harness_take(struct harness *t, struct seen_reply *s)
{
	uint32_t mfa;
	uint32_t *r;
	size_t block;

	if (iop_mfa_ring_take(t->ch.to_host, &mfa, 1) == 0)
		return 0;
	r = iop_window_frame_block(t->w, mfa, &block);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r);
	memset(s, 0, sizeof(*s));
	iop_msg_hdr_decode(r, &s->hdr);
	CU_ASSERT((size_t)s->hdr.size_words * 4 <= block); /* a reply fits its frame */
	for (unsigned i = 0; i < 32 && i < s->hdr.size_words; i++)
		s->words[i] = rte_le_to_cpu_32(r[i]);
	if (s->hdr.flags & IOP_MSG_FAIL) {
		uint8_t severity;

		CU_ASSERT_EQUAL(iop_fail_reply_decode(r, &s->fail_code, &severity, &s->preserved_mfa),
				0);
	} else {
		CU_ASSERT_EQUAL(iop_reply_status(r, &s->status, &s->dsc), 0);
	}
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_outbound(t->w), r, block), 0);
	return 1;
}

/* Turn the loops until a reply comes (at most `turns` turns). @return 1 or 0. */
static inline int harness_wait(struct harness *t, struct seen_reply *s, unsigned turns)
{
	for (unsigned i = 0; i < turns; i++) {
		harness_turn(t);
		if (harness_take(t, s))
			return 1;
	}
	return 0;
}

/* Post a request and wait for its reply. */
static inline int harness_call(struct harness *t, uint16_t target, uint8_t function,
			       unsigned words, uint32_t transaction, struct seen_reply *s)
{
	harness_post(t, harness_request(t, target, function, words, transaction));
	return harness_wait(t, s, 100);
}

/*
 * Take replies until `last` (exclusive): each must carry the next
 * TransactionContext from `first`. @return the next one expected, `last`
 * when all came in order.
 */
static inline uint32_t harness_take_in_order(struct harness *t, uint32_t first, uint32_t last)
{
	struct seen_reply s;

	while (first < last && harness_wait(t, &s, 20)) {
		CU_ASSERT_EQUAL(s.hdr.transaction_context, first);
		first++;
	}
	return first;
}

/* What a host that breaks the rules posts to its own reply ring. */
#define HARNESS_JUNK_MFA 0xDEAD0000u

/* Fill the channel's reply ring with junk, as a misbehaving host would. */
static inline void harness_fill_reply_ring(struct harness *t)
{
	uint32_t junk = HARNESS_JUNK_MFA;

	while (iop_mfa_ring_post(t->ch.to_host, &junk, 1) == 1)
		;
}

/* Take everything in the reply ring back out: it must all be the junk. */
static inline void harness_drain_junk(struct harness *t)
{
	uint32_t mfa;

	while (iop_mfa_ring_take(t->ch.to_host, &mfa, 1) == 1)
		CU_ASSERT_EQUAL(mfa, HARNESS_JUNK_MFA);
}

#endif /* IOP_RUNTIME_HARNESS_H */
