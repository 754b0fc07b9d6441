/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The frame window: made in a memfd, attached through its descriptor at
 * another address and from another process, MFAs bounds-checked both ways,
 * and a corrupt or foreign window refused.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_sgl.h"
#include "iop_test.h"
#include "iop_window.h"

static struct iop_window *small_window(void)
{
	struct iop_window_opts o = { .inbound_bytes = 1 << 20, .outbound_bytes = 1 << 18,
				     .channels = 2, .ring_entries = 64 };
	struct iop_window *w = iop_window_create(&o);

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	return w;
}

static void test_create_and_layout(void)
{
	struct iop_window *w = iop_window_create(NULL);
	struct iop_window_info info;

	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT_EQUAL(iop_heap_size(iop_window_inbound(w)), 16 << 20);
	CU_ASSERT_EQUAL(iop_heap_size(iop_window_outbound(w)), 16 << 20);
	CU_ASSERT_EQUAL(iop_window_info(w, &info), 0);
	CU_ASSERT(info.total_bytes > 32u << 20 && info.total_bytes < 34u << 20);
	CU_ASSERT_EQUAL(info.channels, 16);
	CU_ASSERT_EQUAL(info.ring_entries, 1024);
	CU_ASSERT(info.ring_bytes >= 16u * 2 * 1024 * 4); /* room for every ring */
	CU_ASSERT(info.ring_offset + info.ring_bytes <= info.total_bytes);
	CU_ASSERT(iop_window_fd(w) >= 0);
	CU_ASSERT_EQUAL(iop_window_info(NULL, &info), -EINVAL);
	iop_window_close(w);
}

static void test_too_large_for_32_bit_mfas(void)
{
	struct iop_window_opts o = { .inbound_bytes = 2ull << 30, .outbound_bytes = 2ull << 30 };

	errno = 0;
	CU_ASSERT_PTR_NULL(iop_window_create(&o));
	CU_ASSERT_EQUAL(errno, E2BIG);
}

static void test_mfa_round_trip_and_bounds(void)
{
	struct iop_window *w = small_window();
	char *req = iop_heap_alloc(iop_window_inbound(w), 512);
	char *rep = iop_heap_alloc(iop_window_outbound(w), 64);
	uint32_t mreq = iop_window_mfa(w, req);
	uint32_t mrep = iop_window_mfa(w, rep);
	struct iop_window_info info;
	int local;

	CU_ASSERT_NOT_EQUAL(mreq, IOP_MFA_EMPTY);
	CU_ASSERT_NOT_EQUAL(mrep, IOP_MFA_EMPTY);
	CU_ASSERT_PTR_EQUAL(iop_window_frame(w, mreq), req);
	CU_ASSERT_PTR_EQUAL(iop_window_frame(w, mrep), rep);
	CU_ASSERT(mrep > mreq); /* outbound after inbound */
	/* Nothing outside the heaps' blocks has an MFA, or comes from one. */
	iop_window_info(w, &info);
	CU_ASSERT_EQUAL(iop_window_mfa(w, &local), IOP_MFA_EMPTY);
	CU_ASSERT_EQUAL(iop_window_mfa(w, iop_window_rings(w)), IOP_MFA_EMPTY);
	CU_ASSERT_EQUAL(iop_window_mfa(w, iop_window_inbound(w)), IOP_MFA_EMPTY); /* metadata */
	/* A reply's MFA is the same by the outbound heap alone; nothing else has one. */
	CU_ASSERT_EQUAL(iop_window_reply_mfa(w, rep), mrep);
	CU_ASSERT_EQUAL(iop_window_reply_mfa(w, req), IOP_MFA_EMPTY);
	CU_ASSERT_EQUAL(iop_window_reply_mfa(w, &local), IOP_MFA_EMPTY);
	CU_ASSERT_EQUAL(iop_window_reply_mfa(w, iop_window_outbound(w)), IOP_MFA_EMPTY);
	CU_ASSERT_PTR_NULL(iop_window_frame(w, IOP_MFA_EMPTY));
	CU_ASSERT_PTR_NULL(iop_window_frame(w, 0));                       /* header */
	CU_ASSERT_PTR_NULL(iop_window_frame(w, (uint32_t)info.ring_offset)); /* rings */
	CU_ASSERT_PTR_NULL(iop_window_frame(w, (uint32_t)info.total_bytes));
	iop_window_close(w);
}

/* The inline conversions of a window's map agree with the calls, and refuse as they do. */
static void test_map_conversions(void)
{
	struct iop_window *w = small_window();
	char *req = iop_heap_alloc(iop_window_inbound(w), 512);
	char *rep = iop_heap_alloc(iop_window_outbound(w), 64);
	uint32_t mreq = iop_window_mfa(w, req), mrep = iop_window_mfa(w, rep);
	struct iop_window_map m;
	struct iop_window_info info;

	CU_ASSERT_EQUAL(iop_window_map(NULL, &m), -EINVAL);
	CU_ASSERT_EQUAL(iop_window_map(w, NULL), -EINVAL);
	CU_ASSERT_EQUAL_FATAL(iop_window_map(w, &m), 0);
	CU_ASSERT_PTR_EQUAL(m.inbound, iop_window_inbound(w));
	CU_ASSERT_PTR_EQUAL(m.outbound, iop_window_outbound(w));
	CU_ASSERT_EQUAL(iop_window_map_mfa(&m, req), mreq);
	CU_ASSERT_EQUAL(iop_window_map_mfa(&m, rep), mrep);
	CU_ASSERT_PTR_EQUAL(iop_window_map_request(&m, mreq), req);
	CU_ASSERT_PTR_EQUAL(iop_window_map_reply(&m, mrep), rep);
	/* Each looks at its own heap's block area only. */
	CU_ASSERT_PTR_NULL(iop_window_map_request(&m, mrep));
	CU_ASSERT_PTR_NULL(iop_window_map_reply(&m, mreq));
	iop_window_info(w, &info);
	for (int i = 0; i < 2; i++) {
		void *(*conv)(const struct iop_window_map *, uint32_t) =
			i == 0 ? iop_window_map_request : iop_window_map_reply;

		CU_ASSERT_PTR_NULL(conv(&m, IOP_MFA_EMPTY));
		CU_ASSERT_PTR_NULL(conv(&m, 0));                          /* header */
		CU_ASSERT_PTR_NULL(conv(&m, (uint32_t)info.ring_offset)); /* rings */
		CU_ASSERT_PTR_NULL(conv(&m, (uint32_t)info.total_bytes));
	}
	/* The block areas' edges: the first byte in, the byte past the end out. */
	CU_ASSERT_PTR_EQUAL(iop_window_map_request(&m, m.in_lo), iop_window_frame(w, m.in_lo));
	CU_ASSERT_PTR_NULL(iop_window_map_request(&m, m.in_lo - 1));
	CU_ASSERT_PTR_NULL(iop_window_map_request(&m, m.in_hi));
	CU_ASSERT_PTR_EQUAL(iop_window_map_reply(&m, m.out_hi - 1),
			    iop_window_frame(w, m.out_hi - 1));
	CU_ASSERT_PTR_NULL(iop_window_map_reply(&m, m.out_hi));
	CU_ASSERT_PTR_NULL(iop_window_frame(w, m.out_hi));
	iop_window_close(w);
}

/* An IOP learns a posted frame's readable size from its MFA alone. */
/*
 * An SGL may name host buffers in the inbound heap, and nothing else: not
 * the header, either heap's metadata, the replies or the rings.
 */
static void test_sgl_bounds_are_the_inbound_blocks(void)
{
	struct iop_window *w = small_window(), *a;
	struct iop_sgl_bounds b, ab;
	struct iop_window_map am;
	struct iop_window_info info;
	char *buf = iop_heap_alloc(iop_window_inbound(w), 4096);
	char *rep = iop_heap_alloc(iop_window_outbound(w), 64);
	uint32_t frame[8] = { 0 };
	struct iop_sgl_writer sw;
	uint16_t dsc = 0;
	const struct {
		uint32_t offset, count;
		uint16_t dsc;
	} cases[] = {
		{ iop_window_mfa(w, buf), 4096, 0 },                     /* a host buffer */
		{ iop_window_mfa(w, rep), 64, IOP_DSC_INVALID_OFFSET },  /* a reply */
		{ 0, 64, IOP_DSC_INVALID_OFFSET },                       /* the header */
		{ 4096, 64, IOP_DSC_INVALID_OFFSET },                    /* inbound metadata */
		{ 0, 0, IOP_DSC_INVALID_OFFSET },                        /* the rings: set below */
	};

	CU_ASSERT_EQUAL_FATAL(iop_window_sgl_bounds(w, &b), 0);
	CU_ASSERT_EQUAL(iop_window_sgl_bounds(NULL, &b), -EINVAL);
	iop_window_info(w, &info);
	CU_ASSERT_EQUAL(b.hi - b.lo, iop_heap_size(iop_window_inbound(w)));
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint32_t offset = i == 4 ? (uint32_t)info.ring_offset : cases[i].offset;
		uint32_t count = i == 4 ? 64 : cases[i].count;

		CU_ASSERT_EQUAL_FATAL(iop_sgl_writer_init(&sw, frame + 4, 4), 0);
		CU_ASSERT_EQUAL_FATAL(iop_sgl_add_simple(&sw, offset, count, 0), 0);
		CU_ASSERT_EQUAL_FATAL(iop_sgl_finish(&sw), 2);
		CU_ASSERT_EQUAL(iop_sgl_check(frame, 6 * 4, 4, &b, &dsc, NULL), cases[i].dsc ? -EPROTO : 0);
		if (cases[i].dsc)
			CU_ASSERT_EQUAL(dsc, cases[i].dsc);
	}
	/* Another mapping of the window: the same offsets, from its own base. */
	a = iop_window_attach(iop_window_fd(w));
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(iop_window_map(a, &am), 0);
	CU_ASSERT_EQUAL(iop_window_sgl_bounds(a, &ab), 0);
	CU_ASSERT_PTR_EQUAL(ab.window, am.base);
	CU_ASSERT_PTR_NOT_EQUAL(ab.window, b.window);
	CU_ASSERT_EQUAL(ab.lo, b.lo);
	CU_ASSERT_EQUAL(ab.hi, b.hi);
	CU_ASSERT_EQUAL(ab.lo, am.in_lo);
	CU_ASSERT_EQUAL(ab.hi, am.in_hi);
	iop_window_close(a);
	iop_window_close(w);
}

/* What a dead host held is found by its stamp and freed; nobody else's is touched. */
static void test_reclaim_by_owner(void)
{
	struct iop_window *w = small_window();
	struct iop_heap *in = iop_window_inbound(w), *out = iop_window_outbound(w);
	struct iop_heap_stats s0, s1;
	struct iop_window_info info;
	char *mine[3], *theirs, *iops;
	int local;

	iop_heap_cache_flush(in);
	iop_heap_cache_flush(out);
	iop_heap_stats(in, &s0);
	iop_window_info(w, &info);
	CU_ASSERT(info.owner_bytes >= 2 * ((1u << 20) / 64 + (1u << 18) / 64));
	mine[0] = iop_heap_alloc(in, 100);
	mine[1] = iop_heap_alloc(in, 5000);
	mine[2] = iop_heap_alloc(out, 64); /* a reply the host took */
	theirs = iop_heap_alloc(in, 100);
	iops = iop_heap_alloc(in, 100);
	for (int i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(iop_window_owner_set(w, mine[i], 7), 0);
	CU_ASSERT_EQUAL(iop_window_owner_set(w, theirs, 8), 0);
	CU_ASSERT_EQUAL(iop_window_owner(w, iops), IOP_OWNER_IOP);
	CU_ASSERT_EQUAL(iop_window_owner(w, mine[1]), 7);
	CU_ASSERT_EQUAL(iop_window_owner_set(w, mine[1] + 1, 7), -EFAULT); /* off a block boundary */
	CU_ASSERT_EQUAL(iop_window_owner_set(w, &local, 7), -EFAULT);
	CU_ASSERT_EQUAL(iop_window_owner(w, &local), -EFAULT);
	/* Re-tagged by a holder that knows the block: the same tag, bounds still checked. */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, iops, 128, 9), 0);
	CU_ASSERT_EQUAL(iop_window_owner(w, iops), 9);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, iops, 128, IOP_OWNER_IOP), 0);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, iops + 64, 128, 9), -EFAULT); /* misaligned */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, iops, 96, 9), -EFAULT);       /* no such size */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, iops, 1, 9), -EFAULT);        /* below min */
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, &local, 128, 9), -EFAULT);
	CU_ASSERT_EQUAL(iop_heap_tag_set_block(in, (char *)iops + (2u << 20), 64, 9), -EFAULT);
	CU_ASSERT_EQUAL(iop_window_owner(w, iops), IOP_OWNER_IOP);

	CU_ASSERT_EQUAL(iop_window_reclaim(w, 7), 3);
	CU_ASSERT_EQUAL(iop_window_reclaim(w, 7), 0); /* stamps cleared */
	CU_ASSERT_EQUAL(iop_window_reclaim(w, IOP_OWNER_IOP), 0);
	CU_ASSERT_EQUAL(iop_window_owner(w, theirs), 8);
	CU_ASSERT_EQUAL(iop_heap_free(in, theirs, 100), 0);
	CU_ASSERT_EQUAL(iop_heap_free(in, iops, 100), 0);
	iop_heap_cache_flush(in);
	iop_heap_stats(in, &s1);
	CU_ASSERT_EQUAL(s1.bytes_free, s0.bytes_free);
	CU_ASSERT_EQUAL(s1.refused_frees, 0);
	iop_window_close(w);
}

static void test_frame_block_of_untrusted_mfa(void)
{
	struct iop_window *w = small_window();
	char *req = iop_heap_alloc(iop_window_inbound(w), 300);
	char *rep = iop_heap_alloc(iop_window_outbound(w), 20);
	uint32_t mreq = iop_window_mfa(w, req);
	size_t n = 0;

	CU_ASSERT_PTR_EQUAL(iop_window_frame_block(w, mreq, &n), req);
	CU_ASSERT_EQUAL(n, 512);
	CU_ASSERT_PTR_EQUAL(iop_window_frame_block(w, iop_window_mfa(w, rep), &n), rep);
	CU_ASSERT_EQUAL(n, iop_heap_min_block(iop_window_outbound(w)));
	n = 7;
	CU_ASSERT_PTR_NULL(iop_window_frame_block(w, mreq + 64, &n)); /* inside a frame */
	CU_ASSERT_PTR_NULL(iop_window_frame_block(w, 0, &n));          /* header */
	CU_ASSERT_PTR_NULL(iop_window_frame_block(w, IOP_MFA_EMPTY, &n));
	CU_ASSERT_EQUAL(n, 7); /* untouched when refused */
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(w), req, 300), 0);
	CU_ASSERT_PTR_NULL(iop_window_frame_block(w, mreq, &n)); /* freed */
	iop_window_close(w);
}

/* Attached through the descriptor: another mapping, the same frames. */
static void test_attach_same_frames_other_address(void)
{
	struct iop_window *w = small_window();
	struct iop_window *a = iop_window_attach(iop_window_fd(w));
	char *req, *seen;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	req = iop_heap_alloc(iop_window_inbound(w), 200);
	strcpy(req, "UtilNOP");
	seen = iop_window_frame(a, iop_window_mfa(w, req));
	CU_ASSERT_PTR_NOT_NULL_FATAL(seen);
	CU_ASSERT_PTR_NOT_EQUAL(seen, req);
	CU_ASSERT_STRING_EQUAL(seen, "UtilNOP");
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(a), seen, 200), 0);
	CU_ASSERT_EQUAL(iop_heap_check(iop_window_inbound(w)), 0);
	iop_window_close(a);
	iop_window_close(w);
}

/* A child process attaches by descriptor, sends a frame by MFA, the parent frees it. */
static void test_frame_from_another_process(void)
{
	struct iop_window *w = small_window();
	int pipefd[2];
	uint32_t mfa = IOP_MFA_EMPTY;
	pid_t pid;
	int status;
	char *frame;

	CU_ASSERT_FATAL(pipe(pipefd) == 0);
	pid = fork();
	if (pid == 0) {
		struct iop_window *cw = iop_window_attach(iop_window_fd(w));
		char *f = cw ? iop_heap_alloc(iop_window_inbound(cw), 1514) : NULL;
		uint32_t m;

		if (f == NULL)
			_exit(1);
		memset(f, 0x5a, 1514);
		m = iop_window_mfa(cw, f);
		_exit(write(pipefd[1], &m, sizeof(m)) == sizeof(m) ? 0 : 2);
	}
	CU_ASSERT_FATAL(pid > 0);
	CU_ASSERT_EQUAL(read(pipefd[0], &mfa, sizeof(mfa)), (ssize_t)sizeof(mfa));
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	frame = iop_window_frame(w, mfa);
	CU_ASSERT_PTR_NOT_NULL_FATAL(frame);
	CU_ASSERT_EQUAL(frame[0], 0x5a);
	CU_ASSERT_EQUAL(frame[1513], 0x5a);
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(w), frame, 1514), 0);
	CU_ASSERT_EQUAL(iop_heap_check(iop_window_inbound(w)), 0);
	close(pipefd[0]);
	close(pipefd[1]);
	iop_window_close(w);
}

/* Flip one byte of the header through a second mapping; attach must refuse. */
static void expect_refused_after(struct iop_window *w, size_t off, uint8_t xor_mask)
{
	int fd = iop_window_fd(w);
	struct iop_window_info info;
	uint8_t *m;

	iop_window_info(w, &info);
	m = mmap(NULL, info.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	CU_ASSERT_FATAL(m != MAP_FAILED);
	m[off] ^= xor_mask;
	errno = 0;
	CU_ASSERT_PTR_NULL(iop_window_attach(fd));
	CU_ASSERT_EQUAL(errno, EPROTO);
	m[off] ^= xor_mask;
	munmap(m, info.total_bytes);
}

static void test_corrupt_or_foreign_window_refused(void)
{
	struct iop_window *w = small_window();
	int junk = memfd_create("not-a-window", MFD_CLOEXEC);
	struct iop_window *again;
	struct iop_window_info info;

	iop_window_info(w, &info);
	expect_refused_after(w, 0, 0xff);  /* magic */
	expect_refused_after(w, 8, 0x01);  /* layout version */
	expect_refused_after(w, 16, 0x10); /* total bytes disagree with the file */
	expect_refused_after(w, 24, 0x08); /* inbound offset off its page */
	expect_refused_after(w, 32, 0x80); /* inbound length past the outbound region */
	expect_refused_after(w, 72, 0x10); /* owner tables off their page */
	expect_refused_after(w, 80, 0x01); /* owner tables past the end of the file */
	expect_refused_after(w, info.ring_offset, 0x01);      /* channel table magic */
	expect_refused_after(w, info.ring_offset + 9, 0x01);  /* slots past the ring area */
	expect_refused_after(w, info.ring_offset + 12, 0x03); /* entries not a power of two */
	again = iop_window_attach(iop_window_fd(w)); /* restored: accepted again */
	CU_ASSERT_PTR_NOT_NULL(again);
	iop_window_close(again);

	CU_ASSERT_FATAL(junk >= 0 && ftruncate(junk, 1 << 20) == 0);
	CU_ASSERT_PTR_NULL(iop_window_attach(junk));
	CU_ASSERT_EQUAL(errno, EPROTO);
	CU_ASSERT_PTR_NULL(iop_window_attach(-1));
	CU_ASSERT_EQUAL(errno, EBADF);
	close(junk);
	iop_window_close(w);
}

static const struct iop_test_case window_tests[] = {
	{ "create_and_layout", test_create_and_layout },
	{ "too_large_for_32_bit_mfas", test_too_large_for_32_bit_mfas },
	{ "mfa_round_trip_and_bounds", test_mfa_round_trip_and_bounds },
	{ "frame_block_of_untrusted_mfa", test_frame_block_of_untrusted_mfa },
	{ "map_conversions", test_map_conversions },
	{ "reclaim_by_owner", test_reclaim_by_owner },
	{ "sgl_bounds_are_the_inbound_blocks", test_sgl_bounds_are_the_inbound_blocks },
	{ "attach_same_frames_other_address", test_attach_same_frames_other_address },
	{ "frame_from_another_process", test_frame_from_another_process },
	{ "corrupt_or_foreign_window_refused", test_corrupt_or_foreign_window_refused },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "frame_window", window_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
