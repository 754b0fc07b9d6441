/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN DDM's insides, shared by its files: lan.c (the table, init, Reset,
 * Suspend), port.c (the DPDK port and its mbufs), send.c (PacketSend),
 * receive.c (ReceivePost and the receive poll) and params.c (its groups).
 */
#ifndef LAN_H
#define LAN_H

#include <stdbool.h>
#include <stdint.h>

#include "iop_ddm.h"
#include "iop_lan.h"
#include "iop_sgl.h"

struct rte_mbuf;
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

/* The packets of one PacketSend, copied into mbufs and not yet sent. */
struct lan_tx {
	struct rte_mbuf *m[IOP_LAN_SEND_MAX_PACKETS];
	uint32_t len[IOP_LAN_SEND_MAX_PACKETS];
	unsigned n;
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

struct lan_counters {
	uint64_t tx_packets, tx_bytes, tx_refused;
	uint64_t rx_packets, rx_bytes, rx_no_bucket, rx_too_large;
	uint64_t buckets_posted;
};

struct lan {
	uint16_t port;
	uint16_t mtu;
	uint32_t max_packet;   /* largest packet sent or received */
	bool rx;               /* the port has an rx queue */
	bool started;
	bool suspended;
	struct rte_mempool *pool;
	/* Received, not yet in a bucket (no reply frame free when they came). */
	struct rte_mbuf *rx_pkts[IOP_LAN_RX_REPLY_MAX];
	unsigned rx_n, rx_i;
	/* The window of the requests, for the buckets' addresses; from the first post. */
	struct iop_sgl_bounds bounds;
	struct lan_post posts[LAN_MAX_POSTS]; /* a FIFO, oldest first */
	unsigned post_head, n_posts;
	unsigned polls; /* turns since posts were last checked for hosts that left */
	struct lan_tx_held tx_held;
	struct lan_counters c;
};

/* port.c */
int lan_port_open(struct lan *l);
int lan_port_start(struct lan *l);
void lan_port_stop(struct lan *l);
void lan_port_close(struct lan *l);

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
/* Free the held PacketSend's unsent packets and forget it: the runtime answers it (the DDM's end). */
void lan_send_drop(struct lan *l);

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

#endif /* LAN_H */
