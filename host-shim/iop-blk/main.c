/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-blk, a block workload against a bsa DDM (docs/iop-blk.md): host
 * threads with --qd requests in flight each, for a time or a number of
 * requests, or a verify run that writes checksummed patterns and reads them
 * back; IOPS, MB/s and latency percentiles at the end.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"

static const char *const pattern_names[] = { "read", "write", "randread", "randwrite", "randrw" };

/* The region, whole requests, cut into one slice per thread. */
static int plan(const struct blk_opts *o, const struct blk_target *t, struct blk_worker *w)
{
	uint64_t region = o->size != 0 ? o->size : t->capacity;
	uint64_t per;

	if (o->bs % t->block_size != 0 || region > t->capacity || region < o->bs) {
		fprintf(stderr, "iop-blk: --bs %u and a region of %" PRIu64 " bytes do not fit a "
			"device of %" PRIu64 " bytes in blocks of %u\n", o->bs, region, t->capacity,
			t->block_size);
		return -1;
	}
	region -= region % o->bs;
	per = region / o->bs / o->threads * o->bs;
	if (per == 0) {
		fprintf(stderr, "iop-blk: fewer requests in the region than threads\n");
		return -1;
	}
	for (unsigned i = 0; i < o->threads; i++)
		w[i] = (struct blk_worker){ .o = o, .t = (struct blk_target *)t, .id = i,
					    .region = region, .lo = i * per, .hi = (i + 1) * per };
	return 0;
}

static void report(const struct blk_opts *o, const struct blk_result *r, double secs,
		   uint64_t region)
{
	double iops = secs > 0 ? (double)r->ios / secs : 0;
	double mbps = secs > 0 ? (double)r->bytes / secs / 1e6 : 0;
	double p50 = blk_hist_quantile(&r->hist, 0.50) / 1e3;
	double p99 = blk_hist_quantile(&r->hist, 0.99) / 1e3;
	double p999 = blk_hist_quantile(&r->hist, 0.999) / 1e3;

	if (o->json) {
		printf("{\"rw\":\"%s\",\"bs\":%u,\"qd\":%u,\"threads\":%u,\"region\":%" PRIu64
		       ",\"seconds\":%.3f,\"ios\":%" PRIu64 ",\"errors\":%" PRIu64
		       ",\"iops\":%.0f,\"mb_per_s\":%.1f,\"lat_us\":{\"p50\":%.1f,\"p99\":%.1f,"
		       "\"p999\":%.1f}",
		       pattern_names[o->rw], o->bs, o->qd, o->threads, region, secs, r->ios,
		       r->errors, iops, mbps, p50, p99, p999);
		if (o->verify)
			printf(",\"verify\":{\"ok\":%" PRIu64 ",\"bad\":%" PRIu64 "}", r->verified,
			       r->bad);
		printf("}\n");
		return;
	}
	printf("iop-blk: %s bs=%u qd=%u threads=%u region=%" PRIu64 " bytes, %.2f s\n",
	       pattern_names[o->rw], o->bs, o->qd, o->threads, region, secs);
	printf("  ios %" PRIu64 "  errors %" PRIu64 "  IOPS %.0f  MB/s %.1f\n", r->ios, r->errors,
	       iops, mbps);
	printf("  latency us  p50 %.1f  p99 %.1f  p99.9 %.1f\n", p50, p99, p999);
	if (o->verify)
		printf("  verify: %" PRIu64 " requests read back right, %" PRIu64 " wrong\n",
		       r->verified, r->bad);
}

int main(int argc, char **argv)
{
	struct blk_opts o;
	struct blk_target t;
	struct blk_worker *w;
	struct blk_result *sum;
	pthread_t *th;
	uint64_t t0;
	double secs;
	int rc = blk_parse_options(argc, argv, &o), failed = 0;

	if (rc != 0)
		return rc == 1 ? 0 : 2;
	w = calloc(o.threads, sizeof(*w));
	th = calloc(o.threads, sizeof(*th));
	sum = calloc(1, sizeof(*sum));
	if (w == NULL || th == NULL || sum == NULL) {
		rc = 2;
		goto out;
	}
	if (blk_target_open(&t, &o) != 0 || plan(&o, &t, w) != 0) {
		blk_target_close(&t);
		rc = 2;
		goto out;
	}
	t0 = blk_now_ns();
	for (unsigned i = 0; i < o.threads; i++)
		if (pthread_create(&th[i], NULL, blk_worker_main, &w[i]) != 0)
			w[i].res.rc = -1, th[i] = 0;
	for (unsigned i = 0; i < o.threads; i++) {
		if (th[i] != 0)
			pthread_join(th[i], NULL);
		failed += w[i].res.rc != 0;
		sum->ios += w[i].res.ios;
		sum->bytes += w[i].res.bytes;
		sum->errors += w[i].res.errors;
		sum->verified += w[i].res.verified;
		sum->bad += w[i].res.bad;
		blk_hist_merge(&sum->hist, &w[i].res.hist);
	}
	secs = (double)(blk_now_ns() - t0) / 1e9;
	report(&o, sum, secs, w[0].region);
	if (failed != 0)
		fprintf(stderr, "iop-blk: %d threads could not run\n", failed);
	rc = failed != 0 || sum->errors != 0 || sum->bad != 0 ? 1 : 0;
	blk_target_close(&t);
out:
	free(sum);
	free(th);
	free(w);
	return rc;
}
