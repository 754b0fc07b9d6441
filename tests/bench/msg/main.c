/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-msg: every selected case in both modes, --repeat times, the cases
 * of one mode back to back within each repeat, so that whatever else the
 * machine does at a moment falls on all of them alike. Then the tables of
 * medians, the verdicts and the CSV. Progress goes to stderr, one line per
 * run. See docs/iop-bench-msg.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "msg.h"

#define DEFAULT_COUNT_ONE 1000000ull
#define DEFAULT_COUNT_BURST 10000000ull
#define SMOKE_COUNT 2000ull
#define MAX_WARMUP 100000ull
#define MAX_COUNT (1ull << 40)

static const struct msg_case *const all_cases[] = {
	&msg_case_iopool, &msg_case_iopool_uncached, &msg_case_iopool_apart, &msg_case_limit_b,
	&msg_case_limit_a,
};
#define NCASES (sizeof(all_cases) / sizeof(all_cases[0]))
/* Without --cases: the uncached heaps take many times longer than the rest; ask for them. */
static const char default_cases[] = "iopool,limit-b,limit-a";

struct opts {
	uint64_t count[MSG_NMODES];
	unsigned repeat;
	const char *csv;
	bool smoke;
	unsigned pairs;      /* --pairs; 0 when not given */
	unsigned cpus_pairs; /* pairs --cpus named */
	bool cpus_given;
	struct msg_cpus cpus[MSG_MAX_PAIRS];
	const struct msg_case *cases[NCASES];
	unsigned ncases;
};

enum { OPT_COUNT = 256, OPT_REPEAT, OPT_CSV, OPT_SMOKE, OPT_CPUS, OPT_PAIRS, OPT_CASES };

static const struct option long_opts[] = {
	{ "count", required_argument, NULL, OPT_COUNT },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "smoke", no_argument, NULL, OPT_SMOKE },
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "pairs", required_argument, NULL, OPT_PAIRS },
	{ "cases", required_argument, NULL, OPT_CASES },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iop-bench-msg [options]\n"
		"  --count N        round trips per case and mode (default %llu one at a time,\n"
		"                   %llu in bursts of %u)\n"
		"  --repeat N       run everything N times (1..%u) and report the medians\n"
		"  --cpus A,B       host thread on CPU A, IOP thread on CPU B (default: the\n"
		"                   first two CPUs this process may use); with several pairs,\n"
		"                   A1,B1,A2,B2,... (a CPU named twice: its threads yield)\n"
		"  --pairs N        N host/IOP thread pairs at once (1..%u, default 1): N\n"
		"                   loops with a nop DDM each, one window; rates are of all\n"
		"                   pairs together (default CPUs: the first 2N; fewer are\n"
		"                   shared)\n"
		"  --cases LIST     iopool, iopool-uncached, iopool-apart, limit-b, limit-a, or\n"
		"                   all\n"
		"                   (default %s)\n"
		"  --csv FILE       write every run and the medians\n"
		"  --smoke          %llu round trips, every case (the CI test: checks replies,\n"
		"                   not speed)\n",
		DEFAULT_COUNT_ONE, DEFAULT_COUNT_BURST, MSG_BURST, MSG_MAX_REPEAT, MSG_MAX_PAIRS,
		default_cases,
		SMOKE_COUNT);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' || *s == '-' ? -EINVAL : 0;
}

/* A1,B1[,A2,B2...]: pairs of CPUs this process may run on. */
static int parse_cpus(const char *arg, struct opts *o)
{
	char *list = strdup(arg), *save = NULL;
	unsigned n = 0;
	cpu_set_t set;
	int rc = 0;

	if (list == NULL)
		return -ENOMEM;
	if (sched_getaffinity(0, sizeof(set), &set) != 0) {
		free(list);
		return -errno;
	}
	for (char *t = strtok_r(list, ",", &save); t != NULL && rc == 0;
	     t = strtok_r(NULL, ",", &save)) {
		uint64_t cpu;

		if (parse_u64(t, &cpu) != 0 || cpu >= CPU_SETSIZE || n == 2 * MSG_MAX_PAIRS) {
			rc = -EINVAL;
		} else if (!CPU_ISSET(cpu, &set)) {
			fprintf(stderr, "iop-bench-msg: this process may not run on CPU %llu\n",
				(unsigned long long)cpu);
			rc = -EINVAL;
		} else if (n % 2 == 0) {
			o->cpus[n++ / 2].host = (int)cpu;
		} else {
			o->cpus[n++ / 2].iop = (int)cpu;
		}
	}
	free(list);
	if (rc == 0 && (n == 0 || n % 2 != 0))
		rc = -EINVAL;
	if (rc == 0) {
		o->cpus_given = true;
		o->cpus_pairs = n / 2;
	}
	return rc;
}

static int parse_cases(const char *arg, struct opts *o)
{
	char *list = strdup(arg), *save = NULL;
	bool want[NCASES] = { false };

	if (list == NULL)
		return -ENOMEM;
	for (char *n = strtok_r(list, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save)) {
		bool found = false;

		for (unsigned i = 0; i < NCASES; i++)
			if (strcmp(n, "all") == 0 || strcmp(n, all_cases[i]->key) == 0)
				want[i] = found = true;
		if (!found) {
			fprintf(stderr, "iop-bench-msg: no case '%s'\n", n);
			free(list);
			return -EINVAL;
		}
	}
	free(list);
	/* Always in table order: iopool first, the limits last. */
	o->ncases = 0;
	for (unsigned i = 0; i < NCASES; i++)
		if (want[i])
			o->cases[o->ncases++] = all_cases[i];
	return o->ncases != 0 ? 0 : -EINVAL;
}

static int bad_value(const char *opt, const char *arg)
{
	fprintf(stderr, "iop-bench-msg: bad value for %s: '%s'\n", opt, arg);
	return 2;
}

/* -1: go on; otherwise the exit status. */
static int parse_one(int c, const char *arg, struct opts *o)
{
	uint64_t v;

	switch (c) {
	case OPT_COUNT:
		if (parse_u64(arg, &v) != 0 || v == 0 || v > MAX_COUNT)
			return bad_value("--count", arg);
		o->count[MSG_ONE] = o->count[MSG_BURST32] = v;
		return -1;
	case OPT_REPEAT:
		if (parse_u64(arg, &v) != 0 || v == 0 || v > MSG_MAX_REPEAT)
			return bad_value("--repeat", arg);
		o->repeat = (unsigned)v;
		return -1;
	case OPT_CSV:
		o->csv = arg;
		return -1;
	case OPT_SMOKE:
		o->smoke = true;
		return -1;
	case OPT_CPUS:
		return parse_cpus(arg, o) == 0 ? -1 : bad_value("--cpus", arg);
	case OPT_PAIRS:
		if (parse_u64(arg, &v) != 0 || v == 0 || v > MSG_MAX_PAIRS)
			return bad_value("--pairs", arg);
		o->pairs = (unsigned)v;
		return -1;
	case OPT_CASES:
		return parse_cases(arg, o) == 0 ? -1 : 2;
	case 'h':
		usage(stdout);
		return 0;
	default:
		usage(stderr);
		return 2;
	}
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	int c, err;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		int rc = parse_one(c, optarg, o);

		if (rc >= 0)
			return rc;
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	for (unsigned m = 0; m < MSG_NMODES; m++)
		if (o->count[m] == 0)
			o->count[m] = o->smoke ? SMOKE_COUNT :
				      m == MSG_ONE ? DEFAULT_COUNT_ONE : DEFAULT_COUNT_BURST;
	if (o->repeat == 0)
		o->repeat = 1;
	if (o->ncases == 0 && parse_cases(o->smoke ? "all" : default_cases, o) != 0)
		return 2;
	if (o->cpus_given) {
		if (o->pairs != 0 && o->pairs != o->cpus_pairs) {
			fprintf(stderr, "iop-bench-msg: --cpus names %u pairs, --pairs says %u\n",
				o->cpus_pairs, o->pairs);
			return 2;
		}
		o->pairs = o->cpus_pairs;
		return -1;
	}
	if (o->pairs == 0)
		o->pairs = 1;
	err = msg_cpus_default(o->cpus, o->pairs);
	if (err != 0) {
		fprintf(stderr, "iop-bench-msg: no CPU to run on\n");
		return 2;
	}
	return -1;
}

static void progress(const struct msg_case *c, enum msg_mode m, unsigned rep, unsigned repeat,
		     const struct msg_fig *f, const struct msg_run *run)
{
	fprintf(stderr, "  %-7s %-16s run %u/%u: ", msg_mode_name(m), c->name, rep + 1, repeat);
	if (run->errors != 0)
		fprintf(stderr, "ERR: %llu wrong or missing replies, leaks or failures\n",
			(unsigned long long)run->errors);
	else
		fprintf(stderr, "%8.3f M round trips/s, p50 %.0f ns, p99 %.0f ns, p999 %.0f ns; "
			"others %.2f CPUs, steal %.2f\n", f->mrt_per_sec, f->p50_ns, f->p99_ns,
			f->p999_ns, f->others_cpus, f->steal_cpus);
}

/* One case in one mode, once, into its figure; false when it had errors or could not run. */
static bool run_one(const struct msg_case *c, enum msg_mode m, const struct msg_env *env,
		    unsigned rep, const struct msg_report *r, struct msg_run *run,
		    struct msg_fig *f)
{
	char why[160] = "";
	struct msg_load load;
	int rc;

	memset(run, 0, sizeof(*run));
	msg_load_mark(&load);
	rc = c->run(c, m, env, run, why, sizeof(why));
	if (rc != 0) {
		fprintf(stderr, "  %-7s %-16s cannot run: %s\n", msg_mode_name(m), c->name,
			why[0] ? why : strerror(-rc));
		run->errors++;
	}
	msg_fig_from_run(f, run, r->ticks_per_ns);
	msg_load_since(&load, &f->others_cpus, &f->steal_cpus);
	if (rc == 0)
		progress(c, m, rep, r->repeat, f, run);
	return run->errors == 0;
}

/* Every run; false when any had errors or could not run. */
static bool run_all(const struct opts *o, struct msg_report *r, struct msg_run *run,
		    pthread_barrier_t *measure)
{
	bool good = true;

	for (unsigned rep = 0; rep < o->repeat; rep++) {
		for (unsigned m = 0; m < MSG_NMODES; m++) {
			struct msg_env env = {
				.pairs = o->pairs,
				.shared = r->shared,
				.count = r->count[m],
				.warmup = r->warmup[m],
				.measure = measure,
			};
			struct msg_fig *row = &r->runs[(rep * MSG_NMODES + m) * o->ncases];

			memcpy(env.cpus, o->cpus, sizeof(env.cpus));

			for (unsigned i = 0; i < o->ncases; i++)
				good &= run_one(o->cases[i], m, &env, rep, r, run, &row[i]);
		}
	}
	return good;
}

static void medians(struct msg_report *r)
{
	for (unsigned m = 0; m < MSG_NMODES; m++) {
		for (unsigned i = 0; i < r->ncases; i++) {
			const struct msg_fig *runs[MSG_MAX_REPEAT];

			for (unsigned rep = 0; rep < r->repeat; rep++)
				runs[rep] = &r->runs[(rep * MSG_NMODES + m) * r->ncases + i];
			msg_fig_median(&r->median[m * r->ncases + i], runs, r->repeat);
		}
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	struct msg_report r = { 0 };
	struct msg_run *run;
	pthread_barrier_t measure;
	bool good;
	int rc = parse_opts(argc, argv, &o);

	if (rc >= 0)
		return rc;
	r.pairs = o.pairs;
	memcpy(r.cpus, o.cpus, sizeof(r.cpus));
	r.shared = msg_cpus_any_shared(o.cpus, o.pairs);
	r.repeat = o.repeat;
	r.cases = o.cases;
	r.ncases = o.ncases;
	for (unsigned m = 0; m < MSG_NMODES; m++) {
		r.count[m] = o.count[m];
		r.warmup[m] = o.count[m] / 10 < MAX_WARMUP ? o.count[m] / 10 : MAX_WARMUP;
	}
	r.ticks_per_ns = msg_ticks_calibrate();
	if (r.ticks_per_ns <= 0) {
		fprintf(stderr, "iop-bench-msg: cannot calibrate the tick counter\n");
		return 1;
	}
	run = malloc(sizeof(*run));
	r.runs = calloc((size_t)o.repeat * MSG_NMODES * o.ncases, sizeof(*r.runs));
	r.median = calloc((size_t)MSG_NMODES * o.ncases, sizeof(*r.median));
	if (run == NULL || r.runs == NULL || r.median == NULL) {
		perror("iop-bench-msg");
		return 1;
	}
	if (pthread_barrier_init(&measure, NULL, o.pairs) != 0) {
		perror("iop-bench-msg: barrier");
		return 1;
	}
	good = run_all(&o, &r, run, &measure);
	pthread_barrier_destroy(&measure);
	medians(&r);
	msg_report_table(&r);
	if (o.csv != NULL && msg_report_csv(&r, o.csv) != 0) {
		fprintf(stderr, "iop-bench-msg: cannot write %s: %s\n", o.csv, strerror(errno));
		good = false;
	}
	if (!good)
		printf("\nERRORS: some replies were wrong or missing, or a case could not run "
		       "(see above)\n");
	free(run);
	free(r.runs);
	free(r.median);
	return good ? 0 : 1;
}
