/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tx=zerocopy: PacketSend hands the port mbufs that point at the packet
 * where the host put it (immediate data in the request frame, or a buffer
 * of the inbound heap) instead of copies. The frame is the IOP's to free and
 * the buffers the host's to reuse once the request is answered, so the reply
 * waits until the port has freed every one of the request's mbufs: all of
 * them share one rte_mbuf_ext_shared_info, whose free callback marks the
 * request released when the last goes. That may be on another thread (the
 * consumer of a net_ring), so the callback only stores a flag; the DDM's
 * loop answers released requests, oldest first, so replies keep the order
 * the requests came in, as with copies.
 *
 * Only the drivers of lan_zc_driver_ok take it (lan_zc_open): they copy or
 * free each packet within tx_burst, or hand it to a reader in this process,
 * always reading it by virtual address. Any other driver may DMA from it (a
 * NIC, or a vdev over one: net_bonding, net_failsafe, net_vdev_netvsc) or
 * hand its address to another process (net_virtio_user, net_vhost, net_kni,
 * net_memif), and the frame window is neither registered with DPDK
 * (rte_extmem_register) nor mapped for a device or shared with a process.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_bus.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

#include "lan.h"

/* Mbufs for frame memory: headers only; a request holds up to 64, the port's queue 512. */
#define LAN_ZC_MBUFS 4095u
#define LAN_ZC_CACHE 64u

/* The last of a request's mbufs was freed, by the port or by the DDM. */
static void zc_released(void *addr, void *opaque)
{
	struct lan_zc *zc = opaque;

	(void)addr;
	/* Release: the port's last read of the packets comes before the reply that frees them. */
	atomic_store_explicit(&zc->released, true, memory_order_release);
}

bool lan_zc_driver_ok(const char *driver_name)
{
	/* rte_eth_dev_info.driver_name: the name each registers with (RTE_PMD_REGISTER_VDEV). */
	static const char *const ok[] = {
		"net_null",	 /* frees in tx_burst */
		"net_pcap",	 /* writes to the file or interface, frees in tx_burst */
		"net_ring",	 /* its consumer, in this process, frees */
		"net_tap",	 /* writev to the tap fd, frees in tx_burst */
		"net_af_packet", /* copies into the socket's ring, frees in tx_burst */
	};

	if (driver_name == NULL)
		return false;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(driver_name, ok[i]) == 0)
			return true;
	return false;
}

/* The port's driver, or "" when DPDK does not say. */
static const char *port_driver(uint16_t port)
{
	struct rte_eth_dev_info info;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.driver_name == NULL)
		return "";
	return info.driver_name;
}

int lan_zc_open(struct lan *l)
{
	static unsigned pools; /* names are global to the process */
	char name[RTE_MEMPOOL_NAMESIZE];

	if (l->tx_mode == LAN_TX_AUTO) {
		/* By the measurements: copies for small packets, and on other drivers always. */
		l->tx_mode = lan_zc_driver_ok(port_driver(l->port)) ? LAN_TX_ZEROCOPY : LAN_TX_COPY;
		if (!l->copy_max_set)
			l->copy_max = LAN_AUTO_COPY_MAX;
	}
	if (l->tx_mode != LAN_TX_ZEROCOPY)
		return 0;
	if (!lan_zc_driver_ok(port_driver(l->port))) {
		fprintf(stderr,
			"lan: port %u: tx=zerocopy is refused on driver '%s': only net_null, "
			"net_pcap, net_ring, net_tap and net_af_packet are known to be done with "
			"a packet without DMA from, or another process reading, frame memory that "
			"is not mapped for them (tx=copy works on every port)\n",
			l->port, port_driver(l->port));
		return -ENOTSUP;
	}
	l->zc = calloc(LAN_ZC_SLOTS, sizeof(*l->zc));
	if (l->zc == NULL)
		return -ENOMEM;
	snprintf(name, sizeof(name), "iop_lan_zc_%u_%u", l->port, pools++);
	/* No data room: each mbuf is attached to the packet where it lies. */
	l->zc_pool = rte_pktmbuf_pool_create_by_ops(name, LAN_ZC_MBUFS, LAN_ZC_CACHE, 0, 0,
						    rte_eth_dev_socket_id(l->port), "ring_mt_rts");
	if (l->zc_pool == NULL) {
		fprintf(stderr, "lan: zero-copy mbuf pool: %s\n", rte_strerror(rte_errno));
		free(l->zc);
		l->zc = NULL;
		return -ENOMEM;
	}
	/* Read once: the EAL's mode is settled at its init, and it is a call a packet otherwise. */
	l->iova_va = rte_eal_iova_mode() == RTE_IOVA_VA;
	return 0;
}

struct lan_zc *lan_zc_begin(struct lan *l)
{
	struct lan_zc *zc;

	if (l->zc_n == LAN_ZC_SLOTS)
		return NULL;
	/* The slot after the FIFO's last: taken only when lan_zc_end queues it. */
	zc = &l->zc[(l->zc_head + l->zc_n) % LAN_ZC_SLOTS];
	zc->r = NULL;
	atomic_store_explicit(&zc->released, false, memory_order_relaxed);
	zc->shinfo.free_cb = zc_released;
	zc->shinfo.fcb_opaque = zc;
	/* The DDM's own reference, until it has handed the port all it will. */
	rte_mbuf_ext_refcnt_set(&zc->shinfo, 1);
	return zc;
}

struct rte_mbuf *lan_zc_chain(struct lan *l, struct lan_zc *zc, const struct lan_piece *p,
			      unsigned n)
{
	struct rte_mbuf *head = lan_zc_mbuf(l, zc, (void *)(uintptr_t)p[0].src, p[0].len);

	for (unsigned i = 1; head != NULL && i < n; i++) {
		struct rte_mbuf *m = lan_zc_mbuf(l, zc, (void *)(uintptr_t)p[i].src, p[i].len);

		/* Freeing the chain drops its references; the DDM's own keeps zc unreleased. */
		if (m == NULL || rte_pktmbuf_chain(head, m) != 0) {
			rte_pktmbuf_free(m);
			rte_pktmbuf_free(head);
			head = NULL;
		}
	}
	return head;
}

static void answer(struct lan_zc *zc)
{
	lan_send_reply(zc->r, zc->reply, zc->n, zc->sent, zc->dsc);
	zc->r = NULL;
}

bool lan_zc_end(struct lan *l, struct lan_zc *zc, unsigned sent, uint16_t dsc)
{
	zc->sent = sent;
	zc->dsc = dsc;
	/* The DDM's reference goes: the port's mbufs, if any are left, hold it now. */
	if (rte_mbuf_ext_refcnt_update(&zc->shinfo, -1) == 0)
		zc_released(NULL, zc);
	/* Nothing ahead of it and nothing of it in the port: answered at once. */
	if (l->zc_n == 0 && atomic_load_explicit(&zc->released, memory_order_acquire)) {
		answer(zc);
		return true;
	}
	l->zc_n++;
	return false;
}

int lan_zc_poll(struct lan *l)
{
	int done = 0;
	bool cleaned = false;

	while (l->zc_n != 0) {
		struct lan_zc *zc = &l->zc[l->zc_head];

		/* Acquire: pairs with zc_released, so the port has read its last. */
		if (!atomic_load_explicit(&zc->released, memory_order_acquire)) {
			/*
			 * A driver that frees sent mbufs only when its queue needs room
			 * is asked to free them now (once a turn; -ENOTSUP: it cannot,
			 * or frees them in tx_burst anyway).
			 */
			if (cleaned || !l->started)
				break;
			cleaned = true;
			(void)rte_eth_tx_done_cleanup(l->port, 0, 0);
			continue;
		}
		answer(zc);
		l->zc_head = (l->zc_head + 1) % LAN_ZC_SLOTS;
		l->zc_n--;
		done++;
	}
	return done;
}

void lan_zc_close(struct lan *l)
{
	if (l->zc == NULL)
		return;
	lan_spares_free(&l->zc_spare);
	lan_zc_poll(l);
	if (l->zc_n != 0) {
		/* The stopped port keeps them (a ring no one drains): never handed back. */
		fprintf(stderr,
			"lan: port %u still holds %u PacketSends sent from frame memory: "
			"abandoned, their frames and mbufs left where they are\n",
			l->port, l->zc_n);
		for (unsigned i = 0; i < l->zc_n; i++)
			iop_request_abandon(l->zc[(l->zc_head + i) % LAN_ZC_SLOTS].r);
		l->zc_n = 0;
		l->zc = NULL;
		l->zc_pool = NULL;
		return;
	}
	/*
	 * All answered, but the last frees may still be on their way (another
	 * thread runs the callback, then puts the mbuf back): the slots, which
	 * the callback writes, go with the pool, and only once every mbuf is back.
	 */
	if (lan_pool_free(l, l->zc_pool, "zero-copy"))
		free(l->zc);
	l->zc_pool = NULL;
	l->zc = NULL;
}
