/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The runtime on the real EAL, in one process: iop_eal_init's defaults (no
 * hugepages, no PCI, a file prefix of its own), two poll loops on worker
 * lcores that share a CPU, the nop DDM on the second loop so that every
 * request crosses lcores, and the test's main thread as the host, posting in
 * bursts and checking every reply.
 */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_lcore.h>

#include "iop_eal.h"
#include "runtime_harness.h"

#define REQUESTS 20000u
#define BURST 32u

static struct iop_window *w;
static struct iop_runtime *rt;
static _Atomic int stop;

static void test_requests_through_worker_lcores(void)
{
	struct iop_channel ch;
	struct iop_ddm_stats st;
	struct iop_runtime_stats rs;
	uint64_t in0, out0;
	uint32_t sent = 0, got = 0, pending[BURST];
	unsigned npending = 0;

	CU_ASSERT_EQUAL_FATAL(iop_channel_open(w, &ch), 0);
	in0 = heap_free_bytes(iop_window_inbound(w));
	out0 = heap_free_bytes(iop_window_outbound(w));

	while (got < REQUESTS) {
		uint32_t mfas[BURST];
		unsigned n;

		while (npending < BURST && sent < REQUESTS) {
			uint32_t *f = iop_heap_alloc(iop_window_inbound(w), 16);
			struct iop_msg_hdr m = { .version = 1, .size_words = 4, .target_tid = 0x010,
						 .initiator_tid = IOP_TID_HOST,
						 .function = IOP_UTIL_CLAIM,
						 .transaction_context = sent };

			if (f == NULL)
				break;
			iop_msg_hdr_encode(&m, f);
			pending[npending++] = iop_window_mfa(w, f);
			sent++;
		}
		/*
		 * What the ring does not take stays pending, and the host goes on
		 * taking replies: the IOP takes no more requests than the reply
		 * ring has room for, so a host that only posted would wait forever.
		 */
		n = iop_mfa_ring_post(ch.to_iop, pending, npending);
		memmove(pending, pending + n, (npending - n) * sizeof(pending[0]));
		npending -= n;
		n = iop_mfa_ring_take(ch.to_host, mfas, BURST);
		for (unsigned i = 0; i < n; i++) {
			size_t block;
			uint32_t *r = iop_window_frame_block(w, mfas[i], &block);
			struct iop_msg_hdr m;
			uint8_t status = 0xFF;

			CU_ASSERT_PTR_NOT_NULL_FATAL(r);
			iop_msg_hdr_decode(r, &m);
			iop_reply_status(r, &status, NULL);
			CU_ASSERT_EQUAL(m.transaction_context, got + i); /* in order */
			CU_ASSERT_EQUAL(status, IOP_REPLY_STATUS_SUCCESS);
			iop_heap_free(iop_window_outbound(w), r, block);
		}
		got += n;
	}
	CU_ASSERT_EQUAL(iop_runtime_ddm_stats(rt, 0x010, &st), 0);
	CU_ASSERT_EQUAL(st.requests, REQUESTS);
	CU_ASSERT_EQUAL(st.replies, REQUESTS);
	iop_runtime_stats(rt, &rs);
	CU_ASSERT_EQUAL(rs.fail_replies, 0);
	CU_ASSERT_EQUAL(iop_channel_close(w, &ch), 0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(w)), in0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(w)), out0);
}

static const struct iop_test_case eal_tests[] = {
	{ "requests_through_worker_lcores", test_requests_through_worker_lcores },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "runtime_eal", eal_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	/* Three lcores on two CPUs: the loops share CPU 1, the host has CPU 0. */
	char *eal_argv[] = { argv[0], (char *)"--lcores=0@0,1@1,2@1", NULL };
	const struct iop_window_opts wo = { .inbound_bytes = 1 << 20, .outbound_bytes = 1 << 20 };
	const struct iop_runtime_ddm ddms[] = { { "nop", NULL, 1 } };
	struct iop_runtime_config cfg = { .lcores = 2, .ddms = ddms, .n_ddms = 1 };
	char err[256], run_dir[PATH_MAX];
	int failures;

	if (iop_eal_init(2, eal_argv, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	w = iop_window_create(&wo);
	cfg.window = w;
	rt = w != NULL ? iop_runtime_create(&cfg, err, sizeof(err)) : NULL;
	if (rt == NULL || iop_runtime_launch(rt, &stop) != 0) {
		fprintf(stderr, "runtime: %s\n", rt == NULL ? err : "launch failed");
		return 1;
	}
	failures = iop_test_main(argc, argv, suites);
	atomic_store(&stop, 1);
	iop_runtime_wait(rt);
	iop_runtime_destroy(rt);
	iop_window_close(w);
	snprintf(run_dir, sizeof(run_dir), "%s", rte_eal_get_runtime_dir());
	iop_eal_cleanup();
	/* A run leaves nothing of DPDK's behind in /run/dpdk (iop_eal_init chose the prefix). */
	if (run_dir[0] == '\0' || access(run_dir, F_OK) == 0) {
		fprintf(stderr, "FAIL: runtime directory \"%s\" still there\n", run_dir);
		failures++;
	}
	return failures;
}
