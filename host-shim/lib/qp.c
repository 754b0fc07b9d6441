/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Queue pairs: a host thread's channel and the table of its requests in
 * flight. Each posted request takes a table entry, whose index and
 * generation go out as the TransactionContext; the reply brings them back,
 * so matching it is an array index, not a search. A FAIL reply's
 * TransactionContext is not to be trusted (the frame may have been too
 * broken to read), so those are matched by PreservedMFA instead: a search,
 * but FAIL replies are rare. A UtilEventRegister's entry is a standing one:
 * it takes the events that come as intermediate replies (MULTIPLE), and
 * ends only with a final reply (the registration refused), a replacement or
 * a cancel.
 *
 * Frames of the heaps' smallest block go round between the queue pair and
 * the IOP on the channel's free lists (<iop/channel.h>) instead of through
 * the heaps: the queue pair takes request frames the IOP is done with from
 * free_to_host a batch at a time, and gives reply frames back on
 * free_to_iop a batch at a time, so that neither side reads a ring index
 * the other has just written on every request; and while it waits for a
 * single reply it does both in polls that find none, when it has time on its
 * hands, so that the lines the IOP wrote are not fetched on a request's way.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host_impl.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_mfa_ring.h"
#include "iop_window.h"

/* TransactionContext: entry index in the low bits, its generation above. */
#define KEY_INDEX_BITS 20u
#define KEY_INDEX_MASK ((1u << KEY_INDEX_BITS) - 1)
#define POLL_CHUNK 32u
/* Empty polls a call spins through before it yields between polls (a few us). */
#define CALL_SPINS 1024u
/* Frames the queue pair keeps from each free list, and gives back at once. */
#define QP_SPARES 32u
/*
 * Request frames free_to_host must hold before the queue pair takes them:
 * until then it allocates from the heap, so that the frames in circulation
 * grow to more than a batch and a take is seldom needed.
 */
#define QP_SPARES_TAKE 16u
/*
 * Requests in flight at most for a poll that finds no reply to count as time
 * on the host's hands: a host waiting for one reply is idle until it comes;
 * one with a burst in flight has the next reply on its way, and the IOP
 * writing the free lists as it answers.
 */
#define QP_WAITING 1u
/* Reply frames the queue pair keeps for free_to_iop, at most: two batches. */
#define QP_SPENT_MAX (2u * QP_SPARES)

enum entry_state {
	ENTRY_FREE = 0,
	ENTRY_WAITING,   /* posted; its reply runs the callback */
	ENTRY_ABANDONED, /* its iop_qp_call() timed out; the reply is only freed */
	ENTRY_EVENTS,    /* a UtilEventRegister: its callback runs for each event */
};

struct qp_entry {
	iop_qp_cb cb;
	void *arg;
	uint64_t posted;     /* when, in the queue pair's posts: the newest of one MFA wins */
	uint32_t mfa;        /* the request's, for FAIL replies */
	uint16_t generation; /* bumped at each use, so a stale key matches nothing */
	uint16_t tid;        /* ENTRY_EVENTS: the target registered with */
	uint8_t state;
};

struct iop_qp {
	struct iop_host *h;
	struct iop_window *w;
	struct iop_heap *in, *out;
	struct iop_window_map map; /* the window's frames in this process */
	struct iop_channel ch;
	uint32_t initiator_context; /* says a reply is for this queue pair */
	unsigned depth;
	unsigned outstanding;
	uint64_t posts;
	unsigned n_free;
	uint32_t *free_idx; /* a stack of free entry indices */
	struct qp_entry *e;
	size_t in_list_block, out_list_block; /* the free lists' frames; 0: no free lists */
	/* The lists' frames (else the smallest blocks), checked inline. */
	struct iop_heap_block_view in_blocks, out_blocks;
	unsigned n_spare, n_spent;
	bool top_up; /* spares low: take more in a poll that finds nothing */
	uint32_t *spare[QP_SPARES];   /* request frames taken from free_to_host */
	uint32_t spent[QP_SPENT_MAX]; /* reply frames' MFAs, for free_to_iop */
	struct iop_qp *next; /* the host's list */
};

static uint32_t key_of(const struct iop_qp *qp, uint32_t idx)
{
	return (uint32_t)qp->e[idx].generation << KEY_INDEX_BITS | idx;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

struct iop_qp *iop_qp_create(struct iop_host *h, const struct iop_qp_opts *opts)
{
	struct iop_qp *qp = calloc(1, sizeof(*qp));
	unsigned depth;
	int rc;

	if (qp == NULL)
		return NULL;
	rc = iop_host_channel_open(h, &qp->ch);
	if (rc != 0) {
		free(qp);
		errno = -rc;
		return NULL;
	}
	depth = opts != NULL && opts->depth != 0 ? opts->depth
						  : iop_mfa_ring_capacity(qp->ch.to_host);
	if (depth > KEY_INDEX_MASK + 1)
		depth = KEY_INDEX_MASK + 1;
	qp->e = calloc(depth, sizeof(*qp->e));
	qp->free_idx = calloc(depth, sizeof(*qp->free_idx));
	if (qp->e == NULL || qp->free_idx == NULL) {
		host_channel_close(h, &qp->ch);
		free(qp->e);
		free(qp->free_idx);
		free(qp);
		errno = ENOMEM;
		return NULL;
	}
	qp->h = h;
	qp->w = iop_host_window(h);
	qp->in = iop_window_inbound(qp->w);
	qp->out = iop_window_outbound(qp->w);
	iop_window_map(qp->w, &qp->map);
	qp->in_list_block = iop_channel_free_list_block(qp->w, qp->in);
	qp->out_list_block = iop_channel_free_list_block(qp->w, qp->out);
	/*
	 * The lists' frames, or with no lists (0) the smallest blocks: the
	 * window's heaps have both, so neither call can fail (a view that did
	 * would refuse every frame).
	 */
	(void)iop_heap_block_view(qp->in, qp->in_list_block, &qp->in_blocks);
	(void)iop_heap_block_view(qp->out, qp->out_list_block, &qp->out_blocks);
	qp->depth = depth;
	/* Pushed in reverse, so entries are handed out from index 0 up. */
	for (unsigned i = 0; i < depth; i++)
		qp->free_idx[i] = depth - 1 - i;
	qp->n_free = depth;
	qp->initiator_context = 0x49500000u ^ (qp->ch.id << 10) ^ qp->ch.generation;
	pthread_mutex_lock(&h->lock);
	qp->next = h->qps;
	h->qps = qp;
	pthread_mutex_unlock(&h->lock);
	return qp;
}

/* The frames the queue pair keeps from the free lists, back to the heaps. */
static void spares_free(struct iop_qp *qp)
{
	while (qp->n_spare != 0)
		iop_heap_free(qp->in, qp->spare[--qp->n_spare], qp->in_list_block);
	while (qp->n_spent != 0)
		iop_heap_free(qp->out, iop_window_map_reply(&qp->map, qp->spent[--qp->n_spent]),
			      qp->out_list_block);
}

static void qp_free(struct iop_qp *qp)
{
	/* Before the close: the IOP may reclaim the slot, free lists and all, at once. */
	spares_free(qp);
	host_channel_close(qp->h, &qp->ch);
	free(qp->e);
	free(qp->free_idx);
	free(qp);
}

int iop_qp_destroy(struct iop_qp *qp, unsigned timeout_ms)
{
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	struct iop_qp **p;
	int rc = 0;

	if (qp == NULL)
		return 0;
	while (qp->outstanding != 0) {
		if (iop_qp_poll(qp, POLL_CHUNK) == 0 && now_ns() >= end) {
			rc = -ETIMEDOUT;
			break;
		}
	}
	pthread_mutex_lock(&qp->h->lock);
	for (p = &qp->h->qps; *p != NULL; p = &(*p)->next)
		if (*p == qp) {
			*p = qp->next;
			break;
		}
	pthread_mutex_unlock(&qp->h->lock);
	qp_free(qp);
	return rc;
}

void host_qps_destroy(struct iop_host *h)
{
	while (h->qps != NULL) {
		struct iop_qp *qp = h->qps;

		h->qps = qp->next;
		qp_free(qp);
	}
}

struct iop_host *iop_qp_host(const struct iop_qp *qp)
{
	return qp->h;
}

const struct iop_channel *iop_qp_channel(const struct iop_qp *qp)
{
	return &qp->ch;
}

unsigned iop_qp_outstanding(const struct iop_qp *qp)
{
	return qp->outstanding;
}

/*
 * Take request frames from free_to_host, as many as the queue pair has room
 * for, once the list holds at least `least` of them. @return how many were
 * taken.
 */
static unsigned spares_take(struct iop_qp *qp, unsigned least)
{
	uint32_t mfas[QP_SPARES];
	unsigned room = QP_SPARES - qp->n_spare, n;

	if (room == 0 || iop_mfa_ring_count(qp->ch.free_to_host) < least)
		return 0;
	n = iop_mfa_ring_take(qp->ch.free_to_host, mfas, room);
	for (unsigned i = 0; i < n; i++)
		qp->spare[qp->n_spare + i] = iop_window_map_request(&qp->map, mfas[i]);
	qp->n_spare += n;
	return n;
}

/*
 * A request frame from those taken from free_to_host. At half of them, and
 * at each quarter below, a top-up is due: a look at the list costs a line the
 * IOP writes on every request, so not one look per request, and a take that
 * left fewer than half still gets its next look.
 */
static uint32_t *spare_pop(struct iop_qp *qp)
{
	if (--qp->n_spare <= QP_SPARES / 2 && qp->n_spare % (QP_SPARES / 4) == 0)
		qp->top_up = true;
	return qp->spare[qp->n_spare];
}

uint32_t *iop_qp_frame_alloc(struct iop_qp *qp, size_t bytes)
{
	uint32_t *f;

	/*
	 * Already allocated, and tagged as this host's by the IOP before it
	 * gave them back; taken once there are enough to be worth a look at
	 * the list's indices, or whatever is there when the heap has none.
	 * Down to half of them, the next poll that finds no reply takes more.
	 */
	if (bytes <= qp->in_list_block &&
	    (qp->n_spare != 0 || spares_take(qp, QP_SPARES_TAKE) != 0))
		return spare_pop(qp);
	/* iop_host_frame_alloc(), without its calls: tagged as it is allocated. */
	f = iop_heap_alloc_tagged(qp->in, bytes < 16 ? 16 : bytes, qp->h->owner);
	if (f == NULL && bytes <= qp->in_list_block && spares_take(qp, 1) != 0)
		return spare_pop(qp);

	if (f == NULL)
		errno = ENOMEM;
	return f;
}

int iop_qp_frame_free(struct iop_qp *qp, uint32_t *frame)
{
	size_t bytes = iop_heap_view_allocated_size(&qp->in_blocks, frame);

	if (bytes == 0)
		return -EFAULT;
	return iop_heap_free(qp->in, frame, bytes);
}

/*
 * A frame the queue pair may post: a live block of the inbound heap whose
 * header claims no more than the block. @return its function, or -EINVAL.
 * The frame is then known to lie in the inbound heap: its MFA is
 * iop_window_map_mfa()'s.
 */
static int check_frame(const struct iop_qp *qp, const uint32_t *frame)
{
	size_t block = iop_heap_view_allocated_size(&qp->in_blocks, frame);
	uint32_t w0, w1, words;

	if (block == 0)
		return -EINVAL;
	w0 = le32toh(frame[0]);
	w1 = le32toh(frame[1]);
	words = w0 >> 16;
	if (words < IOP_MSG_MIN_WORDS || (size_t)words * 4 > block)
		return -EINVAL;
	return (int)(w1 >> 24);
}

/* Take an entry for a request and write the contexts. @return false when the table is full. */
static bool entry_take(struct iop_qp *qp, uint32_t *frame, uint32_t mfa, iop_qp_cb cb, void *arg,
		       uint32_t *idx_out)
{
	struct qp_entry *e;
	uint32_t idx;

	if (qp->n_free == 0)
		return false;
	idx = qp->free_idx[--qp->n_free];
	e = &qp->e[idx];
	e->cb = cb;
	e->arg = arg;
	e->mfa = mfa;
	e->posted = ++qp->posts;
	e->generation = (uint16_t)((e->generation + 1) & 0xFFFu);
	e->state = ENTRY_WAITING;
	frame[2] = htole32(qp->initiator_context);
	frame[3] = htole32(key_of(qp, idx));
	*idx_out = idx;
	return true;
}

static void entry_put(struct iop_qp *qp, uint32_t idx)
{
	qp->e[idx].state = ENTRY_FREE;
	qp->e[idx].cb = NULL;
	qp->free_idx[qp->n_free++] = idx;
}

/* The IOP keeps one registration per target and channel: forget ours but `keep`. */
static void forget_registrations(struct iop_qp *qp, uint16_t tid, uint32_t keep)
{
	for (uint32_t i = 0; i < qp->depth; i++)
		if (qp->e[i].state == ENTRY_EVENTS && qp->e[i].tid == tid && i != keep)
			entry_put(qp, i);
}

/*
 * A UtilEventRegister: a standing entry for its events, or, with mask 0 (a
 * cancel, which gets no reply either), none. What was registered with the
 * target before is forgotten once this one is posted: the IOP replaces it.
 */
static int post_registration(struct iop_qp *qp, uint32_t *frame, uint32_t mfa, iop_qp_cb cb,
			     void *arg, uint32_t *idx)
{
	uint16_t tid = le32toh(frame[1]) & IOP_TID_MAX;
	bool cancel = le32toh(frame[0]) >> 16 > IOP_EVENT_MASK_WORD &&
		      le32toh(frame[IOP_EVENT_MASK_WORD]) == 0;

	if (cancel) {
		frame[2] = htole32(qp->initiator_context);
		frame[3] = 0;
		if (iop_mfa_ring_post(qp->ch.to_iop, &mfa, 1) != 1)
			return -EAGAIN;
		forget_registrations(qp, tid, UINT32_MAX);
		return 0;
	}
	if (!entry_take(qp, frame, mfa, cb, arg, idx))
		return -EAGAIN;
	if (iop_mfa_ring_post(qp->ch.to_iop, &mfa, 1) != 1) {
		entry_put(qp, *idx);
		*idx = UINT32_MAX;
		return -EAGAIN;
	}
	qp->e[*idx].state = ENTRY_EVENTS;
	qp->e[*idx].tid = tid;
	forget_registrations(qp, tid, *idx);
	return 0;
}

/* iop_qp_post(), telling which entry the request took (UINT32_MAX for a UtilNOP). */
static int post_one(struct iop_qp *qp, uint32_t *frame, iop_qp_cb cb, void *arg, uint32_t *idx)
{
	int function = check_frame(qp, frame);
	uint32_t mfa;

	*idx = UINT32_MAX;
	if (function < 0)
		return function;
	mfa = iop_window_map_mfa(&qp->map, frame);
	if (function == IOP_UTIL_NOP) /* no reply will come: nothing to wait for */
		return iop_mfa_ring_post(qp->ch.to_iop, &mfa, 1) == 1 ? 0 : -EAGAIN;
	if (function == IOP_UTIL_EVENT_REGISTER)
		return post_registration(qp, frame, mfa, cb, arg, idx);
	if (!entry_take(qp, frame, mfa, cb, arg, idx))
		return -EAGAIN;
	if (iop_mfa_ring_post(qp->ch.to_iop, &mfa, 1) != 1) {
		entry_put(qp, *idx);
		*idx = UINT32_MAX;
		return -EAGAIN;
	}
	qp->outstanding++;
	return 0;
}

int iop_qp_post(struct iop_qp *qp, uint32_t *frame, iop_qp_cb cb, void *arg)
{
	uint32_t idx;

	return post_one(qp, frame, cb, arg, &idx);
}

unsigned iop_qp_post_burst(struct iop_qp *qp, uint32_t *const *frames, unsigned n, iop_qp_cb cb,
			   void *const *args)
{
	uint32_t mfas[POLL_CHUNK], idx[POLL_CHUNK];
	unsigned done = 0;

	while (done < n) {
		unsigned want = n - done < POLL_CHUNK ? n - done : POLL_CHUNK, k, posted;
		bool refused = false;

		for (k = 0; k < want; k++) {
			uint32_t *f = frames[done + k];
			int function = check_frame(qp, f);

			if (function < 0) {
				refused = true;
				break;
			}
			if (function == IOP_UTIL_EVENT_REGISTER)
				break; /* posted alone, below: it takes a standing entry */
			mfas[k] = iop_window_map_mfa(&qp->map, f);
			idx[k] = UINT32_MAX;
			if (function != IOP_UTIL_NOP &&
			    !entry_take(qp, f, mfas[k], cb, args != NULL ? args[done + k] : NULL,
					&idx[k]))
				break;
		}
		posted = iop_mfa_ring_post(qp->ch.to_iop, mfas, k);
		/* Entries of frames the ring did not take go back, last first. */
		for (unsigned j = k; j-- > posted;)
			if (idx[j] != UINT32_MAX)
				entry_put(qp, idx[j]);
		for (unsigned j = 0; j < posted; j++)
			qp->outstanding += idx[j] != UINT32_MAX;
		done += posted;
		if (refused && posted == k) {
			errno = EINVAL;
			break;
		}
		if (posted == k && k < want && !refused) {
			/* Stopped at a registration. */
			uint32_t one;

			if (post_one(qp, frames[done], cb, args != NULL ? args[done] : NULL, &one) != 0)
				break;
			done++;
			continue;
		}
		if (posted < want)
			break; /* the ring or the table is full */
	}
	return done;
}

static uint32_t find_by_key(const struct iop_qp *qp, const struct iop_msg_hdr *m);

/*
 * The entry a FAIL reply is for, or UINT32_MAX. Its TransactionContext, if
 * it echoes one, is only a hint: believed when that entry's request is the
 * preserved MFA. Else the newest request posted in that frame: an MFA can be
 * in flight twice (the IOP frees a request before it posts the reply, and
 * the frame may be posted again meanwhile), and a FAIL is always for the
 * newer, since a FAILed frame is not freed by the IOP.
 */
static uint32_t find_failed(const struct iop_qp *qp, const struct iop_msg_hdr *m, uint32_t mfa)
{
	uint32_t idx = find_by_key(qp, m), best = UINT32_MAX;

	if (idx != UINT32_MAX && qp->e[idx].mfa == mfa)
		return idx;
	/*
	 * Not a registration by its MFA alone: the IOP frees a registration's
	 * frame at once, so a later request in the same block (a UtilNOP, a
	 * cancel, which take no entry) may be the one that failed.
	 */
	for (uint32_t i = 0; i < qp->depth; i++)
		if (qp->e[i].state != ENTRY_FREE && qp->e[i].state != ENTRY_EVENTS &&
		    qp->e[i].mfa == mfa &&
		    (best == UINT32_MAX || qp->e[i].posted > qp->e[best].posted))
			best = i;
	return best;
}

/* The entry a reply's TransactionContext names, or UINT32_MAX for a stale or foreign one. */
static uint32_t find_by_key(const struct iop_qp *qp, const struct iop_msg_hdr *m)
{
	uint32_t idx = m->transaction_context & KEY_INDEX_MASK;

	if (m->initiator_context != qp->initiator_context || idx >= qp->depth ||
	    qp->e[idx].state == ENTRY_FREE || key_of(qp, idx) != m->transaction_context)
		return UINT32_MAX;
	return idx;
}

/*
 * A reply MFA from the channel: the frame and its block, as
 * iop_host_reply_claim() finds them, without its calls. The block's size
 * comes from the heap's allocation bits, not from the reply's MessageSize:
 * a reply may be shorter than the frame it was given, and the frame goes
 * back to the heap whole.
 */
static uint32_t *reply_claim(const struct iop_qp *qp, uint32_t mfa, size_t *block)
{
	uint32_t *r = iop_window_map_reply(&qp->map, mfa);

	*block = r != NULL ? iop_heap_view_allocated_size(&qp->out_blocks, r) : 0;
	return *block != 0 ? r : NULL;
}

/*
 * The reply frames kept for free_to_iop, marked (only now: a frame kept here
 * is not the IOP's to answer in yet, whatever a host puts on the list) and
 * put on it; what finds the list full (IOP_FREE_LIST_HOLD) goes back to the
 * heap.
 */
static void spent_give(struct iop_qp *qp)
{
	unsigned n = qp->n_spent, listed, room, posted;

	for (unsigned i = 0; i < n; i++)
		*(uint32_t *)iop_window_map_reply(&qp->map, qp->spent[i]) =
			htole32(IOP_FREE_FRAME_MARK);
	listed = iop_mfa_ring_count(qp->ch.free_to_iop);
	room = listed < IOP_FREE_LIST_HOLD ? IOP_FREE_LIST_HOLD - listed : 0;
	posted = iop_mfa_ring_post(qp->ch.free_to_iop, qp->spent, RTE_MIN(room, n));
	while (posted < n)
		iop_heap_free(qp->out, iop_window_map_reply(&qp->map, qp->spent[posted++]),
			      qp->out_list_block);
	qp->n_spent = 0;
}

/*
 * A reply frame the queue pair is done with: kept for free_to_iop if it is
 * of the free list's size, else back to the heap. A batch goes on the list
 * as soon as it is spent while more than one request is in flight; while
 * the host waits for one reply, in the next poll that finds none (see
 * iop_qp_poll()), or at once when twice as many have piled up.
 */
static void reply_free(struct iop_qp *qp, uint32_t *r, size_t block)
{
	if (block != qp->out_list_block) {
		iop_heap_free(qp->out, r, block);
		return;
	}
	qp->spent[qp->n_spent++] = iop_window_map_mfa(&qp->map, r);
	if (qp->n_spent == QP_SPENT_MAX || (qp->n_spent >= QP_SPARES && qp->outstanding > QP_WAITING))
		spent_give(qp);
}

/* One reply: match it, run its callback, free it (and a FAIL's request). @return 1 if a callback ran. */
static unsigned complete(struct iop_qp *qp, uint32_t mfa)
{
	struct iop_completion c = { 0 };
	struct iop_msg_hdr m;
	struct qp_entry e;
	size_t block;
	uint32_t *r = reply_claim(qp, mfa, &block), idx, preserved;
	uint32_t *request = NULL;
	unsigned ran = 0;
	bool standing;

	if (r == NULL || block < IOP_REPLY_WORDS * 4)
		return 0; /* not a frame: nothing to free, nobody to tell */
	iop_msg_hdr_decode(r, &m);
	c.reply = r;
	c.reply_words = m.size_words * 4u <= block ? m.size_words : block / 4;
	if ((m.flags & IOP_MSG_FAIL) && block >= IOP_FAIL_REPLY_WORDS * 4 &&
	    iop_fail_reply_decode(r, &c.fail_code, NULL, &preserved) == 0) {
		idx = find_failed(qp, &m, preserved);
		request = iop_window_frame(qp->w, preserved);
		if (idx != UINT32_MAX) {
			c.request = request;
			c.result = -EPROTO;
		} else if (request != NULL && iop_heap_tag(qp->in, request) == iop_host_owner(qp->h)) {
			/* A UtilNOP's: no entry, but the frame came back and is still ours. */
			iop_qp_frame_free(qp, request);
		}
	} else {
		idx = find_by_key(qp, &m);
		/* A frame without REPLY (or a FAIL too short to decode) has no status to read. */
		if (iop_reply_status(r, &c.req_status, &c.dsc) == 0)
			c.result = c.req_status == IOP_REPLY_STATUS_SUCCESS ? 0 : -EIO;
		else
			c.result = -EPROTO;
	}
	/* One of several replies to a request (MULTIPLE without LAST): more will come. */
	c.more = c.request == NULL && (m.flags & IOP_MSG_MULTIPLE) && !(m.flags & IOP_MSG_LAST);
	standing = idx != UINT32_MAX && qp->e[idx].state == ENTRY_EVENTS;
	if (standing && c.more) {
		/* An event: word 4 is its indicator, not a status. */
		c.event = true;
		c.event_indicator = le32toh(r[IOP_EVENT_INDICATOR_WORD]);
		c.req_status = 0;
		c.dsc = 0;
		c.result = 0;
	}
	if (idx != UINT32_MAX && c.more) {
		e = qp->e[idx];
		if ((e.state == ENTRY_WAITING || e.state == ENTRY_EVENTS) && e.cb != NULL) {
			c.arg = e.arg;
			e.cb(qp, &c);
			ran = 1;
		}
	} else if (idx != UINT32_MAX) {
		e = qp->e[idx];
		/* The entry is free before the callback runs, so that it may post again. */
		entry_put(qp, idx);
		if (!standing)
			qp->outstanding--; /* a registration never counted */
		ran = (e.state == ENTRY_WAITING || standing) && e.cb != NULL;
		if (ran) {
			c.arg = e.arg;
			e.cb(qp, &c);
		}
		if (request != NULL)
			iop_qp_frame_free(qp, request);
	}
	reply_free(qp, r, block);
	return ran;
}

unsigned iop_qp_poll(struct iop_qp *qp, unsigned max)
{
	uint32_t mfas[POLL_CHUNK];
	unsigned ran = 0, taken = 0;

	while (taken < max) {
		unsigned want = max - taken < POLL_CHUNK ? max - taken : POLL_CHUNK;
		unsigned n = iop_mfa_ring_take(qp->ch.to_host, mfas, want);

		for (unsigned i = 0; i < n; i++)
			ran += complete(qp, mfas[i]);
		taken += n;
		if (n < want)
			break;
	}
	/*
	 * Nothing to take, at most one request in flight: the host is
	 * waiting, so what the next request needs from lines the IOP touched
	 * last is fetched now rather than on its way: the request ring's next
	 * slot, to be written, and the free lists' indices and MFAs.
	 */
	if (taken != 0 || qp->outstanding > QP_WAITING)
		return ran;
	iop_mfa_ring_prefetch_post(qp->ch.to_iop);
	if (qp->top_up) {
		qp->top_up = false;
		spares_take(qp, 1);
	}
	if (qp->n_spent >= QP_SPARES)
		spent_give(qp);
	return ran;
}

/* What iop_qp_call() waits for. */
struct call_wait {
	bool done;
	uint32_t *reply;
	size_t reply_words;
	struct iop_completion c;
};

static void call_done(struct iop_qp *qp, const struct iop_completion *c)
{
	struct call_wait *cw = c->arg;
	size_t n = c->reply_words < cw->reply_words ? c->reply_words : cw->reply_words;

	(void)qp;
	if (c->more)
		return; /* a call answers with a request's last reply */
	if (cw->reply != NULL && n != 0)
		memcpy(cw->reply, c->reply, n * 4);
	cw->c = *c;
	cw->done = true;
}

/*
 * iop_qp_call() and iop_qp_call_turning(): turn(turn_arg), where given, runs
 * before every poll, so that a thread that is itself the loop that answers
 * makes the answer come.
 */
static int call(struct iop_qp *qp, uint32_t *frame, uint32_t *reply, size_t reply_words,
		struct iop_completion *c, unsigned timeout_ms, iop_qp_turn_fn turn, void *turn_arg)
{
	struct call_wait cw = { .reply = reply, .reply_words = reply_words };
	uint64_t end = now_ns() + (uint64_t)timeout_ms * 1000000u;
	uint32_t idx;
	int rc;

	if (check_frame(qp, frame) == IOP_UTIL_EVENT_REGISTER)
		return -EINVAL; /* no reply to wait for: its events go to a callback */
	/* Once posted, the frame is the IOP's: everything needed of it is known before. */
	while ((rc = post_one(qp, frame, call_done, &cw, &idx)) == -EAGAIN) {
		if (turn != NULL)
			turn(turn_arg);
		if (iop_qp_poll(qp, POLL_CHUNK) == 0 && now_ns() >= end)
			return -EAGAIN;
	}
	if (rc != 0 || idx == UINT32_MAX)
		return rc; /* refused, or a UtilNOP: nothing will answer it */
	for (unsigned idle = 0; !cw.done;) {
		if (turn != NULL)
			turn(turn_arg);
		if (iop_qp_poll(qp, POLL_CHUNK) != 0 || cw.done) {
			idle = 0;
			continue;
		}
		/*
		 * A host thread may share its CPU with the IOP's loop, which spins:
		 * once the reply is clearly not moments away, give the CPU up
		 * between polls rather than wait for the scheduler to take it.
		 */
		if (++idle > CALL_SPINS)
			sched_yield();
		if (now_ns() >= end) {
			/* Its reply may still come: the entry waits for it, and only frees it. */
			qp->e[idx].state = ENTRY_ABANDONED;
			qp->e[idx].cb = NULL;
			return -ETIMEDOUT;
		}
	}
	cw.c.reply = NULL;
	cw.c.request = NULL;
	if (c != NULL)
		*c = cw.c;
	return cw.c.result;
}

int iop_qp_call(struct iop_qp *qp, uint32_t *frame, uint32_t *reply, size_t reply_words,
		struct iop_completion *c, unsigned timeout_ms)
{
	return call(qp, frame, reply, reply_words, c, timeout_ms, NULL, NULL);
}

int iop_qp_call_turning(struct iop_qp *qp, uint32_t *frame, uint32_t *reply, size_t reply_words,
			struct iop_completion *c, unsigned timeout_ms, iop_qp_turn_fn turn,
			void *turn_arg)
{
	if (turn == NULL)
		return -EINVAL;
	return call(qp, frame, reply, reply_words, c, timeout_ms, turn, turn_arg);
}

int iop_qp_event_register(struct iop_qp *qp, uint16_t tid, uint32_t mask, iop_qp_cb cb,
			  void *arg)
{
	uint32_t *f = iop_qp_frame_alloc(qp, (IOP_EVENT_MASK_WORD + 1) * 4);
	int rc;

	if (f == NULL)
		return -ENOMEM;
	rc = iop_build_util_event_register(f, (IOP_EVENT_MASK_WORD + 1) * 4, tid, mask);
	if (rc > 0)
		rc = iop_qp_post(qp, f, cb, arg);
	if (rc != 0)
		iop_qp_frame_free(qp, f);
	return rc > 0 ? 0 : rc;
}
