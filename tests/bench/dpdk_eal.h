/* SPDX-License-Identifier: BSD-3-Clause */
/* The DPDK EAL for the rte_* peers: started once per process, only when one of them runs. */
#ifndef IOP_BENCH_DPDK_EAL_H
#define IOP_BENCH_DPDK_EAL_H

/* 0, or -errno with *why set (the peers then report themselves unavailable). */
int bench_eal_init(const char **why);
/* Benchmark threads are plain pthreads: give each an lcore id so per-lcore caches work. */
int bench_eal_thread_start(void *heap);
void bench_eal_thread_stop(void *heap);

#endif /* IOP_BENCH_DPDK_EAL_H */
