/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-msg: round trips host -> DDM -> host through the iopool message
 * path on two pinned threads, and in the same run the same number of round
 * trips over bare rte_rings, the limits iopool is held against. See
 * docs/iop-bench-msg.md.
 */
#ifndef IOP_BENCH_MSG_H
#define IOP_BENCH_MSG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latency.h"

/* Requests in flight in burst mode. */
#define MSG_BURST 32u
#define MSG_MAX_REPEAT 15u

enum msg_mode {
	MSG_ONE,     /* one request in flight: post, wait for its reply, again */
	MSG_BURST32, /* MSG_BURST in flight: refilled as replies come back */
	MSG_NMODES,
};

/* The two CPUs: the host thread's and the IOP thread's (the same one when only one is usable). */
struct msg_cpus {
	int host;
	int iop;
};

/* What every case is given for one run. */
struct msg_env {
	struct msg_cpus cpus;
	uint64_t count;  /* round trips measured */
	uint64_t warmup; /* round trips before, not measured */
};

/* One run of one case in one mode. */
struct msg_run {
	uint64_t round_trips; /* replies that came back correct, in the measured part */
	uint64_t errors;      /* wrong or missing replies, leaked frames, failed set-up */
	double seconds;       /* wall time of the measured part, on the host thread */
	struct msg_hist hist; /* latency of each measured round trip, in ticks */
};

/*
 * A thing measured. run() does warm-up and count round trips in the mode and
 * fills the run; it returns 0, or -errno when it could not run at all (why
 * says what failed). Wrong replies are counted in run->errors, not returned.
 */
struct msg_case {
	const char *key;  /* for --cases and the CSV */
	const char *name; /* for the table */
	const char *what; /* one line for the report */
	int (*run)(const struct msg_case *c, enum msg_mode mode, const struct msg_env *env,
		   struct msg_run *run, char *why, size_t whylen);
	uint32_t flags;   /* case-specific: heap options, which limit */
};

extern const struct msg_case msg_case_iopool;
extern const struct msg_case msg_case_iopool_uncached;
extern const struct msg_case msg_case_limit_b;
extern const struct msg_case msg_case_limit_a;

const char *msg_mode_name(enum msg_mode mode);

/* ---- Two pinned threads (pair.c) --------------------------------------- */

/* The first two CPUs this process may run on; both the same one if it has only one. */
int msg_cpus_default(struct msg_cpus *c);

/* True when host and IOP share one CPU: waiters must yield, or each spins its slice away. */
static inline bool msg_cpus_shared(const struct msg_cpus *c)
{
	return c->host == c->iop;
}

/*
 * Run iop(arg) on a thread pinned to cpus->iop and host(arg) on one pinned to
 * cpus->host; when host returns, set *stop and wait for iop to return.
 * @return 0, or -errno when a thread could not be started or pinned (then
 *         neither runs, or the IOP thread is stopped).
 */
int msg_pair_run(const struct msg_cpus *cpus, void *(*host)(void *), void *(*iop)(void *),
		 void *arg, _Atomic int *stop);

/* ---- What else ran (load.c) -------------------------------------------- */

struct msg_load {
	bool ok;
	double busy_s, steal_s, self_s, wall_s;
};

void msg_load_mark(struct msg_load *m);
/*
 * Since start, on average: how many CPUs' worth of work ran outside this
 * process, and how many the hypervisor stole; both -1 when unknown.
 */
void msg_load_since(const struct msg_load *start, double *others_cpus, double *steal_cpus);

/* ---- Output (report.c) ------------------------------------------------- */

/* The figures of one run, or the medians over the repeats of one case in one mode. */
struct msg_fig {
	bool ok;              /* ran, and every reply came back right */
	uint64_t round_trips;
	double seconds;
	double mrt_per_sec;   /* millions of round trips per second */
	double p50_ns, p99_ns, p999_ns, max_ns;
	double others_cpus;   /* load.c; in a median, the most of any run */
	double steal_cpus;
};

struct msg_report {
	struct msg_cpus cpus;
	uint64_t count[MSG_NMODES];
	uint64_t warmup[MSG_NMODES];
	unsigned repeat;
	double ticks_per_ns;
	const struct msg_case *const *cases;
	unsigned ncases;
	struct msg_fig *runs;   /* [(repeat * MSG_NMODES + mode) * ncases + case] */
	struct msg_fig *median; /* [mode * ncases + case] */
};

void msg_fig_from_run(struct msg_fig *f, const struct msg_run *r, double ticks_per_ns);
/* Each figure the median of its own over n runs, the load the most; not ok if any run was not. */
void msg_fig_median(struct msg_fig *f, const struct msg_fig *const *runs, unsigned n);
void msg_report_table(const struct msg_report *r);
int msg_report_csv(const struct msg_report *r, const char *path);

#endif /* IOP_BENCH_MSG_H */
