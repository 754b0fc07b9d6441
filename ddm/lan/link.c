/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The port's link, watched from the loop: a change is told to the hosts
 * registered for the target's events (IOP_LAN_EVENT_LINK_UP or _DOWN, with
 * EventData the speed in Mb/s and full duplex 1/0). It is read every
 * LAN_LINK_PERIOD_MS, not every turn: rte_eth_link_get_nowait() does not
 * wait, but on a NIC it reads the device's registers.
 */
#include <rte_cycles.h>
#include <rte_ethdev.h>

#include "lan.h"

#define LAN_LINK_PERIOD_MS 100u

static bool link_read(const struct lan *l, struct rte_eth_link *link)
{
	return rte_eth_link_get_nowait(l->port, link) == 0;
}

void lan_link_watch(struct lan *l)
{
	struct rte_eth_link link;

	l->link.period = rte_get_timer_hz() / 1000 * LAN_LINK_PERIOD_MS;
	l->link.next = rte_get_timer_cycles() + l->link.period;
	l->link.up = link_read(l, &link) && link.link_status == RTE_ETH_LINK_UP;
}

int lan_link_poll(struct iop_ddm *d, struct lan *l)
{
	uint64_t now = rte_get_timer_cycles();
	struct rte_eth_link link;
	uint32_t data[2];
	bool up;

	if (now < l->link.next)
		return 0;
	l->link.next = now + l->link.period;
	if (!link_read(l, &link))
		return 0;
	up = link.link_status == RTE_ETH_LINK_UP;
	if (up == l->link.up)
		return 0;
	l->link.up = up;
	data[0] = link.link_speed;
	data[1] = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
	(void)iop_ddm_event_raise(d, up ? IOP_LAN_EVENT_LINK_UP : IOP_LAN_EVENT_LINK_DOWN, data, 2);
	return 1;
}
