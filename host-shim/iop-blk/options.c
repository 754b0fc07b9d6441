/* SPDX-License-Identifier: BSD-3-Clause */
/* iop-blk's command line. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blk.h"

enum { OPT_RW = 256, OPT_BS, OPT_QD, OPT_THREADS, OPT_DURATION, OPT_IOS, OPT_SIZE, OPT_VERIFY,
       OPT_JSON, OPT_IN_PROCESS, OPT_TID, OPT_MIX, OPT_SEED, OPT_LOOP_INLINE };

static const char usage_text[] =
	"usage: iop-blk [-s PATH | --in-process PARAMS] [OPTIONS]\n"
	"\n"
	"  -s, --socket PATH      iopd's control socket (default: iopd's default)\n"
	"  --in-process PARAMS    run a runtime of our own with a bsa DDM of these\n"
	"                         parameters (e.g. ram,size=64M) instead of attaching\n"
	"  --loop-inline          with --in-process and one thread: no loop thread, the\n"
	"                         host thread turns the runtime's loop between polls (no\n"
	"                         hand-off between CPUs: the path's own cost; iopd cannot)\n"
	"  --tid TID              the bsa target (default 0x010)\n"
	"  --rw PATTERN           read, write, randread, randwrite or randrw (default randread)\n"
	"  --mix PCT              randrw: the share of reads in percent (default 50)\n"
	"  --bs BYTES             bytes per request, whole device blocks (default 4k)\n"
	"  --qd N                 requests in flight per thread (default 1)\n"
	"  --threads N            host threads, each with its own queue pair (default 1)\n"
	"  --duration SECONDS     how long to run (default 5, unless --ios)\n"
	"  --ios N                requests per thread at most\n"
	"  --size BYTES           the region used, from address 0 (default: the device)\n"
	"  --verify               write checksummed patterns over the region, read them\n"
	"                         back and check them (--duration and --ios do not apply)\n"
	"  --seed N               of the addresses and patterns (default: the time)\n"
	"  --json                 one JSON object\n"
	"\n"
	"Sizes take k, M, G. Exit status: 0 done, 1 a request failed or a block read back\n"
	"wrong, 2 bad arguments or no target.\n";

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "in-process", required_argument, NULL, OPT_IN_PROCESS },
	{ "loop-inline", no_argument, NULL, OPT_LOOP_INLINE },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "rw", required_argument, NULL, OPT_RW },
	{ "mix", required_argument, NULL, OPT_MIX },
	{ "bs", required_argument, NULL, OPT_BS },
	{ "qd", required_argument, NULL, OPT_QD },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "ios", required_argument, NULL, OPT_IOS },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static const char *const patterns[] = { "read", "write", "randread", "randwrite", "randrw" };

static int number(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s == '-')
		return -1;
	v = strtoull(s, &end, 0);
	if (end == s)
		return -1;
	if (*end == 'k' || *end == 'K')
		shift = 10;
	else if (*end == 'm' || *end == 'M')
		shift = 20;
	else if (*end == 'g' || *end == 'G')
		shift = 30;
	if (shift != 0)
		end++;
	if (*end != '\0' || v > (max >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static int bad(const char *opt, const char *val)
{
	fprintf(stderr, "iop-blk: %s %s: not accepted (iop-blk --help)\n", opt, val);
	return 2;
}

static int apply(int c, const char *arg, struct blk_opts *o)
{
	uint64_t v;
	char *end;

	switch (c) {
	case 's': o->socket = arg; return 0;
	case OPT_IN_PROCESS: o->in_process = arg; return 0;
	case OPT_VERIFY: o->verify = true; return 0;
	case OPT_LOOP_INLINE: o->loop_inline = true; return 0;
	case OPT_JSON: o->json = true; return 0;
	case OPT_RW:
		for (unsigned i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
			if (strcmp(arg, patterns[i]) == 0) {
				o->rw = (enum blk_pattern)i;
				return 0;
			}
		return bad("--rw", arg);
	case OPT_DURATION:
		o->duration = strtod(arg, &end);
		return *end != '\0' || end == arg || o->duration <= 0 ? bad("--duration", arg) : 0;
	case OPT_TID:
		if (number(arg, 0xFFE, &v) != 0 || v == 0)
			return bad("--tid", arg);
		o->tid = (uint16_t)v;
		return 0;
	case OPT_MIX:
		if (number(arg, 100, &v) != 0)
			return bad("--mix", arg);
		o->read_pct = (unsigned)v;
		return 0;
	case OPT_BS:
		/* One SGL element per request: its 24-bit count bounds a request at 8 MiB. */
		if (number(arg, 1u << 23, &v) != 0 || v < 512 || v % 8 != 0)
			return bad("--bs", arg);
		o->bs = (uint32_t)v;
		return 0;
	case OPT_QD:
	case OPT_THREADS:
		if (number(arg, c == OPT_QD ? 1024 : 64, &v) != 0 || v == 0)
			return bad(c == OPT_QD ? "--qd" : "--threads", arg);
		*(c == OPT_QD ? &o->qd : &o->threads) = (unsigned)v;
		return 0;
	case OPT_IOS:
	case OPT_SIZE:
	case OPT_SEED:
		if (number(arg, UINT64_MAX, &v) != 0)
			return bad(c == OPT_IOS ? "--ios" : c == OPT_SIZE ? "--size" : "--seed",
				   arg);
		*(c == OPT_IOS ? &o->ios : c == OPT_SIZE ? &o->size : &o->seed) = v;
		return 0;
	default:
		fprintf(stderr, "%s", usage_text);
		return 2;
	}
}

int blk_parse_options(int argc, char **argv, struct blk_opts *o)
{
	bool duration_given;
	int c, rc;

	memset(o, 0, sizeof(*o));
	o->tid = 0x010;
	o->rw = BLK_RANDREAD;
	o->read_pct = 50;
	o->bs = 4096;
	o->qd = 1;
	o->threads = 1;
	o->seed = (uint64_t)time(NULL);
	while ((c = getopt_long(argc, argv, "s:h", long_opts, NULL)) != -1) {
		if (c == 'h') {
			printf("%s", usage_text);
			return 1;
		}
		rc = apply(c, optarg, o);
		if (rc != 0)
			return rc;
	}
	if (optind != argc)
		return bad("argument", argv[optind]);
	if (o->loop_inline && (o->in_process == NULL || o->threads != 1)) {
		fprintf(stderr, "iop-blk: --loop-inline needs --in-process and one thread\n");
		return 2;
	}
	duration_given = o->duration > 0;
	if (!duration_given && o->ios == 0)
		o->duration = 5;
	return 0;
}
