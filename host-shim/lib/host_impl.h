/* SPDX-License-Identifier: BSD-3-Clause */
/* What host.c and qp.c share of a host: not part of the API. */
#ifndef IOP_HOST_IMPL_H
#define IOP_HOST_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "iop_channel.h"

#define HOST_CHANNELS 64u

struct iop_qp;
struct iop_runtime;
struct iop_window;

struct iop_host {
	int sock;               /* iopd's control socket; -1 in-process */
	struct iop_runtime *rt; /* in-process: the runtime; else NULL */
	struct iop_window *w;
	uint16_t owner;
	/* The socket's request/answer pairs, the channel list and the queue pairs. */
	pthread_mutex_t lock;
	/*
	 * Channels the host opened, bare or a queue pair's. In-process, closed
	 * ones stay listed until the runtime is done with them and they are
	 * reclaimed; iopd reclaims its hosts' closed channels itself.
	 */
	struct {
		struct iop_channel ch;
		bool closed;
	} channels[HOST_CHANNELS];
	unsigned n_channels;
	struct iop_qp *qps; /* queue pairs not yet destroyed, linked by qp.c */
};

/* Close a channel of the host's and have it reclaimed once the IOP is done with it. */
void host_channel_close(struct iop_host *h, const struct iop_channel *ch);

/* Destroy the queue pairs left, without waiting (qp.c). */
void host_qps_destroy(struct iop_host *h);

#endif /* IOP_HOST_IMPL_H */
