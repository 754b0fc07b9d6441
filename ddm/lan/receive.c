/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LanReceivePost and the receive path. A host posts buckets (simple SGL
 * elements naming buffers of the inbound heap); the DDM keeps the request
 * and, on every turn of its loop, receives a burst from the port and copies
 * each packet into the next empty bucket, oldest post first. Each turn that
 * fills buckets of a post answers it with one reply listing them: MULTIPLE
 * while it has empty buckets left, the final one (LAST) when it has none.
 * A packet with no bucket posted for it is dropped and counted, as a NIC
 * with no receive descriptors drops; so is one larger than its bucket.
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "iop_frame.h"
#include "iop_window.h"
#include "lan.h"

static struct lan_post *head(struct lan *l)
{
	return l->n_posts != 0 ? &l->posts[l->post_head] : NULL;
}

static void pop(struct lan *l)
{
	l->post_head = (l->post_head + 1) % LAN_MAX_POSTS;
	l->n_posts--;
}

/* The buckets of a ReceivePost, checked once. @return 0 or the DSC to refuse it with. */
static uint16_t parse_buckets(struct lan *l, struct iop_request *r, struct lan_post *p)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	uint32_t want;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	int rc;

	if (h->size_words <= IOP_LAN_SGL_WORD)
		return IOP_DSC_MESSAGE_TOO_SMALL;
	want = rte_le_to_cpu_32(iop_request_frame(r)[IOP_LAN_CONTROL_WORD]);
	if (want == 0 || want > IOP_LAN_MAX_BUCKETS)
		return IOP_DSC_INVALID_PARAMETER;
	if (h->sgl_offset != IOP_LAN_SGL_WORD)
		return h->sgl_offset == 0 ? IOP_DSC_INVALID_REQUEST : IOP_DSC_INVALID_OFFSET;
	if (iop_window_sgl_bounds(iop_request_window(r), &l->bounds) != 0 ||
	    iop_sgl_iter_init(&it, iop_request_frame(r), (size_t)h->size_words * 4,
			      h->sgl_offset, &l->bounds) != 0)
		return IOP_DSC_INVALID_REQUEST;
	p->n = 0;
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		/* A bucket is host memory the DDM writes: never the frame itself. */
		if (e.kind != IOP_SGL_KIND_SIMPLE || e.count == 0 || p->n == want)
			return IOP_DSC_INVALID_PARAMETER;
		p->b[p->n++] = (struct lan_bucket){ e.offset, e.count };
	}
	if (rc < 0)
		return it.dsc != 0 ? it.dsc : IOP_DSC_INVALID_REQUEST;
	return p->n == want ? 0 : IOP_DSC_INVALID_PARAMETER;
}

int lan_receive_post(struct lan *l, struct iop_request *r)
{
	struct lan_post *p;
	uint16_t dsc;

	if (l->suspended || !l->started)
		return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				  IOP_DSC_DEVICE_NOT_AVAILABLE);
	if (!l->rx)
		return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				  IOP_DSC_INAPPROPRIATE_FUNCTION);
	if (l->n_posts == LAN_MAX_POSTS)
		return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				  IOP_DSC_INSUFFICIENT_RESOURCE_SOFT);
	p = &l->posts[(l->post_head + l->n_posts) % LAN_MAX_POSTS];
	dsc = parse_buckets(l, r, p);
	if (dsc != 0)
		return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, dsc);
	p->r = r;
	p->next = 0;
	l->n_posts++;
	l->c.buckets_posted += p->n;
	return IOP_DDM_PENDING;
}

void lan_receive_drop(struct lan *l)
{
	unsigned n = l->rx_n - l->rx_i;

	rte_pktmbuf_free_bulk(&l->rx_pkts[l->rx_i], n);
	l->c.rx_no_bucket += n;
	l->rx_i = l->rx_n = 0;
}

static void copy_to_bucket(const struct lan *l, struct rte_mbuf *m, const struct lan_bucket *b)
{
	unsigned char *dst = (unsigned char *)l->bounds.window + b->offset;

	for (; m != NULL; m = m->next) {
		memcpy(dst, rte_pktmbuf_mtod(m, const void *), m->data_len);
		dst += m->data_len;
	}
}

/*
 * How many of the packets in hand go into the post's next buckets, up to
 * `most`: each into the next empty bucket if it fits, a larger one dropped
 * without taking a bucket (deliver()'s order).
 */
static unsigned packets_that_fit(const struct lan *l, const struct lan_post *p, unsigned most)
{
	unsigned fit = 0;

	for (unsigned i = l->rx_i; i < l->rx_n && fit < most; i++)
		if (l->rx_pkts[i]->pkt_len <= p->b[p->next + fit].len)
			fit++;
	return fit;
}

/*
 * Fill buckets of the oldest post with the packets in hand and answer it.
 * @return packets delivered, or -ENOMEM when no reply frame is free (the
 *         packets wait for the next turn).
 */
static int deliver(struct lan *l, struct lan_post *p)
{
	unsigned want = RTE_MIN(l->rx_n - l->rx_i, p->n - p->next), got = 0;
	uint32_t *reply;

	want = packets_that_fit(l, p, RTE_MIN(want, IOP_LAN_RX_REPLY_MAX));
	if (want == 0) {
		/* Every packet in hand is larger than the bucket it would take: dropped. */
		l->c.rx_too_large += l->rx_n - l->rx_i;
		rte_pktmbuf_free_bulk(&l->rx_pkts[l->rx_i], l->rx_n - l->rx_i);
		l->rx_i = l->rx_n;
		return 0;
	}
	/* Only now the reply frame: it is sent, with `want` packets in it. */
	reply = iop_request_reply_alloc(p->r, IOP_LAN_RX_FIRST_WORD + 2 * want);
	if (reply == NULL)
		return -ENOMEM;
	while (got < want && l->rx_i < l->rx_n) {
		struct rte_mbuf *m = l->rx_pkts[l->rx_i++];
		const struct lan_bucket *b = &p->b[p->next];

		if (m->pkt_len > b->len) {
			l->c.rx_too_large++;
		} else {
			copy_to_bucket(l, m, b);
			reply[IOP_LAN_RX_FIRST_WORD + 2 * got] = rte_cpu_to_le_32(p->next);
			reply[IOP_LAN_RX_FIRST_WORD + 2 * got + 1] = rte_cpu_to_le_32(m->pkt_len);
			l->c.rx_packets++;
			l->c.rx_bytes += m->pkt_len;
			p->next++;
			got++;
		}
		rte_pktmbuf_free(m);
	}
	reply[IOP_LAN_RX_PACKETS_WORD] = rte_cpu_to_le_32(got);
	reply[IOP_LAN_RX_LEFT_WORD] = rte_cpu_to_le_32(p->n - p->next);
	if (p->next < p->n) {
		iop_request_reply_more(p->r, reply, IOP_LAN_RX_FIRST_WORD + 2 * got,
				       IOP_REPLY_STATUS_SUCCESS, 0);
	} else {
		iop_request_reply_send(p->r, reply, IOP_LAN_RX_FIRST_WORD + 2 * got,
				       IOP_REPLY_STATUS_SUCCESS, 0);
		pop(l);
	}
	return (int)got;
}

/* How many turns between looks for posts whose host has left. */
#define ORPHAN_CHECK_TURNS 4096u

/*
 * Posts of hosts that have left are answered (the reply is dropped) and
 * taken out: they would otherwise hold their channels, and the host's frames,
 * until traffic filled every bucket, and take that traffic from live hosts.
 */
static void drop_orphans(struct lan *l)
{
	unsigned n = l->n_posts, kept = 0;

	for (unsigned i = 0; i < n; i++) {
		struct lan_post *p = &l->posts[(l->post_head + i) % LAN_MAX_POSTS];

		if (iop_request_orphaned(p->r) &&
		    iop_request_reply(p->r, IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER,
				      IOP_DSC_DEVICE_NOT_AVAILABLE) != -ENOMEM)
			continue;
		if (kept != i)
			l->posts[(l->post_head + kept) % LAN_MAX_POSTS] = *p;
		kept++;
	}
	l->n_posts = kept;
}

int lan_receive_poll(struct lan *l)
{
	int work = 0;

	if (l->n_posts != 0 && ++l->polls >= ORPHAN_CHECK_TURNS) {
		l->polls = 0;
		drop_orphans(l);
	}

	if (!l->rx || !l->started || l->suspended)
		return 0;
	if (l->rx_i == l->rx_n) {
		l->rx_i = 0;
		l->rx_n = rte_eth_rx_burst(l->port, 0, l->rx_pkts, IOP_LAN_RX_REPLY_MAX);
	}
	while (l->rx_i < l->rx_n) {
		struct lan_post *p = head(l);
		int n;

		if (p == NULL) {
			lan_receive_drop(l);
			break;
		}
		n = deliver(l, p);
		if (n < 0)
			break;
		work += n;
	}
	if (l->rx_i == l->rx_n)
		l->rx_i = l->rx_n = 0;
	return work;
}

int lan_receive_cancel(struct lan *l, uint16_t dsc)
{
	lan_receive_drop(l);
	while (head(l) != NULL) {
		if (iop_request_reply(head(l)->r, IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER, dsc) ==
		    -ENOMEM)
			return -ENOMEM;
		pop(l);
	}
	return 0;
}
