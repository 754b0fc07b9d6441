/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-msg: round trips host -> DDM -> host through the iopool message
 * path on pairs of pinned threads (one pair by default), and in the same run
 * the same number of round trips over bare rte_rings, the limits iopool is
 * held against. See docs/iop-bench-msg.md.
 */
#ifndef IOP_BENCH_MSG_H
#define IOP_BENCH_MSG_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "latency.h"

/* Requests in flight in burst mode. */
#define MSG_BURST 32u
#define MSG_MAX_REPEAT 15u
/* Host/IOP thread pairs: one IOP loop each, and the runtime has at most 16. */
#define MSG_MAX_PAIRS 16u

enum msg_mode {
	MSG_ONE,     /* one request in flight: post, wait for its reply, again */
	MSG_BURST32, /* MSG_BURST in flight: refilled as replies come back */
	MSG_NMODES,
};

/* The two CPUs of a pair: the host thread's and the IOP thread's (the same one when only one is usable). */
struct msg_cpus {
	int host;
	int iop;
};

/* What every case is given for one run. */
struct msg_env {
	unsigned pairs;                      /* host/IOP thread pairs, 1..MSG_MAX_PAIRS */
	struct msg_cpus cpus[MSG_MAX_PAIRS];
	bool shared;      /* some CPU runs more than one of the threads: waiters must yield */
	uint64_t count;   /* round trips measured, per pair */
	uint64_t warmup;  /* round trips before, not measured, per pair */
	pthread_barrier_t *measure; /* for msg_measure_start(), of env->pairs threads */
};

/* One run of one case in one mode: of one pair, or of all pairs together (msg_run_merge). */
struct msg_run {
	uint64_t round_trips; /* replies that came back correct, in the measured part */
	uint64_t errors;      /* wrong or missing replies, leaked frames, failed set-up */
	double seconds;       /* wall time of the measured part on the host thread; of all: the longest */
	struct msg_hist hist; /* latency of each measured round trip, in ticks */
};

/*
 * A thing measured. run() does warm-up and count round trips in the mode on
 * each of env->pairs pairs and fills the run with all pairs' together; it returns 0, or -errno when it could not run at all (why
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
extern const struct msg_case msg_case_iopool_apart;
extern const struct msg_case msg_case_limit_b;
extern const struct msg_case msg_case_limit_a;

const char *msg_mode_name(enum msg_mode mode);

/* ---- Pinned thread pairs (pair.c) -------------------------------------- */

/*
 * The first 2 x pairs CPUs this process may run on, host and IOP of each pair
 * in turn; where there are fewer, the list again from its start (so one pair
 * on a process with one CPU has both threads on it).
 * @return 0, or -ENODEV when there is no CPU.
 */
int msg_cpus_default(struct msg_cpus *c, unsigned pairs);

/* True when a CPU runs more than one thread: waiters must yield, or each spins its slice away. */
bool msg_cpus_any_shared(const struct msg_cpus *c, unsigned pairs);

/*
 * Run iop(args[i]) on a thread pinned to env->cpus[i].iop for every pair,
 * then host(args[i]) on one pinned to env->cpus[i].host; when every host has
 * returned, set *stop and wait for the IOP sides to return.
 * @return 0, or -errno when a thread could not be started or pinned (then
 *         no host runs and the IOP sides are stopped).
 */
int msg_pairs_run(const struct msg_env *env, void *(*host)(void *), void *(*iop)(void *),
		  void *const *args, _Atomic int *stop);

/*
 * Called by every host thread once, between its warm-up and its measured
 * part (also when it fails before, so that the others go on): returns when
 * all have called it.
 */
void msg_measure_start(const struct msg_env *env);

/* Add one pair's run to the total: counts and histograms summed, the longest time kept. */
void msg_run_merge(struct msg_run *into, const struct msg_run *from);

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
	unsigned pairs;
	struct msg_cpus cpus[MSG_MAX_PAIRS];
	bool shared;
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
