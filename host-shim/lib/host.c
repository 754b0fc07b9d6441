/* SPDX-License-Identifier: BSD-3-Clause */
/* Attaching to iopd: the window by descriptor, channels registered, frames stamped. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "iop_channel.h"
#include "iop_control.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_window.h"

#define HOST_CHANNELS 64

struct iop_host {
	int sock;
	struct iop_window *w;
	uint16_t owner;
	struct iop_channel channels[HOST_CHANNELS];
	unsigned n_channels;
};

static struct iop_host *fail(struct iop_host *h, int err, char *buf, size_t len,
			     const char *what, const char *detail)
{
	if (buf != NULL && len != 0)
		snprintf(buf, len, "%s: %s", what, detail);
	if (h != NULL) {
		if (h->sock >= 0)
			close(h->sock);
		free(h);
	}
	errno = err;
	return NULL;
}

struct iop_host *iop_host_attach(const char *socket_path, char *err, size_t errlen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct iop_host *h = calloc(1, sizeof(*h));
	struct iop_ctl_msg m;
	int fd, rc;

	if (h == NULL)
		return fail(NULL, ENOMEM, err, errlen, "attach", "out of memory");
	h->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (socket_path == NULL || strlen(socket_path) >= sizeof(addr.sun_path))
		return fail(h, EINVAL, err, errlen, "attach", "bad socket path");
	strcpy(addr.sun_path, socket_path);
	if (h->sock < 0 || connect(h->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		return fail(h, errno, err, errlen, socket_path, strerror(errno));
	rc = iop_ctl_recv(h->sock, &m, &fd);
	if (rc == 0 && m.type == IOP_CTL_ERROR) {
		if (fd >= 0)
			close(fd);
		return fail(h, EACCES, err, errlen, "iopd refused", m.text);
	}
	if (rc != 0 || m.type != IOP_CTL_HELLO || fd < 0) {
		if (fd >= 0)
			close(fd);
		return fail(h, EPROTO, err, errlen, socket_path, "not an iopd of this version");
	}
	h->w = iop_window_attach(fd);
	close(fd); /* the window keeps its own */
	if (h->w == NULL)
		return fail(h, errno, err, errlen, "the frame window", strerror(errno));
	h->owner = (uint16_t)m.owner;
	return h;
}

int iop_host_detach(struct iop_host *h, unsigned timeout_ms)
{
	(void)timeout_ms;
	if (h == NULL)
		return 0;
	for (unsigned i = 0; i < h->n_channels; i++)
		iop_channel_close(h->w, &h->channels[i]);
	/* Blocks this process's threads cache go back now; iopd frees the rest it held. */
	iop_heap_cache_flush(iop_window_inbound(h->w));
	iop_heap_cache_flush(iop_window_outbound(h->w));
	close(h->sock);
	iop_window_close(h->w);
	free(h);
	return 0;
}

struct iop_window *iop_host_window(const struct iop_host *h)
{
	return h->w;
}

uint16_t iop_host_owner(const struct iop_host *h)
{
	return h->owner;
}

int iop_host_channel_open(struct iop_host *h, struct iop_channel *ch)
{
	struct iop_ctl_msg m = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
				 .type = IOP_CTL_CHANNEL };
	int rc, fd;

	if (h->n_channels == HOST_CHANNELS)
		return -ENOSPC;
	rc = iop_channel_open(h->w, ch);
	if (rc != 0)
		return rc;
	m.channel = ch->id;
	m.generation = ch->generation;
	rc = iop_ctl_send(h->sock, &m, -1);
	if (rc == 0)
		rc = iop_ctl_recv(h->sock, &m, &fd);
	if (rc == 0 && (m.type != IOP_CTL_ACK || m.channel != ch->id))
		rc = -EPROTO;
	if (rc == 0)
		rc = m.status;
	if (rc != 0) {
		iop_channel_close(h->w, ch);
		return rc;
	}
	h->channels[h->n_channels++] = *ch;
	return 0;
}

void *iop_host_frame_alloc(struct iop_host *h, size_t bytes)
{
	void *f = iop_heap_alloc(iop_window_inbound(h->w), bytes);

	if (f != NULL)
		iop_window_owner_set(h->w, f, h->owner);
	return f;
}

void *iop_host_reply_claim(struct iop_host *h, uint32_t mfa, size_t *block_bytes)
{
	void *r = iop_window_frame_block(h->w, mfa, block_bytes);

	if (r != NULL)
		iop_window_owner_set(h->w, r, h->owner);
	return r;
}

int iop_host_frame_free(struct iop_host *h, void *frame)
{
	struct iop_heap *heaps[2] = { iop_window_inbound(h->w), iop_window_outbound(h->w) };

	for (int i = 0; i < 2; i++) {
		size_t bytes = iop_heap_allocated_size(heaps[i], frame);

		if (bytes != 0) {
			/* Unstamped first: once freed, the block may be someone else's. */
			iop_window_owner_set(h->w, frame, IOP_OWNER_IOP);
			return iop_heap_free(heaps[i], frame, bytes);
		}
	}
	return -EFAULT;
}
