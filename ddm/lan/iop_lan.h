/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * iopool's LAN frames (class 0x020), shared by the LAN DDM and the hosts'
 * builders: function codes, the words of each request and reply, and the
 * parameter groups. docs/lan.md describes them.
 *
 * iopool keeps word 3 of every request as the TransactionContext (the host
 * queue pairs match replies by it), so what I2O puts in word 3 of a LAN
 * request (the transmit control word, the bucket count) is in word 4, and
 * the SGL starts at word 5.
 */
#ifndef IOP_LAN_H
#define IOP_LAN_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** LAN function codes. */
enum iop_lan_function {
	IOP_LAN_RESET = 0x35,
	IOP_LAN_SUSPEND = 0x37,
	IOP_LAN_PACKET_SEND = 0x3B,
	IOP_LAN_SDU_SEND = 0x3D,
	IOP_LAN_RECEIVE_POST = 0x3E,
};

/** PacketSend: the transmit control word (no options yet: 0). ReceivePost: the bucket count. */
#define IOP_LAN_CONTROL_WORD 4u
/** Where the SGL of PacketSend and ReceivePost starts. */
#define IOP_LAN_SGL_WORD 5u
/** Most buckets one ReceivePost may post. */
#define IOP_LAN_MAX_BUCKETS 256u

/*
 * PacketSend of several packets: each packet is one or more elements of the
 * SGL, its last one flagged END_OF_BUFFER; LAST_ELEMENT ends the list (the
 * last packet may leave out END_OF_BUFFER). One packet: the reply is the
 * 5-word status reply. More than one: a 6-word reply whose word 5 says how
 * many packets were sent, in order from the first (all of them on SUCCESS,
 * fewer on ERROR_PARTIAL_TRANSFER).
 */
/** Most packets one PacketSend may carry. */
#define IOP_LAN_SEND_MAX_PACKETS 64u
/** Word of a multi-packet PacketSend reply holding the packets sent. */
#define IOP_LAN_SEND_SENT_WORD 5u
/** Words of a multi-packet PacketSend reply. */
#define IOP_LAN_SEND_REPLY_WORDS 6u

/*
 * A ReceivePost reply: word 5 the packets it reports, word 6 the request's
 * buckets still empty after them, then two words per packet: the bucket's
 * index in the request's SGL (0 first), the packet's length in bytes.
 */
#define IOP_LAN_RX_PACKETS_WORD 5u
#define IOP_LAN_RX_LEFT_WORD 6u
#define IOP_LAN_RX_FIRST_WORD 7u
/** Most packets one ReceivePost reply reports. */
#define IOP_LAN_RX_REPLY_MAX 32u

/**
 * Events of a LAN target (UtilEventRegister, <iop/frame.h>): the port's link
 * went down or came up, EventData word 0 its speed in Mb/s, word 1 full
 * duplex (1) or not (0). Read every 100 ms.
 */
#define IOP_LAN_EVENT_LINK_DOWN 0x01u
#define IOP_LAN_EVENT_LINK_UP 0x02u

/**
 * Parameter groups of a LAN target (UtilParamsGet), each field 64 bits.
 * PORT_INFO: DPDK port id, MTU, largest packet (MTU + 14-byte Ethernet
 *   header + 8 bytes for two VLAN tags), receives (1: the port has an rx
 *   queue), suspended (1/0), link up (1/0).
 * PORT_STATS: the port's rte_eth_stats: ipackets, opackets, ibytes, obytes,
 *   imissed, ierrors, oerrors, rx_nombuf.
 * DDM_STATS: the DDM's own counts: packets sent, bytes sent, PacketSends
 *   refused, packets received into buckets, their bytes, packets dropped
 *   for want of a bucket, packets dropped as larger than their bucket,
 *   buckets posted.
 */
#define IOP_LAN_GROUP_PORT_INFO 0x0000u
#define IOP_LAN_GROUP_PORT_STATS 0x0001u
#define IOP_LAN_GROUP_DDM_STATS 0x0002u

#ifdef __cplusplus
}
#endif

#endif /* IOP_LAN_H */
