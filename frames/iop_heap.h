/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * iopool buddy heap: HeapCreate / HeapAlloc / HeapFree of US patent 6,412,053,
 * concurrent and lock-free.
 *
 * A heap manages 2^M bytes and hands out blocks of 2^N bytes, each aligned to
 * 2^N from the heap start. Freeing a block coalesces it with its binary buddy
 * as far up as possible. Any number of threads, in any number of processes that
 * map the same heap, may call iop_heap_alloc() and iop_heap_free() at once:
 * there is no lock and no system call on those paths, and a thread suspended
 * anywhere inside them never stops the others from completing.
 *
 * The heap needs only libc and C11 atomics; it does not need the DPDK EAL.
 * See docs/heap.md for the design and its mapping onto the patent.
 */
#ifndef IOP_HEAP_H
#define IOP_HEAP_H

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Smallest block size a heap may be configured with. */
#define IOP_HEAP_MIN_BLOCK_MIN 16u
/** Default smallest block size: one cache line. */
#define IOP_HEAP_MIN_BLOCK_DEFAULT 64u
/** Largest heap: 2^40 bytes. */
#define IOP_HEAP_MAX_ORDER 40u
/** Number of order slots in iop_heap_stats::free_blocks (orders 0..63). */
#define IOP_HEAP_ORDER_SLOTS 64u

/** Options for iop_heap_create() and friends. Zero-filled means defaults. */
struct iop_heap_opts {
	/** Smallest block in bytes: a power of two >= IOP_HEAP_MIN_BLOCK_MIN; 0 = 64. */
	size_t min_block;
	/**
	 * How long an allocation that finds no free block keeps looking while
	 * other threads are in the middle of a split or a merge (which hide the
	 * block they hold for that moment), in nanoseconds; 0 = 10 ms. Only a
	 * thread stopped inside an operation for longer than this can make
	 * another thread see ENOMEM while memory is free.
	 */
	uint64_t enomem_wait_ns;
	/** IOP_HEAP_F_* flags. */
	uint32_t flags;
};

/*
 * Thread caches are the default: each thread keeps a small cache (magazine)
 * of free blocks per small order, so that an alloc+free pair of one size
 * neither splits nor merges. Frees are validated exactly as without them.
 * Blocks in a thread's cache come back to the heap when the thread exits
 * (or its process calls exit()), calls iop_heap_cache_flush(), or makes any
 * heap call after another thread found no block large enough. Heaps too
 * small for them get none. What they cost: docs/heap.md.
 */

/** Thread caches: the default, accepted so that asking for them says so. */
#define IOP_HEAP_F_CACHED 0x1u

/**
 * No thread caches: every block comes from the bitmaps and goes back to them,
 * with the uncached heap's deterministic placement (lowest address first,
 * within the calling thread's region first, then ranges from it: docs/heap.md,
 * "Allocation policy"), for callers that depend on exact addresses or on the free blocks
 * left after a free, and to save the caches' metadata (104 KiB of slots and
 * a depot per cached order). With IOP_HEAP_F_CACHED: EINVAL.
 */
#define IOP_HEAP_F_NO_CACHE 0x2u

/** What iop_heap_stats() reports. Exact only when no operation is in flight. */
struct iop_heap_stats {
	uint64_t heap_bytes;      /**< 2^M */
	uint64_t min_block;       /**< smallest block size */
	uint64_t bytes_free;      /**< sum of all free blocks, cached ones included */
	uint64_t bytes_in_use;    /**< sum of all allocated blocks */
	uint64_t blocks_in_use;   /**< number of allocated blocks */
	uint64_t largest_free;    /**< size of the largest free block, 0 if none */
	uint64_t refused_frees;   /**< iop_heap_free() calls refused since creation */
	uint64_t bytes_cached;    /**< free blocks held in thread caches (in bytes_free) */
	uint64_t metadata_bytes;  /**< bytes of bitmaps and header */
	/**
	 * How the thread caches met the rest of the heap since it was made, all
	 * orders: an empty cache refilled with a magazine from the depot
	 * (depot_takes) or, with none on its thread's shard of it, from a new
	 * reserve chunk split off the heap (chunk_cuts; other shards' magazines
	 * are taken only when no chunk is left); a full cache handed half its
	 * blocks to the depot (depot_gives) or, with no room there, released
	 * them into the heap one by one, merging (heap_releases). Many releases
	 * mean the depot is too small for the blocks in flight between threads;
	 * many cuts, that threads free what other threads keep allocating.
	 * 0 on a heap without caches.
	 */
	uint64_t cache_depot_takes;
	uint64_t cache_chunk_cuts;
	uint64_t cache_depot_gives;
	uint64_t cache_heap_releases;
	uint32_t min_order;       /**< log2(min_block) */
	uint32_t max_order;       /**< M */
	/** Free blocks of order k (size 2^k) in free_blocks[k], not counting cached ones. */
	uint64_t free_blocks[IOP_HEAP_ORDER_SLOTS];
};

struct iop_heap;

/**
 * HeapCreate(n): make a heap of 2^M bytes, M = ceil(log2 n), in memory of its own.
 *
 * @param n     bytes wanted; rounded up to a power of two.
 * @param opts  NULL for defaults.
 * @return the heap, or NULL with errno: EINVAL (n == 0, bad min_block,
 *         n smaller than min_block, IOP_HEAP_F_CACHED with
 *         IOP_HEAP_F_NO_CACHE), E2BIG (n > 2^IOP_HEAP_MAX_ORDER),
 *         ENOMEM (no memory for it).
 * Thread safety: any thread.
 */
struct iop_heap *iop_heap_create(size_t n, const struct iop_heap_opts *opts);

/**
 * Bytes of caller memory iop_heap_create_in() needs for a heap of n bytes:
 * header, bitmaps and the blocks themselves.
 *
 * @return the footprint, or 0 with errno as for iop_heap_create().
 */
size_t iop_heap_footprint(size_t n, const struct iop_heap_opts *opts);

/**
 * HeapCreate(n) inside caller memory, such as a shared mapping.
 *
 * Everything the heap needs lives in [mem, mem + iop_heap_footprint()) and
 * refers to itself by offsets only, so another process may map the same
 * memory at another address and call iop_heap_attach().
 *
 * @param mem  at least 64-byte aligned (4 KiB recommended, so blocks are
 *             page aligned).
 * @param len  bytes at mem; must be >= iop_heap_footprint(n, opts).
 * @return the heap (== mem), or NULL with errno: EINVAL (as for create, or a
 *         NULL or misaligned mem), ENOSPC (len too small), E2BIG.
 * Thread safety: no other thread may use mem until this returns.
 */
struct iop_heap *iop_heap_create_in(void *mem, size_t len, size_t n,
				    const struct iop_heap_opts *opts);

/**
 * Open a heap that iop_heap_create_in() built in memory now mapped at mem,
 * possibly by another process and at another address.
 *
 * @return the heap, or NULL with errno EINVAL (NULL mem) or EPROTO (no
 *         heap there, or one of another layout version).
 */
struct iop_heap *iop_heap_attach(void *mem);

/**
 * Release a heap. A heap from iop_heap_create() gives its memory back; for one
 * from iop_heap_create_in() or iop_heap_attach() the memory stays the caller's
 * and this only forgets the handle. Not to be called while other threads use h.
 */
void iop_heap_destroy(struct iop_heap *h);

/**
 * HeapAlloc(x): a block of 2^N bytes, N = max(ceil(log2 x), log2 min_block),
 * aligned to 2^N from the heap start.
 *
 * @return the block, or NULL with errno EINVAL (h NULL, x == 0 or x > 2^M)
 *         or ENOMEM (no free block of 2^N or larger).
 * Thread safety: any thread of any process that attached the heap; lock-free.
 */
void *iop_heap_alloc(struct iop_heap *h, size_t x);

/*
 * Tags. A heap may carry a table of one 16-bit tag per block (the heaps of a
 * frame window do: <iop/window.h> keeps in them who holds each frame, so that
 * the frames of a process that dies can be found). An allocation writes its
 * block's tag before the block becomes allocated, so an allocated block
 * always has the tag its allocator gave it, even when the allocating process
 * was killed in the middle of the call; a free leaves the tag alone (it
 * means nothing on a free block). Without a table, tags cost nothing and
 * say nothing.
 */

/**
 * HeapAlloc(x) of a block tagged `tag` (iop_heap_alloc() tags 0).
 * @return as iop_heap_alloc().
 * Thread safety: as iop_heap_alloc().
 */
void *iop_heap_alloc_tagged(struct iop_heap *h, size_t x, uint16_t tag);

/**
 * Re-tag the allocated block at p (its holder changed hands).
 * @return 0; -EFAULT when p is not the start of an allocated block; -ENOTSUP
 *         for a heap without a tag table.
 * Thread safety: the block's holder.
 */
int iop_heap_tag_set(struct iop_heap *h, const void *p, uint16_t tag);

/**
 * iop_heap_tag_set() for a caller that already knows p is the start of an
 * allocated block of block_bytes (it has just checked, with
 * iop_heap_allocated_size(), and holds it): p and block_bytes are checked
 * against the heap's bounds and alignment, not against its bitmaps. The
 * path of every request pays for this one.
 *
 * @return 0; -EFAULT if p is outside the heap or not aligned to
 *         block_bytes, or block_bytes is not a block size of the heap;
 *         -ENOTSUP for a heap without a tag table.
 */
int iop_heap_tag_set_block(struct iop_heap *h, const void *p, size_t block_bytes, uint16_t tag);

/**
 * Where a heap keeps its tags, for a holder that re-tags blocks on a hot path
 * (the runtime's loop, twice a request) with iop_heap_tag_store() instead of
 * a call. Valid in the process that made it, for the heap's life; treat the
 * fields as private.
 */
struct iop_heap_tag_view {
	const char *blocks;     /**< the block area in this process */
	_Atomic uint16_t *tags; /**< one tag per smallest block; NULL: no table */
	uint64_t heap_bytes;    /**< the block area's size */
	uint32_t min_order;     /**< log2 of the smallest block */
};

/**
 * Fill v for h.
 * @return 0; -ENOTSUP for a heap without a tag table (v then stores nothing);
 *         -EINVAL for a NULL or broken h or a NULL v.
 * Thread safety: any thread.
 */
int iop_heap_tag_view(const struct iop_heap *h, struct iop_heap_tag_view *v);

/**
 * p's offset in the view's block area, for the inline calls of the views.
 * Below the blocks, p - blocks wraps: one compare with heap_bytes checks both
 * ends.
 */
static inline uint64_t iop_heap_tag_view_offset(const struct iop_heap_tag_view *v, const void *p)
{
	return (uint64_t)((uintptr_t)p - (uintptr_t)v->blocks);
}

/**
 * iop_heap_tag_set_block() through a view, inline, for a block the caller
 * holds and has checked as allocated (iop_heap_allocated_size()): only that
 * p lies in the heap is checked again, so that no pointer can make it write
 * outside the table. Nothing is stored for a p outside, or without a table.
 * Thread safety: the block's holder.
 */
static inline void iop_heap_tag_store(const struct iop_heap_tag_view *v, const void *p,
				      uint16_t tag)
{
	uint64_t off = iop_heap_tag_view_offset(v, p);

	if (v->tags != NULL && off < v->heap_bytes)
		atomic_store_explicit(&v->tags[off >> v->min_order], tag, memory_order_relaxed);
}

/** The tag of the allocated block at p, or -EFAULT / -ENOTSUP as iop_heap_tag_set(). */
int iop_heap_tag(const struct iop_heap *h, const void *p);

/**
 * iop_heap_tag() for a block the caller expects to be allocated with
 * exactly block_bytes (a frame handed back to be used again): one look at
 * the block's allocation bit instead of a search for its size.
 *
 * @return the tag; -EFAULT when p is not the start of an allocated block of
 *         block_bytes (outside the heap, misaligned, free, or allocated with
 *         another size); -ENOTSUP for a heap without a tag table.
 * Thread safety: any thread.
 */
int iop_heap_block_tag(const struct iop_heap *h, const void *p, size_t block_bytes);

/**
 * Free every allocated block tagged `tag`: what a dead holder held. Call it
 * once nobody will use those blocks any more, and, if the holder's process
 * is dead, after iop_heap_cache_reclaim_process() (which must not find them
 * freed).
 * @return how many blocks were freed.
 * Thread safety: any thread, while no block tagged `tag` is used.
 */
size_t iop_heap_reclaim_tag(struct iop_heap *h, uint16_t tag);

/**
 * HeapFree(p, x): return a block. x may be the size asked of
 * iop_heap_alloc() or the block size. The block is free at its own order at
 * once; merging it with its buddy, upward as far as it goes (the patent's
 * FIG. 6), is deferred to when a larger block is needed: an allocation that
 * finds none merges every free buddy pair before it can fail, and so do
 * iop_heap_cache_flush() and iop_heap_coalesce(). So an alloc+free pair of
 * one size costs a compare-and-swap each, not a split and a merge of every
 * level, and nothing is lost: whatever an eager free would have merged, an
 * allocation that needs it gets.
 *
 * A refused free leaves the heap unchanged and counts in refused_frees.
 * @return 0, or
 *   -EINVAL     h NULL, x == 0 or x > 2^M;
 *   -EFAULT     p does not point into this heap's blocks;
 *   -EALREADY   p lies in free memory: a double free;
 *   -ERANGE     a live block starts at p, but of another size order;
 *   -ENXIO      p points inside a live block, not at its start.
 * Thread safety: any thread of any process that attached the heap; lock-free.
 * Two threads freeing the same block at once: exactly one succeeds.
 */
int iop_heap_free(struct iop_heap *h, void *p, size_t x);

/**
 * Fill *s. Walks the bitmaps: cost grows with the heap, not for hot paths.
 * @return 0, or -EINVAL for a NULL argument.
 */
int iop_heap_stats(const struct iop_heap *h, struct iop_heap_stats *s);

/**
 * Verify every invariant of a quiescent heap: blocks partition the heap with
 * no overlap, no block is both free and allocated, no two free buddies are
 * left unmerged, and every word with a free block has its summary bit and
 * heap-data-structure bit set (a set bit over an empty word is allowed: those
 * are cleared lazily); blocks in thread caches carry no bit and no cache
 * holds a block another holds. Allocates a little memory when caches hold
 * blocks: not for hot paths.
 *
 * @return 0; -EBUSY if an operation is in flight; -EUCLEAN if an invariant is
 *         broken (iop_heap_check_report() says which); -EINVAL for NULL h;
 *         -ENOMEM if it could not allocate its working memory.
 */
int iop_heap_check(const struct iop_heap *h);

/**
 * As iop_heap_check(), writing a one-line description of the first broken
 * invariant (or "ok") into buf.
 */
int iop_heap_check_report(const struct iop_heap *h, char *buf, size_t len);

/**
 * Return the blocks in the calling thread's cache of h, and those in the
 * heap's depot (the magazines full caches hand over for other threads to
 * take), to the heap, then merge every pair of free buddies
 * (iop_heap_coalesce()). Call it where a thread that freed blocks lives on
 * and the heap is expected whole (largest_free, free_blocks[],
 * iop_heap_check), and before leaving a process with _exit(), which gives
 * no cache back. On a heap without caches (IOP_HEAP_F_NO_CACHE, or too
 * small for them) it only merges.
 * Thread safety: any thread; of the thread caches, touches only its own.
 */
void iop_heap_cache_flush(struct iop_heap *h);

/**
 * Merge every pair of free buddies, upward as far as they go: what HeapFree
 * defers (see iop_heap_free()). Afterwards, at quiescence, free_blocks[]
 * and largest_free are what an eager HeapFree would have left. Walks the
 * bitmaps under the summary bits of each order: cost grows with the free
 * blocks, not for hot paths.
 * @return the merges made (a pair of blocks into one); 0 for an invalid heap.
 * Thread safety: any thread, alongside any other call; lock-free.
 */
size_t iop_heap_coalesce(struct iop_heap *h);

/**
 * Give back the thread caches a killed process held in a heap in shared
 * memory: the blocks they held go back to the heap (and coalesce) and their
 * slots are free again. A process that exits normally gives its caches back
 * itself; one killed with SIGKILL cannot.
 *
 * @param pid  a process that is gone (the caller knows: waitpid, or its
 *             socket closed and kill(pid, 0) says ESRCH); never the caller.
 * @return how many cache slots were given back.
 * Thread safety: any thread, while pid makes no more calls.
 */
unsigned iop_heap_cache_reclaim_process(struct iop_heap *h, pid_t pid);

/** Size in bytes of the heap's block area (2^M). */
size_t iop_heap_size(const struct iop_heap *h);

/** Smallest block size of the heap. */
size_t iop_heap_min_block(const struct iop_heap *h);

/** Block size iop_heap_alloc(h, x) would give, or 0 if x is out of range. */
size_t iop_heap_block_size(const struct iop_heap *h, size_t x);

/**
 * Size of the allocated block that starts at p: how an IOP learns how many
 * bytes of a frame it may read, from the frame's address alone, without
 * trusting what the frame says of itself.
 *
 * @return the block's size, or 0 when p is not the start of a block that is
 *         allocated now (anywhere inside a block, a free or cached block,
 *         outside the heap). A snapshot: meaningful for a block that nobody
 *         frees meanwhile, as a posted frame is.
 * Thread safety: any thread.
 */
size_t iop_heap_allocated_size(const struct iop_heap *h, const void *p);

/**
 * Where a heap says whether a block of one size is allocated, and whose it
 * is, taken once: for a holder that checks blocks of that size on a hot path
 * (the runtime's loop, every request frame a host posts and every reply frame
 * it hands back) with the inline calls below instead of the heap's. Valid in
 * the process that made it, for the heap's life; it keeps the tag table the
 * heap had when it was made (made before the table, it has none). Treat the
 * fields as private.
 */
struct iop_heap_block_view {
	struct iop_heap_tag_view base;  /**< the block area and the tags, for iop_heap_tag_store() too */
	const struct iop_heap *heap;    /**< for the sizes the view does not cover */
	const _Atomic uint64_t *words;  /**< the order's bitmap: 32 blocks a word, A bits high */
	uint32_t order;                 /**< log2 of the view's block size */
};

/**
 * Fill v for the blocks of block_bytes in h; 0 means its smallest block.
 * @return 0; -EINVAL for a NULL or broken h, a NULL v, or a block_bytes that
 *         is not a block size of h (a power of two from its smallest block to
 *         its size). On an error a v that is not NULL is made a view that
 *         holds nothing: no block is allocated through it, none has a size
 *         (0) or a tag (-ENOTSUP), so a caller that goes on with it refuses
 *         every frame rather than trusting one.
 * Thread safety: any thread.
 */
int iop_heap_block_view(const struct iop_heap *h, size_t block_bytes,
			struct iop_heap_block_view *v);

/**
 * Is p the start of a block of exactly the view's size that is allocated
 * now? One look at its A bit, as iop_heap_block_tag() takes. A pointer
 * outside the heap or misaligned is not; nothing outside the bitmap is read.
 * Thread safety: any thread.
 */
static inline int iop_heap_view_holds(const struct iop_heap_block_view *v, const void *p)
{
	uint64_t off = iop_heap_tag_view_offset(&v->base, p);
	uint64_t b = off >> v->order;

	if (off >= v->base.heap_bytes || (off & ((1ull << v->order) - 1)) != 0)
		return 0;
	return (int)((atomic_load_explicit(&v->words[b / 32], memory_order_acquire) >>
		      (32 + b % 32)) & 1);
}

/**
 * iop_heap_allocated_size() for a caller whose blocks are mostly of the
 * view's size: one look for those, the heap's search for any other.
 * Thread safety: any thread.
 */
static inline size_t iop_heap_view_allocated_size(const struct iop_heap_block_view *v,
						  const void *p)
{
	/* At most one order has an A bit for a block starting at p. */
	if (iop_heap_view_holds(v, p))
		return (size_t)1 << v->order;
	return iop_heap_allocated_size(v->heap, p);
}

/**
 * iop_heap_block_tag() for the view's block size, inline.
 * @return the tag; -EFAULT when p is not the start of an allocated block of
 *         the view's size; -ENOTSUP for a heap without a tag table.
 * Thread safety: any thread.
 */
static inline int iop_heap_view_block_tag(const struct iop_heap_block_view *v, const void *p)
{
	const struct iop_heap_tag_view *t = &v->base;

	if (t->tags == NULL)
		return -ENOTSUP;
	if (!iop_heap_view_holds(v, p))
		return -EFAULT;
	return atomic_load_explicit(&t->tags[iop_heap_tag_view_offset(t, p) >> t->min_order],
				    memory_order_relaxed);
}

/**
 * Offset of p from the heap base (the mem of iop_heap_create_in()), for use
 * as an MFA-style handle that is valid in every process mapping the heap.
 *
 * @return 0 and *off, or -EFAULT if p is outside the block area, or -ERANGE
 *         if the offset does not fit 32 bits.
 */
int iop_heap_ptr_to_offset(const struct iop_heap *h, const void *p, uint32_t *off);

/**
 * Pointer for an offset from iop_heap_ptr_to_offset(), in this process.
 * @return the pointer, or NULL if off is outside the block area.
 */
void *iop_heap_offset_to_ptr(const struct iop_heap *h, uint32_t off);

#ifdef __cplusplus
}
#endif

#endif /* IOP_HEAP_H */
