/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One turn of an lcore's poll loop: take request MFAs from the channels it
 * owns and from other lcores, make sure each names a live frame that passes
 * validation, hand it to the target's lcore, answer what the runtime answers
 * for every target, and call the DDM for the rest. Nothing is dropped: a
 * request that cannot go on now (no reply frame, a full ring) waits on the
 * lcore's retry list, a reply that finds its ring full waits on the lcore's
 * held list, and both are tried again on every turn.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include <rte_byteorder.h>
#include <rte_prefetch.h>

#include "iop_channel.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_window.h"
#include "runtime_impl.h"

/*
 * A step every request takes, inlined into its callers even where the
 * compiler would not (it has two): a call and its register saves cost about
 * as much as the step.
 */
#define PATH_INLINE inline __attribute__((always_inline))

static struct iop_request *request_get(struct iop_lcore *lc)
{
	struct iop_request *r = lc->free_requests;

	lc->free_requests = r->next;
	lc->n_free--;
	*r = (struct iop_request){ .lc = lc, .in_use = true };
	return r;
}

static void request_put(struct iop_lcore *lc, struct iop_request *r)
{
	r->in_use = false;
	r->next = lc->free_requests;
	lc->free_requests = r;
	lc->n_free++;
}

void dispatch_release(struct iop_lcore *lc, struct iop_request *r)
{
	DDM_STAT_SUB(r->ddm->stats.in_flight, 1);
	request_put(lc, r);
}

static void retry_push(struct iop_lcore *lc, struct iop_request *r, enum request_step step)
{
	r->step = step;
	r->queued = true;
	r->next = NULL;
	if (lc->retry_tail != NULL)
		lc->retry_tail->next = r;
	else
		lc->retry_head = r;
	lc->retry_tail = r;
}

/* This loop's view of slot c, looked up again only when the slot's word has changed. */
static inline const struct chan_view *chan_view(struct iop_lcore *lc, unsigned c)
{
	struct chan_view *v = &lc->chans[c];
	uint64_t word = atomic_load_explicit(v->word, memory_order_acquire);

	if (word != v->seen) {
		v->state = iop_channel_lookup(lc->rt->w, c, &v->ch);
		v->seen = (uint64_t)v->ch.generation << 32 | (uint32_t)v->state;
	}
	return v;
}

/* Is the opening a reply was made for still there to take it? */
static bool reply_wanted(const struct chan_view *v, uint32_t generation)
{
	return (v->state == IOP_CHANNEL_OPEN || v->state == IOP_CHANNEL_CLOSED) &&
	       v->ch.generation == generation;
}

/* A reply for a host that left: back to the heap. */
static void drop_reply(struct iop_lcore *lc, uint32_t mfa)
{
	struct iop_heap *out = lc->rt->map.outbound;
	void *p = iop_window_map_reply(&lc->rt->map, mfa);

	iop_heap_free(out, p, iop_heap_allocated_size(out, p));
	STAT_ADD(lc->rt->stats.replies_dropped, 1);
}

/*
 * Post one reply, or say the ring is full. A reply for a host that left is
 * freed. The request's credit goes back only once its reply is in the ring
 * (or dropped): until then the channel is not idle, so iopd never reclaims
 * a slot a reply is still on its way to.
 */
static bool try_post(struct iop_lcore *lc, const struct held_reply *h)
{
	const struct chan_view *v = chan_view(lc, h->channel);

	if (!reply_wanted(v, h->generation)) {
		drop_reply(lc, h->mfa);
	} else if (iop_mfa_ring_post(v->ch.to_host, &h->mfa, 1) != 1) {
		return false;
	}
	/* An intermediate reply (MULTIPLE) leaves the request, and its credit, in the IOP. */
	if (h->final)
		atomic_fetch_sub(&lc->rt->channel_in_flight[h->channel].n, 1);
	return true;
}

/*
 * Post what is held, oldest first. A channel whose ring is still full keeps
 * its later replies behind its first, so each host sees its replies in order.
 */
static unsigned flush_held(struct iop_lcore *lc)
{
	uint64_t blocked[IOP_CHANNELS_MAX / 64] = { 0 }; /* channels found full this pass */
	unsigned kept = 0, posted = 0;

	for (unsigned i = 0; i < lc->n_held; i++) {
		const struct held_reply *h = &lc->held[i];
		uint64_t bit = 1ull << (h->channel % 64);

		if (!(blocked[h->channel / 64] & bit) && try_post(lc, h)) {
			posted++;
			continue;
		}
		blocked[h->channel / 64] |= bit;
		lc->held[kept++] = *h;
	}
	lc->n_held = kept;
	STAT_SUB(lc->rt->stats.replies_held, posted);
	return posted;
}

static bool grow_held(struct iop_lcore *lc)
{
	unsigned cap = lc->held_cap != 0 ? lc->held_cap * 2 : LCORE_HELD_REPLIES;
	struct held_reply *more = realloc(lc->held, cap * sizeof(*more));

	if (more == NULL)
		return false;
	lc->held = more;
	lc->held_cap = cap;
	return true;
}

static void list_pending(struct iop_lcore *lc);

/* Hold a reply whose ring is full (or behind one that is), in order. */
static void hold(struct iop_lcore *lc, const struct held_reply *h)
{
	/*
	 * Never dropped, and the loop never waits here: the list grows. It holds
	 * replies only for a host that filled its own reply ring, and credits keep
	 * each channel's share within its ring's size, so it stays bounded (beyond
	 * that only by intermediate replies, which their DDM bounds: a LAN DDM
	 * sends no more than the buckets a host posted).
	 */
	if (lc->n_held == lc->held_cap && !grow_held(lc)) {
		/*
		 * Out of memory: the one case left in which the loop waits for a
		 * host. Posting held replies gives their credits back, so the
		 * frames a flush has yet to list go on their lists first.
		 */
		list_pending(lc);
		while (lc->n_held == lc->held_cap)
			if (flush_held(lc) == 0)
				sched_yield();
	}
	lc->held[lc->n_held++] = *h;
	STAT_ADD(lc->rt->stats.replies_held, 1);
}

static bool channel_has_held(const struct iop_lcore *lc, uint32_t channel)
{
	for (unsigned i = 0; i < lc->n_held; i++)
		if (lc->held[i].channel == channel)
			return true;
	return false;
}

/*
 * Post a run of replies for one channel (one opening) as one burst: the reply
 * ring's head and tail move once, not once per reply. What does not fit is
 * held, in order, behind whatever was held before. @return the final replies
 * posted (or dropped): the credits the caller gives back.
 */
static unsigned post_run(struct iop_lcore *lc, const struct held_reply *run, unsigned n)
{
	uint32_t mfas[LCORE_OUTBOX];
	const struct chan_view *v = chan_view(lc, run[0].channel);
	unsigned posted = 0, finals = 0;

	if (!reply_wanted(v, run[0].generation)) {
		for (unsigned i = 0; i < n; i++)
			drop_reply(lc, run[i].mfa);
		posted = n;
	} else if (!channel_has_held(lc, run[0].channel)) {
		for (unsigned i = 0; i < n; i++)
			mfas[i] = run[i].mfa;
		posted = iop_mfa_ring_post(v->ch.to_host, mfas, n);
	}
	/* An intermediate reply (MULTIPLE) leaves the request, and its credit, in the IOP. */
	for (unsigned i = 0; i < posted; i++)
		finals += run[i].final;
	for (unsigned i = posted; i < n; i++)
		hold(lc, &run[i]);
	return finals;
}

/*
 * Does an answered request's frame go back on its channel's inbound free
 * list? When this loop is the list's producer, the frame is of the list's
 * size and the opening it came from is still there. Else it goes to the heap.
 */
static bool goes_on_list(struct iop_lcore *lc, const struct done_frame *d)
{
	return d->block == lc->rt->in_list_block && lc->chans[d->channel].owned &&
	       reply_wanted(chan_view(lc, d->channel), d->generation);
}

/*
 * Put frames of one channel (one opening), already tagged as the host's, on
 * its inbound free list, as many as it has room for below IOP_FREE_LIST_HOLD;
 * the rest go to the heap.
 */
static void list_frames(struct iop_lcore *lc, const struct done_frame *d, unsigned n)
{
	struct iop_runtime *rt = lc->rt;
	const struct chan_view *v = chan_view(lc, d[0].channel);
	uint32_t mfas[LCORE_OUTBOX];
	unsigned posted = 0;

	if (reply_wanted(v, d[0].generation)) {
		unsigned listed = iop_mfa_ring_count(v->ch.free_to_host);
		unsigned room = listed < IOP_FREE_LIST_HOLD ? IOP_FREE_LIST_HOLD - listed : 0;

		for (unsigned i = 0; i < n; i++)
			mfas[i] = iop_window_map_mfa(&rt->map, d[i].frame);
		posted = iop_mfa_ring_post(v->ch.free_to_host, mfas, RTE_MIN(room, n));
	}
	for (unsigned i = posted; i < n; i++)
		iop_heap_free(rt->map.inbound, d[i].frame, d[i].block);
}

/* The frames a flush tagged for the free lists, on them: a post per run of one channel's. */
static void list_pending(struct iop_lcore *lc)
{
	const struct done_frame *d = lc->to_list;
	unsigned n = lc->n_to_list;

	for (unsigned i = 0, end; i < n; i = end) {
		for (end = i + 1; end < n && d[end].channel == d[i].channel &&
				  d[end].generation == d[i].generation;
		     end++)
			;
		list_frames(lc, &d[i], end - i);
	}
	lc->n_to_list = 0;
}

/*
 * The frame the next reply on this channel takes from free_to_iop, for
 * writing: the host wrote its mark last, so it is on the way while this
 * request is answered instead of on the next one's.
 */
static inline void prefetch_next_reply_frame(const struct iop_runtime *rt,
					     const struct chan_view *v)
{
	uint32_t mfa;
	void *p;

	if (iop_mfa_ring_peek(v->ch.free_to_iop, &mfa) &&
	    (p = iop_window_map_reply(&rt->map, mfa)) != NULL)
		__builtin_prefetch(p, 1, 3);
}

uint32_t *dispatch_reply_frame(struct iop_lcore *lc, uint32_t channel, uint32_t generation,
			       uint16_t owner, size_t bytes)
{
	struct iop_runtime *rt = lc->rt;
	struct iop_heap *out = rt->map.outbound;
	uint32_t mfa;

	if (bytes <= rt->out_list_block && lc->chans[channel].owned) {
		const struct chan_view *v = chan_view(lc, channel);

		if (reply_wanted(v, generation) &&
		    iop_mfa_ring_take_one(v->ch.free_to_iop, &mfa)) {
			uint32_t *p = iop_window_map_reply(&rt->map, mfa);

			/*
			 * The host put it there: a frame it was given for this
			 * channel and marked as done with, or it is not used
			 * (and not freed: it is not known to be anybody's to
			 * free). The mark goes at once, before the reply is
			 * built over it.
			 */
			if (p != NULL && iop_heap_view_block_tag(&rt->out_blocks, p) == owner &&
			    p[0] == rte_cpu_to_le_32(IOP_FREE_FRAME_MARK)) {
				p[0] = 0;
				prefetch_next_reply_frame(rt, v);
				return p;
			}
			STAT_ADD(rt->stats.bad_mfas, 1);
		}
	}
	return iop_heap_alloc_tagged(out, bytes, owner);
}

/* Credits a run of replies gives back: its final replies, posted or dropped. */
struct run_credits {
	uint32_t channel;
	unsigned finals;
};

unsigned dispatch_flush_outbox(struct iop_lcore *lc)
{
	struct iop_runtime *rt = lc->rt;
	const struct held_reply *o = lc->outbox;
	unsigned n = lc->n_outbox, start = 0, n_credits = 0;
	struct run_credits credits[LCORE_OUTBOX];

	/*
	 * The answered requests' frames first (dispatch_free_frame_later()):
	 * each is the host's again before any reply shows, freed in the heap
	 * or tagged as the host's. Those for the free lists go on them after
	 * the replies are posted, so that the lists' indices, which the host
	 * reads and writes too, are not on a reply's way; their requests'
	 * credits stay taken until then, so iopd cannot reclaim a channel
	 * whose list a frame is still on its way to.
	 */
	for (unsigned i = 0; i < lc->n_done; i++) {
		const struct done_frame *d = &lc->done[i];

		if (goes_on_list(lc, d)) {
			iop_heap_tag_store(&rt->in_blocks.base, d->frame, lc->chans[d->channel].ch.owner);
			lc->to_list[lc->n_to_list++] = *d;
		} else {
			iop_heap_free(rt->map.inbound, d->frame, d->block);
		}
	}
	lc->n_done = 0;
	while (start < n) {
		uint32_t channel = o[start].channel, generation = o[start].generation;
		unsigned end = start + 1, finals;

		while (end < n && o[end].channel == channel && o[end].generation == generation)
			end++;
		finals = post_run(lc, &o[start], end - start);
		if (finals != 0)
			credits[n_credits++] = (struct run_credits){ channel, finals };
		start = end;
	}
	lc->n_outbox = 0;
	list_pending(lc);
	for (unsigned i = 0; i < n_credits; i++)
		atomic_fetch_sub(&rt->channel_in_flight[credits[i].channel].n, credits[i].finals);
	return n;
}

/* A FAIL reply: the request frame stays the host's, to find by PreservedMFA and free. */
static void fail(struct iop_lcore *lc, struct iop_request *r, uint8_t code, uint8_t severity)
{
	uint32_t *p = dispatch_reply_frame(lc, r->channel, r->generation, r->owner,
					   IOP_FAIL_REPLY_WORDS * 4);

	if (p == NULL) {
		r->fail_code = code;
		r->fail_severity = severity;
		retry_push(lc, r, STEP_FAIL);
		return;
	}
	iop_fail_reply_build(r->hdr_valid ? &r->hdr : NULL, code, severity, lc->rt->iop_id, r->mfa,
			     p);
	STAT_ADD(lc->rt->stats.fail_replies, 1);
	dispatch_post_reply(lc, r->channel, r->generation, iop_window_map_mfa(&lc->rt->map, p),
			    true);
	request_put(lc, r);
}

void dispatch_answer(struct iop_lcore *lc, struct iop_request *r, uint8_t req_status,
		     uint16_t dsc)
{
	if (request_reply_now(r, req_status, dsc) == -ENOMEM) {
		r->answer_status = req_status;
		r->answer_dsc = dsc;
		/* It holds its place in the target's order, as a DDM's retry does. */
		r->ddm->retry_waiting++;
		r->ddm->blocked_pass = lc->retry_pass;
		retry_push(lc, r, STEP_ANSWER);
	}
}

static PATH_INLINE void call_handle(struct iop_lcore *lc, struct iop_request *r)
{
	struct iop_ddm *d = r->ddm;
	int rc;

	r->in_handle = true;
	rc = r->runtime_params ? params_handle(d, r) : d->ops->handle(d, r);
	r->in_handle = false;
	if (r->answered) {
		/* Replied, whatever it then said: done. */
		dispatch_release(lc, r);
		return;
	}
	if (rc == IOP_DDM_PENDING)
		return; /* the DDM answers later */
	if (rc == IOP_DDM_RETRY) {
		DDM_STAT_ADD(d->stats.retries, 1);
		d->retry_waiting++;
		d->blocked_pass = lc->retry_pass;
		retry_push(lc, r, STEP_HANDLE);
		return;
	}
	/* Finished or failed without a reply: the host still gets exactly one. */
	DDM_STAT_ADD(d->stats.missing_replies, 1);
	dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, IOP_DSC_UNKNOWN_ERROR);
}

static void dispatch_to(struct iop_lcore *lc, struct iop_request *r, struct iop_ddm *d);

/* The request is on its target's lcore: count it, then answer it or hand it to the DDM. */
static PATH_INLINE void deliver(struct iop_lcore *lc, struct iop_request *r, struct iop_ddm *d)
{
	struct iop_runtime *rt = lc->rt;
	uint8_t fn = r->hdr.function;

	r->ddm = d;
	/* Delivered: the frame is the IOP's now, not the host's to lose if it dies. */
	iop_heap_tag_store(&rt->in_blocks.base, r->frame, IOP_OWNER_IOP);
	DDM_STAT_ADD(d->stats.requests, 1);
	DDM_STAT_ADD(d->stats.in_flight, 1);
	if (fn == IOP_UTIL_NOP) {
		/* No reply: the frame simply goes back, and so does the credit. */
		atomic_fetch_sub(&rt->channel_in_flight[r->channel].n, 1);
		iop_heap_free(rt->map.inbound, r->frame, r->block);
		dispatch_release(lc, r);
		return;
	}
	if (event_is_runtimes(d, fn)) {
		/*
		 * Before the state and control checks: a host may register with a
		 * quiesced target, to be told when it is enabled again.
		 */
		event_register(lc, d, r);
		return;
	}
	if (d->retry_waiting != 0) {
		/* Behind the DDM's earlier requests: each target sees its requests in order. */
		d->retry_waiting++;
		retry_push(lc, r, STEP_HANDLE);
		return;
	}
	if (dispatch_held_for_control(d)) {
		/* Quiesce, reset or destroy under way: refused, so it cannot starve them. */
		dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				IOP_DSC_DEVICE_NOT_AVAILABLE);
		return;
	}
	dispatch_to(lc, r, d);
}

/* What the runtime answers for every target, or else the DDM's handle. */
static void dispatch_to(struct iop_lcore *lc, struct iop_request *r, struct iop_ddm *d)
{
	struct iop_runtime *rt = lc->rt;
	uint8_t fn = r->hdr.function;

	if (d != &rt->exec && atomic_load_explicit(&rt->state, memory_order_acquire) !=
				      IOP_STATE_OPERATIONAL) {
		dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				IOP_DSC_DEVICE_NOT_AVAILABLE);
		return;
	}
	if (params_is_runtimes(d, fn)) {
		r->runtime_params = true;
		call_handle(lc, r);
		return;
	}
	if (!ddm_accepts(d, fn)) {
		DDM_STAT_ADD(d->stats.unsupported, 1);
		dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				iop_function_defined(d->ops->class_id, fn) ?
					IOP_DSC_UNSUPPORTED_FUNCTION :
					IOP_DSC_UNKNOWN_FUNCTION);
		return;
	}
	call_handle(lc, r);
}

static bool forward(struct iop_lcore *lc, struct iop_request *r, unsigned to)
{
	struct forwarded f = { r->mfa, r->channel, r->generation, r->owner };

	if (rte_ring_enqueue_burst_elem(lc->rt->lcores[to]->forward, &f, sizeof(f), 1, NULL) != 1)
		return false;
	request_put(lc, r);
	return true;
}

/*
 * A request is a live block of the inbound heap: replies and anything else
 * are not. The MFA is a host's, and a host is not trusted: it may name a
 * free block or the middle of one. So its block is looked up in the heap's
 * allocation bits, the one record of what is allocated and how large, and
 * never taken from anything the host says (the frame's MessageSize is
 * checked against it, not used for it). Inline: the view's look is a few
 * instructions, and a call with its register saves would cost as many again.
 */
static inline uint32_t *request_frame(struct iop_runtime *rt, uint32_t mfa, size_t *block)
{
	uint32_t *p = iop_window_map_request(&rt->map, mfa);

	if (p == NULL || (*block = iop_heap_view_allocated_size(&rt->in_blocks, p)) == 0)
		return NULL;
	return p;
}

/* Lines of a message prefetched past its header: a PacketSend of 64 buffers, a BSA request. */
#define PREFETCH_LINES 16u

/*
 * The message's lines after its header, on their way while the request is
 * counted and its reply frame taken: the host's CPU wrote them last. Only the
 * first PREFETCH_LINES: a frame of copied packets runs to tens of KiB,
 * which the hardware streams better than a burst of prefetches into L1.
 */
static inline void prefetch_message(const struct iop_request *r)
{
	unsigned end = RTE_MIN((unsigned)r->hdr.size_words * 4,
			       (PREFETCH_LINES + 1) * RTE_CACHE_LINE_SIZE);

	for (unsigned off = RTE_CACHE_LINE_SIZE; off < end; off += RTE_CACHE_LINE_SIZE)
		rte_prefetch0((const char *)r->frame + off);
}

/*
 * A request MFA from a host: it must name a live frame that passes
 * validation and a target that exists; then it goes to the target's lcore.
 */
static void accept(struct iop_lcore *lc, uint32_t channel, uint32_t generation, uint16_t owner,
		   uint32_t mfa)
{
	struct iop_runtime *rt = lc->rt;
	struct iop_request *r = request_get(lc);
	struct iop_frame_verdict v;
	struct iop_ddm *d;

	r->mfa = mfa;
	r->channel = channel;
	r->generation = generation;
	r->owner = owner;
	r->frame = request_frame(rt, mfa, &r->block);
	if (r->frame == NULL) {
		STAT_ADD(rt->stats.bad_mfas, 1);
		fail(lc, r, IOP_FAIL_UNKNOWN, IOP_FAIL_SEV_PATH_ERROR);
		return;
	}
	/* Decoded as checked: one read of the header, which the host may still be writing. */
	if (iop_frame_validate_decode(r->frame, r->block, &r->hdr, &v) != 0) {
		/* Echo what can be read of the header, so the host can route the FAIL. */
		r->hdr_valid = r->block >= IOP_MSG_HDR_WORDS * 4;
		fail(lc, r, v.failure_code, v.severity);
		return;
	}
	r->hdr_valid = true;
	d = rt->by_tid[r->hdr.target_tid];
	if (d == NULL || !atomic_load(&d->live)) {
		fail(lc, r, IOP_FAIL_INVALID_TARGET_ID, IOP_FAIL_SEV_PATH_ERROR);
		return;
	}
	if (d->lcore != lc->index) {
		/* Behind any that wait already, so requests cross lcores in order. */
		if (lc->forward_waiting != 0 || !forward(lc, r, d->lcore)) {
			lc->forward_waiting++;
			retry_push(lc, r, STEP_FORWARD);
		}
		return;
	}
	prefetch_message(r);
	deliver(lc, r, d);
}

/* A request another lcore forwarded: checked there; the frame is re-read here. */
static void accept_forwarded(struct iop_lcore *lc, const struct forwarded *f)
{
	struct iop_runtime *rt = lc->rt;
	struct iop_request *r = request_get(lc);
	struct iop_frame_verdict v;
	struct iop_ddm *d;

	r->mfa = f->mfa;
	r->channel = f->channel;
	r->generation = f->generation;
	r->owner = (uint16_t)f->owner;
	r->frame = request_frame(rt, f->mfa, &r->block);
	if (r->frame == NULL) {
		STAT_ADD(rt->stats.bad_mfas, 1);
		fail(lc, r, IOP_FAIL_UNKNOWN, IOP_FAIL_SEV_PATH_ERROR);
		return;
	}
	/* The host may have rewritten the frame since: never trust it twice. */
	if (iop_frame_validate_decode(r->frame, r->block, &r->hdr, &v) != 0) {
		fail(lc, r, v.failure_code, v.severity);
		return;
	}
	r->hdr_valid = true;
	prefetch_message(r);
	d = rt->by_tid[r->hdr.target_tid];
	if (d == NULL || !atomic_load(&d->live) || d->lcore != lc->index) {
		fail(lc, r, IOP_FAIL_INVALID_TARGET_ID, IOP_FAIL_SEV_PATH_ERROR);
		return;
	}
	deliver(lc, r, d);
}

static unsigned run_retries(struct iop_lcore *lc)
{
	struct iop_request *r = lc->retry_head;
	bool forward_blocked = false;
	unsigned n = 0;

	/* Only what waited before this turn: a request that must wait again goes behind. */
	lc->retry_head = lc->retry_tail = NULL;
	lc->retry_pass++;
	lc->retried_again = 0;
	while (r != NULL) {
		struct iop_request *next = r->next;

		n++;
		r->queued = false;
		switch (r->step) {
		case STEP_HANDLE:
			r->ddm->retry_waiting--;
			if (!atomic_load(&r->ddm->live)) {
				/* destroyed while the request waited */
				dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
						IOP_DSC_DEVICE_NOT_AVAILABLE);
			} else if (r->ddm->blocked_pass == lc->retry_pass) {
				/* an earlier one of this DDM had to wait again: so does this */
				r->ddm->retry_waiting++;
				retry_push(lc, r, STEP_HANDLE);
			} else if (dispatch_held_for_control(r->ddm)) {
				/* quiesce, reset or destroy under way: refused, in order */
				dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
						IOP_DSC_DEVICE_NOT_AVAILABLE);
			} else {
				dispatch_to(lc, r, r->ddm);
			}
			break;
		case STEP_ANSWER:
			r->ddm->retry_waiting--;
			if (r->ddm->blocked_pass == lc->retry_pass) {
				r->ddm->retry_waiting++;
				retry_push(lc, r, STEP_ANSWER);
			} else {
				dispatch_answer(lc, r, r->answer_status, r->answer_dsc);
			}
			break;
		case STEP_FAIL:
			fail(lc, r, r->fail_code, r->fail_severity);
			break;
		case STEP_FORWARD:
			if (forward_blocked ||
			    !forward(lc, r, lc->rt->by_tid[r->hdr.target_tid]->lcore)) {
				forward_blocked = true;
				retry_push(lc, r, STEP_FORWARD);
			} else {
				lc->forward_waiting--;
			}
			break;
		}
		/* Pushed back: still waiting, and nothing done for it (a slot of the array). */
		lc->retried_again += r->queued;
		r = next;
	}
	return n;
}

/*
 * Descriptors kept for requests other loops forward here: two loops whose
 * descriptors all held requests waiting to be forwarded to each other would
 * otherwise never take from their forward rings again.
 */
#define FORWARD_RESERVE POLL_BURST

/*
 * Find this loop's open and closing slots again if any slot of the window
 * changed since the last look. A slot that changes after it is listed is
 * still seen at once: chan_view() rereads each listed slot's word.
 */
static void refresh_active(struct iop_lcore *lc)
{
	/* Acquire: pairs with the release after a slot's change (channel.c). */
	uint64_t changes = atomic_load_explicit(lc->chan_changes, memory_order_acquire);
	unsigned channels;

	if (changes == lc->chan_changes_seen && ++lc->turns_since_scan < CHAN_RESCAN_TURNS)
		return;
	lc->chan_changes_seen = changes;
	lc->turns_since_scan = 0;
	channels = iop_window_channels(lc->rt->w);
	lc->n_active = 0;
	for (unsigned c = lc->index; c < channels; c += lc->rt->n_lcores) {
		const struct chan_view *v = chan_view(lc, c);

		if (v->state == IOP_CHANNEL_OPEN || v->state == IOP_CHANNEL_CLOSED)
			lc->active[lc->n_active++] = (uint16_t)c;
	}
}

static unsigned take_channels(struct iop_lcore *lc)
{
	struct iop_runtime *rt = lc->rt;
	unsigned work = 0;

	/* Requests already wait to be forwarded: take no more until they have gone. */
	if (lc->forward_waiting != 0 || lc->n_free <= FORWARD_RESERVE)
		return 0;

	refresh_active(lc);
	for (unsigned a = 0; a < lc->n_active; a++) {
		unsigned c = lc->active[a];
		const struct chan_view *v = chan_view(lc, c);
		uint32_t mfas[POLL_BURST], generation;
		uint16_t owner;
		unsigned n, want;
		int credit;

		if (v->state != IOP_CHANNEL_OPEN && v->state != IOP_CHANNEL_CLOSED)
			continue;
		if (lc->forward_waiting != 0 || lc->n_free <= FORWARD_RESERVE)
			break; /* as above, found during this pass */
		/* Nothing posted: no atomic work on an idle channel's counter. */
		if (iop_mfa_ring_count(v->ch.to_iop) == 0) {
			/*
			 * Time on hand: what the next reply frame's take from
			 * the outbound free list will read, into this core's
			 * cache, so that a batch the host put there meanwhile is
			 * not fetched on a reply's way.
			 */
			if (rt->out_list_block != 0)
				iop_mfa_ring_prefetch_take(v->ch.free_to_iop);
			continue;
		}
		/*
		 * Take only what this loop can hold and what the reply ring has
		 * room for: the rest waits in the host's ring (back-pressure).
		 */
		credit = (int)rte_ring_free_count(v->ch.to_host) -
			 (int)atomic_load_explicit(&rt->channel_in_flight[c].n, memory_order_relaxed);
		if (credit <= 0)
			continue;
		want = RTE_MIN(POLL_BURST, lc->n_free - FORWARD_RESERVE);
		want = RTE_MIN(want, (unsigned)credit);
		/*
		 * Counted before taken, so that iop_runtime_channel_idle() never
		 * sees an empty ring and a zero count while MFAs are in our hands.
		 */
		atomic_fetch_add(&rt->channel_in_flight[c].n, want);
		/* Still the same opening? Else iopd may be reclaiming it: hands off. */
		if (atomic_load_explicit(v->word, memory_order_acquire) != v->seen) {
			atomic_fetch_sub(&rt->channel_in_flight[c].n, want);
			continue;
		}
		n = iop_mfa_ring_take(v->ch.to_iop, mfas, want);
		atomic_fetch_sub(&rt->channel_in_flight[c].n, want - n);
		/*
		 * Each frame's header, which the host's CPU wrote last, on its
		 * way here while the ones before it are dispatched: the misses
		 * of a burst overlap instead of coming one after another.
		 */
		for (unsigned i = 0; i < n; i++) {
			const void *p = iop_window_map_request(&rt->map, mfas[i]);

			if (p != NULL)
				rte_prefetch0(p);
		}
		/* Copied: posting replies meanwhile may look the slot up again. */
		generation = v->ch.generation;
		owner = v->ch.owner;
		for (unsigned i = 0; i < n; i++)
			accept(lc, c, generation, owner, mfas[i]);
		work += n;
	}
	return work;
}

static unsigned take_forwarded(struct iop_lcore *lc)
{
	struct forwarded f[POLL_BURST];
	unsigned n = rte_ring_dequeue_burst_elem(lc->forward, f, sizeof(f[0]),
						 RTE_MIN(POLL_BURST, lc->n_free), NULL);

	for (unsigned i = 0; i < n; i++)
		accept_forwarded(lc, &f[i]);
	return n;
}

/*
 * Has the executive asked d for control work? Nearly every turn it has not:
 * a load here, not a call (executive_run_control loads it again, acquire).
 */
static inline bool control_asked(struct iop_ddm *d)
{
	return atomic_load_explicit(&d->control, memory_order_relaxed) != CONTROL_NONE;
}

/* Events raised for d, or waiting for a reply frame? As above: event_poll looks again. */
static inline bool events_to_send(struct iop_ddm *d)
{
	return d->events_waiting || atomic_load_explicit(&d->events_raised, memory_order_relaxed);
}

bool iop_ddm_loop_idle(struct iop_ddm *d)
{
	struct iop_lcore *lc = d->rt->lcores[d->lcore];

	if (lc->turn_busy || lc->idle_told)
		return false;
	lc->idle_told = true;
	return true;
}

int iop_runtime_poll(struct iop_runtime *rt, unsigned lcore)
{
	struct iop_lcore *lc;
	unsigned work = 0, stuck = 0;

	if (rt == NULL || lcore >= rt->n_lcores)
		return -EINVAL;
	lc = rt->lcores[lcore];
	lc->idle_told = false;
	if (lc->n_held != 0)
		work += flush_held(lc);
	if (lc->retry_head != NULL) {
		work += run_retries(lc);
		stuck = lc->retried_again;
	}
	/*
	 * Mostly empty (one loop, or DDMs that get their own channels'
	 * requests): two loads, not a call that sets up a burst's room.
	 */
	if (rte_ring_count(lc->forward) != 0)
		work += take_forwarded(lc);
	work += take_channels(lc);
	for (unsigned i = 0; i < rt->n_ddms; i++) {
		struct iop_ddm *d = &rt->ddms[i];

		if (d->lcore != lcore)
			continue;
		if (control_asked(d))
			executive_run_control(lc, d);
		if (!atomic_load_explicit(&d->live, memory_order_relaxed))
			continue;
		if (d->ops->poll != NULL) {
			int n;

			lc->turn_busy = work > stuck;
			n = d->ops->poll(d);

			work += n > 0 ? (unsigned)n : 0;
		}
		if (events_to_send(d))
			work += event_poll(lc, d);
	}
	if (lcore == rt->exec.lcore) {
		work += (unsigned)rt->exec.ops->poll(&rt->exec);
		if (events_to_send(&rt->exec))
			work += event_poll(lc, &rt->exec);
	}
	if (lc->n_outbox != 0)
		dispatch_flush_outbox(lc);
	return (int)work;
}

int iop_runtime_lcore_loop(struct iop_runtime *rt, unsigned lcore, const _Atomic int *stop)
{
	while (!atomic_load_explicit(stop, memory_order_acquire))
		if (iop_runtime_poll(rt, lcore) < 0)
			return -EINVAL;
	return 0;
}

void dispatch_fail_held(struct iop_lcore *lc, struct iop_ddm *d)
{
	for (unsigned i = 0; i < LCORE_REQUESTS; i++) {
		struct iop_request *r = &lc->requests[i];

		/*
		 * Held by the DDM (pending), not waiting on the retry list, which
		 * answers its own, and not abandoned by it (its buffers may still
		 * be written).
		 */
		if (r->in_use && r->ddm == d && !r->answered && !r->queued && !r->abandoned &&
		    r->frame != NULL)
			dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
					IOP_DSC_DEVICE_NOT_AVAILABLE);
	}
}
