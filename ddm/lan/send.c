/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LanPacketSend: one packet or several (up to IOP_LAN_SEND_MAX_PACKETS) per
 * request, carried in the frame (immediate-data elements) or in buffers of
 * the inbound heap (simple elements), or both, the elements' bytes making the
 * packets in order, END_OF_BUFFER closing each. Every packet is checked and
 * put in an mbuf of its own before any is sent: copied into it (tx=copy), or,
 * with tx=zerocopy, a packet larger than copy_max attached to it where it
 * lies (zerocopy.c): one element in one mbuf, several in a chain of them on
 * a port that takes chains (RTE_ETH_TX_OFFLOAD_MULTI_SEGS), else copied all
 * the same. Then all go in one rte_eth_tx_burst. What a full tx
 * queue does not take waits, held, for later turns (lan_send_poll), and the
 * request is answered when all went (zero-copy: and the port has freed them).
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "iop_frame.h"
#include "iop_window.h"
#include "lan.h"

/* Tries of the tx queue for what the port did not take at first, within one request. */
#define LAN_TX_RETRIES 64u

static void tx_free(struct lan_tx *t, unsigned from)
{
	for (unsigned i = from; i < t->n; i++)
		rte_pktmbuf_free(t->m[i]);
	t->n = from;
}

/* The packet being gathered: its first pieces, or, past LAN_ZC_MAX_SEGS, an mbuf copy. */
struct lan_gather {
	struct lan_piece p[LAN_ZC_MAX_SEGS];
	unsigned n;
	uint32_t len;
	struct rte_mbuf *copy; /* non-NULL: the packet is being copied into it */
};

/* Append len bytes from src to the copy. @return 0 or the DSC. */
static uint16_t copy_append(struct rte_mbuf *m, const void *src, uint32_t len)
{
	char *dst = rte_pktmbuf_append(m, (uint16_t)len);

	if (dst == NULL)
		return IOP_DSC_MESSAGE_TOO_LARGE;
	memcpy(dst, src, len);
	return 0;
}

/* Copy the pieces gathered so far into an mbuf of the DDM's pool. @return 0, the DSC or -ENOMEM. */
static int start_copy(struct lan *l, struct lan_gather *g)
{
	uint16_t dsc;

	g->copy = lan_mbuf_get(l->pool, &l->spare);
	if (g->copy == NULL)
		return -ENOMEM; /* mbufs come back as the port sends them */
	for (unsigned i = 0; i < g->n; i++)
		if ((dsc = copy_append(g->copy, g->p[i].src, g->p[i].len)) != 0)
			return dsc;
	return 0;
}

/*
 * One more element of the packet being gathered: kept as a piece while
 * there is room, copied after the others beyond that.
 * @return 0, the DSC to refuse the request with, or -ENOMEM.
 */
static int gather(struct lan *l, struct lan_gather *g, const void *src, uint32_t len)
{
	int rc;

	if (len > l->max_packet - g->len)
		return IOP_DSC_MESSAGE_TOO_LARGE;
	if (len == 0)
		return 0; /* nothing to send from it */
	g->len += len;
	if (g->copy == NULL && g->n < LAN_ZC_MAX_SEGS) {
		g->p[g->n++] = (struct lan_piece){ src, len };
		return 0;
	}
	if (g->copy == NULL && (rc = start_copy(l, g)) != 0)
		return rc;
	return copy_append(g->copy, src, len);
}

/*
 * A whole packet of len bytes, its n pieces, copied into one new mbuf: its
 * length set outright, without rte_pktmbuf_append's tailroom check, because
 * the caller kept len within max_packet and the pool's data room is the
 * headroom plus max_packet. @return the mbuf, or NULL when none is free.
 */
static inline struct rte_mbuf *copy_packet(struct lan *l, const struct lan_piece *p, unsigned n,
					   uint32_t len)
{
	struct rte_mbuf *m = lan_mbuf_get(l->pool, &l->spare);
	char *dst;

	if (m == NULL)
		return NULL; /* mbufs come back as the port sends them */
	RTE_ASSERT(len <= rte_pktmbuf_tailroom(m)); /* the pool sized for max_packet */
	dst = rte_pktmbuf_mtod(m, char *);
	for (unsigned i = 0; i < n; i++) {
		memcpy(dst, p[i].src, p[i].len);
		dst += p[i].len;
	}
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

/*
 * A packet in one element (END_OF_BUFFER on the first element after the
 * last packet's end), the form every builder of one immediate element or
 * one buffer a packet makes: into t->m[t->n] at once, with the checks and
 * the choice of close_packet() for a gather of that one element, but
 * without gathering it first.
 * @return 0, the DSC, or -ENOMEM.
 */
static inline int one_element_packet(struct lan *l, struct lan_tx *t, const void *src,
				     uint32_t len)
{
	struct rte_mbuf *m;

	if (len > l->max_packet)
		return IOP_DSC_MESSAGE_TOO_LARGE;
	if (len == 0)
		return IOP_DSC_INVALID_REQUEST; /* an empty packet */
	if (t->zc != NULL && len > l->copy_max)
		m = lan_zc_mbuf(l, t->zc, (void *)(uintptr_t)src, len);
	else
		m = copy_packet(l, &(struct lan_piece){ src, len }, 1, len);
	if (m == NULL)
		return -ENOMEM;
	t->m[t->n] = m;
	t->len[t->n++] = len;
	return 0;
}

/*
 * The gathered packet into t->m[t->n]: attached where it lies (tx=zerocopy,
 * larger than copy_max, in one element or, on a port that takes chains, in
 * up to LAN_ZC_MAX_SEGS), else copied into one mbuf.
 * @return 0, the DSC, or -ENOMEM (g->copy, if any, is the caller's to free).
 */
static int close_packet(struct lan *l, struct lan_tx *t, struct lan_gather *g)
{
	if (g->len == 0)
		return IOP_DSC_INVALID_REQUEST;
	if (g->copy == NULL && t->zc != NULL && g->len > l->copy_max &&
	    (g->n == 1 || l->tx_chains)) {
		t->m[t->n] = lan_zc_chain(l, t->zc, g->p, g->n);
		if (t->m[t->n] == NULL)
			return -ENOMEM;
	} else if (g->copy == NULL) {
		t->m[t->n] = copy_packet(l, g->p, g->n, g->len);
		if (t->m[t->n] == NULL)
			return -ENOMEM;
	} else {
		t->m[t->n] = g->copy;
		g->copy = NULL;
	}
	t->len[t->n++] = g->len;
	return 0;
}

/*
 * One element of the list into t's packets: a packet of its own, or a piece
 * of the one open in g (*open), which an element flagged END_OF_BUFFER ends.
 * @return 0, the DSC to refuse the request with, or -ENOMEM.
 */
static inline int take_element(struct lan *l, struct lan_tx *t, struct lan_gather *g, bool *open,
			       const struct iop_sgl_elem *e, const void *window)
{
	const void *src = e->kind == IOP_SGL_KIND_IMMEDIATE ?
				  e->data :
				  (const unsigned char *)window + e->offset;
	int dsc;

	if (!*open) {
		if (t->n == IOP_LAN_SEND_MAX_PACKETS)
			return IOP_DSC_INVALID_PARAMETER;
		if (e->flags & IOP_SGL_END_OF_BUFFER)
			return one_element_packet(l, t, src, e->count);
		g->n = 0;
		g->len = 0;
		g->copy = NULL;
		*open = true;
	}
	if ((dsc = gather(l, g, src, e->count)) != 0)
		return dsc;
	if (e->flags & IOP_SGL_END_OF_BUFFER) {
		*open = false;
		return close_packet(l, t, g);
	}
	return 0;
}

/*
 * The packets the SGL names, each in an mbuf (or a chain) of its own: an
 * element flagged END_OF_BUFFER ends a packet, the list's end ends the last
 * one. The list is walked once, each element checked as it is read (a
 * burst of them at a time), so a host rewriting the frame meanwhile can
 * change the packets but never where they are read from; nothing is sent
 * until every packet has been checked.
 * @return 0, the DSC to refuse the request with, or -ENOMEM when no mbuf is
 *         free (t is left empty either way but on success).
 */
static int build_packets(struct lan *l, struct iop_request *r, struct lan_tx *t)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct lan_gather g = { .n = 0 }; /* once: each packet resets only n, len and copy */
	struct iop_sgl_elem e[IOP_LAN_SEND_MAX_PACKETS]; /* a whole request of one-element packets */
	struct iop_sgl_bounds b;
	struct iop_sgl_iter it;
	bool open = false; /* g holds a packet being gathered */
	int dsc = 0;
	int rc;

	t->n = 0;
	if (iop_window_sgl_bounds(iop_request_window(r), &b) != 0 ||
	    iop_sgl_iter_init(&it, iop_request_frame(r), (size_t)h->size_words * 4,
			      h->sgl_offset, &b) != 0)
		return IOP_DSC_INVALID_REQUEST;
	while (dsc == 0 && (rc = iop_sgl_next_burst(&it, e, RTE_DIM(e))) > 0)
		for (int i = 0; i < rc && dsc == 0; i++)
			dsc = take_element(l, t, &g, &open, &e[i], b.window);
	if (dsc == 0 && rc < 0)
		dsc = it.dsc != 0 ? it.dsc : IOP_DSC_INVALID_REQUEST;
	if (dsc == 0 && open) {
		open = false;
		dsc = close_packet(l, t, &g);
	}
	if (dsc == 0 && t->n == 0)
		dsc = IOP_DSC_INVALID_REQUEST;
	if (dsc != 0) {
		rte_pktmbuf_free(g.copy);
		tx_free(t, 0);
	}
	return dsc;
}

/* The request's own words, before its SGL. @return 0 or the DSC to refuse it with. */
static uint16_t check_request(const struct iop_request *r)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);

	if (h->size_words <= IOP_LAN_SGL_WORD)
		return IOP_DSC_MESSAGE_TOO_SMALL;
	if (rte_le_to_cpu_32(iop_request_frame(r)[IOP_LAN_CONTROL_WORD]) != 0)
		return IOP_DSC_INVALID_PARAMETER; /* no transmit options yet */
	if (h->sgl_offset != IOP_LAN_SGL_WORD)
		return h->sgl_offset == 0 ? IOP_DSC_INVALID_REQUEST : IOP_DSC_INVALID_OFFSET;
	return 0;
}

/* Count what the port took of t, from index `from` to `to`. */
static void count_sent(struct lan *l, const struct lan_tx *t, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		l->c.tx_bytes += t->len[i];
	l->c.tx_packets += to - from;
}

void lan_send_reply(struct iop_request *r, uint32_t *reply, unsigned n, unsigned sent,
		    uint16_t dsc)
{
	if (n == 1) {
		iop_request_reply_send(r, reply, IOP_REPLY_WORDS,
				       sent == 1 ? IOP_REPLY_STATUS_SUCCESS :
						   IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				       sent == 1 ? 0 : dsc);
		return;
	}
	reply[IOP_LAN_SEND_SENT_WORD] = rte_cpu_to_le_32(sent);
	iop_request_reply_send(r, reply, IOP_LAN_SEND_REPLY_WORDS,
			       sent == n ? IOP_REPLY_STATUS_SUCCESS :
					   IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER,
			       sent == n ? 0 : dsc);
}

/*
 * The held PacketSend is done with: the rest (if any) freed, the reply sent,
 * or, for zero-copy, queued until the port has freed what it took.
 */
static void finish_held(struct lan *l, uint16_t dsc)
{
	struct lan_tx_held *h = &l->tx_held;
	unsigned n = h->t.n;

	tx_free(&h->t, h->sent);
	if (h->t.zc != NULL)
		lan_zc_end(l, h->t.zc, h->sent, dsc);
	else
		lan_send_reply(h->r, h->reply, n, h->sent, dsc);
	h->r = NULL;
}

/*
 * Offer the held PacketSend's rest to the port, up to `tries` bursts, and
 * answer it if all of it went. @return packets the port took.
 */
static unsigned offer_held(struct lan *l, unsigned tries)
{
	struct lan_tx_held *h = &l->tx_held;
	unsigned took = 0;

	if (h->r == NULL)
		return 0;
	for (unsigned i = 0; i < tries && h->sent + took < h->t.n; i++)
		took += rte_eth_tx_burst(l->port, 0, h->t.m + h->sent + took,
					 (uint16_t)(h->t.n - h->sent - took));
	count_sent(l, &h->t, h->sent, h->sent + took);
	h->sent += took;
	if (h->sent == h->t.n)
		finish_held(l, 0);
	return took;
}

int lan_send_poll(struct lan *l)
{
	return (int)offer_held(l, 1);
}

void lan_send_finish(struct lan *l, uint16_t dsc)
{
	offer_held(l, LAN_TX_RETRIES);
	lan_send_cancel(l, dsc);
}

void lan_send_drop(struct lan *l)
{
	struct lan_tx_held *h = &l->tx_held;

	if (h->r == NULL)
		return;
	/* Zero-copy: what the port took points into the request; answered once it is freed. */
	if (h->t.zc != NULL) {
		finish_held(l, IOP_DSC_DEVICE_NOT_AVAILABLE);
		return;
	}
	tx_free(&h->t, h->sent);
	h->r = NULL;
}

void lan_send_cancel(struct lan *l, uint16_t dsc)
{
	if (l->tx_held.r != NULL)
		finish_held(l, dsc);
}

/*
 * Refuse r, nothing of it sent, zc its slot if it has one: answered at once,
 * or, while older zero-copy sends still wait for the port, queued behind
 * them as one already released, so its reply does not overtake theirs (the
 * host pairs replies with its sends in order). The reply is the same either
 * way: ERROR_NO_DATA_TRANSFER, dsc.
 */
static int refuse(struct lan *l, struct iop_request *r, uint32_t *reply, struct lan_zc *zc,
		  uint16_t dsc)
{
	if (zc == NULL && l->zc_n == 0) {
		iop_request_reply_send(r, reply, IOP_REPLY_WORDS,
				       IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, dsc);
		return IOP_DDM_DONE;
	}
	/* Only zero-copy has sends waiting, so only it gets here without a slot. */
	if (zc == NULL && (zc = lan_zc_begin(l)) == NULL)
		return IOP_DDM_RETRY; /* reply is the request's: freed with it if it never goes */
	zc->r = r;
	zc->reply = reply;
	zc->n = 1; /* the one-packet reply: ERROR_NO_DATA_TRANSFER, dsc */
	return lan_zc_end(l, zc, 0, dsc) ? IOP_DDM_DONE : IOP_DDM_PENDING;
}

int lan_packet_send(struct lan *l, struct iop_request *r)
{
	/* Not zeroed whole (over 750 bytes): build_packets fills m and len as far as n. */
	struct lan_tx t;
	uint32_t *reply;
	unsigned sent, tries;
	int dsc;

	if (l->suspended || !l->started) {
		if (l->zc_n == 0)
			return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
					  IOP_DSC_DEVICE_NOT_AVAILABLE);
		reply = iop_request_reply_alloc(r, IOP_LAN_SEND_REPLY_WORDS);
		if (reply == NULL)
			return IOP_DDM_RETRY;
		return refuse(l, r, reply, NULL, IOP_DSC_DEVICE_NOT_AVAILABLE);
	}
	t.n = 0;
	t.zc = NULL;
	/* Behind the one the port is still taking: packets leave in the order they came. */
	if (l->tx_held.r != NULL)
		return IOP_DDM_RETRY;
	/* Zero-copy: a slot for its reply, which waits for the port (none free: it waits). */
	if (l->tx_mode == LAN_TX_ZEROCOPY && (t.zc = lan_zc_begin(l)) == NULL)
		return IOP_DDM_RETRY;
	/* The reply frame first: once a packet is sent the request must not come back. */
	reply = iop_request_reply_alloc(r, IOP_LAN_SEND_REPLY_WORDS);
	if (reply == NULL)
		return IOP_DDM_RETRY;
	dsc = check_request(r);
	if (dsc == 0)
		dsc = build_packets(l, r, &t);
	if (dsc == -ENOMEM)
		return IOP_DDM_RETRY;
	if (dsc != 0) {
		l->c.tx_refused++;
		return refuse(l, r, reply, t.zc, (uint16_t)dsc);
	}
	/* The port may free the mbufs as it sends them: t.len keeps their lengths. */
	sent = rte_eth_tx_burst(l->port, 0, t.m, (uint16_t)t.n);
	if (sent == 0) {
		/* The tx queue is full: the packets go again, from the frame, next turn. */
		tx_free(&t, 0);
		return IOP_DDM_RETRY;
	}
	/* Some went: a few quick tries for the rest, then it waits for later turns. */
	for (tries = 0; sent < t.n && tries < LAN_TX_RETRIES; tries++)
		sent += rte_eth_tx_burst(l->port, 0, t.m + sent, (uint16_t)(t.n - sent));
	count_sent(l, &t, 0, sent);
	if (t.zc != NULL) {
		/* Not shinfo: the port may be freeing mbufs, on another thread, already. */
		t.zc->r = r;
		t.zc->reply = reply;
		t.zc->n = t.n;
	}
	if (sent < t.n) {
		l->tx_held = (struct lan_tx_held){ .r = r, .reply = reply, .t = t, .sent = sent };
		return IOP_DDM_PENDING;
	}
	if (t.zc != NULL)
		return lan_zc_end(l, t.zc, sent, 0) ? IOP_DDM_DONE : IOP_DDM_PENDING;
	lan_send_reply(r, reply, t.n, sent, 0);
	return IOP_DDM_DONE;
}
