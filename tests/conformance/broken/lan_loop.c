/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A LAN target (class 0x020) with no port: what PacketSend sends comes back
 * into the buckets of ReceivePost, in software, with iopool's LAN frames
 * (docs/lan.md). Built without a defect it is a reference that passes the
 * LAN checks without DPDK; built with -DDEFECT_<NAME> it has one defect for
 * the LAN checks to catch (check.sh). Like the lan DDM: one packet per
 * PacketSend, buckets filled oldest post first, one reply per post per turn
 * listing what it got, MULTIPLE until the last bucket; LanReset and
 * ExecIopReset finish every post with ABORT_NO_DATA_TRANSFER, DEVICE_RESET.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lan.h"
#include "iop_lct.h"
#include "iop_sgl.h"
#include "iop_window.h"

/* The largest packet: an MTU of 1500, the Ethernet header and two VLAN tags. */
#define MAX_PACKET 1522u
/* Packets sent and not yet received. */
#define SLOTS 64u
/* ReceivePosts held at once. */
#define MAX_POSTS 8u
/* DEFECT_LONE_MULTIPLE: how long packets are held for more to come. */
#define HOLD_MS 500u

struct post {
	struct iop_request *r;
	unsigned n, next; /* buckets, and the first empty one */
	struct {
		uint32_t offset, len;
	} b[IOP_LAN_MAX_BUCKETS];
};

struct loop {
	struct iop_sgl_bounds bounds;
	unsigned head, count; /* the packets in flight: a ring of SLOTS */
	uint32_t len[SLOTS];
	uint8_t data[SLOTS][MAX_PACKET];
	unsigned post_head, n_posts;
	struct post posts[MAX_POSTS];
	uint64_t last_sent_ms; /* when the newest packet was queued */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static const uint8_t functions[] = { IOP_LAN_RESET, IOP_LAN_PACKET_SEND, IOP_LAN_RECEIVE_POST };

static int answer(struct iop_request *r, uint8_t status, uint16_t dsc)
{
	return iop_request_reply(r, status, dsc) == -ENOMEM ? IOP_DDM_RETRY : IOP_DDM_DONE;
}

/* Copy the packet the SGL holds into slot s. @return 0 or the DSC to refuse it with. */
static uint16_t take_packet(struct loop *l, struct iop_request *r, unsigned s)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	uint32_t len = 0;
	int rc;

	if (h->size_words <= IOP_LAN_SGL_WORD)
		return IOP_DSC_MESSAGE_TOO_SMALL;
	if (iop_request_frame(r)[IOP_LAN_CONTROL_WORD] != 0)
		return IOP_DSC_INVALID_PARAMETER;
	if (h->sgl_offset != IOP_LAN_SGL_WORD)
		return h->sgl_offset == 0 ? IOP_DSC_INVALID_REQUEST : IOP_DSC_INVALID_OFFSET;
	if (iop_sgl_iter_init(&it, iop_request_frame(r), (size_t)h->size_words * 4,
			      h->sgl_offset, &l->bounds) != 0)
		return IOP_DSC_INVALID_REQUEST;
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		const void *src = e.kind == IOP_SGL_KIND_SIMPLE
					  ? (const uint8_t *)l->bounds.window + e.offset
					  : e.data;

		if (e.count > MAX_PACKET - len)
			return IOP_DSC_MESSAGE_TOO_LARGE;
		memcpy(l->data[s] + len, src, e.count);
		len += e.count;
	}
	if (rc < 0)
		return it.dsc != 0 ? it.dsc : IOP_DSC_INVALID_REQUEST;
	if (len == 0)
		return IOP_DSC_INVALID_REQUEST;
	l->len[s] = len;
	return 0;
}

static int packet_send(struct loop *l, struct iop_request *r)
{
	unsigned s = (l->head + l->count) % SLOTS;
	uint32_t *rep;
	uint16_t dsc;

	if (l->count == SLOTS)
		return IOP_DDM_RETRY; /* the next turn delivers or drops what is queued */
	/* The reply frame first, so that a packet queued is always answered. */
	rep = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	if (rep == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	dsc = take_packet(l, r, s);
	if (dsc == 0) {
		l->count++;
		l->last_sent_ms = now_ms();
	}
	iop_request_reply_send(r, rep, IOP_REPLY_WORDS,
			       dsc == 0 ? IOP_REPLY_STATUS_SUCCESS
					: IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			       dsc);
	return IOP_DDM_DONE;
}

static int receive_post(struct loop *l, struct iop_request *r)
{
	const struct iop_msg_hdr *h = iop_request_hdr(r);
	struct post *p = &l->posts[(l->post_head + l->n_posts) % MAX_POSTS];
	uint32_t want = le32toh(iop_request_frame(r)[IOP_LAN_CONTROL_WORD]);
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	int rc;

	if (l->n_posts == MAX_POSTS)
		return answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			      IOP_DSC_INSUFFICIENT_RESOURCE_SOFT);
	if (h->size_words <= IOP_LAN_SGL_WORD || h->sgl_offset != IOP_LAN_SGL_WORD ||
	    want == 0 || want > IOP_LAN_MAX_BUCKETS ||
	    iop_sgl_iter_init(&it, iop_request_frame(r), (size_t)h->size_words * 4,
			      h->sgl_offset, &l->bounds) != 0)
		return answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, IOP_DSC_INVALID_REQUEST);
	p->n = 0;
	while ((rc = iop_sgl_next(&it, &e)) == 1) {
		if (e.kind != IOP_SGL_KIND_SIMPLE || e.count == 0 || p->n == want)
			return answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				      IOP_DSC_INVALID_PARAMETER);
		p->b[p->n].offset = e.offset;
		p->b[p->n++].len = e.count;
	}
	if (rc < 0 || p->n != want)
		return answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
			      rc < 0 && it.dsc != 0 ? it.dsc : IOP_DSC_INVALID_PARAMETER);
	p->r = r;
	p->next = 0;
	l->n_posts++;
	return IOP_DDM_PENDING;
}

static void pop_post(struct loop *l)
{
	l->post_head = (l->post_head + 1) % MAX_POSTS;
	l->n_posts--;
}

/* The oldest packet queued is gone: delivered or dropped. */
static void dequeue(struct loop *l)
{
	l->head = (l->head + 1) % SLOTS;
	l->count--;
}

/*
 * Fill buckets of the oldest post with the packets queued, and answer it.
 * @return 0, -ENOMEM, or -EAGAIN when it holds the packets for now (a defect).
 */
static int deliver(struct loop *l, struct post *p)
{
	unsigned want = 0, got = 0;
	uint32_t *rep;

	/* A packet larger than its bucket is dropped, as the lan DDM drops it. */
	while (l->count != 0 && l->len[l->head] > p->b[p->next].len)
		dequeue(l);
	while (want < l->count && want < p->n - p->next && want < IOP_LAN_RX_REPLY_MAX &&
	       l->len[(l->head + want) % SLOTS] <= p->b[p->next + want].len)
		want++;
	if (want == 0)
		return 0;
#if defined(DEFECT_LONE_MULTIPLE)
	/*
	 * Batches: holds the packets until they fill the post, or until none has
	 * come for HOLD_MS (so one packet alone is still reported, as an
	 * intermediate reply: only the final reply is wrong).
	 */
	if (want < p->n - p->next && now_ms() - l->last_sent_ms < HOLD_MS)
		return -EAGAIN;
#endif
	rep = iop_request_reply_alloc(p->r, IOP_LAN_RX_FIRST_WORD + 2 * want);
	if (rep == NULL)
		return -ENOMEM;
	for (; got < want; got++) {
		uint32_t len = l->len[l->head];

		memcpy((uint8_t *)l->bounds.window + p->b[p->next].offset, l->data[l->head], len);
#if defined(DEFECT_WRONG_RX_LENGTH)
		len += 4; /* counts a frame check sequence it never wrote */
#endif
		rep[IOP_LAN_RX_FIRST_WORD + 2 * got] = htole32(p->next);
		rep[IOP_LAN_RX_FIRST_WORD + 2 * got + 1] = htole32(len);
		p->next++;
		dequeue(l);
	}
	rep[IOP_LAN_RX_PACKETS_WORD] = htole32(got);
	rep[IOP_LAN_RX_LEFT_WORD] = htole32(p->n - p->next);
	if (p->next < p->n) {
		iop_request_reply_more(p->r, rep, IOP_LAN_RX_FIRST_WORD + 2 * got,
				       IOP_REPLY_STATUS_SUCCESS, 0);
#if defined(DEFECT_NO_MULTIPLE)
		/*
		 * Intermediate replies that look final (a reply goes out no sooner
		 * than the next is queued or the turn ends).
		 */
		rep[0] &= ~htole32((uint32_t)IOP_MSG_MULTIPLE << 8);
#endif
	} else {
		iop_request_reply_send(p->r, rep, IOP_LAN_RX_FIRST_WORD + 2 * got,
				       IOP_REPLY_STATUS_SUCCESS, 0);
#if defined(DEFECT_LONE_MULTIPLE)
		/*
		 * The final reply flagged "more to come": MULTIPLE, without LAST. With
		 * the packets batched it is the post's only reply, and a host would
		 * wait for the rest forever.
		 */
		rep[0] = (rep[0] & ~htole32((uint32_t)IOP_MSG_LAST << 8)) |
			 htole32((uint32_t)IOP_MSG_MULTIPLE << 8);
#endif
		pop_post(l);
	}
	return 0;
}

/* Finish every post held with this status. @return -ENOMEM when a reply frame ran out. */
static int finish_posts(struct loop *l, uint16_t dsc, bool orphans_only)
{
	unsigned n = l->n_posts, kept = 0;

	for (unsigned i = 0; i < n; i++) {
		struct post *p = &l->posts[(l->post_head + i) % MAX_POSTS];

		if ((!orphans_only || iop_request_orphaned(p->r)) &&
		    iop_request_reply(p->r, IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER, dsc) == 0)
			continue;
		if (kept != i)
			l->posts[(l->post_head + kept) % MAX_POSTS] = *p;
		kept++;
	}
	l->n_posts = kept;
	return kept != 0 && !orphans_only ? -ENOMEM : 0;
}

static int loop_poll(struct iop_ddm *d)
{
	struct loop *l = iop_ddm_priv(d);
	unsigned before = l->count;

	/* A post whose host has left is answered now: it would hold the host's channel. */
	finish_posts(l, IOP_DSC_DEVICE_NOT_AVAILABLE, true);
	while (l->count != 0) {
		if (l->n_posts == 0) {
			l->count = 0; /* no bucket: dropped, as a NIC with no descriptors drops */
			break;
		}
		if (deliver(l, &l->posts[l->post_head]) != 0)
			break;
	}
	return (int)(before - l->count);
}

static int lan_reset(struct loop *l, struct iop_request *r)
{
	if (finish_posts(l, IOP_DSC_DEVICE_RESET, false) != 0)
		return IOP_DDM_RETRY; /* the rest of the posts on the next turn */
	l->count = 0;
	return answer(r, IOP_REPLY_STATUS_SUCCESS, 0);
}

#if !defined(DEFECT_RESET_KEEPS_POSTS)
/*
 * ExecIopReset: back to the state after init, every post finished with
 * ABORT_NO_DATA_TRANSFER, DEVICE_RESET (as LanReset). Asked again on the
 * next turn while reply frames run out.
 */
static int loop_reset(struct iop_ddm *d)
{
	struct loop *l = iop_ddm_priv(d);

	if (finish_posts(l, IOP_DSC_DEVICE_RESET, false) != 0)
		return -EAGAIN;
	l->count = 0;
	return 0;
}
#endif

#if defined(DEFECT_FINI_ABANDONS_POSTS)
/*
 * A teardown that gives up its posts for good (iop_request_abandon, which is
 * for buffers a device may still write) although nothing can write them
 * now: they are never answered, and the host never has its buckets back.
 */
static void loop_fini(struct iop_ddm *d)
{
	struct loop *l = iop_ddm_priv(d);

	for (unsigned i = 0; i < l->n_posts; i++)
		iop_request_abandon(l->posts[(l->post_head + i) % MAX_POSTS].r);
	l->n_posts = 0;
}
#endif

static int handle(struct iop_ddm *d, struct iop_request *r)
{
	struct loop *l = iop_ddm_priv(d);

	if (iop_window_sgl_bounds(iop_request_window(r), &l->bounds) != 0)
		return answer(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, IOP_DSC_INVALID_REQUEST);
	switch (iop_request_hdr(r)->function) {
	case IOP_LAN_PACKET_SEND:
		return packet_send(l, r);
	case IOP_LAN_RECEIVE_POST:
		return receive_post(l, r);
	default:
		return lan_reset(l, r);
	}
}

static const struct iop_ddm_ops ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = DDM_NAME,
	.class_id = IOP_CLASS_LAN,
	.functions = functions,
	.n_functions = sizeof(functions),
	.priv_size = sizeof(struct loop),
	.handle = handle,
	.poll = loop_poll,
#if !defined(DEFECT_RESET_KEEPS_POSTS)
	/* Without it, a reset leaves the posts held: nothing would ever finish them. */
	.reset = loop_reset,
#endif
#if defined(DEFECT_FINI_ABANDONS_POSTS)
	.fini = loop_fini,
#endif
};

IOP_DDM_EXPORT(ops)
