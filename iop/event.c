/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UtilEventRegister, answered by the runtime for every target (unless a DDM
 * lists it as its own), and the events that follow it (<iop/frame.h> has the
 * frame layout).
 *
 * A registration is kept per target and per channel opening: registering
 * again from the same channel replaces it, mask 0 cancels it. It gets no
 * reply; each event whose indicator is in its mask gets one, an intermediate
 * reply (MULTIPLE) that echoes the registration's contexts. A registration
 * whose mask had IOP_EVENT_MASK_MODIFIED is told, under its own contexts,
 * when a later one replaces or cancels it (EventData: the new mask): the
 * host's fence, after which none of its events come.
 *
 * Events are sent on the target's own lcore. One that finds no reply frame
 * free, or no room in the host's reply ring (a host that stops taking
 * replies must not fill the outbound heap with events), waits with its
 * registration and goes on a later turn, in order; an event that fires
 * meanwhile with the same indicator as one waiting replaces its EventData
 * (the latest state wins), and past EVENT_WAITING_MAX kinds waiting they
 * merge into the last (indicators OR'd, the latest EventData). A
 * registration whose host has gone is dropped. Registrations
 * hold no request frame and no channel credit, so a host's channel can go
 * idle and be taken back while it is registered; an event on its way holds
 * a credit until it is in the host's ring, as a request does, so a host that
 * leaves (and waits for its channel to go idle) never leaves one behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ring.h>

#include "iop_heap.h"
#include "iop_window.h"
#include "runtime_impl.h"

/* Kinds of event one registration keeps waiting, each with its own EventData. */
#define EVENT_WAITING_MAX 4u

struct waiting_event {
	uint32_t indicator;
	uint32_t data[IOP_EVENT_DATA_MAX];
	unsigned words;
};

struct event_reg {
	struct iop_msg_hdr hdr; /* the registration's: each event echoes its contexts */
	uint32_t channel;
	uint32_t generation;
	uint16_t owner;         /* the channel's owner id, the tag of its replies */
	uint32_t mask;          /* 0: cancelled, kept only to send what waits */
	unsigned n_waiting;     /* events not sent yet, oldest first */
	struct waiting_event waiting[EVENT_WAITING_MAX];
};

/* Is e's host still there? Its channel then, in ch. */
static bool reg_host_there(const struct iop_runtime *rt, const struct event_reg *e,
			   struct iop_channel *ch)
{
	return iop_channel_lookup(rt->w, e->channel, ch) == IOP_CHANNEL_OPEN &&
	       ch->generation == e->generation;
}

/*
 * One event reply to e's host. @return 0; -ENOMEM when no reply frame is
 * free; -EBUSY when the host's reply ring has no room for it; -ENOENT when
 * the host has gone.
 */
static int send_event(struct iop_lcore *lc, struct iop_ddm *d, const struct event_reg *e,
		      uint32_t indicator, const uint32_t *data, unsigned n)
{
	struct iop_window *w = lc->rt->w;
	_Atomic uint32_t *credit = &lc->rt->channel_in_flight[e->channel].n;
	unsigned words = IOP_EVENT_DATA_WORD + n;
	struct iop_channel ch;
	uint32_t *p;

	/*
	 * Counted before the host is looked at, the order take_channels()
	 * keeps: a host that leaves closes its channel, then waits for it to be
	 * idle, so either it waits for this reply or this sees it gone.
	 */
	uint32_t in_flight = atomic_fetch_add(credit, 1) + 1;

	if (!reg_host_there(lc->rt, e, &ch)) {
		atomic_fetch_sub(credit, 1);
		return -ENOENT;
	}
	/* Room in its ring for every reply owed, this one too, as a request needs. */
	if (rte_ring_free_count(ch.to_host) < in_flight) {
		atomic_fetch_sub(credit, 1);
		return -EBUSY;
	}
	p = iop_heap_alloc_tagged(iop_window_outbound(w), (size_t)words * 4, e->owner);
	if (p == NULL) {
		atomic_fetch_sub(credit, 1);
		return -ENOMEM;
	}
	iop_reply_build(&e->hdr, d->tid, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS, p, words);
	iop_reply_seal(p, &e->hdr, d->tid, IOP_MSG_MULTIPLE, (uint16_t)words,
		       IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
	/* Word 4 is the indicator, not a status: the SIG's UtilEventRegister reply. */
	p[IOP_EVENT_INDICATOR_WORD] = rte_cpu_to_le_32(indicator);
	for (unsigned i = 0; i < n; i++)
		p[IOP_EVENT_DATA_WORD + i] = rte_cpu_to_le_32(data[i]);
	DDM_STAT_ADD(d->stats.events, 1);
	/* "final": its credit goes back once it is in the ring (or dropped, the host gone). */
	dispatch_post_reply(lc, e->channel, e->generation, iop_window_map_mfa(&lc->rt->map, p),
			    true);
	return 0;
}

static void set_data(struct waiting_event *we, const uint32_t *data, unsigned n)
{
	if (n != 0)
		memcpy(we->data, data, (size_t)n * 4);
	we->words = n;
}

/* Keep an event for later, behind those waiting already. */
static void keep_waiting(struct iop_ddm *d, struct event_reg *e, uint32_t indicator,
			 const uint32_t *data, unsigned n)
{
	struct waiting_event *we = NULL;

	for (unsigned i = 0; i < e->n_waiting; i++)
		if (e->waiting[i].indicator == indicator)
			we = &e->waiting[i]; /* the same event again: its latest data */
	if (we == NULL && e->n_waiting < EVENT_WAITING_MAX) {
		we = &e->waiting[e->n_waiting++];
		we->indicator = indicator;
	} else if (we == NULL) {
		we = &e->waiting[EVENT_WAITING_MAX - 1];
		we->indicator |= indicator;
	}
	set_data(we, data, n);
	d->events_waiting = true;
}

/* Tell e of an event, now or, behind what already waits, when it can go. */
static void offer(struct iop_lcore *lc, struct iop_ddm *d, struct event_reg *e, uint32_t indicator,
		  const uint32_t *data, unsigned n)
{
	uint32_t hit = indicator & e->mask;

	if (hit == 0)
		return;
	if (e->n_waiting == 0) {
		int rc = send_event(lc, d, e, hit, data, n);

		if (rc == 0 || rc == -ENOENT)
			return; /* sent, or nobody to tell: the sweeps drop it */
	}
	keep_waiting(d, e, hit, data, n);
}

/* Drop the registrations whose host has gone, and cancelled ones with nothing left to send. */
static void sweep(struct iop_runtime *rt, struct iop_ddm *d)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < d->n_event_regs; i++) {
		struct event_reg *e = &d->event_regs[i];
		struct iop_channel ch;

		if (!reg_host_there(rt, e, &ch) || (e->mask == 0 && e->n_waiting == 0))
			continue;
		d->event_regs[kept++] = *e;
	}
	d->n_event_regs = kept;
}

static struct event_reg *live_reg_of(struct iop_ddm *d, uint32_t channel, uint32_t generation)
{
	for (unsigned i = 0; i < d->n_event_regs; i++) {
		struct event_reg *e = &d->event_regs[i];

		if (e->mask != 0 && e->channel == channel && e->generation == generation)
			return e;
	}
	return NULL;
}

static bool room_for_one(struct iop_ddm *d)
{
	unsigned cap = d->event_regs_cap ? 2 * d->event_regs_cap : 4;
	struct event_reg *more;

	if (d->n_event_regs < d->event_regs_cap)
		return true;
	more = realloc(d->event_regs, cap * sizeof(*more));
	if (more == NULL)
		return false;
	d->event_regs = more;
	d->event_regs_cap = cap;
	return true;
}

/* The request is done with, without a reply: its frame and its credit go back. */
static void finish_silently(struct iop_lcore *lc, struct iop_request *r)
{
	struct iop_runtime *rt = lc->rt;

	atomic_fetch_sub(&rt->channel_in_flight[r->channel].n, 1);
	iop_heap_free(iop_window_inbound(rt->w), r->frame, r->block);
	r->frame = NULL;
	dispatch_release(lc, r);
}

/*
 * End a registration: told of it (EventData the new mask) if it asked for
 * IOP_EVENT_MASK_MODIFIED; kept only while what it has waiting goes out.
 */
static void cancel(struct iop_lcore *lc, struct iop_ddm *d, struct event_reg *e, uint32_t mask)
{
	uint32_t tell = e->mask & IOP_EVENT_MASK_MODIFIED;

	e->mask = tell;
	if (tell != 0)
		offer(lc, d, e, tell, &mask, 1);
	e->mask = 0;
}

void event_register(struct iop_lcore *lc, struct iop_ddm *d, struct iop_request *r)
{
	struct event_reg *old, *e;
	uint32_t mask;

	/* Refused or not, it ends the one it replaces: a host that asked again expects that. */
	mask = r->hdr.size_words > IOP_EVENT_MASK_WORD ?
		       rte_le_to_cpu_32(r->frame[IOP_EVENT_MASK_WORD]) : 0;
	sweep(lc->rt, d);
	old = live_reg_of(d, r->channel, r->generation);
	if (old != NULL)
		cancel(lc, d, old, mask);
	if (r->hdr.size_words <= IOP_EVENT_MASK_WORD) {
		dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				IOP_DSC_MISSING_PARAMETER);
		return;
	}
	if (mask != 0 && !room_for_one(d)) {
		dispatch_answer(lc, r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				IOP_DSC_INSUFFICIENT_RESOURCE_SOFT);
		return;
	}
	if (mask != 0) {
		e = &d->event_regs[d->n_event_regs++];
		memset(e, 0, sizeof(*e));
		e->hdr = r->hdr;
		e->channel = r->channel;
		e->generation = r->generation;
		e->owner = r->owner;
		e->mask = mask;
	}
	sweep(lc->rt, d);
	finish_silently(lc, r);
}

void event_raise(struct iop_ddm *d, uint32_t indicators, uint32_t state)
{
	uint64_t old = atomic_load_explicit(&d->events_raised, memory_order_relaxed), raised;

	/* One word: the loop takes the bits and the state they go with at once. */
	do {
		raised = old | indicators;
		if (indicators & IOP_EVENT_STATE_CHANGE)
			raised = (raised & 0xFFFFFFFFu) | (uint64_t)state << 32;
	} while (!atomic_compare_exchange_weak_explicit(&d->events_raised, &old, raised,
							memory_order_release, memory_order_relaxed));
}

static void offer_all(struct iop_lcore *lc, struct iop_ddm *d, uint32_t indicator,
		      const uint32_t *data, unsigned n)
{
	for (unsigned i = 0; i < d->n_event_regs; i++)
		offer(lc, d, &d->event_regs[i], indicator, data, n);
}

/* The events other threads raised for d, in the order a host expects: reset, then its state. */
static void send_raised(struct iop_lcore *lc, struct iop_ddm *d, uint64_t raised_word)
{
	uint32_t raised = (uint32_t)raised_word, state = (uint32_t)(raised_word >> 32);
	/* The executive's EventData has the IOP state too; a DDM's is the one word. */
	uint32_t data[2] = { state & 0xFF, state >> 8 };

	if (raised & IOP_EVENT_DEVICE_RESET)
		offer_all(lc, d, IOP_EVENT_DEVICE_RESET, NULL, 0);
	if (raised & IOP_EVENT_STATE_CHANGE)
		offer_all(lc, d, IOP_EVENT_STATE_CHANGE, data, d == &lc->rt->exec ? 2 : 1);
	raised &= ~(IOP_EVENT_DEVICE_RESET | IOP_EVENT_STATE_CHANGE);
	if (raised != 0)
		offer_all(lc, d, raised, NULL, 0);
}

/* Send what waited, oldest registration and oldest event first. */
static void send_waiting(struct iop_lcore *lc, struct iop_ddm *d)
{
	bool still = false;

	for (unsigned i = 0; i < d->n_event_regs; i++) {
		struct event_reg *e = &d->event_regs[i];
		unsigned sent = 0;

		while (sent < e->n_waiting) {
			const struct waiting_event *we = &e->waiting[sent];
			int rc = send_event(lc, d, e, we->indicator, we->data, we->words);

			if (rc == -ENOENT) {
				sent = e->n_waiting; /* nobody to tell: all of it goes */
				break;
			}
			if (rc != 0)
				break;
			sent++;
		}
		if (sent != 0) {
			memmove(e->waiting, e->waiting + sent,
				(e->n_waiting - sent) * sizeof(e->waiting[0]));
			e->n_waiting -= sent;
		}
		still = still || e->n_waiting != 0;
	}
	d->events_waiting = still;
	if (!still)
		sweep(lc->rt, d); /* cancelled registrations that only waited to send */
}

unsigned event_poll(struct iop_lcore *lc, struct iop_ddm *d)
{
	uint64_t raised = atomic_load_explicit(&d->events_raised, memory_order_relaxed);
	unsigned work = 0;

	if (d->events_waiting) {
		send_waiting(lc, d);
		work++;
	}
	if (raised != 0) {
		raised = atomic_exchange_explicit(&d->events_raised, 0, memory_order_acquire);
		send_raised(lc, d, raised);
		work++;
	}
	return work;
}

int iop_ddm_event_raise(struct iop_ddm *d, uint32_t indicator, const uint32_t *data,
			unsigned n_words)
{
	struct iop_lcore *lc = d->rt->lcores[d->lcore];
	unsigned told = 0;

	if (indicator == 0 || n_words > IOP_EVENT_DATA_MAX || (n_words != 0 && data == NULL))
		return -EINVAL;
	for (unsigned i = 0; i < d->n_event_regs; i++) {
		struct event_reg *e = &d->event_regs[i];
		struct iop_channel ch;

		if ((e->mask & indicator) == 0 || !reg_host_there(lc->rt, e, &ch))
			continue;
		offer(lc, d, e, indicator, data, n_words);
		told++;
	}
	return (int)told;
}

void event_forget_all(struct iop_ddm *d)
{
	free(d->event_regs);
	d->event_regs = NULL;
	d->n_event_regs = 0;
	d->event_regs_cap = 0;
	d->events_waiting = false;
}
