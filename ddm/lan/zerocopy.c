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
 * Only virtual ports take it (lan_zc_open): their drivers read the packets
 * by virtual address. A NIC would DMA from the frame window, which is not
 * registered with DPDK (rte_extmem_register) or mapped for the device.
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

static bool on_vdev_bus(uint16_t port)
{
	struct rte_eth_dev_info info;
	const struct rte_bus *bus;

	if (rte_eth_dev_info_get(port, &info) != 0 || info.device == NULL)
		return false;
	bus = rte_dev_bus(info.device);
	return bus != NULL && strcmp(rte_bus_name(bus), "vdev") == 0;
}

int lan_zc_open(struct lan *l)
{
	static unsigned pools; /* names are global to the process */
	char name[RTE_MEMPOOL_NAMESIZE];

	if (l->tx_mode == LAN_TX_AUTO) {
		/* By the measurements: copies for small packets, and on a device always. */
		l->tx_mode = on_vdev_bus(l->port) ? LAN_TX_ZEROCOPY : LAN_TX_COPY;
		if (!l->copy_max_set)
			l->copy_max = LAN_AUTO_COPY_MAX;
	}
	if (l->tx_mode != LAN_TX_ZEROCOPY)
		return 0;
	if (!on_vdev_bus(l->port)) {
		fprintf(stderr,
			"lan: port %u: tx=zerocopy needs a virtual port (--vdev): a device would "
			"DMA from frame memory not mapped for it\n",
			l->port);
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

struct rte_mbuf *lan_zc_mbuf(struct lan *l, struct lan_zc *zc, void *data, uint32_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(l->zc_pool);
	/* Virtual ports read by address; a device would need the window mapped (above). */
	rte_iova_t iova = rte_eal_iova_mode() == RTE_IOVA_VA ? (rte_iova_t)(uintptr_t)data :
								RTE_BAD_IOVA;

	if (m == NULL)
		return NULL;
	/* Only the DDM's loop holds references yet: none of them can drop meanwhile. */
	rte_mbuf_ext_refcnt_update(&zc->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, data, iova, (uint16_t)len, &zc->shinfo);
	m->data_len = (uint16_t)len;
	m->pkt_len = len;
	return m;
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

	while (l->zc_n != 0) {
		struct lan_zc *zc = &l->zc[l->zc_head];

		/* Acquire: pairs with zc_released, so the port has read its last. */
		if (!atomic_load_explicit(&zc->released, memory_order_acquire))
			break;
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
	rte_mempool_free(l->zc_pool);
	l->zc_pool = NULL;
	free(l->zc);
	l->zc = NULL;
}
