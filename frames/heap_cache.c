/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Thread caches: the slow paths (binding a thread to a slot, refill, spill,
 * drain) and the bookkeeping that lets a thread exit, a process fork, and a
 * heap be destroyed while other threads still have caches of it.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "heap_cache.h"
#include "heap_home.h"

_Thread_local struct heap_cache_thread heap_cache_thread;
_Atomic uint64_t heap_cache_destroy_gen;

/*
 * One entry per heap handle this process has bound a cache to. A destroyed
 * heap's entry stays, marked dead, so a thread that still has a binding to
 * it finds out without touching the heap's (maybe unmapped) memory.
 */
struct heap_cache_reg {
	struct iop_heap *h;
	bool alive;
	_Atomic uint64_t slots; /* bit i: slot i is owned by a thread of this process */
	struct heap_cache_reg *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct heap_cache_reg *regs;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static _Atomic uint64_t next_owner_token;

static void release_bindings(void);

static void on_thread_exit(void *unused)
{
	(void)unused;
	release_bindings();
}

static void on_process_exit(void)
{
	/* exit() runs no thread-exit destructor for the thread calling it. */
	release_bindings();
}

static void make_exit_key(void)
{
	pthread_key_create(&exit_key, on_thread_exit);
	atexit(on_process_exit);
}

static struct heap_cache_reg *reg_find_or_add(struct iop_heap *h)
{
	struct heap_cache_reg *r;

	for (r = regs; r != NULL; r = r->next)
		if (r->h == h && r->alive)
			return r;
	r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->h = h;
	r->alive = true;
	r->next = regs;
	regs = r;
	return r;
}

/* Claim a free slot: exclusive, so the owner may use plain (relaxed) accesses. */
static struct heap_cache *claim_slot(struct iop_heap *h, struct heap_cache_reg *reg)
{
	/*
	 * The CAS, not the value, makes the slot ours; the pid in the high half
	 * lets another process give back the slots of one that was killed.
	 */
	uint64_t token = (uint64_t)getpid() << 32 |
			 ((atomic_fetch_add_explicit(&next_owner_token, 1, memory_order_relaxed) + 1) &
			  0xFFFFFFFFu);

	for (unsigned i = 0; i < HEAP_CACHE_SLOTS; i++) {
		struct heap_cache *c = heap_cache_slot(h, i);
		uint64_t free_slot = 0;

		if (atomic_load_explicit(&c->owner, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong_explicit(&c->owner, &free_slot, token,
							    memory_order_acquire,
							    memory_order_relaxed)) {
			atomic_fetch_or(&reg->slots, 1ull << i);
			return c;
		}
	}
	return NULL;
}

/* A new binding of this thread to h: NULL if it has no room, or no slot was free. */
static struct heap_cache_binding *heap_cache_bind(struct iop_heap *h)
{
	struct heap_cache_binding *cb = NULL;
	struct heap_cache_reg *reg;
	struct heap_region region;
	uint32_t home;

	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++) {
		if (heap_cache_thread.binding[i].h == NULL) {
			cb = &heap_cache_thread.binding[i];
			break;
		}
	}
	if (cb == NULL)
		return NULL; /* a thread caching more heaps than this uses the rest uncached */
	pthread_once(&exit_key_once, make_exit_key);
	pthread_setspecific(exit_key, (void *)1);
	pthread_mutex_lock(&reg_lock);
	reg = reg_find_or_add(h);
	pthread_mutex_unlock(&reg_lock);
	if (reg == NULL)
		return NULL;
	cb->h = h;
	cb->reg = reg;
	cb->c = claim_slot(h, reg);
	if (cb->c == NULL)
		return NULL; /* remembered: no slot, no cache, no rescan */
	cb->seen_epoch = atomic_load_explicit(&h->cache_epoch, memory_order_acquire);
	atomic_store_explicit(&cb->c->seen_epoch, cb->seen_epoch, memory_order_release);
	/* Until its first chunk: the shard of its home, where that chunk will be cut. */
	home = heap_home_region(h, &region) ? heap_depot_shard_at(h, region.lo) : 0;
	for (uint32_t i = 0; i < HEAP_CACHE_ORDERS; i++)
		cb->c->home[i] = home;
	return cb;
}

/* Is piece b of order n allocated (a pop that a killed process left unfinished)? */
static bool allocated(const struct iop_heap *h, uint32_t n, uint64_t b)
{
	return atomic_load_explicit(heap_block_word(h, n, b), memory_order_acquire) &
	       heap_alloc_bit(b);
}

/*
 * Give the unused rest of the reserve back, as the aligned blocks it is made
 * of. For a killed owner (dead), its first piece may already be allocated:
 * that one is its caller's, not the reserve's.
 */
static void drain_reserve(struct iop_heap *h, struct heap_cache *c, uint32_t i, bool dead)
{
	uint64_t next = atomic_load_explicit(&c->reserve_next[i], memory_order_relaxed);
	uint64_t end = atomic_load_explicit(&c->reserve_end[i], memory_order_relaxed);

	if (dead && next < end && allocated(h, h->min_order + i, next))
		next++;
	while (next < end) {
		uint32_t j = next == 0 ? h->cache_chunk[i] : (uint32_t)__builtin_ctzll(next);
		uint64_t b;

		while (next + (1ull << j) > end)
			j--;
		b = next >> j;
		/* Off the reserve first, then released: as in heap_cache_spill(). */
		next += 1ull << j;
		atomic_store_explicit(&c->reserve_next[i], (uint32_t)next, memory_order_relaxed);
		heap_release_held(h, h->min_order + i + j, b);
	}
	atomic_store_explicit(&c->reserve_end[i], 0, memory_order_relaxed);
	atomic_store_explicit(&c->reserve_next[i], 0, memory_order_release);
}

/* Give every cached block of one order back to the heap; for a killed owner, as above. */
static void drain_order(struct iop_heap *h, struct heap_cache *c, uint32_t i, bool dead)
{
	uint32_t cnt = atomic_load_explicit(&c->count[i], memory_order_relaxed);

	/* From the top, each block off the record before it is released. */
	for (uint32_t j = cnt; j-- > 0;) {
		uint64_t b = atomic_load_explicit(&c->block[i][j], memory_order_relaxed);

		atomic_store_explicit(&c->count[i], j, memory_order_relaxed);
		if (!(dead && allocated(h, h->min_order + i, b)))
			heap_release_held(h, h->min_order + i, b);
	}
	drain_reserve(h, c, i, dead);
}

void heap_cache_drain(struct iop_heap *h, struct heap_cache_binding *cb)
{
	/* Read the epoch first: a request made while we drain is seen next time. */
	uint64_t epoch = atomic_load_explicit(&h->cache_epoch, memory_order_acquire);

	for (uint32_t i = 0; i < h->cache_orders; i++)
		drain_order(h, cb->c, i, false);
	cb->seen_epoch = epoch;
	atomic_store_explicit(&cb->c->seen_epoch, epoch, memory_order_release);
}

/*
 * The depot's stacks. A head is tag << 32 | index + 1: every push and pop
 * bumps the tag, so a pop that read a magazine's next link before another
 * thread popped and pushed that magazine again fails its CAS (no ABA). The
 * links and contents are atomics: a pop may read a magazine that another
 * thread is filling, and throws what it read away when its CAS fails.
 */
static uint32_t depot_pop(struct heap_depot *d, _Atomic uint64_t *head)
{
	uint64_t v = atomic_load_explicit(head, memory_order_acquire);

	for (;;) {
		uint32_t top = (uint32_t)v, next;

		if (top == 0)
			return UINT32_MAX;
		next = atomic_load_explicit(&d->mag[top - 1].next, memory_order_relaxed);
		/* acquire: the magazine's contents, as its pusher wrote them. */
		if (atomic_compare_exchange_weak_explicit(head, &v, ((v >> 32) + 1) << 32 | next,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return top - 1;
	}
}

static void depot_push(struct heap_depot *d, _Atomic uint64_t *head, uint32_t m)
{
	uint64_t v = atomic_load_explicit(head, memory_order_relaxed);

	do {
		atomic_store_explicit(&d->mag[m].next, (uint32_t)v, memory_order_relaxed);
		/* release: the magazine's contents before it can be popped. */
	} while (!atomic_compare_exchange_weak_explicit(head, &v, ((v >> 32) + 1) << 32 | (m + 1),
							memory_order_acq_rel,
							memory_order_relaxed));
}

/* The owner's count of an event: a plain load and store, no read-modify-write. */
static void count_event(struct heap_cache *c, enum heap_cache_event e)
{
	atomic_store_explicit(&c->events[e],
			      atomic_load_explicit(&c->events[e], memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* A magazine off one of the stacks `which` (full or empty), shard `first` first; UINT32_MAX if none. */
static uint32_t depot_pop_any(struct heap_depot *d, size_t which, uint32_t first)
{
	for (uint32_t k = 0; k < HEAP_DEPOT_SHARDS; k++) {
		struct heap_depot_shard *s = &d->shard[(first + k) % HEAP_DEPOT_SHARDS];
		uint32_t m = depot_pop(d, (_Atomic uint64_t *)((char *)s + which));

		if (m != UINT32_MAX)
			return m;
	}
	return UINT32_MAX;
}

#define DEPOT_FULL offsetof(struct heap_depot_shard, full)
#define DEPOT_EMPTY offsetof(struct heap_depot_shard, empty)

/*
 * Hand the newest half of a full cache to the depot in one magazine, on the
 * shard of the chunk its first block came from.
 * @return false when no empty magazine was left (the caller releases instead).
 */
static bool depot_give(struct iop_heap *h, struct heap_cache *c, uint32_t i, uint32_t cnt)
{
	struct heap_depot *d = heap_depot(h, i);
	uint32_t half = cnt / 2;
	uint32_t shard = heap_depot_shard_of(
		h, i, atomic_load_explicit(&c->block[i][cnt - half], memory_order_relaxed));
	uint32_t m = depot_pop_any(d, DEPOT_EMPTY, shard);
	struct heap_mag *mag;

	if (m == UINT32_MAX)
		return false;
	mag = &d->mag[m];
	for (uint32_t j = 0; j < half; j++)
		atomic_store_explicit(&mag->block[j],
				      atomic_load_explicit(&c->block[i][cnt - half + j],
							   memory_order_relaxed),
				      memory_order_relaxed);
	atomic_store_explicit(&mag->count, half, memory_order_relaxed);
	/*
	 * Off the cache, then into the depot: a process killed between the two
	 * loses this magazine's blocks (a leak), where the other order would
	 * leave them both cached and in the depot (a double allocation).
	 */
	atomic_store_explicit(&c->count[i], cnt - half, memory_order_release);
	HEAP_HOOK(HEAP_HOOK_DEPOT_GIVING);
	depot_push(d, &d->shard[shard].full, m);
	count_event(c, HEAP_CACHE_DEPOT_GIVE);
	return true;
}

/*
 * Fill an empty cache with a magazine from the depot: from the shard of the
 * cache's own chunks, or with any_shard from the others after it.
 * @return false if it had none.
 */
static bool depot_take(struct iop_heap *h, struct heap_cache *c, uint32_t i, bool any_shard)
{
	struct heap_depot *d = heap_depot(h, i);
	uint32_t m, n;
	struct heap_mag *mag;

	if (any_shard)
		m = depot_pop_any(d, DEPOT_FULL, c->home[i]);
	else
		m = depot_pop(d, &d->shard[c->home[i]].full);
	if (m == UINT32_MAX)
		return false;
	mag = &d->mag[m];
	n = atomic_load_explicit(&mag->count, memory_order_relaxed);
	for (uint32_t j = 0; j < n; j++)
		atomic_store_explicit(&c->block[i][j],
				      atomic_load_explicit(&mag->block[j], memory_order_relaxed),
				      memory_order_relaxed);
	atomic_store_explicit(&c->count[i], n, memory_order_relaxed);
	depot_push(d, &d->shard[c->home[i]].empty, m);
	count_event(c, HEAP_CACHE_DEPOT_TAKE);
	return true;
}

unsigned heap_depot_drain(struct iop_heap *h)
{
	unsigned n = 0;

	for (uint32_t i = 0; i < h->cache_orders; i++) {
		struct heap_depot *d = heap_depot(h, i);
		uint32_t m;

		while ((m = depot_pop_any(d, DEPOT_FULL, 0)) != UINT32_MAX) {
			struct heap_mag *mag = &d->mag[m];
			uint32_t k = atomic_load_explicit(&mag->count, memory_order_relaxed);

			for (uint32_t j = 0; j < k; j++)
				heap_release_held(h, h->min_order + i,
						  atomic_load_explicit(&mag->block[j],
								       memory_order_relaxed));
			depot_push(d, &d->shard[m % HEAP_DEPOT_SHARDS].empty, m);
			n += k;
		}
	}
	return n;
}

bool heap_depot_holding(const struct iop_heap *h)
{
	for (uint32_t i = 0; i < h->cache_orders; i++)
		for (uint32_t s = 0; s < HEAP_DEPOT_SHARDS; s++)
			if ((uint32_t)atomic_load_explicit(&heap_depot(h, i)->shard[s].full,
							   memory_order_acquire) != 0)
				return true;
	return false;
}

/*
 * A full cache gives half back: its newest half, from the top, each block
 * taken off the cache's record before it is released, so that a process
 * killed in the middle leaves no block both released and still recorded
 * (which the drain after its death would release again).
 */
void heap_cache_spill(struct iop_heap *h, struct heap_cache *c, uint32_t i)
{
	uint32_t cnt = atomic_load_explicit(&c->count[i], memory_order_relaxed);

	if (depot_give(h, c, i, cnt))
		return;
	count_event(c, HEAP_CACHE_HEAP_RELEASE);

	for (uint32_t j = cnt; j-- > cnt - cnt / 2;) {
		uint32_t b = atomic_load_explicit(&c->block[i][j], memory_order_relaxed);

		atomic_store_explicit(&c->count[i], j, memory_order_relaxed);
		HEAP_HOOK(HEAP_HOOK_CACHE_SPILLING);
		heap_release_held(h, h->min_order + i, b); /* its release orders the store */
	}
}

/* A magazine from the depot (its own shard, or with any_shard any), and its first block popped. */
static void *pop_from_magazine(struct iop_heap *h, struct heap_cache *c, uint32_t n, bool any_shard,
			       uint16_t tag)
{
	uint32_t i = n - h->min_order;

	if (!depot_take(h, c, i, any_shard))
		return NULL;
	return heap_cache_pop(h, c, n, atomic_load_explicit(&c->count[i], memory_order_relaxed), tag);
}

/*
 * A held block of order n + shift for the largest shift from hi down to lo
 * that the heap has one of (*shift set to it); -1 if none.
 */
static int64_t take_chunk(struct iop_heap *h, uint32_t n, uint32_t hi, uint32_t lo,
			  uint32_t *shift)
{
	for (uint32_t s = hi;; s--) {
		if (n + s <= h->max_order) {
			int64_t big = heap_take_held(h, n + s);

			if (big >= 0) {
				*shift = s;
				return big;
			}
		}
		if (s == lo)
			return -1;
	}
}

/*
 * The cache of order n is empty: cut the next piece from the reserve chunk,
 * or fill the cache from the depot, or take a new chunk: one held block of
 * order n + cache_chunk (or smaller, if none is free). All its order-n
 * pieces are held with it, so cutting one needs no bitmap work but marking
 * it allocated. Chunks are as large as one cache line of the order's bitmap,
 * so two threads' pieces do not share one.
 *
 * Blocks of this thread's own chunks that came back to the depot first, then
 * a new chunk, and only when there is none of the full size other threads'
 * blocks: a thread that took those while it could cut its own would share
 * their bitmap lines with the thread that frees them, for good (a second
 * thread that started after the first had filled the depot lived on the
 * first one's magazines, and two threads ran at half the speed of one).
 */
void *heap_cache_refill_alloc(struct iop_heap *h, struct heap_cache_binding *cb, uint32_t n,
			      uint16_t tag)
{
	struct heap_cache *c = cb->c;
	uint32_t i = n - h->min_order;
	uint32_t chunk = h->cache_chunk[i];
	uint64_t next = atomic_load_explicit(&c->reserve_next[i], memory_order_relaxed);
	uint64_t end = atomic_load_explicit(&c->reserve_end[i], memory_order_relaxed);

	if (next == end) {
		uint32_t shift = chunk;
		int64_t big;
		void *p = pop_from_magazine(h, c, n, false, tag);

		if (p != NULL)
			return p;
		big = take_chunk(h, n, chunk, chunk, &shift);
		if (big < 0 && (p = pop_from_magazine(h, c, n, true, tag)) != NULL)
			return p;
		if (big < 0 && chunk > 0)
			big = take_chunk(h, n, chunk - 1, 0, &shift);
		if (big < 0)
			return NULL;
		count_event(c, HEAP_CACHE_CHUNK_CUT);
		next = (uint64_t)big << shift;
		c->home[i] = heap_depot_shard_of(h, i, next);
		end = next + (1ull << shift);
		/*
		 * Empty, then the new start, then the new end (release: in this
		 * order), so that the reserve never names blocks that are not its
		 * own, even for a drain after this process is killed in between.
		 */
		atomic_store_explicit(&c->reserve_end[i], 0, memory_order_release);
		atomic_store_explicit(&c->reserve_next[i], (uint32_t)next, memory_order_release);
		HEAP_HOOK(HEAP_HOOK_REFILL_CHUNK_STARTED);
		atomic_store_explicit(&c->reserve_end[i], (uint32_t)end, memory_order_release);
	}
	/* As in heap_cache_pop(): tagged, allocated, then out of the reserve. */
	heap_tag_block(h, n, next, tag);
	atomic_fetch_or_explicit(heap_block_word(h, n, next), heap_alloc_bit(next),
				 memory_order_acq_rel);
	HEAP_HOOK(HEAP_HOOK_REFILL_ALLOCATED);
	atomic_store_explicit(&c->reserve_next[i], (uint32_t)(next + 1), memory_order_relaxed);
	return heap_blocks(h) + (next << n);
}

uint64_t heap_cache_request_drain(struct iop_heap *h)
{
	struct heap_cache_binding *cb;

	if (h->cache_orders == 0)
		return 0;
	cb = heap_cache_find(h);
	if (cb != NULL)
		heap_cache_drain(h, cb); /* our own first: no need to wait for it */
	heap_depot_drain(h);
	return atomic_fetch_add_explicit(&h->cache_epoch, 1, memory_order_acq_rel) + 1;
}

/* Does any cache still hold blocks it has not given back since epoch? */
bool heap_caches_draining(const struct iop_heap *h, uint64_t epoch)
{
	if (h->cache_orders == 0)
		return false;
	/* Spilled into since the drain: the allocation's next round drains it again. */
	if (heap_depot_holding(h))
		return true;
	for (unsigned s = 0; s < HEAP_CACHE_SLOTS; s++) {
		struct heap_cache *c = heap_cache_slot(h, s);

		if (atomic_load_explicit(&c->owner, memory_order_acquire) == 0 ||
		    atomic_load_explicit(&c->seen_epoch, memory_order_acquire) >= epoch)
			continue;
		for (uint32_t i = 0; i < h->cache_orders; i++)
			if (atomic_load_explicit(&c->count[i], memory_order_acquire) != 0 ||
			    atomic_load_explicit(&c->reserve_next[i], memory_order_acquire) !=
				    atomic_load_explicit(&c->reserve_end[i], memory_order_acquire))
				return true;
	}
	return false;
}

/* Drop bindings to heaps destroyed since we last looked (never touch them). */
void heap_cache_revalidate(void)
{
	uint64_t gen = atomic_load_explicit(&heap_cache_destroy_gen, memory_order_acquire);

	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++) {
		struct heap_cache_binding *cb = &heap_cache_thread.binding[i];

		if (cb->h != NULL && !cb->reg->alive)
			memset(cb, 0, sizeof(*cb));
	}
	pthread_mutex_unlock(&reg_lock);
	heap_cache_thread.gen = gen;
}

/* Give slot i of h back, with its blocks. No thread may be using it. */
static void release_slot(struct iop_heap *h, struct heap_cache_reg *reg, unsigned i)
{
	struct heap_cache_binding tmp = { .h = h, .c = heap_cache_slot(h, i), .reg = reg };

	heap_cache_drain(h, &tmp);
	/* And the depot: a heap whose threads have all left is whole again. */
	heap_depot_drain(h);
	atomic_fetch_and(&reg->slots, ~(1ull << i));
	atomic_store_explicit(&tmp.c->owner, 0, memory_order_release);
}

/*
 * Thread or process exit: give every cache back, with its blocks. Under
 * reg_lock from the alive check to the last store, so a destroy on another
 * thread cannot unmap the heap in between.
 */
static void release_bindings(void)
{
	pthread_mutex_lock(&reg_lock);
	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++) {
		struct heap_cache_binding *cb = &heap_cache_thread.binding[i];

		if (cb->c != NULL && cb->reg->alive)
			release_slot(cb->h, cb->reg,
				     (unsigned)(cb->c - heap_cache_slot(cb->h, 0)));
		memset(cb, 0, sizeof(*cb));
	}
	heap_cache_thread.gen = atomic_load(&heap_cache_destroy_gen);
	pthread_mutex_unlock(&reg_lock);
}

/*
 * iop_heap_destroy. No thread uses h any more, but threads may still have
 * caches of it: they must never touch it again (it may be unmapped), and
 * for a heap in caller memory, which lives on for other processes, their
 * blocks go back to it now rather than staying cached forever.
 */
void heap_cache_forget_heap(struct iop_heap *h)
{
	pthread_mutex_lock(&reg_lock);
	for (struct heap_cache_reg *r = regs; r != NULL; r = r->next) {
		if (r->h != h || !r->alive)
			continue;
		if (!(h->flags & HEAP_FLAG_OWNED))
			for (uint64_t m = atomic_load(&r->slots); m != 0; m &= m - 1)
				release_slot(h, r, (unsigned)__builtin_ctzll(m));
		r->alive = false;
	}
	pthread_mutex_unlock(&reg_lock);
	atomic_fetch_add_explicit(&heap_cache_destroy_gen, 1, memory_order_acq_rel);
}

/* This thread's binding to h, with or without a cache; NULL if it has none. */
static struct heap_cache_binding *binding_of(struct iop_heap *h)
{
	if (heap_cache_thread.gen != atomic_load_explicit(&heap_cache_destroy_gen,
							     memory_order_acquire))
		heap_cache_revalidate();
	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++)
		if (heap_cache_thread.binding[i].h == h)
			return &heap_cache_thread.binding[i];
	return NULL;
}

/* This thread's existing binding to h, without making one. */
struct heap_cache_binding *heap_cache_find(struct iop_heap *h)
{
	struct heap_cache_binding *cb = binding_of(h);

	return cb != NULL && cb->c != NULL ? cb : NULL;
}

int heap_cache_free_slow(struct iop_heap *h, uint32_t n, uint64_t off)
{
	struct heap_cache_binding *cb = heap_cache_binding(h);
	uint32_t i = n - h->min_order;
	uint32_t cnt;

	if (cb == NULL)
		return heap_free_uncached_held(h, off, n);
	heap_cache_check_epoch(h, cb);
	cnt = atomic_load_explicit(&cb->c->count[i], memory_order_relaxed);
	if (cnt == h->cache_depth[i]) {
		heap_cache_spill(h, cb->c, i);
		cnt = atomic_load_explicit(&cb->c->count[i], memory_order_relaxed);
	}
	return heap_cache_push(h, cb->c, n, cnt, off, heap_block_word(h, n, off >> n));
}

struct heap_cache_binding *heap_cache_binding_slow(struct iop_heap *h)
{
	struct heap_cache_binding *cb = binding_of(h);
	unsigned i;

	if (cb == NULL)
		return heap_cache_bind(h);
	if (cb->c == NULL)
		return NULL; /* remembered: no slot, no cache, no rescan */
	/*
	 * Found past the two that heap_cache_binding() looks at inline: one
	 * place forward, so the heaps a thread uses most end up there. Safe:
	 * only this thread reads its bindings, and no caller holds one across
	 * a lookup.
	 */
	i = (unsigned)(cb - heap_cache_thread.binding);
	if (i >= 2) {
		struct heap_cache_binding tmp = heap_cache_thread.binding[i - 1];

		heap_cache_thread.binding[i - 1] = *cb;
		*cb = tmp;
		cb = &heap_cache_thread.binding[i - 1];
	}
	return cb;
}

void iop_heap_cache_flush(struct iop_heap *h)
{
	struct heap_cache_binding *cb;

	if (!heap_valid(h))
		return;
	if (h->cache_orders != 0) {
		cb = heap_cache_find(h);
		if (cb != NULL)
			heap_cache_drain(h, cb);
		heap_depot_drain(h);
	}
	heap_coalesce(h);
}

/*
 * fork: the child must not inherit reg_lock held by another thread, so the
 * forking thread holds it across the fork. In the child, a cache of a heap in
 * shared memory belongs to the parent's thread: forget it. A heap the child
 * got a private copy of (iop_heap_create) comes with a private copy of the
 * cache, which the child's thread keeps using.
 */
static void fork_prepare(void)
{
	pthread_mutex_lock(&reg_lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&reg_lock);
}

static void fork_child(void)
{
	for (unsigned i = 0; i < HEAP_CACHE_BINDINGS; i++) {
		struct heap_cache_binding *cb = &heap_cache_thread.binding[i];

		if (cb->h != NULL &&
		    !(cb->reg->alive && cb->c != NULL && (cb->h->flags & HEAP_FLAG_OWNED)))
			memset(cb, 0, sizeof(*cb));
	}
	/* The parent's slots in shared heaps are not ours to give back at destroy. */
	for (struct heap_cache_reg *r = regs; r != NULL; r = r->next)
		if (r->alive && !(r->h->flags & HEAP_FLAG_OWNED))
			atomic_store(&r->slots, 0);
	pthread_mutex_unlock(&reg_lock);
}

__attribute__((constructor)) static void heap_cache_register_atfork(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

unsigned iop_heap_cache_reclaim_process(struct iop_heap *h, pid_t pid)
{
	unsigned n = 0;

	if (h == NULL || pid <= 0 || pid == getpid() || h->cache_orders == 0)
		return 0;
	for (unsigned s = 0; s < HEAP_CACHE_SLOTS; s++) {
		struct heap_cache *c = heap_cache_slot(h, s);
		uint64_t owner = atomic_load_explicit(&c->owner, memory_order_acquire);

		if (owner == 0 || owner >> 32 != (uint64_t)pid)
			continue;
		/* The owner is gone: nobody else moves this slot's blocks. */
		for (uint32_t i = 0; i < h->cache_orders; i++)
			drain_order(h, c, i, true);
		atomic_store_explicit(&c->owner, 0, memory_order_release);
		n++;
	}
	return n;
}
