/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The heap's in-memory layout. Everything here lives in the heap's own memory
 * and refers to other parts by offsets from the header, so a heap built in a
 * shared mapping works in every process that maps it, at any address.
 *
 * Per order k (min_order <= k <= max_order) there is a block bitmap of
 * 2^(M-k) blocks, 32 blocks per 64-bit word:
 *   bit i      (low half)  F: block is free (the patent's free list, 306/407)
 *   bit 32 + i (high half) A: block is allocated to a caller
 * A block with neither bit is split into smaller blocks or is part of a larger
 * one. Buddies (i, i ^ 1) always share a word, so every decision that involves
 * a block and its buddy - take the buddy and merge, or mark myself free; is it
 * allocated, then free it - is one compare-and-swap on one word.
 *
 * Above each order's block words sits a summary tree (one bit per word below,
 * 64 per word) up to one top word, and above all orders the M+1-bit heap data
 * structure (the patent's 304): bit k set when order k may have a free block.
 */
#ifndef IOP_HEAP_LAYOUT_H
#define IOP_HEAP_LAYOUT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "iop_heap.h"

#define HEAP_MAGIC 0x50414548504f4931ull /* "1IOPHEAP" little-endian */
#define HEAP_LAYOUT_VERSION 7u
#define HEAP_FLAG_OWNED 0x1u /* memory was mapped by iop_heap_create() */

#define HEAP_CACHE_LINE 64u
#define HEAP_BLOCKS_PER_WORD 32u
#define HEAP_FREE_MASK 0x00000000ffffffffull
#define HEAP_MAX_LEVELS 8u /* 2^40 / 16 blocks = 2^36 -> 2^31 words -> 6 levels */
#define HEAP_INFLIGHT_SLOTS 64u
#define HEAP_DEFAULT_ENOMEM_WAIT_NS 10000000ull

/* One order's bitmaps: level 0 holds block words, levels above summaries. */
struct heap_order {
	uint64_t level_off[HEAP_MAX_LEVELS];   /* from the header */
	uint64_t level_words[HEAP_MAX_LEVELS]; /* words at each level */
	uint64_t blocks;                       /* 2^(M-k) */
	uint32_t levels;                       /* level count; levels-1 is the top word */
	uint32_t pad;
};

/*
 * Each thread counts the operations it has in flight (ones that hold a block
 * out of every bitmap, or out of the summaries, for a moment: a split, a
 * merge, a summary update) in its slot. Threads of one process get distinct
 * slots up to 64; past that, and across processes, slots are shared, which
 * is correct (the counts only add) and costs only cache-line sharing.
 * low 32 bits: operations in flight; high 32 bits: operations completed.
 * An allocation that finds nothing compares all slots before and after its
 * search to tell real exhaustion from a block that was only in transit.
 */
struct heap_inflight_slot {
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t word;
};

/*
 * A thread's cache of free blocks for the smallest orders (heap_cache.c).
 * Owned by one thread at a time; others read it only to know whether it is
 * holding memory (count, seen_epoch) and, at quiescence, for stats and check.
 * Cached blocks carry no bit at all ("held"), like a block being split.
 */
#define HEAP_CACHE_SLOTS 64u
/*
 * From the minimum block up: 64 bytes to 64 KiB with the default minimum,
 * where the heap is large enough (heap_create.c). Eight orders (to 8 KiB)
 * left a random mix of sizes up to 64 KiB on the bitmaps for three sizes in
 * ten, at 27 M pairs/s on one thread against 48 with all of them cached.
 */
#define HEAP_CACHE_ORDERS 11u
#define HEAP_CACHE_DEPTH 32u

enum heap_cache_event {
	HEAP_CACHE_DEPOT_TAKE,    /* an empty cache took a full magazine */
	HEAP_CACHE_CHUNK_CUT,     /* an empty cache, none on its shard: a new reserve chunk (a split) */
	HEAP_CACHE_DEPOT_GIVE,    /* a full cache gave half to the depot */
	HEAP_CACHE_HEAP_RELEASE,  /* a full cache, no empty magazine: half released (merges) */
	HEAP_CACHE_EVENTS,
};

struct heap_cache {
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t owner; /* 0: free slot */
	_Atomic uint64_t seen_epoch;                     /* last drain request honoured */
	_Atomic uint32_t count[HEAP_CACHE_ORDERS];
	/* Reserve: the unused rest [next, end) of the held chunk pieces are cut from. */
	_Atomic uint32_t reserve_next[HEAP_CACHE_ORDERS];
	_Atomic uint32_t reserve_end[HEAP_CACHE_ORDERS];
	/*
	 * How the cache met the rest of the heap (enum heap_cache_event), over
	 * all orders, since the slot was made: written by the owner alone, read
	 * by iop_heap_stats(). Counted on the paths taken once per half a cache,
	 * never on a cached alloc or free.
	 */
	_Atomic uint64_t events[HEAP_CACHE_EVENTS];
	/* The owner's alone: per order, the depot shard of its last reserve chunk. */
	uint32_t home[HEAP_CACHE_ORDERS];
	_Alignas(HEAP_CACHE_LINE) _Atomic uint32_t block[HEAP_CACHE_ORDERS][HEAP_CACHE_DEPTH];
};

/*
 * The depot (heap_cache.c): per cached order, magazines of free blocks that
 * a full cache hands over whole and an empty cache takes whole, so that
 * blocks freed on one thread and allocated on another (a frame's life:
 * the host allocates, the IOP frees) go round without a merge and a split
 * each. Two lock-free stacks of magazine indices, each head a 64-bit word (a
 * tag that every change bumps, against ABA, and index + 1).
 *
 * The stacks come in shards, and a magazine goes to the shard of the reserve
 * chunk its blocks were cut from, where the thread that cut them looks first:
 * blocks go back to the thread that allocates them, so that the lines of
 * their bitmap words and tags stay between the two threads that pass them,
 * rather than between every thread of the heap. The magazines themselves are
 * the order's, any shard's stacks may hold any of them.
 *
 * A thread that frees a batch of B blocks of one order fills about B / 16
 * magazines: a batch of a thousand blocks of 64 to 512 bytes (threadtest's)
 * fills 36 of the 512-byte order, so 64 magazines ran out at two threads and
 * every further spill merged and every refill split. Order k's depot has
 * one magazine per MiB of heap, at least 64 and at most 256 (seven such
 * threads), and never more than hold 1/16 of the heap (heap / 256 / 2^k):
 * 19 KiB per cached order at the most, and under 1 % of any heap that has a
 * depot. Past that a spill merges as before.
 */
#define HEAP_DEPOT_MAGS_MIN 64u
#define HEAP_DEPOT_MAGS_MAX 256u
#define HEAP_DEPOT_SHARDS 8u
#define HEAP_MAG_BLOCKS (HEAP_CACHE_DEPTH / 2)

struct heap_mag {
	_Atomic uint32_t next;  /* index + 1 of the next magazine on its stack; 0 ends it */
	_Atomic uint32_t count; /* blocks in it, when full */
	_Atomic uint32_t block[HEAP_MAG_BLOCKS];
};

struct heap_depot_shard {
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t full;  /* tag << 32 | index + 1 */
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t empty;
};

struct heap_depot {
	struct heap_depot_shard shard[HEAP_DEPOT_SHARDS];
	_Alignas(HEAP_CACHE_LINE) struct heap_mag mag[]; /* depot_mags[i] of them */
};

struct iop_heap {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t flags;
	uint64_t footprint;     /* bytes from the header to the end of the blocks */
	uint64_t blocks_off;    /* offset of the block area */
	uint64_t metadata_bytes;
	uint64_t enomem_wait_ns;
	uint32_t min_order;
	uint32_t max_order;
	/*
	 * Derived once at create, for the paths every alloc, free and size
	 * lookup takes: 2^M, 2^min_order - 1, and each order's block words as
	 * an offset at an 8-byte stride (orders[k].level_off[0], without
	 * indexing 144-byte records).
	 */
	uint64_t heap_bytes;
	uint64_t min_block_mask;
	uint64_t block_words_off[IOP_HEAP_MAX_ORDER + 1];
	struct heap_order orders[IOP_HEAP_MAX_ORDER + 1];
	uint64_t cache_off;                        /* HEAP_CACHE_SLOTS caches, or 0 */
	uint32_t cache_orders;                     /* cached orders from min_order up */
	uint32_t cache_depth[HEAP_CACHE_ORDERS];   /* blocks a cache keeps per order */
	uint32_t cache_chunk[HEAP_CACHE_ORDERS];   /* log2 of the pieces in a reserve chunk */
	uint64_t depot_off[HEAP_CACHE_ORDERS];     /* each cached order's depot */
	uint32_t depot_mags[HEAP_CACHE_ORDERS];    /* the magazines in it */
	uint64_t depots_bytes;                     /* all of them, their magazines included */
	/*
	 * Tags (heap_tags.h): from the header to a table of one 16-bit tag per
	 * smallest block, or 0 for a heap without one. Relative, like every
	 * offset here, so it holds in every process that maps the heap.
	 */
	int64_t tags_rel;

	/* The patent's heap data structure: bit k = order k has a free block. */
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t nonempty_orders;
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t refused_frees;
	/* Bumped by an allocation that found nothing: caches, give back. */
	_Alignas(HEAP_CACHE_LINE) _Atomic uint64_t cache_epoch;
	struct heap_inflight_slot inflight[HEAP_INFLIGHT_SLOTS];
};

static inline struct heap_cache *heap_cache_slot(const struct iop_heap *h, unsigned i)
{
	return (struct heap_cache *)((char *)h + h->cache_off) + i;
}

static inline struct heap_depot *heap_depot(const struct iop_heap *h, uint32_t i)
{
	return (struct heap_depot *)((char *)h + h->depot_off[i]);
}

/*
 * The depot shard of an offset in the heap: which eighth of the heap it lies
 * in. Threads cut their chunks at their homes (heap_home.h), whose six bits
 * are their slot's reversed, so the eighth is the slot's low three bits
 * reversed: any eight threads of consecutive slots, a process's first eight
 * among them, have a shard each. (A hash of the chunk's index, as before,
 * put two threads on one shard about every other run of two threads.)
 */
static inline uint32_t heap_depot_shard_at(const struct iop_heap *h, uint64_t off)
{
	_Static_assert(HEAP_DEPOT_SHARDS == 8, "the offset's top three bits");
	return (uint32_t)(off >> (h->max_order - 3));
}

/* The depot shard of block b of cached order i: its reserve chunk's. */
static inline uint32_t heap_depot_shard_of(const struct iop_heap *h, uint32_t i, uint64_t b)
{
	return heap_depot_shard_at(h, b << (h->min_order + i));
}

static inline _Atomic uint64_t *heap_level_word(const struct iop_heap *h, uint32_t k,
						uint32_t level, uint64_t idx)
{
	const struct heap_order *o = &h->orders[k];

	return (_Atomic uint64_t *)((char *)h + o->level_off[level]) + idx;
}

static inline _Atomic uint64_t *heap_block_word(const struct iop_heap *h, uint32_t k,
						uint64_t block)
{
	return (_Atomic uint64_t *)((char *)h + h->block_words_off[k]) +
	       block / HEAP_BLOCKS_PER_WORD;
}

static inline uint64_t heap_free_bit(uint64_t block)
{
	return 1ull << (block % HEAP_BLOCKS_PER_WORD);
}

static inline uint64_t heap_alloc_bit(uint64_t block)
{
	return 1ull << (32 + block % HEAP_BLOCKS_PER_WORD);
}

static inline char *heap_blocks(const struct iop_heap *h)
{
	return (char *)h + h->blocks_off;
}

static inline bool heap_valid(const struct iop_heap *h)
{
	return h != NULL && h->magic == HEAP_MAGIC && h->layout_version == HEAP_LAYOUT_VERSION;
}

static inline _Atomic uint16_t *heap_tags(const struct iop_heap *h)
{
	return h->tags_rel != 0 ? (_Atomic uint16_t *)((char *)h + h->tags_rel) : NULL;
}

/*
 * Tag block b of order n. Stored before the block's A bit is set, by the
 * same thread: the A bit's release RMW publishes it, so whoever sees the
 * block allocated sees its tag.
 */
static inline void heap_tag_block(const struct iop_heap *h, uint32_t n, uint64_t b, uint16_t tag)
{
	_Atomic uint16_t *t = heap_tags(h);

	if (t != NULL)
		atomic_store_explicit(&t[b << (n - h->min_order)], tag, memory_order_relaxed);
}

/* Order of a block of x bytes, 0 < x <= 2^M: max(ceil(log2 x), min_order), without a branch. */
static inline uint32_t heap_order_of(const struct iop_heap *h, uint64_t x)
{
	/* Below 2^min_order the low ones decide; above, x - 1's top bit does. */
	return 64u - (uint32_t)__builtin_clzll((x - 1) | h->min_block_mask);
}

/* ceil(log2(x)) for x >= 1. */
static inline uint32_t heap_ceil_log2(uint64_t x)
{
	return x <= 1 ? 0 : 64u - (uint32_t)__builtin_clzll(x - 1);
}

#endif /* IOP_HEAP_LAYOUT_H */
