/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The MFA rings' inline single-producer and single-consumer paths against
 * rte_ring's own calls: driven op for op beside a ring that only DPDK
 * touches, they return the same counts and MFAs and leave the same head and
 * tail words, across the ring's wrap and the positions' 32-bit wrap; they
 * go by the other side's tail, not its head; mixed
 * with DPDK's calls on one ring they keep its order; and an inline producer
 * and a DPDK consumer on two threads (and the other way round) hand over
 * every MFA once, in order.
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "iop_mfa_ring.h"
#include "iop_test.h"

#define ENTRIES 64u

static struct rte_ring *ring_new(unsigned flags)
{
	ssize_t bytes = iop_mfa_ring_memsize(ENTRIES);
	void *mem = NULL;

	CU_ASSERT_FATAL(bytes > 0);
	CU_ASSERT_EQUAL_FATAL(posix_memalign(&mem, 64, (size_t)bytes), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(iop_mfa_ring_init(mem, "paths", ENTRIES, flags));
	return mem;
}

/* Positions as DPDK's arithmetic leaves them on an empty ring after `done` MFAs went through. */
static void set_positions(struct rte_ring *r, uint32_t done)
{
	r->prod.head = r->prod.tail = r->cons.head = r->cons.tail = done;
}

static bool same_words(const struct rte_ring *a, const struct rte_ring *b)
{
	return a->prod.head == b->prod.head && a->prod.tail == b->prod.tail &&
	       a->cons.head == b->cons.head && a->cons.tail == b->cons.tail;
}

static uint64_t next_rand(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/*
 * Random posts and takes of 0 to capacity + 2 MFAs, the same on both rings:
 * the inline calls on one, rte_ring's burst calls on the other, starting
 * just below the positions' wrap.
 */
static void test_inline_paths_are_dpdks(void)
{
	struct rte_ring *mine = ring_new(IOP_MFA_RING_SP | IOP_MFA_RING_SC);
	struct rte_ring *dpdk = ring_new(IOP_MFA_RING_SP | IOP_MFA_RING_SC);
	uint32_t in[ENTRIES + 2], a[ENTRIES + 2], b[ENTRIES + 2], v = 0;
	uint64_t seed = 7, fulls = 0, empties = 0;

	set_positions(mine, UINT32_MAX - 1000);
	set_positions(dpdk, UINT32_MAX - 1000);
	for (unsigned op = 0; op < 200000; op++) {
		unsigned n = (unsigned)(next_rand(&seed) % (ENTRIES + 2)), got, want;

		if (next_rand(&seed) % 2) {
			for (unsigned i = 0; i < n; i++)
				in[i] = v + i;
			got = iop_mfa_ring_post(mine, in, n);
			want = rte_ring_enqueue_burst_elem(dpdk, in, IOP_MFA_RING_ESIZE, n, NULL);
			CU_ASSERT_EQUAL_FATAL(got, want);
			fulls += got < n;
			v += got;
		} else {
			got = iop_mfa_ring_take(mine, a, n);
			want = rte_ring_dequeue_burst_elem(dpdk, b, IOP_MFA_RING_ESIZE, n, NULL);
			CU_ASSERT_EQUAL_FATAL(got, want);
			for (unsigned i = 0; i < got; i++)
				CU_ASSERT_EQUAL_FATAL(a[i], b[i]);
			empties += got < n;
		}
		CU_ASSERT_TRUE_FATAL(same_words(mine, dpdk));
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_count(mine), rte_ring_count(dpdk));
	}
	/* Both limits were met, and the positions went past 2^32. */
	CU_ASSERT(fulls > 100);
	CU_ASSERT(empties > 100);
	CU_ASSERT(mine->prod.tail < UINT32_MAX - 1000);
	free(mine);
	free(dpdk);
}

/*
 * The other side's head ahead of its tail, as a producer or consumer of
 * the shared kinds leaves it in the middle of its call: a take stops at the
 * producer's tail, a post at the consumer's, never at a head.
 */
static void test_tails_not_heads(void)
{
	struct rte_ring *r = ring_new(IOP_MFA_RING_SC);
	uint32_t in[ENTRIES], out[ENTRIES];
	unsigned cap = iop_mfa_ring_capacity(r);

	for (unsigned i = 0; i < ENTRIES; i++)
		in[i] = 100 + i;
	r->prod.sync_type = RTE_RING_SYNC_ST; /* the posts below are the inline ones */
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(r, in, 5), 5);
	/* A producer has claimed 7 more slots and not yet written them. */
	r->prod.head += 7;
	CU_ASSERT_EQUAL(iop_mfa_ring_take(r, out, ENTRIES), 5);
	for (unsigned i = 0; i < 5; i++)
		CU_ASSERT_EQUAL(out[i], 100 + i);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(r, out, ENTRIES), 0);
	r->prod.head -= 7;
	/* Full, with a consumer that has claimed 3 slots and not yet given them back. */
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(r, in, cap), cap);
	r->cons.head += 3;
	CU_ASSERT_EQUAL(iop_mfa_ring_post(r, in, 1), 0);
	r->cons.head -= 3;
	CU_ASSERT_EQUAL(iop_mfa_ring_count(r), cap);
	free(r);
}

/* On one ring, each post and take made by one side or the other at random: one order. */
static void test_mixed_calls_keep_the_order(void)
{
	struct rte_ring *r = ring_new(IOP_MFA_RING_SP | IOP_MFA_RING_SC);
	uint32_t in[ENTRIES], out[ENTRIES], posted = 0, taken = 0;
	uint64_t seed = 11;

	set_positions(r, UINT32_MAX - 5000);
	for (unsigned op = 0; taken < 100000; op++) {
		CU_ASSERT_FATAL(op < 10000000); /* a side that never moves would spin here */
		unsigned n = 1 + (unsigned)(next_rand(&seed) % (ENTRIES - 1)), got;
		bool inline_call = next_rand(&seed) % 2;

		if (next_rand(&seed) % 2) {
			for (unsigned i = 0; i < n; i++)
				in[i] = posted + i;
			got = inline_call
				      ? iop_mfa_ring_post(r, in, n)
				      : rte_ring_enqueue_burst_elem(r, in, IOP_MFA_RING_ESIZE, n, NULL);
			posted += got;
		} else {
			got = inline_call
				      ? iop_mfa_ring_take(r, out, n)
				      : rte_ring_dequeue_burst_elem(r, out, IOP_MFA_RING_ESIZE, n, NULL);
			for (unsigned i = 0; i < got; i++)
				CU_ASSERT_EQUAL_FATAL(out[i], taken + i);
			taken += got;
		}
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_count(r), posted - taken);
	}
	free(r);
}

struct handover {
	struct rte_ring *r;
	uint32_t n;
	bool inline_producer;
};

static void *produce(void *arg)
{
	struct handover *h = arg;
	uint32_t in[8];

	for (uint32_t v = 0; v < h->n;) {
		unsigned n = h->n - v < 8 ? h->n - v : 1 + v % 8;

		for (unsigned i = 0; i < n; i++)
			in[i] = v + i;
		v += h->inline_producer
			     ? iop_mfa_ring_post(h->r, in, n)
			     : rte_ring_enqueue_burst_elem(h->r, in, IOP_MFA_RING_ESIZE, n, NULL);
	}
	return NULL;
}

/* One thread posts, this one takes, each with the other's calls: every MFA once, in order. */
static void handover(bool inline_producer)
{
	struct handover h = { .r = ring_new(IOP_MFA_RING_SP | IOP_MFA_RING_SC), .n = 1000000,
			      .inline_producer = inline_producer };
	uint32_t out[16], want = 0;
	pthread_t t;

	CU_ASSERT_EQUAL_FATAL(pthread_create(&t, NULL, produce, &h), 0);
	while (want < h.n) {
		unsigned got = inline_producer
				       ? rte_ring_dequeue_burst_elem(h.r, out, IOP_MFA_RING_ESIZE,
								     16, NULL)
				       : iop_mfa_ring_take(h.r, out, 16);

		for (unsigned i = 0; i < got; i++, want++)
			CU_ASSERT_EQUAL_FATAL(out[i], want);
	}
	pthread_join(t, NULL);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(h.r), 0);
	free(h.r);
}

static void test_inline_producer_dpdk_consumer(void)
{
	handover(true);
}

static void test_dpdk_producer_inline_consumer(void)
{
	handover(false);
}

static const struct iop_test_case paths_tests[] = {
	{ "inline_paths_are_dpdks", test_inline_paths_are_dpdks },
	{ "tails_not_heads", test_tails_not_heads },
	{ "mixed_calls_keep_the_order", test_mixed_calls_keep_the_order },
	{ "inline_producer_dpdk_consumer", test_inline_producer_dpdk_consumer },
	{ "dpdk_producer_inline_consumer", test_dpdk_producer_inline_consumer },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "mfa_ring_paths", paths_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
