/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bsa DDM in a runtime of this process, its poll loop on a thread, with
 * hosts' queue pairs: data written through SGLs of several buffers reads
 * back the same, on the RAM disk and on a file; host threads writing their
 * own regions at once; a file that keeps its blocks across runtimes; and
 * every refusal and backend error with its status, its detailed status and
 * the bytes it says it moved. The backend errors are real ones: /dev/full
 * refuses writes (ENOSPC), /dev/zero reads back other data than was
 * written, a file truncated behind the DDM's back ends inside the capacity,
 * and RLIMIT_FSIZE cuts a write short and then refuses the rest (EFBIG).
 * A short transfer that the backend must continue comes from wrappers of
 * preadv/pwritev that cut one call short on demand.
 *
 * Every test on a file runs with the file backend that IOP_TEST_BSA_IO
 * names (io=sync when unset; meson runs the program again with io=uring),
 * and checks through UtilParamsGet that the DDM uses it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "iop_bsa.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_host.h"
#include "iop_runtime.h"
#include "iop_sgl.h"
#include "iop_test.h"
#include "runtime_harness.h" /* heap_free_bytes() */
#include "iop_window.h"

#ifdef IOP_TEST_HAVE_URING
#include <liburing.h>
#endif

#define BSA_TID 0x010u
#define TIMEOUT_MS 10000u
#define FRAME_BYTES 128u
/* What struct result's count says of a status-only reply, which has no TransferCount. */
#define NO_COUNT UINT32_MAX

static struct {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	struct iop_qp *qp;
	pthread_t loop;
	_Atomic int stop;
	uint64_t in_free0, out_free0;
} fx;

static char file_path[64];

/* The io= of every file the tests open: IOP_TEST_BSA_IO, or sync. */
static const char *io_mode(void)
{
	const char *m = getenv("IOP_TEST_BSA_IO");

	return m != NULL && *m != '\0' ? m : "sync";
}

/* The backend UtilParamsGet should report for a file opened with io_mode(). */
static uint64_t file_backend(void)
{
	return strcmp(io_mode(), "uring") == 0 ? IOP_BSA_BACKEND_URING : IOP_BSA_BACKEND_FILE;
}

/* "file=PATH,..." as fmt says, with ",io=MODE" after it. */
static void file_params(char *buf, size_t len, const char *fmt, const char *path)
{
	int n = snprintf(buf, len, fmt, path);

	CU_ASSERT_FATAL(n > 0 && (size_t)n < len);
	n += snprintf(buf + n, len - (size_t)n, ",io=%s", io_mode());
	CU_ASSERT_FATAL((size_t)n < len);
}

/* When not 0: the effective user the DDM opens its file as (a read-only file, for root). */
static uid_t open_as;

static void *loop_main(void *arg)
{
	(void)arg;
	iop_runtime_lcore_loop(fx.rt, 0, &fx.stop);
	iop_heap_cache_flush(iop_window_inbound(fx.w));
	iop_heap_cache_flush(iop_window_outbound(fx.w));
	return NULL;
}

/* A runtime with one bsa DDM of these parameters, or NULL when its init refuses them. */
static struct iop_runtime *runtime_with(const char *params)
{
	struct iop_runtime_ddm ddm = { "bsa", params, 0 };
	struct iop_runtime_config cfg = { .window = fx.w, .lcores = 1, .ddms = &ddm, .n_ddms = 1 };
	char err[256] = "";
	struct iop_runtime *rt;

	uid_t as = open_as;

	/* Once only, and reset before any assertion can end the test: later tests run as root. */
	open_as = 0;
	/* Only this thread runs yet: seteuid changes nothing else's view. */
	if (as != 0)
		CU_ASSERT_EQUAL_FATAL(seteuid(as), 0);
	rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (as != 0)
		CU_ASSERT_EQUAL_FATAL(seteuid(0), 0);
	return rt;
}

static void up_with(const char *params, size_t outbound_bytes)
{
	struct iop_window_opts wo = { .inbound_bytes = 8u << 20, .outbound_bytes = outbound_bytes,
				      .channels = 8, .ring_entries = 64 };
	char err[256] = "";

	memset(&fx, 0, sizeof(fx));
	fx.w = iop_window_create(&wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.w);
	fx.rt = runtime_with(params);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.rt);
	fx.in_free0 = heap_free_bytes(iop_window_inbound(fx.w));
	fx.out_free0 = heap_free_bytes(iop_window_outbound(fx.w));
	CU_ASSERT_EQUAL_FATAL(pthread_create(&fx.loop, NULL, loop_main, NULL), 0);
	fx.h = iop_host_attach_runtime(fx.rt, err, sizeof(err));
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.h);
	fx.qp = iop_qp_create(fx.h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.qp);
}

static void up(const char *params)
{
	up_with(params, 1u << 20);
}

/* The host gone, the loop stopped: every frame back where it started. */
static void down(void)
{
	CU_ASSERT_EQUAL(iop_qp_destroy(fx.qp, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_host_detach(fx.h, TIMEOUT_MS), 0);
	atomic_store(&fx.stop, 1);
	pthread_join(fx.loop, NULL);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(fx.w)), fx.in_free0);
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(fx.w)), fx.out_free0);
	iop_runtime_destroy(fx.rt);
	iop_window_close(fx.w);
}

/* What a reply said. */
struct result {
	int rc;
	uint8_t status;
	uint16_t dsc;
	uint32_t count;
};

static struct result call(struct iop_qp *qp, uint32_t *f)
{
	struct result res = { 0 };
	struct iop_completion c;
	uint32_t reply[16];

	res.rc = iop_qp_call(qp, f, reply, 16, &c, TIMEOUT_MS);
	CU_ASSERT_FATAL(res.rc == 0 || res.rc == -EIO);
	res.status = c.req_status;
	res.dsc = c.dsc;
	if (iop_read_bsa_transfer_count(reply, c.reply_words, &res.count) != 0)
		res.count = NO_COUNT;
	return res;
}

static uint32_t *frame(struct iop_qp *qp)
{
	uint32_t *f = iop_qp_frame_alloc(qp, FRAME_BYTES);

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	return f;
}

/*
 * A transfer of len bytes at addr through `pieces` buffers of the inbound
 * heap (cut where they fall, not at block boundaries), data from or to buf.
 */
static struct result rw_split(struct iop_qp *qp, uint8_t fn, uint64_t addr, void *buf,
			      uint32_t len, unsigned pieces)
{
	struct iop_buf bufs[4];
	uint32_t *f = frame(qp), off = 0;
	struct result res;

	CU_ASSERT_FATAL(pieces >= 1 && pieces <= 4 && len >= pieces);
	for (unsigned i = 0; i < pieces; i++) {
		bufs[i].len = i + 1 < pieces ? len / pieces + i : len - off;
		bufs[i].addr = iop_qp_frame_alloc(qp, bufs[i].len < 16 ? 16 : bufs[i].len);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[i].addr);
		if (fn != IOP_BSA_BLOCK_READ)
			memcpy(bufs[i].addr, (char *)buf + off, bufs[i].len);
		off += bufs[i].len;
	}
	CU_ASSERT_FATAL(iop_build_bsa_rw(f, FRAME_BYTES, BSA_TID, fn, addr, iop_host_window(
		iop_qp_host(qp)), bufs, pieces) > 0);
	res = call(qp, f);
	off = 0;
	for (unsigned i = 0; i < pieces; i++) {
		if (fn == IOP_BSA_BLOCK_READ)
			memcpy((char *)buf + off, bufs[i].addr, bufs[i].len);
		off += bufs[i].len;
		iop_qp_frame_free(qp, bufs[i].addr);
	}
	return res;
}

static struct result rw(uint8_t fn, uint64_t addr, void *buf, uint32_t len)
{
	return rw_split(fx.qp, fn, addr, buf, len, 1);
}

static struct result plain(uint8_t fn)
{
	uint32_t *f = frame(fx.qp);

	iop_build_bsa(f, FRAME_BYTES, BSA_TID, fn);
	return call(fx.qp, f);
}

static struct result media_verify(uint64_t addr, uint32_t len)
{
	uint32_t *f = frame(fx.qp);

	CU_ASSERT_EQUAL_FATAL(iop_build_bsa_media_verify(f, FRAME_BYTES, BSA_TID, addr, len), 8);
	return call(fx.qp, f);
}

static void expect(struct result r, uint8_t status, uint16_t dsc, uint32_t count)
{
	CU_ASSERT_EQUAL(r.status, status);
	CU_ASSERT_EQUAL(r.dsc, dsc);
	CU_ASSERT_EQUAL(r.count, count);
	if (r.status != status || r.dsc != dsc || r.count != count)
		fprintf(stderr, "\n  got status 0x%02x dsc 0x%04x count %u, want 0x%02x 0x%04x "
			"%u\n", r.status, r.dsc, r.count, status, dsc, count);
}

static void expect_ok(struct result r, uint32_t count)
{
	expect(r, IOP_REPLY_STATUS_SUCCESS, IOP_BSA_DSC_SUCCESS, count);
}

static void expect_refused(struct result r, uint16_t dsc)
{
	expect(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, dsc, 0);
}

/* The bytes of block `block` of a pattern: a different 64-bit word everywhere. */
static void pattern(void *buf, uint64_t block, uint32_t block_size, uint32_t blocks, uint64_t seed)
{
	uint64_t *p = buf;

	for (uint64_t i = 0; i < (uint64_t)blocks * block_size / 8; i++) {
		uint64_t z = seed * 0x9E3779B97F4A7C15ull + block * block_size / 8 + i;

		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
		z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
		p[i] = z ^ (z >> 31);
	}
}

static void make_file_path(void)
{
	snprintf(file_path, sizeof(file_path), "/tmp/iop-test-bsa-%d", (int)getpid());
	unlink(file_path);
}

/* The backend the DDM reports in its device-information group. */
static uint64_t backend_in_use(void)
{
	uint32_t reply[16], *f = frame(fx.qp);
	struct iop_completion c;
	uint64_t v[IOP_BSA_INFO_FIELDS];
	unsigned n;

	iop_build_params_get(f, FRAME_BYTES, BSA_TID, IOP_BSA_PARAMS_DEVICE_INFO);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(fx.qp, f, reply, 16, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(iop_read_params_reply(reply, c.reply_words, v, IOP_BSA_INFO_FIELDS,
						    &n), IOP_BSA_INFO_FIELDS);
	return v[IOP_BSA_INFO_BACKEND];
}

/* The DDM up on a new 2 MiB file of 4 KiB blocks, on the file backend this build tests. */
static void up_file_2m(void)
{
	char params[128];

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=2M,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
}

/* The DDM's own counters (IOP_BSA_PARAMS_STATS). */
static void bsa_stats(uint64_t v[IOP_BSA_STAT_FIELDS])
{
	uint32_t reply[32], *f = frame(fx.qp);
	struct iop_completion c;
	unsigned n;

	iop_build_params_get(f, FRAME_BYTES, BSA_TID, IOP_BSA_PARAMS_STATS);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(fx.qp, f, reply, 32, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL_FATAL(iop_read_params_reply(reply, c.reply_words, v, IOP_BSA_STAT_FIELDS,
						    &n), IOP_BSA_STAT_FIELDS);
}

/*
 * Random writes of 1-64 blocks through 1-4 buffers over a disk of `blocks`,
 * a shadow copy kept; then the whole disk read back in pieces and compared.
 */
static void read_after_write(uint32_t bs, uint32_t blocks)
{
	uint64_t cap = (uint64_t)bs * blocks;
	unsigned char *shadow = calloc(1, cap), *buf = malloc(64 * bs);
	unsigned bad = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(shadow);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	iop_test_rng_seed(iop_test_seed());
	for (int i = 0; i < 400; i++) {
		uint32_t n = 1 + iop_test_rng() % 64, at = iop_test_rng() % (blocks - n + 1);

		pattern(buf, at, bs, n, (uint64_t)i + 1);
		memcpy(shadow + (uint64_t)at * bs, buf, (size_t)n * bs);
		expect_ok(rw_split(fx.qp, i % 5 == 0 ? IOP_BSA_WRITE_VERIFY : IOP_BSA_BLOCK_WRITE,
				   (uint64_t)at * bs, buf, n * bs, 1 + i % 4),
			  n * bs);
	}
	for (uint32_t at = 0; at < blocks; at += 64) {
		uint32_t n = blocks - at < 64 ? blocks - at : 64;

		expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, (uint64_t)at * bs, buf, n * bs,
				   1 + at % 3),
			  n * bs);
		bad += memcmp(buf, shadow + (uint64_t)at * bs, (size_t)n * bs) != 0;
	}
	CU_ASSERT_EQUAL(bad, 0);
	free(buf);
	free(shadow);
}

static void test_ram_read_after_write(void)
{
	up("ram,size=4M,bs=512");
	read_after_write(512, 8192);
	down();
}

static void test_file_read_after_write(void)
{
	char params[128];
	struct stat st;

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=2M,bs=4096", file_path);
	up(params);
	/* The file was created at the size asked for. */
	CU_ASSERT_EQUAL(stat(file_path, &st), 0);
	CU_ASSERT_EQUAL(st.st_size, 2 << 20);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	read_after_write(4096, 512);
	down();
	unlink(file_path);
}

/* Host threads, each with its own queue pair, write their own regions, then read every region. */
#define THREADS 4
#define REGION_BLOCKS 256u

static pthread_barrier_t written;

static void *region_thread(void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	struct iop_qp *qp = iop_qp_create(fx.h, NULL);
	unsigned char want[8 * 512], got[8 * 512];
	uintptr_t bad = 0;

	if (qp == NULL) {
		pthread_barrier_wait(&written);
		return (void *)1;
	}
	for (uint32_t b = 0; b < REGION_BLOCKS; b += 8) {
		uint64_t block = me * REGION_BLOCKS + b;

		pattern(want, block, 512, 8, 7);
		bad += rw_split(qp, IOP_BSA_BLOCK_WRITE, block * 512, want, sizeof(want),
				1 + b % 3).rc != 0;
	}
	pthread_barrier_wait(&written);
	for (uint64_t block = 0; block < THREADS * REGION_BLOCKS; block += 8) {
		pattern(want, block, 512, 8, 7);
		bad += rw_split(qp, IOP_BSA_BLOCK_READ, block * 512, got, sizeof(got), 2).rc != 0;
		bad += memcmp(want, got, sizeof(got)) != 0;
	}
	bad += iop_qp_destroy(qp, TIMEOUT_MS) != 0;
	return (void *)bad;
}

static void test_threads_write_their_regions(void)
{
	pthread_t t[THREADS];

	up("ram,size=1M");
	pthread_barrier_init(&written, NULL, THREADS);
	for (uintptr_t i = 0; i < THREADS; i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, region_thread, (void *)i), 0);
	for (int i = 0; i < THREADS; i++) {
		void *bad;

		pthread_join(t[i], &bad);
		CU_ASSERT_PTR_NULL(bad);
	}
	pthread_barrier_destroy(&written);
	down();
}

/* Written and flushed by one runtime, read back by the next on the same file. */
static void test_file_survives_a_new_runtime(void)
{
	unsigned char want[16 * 512], got[16 * 512];
	char params[128];

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=1M", file_path);
	up(params);
	pattern(want, 100, 512, 16, 3);
	expect_ok(rw(IOP_BSA_BLOCK_WRITE, 100 * 512, want, sizeof(want)), sizeof(want));
	expect_ok(plain(IOP_BSA_CACHE_FLUSH), NO_COUNT);
	down();
	/* No size this time: the file's own. */
	file_params(params, sizeof(params), "file=%s", file_path);
	up(params);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, 100 * 512, got, sizeof(got), 3), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	down();
	unlink(file_path);
}

static void test_status_reset_flush_verify(void)
{
	uint32_t reply[16], *f;
	struct iop_completion c;
	uint64_t v[4], v2[IOP_BSA_STAT_FIELDS];
	unsigned n;

	up("ram,size=1M,bs=1024");
	expect_ok(plain(IOP_BSA_STATUS_CHECK), NO_COUNT);
	expect_ok(plain(IOP_BSA_DEVICE_RESET), NO_COUNT);
	expect_ok(plain(IOP_BSA_CACHE_FLUSH), NO_COUNT);
	expect_ok(media_verify(0, 1 << 20), 1 << 20);
	expect_refused(media_verify(1024, 1 << 20), IOP_BSA_DSC_ACCESS_VIOLATION);
	expect_refused(media_verify(512, 1024), IOP_BSA_DSC_ACCESS_ERROR);
	/* The device-information group. */
	f = frame(fx.qp);
	iop_build_params_get(f, FRAME_BYTES, BSA_TID, IOP_BSA_PARAMS_DEVICE_INFO);
	CU_ASSERT_EQUAL_FATAL(iop_qp_call(fx.qp, f, reply, 16, &c, TIMEOUT_MS), 0);
	CU_ASSERT_EQUAL(iop_read_params_reply(reply, c.reply_words, v, 4, &n), 3);
	CU_ASSERT_EQUAL(n, IOP_BSA_INFO_FIELDS);
	CU_ASSERT_EQUAL(v[IOP_BSA_INFO_BLOCK_SIZE], 1024);
	CU_ASSERT_EQUAL(v[IOP_BSA_INFO_CAPACITY], 1 << 20);
	CU_ASSERT_EQUAL(v[IOP_BSA_INFO_BACKEND], IOP_BSA_BACKEND_RAM);
	/* The counters: a RAM disk makes no system call and has no ring. */
	bsa_stats(v2);
	for (unsigned i = 0; i < IOP_BSA_STAT_FIELDS; i++)
		CU_ASSERT_EQUAL(v2[i], 0);
	f = frame(fx.qp);
	iop_build_params_get(f, FRAME_BYTES, BSA_TID, 0x0002);
	CU_ASSERT_EQUAL(iop_qp_call(fx.qp, f, reply, 16, &c, TIMEOUT_MS), -EIO);
	CU_ASSERT_EQUAL(c.dsc, IOP_DSC_INVALID_PARAMETER);
	down();
}

/* A write refused leaves the disk as it was. */
static void expect_disk_zero(uint64_t addr, uint32_t len)
{
	unsigned char got[4096], zero[4096] = { 0 };

	CU_ASSERT_FATAL(len <= sizeof(got));
	expect_ok(rw(IOP_BSA_BLOCK_READ, addr, got, len), len);
	CU_ASSERT_EQUAL(memcmp(got, zero, len), 0);
}

static void test_refused_ranges(void)
{
	unsigned char buf[4096];
	const uint64_t cap = 1 << 20;

	up("ram,size=1M,bs=512");
	memset(buf, 0xA5, sizeof(buf));
	/* Past the capacity: at the end, across it, and an address that would wrap. */
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, cap, buf, 512), IOP_BSA_DSC_ACCESS_VIOLATION);
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, cap - 512, buf, 1024), IOP_BSA_DSC_ACCESS_VIOLATION);
	expect_refused(rw(IOP_BSA_BLOCK_READ, UINT64_MAX - 511, buf, 1024),
		       IOP_BSA_DSC_ACCESS_VIOLATION);
	expect_disk_zero(cap - 512, 512);
	/* Not whole blocks: the address, the length. */
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, 100, buf, 512), IOP_BSA_DSC_ACCESS_ERROR);
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, 0, buf, 1000), IOP_BSA_DSC_ACCESS_ERROR);
	expect_refused(rw(IOP_BSA_WRITE_VERIFY, 512, buf, 513), IOP_BSA_DSC_ACCESS_ERROR);
	expect_refused(rw(IOP_BSA_BLOCK_READ, 0, buf, 100), IOP_BSA_DSC_ACCESS_ERROR);
	expect_disk_zero(0, 2048);
	down();
}

/* A write of 1024 bytes at 0 built into f, buffer data; returns its words. */
static int build_write(uint32_t *f, void **data, uint8_t fn)
{
	struct iop_buf b = { iop_qp_frame_alloc(fx.qp, 1024), 1024 };

	CU_ASSERT_PTR_NOT_NULL_FATAL(b.addr);
	memset(b.addr, 0x5A, 1024);
	*data = b.addr;
	return iop_build_bsa_rw(f, FRAME_BYTES, BSA_TID, fn, 0, iop_host_window(fx.h), &b, 1);
}

static struct result call_then_free(uint32_t *f, void *data)
{
	struct result r = call(fx.qp, f);

	iop_qp_frame_free(fx.qp, data);
	return r;
}

static void test_refused_frames(void)
{
	uint32_t *f;
	void *data;
	int words;

	up("ram,size=1M");
	/* TransferByteCount 0. */
	f = frame(fx.qp);
	build_write(f, &data, IOP_BSA_BLOCK_WRITE);
	f[5] = 0;
	expect_refused(call_then_free(f, data), IOP_BSA_DSC_ACCESS_ERROR);
	/* More bytes than the SGL's buffers hold. */
	f = frame(fx.qp);
	build_write(f, &data, IOP_BSA_BLOCK_WRITE);
	f[5] = htole32(2048);
	expect_refused(call_then_free(f, data), IOP_DSC_INVALID_PARAMETER);
	/* No SGL at all. */
	f = frame(fx.qp);
	words = build_write(f, &data, IOP_BSA_BLOCK_WRITE);
	f[0] &= htole32(~0xF0u);
	expect_refused(call_then_free(f, data), IOP_DSC_INVALID_PARAMETER);
	/* The SGL over the request's own words 4-7. */
	f = frame(fx.qp);
	build_write(f, &data, IOP_BSA_BLOCK_WRITE);
	f[0] = (f[0] & htole32(~0xF0u)) | htole32(6u << 4);
	expect_refused(call_then_free(f, data), IOP_DSC_INVALID_OFFSET);
	/* A buffer outside the inbound heap: the walker's refusal and its DSC. */
	f = frame(fx.qp);
	build_write(f, &data, IOP_BSA_BLOCK_WRITE);
	f[9] = 0;
	expect_refused(call_then_free(f, data), IOP_DSC_INVALID_OFFSET);
	/* An element the walker refuses (LOCAL_ADDRESS). */
	f = frame(fx.qp);
	build_write(f, &data, IOP_BSA_BLOCK_READ);
	f[8] |= htole32((uint32_t)IOP_SGL_LOCAL_ADDRESS << 24);
	expect_refused(call_then_free(f, data), IOP_DSC_INVALID_PARAMETER);
	/* Too short for words 5-7. */
	f = frame(fx.qp);
	iop_build_bsa(f, FRAME_BYTES, BSA_TID, IOP_BSA_BLOCK_READ);
	expect_refused(call(fx.qp, f), IOP_DSC_MESSAGE_TOO_SMALL);
	f = frame(fx.qp);
	iop_build_bsa(f, FRAME_BYTES, BSA_TID, IOP_BSA_MEDIA_VERIFY);
	expect_refused(call(fx.qp, f), IOP_DSC_MESSAGE_TOO_SMALL);
	CU_ASSERT_EQUAL(words, 10);
	expect_disk_zero(0, 2048);
	down();
}

/* Immediate data: the bytes of a write may ride in the frame; a read has nowhere to put them. */
static void test_immediate_data(void)
{
	struct iop_sgl_writer sw;
	unsigned char want[512], got[512];
	uint32_t *f;

	up("ram,size=1M");
	memset(want, 0x3C, sizeof(want));
	f = iop_qp_frame_alloc(fx.qp, 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	/* A one-buffer write, its SGL replaced by the data itself. */
	iop_build_bsa(f, 1024, BSA_TID, IOP_BSA_BLOCK_WRITE);
	iop_sgl_writer_init(&sw, f + 8, 1024 / 4 - 8);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&sw, want, sizeof(want), IOP_SGL_END_OF_BUFFER), 0);
	f[0] = htole32((uint32_t)(8 + iop_sgl_finish(&sw)) << 16 | 8u << 4 | 0x01);
	f[4] = 0;
	f[5] = htole32(sizeof(want));
	f[6] = htole32(4096);
	f[7] = 0;
	expect_ok(call(fx.qp, f), sizeof(want));
	expect_ok(rw(IOP_BSA_BLOCK_READ, 4096, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	f = iop_qp_frame_alloc(fx.qp, 1024);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	iop_build_bsa(f, 1024, BSA_TID, IOP_BSA_BLOCK_READ);
	iop_sgl_writer_init(&sw, f + 8, 1024 / 4 - 8);
	iop_sgl_add_immediate(&sw, want, sizeof(want), IOP_SGL_END_OF_BUFFER);
	f[0] = htole32((uint32_t)(8 + iop_sgl_finish(&sw)) << 16 | 8u << 4 | 0x01);
	f[4] = 0;
	f[5] = htole32(sizeof(want));
	f[6] = f[7] = 0;
	expect_refused(call(fx.qp, f), IOP_DSC_INVALID_PARAMETER);
	down();
}

/* /dev/full: every write fails with ENOSPC. */
static void test_device_refuses_writes(void)
{
	unsigned char buf[1024];
	char params[128];

	file_params(params, sizeof(params), "file=%s,size=1M", "/dev/full");
	up(params);
	memset(buf, 1, sizeof(buf));
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, 0, buf, sizeof(buf)), IOP_BSA_DSC_DEVICE_FAILURE);
	expect_refused(rw_split(fx.qp, IOP_BSA_WRITE_VERIFY, 512, buf, sizeof(buf), 2),
		       IOP_BSA_DSC_DEVICE_FAILURE);
	/* Nothing to flush on a device that cannot be synced. */
	expect_ok(plain(IOP_BSA_CACHE_FLUSH), NO_COUNT);
	/* Reads work: /dev/full reads as zeros. */
	expect_ok(rw(IOP_BSA_BLOCK_READ, 0, buf, sizeof(buf)), sizeof(buf));
	CU_ASSERT_EQUAL(buf[0], 0);
	CU_ASSERT_EQUAL(buf[1023], 0);
	down();
}

/*
 * /dev/zero takes every write and reads back zeros: WriteVerify finds other
 * data. Nothing verified, but the write went out: ERROR_DIRTY, not "no data
 * transfer", which would tell the host the media is as it was.
 */
static void test_write_verify_finds_other_data(void)
{
	unsigned char buf[2048];
	char params[128];

	file_params(params, sizeof(params), "file=%s,size=1M", "/dev/zero");
	up(params);
	memset(buf, 0x77, sizeof(buf));
	expect_ok(rw(IOP_BSA_BLOCK_WRITE, 0, buf, sizeof(buf)), sizeof(buf));
	expect(rw(IOP_BSA_WRITE_VERIFY, 0, buf, sizeof(buf)), IOP_REPLY_STATUS_ERROR_DIRTY,
	       IOP_BSA_DSC_MEDIA_FAILURE, 0);
	down();
}

/* A file cut short behind the DDM: reads and verifies stop at its end, and say so. */
static void test_file_shrunk_under_the_ddm(void)
{
	unsigned char want[8192], got[8192];
	char params[128];

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=1M", file_path);
	up(params);
	pattern(want, 0, 512, 16, 11);
	expect_ok(rw(IOP_BSA_BLOCK_WRITE, 0, want, sizeof(want)), sizeof(want));
	CU_ASSERT_EQUAL_FATAL(truncate(file_path, 4096), 0);
	memset(got, 0, sizeof(got));
	expect(rw_split(fx.qp, IOP_BSA_BLOCK_READ, 0, got, sizeof(got), 3),
	       IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER, IOP_BSA_DSC_MEDIA_ERROR, 4096);
	CU_ASSERT_EQUAL(memcmp(want, got, 4096), 0);
	expect_refused(rw(IOP_BSA_BLOCK_READ, 8192, got, 512), IOP_BSA_DSC_MEDIA_ERROR);
	expect(media_verify(0, 1 << 20), IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER,
	       IOP_BSA_DSC_MEDIA_ERROR, 4096);
	down();
	unlink(file_path);
}

/*
 * RLIMIT_FSIZE at 64 KiB: a write from 56 KiB to 72 KiB is cut at the limit
 * (a short write), and the rest refused (EFBIG): reported as the 8 KiB that
 * went, not as success. SIGXFSZ, which comes with EFBIG, is ignored meanwhile.
 */
static void test_write_cut_short(void)
{
	unsigned char want[16384], got[8192];
	struct rlimit old, lim;
	struct sigaction ign = { .sa_handler = SIG_IGN }, prev;
	char params[128];

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=1M", file_path);
	up(params);
	pattern(want, 112, 512, 32, 5);
	CU_ASSERT_EQUAL_FATAL(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 64 << 10;
	CU_ASSERT_EQUAL_FATAL(sigaction(SIGXFSZ, &ign, &prev), 0);
	CU_ASSERT_EQUAL_FATAL(setrlimit(RLIMIT_FSIZE, &lim), 0);
	expect(rw_split(fx.qp, IOP_BSA_BLOCK_WRITE, 56 << 10, want, sizeof(want), 3),
	       IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER, IOP_BSA_DSC_DEVICE_FAILURE, 8192);
	expect_refused(rw(IOP_BSA_BLOCK_WRITE, 64 << 10, want, 512), IOP_BSA_DSC_DEVICE_FAILURE);
	/* A WriteVerify cut the same way counts nothing, but wrote some: dirty. */
	expect(rw_split(fx.qp, IOP_BSA_WRITE_VERIFY, 56 << 10, want, sizeof(want), 2),
	       IOP_REPLY_STATUS_ERROR_DIRTY, IOP_BSA_DSC_DEVICE_FAILURE, 0);
	CU_ASSERT_EQUAL(setrlimit(RLIMIT_FSIZE, &old), 0);
	sigaction(SIGXFSZ, &prev, NULL);
	/* What the reply counted is what is on the file. */
	expect_ok(rw(IOP_BSA_BLOCK_READ, 56 << 10, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	down();
	unlink(file_path);
}

/*
 * Short transfers on demand. A regular file's preadv/pwritev moves every
 * byte it is asked for, but Linux may stop one short anywhere (one call
 * moves at most 0x7ffff000 bytes; block devices, FUSE and NFS return
 * short), and the file backend must then go on from the byte it stopped
 * at, in the middle of a buffer. The program is linked with
 * --wrap=preadv64,--wrap=pwritev64 (the names the backend's calls take
 * under _FILE_OFFSET_BITS=64), so those calls come here: with cut_next
 * armed, the next one is given only its first cut_next bytes, which the
 * kernel then moves; every other call goes through as it is.
 */
#define CUT_MAX_IOV 8
static _Atomic long cut_next = -1;

ssize_t __real_preadv64(int fd, const struct iovec *iov, int n, off64_t off);
ssize_t __real_pwritev64(int fd, const struct iovec *iov, int n, off64_t off);
ssize_t __wrap_preadv64(int fd, const struct iovec *iov, int n, off64_t off);
ssize_t __wrap_pwritev64(int fd, const struct iovec *iov, int n, off64_t off);

/* What a call passes on: iov, or, for the call armed, its first cut_next bytes (in cut). */
static const struct iovec *cut_iov(const struct iovec *iov, int *n, struct iovec cut[CUT_MAX_IOV])
{
	long bytes = atomic_exchange(&cut_next, -1); /* armed for one call only */
	int k;

	if (bytes < 0)
		return iov;
	for (k = 0; k < *n && k < CUT_MAX_IOV && bytes > 0; k++) {
		cut[k] = iov[k];
		if (cut[k].iov_len > (size_t)bytes)
			cut[k].iov_len = (size_t)bytes;
		bytes -= (long)cut[k].iov_len;
	}
	*n = k;
	return cut;
}

ssize_t __wrap_preadv64(int fd, const struct iovec *iov, int n, off64_t off)
{
	struct iovec cut[CUT_MAX_IOV];

	iov = cut_iov(iov, &n, cut);
	return __real_preadv64(fd, iov, n, off);
}

ssize_t __wrap_pwritev64(int fd, const struct iovec *iov, int n, off64_t off)
{
	struct iovec cut[CUT_MAX_IOV];

	iov = cut_iov(iov, &n, cut);
	return __real_pwritev64(fd, iov, n, off);
}

/*
 * One preadv, and one pwritev, that stops in the middle of a buffer: the
 * backend goes on from there. The read gives the SGL's buffers exactly the
 * file's bytes, the write gives the file exactly the buffers' bytes (and
 * not one past them), and each is counted whole.
 */
static void test_short_transfer_continued(void)
{
	enum { ADDR = 8 * 512, LEN = 48 * 512 };
	unsigned char before[LEN + 512], want[LEN], got[LEN + 512];
	char params[128];

	make_file_path();
	/* io=sync in every run: the ring's reads and writes are not preadv/pwritev calls. */
	snprintf(params, sizeof(params), "file=%s,size=1M,io=sync", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), IOP_BSA_BACKEND_FILE);
	/* One buffer: pread/pwrite, which are not cut. */
	pattern(before, ADDR / 512, 512, sizeof(before) / 512, 21);
	expect_ok(rw(IOP_BSA_BLOCK_WRITE, ADDR, before, sizeof(before)), sizeof(before));
	/* Buffers of 8192, 8193 and 8191 bytes; the read stops 300 bytes into the first. */
	memset(got, 0, sizeof(got));
	atomic_store(&cut_next, 300);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, ADDR, got, LEN, 3), LEN);
	CU_ASSERT_EQUAL(atomic_load(&cut_next), -1); /* the cut was made */
	CU_ASSERT_EQUAL(memcmp(before, got, LEN), 0);
	/* The write stops 1000 bytes into the second buffer. */
	pattern(want, ADDR / 512, 512, LEN / 512, 22);
	atomic_store(&cut_next, 8192 + 1000);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_WRITE, ADDR, want, LEN, 3), LEN);
	CU_ASSERT_EQUAL(atomic_load(&cut_next), -1);
	expect_ok(rw(IOP_BSA_BLOCK_READ, ADDR, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, LEN), 0);
	CU_ASSERT_EQUAL(memcmp(before + LEN, got + LEN, 512), 0);
	down();
	unlink(file_path);
}

/*
 * Two queue pairs post 60 writes each before taking a reply: 120 replies do
 * not fit a 4 KiB outbound heap (64 blocks), so the DDM finds no reply frame,
 * hands requests back (IOP_DDM_RETRY) with nothing done, and does them once
 * the host frees replies. Every write succeeds once, and reads back right.
 */
#define BURST 60u

static uint64_t now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000 + (uint64_t)t.tv_nsec / 1000000;
}

struct burst_check {
	unsigned ok, bad;
};

static void burst_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	struct burst_check *bc = c->arg;
	uint32_t count = 0;

	(void)qp;
	if (c->result == 0 && iop_read_bsa_transfer_count(c->reply, c->reply_words, &count) == 0 &&
	    count == 512)
		bc->ok++;
	else
		bc->bad++;
}

static void test_writes_wait_for_reply_frames(void)
{
	struct iop_qp *qps[2];
	void *bufs[2][BURST];
	unsigned char want[512], got[512];
	struct burst_check bc = { 0, 0 };
	struct iop_ddm_stats st;
	uint64_t t0;

	up_with("ram,size=1M", 4096);
	qps[0] = fx.qp;
	qps[1] = iop_qp_create(fx.h, NULL);
	CU_ASSERT_PTR_NOT_NULL_FATAL(qps[1]);
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < BURST; i++) {
			struct iop_buf b = { iop_qp_frame_alloc(qps[q], 512), 512 };
			uint32_t *f = frame(qps[q]);
			uint64_t block = q * 100 + i;

			CU_ASSERT_PTR_NOT_NULL_FATAL(b.addr);
			bufs[q][i] = b.addr;
			pattern(b.addr, block, 512, 1, 9);
			iop_build_bsa_rw(f, FRAME_BYTES, BSA_TID, IOP_BSA_BLOCK_WRITE, block * 512,
					 iop_host_window(fx.h), &b, 1);
			CU_ASSERT_EQUAL_FATAL(iop_qp_post(qps[q], f, burst_reply, &bc), 0);
		}
	/* Nothing is taken back until the DDM has had to hand requests back. */
	t0 = now_ms();
	do {
		CU_ASSERT_EQUAL_FATAL(iop_runtime_ddm_stats(fx.rt, BSA_TID, &st), 0);
	} while (st.retries == 0 && now_ms() - t0 < TIMEOUT_MS);
	CU_ASSERT(st.retries > 0);
	while (bc.ok + bc.bad < 2 * BURST && now_ms() - t0 < TIMEOUT_MS)
		for (unsigned q = 0; q < 2; q++)
			iop_qp_poll(qps[q], 8);
	CU_ASSERT_EQUAL(bc.ok, 2 * BURST);
	CU_ASSERT_EQUAL(bc.bad, 0);
	for (unsigned q = 0; q < 2; q++)
		for (unsigned i = 0; i < BURST; i++) {
			iop_qp_frame_free(qps[q], bufs[q][i]);
			pattern(want, q * 100 + i, 512, 1, 9);
			expect_ok(rw(IOP_BSA_BLOCK_READ, (q * 100 + i) * 512, got, 512), 512);
			CU_ASSERT_EQUAL(memcmp(want, got, 512), 0);
		}
	CU_ASSERT_EQUAL(iop_qp_destroy(qps[1], TIMEOUT_MS), 0);
	down();
}

/*
 * Many requests posted before any reply is taken, each with its own buffer:
 * qd at a time, as a block host keeps its queue full. done counts replies in
 * the order they came; a request's slot says where it was in that order.
 */
#define QD 32u

struct qd_run {
	unsigned done, bad;
	unsigned order[QD + 1]; /* where each slot's reply came */
	unsigned times[QD + 1]; /* replies each slot got */
};

struct qd_req {
	struct qd_run *run;
	unsigned slot;
	uint32_t want; /* TransferCount; UINT32_MAX: a status-only reply */
};

static void qd_reply(struct iop_qp *qp, const struct iop_completion *c)
{
	struct qd_req *q = c->arg;
	uint32_t count = UINT32_MAX;

	(void)qp;
	if (q->want != UINT32_MAX)
		iop_read_bsa_transfer_count(c->reply, c->reply_words, &count);
	if (c->result != 0 || c->req_status != IOP_REPLY_STATUS_SUCCESS || count != q->want)
		q->run->bad++;
	q->run->order[q->slot] = q->run->done++;
	q->run->times[q->slot]++;
}

static void qd_wait(struct qd_run *run, unsigned n)
{
	uint64_t t0 = now_ms();

	while (run->done < n && now_ms() - t0 < TIMEOUT_MS)
		iop_qp_poll(fx.qp, QD + 1);
	CU_ASSERT_EQUAL_FATAL(run->done, n);
}

/* Post fn of `blocks` blocks at block `at` from/into buf; its reply goes to run as `slot`. */
static void qd_post(struct qd_run *run, struct qd_req *q, unsigned slot, uint8_t fn,
		    uint64_t at, uint32_t blocks, void *buf)
{
	uint32_t *f = frame(fx.qp);
	struct iop_buf b = { buf, blocks * 4096 };

	*q = (struct qd_req){ run, slot, blocks * 4096 };
	CU_ASSERT_FATAL(iop_build_bsa_rw(f, FRAME_BYTES, BSA_TID, fn, at * 4096,
					 iop_host_window(fx.h), &b, 1) > 0);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(fx.qp, f, qd_reply, q), 0);
}

/*
 * As qd_post, through `pieces` buffers: buf cut into pieces of any length
 * (not at block boundaries), so a request can have more buffers than the DDM
 * hands the backend at once (256) and go in several batches.
 */
static void qd_post_pieces(struct qd_run *run, struct qd_req *q, unsigned slot, uint8_t fn,
			   uint64_t at, uint32_t blocks, void *buf, unsigned pieces)
{
	size_t frame_bytes = (8 + 2 * (size_t)pieces) * 4;
	uint32_t *f = iop_qp_frame_alloc(fx.qp, frame_bytes);
	struct iop_buf *b = calloc(pieces, sizeof(*b));
	uint32_t len = blocks * 4096, off = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_FATAL(pieces <= len);
	for (unsigned i = 0; i < pieces; i++) {
		b[i].addr = (char *)buf + off;
		b[i].len = i + 1 < pieces ? len / pieces : len - off;
		off += b[i].len;
	}
	*q = (struct qd_req){ run, slot, len };
	CU_ASSERT_FATAL(iop_build_bsa_rw(f, frame_bytes, BSA_TID, fn, at * 4096,
					 iop_host_window(fx.h), b, pieces) > 0);
	free(b);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(fx.qp, f, qd_reply, q), 0);
}

/* A CacheFlush (or any status-only request built by build) posted as slot `slot` of run. */
static void qd_post_plain(struct qd_run *run, struct qd_req *q, unsigned slot, uint8_t fn,
			  bool exec)
{
	uint32_t *f = frame(fx.qp);
	int words = exec ? iop_build_exec(f, FRAME_BYTES, fn)
			 : iop_build_bsa(f, FRAME_BYTES, BSA_TID, fn);

	CU_ASSERT_FATAL(words > 0);
	*q = (struct qd_req){ run, slot, UINT32_MAX };
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(fx.qp, f, qd_reply, q), 0);
}

/* A MediaVerify of `blocks` blocks at block `at`, posted as slot `slot` of run. */
static void qd_post_media_verify(struct qd_run *run, struct qd_req *q, unsigned slot,
				 uint64_t at, uint32_t blocks)
{
	uint32_t *f = frame(fx.qp);

	*q = (struct qd_req){ run, slot, blocks * 4096 };
	CU_ASSERT_EQUAL_FATAL(iop_build_bsa_media_verify(f, FRAME_BYTES, BSA_TID, at * 4096,
							 blocks * 4096), 8);
	CU_ASSERT_EQUAL_FATAL(iop_qp_post(fx.qp, f, qd_reply, q), 0);
}

/*
 * Every block of a 16 MiB file written at queue depth 32 (1 to 8 blocks a
 * request, in a shuffled order), then read back at queue depth 32 and
 * checked against what each block was written with.
 */
static void test_file_qd32_read_after_write(void)
{
	enum { BLOCKS = 4096, MAXB = 8 };
	static uint32_t start[BLOCKS], len[BLOCKS];
	uint32_t *bufs[QD];
	unsigned char want[MAXB * 4096];
	struct qd_req reqs[QD];
	char params[128];
	unsigned n = 0, bad = 0;

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=16M,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	iop_test_rng_seed(iop_test_seed());
	for (uint32_t at = 0; at < BLOCKS; at += len[n++]) {
		start[n] = at;
		len[n] = 1 + iop_test_rng() % MAXB;
		if (len[n] > BLOCKS - at)
			len[n] = BLOCKS - at;
	}
	for (unsigned i = n; i > 1; i--) { /* shuffled: the writes land anywhere */
		unsigned j = iop_test_rng() % i;
		uint32_t s0 = start[i - 1], l0 = len[i - 1];

		start[i - 1] = start[j], len[i - 1] = len[j];
		start[j] = s0, len[j] = l0;
	}
	for (unsigned k = 0; k < QD; k++) {
		bufs[k] = iop_qp_frame_alloc(fx.qp, MAXB * 4096);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[k]);
	}
	for (int write = 1; write >= 0; write--) {
		for (unsigned i = 0; i < n; i += QD) {
			unsigned m = n - i < QD ? n - i : QD;
			struct qd_run run = { 0 };

			for (unsigned k = 0; k < m; k++) {
				if (write)
					pattern(bufs[k], start[i + k], 4096, len[i + k], 21);
				qd_post(&run, &reqs[k], k,
					write ? IOP_BSA_BLOCK_WRITE : IOP_BSA_BLOCK_READ,
					start[i + k], len[i + k], bufs[k]);
			}
			qd_wait(&run, m);
			CU_ASSERT_EQUAL(run.bad, 0);
			for (unsigned k = 0; k < m && !write; k++) {
				pattern(want, start[i + k], 4096, len[i + k], 21);
				bad += memcmp(want, bufs[k], len[i + k] * 4096) != 0;
			}
		}
	}
	CU_ASSERT_EQUAL(bad, 0);
	for (unsigned k = 0; k < QD; k++)
		iop_qp_frame_free(fx.qp, bufs[k]);
	down();
	unlink(file_path);
}

/*
 * 32 writes and a CacheFlush posted together, no reply taken in between:
 * the flush is answered after every write before it (the flush waits for
 * them), then the data reads back. Each write has 300 buffers, so it goes
 * to the backend in two batches: a flush that waited only for the I/O
 * already queued when it came (the first batches) would be answered before
 * the writes, even when every write completes at once in the page cache.
 */
static void test_flush_after_writes(void)
{
	uint32_t *bufs[QD];
	unsigned char got[4 * 4096], want[4 * 4096];
	struct qd_req reqs[QD + 1];
	struct qd_run run = { 0 };
	char params[128];

	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=4M,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	for (unsigned k = 0; k < QD; k++) {
		bufs[k] = iop_qp_frame_alloc(fx.qp, 4 * 4096);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[k]);
		pattern(bufs[k], 8 * k, 4096, 4, 33);
		qd_post_pieces(&run, &reqs[k], k, IOP_BSA_BLOCK_WRITE, 8 * k, 4, bufs[k], 300);
	}
	qd_post_plain(&run, &reqs[QD], QD, IOP_BSA_CACHE_FLUSH, false);
	qd_wait(&run, QD + 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(run.order[QD], QD);
	for (unsigned k = 0; k < QD; k++) {
		iop_qp_frame_free(fx.qp, bufs[k]);
		pattern(want, 8 * k, 4096, 4, 33);
		expect_ok(rw(IOP_BSA_BLOCK_READ, 8 * k * 4096, got, sizeof(got)), sizeof(got));
		CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	}
	down();
	unlink(file_path);
}

/*
 * One write of 600 buffers (three batches of at most 256) and a CacheFlush
 * posted together, then a read and a second flush after it: each flush is
 * answered after the write accepted before it, and the data reads back.
 */
static void test_flush_after_a_long_write(void)
{
	enum { BLOCKS = 75 }; /* 300 KiB: 600 buffers of 512 bytes */
	uint32_t *buf;
	unsigned char *want = malloc(BLOCKS * 4096);
	struct qd_req reqs[4];
	struct qd_run run = { 0 };
	char params[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=4M,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	buf = iop_qp_frame_alloc(fx.qp, BLOCKS * 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	pattern(buf, 16, 4096, BLOCKS, 66);
	memcpy(want, buf, BLOCKS * 4096);
	qd_post_pieces(&run, &reqs[0], 0, IOP_BSA_BLOCK_WRITE, 16, BLOCKS, buf, 600);
	qd_post_plain(&run, &reqs[1], 1, IOP_BSA_CACHE_FLUSH, false);
	qd_wait(&run, 2);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(run.order[0], 0);
	CU_ASSERT_EQUAL(run.order[1], 1);
	memset(buf, 0, BLOCKS * 4096);
	qd_post_pieces(&run, &reqs[2], 2, IOP_BSA_BLOCK_READ, 16, BLOCKS, buf, 600);
	qd_post_plain(&run, &reqs[3], 3, IOP_BSA_CACHE_FLUSH, false);
	qd_wait(&run, 4);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(run.order[2], 2);
	CU_ASSERT_EQUAL(run.order[3], 3);
	CU_ASSERT_EQUAL(memcmp(want, buf, BLOCKS * 4096), 0);
	iop_qp_frame_free(fx.qp, buf);
	free(want);
	down();
	unlink(file_path);
}

/*
 * Reads at queue depth 32 and then ExecSysQuiesce, posted together: every
 * read is answered once, with its data, and the quiesce after all of them
 * (the DDM's quiesce waits for what it has in flight); ExecSysEnable then
 * makes the DDM take requests again.
 */
static void test_quiesce_with_reads_in_flight(void)
{
	enum { BLOCKS = 8 };
	uint32_t *bufs[QD];
	unsigned char want[BLOCKS * 4096];
	struct qd_req reqs[QD + 1];
	struct qd_run run = { 0 };

	up_file_2m();
	for (unsigned k = 0; k < QD; k++) {
		bufs[k] = iop_qp_frame_alloc(fx.qp, BLOCKS * 4096);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[k]);
		pattern(want, BLOCKS * k, 4096, BLOCKS, 77);
		expect_ok(rw(IOP_BSA_BLOCK_WRITE, BLOCKS * k * 4096, want, sizeof(want)),
			  sizeof(want));
	}
	for (unsigned k = 0; k < QD; k++) {
		memset(bufs[k], 0, BLOCKS * 4096);
		qd_post_pieces(&run, &reqs[k], k, IOP_BSA_BLOCK_READ, BLOCKS * k, BLOCKS, bufs[k],
			       1 + k % 4);
	}
	qd_post_plain(&run, &reqs[QD], QD, IOP_EXEC_SYS_QUIESCE, true);
	qd_wait(&run, QD + 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	for (unsigned k = 0; k <= QD; k++)
		CU_ASSERT_EQUAL(run.times[k], 1);
	CU_ASSERT_EQUAL(run.order[QD], QD);
	for (unsigned k = 0; k < QD; k++) {
		pattern(want, BLOCKS * k, 4096, BLOCKS, 77);
		CU_ASSERT_EQUAL(memcmp(want, bufs[k], sizeof(want)), 0);
		iop_qp_frame_free(fx.qp, bufs[k]);
	}
	/* Quiesced: refused until enabled again. */
	expect(rw(IOP_BSA_BLOCK_READ, 0, want, 4096), IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER,
	       IOP_DSC_DEVICE_NOT_AVAILABLE, NO_COUNT);
	run = (struct qd_run){ 0 };
	qd_post_plain(&run, &reqs[0], 0, IOP_EXEC_SYS_ENABLE, true);
	qd_wait(&run, 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	expect_ok(rw(IOP_BSA_BLOCK_READ, 0, want, 4096), 4096);
	down();
	unlink(file_path);
}

/*
 * WriteVerify and MediaVerify take the file backend's path: on io=uring
 * every one of their I/Os goes through the ring (the DDM's counters: ring
 * I/Os up, no system call waited for on the loop), on io=sync none does.
 * A WriteVerify of 600 buffers (three batches, each written, flushed, read
 * back in pieces and compared) and MediaVerifys of 1 MiB read back right.
 */
static void test_verifies_take_the_backends_path(void)
{
	enum { BLOCKS = 75 }; /* 300 KiB: 600 buffers of 512 bytes */
	unsigned char *want = malloc(BLOCKS * 4096), *got = malloc(BLOCKS * 4096);
	uint64_t a[IOP_BSA_STAT_FIELDS], b[IOP_BSA_STAT_FIELDS];
	bool uring = file_backend() == IOP_BSA_BACKEND_URING;
	struct qd_req reqs[2];
	struct qd_run run = { 0 };
	uint32_t *buf;
	char params[128];

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	make_file_path();
	file_params(params, sizeof(params), "file=%s,size=4M,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	pattern(want, 8, 4096, 4, 91);
	bsa_stats(a);
	expect_ok(rw_split(fx.qp, IOP_BSA_WRITE_VERIFY, 8 * 4096, want, 4 * 4096, 3), 4 * 4096);
	expect_ok(media_verify(0, 1 << 20), 1 << 20);
	bsa_stats(b);
	if (uring) {
		/* write, fsync, read back; MediaVerify: 16 reads of 64 KiB */
		CU_ASSERT(b[IOP_BSA_STAT_RING_IOS] - a[IOP_BSA_STAT_RING_IOS] >= 3 + 16);
		CU_ASSERT_EQUAL(b[IOP_BSA_STAT_LOOP_CALLS], a[IOP_BSA_STAT_LOOP_CALLS]);
	} else {
		CU_ASSERT_EQUAL(b[IOP_BSA_STAT_RING_IOS], 0);
		/* pwritev, fdatasync, pread; MediaVerify: 4 reads of 256 KiB */
		CU_ASSERT(b[IOP_BSA_STAT_LOOP_CALLS] - a[IOP_BSA_STAT_LOOP_CALLS] >= 3 + 4);
	}
	expect_ok(rw(IOP_BSA_BLOCK_READ, 8 * 4096, got, 4 * 4096), 4 * 4096);
	CU_ASSERT_EQUAL(memcmp(want, got, 4 * 4096), 0);
	/* A long WriteVerify and a MediaVerify of its range, posted together. */
	buf = iop_qp_frame_alloc(fx.qp, BLOCKS * 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	pattern(buf, 100, 4096, BLOCKS, 92);
	memcpy(want, buf, BLOCKS * 4096);
	qd_post_pieces(&run, &reqs[0], 0, IOP_BSA_WRITE_VERIFY, 100, BLOCKS, buf, 600);
	qd_post_media_verify(&run, &reqs[1], 1, 100, BLOCKS);
	qd_wait(&run, 2);
	CU_ASSERT_EQUAL(run.bad, 0);
	iop_qp_frame_free(fx.qp, buf);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, 100 * 4096, got, BLOCKS * 4096, 2),
		  BLOCKS * 4096);
	CU_ASSERT_EQUAL(memcmp(want, got, BLOCKS * 4096), 0);
	bsa_stats(a);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_DIRECT], 0);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_BOUNCED], 0);
	if (uring)
		CU_ASSERT_EQUAL(a[IOP_BSA_STAT_LOOP_CALLS], b[IOP_BSA_STAT_LOOP_CALLS]);
	free(want);
	free(got);
	down();
	unlink(file_path);
}

/*
 * WriteVerifys, MediaVerifys and plain writes at queue depth 32 with a
 * CacheFlush behind them, posted together: every one answered once and
 * right, the flush after all of them, and what was written reads back.
 */
static void test_verifies_at_qd32(void)
{
	enum { BLOCKS = 4 };
	uint32_t *bufs[QD];
	unsigned char want[BLOCKS * 4096], got[BLOCKS * 4096];
	struct qd_req reqs[QD + 1];
	struct qd_run run = { 0 };

	up_file_2m();
	for (unsigned k = 0; k < QD; k++) {
		bufs[k] = iop_qp_frame_alloc(fx.qp, BLOCKS * 4096);
		CU_ASSERT_PTR_NOT_NULL_FATAL(bufs[k]);
		pattern(bufs[k], BLOCKS * k, 4096, BLOCKS, 93);
		if (k % 4 == 3)
			qd_post_media_verify(&run, &reqs[k], k, BLOCKS * k, BLOCKS);
		else
			qd_post_pieces(&run, &reqs[k], k,
				       k % 4 == 0 ? IOP_BSA_BLOCK_WRITE : IOP_BSA_WRITE_VERIFY,
				       BLOCKS * k, BLOCKS, bufs[k], 1 + k % 3);
	}
	qd_post_plain(&run, &reqs[QD], QD, IOP_BSA_CACHE_FLUSH, false);
	qd_wait(&run, QD + 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	for (unsigned k = 0; k <= QD; k++)
		CU_ASSERT_EQUAL(run.times[k], 1);
	CU_ASSERT_EQUAL(run.order[QD], QD);
	for (unsigned k = 0; k < QD; k++) {
		iop_qp_frame_free(fx.qp, bufs[k]);
		if (k % 4 == 3)
			continue;
		pattern(want, BLOCKS * k, 4096, BLOCKS, 93);
		expect_ok(rw(IOP_BSA_BLOCK_READ, BLOCKS * k * 4096, got, sizeof(got)), sizeof(got));
		CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	}
	down();
	unlink(file_path);
}

/* Does the file system of file_path (under /tmp) take O_DIRECT? Said, when not. */
static bool direct_here(void)
{
	int fd = open(file_path, O_RDWR | O_CREAT | O_DIRECT, 0644);

	if (fd < 0) {
		fprintf(stderr, "\n  skipped: %s: O_DIRECT refused here (%s): the direct=1 tests "
			"need a file system with direct I/O (ext4, xfs) under /tmp\n", file_path,
			strerror(errno));
		unlink(file_path);
		return false;
	}
	close(fd);
	unlink(file_path);
	return true;
}

/* The file's bytes at off, read past the DDM (and past O_DIRECT): what reached the file. */
static void expect_on_file(uint64_t off, const void *want, size_t len)
{
	unsigned char *got = malloc(len);
	int fd = open(file_path, O_RDONLY);

	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_EQUAL(pread(fd, got, len, (off_t)off), (ssize_t)len);
	CU_ASSERT_EQUAL(memcmp(got, want, len), 0);
	close(fd);
	free(got);
}

/*
 * A transfer of 33 blocks through 259 buffers: 256 of 512 bytes, aligned
 * (the first batch, which goes to the file as it is), then 4 KiB cut into
 * three buffers of odd lengths (the second batch, which O_DIRECT would
 * refuse: bounced, at an aligned offset).
 */
static struct result direct_mixed(uint8_t fn, uint64_t at, unsigned char *data)
{
	enum { N = 259 };
	size_t frame_bytes = (8 + 2 * (size_t)N) * 4;
	uint32_t *f = iop_qp_frame_alloc(fx.qp, frame_bytes);
	unsigned char *a = (unsigned char *)iop_qp_frame_alloc(fx.qp, 128 << 10);
	unsigned char *b = (unsigned char *)iop_qp_frame_alloc(fx.qp, 8192);
	static const uint32_t odd[3] = { 1000, 1000, 2096 };
	struct iop_buf bufs[N];
	struct result res;

	CU_ASSERT_FATAL(f != NULL && a != NULL && b != NULL);
	CU_ASSERT_EQUAL_FATAL((uintptr_t)a % 4096, 0);
	for (unsigned i = 0; i < 256; i++)
		bufs[i] = (struct iop_buf){ a + 512 * i, 512 };
	bufs[256] = (struct iop_buf){ b + 1, odd[0] };
	bufs[257] = (struct iop_buf){ b + 2048, odd[1] };
	bufs[258] = (struct iop_buf){ b + 4000, odd[2] };
	if (fn != IOP_BSA_BLOCK_READ) {
		memcpy(a, data, 128 << 10);
		memcpy(b + 1, data + (128 << 10), 1000);
		memcpy(b + 2048, data + (128 << 10) + 1000, 1000);
		memcpy(b + 4000, data + (128 << 10) + 2000, 2096);
	}
	CU_ASSERT_FATAL(iop_build_bsa_rw(f, frame_bytes, BSA_TID, fn, at, iop_host_window(fx.h),
					 bufs, N) > 0);
	res = call(fx.qp, f);
	if (fn == IOP_BSA_BLOCK_READ) {
		memcpy(data, a, 128 << 10);
		memcpy(data + (128 << 10), b + 1, 1000);
		memcpy(data + (128 << 10) + 1000, b + 2048, 1000);
		memcpy(data + (128 << 10) + 2000, b + 4000, 2096);
	}
	iop_qp_frame_free(fx.qp, (uint32_t *)a);
	iop_qp_frame_free(fx.qp, (uint32_t *)b);
	return res;
}

/*
 * direct=1 on a file in /tmp (skipped where its file system has no direct
 * I/O): buffers allocated whole from the heap go to the file as they are;
 * buffers cut at odd places (addresses and lengths off O_DIRECT's
 * alignment), immediate data, and a list that turns odd after a batch of
 * aligned ones go through the bounce buffer, counted; reads, writes,
 * WriteVerify and MediaVerify all read back right, and what was written is
 * on the file.
 */
static void test_direct_io(void)
{
	enum { BLOCKS = 75, MIXED = 33 * 4096 };
	unsigned char *want = malloc(BLOCKS * 4096), *got = malloc(BLOCKS * 4096);
	uint64_t a[IOP_BSA_STAT_FIELDS], b[IOP_BSA_STAT_FIELDS], loop_calls;
	struct qd_req reqs[2];
	struct qd_run run = { 0 };
	struct iop_sgl_writer sw;
	uint32_t *buf, *f;
	char params[160];

	CU_ASSERT_PTR_NOT_NULL_FATAL(want);
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	make_file_path();
	if (!direct_here()) {
		free(want);
		free(got);
		return;
	}
	file_params(params, sizeof(params), "file=%s,size=4M,bs=4096,direct=1", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	bsa_stats(a);
	loop_calls = a[IOP_BSA_STAT_LOOP_CALLS];
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_DIRECT], 1);
	/* Aligned: a heap block of 16 KiB, written, verified and read back as it is. */
	buf = iop_qp_frame_alloc(fx.qp, 4 * 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	pattern(buf, 0, 4096, 4, 101);
	memcpy(want, buf, 4 * 4096);
	qd_post(&run, &reqs[0], 0, IOP_BSA_BLOCK_WRITE, 0, 4, buf);
	qd_wait(&run, 1);
	qd_post(&run, &reqs[1], 1, IOP_BSA_WRITE_VERIFY, 4, 4, buf);
	qd_wait(&run, 2);
	memset(buf, 0, 4 * 4096);
	CU_ASSERT_EQUAL(run.bad, 0); /* the write and the WriteVerify both answered SUCCESS */
	run = (struct qd_run){ 0 };
	qd_post(&run, &reqs[0], 0, IOP_BSA_BLOCK_READ, 4, 4, buf);
	qd_wait(&run, 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(memcmp(want, buf, 4 * 4096), 0);
	iop_qp_frame_free(fx.qp, buf);
	expect_ok(media_verify(0, 1 << 20), 1 << 20);
	bsa_stats(b);
	CU_ASSERT_EQUAL(b[IOP_BSA_STAT_BOUNCED], 0);
	expect_on_file(0, want, 4 * 4096);
	/* Cut at odd places: bounced, and right. */
	pattern(want, 16, 4096, 4, 102);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_WRITE, 16 * 4096, want, 4 * 4096, 3), 4 * 4096);
	expect_ok(rw_split(fx.qp, IOP_BSA_WRITE_VERIFY, 20 * 4096, want, 4 * 4096, 4), 4 * 4096);
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, 20 * 4096, got, 4 * 4096, 3), 4 * 4096);
	CU_ASSERT_EQUAL(memcmp(want, got, 4 * 4096), 0);
	expect_on_file(16 * 4096, want, 4 * 4096);
	bsa_stats(a);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_BOUNCED] - b[IOP_BSA_STAT_BOUNCED], 3);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_BOUNCE_BYTES] - b[IOP_BSA_STAT_BOUNCE_BYTES], 3 * 4 * 4096);
	/* 700 buffers of 438 bytes and a tail: several batches, every one bounced. */
	buf = iop_qp_frame_alloc(fx.qp, BLOCKS * 4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	pattern(buf, 100, 4096, BLOCKS, 103);
	memcpy(want, buf, BLOCKS * 4096);
	run = (struct qd_run){ 0 };
	qd_post_pieces(&run, &reqs[0], 0, IOP_BSA_WRITE_VERIFY, 100, BLOCKS, buf, 700);
	qd_wait(&run, 1);
	memset(buf, 0, BLOCKS * 4096);
	qd_post_pieces(&run, &reqs[1], 1, IOP_BSA_BLOCK_READ, 100, BLOCKS, buf, 700);
	qd_wait(&run, 2);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(memcmp(want, buf, BLOCKS * 4096), 0);
	expect_on_file(100 * 4096, want, BLOCKS * 4096);
	iop_qp_frame_free(fx.qp, buf);
	/* A batch of aligned buffers, then odd ones: the first as it is, the rest bounced. */
	pattern(want, 200, 4096, 33, 104);
	bsa_stats(b);
	expect_ok(direct_mixed(IOP_BSA_BLOCK_WRITE, 200 * 4096, want), MIXED);
	expect_ok(direct_mixed(IOP_BSA_WRITE_VERIFY, 300 * 4096, want), MIXED);
	memset(got, 0, MIXED);
	expect_ok(direct_mixed(IOP_BSA_BLOCK_READ, 300 * 4096, got), MIXED);
	CU_ASSERT_EQUAL(memcmp(want, got, MIXED), 0);
	expect_on_file(200 * 4096, want, MIXED);
	bsa_stats(a);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_BOUNCED] - b[IOP_BSA_STAT_BOUNCED], 3);
	CU_ASSERT_EQUAL(a[IOP_BSA_STAT_BOUNCE_BYTES] - b[IOP_BSA_STAT_BOUNCE_BYTES], 3 * 4096);
	/* Immediate data: the bytes in the frame, bounced. */
	f = iop_qp_frame_alloc(fx.qp, 8192);
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	memset(want, 0x6D, 4096);
	iop_build_bsa(f, 8192, BSA_TID, IOP_BSA_BLOCK_WRITE);
	iop_sgl_writer_init(&sw, f + 8, 8192 / 4 - 8);
	CU_ASSERT_EQUAL(iop_sgl_add_immediate(&sw, want, 4096, IOP_SGL_END_OF_BUFFER), 0);
	f[0] = htole32((uint32_t)(8 + iop_sgl_finish(&sw)) << 16 | 8u << 4 | 0x01);
	f[4] = 0;
	f[5] = htole32(4096);
	f[6] = htole32(512 * 4096);
	f[7] = 0;
	expect_ok(call(fx.qp, f), 4096);
	expect_ok(rw(IOP_BSA_BLOCK_READ, 512 * 4096, got, 4096), 4096);
	CU_ASSERT_EQUAL(memcmp(want, got, 4096), 0);
	bsa_stats(b);
	CU_ASSERT(b[IOP_BSA_STAT_BOUNCED] > a[IOP_BSA_STAT_BOUNCED]);
	/* On io=uring, bounced or not, every I/O went through the ring. */
	if (file_backend() == IOP_BSA_BACKEND_URING)
		CU_ASSERT_EQUAL(b[IOP_BSA_STAT_LOOP_CALLS], loop_calls);
	free(want);
	free(got);
	down();
	unlink(file_path);
}

/*
 * direct=1 where there is no direct I/O: a file on ramfs (which refuses
 * O_DIRECT at open) makes init fail, with a line on stderr that says so. In
 * a child with a mount namespace of its own, so the mount goes with it;
 * skipped where the child cannot mount (not root, no CAP_SYS_ADMIN).
 */
static void test_direct_refused(void)
{
	char dir[] = "/tmp/iop-test-bsa-ramfs-XXXXXX", log[96], params[160], line[512] = "";
	int status;
	pid_t pid;
	FILE *fp;

	CU_ASSERT_PTR_NOT_NULL_FATAL(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s.log", dir);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct iop_window_opts wo = { .inbound_bytes = 1u << 20,
					      .outbound_bytes = 1u << 20 };

		if (unshare(CLONE_NEWNS) != 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
		    mount("ramfs", dir, "ramfs", 0, NULL) != 0)
			_exit(77);
		if (freopen(log, "w", stderr) == NULL)
			_exit(3);
		snprintf(params, sizeof(params), "file=%s/disk,size=1M,bs=4096,direct=1,io=%s", dir,
			 io_mode());
		fx.w = iop_window_create(&wo);
		if (fx.w == NULL)
			_exit(3);
		fx.rt = runtime_with(params);
		fflush(stderr); /* _exit does not, and stderr on a file may be buffered */
		_exit(fx.rt == NULL ? 0 : 1);
	}
	CU_ASSERT_EQUAL_FATAL(waitpid(pid, &status, 0), pid);
	rmdir(dir);
	CU_ASSERT_FATAL(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		fprintf(stderr, "\n  skipped: cannot mount a ramfs here (not root?)\n");
		unlink(log);
		return;
	}
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	fp = fopen(log, "r");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	while (fgets(line, sizeof(line), fp) != NULL && strstr(line, "bsa:") == NULL)
		;
	fclose(fp);
	unlink(log);
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "direct=1: O_DIRECT refused"));
	CU_ASSERT_PTR_NOT_NULL(strstr(line, "does not do direct I/O"));
}

/* Can this process act as nobody (seteuid may be refused in a user namespace)? */
static bool can_be_nobody(void)
{
	if (seteuid(65534) != 0)
		return false;
	CU_ASSERT_EQUAL_FATAL(seteuid(0), 0);
	return true;
}

/*
 * A file the DDM may only read (mode 0444, opened as nobody when the test
 * runs as root, who could write it anyway): it is served read-only; reads
 * work, and writes, WriteVerify included, are WRITE_PROTECTED with nothing
 * written.
 */
static void test_read_only_file(void)
{
	unsigned char want[8192], got[8192];
	char params[128];
	FILE *fp;

	make_file_path();
	pattern(want, 0, 4096, 2, 44);
	fp = fopen(file_path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	CU_ASSERT_EQUAL_FATAL(fwrite(want, 1, sizeof(want), fp), sizeof(want));
	for (int i = 0; i < 31; i++) /* 256 KiB in all */
		CU_ASSERT_EQUAL_FATAL(fwrite(want, 1, sizeof(want), fp), sizeof(want));
	CU_ASSERT_EQUAL_FATAL(fclose(fp), 0);
	CU_ASSERT_EQUAL_FATAL(chmod(file_path, 0444), 0);
	if (geteuid() == 0 && !can_be_nobody()) {
		fprintf(stderr, "\n  skipped: root here cannot act as nobody (seteuid: %s)\n",
			strerror(errno));
		unlink(file_path);
		return;
	}
	if (geteuid() == 0)
		open_as = 65534;
	file_params(params, sizeof(params), "file=%s,bs=4096", file_path);
	up(params);
	CU_ASSERT_EQUAL(backend_in_use(), file_backend());
	expect_ok(rw_split(fx.qp, IOP_BSA_BLOCK_READ, 0, got, sizeof(got), 3), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	memset(got, 0x5a, sizeof(got));
	expect_refused(rw_split(fx.qp, IOP_BSA_BLOCK_WRITE, 0, got, sizeof(got), 2),
		       IOP_BSA_DSC_WRITE_PROTECTED);
	expect_refused(rw(IOP_BSA_WRITE_VERIFY, 4096, got, 4096), IOP_BSA_DSC_WRITE_PROTECTED);
	expect_ok(plain(IOP_BSA_CACHE_FLUSH), NO_COUNT);
	expect_ok(rw(IOP_BSA_BLOCK_READ, 0, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	down();
	/* A size= past its end cannot be served: the file cannot be extended. */
	fx.w = iop_window_create(&(struct iop_window_opts){ .inbound_bytes = 1u << 20,
							    .outbound_bytes = 1u << 20 });
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.w);
	if (geteuid() == 0)
		open_as = 65534;
	file_params(params, sizeof(params), "file=%s,bs=4096,size=1M", file_path);
	fx.rt = runtime_with(params);
	CU_ASSERT_PTR_NULL(fx.rt);
	iop_runtime_destroy(fx.rt);
	iop_window_close(fx.w);
	unlink(file_path);
}

/* CPU time the loop's thread has used, in nanoseconds. */
static uint64_t loop_cpu_ns(void)
{
	clockid_t id;
	struct timespec ts;

	CU_ASSERT_EQUAL_FATAL(pthread_getcpuclockid(fx.loop, &id), 0);
	CU_ASSERT_EQUAL_FATAL(clock_gettime(id, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* What loop_share_with_a_read_waiting() saw. */
struct idle_look {
	double share;         /* of the wall time, the loop's thread on a CPU */
	uint64_t waits;       /* IOP_BSA_STAT_IDLE_WAITS over that time */
	unsigned wall_ms;     /* the time it was measured over */
	bool skipped;         /* io_uring, or a bounded wait in it, not to be had here */
};

/*
 * A read kept in flight on the ring for as long as the test likes: the
 * "file" is a FIFO (neither a regular file nor a block device, so its size
 * is given), whose read waits in the kernel until something is written into
 * it. While it waits, the loop turns with nothing else to do for about
 * 300 ms: what share of that its thread spent on a CPU, and how many idle
 * waits the DDM counted. With check_others, a StatusCheck posted meanwhile
 * must be answered while the read still waits. Then the FIFO gets its 4096
 * bytes, and the read must be answered with them. Skipped where io_uring
 * cannot be set up (the DDM fell back to preadv, which would block the
 * loop), or cannot bound a wait (idle=wait not in effect).
 */
static struct idle_look loop_share_with_a_read_waiting(const char *idle, bool check_others)
{
	struct idle_look look = { 0 };
	struct timespec nap = { 0, 300000000 };
	unsigned char want[4096];
	struct qd_run run = { 0 };
	struct qd_req req;
	char params[160];
	uint64_t cpu0, t0, stats[IOP_BSA_STAT_FIELDS];
	uint32_t *buf;
	int w;

	make_file_path();
	CU_ASSERT_EQUAL_FATAL(mkfifo(file_path, 0600), 0);
	snprintf(params, sizeof(params), "file=%s,size=1M,bs=4096,io=uring,idle=%s", file_path,
		 idle);
	up(params);
	bsa_stats(stats);
	if (backend_in_use() != IOP_BSA_BACKEND_URING ||
	    (strcmp(idle, "wait") == 0 && stats[IOP_BSA_STAT_IDLE_WAIT] != 1)) {
		down();
		unlink(file_path);
		look.skipped = true;
		return look;
	}
	CU_ASSERT_EQUAL(stats[IOP_BSA_STAT_IDLE_WAIT], strcmp(idle, "wait") == 0);
	buf = iop_qp_frame_alloc(fx.qp, sizeof(want));
	CU_ASSERT_PTR_NOT_NULL_FATAL(buf);
	qd_post(&run, &req, 0, IOP_BSA_BLOCK_READ, 2, 1, buf);
	/* The loop has taken the read and handed it to the ring: then only the ring has work. */
	t0 = now_ms();
	do
		bsa_stats(stats);
	while (stats[IOP_BSA_STAT_RING_IOS] == 0 && now_ms() - t0 < TIMEOUT_MS);
	CU_ASSERT_EQUAL_FATAL(stats[IOP_BSA_STAT_RING_IOS], 1);
	nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	bsa_stats(stats);
	look.waits = stats[IOP_BSA_STAT_IDLE_WAITS];
	cpu0 = loop_cpu_ns();
	t0 = now_ms();
	nanosleep(&nap, NULL);
	look.wall_ms = (unsigned)(now_ms() - t0);
	look.share = (double)(loop_cpu_ns() - cpu0) / ((double)look.wall_ms * 1e6);
	bsa_stats(stats);
	look.waits = stats[IOP_BSA_STAT_IDLE_WAITS] - look.waits;
	if (check_others) {
		t0 = now_ms();
		expect_ok(plain(IOP_BSA_STATUS_CHECK), NO_COUNT);
		/* The idle wait's bound (1 ms) and a busy machine's scheduling: far below a second. */
		CU_ASSERT(now_ms() - t0 < 1000);
		CU_ASSERT_EQUAL(run.done, 0);
	}
	pattern(want, 2, 4096, 1, 61);
	w = open(file_path, O_WRONLY | O_NONBLOCK);
	CU_ASSERT_FATAL(w >= 0);
	CU_ASSERT_EQUAL(write(w, want, sizeof(want)), (ssize_t)sizeof(want));
	close(w);
	qd_wait(&run, 1);
	CU_ASSERT_EQUAL(run.bad, 0);
	CU_ASSERT_EQUAL(memcmp(buf, want, sizeof(want)), 0);
	iop_qp_frame_free(fx.qp, buf);
	down();
	unlink(file_path);
	return look;
}

/*
 * idle=wait: with I/O in flight and no request coming, the loop sleeps in
 * io_uring_enter instead of spinning (its thread all but off the CPU, where
 * idle=spin keeps it on), a millisecond at a time, yet still answers a
 * request that comes meanwhile, and the I/O it waited for, when it
 * completes, with its data.
 */
static void test_idle_wait_sleeps_with_io_in_flight(void)
{
	struct idle_look wait = loop_share_with_a_read_waiting("wait", true);
	struct idle_look spin;

	if (wait.skipped) {
		printf("io_uring, or a bounded wait in it, not to be had here: nothing to check ");
		return;
	}
	spin = loop_share_with_a_read_waiting("spin", false);
	printf("loop thread on a CPU: idle=wait %.1f%% (%llu waits in %u ms), idle=spin %.1f%% ",
	       wait.share * 100, (unsigned long long)wait.waits, wait.wall_ms, spin.share * 100);
	CU_ASSERT(wait.share < 0.2);
	/* Waits of 1 ms: hundreds, fewer where wake-ups come late, never more than 2 a ms. */
	CU_ASSERT(wait.waits >= wait.wall_ms / 10 && wait.waits <= 2ull * wait.wall_ms);
	CU_ASSERT_EQUAL(spin.waits, 0);
	/* The measure can tell: a spinning loop is on a CPU whenever it gets one. */
	CU_ASSERT(spin.share > 2 * wait.share && spin.share > 0.1);
}

/*
 * io=uring where io_uring cannot be set up (IOP_BSA_NO_URING makes the setup
 * fail as ENOSYS would): the DDM falls back to preadv/pwritev, reports the
 * file backend, and works.
 */
static void test_uring_falls_back_to_file(void)
{
	unsigned char want[4096], got[4096];
	char params[128];

	make_file_path();
	snprintf(params, sizeof(params), "file=%s,size=1M,io=uring", file_path);
	CU_ASSERT_EQUAL_FATAL(setenv("IOP_BSA_NO_URING", "1", 1), 0);
	up(params);
	unsetenv("IOP_BSA_NO_URING");
	CU_ASSERT_EQUAL(backend_in_use(), IOP_BSA_BACKEND_FILE);
	pattern(want, 3, 512, 8, 55);
	expect_ok(rw(IOP_BSA_BLOCK_WRITE, 3 * 512, want, sizeof(want)), sizeof(want));
	expect_ok(plain(IOP_BSA_CACHE_FLUSH), NO_COUNT);
	expect_ok(rw(IOP_BSA_BLOCK_READ, 3 * 512, got, sizeof(got)), sizeof(got));
	CU_ASSERT_EQUAL(memcmp(want, got, sizeof(got)), 0);
	down();
	unlink(file_path);
}

/* Parameters init refuses: no runtime, and a message on stderr. */
static void test_bad_parameters(void)
{
	static const char *const bad[] = {
		"bs=1000",            "bs=256",
		"size=1000",          "size=0",
		"size=12Q",           "floppy",
		"file=",              "file=/nonexistent-dir/x,size=1M",
		"file=/dev/null",     "ram=1",
		"ram,io=uring",       "file=/tmp/x,io=fast",
		"file=/tmp/x,io=auto", "ram,direct=1",
		"file=/tmp/x,direct=2", "file=/tmp/x,direct",
		/* Files init would open: only the idle= check refuses them. */
		"file=/dev/zero,size=1M,idle=wait", "file=/dev/zero,size=1M,io=sync,idle=wait",
		"ram,idle=wait",      "file=/dev/zero,size=1M,io=uring,idle=fast",
		"file=/dev/zero,size=1M,io=uring,idle",
	};
	struct iop_window_opts wo = { .inbound_bytes = 1u << 20, .outbound_bytes = 1u << 20 };

	fx.w = iop_window_create(&wo);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fx.w);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct iop_runtime *rt = runtime_with(bad[i]);

		CU_ASSERT_PTR_NULL(rt);
		if (rt != NULL) {
			fprintf(stderr, "accepted: %s\n", bad[i]);
			iop_runtime_destroy(rt);
		}
	}
	iop_window_close(fx.w);
}

static const struct iop_test_case bsa_tests[] = {
	{ "ram_read_after_write", test_ram_read_after_write },
	{ "file_read_after_write", test_file_read_after_write },
	{ "threads_write_their_regions", test_threads_write_their_regions },
	{ "file_survives_a_new_runtime", test_file_survives_a_new_runtime },
	{ "status_reset_flush_verify", test_status_reset_flush_verify },
	{ "refused_ranges", test_refused_ranges },
	{ "refused_frames", test_refused_frames },
	{ "immediate_data", test_immediate_data },
	{ "device_refuses_writes", test_device_refuses_writes },
	{ "write_verify_finds_other_data", test_write_verify_finds_other_data },
	{ "file_shrunk_under_the_ddm", test_file_shrunk_under_the_ddm },
	{ "write_cut_short", test_write_cut_short },
	{ "short_transfer_continued", test_short_transfer_continued },
	{ "writes_wait_for_reply_frames", test_writes_wait_for_reply_frames },
	{ "file_qd32_read_after_write", test_file_qd32_read_after_write },
	{ "flush_after_writes", test_flush_after_writes },
	{ "flush_after_a_long_write", test_flush_after_a_long_write },
	{ "quiesce_with_reads_in_flight", test_quiesce_with_reads_in_flight },
	{ "verifies_take_the_backends_path", test_verifies_take_the_backends_path },
	{ "verifies_at_qd32", test_verifies_at_qd32 },
	{ "direct_io", test_direct_io },
	{ "direct_refused", test_direct_refused },
	{ "read_only_file", test_read_only_file },
	{ "idle_wait_sleeps_with_io_in_flight", test_idle_wait_sleeps_with_io_in_flight },
	{ "uring_falls_back_to_file", test_uring_falls_back_to_file },
	{ "bad_parameters", test_bad_parameters },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "bsa", bsa_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
#ifdef IOP_TEST_HAVE_URING
	/* io_uring blocked (seccomp, kernel.io_uring_disabled, gVisor): the io=uring run is skipped. */
	if (strcmp(io_mode(), "uring") == 0) {
		struct io_uring ring;
		int rc = io_uring_queue_init(8, &ring, 0);

		if (rc != 0) {
			printf("io_uring cannot be set up here (%s): skipped\n", strerror(-rc));
			return 77;
		}
		io_uring_queue_exit(&ring);
	}
#endif
	return iop_test_main(argc, argv, suites);
}
