/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What one locked read-modify-write costs on this CPU, printed with every
 * table. A heap that refuses a double free must settle which of two racing
 * frees of one block wins, and loads and stores alone cannot settle that
 * between two threads without one waiting: every such free makes an atomic RMW
 * (or a store-load fence, as dear on x86). A cached iopool alloc+free makes
 * two (set its A bit, clear it). The peers that check nothing make none.
 * Back to back on one line this is the RMW's latency, a bound on what it costs
 * among other work rather than that cost itself (docs/benchmarks.md, "What
 * refusing a bad free costs").
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "bench.h"

#define PAIRS 1000000u
#define TRIES 5u

double bench_locked_rmw_ns(void)
{
	/* A line of its own, as the word of a block that no other thread touches. */
	static struct {
		_Alignas(64) _Atomic uint64_t word;
		char pad[64 - sizeof(uint64_t)];
	} line;
	static double best;
	unsigned lost = 0;

	if (best > 0)
		return best;
	for (unsigned t = 0; t < TRIES; t++) {
		uint64_t start = bench_now_ns();
		double ns;

		/*
		 * The two RMWs of a cached pair, as the heap makes them: set a bit
		 * (lock or), then clear it and test what it was (lock btr), acq_rel.
		 */
		for (uint32_t i = 0; i < PAIRS; i++) {
			uint64_t bit = 1ull << (i & 31u);

			atomic_fetch_or_explicit(&line.word, bit, memory_order_acq_rel);
			lost += !(atomic_fetch_and_explicit(&line.word, ~bit, memory_order_acq_rel) & bit);
		}
		/* The fastest try: the others lost the CPU, or ran at a lower clock, for a while. */
		ns = (double)(bench_now_ns() - start) / (2.0 * PAIRS);
		if (best == 0 || ns < best)
			best = ns;
	}
	/* Never true; it keeps the test of the old bit, as the heap's free has it. */
	if (lost != 0)
		fprintf(stderr, "iop-bench-heap: a bit set by this thread alone was found clear\n");
	return best;
}
