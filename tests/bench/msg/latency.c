/* SPDX-License-Identifier: BSD-3-Clause */
/* Percentiles from the log-linear histogram, and the tick counter's rate. */
#include <math.h>
#include <string.h>
#include <time.h>

#include "latency.h"

void msg_hist_reset(struct msg_hist *h)
{
	memset(h, 0, sizeof(*h));
}

void msg_hist_merge(struct msg_hist *into, const struct msg_hist *from)
{
	for (unsigned i = 0; i < MSG_HIST_BUCKETS; i++)
		into->bucket[i] += from->bucket[i];
	into->n += from->n;
	if (from->max > into->max)
		into->max = from->max;
}

/* The middle of bucket i, inverting msg_hist_index(). */
static double bucket_value(unsigned i)
{
	unsigned shift;

	if (i < (1u << MSG_HIST_SUB_BITS))
		return i;
	shift = i / MSG_HIST_SUB - 1u;
	return ldexp((double)(i - shift * MSG_HIST_SUB), (int)shift) + ldexp(0.5, (int)shift);
}

double msg_hist_quantile(const struct msg_hist *h, double q)
{
	uint64_t rank, seen = 0;

	if (h->n == 0)
		return 0;
	rank = (uint64_t)ceil(q * (double)h->n);
	if (rank == 0)
		rank = 1;
	for (unsigned i = 0; i < MSG_HIST_BUCKETS; i++) {
		seen += h->bucket[i];
		if (seen >= rank) {
			double v = bucket_value(i);

			/* The middle of the top bucket may lie above the largest value in it. */
			return v > (double)h->max ? (double)h->max : v;
		}
	}
	return (double)h->max;
}

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC_RAW, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

double msg_ticks_calibrate(void)
{
	const struct timespec nap = { .tv_nsec = 50 * 1000 * 1000 };
	double t0 = now_ns(), t1;
	uint64_t c0 = msg_ticks(), c1;

	nanosleep(&nap, NULL);
	c1 = msg_ticks();
	t1 = now_ns();
	return t1 > t0 && c1 > c0 ? (double)(c1 - c0) / (t1 - t0) : 0;
}
