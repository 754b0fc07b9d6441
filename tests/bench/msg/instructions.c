/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-msg-instructions: the message path's round trips on one thread, for
 * counting instructions under callgrind (callgrind.sh), which are steady
 * where times on a shared 2-vCPU machine are not. The host posts a burst of
 * UtilPrivate requests to the nop DDM, turns the runtime's loop once, takes
 * the replies, and so on: the same code as two threads run, without the
 * waiting. Exits non-zero unless every reply was SUCCESS and both heaps are
 * back to where they started. Run natively, the rate it prints is the
 * message path's with no line changing hands between CPUs: both sides' work
 * on one thread (docs/benchmarks.md, "One thread against two").
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "iop_build.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_runtime.h"
#include "iop_window.h"

#define BURST 32u
#define NOP_TID 0x010u

static unsigned long replies, bad;

static void on_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	replies++;
	bad += c->result != 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t in_use(struct iop_heap *h)
{
	struct iop_heap_stats s;

	iop_heap_cache_flush(h);
	iop_heap_stats(h, &s);
	return s.bytes_in_use;
}

int main(int argc, char **argv)
{
	unsigned long n = argc > 1 ? strtoul(argv[1], NULL, 0) : 100000, posted = 0;
	struct iop_window_opts wo = { 0 }; /* the window's defaults, as iopd's */
	struct iop_runtime_ddm ddm = { "nop", NULL, 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = &ddm, .n_ddms = 1 };
	struct iop_window *w = iop_window_create(&wo);
	struct iop_runtime *rt;
	struct iop_host *h;
	struct iop_qp *qp;
	char err[256] = "";
	uint64_t in0, out0;
	double t0, secs;

	if (w == NULL)
		return 1;
	cfg.window = w;
	rt = iop_runtime_create(&cfg, err, sizeof(err));
	h = rt != NULL ? iop_host_attach_runtime(rt, err, sizeof(err)) : NULL;
	qp = h != NULL ? iop_qp_create(h, NULL) : NULL;
	if (qp == NULL) {
		fprintf(stderr, "iop-msg-instructions: %s\n", err);
		return 1;
	}
	in0 = in_use(iop_window_inbound(w));
	out0 = in_use(iop_window_outbound(w));
	t0 = now_s();
	while (replies < n) {
		uint32_t *f[BURST];
		unsigned k = 0, sent;

		while (k < BURST && posted + k < n && (f[k] = iop_qp_frame_alloc(qp, 32)) != NULL)
			iop_build_util_private(f[k++], 32, NOP_TID, 1, 2);
		sent = iop_qp_post_burst(qp, f, k, on_reply, NULL);
		for (unsigned i = sent; i < k; i++)
			iop_qp_frame_free(qp, f[i]);
		posted += sent;
		iop_runtime_poll(rt, 0);
		iop_qp_poll(qp, 2 * BURST);
	}
	secs = now_s() - t0;
	iop_qp_destroy(qp, 1000);
	printf("%lu round trips, %lu not SUCCESS, in %.3f s: %.2f M round trips/s on one thread\n",
	       replies, bad, secs, (double)replies / secs / 1e6);
	if (bad != 0 || in_use(iop_window_inbound(w)) != in0 ||
	    in_use(iop_window_outbound(w)) != out0) {
		fprintf(stderr, "iop-msg-instructions: replies or heaps wrong\n");
		return 1;
	}
	iop_host_detach(h, 1000);
	iop_runtime_destroy(rt);
	iop_window_close(w);
	return 0;
}
