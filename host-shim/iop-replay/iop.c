/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The IOP iop-replay runs in its own process: the EAL with one worker lcore,
 * a runtime whose lan DDM drives the output port from that lcore, and a host
 * queue pair on the main thread that posts the packets as LanPacketSends, up
 * to --batch packets a request. A preloaded capture is moved into the frame
 * window, into blocks of the inbound heap the host holds for the whole run,
 * and its packets go by reference (a simple SGL element each): the host
 * copies none of them, and the lan DDM sends each from where it lies or
 * copies it into an mbuf, as its tx mode says. A streamed capture's packets
 * are copied once on the host's side, from libpcap's buffer straight into
 * the request frame of the batch being gathered (immediate data).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_ethdev.h>

#include "iop_build.h"
#include "iop_eal.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_lan.h"
#include "iop_runtime.h"
#include "iop_sgl.h"
#include "iop_window.h"
#include "replay.h"

#define QP_DEPTH 256u
#define LAT_RESERVOIR (1u << 20)
#define STOP_TIMEOUT_MS 10000u
/* Words of a LanPacketSend besides the packet: header, control word, the element's header. */
#define SEND_OVERHEAD_BYTES ((IOP_LAN_SGL_WORD + 1) * 4)
/* The port's Ethernet header and two VLAN tags on top of its MTU (as the lan DDM counts). */
#define L2_OVERHEAD 22u
/* The window without a preloaded capture: request frames, and the heap's thread caches. */
#define WINDOW_INBOUND (32u << 20)
/*
 * Replies, and the channels: iop-replay opens one, and the free lists want
 * the heap to hold 12 times IOP_FREE_LIST_HOLD blocks a channel slot
 * (iop_channel_free_list_block()), in the smallest blocks of a preloaded
 * replay's window too (by_reference_frame_block()).
 */
#define WINDOW_OUTBOUND (4u << 20)
#define WINDOW_CHANNELS 4u
/*
 * A preloaded capture goes in blocks of 1 MiB (a packet over half of that in
 * a block of its own), each packet at the start of a cache line
 * (REPLAY_PRELOAD_ALIGN): a packet's first line is never shared with the
 * one before it.
 */
#define PRELOAD_CHUNK (1u << 20)
#define PRELOAD_ALIGN REPLAY_PRELOAD_ALIGN
/*
 * The most a preloaded capture may take in the window (the inbound heap is
 * a power of two of at most 2 GiB, with room for the frames besides); a
 * larger one stays in process memory and its packets are copied.
 */
#define PRELOAD_MAX (960ull << 20)

/* A request posted: when, and its packets' lengths. */
struct inflight {
	uint64_t t_post;
	unsigned n;
	uint32_t len[IOP_LAN_SEND_MAX_PACKETS];
};

struct replay_iop {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	struct iop_qp *qp;
	_Atomic int stop;
	bool launched;
	bool loop_inline;        /* --loop-inline: replay_iop_poll() turns the runtime's loop */
	uint16_t tid;            /* the lan DDM's */
	char port[128];          /* its port's device name */
	struct inflight slots[QP_DEPTH];
	uint64_t seq, done;      /* requests posted, and answered */
	uint64_t rng;
	uint64_t poll_now;       /* the clock at the first reply of this poll, 0: not read */
	/* The batch being gathered: its packets already in its request frame. */
	unsigned batch;          /* most packets a request */
	size_t max_frame;
	size_t frame_bytes;      /* the largest frame a batch is built in */
	size_t batch_bytes;      /* the frame of the batch being gathered */
	uint32_t max_seen;       /* the longest packet queued so far */
	uint32_t *frame;         /* NULL: no batch begun */
	struct iop_lan_send_builder b;
	uint32_t pend_len[IOP_LAN_SEND_MAX_PACKETS];
	unsigned n_pend;
	struct send_stats st;
	/* The preloaded capture's blocks in the inbound heap, and where the next packet goes. */
	struct iop_sgl_bounds bounds; /* the window's, for the builder */
	uint64_t preload_bytes;  /* what the window was sized for; 0: no room made */
	void **blocks;
	unsigned n_blocks, cap_blocks;
	uint8_t *fill;
	size_t fill_left;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t replay_iop_max_packet(const struct replay_opts *o)
{
	uint32_t port = o->mtu + L2_OVERHEAD;
	uint32_t frame = (uint32_t)(o->max_frame - SEND_OVERHEAD_BYTES);

	return port < frame ? port : frame;
}

/* A reservoir sample, so p50/p99 stay fair over any number of packets in bounded memory. */
static void record_latency(struct replay_iop *x, uint64_t ns)
{
	struct send_stats *s = &x->st;

	s->lat_seen++;
	if (s->n_lat < LAT_RESERVOIR) {
		s->lat_ns[s->n_lat++] = ns;
		return;
	}
	x->rng = x->rng * 6364136223846793005ull + 1442695040888963407ull;
	if ((x->rng >> 33) % s->lat_seen < LAT_RESERVOIR)
		s->lat_ns[(x->rng >> 11) % LAT_RESERVOIR] = ns;
}

static void on_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	struct replay_iop *x = c->arg;
	/* One target answers in the order posted: this is the oldest in flight. */
	struct inflight *f = &x->slots[x->done++ % QP_DEPTH];

	int sent = c->result == -EPROTO ? 0 : iop_read_lan_send_reply(c->reply, c->reply_words, f->n);

	(void)qp;
	/* The clock once a poll: replies taken together arrived together. */
	if (x->poll_now == 0)
		x->poll_now = now_ns();
	record_latency(x, x->poll_now - f->t_post);
	if (sent < 0)
		sent = 0;
	x->st.sent += (unsigned)sent;
	x->st.refused += f->n - (unsigned)sent;
	for (int i = 0; i < sent; i++)
		x->st.sent_bytes += f->len[i];
}

static int eal_start(const struct replay_opts *o, const char *prog, char *err, size_t errlen)
{
	static char lcores[64], vdev[4200];
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	char *argv[] = { (char *)prog, lcores, vdev, (char *)"--no-telemetry", NULL };

	/* The DDM's lcore on a CPU of its own when there is one; the host keeps CPU 0. */
	snprintf(lcores, sizeof(lcores), "--lcores=0@0,1@%ld", cpus > 1 ? 1L : 0L);
	if (o->vdev != NULL)
		snprintf(vdev, sizeof(vdev), "--vdev=%s", o->vdev);
	else
		snprintf(vdev, sizeof(vdev), "--vdev=net_pcap0,tx_pcap=%s", o->output);
	return iop_eal_init(4, argv, err, errlen) < 0 ? -1 : 0;
}

/*
 * The heaps' smallest block when the capture goes by reference: the frame of
 * a whole batch (5 words, and 2 a packet, within --max-frame), a power of
 * two. Request frames are then the inbound heap's smallest blocks, which go
 * round on the channel's free lists (<iop/channel.h>) instead of through the
 * heap: no allocation bit set and cleared and no line of the heap's bitmaps
 * moving between the host's CPU and the DDM's for each request. The option
 * is both heaps': replies, which go round on free_to_iop, take blocks of
 * that size too. Copied packets make frames too large for that; their
 * window keeps the default.
 */
static size_t by_reference_frame_block(const struct replay_opts *o)
{
	size_t frame = IOP_LAN_SGL_WORD * 4 + (size_t)(o->batch != 0 ? o->batch : 1) * 8;
	size_t block = 64; /* the heap's default: never more metadata than that */

	if (frame > o->max_frame)
		frame = o->max_frame;

	while (block < frame)
		block <<= 1;
	return block;
}

/*
 * The inbound heap's room for a preloaded capture of `bytes` (packets rounded
 * up to PRELOAD_ALIGN): twice that, for what the blocks' ends waste and for a
 * packet over half a block taking a block of its own (rounded up to a power
 * of two), and a block more. 0 when it would not fit (PRELOAD_MAX) and stays
 * in process memory. The window rounds the heap up to a power of two: with
 * any capture at all it is 64 MiB or more. Its pages are the memfd's, taken
 * as they are first written.
 */
static uint64_t preload_room(uint64_t bytes)
{
	return bytes == 0 || bytes > PRELOAD_MAX ? 0 : 2 * bytes + PRELOAD_CHUNK;
}

struct replay_iop *replay_iop_start(const struct replay_opts *o, uint64_t preload_bytes,
				    const char *prog, char *err, size_t errlen)
{
	const struct iop_heap_opts ho = {
		.min_block = preload_room(preload_bytes) != 0 ? by_reference_frame_block(o) : 0,
	};
	const struct iop_window_opts wo = { .inbound_bytes = WINDOW_INBOUND +
							     preload_room(preload_bytes),
					    .outbound_bytes = WINDOW_OUTBOUND,
					    .channels = WINDOW_CHANNELS,
					    .heap = &ho };
	struct iop_qp_opts qo = { .depth = QP_DEPTH };
	char params[192];
	struct iop_runtime_ddm ddm = { "lan", params, 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = &ddm, .n_ddms = 1 };
	struct replay_iop *x = calloc(1, sizeof(*x));

	if (x == NULL || (x->st.lat_ns = malloc(LAT_RESERVOIR * sizeof(uint64_t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		free(x);
		return NULL;
	}
	x->rng = 0x9E3779B97F4A7C15ull;
	x->st.port_packets = -1;
	x->preload_bytes = preload_room(preload_bytes) != 0 ? preload_bytes : 0;
	x->batch = o->batch != 0 ? o->batch : 1;
	/* A batch's frame is one message: MessageSize (16 bits of words) bounds it. */
	x->max_frame = o->max_frame < 0xFFFFu * 4u ? o->max_frame : 0xFFFFu * 4u;
	/* Room for --batch of the largest packets, within --max-frame. */
	x->frame_bytes = IOP_LAN_SGL_WORD * 4 +
			 (size_t)x->batch * (4 + ((replay_iop_max_packet(o) + 3u) & ~3u));
	/* Whole words: MessageSize counts them, and the largest packet rounds up to one. */
	if (x->frame_bytes > ((x->max_frame + 3) & ~(size_t)3))
		x->frame_bytes = (x->max_frame + 3) & ~(size_t)3;
	if (eal_start(o, prog, err, errlen) != 0)
		goto fail;
	/* The DDM names its port by the vdev's name: what comes before its arguments. */
	snprintf(x->port, sizeof(x->port), "%s", o->vdev != NULL ? o->vdev : "net_pcap0");
	x->port[strcspn(x->port, ",")] = '\0';
	snprintf(params, sizeof(params), "port=%s,mtu=%u%s%s", x->port, o->mtu,
		 o->tx != NULL ? ",tx=" : "", o->tx != NULL ? o->tx : "");
	x->w = iop_window_create(&wo);
	if (x->w == NULL) {
		snprintf(err, errlen, "frame window: %s", strerror(errno));
		goto fail;
	}
	cfg.window = x->w;
	x->rt = iop_runtime_create(&cfg, err, errlen);
	if (x->rt == NULL)
		goto fail;
	x->loop_inline = o->loop_inline;
	if (!x->loop_inline && iop_runtime_launch(x->rt, &x->stop) != 0) {
		snprintf(err, errlen, "no worker lcore for the lan DDM");
		goto fail;
	}
	x->launched = !x->loop_inline;
	x->tid = iop_runtime_ddm_tid(x->rt, 0);
	x->h = iop_host_attach_runtime(x->rt, err, errlen);
	x->qp = x->h != NULL ? iop_qp_create(x->h, &qo) : NULL;
	if (x->qp == NULL) {
		if (x->h != NULL)
			snprintf(err, errlen, "queue pair: %s", strerror(errno));
		goto fail;
	}
	return x;
fail:
	replay_iop_stop(x);
	replay_iop_free(x);
	return NULL;
}

/* capture_move()'s place(): the next PRELOAD_ALIGN-aligned spot in the window's blocks. */
static void *place_packet(void *ctx, uint32_t len)
{
	struct replay_iop *x = ctx;
	size_t need = ((size_t)len + PRELOAD_ALIGN - 1) / PRELOAD_ALIGN * PRELOAD_ALIGN;
	void *p;

	if (need > x->fill_left) {
		/* A packet over half a block takes one of its own; the block being filled stays. */
		size_t block = need > PRELOAD_CHUNK / 2 ? need : PRELOAD_CHUNK;

		if (x->n_blocks == x->cap_blocks) {
			unsigned cap = x->cap_blocks != 0 ? 2 * x->cap_blocks : 4;
			void **b = realloc(x->blocks, cap * sizeof(*b));

			if (b == NULL)
				return NULL;
			x->blocks = b;
			x->cap_blocks = cap;
		}
		p = iop_host_frame_alloc(x->h, block);
		if (p == NULL)
			return NULL;
		x->blocks[x->n_blocks++] = p;
		if (block != PRELOAD_CHUNK)
			return p;
		x->fill = p;
		x->fill_left = block;
	}
	p = x->fill;
	x->fill += need;
	x->fill_left -= need;
	return p;
}

/* The preloaded capture's blocks back to the heap. */
static void free_blocks(struct replay_iop *x)
{
	for (unsigned i = 0; i < x->n_blocks; i++)
		iop_host_frame_free(x->h, x->blocks[i]);
	free(x->blocks);
	x->blocks = NULL;
	x->n_blocks = x->cap_blocks = 0;
	x->fill = NULL;
	x->fill_left = 0;
}

bool replay_iop_adopt(struct replay_iop *x, struct capture *c)
{
	if (x->preload_bytes == 0 || capture_preloaded_bytes(c, PRELOAD_ALIGN) != x->preload_bytes ||
	    iop_window_sgl_bounds(x->w, &x->bounds) != 0)
		return false;
	if (capture_move(c, place_packet, x) != 0) {
		free_blocks(x);
		return false;
	}
	x->st.by_reference = true; /* packets are sent by reference from those blocks */
	return true;
}

int replay_iop_flush(struct replay_iop *x, uint64_t *posted_at)
{
	struct inflight *f;
	int rc;

	if (x->n_pend == 0)
		return 0;
	rc = iop_build_lan_packet_send_end(&x->b);
	if (rc < 0)
		return rc;
	while ((rc = iop_qp_post(x->qp, x->frame, on_reply, x)) == -EAGAIN)
		replay_iop_poll(x);
	if (rc != 0)
		return rc; /* the frame stays the batch's: replay_iop_stop() frees it */
	/*
	 * Its slot only now: until the post went in, the slot may still be the
	 * oldest request's, whose reply a poll above reads. No callback runs
	 * between the post and these stores (callbacks run only in polls).
	 */
	f = &x->slots[x->seq % QP_DEPTH];
	f->n = x->n_pend;
	memcpy(f->len, x->pend_len, x->n_pend * sizeof(f->len[0]));
	f->t_post = now_ns();
	if (posted_at != NULL)
		*posted_at = f->t_post;
	x->seq++;
	x->st.posted += x->n_pend;
	x->st.requests++;
	x->frame = NULL;
	x->n_pend = 0;
	return 0;
}

/*
 * A frame for the next batch, starting with a packet of len bytes: room for
 * --batch packets as long as the longest seen so far, not for the largest
 * the port takes. A capture of small packets then asks for small frames,
 * which the heap's thread caches serve (16 KiB frames, for --batch of the
 * largest packets, would each go to the shared heap and back); a longer
 * packet than the frame has room for ends the batch early, and the next
 * frame is sized for it. @return 0, or -ENOMEM when none will come back.
 */
static int begin_batch(struct replay_iop *x, uint32_t len)
{
	if (len > x->max_seen)
		x->max_seen = len;
	/* By reference, a packet is a simple element of 2 words whatever its length. */
	x->batch_bytes = IOP_LAN_SGL_WORD * 4 +
			 (size_t)x->batch * (x->st.by_reference ? 8 : 4 + ((x->max_seen + 3u) & ~3u));
	if (x->batch_bytes > x->frame_bytes)
		x->batch_bytes = x->frame_bytes;
	/* Frames and ring slots come back with the replies: take them while waiting. */
	while ((x->frame = iop_qp_frame_alloc(x->qp, x->batch_bytes)) == NULL)
		if (replay_iop_poll(x) == 0 && iop_qp_outstanding(x->qp) == 0)
			return -ENOMEM;
	return iop_build_lan_packet_send_begin(&x->b, x->frame, x->batch_bytes, x->tid);
}

static int add_packet(struct replay_iop *x, const uint8_t *data, uint32_t len)
{
	const struct iop_buf buf = { (void *)(uintptr_t)data, len };

	return x->st.by_reference ? iop_build_lan_packet_send_add_buf(&x->b, &x->bounds, &buf) :
			   iop_build_lan_packet_send_add(&x->b, data, len);
}

int replay_iop_queue(struct replay_iop *x, const uint8_t *data, uint32_t len,
		     uint64_t *posted_at)
{
	int rc;

	/*
	 * By reference from the window, or the one copy on this side: from the
	 * capture into the frame. Whether the packet fits the batch's frame is
	 * the builder's check (-ENOSPC, nothing added), not counted again here
	 * for every packet.
	 */
	if (x->frame != NULL) {
		rc = add_packet(x, data, len);
		if (rc == 0)
			goto added;
		/* An empty batch's frame is sized for its first packet: no room means none will come. */
		if (rc != -ENOSPC || x->n_pend == 0)
			return rc == -ENOSPC ? -E2BIG : rc;
		/* It would outgrow the batch's frame: the batch goes, a new one begins with it. */
		rc = replay_iop_flush(x, posted_at);
		if (rc != 0)
			return rc;
	}
	if (IOP_LAN_SGL_WORD * 4 + 4 + ((size_t)len + 3) / 4 * 4 > x->frame_bytes)
		return -E2BIG; /* longer than replay_iop_max_packet() */
	rc = begin_batch(x, len);
	if (rc == 0)
		rc = add_packet(x, data, len);
	if (rc != 0)
		return rc;
added:
	x->pend_len[x->n_pend++] = len;
	/* A batch ends at --batch packets, or (above) where the next would outgrow its frame. */
	return x->n_pend >= x->batch ? replay_iop_flush(x, posted_at) : 0;
}

bool replay_iop_by_reference(const struct replay_iop *x)
{
	return x->st.by_reference;
}

int replay_iop_queue_run(struct replay_iop *x, const struct packet *p, unsigned n,
			 uint64_t *posted_at)
{
	struct iop_buf bufs[IOP_LAN_SEND_MAX_PACKETS];
	unsigned k, fits;
	int rc;

	if (!x->st.by_reference || n == 0)
		return -EINVAL;
	if (x->frame == NULL && (rc = begin_batch(x, p[0].len)) != 0)
		return rc;
	/*
	 * What the batch has room for, in packets (--batch) and in its frame's
	 * words (a small --max-frame): it is posted as soon as either is full,
	 * as one at a time would have it.
	 */
	fits = (unsigned)((x->batch_bytes / 4 - IOP_LAN_SGL_WORD) / 2);
	if (fits > x->batch)
		fits = x->batch;
	k = fits - x->n_pend;
	if (k > n)
		k = n;
	for (unsigned i = 0; i < k; i++) {
		bufs[i] = (struct iop_buf){ (void *)(uintptr_t)p[i].data, p[i].len };
		x->pend_len[x->n_pend + i] = p[i].len;
	}
	rc = iop_build_lan_packet_send_add_bufs(&x->b, &x->bounds, bufs, k);
	if (rc < 0)
		return rc;
	x->n_pend += k;
	if (x->n_pend >= fits && (rc = replay_iop_flush(x, posted_at)) != 0)
		return rc;
	return (int)k;
}

unsigned replay_iop_poll(struct replay_iop *x)
{
	x->poll_now = 0;
	/*
	 * --loop-inline: the DDM's loop turns only when the host waits (a full
	 * ring, no frame, a reply awaited), so one thread does all the work and
	 * none of it is spent spinning on the other side: instructions counted
	 * per packet are the work (tests/bench/replay_callgrind.sh).
	 */
	if (x->loop_inline)
		(void)iop_runtime_poll(x->rt, 0);
	return iop_qp_poll(x->qp, 64);
}

int replay_iop_drain(struct replay_iop *x)
{
	uint64_t give_up = now_ns() + (uint64_t)STOP_TIMEOUT_MS * 1000000u;

	while (iop_qp_outstanding(x->qp) != 0) {
		if (replay_iop_poll(x) == 0 && now_ns() > give_up)
			return -ETIMEDOUT;
	}
	return 0;
}

/*
 * The port's own count of what it sent, independent of the DDM's replies:
 * a port that dropped what the DDM handed it (or a DDM that answered SUCCESS
 * without sending) shows here. Read with the loop stopped, so nothing is in
 * flight on the queue, and before the DDM's fini stops the port.
 */
static void read_port_count(struct replay_iop *x)
{
	struct rte_eth_stats st;
	uint16_t id;

	if (rte_eth_dev_get_port_by_name(x->port, &id) == 0 && rte_eth_stats_get(id, &st) == 0)
		x->st.port_packets = (int64_t)st.opackets;
}

int replay_iop_stop(struct replay_iop *x)
{
	int rc = 0;

	if (x == NULL)
		return 0;
	/* A batch begun and never posted (the run failed): its frame goes back first. */
	if (x->frame != NULL)
		iop_qp_frame_free(x->qp, x->frame);
	x->frame = NULL;
	if (x->qp != NULL && iop_qp_destroy(x->qp, STOP_TIMEOUT_MS) != 0)
		rc = -ETIMEDOUT;
	/* Every request answered (or the host's detach takes back what is left): the blocks go. */
	if (x->h != NULL && rc == 0)
		free_blocks(x);
	if (x->h != NULL && iop_host_detach(x->h, STOP_TIMEOUT_MS) != 0)
		rc = -ETIMEDOUT;
	x->qp = NULL;
	x->h = NULL;
	if (x->launched) {
		atomic_store(&x->stop, 1);
		iop_runtime_wait(x->rt);
		x->launched = false;
		read_port_count(x);
	} else if (x->loop_inline && x->rt != NULL) {
		read_port_count(x); /* no loop to stop: this thread was it */
	}
	/* The DDM's fini stops the port: net_pcap closes its tx file. */
	if (x->rt != NULL)
		iop_runtime_destroy(x->rt);
	x->rt = NULL;
	if (x->w != NULL)
		iop_window_close(x->w);
	x->w = NULL;
	return rc;
}

const struct send_stats *replay_iop_stats(const struct replay_iop *x)
{
	return &x->st;
}

void replay_iop_free(struct replay_iop *x)
{
	if (x == NULL)
		return;
	free(x->st.lat_ns);
	free(x->blocks);
	free(x);
}
