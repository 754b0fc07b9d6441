/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN DDM's DPDK port: one rx queue (when the port has any: net_pcap
 * without rx_pcap has none) and one tx queue, both used only from the DDM's
 * lcore, and a pool of mbufs large enough for the largest packet in one
 * segment.
 */
#include <errno.h>
#include <stdio.h>

#include <rte_atomic.h>
#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "lan.h"

#define LAN_MBUFS 2047u     /* 2^n - 1: the mempool's ring holds them best */
#define LAN_MBUF_CACHE 64u
#define LAN_DESCRIPTORS 512u
/* Ethernet header and two 802.1Q tags on top of the MTU (no CRC: DPDK adds it). */
#define LAN_L2_OVERHEAD (14u + 8u)
/* Packets a stopping port may still hand back (net_ring keeps what was sent). */
#define LAN_DRAIN_MAX 65536u
/* How long lan_pool_free waits for mbufs being put back by other threads. */
#define LAN_POOL_WAIT_US 10000u

bool lan_pool_free(struct lan *l, struct rte_mempool *mp, const char *what)
{
	unsigned waited = 0;

	if (mp == NULL)
		return true;
	/*
	 * A freeing thread runs an external buffer's free callback, then puts
	 * the mbuf back: once all are back, every callback has returned too.
	 * Those on their way back (the last frees of a consumer) are waited
	 * for a little.
	 */
	while (rte_mempool_in_use_count(mp) != 0 && waited < LAN_POOL_WAIT_US) {
		rte_delay_us_sleep(100);
		waited += 100;
	}
	if (rte_mempool_in_use_count(mp) != 0) {
		fprintf(stderr,
			"lan: port %u still holds %u mbufs of the %s pool: the pool is left "
			"allocated, not freed under the port\n",
			l->port, rte_mempool_in_use_count(mp), what);
		return false;
	}
	/*
	 * The count is read from the pool's ring (an acquire load of its tail in
	 * the C11 model): the puts it counts, and the callbacks before them, are
	 * seen done. (No fence here: ThreadSanitizer builds refuse one.)
	 */
	rte_mempool_free(mp);
	return true;
}

struct rte_mbuf *lan_spares_refill(struct rte_mempool *mp, struct lan_spares *s)
{
	if (rte_pktmbuf_alloc_bulk(mp, s->m, LAN_SPARE_MBUFS) != 0)
		return rte_pktmbuf_alloc(mp); /* fewer left: the last ones still go, one by one */
	s->n = LAN_SPARE_MBUFS - 1;
	return s->m[LAN_SPARE_MBUFS - 1];
}

int lan_port_open(struct lan *l)
{
	static unsigned pools; /* names are global to the process */
	struct rte_eth_conf conf = { 0 };
	struct rte_eth_dev_info info;
	uint16_t rxd = LAN_DESCRIPTORS, txd = LAN_DESCRIPTORS;
	int socket = rte_eth_dev_socket_id(l->port);
	char name[RTE_MEMPOOL_NAMESIZE];
	int rc;

	rc = rte_eth_dev_info_get(l->port, &info);
	if (rc != 0)
		return rc;
	if (info.max_tx_queues == 0) {
		fprintf(stderr, "lan: port %u has no tx queue\n", l->port);
		return -ENOTSUP;
	}
	l->rx = info.max_rx_queues > 0;
	l->max_packet = l->mtu + LAN_L2_OVERHEAD;
	if (l->mtu < info.min_mtu || l->mtu > info.max_mtu ||
	    RTE_PKTMBUF_HEADROOM + l->max_packet > UINT16_MAX) {
		fprintf(stderr, "lan: port %u: MTU %u outside %u..%u\n", l->port, l->mtu,
			info.min_mtu, info.max_mtu);
		return -EINVAL;
	}
	snprintf(name, sizeof(name), "iop_lan_%u_%u", l->port, pools++);
	/*
	 * Relaxed tail sync: the pool is the DDM's lcore's, but lcores may
	 * share a CPU, and a preempted thread in a default (MP/MC) ring stalls
	 * every other user of it.
	 */
	l->pool = rte_pktmbuf_pool_create_by_ops(name, LAN_MBUFS, LAN_MBUF_CACHE, 0,
						 (uint16_t)(RTE_PKTMBUF_HEADROOM + l->max_packet),
						 socket, "ring_mt_rts");
	if (l->pool == NULL) {
		fprintf(stderr, "lan: mbuf pool: %s\n", rte_strerror(rte_errno));
		return -rte_errno;
	}
	conf.rxmode.mtu = l->mtu;
	/* Chains of mbufs, for packets sent zero-copy from several elements (send.c). */
	l->tx_chains = (info.tx_offload_capa & RTE_ETH_TX_OFFLOAD_MULTI_SEGS) != 0;
	if (l->tx_chains)
		conf.txmode.offloads |= RTE_ETH_TX_OFFLOAD_MULTI_SEGS;
	rc = rte_eth_dev_configure(l->port, l->rx ? 1 : 0, 1, &conf);
	if (rc == 0)
		rc = rte_eth_dev_adjust_nb_rx_tx_desc(l->port, &rxd, &txd);
	if (rc == 0 && l->rx)
		rc = rte_eth_rx_queue_setup(l->port, 0, rxd, socket, NULL, l->pool);
	if (rc == 0)
		rc = rte_eth_tx_queue_setup(l->port, 0, txd, socket, NULL);
	if (rc == 0)
		rc = lan_port_start(l);
	if (rc != 0) {
		fprintf(stderr, "lan: port %u: %s\n", l->port, rte_strerror(-rc));
		lan_port_stop(l);
		(void)lan_pool_free(l, l->pool, "copy"); /* an rx queue may have filled from it */
		l->pool = NULL;
	}
	return rc;
}

int lan_port_start(struct lan *l)
{
	int rc;

	if (l->started)
		return 0;
	rc = rte_eth_dev_start(l->port);
	l->started = rc == 0;
	return rc;
}

void lan_port_stop(struct lan *l)
{
	if (!l->started)
		return;
	(void)rte_eth_dev_stop(l->port);
	l->started = false;
}

/*
 * Stopped, with nothing of its pool left in the port: the port stays
 * configured (DPDK ports outlive a runtime; the next instance configures it
 * again with its own pool). The pool is freed only if every mbuf of it is
 * back: a port may keep some after its stop (net_ring keeps what was sent
 * until its consumer takes it, net_tap its rx queue's until the queue is
 * set up again), and would free them into a freed pool; such a pool is left
 * allocated for good.
 */
void lan_port_close(struct lan *l)
{
	struct rte_mbuf *m[32];
	unsigned drained = 0;
	uint16_t n;

	if (l->rx && l->started) {
		do {
			n = rte_eth_rx_burst(l->port, 0, m, 32);
			rte_pktmbuf_free_bulk(m, n);
			drained += n;
		} while (n != 0 && drained < LAN_DRAIN_MAX);
	}
	lan_port_stop(l);
	lan_spares_free(&l->spare);
	(void)lan_pool_free(l, l->pool, "copy");
	l->pool = NULL;
}
