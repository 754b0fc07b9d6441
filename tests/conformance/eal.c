/* SPDX-License-Identifier: BSD-3-Clause */
/* The EAL, started for DDMs that need DPDK ports. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include <rte_eal.h>

#include "eal.h"
#include "iop_eal.h"

static bool started;

int conform_eal_start(const char *const *vdevs, unsigned n, char *err, size_t errlen)
{
	static char lcores[32], prefix[48], vdev_args[CONFORM_MAX_VDEVS][512];
	char *argv[CONFORM_MAX_VDEVS + 6];
	cpu_set_t cpus;
	int argc = 0, first = 0, rc;

	if (n > CONFORM_MAX_VDEVS) {
		snprintf(err, errlen, "at most %u --vdev", CONFORM_MAX_VDEVS);
		return -E2BIG;
	}
	/*
	 * rte_eal_init pins this thread to the main lcore's CPU, and the DDM's
	 * loop thread is created after it: both would share one CPU. Keep the
	 * CPUs this thread had and give them back afterwards.
	 */
	if (pthread_getaffinity_np(pthread_self(), sizeof(cpus), &cpus) != 0)
		CPU_ZERO(&cpus);
	while (first < CPU_SETSIZE && CPU_COUNT(&cpus) != 0 && !CPU_ISSET(first, &cpus))
		first++;
	if (first == CPU_SETSIZE)
		first = 0;
	/* One lcore, the main one: the DDM's loop is iop-conform's own thread, not a worker. */
	snprintf(lcores, sizeof(lcores), "--lcores=0@%d", first);
	argv[argc++] = (char *)"iop-conform";
	argv[argc++] = lcores;
	argv[argc++] = (char *)"--no-telemetry";
	/*
	 * No runtime directory (/run/dpdk/PREFIX): each test's process starts an
	 * EAL of its own, which would leave one behind, and no other process
	 * ever attaches to it.
	 */
	argv[argc++] = (char *)"--no-shconf";
	/* Named for iop-conform, so that what a run leaves is known as its own. */
	snprintf(prefix, sizeof(prefix), "--file-prefix=iop-conform-%d", (int)getpid());
	argv[argc++] = prefix;
	for (unsigned i = 0; i < n; i++) {
		snprintf(vdev_args[i], sizeof(vdev_args[i]), "--vdev=%s", vdevs[i]);
		argv[argc++] = vdev_args[i];
	}
	argv[argc] = NULL;
	rc = iop_eal_init(argc, argv, err, errlen);
	if (rc < 0)
		return rc;
	if (CPU_COUNT(&cpus) != 0)
		pthread_setaffinity_np(pthread_self(), sizeof(cpus), &cpus);
	started = true;
	return 0;
}

void conform_eal_stop(void)
{
	char dir[PATH_MAX];

	if (!started)
		return;
	/*
	 * DPDK makes the runtime directory even with --no-shconf, and leaves
	 * it: empty, it goes (rmdir removes nothing else).
	 */
	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (dir[0] != '\0')
		rmdir(dir);
	started = false;
}
