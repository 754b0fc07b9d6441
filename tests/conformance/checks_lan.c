/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN (class 0x020) checks: packets sent come back into the buckets a
 * host posted, reported by ReceivePost replies that batch them the way I2O
 * hosts read them (MULTIPLE on every reply but the final one, LAST on the
 * final one of several; docs/lan.md has iopool's frames). The target's port
 * must give back what it sends: net_ring (iop-conform --vdev net_ring0 with
 * the lan DDM), a loopback, or a DDM that loops in software.
 *
 * Each check runs one exchange: buckets posted, packets sent one at a time
 * (inline and through SGL buffers), every reply taken as it came; then
 * judges one side of it. Packets have lengths of their own, so a report is
 * matched to its packet by length and its bucket compared byte for byte.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_host.h"
#include "iop_lan.h"

#define BUCKETS 8u
/* Room for the largest packet of an MTU-1500 port: 1514 + two VLAN tags + slack. */
#define BUCKET_BYTES 2048u
/* Replies to one post the exchange keeps: one per bucket and a few past the final one. */
#define MAX_POST_REPLIES (BUCKETS + 4u)
/* How long the exchange waits for a packet's report before sending the next. */
#define REPORT_WAIT_MS 100u

/* Lengths of the packets, all different; the largest a 1500-byte MTU allows untagged. */
static const uint32_t lengths[BUCKETS] = { 60, 1514, 64, 333, 1000, 61, 128, 1500 };

struct exchange {
	struct raw_chan *rc;
	void *bucket[BUCKETS];
	uint8_t pkt[BUCKETS][1514];
	uint32_t post_tc;
	bool posted;
	unsigned sends_ok;                 /* PacketSends answered SUCCESS */
	unsigned replies;                  /* replies to the post, all of them */
	struct raw_reply rep[MAX_POST_REPLIES]; /* the first MAX_POST_REPLIES of them */
	unsigned reported;                 /* packets they report (word 5) */
	unsigned others;                   /* replies that match nothing sent */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void make_packet(uint8_t *p, uint32_t len, unsigned seed)
{
	static const uint8_t hdr[14] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x88, 0xB5 };

	memcpy(p, hdr, sizeof(hdr)); /* local, experimental EtherType: no stack wants it */
	for (uint32_t i = sizeof(hdr); i < len; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* Packets word 5 of a post's reply says it reports (0 for a reply too short to say). */
static unsigned reply_packets(const struct raw_reply *r)
{
	return r->words > IOP_LAN_RX_PACKETS_WORD ? le32toh(r->w[IOP_LAN_RX_PACKETS_WORD]) : 0;
}

/*
 * Take one reply, within timeout_ms: the post's are kept, a PacketSend's
 * counted. @return the TransactionContext it had, or 0 on a timeout.
 */
static uint32_t take(struct exchange *ex, unsigned timeout_ms)
{
	struct raw_reply r;
	uint32_t tc;

	if (raw_take(ex->rc, &r, timeout_ms) != 0)
		return 0;
	tc = r.words > 3 ? le32toh(r.w[3]) : 0;
	if (ex->posted && tc == ex->post_tc) {
		if (ex->replies < MAX_POST_REPLIES)
			ex->rep[ex->replies] = r;
		ex->replies++;
		ex->reported += reply_packets(&r);
	} else if (reply_function(&r) == IOP_LAN_PACKET_SEND) {
		ex->sends_ok += reply_req_status(&r) == IOP_REPLY_STATUS_SUCCESS;
	} else {
		ex->others++;
	}
	return tc != 0 ? tc : 1;
}

/* Post the buckets. @return false (the check failed) if they could not be. */
static bool post_buckets(struct exchange *ex)
{
	struct iop_buf b[BUCKETS];
	size_t bytes = 32 + 8 * BUCKETS;
	uint32_t *f = raw_frame(ex->rc, bytes);
	bool all = true;

	for (unsigned i = 0; i < BUCKETS; i++) {
		ex->bucket[i] = raw_buf(ex->rc, BUCKET_BYTES, 0xEE);
		b[i] = (struct iop_buf){ ex->bucket[i], BUCKET_BYTES };
		all = all && ex->bucket[i] != NULL;
	}
	if (f != NULL && all &&
	    iop_build_lan_receive_post(f, bytes, ex->rc->fx->tid, ex->rc->fx->w, b, BUCKETS) >= 0) {
		ex->post_tc = raw_contexts(ex->rc, f);
		ex->posted = raw_post(ex->rc, f) != 0;
		if (ex->posted)
			return true;
		CU_FAIL("ReceivePost could not be posted");
	} else {
		CU_FAIL("no frame or buffers for ReceivePost");
	}
	/* Not posted: the frame and the buckets are still ours. */
	if (f != NULL)
		iop_qp_frame_free(ex->rc->qp, f);
	for (unsigned i = 0; i < BUCKETS; i++) {
		raw_buf_free(ex->rc, ex->bucket[i]);
		ex->bucket[i] = NULL;
	}
	return false;
}

/* Packet i: inline when i is even, else through one buffer or two. @return its TC, or 0. */
static uint32_t send_packet(struct exchange *ex, unsigned i, void **bufs)
{
	uint32_t len = lengths[i];
	size_t bytes = 64 + len;
	uint32_t *f = raw_frame(ex->rc, bytes);
	struct iop_buf b[2];
	unsigned n = i % 4 == 1 ? 2 : 1;
	uint32_t tc;
	int words;

	if (f == NULL)
		return 0;
	make_packet(ex->pkt[i], len, i);
	if (i % 2 == 0) {
		words = iop_build_lan_packet_send_inline(f, bytes, ex->rc->fx->tid, ex->pkt[i], len);
	} else {
		/* Two buffers cut at an odd place: the DDM joins them into one packet. */
		uint32_t first = n == 2 ? len / 2 + 1 : len;

		b[0] = (struct iop_buf){ bufs[0] = raw_buf(ex->rc, first, 0), first };
		b[1] = (struct iop_buf){ bufs[1] = n == 2 ? raw_buf(ex->rc, len - first, 0) : NULL,
					 len - first };
		if (b[0].addr == NULL || (n == 2 && b[1].addr == NULL))
			goto unposted;
		memcpy(b[0].addr, ex->pkt[i], first);
		if (n == 2)
			memcpy(b[1].addr, ex->pkt[i] + first, len - first);
		words = iop_build_lan_packet_send_sgl(f, bytes, ex->rc->fx->tid, ex->rc->fx->w, b, n);
	}
	if (words < 0)
		goto unposted;
	tc = raw_contexts(ex->rc, f);
	if (raw_post(ex->rc, f) != 0)
		return tc;
unposted: /* the frame and the buffers are still ours */
	iop_qp_frame_free(ex->rc->qp, f);
	raw_buf_free(ex->rc, bufs[0]);
	raw_buf_free(ex->rc, bufs[1]);
	bufs[0] = bufs[1] = NULL;
	return 0;
}

/* Take replies until the one with this TransactionContext, or the timeout. */
static bool take_until(struct exchange *ex, uint32_t tc, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (now_ms() < end)
		if (take(ex, (unsigned)(end - now_ms()) + 1) == tc)
			return true;
	return false;
}

/* Take replies until the post has reported `want` packets, or the timeout. */
static void take_reports(struct exchange *ex, unsigned want, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;

	while (ex->reported < want && now_ms() < end)
		take(ex, (unsigned)(end - now_ms()) + 1);
}

/*
 * The exchange: post BUCKETS buckets, send BUCKETS packets one at a time,
 * giving each a moment to be reported (so a target that reports as packets
 * come sends several replies), then take replies until every packet is
 * reported, and watch a while longer for replies that should not come.
 * @return false when it could not be run (the check has failed).
 */
static bool exchange_run(struct raw_chan *rc, struct exchange *ex)
{
	memset(ex, 0, sizeof(*ex));
	ex->rc = rc;
	if (!post_buckets(ex))
		return false;
	for (unsigned i = 0; i < BUCKETS; i++) {
		void *bufs[2] = { NULL, NULL };
		uint32_t tc = send_packet(ex, i, bufs);

		if (tc == 0) {
			CU_FAIL("PacketSend could not be built or posted");
			return false;
		}
		if (!take_until(ex, tc, CONFORM_TIMEOUT_MS)) {
			CU_FAIL("no reply to PacketSend");
			return false; /* the buffers may still be the DDM's: left to the teardown */
		}
		raw_buf_free(rc, bufs[0]);
		raw_buf_free(rc, bufs[1]);
		take_reports(ex, i + 1, REPORT_WAIT_MS);
	}
	take_reports(ex, BUCKETS, CONFORM_TIMEOUT_MS);
	while (take(ex, CONFORM_QUIET_MS) != 0)
		;
	return true;
}

/* Was reply k of the post a final one (no MULTIPLE, or LAST)? */
static bool final_reply(const struct raw_reply *r)
{
	uint8_t fl = reply_flags(r);

	return !(fl & IOP_MSG_MULTIPLE) || (fl & IOP_MSG_LAST);
}

/* Free the buckets, if the post is over (else they may still be the DDM's). */
static void exchange_end(struct exchange *ex)
{
	unsigned kept = ex->replies < MAX_POST_REPLIES ? ex->replies : MAX_POST_REPLIES;

	if (kept == 0 || !final_reply(&ex->rep[kept - 1]))
		return; /* the teardown takes them back with the host */
	for (unsigned i = 0; i < BUCKETS; i++)
		raw_buf_free(ex->rc, ex->bucket[i]);
}

/*
 * Every packet sent is reported once, with its length, in a bucket that
 * holds its bytes; every PacketSend is answered SUCCESS.
 */
static void check_round_trip(void)
{
	struct fixture fx;
	struct raw_chan rc;
	static struct exchange ex;
	bool seen[BUCKETS] = { false }, bucket_used[BUCKETS] = { false };
	unsigned kept;

	if (!check_up(&fx, &rc))
		return;
	if (!exchange_run(&rc, &ex)) {
		check_down(&fx, &rc);
		return;
	}
	CU_ASSERT_EQUAL(ex.sends_ok, BUCKETS);
	kept = ex.replies < MAX_POST_REPLIES ? ex.replies : MAX_POST_REPLIES;
	for (unsigned k = 0; k < kept; k++) {
		struct iop_lan_packet p[IOP_LAN_RX_REPLY_MAX];
		const struct raw_reply *r = &ex.rep[k];
		int n = iop_read_lan_receive_reply(r->w, r->words, p, IOP_LAN_RX_REPLY_MAX, NULL);

		if (n < 0) {
			fprintf(stderr, "  reply %u: not a SUCCESS ReceivePost reply (status 0x%02x, "
				"%u words)\n", k, reply_req_status(r), r->words);
			CU_FAIL("a ReceivePost reply that cannot be read");
			continue;
		}
		for (int j = 0; j < n; j++) {
			unsigned i = 0;

			while (i < BUCKETS && lengths[i] != p[j].len)
				i++;
			if (p[j].bucket >= BUCKETS || i == BUCKETS || seen[i] ||
			    bucket_used[p[j].bucket]) {
				fprintf(stderr, "  reply %u: packet of %u bytes in bucket %u: %s\n", k,
					p[j].len, p[j].bucket,
					p[j].bucket >= BUCKETS ? "no such bucket"
					: i == BUCKETS	       ? "no packet sent had that length"
								 : "reported twice");
				CU_FAIL("a packet reported with a length or bucket it does not have");
				continue;
			}
			seen[i] = bucket_used[p[j].bucket] = true;
			if (memcmp(ex.bucket[p[j].bucket], ex.pkt[i], lengths[i]) != 0) {
				CU_FAIL("a bucket does not hold the packet reported in it");
			}
		}
	}
	for (unsigned i = 0; i < BUCKETS; i++)
		if (!seen[i]) {
			fprintf(stderr, "  the packet of %u bytes was never reported\n", lengths[i]);
			CU_FAIL("a packet sent was not received");
		}
	CU_ASSERT_EQUAL(ex.others, 0);
	exchange_end(&ex);
	check_down(&fx, &rc);
}

/*
 * The post's replies as a host reads a batched answer: each a REPLY of
 * ReceivePost, as long as the packets it reports; MULTIPLE without LAST on
 * all but the last; the last one final: MULTIPLE | LAST, or, when it is the
 * only one, either a plain reply (neither flag) or MULTIPLE | LAST (a lone
 * reply with MULTIPLE alone says more is coming, and a host would wait for
 * it forever; LAST alone ends a series that never began); nothing after it;
 * the empty buckets it counts (word 6) going down by what each reports, to
 * 0; no bucket reported twice.
 */
static void check_batched_replies(void)
{
	struct fixture fx;
	struct raw_chan rc;
	static struct exchange ex;
	bool used[BUCKETS] = { false };
	unsigned left = BUCKETS;

	if (!check_up(&fx, &rc))
		return;
	if (!exchange_run(&rc, &ex)) {
		check_down(&fx, &rc);
		return;
	}
	if (ex.replies == 0 || ex.replies > MAX_POST_REPLIES) {
		fprintf(stderr, "  %u replies to one ReceivePost of %u buckets\n", ex.replies,
			BUCKETS);
		CU_FAIL("no reply, or more replies than buckets");
	}
	for (unsigned k = 0; k < ex.replies && k < MAX_POST_REPLIES; k++) {
		const struct raw_reply *r = &ex.rep[k];
		bool last = k + 1 == ex.replies;
		unsigned n = reply_packets(r);
		uint8_t fl = reply_flags(r);

		CU_ASSERT(fl & IOP_MSG_REPLY);
		CU_ASSERT_FALSE(fl & IOP_MSG_FAIL);
		CU_ASSERT_EQUAL(reply_function(r), IOP_LAN_RECEIVE_POST);
		CU_ASSERT_EQUAL(reply_req_status(r), IOP_REPLY_STATUS_SUCCESS);
		if (!last && final_reply(r)) {
			fprintf(stderr, "  reply %u of %u: flags 0x%02x, a final reply, and more came\n",
				k + 1, ex.replies, fl);
			CU_FAIL("a reply without MULTIPLE, or with LAST, followed by more");
		}
		if (last) {
			uint8_t ml = fl & (IOP_MSG_MULTIPLE | IOP_MSG_LAST);

			if (ml != (IOP_MSG_MULTIPLE | IOP_MSG_LAST) && (ex.replies > 1 || ml != 0)) {
				fprintf(stderr, "  reply %u of %u, the final one: flags 0x%02x\n",
					k + 1, ex.replies, fl);
				if (ex.replies > 1) {
					CU_FAIL("the final reply of several is not MULTIPLE | LAST");
				} else {
					CU_FAIL("a lone reply with MULTIPLE or LAST but not both");
				}
			}
		}
		if (n == 0 || n > IOP_LAN_RX_REPLY_MAX || n > left ||
		    (r->w[0] >> 16) < IOP_LAN_RX_FIRST_WORD + 2 * n || r->words < IOP_LAN_RX_FIRST_WORD) {
			fprintf(stderr, "  reply %u: %u packets, %u words, %u buckets were empty\n",
				k + 1, n, (unsigned)(r->w[0] >> 16), left);
			CU_FAIL("a reply whose packet count does not fit it or the buckets");
			break;
		}
		left -= n;
		if (le32toh(r->w[IOP_LAN_RX_LEFT_WORD]) != left) {
			fprintf(stderr, "  reply %u: says %u buckets left, %u are\n", k + 1,
				le32toh(r->w[IOP_LAN_RX_LEFT_WORD]), left);
			CU_FAIL("a reply's count of empty buckets is wrong");
		}
		for (unsigned j = 0; j < n && IOP_LAN_RX_FIRST_WORD + 2 * j < r->words; j++) {
			uint32_t b = le32toh(r->w[IOP_LAN_RX_FIRST_WORD + 2 * j]);

			if (b >= BUCKETS || used[b]) {
				CU_FAIL("a bucket out of range, or reported twice");
			} else {
				used[b] = true;
			}
		}
	}
	CU_ASSERT_EQUAL(left, 0);
	exchange_end(&ex);
	check_down(&fx, &rc);
}

/*
 * LanReset with a post held that has had a packet: the post's final reply
 * comes (ABORT_NO_DATA_TRANSFER, DEVICE_RESET, MULTIPLE | LAST after the
 * intermediate one), so the host has its buckets back; LanReset is SUCCESS.
 */
static void check_reset_returns_buckets(void)
{
	struct fixture fx;
	struct raw_chan rc;
	static struct exchange ex;
	void *bufs[2] = { NULL, NULL };
	uint32_t tc, *f;

	if (!check_up(&fx, &rc))
		return;
	memset(&ex, 0, sizeof(ex));
	ex.rc = &rc;
	if (!ddm_lists(IOP_LAN_RESET)) {
		CU_FAIL("the DDM does not list LanReset");
		goto out;
	}
	if (!post_buckets(&ex))
		goto out;
	tc = send_packet(&ex, 0, bufs);
	if (tc == 0 || !take_until(&ex, tc, CONFORM_TIMEOUT_MS)) {
		CU_FAIL("no reply to PacketSend");
		goto out;
	}
	/* Its flags are batched_replies' to judge: here only that the post is still held. */
	take_reports(&ex, 1, CONFORM_TIMEOUT_MS);
	if (ex.replies != 1 || ex.reported != 1) {
		CU_FAIL("the packet was not reported in one reply");
		goto out;
	}
	f = raw_frame(&rc, 32);
	if (f == NULL || iop_build_lan(f, 32, fx.tid, IOP_LAN_RESET) < 0) {
		if (f != NULL)
			iop_qp_frame_free(rc.qp, f);
		CU_FAIL("no frame for LanReset");
		goto out;
	}
	tc = raw_contexts(&rc, f);
	if (raw_post(&rc, f) == 0) {
		iop_qp_frame_free(rc.qp, f);
		CU_FAIL("LanReset could not be posted");
		goto out;
	}
	if (!take_until(&ex, tc, CONFORM_TIMEOUT_MS)) {
		CU_FAIL("no reply to LanReset");
		goto out;
	}
	/* The post's final reply may come before LanReset's or after it. */
	for (uint64_t end = now_ms() + CONFORM_TIMEOUT_MS; ex.replies < 2 && now_ms() < end;)
		take(&ex, CONFORM_QUIET_MS);
	if (ex.replies != 2) {
		CU_FAIL("the post was not finished by LanReset");
		goto out;
	}
	CU_ASSERT_EQUAL(reply_flags(&ex.rep[1]) & (IOP_MSG_MULTIPLE | IOP_MSG_LAST),
			IOP_MSG_MULTIPLE | IOP_MSG_LAST);
	CU_ASSERT_EQUAL(reply_req_status(&ex.rep[1]), IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER);
	CU_ASSERT_EQUAL(reply_dsc(&ex.rep[1]), IOP_DSC_DEVICE_RESET);
	exchange_end(&ex);
out:
	check_down(&fx, &rc);
}

const struct conform_check conform_lan[] = {
	{ "round_trip", check_round_trip },
	{ "batched_replies", check_batched_replies },
	{ "reset_returns_buckets", check_reset_returns_buckets },
	{ NULL, NULL },
};
