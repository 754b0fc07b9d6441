/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Channels and their MFA rings: a slot's life and its generation checks,
 * rings laid out in the window and used through two mappings, free lists
 * given back when a slot is reclaimed, back-pressure
 * that loses nothing, many host threads each on its own channel with several
 * repliers, and a host killed mid-post that stalls nobody.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iop_channel.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_test.h"
#include "iop_window.h"

static struct iop_window *window_with(unsigned channels, unsigned entries)
{
	struct iop_window_opts o = { .inbound_bytes = 1 << 20, .outbound_bytes = 1 << 20,
				     .channels = channels, .ring_entries = entries };
	struct iop_window *w = iop_window_create(&o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	return w;
}

static void test_slot_life(void)
{
	struct iop_window *w = window_with(2, 64);
	struct iop_channel a, b, c, seen;

	CU_ASSERT_EQUAL(iop_window_channels(w), 2);
	CU_ASSERT_EQUAL(iop_channel_lookup(w, 0, &seen), IOP_CHANNEL_FREE);
	CU_ASSERT_PTR_NULL(seen.to_iop); /* no rings to use in a free slot */
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &a), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &b), 0);
	CU_ASSERT_NOT_EQUAL(a.id, b.id);
	CU_ASSERT_EQUAL(a.owner_pid, getpid());
	CU_ASSERT_EQUAL(iop_channel_open(w, &c), -ENOSPC);
	CU_ASSERT_EQUAL(iop_channel_lookup(w, a.id, &seen), IOP_CHANNEL_OPEN);
	CU_ASSERT_PTR_EQUAL(seen.to_iop, a.to_iop);
	CU_ASSERT_PTR_EQUAL(seen.to_host, a.to_host);
	CU_ASSERT_EQUAL(seen.generation, a.generation);
	CU_ASSERT_EQUAL(iop_mfa_ring_capacity(a.to_iop), 63);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(a.to_host), 0);

	/* Reclaim only what the host has closed. */
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation), -EBUSY);
	CU_ASSERT_EQUAL(iop_channel_close(w, &a), 0);
	CU_ASSERT_EQUAL(iop_channel_close(w, &a), -ESTALE); /* once per opening */
	CU_ASSERT_EQUAL(iop_channel_lookup(w, a.id, &seen), IOP_CHANNEL_CLOSED);
	CU_ASSERT_PTR_NOT_NULL(seen.to_iop); /* still the IOP's to drain */
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation + 1), -ESTALE);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation), 0);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation), -EBUSY);

	/* The slot comes back as a new generation; the old handle is stale. */
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &c), 0);
	CU_ASSERT_EQUAL(c.id, a.id);
	CU_ASSERT_EQUAL(c.generation, a.generation + 1);
	CU_ASSERT_EQUAL(iop_channel_close(w, &a), -ESTALE);
	CU_ASSERT_EQUAL(iop_channel_lookup(w, c.id, &seen), IOP_CHANNEL_OPEN);

	CU_ASSERT_EQUAL(iop_channel_lookup(w, 2, &seen), -EINVAL);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, 7, 0), -EINVAL);
	CU_ASSERT_EQUAL(iop_channel_open(NULL, &c), -EINVAL);
	iop_window_close(w);
}

/*
 * Every change of a slot's word moves the table's count, and nothing else
 * does: a poll loop that sees it unchanged has nothing to look up again.
 */
static void test_changes_counted(void)
{
	struct iop_window *w = window_with(2, 64);
	const _Atomic uint64_t *changes = iop_channel_changes(w);
	struct iop_channel a, seen;
	uint64_t n;

	CU_ASSERT_PTR_NOT_NULL_FATAL(changes);
	CU_ASSERT_PTR_NULL(iop_channel_changes(NULL));
	CU_ASSERT_EQUAL(atomic_load(changes), 0); /* a new window */
	/* Opening writes the word twice (FREE -> CLAIMED -> OPEN): two counts. */
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &a), 0);
	n = atomic_load(changes);
	CU_ASSERT_EQUAL(n, 2);
	CU_ASSERT_EQUAL(iop_channel_lookup(w, a.id, &seen), IOP_CHANNEL_OPEN);
	CU_ASSERT_EQUAL(iop_channel_close(w, &a), 0);
	CU_ASSERT_EQUAL(atomic_load(changes), n + 1);
	n = atomic_load(changes);
	/* Refused transitions change no word: no count. */
	CU_ASSERT_EQUAL(iop_channel_close(w, &a), -ESTALE);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation + 1), -ESTALE);
	CU_ASSERT_EQUAL(atomic_load(changes), n);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, a.id, a.generation), 0);
	CU_ASSERT_EQUAL(atomic_load(changes), n + 1);
	iop_window_close(w);
}

/* A reopened slot's rings start empty, whatever the last owner left. */
static void test_reopen_starts_empty(void)
{
	struct iop_window *w = window_with(1, 16);
	struct iop_channel ch;
	uint32_t mfa = 4096;

	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(ch.to_iop, &mfa, 1), 1);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(ch.to_host, &mfa, 1), 1);
	CU_ASSERT_EQUAL(iop_channel_close(w, &ch), 0);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, ch.id, ch.generation), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.to_iop), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.to_host), 0);
	iop_window_close(w);
}

/* A frame of h, tagged `owner`, and its MFA. */
static uint32_t tagged_frame(struct iop_window *w, struct iop_heap *h, size_t bytes,
			     uint16_t owner, void **frame)
{
	*frame = iop_heap_alloc_tagged(h, bytes, owner);
	CU_ASSERT_PTR_NOT_NULL_FATAL(*frame);
	return iop_window_mfa(w, *frame);
}

/*
 * The free lists are laid out empty with the other rings, and what is left
 * on them when the slot is reclaimed goes back to the heaps: the frames of
 * the slot's owner in the list's own heap (on free_to_iop, marked ones,
 * each once however often it is listed), and nothing else a host put there
 * (another owner's frame, a frame of the other heap, a free block, a
 * block's middle, an unmarked reply frame), which stays as it was.
 */
static void test_reclaim_gives_back_the_free_lists(void)
{
	enum { OWNER = 0x42, OTHER = 0x43 };
	struct iop_window *w = window_with(1, 16);
	struct iop_heap *in = iop_window_inbound(w), *out = iop_window_outbound(w);
	struct iop_heap_stats s0, s1;
	struct iop_channel ch;
	void *req, *rep, *other, *wrong_heap, *freed, *unmarked;
	uint32_t to_host[2], to_iop[6];

	CU_ASSERT_EQUAL_FATAL(iop_channel_open_as(w, &ch, OWNER), 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ch.free_to_host);
	CU_ASSERT_PTR_NOT_NULL_FATAL(ch.free_to_iop);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.free_to_host), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.free_to_iop), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_capacity(ch.free_to_iop), 15);

	to_host[0] = tagged_frame(w, in, 64, OWNER, &req);
	to_host[1] = to_host[0] + 16; /* inside that block */
	to_iop[0] = tagged_frame(w, out, 64, OWNER, &rep);
	*(uint32_t *)rep = htole32(IOP_FREE_FRAME_MARK);
	to_iop[1] = tagged_frame(w, out, 64, OTHER, &other);
	to_iop[2] = tagged_frame(w, in, 64, OWNER, &wrong_heap);
	to_iop[3] = tagged_frame(w, out, 64, OWNER, &freed);
	to_iop[4] = tagged_frame(w, out, 64, OWNER, &unmarked);
	to_iop[5] = to_iop[0]; /* twice: the second entry finds it free */
	CU_ASSERT_EQUAL(iop_heap_free(out, freed, 64), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(ch.free_to_host, to_host, 2), 2);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(ch.free_to_iop, to_iop, 6), 6);
	iop_heap_stats(out, &s0);

	CU_ASSERT_EQUAL(iop_channel_close(w, &ch), 0);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, ch.id, ch.generation), 0);
	CU_ASSERT_EQUAL(iop_heap_allocated_size(in, req), 0);
	CU_ASSERT_EQUAL(iop_heap_allocated_size(out, rep), 0);
	CU_ASSERT_EQUAL(iop_heap_allocated_size(out, other), 64);
	CU_ASSERT_EQUAL(iop_heap_tag(out, other), OTHER);
	CU_ASSERT_EQUAL(iop_heap_allocated_size(in, wrong_heap), 64);
	CU_ASSERT_EQUAL(iop_heap_allocated_size(out, unmarked), 64);
	iop_heap_stats(out, &s1);
	CU_ASSERT_EQUAL(s1.bytes_in_use, s0.bytes_in_use - 64); /* rep, and no more */
	CU_ASSERT_EQUAL(s1.refused_frees, s0.refused_frees);

	CU_ASSERT_EQUAL_FATAL(iop_channel_open_as(w, &ch, OWNER), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.free_to_host), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.free_to_iop), 0);
	iop_window_close(w);
}

/*
 * Free lists only where the heap dwarfs what they and both sides of every
 * channel could hold: a window with 1 MiB heaps and 8 channels has them, for
 * frames of the smallest block; one with 64 KiB heaps has none.
 */
static void test_free_lists_only_in_heaps_large_enough(void)
{
	struct iop_window_opts small = { .inbound_bytes = 64 << 10, .outbound_bytes = 64 << 10,
					 .channels = 8, .ring_entries = 64 };
	struct iop_window *w = window_with(8, 64), *s = iop_window_create(&small);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(iop_channel_free_list_block(w, iop_window_inbound(w)),
			iop_heap_min_block(iop_window_inbound(w)));
	CU_ASSERT_EQUAL(iop_channel_free_list_block(w, iop_window_outbound(w)),
			iop_heap_min_block(iop_window_outbound(w)));
	CU_ASSERT_EQUAL(iop_channel_free_list_block(s, iop_window_inbound(s)), 0);
	CU_ASSERT_EQUAL(iop_channel_free_list_block(s, iop_window_outbound(s)), 0);
	iop_window_close(s);
	iop_window_close(w);
}

/* A full ring takes what fits and says so; the rest is posted later, in order. */
static void test_back_pressure_loses_nothing(void)
{
	struct iop_window *w = window_with(1, 16);
	struct iop_channel ch;
	uint32_t out[40], in[40];
	unsigned posted = 0, taken = 0, n;

	for (unsigned i = 0; i < 40; i++)
		out[i] = 0x1000 + 64 * i;
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	n = iop_mfa_ring_post(ch.to_iop, out, 40);
	CU_ASSERT_EQUAL(n, 15); /* 16 entries hold 15 */
	CU_ASSERT_EQUAL(iop_mfa_ring_post(ch.to_iop, out + n, 40 - n), 0);
	posted = n;
	while (taken < 40) {
		n = iop_mfa_ring_take(ch.to_iop, in + taken, 7);
		CU_ASSERT_FATAL(n > 0);
		taken += n;
		posted += iop_mfa_ring_post(ch.to_iop, out + posted, 40 - posted);
	}
	CU_ASSERT_EQUAL(posted, 40);
	CU_ASSERT_EQUAL(memcmp(in, out, sizeof(out)), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(ch.to_iop, in, 1), 0);
	iop_window_close(w);
}

struct peek_run {
	struct rte_ring *r;
	unsigned n;
};

static void *post_in_order(void *arg)
{
	struct peek_run *pr = arg;

	for (uint32_t v = 0; v < pr->n;)
		v += iop_mfa_ring_post(pr->r, &v, 1);
	return NULL;
}

/*
 * A channel of a 16-entry window, ch, whose to_iop ring is empty at first
 * (neither a peek nor a take of one finds anything there, or writes *mfa),
 * and which a thread then fills with 0, 1, ... pr->n - 1 in order.
 */
static struct iop_window *window_with_poster(struct iop_channel *ch, struct peek_run *pr,
					     pthread_t *t)
{
	struct iop_window *w = window_with(1, 16);
	uint32_t mfa = 7;

	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, ch), 0);
	CU_ASSERT_FALSE(iop_mfa_ring_peek(ch->to_iop, &mfa));
	CU_ASSERT_FALSE(iop_mfa_ring_take_one(ch->to_iop, &mfa));
	CU_ASSERT_EQUAL(mfa, 7);
	pr->r = ch->to_iop;
	CU_ASSERT_EQUAL_FATAL(pthread_create(t, NULL, post_in_order, pr), 0);
	return w;
}

/*
 * iop_mfa_ring_peek() names what the next take returns, and leaves it
 * there: on an empty ring, across the ring's wrap, and while a producer
 * thread posts on the other side.
 */
static void test_peek_is_the_next_take(void)
{
	struct peek_run pr = { .n = 200000 };
	struct iop_channel ch;
	uint32_t mfa, got;
	pthread_t t;
	struct iop_window *w = window_with_poster(&ch, &pr, &t);

	for (uint32_t want = 0; want < pr.n;) {
		if (!iop_mfa_ring_peek(ch.to_iop, &mfa))
			continue;
		CU_ASSERT_EQUAL_FATAL(mfa, want);
		CU_ASSERT_TRUE_FATAL(iop_mfa_ring_peek(ch.to_iop, &mfa) && mfa == want);
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_take(ch.to_iop, &got, 1), 1);
		CU_ASSERT_EQUAL_FATAL(got, want);
		want++;
	}
	pthread_join(t, NULL);
	CU_ASSERT_FALSE(iop_mfa_ring_peek(ch.to_iop, &mfa));
	iop_window_close(w);
}

/*
 * iop_mfa_ring_take_one() takes what a take of one would, in order, mixed
 * with takes of bursts, across the ring's wrap and against a producer
 * thread; and it frees the slot: a ring drained by it takes a full load
 * again.
 */
static void test_take_one_is_a_take_of_one(void)
{
	struct peek_run pr = { .n = 200000 };
	struct iop_channel ch;
	uint32_t mfa, got[3];
	unsigned cap, turn = 0;
	pthread_t t;
	struct iop_window *w = window_with_poster(&ch, &pr, &t);

	for (uint32_t want = 0; want < pr.n; turn++) {
		unsigned n = turn % 3 != 2 ? (unsigned)iop_mfa_ring_take_one(ch.to_iop, &got[0])
					   : iop_mfa_ring_take(ch.to_iop, got, 3);

		for (unsigned i = 0; i < n; i++, want++)
			CU_ASSERT_EQUAL_FATAL(got[i], want);
	}
	pthread_join(t, NULL);
	CU_ASSERT_FALSE(iop_mfa_ring_take_one(ch.to_iop, &mfa));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.to_iop), 0);
	/* Every slot free again: a full ring's worth goes in, and comes out one by one. */
	cap = iop_mfa_ring_capacity(ch.to_iop);
	for (uint32_t v = 0; v < cap; v++)
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(ch.to_iop, &v, 1), 1);
	for (uint32_t v = 0; v < cap; v++)
		CU_ASSERT_TRUE_FATAL(iop_mfa_ring_take_one(ch.to_iop, &mfa) && mfa == v);
	CU_ASSERT_FALSE(iop_mfa_ring_take_one(ch.to_iop, &mfa));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.to_iop), 0);
	for (uint32_t v = 0; v < cap; v++)
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(ch.to_iop, &v, 1), 1);
	iop_window_close(w);
}

/*
 * The ring's 32-bit positions wrap past 2^32 (after 4 G MFAs in a ring's
 * life): a take of one finds the ring empty and full just as before. The
 * positions are set near the wrap on an empty ring, as DPDK's own
 * arithmetic would have left them.
 */
static void test_take_one_across_the_index_wrap(void)
{
	struct iop_window *w = window_with(1, 16);
	struct iop_channel ch;
	struct rte_ring *r;
	uint32_t mfa, v = 0, want = 0;

	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	r = ch.to_iop;
	r->prod.head = r->prod.tail = r->cons.head = r->cons.tail = UINT32_MAX - 20;
	for (unsigned round = 0; round < 16; round++) {
		for (unsigned k = 0; k < 3; k++, v++)
			CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(r, &v, 1), 1);
		for (unsigned k = 0; k < 3; k++, want++)
			CU_ASSERT_TRUE_FATAL(iop_mfa_ring_take_one(r, &mfa) && mfa == want);
		CU_ASSERT_FALSE_FATAL(iop_mfa_ring_take_one(r, &mfa));
	}
	CU_ASSERT(r->cons.tail < 100); /* it did wrap */
	CU_ASSERT_EQUAL(iop_mfa_ring_count(r), 0);
	iop_window_close(w);
}

struct two_posters {
	struct rte_ring *r;
	unsigned n;
	_Atomic unsigned next_id;
};

/* Posts id, id + 2, id + 4, ... on a multi-producer ring, beside another poster. */
static void *post_every_other(void *arg)
{
	struct two_posters *tp = arg;
	uint32_t id = atomic_fetch_add(&tp->next_id, 1);

	for (uint32_t v = id; v < 2 * tp->n;)
		v += 2 * iop_mfa_ring_post(tp->r, &v, 1);
	return NULL;
}

/*
 * A take of one from a ring with several producers of the relaxed-tail kind
 * (a channel's reply ring, which the lcores of an IOP share): each
 * producer's MFAs in its order, none lost or seen twice, mixed with takes of
 * bursts.
 */
static void test_take_one_behind_two_producers(void)
{
	struct iop_window *w = window_with(1, 16);
	struct two_posters tp = { .n = 100000 };
	struct iop_channel ch;
	uint32_t next[2] = { 0, 1 }, got[3];
	pthread_t t[2];

	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	tp.r = ch.to_host;
	for (unsigned i = 0; i < 2; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, post_every_other, &tp), 0);
	for (unsigned taken = 0, turn = 0; taken < 2 * tp.n; turn++) {
		unsigned n = turn % 3 != 2 ? (unsigned)iop_mfa_ring_take_one(ch.to_host, &got[0])
					   : iop_mfa_ring_take(ch.to_host, got, 3);

		for (unsigned i = 0; i < n; i++, taken++) {
			CU_ASSERT_EQUAL_FATAL(got[i], next[got[i] % 2]);
			next[got[i] % 2] += 2;
		}
	}
	for (unsigned i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	CU_ASSERT_FALSE(iop_mfa_ring_take_one(ch.to_host, &got[0]));
	CU_ASSERT_EQUAL(iop_mfa_ring_count(ch.to_host), 0);
	iop_window_close(w);
}

/* Opened through one mapping, used through another at another address. */
static void test_rings_shared_between_mappings(void)
{
	struct iop_window *w = window_with(4, 64);
	struct iop_window *a = iop_window_attach(iop_window_fd(w));
	struct iop_channel host, iop;
	uint32_t mfas[3] = { 4096, 8192, 12288 }, got[3];

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(iop_window_channels(a), 4);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(a, &host), 0);
	CU_ASSERT_EQUAL(iop_channel_lookup(w, host.id, &iop), IOP_CHANNEL_OPEN);
	CU_ASSERT_PTR_NOT_EQUAL(iop.to_iop, host.to_iop);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(host.to_iop, mfas, 3), 3);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(iop.to_iop, got, 3), 3);
	CU_ASSERT_EQUAL(memcmp(got, mfas, sizeof(got)), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_post(iop.to_host, mfas, 3), 3);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(host.to_host, got, 3), 3);
	CU_ASSERT_EQUAL(memcmp(got, mfas, sizeof(got)), 0);
	iop_window_close(a);
	iop_window_close(w);
}

static void test_bad_window_options(void)
{
	const struct iop_window_opts bad[] = {
		{ .channels = IOP_CHANNELS_MAX + 1 },
		{ .ring_entries = 1000 },
		{ .ring_entries = 1 },
		{ .ring_entries = IOP_CHANNEL_RING_MAX * 2 },
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iop_window_opts o = bad[i];

		o.inbound_bytes = o.outbound_bytes = 1 << 16;
		errno = 0;
		CU_ASSERT_PTR_NULL(iop_window_create(&o));
		CU_ASSERT_EQUAL(errno, EINVAL);
	}
}

static void test_ring_init_refusals(void)
{
	static char mem[8192] __attribute__((aligned(128)));

	CU_ASSERT(iop_mfa_ring_memsize(1024) > 1024 * 4);
	CU_ASSERT_EQUAL(iop_mfa_ring_memsize(1000), -EINVAL);
	CU_ASSERT_EQUAL(iop_mfa_ring_memsize(1), -EINVAL);
	errno = 0;
	CU_ASSERT_PTR_NULL(iop_mfa_ring_init(mem + 8, "x", 16, 0)); /* off its cache line */
	CU_ASSERT_EQUAL(errno, EINVAL);
	CU_ASSERT_PTR_NULL(iop_mfa_ring_init(mem, "x", 24, 0));
	CU_ASSERT_PTR_NULL(iop_mfa_ring_init(mem, "x", 16, 0x100)); /* not a mode */
	CU_ASSERT_PTR_NULL(iop_mfa_ring_init(mem, "x", 16,
					     IOP_MFA_RING_SP | IOP_MFA_RING_MP_RTS));
	CU_ASSERT_PTR_EQUAL(iop_mfa_ring_init(mem, "x", 16, IOP_MFA_RING_SP), (void *)mem);
}

/*
 * Many host threads, each posting numbered MFAs on its own channel; one IOP
 * poller takes from every channel and hands each MFA to one of two repliers,
 * which post it back on the channel's reply ring (several producers). Every
 * host must get every MFA back exactly once. More threads than cores, so
 * threads are preempted mid-post all the time.
 */
#define HOSTS 6
#define REPLIERS 2
#define PER_HOST 20000u

struct hub {
	struct iop_window *w;
	struct iop_channel ch[HOSTS];
	struct rte_ring *work[REPLIERS]; /* poller -> replier: MFA and channel id */
	char work_mem[REPLIERS][1 << 16] __attribute__((aligned(128)));
	_Atomic unsigned hosts_done;
	_Atomic unsigned errors;
};

static uint32_t token(unsigned host, unsigned i)
{
	return (uint32_t)host << 24 | i;
}

struct host {
	struct hub *hub;
	unsigned index;
};

static void *host_thread(void *arg)
{
	struct host *h = arg;
	struct hub *hub = h->hub;
	struct iop_channel *ch = &hub->ch[h->index];
	unsigned host = h->index, sent = 0, got = 0;
	bool *seen = calloc(PER_HOST, sizeof(*seen));

	while (got < PER_HOST) {
		uint32_t burst[16], back[16];
		unsigned n = 0;

		while (n < 16 && sent + n < PER_HOST) {
			burst[n] = token(host, sent + n);
			n++;
		}
		sent += iop_mfa_ring_post(ch->to_iop, burst, n);
		n = iop_mfa_ring_take(ch->to_host, back, 16);
		for (unsigned i = 0; i < n; i++) {
			unsigned idx = back[i] & 0xFFFFFF;

			if (back[i] >> 24 != host || idx >= PER_HOST || seen[idx])
				hub->errors++;
			else
				seen[idx] = true;
		}
		got += n;
		if (n == 0)
			sched_yield();
	}
	free(seen);
	hub->hosts_done++;
	return NULL;
}

static void *poller_thread(void *arg)
{
	struct hub *hub = arg;
	unsigned next = 0;

	while (hub->hosts_done < HOSTS) {
		bool idle = true;

		for (unsigned c = 0; c < HOSTS; c++) {
			uint32_t burst[16];
			unsigned n = iop_mfa_ring_take(hub->ch[c].to_iop, burst, 16);

			for (unsigned i = 0; i < n; i++) {
				/* The token names its channel; a replier needs nothing else. */
				while (iop_mfa_ring_post(hub->work[next], &burst[i], 1) == 0)
					sched_yield();
				next = (next + 1) % REPLIERS;
			}
			idle = idle && n == 0;
		}
		if (idle)
			sched_yield();
	}
	return NULL;
}

struct replier {
	struct hub *hub;
	unsigned index;
};

static void *replier_thread(void *arg)
{
	struct replier *r = arg;
	struct hub *hub = r->hub;

	while (hub->hosts_done < HOSTS) {
		uint32_t burst[16];
		unsigned n = iop_mfa_ring_take(hub->work[r->index], burst, 16);

		for (unsigned i = 0; i < n; i++) {
			struct rte_ring *to_host = hub->ch[burst[i] >> 24].to_host;

			/* The IOP never drops a reply: a full ring is waited out. */
			while (iop_mfa_ring_post(to_host, &burst[i], 1) == 0)
				sched_yield();
		}
		if (n == 0)
			sched_yield();
	}
	return NULL;
}

static void test_many_hosts_many_repliers(void)
{
	struct hub *hub = aligned_alloc(128, (sizeof(struct hub) + 127) / 128 * 128);
	pthread_t hosts[HOSTS], poller, repliers[REPLIERS];
	struct replier r[REPLIERS];
	struct host h[HOSTS];

	CU_ASSERT_PTR_NOT_NULL_FATAL(hub);
	memset(hub, 0, sizeof(*hub));
	hub->w = window_with(HOSTS, 64);
	for (unsigned c = 0; c < HOSTS; c++) {
		CU_ASSERT_EQUAL_FATAL(iop_channel_open(hub->w, &hub->ch[c]), 0);
		CU_ASSERT_EQUAL_FATAL(hub->ch[c].id, c);
	}
	for (unsigned i = 0; i < REPLIERS; i++) {
		hub->work[i] = iop_mfa_ring_init(hub->work_mem[i], "work", 1024,
						 IOP_MFA_RING_SP | IOP_MFA_RING_SC);
		CU_ASSERT_PTR_NOT_NULL_FATAL(hub->work[i]);
		r[i] = (struct replier){ hub, i };
		pthread_create(&repliers[i], NULL, replier_thread, &r[i]);
	}
	pthread_create(&poller, NULL, poller_thread, hub);
	for (unsigned c = 0; c < HOSTS; c++) {
		h[c] = (struct host){ hub, c };
		pthread_create(&hosts[c], NULL, host_thread, &h[c]);
	}
	for (unsigned c = 0; c < HOSTS; c++)
		pthread_join(hosts[c], NULL);
	pthread_join(poller, NULL);
	for (unsigned i = 0; i < REPLIERS; i++)
		pthread_join(repliers[i], NULL);
	CU_ASSERT_EQUAL(hub->errors, 0);
	for (unsigned c = 0; c < HOSTS; c++) {
		CU_ASSERT_EQUAL(iop_mfa_ring_count(hub->ch[c].to_iop), 0);
		CU_ASSERT_EQUAL(iop_mfa_ring_count(hub->ch[c].to_host), 0);
	}
	iop_window_close(hub->w);
	free(hub);
}

/*
 * A host process killed with SIGKILL in the middle of posting: another
 * channel keeps flowing while it dies, the IOP drains what it left (every MFA
 * one it really posted, in order), reclaims the slot, and a new host gets it.
 */
static void test_killed_host_stalls_nobody(void)
{
	struct iop_window *w = window_with(2, 256);
	struct iop_channel live, dead;
	int ready[2];
	pid_t pid;
	uint32_t expect = 0, mfa;
	char byte;

	CU_ASSERT_FATAL(pipe(ready) == 0);
	pid = fork();
	if (pid == 0) {
		struct iop_window *cw = iop_window_attach(iop_window_fd(w));
		struct iop_channel ch;
		uint32_t next = 0;

		alarm(30); /* never outlives a parent that gave up */
		if (cw == NULL || iop_channel_open(cw, &ch) != 0 || write(ready[1], "r", 1) != 1)
			_exit(1);
		for (;;) { /* post numbered MFAs until killed, waiting when full */
			if (iop_mfa_ring_post(ch.to_iop, &next, 1) == 1)
				next++;
		}
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &live), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_lookup(w, live.id ^ 1, &dead), IOP_CHANNEL_OPEN);
	CU_ASSERT_EQUAL(dead.owner_pid, pid);

	/*
	 * Take the child's MFAs as it posts them, kill it once it is well into
	 * its stream, and keep the live channel going all along.
	 */
	for (unsigned round = 0, since_kill = 0; since_kill < 1000; round++) {
		uint32_t ping = round, pong;

		if (expect >= 5000 && since_kill++ == 0)
			kill(pid, SIGKILL);
		while (iop_mfa_ring_take(dead.to_iop, &mfa, 1) == 1) {
			CU_ASSERT_EQUAL_FATAL(mfa, expect);
			expect++;
		}
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(live.to_iop, &ping, 1), 1);
		CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_take(live.to_iop, &pong, 1), 1);
		CU_ASSERT_EQUAL(pong, ping);
		if (expect < 5000)
			sched_yield(); /* let the child run on a busy machine */
	}
	CU_ASSERT_EQUAL(waitpid(pid, NULL, 0), pid);
	while (iop_mfa_ring_take(dead.to_iop, &mfa, 1) == 1) {
		CU_ASSERT_EQUAL_FATAL(mfa, expect);
		expect++;
	}
	CU_ASSERT(expect >= 5000);
	/* The IOP found the owner gone: it closes on the host's behalf and reclaims. */
	CU_ASSERT_EQUAL(iop_channel_close(w, &dead), 0);
	CU_ASSERT_EQUAL(iop_channel_reclaim(w, dead.id, dead.generation), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &dead), 0);
	CU_ASSERT_EQUAL(dead.id, live.id ^ 1);
	close(ready[0]);
	close(ready[1]);
	iop_window_close(w);
}

static const struct iop_test_case channel_tests[] = {
	{ "slot_life", test_slot_life },
	{ "changes_counted", test_changes_counted },
	{ "reopen_starts_empty", test_reopen_starts_empty },
	{ "reclaim_gives_back_the_free_lists", test_reclaim_gives_back_the_free_lists },
	{ "free_lists_only_in_heaps_large_enough", test_free_lists_only_in_heaps_large_enough },
	{ "back_pressure_loses_nothing", test_back_pressure_loses_nothing },
	{ "peek_is_the_next_take", test_peek_is_the_next_take },
	{ "take_one_is_a_take_of_one", test_take_one_is_a_take_of_one },
	{ "take_one_across_the_index_wrap", test_take_one_across_the_index_wrap },
	{ "take_one_behind_two_producers", test_take_one_behind_two_producers },
	{ "rings_shared_between_mappings", test_rings_shared_between_mappings },
	{ "bad_window_options", test_bad_window_options },
	{ "ring_init_refusals", test_ring_init_refusals },
	{ "many_hosts_many_repliers", test_many_hosts_many_repliers },
	{ "killed_host_stalls_nobody", test_killed_host_stalls_nobody },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "channel", channel_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
