/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl watch: every target's counters, refreshed every interval, with
 * per-second rates over the time since the last refresh. On a terminal the
 * table is redrawn in place; otherwise (a pipe, a file) each refresh is
 * printed after the last, and with --json each is one line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "iop_frame.h"
#include "iopctl.h"
#include "json.h"

/* The last counter is a gauge (requests in flight): it has no rate. */
#define N_RATES (IOPCTL_TARGET_STATS - 1)

struct row {
	const struct iop_lct_entry *e;
	bool have;                    /* the counters came back */
	char why[160];                /* else why not */
	uint64_t v[IOPCTL_TARGET_STATS];
	bool have_rates;
	double rate[N_RATES];
};

/* The last refresh's counters, by TID. */
struct sample {
	bool have;
	uint64_t v[IOPCTL_TARGET_STATS];
};

struct watch {
	struct iopctl *s;
	struct sample *last;          /* IOP_TID_MAX + 1 of them */
	double last_time;             /* of the last refresh, monotonic seconds; 0 before one */
	unsigned long refresh;
	bool redraw;
};

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

static double now_s(clockid_t clock)
{
	struct timespec t;

	clock_gettime(clock, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * A target's counters into r. @return 0, or -1 (reported) for a failure
 * that ends the watch. A target that went between the LCT and its turn
 * (FAIL INVALID_TARGET_ID), or one the IOP does not serve now
 * (DEVICE_NOT_AVAILABLE outside OPERATIONAL), is shown without counters.
 */
static int sample_target(struct watch *w, struct row *r, double dt)
{
	struct iop_completion c;
	struct sample *last = &w->last[r->e->local_tid];
	int rc = iopctl_target_stats(w->s, r->e->local_tid, r->v, &c);

	if ((rc == -EPROTO && c.result == -EPROTO && c.fail_code == IOP_FAIL_INVALID_TARGET_ID) ||
	    (rc == -EIO && c.dsc == IOP_DSC_DEVICE_NOT_AVAILABLE)) {
		iopctl_describe(&c, r->why, sizeof(r->why));
		last->have = false;
		return 0;
	}
	if (rc != 0) {
		iopctl_report(w->s, "UtilParamsGet 0xF000", r->e->local_tid, rc, &c);
		return -1;
	}
	r->have = true;
	/* Counters only grow; smaller ones mean a new DDM at the TID: no rate this time. */
	r->have_rates = last->have && dt > 0;
	for (unsigned k = 0; k < N_RATES && r->have_rates; k++)
		r->have_rates = r->v[k] >= last->v[k];
	for (unsigned k = 0; k < N_RATES && r->have_rates; k++)
		r->rate[k] = (double)(r->v[k] - last->v[k]) / dt;
	last->have = true;
	memcpy(last->v, r->v, sizeof(last->v));
	return 0;
}

static void print_json(const struct watch *w, const struct iopctl_lct *lct,
		       const struct row *rows, double dt)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_uint(&j, "refresh", w->refresh);
	json_double(&j, "time", now_s(CLOCK_REALTIME));
	if (dt > 0)
		json_double(&j, "elapsed_s", dt);
	else
		json_null(&j, "elapsed_s");
	json_uint(&j, "change_indicator", lct->change_indicator);
	json_array_begin(&j, "targets");
	for (unsigned i = 0; i < lct->n; i++) {
		const struct row *r = &rows[i];
		char id[9];

		iopctl_identity(r->e, id);
		json_object_begin(&j, NULL);
		json_uint(&j, "tid", r->e->local_tid);
		json_string(&j, "identity", id);
		json_string(&j, "class", iop_class_name(r->e->class_id));
		if (r->have) {
			json_object_begin(&j, "counters");
			for (unsigned k = 0; k < IOPCTL_TARGET_STATS; k++)
				json_uint(&j, iopctl_target_stat_names[k], r->v[k]);
			json_object_end(&j);
		} else {
			json_null(&j, "counters");
			json_string(&j, "unavailable", r->why);
		}
		if (r->have_rates) {
			json_object_begin(&j, "rates");
			for (unsigned k = 0; k < N_RATES; k++)
				json_double(&j, iopctl_target_stat_names[k], r->rate[k]);
			json_object_end(&j);
		} else {
			json_null(&j, "rates");
		}
		json_object_end(&j);
	}
	json_array_end(&j);
	json_object_end(&j);
	json_end(&j);
}

static void print_text(const struct watch *w, const struct iopctl_lct *lct,
		       const struct row *rows)
{
	/* Home and clear: the next table replaces this one on the screen. */
	if (w->redraw)
		fputs("\033[H\033[2J", stdout);
	else if (w->refresh > 1)
		putchar('\n');
	printf("iopd %s  refresh %lu every %.1f s  LCT change %u\n", w->s->o->socket, w->refresh,
	       w->s->o->interval_s, lct->change_indicator);
	printf("%-6s %-9s %12s %10s %12s %10s %9s %7s %7s %9s\n", "TID", "IDENTITY", "REQUESTS",
	       "REQ/S", "REPLIES", "REPLY/S", "FAILURES", "UNSUPP", "RETRIES", "IN-FLIGHT");
	for (unsigned i = 0; i < lct->n; i++) {
		const struct row *r = &rows[i];
		char id[9], req_rate[16] = "-", rep_rate[16] = "-";

		iopctl_identity(r->e, id);
		for (size_t k = 0; id[k] != '\0'; k++)
			if (id[k] < 0x20 || id[k] == 0x7F)
				id[k] = '.';
		if (!r->have) {
			printf("0x%03X  %-9s (%s)\n", r->e->local_tid, id, r->why);
			continue;
		}
		if (r->have_rates) {
			snprintf(req_rate, sizeof(req_rate), "%.1f", r->rate[0]);
			snprintf(rep_rate, sizeof(rep_rate), "%.1f", r->rate[1]);
		}
		printf("0x%03X  %-9s %12" PRIu64 " %10s %12" PRIu64 " %10s %9" PRIu64 " %7" PRIu64
		       " %7" PRIu64 " %9" PRIu64 "\n", r->e->local_tid, id, r->v[0], req_rate,
		       r->v[1], rep_rate, r->v[2], r->v[3], r->v[6], r->v[7]);
	}
	fflush(stdout);
}

/* One refresh: the LCT, then each target's counters. @return 0, or -1 (reported). */
static int refresh(struct watch *w)
{
	struct iopctl_lct lct;
	struct row *rows;
	double t, dt;
	int rc = 0;

	if (iopctl_lct_fetch(w->s, &lct) != 0)
		return -1;
	rows = calloc(lct.n ? lct.n : 1, sizeof(*rows));
	if (rows == NULL) {
		iopctl_lct_free(&lct);
		iopctl_error(w->s->o, "out of memory");
		return -1;
	}
	t = now_s(CLOCK_MONOTONIC);
	dt = w->last_time > 0 ? t - w->last_time : 0;
	w->last_time = t;
	w->refresh++;
	for (unsigned i = 0; i < lct.n && rc == 0; i++) {
		rows[i].e = &lct.entries[i];
		rc = sample_target(w, &rows[i], dt);
	}
	if (rc == 0 && w->s->o->json)
		print_json(w, &lct, rows, dt);
	else if (rc == 0)
		print_text(w, &lct, rows);
	free(rows);
	iopctl_lct_free(&lct);
	return rc;
}

/*
 * Sleep until the next refresh is due: refreshes keep to start + n *
 * interval, so the time a refresh takes does not stretch the period; one
 * that ran past its successor's time skips it. @return false if a signal
 * came.
 */
static bool wait_for_next(struct timespec *due, uint64_t interval_ns)
{
	struct timespec now;
	uint64_t due_ns, now_ns;

	clock_gettime(CLOCK_MONOTONIC, &now);
	due_ns = (uint64_t)due->tv_sec * 1000000000u + (uint64_t)due->tv_nsec;
	now_ns = (uint64_t)now.tv_sec * 1000000000u + (uint64_t)now.tv_nsec;
	do
		due_ns += interval_ns;
	while (due_ns <= now_ns);
	due->tv_sec = (time_t)(due_ns / 1000000000u);
	due->tv_nsec = (long)(due_ns % 1000000000u);
	return clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, due, NULL) == 0;
}

int iopctl_cmd_watch(struct iopctl *s)
{
	uint64_t interval_ns = (uint64_t)llround(s->o->interval_s * 1e9);
	struct sigaction sa = { .sa_handler = on_stop };
	struct watch w = { .s = s, .redraw = !s->o->json && isatty(STDOUT_FILENO) };
	struct timespec due;
	int rc = 0;

	w.last = calloc(IOP_TID_MAX + 1, sizeof(*w.last));
	if (w.last == NULL) {
		iopctl_error(s->o, "out of memory");
		return IOPCTL_EXIT_FAIL;
	}
	/* Ctrl-C ends the watch between refreshes, so iopctl still detaches itself. */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	clock_gettime(CLOCK_MONOTONIC, &due);
	for (unsigned long n = 0; !stop && (s->o->count == 0 || n < s->o->count); n++) {
		if (n != 0 && (!wait_for_next(&due, interval_ns) || stop))
			break;
		rc = refresh(&w);
		if (rc != 0)
			break;
	}
	free(w.last);
	return rc == 0 ? 0 : IOPCTL_EXIT_FAIL;
}
