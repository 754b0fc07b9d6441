/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executive, TID 0: the IOP's state machine, its status block, the
 * Logical Configuration Table and the destruction of DDMs. It is a DDM like
 * the others, on lcore 0, so it gets the same dispatch and reply rules.
 *
 * States (I2O's numbers): the runtime starts OPERATIONAL.
 *   ExecIopReset     any          -> RESET   (every DDM's reset)
 *   ExecOutboundInit RESET        -> HOLD
 *   ExecSysTabSet    HOLD         -> READY
 *   ExecSysEnable    READY        -> OPERATIONAL
 *   ExecSysQuiesce   OPERATIONAL  -> READY   (every DDM's quiesce)
 * Outside OPERATIONAL, requests to DDMs are answered DEVICE_NOT_AVAILABLE.
 * While a DDM's quiesce, reset or destroy is under way, requests not yet
 * handed to it are answered DEVICE_NOT_AVAILABLE at once (dispatch.c).
 * Hosts registered for events (event.c) are told IOP_EVENT_STATE_CHANGE:
 * by a DDM when it is quiesced (SUSPENDED), reset (RESTART, after
 * IOP_EVENT_DEVICE_RESET) or enabled again (NORMAL); by the executive at
 * every change of the IOP's state, with that state in EventData word 1.
 * A transition asked for in the wrong state is answered INAPPROPRIATE_FUNCTION;
 * asking for the state the IOP is in succeeds and changes nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>

#include "iop_channel.h"
#include "iop_heap.h"
#include "iop_lct.h"
#include "iop_window.h"
#include "runtime_impl.h"

/* The iopool status block after word 4 of the ExecStatusGet reply. */
#define STATUS_WORDS 10u
#define DESTROY_TID_MASK 0xFFFu

static const uint8_t exec_functions[] = {
	IOP_EXEC_STATUS_GET,  IOP_EXEC_OUTBOUND_INIT, IOP_EXEC_LCT_NOTIFY, IOP_EXEC_SYS_TAB_SET,
	IOP_EXEC_DDM_DESTROY, IOP_EXEC_IOP_RESET,     IOP_EXEC_SYS_QUIESCE, IOP_EXEC_SYS_ENABLE,
};

static uint32_t word(const struct iop_request *r, unsigned i)
{
	return i < r->hdr.size_words ? rte_le_to_cpu_32(r->frame[i]) : 0;
}

static void put(uint32_t *reply, unsigned i, uint32_t v)
{
	reply[i] = rte_cpu_to_le_32(v);
}

/* How many targets the LCT lists: the executive and every live DDM. */
static unsigned live_targets(const struct iop_runtime *rt)
{
	unsigned n = 1;

	for (unsigned i = 0; i < rt->n_ddms; i++)
		n += atomic_load_explicit(&rt->ddms[i].live, memory_order_acquire);
	return n;
}

static void lct_entry_of(const struct iop_ddm *d, struct iop_lct_entry *e)
{
	const char *id = d->ops->identity != NULL ? d->ops->identity : "";

	memset(e, 0, sizeof(*e));
	e->entry_size_words = IOP_LCT_ENTRY_WORDS;
	e->local_tid = d->tid;
	e->change_indicator = 1;
	e->class_id = d->ops->class_id;
	e->version = d->ops->class_version;
	e->org_id = d->ops->org_id;
	e->sub_class = d->ops->sub_class;
	e->user_tid = IOP_LCT_UNCLAIMED;
	e->parent_tid = IOP_TID_EXEC;
	memcpy(e->identity_tag, id, strnlen(id, sizeof(e->identity_tag)));
}

/* Reply with the LCT (entries of class_filter, or all) after the status word. */
static int reply_lct(struct iop_request *r, uint32_t class_filter)
{
	struct iop_runtime *rt = r->lc->rt;
	struct iop_lct_entry entries[IOP_RUNTIME_MAX_DDMS + 1];
	struct iop_lct_header h = { .boot_tid = IOP_TID_EXEC, .lct_ver = IOP_LCT_VERSION_1_5 };
	const struct iop_ddm *all[IOP_RUNTIME_MAX_DDMS + 1] = { &rt->exec };
	unsigned n = 0, words;
	uint32_t *p;

	for (unsigned i = 0; i < rt->n_ddms; i++)
		all[i + 1] = &rt->ddms[i];
	for (unsigned i = 0; i <= rt->n_ddms; i++) {
		if (!atomic_load_explicit(&all[i]->live, memory_order_acquire))
			continue;
		if (class_filter != 0xFFFFFFFFu && all[i]->ops->class_id != class_filter)
			continue;
		lct_entry_of(all[i], &entries[n++]);
	}
	h.change_indicator = atomic_load_explicit(&rt->lct_change, memory_order_acquire);
	words = IOP_REPLY_WORDS + IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * n;
	p = iop_request_reply_alloc(r, words);
	if (p == NULL)
		return IOP_DDM_RETRY;
	iop_lct_build(p + IOP_REPLY_WORDS, words - IOP_REPLY_WORDS, &h, entries, n);
	iop_request_reply_send(r, p, words, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
	return IOP_DDM_DONE;
}

static uint64_t in_use(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	iop_heap_stats(h, &s);
	return s.bytes_in_use;
}

static int status_get(struct iop_request *r)
{
	struct iop_runtime *rt = r->lc->rt;
	struct iop_window_info info;
	uint32_t *p = iop_request_reply_alloc(r, IOP_REPLY_WORDS + STATUS_WORDS);

	if (p == NULL)
		return IOP_DDM_RETRY;
	iop_window_info(rt->w, &info);
	put(p, 5, (uint32_t)atomic_load(&rt->state) | IOP_MSG_VERSION_1_5 << 8);
	put(p, 6, rt->iop_id);
	put(p, 7, live_targets(rt));
	put(p, 8, atomic_load(&rt->lct_change));
	put(p, 9, (uint32_t)(iop_heap_size(iop_window_inbound(rt->w)) >> 10));
	put(p, 10, (uint32_t)(iop_heap_size(iop_window_outbound(rt->w)) >> 10));
	put(p, 11, info.channels);
	put(p, 12, rt->n_lcores);
	put(p, 13, (uint32_t)in_use(iop_window_inbound(rt->w)));
	put(p, 14, (uint32_t)in_use(iop_window_outbound(rt->w)));
	iop_request_reply_send(r, p, IOP_REPLY_WORDS + STATUS_WORDS, IOP_REPLY_STATUS_SUCCESS,
			       IOP_DSC_SUCCESS);
	return IOP_DDM_DONE;
}

/*
 * LctNotify: word 4 class filter, word 5 change indicator. 0, or an
 * indicator the table has already passed, replies now; otherwise the reply
 * waits until the table changes past it.
 */
static int lct_notify(struct iop_request *r)
{
	struct iop_runtime *rt = r->lc->rt;
	uint32_t filter = r->hdr.size_words > 4 ? word(r, 4) : 0xFFFFFFFFu;
	uint32_t indicator = word(r, 5);

	if (indicator == 0 || indicator < atomic_load(&rt->lct_change))
		return reply_lct(r, filter);
	if (rt->n_lct_waiters == rt->lct_waiters_cap) {
		unsigned cap = rt->lct_waiters_cap ? 2 * rt->lct_waiters_cap : 16;
		struct lct_waiter *more = realloc(rt->lct_waiters, cap * sizeof(*more));

		if (more == NULL)
			return request_answer(r, IOP_DSC_INSUFFICIENT_RESOURCE_SOFT);
		rt->lct_waiters = more;
		rt->lct_waiters_cap = cap;
	}
	rt->lct_waiters[rt->n_lct_waiters++] = (struct lct_waiter){ r, indicator, filter };
	return IOP_DDM_PENDING;
}

/*
 * Ask DDMs for control work (all live ones, or only `only`), each done on
 * its own lcore; exec_poll answers r once every one has, and then moves the
 * IOP to next_state (0: no change).
 */
static int ask_ddms(struct iop_request *r, enum ddm_control what, struct iop_ddm *only,
		    int next_state)
{
	struct iop_runtime *rt = r->lc->rt;

	if (rt->control_req != NULL)
		return request_answer(r, IOP_DSC_DEVICE_BUSY); /* one at a time */
	for (unsigned i = 0; i < rt->n_ddms; i++) {
		struct iop_ddm *d = &rt->ddms[i];

		if ((only == NULL || only == d) && atomic_load(&d->live)) {
			/* Its new requests are refused until this is answered (dispatch.c). */
			atomic_fetch_or_explicit(&d->control_hold, HOLD_EXEC, memory_order_relaxed);
			atomic_store_explicit(&d->control, what, memory_order_release);
		}
	}
	rt->control_req = r;
	rt->control_next_state = next_state;
	return IOP_DDM_PENDING;
}

static uint32_t event_state_of(int iop_state)
{
	return iop_state == IOP_STATE_OPERATIONAL ? IOP_EVENT_STATE_NORMAL :
	       iop_state == IOP_STATE_RESET	  ? IOP_EVENT_STATE_RESTART :
						    IOP_EVENT_STATE_SUSPENDED;
}

void executive_set_state(struct iop_runtime *rt, int state)
{
	int was = atomic_exchange_explicit(&rt->state, state, memory_order_acq_rel);

	if (was == state)
		return;
	event_raise(&rt->exec, IOP_EVENT_STATE_CHANGE,
		    event_state_of(state) | (uint32_t)state << 8);
	/* Enabled: every DDM, quiesced or reset before, takes requests again. */
	if (state == IOP_STATE_OPERATIONAL)
		for (unsigned i = 0; i < rt->n_ddms; i++)
			if (atomic_load(&rt->ddms[i].live))
				event_raise(&rt->ddms[i], IOP_EVENT_STATE_CHANGE,
					    IOP_EVENT_STATE_NORMAL);
}

/* A state change that needs nothing of the DDMs. */
static int transition(struct iop_request *r, int from, int to)
{
	struct iop_runtime *rt = r->lc->rt;
	int state = atomic_load(&rt->state);

	if (state == from)
		executive_set_state(rt, to);
	else if (state != to)
		return request_answer(r, IOP_DSC_INAPPROPRIATE_FUNCTION);
	return request_answer(r, IOP_DSC_SUCCESS);
}

/* DdmDestroy (word 4: the TID of a DDM, not the executive). */
static int ddm_destroy(struct iop_request *r)
{
	struct iop_runtime *rt = r->lc->rt;
	uint16_t tid = (uint16_t)(word(r, 4) & DESTROY_TID_MASK);
	struct iop_ddm *d = tid != IOP_TID_EXEC ? rt->by_tid[tid] : NULL;

	if (d == NULL || !atomic_load(&d->live))
		return request_answer(r, IOP_DSC_INVALID_TARGET_ADDRESS);
	return ask_ddms(r, CONTROL_DESTROY, d, 0);
}

static int exec_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct iop_runtime *rt = d->rt;

	switch (r->hdr.function) {
	case IOP_EXEC_STATUS_GET:
		return status_get(r);
	case IOP_EXEC_LCT_NOTIFY:
		return lct_notify(r);
	case IOP_EXEC_IOP_RESET:
		return ask_ddms(r, CONTROL_RESET, NULL, IOP_STATE_RESET);
	case IOP_EXEC_OUTBOUND_INIT:
		return transition(r, IOP_STATE_RESET, IOP_STATE_HOLD);
	case IOP_EXEC_SYS_TAB_SET:
		return transition(r, IOP_STATE_HOLD, IOP_STATE_READY);
	case IOP_EXEC_SYS_ENABLE:
		return transition(r, IOP_STATE_READY, IOP_STATE_OPERATIONAL);
	case IOP_EXEC_SYS_QUIESCE: {
		int state = atomic_load(&rt->state);

		if (state == IOP_STATE_READY)
			return request_answer(r, IOP_DSC_SUCCESS);
		if (state != IOP_STATE_OPERATIONAL)
			return request_answer(r, IOP_DSC_INAPPROPRIATE_FUNCTION);
		return ask_ddms(r, CONTROL_QUIESCE, NULL, IOP_STATE_READY);
	}
	case IOP_EXEC_DDM_DESTROY:
		return ddm_destroy(r);
	default:
		return -ENOTSUP; /* not listed in exec_functions: never called */
	}
}

/*
 * Answer the LctNotify requests waiting for a change the table has now made,
 * and those whose host has left (the reply is dropped): a request must not
 * hold its channel in the IOP forever.
 */
static int answer_lct_waiters(struct iop_runtime *rt)
{
	uint32_t now = atomic_load(&rt->lct_change);
	unsigned kept = 0, n = rt->n_lct_waiters, done = 0;

	for (unsigned i = 0; i < n; i++) {
		struct lct_waiter w = rt->lct_waiters[i];
		struct iop_channel ch;
		int state = iop_channel_lookup(rt->w, w.req->channel, &ch);
		bool gone = state != IOP_CHANNEL_OPEN || ch.generation != w.req->generation;

		if ((w.indicator < now || gone) && reply_lct(w.req, w.class_filter) == IOP_DDM_DONE)
			done++;
		else
			rt->lct_waiters[kept++] = w; /* unchanged, or no reply frame yet */
	}
	rt->n_lct_waiters = kept;
	return (int)done;
}

/* On lcore 0: answer the control request once every DDM asked has done its part. */
static int finish_control(struct iop_runtime *rt)
{
	struct iop_request *r = rt->control_req;
	bool destroyed = r->hdr.function == IOP_EXEC_DDM_DESTROY;

	for (unsigned i = 0; i < rt->n_ddms; i++)
		if (atomic_load_explicit(&rt->ddms[i].control, memory_order_acquire) != CONTROL_NONE)
			return 0;
	if (request_reply_now(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS) == -ENOMEM)
		return 0; /* next turn */
	rt->control_req = NULL;
	if (rt->control_next_state != 0)
		executive_set_state(rt, rt->control_next_state);
	if (destroyed)
		atomic_fetch_add(&rt->lct_change, 1);
	/* Release, after the new state: whoever sees the hold gone sees the state. Ours only. */
	for (unsigned i = 0; i < rt->n_ddms; i++)
		atomic_fetch_and_explicit(&rt->ddms[i].control_hold, (uint8_t)~HOLD_EXEC,
					  memory_order_release);
	return 1;
}

static int exec_poll(struct iop_ddm *d)
{
	struct iop_runtime *rt = d->rt;
	int work = 0;

	if (rt->control_req != NULL)
		work += finish_control(rt);
	if (rt->n_lct_waiters != 0)
		work += answer_lct_waiters(rt);
	return work;
}

/* A quiesce or reset that could not finish now (no reply frame free) is asked again. */
static bool not_yet(int rc)
{
	return rc == -EAGAIN || rc == -ENOMEM;
}

void executive_run_control(struct iop_lcore *lc, struct iop_ddm *d)
{
	int what = atomic_load_explicit(&d->control, memory_order_acquire);

	switch (what) {
	case CONTROL_NONE:
		return;
	case CONTROL_QUIESCE:
		if (d->ops->quiesce != NULL && not_yet(d->ops->quiesce(d)))
			return; /* asked again on the next turn; the executive waits */
		event_raise(d, IOP_EVENT_STATE_CHANGE, IOP_EVENT_STATE_SUSPENDED);
		break;
	case CONTROL_RESET:
		if (d->ops->reset != NULL && not_yet(d->ops->reset(d)))
			return;
		event_raise(d, IOP_EVENT_DEVICE_RESET | IOP_EVENT_STATE_CHANGE,
			    IOP_EVENT_STATE_RESTART);
		break;
	case CONTROL_DESTROY:
		/*
		 * As for ExecSysQuiesce, asked again until it is done: a DDM whose
		 * device still has I/O in flight must not be torn down, nor its
		 * requests answered, while that I/O may still write the host's
		 * buffers.
		 */
		if (d->ops->quiesce != NULL && not_yet(d->ops->quiesce(d)))
			return;
		if (d->ops->fini != NULL)
			d->ops->fini(d);
		atomic_store_explicit(&d->live, false, memory_order_release);
		/* Whatever it still held gets its one reply: it will never answer now. */
		dispatch_fail_held(lc, d);
		event_forget_all(d);
		break;
	}
	/*
	 * The events it raised go out now, before the executive (perhaps on
	 * another lcore) can see the work done and answer: a host hears of the
	 * quiesce before the quiesce's answer.
	 */
	event_poll(lc, d);
	dispatch_flush_outbox(lc);
	/* Release: the executive's lcore sees the work done before it answers. */
	atomic_store_explicit(&d->control, CONTROL_NONE, memory_order_release);
}

const struct iop_ddm_ops iop_executive_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "executive",
	.class_id = IOP_CLASS_EXECUTIVE,
	.identity = "iopool",
	.functions = exec_functions,
	.n_functions = sizeof(exec_functions),
	.handle = exec_handle,
	.poll = exec_poll,
};
