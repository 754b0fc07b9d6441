/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: a table per mode for people, with every case against both limits
 * of the same run, then the verdict on each target; CSV for scripts, one row
 * per run and one per median. Ratios are taken within a run (or between the
 * medians), never against numbers from another run: on a noisy machine only
 * those mean anything. A missed target is reported, never an error: timing
 * is not a test.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "msg.h"

#define REFERENCE "iopool"
#define LIMIT_A "limit-a"
#define LIMIT_B "limit-b"

/* The targets of the issue, recorded in docs/benchmarks.md. */
#define TARGET_BURST_MRT 10.0
#define TARGET_BURST_VS_B 0.3
#define TARGET_ONE_P99_VS_A 2.0
/*
 * Above this much of a CPU used by others during a run, the report says the
 * machine was busy. An idle project VM shows about 0.05 (its agent, kernel
 * threads); a compiler or a test suite, 0.5 and more.
 */
#define QUIET_CPUS 0.15

static const char *const mode_titles[MSG_NMODES] = {
	[MSG_ONE] = "one at a time: 1 request in flight",
	[MSG_BURST32] = "burst 32: 32 requests in flight, refilled as replies come",
};

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median_of(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), by_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

void msg_fig_from_run(struct msg_fig *f, const struct msg_run *r, double ticks_per_ns)
{
	f->ok = r->errors == 0 && r->round_trips != 0 && r->seconds > 0;
	f->round_trips = r->round_trips;
	f->seconds = r->seconds;
	f->mrt_per_sec = r->seconds > 0 ? (double)r->round_trips / r->seconds / 1e6 : 0;
	f->p50_ns = msg_hist_quantile(&r->hist, 0.5) / ticks_per_ns;
	f->p99_ns = msg_hist_quantile(&r->hist, 0.99) / ticks_per_ns;
	f->p999_ns = msg_hist_quantile(&r->hist, 0.999) / ticks_per_ns;
	f->max_ns = (double)r->hist.max / ticks_per_ns;
}

void msg_fig_median(struct msg_fig *f, const struct msg_fig *const *runs, unsigned n)
{
	double v[6][MSG_MAX_REPEAT];

	memset(f, 0, sizeof(*f));
	f->ok = n != 0;
	for (unsigned i = 0; i < n; i++) {
		const struct msg_fig *r = runs[i];

		f->ok &= r->ok;
		f->round_trips = r->round_trips;
		f->others_cpus = i == 0 || r->others_cpus > f->others_cpus ? r->others_cpus :
									      f->others_cpus;
		f->steal_cpus = i == 0 || r->steal_cpus > f->steal_cpus ? r->steal_cpus :
									   f->steal_cpus;
		v[0][i] = r->seconds;
		v[1][i] = r->mrt_per_sec;
		v[2][i] = r->p50_ns;
		v[3][i] = r->p99_ns;
		v[4][i] = r->p999_ns;
		v[5][i] = r->max_ns;
	}
	if (n == 0)
		return;
	f->seconds = median_of(v[0], n);
	f->mrt_per_sec = median_of(v[1], n);
	f->p50_ns = median_of(v[2], n);
	f->p99_ns = median_of(v[3], n);
	f->p999_ns = median_of(v[4], n);
	f->max_ns = median_of(v[5], n);
}

static int case_index(const struct msg_report *r, const char *key)
{
	for (unsigned i = 0; i < r->ncases; i++)
		if (strcmp(r->cases[i]->key, key) == 0)
			return (int)i;
	return -1;
}

/* The figure of case `key` in a row of ncases figures; NULL when not run or not ok. */
static const struct msg_fig *fig_of(const struct msg_report *r, const struct msg_fig *row,
				    const char *key)
{
	int i = case_index(r, key);

	return i >= 0 && row[i].ok ? &row[i] : NULL;
}

static double rate_ratio(const struct msg_fig *f, const struct msg_fig *base)
{
	return f != NULL && f->ok && base != NULL ? f->mrt_per_sec / base->mrt_per_sec : NAN;
}

static double p99_ratio(const struct msg_fig *f, const struct msg_fig *base)
{
	return f != NULL && f->ok && base != NULL && base->p99_ns > 0 ? f->p99_ns / base->p99_ns :
									 NAN;
}

static void print_ratio(double v)
{
	if (isnan(v))
		printf(" %9s", "-");
	else
		printf(" %8.2fx", v);
}

/* The worst any run saw: one busy neighbour on 2 CPUs is enough to make a run meaningless. */
static void print_load(const struct msg_report *r)
{
	double others = -1, steal = -1;

	for (unsigned i = 0; i < r->repeat * MSG_NMODES * r->ncases; i++) {
		if (r->runs[i].others_cpus > others)
			others = r->runs[i].others_cpus;
		if (r->runs[i].steal_cpus > steal)
			steal = r->runs[i].steal_cpus;
	}
	if (others < 0) {
		printf("  load of others during the runs: unknown (no /proc/stat)\n");
		return;
	}
	printf("  load of others during the runs: at most %.2f CPUs busy outside this process, "
	       "%.2f CPUs stolen by the hypervisor%s\n", others, steal,
	       others > QUIET_CPUS || steal > QUIET_CPUS ? ": NOT QUIET, only ratios within "
							   "a run may mean anything" : "");
}

static void print_setup(const struct msg_report *r)
{
	if (r->pairs == 1)
		printf("iop-bench-msg: host thread on CPU %d, IOP thread on CPU %d (%ld CPUs online)%s\n",
		       r->cpus[0].host, r->cpus[0].iop, sysconf(_SC_NPROCESSORS_ONLN),
		       r->shared ? ": ONE CPU SHARED, waiters yield, latency is the scheduler's" : "");
	else {
		printf("iop-bench-msg: %u pairs at once, host -> IOP CPUs", r->pairs);
		for (unsigned i = 0; i < r->pairs; i++)
			printf("%s %d->%d", i ? "," : "", r->cpus[i].host, r->cpus[i].iop);
		printf(" (%ld CPUs online)%s\n", sysconf(_SC_NPROCESSORS_ONLN),
		       r->shared ? ": CPUS SHARED, waiters yield, latency is the scheduler's" : "");
		printf("  rates are of all pairs together, latencies of all their round trips\n");
	}
	printf("  round trips per case%s: %llu one at a time, %llu in bursts (after %llu and %llu "
	       "not measured); TSC %.3f ticks/ns", r->pairs > 1 ? " and pair" : "",
	       (unsigned long long)r->count[MSG_ONE], (unsigned long long)r->count[MSG_BURST32],
	       (unsigned long long)r->warmup[MSG_ONE], (unsigned long long)r->warmup[MSG_BURST32],
	       r->ticks_per_ns);
	if (r->repeat > 1)
		printf("; median of %u runs", r->repeat);
	printf("\n");
	for (unsigned i = 0; i < r->ncases; i++)
		printf("  %-16s %s\n", r->cases[i]->name, r->cases[i]->what);
	print_load(r);
}

static void print_mode(const struct msg_report *r, enum msg_mode m)
{
	const struct msg_fig *row = &r->median[m * r->ncases];
	const struct msg_fig *a = fig_of(r, row, LIMIT_A), *b = fig_of(r, row, LIMIT_B);

	printf("\n%s\n", mode_titles[m]);
	printf("%-16s %8s %8s %8s %8s %9s %9s %9s %9s\n", "case", "M rt/s", "p50 ns", "p99 ns",
	       "p999 ns", "rate/(b)", "rate/(a)", "p99/(b)", "p99/(a)");
	for (unsigned i = 0; i < r->ncases; i++) {
		const struct msg_fig *f = &row[i];

		printf("%-16s", r->cases[i]->name);
		if (!f->ok) {
			printf(" %8s\n", "ERR");
			continue;
		}
		printf(" %8.2f %8.0f %8.0f %8.0f", f->mrt_per_sec, f->p50_ns, f->p99_ns,
		       f->p999_ns);
		print_ratio(rate_ratio(f, b));
		print_ratio(rate_ratio(f, a));
		print_ratio(p99_ratio(f, b));
		print_ratio(p99_ratio(f, a));
		printf("\n");
	}
}

static const char *verdict(bool met)
{
	return met ? "met" : "MISSED";
}

static void print_targets(const struct msg_report *r)
{
	const struct msg_fig *one = &r->median[MSG_ONE * r->ncases];
	const struct msg_fig *burst = &r->median[MSG_BURST32 * r->ncases];
	const struct msg_fig *io = fig_of(r, one, REFERENCE), *a = fig_of(r, one, LIMIT_A);
	const struct msg_fig *ib = fig_of(r, burst, REFERENCE), *b = fig_of(r, burst, LIMIT_B);
	double vb = rate_ratio(ib, b), va = p99_ratio(io, a);

	if (r->pairs > 1) {
		printf("\ntargets (docs/benchmarks.md) are for one pair; with %u, compare each "
		       "case's rate with its one-pair run\n", r->pairs);
		return;
	}
	printf("\ntargets (docs/benchmarks.md):\n");
	if (ib != NULL)
		printf("  burst 32: iopool %.2f M round trips/s >= %.0f M/s: %s\n", ib->mrt_per_sec,
		       TARGET_BURST_MRT, verdict(ib->mrt_per_sec >= TARGET_BURST_MRT));
	else
		printf("  burst 32: iopool >= %.0f M round trips/s: not measured\n",
		       TARGET_BURST_MRT);
	if (!isnan(vb))
		printf("  burst 32: iopool %.2fx limit (b) >= %.1fx: %s\n", vb, TARGET_BURST_VS_B,
		       verdict(vb >= TARGET_BURST_VS_B));
	else
		printf("  burst 32: iopool >= %.1fx limit (b): not measured\n", TARGET_BURST_VS_B);
	if (!isnan(va))
		printf("  one at a time: iopool p99 %.0f ns = %.2fx limit (a) p99 %.0f ns "
		       "<= %.0fx: %s\n", io->p99_ns, va, a->p99_ns, TARGET_ONE_P99_VS_A,
		       verdict(va <= TARGET_ONE_P99_VS_A));
	else
		printf("  one at a time: iopool p99 <= %.0fx limit (a) p99: not measured\n",
		       TARGET_ONE_P99_VS_A);
}

void msg_report_table(const struct msg_report *r)
{
	print_setup(r);
	for (unsigned m = 0; m < MSG_NMODES; m++)
		print_mode(r, m);
	print_targets(r);
}

const char *msg_mode_name(enum msg_mode mode)
{
	return mode == MSG_ONE ? "one" : "burst32";
}

static void put_ratio(FILE *f, double v)
{
	if (!isnan(v))
		fprintf(f, "%.4f", v);
}

static void csv_row(FILE *f, const struct msg_report *r, const char *run, enum msg_mode m,
		    const struct msg_fig *row, unsigned i)
{
	const struct msg_fig *x = &row[i];
	const struct msg_fig *a = fig_of(r, row, LIMIT_A), *b = fig_of(r, row, LIMIT_B);

	fprintf(f, "%s,%u,%s,%s,%d,%llu,%.6f,%.4f,%.1f,%.1f,%.1f,%.1f,", run, r->pairs,
		msg_mode_name(m), r->cases[i]->key, x->ok, (unsigned long long)x->round_trips, x->seconds,
		x->mrt_per_sec, x->p50_ns, x->p99_ns, x->p999_ns, x->max_ns);
	put_ratio(f, rate_ratio(x, b));
	fputc(',', f);
	put_ratio(f, rate_ratio(x, a));
	fputc(',', f);
	put_ratio(f, p99_ratio(x, b));
	fputc(',', f);
	put_ratio(f, p99_ratio(x, a));
	fprintf(f, ",%.3f,%.3f\n", x->others_cpus, x->steal_cpus);
}

int msg_report_csv(const struct msg_report *r, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fprintf(f, "run,pairs,mode,case,ok,round_trips,seconds,mrt_per_sec,p50_ns,p99_ns,p999_ns,max_ns,"
		   "rate_vs_limit_b,rate_vs_limit_a,p99_vs_limit_b,p99_vs_limit_a,others_cpus,"
		   "steal_cpus\n");
	for (unsigned rep = 0; rep < r->repeat; rep++) {
		char run[16];

		snprintf(run, sizeof(run), "%u", rep + 1);
		for (unsigned m = 0; m < MSG_NMODES; m++)
			for (unsigned i = 0; i < r->ncases; i++)
				csv_row(f, r, run, m,
					&r->runs[(rep * MSG_NMODES + m) * r->ncases], i);
	}
	for (unsigned m = 0; m < MSG_NMODES; m++)
		for (unsigned i = 0; i < r->ncases; i++)
			csv_row(f, r, "median", m, &r->median[m * r->ncases], i);
	return fclose(f) == 0 ? 0 : -1;
}
