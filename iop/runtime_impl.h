/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime's insides, shared by its files: runtime.c (making and
 * unmaking), dispatch.c (the poll loop), request.c (what DDMs call),
 * executive.c (TID 0) and function_codes.c.
 */
#ifndef IOP_RUNTIME_IMPL_H
#define IOP_RUNTIME_IMPL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iop_channel.h"
#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_runtime.h"
#include "iop_window.h"

/* Requests one lcore can hold at once (being handled, pending, retrying). */
#define LCORE_REQUESTS 1024u
/* Room for held replies to start with; the list grows as it must (see dispatch.c). */
#define LCORE_HELD_REPLIES 256u
/* Entries of an lcore's ring of requests forwarded from other lcores. */
#define LCORE_FORWARD_ENTRIES 4096u
/* MFAs taken from a ring in one go. */
#define POLL_BURST 32u
/*
 * Turns between two looks at every channel slot when the window's change
 * count has not moved (a look costs a load a slot; a turn, well under a
 * microsecond): a channel whose opening a host hid still opens within them.
 */
#define CHAN_RESCAN_TURNS 4096u

/* A request moving between lcores: where it came from and where it is. */
struct forwarded {
	uint32_t mfa;
	uint32_t channel;
	uint32_t generation;
	uint32_t owner; /* the channel's owner id, the tag of its replies */
};

/* What a request waiting on an lcore's retry list is waiting to do. */
enum request_step {
	STEP_HANDLE,  /* the DDM asked to see it again */
	STEP_ANSWER,  /* the runtime's own reply, for lack of a reply frame */
	STEP_FAIL,    /* a FAIL reply, for lack of a reply frame */
	STEP_FORWARD, /* to another lcore whose forward ring was full */
};

struct iop_request {
	struct iop_msg_hdr hdr;
	bool hdr_valid;         /* hdr decoded (a FAIL reply can echo it) */
	enum request_step step;
	uint8_t answer_status;  /* STEP_ANSWER */
	uint16_t answer_dsc;
	uint8_t fail_code;      /* STEP_FAIL */
	uint8_t fail_severity;
	uint32_t *frame;
	size_t block;
	uint32_t mfa;
	uint32_t channel;
	uint32_t generation;
	uint16_t owner;         /* the channel's owner id: its replies are tagged with it */
	struct iop_ddm *ddm;
	struct iop_lcore *lc;
	uint32_t *reply;        /* allocated for this request and not yet sent */
	unsigned reply_words;
	bool answered;
	bool multiple;          /* an intermediate reply went out: the final one says LAST */
	bool in_handle;         /* inside the DDM's handle call: the dispatcher frees it */
	bool runtime_params;    /* UtilParamsGet/Set the runtime answers (params.c) */
	bool in_use;            /* taken from the lcore's free list */
	bool queued;            /* on the lcore's retry list */
	bool abandoned;         /* never to be answered (iop_request_abandon) */
	struct iop_request *next;
};

/* What the executive asks of a DDM, done on the DDM's own lcore. */
enum ddm_control {
	CONTROL_NONE = 0, /* nothing asked, or done */
	CONTROL_QUIESCE,
	CONTROL_RESET,
	CONTROL_DESTROY,  /* quiesce, fini, and gone from the LCT */
};

/*
 * Cache-line aligned, and its counters on a line of their own: a DDM's loop
 * writes them on every request, and the next DDM's loop reads that DDM's
 * ops and accepts on every request. Sharing lines, the loops of two DDMs
 * would take the lines from each other on every request.
 */
struct iop_ddm {
	_Alignas(64) const struct iop_ddm_ops *ops;
	struct iop_runtime *rt;
	uint16_t tid;
	unsigned lcore;
	void *priv;
	_Atomic bool live;      /* false once destroyed (ExecDdmDestroy) */
	_Atomic int control;    /* enum ddm_control */
	/*
	 * HOLD_* bits, one per asker: set with control, cleared by the same
	 * asker once it has finished (the executive's reply, the IOP's new
	 * state), so that one asker's end cannot release another's hold. Until
	 * then new requests for the DDM are refused (dispatch_held_for_control).
	 */
	_Atomic uint8_t control_hold;
	/*
	 * Events the runtime raised for the target from any thread: IOP_EVENT_*
	 * bits in the low 32 bits, the EventData of the latest state change in
	 * the high 32 (IOP_EVENT_STATE_*; for the executive, the IOP's state
	 * above it, shifted by 8), one word so that the loop takes both at once
	 * and tells the registered hosts on its next turn (event.c). Read on
	 * every turn, so next to control, which is too.
	 */
	_Atomic uint64_t events_raised;
	/* Its lcore's own: the hosts registered for its events, and whether one
	 * of them still has an event waiting for a reply frame. */
	struct event_reg *event_regs;
	unsigned n_event_regs, event_regs_cap;
	bool events_waiting;
	uint8_t accepts[32];    /* bit per function code the DDM answers itself */
	/* Its lcore's own: requests of this DDM on the retry list, and the pass
	 * of the retry list that found it still unable, so later ones wait too. */
	unsigned retry_waiting;
	unsigned blocked_pass;
	_Alignas(64) struct iop_ddm_stats stats;
};

/*
 * Requests of one channel taken and not yet answered. A line each: the loops
 * of different channels change theirs on every turn that takes or answers.
 */
struct channel_credit {
	_Alignas(64) _Atomic uint32_t n;
};

struct held_reply {
	uint32_t mfa;
	uint32_t channel;
	uint32_t generation;
	bool final; /* gives a credit back once posted: a request's last reply, or an event */
};

/*
 * An answered request's frame, its block's size, and the channel opening it
 * came on: it goes back on that channel's free list, or to the inbound heap.
 */
struct done_frame {
	void *frame;
	size_t block;
	uint32_t channel;
	uint32_t generation;
};

/*
 * A loop's view of one channel slot: what iop_channel_lookup() said, kept
 * until the slot's word (state and generation) changes, so that a turn costs
 * one load per slot instead of a lookup.
 */
struct chan_view {
	const _Atomic uint64_t *word;
	uint64_t seen; /* the word ch and state describe; never a real word at first */
	struct iop_channel ch;
	int state;
	/*
	 * This loop takes the slot's requests (refresh_active()), and is the
	 * IOP-side user of its free lists, each of which has only one.
	 */
	bool owned;
};

/*
 * Replies a loop holds before it posts them (one ring enqueue per channel):
 * a reply that finds the outbox full sends those on first, and the end of
 * every turn sends the rest. Half the burst a host usually keeps in flight:
 * a turn that takes a host's 32 requests posts the first 16 replies while it
 * answers the other 16, so the host takes those replies and posts new
 * requests meanwhile, and the two CPUs work at the same time rather than by
 * turns. With 64, every reply of such a turn went out at its end, and the
 * host waited for the whole turn; 8 did no better than 16, 24 and 32 no
 * better than 64 (docs/benchmarks.md, "Replies in batches of 16").
 */
#define LCORE_OUTBOX 16u

struct iop_lcore {
	struct iop_runtime *rt;
	unsigned index;
	struct rte_ring *forward; /* requests other lcores took for this one's DDMs */
	void *forward_mem;
	struct iop_request requests[LCORE_REQUESTS];
	struct iop_request *free_requests;
	unsigned n_free;
	struct iop_request *retry_head, *retry_tail;
	unsigned retried_again;   /* of the last pass over the retry list: those put back on it */
	bool turn_busy;           /* this turn has made progress so far (iop_ddm_loop_idle) */
	bool idle_told;           /* a DDM was told this turn that it may block */
	unsigned forward_waiting; /* STEP_FORWARD requests on the retry list */
	unsigned retry_pass;      /* counts passes over the retry list */
	struct held_reply *held; /* replies whose ring was full, oldest first */
	unsigned n_held, held_cap;
	struct held_reply outbox[LCORE_OUTBOX]; /* replies not yet posted, in order */
	unsigned n_outbox;
	/* Frames of requests whose final reply is in the outbox: freed as it is flushed. */
	struct done_frame done[LCORE_OUTBOX];
	unsigned n_done;
	/*
	 * Of those, the ones for the channels' inbound free lists, tagged as the
	 * host's, while the flush posts the replies: listed right after.
	 */
	struct done_frame to_list[LCORE_OUTBOX];
	unsigned n_to_list;
	struct chan_view *chans; /* every slot of the window, this loop's view */
	/*
	 * This loop's slots that were open or closing when it last looked at
	 * them all, which it does again when the window's count of slot changes
	 * has moved, and at least every CHAN_RESCAN_TURNS turns: the count is in
	 * memory every host can write, so it is a hint, and a host that writes
	 * an old value back delays another's new channel, never hides it.
	 */
	const _Atomic uint64_t *chan_changes;
	uint64_t chan_changes_seen;
	unsigned turns_since_scan;
	uint16_t *active; /* slot ids, ascending */
	unsigned n_active;
};

/* A deferred ExecLctNotify: answered when the table changes past its indicator. */
struct lct_waiter {
	struct iop_request *req;
	uint32_t indicator;
	uint32_t class_filter;
};

/* What a worker lcore runs (eal.c). */
struct loop_arg {
	struct iop_runtime *rt;
	unsigned index;
	const _Atomic int *stop;
};

struct iop_runtime {
	struct iop_window *w;
	struct iop_window_map map;       /* MFAs and frames, converted inline */
	size_t in_list_block, out_list_block; /* the free lists' frames; 0: no free lists */
	/* Request frames looked up, and re-tagged twice a request (in_blocks.base), inline. */
	struct iop_heap_block_view in_blocks;
	struct iop_heap_block_view out_blocks; /* reply frames handed back, checked inline */
	uint16_t iop_id;
	unsigned n_lcores;
	struct iop_lcore *lcores[IOP_RUNTIME_MAX_LCORES];
	struct iop_ddm exec;                       /* TID 0, on lcore 0 */
	struct iop_ddm ddms[IOP_RUNTIME_MAX_DDMS];
	unsigned n_ddms;
	struct iop_ddm *by_tid[IOP_TID_MAX + 1];
	_Atomic int state;                         /* enum iop_state */
	_Atomic uint32_t lct_change;               /* CurrentChangeIndicator */
	/* Deferred LctNotify requests: as many as hosts post (each holds a request slot). */
	struct lct_waiter *lct_waiters;
	unsigned n_lct_waiters, lct_waiters_cap;
	/* The executive request waiting for its DDMs' control work (one at a time). */
	struct iop_request *control_req;
	int control_next_state;                    /* 0: no state change */
	struct iop_runtime_stats stats;
	/*
	 * Per channel: requests taken from it and not yet answered. A loop takes
	 * no more from a channel than its reply ring has room for, less these,
	 * so every reply fits when it comes and a host that stops taking replies
	 * holds up only its own channel.
	 */
	struct channel_credit channel_in_flight[IOP_CHANNELS_MAX];
	/* Loops launched on worker lcores (eal.c). */
	struct loop_arg loops[IOP_RUNTIME_MAX_LCORES];
	unsigned workers[IOP_RUNTIME_MAX_LCORES];
	unsigned n_launched;
};

/* request.c: iop_request_reply() without the checks a DDM needs. */
int request_reply_now(struct iop_request *r, uint8_t req_status, uint16_t dsc);
/*
 * A status-only answer from the runtime's own handlers: SUCCESS for dsc 0,
 * else ERROR_NO_DATA_TRANSFER with dsc. @return IOP_DDM_DONE, or
 * IOP_DDM_RETRY when no reply frame is free now.
 */
int request_answer(struct iop_request *r, uint16_t dsc);

/* dispatch.c */
/* Post the replies queued so far (dispatch_post_reply only queues them). */
unsigned dispatch_flush_outbox(struct iop_lcore *lc);
void dispatch_release(struct iop_lcore *lc, struct iop_request *r);
/* The runtime answers for the target: now, or from the retry list. */
void dispatch_answer(struct iop_lcore *lc, struct iop_request *r, uint8_t req_status,
		     uint16_t dsc);

/* A destroyed DDM's requests it still held, answered DEVICE_NOT_AVAILABLE. */
void dispatch_fail_held(struct iop_lcore *lc, struct iop_ddm *d);

/*
 * Queue a reply, posted with the outbox: when it is full (before this one
 * goes in) or at the end of the turn; the channel's credit stays taken until
 * then. Inline: every reply comes through here.
 */
static inline void dispatch_post_reply(struct iop_lcore *lc, uint32_t channel,
				       uint32_t generation, uint32_t mfa, bool final)
{
	if (lc->n_outbox == LCORE_OUTBOX)
		dispatch_flush_outbox(lc);
	lc->outbox[lc->n_outbox++] = (struct held_reply){ mfa, channel, generation, final };
}

/*
 * The frame of a request just answered, right after its final reply went to
 * the outbox: given back when the outbox is flushed, before any reply of it
 * is posted (freed in the heap, or tagged as the host's and put on the
 * channel's inbound free list right after the replies), so a host never
 * sees a reply while its request's frame is still the IOP's. A
 * free is an atomic RMW on the heap's bitmap word, and like a locked add it
 * waits for every earlier store of the core, the reply frame's among them:
 * at the flush that wait comes once for up to LCORE_OUTBOX requests, not
 * once for each.
 */
static inline void dispatch_free_frame_later(struct iop_lcore *lc, const struct iop_request *r)
{
	/*
	 * Never full: each entry follows its reply into the outbox, and the
	 * flush that empties the outbox empties this, so n_done <= n_outbox.
	 */
	lc->done[lc->n_done++] =
		(struct done_frame){ r->frame, r->block, r->channel, r->generation };
}

/*
 * A reply frame of at least `bytes` for a request of (channel, generation),
 * tagged with the channel's owner: from the channel's outbound free list
 * when this loop owns the channel and the reply fits the list's frames, else
 * from the outbound heap. @return the frame, or NULL when the heap has none.
 */
uint32_t *dispatch_reply_frame(struct iop_lcore *lc, uint32_t channel, uint32_t generation,
			       uint16_t owner, size_t bytes);

/* The runtime's counters: written by any lcore, read by any thread. */
#define STAT_ADD(field, n) __atomic_fetch_add(&(field), (n), __ATOMIC_RELAXED)
#define STAT_SUB(field, n) __atomic_fetch_sub(&(field), (n), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/*
 * A DDM's counters (struct iop_ddm_stats) have one writer, the DDM's lcore
 * (and, in iop_runtime_destroy(), its fini on the destroying thread, once no
 * loop turns any more), and readers anywhere: a relaxed load and a relaxed
 * store, not an atomic add. A locked add waits until every earlier store of
 * the core is in its cache, and on the request path the store before it is
 * most often to a frame the host's core holds: four such waits a request
 * were a sixth of the loop's time in bursts.
 */
#define DDM_STAT_ADD(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED)
#define DDM_STAT_SUB(field, n) \
	__atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) - (n), __ATOMIC_RELAXED)

/* executive.c */
extern const struct iop_ddm_ops iop_executive_ops;
/* On the DDM's lcore: do what the executive asked of it, if anything. */
void executive_run_control(struct iop_lcore *lc, struct iop_ddm *d);
/* The IOP's new state, told to the hosts registered for its events (any thread). */
void executive_set_state(struct iop_runtime *rt, int state);

/* control_hold's askers. */
#define HOLD_EXEC 0x1u    /* ExecSysQuiesce, ExecIopReset, ExecDdmDestroy (executive.c) */
#define HOLD_RUNTIME 0x2u /* iop_runtime_quiesce() */

/*
 * Is control work (quiesce, reset, destroy) asked of d and not yet finished
 * by whoever asked? Then a request not yet handed to d is answered
 * DEVICE_NOT_AVAILABLE at once, what the state the work leaves would answer:
 * a host that keeps posting cannot keep the DDM busy forever, and nothing
 * waits for the work to end (waiting requests would hold the loop's request
 * slots, and with them every other channel of the loop). Acquire: once it
 * says no, the new state is seen.
 */
static inline bool dispatch_held_for_control(const struct iop_ddm *d)
{
	return atomic_load_explicit(&((struct iop_ddm *)d)->control_hold, memory_order_acquire) ||
	       atomic_load_explicit(&((struct iop_ddm *)d)->control, memory_order_acquire) !=
		       CONTROL_NONE;
}

/* params.c: UtilParamsGet/Set, which the runtime answers unless the DDM takes them. */
int params_handle(struct iop_ddm *d, struct iop_request *r);

/* event.c: UtilEventRegister, which the runtime answers unless the DDM takes it. */
struct event_reg;
/* Register (or cancel) the request's host for d's events; the request is done with. */
void event_register(struct iop_lcore *lc, struct iop_ddm *d, struct iop_request *r);
/*
 * Raise runtime events for d from any thread (IOP_EVENT_* bits; state: the
 * IOP_EVENT_STATE_* data of IOP_EVENT_STATE_CHANGE). Its loop sends them.
 */
void event_raise(struct iop_ddm *d, uint32_t indicators, uint32_t state);
/* On d's lcore, every turn: send what was raised and what waited for a frame. */
unsigned event_poll(struct iop_lcore *lc, struct iop_ddm *d);
/* Forget every registration (the target is gone). */
void event_forget_all(struct iop_ddm *d);

/* function_codes.c: does I2O define fn for a target of this class? */
bool iop_function_defined(uint16_t class_id, uint8_t fn);

static inline bool ddm_accepts(const struct iop_ddm *d, uint8_t fn)
{
	return d->accepts[fn / 8] & (1u << (fn % 8));
}

static inline bool event_is_runtimes(const struct iop_ddm *d, uint8_t fn)
{
	return fn == IOP_UTIL_EVENT_REGISTER && !ddm_accepts(d, fn);
}

/* Inline, as the two above: every request asks. */
static inline bool params_is_runtimes(const struct iop_ddm *d, uint8_t fn)
{
	return (fn == IOP_UTIL_PARAMS_GET || fn == IOP_UTIL_PARAMS_SET) && !ddm_accepts(d, fn);
}

#endif /* IOP_RUNTIME_IMPL_H */
