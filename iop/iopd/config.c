/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd's configuration: from its options (after the EAL's and `--`) and
 * from a file holding the same options, one per line.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iop_host.h"
#include "iopd.h"

static const char usage[] =
	"usage: iopd [EAL options] -- [options]\n"
	"  --socket PATH        control socket (default $XDG_RUNTIME_DIR/iopd.sock or /tmp/iopd-UID.sock)\n"
	"  --ddm NAME[@LOOP][:PARAMS]  run a DDM instance (repeatable; default: nop@0)\n"
	"  --load PATH.so       load a third-party DDM first (repeatable)\n"
	"  --loops N            poll loops, each on a worker lcore (default 1)\n"
	"  --inbound SIZE       inbound heap, bytes with k/M/G (default 16M)\n"
	"  --outbound SIZE      outbound heap (default 16M)\n"
	"  --channels N         channel slots (default 16)\n"
	"  --ring-entries N     entries per MFA ring, a power of two (default 1024)\n"
	"  --iop-id N           this IOP's id (default 1)\n"
	"  --allow-uid UID      also let this user attach (repeatable)\n"
	"  --config FILE        read these options from FILE, one per line\n"
	"  --help\n";

void iopd_config_defaults(struct iopd_config *c)
{
	memset(c, 0, sizeof(*c));
	/* The hosts' default too: both find each other with no options. */
	if (iop_host_default_socket(c->socket_path, sizeof(c->socket_path)) != 0)
		snprintf(c->socket_path, sizeof(c->socket_path), "/tmp/iopd-%u.sock",
			 (unsigned)getuid());
	c->loops = 1;
	c->iop_id = 1;
}

static int say(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
	if (err != NULL && errlen != 0)
		snprintf(err, errlen, fmt, a, b);
	return -EINVAL;
}

static int parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	switch (*end) {
	case 'k': case 'K': v <<= 10; end++; break;
	case 'm': case 'M': v <<= 20; end++; break;
	case 'g': case 'G': v <<= 30; end++; break;
	default: break;
	}
	if (*end != '\0' || end == s || v == 0)
		return -EINVAL;
	*out = (size_t)v;
	return 0;
}

static int parse_uint(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 0);

	if (*end != '\0' || end == s || v > 0xFFFFFFFFul)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* NAME[@LOOP][:PARAMS] */
static int parse_ddm(const char *arg, struct iopd_config *c, char *err, size_t errlen)
{
	char *copy, *params, *at;
	struct iop_runtime_ddm *d = &c->ddms[c->n_ddms];

	if (c->n_ddms == IOP_RUNTIME_MAX_DDMS || (copy = strdup(arg)) == NULL)
		return say(err, errlen, "--ddm %s: too many DDMs%s", arg, "");
	params = strchr(copy, ':');
	if (params != NULL)
		*params++ = '\0';
	at = strchr(copy, '@');
	if (at != NULL) {
		*at++ = '\0';
		if (parse_uint(at, &d->lcore) != 0) {
			free(copy);
			return say(err, errlen, "--ddm %s: bad loop number%s", arg, "");
		}
	}
	if (copy[0] == '\0') {
		free(copy);
		return say(err, errlen, "--ddm %s: no DDM name%s", arg, "");
	}
	d->name = copy;
	d->params = params != NULL ? params : "";
	c->n_ddms++;
	return 0;
}

static int parse_file(const char *path, struct iopd_config *c, char *err, size_t errlen, int depth);

static int apply(const char *key, const char *val, struct iopd_config *c, char *err,
		 size_t errlen, int depth)
{
	unsigned u;

	if (strcmp(key, "socket") == 0) {
		if (strlen(val) >= sizeof(c->socket_path))
			return say(err, errlen, "--socket %s: path too long%s", val, "");
		strcpy(c->socket_path, val);
	} else if (strcmp(key, "ddm") == 0) {
		return parse_ddm(val, c, err, errlen);
	} else if (strcmp(key, "load") == 0) {
		if (c->n_loads == IOPD_MAX_LOADS)
			return say(err, errlen, "--load %s: too many%s", val, "");
		c->loads[c->n_loads++] = strdup(val);
	} else if (strcmp(key, "loops") == 0) {
		if (parse_uint(val, &c->loops) != 0 || c->loops == 0 ||
		    c->loops > IOP_RUNTIME_MAX_LCORES)
			return say(err, errlen, "--loops %s: 1 to 16%s", val, "");
	} else if (strcmp(key, "inbound") == 0 || strcmp(key, "outbound") == 0) {
		if (parse_size(val, key[0] == 'i' ? &c->inbound_bytes : &c->outbound_bytes) != 0)
			return say(err, errlen, "--%s %s: not a size", key, val);
	} else if (strcmp(key, "channels") == 0) {
		if (parse_uint(val, &c->channels) != 0)
			return say(err, errlen, "--channels %s: not a number%s", val, "");
	} else if (strcmp(key, "ring-entries") == 0) {
		if (parse_uint(val, &c->ring_entries) != 0)
			return say(err, errlen, "--ring-entries %s: not a number%s", val, "");
	} else if (strcmp(key, "iop-id") == 0) {
		if (parse_uint(val, &c->iop_id) != 0 || c->iop_id > 0xFFF)
			return say(err, errlen, "--iop-id %s: 0 to 4095%s", val, "");
	} else if (strcmp(key, "allow-uid") == 0) {
		if (parse_uint(val, &u) != 0 || c->n_allow == IOPD_MAX_ALLOW)
			return say(err, errlen, "--allow-uid %s: not a user id (or too many)%s", val,
				   "");
		c->allow_uids[c->n_allow++] = (uid_t)u;
	} else if (strcmp(key, "config") == 0) {
		return parse_file(val, c, err, errlen, depth + 1);
	} else {
		return say(err, errlen, "unknown option --%s%s", key, "");
	}
	return 0;
}

static int parse_file(const char *path, struct iopd_config *c, char *err, size_t errlen, int depth)
{
	FILE *f;
	char line[512];
	int rc = 0, n = 0;

	if (depth > 4)
		return say(err, errlen, "%s: config files include each other too deeply%s", path, "");
	f = fopen(path, "r");
	if (f == NULL)
		return say(err, errlen, "%s: %s", path, strerror(errno));
	while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
		char *key = line, *val, *end;

		n++;
		line[strcspn(line, "\r\n")] = '\0';
		key += strspn(key, " \t");
		if (*key == '\0' || *key == '#')
			continue;
		if (key[0] == '-' && key[1] == '-')
			key += 2;
		val = key + strcspn(key, " \t=");
		if (*val != '\0')
			*val++ = '\0';
		val += strspn(val, " \t=");
		end = val + strlen(val);
		while (end > val && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*val == '\0') {
			rc = say(err, errlen, "%s: option \"%s\" without a value", path, key);
			break;
		}
		rc = apply(key, val, c, err, errlen, depth);
		if (rc != 0 && err != NULL) {
			char again[256];

			snprintf(again, sizeof(again), "%s line %d: %s", path, n, err);
			snprintf(err, errlen, "%s", again);
		}
	}
	fclose(f);
	return rc;
}

int iopd_config_parse(int argc, char **argv, struct iopd_config *c, char *err, size_t errlen)
{
	for (int i = 0; i < argc; i++) {
		const char *key = argv[i];
		int rc;

		if (strcmp(key, "--help") == 0 || strcmp(key, "-h") == 0) {
			fputs(usage, stdout);
			return 1;
		}
		if (strncmp(key, "--", 2) != 0 || i + 1 == argc)
			return say(err, errlen, "%s: expected --option value (see --help)%s", key, "");
		rc = apply(key + 2, argv[++i], c, err, errlen, 0);
		if (rc != 0)
			return rc;
	}
	return 0;
}

void iopd_config_free(struct iopd_config *c)
{
	/* A DDM's params point into its name's copy ("name@loop:params"). */
	for (unsigned i = 0; i < c->n_ddms; i++)
		if (c->ddms[i].name != NULL && !c->default_ddm)
			free((char *)c->ddms[i].name);
	for (unsigned i = 0; i < c->n_loads; i++)
		free((char *)c->loads[i]);
	c->n_ddms = c->n_loads = 0;
}

void iopd_config_finish(struct iopd_config *c)
{
	if (c->n_ddms == 0) {
		c->ddms[0] = (struct iop_runtime_ddm){ "nop", "", 0 };
		c->n_ddms = 1;
		c->default_ddm = true;
	}
}
