/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Starting the EAL with defaults that run anywhere (no hugepages, no PCI, a
 * runtime-file prefix of its own), and the runtime's loops on worker lcores.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include "iop_eal.h"
#include "runtime_impl.h"

#define MAX_EAL_ARGS 128

/* iop_eal_init chose the file prefix (iopool-PID): its runtime directory is this process's alone. */
static bool own_prefix;

static unsigned long meminfo_value(const char *key)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	unsigned long v = 0;
	size_t n = strlen(key);

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, key, n) == 0 && line[n] == ':')
			v = strtoul(line + n + 1, NULL, 10);
	fclose(f);
	return v;
}

static bool hugetlbfs_mounted(void)
{
	FILE *f = fopen("/proc/mounts", "r");
	char line[512];
	bool found = false;

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, " hugetlbfs ") != NULL;
	fclose(f);
	return found;
}

bool iop_eal_hugepages_available(void)
{
	return meminfo_value("HugePages_Free") > 0 && hugetlbfs_mounted();
}

/* Did the user give any option that starts with one of these? */
static bool given(int argc, char **argv, const char *const *opts)
{
	for (int i = 1; i < argc; i++)
		for (const char *const *o = opts; *o != NULL; o++)
			if (strncmp(argv[i], *o, strlen(*o)) == 0)
				return true;
	return false;
}

int iop_eal_init(int argc, char **argv, char *err, size_t errlen)
{
	static const char *const devices[] = { "-a", "--allow", "-b", "--block", "--no-pci", NULL };
	static const char *const prefix[] = { "--file-prefix", NULL };
	static const char *const huge[] = { "--no-huge", "--huge-dir", "--in-memory", NULL };
	static const char *const log[] = { "--log-level", NULL };
	static char file_prefix[64];
	char *args[MAX_EAL_ARGS];
	int n = 0, rc;

	if (argc < 1 || argc > MAX_EAL_ARGS - 8) {
		if (err != NULL)
			snprintf(err, errlen, "too many EAL options (%d)", argc);
		return -E2BIG;
	}
	for (int i = 0; i < argc; i++)
		args[n++] = argv[i];
	if (!given(argc, argv, huge) && !iop_eal_hugepages_available())
		args[n++] = (char *)"--no-huge";
	if (!given(argc, argv, devices))
		args[n++] = (char *)"--no-pci";
	if (!given(argc, argv, prefix)) {
		snprintf(file_prefix, sizeof(file_prefix), "--file-prefix=iopool-%d", (int)getpid());
		args[n++] = file_prefix;
		own_prefix = true;
	}
	if (!given(argc, argv, log))
		args[n++] = (char *)"--log-level=lib.eal:warning";
	args[n] = NULL;
	rc = rte_eal_init(n, args);
	if (rc < 0) {
		if (err != NULL)
			snprintf(err, errlen, "rte_eal_init: %s", rte_strerror(rte_errno));
		return -rte_errno;
	}
	/* The options iopool added come after the user's: count only theirs. */
	return rc < argc ? rc : argc;
}

/*
 * Remove the runtime directory dir (config, fbarray_* and the like; no
 * subdirectories) if its name is this process's own prefix, so that a
 * directory someone else made is never touched.
 */
static void remove_own_runtime_dir(const char *dir)
{
	char name[64];
	const char *base = strrchr(dir, '/');
	struct dirent *e;
	DIR *d;

	snprintf(name, sizeof(name), "iopool-%d", (int)getpid());
	if (base == NULL || strcmp(base + 1, name) != 0)
		return;
	d = opendir(dir);
	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

void iop_eal_cleanup(void)
{
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", rte_eal_get_runtime_dir());
	rte_eal_cleanup();
	if (own_prefix && dir[0] != '\0')
		remove_own_runtime_dir(dir);
	own_prefix = false;
}

static int lcore_main(void *arg)
{
	struct loop_arg *a = arg;

	return iop_runtime_lcore_loop(a->rt, a->index, a->stop);
}

int iop_runtime_launch(struct iop_runtime *rt, const _Atomic int *stop)
{
	unsigned workers[IOP_RUNTIME_MAX_LCORES], n = 0, id;

	RTE_LCORE_FOREACH_WORKER(id) {
		if (n < rt->n_lcores)
			workers[n++] = id;
	}
	if (n < rt->n_lcores)
		return -ENODEV;
	for (unsigned i = 0; i < rt->n_lcores; i++) {
		rt->loops[i] = (struct loop_arg){ rt, i, stop };
		if (rte_eal_remote_launch(lcore_main, &rt->loops[i], workers[i]) != 0)
			return -EBUSY;
		rt->workers[rt->n_launched++] = workers[i];
	}
	return 0;
}

void iop_runtime_wait(struct iop_runtime *rt)
{
	for (unsigned i = 0; i < rt->n_launched; i++)
		rte_eal_wait_lcore(rt->workers[i]);
	rt->n_launched = 0;
}
