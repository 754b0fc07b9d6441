/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN DDM's insides, shared by its files: lan.c (the table, init, Reset,
 * Suspend), port.c (the DPDK port and its mbufs), send.c (PacketSend),
 * zerocopy.c (packets sent from frame memory, and their replies),
 * receive.c (ReceivePost and the receive poll) and params.c (its groups).
 */
#ifndef LAN_H
#define LAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_mbuf.h>

#include "iop_ddm.h"
#include "iop_lan.h"
#include "iop_sgl.h"

struct rte_mempool;

/* ReceivePost requests one instance holds at once. */
#define LAN_MAX_POSTS 64u

struct lan_bucket {
	uint32_t offset; /* window offset */
	uint32_t len;
};

/* A ReceivePost being filled: its buckets, parsed once when it came. */
struct lan_post {
	struct iop_request *r;
	unsigned n, next; /* buckets, and the next empty one */
	struct lan_bucket b[IOP_LAN_MAX_BUCKETS];
};

/* How PacketSend hands packets to the port (parameter tx=). */
enum lan_tx_mode {
	LAN_TX_AUTO,     /* not given: zerocopy on the drivers lan_zc_driver_ok takes, copy on others */
	LAN_TX_COPY,     /* each packet copied into an mbuf of the DDM's pool */
	LAN_TX_ZEROCOPY, /* sent from the frame or heap buffer itself (external mbufs) */
};

/*
 * tx not given: packets up to this many bytes are copied all the same. At
 * 64 bytes zero-copy measured slower as often as faster, from 512 up it was
 * ahead in every run (docs/benchmarks.md); and a copy is answered at once
 * and leaves nothing of the host's in the port.
 */
#define LAN_AUTO_COPY_MAX 256u

/* PacketSends sent zero-copy that one instance holds at once. */
#define LAN_ZC_SLOTS 256u
/* Elements of one packet sent as a chain of mbufs (tx=zerocopy); a packet of more is copied. */
#define LAN_ZC_MAX_SEGS 8u

/*
 * A PacketSend sent from frame memory: its mbufs point into the request
 * frame or the host's buffers, so it is answered (and the frame freed, the
 * buffers handed back) only once the port has freed all of them. shinfo's
 * refcnt counts those mbufs, plus one the DDM holds while it may still hand
 * the port more of them; the last to go runs the free callback, on whichever
 * thread freed it.
 */
struct lan_zc {
	struct rte_mbuf_ext_shared_info shinfo;
	_Atomic bool released;  /* every mbuf freed: the reply may go */
	struct iop_request *r;
	uint32_t *reply;        /* allocated before anything was sent */
	unsigned n, sent;       /* packets, and those the port took */
	uint16_t dsc;           /* why the rest did not go */
};

/* The packets of one PacketSend, in mbufs, not yet sent. */
/* Some bytes of a packet, where they lie (an SGL element's). */
struct lan_piece {
	const void *src;
	uint32_t len;
};

struct lan_tx {
	struct rte_mbuf *m[IOP_LAN_SEND_MAX_PACKETS];
	uint32_t len[IOP_LAN_SEND_MAX_PACKETS];
	unsigned n;
	struct lan_zc *zc;      /* tx=zerocopy: its slot; NULL for tx=copy */
};

/*
 * A PacketSend the port took part of: the rest goes on later turns (from
 * lan_send_poll) and the request is answered once all of it has gone, so
 * that a full tx queue delays packets instead of dropping them. PacketSends
 * that come meanwhile wait behind it (IOP_DDM_RETRY keeps their order).
 */
struct lan_tx_held {
	struct iop_request *r; /* NULL: none */
	uint32_t *reply;       /* its reply frame, allocated before anything was sent */
	struct lan_tx t;       /* all its packets; [sent, t.n) not yet taken by the port */
	unsigned sent;
};

/*
 * Mbufs taken from a pool in one bulk allocation and not used yet: a
 * PacketSend takes one mbuf a packet, and one rte_pktmbuf_alloc_bulk per
 * LAN_SPARE_MBUFS of them costs far fewer instructions than a
 * rte_pktmbuf_alloc each (a call, the lcore's cache looked up, a reset).
 * They are the DDM's until used, and go back before the pool is freed.
 */
#define LAN_SPARE_MBUFS 32u

struct lan_spares {
	struct rte_mbuf *m[LAN_SPARE_MBUFS];
	unsigned n;
};

struct lan_counters {
	uint64_t tx_packets, tx_bytes, tx_refused;
	uint64_t rx_packets, rx_bytes, rx_no_bucket, rx_too_large;
	uint64_t buckets_posted;
};

/* The port's link as last read, and when to read it again (link.c). */
struct lan_link {
	uint64_t next, period; /* timer cycles */
	bool up;
};

struct lan {
	uint16_t port;
	uint16_t mtu;
	uint32_t max_packet;   /* largest packet sent or received */
	bool rx;               /* the port has an rx queue */
	bool started;
	bool suspended;
	struct rte_mempool *pool;
	struct lan_spares spare;       /* of pool */
	/* Received, not yet in a bucket (no reply frame free when they came). */
	struct rte_mbuf *rx_pkts[IOP_LAN_RX_REPLY_MAX];
	unsigned rx_n, rx_i;
	/* The window of the requests, for the buckets' addresses; from the first post. */
	struct iop_sgl_bounds bounds;
	struct lan_post posts[LAN_MAX_POSTS]; /* a FIFO, oldest first */
	unsigned post_head, n_posts;
	unsigned polls; /* turns since posts were last checked for hosts that left */
	struct lan_tx_held tx_held;
	struct lan_link link;
	struct lan_counters c;
	/* tx=zerocopy */
	enum lan_tx_mode tx_mode;
	uint32_t copy_max;              /* packets up to this many bytes are copied all the same */
	bool copy_max_set;              /* copy_max= given */
	bool tx_chains;                 /* the port takes a packet in several mbufs (MULTI_SEGS) */
	struct rte_mempool *zc_pool;    /* mbufs without data room, for frame memory */
	struct lan_spares zc_spare;     /* of zc_pool */
	bool iova_va;                   /* the EAL's IOVA mode is VA: an mbuf's IOVA is its address */
	struct lan_zc *zc;              /* LAN_ZC_SLOTS: a FIFO of those not yet answered */
	unsigned zc_head, zc_n;
};

/* port.c */
int lan_port_open(struct lan *l);
int lan_port_start(struct lan *l);
void lan_port_stop(struct lan *l);
void lan_port_close(struct lan *l);
/*
 * Free mp if every mbuf of it is back (waiting a few ms for those on their
 * way back), else leave it allocated for good, said on stderr: the port still
 * holds some, and would put them back into freed memory. @return freed.
 */
bool lan_pool_free(struct lan *l, struct rte_mempool *mp, const char *what);

/* s empty: refilled in bulk from mp, and one of them returned (port.c). */
struct rte_mbuf *lan_spares_refill(struct rte_mempool *mp, struct lan_spares *s);

/*
 * A reset mbuf of mp, from s, which is refilled in bulk when empty; with
 * fewer than LAN_SPARE_MBUFS free in mp, one is taken alone. The refill is
 * out of line so that this stays small enough to inline on every path.
 * @return NULL when mp has none free.
 */
static inline struct rte_mbuf *lan_mbuf_get(struct rte_mempool *mp, struct lan_spares *s)
{
	if (likely(s->n != 0))
		return s->m[--s->n];
	return lan_spares_refill(mp, s);
}

/* The spares back to their pool: before it is freed (or left to the port). */
static inline void lan_spares_free(struct lan_spares *s)
{
	rte_pktmbuf_free_bulk(s->m, s->n);
	s->n = 0;
}

/* send.c */
int lan_packet_send(struct lan *l, struct iop_request *r);
/* Offer the held PacketSend's rest to the port; answer it once all went. @return packets sent. */
int lan_send_poll(struct lan *l);
/*
 * Answer the held PacketSend, if any, with what went so far
 * (ERROR_PARTIAL_TRANSFER, dsc) and free the rest: for LanReset, LanSuspend
 * and the DDM's end.
 */
void lan_send_cancel(struct lan *l, uint16_t dsc);
/*
 * Quiesce's end of the held PacketSend, if any: the port is offered the rest
 * a last few times (as a new PacketSend's are); what it still does not take
 * is cut short as by lan_send_cancel(dsc). Nothing of the DDM's is left to
 * send afterwards, whatever the port does.
 */
void lan_send_finish(struct lan *l, uint16_t dsc);
/* A PacketSend's reply: n packets, `sent` of them went, dsc why the rest did not. */
void lan_send_reply(struct iop_request *r, uint32_t *reply, unsigned n, unsigned sent,
		    uint16_t dsc);
/*
 * The DDM's end: free the held PacketSend's unsent packets and forget it (the
 * runtime answers it); a zero-copy one is ended as by lan_send_cancel.
 */
void lan_send_drop(struct lan *l);

/* zerocopy.c */
/*
 * Is a port of this driver (rte_eth_dev_info.driver_name) one zero-copy may
 * hand frame memory to: a driver known to be done with each packet within
 * tx_burst or to hand it to a reader in this process, reading it by virtual
 * address, never by DMA?
 */
bool lan_zc_driver_ok(const char *driver_name);
/*
 * tx= settled (not given: zerocopy on a driver lan_zc_driver_ok takes, copy
 * on others), and for zerocopy the pool and the slots. @return 0, or a
 * negative errno (said on stderr): -ENOTSUP for tx=zerocopy on another driver.
 */
int lan_zc_open(struct lan *l);
/*
 * A slot for the next PacketSend, its shinfo holding the DDM's reference.
 * @return NULL when every slot is taken (the request waits).
 */
struct lan_zc *lan_zc_begin(struct lan *l);
/*
 * An mbuf attached to len bytes at data, taking a reference on zc. Inline:
 * it is the whole of a packet in one element sent zero-copy (send.c), and a
 * call of its own cost a third as much again as its work.
 * @return NULL: none free.
 */
static inline struct rte_mbuf *lan_zc_mbuf(struct lan *l, struct lan_zc *zc, void *data,
					   uint32_t len)
{
	struct rte_mbuf *m = lan_mbuf_get(l->zc_pool, &l->zc_spare);
	/* Virtual ports read by address; a device would need the window mapped (zerocopy.c). */
	rte_iova_t iova = l->iova_va ? (rte_iova_t)(uintptr_t)data : RTE_BAD_IOVA;

	if (m == NULL)
		return NULL;
	/* Only the DDM's loop holds references yet: none of them can drop meanwhile. */
	rte_mbuf_ext_refcnt_update(&zc->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, data, iova, (uint16_t)len, &zc->shinfo);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
}

/*
 * A packet of n pieces (1..LAN_ZC_MAX_SEGS; frame or heap memory) as one
 * mbuf attached to each, chained, each taking a reference on zc.
 * @return the chain's head, or NULL when the pool is out of mbufs.
 */
struct rte_mbuf *lan_zc_chain(struct lan *l, struct lan_zc *zc, const struct lan_piece *p,
			      unsigned n);
/*
 * The DDM is done handing the port the request's packets (all taken, or the
 * rest freed): `sent` went, dsc says why the rest did not; its reply goes
 * once the port has freed every mbuf, in the order the requests came. (A
 * request never sent, refused or handed back, just frees its mbufs: the
 * slot is taken only here.)
 * @return true when it was answered now (nothing ahead of it, the port done with it).
 */
bool lan_zc_end(struct lan *l, struct lan_zc *zc, unsigned sent, uint16_t dsc);
/*
 * Answer, in order, the PacketSends whose mbufs the port has all freed; while
 * the oldest still waits, the started port is asked to free what it has sent
 * (rte_eth_tx_done_cleanup), for drivers that free lazily. @return how many.
 */
int lan_zc_poll(struct lan *l);
/*
 * The DDM's end: those the port still holds are abandoned (never answered,
 * so the host never reuses memory the port may read), and the pool and slots
 * left allocated rather than freed under the port; so are they when every
 * request was answered but mbufs of the pool are still out (lan_pool_free).
 */
void lan_zc_close(struct lan *l);

/* receive.c */
int lan_receive_post(struct lan *l, struct iop_request *r);
int lan_receive_poll(struct lan *l);
/*
 * Finish every ReceivePost held with this status (ABORT_NO_DATA_TRANSFER)
 * and drop what was received and not yet delivered.
 * @return 0, or -ENOMEM when a reply frame ran out (those left stay held).
 */
int lan_receive_cancel(struct lan *l, uint16_t dsc);
/* Drop (and count) what was received and not yet delivered. */
void lan_receive_drop(struct lan *l);

/* params.c */
int lan_params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max);

/* Answer a request status-only: IOP_DDM_DONE, or IOP_DDM_RETRY without a reply frame. */
int lan_answer(struct iop_request *r, uint8_t req_status, uint16_t dsc);

/* link.c: read the link now (at init), then every period from the poll, telling changes. */
void lan_link_watch(struct lan *l);
int lan_link_poll(struct iop_ddm *d, struct lan *l);

#endif /* LAN_H */
