/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The verify pattern: each 64-bit word a mix of the block's address, the
 * word's index and the run's seed, and the last word a checksum (FNV-1a) of
 * all the others. A read that returns damaged bytes fails the checksum; one
 * that returns another block's data (or an older run's) has a good checksum
 * but not this address's words.
 */
#include <string.h>

#include "blk.h"

static uint64_t mix(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static uint64_t checksum(const uint64_t *w, size_t n)
{
	uint64_t h = 0xCBF29CE484222325ull;
	const unsigned char *p = (const unsigned char *)w;

	for (size_t i = 0; i < n * 8; i++)
		h = (h ^ p[i]) * 0x100000001B3ull;
	return h;
}

void blk_pattern_fill(void *buf, uint32_t bs, uint64_t addr, uint64_t seed)
{
	uint64_t *w = buf;
	size_t n = bs / 8;

	for (size_t i = 0; i + 1 < n; i++)
		w[i] = mix(seed ^ mix(addr + i));
	w[n - 1] = checksum(w, n - 1);
}

int blk_pattern_check(const void *buf, uint32_t bs, uint64_t addr, uint64_t seed)
{
	const uint64_t *w = buf;
	size_t n = bs / 8;

	if (checksum(w, n - 1) != w[n - 1])
		return 1;
	for (size_t i = 0; i + 1 < n; i++)
		if (w[i] != mix(seed ^ mix(addr + i)))
			return 2;
	return 0;
}
