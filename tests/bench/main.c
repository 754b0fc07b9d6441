/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-heap: runs every selected peer on every selected workload at
 * every thread count, one cell after another, and prints the tables (and CSV
 * or JSON). Progress goes to stderr, one line per cell. See
 * docs/iop-bench-heap.md.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#define DEFAULT_DURATION_MS 300u
#define SMOKE_DURATION_MS 20u

static const unsigned default_threads[] = { 1, 2, 4, 8 };
static const unsigned smoke_threads[] = { 1, 2 };

enum {
	OPT_THREADS = 256, OPT_DURATION, OPT_OPS, OPT_REPEAT, OPT_PEERS, OPT_WORKLOADS, OPT_CSV,
	OPT_JSON, OPT_SMOKE, OPT_SELFTEST, OPT_LIST, OPT_CHILD, OPT_CHILD_FD,
};

static const struct option long_opts[] = {
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "ops", required_argument, NULL, OPT_OPS },
	{ "repeat", required_argument, NULL, OPT_REPEAT },
	{ "peers", required_argument, NULL, OPT_PEERS },
	{ "workloads", required_argument, NULL, OPT_WORKLOADS },
	{ "csv", required_argument, NULL, OPT_CSV },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "smoke", no_argument, NULL, OPT_SMOKE },
	{ "selftest", no_argument, NULL, OPT_SELFTEST },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "child", required_argument, NULL, OPT_CHILD },
	{ "child-fd", required_argument, NULL, OPT_CHILD_FD },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iop-bench-heap [options]\n"
		"  --threads LIST     thread counts per cell (default 1,2,4,8)\n"
		"  --duration MS      time per cell (default %u)\n"
		"  --ops N            exactly N ops per thread (prodcons: per pair) instead\n"
		"  --repeat N         run each cell N times and report the median (default 1)\n"
		"  --peers LIST       peers to run, in table order (default all; see --list)\n"
		"  --workloads LIST   workloads to run (default all; see --list)\n"
		"  --csv FILE         write one row per cell\n"
		"  --json FILE        write the results as JSON\n"
		"  --smoke            %u ms per cell and threads 1,2 (the CI test)\n"
		"  --selftest         check the buddy allocator of spin-buddy and mutex-buddy,\n"
		"                     and that iopool has thread caches and iopool-uncached not\n"
		"  --list             print the peers and workloads\n",
		DEFAULT_DURATION_MS, SMOKE_DURATION_MS);
}

/* One line each, for people and for scripts (callgrind.sh): preload peers name their object. */
static void list(void)
{
	for (unsigned i = 0; i < bench_npeers; i++) {
		const struct bench_peer *p = bench_peers[i];

		printf("peer %s%s%s\n", p->name, p->preload ? " preload " : "",
		       p->preload ? p->preload : "");
	}
	for (unsigned i = 0; i < bench_nworkloads; i++)
		printf("workload %s\n", bench_workloads[i].name);
}

static int parse_u64(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno != 0 || end == s || *end != '\0' || *s == '-' ? -EINVAL : 0;
}

static int parse_threads(char *arg, struct bench_opts *o)
{
	char *save = NULL;

	o->nthreads = 0;
	for (char *t = strtok_r(arg, ",", &save); t != NULL; t = strtok_r(NULL, ",", &save)) {
		uint64_t v;

		if (parse_u64(t, &v) != 0 || v == 0 || v > BENCH_MAX_THREADS ||
		    o->nthreads == BENCH_MAX_THREAD_COUNTS) {
			fprintf(stderr, "iop-bench-heap: bad thread count '%s' (1..%u, at most %u of them)\n",
				t, BENCH_MAX_THREADS, BENCH_MAX_THREAD_COUNTS);
			return -EINVAL;
		}
		o->threads[o->nthreads++] = (unsigned)v;
	}
	return o->nthreads != 0 ? 0 : -EINVAL;
}

/* A comma list of names into a mask of table indices. */
static int parse_names(char *arg, uint32_t *mask, bool peers)
{
	char *save = NULL;

	*mask = 0;
	for (char *n = strtok_r(arg, ",", &save); n != NULL; n = strtok_r(NULL, ",", &save)) {
		const struct bench_peer *p = peers ? bench_peer_by_name(n) : NULL;
		const struct bench_workload *w = peers ? NULL : bench_workload_by_name(n);

		if (p == NULL && w == NULL) {
			fprintf(stderr, "iop-bench-heap: no %s '%s' (see --list)\n",
				peers ? "peer" : "workload", n);
			return -EINVAL;
		}
		for (unsigned i = 0; i < (peers ? bench_npeers : bench_nworkloads); i++)
			if (peers ? bench_peers[i] == p : &bench_workloads[i] == w)
				*mask |= 1u << i;
	}
	return 0;
}

enum action { RUN, EXIT_OK, EXIT_BAD, SELFTEST };

static enum action bad_value(const char *opt, const char *arg)
{
	fprintf(stderr, "iop-bench-heap: bad value for %s: '%s'\n", opt, arg);
	return EXIT_BAD;
}

static enum action parse_one(int c, char *arg, struct bench_opts *o)
{
	uint64_t v;

	switch (c) {
	case OPT_THREADS:
		return parse_threads(arg, o) == 0 ? RUN : EXIT_BAD;
	case OPT_DURATION:
		if (parse_u64(arg, &v) != 0 || v == 0 || v > 3600000)
			return bad_value("--duration", arg);
		o->duration_ns = v * 1000000u;
		return RUN;
	case OPT_OPS:
		o->ops_mode = true;
		return parse_u64(arg, &o->ops) == 0 ? RUN : bad_value("--ops", arg);
	case OPT_REPEAT:
		if (parse_u64(arg, &v) != 0 || v == 0 || v > BENCH_MAX_REPEAT)
			return bad_value("--repeat", arg);
		o->repeat = (unsigned)v;
		return RUN;
	case OPT_PEERS:
		return parse_names(arg, &o->peer_mask, true) == 0 ? RUN : EXIT_BAD;
	case OPT_WORKLOADS:
		return parse_names(arg, &o->workload_mask, false) == 0 ? RUN : EXIT_BAD;
	case OPT_CSV:
		o->csv = arg;
		return RUN;
	case OPT_JSON:
		o->json = arg;
		return RUN;
	case OPT_SMOKE:
		o->smoke = true;
		return RUN;
	case OPT_SELFTEST:
		return SELFTEST;
	case OPT_LIST:
		list();
		return EXIT_OK;
	case OPT_CHILD:
		o->child = arg;
		return RUN;
	case OPT_CHILD_FD:
		o->child_fd = atoi(arg);
		return RUN;
	case 'h':
		usage(stdout);
		return EXIT_OK;
	default:
		usage(stderr);
		return EXIT_BAD;
	}
}

/* Defaults fill in whatever the options left unset; --smoke changes two of them. */
static void apply_defaults(struct bench_opts *o)
{
	const unsigned *t = o->smoke ? smoke_threads : default_threads;
	unsigned nt = o->smoke ? 2 : 4;

	if (o->nthreads == 0) {
		memcpy(o->threads, t, nt * sizeof(*t));
		o->nthreads = nt;
	}
	if (o->duration_ns == 0)
		o->duration_ns = (uint64_t)(o->smoke ? SMOKE_DURATION_MS : DEFAULT_DURATION_MS) * 1000000u;
	if (o->repeat == 0)
		o->repeat = 1;
	if (o->workload_mask == 0)
		o->workload_mask = (1u << bench_nworkloads) - 1;
	if (o->peer_mask == 0)
		o->peer_mask = (1u << bench_npeers) - 1;
}

static enum action parse_opts(int argc, char **argv, struct bench_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
		enum action a = parse_one(c, optarg, o);

		if (a != RUN)
			return a;
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_BAD;
	}
	apply_defaults(o);
	return RUN;
}

static double rate(const struct bench_result *r)
{
	return r->seconds > 0 ? (double)r->ops / r->seconds : 0;
}

static int by_rate(const void *a, const void *b)
{
	double x = rate(a), y = rate(b);

	return (x > y) - (x < y);
}

static void progress(const struct bench_result *r, int rc)
{
	fprintf(stderr, "  %-15s %-10s T=%-2u ", r->peer, r->w->name, r->threads);
	if (rc != 0)
		fprintf(stderr, "cannot create: %s\n", strerror(-rc));
	else if (r->errors != 0)
		fprintf(stderr, "ERR: %" PRIu64 " corrupted objects or failed thread hooks\n", r->errors);
	else
		fprintf(stderr, "%9.3f M ops/s%s\n", rate(r) / 1e6,
			r->nulls != 0 ? " (allocations returned NULL)" : "");
}

/*
 * One machine with few cores is noisy: --repeat runs a cell several times and
 * keeps the median. A run with errors is kept instead, so they never hide,
 * and NULL allocations are summed over all runs for the same reason.
 */
static int run_median(const struct bench_peer *p, const struct bench_workload *w,
		      unsigned threads, const struct bench_opts *o, struct bench_result *res)
{
	struct bench_result r[BENCH_MAX_REPEAT];
	uint64_t nulls = 0;

	for (unsigned i = 0; i < o->repeat; i++) {
		int rc = bench_run_cell(p, w, threads, o, &r[i]);

		if (rc != 0 || r[i].errors != 0) {
			*res = r[i];
			return rc;
		}
		nulls += r[i].nulls;
	}
	qsort(r, o->repeat, sizeof(r[0]), by_rate);
	*res = r[o->repeat / 2];
	res->nulls = nulls;
	return 0;
}

/* Every selected cell of one peer, in this process. A cell that cannot be made counts as failed. */
static void run_cells(const struct bench_peer *p, const struct bench_opts *o,
		      struct bench_results *rs)
{
	for (unsigned i = 0; i < bench_nworkloads; i++) {
		if (!(o->workload_mask & (1u << i)))
			continue;
		for (unsigned t = 0; t < o->nthreads; t++) {
			struct bench_result r;
			int rc = run_median(p, &bench_workloads[i], o->threads[t], o, &r);

			if (rc == -ENOTSUP)
				continue; /* this peer cannot do this workload: "-" in the table */
			if (rc != 0)
				r.errors++;
			progress(&r, rc);
			bench_results_add(rs, &r);
		}
	}
}

/* 0 ran (cells may still have failed), -ENOENT unavailable, other -errno failed. */
static int run_peer(const struct bench_peer *p, const struct bench_opts *o,
		    struct bench_results *rs, struct bench_skip *skip)
{
	const char *why;

	skip->peer = p->name;
	if (p->preload != NULL)
		return bench_preload_run(p, o, rs, skip->why, sizeof(skip->why));
	if (p->init != NULL && p->init(&why) != 0) {
		snprintf(skip->why, sizeof(skip->why), "unavailable: %s", why);
		return -ENOENT;
	}
	run_cells(p, o, rs);
	return 0;
}

static bool any_failed(const struct bench_results *rs)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->r[i].errors != 0)
			return true;
	return false;
}

static int write_files(const struct bench_results *rs, const struct bench_opts *o,
		       const struct bench_skip *skips, unsigned nskips)
{
	int rc = 0;

	if (o->csv != NULL && bench_report_csv(rs, o->csv) != 0) {
		fprintf(stderr, "iop-bench-heap: cannot write %s: %s\n", o->csv, strerror(errno));
		rc = -1;
	}
	if (o->json != NULL && bench_report_json(rs, o, skips, nskips, o->json) != 0) {
		fprintf(stderr, "iop-bench-heap: cannot write %s: %s\n", o->json, strerror(errno));
		rc = -1;
	}
	return rc;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct bench_results rs = { 0 };
	struct bench_skip skips[BENCH_MAX_PEERS];
	unsigned nskips = 0;
	bool broken = false;

	switch (parse_opts(argc, argv, &o)) {
	case EXIT_OK:
		return 0;
	case EXIT_BAD:
		return 2;
	case SELFTEST:
		return buddy_selftest() == 0 && bench_iopool_selftest() == 0 ? 0 : 1;
	case RUN:
		break;
	}
	if (o.child != NULL)
		return bench_preload_child(&o, run_cells);
	for (unsigned i = 0; i < bench_npeers; i++) {
		int rc;

		if (!(o.peer_mask & (1u << i)))
			continue;
		rc = run_peer(bench_peers[i], &o, &rs, &skips[nskips]);
		if (rc != 0) {
			fprintf(stderr, "  %-15s %s\n", skips[nskips].peer, skips[nskips].why);
			broken |= rc != -ENOENT;
			nskips++;
		}
	}
	bench_report_table(&rs, &o, skips, nskips);
	broken |= write_files(&rs, &o, skips, nskips) != 0 || any_failed(&rs);
	free(rs.r);
	return broken ? 1 : 0;
}
