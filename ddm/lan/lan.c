/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The LAN DDM (class 0x020): a DPDK ethdev port as an I2O LAN target. Its
 * parameters name the port and, optionally, its MTU and how packets are
 * handed to it (tx=copy|zerocopy, copy_max=N: zerocopy.c; not given, zerocopy
 * above LAN_AUTO_COPY_MAX bytes on the drivers lan_zc_driver_ok takes, copy
 * on others):
 *
 *     port=0            port=net_ring0,mtu=9000,tx=zerocopy
 *
 * It answers LanPacketSend, LanReceivePost, LanReset and LanSuspend, and
 * UtilParamsGet of its groups (<iop/lan.h>, docs/lan.md). The port's queues
 * are used only from the DDM's loop, in its callbacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_ethdev.h>

#include "iop_frame.h"
#include "iop_lct.h"
#include "lan.h"

#define LAN_DEFAULT_MTU 1500u

static const uint8_t lan_functions[] = {
	IOP_LAN_RESET,
	IOP_LAN_SUSPEND,
	IOP_LAN_PACKET_SEND,
	IOP_LAN_RECEIVE_POST,
};

int lan_answer(struct iop_request *r, uint8_t req_status, uint16_t dsc)
{
	return iop_request_reply(r, req_status, dsc) == -ENOMEM ? IOP_DDM_RETRY : IOP_DDM_DONE;
}

/* A port by number or by device name (net_ring0, net_pcap0, 0000:01:00.0). */
static int parse_port(const char *v, uint16_t *port)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (*v != '\0' && *end == '\0')
		return n < RTE_MAX_ETHPORTS && rte_eth_dev_is_valid_port((uint16_t)n) ?
			       (*port = (uint16_t)n, 0) :
			       -ENODEV;
	return rte_eth_dev_get_port_by_name(v, port) == 0 ? 0 : -ENODEV;
}

/* "key=value,key=value": port (required), mtu. */
static int parse_params(struct lan *l, const char *params)
{
	char buf[256], *save = NULL;
	bool have_port = false;

	if (strlen(params) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, params);
	l->mtu = LAN_DEFAULT_MTU;
	for (char *kv = strtok_r(buf, ", ", &save); kv != NULL; kv = strtok_r(NULL, ", ", &save)) {
		char *v = strchr(kv, '=');
		char *end;

		if (v == NULL)
			goto bad;
		*v++ = '\0';
		if (strcmp(kv, "port") == 0) {
			if (parse_port(v, &l->port) != 0) {
				fprintf(stderr, "lan: no DPDK port '%s'\n", v);
				return -ENODEV;
			}
			have_port = true;
		} else if (strcmp(kv, "tx") == 0) {
			if (strcmp(v, "copy") == 0)
				l->tx_mode = LAN_TX_COPY;
			else if (strcmp(v, "zerocopy") == 0)
				l->tx_mode = LAN_TX_ZEROCOPY;
			else
				goto bad;
		} else if (strcmp(kv, "copy_max") == 0) {
			unsigned long n = strtoul(v, &end, 10);

			if (*v == '\0' || *end != '\0' || n > UINT16_MAX)
				goto bad;
			l->copy_max = (uint32_t)n;
			l->copy_max_set = true;
		} else if (strcmp(kv, "mtu") == 0) {
			unsigned long mtu = strtoul(v, &end, 10);

			if (*v == '\0' || *end != '\0' || mtu == 0 || mtu > UINT16_MAX)
				goto bad;
			l->mtu = (uint16_t)mtu;
		} else {
			goto bad;
		}
	}
	if (have_port)
		return 0;
	fprintf(stderr, "lan: parameters '%s' name no port (port=N or port=NAME)\n", params);
	return -EINVAL;
bad:
	fprintf(stderr,
		"lan: bad parameters '%s' (port=N|NAME[,mtu=N][,tx=copy|zerocopy][,copy_max=N])\n",
		params);
	return -EINVAL;
}

static int lan_init(struct iop_ddm *d, const char *params)
{
	struct lan *l = iop_ddm_priv(d);
	int rc = parse_params(l, params);

	if (rc == 0)
		rc = lan_port_open(l);
	if (rc == 0 && (rc = lan_zc_open(l)) != 0)
		lan_port_close(l);
	if (rc == 0)
		lan_link_watch(l);
	return rc;
}

/*
 * The held PacketSend ended (cut short with dsc) and every zero-copy one
 * answered: the port done with all the DDM handed it that points into host
 * memory. @return false while the port still holds some (called again).
 */
static bool sends_ended(struct lan *l, uint16_t dsc)
{
	lan_send_cancel(l, dsc);
	lan_zc_poll(l);
	return l->zc_n == 0;
}

/* Back to the state after init: buckets returned, counts cleared, the port started. */
static int reset(struct lan *l)
{
	if (lan_receive_cancel(l, IOP_DSC_DEVICE_RESET) != 0)
		return -ENOMEM;
	lan_send_cancel(l, IOP_DSC_DEVICE_RESET);
	(void)rte_eth_stats_reset(l->port);
	memset(&l->c, 0, sizeof(l->c));
	l->suspended = false;
	return lan_port_start(l);
}

static int lan_reset_request(struct lan *l, struct iop_request *r)
{
	uint32_t *p;
	int rc;

	/* The sends it cuts short are answered before it. */
	if (!sends_ended(l, IOP_DSC_DEVICE_RESET))
		return IOP_DDM_RETRY;
	/* The reply frame first: a retry for want of one must not reset twice. */
	p = iop_request_reply_alloc(r, IOP_REPLY_WORDS);
	if (p == NULL)
		return IOP_DDM_RETRY;
	rc = reset(l);
	if (rc == -ENOMEM)
		return IOP_DDM_RETRY; /* the buckets left are returned on the next try */
	if (rc != 0)
		iop_request_reply_send(r, p, IOP_REPLY_WORDS, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
				       IOP_DSC_DEVICE_NOT_AVAILABLE);
	else
		iop_request_reply_send(r, p, IOP_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS,
				       IOP_DSC_SUCCESS);
	return IOP_DDM_DONE;
}

/* Buckets returned, the port stopped, until LanReset. */
static int lan_suspend_request(struct lan *l, struct iop_request *r)
{
	if (!sends_ended(l, IOP_DSC_DEVICE_NOT_AVAILABLE))
		return IOP_DDM_RETRY;
	if (lan_receive_cancel(l, IOP_DSC_DEVICE_NOT_AVAILABLE) != 0)
		return IOP_DDM_RETRY;
	lan_send_cancel(l, IOP_DSC_DEVICE_NOT_AVAILABLE);
	l->suspended = true;
	lan_port_stop(l);
	return lan_answer(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
}

static int lan_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct lan *l = iop_ddm_priv(d);

	switch (iop_request_hdr(r)->function) {
	case IOP_LAN_PACKET_SEND:
		return lan_packet_send(l, r);
	case IOP_LAN_RECEIVE_POST:
		return lan_receive_post(l, r);
	case IOP_LAN_RESET:
		return lan_reset_request(l, r);
	case IOP_LAN_SUSPEND:
		return lan_suspend_request(l, r);
	default:
		return -EINVAL; /* only the functions listed come here */
	}
}

static int lan_poll(struct iop_ddm *d)
{
	struct lan *l = iop_ddm_priv(d);

	return lan_send_poll(l) + lan_receive_poll(l) + lan_zc_poll(l) + lan_link_poll(d, l);
}

/*
 * ExecSysQuiesce (and the start of ExecDdmDestroy): the PacketSend held for a
 * full tx queue is finished now, or cut short with the count sent, and
 * zero-copy sends are answered once the port has freed them (-EAGAIN until
 * then), so that the executive's answer means no packet of the DDM's is
 * still to go and the port reads no host memory.
 * ReceivePosts stay held, as a NIC keeps its receive descriptors: LanReset
 * or LanSuspend gives them back.
 */
static int lan_quiesce(struct iop_ddm *d)
{
	struct lan *l = iop_ddm_priv(d);

	lan_send_finish(l, IOP_DSC_DEVICE_NOT_AVAILABLE);
	return sends_ended(l, IOP_DSC_DEVICE_NOT_AVAILABLE) ? 0 : -EAGAIN;
}

static int lan_reset(struct iop_ddm *d)
{
	struct lan *l = iop_ddm_priv(d);

	return sends_ended(l, IOP_DSC_DEVICE_RESET) ? reset(l) : -EAGAIN;
}

static void lan_fini(struct iop_ddm *d)
{
	struct lan *l = iop_ddm_priv(d);

	/* The requests still held are the runtime's to answer; the mbufs are ours. */
	lan_send_drop(l);
	lan_receive_drop(l);
	lan_port_close(l);
	/* After the port's close, which drains what a looped-back port still holds. */
	lan_zc_close(l);
}

static const struct iop_ddm_ops lan_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "lan",
	.class_id = IOP_CLASS_LAN,
	.identity = "lan",
	.functions = lan_functions,
	.n_functions = sizeof(lan_functions),
	.priv_size = sizeof(struct lan),
	.init = lan_init,
	.handle = lan_handle,
	.poll = lan_poll,
	.params_get = lan_params_get,
	.quiesce = lan_quiesce,
	.reset = lan_reset,
	.fini = lan_fini,
};

IOP_DDM_REGISTER(lan_ops)
