/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * LanPacketSend: one packet per request, carried in the frame (an
 * immediate-data element) or in buffers of the inbound heap (simple
 * elements), or both, the elements' bytes making the packet in order. The
 * packet is copied into an mbuf and sent on the port's tx queue; the reply
 * says whether it went. (Sending straight from frame memory through external
 * mbufs is to come, once measured against the copy.)
 */
#include <errno.h>
#include <string.h>

#include <rte_byteorder.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include "iop_frame.h"
#include "iop_window.h"
#include "lan.h"

/*
 * The packet the SGL names, copied into m. The list is walked once, each
 * element checked as it is read, so a host rewriting the frame meanwhile
 * can change the packet but never where it is read from.
 * @return 0, or the DSC to refuse the request with.
 */
static uint16_t copy_packet(struct lan *l, struct iop_request *r, struct rte_mbuf *m)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct iop_sgl_bounds b;
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	int rc;

	if (iop_window_sgl_bounds(iop_request_window(r), &b) != 0 ||
	    iop_sgl_iter_init(&it, iop_request_frame(r), (size_t)h->size_words * 4,
			      h->sgl_offset, &b) != 0)
		return IOP_DSC_INVALID_REQUEST;
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		const void *src = e.kind == IOP_SGL_KIND_IMMEDIATE ?
					  e.data :
					  (const unsigned char *)b.window + e.offset;
		char *dst;

		if (m->pkt_len + e.count > l->max_packet)
			return IOP_DSC_MESSAGE_TOO_LARGE;
		dst = rte_pktmbuf_append(m, (uint16_t)e.count);
		if (dst == NULL)
			return IOP_DSC_MESSAGE_TOO_LARGE;
		memcpy(dst, src, e.count);
	}
	if (rc < 0)
		return it.dsc != 0 ? it.dsc : IOP_DSC_INVALID_REQUEST;
	return m->pkt_len == 0 ? IOP_DSC_INVALID_REQUEST : 0;
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

int lan_packet_send(struct lan *l, struct iop_request *r)
{
	uint32_t *reply, len;
	struct rte_mbuf *m;
	uint16_t dsc;

	if (l->suspended || !l->started)
		return lan_answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				  IOP_DSC_DEVICE_NOT_AVAILABLE);
	/* The reply frame first: once the packet is sent the request must not come back. */
	reply = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	if (reply == NULL)
		return IOP_DDM_RETRY;
	dsc = check_request(r);
	m = dsc == 0 ? rte_pktmbuf_alloc(l->pool) : NULL;
	if (dsc == 0 && m == NULL)
		return IOP_DDM_RETRY; /* mbufs come back as the port sends them */
	if (dsc == 0)
		dsc = copy_packet(l, r, m);
	if (dsc != 0) {
		rte_pktmbuf_free(m);
		l->c.tx_refused++;
		iop_request_reply_send(r, reply, IOP_REPLY_WORDS,
				       IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, dsc);
		return IOP_DDM_DONE;
	}
	len = m->pkt_len; /* the port may free m as it sends */
	if (rte_eth_tx_burst(l->port, 0, &m, 1) != 1) {
		/* The tx queue is full: the packet goes again, from the frame, next turn. */
		rte_pktmbuf_free(m);
		return IOP_DDM_RETRY;
	}
	l->c.tx_packets++;
	l->c.tx_bytes += len;
	iop_request_reply_send(r, reply, IOP_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS, 0);
	return IOP_DDM_DONE;
}
