/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Attaching a host: to iopd (the window by descriptor, channels registered
 * over the control socket) or to a runtime of this process; frames stamped
 * with the host's owner id; detach giving back what the host held.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "host_impl.h"
#include "iop_channel.h"
#include "iop_control.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_runtime.h"
#include "iop_window.h"

/* How long attach and channel registration wait for iopd to answer. */
#define ANSWER_TIMEOUT_S 5

/* In-process hosts take owner ids from the top down; iopd gives them from 1 up. */
#define INPROC_OWNERS 256u
static pthread_mutex_t inproc_lock = PTHREAD_MUTEX_INITIALIZER;
static bool inproc_used[INPROC_OWNERS];

static struct iop_host *fail(struct iop_host *h, int err, char *buf, size_t len,
			     const char *what, const char *detail)
{
	if (buf != NULL && len != 0)
		snprintf(buf, len, "%s: %s", what, detail);
	if (h != NULL) {
		if (h->sock >= 0)
			close(h->sock);
		pthread_mutex_destroy(&h->lock);
		free(h);
	}
	errno = err;
	return NULL;
}

static struct iop_host *host_new(void)
{
	struct iop_host *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->sock = -1;
	pthread_mutex_init(&h->lock, NULL);
	return h;
}

int iop_host_default_socket(char *buf, size_t len)
{
	const char *dir = getenv("XDG_RUNTIME_DIR");
	int n;

	if (dir != NULL && dir[0] != '\0')
		n = snprintf(buf, len, "%s/iopd.sock", dir);
	else
		n = snprintf(buf, len, "/tmp/iopd-%u.sock", (unsigned)getuid());
	return n >= 0 && (size_t)n < len && (size_t)n < sizeof(((struct sockaddr_un *)0)->sun_path)
		       ? 0
		       : -ENAMETOOLONG;
}

struct iop_host *iop_host_attach(const char *socket_path, char *err, size_t errlen)
{
	const struct timeval answer_timeout = { .tv_sec = ANSWER_TIMEOUT_S };
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct iop_host *h = host_new();
	struct iop_ctl_msg m;
	int fd, rc;

	if (h == NULL)
		return fail(NULL, ENOMEM, err, errlen, "attach", "out of memory");
	if (socket_path == NULL || strlen(socket_path) >= sizeof(addr.sun_path))
		return fail(h, EINVAL, err, errlen, "attach", "bad socket path");
	strcpy(addr.sun_path, socket_path);
	h->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (h->sock < 0 || connect(h->sock, (struct sockaddr *)&addr, sizeof(addr)) != 0)
		return fail(h, errno, err, errlen, socket_path, strerror(errno));
	/* A stopped or wedged iopd must not hold its hosts forever. */
	setsockopt(h->sock, SOL_SOCKET, SO_RCVTIMEO, &answer_timeout, sizeof(answer_timeout));
	setsockopt(h->sock, SOL_SOCKET, SO_SNDTIMEO, &answer_timeout, sizeof(answer_timeout));
	rc = iop_ctl_recv(h->sock, &m, &fd);
	if (rc == -EAGAIN)
		return fail(h, ETIMEDOUT, err, errlen, socket_path, "iopd did not answer");
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

struct iop_host *iop_host_attach_runtime(struct iop_runtime *rt, char *err, size_t errlen)
{
	struct iop_host *h;
	unsigned i;

	if (rt == NULL)
		return fail(NULL, EINVAL, err, errlen, "attach", "no runtime");
	h = host_new();
	if (h == NULL)
		return fail(NULL, ENOMEM, err, errlen, "attach", "out of memory");
	pthread_mutex_lock(&inproc_lock);
	for (i = 0; i < INPROC_OWNERS && inproc_used[i]; i++)
		;
	if (i < INPROC_OWNERS)
		inproc_used[i] = true;
	pthread_mutex_unlock(&inproc_lock);
	if (i == INPROC_OWNERS)
		return fail(h, ENOSPC, err, errlen, "attach", "too many in-process hosts");
	h->rt = rt;
	h->w = iop_runtime_window(rt);
	h->owner = (uint16_t)(0xFFFFu - i);
	return h;
}

static void inproc_owner_put(uint16_t owner)
{
	pthread_mutex_lock(&inproc_lock);
	inproc_used[0xFFFFu - owner] = false;
	pthread_mutex_unlock(&inproc_lock);
}


/*
 * In-process: reclaim the closed channels the runtime is done with (nothing
 * in their request rings, every request answered), so that their slots can
 * be opened again. Under h->lock.
 */
static unsigned reclaim_closed(struct iop_host *h)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < h->n_channels; i++) {
		struct iop_channel *ch = &h->channels[i].ch;

		if (h->channels[i].closed && iop_runtime_channel_idle(h->rt, ch->id)) {
			iop_channel_free_replies(h->w, ch);
			iop_channel_reclaim(h->w, ch->id, ch->generation);
			continue;
		}
		h->channels[kept++] = h->channels[i];
	}
	h->n_channels = kept;
	return kept;
}

void host_channel_close(struct iop_host *h, const struct iop_channel *ch)
{
	struct iop_ctl_msg m = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
				 .type = IOP_CTL_CLOSE, .channel = ch->id,
				 .generation = ch->generation };
	unsigned kept = 0;

	pthread_mutex_lock(&h->lock);
	iop_channel_close(h->w, ch);
	for (unsigned i = 0; i < h->n_channels; i++) {
		if (h->channels[i].ch.id == ch->id &&
		    h->channels[i].ch.generation == ch->generation) {
			if (h->rt == NULL)
				continue; /* iopd's to reclaim from now on */
			h->channels[i].closed = true;
		}
		h->channels[kept++] = h->channels[i];
	}
	h->n_channels = kept;
	if (h->rt != NULL)
		reclaim_closed(h);
	else
		iop_ctl_send(h->sock, &m, -1); /* no answer; a closed socket tells iopd too */
	pthread_mutex_unlock(&h->lock);
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/* In-process detach: what iopd does for a host that leaves. */
static int detach_inproc(struct iop_host *h, unsigned timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	unsigned left;

	for (unsigned i = 0; i < h->n_channels; i++)
		if (!h->channels[i].closed) {
			iop_channel_close(h->w, &h->channels[i].ch);
			h->channels[i].closed = true;
		}
	/* Replies are freed as they come: the runtime holds back for reply-ring room. */
	while ((left = reclaim_closed(h)) != 0 && now_ms() < end) {
		for (unsigned i = 0; i < h->n_channels; i++)
			iop_channel_free_replies(h->w, &h->channels[i].ch);
		usleep(100);
	}
	if (left != 0)
		return -ETIMEDOUT; /* the owner id stays taken: its frames are not back */
	iop_window_reclaim(h->w, h->owner);
	inproc_owner_put(h->owner);
	return 0;
}

int iop_host_detach(struct iop_host *h, unsigned timeout_ms)
{
	int rc = 0;

	if (h == NULL)
		return 0;
	host_qps_destroy(h);
	/* Blocks this process's threads cache go back now. */
	iop_heap_cache_flush(iop_window_inbound(h->w));
	iop_heap_cache_flush(iop_window_outbound(h->w));
	if (h->rt != NULL) {
		rc = detach_inproc(h, timeout_ms);
	} else {
		struct iop_ctl_msg bye = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
					   .type = IOP_CTL_BYE };

		for (unsigned i = 0; i < h->n_channels; i++)
			iop_channel_close(h->w, &h->channels[i].ch);
		/*
		 * Done with the window, then BYE: iopd takes back the channels and
		 * every frame tagged as ours without waiting for this process to
		 * be gone, and leaves its other threads' caches to it.
		 */
		iop_window_close(h->w);
		iop_ctl_send(h->sock, &bye, -1);
		close(h->sock);
	}
	pthread_mutex_destroy(&h->lock);
	free(h);
	return rc;
}

struct iop_window *iop_host_window(const struct iop_host *h)
{
	return h->w;
}

uint16_t iop_host_owner(const struct iop_host *h)
{
	return h->owner;
}

/* Tell iopd about a channel; it checks the slot is open by this process. */
static int register_channel(struct iop_host *h, const struct iop_channel *ch)
{
	struct iop_ctl_msg m = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
				 .type = IOP_CTL_CHANNEL, .channel = ch->id,
				 .generation = ch->generation };
	int rc = iop_ctl_send(h->sock, &m, -1), fd = -1;

	if (rc == 0)
		rc = iop_ctl_recv(h->sock, &m, &fd);
	if (fd >= 0)
		close(fd);
	if (rc == 0 && (m.type != IOP_CTL_ACK || m.channel != ch->id))
		rc = -EPROTO;
	if (rc == -EAGAIN)
		rc = -ETIMEDOUT; /* iopd did not answer in time */
	return rc == 0 ? m.status : rc;
}

int iop_host_channel_open(struct iop_host *h, struct iop_channel *ch)
{
	int rc;

	pthread_mutex_lock(&h->lock);
	if (h->rt != NULL)
		reclaim_closed(h);
	if (h->n_channels == HOST_CHANNELS) {
		pthread_mutex_unlock(&h->lock);
		return -ENOSPC;
	}
	rc = iop_channel_open_as(h->w, ch, h->owner);
	if (rc == 0 && h->rt == NULL) {
		rc = register_channel(h, ch);
		if (rc != 0)
			iop_channel_close(h->w, ch); /* the slot goes back when the host leaves */
	}
	if (rc == 0) {
		h->channels[h->n_channels].ch = *ch;
		h->channels[h->n_channels].closed = false;
		h->n_channels++;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void *iop_host_frame_alloc(struct iop_host *h, size_t bytes)
{
	/* Tagged as it is allocated: no moment when a kill would leave it nobody's. */
	return iop_heap_alloc_tagged(iop_window_inbound(h->w), bytes, h->owner);
}

void *iop_host_reply_claim(struct iop_host *h, uint32_t mfa, size_t *block_bytes)
{
	/* Replies come tagged with the channel's owner: nothing to stamp. */
	return iop_window_frame_block(h->w, mfa, block_bytes);
}

int iop_host_frame_free(struct iop_host *h, void *frame)
{
	struct iop_heap *heaps[2] = { iop_window_inbound(h->w), iop_window_outbound(h->w) };

	for (int i = 0; i < 2; i++) {
		size_t bytes = iop_heap_allocated_size(heaps[i], frame);

		/* The tag stays: it means nothing on a free block. */
		if (bytes != 0)
			return iop_heap_free(heaps[i], frame, bytes);
	}
	return -EFAULT;
}
