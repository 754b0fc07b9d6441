/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-blk, a block workload for the bsa DDM: what its pieces share. Host
 * threads, each with its own queue pair, keep --qd requests in flight
 * against one bsa target, and record each request's latency.
 */
#ifndef IOP_BLK_H
#define IOP_BLK_H

#include <stdbool.h>
#include <stdint.h>

struct iop_host;

enum blk_pattern { BLK_READ, BLK_WRITE, BLK_RANDREAD, BLK_RANDWRITE, BLK_RANDRW };

struct blk_opts {
	const char *socket;       /* iopd's control socket; NULL: its default */
	const char *in_process;   /* bsa parameters of a runtime of our own; NULL: attach */
	bool loop_inline;         /* in-process, one thread: it turns the runtime's loop itself */
	uint16_t tid;             /* the bsa target */
	enum blk_pattern rw;
	unsigned read_pct;        /* randrw: the share of reads */
	uint32_t bs;              /* bytes per request */
	unsigned qd;              /* requests in flight per thread */
	unsigned threads;
	double duration;          /* seconds; 0: until ios */
	uint64_t ios;             /* requests per thread; 0: until duration */
	uint64_t size;            /* the region, bytes from 0; 0: the whole device */
	bool verify;
	bool json;
	uint64_t seed;
};

/* Parse the command line. @return 0, 1 for --help (printed), or 2 (a message printed). */
int blk_parse_options(int argc, char **argv, struct blk_opts *o);

/* Latencies: log-linear buckets, 64 per power of two of nanoseconds (1.6% apart). */
#define BLK_HIST_SUB 64u
#define BLK_HIST_BUCKETS (64u * BLK_HIST_SUB)

struct blk_hist {
	uint64_t n;
	uint64_t count[BLK_HIST_BUCKETS];
};

void blk_hist_add(struct blk_hist *h, uint64_t ns);
void blk_hist_merge(struct blk_hist *into, const struct blk_hist *from);
/* The latency below which a fraction q of the samples fall, in nanoseconds; 0 with none. */
uint64_t blk_hist_quantile(const struct blk_hist *h, double q);

/* The target: attached to iopd, or a runtime of this process with its loop on a thread. */
struct blk_target {
	struct iop_host *host;
	uint32_t block_size;      /* the device's */
	uint64_t capacity;        /* bytes */
	void *priv;               /* in-process: the runtime, window and loop */
	/* --loop-inline: one turn of the runtime's loop, called by the host thread; else NULL */
	void (*turn)(struct blk_target *t);
};

/* @return 0, or -1 with a message on stderr. */
int blk_target_open(struct blk_target *t, const struct blk_opts *o);
void blk_target_close(struct blk_target *t);

/* What one thread did. */
struct blk_result {
	uint64_t ios, bytes, errors;
	uint64_t verified, bad;   /* --verify: blocks read back right, and wrong */
	struct blk_hist hist;
	int rc;                   /* 0, or why the thread could not run (-errno) */
};

/* One host thread's work: the region slice [lo, hi) for sequential and verify runs. */
struct blk_worker {
	const struct blk_opts *o;
	struct blk_target *t;
	unsigned id;
	uint64_t region;          /* bytes, a multiple of bs */
	uint64_t lo, hi;
	uint64_t last_ns;         /* the clock at the last completion (or the start) */
	struct blk_result res;
};

/* The thread's body: pthread_create(..., blk_worker_main, worker). */
void *blk_worker_main(void *worker);

uint64_t blk_now_ns(void);

/* Fill bs bytes with the verify pattern of this address: words from it, a checksum last. */
void blk_pattern_fill(void *buf, uint32_t bs, uint64_t addr, uint64_t seed);
/* 0 when buf is that pattern; 1 for a bad checksum; 2 for another block's good pattern. */
int blk_pattern_check(const void *buf, uint32_t bs, uint64_t addr, uint64_t seed);

#endif /* IOP_BLK_H */
