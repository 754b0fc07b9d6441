/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The block-storage (BSA, class 0x010) checks: what a host of a disk relies
 * on beside the generic rules (docs/iop-conform.md, docs/bsa.md). Data
 * written comes back from where it was written, whatever the SGL's cuts;
 * a range the device does not hold is refused with nothing moved; a cache
 * flush and a write-verify are answered as the class defines them.
 *
 * The geometry comes from the target itself (UtilParamsGet of its
 * device-information group), so the checks judge any size of device; the
 * bytes written are a function of the device address and a seed, so a read
 * cut differently from the write still knows what each byte must be, and a
 * target that ignores the address, drops a write or returns zeros is seen.
 * Every seed has the run's own (conform.seed) mixed in: a disk image that an
 * earlier run filled does not already hold what this run writes.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_bsa.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_host.h"
#include "iop_sgl.h"
#include "iop_window.h"

/* What a read buffer holds before the target fills it: a read that moves nothing leaves it. */
#define UNTOUCHED 0xEEu
/* The largest transfer a check makes: well inside the fixture's 1 MiB inbound heap. */
#define MAX_TRANSFER (128u << 10)
/* Blocks the checks' ranges need, at their fewest: read_after_write's layout. */
#define MIN_BLOCKS 48u
/* Most buffers one transfer's SGL names. */
#define MAX_BUFS 4u

struct geometry {
	uint32_t bs;  /* bytes per block */
	uint64_t cap; /* bytes */
};

/* One BlockRead/BlockWrite/WriteVerify reply, as the checks judge it. */
struct xfer_reply {
	bool ok;         /* a 6-word REPLY of the function to this request, not FAIL or MULTIPLE */
	const char *why; /* when not ok: what it is instead */
	uint8_t status;  /* ReqStatus */
	uint16_t dsc;
	uint32_t count;  /* TransferCount */
};

/*
 * Is r the answer to the request with TransactionContext tc on rc? A reply
 * with another context (one that came after its request timed out, or that
 * the target made up) answers some other request: taken for this one, it
 * would be counted against the wrong transfer. @return NULL, or what differs.
 */
static const char *not_ours(const struct raw_chan *rc, const struct raw_reply *r, uint32_t tc)
{
	if (r->words < IOP_REPLY_WORDS)
		return "shorter than a reply";
	if (le32toh(r->w[2]) != rc->initiator_context)
		return "another InitiatorContext";
	if (le32toh(r->w[3]) != tc)
		return "another TransactionContext (the reply to another request)";
	return NULL;
}

/* The seed of a check's data: its own constant and this run's seed. */
static uint32_t seed_of(uint32_t base)
{
	return base ^ conform.seed;
}

/* The byte at device address a, in the data written with this seed. */
static uint8_t pattern(uint64_t a, uint32_t seed)
{
	uint64_t x = (a + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)seed * 0xBF58476D1CE4E5B9ull;

	return (uint8_t)(x >> 56 ^ x >> 29);
}

static void fill(uint8_t *p, size_t len, uint64_t addr, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(addr + i, seed);
}

/* The first byte of p that is not the pattern, or len. */
static size_t mismatch(const uint8_t *p, size_t len, uint64_t addr, uint32_t seed)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(addr + i, seed))
			return i;
	return len;
}

/*
 * The target's block size and capacity, from its device-information group.
 * A target without one, or with a geometry no disk has, fails the check: the
 * BSA checks cannot place their ranges without it.
 */
static bool geometry(struct raw_chan *rc, struct geometry *g)
{
	uint64_t v[IOP_BSA_INFO_FIELDS] = { 0 };
	struct raw_reply r;
	uint32_t *f = raw_frame(rc, 32);
	unsigned n = 0;
	uint32_t tc;
	int err;

	if (f == NULL || iop_build_params_get(f, 32, rc->fx->tid, IOP_BSA_PARAMS_DEVICE_INFO) < 0) {
		if (f != NULL)
			iop_qp_frame_free(rc->qp, f);
		CU_FAIL("no frame for UtilParamsGet");
		return false;
	}
	tc = raw_contexts(rc, f);
	err = raw_call(rc, f, &r);
	if (err == -EAGAIN)
		iop_qp_frame_free(rc->qp, f); /* not posted: still ours */
	if (err != 0 || not_ours(rc, &r, tc) != NULL ||
	    iop_read_params_reply(r.w, r.words, v, IOP_BSA_INFO_FIELDS, &n) < 2) {
		CU_FAIL("no device-information group (UtilParamsGet 0x0000: block size, capacity)");
		return false;
	}
	g->bs = (uint32_t)v[IOP_BSA_INFO_BLOCK_SIZE];
	g->cap = v[IOP_BSA_INFO_CAPACITY];
	if (v[IOP_BSA_INFO_BLOCK_SIZE] < 512 || v[IOP_BSA_INFO_BLOCK_SIZE] > MAX_TRANSFER ||
	    (g->bs & (g->bs - 1)) != 0 || g->cap == 0 || g->cap % g->bs != 0) {
		fprintf(stderr, "  block size %llu, capacity %llu\n",
			(unsigned long long)v[IOP_BSA_INFO_BLOCK_SIZE], (unsigned long long)g->cap);
		CU_FAIL("a block size that is not a power of two from 512 to 128 KiB, or a capacity "
			"that is not whole blocks");
		return false;
	}
	if (g->cap / g->bs < MIN_BLOCKS) {
		CU_FAIL("a device too small for the checks (48 blocks at least)");
		return false;
	}
	return true;
}

/* A check's fixture and the target's geometry; false (the fixture down again) without either. */
static bool bsa_up(struct fixture *fx, struct raw_chan *rc, struct geometry *g)
{
	if (!check_up(fx, rc))
		return false;
	if (geometry(rc, g))
		return true;
	check_down(fx, rc);
	return false;
}

/* Cut len bytes into n buffers of uneven lengths, none a whole number of blocks when n > 1. */
static void cut(uint32_t len, unsigned n, uint32_t *lens)
{
	uint32_t at = 0;

	for (unsigned i = 1; i < n; i++) {
		uint32_t next = (uint32_t)((uint64_t)len * i / n) + 5 * i;

		lens[i - 1] = next - at;
		at = next;
	}
	lens[n - 1] = len - at;
}

/* n buffers cut from len bytes, each filled with `fill`. @return false if the heap is short. */
static bool buffers(struct raw_chan *rc, uint32_t len, unsigned n, uint8_t fill_byte,
		    struct iop_buf *b)
{
	uint32_t lens[MAX_BUFS];

	cut(len, n, lens);
	memset(b, 0, n * sizeof(*b));
	for (unsigned i = 0; i < n; i++) {
		b[i].len = lens[i];
		b[i].addr = raw_buf(rc, lens[i], fill_byte);
		if (b[i].addr == NULL)
			return false;
	}
	return true;
}

static void buffers_free(struct raw_chan *rc, struct iop_buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		raw_buf_free(rc, b[i].addr);
}

/* Copy the pattern into the buffers, or compare them with it. @return bytes that matched. */
static uint32_t pattern_bufs(struct iop_buf *b, unsigned n, uint64_t addr, uint32_t seed,
			     bool write)
{
	uint32_t done = 0;

	for (unsigned i = 0; i < n; i++) {
		size_t same;

		if (write) {
			fill(b[i].addr, b[i].len, addr + done, seed);
			same = b[i].len;
		} else {
			same = mismatch(b[i].addr, b[i].len, addr + done, seed);
		}
		done += (uint32_t)same;
		if (same != b[i].len)
			break;
	}
	return done;
}

static bool untouched(const struct iop_buf *b, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		for (uint32_t j = 0; j < b[i].len; j++)
			if (((const uint8_t *)b[i].addr)[j] != UNTOUCHED)
				return false;
	return true;
}

/*
 * Read the reply of a transfer whose request had TransactionContext tc:
 * anything that is not a 6-word reply of `function` to that request is not
 * ok. Nor is one flagged MULTIPLE: a transfer has one reply, and a host
 * that saw "more to come" would wait for the rest.
 */
static void judge(const struct raw_chan *rc, const struct raw_reply *r, uint8_t function,
		  uint32_t tc, struct xfer_reply *x)
{
	memset(x, 0, sizeof(*x));
	x->count = UINT32_MAX;
	x->why = not_ours(rc, r, tc);
	if (x->why == NULL) {
		if (r->words < IOP_BSA_REPLY_WORDS)
			x->why = "shorter than 6 words";
		else if (!(reply_flags(r) & IOP_MSG_REPLY))
			x->why = "REPLY clear";
		else if (reply_flags(r) & IOP_MSG_FAIL)
			x->why = "a FAIL reply";
		else if (reply_flags(r) & IOP_MSG_MULTIPLE)
			x->why = "flagged MULTIPLE";
		else if (reply_function(r) != function)
			x->why = "of another function";
	}
	if (x->why != NULL)
		return;
	x->ok = true;
	x->status = reply_req_status(r);
	x->dsc = reply_dsc(r);
	x->count = le32toh(r->w[5]);
}

/*
 * A transfer of these buffers at addr, posted, and its reply as it came;
 * *tc the request's TransactionContext. @return 0 or -errno.
 */
static int transfer_raw(struct raw_chan *rc, uint8_t function, uint64_t addr,
			const struct iop_buf *b, unsigned n, struct raw_reply *r, uint32_t *tc)
{
	size_t bytes = 64 + 8 * (size_t)n;
	uint32_t *f = raw_frame(rc, bytes);
	int err;

	if (f == NULL)
		return -ENOMEM;
	if (iop_build_bsa_rw(f, bytes, rc->fx->tid, function, addr, rc->fx->w, b, n) < 0) {
		iop_qp_frame_free(rc->qp, f);
		return -EINVAL;
	}
	*tc = raw_contexts(rc, f);
	err = raw_call(rc, f, r);
	if (err == -EAGAIN)
		iop_qp_frame_free(rc->qp, f); /* not posted: still ours */
	return err;
}

/* A transfer, and its reply judged. @return 0 or -errno. */
static int transfer(struct raw_chan *rc, uint8_t function, uint64_t addr, const struct iop_buf *b,
		    unsigned n, struct xfer_reply *x)
{
	struct raw_reply r;
	uint32_t tc;
	int err = transfer_raw(rc, function, addr, b, n, &r, &tc);

	memset(x, 0, sizeof(*x));
	if (err == 0)
		judge(rc, &r, function, tc, x);
	return err;
}

/*
 * Write `blocks` blocks at block `blk` through n buffers (pattern `seed`), or
 * read them through n buffers and compare. The count asked of the target
 * is at most MAX_TRANSFER. @return true when it answered SUCCESS with every
 * byte moved and, for a read, every byte as written.
 */
static bool rw_blocks(struct raw_chan *rc, const struct geometry *g, uint8_t function,
		      uint64_t blk, uint32_t blocks, unsigned n, uint32_t seed)
{
	bool write = function != IOP_BSA_BLOCK_READ;
	uint32_t len = blocks * g->bs;
	uint64_t addr = blk * g->bs;
	struct iop_buf b[MAX_BUFS];
	struct xfer_reply x;
	bool good = false;

	if (!buffers(rc, len, n, UNTOUCHED, b)) {
		CU_FAIL("inbound heap short of buffers");
		buffers_free(rc, b, n);
		return false;
	}
	if (write)
		pattern_bufs(b, n, addr, seed, true);
	if (transfer(rc, function, addr, b, n, &x) != 0) {
		CU_FAIL("no reply to a transfer");
	} else {
		good = x.ok && x.status == IOP_REPLY_STATUS_SUCCESS && x.count == len &&
		       (write || pattern_bufs(b, n, addr, seed, false) == len);
		if (!good)
			fprintf(stderr,
				"  function 0x%02x, block %llu, %u blocks in %u buffers: reply %s, "
				"status 0x%02x, DSC 0x%04x, TransferCount %u of %u%s\n",
				function, (unsigned long long)blk, blocks, n,
				x.ok ? "ok" : x.why, x.status, x.dsc, x.count, len,
				write || !x.ok ? "" : ", data differs from the pattern written");
		if (!good && !write && x.ok)
			fprintf(stderr, "  (pattern seed 0x%08x; run seed 0x%08x: --seed to repeat)\n",
				seed, conform.seed);
	}
	buffers_free(rc, b, n);
	return good;
}

/* The blocks the checks use, whatever the block size: at most MAX_TRANSFER bytes. */
static uint32_t blocks(const struct geometry *g, uint32_t want)
{
	uint32_t most = MAX_TRANSFER / g->bs;

	return want < most ? want : most;
}

/*
 * Ranges that do not overlap, written first and then read back, so that a
 * target that ignores the address (or keeps one block) is seen: one block;
 * multi-block through one buffer; through three and four buffers cut inside
 * blocks; the device's last two blocks. Each read is cut otherwise than its
 * write. All of it twice, with two patterns: a device that already held
 * the first (an image from an earlier run with this seed) fails on the
 * second, so a target that drops writes cannot pass on data that was there.
 * Then a few blocks from inside a range, alone.
 */
static void check_read_after_write(void)
{
	const struct {
		uint64_t blk; /* from the start, or from the end when negative */
		uint32_t blocks;
		unsigned write_bufs, read_bufs;
	} ranges[] = {
		{ 0, 1, 1, 2 }, { 2, 8, 1, 3 }, { 12, 5, 3, 1 }, { 20, 16, 4, 2 },
		{ (uint64_t)-2, 2, 2, 1 },
	};
	enum { N = sizeof(ranges) / sizeof(ranges[0]) };
	const uint32_t seeds[2] = { seed_of(0x5EED0001u), seed_of(0x5EED0002u) };
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;

	if (!bsa_up(&fx, &rc, &g))
		return;
	for (int round = 0; round < 2; round++) {
		for (int pass = 0; pass < 2; pass++) {
			for (unsigned i = 0; i < N; i++) {
				uint64_t blk = ranges[i].blk;
				uint32_t n = blocks(&g, ranges[i].blocks);

				if ((int64_t)blk < 0)
					blk += g.cap / g.bs;
				CU_ASSERT_TRUE(rw_blocks(
					&rc, &g, pass == 0 ? IOP_BSA_BLOCK_WRITE : IOP_BSA_BLOCK_READ,
					blk, n, pass == 0 ? ranges[i].write_bufs : ranges[i].read_bufs,
					seeds[round]));
			}
		}
	}
	/* Blocks 3-5 of the second range: the address counts to the block. */
	if (blocks(&g, 8) >= 6) {
		CU_ASSERT_TRUE(rw_blocks(&rc, &g, IOP_BSA_BLOCK_READ, 2 + 3, 3, 2, seeds[1]));
	}
	check_down(&fx, &rc);
}

/* Blocks [blk, blk + n) as the target reads them now, into out. @return false if it could not. */
static bool read_blocks(struct raw_chan *rc, const struct geometry *g, uint64_t blk, uint32_t n,
			uint8_t *out)
{
	uint32_t len = n * g->bs;
	struct iop_buf b = { raw_buf(rc, len, UNTOUCHED), len };
	struct xfer_reply x;
	bool good;

	if (b.addr == NULL)
		return false;
	good = transfer(rc, IOP_BSA_BLOCK_READ, blk * g->bs, &b, 1, &x) == 0 && x.ok &&
	       x.status == IOP_REPLY_STATUS_SUCCESS && x.count == len;
	if (good)
		memcpy(out, b.addr, len);
	raw_buf_free(rc, b.addr);
	return good;
}

/*
 * What a check that sends writes to be refused compares: blocks [blk, blk +
 * n) read before and after. Written first with data of their own, so that a
 * refused write that went through anyway changes them. However large the
 * blocks, each transfer stays within MAX_TRANSFER (blocks()): the guarded
 * range is written and read in pieces.
 */
struct guard {
	uint64_t blk;
	uint32_t n;
	uint8_t *before, *after;
};

/* Blocks [blk, blk + n) read into out, in transfers of at most MAX_TRANSFER. */
static bool read_range(struct raw_chan *rc, const struct geometry *g, uint64_t blk, uint32_t n,
		       uint8_t *out)
{
	for (uint32_t done = 0, step; done < n; done += step) {
		step = blocks(g, n - done);
		if (!read_blocks(rc, g, blk + done, step, out + (size_t)done * g->bs))
			return false;
	}
	return true;
}

static bool guard_set(struct raw_chan *rc, const struct geometry *g, struct guard *gd,
		      uint64_t blk, uint32_t n)
{
	gd->blk = blk;
	gd->n = n;
	gd->before = malloc((size_t)n * g->bs);
	gd->after = malloc((size_t)n * g->bs);
	if (gd->before == NULL || gd->after == NULL) {
		CU_FAIL("out of memory");
		return false;
	}
	for (uint32_t done = 0, step; done < n; done += step) {
		step = blocks(g, n - done);
		CU_ASSERT_TRUE(rw_blocks(rc, g, IOP_BSA_BLOCK_WRITE, blk + done, step, 1,
					 seed_of(0xB0u)));
	}
	if (!read_range(rc, g, blk, n, gd->before)) {
		CU_FAIL("the guarded blocks could not be read");
		return false;
	}
	return true;
}

/* The guarded blocks as they were; and the guard freed. */
static void guard_check(struct raw_chan *rc, const struct geometry *g, struct guard *gd, bool set)
{
	if (set) {
		CU_ASSERT_TRUE(read_range(rc, g, gd->blk, gd->n, gd->after));
		if (memcmp(gd->before, gd->after, (size_t)gd->n * g->bs) != 0)
			CU_FAIL("a refused write changed the device");
	}
	free(gd->before);
	free(gd->after);
}

static void check_device_info(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;
	uint8_t *last;

	if (!check_up(&fx, &rc))
		return;
	/* geometry() fails the check itself: no group, or one no disk would have. */
	if (geometry(&rc, &g)) {
		/* The last block is there to read: the capacity is the device's. */
		last = malloc(g.bs);
		CU_ASSERT_TRUE(last != NULL && read_blocks(&rc, &g, g.cap / g.bs - 1, 1, last));
		free(last);
	}
	check_down(&fx, &rc);
}

/*
 * A transfer the target must refuse: ERROR_NO_DATA_TRANSFER with this DSC,
 * TransferCount 0, and for a read the host's buffers as they were.
 */
static void refused(struct raw_chan *rc, uint8_t function, uint64_t addr, uint32_t len,
		    unsigned n, uint16_t dsc, const char *what)
{
	struct iop_buf b[MAX_BUFS];
	struct xfer_reply x;
	bool good = false;

	if (!buffers(rc, len, n, UNTOUCHED, b)) {
		CU_FAIL("inbound heap short of buffers");
	} else if (transfer(rc, function, addr, b, n, &x) != 0) {
		CU_FAIL("no reply to a transfer it should refuse");
	} else {
		good = x.ok && x.status == IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER &&
		       x.dsc == dsc && x.count == 0 &&
		       (function != IOP_BSA_BLOCK_READ || untouched(b, n));
		if (!good)
			fprintf(stderr,
				"  %s (function 0x%02x at 0x%llx, %u bytes): reply %s, status "
				"0x%02x, DSC 0x%04x, TransferCount %u; want 0x05, 0x%04x, 0%s\n",
				what, function, (unsigned long long)addr, len,
				x.ok ? "ok" : x.why, x.status, x.dsc, x.count, dsc,
				function == IOP_BSA_BLOCK_READ && !untouched(b, n)
					? "; the read wrote into the host's buffers"
					: "");
		CU_ASSERT_TRUE(good);
	}
	buffers_free(rc, b, n);
}

/*
 * Ranges past the capacity: at it, across it (the in-range part must not be
 * written either), far past it, and an address whose sum with the count
 * wraps 64 bits. Each: ERROR_NO_DATA_TRANSFER, ACCESS_VIOLATION (docs/bsa.md),
 * TransferCount 0, nothing read into the host's buffers, the last block as
 * it was.
 */
static void check_out_of_bounds_refused(void)
{
	const uint16_t av = IOP_BSA_DSC_ACCESS_VIOLATION;
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;
	struct guard gd = { 0 };
	bool set;

	if (!bsa_up(&fx, &rc, &g))
		return;
	set = guard_set(&rc, &g, &gd, g.cap / g.bs - 1, 1);
	refused(&rc, IOP_BSA_BLOCK_READ, g.cap, g.bs, 1, av, "a read at the capacity");
	refused(&rc, IOP_BSA_BLOCK_READ, g.cap - g.bs, 2 * g.bs, 2, av, "a read across the end");
	refused(&rc, IOP_BSA_BLOCK_WRITE, g.cap - g.bs, 2 * g.bs, 2, av,
		"a write across the end");
	refused(&rc, IOP_BSA_BLOCK_WRITE, g.cap, g.bs, 1, av, "a write at the capacity");
	refused(&rc, IOP_BSA_BLOCK_READ, g.cap + 64ull * g.bs, g.bs, 1, av, "a read far past");
	refused(&rc, IOP_BSA_BLOCK_WRITE, 1ull << 63, g.bs, 1, av, "a write at 2^63");
	refused(&rc, IOP_BSA_BLOCK_WRITE, 0 - (uint64_t)g.bs, 2 * g.bs, 1, av,
		"a write whose end wraps 64 bits");
	guard_check(&rc, &g, &gd, set);
	check_down(&fx, &rc);
}

/*
 * Transfers that are not whole blocks: an address inside a block, a count
 * that ends inside one. ERROR_NO_DATA_TRANSFER, ACCESS_ERROR, nothing moved.
 */
static void check_partial_blocks_refused(void)
{
	const uint16_t ae = IOP_BSA_DSC_ACCESS_ERROR;
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;
	struct guard gd = { 0 };
	bool set;

	if (!bsa_up(&fx, &rc, &g))
		return;
	set = guard_set(&rc, &g, &gd, 0, 6);
	refused(&rc, IOP_BSA_BLOCK_READ, g.bs / 2, g.bs, 1, ae, "a read inside a block");
	refused(&rc, IOP_BSA_BLOCK_WRITE, 3ull * g.bs + 4, g.bs, 2, ae, "a write inside a block");
	refused(&rc, IOP_BSA_BLOCK_READ, 0, g.bs + g.bs / 2, 2, ae, "a read ending inside a block");
	refused(&rc, IOP_BSA_BLOCK_WRITE, g.bs, g.bs - 4, 1, ae, "a write shorter than a block");
	refused(&rc, IOP_BSA_BLOCK_WRITE, 4ull * g.bs, 2 * g.bs + g.bs / 2, 3, ae,
		"a write of whole blocks and a piece");
	guard_check(&rc, &g, &gd, set);
	check_down(&fx, &rc);
}

/* How sgl_refused() spoils a one-block transfer's SGL (at word 8: header, address). */
enum sgl_spoil {
	SGL_WINDOW_HEADER, /* the buffer at offset 0: the window's header, not host memory */
	SGL_PAST_WINDOW,   /* the buffer 4 GiB - 4 KiB in: past the window's end */
	SGL_PAST_HEAP,     /* the buffer starts in the inbound heap and runs past its end */
	SGL_SHORT,         /* the buffer 4 bytes shorter than TransferByteCount */
	SGL_NONE,          /* SGL offset 0: no list at all */
	SGL_IMMEDIATE,     /* 16 bytes of immediate data, then the rest in the buffer */
};

/*
 * Word 0's SGL offset (bits 4-7) and MessageSize (bits 16-31) of a frame
 * whose list now ends at `words`.
 */
static void set_sgl(uint32_t *f, unsigned sgl_offset, unsigned words)
{
	uint32_t w0 = le32toh(f[0]);

	f[0] = htole32((w0 & 0xFF0Fu) | sgl_offset << 4 | (uint32_t)words << 16);
}

/* Rewrite the built list of one buffer b (window offset off) as `how` says. */
static void spoil_sgl(const struct raw_chan *rc, uint32_t *f, size_t bytes, uint32_t off,
		      uint32_t len, enum sgl_spoil how)
{
	struct iop_sgl_bounds b;
	struct iop_sgl_writer w;
	static const uint8_t head[16] = { 0 };
	uint32_t hdr = le32toh(f[8]);

	switch (how) {
	case SGL_WINDOW_HEADER:
		f[9] = 0;
		break;
	case SGL_PAST_WINDOW:
		f[9] = htole32(0xFFFFF000u);
		break;
	case SGL_PAST_HEAP:
		iop_window_sgl_bounds(rc->fx->w, &b);
		f[9] = htole32((uint32_t)(b.hi - 16));
		break;
	case SGL_SHORT:
		f[8] = htole32((hdr & 0xFF000000u) | (len - 4));
		break;
	case SGL_NONE:
		set_sgl(f, 0, 8);
		break;
	case SGL_IMMEDIATE:
		iop_sgl_writer_init(&w, f + 8, bytes / 4 - 8);
		iop_sgl_add_immediate(&w, head, sizeof(head), 0);
		iop_sgl_add_simple(&w, off + sizeof(head), len - sizeof(head),
				   IOP_SGL_END_OF_BUFFER);
		set_sgl(f, 8, 8 + (unsigned)iop_sgl_finish(&w));
		break;
	}
}

/*
 * One block at block 0 through an SGL spoiled as `how` says: refused with
 * ERROR_NO_DATA_TRANSFER, this DSC, TransferCount 0, and for a read the
 * host's buffer as it was. The target must judge the list before it touches
 * what it names: a buffer outside the heap is not the host's to give.
 */
static void sgl_refused(struct raw_chan *rc, const struct geometry *g, uint8_t function,
			enum sgl_spoil how, uint16_t dsc, const char *what)
{
	size_t bytes = 128;
	uint32_t *f = raw_frame(rc, bytes);
	struct iop_buf b = { raw_buf(rc, g->bs, UNTOUCHED), g->bs };
	struct raw_reply r;
	struct xfer_reply x;
	uint32_t tc;
	int err;

	if (f == NULL || b.addr == NULL ||
	    iop_build_bsa_rw(f, bytes, rc->fx->tid, function, 0, rc->fx->w, &b, 1) < 0) {
		CU_FAIL("no frame or buffer for a transfer");
		if (f != NULL)
			iop_qp_frame_free(rc->qp, f);
		raw_buf_free(rc, b.addr);
		return;
	}
	spoil_sgl(rc, f, bytes, iop_window_mfa(rc->fx->w, b.addr), g->bs, how);
	tc = raw_contexts(rc, f);
	err = raw_call(rc, f, &r);
	if (err == -EAGAIN)
		iop_qp_frame_free(rc->qp, f);
	if (err != 0) {
		fprintf(stderr, "  %s: no reply\n", what);
		CU_FAIL("no reply to a transfer with a bad SGL");
	} else {
		judge(rc, &r, function, tc, &x);
		if (!x.ok || x.status != IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER || x.dsc != dsc ||
		    x.count != 0 || !untouched(&b, 1)) {
			fprintf(stderr,
				"  %s (function 0x%02x): reply %s, status 0x%02x, DSC 0x%04x, "
				"TransferCount %u; want 0x05, 0x%04x, 0%s\n",
				what, function, x.ok ? "ok" : x.why, x.status, x.dsc, x.count, dsc,
				untouched(&b, 1) ? "" : "; the host's buffer changed");
			CU_FAIL("a transfer with a bad SGL not refused as docs/bsa.md says");
		}
	}
	raw_buf_free(rc, b.addr);
}

/*
 * SGLs a host may get wrong, each on a read and a write of block 0: a
 * buffer in the window's header, past the window, running off the inbound
 * heap's end (the walker's INVALID_OFFSET); buffers short of
 * TransferByteCount, no list, immediate data in a read (INVALID_PARAMETER).
 * Blocks 0-1 as they were, and the target still reads them afterwards.
 */
static void check_bad_sgl_refused(void)
{
	static const struct {
		enum sgl_spoil how;
		uint16_t dsc;
		const char *what;
	} bad[] = {
		{ SGL_WINDOW_HEADER, IOP_DSC_INVALID_OFFSET, "a buffer in the window's header" },
		{ SGL_PAST_WINDOW, IOP_DSC_INVALID_OFFSET, "a buffer past the window" },
		{ SGL_PAST_HEAP, IOP_DSC_INVALID_OFFSET, "a buffer past the inbound heap's end" },
		{ SGL_SHORT, IOP_DSC_INVALID_PARAMETER, "a buffer short of the count" },
		{ SGL_NONE, IOP_DSC_INVALID_PARAMETER, "no SGL" },
	};
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;
	struct guard gd = { 0 };
	bool set;

	if (!bsa_up(&fx, &rc, &g))
		return;
	set = guard_set(&rc, &g, &gd, 0, 2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sgl_refused(&rc, &g, IOP_BSA_BLOCK_READ, bad[i].how, bad[i].dsc, bad[i].what);
		sgl_refused(&rc, &g, IOP_BSA_BLOCK_WRITE, bad[i].how, bad[i].dsc, bad[i].what);
	}
	sgl_refused(&rc, &g, IOP_BSA_BLOCK_READ, SGL_IMMEDIATE, IOP_DSC_INVALID_PARAMETER,
		    "immediate data in a read");
	guard_check(&rc, &g, &gd, set);
	check_down(&fx, &rc);
}

/* A request of the class with no payload (4 words), and its reply; *tc the request's. */
static int bare_call(struct raw_chan *rc, uint8_t function, struct raw_reply *r, uint32_t *tc)
{
	uint32_t *f = raw_frame(rc, 32);
	int rc_;

	if (f == NULL || iop_build_bsa(f, 32, rc->fx->tid, function) < 0) {
		if (f != NULL)
			iop_qp_frame_free(rc->qp, f);
		return -ENOMEM;
	}
	*tc = raw_contexts(rc, f);
	rc_ = raw_call(rc, f, r);
	if (rc_ == -EAGAIN)
		iop_qp_frame_free(rc->qp, f);
	return rc_;
}

/*
 * CacheFlush after writes: a 5-word SUCCESS reply of the function. A host
 * sends it before it trusts a write to stable storage (the Linux i2o_block
 * driver on every flush): a target without a cache still answers it.
 */
static void check_cache_flush(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct geometry g;
	uint32_t tc;

	if (!check_up(&fx, &rc))
		return;
	if (geometry(&rc, &g)) {
		CU_ASSERT_TRUE(rw_blocks(&rc, &g, IOP_BSA_BLOCK_WRITE, 4, blocks(&g, 4), 2,
					 seed_of(0xF1u)));
		if (bare_call(&rc, IOP_BSA_CACHE_FLUSH, &r, &tc) != 0) {
			CU_FAIL("no reply to CacheFlush");
		} else {
			CU_ASSERT_PTR_NULL(not_ours(&rc, &r, tc));
			CU_ASSERT(reply_flags(&r) & IOP_MSG_REPLY);
			CU_ASSERT_FALSE(reply_flags(&r) & (IOP_MSG_FAIL | IOP_MSG_MULTIPLE));
			CU_ASSERT_EQUAL(reply_function(&r), IOP_BSA_CACHE_FLUSH);
			CU_ASSERT_EQUAL(reply_req_status(&r), IOP_REPLY_STATUS_SUCCESS);
			CU_ASSERT_EQUAL(reply_dsc(&r), IOP_BSA_DSC_SUCCESS);
		}
	}
	check_down(&fx, &rc);
}

/*
 * WriteVerify, where the target lists it: SUCCESS with every byte counted,
 * and the data there when read. A target that does not list it must refuse
 * it as unsupported (the runtime does so for it), not take it as a write.
 */
static void check_write_verify(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct geometry g;

	if (!bsa_up(&fx, &rc, &g))
		return;
	if (ddm_lists(IOP_BSA_WRITE_VERIFY)) {
		const uint32_t seed = seed_of(0xA1u);

		CU_ASSERT_TRUE(rw_blocks(&rc, &g, IOP_BSA_WRITE_VERIFY, 30, blocks(&g, 6), 3, seed));
		CU_ASSERT_TRUE(rw_blocks(&rc, &g, IOP_BSA_BLOCK_READ, 30, blocks(&g, 6), 1, seed));
	} else {
		struct iop_buf b = { raw_buf(&rc, g.bs, 0x11), g.bs };
		struct raw_reply r;
		uint32_t tc;

		if (b.addr == NULL) {
			CU_FAIL("inbound heap short of buffers");
		} else if (transfer_raw(&rc, IOP_BSA_WRITE_VERIFY, 0, &b, 1, &r, &tc) != 0) {
			CU_FAIL("no reply to WriteVerify");
		} else {
			CU_ASSERT_PTR_NULL(not_ours(&rc, &r, tc));
			CU_ASSERT_FALSE(reply_flags(&r) & IOP_MSG_MULTIPLE);
			CU_ASSERT_NOT_EQUAL(reply_req_status(&r), IOP_REPLY_STATUS_SUCCESS);
			CU_ASSERT_EQUAL(reply_dsc(&r), IOP_DSC_UNSUPPORTED_FUNCTION);
		}
		raw_buf_free(&rc, b.addr);
	}
	check_down(&fx, &rc);
}

const struct conform_check conform_bsa[] = {
	{ "device_info", check_device_info },
	{ "read_after_write", check_read_after_write },
	{ "out_of_bounds_refused", check_out_of_bounds_refused },
	{ "partial_blocks_refused", check_partial_blocks_refused },
	{ "bad_sgl_refused", check_bad_sgl_refused },
	{ "cache_flush", check_cache_flush },
	{ "write_verify", check_write_verify },
	{ NULL, NULL },
};
