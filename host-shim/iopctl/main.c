/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl, the operator's tool for a running iopd: the command line. Options
 * may come before or after the subcommand; each subcommand takes only the
 * options that mean something to it, and anything else is a usage error
 * (exit status 2) before iopctl attaches.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iopctl.h"

/* Options that belong to one subcommand or two. */
enum {
	OPT_TARGET = 1 << 0,
	OPT_COUNT = 1 << 1,
	OPT_INTERVAL_US = 1 << 2,
	OPT_INTERVAL_S = 1 << 3,
	OPT_MASK = 1 << 4,
	OPT_TIMEOUT = 256, /* long-only option ids, past every char */
	OPT_JSON,
	OPT_MASK_ID,
};

#define MAX_PING_COUNT 10000000ul

static const char usage_text[] =
	"usage: iopctl [-s PATH] [--timeout MS] [--json] COMMAND [ARGS]\n"
	"\n"
	"  status                          the IOP's state, targets, heaps, channels, loops\n"
	"  lct                             the Logical Configuration Table\n"
	"  params get TID GROUP            a parameter group of a target (0xF000: its counters)\n"
	"  ping [-t TID] [-c COUNT] [-i INTERVAL_US]\n"
	"                                  round trips to a target (default: the nop DDM) and\n"
	"                                  their latency (defaults: -c 10 -i 1000)\n"
	"  watch [-n INTERVAL_S] [-c COUNT]\n"
	"                                  every target's counters and rates, refreshed every\n"
	"                                  INTERVAL_S seconds (default 1), COUNT times (default:\n"
	"                                  until interrupted)\n"
	"  events [-t TID] [-c COUNT] [--mask MASK]\n"
	"                                  register for events (UtilEventRegister) with every\n"
	"                                  target or TID, of MASK (default 0xFFFFFFFF), and print\n"
	"                                  each as it comes, COUNT of them (default: until\n"
	"                                  interrupted)\n"
	"  quiesce                         ExecSysQuiesce: every DDM quiesced, the IOP READY\n"
	"  enable                          bring the IOP up to OPERATIONAL in I2O's order\n"
	"                                  (ExecOutboundInit, ExecSysTabSet, ExecSysEnable)\n"
	"  reset                           ExecIopReset: every DDM reset, the IOP RESET\n"
	"\n"
	"  -s, --socket PATH   iopd's control socket (default: iopd's, $XDG_RUNTIME_DIR/iopd.sock\n"
	"                      or /tmp/iopd-UID.sock)\n"
	"  --timeout MS        how long each request may take (default 2000)\n"
	"  --json              one JSON object (watch: one per line per refresh)\n"
	"  -h, --help          this text\n"
	"\n"
	"Exit status: 0 done, 1 iopd not there or a request failed, 2 bad arguments.\n";

static const struct option long_opts[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "target", required_argument, NULL, 't' },
	{ "count", required_argument, NULL, 'c' },
	{ "interval-us", required_argument, NULL, 'i' },
	{ "interval", required_argument, NULL, 'n' },
	{ "mask", required_argument, NULL, OPT_MASK_ID },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "iopctl: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n%s", usage_text);
	return IOPCTL_EXIT_USAGE;
}

/* A whole number from lo to hi, decimal or 0x hex. */
static int parse_ulong(const char *s, unsigned long lo, unsigned long hi, unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return s[0] == '\0' || s[0] == '-' || *end != '\0' || errno != 0 || *v < lo || *v > hi ?
		       -1 : 0;
}

/* The options into o; which subcommand options were given into *given. @return 0 or 2. */
static int parse_options(int argc, char **argv, struct iopctl_opts *o, unsigned *given)
{
	unsigned long v;
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "s:t:c:i:n:h", long_opts, NULL)) != -1) {
		switch (c) {
		case 's':
			o->socket = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_ulong(optarg, 1, 3600000, &v) != 0)
				return usage_error("--timeout %s: milliseconds, 1 to 3600000", optarg);
			o->timeout_ms = (unsigned)v;
			break;
		case OPT_JSON:
			o->json = true;
			break;
		case 't':
			if (parse_ulong(optarg, 0, 0xFFF, &v) != 0)
				return usage_error("-t %s: a TID, 0 to 0xFFF", optarg);
			o->tid = (uint16_t)v;
			o->tid_given = true;
			*given |= OPT_TARGET;
			break;
		case 'c':
			if (parse_ulong(optarg, 1, MAX_PING_COUNT, &v) != 0)
				return usage_error("-c %s: a count, 1 to 10000000", optarg);
			o->count = v;
			*given |= OPT_COUNT;
			break;
		case 'i':
			if (parse_ulong(optarg, 0, 60000000, &v) != 0)
				return usage_error("-i %s: microseconds, 0 to 60000000", optarg);
			o->interval_us = v;
			*given |= OPT_INTERVAL_US;
			break;
		case 'n':
			errno = 0;
			o->interval_s = strtod(optarg, &end);
			if (optarg[0] == '\0' || *end != '\0' || errno != 0 ||
			    !(o->interval_s >= 0.001 && o->interval_s <= 86400))
				return usage_error("-n %s: seconds, 0.001 to 86400", optarg);
			*given |= OPT_INTERVAL_S;
			break;
		case OPT_MASK_ID:
			if (parse_ulong(optarg, 1, 0xFFFFFFFFul, &v) != 0)
				return usage_error("--mask %s: event bits, 1 to 0xFFFFFFFF", optarg);
			o->mask = (uint32_t)v;
			*given |= OPT_MASK;
			break;
		case 'h':
			fputs(usage_text, stdout);
			exit(0);
		default: /* getopt said what was wrong */
			fputs(usage_text, stderr);
			return IOPCTL_EXIT_USAGE;
		}
	}
	return 0;
}

/* A usage error inside parse_command(). */
static int bad(const char *fmt, const char *arg)
{
	usage_error(fmt, arg);
	return -1;
}

/* Which subcommand, with its operands checked. @return its options mask, or -1 (reported). */
static int parse_command(int n, char **args, uint16_t *tid, uint16_t *group)
{
	unsigned long v;

	if (n == 0)
		return bad("no command%s", "");
	if (strcmp(args[0], "status") == 0 || strcmp(args[0], "lct") == 0)
		return n == 1 ? 0 : bad("%s takes no arguments", args[0]);
	if (strcmp(args[0], "ping") == 0)
		return n == 1 ? OPT_TARGET | OPT_COUNT | OPT_INTERVAL_US :
				bad("ping takes options, no arguments%s", "");
	if (strcmp(args[0], "watch") == 0)
		return n == 1 ? OPT_COUNT | OPT_INTERVAL_S :
				bad("watch takes options, no arguments%s", "");
	if (strcmp(args[0], "events") == 0)
		return n == 1 ? OPT_TARGET | OPT_COUNT | OPT_MASK :
				bad("events takes options, no arguments%s", "");
	if (strcmp(args[0], "quiesce") == 0 || strcmp(args[0], "enable") == 0 ||
	    strcmp(args[0], "reset") == 0)
		return n == 1 ? 0 : bad("%s takes no arguments", args[0]);
	if (strcmp(args[0], "params") != 0)
		return bad("unknown command \"%s\"", args[0]);
	if (n != 4 || strcmp(args[1], "get") != 0)
		return bad("params: the form is params get TID GROUP%s", "");
	if (parse_ulong(args[2], 0, 0xFFF, &v) != 0)
		return bad("params get: TID %s: 0 to 0xFFF", args[2]);
	*tid = (uint16_t)v;
	if (parse_ulong(args[3], 0, 0xFFFF, &v) != 0)
		return bad("params get: GROUP %s: 0 to 0xFFFF", args[3]);
	*group = (uint16_t)v;
	return 0;
}

/* The first option given that the subcommand does not take, or NULL. */
static const char *stray_option(unsigned given, unsigned allowed)
{
	static const struct {
		unsigned bit;
		const char *name;
	} opts[] = {
		{ OPT_TARGET, "-t" }, { OPT_COUNT, "-c" }, { OPT_INTERVAL_US, "-i" },
		{ OPT_INTERVAL_S, "-n" }, { OPT_MASK, "--mask" },
	};

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++)
		if ((given & opts[i].bit) && !(allowed & opts[i].bit))
			return opts[i].name;
	return NULL;
}

int main(int argc, char **argv)
{
	char sock_path[108];
	struct iopctl_opts o = { .timeout_ms = 2000, .count = 0, .interval_us = 1000,
				 .interval_s = 1.0, .mask = 0xFFFFFFFFu };
	unsigned given = 0;
	uint16_t tid = 0, group = 0;
	struct iopctl s;
	int allowed, rc;

	rc = parse_options(argc, argv, &o, &given);
	if (rc != 0)
		return rc;
	allowed = parse_command(argc - optind, argv + optind, &tid, &group);
	if (allowed < 0)
		return IOPCTL_EXIT_USAGE;
	if (stray_option(given, (unsigned)allowed) != NULL) {
		fprintf(stderr, "iopctl: %s does not take %s\n%s", argv[optind],
			stray_option(given, (unsigned)allowed), usage_text);
		return IOPCTL_EXIT_USAGE;
	}
	if (o.socket == NULL) {
		iop_host_default_socket(sock_path, sizeof(sock_path));
		o.socket = sock_path;
	}
	if (strcmp(argv[optind], "ping") == 0 && !(given & OPT_COUNT))
		o.count = 10;
	if (iopctl_open(&s, &o) != 0)
		return IOPCTL_EXIT_FAIL;
	if (strcmp(argv[optind], "status") == 0)
		rc = iopctl_cmd_status(&s);
	else if (strcmp(argv[optind], "lct") == 0)
		rc = iopctl_cmd_lct(&s);
	else if (strcmp(argv[optind], "params") == 0)
		rc = iopctl_cmd_params_get(&s, tid, group);
	else if (strcmp(argv[optind], "ping") == 0)
		rc = iopctl_cmd_ping(&s);
	else if (strcmp(argv[optind], "events") == 0)
		rc = iopctl_cmd_events(&s, o.mask);
	else if (strcmp(argv[optind], "watch") != 0)
		rc = iopctl_cmd_state(&s, argv[optind]);
	else
		rc = iopctl_cmd_watch(&s);
	iopctl_close(&s);
	return rc;
}
