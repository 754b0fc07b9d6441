/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The host library across processes: host programs attached to a real iopd
 * make requests through queue pairs, in bursts from several threads at once;
 * one is killed with SIGKILL in the middle of its bursts while another keeps
 * going, and the other loses nothing, iopd stays up and heap use comes back
 * to where it started; queue pairs made and destroyed many times over get
 * their channels back from iopd while the host stays attached.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_test.h"
#include "iop_test_host.h"
#include "iop_test_iopd.h"
#include "iop_window.h"

#define NOP_TID 0x010u
#define BURST 32u
#define TIMEOUT_MS 10000u

static struct iop_test_iopd iopd;

static struct iop_host *attach_or_exit(void)
{
	char err[256];
	struct iop_host *h = iop_host_attach(iopd.sock_path, err, sizeof(err));

	if (h == NULL) {
		fprintf(stderr, "host pid %d: %s\n", (int)getpid(), err);
		_exit(2);
	}
	return h;
}


/*
 * What a kill may still lose (docs/heap.md, "Tags"): the block a spill or a
 * drain was releasing, a reserve chunk being taken, the halves of a split or
 * merge in flight. A leak, never a corruption: each heap's check complains
 * of nothing but the bytes missing (or, first, of the dead thread's mark of
 * an operation in flight), and those are at most a reserve chunk and a few
 * blocks. Read from the shared window while nothing else runs, so
 * that no split or merge is in flight.
 */
#define KILL_LOSS_MAX 4096u

static bool lost_at_most_a_little(void)
{
	char err[256];
	struct iop_host *h = iop_host_attach(iopd.sock_path, err, sizeof(err));
	struct iop_window *w = h != NULL ? iop_host_window(h) : NULL;
	struct iop_heap *heaps[2] = { w ? iop_window_inbound(w) : NULL,
				      w ? iop_window_outbound(w) : NULL };
	bool ok = w != NULL;

	for (int i = 0; i < 2 && ok; i++) {
		struct iop_heap_stats s;
		char want[128], got[128] = "";
		uint64_t lost;

		iop_heap_stats(heaps[i], &s);
		lost = s.heap_bytes - s.bytes_free - s.bytes_in_use;
		if (iop_heap_check_report(heaps[i], got, sizeof(got)) == 0 && lost == 0)
			continue;
		fprintf(stderr, "%s heap: %llu bytes lost to the kill\n",
			i == 0 ? "inbound" : "outbound", (unsigned long long)lost);
		snprintf(want, sizeof(want), "blocks cover %llu bytes of %llu",
			 (unsigned long long)(s.heap_bytes - lost), (unsigned long long)s.heap_bytes);
		/*
		 * A split or merge cut short also leaves the dead thread's mark
		 * of an operation in flight, which the check names first.
		 */
		ok = lost <= KILL_LOSS_MAX &&
		     (strcmp(got, want) == 0 || strncmp(got, "an operation is in flight", 25) == 0);
		if (!ok)
			fprintf(stderr, "%s heap: check says \"%s\"\n", i == 0 ? "inbound" : "outbound",
				got);
	}
	iop_host_detach(h, TIMEOUT_MS);
	return ok;
}

/* Each callback must be the next request of its queue pair, answered SUCCESS. */
struct stream {
	uint64_t next;
	uint64_t bad;
};

static uint64_t seq_of(const void *arg)
{
	return (uint64_t)(uintptr_t)arg;
}

struct worker {
	struct iop_host *h;
	unsigned requests;
	struct stream st;
	int rc;
};

static __thread struct stream *cur_stream;

static void on_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	if (c->result != 0 || seq_of(c->arg) != cur_stream->next)
		cur_stream->bad++;
	cur_stream->next = seq_of(c->arg) + 1;
}

/* Bursts of 32 on a queue pair of its own until `requests` have come back. */
static void *burst_worker(void *arg)
{
	struct worker *wk = arg;
	struct iop_qp *qp = iop_qp_create(wk->h, NULL);
	uint64_t posted = 0;

	cur_stream = &wk->st;
	if (qp == NULL) {
		wk->rc = -errno;
		return NULL;
	}
	while (wk->st.next < wk->requests && wk->st.bad == 0) {
		uint32_t *frames[BURST];
		void *args[BURST];
		unsigned n = 0, k;

		while (n < BURST && posted + n < wk->requests) {
			frames[n] = iop_qp_frame_alloc(qp, 16u << (n % 4));
			if (frames[n] == NULL)
				break; /* the heap is busy: poll, then try again */
			iop_build_util(frames[n], 16, NOP_TID, IOP_UTIL_CLAIM);
			args[n] = (void *)(uintptr_t)(posted + n);
			n++;
		}
		k = iop_qp_post_burst(qp, frames, n, on_reply, args);
		for (unsigned i = k; i < n; i++)
			iop_qp_frame_free(qp, frames[i]);
		posted += k;
		iop_qp_poll(qp, 2 * BURST);
	}
	wk->rc = wk->st.bad != 0 ? -EPROTO : iop_qp_destroy(qp, TIMEOUT_MS);
	return NULL;
}

/* A host program: `threads` threads, each its own queue pair. Exit 0 when nothing went wrong. */
static void host_process(unsigned threads, unsigned requests)
{
	struct iop_host *h;
	struct worker wk[4];
	pthread_t t[4];
	int bad = 0;

	alarm(120);
	h = attach_or_exit();
	for (unsigned i = 0; i < threads; i++) {
		wk[i] = (struct worker){ .h = h, .requests = requests };
		pthread_create(&t[i], NULL, burst_worker, &wk[i]);
	}
	for (unsigned i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		if (wk[i].rc != 0 || wk[i].st.next != requests) {
			fprintf(stderr, "host pid %d thread %u: %s, %llu of %u answered in order\n",
				(int)getpid(), i, strerror(-wk[i].rc),
				(unsigned long long)wk[i].st.next, requests);
			bad = 1;
		}
	}
	iop_host_detach(h, TIMEOUT_MS);
	_exit(bad ? 3 : 0);
}

static int wait_ok(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "host pid %d: status 0x%x\n", (int)pid, status);
		return -1;
	}
	return 0;
}

static void test_queue_pairs_from_host_processes(void)
{
	pid_t pid[2];

	for (int i = 0; i < 2; i++) {
		pid[i] = fork();
		if (pid[i] == 0)
			host_process(2, 20000);
		CU_ASSERT_FATAL(pid[i] > 0);
	}
	for (int i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(wait_ok(pid[i]), 0);
}

/*
 * Bursts without end, polling only some of the replies, with frames
 * allocated and never posted: killed in the middle of it all.
 */
static void doomed_host_process(int ready_fd)
{
	struct iop_host *h;
	struct iop_qp *qp[2];
	uint64_t round = 0;

	alarm(120);
	h = attach_or_exit();
	qp[0] = iop_qp_create(h, NULL);
	qp[1] = iop_qp_create(h, NULL);
	if (qp[0] == NULL || qp[1] == NULL)
		_exit(2);
	for (int i = 0; i < 40; i++)
		iop_qp_frame_alloc(qp[0], 64u << (i % 5)); /* never posted */
	if (write(ready_fd, "r", 1) != 1)
		_exit(2);
	for (;; round++) {
		struct iop_qp *q = qp[round % 2];
		uint32_t *frames[BURST];
		unsigned n = 0, k;

		while (n < BURST && (frames[n] = iop_qp_frame_alloc(q, 16)) != NULL) {
			iop_build_util(frames[n], 16, round % 7 ? NOP_TID : 0x0ABC, IOP_UTIL_LOCK);
			n++;
		}
		k = iop_qp_post_burst(q, frames, n, NULL, NULL);
		for (unsigned i = k; i < n; i++)
			iop_qp_frame_free(q, frames[i]);
		iop_qp_poll(q, BURST / 2); /* falls behind: replies pile up in its ring */
	}
}

static void test_killed_mid_burst_loses_nobody_anything(void)
{
	uint32_t in0, out0, in1 = 0, out1 = 0;
	int ready[2];
	pid_t doomed, survivor;
	char byte;

	CU_ASSERT_EQUAL_FATAL(iop_test_heap_use(iopd.sock_path, &in0, &out0), 0);
	CU_ASSERT_FATAL(pipe(ready) == 0);
	doomed = fork();
	if (doomed == 0)
		doomed_host_process(ready[1]);
	CU_ASSERT_FATAL(doomed > 0);
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	survivor = fork();
	if (survivor == 0)
		host_process(1, 40000);
	CU_ASSERT_FATAL(survivor > 0);
	iop_test_sleep_ms(300); /* both in full swing */
	kill(doomed, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(doomed, NULL, 0), doomed);
	CU_ASSERT_EQUAL(wait_ok(survivor), 0); /* lost nothing, every reply in order */
	CU_ASSERT_EQUAL(kill(iopd.pid, 0), 0); /* iopd still up */
	/* iopd takes back what the host held as the IOP finishes with it. */
	iop_test_heap_use_back(iopd.sock_path, in0, out0, &in1, &out1);
	if (in1 != in0 || out1 != out0)
		fprintf(stderr, "heap use: inbound %u then %u, outbound %u then %u\n", in0, in1, out0,
			out1);
	CU_ASSERT_EQUAL(in1, in0);
	CU_ASSERT_EQUAL(out1, out0);
	CU_ASSERT_TRUE(lost_at_most_a_little());
	close(ready[0]);
	close(ready[1]);
}

/* More queue pairs, one after another, than iopd has channels, or a host may hold. */
static void churn_process(unsigned rounds)
{
	struct iop_host *h = attach_or_exit();
	struct iop_completion c;

	alarm(120);
	for (unsigned i = 0; i < rounds; i++) {
		struct iop_qp *qp = NULL;
		uint32_t *f;
		int rc;

		/* iopd reclaims a closed channel within a few of its 10 ms turns. */
		for (int tries = 0; tries < 500 && qp == NULL; tries++) {
			qp = iop_qp_create(h, NULL);
			if (qp == NULL && errno != ENOSPC)
				_exit(2);
			if (qp == NULL)
				iop_test_sleep_ms(2);
		}
		if (qp == NULL)
			_exit(3);
		f = iop_qp_frame_alloc(qp, 16);
		iop_build_util(f, 16, NOP_TID, IOP_UTIL_DEVICE_RESERVE);
		rc = iop_qp_call(qp, f, NULL, 0, &c, TIMEOUT_MS);
		if (rc != 0) {
			fprintf(stderr, "host pid %d: call on queue pair %u: %s (dsc 0x%x, fail 0x%x)\n",
				(int)getpid(), i, strerror(-rc), c.dsc, c.fail_code);
		}
		if (iop_qp_destroy(qp, TIMEOUT_MS) != 0)
			_exit(5);
	}
	iop_host_detach(h, TIMEOUT_MS);
	_exit(0);
}

static void test_channels_come_back_while_attached(void)
{
	pid_t pid = fork();

	if (pid == 0)
		churn_process(200);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(wait_ok(pid), 0);
}

/* A host that leaves with requests in flight and replies unread: iopd frees them all. */
static void test_detach_with_work_in_flight(void)
{
	uint32_t in0, out0, in1 = 0, out1 = 0;
	pid_t pid;

	CU_ASSERT_EQUAL_FATAL(iop_test_heap_use(iopd.sock_path, &in0, &out0), 0);
	pid = fork();
	if (pid == 0) {
		struct iop_host *h = attach_or_exit();
		struct iop_qp *qp = iop_qp_create(h, NULL);

		for (int i = 0; qp != NULL && i < 200; i++) {
			uint32_t *f = iop_qp_frame_alloc(qp, 32);

			iop_build_util_private(f, 32, NOP_TID, 1, 2);
			if (iop_qp_post(qp, f, NULL, NULL) != 0)
				iop_qp_frame_free(qp, f);
		}
		iop_host_detach(h, 0);
		_exit(qp == NULL);
	}
	CU_ASSERT_EQUAL(wait_ok(pid), 0);
	/* iopd takes back what the host held as the IOP finishes with it. */
	iop_test_heap_use_back(iopd.sock_path, in0, out0, &in1, &out1);
	CU_ASSERT_EQUAL(in1, in0);
	CU_ASSERT_EQUAL(out1, out0);
}

static const struct iop_test_case host_tests[] = {
	{ "queue_pairs_from_host_processes", test_queue_pairs_from_host_processes },
	{ "killed_mid_burst_loses_nobody_anything", test_killed_mid_burst_loses_nobody_anything },
	{ "channels_come_back_while_attached", test_channels_come_back_while_attached },
	{ "detach_with_work_in_flight", test_detach_with_work_in_flight },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "host_shim", host_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	const char *iopd_path = getenv("IOP_TEST_IOPD");
	int failures;

	if (iopd_path == NULL) {
		fprintf(stderr, "IOP_TEST_IOPD: the iopd to test\n");
		return 1;
	}
	if (iop_test_iopd_start(&iopd, iopd_path, "iopd-host-shim",
				"inbound 4M\noutbound 4M\nring-entries 256\nddm nop@0\n") != 0)
		return 1;
	iop_test_stay_off_the_loop_cpu(); /* and the hosts it forks */
	failures = iop_test_main(argc, argv, suites);
	if (iop_test_iopd_stop(&iopd) != 0)
		failures++;
	return failures;
}
