/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The threads of every case, each pinned to its CPU: per pair one IOP side and
 * one host. Every IOP side starts first, so it is polling before any host
 * posts anything, and all stop when the last host is done. Hosts meet at a
 * barrier after their warm-ups, so that with several pairs the measured parts
 * overlap: an aggregate rate over parts that ran one after the other would
 * say nothing about scaling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "msg.h"

int msg_cpus_default(struct msg_cpus *c, unsigned pairs)
{
	int cpus[2 * MSG_MAX_PAIRS];
	unsigned n = 0;
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -errno;
	for (int cpu = 0; cpu < CPU_SETSIZE && n < 2 * pairs; cpu++)
		if (CPU_ISSET(cpu, &set))
			cpus[n++] = cpu;
	if (n == 0)
		return -ENODEV;
	/* Fewer than 2 x pairs: round the list again; the threads sharing a CPU yield. */
	for (unsigned i = 0; i < 2 * pairs; i++) {
		if (i % 2 == 0)
			c[i / 2].host = cpus[i % n];
		else
			c[i / 2].iop = cpus[i % n];
	}
	return 0;
}

bool msg_cpus_any_shared(const struct msg_cpus *c, unsigned pairs)
{
	for (unsigned i = 0; i < 2 * pairs; i++)
		for (unsigned j = i + 1; j < 2 * pairs; j++)
			if ((i % 2 ? c[i / 2].iop : c[i / 2].host) ==
			    (j % 2 ? c[j / 2].iop : c[j / 2].host))
				return true;
	return false;
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

void msg_measure_start(const struct msg_env *env)
{
	pthread_barrier_wait(env->measure);
}

int msg_pairs_run(const struct msg_env *env, void *(*host)(void *), void *(*iop)(void *),
		  void *const *args, _Atomic int *stop)
{
	pthread_t ti[MSG_MAX_PAIRS], th[MSG_MAX_PAIRS];
	unsigned ni = 0, nh = 0;
	int rc = 0;

	atomic_store(stop, 0);
	while (ni < env->pairs && rc == 0)
		if ((rc = start_pinned(&ti[ni], env->cpus[ni].iop, iop, args[ni])) == 0)
			ni++;
	/*
	 * Hosts start only once every IOP side runs, and all of them or none: a
	 * host that is never started would leave the others at the barrier.
	 */
	while (nh < env->pairs && rc == 0)
		if ((rc = start_pinned(&th[nh], env->cpus[nh].host, host, args[nh])) == 0)
			nh++;
	if (rc != 0 && nh != 0) {
		/* Cannot happen after the first host started but for a resource limit: say so. */
		fprintf(stderr, "iop-bench-msg: %u of %u host threads started; cannot go on\n",
			nh, env->pairs);
		abort();
	}
	for (unsigned i = 0; i < nh; i++)
		pthread_join(th[i], NULL);
	atomic_store_explicit(stop, 1, memory_order_release);
	for (unsigned i = 0; i < ni; i++)
		pthread_join(ti[i], NULL);
	return rc;
}

void msg_run_merge(struct msg_run *into, const struct msg_run *from)
{
	into->round_trips += from->round_trips;
	into->errors += from->errors;
	if (from->seconds > into->seconds)
		into->seconds = from->seconds;
	msg_hist_merge(&into->hist, &from->hist);
}
