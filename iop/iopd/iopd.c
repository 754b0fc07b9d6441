/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd: the IOP as a daemon. EAL options first, iopd's after `--`:
 *
 *     iopd [EAL options] -- [--socket PATH] [--ddm NAME[@LOOP][:PARAMS]] ...
 *
 * It makes the frame window and the runtime, runs the poll loops on worker
 * lcores, and serves hosts on a Unix control socket from the main lcore:
 * each gets the window's descriptor, and whatever it held comes back when it
 * goes. SIGINT or SIGTERM: quiesce (new requests are answered
 * DEVICE_NOT_AVAILABLE), let every request in flight be answered, and exit 0.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_log.h>

#include "iop_channel.h"
#include "iop_ddm.h"
#include "iop_eal.h"
#include "iop_mfa_ring.h"
#include "iop_runtime.h"
#include "iop_window.h"
#include "iopd.h"

RTE_LOG_REGISTER(iopd_logtype, iopd, INFO);

#define MAX_POLL 300u
#define SHUTDOWN_GRACE_MS 2000u

/* EAL options, with an lcore per loop (and the main one) unless the user chose. */
static int eal_args(int argc, char **argv, unsigned loops, char **out, char *lcores, size_t len)
{
	int n = 0;
	bool chosen = false;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	for (int i = 0; i < argc && n < 60; i++) {
		chosen = chosen || strcmp(argv[i], "-l") == 0 || strcmp(argv[i], "-c") == 0 ||
			 strncmp(argv[i], "--lcores", 8) == 0;
		out[n++] = argv[i];
	}
	if (!chosen) {
		/* The main lcore on CPU 0, loop i on CPU (i + 1) mod CPUs: runs on any machine. */
		size_t used = (size_t)snprintf(lcores, len, "--lcores=0@0");

		for (unsigned i = 0; i < loops && used < len; i++)
			used += (size_t)snprintf(lcores + used, len - used, ",%u@%ld", i + 1,
						 cpus > 1 ? (long)(i + 1) % cpus : 0);
		out[n++] = lcores;
	}
	out[n] = NULL;
	return n;
}

static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	strcpy(addr.sun_path, path);
	if (fd < 0)
		return -errno;
	/*
	 * A socket file nobody answers on is a leftover: replace it. Anyone may
	 * connect; the peer's credentials (SO_PEERCRED) decide who stays, so a
	 * refused user hears why instead of a bare EACCES.
	 */
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
		close(fd);
		return -EADDRINUSE;
	}
	close(fd);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0 ||
	    chmod(path, 0666) != 0 || listen(fd, 64) != 0) {
		int rc = -errno;

		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

/*
 * The grace period is over with requests in the IOP: say what holds them.
 * Requests a DDM abandoned (iop_request_abandon: its I/O could not be
 * finished) are never answered; requests DDMs still hold have not been
 * answered yet; replies held wait for hosts that do not take them, whose
 * reply rings are full, as requests left in request rings do (the loops take
 * no more than a reply ring has room for).
 */
static void say_what_is_in_flight(struct iop_runtime *rt, unsigned busy)
{
	struct iop_runtime_stats st;
	char held[256] = "";
	uint64_t in_ddms = 0, waiting = 0;
	unsigned rings = 0;
	size_t len = 0;

	iop_runtime_stats(rt, &st);
	/* Each busy channel's own ring: posted, not taken. */
	for (unsigned c = 0; c < iop_window_channels(iop_runtime_window(rt)); c++) {
		struct iop_channel ch;
		int state = iop_channel_lookup(iop_runtime_window(rt), c, &ch);

		if ((state == IOP_CHANNEL_OPEN || state == IOP_CHANNEL_CLOSED) &&
		    iop_mfa_ring_count(ch.to_iop) != 0) {
			waiting += iop_mfa_ring_count(ch.to_iop);
			rings++;
		}
	}
	for (unsigned i = 0; i < iop_runtime_targets(rt); i++) {
		struct iop_target_info t;
		struct iop_ddm_stats ds;

		if (iop_runtime_target(rt, i, &t) != 0 ||
		    iop_runtime_ddm_stats(rt, t.tid, &ds) != 0 || ds.in_flight == 0)
			continue;
		in_ddms += ds.in_flight;
		if (len < sizeof(held))
			len += (size_t)snprintf(held + len, sizeof(held) - len, "%s%s (TID 0x%03x) %llu",
						len != 0 ? ", " : "", t.name, t.tid,
						(unsigned long long)ds.in_flight);
	}
	IOPD_LOG(WARNING, "requests still in flight on %u channel%s after %u ms:\n", busy,
		 busy == 1 ? "" : "s", SHUTDOWN_GRACE_MS);
	if (st.requests_abandoned != 0)
		IOPD_LOG(WARNING, "  %llu requests abandoned by their DDM (its I/O could not be "
			 "finished; see the DDM's own message): never answered, their channels "
			 "stay busy\n", (unsigned long long)st.requests_abandoned);
	if (in_ddms > st.requests_abandoned)
		IOPD_LOG(WARNING, "  %llu requests held by DDMs, not answered yet (%s%s)\n",
			 (unsigned long long)(in_ddms - st.requests_abandoned), held,
			 st.requests_abandoned != 0 ? ", abandoned ones included" : "");
	if (st.replies_held != 0)
		IOPD_LOG(WARNING, "  %llu replies waiting for hosts not taking replies (their reply "
			 "rings are full)\n", (unsigned long long)st.replies_held);
	if (waiting != 0)
		IOPD_LOG(WARNING, "  %llu requests waiting in the request rings of %u channel%s (a "
			 "loop takes no more from a host that does not take its replies)\n",
			 (unsigned long long)waiting, rings, rings == 1 ? "" : "s");
}

/* Every request taken from any channel answered, or the grace period over. */
static void wait_answered(struct iop_runtime *rt, struct iopd_hosts *hs, unsigned channels)
{
	uint64_t end = now_ms() + SHUTDOWN_GRACE_MS;
	unsigned busy = 0;

	while (now_ms() < end) {
		busy = 0;
		for (unsigned c = 0; c < channels; c++)
			busy += !iop_runtime_channel_idle(rt, c);
		iopd_hosts_sweep(hs);
		if (busy == 0)
			return;
		usleep(1000);
	}
	say_what_is_in_flight(rt, busy);
}

static int serve(struct iop_runtime *rt, struct iopd_hosts *hs, int sig_fd)
{
	struct pollfd fds[MAX_POLL + 1];

	for (;;) {
		unsigned n = iopd_hosts_pollfds(hs, fds, MAX_POLL);

		fds[n] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		if (poll(fds, n + 1, 10) < 0 && errno != EINTR)
			return -errno;
		if (fds[n].revents & POLLIN) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) == sizeof(si))
				IOPD_LOG(INFO, "signal %u: shutting down\n", si.ssi_signo);
			return 0;
		}
		if (fds[0].revents & POLLIN)
			iopd_hosts_accept(hs);
		for (unsigned i = 1; i < n; i++)
			if (fds[i].revents & (POLLIN | POLLHUP | POLLERR))
				iopd_hosts_readable(hs, fds[i].fd);
		iopd_hosts_sweep(hs);
		(void)rt;
	}
}

static int run(int argc, char **argv, struct iopd_config *c);

int main(int argc, char **argv)
{
	struct iopd_config cfg;
	int rc = run(argc, argv, &cfg);

	iopd_config_free(&cfg);
	return rc;
}

static int run(int argc, char **argv, struct iopd_config *c)
{
	char err[512] = "", lcores[256];
	char *eal[64];
	int split = argc, listen_fd, sig_fd, rc;
	struct iop_window_opts wo = { 0 };
	struct iop_runtime_config rc_cfg = { 0 };
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iopd_hosts *hs;
	static _Atomic int stop;
	sigset_t sigs;

	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--") == 0) {
			split = i;
			break;
		}
	iopd_config_defaults(c);
	rc = iopd_config_parse(argc - split - 1 > 0 ? argc - split - 1 : 0, argv + split + 1, c,
			       err, sizeof(err));
	if (rc != 0) {
		if (rc < 0)
			fprintf(stderr, "iopd: %s\n", err);
		return rc < 0 ? 2 : 0;
	}
	iopd_config_finish(c);
	for (unsigned i = 0; i < c->n_loads; i++) {
		const struct iop_ddm_ops *ops;

		if (iop_ddm_load(c->loads[i], &ops, err, sizeof(err)) != 0) {
			fprintf(stderr, "iopd: %s\n", err);
			return 2;
		}
	}
	/* Blocked before the EAL's threads start, so only the signalfd sees them. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC);
	if (iop_eal_init(eal_args(split, argv, c->loops, eal, lcores, sizeof(lcores)), eal, err,
			 sizeof(err)) < 0) {
		fprintf(stderr, "iopd: %s\n", err);
		return 1;
	}
	wo.inbound_bytes = c->inbound_bytes;
	wo.outbound_bytes = c->outbound_bytes;
	wo.channels = c->channels;
	wo.ring_entries = c->ring_entries;
	w = iop_window_create(&wo);
	if (w == NULL) {
		fprintf(stderr, "iopd: frame window: %s\n", strerror(errno));
		iop_eal_cleanup();
		return 1;
	}
	rc_cfg.window = w;
	rc_cfg.lcores = c->loops;
	rc_cfg.iop_id = (uint16_t)c->iop_id;
	rc_cfg.ddms = c->ddms;
	rc_cfg.n_ddms = c->n_ddms;
	rt = iop_runtime_create(&rc_cfg, err, sizeof(err));
	if (rt == NULL) {
		fprintf(stderr, "iopd: %s\n", err);
		goto close_window;
	}
	listen_fd = listen_on(c->socket_path);
	if (listen_fd < 0) {
		fprintf(stderr, "iopd: %s: %s\n", c->socket_path,
			listen_fd == -EADDRINUSE ? "another iopd is serving there" :
						   strerror(-listen_fd));
		goto destroy_runtime;
	}
	if (iop_runtime_launch(rt, &stop) != 0) {
		fprintf(stderr, "iopd: not enough worker lcores for %u loops\n", c->loops);
		close(listen_fd);
		unlink(c->socket_path);
		atomic_store(&stop, 1);
		iop_runtime_wait(rt);
		goto destroy_runtime;
	}
	hs = iopd_hosts_create(rt, c, listen_fd);
	iopd_telemetry_register(rt);
	printf("iopd: ready on %s: %u DDMs, %u loops\n", c->socket_path, c->n_ddms, c->loops);
	fflush(stdout);

	rc = serve(rt, hs, sig_fd);
	/* Shutdown: nothing new is taken on; what is in flight is answered. */
	close(listen_fd);
	unlink(c->socket_path);
	if (iop_runtime_quiesce(rt, SHUTDOWN_GRACE_MS) != 0)
		IOPD_LOG(WARNING, "DDMs did not quiesce in time\n");
	wait_answered(rt, hs, iop_window_channels(w));
	atomic_store(&stop, 1);
	iop_runtime_wait(rt);
	iopd_hosts_close_all(hs);
	iopd_hosts_destroy(hs);
	iop_runtime_destroy(rt);
	iop_window_close(w);
	iop_eal_cleanup();
	printf("iopd: stopped\n");
	return rc == 0 ? 0 : 1;

destroy_runtime:
	iop_runtime_destroy(rt);
close_window:
	iop_window_close(w);
	iop_eal_cleanup();
	return 1;
}
