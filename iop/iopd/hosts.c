/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd's hosts: each attached process gets the window and an owner id for
 * its frames; the channels it opens are registered. When its socket closes,
 * however it went, everything it held comes back: its channels are closed,
 * the IOP finishes what it took from them, the replies left in them are
 * freed, the slots reclaimed, every frame stamped with its owner id freed,
 * and, if the process is gone, its heap caches given back. Other hosts see
 * nothing of this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "iop_channel.h"
#include "iop_control.h"
#include "iop_heap.h"
#include "iop_window.h"
#include "iopd.h"

#define MAX_HOSTS 256u
#define HOST_CHANNELS 64u

struct host {
	int fd;         /* -1 once the socket closed */
	bool gone;      /* socket closed: take back what it held */
	bool left_alive; /* said BYE, or cut off by iopd: it lives, and keeps its heap caches */
	pid_t pid;
	uid_t uid;
	uint16_t owner;
	bool scanned;   /* its unregistered channels looked for (once) */
	struct {
		uint32_t id, generation;
		bool closing; /* the host closed it: reclaim once the IOP is done with it */
	} ch[HOST_CHANNELS];
	unsigned n_ch;
};

struct iopd_hosts {
	struct iop_runtime *rt;
	struct iop_window *w;
	const struct iopd_config *cfg;
	int listen_fd;
	struct host hosts[MAX_HOSTS];
	unsigned n;
	bool owner_used[0x10000];
};

struct iopd_hosts *iopd_hosts_create(struct iop_runtime *rt, const struct iopd_config *c,
				     int listen_fd)
{
	struct iopd_hosts *hs = calloc(1, sizeof(*hs));

	if (hs == NULL)
		return NULL;
	hs->rt = rt;
	hs->w = iop_runtime_window(rt);
	hs->cfg = c;
	hs->listen_fd = listen_fd;
	hs->owner_used[IOP_OWNER_IOP] = true;
	return hs;
}

static bool allowed(const struct iopd_hosts *hs, uid_t uid)
{
	if (uid == 0 || uid == geteuid())
		return true;
	for (unsigned i = 0; i < hs->cfg->n_allow; i++)
		if (hs->cfg->allow_uids[i] == uid)
			return true;
	return false;
}

static void refuse(int fd, const char *why)
{
	struct iop_ctl_msg m = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
				 .type = IOP_CTL_ERROR };

	snprintf(m.text, sizeof(m.text), "%s", why);
	iop_ctl_send(fd, &m, -1);
	close(fd);
}

void iopd_hosts_accept(struct iopd_hosts *hs)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct iop_ctl_msg m = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
				 .type = IOP_CTL_HELLO };
	struct host *h;
	unsigned owner = 1;
	int fd = accept4(hs->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (fd < 0)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		close(fd);
		return;
	}
	if (!allowed(hs, cred.uid)) {
		IOPD_LOG(WARNING, "refused pid %d: user %u may not attach\n", (int)cred.pid,
			 (unsigned)cred.uid);
		refuse(fd, "this user may not attach to this iopd (see --allow-uid)");
		return;
	}
	while (owner < 0xFFFF && hs->owner_used[owner])
		owner++;
	if (hs->n == MAX_HOSTS || owner == 0xFFFF) {
		refuse(fd, "too many hosts attached");
		return;
	}
	h = &hs->hosts[hs->n];
	memset(h, 0, sizeof(*h));
	h->fd = fd;
	h->pid = cred.pid;
	h->uid = cred.uid;
	h->owner = (uint16_t)owner;
	m.owner = owner;
	m.iop_id = hs->cfg->iop_id;
	if (iop_ctl_send(fd, &m, iop_window_fd(hs->w)) != 0) {
		close(fd);
		return;
	}
	hs->owner_used[owner] = true;
	hs->n++;
	IOPD_LOG(INFO, "host pid %d attached, owner %u\n", (int)h->pid, owner);
}

unsigned iopd_hosts_pollfds(struct iopd_hosts *hs, struct pollfd *fds, unsigned max)
{
	unsigned n = 0;

	fds[n++] = (struct pollfd){ .fd = hs->listen_fd, .events = POLLIN };
	for (unsigned i = 0; i < hs->n && n < max; i++)
		if (hs->hosts[i].fd >= 0)
			fds[n++] = (struct pollfd){ .fd = hs->hosts[i].fd, .events = POLLIN };
	return n;
}

/* A channel the host says it opened: the slot must be open, by that process. */
static int register_channel(struct iopd_hosts *hs, struct host *h, const struct iop_ctl_msg *m)
{
	struct iop_channel ch;
	int state = iop_channel_lookup(hs->w, m->channel, &ch);

	if (state != IOP_CHANNEL_OPEN || ch.generation != m->generation || ch.owner_pid != h->pid)
		return -ESTALE;
	/* Its replies are tagged with its owner id: never another host's. */
	if (ch.owner != h->owner)
		return -EPERM;
	if (h->n_ch == HOST_CHANNELS)
		return -ENOSPC;
	h->ch[h->n_ch].id = m->channel;
	h->ch[h->n_ch].generation = m->generation;
	h->ch[h->n_ch].closing = false;
	h->n_ch++;
	return 0;
}

/* A channel the host closed: taken back like a gone host's, the host staying. */
static void mark_closing(struct host *h, const struct iop_ctl_msg *m)
{
	for (unsigned k = 0; k < h->n_ch; k++)
		if (h->ch[k].id == m->channel && h->ch[k].generation == m->generation)
			h->ch[k].closing = true;
}

static void host_gone(struct host *h)
{
	close(h->fd);
	h->fd = -1;
	h->gone = true;
	IOPD_LOG(INFO, "host pid %d left; taking back what it held\n", (int)h->pid);
}

void iopd_hosts_readable(struct iopd_hosts *hs, int fd)
{
	for (unsigned i = 0; i < hs->n; i++) {
		struct host *h = &hs->hosts[i];
		struct iop_ctl_msg m, ack = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
					      .type = IOP_CTL_ACK };
		int got, rc;

		if (h->fd != fd)
			continue;
		rc = iop_ctl_recv(fd, &m, &got);
		if (got >= 0)
			close(got); /* hosts send no descriptors */
		if (rc == -EAGAIN)
			return;
		if (rc == 0 && m.type == IOP_CTL_CLOSE) {
			mark_closing(h, &m);
			return;
		}
		if (rc == 0 && m.type == IOP_CTL_BYE) {
			h->left_alive = true;
			return;
		}
		if (rc == -EPROTO || (rc == 0 && m.type != IOP_CTL_CHANNEL)) {
			/* Nonsense from a live process: say so, but do not take its frames. */
			struct iop_ctl_msg e = { .magic = IOP_CTL_MAGIC, .version = IOP_CTL_VERSION,
						 .type = IOP_CTL_ERROR, .status = -EPROTO };

			snprintf(e.text, sizeof(e.text), "unexpected message");
			iop_ctl_send(fd, &e, -1);
			return;
		}
		if (rc != 0) {
			host_gone(h); /* the socket closed: the host detached or died */
			return;
		}
		ack.channel = m.channel;
		ack.generation = m.generation;
		ack.status = register_channel(hs, h, &m);
		if (iop_ctl_send(fd, &ack, -1) != 0)
			host_gone(h);
		return;
	}
}


/* Is this opening of slot id registered by some host? */
static bool registered(const struct iopd_hosts *hs, unsigned id, uint32_t generation)
{
	for (unsigned i = 0; i < hs->n; i++)
		for (unsigned k = 0; k < hs->hosts[i].n_ch; k++)
			if (hs->hosts[i].ch[k].id == id && hs->hosts[i].ch[k].generation == generation)
				return true;
	return false;
}

/*
 * Channels of the host's process that it opened but never got to register:
 * looked for once, when it goes, and never one another host registered (a
 * process may attach twice).
 */
static void add_unregistered(struct iopd_hosts *hs, struct host *h)
{
	unsigned n = iop_window_channels(hs->w);

	if (h->scanned)
		return;
	h->scanned = true;
	for (unsigned id = 0; id < n && h->n_ch < HOST_CHANNELS; id++) {
		struct iop_channel ch;
		int state = iop_channel_lookup(hs->w, id, &ch);
		bool known;

		/* Its process's, opened as this host (a process may attach twice). */
		if (ch.owner_pid != h->pid || ch.owner != h->owner || state == IOP_CHANNEL_FREE)
			continue;
		known = registered(hs, id, ch.generation);
		if (!known) {
			h->ch[h->n_ch].id = id;
			h->ch[h->n_ch].generation = ch.generation;
			h->n_ch++;
		}
	}
}

/*
 * One step of taking back channel k of host h. @return true when the slot is
 * reclaimed (or was not h's any more).
 */
static bool channel_take_back(struct iopd_hosts *hs, struct host *h, unsigned k)
{
	struct iop_channel ch = { .id = h->ch[k].id, .generation = h->ch[k].generation };
	int state = iop_channel_lookup(hs->w, ch.id, &ch);

	if (ch.generation != h->ch[k].generation || state == IOP_CHANNEL_FREE)
		return true; /* already reclaimed, or another host's now */
	if (state == IOP_CHANNEL_OPEN)
		iop_channel_close(hs->w, &ch);
	/*
	 * What the IOP took from it, and what is still in its request ring, is
	 * answered first; the replies are freed as they come, since the IOP
	 * takes no more than the reply ring has room for.
	 */
	if (state != IOP_CHANNEL_CLAIMED && !iop_runtime_channel_idle(hs->rt, ch.id)) {
		iop_channel_free_replies(hs->w, &ch);
		return false;
	}
	if (state != IOP_CHANNEL_CLAIMED)
		iop_channel_free_replies(hs->w, &ch);
	iop_channel_reclaim(hs->w, ch.id, h->ch[k].generation);
	return true;
}

/* Channels a live host closed: reclaimed once the IOP holds nothing of theirs. */
static void take_back_closed(struct iopd_hosts *hs, struct host *h)
{
	unsigned kept = 0;

	for (unsigned k = 0; k < h->n_ch; k++)
		if (!h->ch[k].closing || !channel_take_back(hs, h, k))
			h->ch[kept++] = h->ch[k];
	h->n_ch = kept;
}

/* The process has exited: no such pid, or a zombie its parent has not reaped. */
static bool process_gone(pid_t pid)
{
	char path[64], buf[256], *paren;
	FILE *f;
	size_t n;

	if (kill(pid, 0) != 0 && errno == ESRCH)
		return true;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (f == NULL)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* "pid (comm) S ...": the state follows the last ')', comm may hold any. */
	paren = strrchr(buf, ')');
	return paren != NULL && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

/* One step of taking back what a gone host held. @return true when done. */
static bool take_back(struct iopd_hosts *hs, struct host *h)
{
	unsigned kept = 0;
	size_t frames;

	add_unregistered(hs, h);
	for (unsigned k = 0; k < h->n_ch; k++)
		if (!channel_take_back(hs, h, k))
			h->ch[kept++] = h->ch[k];
	h->n_ch = kept;
	if (kept != 0)
		return false;
	/*
	 * A host that left without saying so died, or is dying: what it held is
	 * taken back once its process is gone (a killed process closes its
	 * sockets before it is gone), its caches before its frames, since a
	 * cache may hold a block its owner had just allocated. A process that
	 * lives on after closing its socket without BYE may still use its
	 * frames: they, and its owner id, wait for it to exit.
	 */
	if (!h->left_alive) {
		if (!process_gone(h->pid))
			return false;
		iop_heap_cache_reclaim_process(iop_window_inbound(hs->w), h->pid);
		iop_heap_cache_reclaim_process(iop_window_outbound(hs->w), h->pid);
	}
	frames = iop_window_reclaim(hs->w, h->owner);
	IOPD_LOG(INFO, "host pid %d: %zu frames it held freed\n", (int)h->pid, frames);
	hs->owner_used[h->owner] = false;
	return true;
}

unsigned iopd_hosts_sweep(struct iopd_hosts *hs)
{
	unsigned kept = 0, pending = 0;

	for (unsigned i = 0; i < hs->n; i++) {
		struct host *h = &hs->hosts[i];

		if (h->gone && take_back(hs, h))
			continue;
		if (!h->gone)
			take_back_closed(hs, h);
		pending += h->gone;
		hs->hosts[kept++] = *h;
	}
	hs->n = kept;
	return pending;
}

void iopd_hosts_close_all(struct iopd_hosts *hs)
{
	for (unsigned i = 0; i < hs->n; i++)
		if (hs->hosts[i].fd >= 0) {
			hs->hosts[i].left_alive = true;
			host_gone(&hs->hosts[i]);
		}
}

void iopd_hosts_destroy(struct iopd_hosts *hs)
{
	free(hs);
}
