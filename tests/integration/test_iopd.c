/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd as users run it: a daemon process, and hosts in other processes that
 * attach through its socket. Hosts make calls to the nop DDM; one host is
 * killed with SIGKILL in the middle of a burst while holding frames of every
 * kind, and the other loses nothing, iopd stays up, and heap use returns to
 * where it started. A user iopd does not allow is refused. Telemetry answers.
 * SIGTERM stops iopd with status 0. A DDM that abandons requests is named
 * for them in iopd's shutdown log.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <rte_byteorder.h>

#include "iop_build.h"
#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_mfa_ring.h"
#include "iop_test.h"
#include "iop_test_iopd.h"
#include "iop_window.h"

#define NOP_TID 0x010u

static char sock_path[108];
static pid_t iopd_pid;

/* Post one request (taking replies meanwhile, as a host must) and wait for its reply. */
static int call(struct iop_host *h, struct iop_channel *ch, uint16_t tid, uint8_t fn,
		uint32_t tag, uint32_t *words, unsigned nwords)
{
	uint32_t *f = NULL;
	struct iop_msg_hdr m = { .version = 1, .size_words = 4, .target_tid = tid,
				 .initiator_tid = IOP_TID_HOST, .function = fn,
				 .transaction_context = tag };
	uint32_t mfa;

	/* The heap may be full for a while (another host's frames): wait, not fail. */
	for (unsigned i = 0; i < 5000 && (f = iop_host_frame_alloc(h, 16)) == NULL; i++)
		iop_test_sleep_ms(1);
	if (f == NULL)
		return -ENOMEM;
	iop_msg_hdr_encode(&m, f);
	mfa = iop_window_mfa(iop_host_window(h), f);
	while (iop_mfa_ring_post(ch->to_iop, &mfa, 1) == 0)
		sched_yield();
	for (unsigned spins = 0; spins < 5000000; spins++) {
		size_t block;
		uint32_t *r;
		struct iop_msg_hdr rh;
		uint8_t status = 0xFF;

		if (iop_mfa_ring_take(ch->to_host, &mfa, 1) == 0) {
			sched_yield();
			continue;
		}
		r = iop_host_reply_claim(h, mfa, &block);
		if (r == NULL)
			return -EFAULT;
		iop_msg_hdr_decode(r, &rh);
		iop_reply_status(r, &status, NULL);
		for (unsigned i = 0; i < nwords && i < rh.size_words; i++)
			words[i] = rte_le_to_cpu_32(r[i]);
		iop_host_frame_free(h, r);
		return rh.transaction_context == tag && status == 0 ? 0 : -EPROTO;
	}
	return -ETIMEDOUT;
}

/* Inbound and outbound bytes in use, as ExecStatusGet reports them. */
static int heap_use(uint32_t *in, uint32_t *out)
{
	char err[256];
	struct iop_host *h = iop_host_attach(sock_path, err, sizeof(err));
	struct iop_channel ch;
	uint32_t words[16] = { 0 };
	int rc;

	if (h == NULL)
		return -errno;
	rc = iop_host_channel_open(h, &ch);
	if (rc == 0)
		rc = call(h, &ch, IOP_TID_EXEC, IOP_EXEC_STATUS_GET, 1, words, 16);
	*in = words[13];
	*out = words[14];
	iop_host_detach(h, 0);
	return rc;
}

/* A host process: n calls to the nop DDM. Exit status 0 when every one came back right. */
static void host_process(unsigned n)
{
	char err[256];
	struct iop_host *h = iop_host_attach(sock_path, err, sizeof(err));
	struct iop_channel ch;

	int rc;

	alarm(60);
	if (h == NULL) {
		fprintf(stderr, "host pid %d: %s\n", (int)getpid(), err);
		_exit(2);
	}
	rc = iop_host_channel_open(h, &ch);
	if (rc != 0) {
		fprintf(stderr, "host pid %d: channel: %s\n", (int)getpid(), strerror(-rc));
		_exit(2);
	}
	for (unsigned i = 0; i < n; i++) {
		rc = call(h, &ch, NOP_TID, IOP_UTIL_CLAIM, i, NULL, 0);
		if (rc != 0) {
			fprintf(stderr, "host pid %d: call %u: %s\n", (int)getpid(), i, strerror(-rc));
			_exit(3);
		}
	}
	iop_host_detach(h, 0);
	_exit(0);
}

/*
 * A host that holds frames of every kind when it is killed: allocated and
 * not posted, replies taken and not freed, requests in its ring, replies in
 * its ring, requests refused with a FAIL reply; on two channels.
 */
static void doomed_host_process(int ready_fd)
{
	char err[256];
	struct iop_host *h = iop_host_attach(sock_path, err, sizeof(err));
	struct iop_channel ch[2];
	uint32_t tag = 0;

	alarm(60);
	if (h == NULL || iop_host_channel_open(h, &ch[0]) != 0 ||
	    iop_host_channel_open(h, &ch[1]) != 0)
		_exit(2);
	for (int i = 0; i < 50; i++)
		iop_host_frame_alloc(h, 64 << (i % 5)); /* never posted */
	if (write(ready_fd, "r", 1) != 1)
		_exit(2);
	while (tag < 4000) {
		for (int c = 0; c < 2; c++) {
			uint32_t *f = iop_host_frame_alloc(h, 16);
			/* Every ninth with a bad version: a FAIL reply leaves it the host's. */
			struct iop_msg_hdr m = { .version = (tag % 9) ? 1 : 3, .size_words = 4,
						 .target_tid = NOP_TID,
						 .initiator_tid = IOP_TID_HOST,
						 .function = IOP_UTIL_CLAIM,
						 .transaction_context = tag };
			uint32_t mfa;
			size_t block;

			tag++;
			if (f == NULL)
				continue;
			iop_msg_hdr_encode(&m, f);
			mfa = iop_window_mfa(iop_host_window(h), f);
			if (iop_mfa_ring_post(ch[c].to_iop, &mfa, 1) == 0)
				iop_host_frame_free(h, f);
			/* Take some replies and keep them: frames it holds when it dies. */
			if (tag % 3 == 0 && iop_mfa_ring_take(ch[c].to_host, &mfa, 1) == 1)
				iop_host_reply_claim(h, mfa, &block);
		}
	}
	for (;;)
		pause(); /* holding everything, until killed */
}

static void test_calls_from_a_host_process(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0)
		host_process(5000);
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status))
		fprintf(stderr, "host: signal %d\n", WTERMSIG(status));
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

/*
 * iopd takes back what a dead host held as the IOP finishes with it: both
 * heaps' bytes in use come back to in0 and out0 within five seconds.
 */
static void heap_use_comes_back(uint32_t in0, uint32_t out0)
{
	uint32_t in1 = 0, out1 = 0;

	for (int i = 0; i < 100; i++) {
		CU_ASSERT_EQUAL_FATAL(heap_use(&in1, &out1), 0);
		if (in1 == in0 && out1 == out0)
			break;
		iop_test_sleep_ms(50);
	}
	CU_ASSERT_EQUAL(in1, in0);
	CU_ASSERT_EQUAL(out1, out0);
}

static void test_killed_host_loses_nobody_anything(void)
{
	uint32_t in0, out0;
	int ready[2], status;
	pid_t doomed, survivor;
	char byte;

	CU_ASSERT_EQUAL_FATAL(heap_use(&in0, &out0), 0);
	CU_ASSERT_FATAL(pipe(ready) == 0);
	doomed = fork();
	if (doomed == 0)
		doomed_host_process(ready[1]);
	CU_ASSERT_FATAL(doomed > 0);
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	survivor = fork();
	if (survivor == 0)
		host_process(20000);
	CU_ASSERT_FATAL(survivor > 0);
	iop_test_sleep_ms(200); /* both in full swing */
	kill(doomed, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(doomed, NULL, 0), doomed);
	CU_ASSERT_EQUAL(waitpid(survivor, &status, 0), survivor);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "survivor: status 0x%x\n", status);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0); /* lost nothing */
	CU_ASSERT_EQUAL(kill(iopd_pid, 0), 0);                   /* iopd still up */
	heap_use_comes_back(in0, out0);
	close(ready[0]);
	close(ready[1]);
}

static void count_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	(void)qp;
	if (c->result == 0)
		(*(unsigned *)c->arg)++;
}

/*
 * A host with a queue pair: bursts of calls, until frames wait on both of
 * its channel's free lists (and the queue pair keeps some of each kind);
 * then it says so (or says it found a list empty) and waits to be killed.
 */
static void queue_pair_host_process(int ready_fd)
{
	char err[256];
	struct iop_host *h = iop_host_attach(sock_path, err, sizeof(err));
	struct iop_qp *qp = h != NULL ? iop_qp_create(h, NULL) : NULL;
	const struct iop_channel *ch;
	unsigned done = 0;
	char say;

	alarm(60);
	if (qp == NULL)
		_exit(2);
	ch = iop_qp_channel(qp);
	for (unsigned round = 0; round < 5; round++) {
		unsigned want = done + 40;

		for (unsigned i = 0; i < 40; i++) {
			uint32_t *f = iop_qp_frame_alloc(qp, 16);

			if (f == NULL || iop_build_util(f, 16, NOP_TID, IOP_UTIL_CLAIM) <= 0 ||
			    iop_qp_post(qp, f, count_reply, &done) != 0)
				_exit(3);
		}
		while (done < want)
			iop_qp_poll(qp, 64);
	}
	say = iop_mfa_ring_count(ch->free_to_host) != 0 && iop_mfa_ring_count(ch->free_to_iop) != 0
		      ? 'r'
		      : 'e';
	if (write(ready_fd, &say, 1) != 1)
		_exit(2);
	for (;;)
		pause(); /* holding its frames, until killed */
}

/*
 * A queue-pair host killed while frames go round on its free lists: what
 * the lists hold, what its queue pair kept of them, all come back.
 */
static void test_killed_host_gives_back_its_free_lists(void)
{
	uint32_t in0, out0;
	int ready[2];
	pid_t doomed;
	char byte = 0;

	CU_ASSERT_EQUAL_FATAL(heap_use(&in0, &out0), 0);
	CU_ASSERT_FATAL(pipe(ready) == 0);
	doomed = fork();
	if (doomed == 0)
		queue_pair_host_process(ready[1]);
	CU_ASSERT_FATAL(doomed > 0);
	close(ready[1]); /* a host that dies before it says anything is an end of file */
	CU_ASSERT_FATAL(read(ready[0], &byte, 1) == 1);
	CU_ASSERT_EQUAL(byte, 'r'); /* frames on both lists when it died */
	kill(doomed, SIGKILL);
	CU_ASSERT_EQUAL(waitpid(doomed, NULL, 0), doomed);
	heap_use_comes_back(in0, out0);
	close(ready[0]);
}

/* A user iopd was not told to allow is refused, with a message. */
static void test_other_user_refused(void)
{
	pid_t pid;
	int status;

	if (geteuid() != 0) {
		fprintf(stderr, "(not root: cannot become another user; skipped)\n");
		return;
	}
	pid = fork();
	if (pid == 0) {
		char err[256] = "";
		struct iop_host *h;

		if (setgid(65534) != 0 || setuid(65534) != 0)
			_exit(2);
		h = iop_host_attach(sock_path, err, sizeof(err));
		_exit(h == NULL && errno == EACCES && strstr(err, "may not attach") != NULL ? 0 : 3);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void test_attach_to_nothing(void)
{
	char err[256] = "";

	errno = 0;
	CU_ASSERT_PTR_NULL(iop_host_attach("/nonexistent/iopd.sock", err, sizeof(err)));
	CU_ASSERT_EQUAL(errno, ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/iopd.sock"));
}

/* iopd's DPDK runtime directory (iopool-PID), if it is in one of the places DPDK puts it. */
static bool iopd_runtime_dir(char *path, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	snprintf(path, len, "/var/run/dpdk/iopool-%d", (int)iopd_pid);
	if (access(path, F_OK) == 0)
		return true;
	if (xdg != NULL) {
		snprintf(path, len, "%s/dpdk/iopool-%d", xdg, (int)iopd_pid);
		if (access(path, F_OK) == 0)
			return true;
	}
	snprintf(path, len, "/tmp/dpdk/iopool-%d", (int)iopd_pid);
	if (access(path, F_OK) == 0)
		return true;
	path[0] = '\0';
	return false;
}

/* DPDK telemetry: iopd's endpoints answer on its runtime directory's socket. */
static void test_telemetry(void)
{
	const char *dirs[] = { "/var/run/dpdk", getenv("XDG_RUNTIME_DIR"), "/tmp" };
	char path[256], buf[4096];
	int fd = -1;

	for (unsigned i = 0; i < 3 && fd < 0; i++) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };

		if (dirs[i] == NULL)
			continue;
		snprintf(path, sizeof(path), "%s%s/iopool-%d/dpdk_telemetry.v2", dirs[i],
			 i == 1 ? "/dpdk" : i == 2 ? "/dpdk" : "", (int)iopd_pid);
		if (strlen(path) >= sizeof(addr.sun_path))
			continue;
		strcpy(addr.sun_path, path);
		fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
		if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
			close(fd);
			fd = -1;
		}
	}
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT(read(fd, buf, sizeof(buf)) > 0); /* the greeting */
	CU_ASSERT_EQUAL(write(fd, "/iopool/status", 14), 14);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"state\":8")); /* OPERATIONAL */
	CU_ASSERT_EQUAL(write(fd, "/iopool/targets", 15), 15);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"0x010\":\"nop class=0x001 loop=0\""));
	CU_ASSERT_EQUAL(write(fd, "/iopool/heaps", 13), 13);
	memset(buf, 0, sizeof(buf));
	CU_ASSERT(read(fd, buf, sizeof(buf) - 1) > 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf, "\"inbound\":{\"bytes\":4194304"));
	close(fd);
}

/* Bad options and configurations: a message and a non-zero exit, before anything starts. */
static void test_bad_configuration_refused(void)
{
	const char *iopd = getenv("IOP_TEST_IOPD");
	char conf[64];
	int cfd;
	const struct {
		const char *opt, *val, *expect;
		int status;
	} cases[] = {
		{ "--loops", "0", "1 to 16", 2 },
		{ "--inbound", "lots", "not a size", 2 },
		{ "--bogus", "1", "unknown option --bogus", 2 },
		{ "--config", "/nonexistent.conf", "/nonexistent.conf", 2 },
		{ "--config", conf, "line 2: unknown option --nonsense", 2 },
		{ "--ddm", "nosuch@0", "no DDM named \"nosuch\"", 1 },
	};

	snprintf(conf, sizeof(conf), "/tmp/iopd-bad-%d.conf", (int)getpid());
	cfd = open(conf, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(cfd >= 0);
	CU_ASSERT(write(cfd, "# a comment\nnonsense yes\n", 26) == 26);
	close(cfd);
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char cmd[512], out[1024] = "";
		FILE *p;
		int status;

		snprintf(cmd, sizeof(cmd),
			 "%s -- --socket /tmp/iopd-bad-%d.sock %s %s 2>&1", iopd, (int)getpid(),
			 cases[i].opt, cases[i].val);
		p = popen(cmd, "r");
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		fread(out, 1, sizeof(out) - 1, p);
		status = pclose(p);
		CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == cases[i].status);
		if (strstr(out, cases[i].expect) == NULL)
			fprintf(stderr, "expected \"%s\" in: %s\n", cases[i].expect, out);
		CU_ASSERT_PTR_NOT_NULL(strstr(out, cases[i].expect));
	}
	unlink(conf);
}

/*
 * iopd stopped while a DDM holds requests it abandoned (iop_request_abandon:
 * never to be answered): its shutdown waits its grace period, then says the
 * requests were abandoned by their DDM, not that hosts do not take replies.
 * iopd's log (stderr) goes to a file for the check.
 */
static void test_abandoned_requests_named_at_shutdown(void)
{
	const char *iopd = getenv("IOP_TEST_IOPD"), *so = getenv("IOP_TEST_ABANDON_DDM");
	struct iop_test_iopd d = { 0 };
	char conf[256], log[64], out[4096] = "";
	int saved, fd, status;
	FILE *fp;
	pid_t pid;

	if (so == NULL) {
		fprintf(stderr, "\n  skipped: IOP_TEST_ABANDON_DDM (abandon_ddm.so) not given\n");
		return;
	}
	snprintf(conf, sizeof(conf), "load %s\nddm abandons@0\n", so);
	snprintf(log, sizeof(log), "/tmp/iopd-abandon-%d.log", (int)getpid());
	fd = open(log, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	CU_ASSERT_FATAL(fd >= 0);
	saved = dup(2);
	CU_ASSERT_FATAL(saved >= 0);
	dup2(fd, 2); /* iopd inherits it */
	close(fd);
	status = iop_test_iopd_start(&d, iopd, "iopd-abandon", conf);
	dup2(saved, 2);
	close(saved);
	CU_ASSERT_EQUAL_FATAL(status, 0);
	/* A host posts three requests the DDM abandons, then leaves without their replies. */
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		char err[256];
		struct iop_host *h = iop_host_attach(d.sock_path, err, sizeof(err));
		struct iop_channel ch;
		uint32_t words[4];

		alarm(60);
		if (h == NULL || iop_host_channel_open(h, &ch) != 0)
			_exit(2);
		/* The target answers a claim: the DDM is loaded and taking requests. */
		if (call(h, &ch, NOP_TID, IOP_UTIL_CLAIM, 1, words, 4) != 0)
			_exit(3);
		for (uint32_t i = 0; i < 3; i++) {
			uint32_t *f = iop_host_frame_alloc(h, 16), mfa;
			struct iop_msg_hdr m = { .version = 1, .size_words = 4, .target_tid = NOP_TID,
						 .initiator_tid = IOP_TID_HOST,
						 .function = IOP_UTIL_PRIVATE, .transaction_context = i };

			if (f == NULL)
				_exit(4);
			iop_msg_hdr_encode(&m, f);
			mfa = iop_window_mfa(iop_host_window(h), f);
			while (iop_mfa_ring_post(ch.to_iop, &mfa, 1) == 0)
				sched_yield();
		}
		/* Until the IOP has taken them all (it abandons each as it takes it): not a sleep. */
		while (iop_mfa_ring_count(ch.to_iop) != 0)
			sched_yield();
		_exit(0);
	}
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL(iop_test_iopd_stop(&d), 0);
	fp = fopen(log, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	fread(out, 1, sizeof(out) - 1, fp);
	fclose(fp);
	unlink(log);
	if (strstr(out, "3 requests abandoned by their DDM") == NULL)
		fprintf(stderr, "iopd's log:\n%s\n", out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "requests still in flight on 1 channel after"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "3 requests abandoned by their DDM"));
	CU_ASSERT_PTR_NULL(strstr(out, "not taking replies"));
	CU_ASSERT_PTR_NULL(strstr(out, "held by DDMs, not answered yet"));
}

static const struct iop_test_case iopd_tests[] = {
	{ "calls_from_a_host_process", test_calls_from_a_host_process },
	{ "killed_host_loses_nobody_anything", test_killed_host_loses_nobody_anything },
	{ "killed_host_gives_back_its_free_lists", test_killed_host_gives_back_its_free_lists },
	{ "other_user_refused", test_other_user_refused },
	{ "attach_to_nothing", test_attach_to_nothing },
	{ "telemetry", test_telemetry },
	{ "bad_configuration_refused", test_bad_configuration_refused },
	{ "abandoned_requests_named_at_shutdown", test_abandoned_requests_named_at_shutdown },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "iopd", iopd_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	const char *iopd = getenv("IOP_TEST_IOPD");
	struct iop_test_iopd d = { 0 };
	char run_dir[256] = "";
	int failures;

	if (iopd == NULL) {
		fprintf(stderr, "IOP_TEST_IOPD: the iopd to test\n");
		return 1;
	}
	if (iop_test_iopd_start(&d, iopd, "iopd-test",
				"inbound 4M\noutbound = 4M\nring-entries 256\nddm nop@0\n") != 0)
		return 1;
	iopd_pid = d.pid;
	strcpy(sock_path, d.sock_path);
	iop_test_stay_off_the_loop_cpu(); /* and the hosts it forks */
	failures = iop_test_main(argc, argv, suites);
	/* DPDK's runtime directory is there while iopd runs, and goes with it. */
	if (!iopd_runtime_dir(run_dir, sizeof(run_dir))) {
		fprintf(stderr, "FAIL: no runtime directory iopool-%d found\n", (int)d.pid);
		failures++;
	}
	if (iop_test_iopd_stop(&d) != 0)
		failures++;
	if (run_dir[0] != '\0' && access(run_dir, F_OK) == 0) {
		fprintf(stderr, "FAIL: iopd left %s behind\n", run_dir);
		failures++;
	}
	return failures;
}
