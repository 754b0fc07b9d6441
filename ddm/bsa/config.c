/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bsa DDM's parameters: the text of `ddm bsa@LOOP:PARAMS` in iopd's
 * configuration, or of struct iop_runtime_ddm in a program that runs its
 * own runtime. Comma-separated: `ram` or `file=PATH`, `size=N[kMGT]`,
 * `bs=N[kMGT]`, `io=sync|uring`, `idle=spin|wait`, `direct=0|1`.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"

#define BSA_DEFAULT_SIZE (64ull << 20)
#define BSA_DEFAULT_BLOCK 512u
#define BSA_MIN_BLOCK 512u
#define BSA_MAX_BLOCK (1u << 20)

static int bad(const char *params, const char *why)
{
	fprintf(stderr, "bsa: parameters \"%s\": %s\n", params, why);
	return -EINVAL;
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s || *s == '-')
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	case 't': case 'T': shift = 40; end++; break;
	default: break;
	}
	if (*end != '\0' || (shift != 0 && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = v << shift;
	return 0;
}

static int apply(const char *params, char *item, struct bsa_config *c)
{
	char *val = strchr(item, '=');
	uint64_t v;

	if (val != NULL)
		*val++ = '\0';
	if (strcmp(item, "ram") == 0 && val == NULL) {
		c->kind = IOP_BSA_BACKEND_RAM;
	} else if (strcmp(item, "file") == 0 && val != NULL && *val != '\0') {
		if (strlen(val) >= sizeof(c->path))
			return bad(params, "file path too long");
		c->kind = IOP_BSA_BACKEND_FILE;
		strcpy(c->path, val);
	} else if (strcmp(item, "size") == 0 && val != NULL) {
		if (parse_size(val, &c->size) != 0 || c->size == 0)
			return bad(params, "size is not a size");
	} else if (strcmp(item, "bs") == 0 && val != NULL) {
		if (parse_size(val, &v) != 0 || v < BSA_MIN_BLOCK || v > BSA_MAX_BLOCK ||
		    (v & (v - 1)) != 0)
			return bad(params, "bs must be a power of two from 512 to 1M");
		c->block_size = (uint32_t)v;
	} else if (strcmp(item, "io") == 0 && val != NULL) {
		if (strcmp(val, "sync") == 0)
			c->io = BSA_IO_SYNC;
		else if (strcmp(val, "uring") == 0)
			c->io = BSA_IO_URING;
		else
			return bad(params, "io must be sync or uring");
	} else if (strcmp(item, "idle") == 0 && val != NULL) {
		if (strcmp(val, "spin") == 0)
			c->idle = BSA_IDLE_SPIN;
		else if (strcmp(val, "wait") == 0)
			c->idle = BSA_IDLE_WAIT;
		else
			return bad(params, "idle must be spin or wait");
	} else if (strcmp(item, "direct") == 0 && val != NULL) {
		if (strcmp(val, "1") == 0)
			c->direct = true;
		else if (strcmp(val, "0") == 0)
			c->direct = false;
		else
			return bad(params, "direct must be 0 or 1");
	} else if (*item != '\0') {
		return bad(params, "expected ram, file=PATH, size=N, bs=N, io=sync|uring, "
			   "idle=spin|wait or direct=0|1");
	}
	return 0;
}

int bsa_config_parse(const char *params, struct bsa_config *c)
{
	char *copy = strdup(params != NULL ? params : "");
	char *save = NULL;
	int rc = 0;

	if (copy == NULL)
		return -ENOMEM;
	memset(c, 0, sizeof(*c));
	c->kind = IOP_BSA_BACKEND_RAM;
	c->block_size = BSA_DEFAULT_BLOCK;
	for (char *item = strtok_r(copy, ",", &save); item != NULL && rc == 0;
	     item = strtok_r(NULL, ",", &save))
		rc = apply(params, item, c);
	free(copy);
	if (rc != 0)
		return rc;
	/* A file's own size is the default for a file; a RAM disk has none. */
	if (c->size == 0 && c->kind == IOP_BSA_BACKEND_RAM)
		c->size = BSA_DEFAULT_SIZE;
	if (c->io != BSA_IO_SYNC && c->kind != IOP_BSA_BACKEND_FILE)
		return bad(params, "io= is for file=PATH");
	/* Only a ring has completions to sleep for. */
	if (c->idle == BSA_IDLE_WAIT && c->io != BSA_IO_URING)
		return bad(params, "idle=wait is for io=uring");
	if (c->direct && c->kind != IOP_BSA_BACKEND_FILE)
		return bad(params, "direct= is for file=PATH");
	if (c->size % c->block_size != 0)
		return bad(params, "size is not a whole number of blocks");
	return 0;
}
