/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopool-demo: the heap at work, as the IOP uses it. Walks through the
 * patent's example (HeapCreate(5000), splits, coalescing), then runs a frame's
 * life between a host thread and an IOP thread through a frame window: the
 * host allocates and encodes requests in the inbound heap and posts their MFAs
 * in bursts on its channel; the IOP finds each frame's block from its MFA,
 * validates it, answers with a reply from the outbound heap and frees the
 * request; the host checks the replies and frees them. Each heap is allocated
 * on one side and freed on the other.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iop_channel.h"
#include "iop_frame.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_version.h"
#include "iop_window.h"

#define DEMO_DDM_TID 0x010u
#define BURST 32u

struct demo {
	struct iop_window *w;
	struct iop_channel host; /* the host thread's view of its channel */
	struct iop_channel iop;  /* the IOP thread's view of the same slot */
	uint64_t frames;
	_Atomic uint64_t retries;
	_Atomic uint64_t bad;
};

static void show(const char *step, const struct iop_heap *h)
{
	struct iop_heap_stats s;
	char orders[256] = "";
	size_t used = 0;

	iop_heap_stats(h, &s);
	for (uint32_t k = s.min_order; k <= s.max_order; k++)
		if (s.free_blocks[k] != 0)
			used += (size_t)snprintf(orders + used, sizeof(orders) - used, " %" PRIu64 "x%u",
						 s.free_blocks[k], 1u << k);
	printf("  %-28s free %6" PRIu64 "  in use %6" PRIu64 "  free blocks:%s\n", step,
	       s.bytes_free, s.bytes_in_use, orders[0] ? orders : " none");
}

static int patent_walkthrough(void)
{
	/*
	 * The free blocks printed after each HeapFree show the coalescing, which
	 * the patent's heap does at once. With thread caches (the default) a freed
	 * small block may wait in this thread's cache instead, so the walkthrough
	 * asks for the heap without them.
	 */
	struct iop_heap_opts patent = { .flags = IOP_HEAP_F_NO_CACHE };
	struct iop_heap *h = iop_heap_create(5000, &patent);
	void *a, *b, *c;

	if (h == NULL) {
		perror("iop_heap_create");
		return -1;
	}
	printf("HeapCreate(5000): %zu bytes (2^%u), smallest block %zu\n", iop_heap_size(h),
	       (unsigned)__builtin_ctzll(iop_heap_size(h)), iop_heap_min_block(h));
	show("after create", h);
	a = iop_heap_alloc(h, 1000);
	show("HeapAlloc(1000) -> 1024", h);
	b = iop_heap_alloc(h, 100);
	show("HeapAlloc(100) -> 128", h);
	c = iop_heap_alloc(h, 3000);
	show("HeapAlloc(3000) -> 4096", h);
	iop_heap_free(h, b, 100);
	show("HeapFree(128 block)", h);
	iop_heap_free(h, a, 1000);
	show("HeapFree(1024 block)", h);
	iop_heap_free(h, c, 3000);
	show("HeapFree(4096 block)", h);
	printf("  double free is refused: %s\n", strerror(-iop_heap_free(h, c, 3000)));
	printf("  heap check: %s\n", iop_heap_check(h) == 0 ? "ok" : "BROKEN");
	iop_heap_destroy(h);
	return 0;
}

static uint32_t frame_size(uint64_t i)
{
	/* Request sizes an IOP sees: mostly small control frames, some packets. */
	static const uint32_t sizes[] = { 64, 128, 64, 256, 1514, 64, 512, 2048 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

/* Host side: build a UtilParamsGet for the DDM at TID 0x010; NULL when the heap is full. */
static uint32_t *build_request(struct demo *d, uint64_t seq)
{
	uint32_t size = frame_size(seq);
	uint32_t *f = iop_heap_alloc(iop_window_inbound(d->w), size);
	struct iop_msg_hdr m = {
		.version = IOP_MSG_VERSION_1_5,
		.size_words = (uint16_t)(size / 4),
		.target_tid = DEMO_DDM_TID,
		.initiator_tid = IOP_TID_HOST,
		.function = IOP_UTIL_PARAMS_GET,
		.initiator_context = 0x1005,
		.transaction_context = (uint32_t)seq,
	};

	if (f == NULL) {
		atomic_fetch_add(&d->retries, 1);
		return NULL;
	}
	iop_msg_hdr_encode(&m, f);
	return f;
}

/* Host side: a reply must echo our contexts and say SUCCESS; then free it. */
static void take_reply(struct demo *d, uint32_t mfa, uint64_t expect_seq)
{
	uint32_t *r = iop_window_frame(d->w, mfa);
	struct iop_msg_hdr m;
	uint8_t status;
	uint16_t dsc;

	if (r == NULL) {
		atomic_fetch_add(&d->bad, 1);
		return;
	}
	iop_msg_hdr_decode(r, &m);
	if (iop_reply_status(r, &status, &dsc) != 0 || status != IOP_REPLY_STATUS_SUCCESS ||
	    m.transaction_context != (uint32_t)expect_seq || m.initiator_context != 0x1005)
		atomic_fetch_add(&d->bad, 1);
	iop_heap_free(iop_window_outbound(d->w), r, IOP_REPLY_WORDS * 4);
}

static void *host_thread(void *arg)
{
	struct demo *d = arg;
	uint32_t pending[BURST], replies[BURST];
	unsigned npending = 0;
	uint64_t built = 0, taken = 0;

	while (taken < d->frames) {
		unsigned n;

		while (npending < BURST && built < d->frames) {
			uint32_t *f = build_request(d, built);

			if (f == NULL)
				break;
			pending[npending++] = iop_window_mfa(d->w, f);
			built++;
		}
		/* A full ring takes part of the burst; the rest stays pending, in order. */
		n = iop_mfa_ring_post(d->host.to_iop, pending, npending);
		memmove(pending, pending + n, (npending - n) * sizeof(pending[0]));
		npending -= n;
		n = iop_mfa_ring_take(d->host.to_host, replies, BURST);
		for (unsigned i = 0; i < n; i++)
			take_reply(d, replies[i], taken++);
	}
	return NULL;
}

/* IOP side: validate each untrusted frame, reply from the outbound heap, free the request. */
static void *iop_thread(void *arg)
{
	struct demo *d = arg;
	uint64_t done = 0;

	while (done < d->frames) {
		uint32_t mfas[BURST], replies[BURST];
		unsigned n = iop_mfa_ring_take(d->iop.to_iop, mfas, BURST), posted = 0;

		for (unsigned i = 0; i < n; i++) {
			struct iop_frame_verdict v;
			struct iop_msg_hdr m;
			size_t block;
			uint32_t *f = iop_window_frame_block(d->w, mfas[i], &block), *r;

			if (f == NULL || iop_frame_validate(f, block, &v) != 0) {
				atomic_fetch_add(&d->bad, 1);
				replies[i] = IOP_MFA_EMPTY;
				continue;
			}
			iop_msg_hdr_decode(f, &m);
			while ((r = iop_heap_alloc(iop_window_outbound(d->w), IOP_REPLY_WORDS * 4)) ==
			       NULL)
				atomic_fetch_add(&d->retries, 1);
			iop_reply_build(&m, DEMO_DDM_TID, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS, r,
					IOP_REPLY_WORDS);
			iop_heap_free(iop_window_inbound(d->w), f, block);
			replies[i] = iop_window_mfa(d->w, r);
		}
		/* The IOP never drops a reply: a full ring is waited out. */
		while (posted < n)
			posted += iop_mfa_ring_post(d->iop.to_host, replies + posted, n - posted);
		done += n;
	}
	return NULL;
}

/* Every frame back, and merged back into one block once the merges frees defer are done. */
static bool all_free(struct iop_heap *h)
{
	struct iop_heap_stats s;

	iop_heap_coalesce(h);
	return iop_heap_stats(h, &s) == 0 && s.largest_free == s.heap_bytes;
}

static int frame_traffic(uint64_t frames)
{
	/* Default heap options: thread caches, as an IOP runs them. */
	struct iop_window_opts wo = { .inbound_bytes = 4u << 20, .outbound_bytes = 1u << 20 };
	struct demo *d = calloc(1, sizeof(*d));
	struct iop_window_info info;
	pthread_t host, iop;
	struct timespec t0, t1;
	double secs;
	int rc = 0;

	if (d == NULL)
		return -1;
	d->frames = frames;
	d->w = iop_window_create(&wo);
	if (d->w == NULL) {
		perror("iop_window_create");
		free(d);
		return -1;
	}
	if (iop_channel_open(d->w, &d->host) != 0 ||
	    iop_channel_lookup(d->w, d->host.id, &d->iop) != IOP_CHANNEL_OPEN) {
		fprintf(stderr, "iop_channel_open: no channel\n");
		iop_window_close(d->w);
		free(d);
		return -1;
	}
	iop_window_info(d->w, &info);
	printf("\nFrame traffic: %" PRIu64 " UtilParamsGet requests, host thread -> IOP thread -> "
	       "host thread\n", frames);
	printf("  frame window %zu KiB on %s pages (fd %d): inbound heap %zu KiB, outbound %zu KiB,"
	       " thread caches on\n", info.total_bytes >> 10, info.hugepages ? "huge" : "ordinary",
	       iop_window_fd(d->w), iop_heap_size(iop_window_inbound(d->w)) >> 10,
	       iop_heap_size(iop_window_outbound(d->w)) >> 10);
	printf("  each request: allocated, encoded, posted as an MFA on channel %u (bursts of %u),"
	       " validated, answered with a reply frame, freed\n", d->host.id, BURST);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&iop, NULL, iop_thread, d);
	pthread_create(&host, NULL, host_thread, d);
	pthread_join(host, NULL);
	pthread_join(iop, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("  %" PRIu64 " round trips in %.3f s: %.2f M requests/s, %" PRIu64
	       " bad replies, %" PRIu64 " allocation retries\n",
	       frames, secs, (double)frames / secs / 1e6, atomic_load(&d->bad),
	       atomic_load(&d->retries));
	show("inbound at the end", iop_window_inbound(d->w));
	show("outbound at the end", iop_window_outbound(d->w));
	if (atomic_load(&d->bad) != 0 || iop_heap_check(iop_window_inbound(d->w)) != 0 ||
	    iop_heap_check(iop_window_outbound(d->w)) != 0 || !all_free(iop_window_inbound(d->w)) ||
	    !all_free(iop_window_outbound(d->w))) {
		printf("  heap check: BROKEN\n");
		rc = -1;
	} else {
		printf("  heap check: ok, every frame returned and merged back\n");
	}
	iop_window_close(d->w);
	free(d);
	return rc;
}

int main(int argc, char **argv)
{
	uint64_t frames = 1000000;
	int opt;

	while ((opt = getopt(argc, argv, "n:h")) != -1) {
		switch (opt) {
		case 'n':
			frames = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr, "usage: %s [-n frames]\n", argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	printf("iopool %s heap demo\n\n", iop_version());
	if (patent_walkthrough() != 0 || frame_traffic(frames) != 0)
		return 1;
	return 0;
}
