/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency of round trips: a tick counter (the TSC through rte_rdtsc(), read
 * without the EAL and calibrated here against CLOCK_MONOTONIC_RAW) and a
 * log-linear histogram of tick counts, from which the percentiles come.
 *
 * The histogram keeps every value below 2^MSG_HIST_SUB_BITS exactly and any
 * larger one in a bucket 1/2^(MSG_HIST_SUB_BITS - 1) of its size wide, so a
 * percentile is within 0.8 % of the value it names, in fixed memory, with one
 * increment per round trip: no array of samples to sort, whatever the count.
 */
#ifndef IOP_BENCH_MSG_LATENCY_H
#define IOP_BENCH_MSG_LATENCY_H

#include <stdint.h>

#include <rte_cycles.h>

#define MSG_HIST_SUB_BITS 8u
#define MSG_HIST_SUB (1u << (MSG_HIST_SUB_BITS - 1))
/* Values below 2^SUB_BITS one bucket each; above, SUB buckets per power of two up to 2^64. */
#define MSG_HIST_BUCKETS ((64u - MSG_HIST_SUB_BITS + 2u) * MSG_HIST_SUB)

struct msg_hist {
	uint64_t n;
	uint64_t max;
	uint64_t bucket[MSG_HIST_BUCKETS];
};

static inline uint64_t msg_ticks(void)
{
	return rte_rdtsc();
}

static inline unsigned msg_hist_index(uint64_t v)
{
	unsigned shift;

	if (v < (1u << MSG_HIST_SUB_BITS))
		return (unsigned)v;
	/* v >> shift is in [SUB, 2 SUB): the top SUB_BITS - 1 bits below the leading one. */
	shift = 63u - (unsigned)__builtin_clzll(v) - (MSG_HIST_SUB_BITS - 1u);
	return shift * MSG_HIST_SUB + (unsigned)(v >> shift);
}

static inline void msg_hist_add(struct msg_hist *h, uint64_t ticks)
{
	h->bucket[msg_hist_index(ticks)]++;
	h->n++;
	if (ticks > h->max)
		h->max = ticks;
}

/* Empty the histogram. */
void msg_hist_reset(struct msg_hist *h);

/* Add the values of from to into. */
void msg_hist_merge(struct msg_hist *into, const struct msg_hist *from);

/*
 * The q-quantile (0 < q <= 1) in ticks: the middle of the bucket that holds
 * the ceil(q n)-th smallest value, or the exact value below 2^SUB_BITS; 0 for
 * an empty histogram.
 */
double msg_hist_quantile(const struct msg_hist *h, double q);

/* Ticks per nanosecond, measured over about 50 ms; 0 when the clock cannot be read. */
double msg_ticks_calibrate(void);

#endif /* IOP_BENCH_MSG_LATENCY_H */
