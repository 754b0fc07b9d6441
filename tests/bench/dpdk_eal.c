/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The EAL without hugepages or devices: --no-huge backs its memory with
 * ordinary pages (-m MiB of it), --no-pci skips device probing, and a
 * per-process --file-prefix with --no-shconf keeps parallel runs (meson runs
 * tests at once) from meeting in /var/run/dpdk. rte_eal_init() pins the
 * calling thread to its main lcore; the benchmark threads this thread creates
 * later would inherit that, so its affinity is put back afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>

#include "dpdk_eal.h"

static int eal_state;            /* 0: not tried, 1: running, -errno: failed */
static const char *eal_why;
static char runtime_dir[256];

/* EAL leaves its (empty) runtime directory behind; take it away too. */
static void eal_stop(void)
{
	rte_eal_cleanup();
	rmdir(runtime_dir);
}

/* The main lcore must be a CPU this process may run on. */
static int first_cpu(const cpu_set_t *set)
{
	for (int cpu = 0; cpu < CPU_SETSIZE; cpu++)
		if (CPU_ISSET(cpu, set))
			return cpu;
	return 0;
}

static int eal_start(void)
{
	char lcore[16], prefix[48];
	char *argv[] = { "iop-bench-heap", "-l", lcore, "--no-huge", "-m", "2048", "--no-pci",
			 "--no-shconf", "--no-telemetry", "--file-prefix", prefix,
			 "--log-level=lib.eal:error", NULL };
	cpu_set_t saved;
	int rc;

	if (pthread_getaffinity_np(pthread_self(), sizeof(saved), &saved) != 0) {
		eal_why = "pthread_getaffinity_np failed";
		return -EPERM;
	}
	snprintf(lcore, sizeof(lcore), "%d", first_cpu(&saved));
	snprintf(prefix, sizeof(prefix), "iop-bench-%ld", (long)getpid());
	rc = rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv);
	pthread_setaffinity_np(pthread_self(), sizeof(saved), &saved);
	if (rc < 0) {
		/* a failed init may have made its runtime directory already */
		rmdir(rte_eal_get_runtime_dir());
		eal_why = rte_errno > 0 ? rte_strerror(rte_errno) : "rte_eal_init failed";
		return rte_errno > 0 ? -rte_errno : -EIO;
	}
	snprintf(runtime_dir, sizeof(runtime_dir), "%s", rte_eal_get_runtime_dir());
	atexit(eal_stop);
	return 1;
}

int bench_eal_init(const char **why)
{
	/* rte_eal_init() may be called only once per process, successful or not */
	if (eal_state == 0)
		eal_state = eal_start();
	*why = eal_why;
	return eal_state < 0 ? eal_state : 0;
}

int bench_eal_thread_start(void *heap)
{
	(void)heap;
	return rte_thread_register();
}

void bench_eal_thread_stop(void *heap)
{
	(void)heap;
	rte_thread_unregister();
}
