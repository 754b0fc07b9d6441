/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host side of iopool, attached to a running iopd: the frame window it
 * shares, channels of the host's own, and frames stamped with the host's
 * owner id so that iopd can take back whatever the host held if it dies.
 * Works in processes that never start the EAL.
 */
#ifndef IOP_HOST_H
#define IOP_HOST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_host;
struct iop_channel;
struct iop_window;

/**
 * Attach to the iopd listening at socket_path: receive its frame window and
 * an owner id.
 * @return the host, or NULL with errno (and a message in err): what connect
 *         said (ENOENT, ECONNREFUSED: no iopd there), EACCES (iopd refused
 *         this user), EPROTO (not an iopd, or another protocol version).
 */
struct iop_host *iop_host_attach(const char *socket_path, char *err, size_t errlen);

/**
 * Detach: close the host's channels and the socket. iopd then returns every
 * frame the host still holds to the heaps (and the rest of its channels'
 * work is finished or freed), as for a host that dies.
 */
void iop_host_detach(struct iop_host *h);

/** The shared frame window, mapped in this process. */
struct iop_window *iop_host_window(const struct iop_host *h);

/** The owner id iopd gave this host. */
uint16_t iop_host_owner(const struct iop_host *h);

/**
 * Open a channel for the calling thread and register it with iopd.
 * @return 0, -ENOSPC (every channel in use), or what iopd answered.
 */
int iop_host_channel_open(struct iop_host *h, struct iop_channel *ch);

/** A request frame of at least `bytes` from the inbound heap, stamped as this host's. */
void *iop_host_frame_alloc(struct iop_host *h, size_t bytes);

/**
 * A reply MFA taken from a channel: the frame, now stamped as this host's.
 * @return the frame, or NULL for an MFA that names no live frame.
 */
void *iop_host_reply_claim(struct iop_host *h, uint32_t mfa, size_t *block_bytes);

/**
 * Free a frame the host holds (a request it did not post, a request a FAIL
 * reply gave back, a reply it has read), clearing its stamp first.
 * @return 0, or what iop_heap_free said (-EFAULT: not a frame of the window).
 */
int iop_host_frame_free(struct iop_host *h, void *frame);

#ifdef __cplusplus
}
#endif

#endif /* IOP_HOST_H */
