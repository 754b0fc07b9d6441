/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The control protocol between iopd and the hosts that attach to it, over a
 * Unix SOCK_SEQPACKET socket (one message per packet):
 *
 *  1. The host connects. iopd checks its credentials (SO_PEERCRED: the same
 *     user as iopd, root, or a user it was told to allow) and sends HELLO,
 *     with the frame window's descriptor (SCM_RIGHTS) and the owner id the
 *     host stamps its frames with (iop_window_owner_set). A refused host
 *     gets ERROR with a message, and the socket closes.
 *  2. The host maps the window, opens channels in it (iop_channel_open) and
 *     reports each with CHANNEL (id, generation); iopd checks the slot is
 *     open by that process and answers ACK (status 0 or -errno).
 *  3. When the socket closes, however the host went, iopd closes its
 *     channels, lets the IOP finish what it took from them, frees the
 *     replies left in them, reclaims the slots, frees every frame stamped
 *     with the host's owner id and, if the process is gone, its heap caches.
 */
#ifndef IOP_CONTROL_H
#define IOP_CONTROL_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IOP_CTL_MAGIC 0x43504f49u /* "IOPC" */
#define IOP_CTL_VERSION 1u

enum iop_ctl_type {
	IOP_CTL_HELLO = 1,   /**< iopd -> host: window fd, owner id */
	IOP_CTL_CHANNEL = 2, /**< host -> iopd: a channel it opened */
	IOP_CTL_ACK = 3,     /**< iopd -> host: status of CHANNEL */
	IOP_CTL_ERROR = 4,   /**< iopd -> host: refused, with text */
	IOP_CTL_CLOSE = 5,   /**< host -> iopd: a channel it closed, to reclaim (no answer) */
	IOP_CTL_BYE = 6,     /**< host -> iopd: detaching, caches given back (no answer) */
};

struct iop_ctl_msg {
	uint32_t magic;
	uint32_t version;
	uint32_t type;       /**< enum iop_ctl_type */
	int32_t status;      /**< ACK: 0 or a negative errno */
	uint32_t owner;      /**< HELLO: the host's owner id for frame stamps */
	uint32_t iop_id;     /**< HELLO */
	uint32_t channel;    /**< CHANNEL, ACK, CLOSE */
	uint32_t generation; /**< CHANNEL, ACK, CLOSE */
	char text[128];      /**< ERROR: why, for the user */
};

/**
 * Send one message, with fd as SCM_RIGHTS when fd >= 0.
 * @return 0 or a negative errno.
 */
int iop_ctl_send(int sock, const struct iop_ctl_msg *m, int fd);

/**
 * Receive one message; a descriptor that came with it goes to *fd (or -1).
 * @return 0; -ECONNRESET when the peer closed; -EPROTO for a message of
 *         another size, magic or version (a descriptor that came is closed);
 *         another negative errno from recvmsg.
 */
int iop_ctl_recv(int sock, struct iop_ctl_msg *m, int *fd);

#ifdef __cplusplus
}
#endif

#endif /* IOP_CONTROL_H */
