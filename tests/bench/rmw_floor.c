/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What one locked read-modify-write costs on this CPU, printed with every
 * table. A heap that refuses a double free must settle which of two racing
 * frees of one block wins, and loads and stores alone cannot settle that
 * between two threads: every such free makes at least one atomic RMW. A cached
 * iopool alloc+free makes two (set its A bit, clear it). The peers that check
 * nothing make none, so this figure is the part of the gap no shorter path can
 * close (docs/benchmarks.md, "What refusing a bad free costs").
 */
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "bench.h"

#define PAIRS 1000000u
#define TRIES 5u

static uint64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

double bench_locked_rmw_ns(void)
{
	/* A line of its own, as the word of a block that no other thread touches. */
	static _Alignas(64) _Atomic uint64_t word;
	static double best;

	if (best > 0)
		return best;
	for (unsigned t = 0; t < TRIES; t++) {
		uint64_t start = now_ns();
		double ns;

		/* The two RMWs of a cached pair: set a bit, clear it, as acq_rel as the heap's. */
		for (uint32_t i = 0; i < PAIRS; i++) {
			uint64_t bit = 1ull << (i & 31u);

			atomic_fetch_or_explicit(&word, bit, memory_order_acq_rel);
			atomic_fetch_and_explicit(&word, ~bit, memory_order_acq_rel);
		}
		/* The fastest try: the others lost the CPU, or ran at a lower clock, for a while. */
		ns = (double)(now_ns() - start) / (2.0 * PAIRS);
		if (best == 0 || ns < best)
			best = ns;
	}
	return best;
}
