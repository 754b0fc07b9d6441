/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN DDM on the real EAL with virtual ports, one process for every case
 * (rte_eal_init runs once): net_ring0 (a ring its tx and rx share: every
 * packet sent comes back), net_pcap0 (to a pcap file; no rx_pcap) and
 * net_null0. The DDM runs on a worker lcore; the test's main thread is the
 * host, through a queue pair of the host shim. Each case makes its own
 * window and runtime and leaves both heaps as it found them.
 */
#include <errno.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_bus_vdev.h>
#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_eth_ring.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>

#include "iop_build.h"
#include "iop_test_iopd.h"
#include "iop_eal.h"
#include "iop_host.h"
#include "iop_lan.h"
#include "iop_sgl.h"
#include "iop_window.h"
#include "runtime_harness.h"

#define LAN_TID 0x010
#define TIMEOUT_MS 5000u
#define BUCKET 9216u

static char tx_pcap[256];
/*
 * Appended to the DDM's parameters by the cases run in every tx mode: ""
 * (the default: zerocopy above 256 bytes on these virtual ports),
 * ",tx=copy" or ",tx=zerocopy".
 */
static const char *tx_mode = "";

/* A runtime with the lan DDM on its worker lcore, and a host queue pair on this thread. */
struct fixture {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	struct iop_qp *qp;
	_Atomic int stop;
	uint64_t in_free0, out_free0;
	unsigned lan_pools0;    /* the lan DDM's mempools before up() */
	bool pool_may_stay;     /* the test leaves one to the port on purpose */
};

static void count_lan_pool(struct rte_mempool *mp, void *arg)
{
	if (strncmp(mp->name, "iop_lan_", 8) == 0)
		++*(unsigned *)arg;
}

/* The lan DDM's mempools (copy and zero-copy) the process has now. */
static unsigned lan_pools(void)
{
	unsigned n = 0;

	rte_mempool_walk(count_lan_pool, &n);
	return n;
}

static void up(struct fixture *f, const char *params)
{
	const struct iop_window_opts wo = { .inbound_bytes = 4u << 20, .outbound_bytes = 1u << 20 };
	const struct iop_runtime_ddm ddms[] = { { "lan", params, 0 } };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = ddms, .n_ddms = 1 };
	char err[256] = "";

	memset(f, 0, sizeof(*f));
	f->lan_pools0 = lan_pools();
	f->w = iop_window_create(&wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->w);
	f->in_free0 = heap_free_bytes(iop_window_inbound(f->w));
	f->out_free0 = heap_free_bytes(iop_window_outbound(f->w));
	cfg.window = f->w;
	f->rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (f->rt == NULL)
		fprintf(stderr, "runtime: %s\n", err);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->rt);
	CU_ASSERT_EQUAL_FATAL(iop_runtime_launch(f->rt, &f->stop), 0);
	f->h = iop_host_attach_runtime(f->rt, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->h);
	f->qp = iop_qp_create(f->h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f->qp);
}

/*
 * A net_ring port of the test's own, on two rings it can read and fill (tx
 * of tx_entries, rx of 16), and the lan DDM up on it with "port=N" and
 * `more`, if not NULL, after a comma. DPDK keeps a ring's and a port's name
 * until they are freed, so each test names its own. @return the port.
 */
static int ring_port_up(struct fixture *f, const char *name, unsigned tx_entries,
			struct rte_ring **tx, struct rte_ring **rx, const char *more)
{
	char ring[RTE_RING_NAMESIZE], params[96];
	int port;

	snprintf(ring, sizeof(ring), "%s-tx", name);
	*tx = rte_ring_create(ring, tx_entries, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	snprintf(ring, sizeof(ring), "%s-rx", name);
	*rx = rte_ring_create(ring, 16, (int)rte_socket_id(), RING_F_SP_ENQ | RING_F_SC_DEQ);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*tx);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*rx);
	port = rte_eth_from_rings(name, rx, 1, tx, 1, (unsigned)rte_socket_id());
	CU_ASSERT_FATAL(port >= 0);
	snprintf(params, sizeof(params), "port=%d%s%s", port, more != NULL ? "," : "",
		 more != NULL ? more : "");
	up(f, params);
	return port;
}

/* After down(): the port of ring_port_up() closed, its rings freed. */
static void ring_port_close(int port, struct rte_ring *tx, struct rte_ring *rx)
{
	rte_eth_dev_close((uint16_t)port);
	rte_ring_free(tx);
	rte_ring_free(rx);
}

/* up() with the tx mode of the case appended. */
static void up_tx(struct fixture *f, const char *params)
{
	char p[128];

	snprintf(p, sizeof(p), "%s%s", params, tx_mode);
	up(f, p);
}

static void down(struct fixture *f)
{
	CU_ASSERT_EQUAL(iop_qp_destroy(f->qp, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(f->h, TIMEOUT_MS), 0);
	atomic_store(&f->stop, 1);
	iop_runtime_wait(f->rt);
	iop_runtime_destroy(f->rt); /* the DDM's fini: the port stopped */
	/* Every pool the DDM made is freed with it (spare and stashed mbufs returned first). */
	if (!f->pool_may_stay)
		CU_ASSERT_EQUAL(lan_pools(), f->lan_pools0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(f->w)), f->in_free0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(f->w)), f->out_free0);
	iop_window_close(f->w);
}

/* A packet of len bytes: an Ethernet header (VLAN tagged if asked), then a pattern from seed. */
static void make_packet(uint8_t *p, uint32_t len, uint32_t seed, bool vlan)
{
	static const uint8_t hdr[12] = { 0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2 };
	uint32_t i = 12;

	memcpy(p, hdr, 12);
	if (vlan) {
		p[i++] = 0x81;
		p[i++] = 0x00;
		p[i++] = 0x00;
		p[i++] = (uint8_t)(seed & 0xFF);
	}
	p[i++] = 0x08;
	p[i++] = 0x00;
	for (; i < len; i++)
		p[i] = (uint8_t)(seed * 31 + i);
}

/* Send one packet, inline or through one buffer of the inbound heap. @return the reply's DSC. */
static int send_packet(struct fixture *f, const uint8_t *pkt, uint32_t len, bool inline_data,
		       struct iop_completion *c)
{
	size_t bytes = inline_data ? 32 + len : 64;
	uint32_t *frame = iop_qp_frame_alloc(f->qp, bytes);
	void *buf = NULL;
	int words, rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	if (inline_data) {
		words = iop_build_lan_packet_send_inline(frame, bytes, LAN_TID, pkt, len);
	} else {
		struct iop_buf b = { iop_host_frame_alloc(f->h, len), len };

		CU_ASSERT_PTR_NOT_NULL_FATAL(b.addr);
		memcpy(b.addr, pkt, len);
		buf = b.addr;
		words = iop_build_lan_packet_send_sgl(frame, bytes, LAN_TID, f->w, &b, 1);
	}
	CU_ASSERT_FATAL(words > 0);
	rc = iop_qp_call(f->qp, frame, NULL, 0, c, TIMEOUT_MS);
	if (buf != NULL)
		iop_host_frame_free(f->h, buf);
	return rc;
}

/* One request with no SGL buffers of its own (the frame given), its completion. */
static int call(struct fixture *f, uint32_t *frame, struct iop_completion *c)
{
	return iop_qp_call(f->qp, frame, NULL, 0, c, TIMEOUT_MS);
}

static uint64_t lan_field(struct fixture *f, uint16_t group, unsigned i)
{
	uint32_t *frame = iop_qp_frame_alloc(f->qp, 32), reply[32];
	uint64_t v[8] = { 0 };
	unsigned n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	iop_build_params_get(frame, 32, LAN_TID, group);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(f->qp, frame, reply, 32, NULL, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_read_params_reply(reply, 32, v, 8, &n) > (int)i, 1);
	return v[i];
}

/* ---- the receive side: buckets posted, filled, reported in batches ---- */

struct rx_post {
	void *buckets[IOP_LAN_MAX_BUCKETS];
	unsigned n;
	unsigned replies, intermediate, packets, bad_flags;
	uint32_t len[IOP_LAN_MAX_BUCKETS]; /* per bucket, 0 until filled */
	bool done;
	int result;
	uint8_t req_status;
	uint16_t dsc;
};

static void rx_done(struct iop_qp *qp, const struct iop_completion *c)
{
	struct rx_post *p = c->arg;
	struct iop_lan_packet pkts[IOP_LAN_RX_REPLY_MAX];
	struct iop_msg_hdr m;
	int n;

	(void)qp;
	iop_msg_hdr_decode(c->reply, &m);
	p->replies++;
	p->intermediate += c->more;
	/* MULTIPLE on every reply of a batched answer, LAST on its final one. */
	if (c->more ? (m.flags & (IOP_MSG_MULTIPLE | IOP_MSG_LAST)) != IOP_MSG_MULTIPLE :
		      (p->intermediate != 0 && !(m.flags & IOP_MSG_LAST)))
		p->bad_flags++;
	if (!c->more) {
		p->done = true;
		p->result = c->result;
		p->req_status = c->req_status;
		p->dsc = c->dsc;
	}
	n = iop_read_lan_receive_reply(c->reply, c->reply_words, pkts, IOP_LAN_RX_REPLY_MAX, NULL);
	for (int i = 0; i < n; i++) {
		if (pkts[i].bucket < p->n)
			p->len[pkts[i].bucket] = pkts[i].len;
		p->packets++;
	}
}

static void post_buckets(struct fixture *f, struct rx_post *p, unsigned n, uint32_t size)
{
	struct iop_buf b[IOP_LAN_MAX_BUCKETS];
	size_t bytes = 32 + 8 * (size_t)n;
	uint32_t *frame = iop_qp_frame_alloc(f->qp, bytes);

	memset(p, 0, sizeof(*p));
	p->n = n;
	for (unsigned i = 0; i < n; i++) {
		p->buckets[i] = iop_host_frame_alloc(f->h, size);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p->buckets[i]);
		b[i] = (struct iop_buf){ p->buckets[i], size };
	}
	CU_ASSERT_FATAL(iop_build_lan_receive_post(frame, bytes, LAN_TID, f->w, b, n) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f->qp, frame, rx_done, p), 0);
}

static void free_buckets(struct fixture *f, struct rx_post *p)
{
	for (unsigned i = 0; i < p->n; i++)
		iop_host_frame_free(f->h, p->buckets[i]);
}

/* Poll until the post's final reply, or give up. */
static bool wait_done(struct fixture *f, const struct rx_post *p)
{
	for (unsigned i = 0; i < TIMEOUT_MS * 10 && !p->done; i++) {
		if (iop_qp_poll(f->qp, 64) == 0)
			usleep(100);
	}
	return p->done;
}

/*
 * net_ring0 loops every packet back: sizes 60 to 9000 bytes, VLAN tagged
 * ones, sent inline and by SGL, arrive in the posted buckets byte for byte,
 * reported by replies with MULTIPLE until the last bucket (LAST).
 */
static void test_loopback_send_and_receive(void)
{
	static const uint32_t sizes[] = { 60, 61, 64, 127, 128, 1000, 1514, 1518, 4000, 9000 };
	enum { N = sizeof(sizes) / sizeof(sizes[0]) };
	static uint8_t pkts[N][9000];
	struct fixture f;
	struct iop_completion c;
	struct rx_post rx;
	uint64_t opackets0;

	up_tx(&f, "port=net_ring0,mtu=9000");
	opackets0 = lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1); /* the port's, since the process began */
	post_buckets(&f, &rx, N, BUCKET);
	for (unsigned i = 0; i < N; i++) {
		make_packet(pkts[i], sizes[i], i, i % 3 == 1);
		CU_ASSERT_EQUAL(send_packet(&f, pkts[i], sizes[i], i % 2 == 0, &c), 0);
		CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
	}
	CU_ASSERT_FATAL(wait_done(&f, &rx));
	CU_ASSERT_EQUAL(rx.result, 0);
	CU_ASSERT_EQUAL(rx.packets, N);
	CU_ASSERT_EQUAL(rx.bad_flags, 0);
	CU_ASSERT(rx.replies >= 2); /* sent one by one: the buckets fill over several turns */
	for (unsigned i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(rx.len[i], sizes[i]);
		CU_ASSERT_EQUAL(memcmp(rx.buckets[i], pkts[i], sizes[i]), 0);
	}
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), N);     /* sent */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 3), N);     /* received */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1), opackets0 + N);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 1), 9000);  /* MTU */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 2), 9022);  /* largest packet */
	free_buckets(&f, &rx);
	down(&f);
}

/* Packets with no bucket, or larger than theirs, are dropped and counted. */
static void test_receive_drops(void)
{
	static uint8_t pkt[2000];
	struct fixture f;
	struct iop_completion c;
	struct rx_post rx;

	up(&f, "port=net_ring0");
	make_packet(pkt, sizeof(pkt), 1, false);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 100, true, &c), 0);
	for (int i = 0; i < 100 && lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 5) == 0; i++)
		usleep(1000);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 5), 1); /* no bucket */
	post_buckets(&f, &rx, 1, 256);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 1000, false, &c), 0); /* larger than the bucket */
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 200, false, &c), 0);
	CU_ASSERT_FATAL(wait_done(&f, &rx));
	CU_ASSERT_EQUAL(rx.packets, 1);
	CU_ASSERT_EQUAL(rx.len[0], 200);
	CU_ASSERT_EQUAL(rx.replies, 1); /* one reply filled it: neither MULTIPLE nor LAST needed */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 6), 1); /* too large */
	free_buckets(&f, &rx);
	down(&f);
}

/* A PacketSend frame with word 4 and an SGL set by hand. */
static uint32_t *raw_send(struct fixture *f, uint32_t control, const uint32_t *sgl,
			  unsigned sgl_words, uint8_t sgl_offset)
{
	uint32_t *frame = iop_qp_frame_alloc(f->qp, 64);
	struct iop_msg_hdr m = { .version = 1, .sgl_offset = sgl_offset,
				 .size_words = (uint16_t)(5 + sgl_words), .target_tid = LAN_TID,
				 .initiator_tid = IOP_TID_HOST, .function = IOP_LAN_PACKET_SEND };

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	iop_msg_hdr_encode(&m, frame);
	frame[4] = rte_cpu_to_le_32(control);
	for (unsigned i = 0; i < sgl_words; i++)
		frame[5 + i] = rte_cpu_to_le_32(sgl[i]);
	return frame;
}

/* Every refusal with its DSC; nothing refused reaches the port. */
static void test_refusals(void)
{
	static uint8_t pkt[1600];
	const uint32_t imm_hdr = 0xCC000004u | 0x40000000u; /* immediate, LAST, END_OF_BUFFER */
	struct fixture f;
	struct iop_completion c;
	struct iop_buf stray;
	uint32_t *frame;
	struct {
		uint32_t control;
		uint32_t sgl[3];
		unsigned words;
		uint8_t offset;
		uint16_t dsc;
	} cases[] = {
		{ 1, { imm_hdr, 0x01020304u }, 2, 5, IOP_DSC_INVALID_PARAMETER }, /* control word */
		{ 0, { imm_hdr, 0x01020304u }, 2, 0, IOP_DSC_INVALID_REQUEST },   /* no SGL */
		{ 0, { imm_hdr, 0x01020304u }, 2, 6, IOP_DSC_INVALID_OFFSET },
		{ 0, { 0xD0000040u, 0 }, 2, 5, IOP_DSC_INVALID_OFFSET },     /* simple at offset 0 */
		{ 0, { 0xE0000004u, 0 }, 2, 5, IOP_DSC_INVALID_PARAMETER },  /* a page list */
		{ 0, { 0xCC000100u, 0 }, 2, 5, IOP_DSC_MESSAGE_TOO_SMALL },  /* 256 bytes in 4 */
		{ 0, { 0xCC000000u }, 1, 5, IOP_DSC_INVALID_REQUEST },       /* an empty packet */
	};

	up(&f, "port=net_null0");
	make_packet(pkt, sizeof(pkt), 7, false);
	/* Larger than the port takes (MTU 1500: 1522 bytes), inline and by SGL. */
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 1523, true, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_MESSAGE_TOO_LARGE);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 1523, false, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_MESSAGE_TOO_LARGE);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, 1522, false, &c), 0);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		frame = raw_send(&f, cases[i].control, cases[i].sgl, cases[i].words,
				 cases[i].offset);
		CU_ASSERT_EQUAL(call(&f, frame, &c), -EIO);
		CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		if (c.dsc != cases[i].dsc)
			fprintf(stderr, "case %u: dsc 0x%x, not 0x%x\n", i, c.dsc, cases[i].dsc);
		CU_ASSERT_EQUAL(c.dsc, cases[i].dsc);
	}
	/* A bucket list with an immediate element, or fewer buckets than word 4 says. */
	stray.addr = iop_host_frame_alloc(f.h, 64);
	stray.len = 64;
	frame = iop_qp_frame_alloc(f.qp, 64);
	iop_build_lan_receive_post(frame, 64, LAN_TID, f.w, &stray, 1);
	frame[4] = rte_cpu_to_le_32(2);
	CU_ASSERT_EQUAL(call(&f, frame, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	frame = iop_qp_frame_alloc(f.qp, 64);
	iop_build_lan_packet_send_inline(frame, 64, LAN_TID, pkt, 16);
	frame[1] = rte_cpu_to_le_32((rte_le_to_cpu_32(frame[1]) & 0x00FFFFFFu) |
				    (uint32_t)IOP_LAN_RECEIVE_POST << 24);
	frame[4] = rte_cpu_to_le_32(1);
	CU_ASSERT_EQUAL(call(&f, frame, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	iop_host_frame_free(f.h, stray.addr);
	/* SduSend is I2O's, not this DDM's. */
	frame = iop_qp_frame_alloc(f.qp, 32);
	iop_build_util(frame, 32, LAN_TID, 0);
	frame[1] = rte_cpu_to_le_32((rte_le_to_cpu_32(frame[1]) & 0x00FFFFFFu) |
				    (uint32_t)IOP_LAN_SDU_SEND << 24);
	CU_ASSERT_EQUAL(call(&f, frame, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_UNSUPPORTED_FUNCTION);
	/* net_null takes everything: one packet went, everything else was refused. */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1), 1);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 2), 2 + 7);
	down(&f);
}

/*
 * LanSuspend returns the buckets (ABORT_NO_DATA_TRANSFER, DEVICE_NOT_AVAILABLE)
 * and refuses work until LanReset, which returns buckets posted since
 * (DEVICE_RESET), clears the counts and starts the port again.
 */
static void test_suspend_and_reset(void)
{
	static uint8_t pkt[100];
	struct fixture f;
	struct iop_completion c;
	struct rx_post rx;
	uint32_t *frame;

	up(&f, "port=net_ring0");
	make_packet(pkt, sizeof(pkt), 3, false);
	post_buckets(&f, &rx, 4, 2048);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, sizeof(pkt), true, &c), 0);
	for (int i = 0; i < 1000 && rx.packets == 0; i++) {
		iop_qp_poll(f.qp, 8);
		usleep(1000);
	}
	CU_ASSERT_EQUAL(rx.packets, 1);
	frame = iop_qp_frame_alloc(f.qp, 32);
	iop_build_lan(frame, 32, LAN_TID, IOP_LAN_SUSPEND);
	CU_ASSERT_EQUAL(call(&f, frame, &c), 0);
	CU_ASSERT_FATAL(wait_done(&f, &rx));
	CU_ASSERT_EQUAL(rx.req_status, IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER);
	CU_ASSERT_EQUAL(rx.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(rx.bad_flags, 0); /* its last reply: MULTIPLE | LAST */
	free_buckets(&f, &rx);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 4), 1);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, sizeof(pkt), true, &c), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);

	frame = iop_qp_frame_alloc(f.qp, 32);
	iop_build_lan(frame, 32, LAN_TID, IOP_LAN_RESET);
	CU_ASSERT_EQUAL(call(&f, frame, &c), 0);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 4), 0);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), 0);
	post_buckets(&f, &rx, 2, 2048);
	frame = iop_qp_frame_alloc(f.qp, 32);
	iop_build_lan(frame, 32, LAN_TID, IOP_LAN_RESET);
	CU_ASSERT_EQUAL(call(&f, frame, &c), 0);
	CU_ASSERT_FATAL(wait_done(&f, &rx));
	CU_ASSERT_EQUAL(rx.dsc, IOP_DSC_DEVICE_RESET);
	CU_ASSERT_EQUAL(rx.replies, 1);
	free_buckets(&f, &rx);
	CU_ASSERT_EQUAL(send_packet(&f, pkt, sizeof(pkt), true, &c), 0);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), 1);
	down(&f);
}

/*
 * A ReceivePost whose host leaves before any packet comes is answered (and
 * the reply dropped) soon after, not when traffic would fill its buckets:
 * until then its channel could not be taken back.
 */
static void test_post_of_a_gone_host_is_answered(void)
{
	struct fixture f;
	struct rx_post rx;
	struct iop_qp *mine;
	unsigned id;
	bool idle = false;

	up(&f, "port=net_ring0");
	mine = f.qp;
	f.qp = iop_qp_create(f.h, NULL); /* the host that leaves */
	CU_ASSERT_PTR_NOT_NULL_FATAL(f.qp);
	id = iop_qp_channel(f.qp)->id;
	post_buckets(&f, &rx, 4, 2048);
	CU_ASSERT_FALSE(iop_runtime_channel_idle(f.rt, id)); /* the DDM holds the post */
	iop_qp_destroy(f.qp, 0);
	f.qp = mine;
	for (unsigned i = 0; i < TIMEOUT_MS && !idle; i++) {
		idle = iop_runtime_channel_idle(f.rt, id);
		usleep(1000);
	}
	CU_ASSERT_TRUE(idle);
	free_buckets(&f, &rx);
	down(&f);
}

/* ---- several packets in one PacketSend ---- */

/* Post a PacketSend frame and wait for its reply: the packets it says were sent, or -1. */
static int call_multi(struct fixture *f, uint32_t *frame, unsigned n, struct iop_completion *c)
{
	uint32_t reply[16];
	int rc = iop_qp_call(f->qp, frame, reply, 16, c, TIMEOUT_MS);

	if (rc != 0 && rc != -EIO)
		return -1;
	return iop_read_lan_send_reply(reply, c->reply_words, n);
}

/*
 * Several packets a request, inline, by SGL, and one packet in two elements
 * next to others: looped back by net_ring0 into the buckets in order, byte
 * for byte; the reply says all went; the counts are of packets.
 */
static void test_multi_send_loopback(void)
{
	enum { N_INL = 8, N_SGL = 12, N_MIX = 3, N = N_INL + N_SGL + N_MIX };
	static uint8_t pkts[N][9000];
	uint32_t sizes[N];
	struct iop_lan_inline inl[N_INL];
	struct iop_buf bufs[N_SGL], mix_buf;
	struct fixture f;
	struct iop_completion c;
	struct rx_post rx;
	size_t bytes;
	uint32_t *frame;
	uint64_t opackets0;
	unsigned k = 0;

	up_tx(&f, "port=net_ring0,mtu=9000");
	opackets0 = lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1);
	post_buckets(&f, &rx, N, BUCKET);
	for (unsigned i = 0; i < N; i++) {
		sizes[i] = i < N_INL ? 60 + 193 * i : 60 + (i * 2711) % (9022 - 60);
		make_packet(pkts[i], sizes[i], 100 + i, i % 4 == 1);
	}
	/* Inline: 8 packets in one frame. */
	bytes = 4096 * 4;
	frame = iop_qp_frame_alloc(f.qp, bytes);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	for (unsigned i = 0; i < N_INL; i++)
		inl[i] = (struct iop_lan_inline){ pkts[k + i], sizes[k + i] };
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, bytes, LAN_TID, inl,
							       N_INL) > 0);
	CU_ASSERT_EQUAL(call_multi(&f, frame, N_INL, &c), N_INL);
	CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(c.reply_words, IOP_LAN_SEND_REPLY_WORDS);
	k += N_INL;
	/* By SGL: 12 packets, a buffer each. */
	for (unsigned i = 0; i < N_SGL; i++) {
		bufs[i] = (struct iop_buf){ iop_host_frame_alloc(f.h, sizes[k + i]), sizes[k + i] };
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
		memcpy(bufs[i].addr, pkts[k + i], sizes[k + i]);
	}
	frame = iop_qp_frame_alloc(f.qp, 256);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_multi(frame, 256, LAN_TID, f.w, bufs, N_SGL) > 0);
	CU_ASSERT_EQUAL(call_multi(&f, frame, N_SGL, &c), N_SGL);
	CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
	for (unsigned i = 0; i < N_SGL; i++)
		iop_host_frame_free(f.h, bufs[i].addr);
	k += N_SGL;
	/*
	 * By hand: packet A in two elements (16 bytes inline, the rest in a
	 * buffer, END_OF_BUFFER on the second), packet B inline (END_OF_BUFFER),
	 * packet C inline, the list's last element without END_OF_BUFFER.
	 */
	{
		uint32_t a = sizes[k], bl = sizes[k + 1], cl = sizes[k + 2];
		unsigned w = IOP_LAN_SGL_WORD;
		struct iop_msg_hdr m = { .version = 1, .sgl_offset = IOP_LAN_SGL_WORD,
					 .target_tid = LAN_TID, .initiator_tid = IOP_TID_HOST,
					 .function = IOP_LAN_PACKET_SEND };

		bytes = 4096 * 4;
		frame = iop_qp_frame_alloc(f.qp, bytes);
		CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
		mix_buf = (struct iop_buf){ iop_host_frame_alloc(f.h, a - 16), a - 16 };
		CU_ASSERT_PTR_NOT_NULL_FATAL(mix_buf.addr);
		memcpy(mix_buf.addr, pkts[k] + 16, a - 16);
		frame[w++] = rte_cpu_to_le_32(0x0C000000u | 16);
		memcpy(frame + w, pkts[k], 16);
		w += 4;
		frame[w++] = rte_cpu_to_le_32(0x54000000u | (a - 16)); /* simple, DIR, EOB */
		frame[w++] = rte_cpu_to_le_32(iop_window_mfa(f.w, mix_buf.addr));
		frame[w++] = rte_cpu_to_le_32(0x4C000000u | bl);
		memcpy(frame + w, pkts[k + 1], bl);
		w += (bl + 3) / 4;
		frame[w++] = rte_cpu_to_le_32(0x8C000000u | cl); /* LAST, no END_OF_BUFFER */
		memcpy(frame + w, pkts[k + 2], cl);
		w += (cl + 3) / 4;
		CU_ASSERT_FATAL(w * 4 <= bytes);
		m.size_words = (uint16_t)w;
		iop_msg_hdr_encode(&m, frame);
		frame[IOP_LAN_CONTROL_WORD] = 0;
		CU_ASSERT_EQUAL(call_multi(&f, frame, N_MIX, &c), N_MIX);
		CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
		iop_host_frame_free(f.h, mix_buf.addr);
	}
	CU_ASSERT_FATAL(wait_done(&f, &rx));
	CU_ASSERT_EQUAL(rx.result, 0);
	CU_ASSERT_EQUAL(rx.packets, N);
	CU_ASSERT_EQUAL(rx.bad_flags, 0);
	for (unsigned i = 0; i < N; i++) {
		CU_ASSERT_EQUAL(rx.len[i], sizes[i]);
		CU_ASSERT_EQUAL(memcmp(rx.buckets[i], pkts[i], sizes[i]), 0);
	}
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), N);  /* packets sent */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 2), 0);  /* refused */
	/* opackets: the port's statistics outlive the DDM's instances */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1) - opackets0, N);
	free_buckets(&f, &rx);
	down(&f);
}

/*
 * A multi-packet PacketSend with one bad packet in the middle is refused
 * whole, with the DSC the one-packet form of that packet gets, and nothing
 * of it is sent.
 */
static void test_multi_send_refusals(void)
{
	enum { N = 3 };
	static uint8_t pkt[2048];
	struct iop_buf bufs[IOP_LAN_SEND_MAX_PACKETS + 1];
	struct fixture f;
	struct iop_completion c;
	uint32_t *frame;
	uint64_t opackets0;
	unsigned refused = 0;
	/* What is done to the middle packet's element (words 7, 8 of the frame). */
	struct {
		uint32_t flags_or;   /* ORed into its header, after flags_and */
		uint32_t flags_and;  /* ANDed into its header */
		uint32_t addr;       /* its address, 0: kept */
		uint16_t dsc;
	} cases[] = {
		{ 1600, 0xFF000000u, 0, IOP_DSC_MESSAGE_TOO_LARGE },      /* 1600 > 1522 */
		{ 0, 0xFFFFFFFFu, 0xFFFFFF00u, 0 },                        /* outside the heap */
		{ 0, 0xFFFFFFFFu, 4, 0 },                                  /* below it */
		{ 0x20000000u, 0xCFFFFFFFu, 0, 0 },                        /* a page list */
		{ 0, 0xFF000000u, 0, 0 },                                  /* an empty packet */
		{ 0, 0xBFFFFFFFu, 0, 0 }, /* no END_OF_BUFFER: it runs into the third (1602 bytes) */
	};

	up(&f, "port=net_null0");
	opackets0 = lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1);
	make_packet(pkt, sizeof(pkt), 9, false);
	for (unsigned i = 0; i <= IOP_LAN_SEND_MAX_PACKETS; i++) {
		bufs[i] = (struct iop_buf){ iop_host_frame_alloc(f.h, 2048), 801 };
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
		memcpy(bufs[i].addr, pkt, 2048);
	}
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t want = cases[i].dsc;
		uint32_t *one;
		int got;

		if (want == 0) {
			/* The one-packet form of the same element: the DSC to expect. */
			one = iop_qp_frame_alloc(f.qp, 64);
			CU_ASSERT_FATAL(iop_build_lan_packet_send_multi(one, 64, LAN_TID, f.w,
									&bufs[1], 1) > 0);
			one[5] = rte_cpu_to_le_32((rte_le_to_cpu_32(one[5]) & cases[i].flags_and) |
						  cases[i].flags_or);
			if (cases[i].addr != 0)
				one[6] = rte_cpu_to_le_32(cases[i].addr);
			if (i == 5) { /* for one packet, running over is MESSAGE_TOO_LARGE */
				want = IOP_DSC_MESSAGE_TOO_LARGE;
				iop_qp_frame_free(f.qp, one);
			} else {
				CU_ASSERT_EQUAL(call(&f, one, &c), -EIO);
				want = c.dsc;
				refused++;
			}
			CU_ASSERT_NOT_EQUAL(want, 0);
		}
		frame = iop_qp_frame_alloc(f.qp, 64);
		CU_ASSERT_FATAL(iop_build_lan_packet_send_multi(frame, 64, LAN_TID, f.w, bufs, N) > 0);
		frame[7] = rte_cpu_to_le_32((rte_le_to_cpu_32(frame[7]) & cases[i].flags_and) |
					    cases[i].flags_or);
		if (cases[i].addr != 0)
			frame[8] = rte_cpu_to_le_32(cases[i].addr);
		got = call_multi(&f, frame, N, &c);
		CU_ASSERT_EQUAL(got, 0);
		CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
		if (c.dsc != want)
			fprintf(stderr, "multi case %u: dsc 0x%x, not 0x%x\n", i, c.dsc, want);
		CU_ASSERT_EQUAL(c.dsc, want);
		refused++;
	}
	/* A transmit control word other than 0; more packets than one request takes. */
	frame = iop_qp_frame_alloc(f.qp, 64);
	iop_build_lan_packet_send_multi(frame, 64, LAN_TID, f.w, bufs, N);
	frame[IOP_LAN_CONTROL_WORD] = rte_cpu_to_le_32(1);
	CU_ASSERT_EQUAL(call_multi(&f, frame, N, &c), 0);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	frame = iop_qp_frame_alloc(f.qp, 1024);
	iop_build_lan_packet_send_multi(frame, 1024, LAN_TID, f.w, bufs, IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(call_multi(&f, frame, IOP_LAN_SEND_MAX_PACKETS, &c),
			IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(c.req_status, IOP_REPLY_STATUS_SUCCESS);
	frame = iop_qp_frame_alloc(f.qp, 1024);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_multi(frame, 1024, LAN_TID, f.w, bufs,
							IOP_LAN_SEND_MAX_PACKETS) > 0);
	/* One more packet: a 65th element, END_OF_BUFFER on the 64th kept. */
	{
		unsigned last = IOP_LAN_SGL_WORD + 2 * (IOP_LAN_SEND_MAX_PACKETS - 1);
		struct iop_msg_hdr m;

		frame[last] = rte_cpu_to_le_32(rte_le_to_cpu_32(frame[last]) & ~0x80000000u);
		frame[last + 2] = rte_cpu_to_le_32(0xD4000000u | 801);
		frame[last + 3] = rte_cpu_to_le_32(iop_window_mfa(f.w, bufs[IOP_LAN_SEND_MAX_PACKETS].addr));
		iop_msg_hdr_decode(frame, &m);
		m.size_words += 2;
		iop_msg_hdr_encode(&m, frame);
	}
	CU_ASSERT_EQUAL(call_multi(&f, frame, IOP_LAN_SEND_MAX_PACKETS + 1, &c), 0);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	refused += 2;
	/* Only the 64 of the good request reached the port. */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_STATS, 1) - opackets0,
			IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), IOP_LAN_SEND_MAX_PACKETS);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 1),
			(uint64_t)IOP_LAN_SEND_MAX_PACKETS * 801);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 2), refused);
	for (unsigned i = 0; i <= IOP_LAN_SEND_MAX_PACKETS; i++)
		iop_host_frame_free(f.h, bufs[i].addr);
	down(&f);
}

/* net_pcap with tx_pcap: the file holds every packet sent, in order, byte for byte. */
static void test_pcap_tx_file(void)
{
	enum { N = 200 };
	static uint8_t pkts[N][1514];
	char errbuf[PCAP_ERRBUF_SIZE];
	struct fixture f;
	struct iop_completion c;
	struct pcap_pkthdr *ph;
	const u_char *data;
	pcap_t *p;
	unsigned got = 0;

	up_tx(&f, "port=net_pcap0");
	for (unsigned i = 0; i < N; i++) {
		uint32_t len = 60 + (i * 97) % (1514 - 60);

		make_packet(pkts[i], len, i, i % 5 == 0);
		CU_ASSERT_EQUAL(send_packet(&f, pkts[i], len, i % 2 == 0, &c), 0);
	}
	down(&f); /* the port stopped: the file closed */
	p = pcap_open_offline(tx_pcap, errbuf);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	while (pcap_next_ex(p, &ph, &data) == 1) {
		uint32_t len = 60 + (got * 97) % (1514 - 60);

		if (got < N) {
			CU_ASSERT_EQUAL(ph->caplen, len);
			CU_ASSERT_EQUAL(ph->len, len);
			CU_ASSERT_EQUAL(memcmp(data, pkts[got], len), 0);
		}
		got++;
	}
	CU_ASSERT_EQUAL(got, N);
	pcap_close(p);
}

/* Parameters that name no port, or ask for what the port cannot do. */
static void test_bad_parameters(void)
{
	const char *bad[] = { "", "port=net_nothing0", "port=99", "mtu=9000", "port=0,speed=10",
			      "port=net_null0,mtu=0", "port=net_null0,tx=fast",
			      "port=net_null0,tx=", "port=net_null0,copy_max=x",
			      "port=net_null0,copy_max=70000" };
	const struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20 };
	struct iop_window *w = iop_window_create(&wo);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const struct iop_runtime_ddm ddms[] = { { "lan", bad[i], 0 } };
		struct iop_runtime_config cfg = { .window = w, .lcores = 1, .ddms = ddms,
						  .n_ddms = 1 };
		char err[256] = "";
		struct iop_runtime *rt = iop_runtime_create(&cfg, err, sizeof(err));

		CU_ASSERT_PTR_NULL(rt);
		if (rt != NULL)
			iop_runtime_destroy(rt);
	}
	iop_window_close(w);
}

/* Take what the port put on its tx ring, checking each against pkts[*seen...]; frees them. */
static unsigned drain_tx(struct rte_ring *tx, uint8_t (*pkts)[128], const uint32_t *sizes,
			 unsigned n, unsigned *seen)
{
	void *m[32];
	unsigned got = rte_ring_dequeue_burst(tx, m, 32, NULL);

	for (unsigned i = 0; i < got; i++) {
		struct rte_mbuf *mb = m[i];

		if (*seen < n) {
			CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(mb), sizes[*seen]);
			CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(mb, const void *), pkts[*seen],
					       sizes[*seen]), 0);
		}
		(*seen)++;
		rte_pktmbuf_free(mb);
	}
	return got;
}

struct sent_reply {
	bool done;
	int sent;
	uint8_t status;
	uint16_t dsc;
	unsigned order; /* when it came, counting from 1 */
};

static unsigned replies_seen;

static void on_send_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	struct sent_reply *s = c->arg;

	(void)qp;
	s->done = true;
	s->status = c->req_status;
	s->dsc = c->dsc;
	s->sent = iop_read_lan_send_reply(c->reply, c->reply_words, 64);
	s->order = ++replies_seen;
}

/*
 * A port whose tx queue holds 15 packets: a PacketSend of 40 is not answered
 * while the queue is full, and none of it is dropped; as the queue drains,
 * the rest goes, then the reply says all 40 went. A one-packet PacketSend
 * posted meanwhile waits behind it: its packet leaves after the 40, its
 * reply comes after theirs. LanReset cuts a held send short: the reply says
 * how many went (ERROR_PARTIAL_TRANSFER, DEVICE_RESET), the rest is freed.
 */
static void test_multi_send_waits_for_a_full_queue(void)
{
	enum { N = 40 };
	static uint8_t pkts[N + 1][128];
	uint32_t sizes[N + 1];
	struct iop_lan_inline inl[N];
	struct rte_ring *tx, *rx;
	struct sent_reply big = { 0 }, one = { 0 }, cut = { 0 }, reset = { 0 };
	struct fixture f;
	uint32_t *frame;
	unsigned seen = 0;
	int port;

	port = ring_port_up(&f, "lan_bp", 16, &tx, &rx, NULL);
	replies_seen = 0;
	for (unsigned i = 0; i <= N; i++) {
		sizes[i] = 60 + i;
		make_packet(pkts[i], sizes[i], 500 + i, false);
	}
	for (unsigned i = 0; i < N; i++)
		inl[i] = (struct iop_lan_inline){ pkts[i], sizes[i] };
	frame = iop_qp_frame_alloc(f.qp, 8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, 8192, LAN_TID, inl, N) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &big), 0);
	frame = iop_qp_frame_alloc(f.qp, 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline(frame, 256, LAN_TID, pkts[N],
							 sizes[N]) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &one), 0);
	/* The queue fills (15) and stays full: no reply, however long it waits. */
	for (int i = 0; i < 5000 && rte_ring_count(tx) < 15; i++)
		iop_test_sleep_ms(1);
	iop_test_sleep_ms(50);
	iop_qp_poll(f.qp, 8);
	CU_ASSERT_FALSE(big.done);
	CU_ASSERT_FALSE(one.done);
	CU_ASSERT_EQUAL(rte_ring_count(tx), 15);
	/* Drained, the rest goes; then the one behind it. */
	for (int i = 0; i < 5000 && !(big.done && one.done); i++) {
		drain_tx(tx, pkts, sizes, N + 1, &seen);
		iop_qp_poll(f.qp, 8);
		iop_test_sleep_ms(1);
	}
	while (drain_tx(tx, pkts, sizes, N + 1, &seen) != 0)
		;
	CU_ASSERT_TRUE(big.done);
	CU_ASSERT_EQUAL(big.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(big.sent, N);
	CU_ASSERT_TRUE(one.done);
	CU_ASSERT_EQUAL(one.sent, 1);
	CU_ASSERT(big.order < one.order);
	CU_ASSERT_EQUAL(seen, N + 1); /* all, in order, none twice */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), N + 1);

	/* Held again, then LanReset: cut short, the rest freed, the count in the reply. */
	frame = iop_qp_frame_alloc(f.qp, 8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, 8192, LAN_TID, inl, N) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &cut), 0);
	for (int i = 0; i < 5000 && rte_ring_count(tx) < 15; i++)
		iop_test_sleep_ms(1);
	frame = iop_qp_frame_alloc(f.qp, 64);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan(frame, 64, LAN_TID, IOP_LAN_RESET) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &reset), 0);
	for (int i = 0; i < 5000 && !(cut.done && reset.done); i++) {
		iop_qp_poll(f.qp, 8);
		iop_test_sleep_ms(1);
	}
	CU_ASSERT_TRUE(cut.done);
	CU_ASSERT_EQUAL(cut.status, IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER);
	CU_ASSERT_EQUAL(cut.sent, 15);
	CU_ASSERT_TRUE(reset.done);
	CU_ASSERT_EQUAL(reset.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT(cut.order < reset.order);
	seen = 0;
	while (drain_tx(tx, pkts, sizes, N, &seen) != 0)
		;
	CU_ASSERT_EQUAL(seen, 15);
	down(&f);
	ring_port_close(port, tx, rx);
}

/* Link events a registered host saw: indicator, speed, duplex of each. */
struct link_seen {
	unsigned n;
	uint32_t indicator[4], speed[4], duplex[4];
};

static void on_link_event(struct iop_qp *qp, const struct iop_completion *c)
{
	struct link_seen *ls = c->arg;

	(void)qp;
	/* Not fatal: a callback runs with the DDM's loop going, which down() must stop. */
	CU_ASSERT_TRUE(c->event);
	CU_ASSERT(c->reply_words >= IOP_EVENT_DATA_WORD + 2);
	if (!c->event || c->reply_words < IOP_EVENT_DATA_WORD + 2)
		return;
	if (ls->n < 4) {
		ls->indicator[ls->n] = c->event_indicator;
		ls->speed[ls->n] = rte_le_to_cpu_32(c->reply[IOP_EVENT_DATA_WORD]);
		ls->duplex[ls->n] = rte_le_to_cpu_32(c->reply[IOP_EVENT_DATA_WORD + 1]);
	}
	ls->n++;
}

/* Poll until `n` events have come, or TIMEOUT_MS: the DDM reads the link every 100 ms. */
static void wait_link_events(struct fixture *f, const struct link_seen *ls, unsigned n)
{
	uint64_t end = rte_get_timer_cycles() + rte_get_timer_hz() / 1000 * TIMEOUT_MS;

	while (ls->n < n && rte_get_timer_cycles() < end)
		if (iop_qp_poll(f->qp, 8) == 0)
			usleep(1000);
	CU_ASSERT_EQUAL(ls->n, n);
}

/*
 * The port's link taken down and up again under the DDM (as a cable would):
 * a host registered for the LAN link events is told each change, with the
 * port's speed; one that did not ask is told nothing.
 */
static void test_link_events(void)
{
	struct link_seen ls = { 0 }, other = { 0 };
	struct iop_qp *qp2;
	struct fixture f;
	uint16_t port;

	up(&f, "port=net_ring0");
	qp2 = iop_qp_create(f.h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qp2);
	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_get_port_by_name("net_ring0", &port), 0);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 5), 1); /* link up */
	CU_ASSERT_EQUAL(iop_qp_event_register(f.qp, LAN_TID,
					      IOP_LAN_EVENT_LINK_DOWN | IOP_LAN_EVENT_LINK_UP,
					      on_link_event, &ls), 0);
	CU_ASSERT_EQUAL(iop_qp_event_register(qp2, LAN_TID, IOP_EVENT_STATE_CHANGE, on_link_event,
					      &other), 0);
	/* Registered before the change: a call after the registration is answered after it. */
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 5), 1);
	CU_ASSERT_EQUAL(rte_eth_dev_set_link_down(port), 0);
	wait_link_events(&f, &ls, 1);
	CU_ASSERT_EQUAL(ls.indicator[0], IOP_LAN_EVENT_LINK_DOWN);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 5), 0);
	CU_ASSERT_EQUAL(rte_eth_dev_set_link_up(port), 0);
	wait_link_events(&f, &ls, 2);
	CU_ASSERT_EQUAL(ls.indicator[1], IOP_LAN_EVENT_LINK_UP);
	CU_ASSERT_EQUAL(ls.speed[1], RTE_ETH_SPEED_NUM_10G); /* net_ring's */
	CU_ASSERT_EQUAL(ls.duplex[1], 1);
	iop_qp_poll(qp2, 8);
	CU_ASSERT_EQUAL(other.n, 0);
	CU_ASSERT_EQUAL(iop_qp_destroy(qp2, TIMEOUT_MS), 0);
	down(&f);
}

/* Post a request made by build (to the executive or the DDM) with on_send_reply. */
static void post_to(struct fixture *f, int (*build)(uint32_t *, size_t, uint8_t), uint8_t fn,
		    struct sent_reply *s)
{
	uint32_t *frame = iop_qp_frame_alloc(f->qp, 64);

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(build(frame, 64, fn) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f->qp, frame, on_send_reply, s), 0);
}

static int build_exec(uint32_t *frame, size_t bytes, uint8_t fn)
{
	return iop_build_exec(frame, bytes, fn);
}

/* Take replies until both have come, or give up. */
static void wait_both(struct fixture *f, const struct sent_reply *a, const struct sent_reply *b)
{
	for (int i = 0; i < 5000 && !(a->done && b->done); i++) {
		iop_qp_poll(f->qp, 8);
		iop_test_sleep_ms(1);
	}
}

/* An executive request alone: SUCCESS? */
static bool exec_ok(struct fixture *f, uint8_t fn)
{
	struct sent_reply s = { 0 };

	post_to(f, build_exec, fn, &s);
	wait_both(f, &s, &s);
	return s.done && s.status == IOP_REPLY_STATUS_SUCCESS;
}

/* Post the 40-packet PacketSend and wait until the port's tx ring (room for 15) is full. */
static void post_held(struct fixture *f, struct rte_ring *tx, const struct iop_lan_inline *inl,
		      unsigned n, struct sent_reply *s)
{
	uint32_t *frame = iop_qp_frame_alloc(f->qp, 8192);

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, 8192, LAN_TID, inl, n) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f->qp, frame, on_send_reply, s), 0);
	for (int i = 0; i < 5000 && rte_ring_count(tx) < 15; i++)
		iop_test_sleep_ms(1);
	CU_ASSERT_EQUAL_FATAL(rte_ring_count(tx), 15);
}

/*
 * ExecSysQuiesce with a PacketSend held for a full tx queue: the send is
 * answered before the quiesce, with the count the port took
 * (ERROR_PARTIAL_TRANSFER, DEVICE_NOT_AVAILABLE), and nothing more of it
 * goes: after ExecSysEnable the next packet on the wire is a new
 * PacketSend's, right behind the 15. ExecIopReset does the same with
 * DEVICE_RESET. Both heaps are back where they started (down()).
 */
static void test_quiesce_and_reset_end_a_held_send(void)
{
	enum { N = 40 };
	static uint8_t pkts[N + 1][128], want[16][128];
	uint32_t sizes[N + 1], want_sizes[16];
	struct iop_lan_inline inl[N];
	struct rte_ring *tx, *rx;
	struct sent_reply cut = { 0 }, quiesce = { 0 }, reset = { 0 };
	struct iop_completion c;
	struct fixture f;
	unsigned seen = 0;
	int port;

	port = ring_port_up(&f, "lan_q", 16, &tx, &rx, NULL);
	replies_seen = 0;
	for (unsigned i = 0; i <= N; i++) {
		sizes[i] = 60 + i;
		make_packet(pkts[i], sizes[i], 700 + i, false);
	}
	for (unsigned i = 0; i < N; i++)
		inl[i] = (struct iop_lan_inline){ pkts[i], sizes[i] };
	/* On the wire: the 15 the port took, then the packet sent after the enable. */
	for (unsigned i = 0; i < 16; i++) {
		unsigned from = i < 15 ? i : N;

		want_sizes[i] = sizes[from];
		memcpy(want[i], pkts[from], sizes[from]);
	}

	post_held(&f, tx, inl, N, &cut);
	post_to(&f, build_exec, IOP_EXEC_SYS_QUIESCE, &quiesce);
	wait_both(&f, &cut, &quiesce);
	CU_ASSERT_TRUE(cut.done);
	CU_ASSERT_EQUAL(cut.status, IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER);
	CU_ASSERT_EQUAL(cut.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(cut.sent, 15);
	CU_ASSERT_TRUE(quiesce.done);
	CU_ASSERT_EQUAL(quiesce.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT(cut.order < quiesce.order);
	CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_ENABLE));
	/* The ring drains while the new packet goes: none of the cut send's follows. */
	CU_ASSERT_EQUAL(drain_tx(tx, want, want_sizes, 16, &seen), 15);
	CU_ASSERT_EQUAL(send_packet(&f, pkts[N], sizes[N], true, &c), 0);
	while (drain_tx(tx, want, want_sizes, 16, &seen) != 0)
		;
	CU_ASSERT_EQUAL(seen, 16);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), 16);

	/* ExecIopReset: cut short with DEVICE_RESET, then the bring-up order. */
	memset(&cut, 0, sizeof(cut));
	post_held(&f, tx, inl, N, &cut);
	post_to(&f, build_exec, IOP_EXEC_IOP_RESET, &reset);
	wait_both(&f, &cut, &reset);
	CU_ASSERT_TRUE(cut.done);
	CU_ASSERT_EQUAL(cut.status, IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER);
	CU_ASSERT_EQUAL(cut.dsc, IOP_DSC_DEVICE_RESET);
	CU_ASSERT_EQUAL(cut.sent, 15);
	CU_ASSERT_TRUE(reset.done);
	CU_ASSERT_EQUAL(reset.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT(cut.order < reset.order);
	CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_OUTBOUND_INIT));
	CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_TAB_SET));
	CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_ENABLE));
	seen = 0;
	CU_ASSERT_EQUAL(drain_tx(tx, want, want_sizes, 15, &seen), 15);
	CU_ASSERT_EQUAL(send_packet(&f, pkts[N], sizes[N], true, &c), 0);
	while (drain_tx(tx, want, want_sizes, 16, &seen) != 0)
		;
	CU_ASSERT_EQUAL(seen, 16);
	down(&f);
	ring_port_close(port, tx, rx);
}

/* ---- tx=zerocopy: the packets sent from where the host put them ---- */

/* The zero-copy run of a case written for both modes. */
#define ZEROCOPY_CASE(name)                                                                        \
	static void name##_zerocopy(void)                                                          \
	{                                                                                          \
		tx_mode = ",tx=zerocopy";                                                          \
		name();                                                                            \
		tx_mode = "";                                                                      \
	}
ZEROCOPY_CASE(test_loopback_send_and_receive)
ZEROCOPY_CASE(test_multi_send_loopback)
ZEROCOPY_CASE(test_pcap_tx_file)

/* The copying run of a case written for every mode. */
#define COPY_CASE(name)                                                                            \
	static void name##_copy(void)                                                              \
	{                                                                                          \
		tx_mode = ",tx=copy";                                                              \
		name();                                                                            \
		tx_mode = "";                                                                      \
	}
COPY_CASE(test_loopback_send_and_receive)
COPY_CASE(test_multi_send_loopback)
COPY_CASE(test_pcap_tx_file)

/* tx= and copy_max=, as group 0x0000 reports them (fields 6 and 7): the default by the port. */
static void test_tx_mode_parameters(void)
{
	static const struct {
		const char *params;
		uint64_t zerocopy, copy_max;
	} cases[] = {
		{ "port=net_ring0", 1, 256 },
		{ "port=net_ring0,copy_max=1000", 1, 1000 },
		{ "port=net_ring0,tx=zerocopy", 1, 0 },
		{ "port=net_ring0,tx=zerocopy,copy_max=64", 1, 64 },
		{ "port=net_null0,tx=copy", 0, 0 },
	};
	struct fixture f;

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		up(&f, cases[i].params);
		CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 6), cases[i].zerocopy);
		CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 7), cases[i].copy_max);
		down(&f);
	}
}

/* Is the mbuf's data inside the window's heaps (zero-copy), byte for byte the packet? */
static bool from_window(struct fixture *f, struct rte_mbuf *m, const uint8_t *pkt, uint32_t len)
{
	struct iop_sgl_bounds b;
	const uint8_t *d = rte_pktmbuf_mtod(m, const uint8_t *);
	const uint8_t *lo, *hi;

	iop_window_sgl_bounds(f->w, &b);
	lo = (const uint8_t *)b.window + b.lo;
	hi = (const uint8_t *)b.window + b.hi;
	return RTE_MBUF_HAS_EXTBUF(m) && d >= lo && d + len <= hi && m->pkt_len == len &&
	       memcmp(d, pkt, len) == 0;
}

/* Take n mbufs off the port's tx ring (left unfreed: the port "still holds" them). */
static unsigned take_tx(struct rte_ring *tx, struct rte_mbuf **m, unsigned n)
{
	unsigned got = 0;

	for (int i = 0; i < 5000 && got < n; i++) {
		got += rte_ring_dequeue_burst(tx, (void **)m + got, n - got, NULL);
		if (got < n)
			iop_test_sleep_ms(1);
	}
	return got;
}

/* Poll a while: what comes, comes (for checking that nothing does). */
static void poll_a_while(struct fixture *f)
{
	for (int i = 0; i < 50; i++) {
		iop_qp_poll(f->qp, 8);
		iop_test_sleep_ms(1);
	}
}

/*
 * tx=zerocopy on a port whose tx ring the test owns, the test being the
 * port's consumer: the mbufs point into the window (request frame and heap
 * buffers), and a PacketSend is answered only once all its mbufs are freed,
 * so the host never reuses memory the port still reads; replies come in the
 * order the requests came, whatever order the port frees them in. Packets
 * of copy_max bytes or fewer are copied. ExecSysQuiesce waits for the port
 * too. After down(), both heaps are back where they started.
 */
static void test_zerocopy_reply_waits_for_the_port(void)
{
	enum { NA = 4, NB = 3 };
	static uint8_t pa[NA][200], pb[NB][400], pc[60];
	static const uint32_t lb[NB] = { 60, 300, 400 };
	struct rte_ring *tx, *rx;
	struct sent_reply a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 }, q = { 0 };
	struct iop_lan_inline inl[NB];
	struct iop_buf bufs[NA];
	struct rte_mbuf *ma[NA], *mb[NB], *mc, *md;
	struct fixture f;
	uint32_t *frame;
	int port;

	port = ring_port_up(&f, "lan_zc", 32, &tx, &rx, "tx=zerocopy,copy_max=100");
	replies_seen = 0;
	/* A: 4 packets in heap buffers; B: 3 inline, the first small enough to be copied. */
	for (unsigned i = 0; i < NA; i++) {
		make_packet(pa[i], sizeof(pa[i]), 900 + i, false);
		bufs[i] = (struct iop_buf){ iop_host_frame_alloc(f.h, sizeof(pa[i])), sizeof(pa[i]) };
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
		memcpy(bufs[i].addr, pa[i], sizeof(pa[i]));
	}
	for (unsigned i = 0; i < NB; i++) {
		make_packet(pb[i], lb[i], 950 + i, i == 1);
		inl[i] = (struct iop_lan_inline){ pb[i], lb[i] };
	}
	make_packet(pc, sizeof(pc), 990, false);
	frame = iop_qp_frame_alloc(f.qp, 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_multi(frame, 256, LAN_TID, f.w, bufs, NA) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &a), 0);
	frame = iop_qp_frame_alloc(f.qp, 2048);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, 2048, LAN_TID, inl, NB) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &b), 0);
	/* C: one small packet, copied: nothing of it in the port, yet answered after A and B. */
	frame = iop_qp_frame_alloc(f.qp, 256);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline(frame, 256, LAN_TID, pc, sizeof(pc)) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &c), 0);

	CU_ASSERT_EQUAL_FATAL(take_tx(tx, ma, NA), NA);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, mb, NB), NB);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, &mc, 1), 1);
	for (unsigned i = 0; i < NA; i++)
		CU_ASSERT_TRUE(from_window(&f, ma[i], pa[i], sizeof(pa[i])));
	CU_ASSERT_FALSE(RTE_MBUF_HAS_EXTBUF(mb[0]) != 0); /* 60 bytes: copied */
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(mb[0], void *), pb[0], lb[0]), 0);
	for (unsigned i = 1; i < NB; i++)
		CU_ASSERT_TRUE(from_window(&f, mb[i], pb[i], lb[i]));
	CU_ASSERT_FALSE(RTE_MBUF_HAS_EXTBUF(mc) != 0);
	/* The port holds them: no reply, however long. */
	poll_a_while(&f);
	CU_ASSERT_FALSE(a.done || b.done || c.done);
	/* B's and C's freed first: they still wait behind A. */
	rte_pktmbuf_free_bulk(mb, NB);
	rte_pktmbuf_free(mc);
	poll_a_while(&f);
	CU_ASSERT_FALSE(a.done || b.done || c.done);
	/* All but one of A's: still nothing. */
	rte_pktmbuf_free_bulk(ma, NA - 1);
	poll_a_while(&f);
	CU_ASSERT_FALSE(a.done);
	rte_pktmbuf_free(ma[NA - 1]);
	wait_both(&f, &a, &c);
	CU_ASSERT_TRUE(a.done && b.done && c.done);
	CU_ASSERT_EQUAL(a.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(a.sent, NA);
	CU_ASSERT_EQUAL(b.sent, NB);
	CU_ASSERT_EQUAL(c.sent, 1);
	CU_ASSERT(a.order < b.order && b.order < c.order);
	for (unsigned i = 0; i < NA; i++)
		iop_host_frame_free(f.h, bufs[i].addr);

	/* ExecSysQuiesce waits for the port to free what it holds, then the send is answered first. */
	frame = iop_qp_frame_alloc(f.qp, 2048);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline(frame, 2048, LAN_TID, pb[2], lb[2]) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &d), 0);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, &md, 1), 1);
	post_to(&f, build_exec, IOP_EXEC_SYS_QUIESCE, &q);
	poll_a_while(&f);
	CU_ASSERT_FALSE(d.done || q.done);
	rte_pktmbuf_free(md);
	wait_both(&f, &d, &q);
	CU_ASSERT_TRUE(d.done && q.done);
	CU_ASSERT_EQUAL(d.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(q.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT(d.order < q.order);
	CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_ENABLE));
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 0), NA + NB + 2);
	down(&f); /* every frame back in both heaps */
	ring_port_close(port, tx, rx);
}

/*
 * A packet of several SGL elements larger than copy_max goes zero-copy as a
 * chain of mbufs, one attached to each element where it lies (net_ring takes
 * chains: RTE_ETH_TX_OFFLOAD_MULTI_SEGS), and its reply waits for the whole
 * chain; a packet of more elements than a chain may have (LAN_ZC_MAX_SEGS,
 * 8) is copied into one mbuf, as is one within copy_max. Bytes and order as
 * the host wrote them.
 */
static void test_zerocopy_chains_a_packet_of_several_elements(void)
{
	enum { NP = 3, MANY = 10, PIECE = 20 };
	static uint8_t pkt[NP][1024];
	static const uint32_t len[NP] = { 20 + 300 + 180, MANY * PIECE, 90 };
	struct rte_mbuf *m[NP];
	struct sent_reply a = { 0 };
	struct iop_sgl_writer wr;
	struct iop_msg_hdr h = { .version = 1, .sgl_offset = IOP_LAN_SGL_WORD,
				 .target_tid = LAN_TID, .initiator_tid = IOP_TID_HOST,
				 .function = IOP_LAN_PACKET_SEND };
	struct rte_ring *tx, *rx;
	uint8_t *buf[2], got[1024];
	const uint8_t *seg_at[3];
	struct fixture f;
	uint32_t *frame;
	int port, words;

	port = ring_port_up(&f, "lan_zch", 16, &tx, &rx, "tx=zerocopy,copy_max=100");
	for (unsigned i = 0; i < NP; i++)
		make_packet(pkt[i], len[i], 1100 + i, false);
	/* Packet 0: 20 bytes inline, 300 and 180 in two heap buffers. */
	buf[0] = iop_host_frame_alloc(f.h, 300);
	buf[1] = iop_host_frame_alloc(f.h, 180);
	CU_ASSERT_FATAL(buf[0] != NULL && buf[1] != NULL);
	memcpy(buf[0], pkt[0] + 20, 300);
	memcpy(buf[1], pkt[0] + 320, 180);
	frame = iop_qp_frame_alloc(f.qp, 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_writer_init(&wr, frame + IOP_LAN_SGL_WORD,
						  1024 / 4 - IOP_LAN_SGL_WORD), 0);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_add_immediate(&wr, pkt[0], 20, 0), 0);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_add_simple(&wr, iop_window_mfa(f.w, buf[0]), 300,
						 IOP_SGL_DIR), 0);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_add_simple(&wr, iop_window_mfa(f.w, buf[1]), 180,
						 IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER), 0);
	/* Packet 1: ten inline pieces of 20 bytes, more than a chain may have. */
	for (unsigned i = 0; i < MANY; i++)
		CU_ASSERT_EQUAL_FATAL(iop_sgl_add_immediate(&wr, pkt[1] + i * PIECE, PIECE,
							    i == MANY - 1 ? IOP_SGL_END_OF_BUFFER : 0), 0);
	/* Packet 2: two inline pieces, 90 bytes in all: within copy_max. */
	CU_ASSERT_EQUAL_FATAL(iop_sgl_add_immediate(&wr, pkt[2], 40, 0), 0);
	CU_ASSERT_EQUAL_FATAL(iop_sgl_add_immediate(&wr, pkt[2] + 40, 50, 0), 0);
	words = iop_sgl_finish(&wr);
	CU_ASSERT_FATAL(words > 0);
	h.size_words = (uint16_t)(IOP_LAN_SGL_WORD + (unsigned)words);
	iop_msg_hdr_encode(&h, frame);
	frame[IOP_LAN_CONTROL_WORD] = 0;
	/* Where packet 0's three pieces lie: the first inside the frame, after its element's header. */
	seg_at[0] = (const uint8_t *)(frame + IOP_LAN_SGL_WORD + 1);
	seg_at[1] = buf[0];
	seg_at[2] = buf[1];
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &a), 0);

	CU_ASSERT_EQUAL_FATAL(take_tx(tx, m, NP), NP);
	CU_ASSERT_EQUAL(m[0]->nb_segs, 3);
	CU_ASSERT_EQUAL(m[0]->pkt_len, len[0]);
	{
		unsigned i = 0;

		for (struct rte_mbuf *s = m[0]; s != NULL && i < 3; s = s->next, i++) {
			CU_ASSERT_TRUE(RTE_MBUF_HAS_EXTBUF(s) != 0);
			CU_ASSERT_PTR_EQUAL(rte_pktmbuf_mtod(s, const uint8_t *), seg_at[i]);
		}
	}
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_read(m[0], 0, len[0], got), pkt[0], len[0]), 0);
	for (unsigned i = 1; i < NP; i++) {
		CU_ASSERT_EQUAL(m[i]->nb_segs, 1);
		CU_ASSERT_FALSE(RTE_MBUF_HAS_EXTBUF(m[i]) != 0);
		CU_ASSERT_EQUAL(m[i]->pkt_len, len[i]);
		CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m[i], void *), pkt[i], len[i]), 0);
	}
	/* The copies freed, the chain held: no reply. */
	rte_pktmbuf_free(m[1]);
	rte_pktmbuf_free(m[2]);
	poll_a_while(&f);
	CU_ASSERT_FALSE(a.done);
	rte_pktmbuf_free(m[0]);
	wait_both(&f, &a, &a);
	CU_ASSERT_TRUE(a.done);
	CU_ASSERT_EQUAL(a.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(a.sent, NP);
	iop_host_frame_free(f.h, buf[0]);
	iop_host_frame_free(f.h, buf[1]);
	down(&f); /* every frame back in both heaps */
	ring_port_close(port, tx, rx);
}

/*
 * tx=zerocopy only on drivers known to be done with a packet within tx_burst
 * or in this process, reading it by address: a net_bonding port (a vdev
 * whose members are NICs in practice) refuses tx=zerocopy at init and, with
 * tx not given, gets copies. The allowlist's names are DPDK's own.
 */
static void test_zerocopy_only_on_known_drivers(void)
{
	static const struct {
		const char *port, *driver;
	} known[] = { { "net_ring0", "net_ring" }, { "net_null0", "net_null" },
		      { "net_pcap0", "net_pcap" } };
	const struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20 };
	const struct iop_runtime_ddm ddms[] = { { "lan", "port=net_bonding_lan,tx=zerocopy", 0 } };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = ddms, .n_ddms = 1 };
	struct rte_eth_dev_info info;
	struct iop_runtime *rt;
	struct fixture f;
	char err[256] = "";
	uint16_t port;

	for (unsigned i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		CU_ASSERT_EQUAL_FATAL(rte_eth_dev_get_port_by_name(known[i].port, &port), 0);
		CU_ASSERT_EQUAL_FATAL(rte_eth_dev_info_get(port, &info), 0);
		CU_ASSERT_STRING_EQUAL(info.driver_name, known[i].driver);
	}
	CU_ASSERT_EQUAL_FATAL(rte_vdev_init("net_null_bond", NULL), 0);
	CU_ASSERT_EQUAL_FATAL(rte_vdev_init("net_bonding_lan", "mode=0,slave=net_null_bond"), 0);
	CU_ASSERT_EQUAL_FATAL(rte_eth_dev_get_port_by_name("net_bonding_lan", &port), 0);
	CU_ASSERT_EQUAL(rte_eth_dev_info_get(port, &info), 0);
	CU_ASSERT_STRING_EQUAL(info.driver_name, "net_bonding");

	cfg.window = iop_window_create(&wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cfg.window);
	rt = iop_runtime_create(&cfg, err, sizeof(err));
	CU_ASSERT_PTR_NULL(rt);
	if (rt != NULL)
		iop_runtime_destroy(rt);
	iop_window_close((struct iop_window *)cfg.window);

	up(&f, "port=net_bonding_lan");
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_PORT_INFO, 6), 0); /* copies */
	down(&f);
	rte_eth_dev_close(port);
	CU_ASSERT_EQUAL(rte_vdev_uninit("net_bonding_lan"), 0);
	CU_ASSERT_EQUAL(rte_vdev_uninit("net_null_bond"), 0);
}

/*
 * A PacketSend refused (a transmit control word other than 0) while an
 * older zero-copy send still waits for the port: the refusal is answered
 * after it, not before, so replies keep the order of the requests.
 */
static void test_refusal_waits_behind_zerocopy_sends(void)
{
	static uint8_t pa[200];
	const uint32_t imm[2] = { 0xCC000004u | 0x40000000u, 0x01020304u };
	struct rte_ring *tx, *rx;
	struct sent_reply a = { 0 }, b = { 0 }, c = { 0 };
	struct rte_mbuf *ma;
	struct fixture f;
	uint32_t *frame;
	int port;

	port = ring_port_up(&f, "lan_zr", 16, &tx, &rx, "tx=zerocopy,copy_max=100");
	replies_seen = 0;
	make_packet(pa, sizeof(pa), 1100, false);
	frame = iop_qp_frame_alloc(f.qp, 512);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline(frame, 512, LAN_TID, pa, sizeof(pa)) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &a), 0);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, &ma, 1), 1);
	CU_ASSERT_TRUE(from_window(&f, ma, pa, sizeof(pa)));
	/* B refused, C refused the same way: both wait behind A. */
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, raw_send(&f, 1, imm, 2, 5), on_send_reply, &b), 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, raw_send(&f, 1, imm, 2, 5), on_send_reply, &c), 0);
	poll_a_while(&f);
	CU_ASSERT_FALSE(a.done || b.done || c.done);
	rte_pktmbuf_free(ma);
	wait_both(&f, &a, &c);
	CU_ASSERT_TRUE(a.done && b.done && c.done);
	CU_ASSERT_EQUAL(a.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(b.status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
	CU_ASSERT_EQUAL(b.dsc, IOP_DSC_INVALID_PARAMETER);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	CU_ASSERT(a.order < b.order && b.order < c.order);
	CU_ASSERT_EQUAL(lan_field(&f, IOP_LAN_GROUP_DDM_STATS, 2), 2); /* refused */
	CU_ASSERT_EQUAL(rte_ring_count(tx), 0); /* nothing of the refused went */
	down(&f);
	ring_port_close(port, tx, rx);
}

static void find_pool(struct rte_mempool *mp, void *arg)
{
	struct rte_mempool **want = arg;

	if (mp == *want)
		*want = NULL;
}

/* Is mp still a pool of the process (not freed)? */
static bool pool_exists(struct rte_mempool *mp)
{
	struct rte_mempool *want = mp;

	rte_mempool_walk(find_pool, &want);
	return want == NULL;
}

/*
 * The DDM's end with copies still in the port (a tx ring no one drained): the
 * pool they came from is left allocated, so the consumer that takes them
 * later frees them into a live pool.
 */
static void test_end_leaves_a_pool_the_port_uses(void)
{
	static uint8_t p[3][100];
	struct rte_ring *tx, *rx;
	struct rte_mbuf *m[3];
	struct iop_completion c;
	struct rte_mempool *pool;
	struct fixture f;
	int port;

	port = ring_port_up(&f, "lan_pl", 16, &tx, &rx, "tx=copy");
	for (unsigned i = 0; i < 3; i++) {
		make_packet(p[i], sizeof(p[i]), 1200 + i, false);
		CU_ASSERT_EQUAL(send_packet(&f, p[i], sizeof(p[i]), true, &c), 0);
	}
	f.pool_may_stay = true;
	down(&f);
	CU_ASSERT_EQUAL_FATAL(rte_ring_count(tx), 3);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, m, 3), 3);
	pool = m[0]->pool;
	CU_ASSERT_TRUE_FATAL(pool_exists(pool));
	for (unsigned i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(m[i], void *), p[i], sizeof(p[i])), 0);
	rte_pktmbuf_free_bulk(m, 3);
	CU_ASSERT_EQUAL(rte_mempool_in_use_count(pool), 0);
	rte_mempool_free(pool); /* left to whoever took the last mbufs */
	ring_port_close(port, tx, rx);
}

/* Post n copies of the packet as one PacketSend (inline), answered into s. */
static void post_copies(struct fixture *f, const uint8_t *pkt, uint32_t len, unsigned n,
			struct sent_reply *s)
{
	struct iop_lan_inline inl[IOP_LAN_SEND_MAX_PACKETS];
	uint32_t *frame = iop_qp_frame_alloc(f->qp, 8192);

	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	for (unsigned i = 0; i < n; i++)
		inl[i] = (struct iop_lan_inline){ pkt, len };
	CU_ASSERT_FATAL(iop_build_lan_packet_send_inline_multi(frame, 8192, LAN_TID, inl, n) > 0);
	*s = (struct sent_reply){ 0 };
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(f->qp, frame, on_send_reply, s), 0);
}

/*
 * tx=copy with the DDM's mbuf pool all but empty: the test, the port's
 * consumer, keeps every mbuf it is sent. The DDM takes mbufs 32 at a time
 * while it can, and then the last ones one by one: packets go until not one
 * mbuf of the pool is left. A PacketSend then waits (not answered, nothing
 * lost) and goes once 3 mbufs are back, fewer than a bulk's 32.
 */
static void test_copy_pool_runs_dry(void)
{
	static uint8_t p[64];
	static struct rte_mbuf *held[4096];
	struct rte_ring *tx, *rx;
	struct sent_reply s = { 0 };
	struct rte_mempool *pool;
	struct fixture f;
	unsigned n = 0, sends = 0;
	int port;

	port = ring_port_up(&f, "lan_dry", 4096, &tx, &rx, "tx=copy");
	make_packet(p, sizeof(p), 77, false);
	/* Sends of 64 while the pool holds two sends' worth. */
	do {
		post_copies(&f, p, sizeof(p), IOP_LAN_SEND_MAX_PACKETS, &s);
		wait_both(&f, &s, &s);
		CU_ASSERT_FATAL(s.done && s.sent == (int)IOP_LAN_SEND_MAX_PACKETS);
		n += rte_ring_dequeue_burst(tx, (void **)held + n, 4096 - n, NULL);
		CU_ASSERT_FATAL(n > 0 && ++sends < 64);
		pool = held[0]->pool;
	} while (rte_mempool_avail_count(pool) >= 2 * IOP_LAN_SEND_MAX_PACKETS);
	/* Then a packet a send, down to the last mbuf. */
	for (sends = 0; sends < 2 * IOP_LAN_SEND_MAX_PACKETS; sends++) {
		post_copies(&f, p, sizeof(p), 1, &s);
		/* Up to 5 s while the pool still has mbufs (a busy machine may hold
		 * the DDM's lcore back that long); 200 ms once it has none. */
		for (int i = 0; i < 5000 && !s.done; i++) {
			if (i >= 200 && rte_mempool_avail_count(pool) == 0)
				break;
			iop_qp_poll(f.qp, 8);
			iop_test_sleep_ms(1);
		}
		if (!s.done)
			break;
		CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
		n += take_tx(tx, held + n, 1);
	}
	CU_ASSERT_FALSE_FATAL(s.done);
	CU_ASSERT_EQUAL(rte_mempool_avail_count(pool), 0);
	CU_ASSERT_EQUAL(rte_ring_count(tx), 0);
	/* 3 back, past this thread's cache, which the DDM's lcore does not take from. */
	CU_ASSERT_FATAL(n >= 3);
	n -= 3;
	rte_pktmbuf_free_bulk(held + n, 3);
	rte_mempool_cache_flush(rte_mempool_default_cache(pool, rte_lcore_id()), pool);
	wait_both(&f, &s, &s);
	CU_ASSERT_TRUE(s.done);
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL_FATAL(take_tx(tx, held + n, 1), 1);
	CU_ASSERT_EQUAL(rte_pktmbuf_pkt_len(held[n]), sizeof(p));
	CU_ASSERT_EQUAL(memcmp(rte_pktmbuf_mtod(held[n], void *), p, sizeof(p)), 0);
	rte_pktmbuf_free_bulk(held, n + 1);
	down(&f);
	ring_port_close(port, tx, rx);
}

static int build_lan_fn(uint32_t *frame, size_t bytes, uint8_t fn)
{
	return iop_build_lan(frame, bytes, LAN_TID, fn);
}

/*
 * tx=zerocopy, every packet sent from the frame (copy_max=0): a PacketSend
 * held for a full tx queue, then ExecSysQuiesce, ExecIopReset, LanReset or
 * LanSuspend. Each cuts the send short, but neither the send nor the
 * control request is answered while the port holds the 15 packets it took
 * (they point into the request frame); once the test, the port's consumer,
 * has taken and freed them, the send is answered
 * (ERROR_PARTIAL_TRANSFER, 15 sent), then the control request. After each,
 * the DDM sends again, and both heaps end where they started (down()).
 */
static void test_zerocopy_quiesce_and_reset_wait_for_the_port(void)
{
	enum { N = 40 };
	static uint8_t pkts[N + 1][128];
	static const struct {
		int (*build)(uint32_t *, size_t, uint8_t);
		uint8_t fn;
		uint16_t dsc;
	} ctl[] = {
		{ build_exec, IOP_EXEC_SYS_QUIESCE, IOP_DSC_DEVICE_NOT_AVAILABLE },
		{ build_exec, IOP_EXEC_IOP_RESET, IOP_DSC_DEVICE_RESET },
		{ build_lan_fn, IOP_LAN_RESET, IOP_DSC_DEVICE_RESET },
		{ build_lan_fn, IOP_LAN_SUSPEND, IOP_DSC_DEVICE_NOT_AVAILABLE },
	};
	uint32_t sizes[N + 1];
	struct iop_lan_inline inl[N];
	struct rte_ring *tx, *rx;
	struct rte_mbuf *m[15];
	struct fixture f;
	uint32_t *frame;
	int port;

	port = ring_port_up(&f, "lan_zq", 16, &tx, &rx, "tx=zerocopy,copy_max=0");
	for (unsigned i = 0; i <= N; i++) {
		sizes[i] = 60 + i;
		make_packet(pkts[i], sizes[i], 1300 + i, false);
	}
	for (unsigned i = 0; i < N; i++)
		inl[i] = (struct iop_lan_inline){ pkts[i], sizes[i] };
	for (unsigned k = 0; k < sizeof(ctl) / sizeof(ctl[0]); k++) {
		struct sent_reply cut = { 0 }, done = { 0 }, one = { 0 };

		replies_seen = 0;
		post_held(&f, tx, inl, N, &cut);
		post_to(&f, ctl[k].build, ctl[k].fn, &done);
		poll_a_while(&f);
		CU_ASSERT_FALSE(cut.done || done.done);
		CU_ASSERT_EQUAL_FATAL(take_tx(tx, m, 15), 15);
		for (unsigned i = 0; i < 15; i++)
			CU_ASSERT_TRUE(from_window(&f, m[i], pkts[i], sizes[i]));
		poll_a_while(&f);
		CU_ASSERT_FALSE(cut.done || done.done); /* taken, not yet freed */
		rte_pktmbuf_free_bulk(m, 15);
		wait_both(&f, &cut, &done);
		CU_ASSERT_TRUE(cut.done && done.done);
		CU_ASSERT_EQUAL(cut.status, IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER);
		CU_ASSERT_EQUAL(cut.dsc, ctl[k].dsc);
		CU_ASSERT_EQUAL(cut.sent, 15);
		CU_ASSERT_EQUAL(done.status, IOP_REPLY_STATUS_SUCCESS);
		CU_ASSERT(cut.order < done.order);
		CU_ASSERT_EQUAL(rte_ring_count(tx), 0); /* none of the cut send's followed */
		/* Back in service: after a quiesce an enable, after a reset the bring-up. */
		if (ctl[k].fn == IOP_EXEC_IOP_RESET) {
			CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_OUTBOUND_INIT));
			CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_TAB_SET));
		}
		if (ctl[k].build == build_exec)
			CU_ASSERT_TRUE(exec_ok(&f, IOP_EXEC_SYS_ENABLE));
		if (ctl[k].fn == IOP_LAN_SUSPEND) {
			struct sent_reply r = { 0 };

			post_to(&f, build_lan_fn, IOP_LAN_RESET, &r);
			wait_both(&f, &r, &r);
			CU_ASSERT_EQUAL(r.status, IOP_REPLY_STATUS_SUCCESS);
		}
		/* The port's consumer is this thread: the packet taken and freed, then the reply. */
		frame = iop_qp_frame_alloc(f.qp, 256);
		CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
		CU_ASSERT_FATAL(iop_build_lan_packet_send_inline(frame, 256, LAN_TID, pkts[N],
								 sizes[N]) > 0);
		CU_ASSERT_EQUAL_FATAL(iop_qp_post(f.qp, frame, on_send_reply, &one), 0);
		CU_ASSERT_EQUAL_FATAL(take_tx(tx, m, 1), 1);
		CU_ASSERT_TRUE(from_window(&f, m[0], pkts[N], sizes[N]));
		rte_pktmbuf_free(m[0]);
		wait_both(&f, &one, &one);
		CU_ASSERT_TRUE(one.done);
		CU_ASSERT_EQUAL(one.status, IOP_REPLY_STATUS_SUCCESS);
	}
	down(&f);
	ring_port_close(port, tx, rx);
}

static const struct iop_test_case lan_tests[] = {
	{ "loopback_send_and_receive", test_loopback_send_and_receive },
	{ "loopback_send_and_receive_copy", test_loopback_send_and_receive_copy },
	{ "loopback_send_and_receive_zerocopy", test_loopback_send_and_receive_zerocopy },
	{ "receive_drops", test_receive_drops },
	{ "refusals", test_refusals },
	{ "multi_send_loopback", test_multi_send_loopback },
	{ "multi_send_loopback_copy", test_multi_send_loopback_copy },
	{ "multi_send_loopback_zerocopy", test_multi_send_loopback_zerocopy },
	{ "zerocopy_reply_waits_for_the_port", test_zerocopy_reply_waits_for_the_port },
	{ "zerocopy_chains_a_packet_of_several_elements",
	  test_zerocopy_chains_a_packet_of_several_elements },
	{ "refusal_waits_behind_zerocopy_sends", test_refusal_waits_behind_zerocopy_sends },
	{ "zerocopy_quiesce_and_reset_wait_for_the_port",
	  test_zerocopy_quiesce_and_reset_wait_for_the_port },
	{ "zerocopy_only_on_known_drivers", test_zerocopy_only_on_known_drivers },
	{ "end_leaves_a_pool_the_port_uses", test_end_leaves_a_pool_the_port_uses },
	{ "copy_pool_runs_dry", test_copy_pool_runs_dry },
	{ "multi_send_refusals", test_multi_send_refusals },
	{ "multi_send_waits_for_a_full_queue", test_multi_send_waits_for_a_full_queue },
	{ "quiesce_and_reset_end_a_held_send", test_quiesce_and_reset_end_a_held_send },
	{ "suspend_and_reset", test_suspend_and_reset },
	{ "post_of_a_gone_host_is_answered", test_post_of_a_gone_host_is_answered },
	{ "pcap_tx_file", test_pcap_tx_file },
	{ "pcap_tx_file_copy", test_pcap_tx_file_copy },
	{ "pcap_tx_file_zerocopy", test_pcap_tx_file_zerocopy },
	{ "tx_mode_parameters", test_tx_mode_parameters },
	{ "bad_parameters", test_bad_parameters },
	{ "link_events", test_link_events },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "lan_eal", lan_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	char dir[] = "/tmp/iop-lan-XXXXXX", pcap_vdev[320];
	char *eal_argv[] = { argv[0],		    (char *)"--lcores=0@0,1@1",
			     (char *)"--vdev=net_ring0", (char *)"--vdev=net_null0",
			     pcap_vdev,		    NULL };
	char err[256];
	int failures;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(tx_pcap, sizeof(tx_pcap), "%s/tx.pcap", dir);
	snprintf(pcap_vdev, sizeof(pcap_vdev), "--vdev=net_pcap0,tx_pcap=%s", tx_pcap);
	if (iop_eal_init(5, eal_argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	failures = iop_test_main(argc, argv, suites);
	iop_eal_cleanup();
	unlink(tx_pcap);
	rmdir(dir);
	return failures;
}
