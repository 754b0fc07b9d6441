/* SPDX-License-Identifier: BSD-3-Clause */
/* iopd's pieces: its configuration, its hosts, its telemetry. */
#ifndef IOPD_H
#define IOPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <poll.h>
#include <sys/types.h>

#include <rte_log.h>

#include "iop_runtime.h"

#define IOPD_MAX_LOADS 16u
#define IOPD_MAX_ALLOW 16u

extern int iopd_logtype;
#define IOPD_LOG(level, ...) rte_log(RTE_LOG_##level, iopd_logtype, "iopd: " __VA_ARGS__)

struct iopd_config {
	char socket_path[108];
	unsigned loops;
	size_t inbound_bytes, outbound_bytes;
	unsigned channels, ring_entries;
	unsigned iop_id;
	struct iop_runtime_ddm ddms[IOP_RUNTIME_MAX_DDMS];
	unsigned n_ddms;
	const char *loads[IOPD_MAX_LOADS];
	unsigned n_loads;
	uid_t allow_uids[IOPD_MAX_ALLOW];
	unsigned n_allow;
	bool default_ddm; /* ddms[0] is the built-in default, not a copy */
};

/* Defaults: the socket in $XDG_RUNTIME_DIR or /tmp, one loop, the nop DDM if none named. */
void iopd_config_defaults(struct iopd_config *c);

/*
 * iopd's own options (after the EAL's and `--`); --config FILE reads the same
 * options from a file, one per line ("ddm nop@0", "# comments"). @return 0, or
 * -EINVAL with a message in err; 1 for --help (usage printed).
 */
int iopd_config_parse(int argc, char **argv, struct iopd_config *c, char *err, size_t errlen);

/* After parsing: a nop DDM when none was named. */
void iopd_config_finish(struct iopd_config *c);

/* Free what parsing copied. */
void iopd_config_free(struct iopd_config *c);

/* The hosts: accept, check credentials, register channels, take back what they held. */
struct iopd_hosts;
struct iopd_hosts *iopd_hosts_create(struct iop_runtime *rt, const struct iopd_config *c,
				     int listen_fd);
/* Accept a host waiting on the listening socket. */
void iopd_hosts_accept(struct iopd_hosts *hs);
/* Fill fds (listening socket first) for poll; @return how many. */
unsigned iopd_hosts_pollfds(struct iopd_hosts *hs, struct pollfd *fds, unsigned max);
/* A host's socket is readable (or closed). */
void iopd_hosts_readable(struct iopd_hosts *hs, int fd);
/* Take back what gone hosts held, as far as the IOP is done with it. @return hosts still pending. */
unsigned iopd_hosts_sweep(struct iopd_hosts *hs);
/* Close every host's socket (shutdown). */
void iopd_hosts_close_all(struct iopd_hosts *hs);
void iopd_hosts_destroy(struct iopd_hosts *hs);

/* Telemetry: /iopool/status, /iopool/targets, /iopool/heaps, /iopool/ddm,TID. */
void iopd_telemetry_register(struct iop_runtime *rt);

#endif /* IOPD_H */
