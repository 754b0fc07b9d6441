/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bsa DDM in a real iopd on a file: a host process writes blocks
 * through its queue pair and flushes them; iopd is stopped with SIGTERM and
 * started again on the same file; another host process reads the blocks
 * back, the same, and finds the device's geometry through UtilParamsGet.
 * Both heaps' bytes in use are where they were before each host ran. And
 * iop-blk, the real binary, attached to that iopd: a verify run with threads
 * reads back what it wrote, and a target that is not block storage is refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iop_bsa.h"
#include "iop_build.h"
#include "iop_host.h"
#include "iop_test.h"
#include "iop_test_host.h"
#include "iop_test_iopd.h"

#define BSA_TID 0x010u
#define TIMEOUT_MS 10000u
#define BS 4096u
#define WRITES 64u
#define BLOCKS_PER_WRITE 4u

static const char *iopd_path;
static const char *iop_blk_path;
static struct iop_test_iopd iopd;
static char file_path[64];
static char conf[256];

/* The blocks of write i: at a scattered address, with bytes of their own. */
static uint64_t address_of(unsigned i)
{
	return (uint64_t)((i * 37u) % 512u) * BLOCKS_PER_WRITE * BS;
}

static void fill(unsigned char *p, unsigned i)
{
	for (unsigned j = 0; j < BLOCKS_PER_WRITE * BS; j++)
		p[j] = (unsigned char)(i * 31u + j * 7u + (j >> 9));
}

static struct iop_qp *attach_or_exit(struct iop_host **h)
{
	char err[256];
	struct iop_qp *qp;

	*h = iop_host_attach(iopd.sock_path, err, sizeof(err));
	if (*h == NULL) {
		fprintf(stderr, "host pid %d: %s\n", (int)getpid(), err);
		_exit(2);
	}
	qp = iop_qp_create(*h, NULL);
	if (qp == NULL)
		_exit(3);
	return qp;
}

/* One transfer through a buffer of the inbound heap. @return 0 or a message's worth of failure. */
static int transfer(struct iop_qp *qp, uint8_t fn, uint64_t addr, unsigned char *data, uint32_t len)
{
	struct iop_buf b = { iop_qp_frame_alloc(qp, len), len };
	uint32_t *f = iop_qp_frame_alloc(qp, 64), reply[8], count = 0;
	struct iop_completion c;
	int rc;

	if (b.addr == NULL || f == NULL)
		return -ENOMEM;
	if (fn != IOP_BSA_BLOCK_READ)
		memcpy(b.addr, data, len);
	iop_build_bsa_rw(f, 64, BSA_TID, fn, addr, iop_host_window(iop_qp_host(qp)), &b, 1);
	rc = iop_qp_call(qp, f, reply, 8, &c, TIMEOUT_MS);
	if (rc == 0 && (iop_read_bsa_transfer_count(reply, c.reply_words, &count) != 0 ||
			count != len))
		rc = -EPROTO;
	if (rc == 0 && fn == IOP_BSA_BLOCK_READ)
		memcpy(data, b.addr, len);
	iop_qp_frame_free(qp, b.addr);
	return rc;
}

/* The host that writes: every write, then CacheFlush. Exit status 0 when all succeeded. */
static void writer(void)
{
	static unsigned char buf[BLOCKS_PER_WRITE * BS];
	struct iop_host *h;
	struct iop_qp *qp = attach_or_exit(&h);
	struct iop_completion c;
	uint32_t *f;
	int bad = 0;

	for (unsigned i = 0; i < WRITES; i++) {
		fill(buf, i);
		bad += transfer(qp, IOP_BSA_BLOCK_WRITE, address_of(i), buf, sizeof(buf)) != 0;
	}
	f = iop_qp_frame_alloc(qp, 16);
	bad += f == NULL || iop_build_bsa(f, 16, BSA_TID, IOP_BSA_CACHE_FLUSH) < 0 ||
	       iop_qp_call(qp, f, NULL, 0, &c, TIMEOUT_MS) != 0;
	bad += iop_host_detach(h, TIMEOUT_MS) != 0;
	_exit(bad != 0);
}

/* The host that reads after the restart: every block as written, and the geometry. */
static void reader(void)
{
	static unsigned char want[BLOCKS_PER_WRITE * BS], got[BLOCKS_PER_WRITE * BS];
	struct iop_host *h;
	struct iop_qp *qp = attach_or_exit(&h);
	struct iop_completion c;
	uint32_t *f, reply[16];
	uint64_t v[IOP_BSA_INFO_FIELDS];
	unsigned n;
	int bad = 0;

	/* Later writes to the same address win: read each address's last one. */
	for (unsigned i = 0; i < WRITES; i++) {
		bool last = true;

		for (unsigned k = i + 1; k < WRITES; k++)
			last = last && address_of(k) != address_of(i);
		if (!last)
			continue;
		fill(want, i);
		bad += transfer(qp, IOP_BSA_BLOCK_READ, address_of(i), got, sizeof(got)) != 0;
		bad += memcmp(want, got, sizeof(got)) != 0;
	}
	f = iop_qp_frame_alloc(qp, 32);
	if (f == NULL || iop_build_params_get(f, 32, BSA_TID, IOP_BSA_PARAMS_DEVICE_INFO) < 0 ||
	    iop_qp_call(qp, f, reply, 16, &c, TIMEOUT_MS) != 0 ||
	    iop_read_params_reply(reply, c.reply_words, v, IOP_BSA_INFO_FIELDS, &n) != 3 ||
	    v[IOP_BSA_INFO_BLOCK_SIZE] != BS || v[IOP_BSA_INFO_CAPACITY] != 8u << 20 ||
	    v[IOP_BSA_INFO_BACKEND] != IOP_BSA_BACKEND_FILE)
		bad++;
	bad += iop_host_detach(h, TIMEOUT_MS) != 0;
	_exit(bad != 0);
}

/* A host process to its end, with both heaps where they were before it. */
static void run_host(void (*host)(void))
{
	uint32_t in0, out0, in1, out1;
	pid_t pid;
	int status = -1;

	CU_ASSERT_EQUAL_FATAL(iop_test_heap_use(iopd.sock_path, &in0, &out0), 0);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0)
		host();
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT_EQUAL_FATAL(iop_test_heap_use(iopd.sock_path, &in1, &out1), 0);
	CU_ASSERT_EQUAL(in1, in0);
	CU_ASSERT_EQUAL(out1, out0);
}

static void test_flushed_writes_survive_a_restart(void)
{
	snprintf(file_path, sizeof(file_path), "/tmp/iop-test-bsa-iopd-%d", (int)getpid());
	unlink(file_path);
	snprintf(conf, sizeof(conf), "inbound 4M\noutbound 4M\nddm bsa@0:file=%s,size=8M,bs=%u\n",
		 file_path, BS);
	CU_ASSERT_EQUAL_FATAL(iop_test_iopd_start(&iopd, iopd_path, "bsa-iopd",
						  conf), 0);
	run_host(writer);
	CU_ASSERT_EQUAL_FATAL(iop_test_iopd_stop(&iopd), 0);
	CU_ASSERT_EQUAL_FATAL(iop_test_iopd_start(&iopd, iopd_path, "bsa-iopd",
						  conf), 0);
	run_host(reader);
	CU_ASSERT_EQUAL(iop_test_iopd_stop(&iopd), 0);
	unlink(file_path);
}

/* iop-blk with these arguments after -s SOCKET: its exit status, or -1. */
static int iop_blk(const char *const *args)
{
	const char *argv[16] = { iop_blk_path, "-s", iopd.sock_path };
	int status = -1;
	unsigned n = 3;
	pid_t pid;

	while (*args != NULL && n < 15)
		argv[n++] = *args++;
	pid = fork();
	if (pid == 0) {
		execv(iop_blk_path, (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static void test_iop_blk_attached(void)
{
	static const char *const verify[] = { "--rw", "randwrite", "--verify", "--threads", "2",
					      "--qd", "8", "--bs", "8k", NULL };
	static const char *const timed[] = { "--rw", "randrw", "--qd", "4", "--duration", "0.3",
					     "--json", NULL };
	static const char *const not_bsa[] = { "--tid", "0x011", "--ios", "1", NULL };

	snprintf(file_path, sizeof(file_path), "/tmp/iop-test-bsa-iopd-%d", (int)getpid());
	unlink(file_path);
	/* A nop DDM at 0x011: a target that answers, but has no block device information. */
	snprintf(conf, sizeof(conf), "ddm bsa@0:file=%s,size=8M,bs=4096\nddm nop@0\n", file_path);
	CU_ASSERT_EQUAL_FATAL(iop_test_iopd_start(&iopd, iopd_path, "bsa-iopd", conf), 0);
	CU_ASSERT_EQUAL(iop_blk(verify), 0);
	CU_ASSERT_EQUAL(iop_blk(timed), 0);
	CU_ASSERT_EQUAL(iop_blk(not_bsa), 2);
	CU_ASSERT_EQUAL(iop_test_iopd_stop(&iopd), 0);
	unlink(file_path);
}

static const struct iop_test_case tests[] = {
	{ "flushed_writes_survive_a_restart", test_flushed_writes_survive_a_restart },
	{ "iop_blk_attached", test_iop_blk_attached },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "bsa_iopd", tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	iopd_path = getenv("IOP_TEST_IOPD");
	iop_blk_path = getenv("IOP_TEST_IOP_BLK");
	if (iopd_path == NULL || iop_blk_path == NULL) {
		fprintf(stderr, "IOP_TEST_IOPD, IOP_TEST_IOP_BLK: the iopd and iop-blk to test\n");
		return 1;
	}
	iop_test_stay_off_the_loop_cpu();
	return iop_test_main(argc, argv, suites);
}
