/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl, the operator's tool for a running iopd: what the subcommands
 * share. A session is one host attached to iopd and one queue pair; every
 * request goes through it, one at a time, with the session's timeout.
 */
#ifndef IOPCTL_H
#define IOPCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iop_host.h"
#include "iop_lct.h"

/* Exit statuses: a request or the attach failed; the command line was wrong. */
#define IOPCTL_EXIT_FAIL 1
#define IOPCTL_EXIT_USAGE 2

/* Every request iopctl sends fits in the smallest useful frame. */
#define IOPCTL_FRAME_BYTES 64u

/* Counters of UtilParamsGet group 0xF000, in the order the runtime sends them. */
#define IOPCTL_TARGET_STATS 8u
extern const char *const iopctl_target_stat_names[IOPCTL_TARGET_STATS];

/* What the command line said. */
struct iopctl_opts {
	const char *socket;
	unsigned timeout_ms;
	bool json;
	/* ping */
	uint16_t tid;
	bool tid_given;
	unsigned long count;
	unsigned long interval_us;
	/* watch */
	double interval_s;
	/* events */
	uint32_t mask;
};

struct iopctl {
	const struct iopctl_opts *o;
	struct iop_host *h;
	struct iop_qp *qp;
	uint32_t *reply;     /* the last reply, copied out: room for the largest MessageSize */
	size_t reply_words;  /* of the last reply */
};

/* ---- session.c ---------------------------------------------------------- */

/*
 * Attach to iopd at o->socket and make the queue pair. On failure the
 * reason, naming the socket, is reported.
 * @return 0, or -1.
 */
int iopctl_open(struct iopctl *s, const struct iopctl_opts *o);

/* Detach (iopd takes back anything still in flight). */
void iopctl_close(struct iopctl *s);

/*
 * A request frame of IOPCTL_FRAME_BYTES, waiting up to the timeout for one;
 * NULL when the inbound heap had none. Callers pass -ENOMEM as what was
 * built then, and iopctl_request() says so.
 */
uint32_t *iopctl_frame(struct iopctl *s);

/*
 * Post a frame a builder wrote `built` words into (a negative `built` gives
 * the frame back, if there is one) and wait for its reply, which lands in
 * s->reply.
 * @return the completion's result as iop_qp_call() says it, or `built`
 *         when negative; nothing is reported.
 */
int iopctl_request(struct iopctl *s, uint32_t *frame, int built, struct iop_completion *c);

/*
 * Say why a request failed, into buf: what it was, its target, and why
 * (status names and codes, or the timeout).
 */
void iopctl_failure(const struct iopctl *s, const char *what, uint16_t tid, int rc,
		    const struct iop_completion *c, char *buf, size_t len);

/* iopctl_failure(), reported with iopctl_error(). */
void iopctl_report(const struct iopctl *s, const char *what, uint16_t tid, int rc,
		   const struct iop_completion *c);

/* iopctl_request(), reporting a failure. @return 0, or -1 (reported). */
int iopctl_call(struct iopctl *s, uint32_t *frame, int built, const char *what, uint16_t tid);

/*
 * Say what went wrong: "iopctl: ..." on stderr, and with --json the same
 * as {"error": ...} on stdout, so a consumer always gets one object.
 */
void iopctl_error(const struct iopctl_opts *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- names.c: I2O codes as the reference names them --------------------- */

const char *iopctl_state_name(uint8_t state);
const char *iopctl_req_status_name(uint8_t req_status);
const char *iopctl_dsc_name(uint16_t dsc);
const char *iopctl_fail_code_name(uint8_t fail_code);

/*
 * A reply's status as words: "ERROR_NO_DATA_TRANSFER (0x05), DSC
 * UNSUPPORTED_FUNCTION (0x000A)", or the FAIL reply's FailureCode.
 */
void iopctl_describe(const struct iop_completion *c, char *buf, size_t len);

/* ---- lct.c -------------------------------------------------------------- */

/* The table as iopctl uses it: entries copied out of the reply. */
struct iopctl_lct {
	uint32_t change_indicator;
	unsigned n;
	struct iop_lct_entry *entries;
};

/* ExecLctNotify with indicator 0. @return 0, or -1 (reported). Free with iopctl_lct_free(). */
int iopctl_lct_fetch(struct iopctl *s, struct iopctl_lct *lct);
void iopctl_lct_free(struct iopctl_lct *lct);

/* An entry's IdentityTag as a string: up to 8 bytes, stopping at the first NUL. */
void iopctl_identity(const struct iop_lct_entry *e, char out[9]);

/* ---- target_stats.c ----------------------------------------------------- */

/*
 * UtilParamsGet of group 0xF000 at tid into stats.
 * @return 0; otherwise the request's result (see iopctl_request()), with
 *         c filled for iopctl_report(), or -EPROTO for a reply that does
 *         not carry the counters.
 */
int iopctl_target_stats(struct iopctl *s, uint16_t tid, uint64_t stats[IOPCTL_TARGET_STATS],
			struct iop_completion *c);

/* ---- the subcommands: each returns the exit status ---------------------- */

int iopctl_cmd_status(struct iopctl *s);
int iopctl_cmd_lct(struct iopctl *s);
int iopctl_cmd_params_get(struct iopctl *s, uint16_t tid, uint16_t group);
int iopctl_cmd_ping(struct iopctl *s);
int iopctl_cmd_watch(struct iopctl *s);
/* quiesce, enable or reset (the command's name). */
int iopctl_cmd_state(struct iopctl *s, const char *command);
int iopctl_cmd_events(struct iopctl *s, uint32_t mask);

#endif /* IOPCTL_H */
