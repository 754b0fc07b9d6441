/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The two threads of every case, each pinned to its CPU: the IOP side starts
 * first, so it is polling before the host posts anything, and stops when the
 * host is done.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>

#include "msg.h"

int msg_cpus_default(struct msg_cpus *c)
{
	cpu_set_t set;
	int found = 0;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	for (int cpu = 0; cpu < CPU_SETSIZE && found < 2; cpu++) {
		if (!CPU_ISSET(cpu, &set))
			continue;
		if (found++ == 0)
			c->host = cpu;
		c->iop = cpu;
	}
	return found != 0 ? 0 : -ENODEV;
}

static int start_pinned(pthread_t *t, int cpu, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	cpu_set_t set;
	int rc;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	rc = pthread_attr_init(&attr);
	if (rc != 0)
		return -rc;
	/* Pinned from its first instruction: nothing it touches is first faulted in elsewhere. */
	rc = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
	if (rc == 0)
		rc = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return -rc;
}

int msg_pair_run(const struct msg_cpus *cpus, void *(*host)(void *), void *(*iop)(void *),
		 void *arg, _Atomic int *stop)
{
	pthread_t ti, th;
	int rc;

	atomic_store(stop, 0);
	rc = start_pinned(&ti, cpus->iop, iop, arg);
	if (rc != 0)
		return rc;
	rc = start_pinned(&th, cpus->host, host, arg);
	if (rc == 0)
		pthread_join(th, NULL);
	atomic_store_explicit(stop, 1, memory_order_release);
	pthread_join(ti, NULL);
	return rc;
}
