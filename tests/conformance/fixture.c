/* SPDX-License-Identifier: BSD-3-Clause */
/* The runtime under test on a loop thread, and raw host channels to it. */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fixture.h"
#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_mfa_ring.h"
#include "iop_window.h"

struct conform_target conform;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *loop_main(void *arg)
{
	struct fixture *fx = arg;

	iop_runtime_lcore_loop(fx->rt, 0, &fx->stop);
	/* What the loop freed into its thread's cache goes back before the heaps are counted. */
	iop_heap_cache_flush(iop_window_inbound(fx->w));
	iop_heap_cache_flush(iop_window_outbound(fx->w));
	return NULL;
}

int fixture_up(struct fixture *fx)
{
	/* Small heaps, so that a leak shows, and room for many_channels' queue pairs. */
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20,
				      .channels = 8, .ring_entries = 64 };
	struct iop_runtime_ddm ddm = { conform.ops->name, conform.params, 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .iop_id = 1, .ddms = &ddm, .n_ddms = 1 };
	char err[256] = "";
	int rc;

	memset(fx, 0, sizeof(*fx));
	fx->w = iop_window_create(&wo);
	if (fx->w == NULL) {
		rc = -errno;
		fprintf(stderr, "iop-conform: window: %s\n", strerror(errno));
		return rc;
	}
	cfg.window = fx->w;
	fx->rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (fx->rt == NULL) {
		rc = -errno;
		fprintf(stderr, "iop-conform: runtime: %s\n", err);
		iop_window_close(fx->w);
		return rc;
	}
	fx->tid = iop_runtime_ddm_tid(fx->rt, 0);
	fixture_heap_free(fx, &fx->in_free0, &fx->out_free0);
	fx->h = iop_host_attach_runtime(fx->rt, err, sizeof(err));
	if (fx->h == NULL) {
		fprintf(stderr, "iop-conform: attach: %s\n", err);
		iop_runtime_destroy(fx->rt);
		iop_window_close(fx->w);
		return -EIO;
	}
	atomic_store(&fx->stop, 0);
	rc = pthread_create(&fx->loop, NULL, loop_main, fx);
	if (rc != 0) {
		fixture_down(fx);
		return -rc;
	}
	fx->running = true;
	return 0;
}

void fixture_stop(struct fixture *fx)
{
	if (fx->h != NULL)
		iop_host_detach(fx->h, CONFORM_TIMEOUT_MS);
	fx->h = NULL;
	if (fx->running) {
		atomic_store(&fx->stop, 1);
		pthread_join(fx->loop, NULL);
		fx->running = false;
	}
}

void fixture_down(struct fixture *fx)
{
	fixture_stop(fx);
	iop_runtime_destroy(fx->rt);
	iop_window_close(fx->w);
}

void fixture_heap_free(const struct fixture *fx, uint64_t *in, uint64_t *out)
{
	struct iop_heap_stats s;

	iop_heap_cache_flush(iop_window_inbound(fx->w));
	iop_heap_cache_flush(iop_window_outbound(fx->w));
	iop_heap_stats(iop_window_inbound(fx->w), &s);
	*in = s.bytes_free;
	iop_heap_stats(iop_window_outbound(fx->w), &s);
	*out = s.bytes_free;
}

void fixture_stats(const struct fixture *fx, struct iop_ddm_stats *s)
{
	memset(s, 0, sizeof(*s));
	iop_runtime_ddm_stats(fx->rt, fx->tid, s);
}

int raw_open(struct fixture *fx, struct raw_chan *rc, uint32_t initiator_context)
{
	memset(rc, 0, sizeof(*rc));
	rc->fx = fx;
	rc->qp = iop_qp_create(fx->h, NULL);
	if (rc->qp == NULL)
		return -errno;
	rc->initiator_context = initiator_context;
	rc->next_transaction = 0x7E570000u;
	return 0;
}

void raw_close(struct raw_chan *rc)
{
	iop_qp_destroy(rc->qp, CONFORM_TIMEOUT_MS);
}

uint32_t *raw_frame(struct raw_chan *rc, size_t bytes)
{
	uint32_t *f = iop_qp_frame_alloc(rc->qp, bytes);

	rc->posted_mfa = 0; /* the request posted last is no longer the one just posted */
	if (f != NULL)
		memset(f, 0, bytes);
	return f;
}

uint32_t raw_header(struct raw_chan *rc, uint32_t *f, unsigned words, uint16_t tid,
		    uint8_t function)
{
	struct iop_msg_hdr m = {
		.version = IOP_MSG_VERSION_1_5,
		.size_words = words,
		.target_tid = tid,
		.initiator_tid = IOP_TID_HOST,
		.function = function,
		.initiator_context = rc->initiator_context,
		.transaction_context = rc->next_transaction++,
	};

	iop_msg_hdr_encode(&m, f);
	return m.transaction_context;
}

uint32_t raw_post(struct raw_chan *rc, uint32_t *f)
{
	uint32_t mfa = iop_window_mfa(rc->fx->w, f);

	if (iop_mfa_ring_post(iop_qp_channel(rc->qp)->to_iop, &mfa, 1) != 1)
		return 0;
	rc->posted_mfa = mfa;
	rc->posted_tc = le32toh(f[3]);
	return mfa;
}

int raw_take(struct raw_chan *rc, struct raw_reply *r, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	struct iop_msg_hdr m;
	uint32_t *p, preserved;

	memset(r, 0, sizeof(*r));
	while (iop_mfa_ring_take(iop_qp_channel(rc->qp)->to_host, &r->mfa, 1) == 0) {
		if (now_ms() >= end)
			return -ETIMEDOUT;
		sched_yield(); /* the loop may share this CPU */
	}
	p = iop_host_reply_claim(rc->fx->h, r->mfa, &r->block);
	if (p == NULL)
		return 0; /* no frame: words stays 0, which every check refuses */
	iop_msg_hdr_decode(p, &m);
	r->words = m.size_words;
	if (r->words * 4u > r->block)
		r->words = r->block / 4;
	if (r->words > CONFORM_REPLY_MAX)
		r->words = CONFORM_REPLY_MAX;
	memcpy(r->w, p, r->words * 4u);
	if ((m.flags & IOP_MSG_FAIL) && r->block >= IOP_FAIL_REPLY_WORDS * 4 &&
	    iop_fail_reply_decode(p, NULL, NULL, &preserved) == 0) {
		void *req = iop_window_frame(rc->fx->w, preserved);

		/*
		 * The request came back: ours to free if it is the one just posted
		 * and not yet answered. A PreservedMFA naming anything else (a
		 * bucket, a data buffer, a frame the runtime freed) is not freed:
		 * the block may be in use again, and freeing it would free it twice.
		 */
		if (preserved != 0 && preserved == rc->posted_mfa && req != NULL &&
		    iop_heap_tag(iop_window_inbound(rc->fx->w), req) == iop_host_owner(rc->fx->h)) {
			iop_qp_frame_free(rc->qp, req);
			rc->posted_mfa = 0;
		}
	} else if (rc->posted_mfa != 0 && m.transaction_context == rc->posted_tc &&
		   (!(m.flags & IOP_MSG_MULTIPLE) || (m.flags & IOP_MSG_LAST))) {
		rc->posted_mfa = 0; /* answered: its frame is the runtime's to free */
	}
	iop_heap_free(iop_window_outbound(rc->fx->w), p, r->block);
	return 0;
}

int raw_call(struct raw_chan *rc, uint32_t *f, struct raw_reply *r)
{
	if (raw_post(rc, f) == 0)
		return -EAGAIN;
	return raw_take(rc, r, CONFORM_TIMEOUT_MS);
}

uint32_t *raw_ddm_request(struct raw_chan *rc)
{
	uint32_t *f = raw_frame(rc, 32);

	if (f != NULL)
		raw_header(rc, f, 5, rc->fx->tid, conform.function);
	return f;
}

uint32_t raw_contexts(struct raw_chan *rc, uint32_t *f)
{
	uint32_t tc = rc->next_transaction++;

	f[2] = htole32(rc->initiator_context);
	f[3] = htole32(tc);
	return tc;
}

void *raw_buf(struct raw_chan *rc, size_t bytes, uint8_t fill)
{
	void *b = iop_host_frame_alloc(rc->fx->h, bytes);

	rc->posted_mfa = 0; /* as in raw_frame(): the block may be the last request's */
	if (b != NULL)
		memset(b, fill, bytes);
	return b;
}

void raw_buf_free(struct raw_chan *rc, void *buf)
{
	if (buf != NULL)
		iop_host_frame_free(rc->fx->h, buf);
}
