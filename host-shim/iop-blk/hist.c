/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Latency histogram: bucket = (power of two, one of 64 steps inside it), so
 * every bucket is within 1/64 of its value from 64 ns to centuries, in a
 * fixed array that threads fill alone and merge at the end.
 */
#include "blk.h"

static unsigned bucket(uint64_t ns)
{
	unsigned p;

	if (ns < BLK_HIST_SUB)
		return (unsigned)ns;
	p = 63u - (unsigned)__builtin_clzll(ns); /* ns in [2^p, 2^(p+1)), p >= 6 */
	return (p - 5u) * BLK_HIST_SUB + (unsigned)((ns >> (p - 6u)) - BLK_HIST_SUB);
}

/* The lowest value of a bucket. */
static uint64_t value(unsigned b)
{
	unsigned p = b / BLK_HIST_SUB, s = b % BLK_HIST_SUB;

	if (p == 0)
		return s;
	return (uint64_t)(BLK_HIST_SUB + s) << (p - 1u);
}

void blk_hist_add(struct blk_hist *h, uint64_t ns)
{
	unsigned b = bucket(ns);

	h->count[b < BLK_HIST_BUCKETS ? b : BLK_HIST_BUCKETS - 1]++;
	h->n++;
}

void blk_hist_merge(struct blk_hist *into, const struct blk_hist *from)
{
	for (unsigned i = 0; i < BLK_HIST_BUCKETS; i++)
		into->count[i] += from->count[i];
	into->n += from->n;
}

uint64_t blk_hist_quantile(const struct blk_hist *h, double q)
{
	uint64_t want, seen = 0;

	if (h->n == 0)
		return 0;
	want = (uint64_t)(q * (double)h->n);
	if (want >= h->n)
		want = h->n - 1;
	for (unsigned i = 0; i < BLK_HIST_BUCKETS; i++) {
		seen += h->count[i];
		if (seen > want)
			return value(i);
	}
	return value(BLK_HIST_BUCKETS - 1);
}
