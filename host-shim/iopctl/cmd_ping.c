/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl ping: round trips to one target, one at a time, and their latency.
 * UtilNOP gets no reply in I2O, so a ping is a UtilPrivate, which the nop DDM
 * answers at once; any reply, an error status or a FAIL reply included,
 * ends a round trip, and the ones that are not SUCCESS are counted as
 * errors. A request with no reply in the timeout ends the ping.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iop_build.h"
#include "iopctl.h"
#include "json.h"

/* Without -t: the nop DDM, else the first DDM's TID. */
#define PING_DEFAULT_TID 0x010u

struct ping {
	uint16_t tid;
	char identity[9];      /* of the default target; empty with -t */
	unsigned long sent;
	unsigned long replies; /* round trips: lat[0..replies) */
	unsigned long errors;
	char first_error[160];
	char stopped[256];     /* why the ping ended early, if it did */
	uint64_t *lat;         /* ns */
};

/* The first target whose IdentityTag is "nop", as the LCT says now. */
static int default_target(struct iopctl *s, struct ping *p)
{
	struct iopctl_lct lct;

	if (iopctl_lct_fetch(s, &lct) != 0)
		return -1;
	p->tid = PING_DEFAULT_TID;
	for (unsigned i = 0; i < lct.n; i++) {
		char id[9];

		iopctl_identity(&lct.entries[i], id);
		if (strcmp(id, "nop") == 0) {
			p->tid = lct.entries[i].local_tid;
			strcpy(p->identity, id);
			break;
		}
	}
	iopctl_lct_free(&lct);
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

/* One round trip. @return 0 (a reply came, counted), or -1 (p->stopped says why). */
static int ping_once(struct iopctl *s, struct ping *p)
{
	struct iop_completion c;
	uint32_t *f = iopctl_frame(s);
	int rc = f ? iop_build_util_private(f, IOPCTL_FRAME_BYTES, p->tid, 0, 0) : -ENOMEM;
	uint64_t t0 = now_ns();

	rc = iopctl_request(s, f, rc, &c);
	if (rc == -ETIMEDOUT)
		p->sent++; /* posted, and still the IOP's */
	/* -EIO and -EPROTO are replies too: an error status, a FAIL reply. */
	if (rc != 0 && rc != -EIO && rc != -EPROTO) {
		iopctl_failure(s, "UtilPrivate", p->tid, rc, &c, p->stopped, sizeof(p->stopped));
		return -1;
	}
	p->lat[p->replies++] = now_ns() - t0;
	p->sent++;
	if (rc != 0 && p->errors++ == 0)
		iopctl_describe(&c, p->first_error, sizeof(p->first_error));
	return 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the smallest sample with at least per_mille/1000 of them at or below it. */
static double percentile_us(const struct ping *p, unsigned per_mille)
{
	unsigned long rank = (p->replies * per_mille + 999) / 1000;

	return (double)p->lat[rank ? rank - 1 : 0] / 1000.0;
}

static const struct {
	const char *name;
	unsigned per_mille;
} points[] = {
	{ "min", 0 }, { "p50", 500 }, { "p90", 900 }, { "p99", 990 }, { "p999", 999 },
	{ "max", 1000 },
};

#define N_POINTS (sizeof(points) / sizeof(points[0]))

static void print_json(const struct ping *p)
{
	struct json j;

	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_uint(&j, "tid", p->tid);
	if (p->identity[0])
		json_string(&j, "identity", p->identity);
	else
		json_null(&j, "identity");
	json_uint(&j, "sent", p->sent);
	json_uint(&j, "replies", p->replies);
	json_uint(&j, "errors", p->errors);
	if (p->errors)
		json_string(&j, "first_error", p->first_error);
	else
		json_null(&j, "first_error");
	if (p->stopped[0])
		json_string(&j, "error", p->stopped);
	else
		json_null(&j, "error");
	if (p->replies) {
		json_object_begin(&j, "latency_us");
		for (unsigned i = 0; i < N_POINTS; i++)
			json_double(&j, points[i].name, percentile_us(p, points[i].per_mille));
		json_object_end(&j);
	} else {
		json_null(&j, "latency_us");
	}
	json_object_end(&j);
	json_end(&j);
}

static void print_text(const struct ping *p)
{
	printf("ping TID 0x%03X%s%s%s: %lu sent, %lu replies, %lu errors\n", p->tid,
	       p->identity[0] ? " (" : "", p->identity, p->identity[0] ? ")" : "", p->sent,
	       p->replies, p->errors);
	if (p->errors)
		printf("first error: %s\n", p->first_error);
	if (p->replies == 0)
		return;
	printf("latency us:");
	for (unsigned i = 0; i < N_POINTS; i++)
		printf(" %s %.2f", points[i].name, percentile_us(p, points[i].per_mille));
	printf("\n");
}

int iopctl_cmd_ping(struct iopctl *s)
{
	const struct timespec gap = { (time_t)(s->o->interval_us / 1000000),
				      (long)(s->o->interval_us % 1000000) * 1000 };
	struct ping p = { .tid = s->o->tid };
	bool ended = false;

	if (!s->o->tid_given && default_target(s, &p) != 0)
		return IOPCTL_EXIT_FAIL;
	p.lat = malloc(s->o->count * sizeof(*p.lat));
	if (p.lat == NULL) {
		iopctl_error(s->o, "out of memory for %lu samples", s->o->count);
		return IOPCTL_EXIT_FAIL;
	}
	for (unsigned long i = 0; i < s->o->count && !ended; i++) {
		if (i != 0 && s->o->interval_us != 0)
			nanosleep(&gap, NULL);
		ended = ping_once(s, &p) != 0;
	}
	qsort(p.lat, p.replies, sizeof(*p.lat), by_value);
	/* What came back so far is still worth showing; the JSON object carries the error too. */
	if (ended)
		fprintf(stderr, "iopctl: %s\n", p.stopped);
	if (s->o->json)
		print_json(&p);
	else
		print_text(&p);
	free(p.lat);
	return ended || p.errors ? IOPCTL_EXIT_FAIL : 0;
}
