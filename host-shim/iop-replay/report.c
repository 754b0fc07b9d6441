/* SPDX-License-Identifier: BSD-3-Clause */
/* iop-replay's progress lines and final summary, as text or one JSON document. */
#include <stdio.h>
#include <stdlib.h>

#include "json.h"
#include "replay.h"

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile of the latency sample, in microseconds (sorts the sample). */
static double quantile_us(const struct send_stats *s, double q)
{
	if (s->n_lat == 0)
		return 0;
	return (double)s->lat_ns[(uint64_t)(q * (double)(s->n_lat - 1))] / 1e3;
}

void report_progress(const struct send_stats *s, double seconds)
{
	fprintf(stderr, "%.1f s: %lu packets, %lu bytes, %.0f pps, %.3f Mbps, %lu refused\n",
		seconds, (unsigned long)s->sent, (unsigned long)s->sent_bytes,
		seconds > 0 ? (double)s->sent / seconds : 0,
		seconds > 0 ? (double)s->sent_bytes * 8 / seconds / 1e6 : 0,
		(unsigned long)s->refused);
}

void report_summary(const struct replay_opts *o, const struct send_stats *s,
		    const struct replay_result *r, int verified)
{
	double pps = r->seconds > 0 ? (double)s->sent / r->seconds : 0;
	double mbps = r->seconds > 0 ? (double)s->sent_bytes * 8 / r->seconds / 1e6 : 0;
	double p50, p99;

	qsort(s->lat_ns, s->n_lat, sizeof(s->lat_ns[0]), cmp_u64);
	p50 = quantile_us(s, 0.50);
	p99 = quantile_us(s, 0.99);
	if (o->json) {
		struct json j;

		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_uint(&j, "packets", s->sent);
		json_uint(&j, "bytes", s->sent_bytes);
		json_double(&j, "seconds", r->seconds);
		json_double(&j, "pps", pps);
		json_double(&j, "mbps", mbps);
		json_uint(&j, "drops", s->refused);
		if (s->port_packets >= 0)
			json_uint(&j, "port_packets", (uint64_t)s->port_packets);
		else
			json_null(&j, "port_packets");
		json_uint(&j, "skipped", r->skipped);
		json_uint(&j, "requests", s->requests);
		json_uint(&j, "batch", o->batch);
		json_bool(&j, "by_reference", s->by_reference);
		json_double(&j, "latency_p50_us", p50);
		json_double(&j, "latency_p99_us", p99);
		if (verified >= 0)
			json_bool(&j, "identical", verified == 1);
		else
			json_null(&j, "identical");
		json_object_end(&j);
		json_end(&j);
		return;
	}
	printf("packets %lu, bytes %lu in %.3f s: %.0f pps, %.3f Mbps\n", (unsigned long)s->sent,
	       (unsigned long)s->sent_bytes, r->seconds, pps, mbps);
	printf("drops %lu (refused by the IOP), skipped %lu\n", (unsigned long)s->refused,
	       (unsigned long)r->skipped);
	if (s->port_packets >= 0)
		printf("the port counted %ld packets sent\n", (long)s->port_packets);
	printf("%lu requests (up to %u packets each%s); request latency p50 %.1f us, p99 %.1f us\n",
	       (unsigned long)s->requests, o->batch,
	       s->by_reference ? ", by reference from the window" : "", p50, p99);
	if (verified >= 0)
		printf("output %s the input, packet for packet\n",
		       verified == 1 ? "identical to" : "DIFFERS from");
}
