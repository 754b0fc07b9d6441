/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Making and unmaking a runtime: the executive and the configured DDMs at
 * their TIDs, and per lcore its request descriptors and the ring that other
 * lcores forward requests on.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "iop_channel.h"
#include "iop_heap.h"
#include "iop_sgl.h"
#include "iop_window.h"
#include "runtime_impl.h"

static void say(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static struct iop_lcore *lcore_create(struct iop_runtime *rt, unsigned index)
{
	ssize_t ring_bytes = rte_ring_get_memsize_elem(sizeof(struct forwarded),
							LCORE_FORWARD_ENTRIES);
	struct iop_lcore *lc = aligned_alloc(64, (sizeof(*lc) + 63) / 64 * 64);

	if (lc == NULL)
		return NULL;
	memset(lc, 0, sizeof(*lc));
	lc->rt = rt;
	lc->index = index;
	lc->forward_mem = aligned_alloc(128, ((size_t)ring_bytes + 127) / 128 * 128);
	/* Any lcore forwards here, and lcores may share a core: relaxed tail sync. */
	if (lc->forward_mem == NULL ||
	    rte_ring_init(lc->forward_mem, "iop_forward", LCORE_FORWARD_ENTRIES,
			  RING_F_MP_RTS_ENQ | RING_F_SC_DEQ) != 0) {
		free(lc->forward_mem);
		free(lc);
		return NULL;
	}
	lc->forward = lc->forward_mem;
	lc->chans = calloc(iop_window_channels(rt->w), sizeof(*lc->chans));
	lc->active = calloc(iop_window_channels(rt->w), sizeof(*lc->active));
	if (lc->chans == NULL || lc->active == NULL) {
		free(lc->chans);
		free(lc->active);
		free(lc->forward_mem);
		free(lc);
		return NULL;
	}
	lc->chan_changes = iop_channel_changes(rt->w);
	lc->turns_since_scan = CHAN_RESCAN_TURNS; /* every slot is looked at on the first turn */
	for (unsigned c = 0; c < iop_window_channels(rt->w); c++) {
		lc->chans[c].word = iop_channel_word(rt->w, c);
		lc->chans[c].seen = UINT64_MAX; /* no slot's word: looked up at first use */
		lc->chans[c].owned = c % rt->n_lcores == lc->index;
	}
	for (unsigned i = 0; i < LCORE_REQUESTS; i++) {
		lc->requests[i].next = lc->free_requests;
		lc->free_requests = &lc->requests[i];
	}
	lc->n_free = LCORE_REQUESTS;
	return lc;
}

static void set_up_target(struct iop_runtime *rt, struct iop_ddm *d,
			  const struct iop_ddm_ops *ops, uint16_t tid, unsigned lcore)
{
	d->ops = ops;
	d->rt = rt;
	d->tid = tid;
	d->lcore = lcore;
	for (unsigned f = 0; f < ops->n_functions; f++)
		d->accepts[ops->functions[f] / 8] |= (uint8_t)(1u << (ops->functions[f] % 8));
	atomic_store(&d->live, true);
	rt->by_tid[tid] = d;
}

static bool config_ok(const struct iop_runtime_config *cfg, char *err, size_t errlen)
{
	if (cfg == NULL || cfg->window == NULL || cfg->lcores == 0 ||
	    cfg->lcores > IOP_RUNTIME_MAX_LCORES || cfg->n_ddms > IOP_RUNTIME_MAX_DDMS ||
	    (cfg->n_ddms != 0 && cfg->ddms == NULL)) {
		say(err, errlen, "bad runtime configuration (window, 1-%u lcores, at most %u DDMs)",
		    IOP_RUNTIME_MAX_LCORES, IOP_RUNTIME_MAX_DDMS);
		errno = EINVAL;
		return false;
	}
	for (unsigned i = 0; i < cfg->n_ddms; i++) {
		if (iop_ddm_find(cfg->ddms[i].name) == NULL) {
			say(err, errlen, "no DDM named \"%s\"", cfg->ddms[i].name ?: "(null)");
			errno = ENOENT;
			return false;
		}
		if (cfg->ddms[i].lcore >= cfg->lcores) {
			say(err, errlen, "DDM %s: lcore %u, but there are %u", cfg->ddms[i].name,
			    cfg->ddms[i].lcore, cfg->lcores);
			errno = EINVAL;
			return false;
		}
	}
	return true;
}

struct iop_runtime *iop_runtime_create(const struct iop_runtime_config *cfg, char *err,
				       size_t errlen)
{
	struct iop_runtime *rt;

	if (!config_ok(cfg, err, errlen))
		return NULL;
	/* Aligned as its DDMs and channel credits are: a line each. */
	rt = aligned_alloc(64, (sizeof(*rt) + 63) / 64 * 64);
	if (rt == NULL)
		return NULL;
	memset(rt, 0, sizeof(*rt));
	rt->w = cfg->window;
	rt->iop_id = cfg->iop_id & IOP_TID_MAX;
	iop_window_map(rt->w, &rt->map);
	rt->in_list_block = iop_channel_free_list_block(rt->w, rt->map.inbound);
	rt->out_list_block = iop_channel_free_list_block(rt->w, rt->map.outbound);
	/*
	 * The blocks looked at inline: the free lists' frames, the size
	 * dispatch_reply_frame() checks a handed-back frame against (0 when
	 * there are no lists, which means the smallest, as the lists' frames
	 * are, and short requests and replies). Both heaps are the window's, so
	 * neither call can fail (a view that did would refuse every frame).
	 */
	(void)iop_heap_block_view(rt->map.inbound, rt->in_list_block, &rt->in_blocks);
	(void)iop_heap_block_view(rt->map.outbound, rt->out_list_block, &rt->out_blocks);
	rt->n_lcores = cfg->lcores;
	atomic_store(&rt->state, IOP_STATE_OPERATIONAL);
	atomic_store(&rt->lct_change, 1);
	for (unsigned i = 0; i < rt->n_lcores; i++) {
		rt->lcores[i] = lcore_create(rt, i);
		if (rt->lcores[i] == NULL) {
			iop_runtime_destroy(rt);
			errno = ENOMEM;
			return NULL;
		}
	}
	set_up_target(rt, &rt->exec, &iop_executive_ops, IOP_TID_EXEC, 0);
	for (unsigned i = 0; i < cfg->n_ddms; i++) {
		const struct iop_runtime_ddm *c = &cfg->ddms[i];
		const struct iop_ddm_ops *ops = iop_ddm_find(c->name);
		struct iop_ddm *d = &rt->ddms[i];
		int rc;

		d->priv = calloc(1, ops->priv_size ? ops->priv_size : 1);
		if (d->priv == NULL) {
			iop_runtime_destroy(rt);
			errno = ENOMEM;
			return NULL;
		}
		set_up_target(rt, d, ops, (uint16_t)(IOP_RUNTIME_FIRST_DDM_TID + i), c->lcore);
		rt->n_ddms = i + 1;
		rc = ops->init != NULL ? ops->init(d, c->params ? c->params : "") : 0;
		if (rc != 0) {
			say(err, errlen, "DDM %s (TID 0x%03x): init failed: %s", c->name, d->tid,
			    strerror(-rc));
			atomic_store(&d->live, false); /* no fini for what did not init */
			iop_runtime_destroy(rt);
			errno = -rc;
			return NULL;
		}
	}
	return rt;
}

void iop_runtime_destroy(struct iop_runtime *rt)
{
	if (rt == NULL)
		return;
	for (unsigned i = rt->n_ddms; i-- > 0;) {
		struct iop_ddm *d = &rt->ddms[i];

		if (atomic_load(&d->live) && d->ops->fini != NULL)
			d->ops->fini(d);
		free(d->priv);
		event_forget_all(d);
	}
	event_forget_all(&rt->exec);
	for (unsigned i = 0; i < rt->n_lcores; i++) {
		if (rt->lcores[i] != NULL) {
			/* Replies a fini made, and the frames of their requests. */
			if (rt->lcores[i]->n_outbox != 0)
				dispatch_flush_outbox(rt->lcores[i]);
			free(rt->lcores[i]->forward_mem);
			free(rt->lcores[i]->held);
			free(rt->lcores[i]->chans);
			free(rt->lcores[i]->active);
		}
		free(rt->lcores[i]);
	}
	free(rt->lct_waiters);
	free(rt);
}

uint16_t iop_runtime_ddm_tid(const struct iop_runtime *rt, unsigned i)
{
	return i < rt->n_ddms ? rt->ddms[i].tid : IOP_TID_NONE;
}

int iop_runtime_ddm_stats(const struct iop_runtime *rt, uint16_t tid, struct iop_ddm_stats *s)
{
	const struct iop_ddm *d = tid <= IOP_TID_MAX ? rt->by_tid[tid] : NULL;

	if (d == NULL || s == NULL)
		return -ENOENT;
	s->requests = STAT_GET(d->stats.requests);
	s->replies = STAT_GET(d->stats.replies);
	s->failures = STAT_GET(d->stats.failures);
	s->unsupported = STAT_GET(d->stats.unsupported);
	s->double_replies = STAT_GET(d->stats.double_replies);
	s->missing_replies = STAT_GET(d->stats.missing_replies);
	s->retries = STAT_GET(d->stats.retries);
	s->in_flight = STAT_GET(d->stats.in_flight);
	s->events = STAT_GET(d->stats.events);
	return 0;
}

void iop_runtime_stats(const struct iop_runtime *rt, struct iop_runtime_stats *s)
{
	s->fail_replies = STAT_GET(rt->stats.fail_replies);
	s->bad_mfas = STAT_GET(rt->stats.bad_mfas);
	s->replies_held = STAT_GET(rt->stats.replies_held);
	s->replies_dropped = STAT_GET(rt->stats.replies_dropped);
	s->requests_abandoned = STAT_GET(rt->stats.requests_abandoned);
}

int iop_runtime_state(const struct iop_runtime *rt)
{
	return atomic_load(&((struct iop_runtime *)rt)->state);
}

struct iop_window *iop_runtime_window(const struct iop_runtime *rt)
{
	return rt->w;
}

bool iop_runtime_channel_idle(const struct iop_runtime *rt, unsigned id)
{
	struct iop_channel ch;
	int state;

	if (id >= IOP_CHANNELS_MAX)
		return true;
	state = iop_channel_lookup(rt->w, id, &ch);
	/*
	 * The in-flight count goes up before a loop takes from the ring (see
	 * take_channels), so an empty ring and a zero count, read in this order,
	 * mean no request of this channel is anywhere in the IOP.
	 */
	if ((state == IOP_CHANNEL_OPEN || state == IOP_CHANNEL_CLOSED) &&
	    rte_ring_count(ch.to_iop) != 0)
		return false;
	return atomic_load(&((struct iop_runtime *)rt)->channel_in_flight[id].n) == 0;
}

int iop_runtime_quiesce(struct iop_runtime *rt, unsigned timeout_ms)
{
	struct timespec pause = { 0, 1000000 };

	for (unsigned i = 0; i < rt->n_ddms; i++) {
		int none = CONTROL_NONE;

		/* Never over work the executive asked for: that finishes first. */
		if (atomic_load(&rt->ddms[i].live)) {
			/* New requests are refused until the state below is READY (dispatch.c). */
			atomic_fetch_or_explicit(&rt->ddms[i].control_hold, HOLD_RUNTIME,
						 memory_order_release);
			atomic_compare_exchange_strong(&rt->ddms[i].control, &none,
						       CONTROL_QUIESCE);
		}
	}
	for (unsigned ms = 0;; ms++) {
		bool done = true;

		for (unsigned i = 0; i < rt->n_ddms; i++)
			done = done && atomic_load_explicit(&rt->ddms[i].control,
							    memory_order_acquire) == CONTROL_NONE;
		if (done)
			break;
		if (ms == timeout_ms) {
			/* Requests are refused only while the quiesce itself is asked (control). */
			for (unsigned i = 0; i < rt->n_ddms; i++)
				atomic_fetch_and_explicit(&rt->ddms[i].control_hold,
							  (uint8_t)~HOLD_RUNTIME,
							  memory_order_release);
			return -ETIMEDOUT;
		}
		nanosleep(&pause, NULL);
	}
	executive_set_state(rt, IOP_STATE_READY);
	for (unsigned i = 0; i < rt->n_ddms; i++)
		atomic_fetch_and_explicit(&rt->ddms[i].control_hold, (uint8_t)~HOLD_RUNTIME,
					  memory_order_release);
	return 0;
}

unsigned iop_runtime_targets(const struct iop_runtime *rt)
{
	return rt->n_ddms + 1;
}

int iop_runtime_target(const struct iop_runtime *rt, unsigned i, struct iop_target_info *t)
{
	const struct iop_ddm *d = i == 0 ? &rt->exec : i <= rt->n_ddms ? &rt->ddms[i - 1] : NULL;

	if (d == NULL || t == NULL)
		return -ENOENT;
	t->tid = d->tid;
	t->class_id = d->ops->class_id;
	t->lcore = d->lcore;
	t->name = d->ops->name;
	t->live = atomic_load(&((struct iop_ddm *)d)->live);
	return 0;
}
