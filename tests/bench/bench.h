/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-bench-heap: the iopool heap against other allocators ("peers") on the
 * same workloads, in one run. See docs/iop-bench-heap.md.
 */
#ifndef IOP_BENCH_H
#define IOP_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Every heap-like peer gets a heap this big: room for 8 threads' live sets. */
#define BENCH_HEAP_BYTES (1ull << 30)
#define BENCH_MIN_BLOCK 64u
#define BENCH_MAX_THREADS 64u
#define BENCH_MAX_THREAD_COUNTS 16u
#define BENCH_MAX_PEERS 32u     /* bits of bench_opts::peer_mask */
#define BENCH_MAX_REPEAT 15u

/*
 * An allocator under test. create() gets the workload's object size when the
 * workload uses one size only (obj_size), or 0; a peer that needs one size
 * (a mempool) fails with errno ENOTSUP otherwise, and that cell is "n/a".
 */
struct bench_peer {
	const char *name;
	/*
	 * Shared object that replaces malloc. Such a peer cannot share a process
	 * with the others, so it runs in a re-executed child with the object in
	 * LD_PRELOAD (preload.c). NULL: runs in this process.
	 */
	const char *preload;
	/* Once per process before its first cell; 0 or -errno with *why set. */
	int (*init)(const char **why);
	void *(*create)(size_t heap_bytes, size_t obj_size);
	void (*destroy)(void *heap);
	void *(*alloc)(void *heap, size_t x);
	void (*free)(void *heap, void *p, size_t x);
	/* Optional: run by each benchmark thread before its first and after its last op. */
	int (*thread_start)(void *heap);
	void (*thread_stop)(void *heap);
};

extern const struct bench_peer *const bench_peers[];
extern const unsigned bench_npeers;

enum bench_kind {
	BENCH_FIXED,      /* alloc + free of one size */
	BENCH_THREADTEST, /* batches of 1000 blocks of 64..512 B */
	BENCH_PRODCONS,   /* producer allocates, consumer frees */
	BENCH_RANDOM,     /* live set of 1000 slots, log-uniform 64 B..64 KiB */
};

struct bench_workload {
	const char *name;
	enum bench_kind kind;
	size_t size; /* the one object size, or 0 when sizes vary */
};

extern const struct bench_workload bench_workloads[];
extern const unsigned bench_nworkloads;

struct bench_opts {
	unsigned threads[BENCH_MAX_THREAD_COUNTS];
	unsigned nthreads;
	uint64_t duration_ns;     /* per cell, when ops == 0 */
	uint64_t ops;             /* exact ops per thread (per pair for prodcons) */
	bool ops_mode;            /* --ops given, possibly 0 */
	unsigned repeat;          /* runs per cell; the median is reported */
	uint32_t workload_mask;   /* bit i: bench_workloads[i] */
	uint32_t peer_mask;       /* bit i: bench_peers[i] */
	const char *csv;
	const char *json;
	bool smoke;
	const char *child;        /* internal: run this preload peer, rows to child_fd */
	int child_fd;
};

/* One measured cell. */
struct bench_result {
	const char *peer;
	const struct bench_workload *w;
	unsigned threads;          /* as asked; prodcons runs max(1, T/2) pairs */
	uint64_t ops;
	double seconds;
	uint64_t nulls;            /* allocations that returned NULL (all repeats): flagged, kept */
	uint64_t errors;           /* corrupted objects, failed thread hooks, no heap: not kept */
};

struct bench_results {
	struct bench_result *r;
	unsigned n, cap;
};

/* Peers that did not run, and why. */
struct bench_skip {
	const char *peer;
	char why[160];
};

int bench_run_cell(const struct bench_peer *p, const struct bench_workload *w,
		   unsigned threads, const struct bench_opts *o, struct bench_result *res);
void bench_results_add(struct bench_results *rs, const struct bench_result *r);

/* Runs every selected cell of one peer in this process, adding to rs. */
typedef void bench_run_peer_fn(const struct bench_peer *p, const struct bench_opts *o,
			       struct bench_results *rs);

int bench_preload_run(const struct bench_peer *p, const struct bench_opts *o,
		      struct bench_results *rs, char *why, size_t whylen);
int bench_preload_child(const struct bench_opts *o, bench_run_peer_fn *run);

void bench_report_table(const struct bench_results *rs, const struct bench_opts *o,
			const struct bench_skip *skips, unsigned nskips);
int bench_report_csv(const struct bench_results *rs, const char *path);
int bench_report_json(const struct bench_results *rs, const struct bench_opts *o,
		      const struct bench_skip *skips, unsigned nskips, const char *path);

const struct bench_peer *bench_peer_by_name(const char *name);
const struct bench_workload *bench_workload_by_name(const char *name);

/* ns of one locked RMW on a line no other thread touches, measured once (rmw_floor.c). */
double bench_locked_rmw_ns(void);

/* CLOCK_MONOTONIC in ns: the clock every cell and the RMW floor are timed with. */
static inline uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int buddy_selftest(void);
/* The iopool peers are what their names say: 0, or -1 (peer_iopool.c). */
int bench_iopool_selftest(void);

static inline void bench_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

#endif /* IOP_BENCH_H */
