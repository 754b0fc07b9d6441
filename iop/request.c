/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What a DDM calls while it holds a request: its header and frame, reply
 * frames, the intermediate replies of a request answered with several, and
 * the one final reply. The final reply finishes the request: it goes to the
 * channel the request came in on, and the request frame goes back to the
 * host (the channel's inbound free list, or the inbound heap).
 */
#include <errno.h>
#include <rte_byteorder.h>

#include "iop_heap.h"
#include "iop_window.h"
#include "runtime_impl.h"

void *iop_ddm_priv(struct iop_ddm *d)
{
	return d->priv;
}

uint16_t iop_ddm_tid(const struct iop_ddm *d)
{
	return d->tid;
}

const struct iop_ddm_ops *iop_ddm_ops(const struct iop_ddm *d)
{
	return d->ops;
}

const struct iop_msg_hdr *iop_request_hdr(const struct iop_request *r)
{
	return &r->hdr;
}

uint32_t *iop_request_frame(const struct iop_request *r)
{
	return r->frame;
}

uint32_t iop_request_mfa(const struct iop_request *r)
{
	return r->mfa;
}

bool iop_request_orphaned(const struct iop_request *r)
{
	struct iop_channel ch;
	int state = iop_channel_lookup(r->lc->rt->w, r->channel, &ch);

	return state != IOP_CHANNEL_OPEN || ch.generation != r->generation;
}

void iop_request_abandon(struct iop_request *r)
{
	if (!r->abandoned)
		STAT_ADD(r->lc->rt->stats.requests_abandoned, 1);
	r->abandoned = true;
}

/* Abandoned, then answered after all (by the DDM, or by the runtime for it): not abandoned. */
static void unabandon(struct iop_request *r)
{
	if (r->abandoned) {
		r->abandoned = false;
		STAT_SUB(r->lc->rt->stats.requests_abandoned, 1);
	}
}

struct iop_window *iop_request_window(const struct iop_request *r)
{
	return r->lc->rt->w;
}

uint32_t *iop_request_reply_alloc(struct iop_request *r, unsigned words)
{
	struct iop_heap *out = r->lc->rt->map.outbound;
	uint32_t *p;

	if (r->answered) {
		errno = EALREADY;
		return NULL;
	}
	if (words < IOP_REPLY_WORDS || words > 0xFFFF) {
		errno = EINVAL;
		return NULL;
	}
	/* Tagged with the channel's owner: the host's from the start, wherever it is. */
	p = dispatch_reply_frame(r->lc, r->channel, r->generation, r->owner, (size_t)words * 4);
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	/* Only the latest frame is the request's; an earlier unsent one goes back. */
	if (r->reply != NULL)
		iop_heap_free(out, r->reply, (size_t)r->reply_words * 4);
	iop_reply_build(&r->hdr, r->ddm->tid, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS, p, words);
	r->reply = p;
	r->reply_words = words;
	return p;
}

static void count_reply(struct iop_request *r, uint8_t req_status)
{
	DDM_STAT_ADD(r->ddm->stats.replies, 1);
	if (req_status != IOP_REPLY_STATUS_SUCCESS)
		DDM_STAT_ADD(r->ddm->stats.failures, 1);
}

/*
 * Words 0-4 of a reply the DDM built: REPLY, both contexts, the function and
 * the TIDs are not its to change, whatever it wrote over them.
 */
static void reply_seal(struct iop_request *r, uint32_t *reply, unsigned words, uint8_t flags,
		       uint8_t req_status, uint16_t dsc)
{
	iop_reply_seal(reply, &r->hdr, r->ddm->tid, flags, (uint16_t)words, req_status, dsc);
	count_reply(r, req_status);
}

/* The flags of a request's final reply: the last of several says so. */
static uint8_t final_flags(const struct iop_request *r)
{
	/* The host's request stays in flight until LAST. */
	return r->multiple ? IOP_MSG_MULTIPLE | IOP_MSG_LAST : 0;
}

/*
 * The final reply, sealed: queued for the host, and the request frame queued
 * for the heap, which gets it back before the reply is posted.
 */
static void finish(struct iop_request *r, uint32_t *reply)
{
	struct iop_lcore *lc = r->lc;

	r->answered = true;
	r->reply = NULL;
	unabandon(r);
	dispatch_post_reply(lc, r->channel, r->generation, iop_window_map_mfa(&lc->rt->map, reply),
			    true);
	dispatch_free_frame_later(lc, r);
	r->frame = NULL;
	/* Answered later, from a callback: the request is done with here. */
	if (!r->in_handle)
		dispatch_release(lc, r);
}

/*
 * May this reply be sent? Not after the final one (refused and counted; the
 * frame is not freed here: a frame the DDM allocated for this request and did
 * not send went back when a later one replaced it, and what it passes now may
 * be the reply already in the host's ring), and only the frame from
 * iop_request_reply_alloc() for this request, with words that fit it.
 * @return 0, -EALREADY or -EINVAL.
 */
static int reply_allowed(struct iop_request *r, const uint32_t *reply, unsigned words)
{
	if (r->answered) {
		DDM_STAT_ADD(r->ddm->stats.double_replies, 1);
		return -EALREADY;
	}
	return reply != NULL && reply == r->reply && words >= IOP_REPLY_WORDS &&
			       words <= r->reply_words ? 0 : -EINVAL;
}

int iop_request_reply_more(struct iop_request *r, uint32_t *reply, unsigned words,
			   uint8_t req_status, uint16_t dsc)
{
	struct iop_lcore *lc = r->lc;
	int rc = reply_allowed(r, reply, words);

	if (rc != 0)
		return rc;
	reply_seal(r, reply, words, IOP_MSG_MULTIPLE, req_status, dsc);
	r->multiple = true;
	r->reply = NULL;
	/* Not final: the request keeps its frame and its channel credit. */
	dispatch_post_reply(lc, r->channel, r->generation, iop_window_map_mfa(&lc->rt->map, reply),
			    false);
	return 0;
}

int iop_request_reply_send(struct iop_request *r, uint32_t *reply, unsigned words,
			   uint8_t req_status, uint16_t dsc)
{
	int rc = reply_allowed(r, reply, words);

	if (rc != 0)
		return rc;
	reply_seal(r, reply, words, final_flags(r), req_status, dsc);
	finish(r, reply);
	return 0;
}

/*
 * A status-only final reply, the runtime's own or iop_request_reply()'s:
 * nobody but the runtime writes the frame between its allocation and its
 * post, so it is built once, as sent, and needs no seal.
 */
int request_reply_now(struct iop_request *r, uint8_t req_status, uint16_t dsc)
{
	struct iop_heap *out = r->lc->rt->map.outbound;
	uint32_t *p;

	if (r->answered)
		return -EALREADY;
	/* Tagged with the channel's owner: the host's from the start, wherever it is. */
	p = dispatch_reply_frame(r->lc, r->channel, r->generation, r->owner, IOP_REPLY_WORDS * 4);
	if (p == NULL)
		return -ENOMEM;
	/* A frame the DDM allocated and did not send goes back: this one replaces it. */
	if (r->reply != NULL)
		iop_heap_free(out, r->reply, (size_t)r->reply_words * 4);
	iop_reply_build(&r->hdr, r->ddm->tid, req_status, dsc, p, IOP_REPLY_WORDS);
	if (r->multiple)
		iop_reply_seal(p, &r->hdr, r->ddm->tid, final_flags(r), IOP_REPLY_WORDS,
			       req_status, dsc);
	count_reply(r, req_status);
	finish(r, p);
	return 0;
}

int iop_request_reply(struct iop_request *r, uint8_t req_status, uint16_t dsc)
{
	/* Counted here: its allocation would refuse a second reply before the send could. */
	if (r->answered) {
		DDM_STAT_ADD(r->ddm->stats.double_replies, 1);
		return -EALREADY;
	}
	return request_reply_now(r, req_status, dsc);
}

int request_answer(struct iop_request *r, uint16_t dsc)
{
	int rc = request_reply_now(r, dsc ? IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER :
					    IOP_REPLY_STATUS_SUCCESS,
				   dsc);

	return rc == -ENOMEM ? IOP_DDM_RETRY : IOP_DDM_DONE;
}
