/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A reference model of the iopool buddy heap, for the fuzz harness.
 *
 * It is a plain single-threaded buddy allocator written the obvious way and
 * shares no code with frames/: a differential test is only worth something if
 * the two sides can be wrong independently. It predicts exactly what the real
 * heap does when one thread drives it:
 *   alloc(x): order N = max(ceil(log2 x), min_order); the smallest order
 *             j >= N with a free block, the lowest free block of that order,
 *             split keeping the lower half, upper halves become free blocks;
 *             if there is none, coalesce (below) and look once more.
 *             A thread with a region (hm_set_thread_slot) looks there first:
 *             the smallest order j >= N with a free block that overlaps the
 *             region, the lowest, split keeping the half nearer the region's
 *             start; then the same in ranges from the region's start of 2,
 *             4, 8, ... times its length, cut at the heap's end; only then
 *             the whole heap as above.
 *   free:     the block becomes free at its own order, nothing merges; a
 *             refused free changes nothing but the refused count.
 *   coalesce: from the smallest order up, every free block whose binary
 *             buddy is a whole free block merges with it, until no two free
 *             buddies are left; the count of merges is what the heap returns.
 */
#ifndef IOP_FUZZ_HEAP_MODEL_H
#define IOP_FUZZ_HEAP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Orders 0..63, as in struct iop_heap_stats::free_blocks. */
#define HM_ORDER_SLOTS 64u
/* The harness uses heaps of at most 2^16 bytes; the model is sized for it. */
#define HM_MAX_ORDER 16u
#define HM_MIN_ORDER 4u

enum hm_state {
	HM_FREE = 1,
	HM_ALLOC = 2,
};

/* The block that covers one min-block unit of the heap. */
struct hm_unit {
	uint16_t start; /* first unit of that block */
	uint8_t order;  /* log2 of its size in bytes */
	uint8_t state;  /* enum hm_state */
};

struct heap_model {
	unsigned max_order;
	unsigned min_order;
	uint32_t units; /* 2^(max_order - min_order) */
	struct hm_unit unit[1u << (HM_MAX_ORDER - HM_MIN_ORDER)];
	/* Per order, bit i set when block i of that order is a whole free block:
	 * the free sets, so the lowest free block is found without a walk. */
	uint64_t free_set[HM_MAX_ORDER + 1][(1u << (HM_MAX_ORDER - HM_MIN_ORDER)) / 64];

	/* The driving thread's region, bytes [region_lo, region_hi); empty if none. */
	uint64_t region_lo;
	uint64_t region_hi;

	uint64_t free_blocks[HM_ORDER_SLOTS];
	uint64_t bytes_free;
	uint64_t bytes_in_use;
	uint64_t blocks_in_use;
	uint64_t refused_frees;
};

/* Where the pointer of a free lies, as the model sees it. */
struct hm_free_where {
	bool outside; /* the pointer is not in [blocks, blocks + 2^M) */
	uint64_t off; /* byte offset into the block area, when inside */
};

/* A heap of 2^max_order bytes, all one free block. Returns 0 or -EINVAL. */
int hm_init(struct heap_model *m, unsigned max_order, unsigned min_order);

/*
 * The heap thread slot (1..64) of the thread that drives the heap, and so its
 * region: the 64th of the heap at slot - 1's six bits reversed (slot 1's at
 * 0), none where a 64th holds fewer than 32 minimum blocks.
 */
void hm_set_thread_slot(struct heap_model *m, unsigned slot);

/* Order of the block that alloc(x) gives, or -1 if x is out of range. */
int hm_order_for(const struct heap_model *m, size_t x);

/*
 * HeapAlloc(x). Returns the byte offset of the block (>= 0), or -EINVAL /
 * -ENOMEM as the errno the real heap must set.
 */
int64_t hm_alloc(struct heap_model *m, size_t x);

/*
 * HeapFree at `where` with size x: the return code the real heap must give
 * (0, -EINVAL, -EFAULT, -ERANGE, -ENXIO, -EALREADY), applied to the model.
 */
int hm_free(struct heap_model *m, struct hm_free_where where, size_t x);

/*
 * What a free of (where, x) would return, without changing anything; the
 * harness uses it to find out whether a free will release a live block.
 */
int hm_free_predict(const struct heap_model *m, struct hm_free_where where, size_t x);

/* The allocated block that starts at byte offset off: its order, or -1. */
int hm_alloc_order_at(const struct heap_model *m, uint64_t off);

/* Merge every pair of free buddies, upward; returns the merges (iop_heap_coalesce()). */
uint64_t hm_coalesce(struct heap_model *m);

/* The largest free block in bytes, 0 if none. */
uint64_t hm_largest_free(const struct heap_model *m);

/*
 * The model's own invariants (units partition the heap, free sets agree with
 * the units, counters add up). Returns NULL or what broke.
 */
const char *hm_self_check(const struct heap_model *m);

#endif /* IOP_FUZZ_HEAP_MODEL_H */
