/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * HeapAlloc and HeapFree (patent FIG. 5 and FIG. 6), lock-free. HeapFree's
 * merging is deferred to when a larger block is needed (heap_coalesce.c).
 *
 * Every state change of a block is one atomic read-modify-write on the word
 * that holds the block and its buddy (heap_layout.h). No step waits for
 * another thread: a CAS that fails means another thread changed the word, so
 * it made progress, and we retry on what it left.
 */
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "heap_cache.h"
#include "heap_diagnose.h"
#include "heap_home.h"
#include "heap_hooks.h"
#include "heap_inflight.h"
#include "heap_summary.h"

#ifdef IOP_HEAP_TEST_HOOKS
void (*volatile heap_test_hook)(enum heap_hook_point point);
#endif

_Thread_local unsigned heap_thread_slot;
_Thread_local unsigned heap_thread_home;
static _Atomic unsigned next_thread_slot;

/* A forked child is a new set of threads: let it pick slots of its own. */
static void forget_thread_slot(void)
{
	heap_thread_slot = 0;
}

__attribute__((constructor)) static void heap_register_atfork(void)
{
	pthread_atfork(NULL, NULL, forget_thread_slot);
}

unsigned heap_assign_thread_slot(void)
{
	/* Round robin: threads of one process get distinct slots up to 64. */
	unsigned s = atomic_fetch_add_explicit(&next_thread_slot, 1, memory_order_relaxed);

	s %= HEAP_INFLIGHT_SLOTS;
	heap_thread_slot = s + 1;
	/* The home (heap_home.h): the slot's six bits reversed. */
	heap_thread_home = 0;
	for (unsigned i = 0; i < 6; i++, s >>= 1)
		heap_thread_home = heap_thread_home << 1 | (s & 1);
	return heap_thread_slot;
}

/*
 * The common case of the search below (a block of the very order in the
 * thread's region: claim_block from take_block from try_alloc) is inlined
 * into each of its few callers: every call layer cost about 15 instructions
 * (arguments, saved and restored registers), and an uncached alloc+free pair
 * went through five of them (callgrind, fixed64k: 309 instructions a pair
 * with the calls; 179 with this and free_to_bitmap()'s common case inline).
 * Splits, the summaries' search and the whole-heap pass stay out of line.
 */
#define SEARCH_INLINE inline __attribute__((always_inline))

/*
 * Take the lowest free block of word w of order k whose place in the word is
 * in [lo, hi]: its index, or -1 with *seen the word as last read. With
 * as_alloc the same CAS marks it allocated, so an exact-order allocation is
 * a single atomic step.
 */
static SEARCH_INLINE int64_t claim_in_word(struct iop_heap *h, uint32_t k, uint64_t w,
					    uint64_t lo, uint64_t hi, bool as_alloc,
					    uint64_t *seen)
{
	_Atomic uint64_t *word = heap_level_word(h, k, 0, w);
	uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
	uint64_t in_range = (HEAP_FREE_MASK >> (31 - hi)) & (~0ull << lo);

	while ((v & in_range) != 0) {
		uint64_t i = (uint64_t)__builtin_ctzll(v & in_range);
		uint64_t nv = v & ~(1ull << i);

		if (as_alloc)
			nv |= 1ull << (32 + i);
		/* acq_rel: acquire orders our use of the block after the
		 * free that published it; release publishes our claim. */
		if (atomic_compare_exchange_weak_explicit(word, &v, nv, memory_order_acq_rel,
							  memory_order_relaxed)) {
			/* An emptied word keeps its summary bit (lazy). */
			return (int64_t)(w * HEAP_BLOCKS_PER_WORD + i);
		}
	}
	*seen = v;
	return -1;
}

/* claim_block() past its first word: through the summaries, from block blo on. */
static __attribute__((noinline)) int64_t claim_block_search(struct iop_heap *h, uint32_t k,
							     uint64_t blo, uint64_t bhi,
							     bool as_alloc)
{
	uint64_t from = blo / HEAP_BLOCKS_PER_WORD;
	uint64_t to = bhi / HEAP_BLOCKS_PER_WORD;
	uint64_t w, v = 0; /* set by every claim_in_word() that finds nothing */

	while (summary_find(h, k, from, to, &w)) {
		int64_t b = claim_in_word(h, k, w, w == from ? blo % HEAP_BLOCKS_PER_WORD : 0,
					  w == to ? bhi % HEAP_BLOCKS_PER_WORD :
						    HEAP_BLOCKS_PER_WORD - 1,
					  as_alloc, &v);

		if (b >= 0)
			return b;
		/*
		 * Nothing in range. A word whose free blocks all lie outside the
		 * range is searched past (it would be found again); otherwise
		 * someone emptied it first, the summary may lag: search again.
		 */
		if ((v & HEAP_FREE_MASK) != 0) {
			if (w == to)
				break;
			from = w + 1;
			blo = from * HEAP_BLOCKS_PER_WORD;
		}
	}
	return -1;
}

/*
 * Take one free block of order k, of the blocks [blo, bhi], out of its
 * bitmap (FIG. 5: find the first non-empty list at or above the wanted order,
 * remove a block): the lowest one; with as_alloc marked allocated. Returns
 * the block index or -1 if there is none.
 *
 * The range's first word before the summaries, inline: a thread's blocks
 * start at its home, and if that word holds a free block in range, it is
 * the one the search would find (lowest first), without its descent.
 */
static SEARCH_INLINE int64_t claim_block(struct iop_heap *h, uint32_t k, uint64_t blo,
					  uint64_t bhi, bool as_alloc)
{
	uint64_t from = blo / HEAP_BLOCKS_PER_WORD;
	uint64_t to = bhi / HEAP_BLOCKS_PER_WORD;
	uint64_t v = 0; /* set by claim_in_word() when it finds nothing */
	int64_t b = claim_in_word(h, k, from, blo % HEAP_BLOCKS_PER_WORD,
				  from == to ? bhi % HEAP_BLOCKS_PER_WORD : HEAP_BLOCKS_PER_WORD - 1,
				  as_alloc, &v);

	if (b >= 0)
		return b;
	/* As in claim_block_search(): past a word whose free blocks lie outside the range. */
	if ((v & HEAP_FREE_MASK) != 0) {
		if (from == to)
			return -1;
		blo = (from + 1) * HEAP_BLOCKS_PER_WORD;
	}
	return claim_block_search(h, k, blo, bhi, as_alloc);
}

/*
 * Split block b of order j down to order n (FIG. 5): at each order
 * publish one half as free and keep the other: the lower one, unless the
 * thread's home lies in or above the upper (heap_home.h), so that a thread's
 * splits stay in its region. At order n the same RMW marks the kept half
 * allocated (unless it goes to a thread cache).
 */
static uint64_t split_block(const struct iop_heap *h, uint32_t j, uint64_t b, uint32_t n,
			    uint64_t home, bool mark_alloc)
{
	for (uint32_t k = j; k-- > n;) {
		uint64_t bits;
		uint64_t prev;

		b <<= 1;
		if ((home >> k) > b)
			b++;
		bits = heap_free_bit(b ^ 1);
		if (k == n && mark_alloc)
			bits |= heap_alloc_bit(b);
		/* Both halves were "part of the parent" (no bit): nobody else can
		 * touch them, so a plain fetch_or publishes them. */
		prev = atomic_fetch_or_explicit(heap_block_word(h, k, b), bits, memory_order_acq_rel);
		if ((prev & HEAP_FREE_MASK) == 0)
			summary_sync(h, k, 0, b / HEAP_BLOCKS_PER_WORD);
		if (k != n)
			HEAP_HOOK(HEAP_HOOK_ALLOC_SPLIT);
	}
	return b;
}

/*
 * A block of an order above n out of the bitmaps, from the byte range r of
 * the heap (a block that overlaps r), split down to n towards r's start; -1
 * if none.
 */
static __attribute__((noinline)) int64_t take_split_in(struct iop_heap *h, uint32_t n,
							bool mark_alloc,
							const struct heap_region *r)
{
	uint64_t orders = atomic_load_explicit(&h->nonempty_orders, memory_order_acquire) &
			  (~0ull << (n + 1));

	while (orders != 0) {
		uint32_t j = (uint32_t)__builtin_ctzll(orders);
		_Atomic uint64_t *slot = inflight_slot(h);
		int64_t b;

		if (j > h->max_order)
			break;
		inflight_begin(slot);
		b = claim_block(h, j, r->lo >> j, (r->hi - 1) >> j, false);
		if (b >= 0) {
			uint64_t kept;

			HEAP_HOOK(HEAP_HOOK_ALLOC_CLAIMED);
			kept = split_block(h, j, (uint64_t)b, n, r->lo, mark_alloc);
			inflight_end(slot);
			return (int64_t)kept;
		}
		inflight_abort(slot);
		orders &= orders - 1;
	}
	return -1;
}

/* A block of order n from the range r: of that order, or split from a larger one; -1 if none. */
static __attribute__((noinline)) int64_t take_block_in(struct iop_heap *h, uint32_t n,
							bool mark_alloc,
							const struct heap_region *r)
{
	int64_t b = claim_block(h, n, r->lo >> n, (r->hi - 1) >> n, mark_alloc);

	return b >= 0 ? b : take_split_in(h, n, mark_alloc, r);
}

/*
 * The thread's region r had nothing: ranges from its start up, twice as
 * long each time (to the heap's end at most), then the whole heap (lowest
 * address first, splits keeping the lower half). A thread whose blocks
 * outgrow its region so stays next to it, and meets another thread only
 * where the two have grown into each other; the lowest address first would
 * put every thread whose region ran dry onto the same few lines at the
 * heap's bottom (on 2 CPUs, a random mix of sizes ran slower on 2 threads
 * than on 1, and slower again on 4 and 8).
 */
static __attribute__((noinline)) int64_t take_beyond_region(struct iop_heap *h, uint32_t n,
							     bool mark_alloc,
							     struct heap_region r)
{
	uint64_t len = r.hi - r.lo;
	int64_t b;

	while (r.hi < h->heap_bytes) {
		len *= 2;
		r.hi = r.lo + len < h->heap_bytes ? r.lo + len : h->heap_bytes;
		b = take_block_in(h, n, mark_alloc, &r);
		if (b >= 0)
			return b;
	}
	if (r.lo == 0)
		return -1; /* the last range was the whole heap */
	r = (struct heap_region){ .lo = 0, .hi = h->heap_bytes };
	return take_block_in(h, n, mark_alloc, &r);
}

/*
 * A block of order n out of the bitmaps, marked allocated or held; -1 if
 * none. The thread's own region first, then ever larger ranges from there,
 * then the whole heap (heap_home.h). Inline only the common case: a block of
 * the very order in the region.
 */
static SEARCH_INLINE int64_t take_block(struct iop_heap *h, uint32_t n, bool mark_alloc)
{
	struct heap_region r;

	if (heap_home_region(h, &r)) {
		int64_t b = claim_block(h, n, r.lo >> n, (r.hi - 1) >> n, mark_alloc);

		if (b < 0)
			b = take_split_in(h, n, mark_alloc, &r);
		if (b >= 0)
			return b;
		return take_beyond_region(h, n, mark_alloc, r);
	}
	/* The whole heap, lowest address first, splits keeping the lower half. */
	r = (struct heap_region){ .lo = 0, .hi = h->heap_bytes };
	return take_block_in(h, n, mark_alloc, &r);
}

int64_t heap_take_held(struct iop_heap *h, uint32_t n)
{
	return take_block(h, n, false);
}

static SEARCH_INLINE void *try_alloc(struct iop_heap *h, uint32_t n, uint16_t tag)
{
	int64_t b;

	if (heap_tags(h) == NULL) {
		b = take_block(h, n, true);
		return b >= 0 ? heap_blocks(h) + ((uint64_t)b << n) : NULL;
	}
	/* Held, tagged, then allocated: an allocated block always has its tag. */
	b = take_block(h, n, false);
	if (b < 0)
		return NULL;
	heap_tag_block(h, n, (uint64_t)b, tag);
	HEAP_HOOK(HEAP_HOOK_ALLOC_TAGGED);
	atomic_fetch_or_explicit(heap_block_word(h, n, (uint64_t)b), heap_alloc_bit((uint64_t)b),
				 memory_order_acq_rel);
	return heap_blocks(h) + ((uint64_t)b << n);
}

/* The search again, for the exhausted path: one copy out of line is enough there. */
static __attribute__((noinline)) void *try_alloc_again(struct iop_heap *h, uint32_t n,
						       uint16_t tag)
{
	return try_alloc(h, n, tag);
}

static void inflight_snapshot(const struct iop_heap *h, uint64_t *snap, bool *busy)
{
	*busy = false;
	for (unsigned i = 0; i < HEAP_INFLIGHT_SLOTS; i++) {
		snap[i] = atomic_load_explicit(&h->inflight[i].word, memory_order_acquire);
		if ((uint32_t)snap[i] != 0)
			*busy = true;
	}
}

static uint64_t monotonic_ns(void)
{
	struct timespec ts;

	/* vDSO on Linux: no system call. Only reached on the exhausted path. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/*
 * Nothing was found. It is real exhaustion only if no split or merge was in
 * flight at any moment of a complete search (compare every slot before and
 * after one) and no thread cache still holds blocks it was asked to give
 * back. Otherwise search again, for at most enomem_wait_ns, so that a thread
 * stopped in the middle of an operation cannot make us wait forever.
 */
static void *alloc_slow(struct iop_heap *h, uint32_t n, uint16_t tag)
{
	uint64_t before[HEAP_INFLIGHT_SLOTS];
	uint64_t after[HEAP_INFLIGHT_SLOTS];
	uint64_t deadline = 0;
	uint64_t epoch = heap_cache_request_drain(h);

	for (;;) {
		bool busy_before;
		bool busy_after;
		/* Read before the search: a cache that gives back after it would be missed. */
		bool draining;
		void *p;

		/* What other threads spilled since: into the heap, where it coalesces. */
		if (h->cache_orders != 0)
			heap_depot_drain(h);
		draining = heap_caches_draining(h, epoch);

		inflight_snapshot(h, before, &busy_before);
		/* The merges frees deferred (heap_coalesce.c), inside the window the snapshots bound. */
		heap_coalesce(h);
		p = try_alloc_again(h, n, tag);
		if (p != NULL)
			return p;
		inflight_snapshot(h, after, &busy_after);
		if (!busy_before && !busy_after && memcmp(before, after, sizeof(before)) == 0 &&
		    !draining)
			break;
		if (deadline == 0)
			deadline = monotonic_ns() + h->enomem_wait_ns;
		else if (monotonic_ns() > deadline)
			break;
		for (int i = 0; i < 64; i++)
			cpu_relax();
	}
	errno = ENOMEM;
	return NULL;
}

__attribute__((cold, noinline)) static void *alloc_invalid(void)
{
	errno = EINVAL;
	return NULL;
}

/*
 * Everything but the cached pop iop_heap_alloc_tagged() does inline: the
 * binding made or searched, a drain, a refill, and the heap itself.
 */
__attribute__((noinline)) static void *alloc_whole_way(struct iop_heap *h, uint32_t n,
						       uint16_t tag)
{
	void *p;

	if (heap_cache_covers(h, n)) {
		struct heap_cache_binding *cb = heap_cache_binding(h);

		if (cb != NULL && (p = heap_cache_alloc(h, cb, n, tag)) != NULL)
			return p;
	}
	p = try_alloc(h, n, tag);
	return p != NULL ? p : alloc_slow(h, n, tag);
}

void *iop_heap_alloc_tagged(struct iop_heap *h, size_t x, uint16_t tag)
{
	uint32_t n;
	void *p;

	/* x - 1 wraps for x == 0: one compare for both ends of the range. */
	if (h == NULL || x - 1 >= h->heap_bytes)
		return alloc_invalid();
	n = heap_order_of(h, x);
	if (heap_cache_covers(h, n) && (p = heap_cache_alloc_at_hand(h, n, tag)) != NULL)
		return p;
	return alloc_whole_way(h, n, tag);
}

void *iop_heap_alloc(struct iop_heap *h, size_t x)
{
	return iop_heap_alloc_tagged(h, x, 0);
}

/* Publish held block b of order k free, merging while its buddy is free; returns the merges. */
static unsigned merge_up(struct iop_heap *h, uint32_t k, uint64_t b)
{
	for (unsigned merges = 0;; merges++) {
		_Atomic uint64_t *word = heap_block_word(h, k, b);
		uint64_t v = atomic_load_explicit(word, memory_order_relaxed);
		uint64_t buddy = heap_free_bit(b ^ 1);
		uint64_t nv;

		do {
			nv = k < h->max_order && (v & buddy) ? v & ~buddy : v | heap_free_bit(b);
		} while (!atomic_compare_exchange_weak_explicit(word, &v, nv, memory_order_acq_rel,
								 memory_order_relaxed));
		if (nv & heap_free_bit(b)) {
			if ((v & HEAP_FREE_MASK) == 0)
				summary_sync(h, k, 0, b / HEAP_BLOCKS_PER_WORD);
			return merges;
		}
		/* A merge empties words that stay empty until a split comes
		 * back down: clear their summary bits now, not lazily. */
		if ((nv & HEAP_FREE_MASK) == 0)
			summary_sync(h, k, 0, b / HEAP_BLOCKS_PER_WORD);
		HEAP_HOOK(HEAP_HOOK_FREE_MERGING);
		b >>= 1;
		k++;
	}
}

unsigned heap_release_held(struct iop_heap *h, uint32_t k, uint64_t b)
{
	_Atomic uint64_t *slot = inflight_slot(h);
	unsigned merges;

	inflight_begin(slot);
	merges = merge_up(h, k, b);
	inflight_end(slot);
	return merges;
}

__attribute__((cold)) int heap_free_refused(struct iop_heap *h, uint64_t off, uint32_t n)
{
	return heap_refuse_free(h, heap_diagnose_free(h, off, n));
}

/*
 * HeapFree of block off of an order without caches, the whole way: A cleared
 * and F set in one CAS, and, into a word that had no free block, announced
 * while its summary bit is set. free_to_bitmap() does the common case inline
 * and comes here when the word it read had no free block.
 */
__attribute__((noinline)) static int free_to_bitmap_announced(struct iop_heap *h, uint32_t n,
							       uint64_t off)
{
	uint64_t b = off >> n;
	_Atomic uint64_t *word = heap_block_word(h, n, b);
	_Atomic uint64_t *slot = NULL;
	uint64_t v, nv;
	bool announce;

	v = atomic_load_explicit(word, memory_order_relaxed);
	for (;;) {
		/* The A bit is checked in the same CAS that clears it: of two
		 * frees of one block exactly one wins, and a refused free has
		 * changed nothing. Free at its own order: merging with a free
		 * buddy waits until a larger block is needed (heap_coalesce.c). */
		if (!(v & heap_alloc_bit(b)))
			return heap_free_refused(h, off, n);
		nv = (v & ~heap_alloc_bit(b)) | heap_free_bit(b);
		/* A free into an empty word is invisible until its summary bit is set: in flight until then. */
		announce = (v & HEAP_FREE_MASK) == 0;
		if (announce) {
			slot = inflight_slot(h);
			inflight_begin(slot);
		}
		/* release: our writes to the block happen before its reuse. */
		if (atomic_compare_exchange_weak_explicit(word, &v, nv, memory_order_acq_rel,
							  memory_order_relaxed))
			break;
		if (announce)
			inflight_abort(slot);
	}
	if (announce) {
		HEAP_HOOK(HEAP_HOOK_FREE_PUBLISHING);
		summary_sync(h, n, 0, b / HEAP_BLOCKS_PER_WORD);
		inflight_end(slot);
	}
	HEAP_HOOK(HEAP_HOOK_FREE_DONE_WORD);
	return 0;
}

/*
 * HeapFree of block off of an order without caches. Inline, the common case:
 * its word holds a free block already, so the free needs no announcement and
 * is one CAS (of two frees of one block exactly one wins, a refused free
 * changes nothing); a word with none goes the way that announces it, whose
 * saved registers the common case then does without.
 */
static inline int free_to_bitmap(struct iop_heap *h, uint32_t n, uint64_t off)
{
	uint64_t b = off >> n;
	_Atomic uint64_t *word = heap_block_word(h, n, b);
	uint64_t v = atomic_load_explicit(word, memory_order_relaxed);

	while ((v & HEAP_FREE_MASK) != 0) {
		if (!(v & heap_alloc_bit(b)))
			return heap_free_refused(h, off, n);
		/* release: our writes to the block happen before its reuse. */
		if (atomic_compare_exchange_weak_explicit(word, &v,
							  (v & ~heap_alloc_bit(b)) | heap_free_bit(b),
							  memory_order_acq_rel, memory_order_relaxed)) {
			HEAP_HOOK(HEAP_HOOK_FREE_DONE_WORD);
			return 0;
		}
	}
	return free_to_bitmap_announced(h, n, off);
}

/*
 * A free of a cached order by a thread without a cache (the 65th, or a
 * fifth heap): as an order without caches, A cleared and F set in one CAS,
 * so that a process killed at any point leaves the block allocated or free,
 * never held by nobody; merging waits, as there, for a larger request.
 */
int heap_free_uncached_held(struct iop_heap *h, uint64_t off, uint32_t n)
{
	return free_to_bitmap(h, n, off);
}

__attribute__((cold, noinline)) static int free_out_of_range(struct iop_heap *h, int err)
{
	return heap_refuse_free(h, err);
}

int iop_heap_free(struct iop_heap *h, void *p, size_t x)
{
	uint64_t off;
	uint32_t n;

	if (h == NULL)
		return -EINVAL;
	if (x - 1 >= h->heap_bytes) /* x == 0 wraps */
		return free_out_of_range(h, -EINVAL);
	n = heap_order_of(h, x);
	/* Below the blocks, p - blocks wraps: one compare for both ends. */
	off = (uint64_t)((uintptr_t)p - (uintptr_t)heap_blocks(h));
	if (off >= h->heap_bytes)
		return free_out_of_range(h, -EFAULT);
	if (off & ((1ull << n) - 1))
		return heap_free_refused(h, off, n);
	/* Every other path a tail call: the cached one saves no registers for them. */
	if (heap_cache_covers(h, n))
		return heap_cache_free(h, n, off);
	return free_to_bitmap(h, n, off);
}
