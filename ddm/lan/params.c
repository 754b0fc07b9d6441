/* SPDX-License-Identifier: BSD-3-Clause */
/* The LAN DDM's parameter groups (UtilParamsGet): the port, its statistics, the DDM's counts. */
#include <errno.h>

#include <rte_ethdev.h>

#include "lan.h"

static int port_info(struct lan *l, uint64_t *f)
{
	struct rte_eth_link link = { 0 };

	(void)rte_eth_link_get_nowait(l->port, &link);
	f[0] = l->port;
	f[1] = l->mtu;
	f[2] = l->max_packet;
	f[3] = l->rx;
	f[4] = l->suspended;
	f[5] = link.link_status == RTE_ETH_LINK_UP;
	f[6] = l->tx_mode == LAN_TX_ZEROCOPY;
	f[7] = l->copy_max;
	return 8;
}

static int port_stats(struct lan *l, uint64_t *f)
{
	struct rte_eth_stats s;

	if (rte_eth_stats_get(l->port, &s) != 0)
		return -EIO;
	f[0] = s.ipackets;
	f[1] = s.opackets;
	f[2] = s.ibytes;
	f[3] = s.obytes;
	f[4] = s.imissed;
	f[5] = s.ierrors;
	f[6] = s.oerrors;
	f[7] = s.rx_nombuf;
	return 8;
}

static int ddm_stats(struct lan *l, uint64_t *f)
{
	const struct lan_counters *c = &l->c;

	f[0] = c->tx_packets;
	f[1] = c->tx_bytes;
	f[2] = c->tx_refused;
	f[3] = c->rx_packets;
	f[4] = c->rx_bytes;
	f[5] = c->rx_no_bucket;
	f[6] = c->rx_too_large;
	f[7] = c->buckets_posted;
	return 8;
}

int lan_params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	struct lan *l = iop_ddm_priv(d);

	/* The runtime gives room for IOP_PARAMS_MAX_FIELDS; every group here has at most 8. */
	if (max < 8)
		return -ENOENT;
	switch (group) {
	case IOP_LAN_GROUP_PORT_INFO:
		return port_info(l, fields);
	case IOP_LAN_GROUP_PORT_STATS:
		return port_stats(l, fields);
	case IOP_LAN_GROUP_DDM_STATS:
		return ddm_stats(l, fields);
	default:
		return -ENOENT;
	}
}
