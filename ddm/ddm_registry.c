/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The process's registry of DDM types: built-ins add themselves from
 * constructors before main(); third-party DDMs come from shared objects.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iop_ddm.h"

#define REGISTRY_MAX 64

static const struct iop_ddm_ops *registry[REGISTRY_MAX];
static unsigned registered;

int iop_ddm_register(const struct iop_ddm_ops *ops)
{
	if (ops == NULL || ops->name == NULL || ops->handle == NULL ||
	    strlen(ops->name) >= IOP_DDM_NAME_MAX || ops->name[0] == '\0')
		return -EINVAL;
	if (ops->abi_version != IOP_DDM_ABI_VERSION) {
		fprintf(stderr, "iopool: DDM %s is built for DDM ABI %u, this runtime has ABI %u\n",
			ops->name, ops->abi_version, IOP_DDM_ABI_VERSION);
		return -EPROTO;
	}
	if (iop_ddm_find(ops->name) != NULL)
		return -EEXIST;
	if (registered == REGISTRY_MAX)
		return -ENOSPC;
	registry[registered++] = ops;
	return 0;
}

const struct iop_ddm_ops *iop_ddm_find(const char *name)
{
	for (unsigned i = 0; name != NULL && i < registered; i++)
		if (strcmp(registry[i]->name, name) == 0)
			return registry[i];
	return NULL;
}

static int load_error(char *err, size_t errlen, int rc, const char *fmt, const char *a,
		      unsigned x, unsigned y)
{
	if (err != NULL && errlen != 0)
		snprintf(err, errlen, fmt, a, x, y);
	return rc;
}

int iop_ddm_load(const char *path, const struct iop_ddm_ops **ops, char *err, size_t errlen)
{
	const struct iop_ddm_ops *(*entry)(void);
	const uint32_t *abi;
	void *so;
	int rc;

	if (path == NULL || ops == NULL)
		return load_error(err, errlen, -EINVAL, "%s", "no path", 0, 0);
	so = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (so == NULL)
		return load_error(err, errlen, -ENOENT, "%s", dlerror(), 0, 0);
	/* The version first: nothing else in a DDM of another ABI can be trusted. */
	abi = dlsym(so, "iop_ddm_abi_version");
	*(void **)&entry = dlsym(so, "iop_ddm_entry");
	if (abi == NULL || entry == NULL) {
		dlclose(so);
		return load_error(err, errlen, -ENOEXEC,
				  "%s: not an iopool DDM (no iop_ddm_abi_version or iop_ddm_entry)",
				  path, 0, 0);
	}
	if (*abi != IOP_DDM_ABI_VERSION) {
		unsigned theirs = *abi; /* read before the object goes */

		dlclose(so);
		return load_error(err, errlen, -EPROTO,
				  "%s: built for DDM ABI %u, this runtime has ABI %u", path, theirs,
				  IOP_DDM_ABI_VERSION);
	}
	rc = iop_ddm_register(entry());
	if (rc != 0) {
		dlclose(so);
		return load_error(err, errlen, rc,
				  rc == -EEXIST ? "%s: a DDM of that name is already registered" :
						  "%s: its DDM table is incomplete or inconsistent",
				  path, 0, 0);
	}
	/* The object stays loaded for the life of the process: its table is in it. */
	*ops = entry();
	return 0;
}
