/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: a table per workload for people, CSV and JSON for scripts
 * (plot.sh reads the CSV). Derived numbers are computed here, from the raw
 * ops and seconds, so every format agrees:
 *   ops_per_sec = ops / seconds of the whole cell (all its threads);
 *   ns_per_op = 1e9 / ops_per_sec, wall time per op of the cell;
 *   ratio_to_iopool = ops_per_sec / iopool's in the same workload and threads;
 *   scaling_vs_1t = ops_per_sec / the same peer's at 1 thread.
 * The table's header and the JSON also carry what one locked RMW costs on
 * this machine (rmw_floor.c), the floor of a checked free.
 * A cell with errors (a corrupted object, a thread hook that failed, a heap
 * that could not be made) measured nothing: it shows as ERR and is left out
 * of the CSV; the JSON keeps it with its count. A cell in which allocations
 * returned NULL is a measurement of what the allocator did (the iopool heap
 * gives up after enomem_wait_ns when a preempted thread holds memory in a
 * split): its number is marked '!', listed under the tables, and kept.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define REFERENCE "iopool"

void bench_results_add(struct bench_results *rs, const struct bench_result *r)
{
	if (rs->n == rs->cap) {
		unsigned cap = rs->cap ? 2 * rs->cap : 64;
		struct bench_result *n = realloc(rs->r, cap * sizeof(*n));

		if (n == NULL) {
			perror("iop-bench-heap");
			exit(2);
		}
		rs->r = n;
		rs->cap = cap;
	}
	rs->r[rs->n++] = *r;
}

static const struct bench_result *find(const struct bench_results *rs, const char *peer,
				       const struct bench_workload *w, unsigned threads)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->r[i].w == w && rs->r[i].threads == threads && strcmp(rs->r[i].peer, peer) == 0)
			return &rs->r[i];
	return NULL;
}

static bool usable(const struct bench_result *r)
{
	return r != NULL && r->errors == 0 && r->ops != 0 && r->seconds > 0;
}

static double ops_per_sec(const struct bench_result *r)
{
	return r->seconds > 0 ? (double)r->ops / r->seconds : 0;
}

/* NAN when there is nothing to compare with. */
static double relative(const struct bench_result *r, const struct bench_result *base)
{
	return usable(r) && usable(base) ? ops_per_sec(r) / ops_per_sec(base) : NAN;
}

static double ratio_to_iopool(const struct bench_results *rs, const struct bench_result *r)
{
	return relative(r, find(rs, REFERENCE, r->w, r->threads));
}

static double scaling(const struct bench_results *rs, const struct bench_result *r)
{
	return relative(r, find(rs, r->peer, r->w, 1));
}

static bool peer_ran(const struct bench_results *rs, const char *peer,
		     const struct bench_workload *w)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (rs->r[i].w == w && strcmp(rs->r[i].peer, peer) == 0)
			return true;
	return false;
}

static void print_header(const struct bench_opts *o, const char *title)
{
	printf("%-16s", title);
	for (unsigned t = 0; t < o->nthreads; t++)
		printf(" %6s%-3u", "T=", o->threads[t]);
	printf("\n");
}

static void print_cell(const struct bench_result *r, double v, const char *unit)
{
	if (r == NULL)
		printf(" %9s", "-");
	else if (r->errors != 0)
		printf(" %9s", "ERR");
	else if (isnan(v))
		printf(" %9s", "?");
	else
		printf(" %8.2f%s", v, r->nulls != 0 ? "!" : unit);
}

/* What a table of one workload shows in its cells. */
enum view {
	VIEW_RATE,    /* millions of ops per second */
	VIEW_NS,      /* ns per op of the whole cell */
	VIEW_SCALING, /* against the same peer at 1 thread */
	VIEW_RATIO,   /* against iopool at the same thread count */
};

static double view_value(const struct bench_results *rs, const struct bench_result *r,
			 enum view v)
{
	double ops = ops_per_sec(r);

	switch (v) {
	case VIEW_RATE:
		return ops / 1e6;
	case VIEW_NS:
		return ops > 0 ? 1e9 / ops : NAN;
	case VIEW_SCALING:
		return scaling(rs, r);
	case VIEW_RATIO:
		return ratio_to_iopool(rs, r);
	}
	return NAN;
}

static void print_rows(const struct bench_results *rs, const struct bench_opts *o,
		       const struct bench_workload *w, enum view v)
{
	for (unsigned i = 0; i < bench_npeers; i++) {
		const char *peer = bench_peers[i]->name;

		if (!peer_ran(rs, peer, w) || (v == VIEW_RATIO && strcmp(peer, REFERENCE) == 0))
			continue;
		printf("%-16s", peer);
		for (unsigned t = 0; t < o->nthreads; t++) {
			const struct bench_result *r = find(rs, peer, w, o->threads[t]);

			print_cell(r, r ? view_value(rs, r, v) : NAN,
				   v == VIEW_RATIO || v == VIEW_SCALING ? "x" : " ");
		}
		printf("\n");
	}
}

static const char *unit_of(const struct bench_workload *w)
{
	switch (w->kind) {
	case BENCH_PRODCONS:
		return "M objects/s, allocated by producers, freed by consumers; "
		       "T threads = T/2 pairs, T=1 runs one pair (2 threads)";
	case BENCH_THREADTEST:
		return "M alloc+free pairs/s, batches of 1000 blocks of 64..512 B";
	case BENCH_RANDOM:
		return "M alloc+free pairs/s, 1000 live blocks per thread, 64 B..64 KiB";
	default:
		return "M alloc+free pairs/s";
	}
}

static void print_nulls(const struct bench_results *rs)
{
	bool first = true;

	for (unsigned i = 0; i < rs->n; i++) {
		const struct bench_result *r = &rs->r[i];

		if (r->nulls == 0)
			continue;
		printf("%s  %s %s T=%u: %llu\n", first ? "\n! allocations that returned NULL:\n" : "",
		       r->peer, r->w->name, r->threads, (unsigned long long)r->nulls);
		first = false;
	}
}

static bool has_one_thread(const struct bench_opts *o)
{
	for (unsigned t = 0; t < o->nthreads; t++)
		if (o->threads[t] == 1)
			return true;
	return false;
}

static void print_setup(const struct bench_opts *o)
{
	printf("iop-bench-heap: %ld CPUs online, ", sysconf(_SC_NPROCESSORS_ONLN));
	if (o->ops_mode)
		printf("%llu ops per thread per cell", (unsigned long long)o->ops);
	else
		printf("%llu ms per cell", (unsigned long long)(o->duration_ns / 1000000u));
	if (o->repeat > 1)
		printf(", median of %u runs", o->repeat);
	printf(", threads");
	for (unsigned t = 0; t < o->nthreads; t++)
		printf("%s%u", t ? "," : " ", o->threads[t]);
	printf("\none locked RMW here: %.2f ns (a cached iopool alloc+free makes two; a free that "
	       "refuses a racing double free, at least one)\n",
	       bench_locked_rmw_ns());
}

void bench_report_table(const struct bench_results *rs, const struct bench_opts *o,
			const struct bench_skip *skips, unsigned nskips)
{
	print_setup(o);
	for (unsigned i = 0; i < bench_nworkloads; i++) {
		const struct bench_workload *w = &bench_workloads[i];

		if (!(o->workload_mask & (1u << i)))
			continue;
		printf("\n%s: %s\n", w->name, unit_of(w));
		print_header(o, "peer");
		print_rows(rs, o, w, VIEW_RATE);
		print_header(o, "ns per op");
		print_rows(rs, o, w, VIEW_NS);
		if (has_one_thread(o) && o->nthreads > 1) {
			print_header(o, "vs T=1");
			print_rows(rs, o, w, VIEW_SCALING);
		}
		if (peer_ran(rs, REFERENCE, w)) {
			print_header(o, "vs iopool");
			print_rows(rs, o, w, VIEW_RATIO);
		}
	}
	print_nulls(rs);
	for (unsigned i = 0; i < nskips; i++)
		printf("%snot run: %s: %s\n", i == 0 ? "\n" : "", skips[i].peer, skips[i].why);
}

/* An empty field (CSV) or null (JSON) for NAN. */
static void put_number(FILE *f, double v, const char *fmt, const char *none)
{
	if (isnan(v))
		fputs(none, f);
	else
		fprintf(f, fmt, v);
}

int bench_report_csv(const struct bench_results *rs, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "peer,workload,threads,ops,seconds,ops_per_sec,ns_per_op,ratio_to_iopool,"
		   "scaling_vs_1t\n");
	for (unsigned i = 0; i < rs->n; i++) {
		const struct bench_result *r = &rs->r[i];

		if (!usable(r))
			continue;
		fprintf(f, "%s,%s,%u,%llu,%.6f,%.1f,%.3f,", r->peer, r->w->name, r->threads,
			(unsigned long long)r->ops, r->seconds, ops_per_sec(r), 1e9 / ops_per_sec(r));
		put_number(f, ratio_to_iopool(rs, r), "%.4f", "");
		fputc(',', f);
		put_number(f, scaling(rs, r), "%.4f", "");
		fputc('\n', f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Our strings are names and messages: quotes, backslashes and control characters need care. */
static void put_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			fprintf(f, "\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			fprintf(f, "\\u%04x", (unsigned char)*s);
		else
			fputc(*s, f);
	}
	fputc('"', f);
}

static void json_result(FILE *f, const struct bench_results *rs, const struct bench_result *r)
{
	double ops = ops_per_sec(r);

	fputs("    {\"peer\": ", f);
	put_string(f, r->peer);
	fprintf(f, ", \"workload\": \"%s\", \"threads\": %u, \"ops\": %llu, \"seconds\": %.6f, "
		   "\"ops_per_sec\": %.1f, \"ns_per_op\": ", r->w->name, r->threads,
		(unsigned long long)r->ops, r->seconds, ops);
	put_number(f, ops > 0 ? 1e9 / ops : NAN, "%.3f", "null");
	fputs(", \"ratio_to_iopool\": ", f);
	put_number(f, ratio_to_iopool(rs, r), "%.4f", "null");
	fputs(", \"scaling_vs_1t\": ", f);
	put_number(f, scaling(rs, r), "%.4f", "null");
	fprintf(f, ", \"nulls\": %llu, \"errors\": %llu}", (unsigned long long)r->nulls,
		(unsigned long long)r->errors);
}

int bench_report_json(const struct bench_results *rs, const struct bench_opts *o,
		      const struct bench_skip *skips, unsigned nskips, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "{\n  \"cpus\": %ld,\n  \"duration_ms\": ", sysconf(_SC_NPROCESSORS_ONLN));
	if (o->ops_mode)
		fprintf(f, "null,\n  \"ops_per_thread\": %llu,\n", (unsigned long long)o->ops);
	else
		fprintf(f, "%llu,\n  \"ops_per_thread\": null,\n",
			(unsigned long long)(o->duration_ns / 1000000u));
	fprintf(f, "  \"repeat\": %u,\n  \"locked_rmw_ns\": %.3f,\n  \"results\": [\n", o->repeat,
		bench_locked_rmw_ns());
	for (unsigned i = 0; i < rs->n; i++) {
		json_result(f, rs, &rs->r[i]);
		fputs(i + 1 < rs->n ? ",\n" : "\n", f);
	}
	fputs("  ],\n  \"not_run\": [", f);
	for (unsigned i = 0; i < nskips; i++) {
		fputs(i ? ", {\"peer\": " : "{\"peer\": ", f);
		put_string(f, skips[i].peer);
		fputs(", \"why\": ", f);
		put_string(f, skips[i].why);
		fputc('}', f);
	}
	fputs("]\n}\n", f);
	return fclose(f) == 0 ? 0 : -1;
}
