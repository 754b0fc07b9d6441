/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What else the machine did during a run: the CPU time every CPU spent busy
 * (/proc/stat) less this process's own (getrusage), and the time the
 * hypervisor ran something else on our vCPUs (steal). On 2 CPUs, anything
 * else that runs takes one of the two pinned threads' CPU, so a run with
 * others' load in it is not a measurement of iopool; the report says how
 * much there was rather than leaving it to a look at ps before.
 */
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

/* The machine's busy and steal seconds, all CPUs together; false without /proc/stat. */
static bool proc_stat(double *busy, double *steal)
{
	unsigned long long user, nice, sys, idle, iowait, irq, softirq, st;
	double tick = (double)sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return false;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &user, &nice, &sys, &idle,
		   &iowait, &irq, &softirq, &st);
	fclose(f);
	if (n != 8 || tick <= 0)
		return false;
	*busy = (double)(user + nice + sys + irq + softirq) / tick;
	*steal = (double)st / tick;
	return true;
}

static double seconds(const struct timeval *t)
{
	return (double)t->tv_sec + (double)t->tv_usec / 1e6;
}

void msg_load_mark(struct msg_load *m)
{
	struct rusage ru;
	struct timespec now;

	m->ok = proc_stat(&m->busy_s, &m->steal_s) && getrusage(RUSAGE_SELF, &ru) == 0;
	m->self_s = seconds(&ru.ru_utime) + seconds(&ru.ru_stime);
	clock_gettime(CLOCK_MONOTONIC, &now);
	m->wall_s = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

void msg_load_since(const struct msg_load *start, double *others_cpus, double *steal_cpus)
{
	struct msg_load end;
	double wall;

	msg_load_mark(&end);
	wall = end.wall_s - start->wall_s;
	if (!start->ok || !end.ok || wall <= 0) {
		*others_cpus = *steal_cpus = -1;
		return;
	}
	/* Clock ticks round both counts: a short run can come out a little below zero. */
	*others_cpus = (end.busy_s - start->busy_s - (end.self_s - start->self_s)) / wall;
	if (*others_cpus < 0)
		*others_cpus = 0;
	*steal_cpus = (end.steal_s - start->steal_s) / wall;
}
