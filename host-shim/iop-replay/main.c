/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-replay: send a pcap or pcapng capture, packet by packet, as LAN
 * PacketSend requests (up to --batch packets each) through the host shim to the lan DDM of an IOP it runs
 * in-process, whose port (net_pcap by default) writes them to a tx pcap.
 * With no arguments it replays a sample capture it generates and checks that
 * the output matches it packet for packet. docs/iop-replay.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "iop_eal.h"

#include "iop_lan.h"
#include "replay.h"

#define DEFAULT_MTU 9216u
#define DEFAULT_MAX_FRAME (64u << 10)
/*
 * Packets a PacketSend by default: the most one carries. 32 were about eight
 * times the rate of one at 64 bytes; 64, preloaded, 1.2x-1.3x the rate of 32
 * (docs/benchmarks.md).
 */
#define DEFAULT_BATCH IOP_LAN_SEND_MAX_PACKETS

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iop-replay [options] [FILE]\n"
		"Sends FILE (pcap or pcapng, Ethernet) through an in-process IOP's lan DDM.\n"
		"Without FILE: replays a generated sample capture and verifies the output.\n"
		"  -o, --output=FILE    the tx pcap written (default iop-replay-out.pcap)\n"
		"      --vdev=SPEC      output port instead: a DPDK vdev (net_null0, net_tap0,iface=t0)\n"
		"  -t, --topspeed       as fast as possible\n"
		"  -p, --pps=N          N packets a second\n"
		"  -M, --mbps=N         N megabits a second\n"
		"  -x, --multiplier=X   the capture's timing, X times as fast (default 1)\n"
		"  -l, --loop=N         N times through the capture (0: for ever; default 1)\n"
		"  -L, --limit=N        stop after N packets\n"
		"      --duration=S     stop after S seconds\n"
		"      --stats=S        a progress line every S seconds\n"
		"  -K, --preload[=AT]   read the capture into memory first: into the frame\n"
		"                       window (AT window, the default; its packets then go by\n"
		"                       reference, no copy on this side) or process memory\n"
		"                       (AT memory: each packet copied into its request)\n"
		"      --json           the summary as one JSON document\n"
		"      --verify         check the output equals the input, packet for packet\n"
		"      --skip-bad       skip and count packets that cannot be sent (too large, a\n"
		"                       truncated last record) instead of failing\n"
		"      --mtu=N          the port's MTU (default %u)\n"
		"      --max-frame=N    the largest request frame, bytes (default %u)\n"
		"      --batch=N        up to N packets (1-%u) a PacketSend, when they are due\n"
		"                       (default %u; 1: a request a packet)\n"
		"      --tx=MODE        how the lan DDM hands packets to the port: copy, or\n"
		"                       zerocopy (from the request frame itself; default: the DDM's)\n"
		"      --loop-inline    no lcore for the DDM: this thread turns the IOP's loop\n"
		"                       when it waits (one thread, for counting instructions)\n"
		"      --generate=FILE  write the sample capture (.pcapng: pcapng) and exit\n",
		DEFAULT_MTU, DEFAULT_MAX_FRAME, IOP_LAN_SEND_MAX_PACKETS, DEFAULT_BATCH);
}

enum {
	OPT_VDEV = 256, OPT_DURATION, OPT_STATS, OPT_JSON, OPT_VERIFY, OPT_SKIP_BAD, OPT_MTU,
	OPT_MAX_FRAME, OPT_GENERATE, OPT_BATCH, OPT_TX, OPT_LOOP_INLINE,
};

static bool number(const char *s, double *v)
{
	char *end;

	errno = 0;
	*v = strtod(s, &end);
	return errno == 0 && end != s && *end == '\0' && *v >= 0;
}

static bool count(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && s[0] != '-';
}

/* @return 0, 1 for --help, -1 for bad options (said on stderr). */
static int parse(int argc, char **argv, struct replay_opts *o, const char **generate)
{
	static const struct option longs[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "vdev", required_argument, NULL, OPT_VDEV },
		{ "topspeed", no_argument, NULL, 't' },
		{ "pps", required_argument, NULL, 'p' },
		{ "mbps", required_argument, NULL, 'M' },
		{ "multiplier", required_argument, NULL, 'x' },
		{ "loop", required_argument, NULL, 'l' },
		{ "limit", required_argument, NULL, 'L' },
		{ "duration", required_argument, NULL, OPT_DURATION },
		{ "stats", required_argument, NULL, OPT_STATS },
		{ "preload", optional_argument, NULL, 'K' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "skip-bad", no_argument, NULL, OPT_SKIP_BAD },
		{ "mtu", required_argument, NULL, OPT_MTU },
		{ "max-frame", required_argument, NULL, OPT_MAX_FRAME },
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "tx", required_argument, NULL, OPT_TX },
		{ "loop-inline", no_argument, NULL, OPT_LOOP_INLINE },
		{ "generate", required_argument, NULL, OPT_GENERATE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t u;
	bool ok = true;
	int c;

	while (ok && (c = getopt_long(argc, argv, "o:tp:M:x:l:L:Kh", longs, NULL)) != -1) {
		switch (c) {
		case 'o': o->output = optarg; break;
		case OPT_VDEV: o->vdev = optarg; break;
		case 't': o->topspeed = true; break;
		case 'p': ok = number(optarg, &o->pps) && o->pps > 0; break;
		case 'M': ok = number(optarg, &o->mbps) && o->mbps > 0; break;
		case 'x': ok = number(optarg, &o->multiplier) && o->multiplier > 0; break;
		case 'l': ok = count(optarg, &o->loop); break;
		case 'L': ok = count(optarg, &o->limit); break;
		case OPT_DURATION: ok = number(optarg, &o->duration) && o->duration > 0; break;
		case OPT_STATS: ok = number(optarg, &o->stats) && o->stats > 0; break;
		case 'K':
			o->preload = true;
			ok = optarg == NULL || strcmp(optarg, "window") == 0 ||
			     strcmp(optarg, "memory") == 0;
			o->preload_memory = optarg != NULL && strcmp(optarg, "memory") == 0;
			break;
		case OPT_JSON: o->json = true; break;
		case OPT_VERIFY: o->verify = true; break;
		case OPT_SKIP_BAD: o->skip_bad = true; break;
		case OPT_MTU:
			ok = count(optarg, &u) && u >= 68 && u <= 65000;
			o->mtu = (unsigned)u;
			break;
		case OPT_MAX_FRAME:
			ok = count(optarg, &u) && u >= 64 && u <= (64u << 20);
			o->max_frame = (size_t)u;
			break;
		case OPT_BATCH:
			ok = count(optarg, &u) && u >= 1 && u <= IOP_LAN_SEND_MAX_PACKETS;
			o->batch = (unsigned)u;
			break;
		case OPT_TX:
			ok = strcmp(optarg, "copy") == 0 || strcmp(optarg, "zerocopy") == 0;
			o->tx = optarg;
			break;
		case OPT_LOOP_INLINE: o->loop_inline = true; break;
		case OPT_GENERATE: *generate = optarg; break;
		case 'h': usage(stdout); return 1;
		default: usage(stderr); return -1;
		}
	}
	if (!ok) {
		fprintf(stderr, "iop-replay: bad value '%s' (see --help)\n", optarg);
		return -1;
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "iop-replay: one capture at a time\n");
		return -1;
	}
	o->input = optind < argc ? argv[optind] : NULL;
	if ((o->topspeed + (o->pps > 0) + (o->mbps > 0) + (o->multiplier > 0)) > 1) {
		fprintf(stderr, "iop-replay: at most one of --topspeed, --pps, --mbps, --multiplier\n");
		return -1;
	}
	if (o->verify && (o->vdev != NULL || o->loop != 1)) {
		fprintf(stderr, "iop-replay: --verify needs the tx pcap output and one loop\n");
		return -1;
	}
	return 0;
}

static int fail(const char *what)
{
	fprintf(stderr, "iop-replay: %s\n", what);
	return 1;
}

int main(int argc, char **argv)
{
	struct replay_opts o = { .output = "iop-replay-out.pcap", .loop = 1, .mtu = DEFAULT_MTU,
				 .max_frame = DEFAULT_MAX_FRAME, .batch = DEFAULT_BATCH };
	char err[512] = "", sample_dir[] = "/tmp/iop-replay-XXXXXX", sample[64], out[64];
	const char *generate = NULL;
	struct replay_result r = { 0 };
	struct replay_iop *x;
	struct capture *c;
	int rc, verified = -1;
	uint64_t preload_bytes;

	rc = parse(argc, argv, &o, &generate);
	if (rc != 0)
		return rc < 0 ? 2 : 0;
	if (generate != NULL)
		return sample_write(generate, err, sizeof(err)) == 0 ? 0 : fail(err);
	if (o.input == NULL) {
		/* The main job: the sample, to a tx pcap of its own, verified. */
		if (mkdtemp(sample_dir) == NULL)
			return fail(strerror(errno));
		snprintf(sample, sizeof(sample), "%s/sample.pcap", sample_dir);
		snprintf(out, sizeof(out), "%s/tx.pcap", sample_dir);
		if (sample_write(sample, err, sizeof(err)) != 0)
			return fail(err);
		o.input = sample;
		if (o.vdev == NULL && strcmp(o.output, "iop-replay-out.pcap") == 0)
			o.output = out;
		o.verify = o.vdev == NULL && o.loop == 1;
	}
	c = capture_open(o.input, o.preload, err, sizeof(err));
	if (c == NULL)
		return fail(err);
	preload_bytes = o.preload && !o.preload_memory ? capture_preloaded_bytes(c, REPLAY_PRELOAD_ALIGN) : 0;
	x = replay_iop_start(&o, preload_bytes, argv[0], err, sizeof(err));
	if (x == NULL) {
		capture_close(c);
		return fail(err);
	}
	if (preload_bytes != 0 && !replay_iop_adopt(x, c))
		fprintf(stderr,
			"iop-replay: the preloaded capture (%.1f MiB) does not fit in the frame "
			"window: it stays in process memory, each packet copied into its request\n",
			(double)preload_bytes / (1 << 20));
	rc = replay_run(&o, x, c, &r, err, sizeof(err));
	if (replay_iop_stop(x) != 0 && rc == 0) {
		snprintf(err, sizeof(err), "the IOP did not answer every packet");
		rc = -1;
	}
	capture_close(c);
	if (rc == 0 && o.verify) {
		char why[512] = "";

		verified = captures_match(o.input, o.output, replay_iop_stats(x)->sent, why,
					  sizeof(why));
		if (verified != 1 || replay_iop_stats(x)->sent != replay_iop_stats(x)->posted)
			fprintf(stderr, "iop-replay: output differs: %s\n",
				why[0] ? why : "packets refused");
		if (verified == 1 && replay_iop_stats(x)->refused != 0)
			verified = 0;
	}
	if (rc == 0)
		report_summary(&o, replay_iop_stats(x), &r, verified);
	replay_iop_free(x);
	iop_eal_cleanup();
	if (o.input == sample) {
		unlink(sample);
		unlink(out);
		rmdir(sample_dir);
	}
	if (rc != 0)
		return fail(err);
	return o.verify && verified != 1 ? 1 : 0;
}
