/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopool-demo: the heap at work, as the IOP uses it. Walks through the
 * patent's example (HeapCreate(5000), splits, coalescing), then runs a host
 * thread that allocates request frames from an inbound heap and an IOP thread
 * that frees them and allocates replies from an outbound heap, which the host
 * frees: each heap is allocated on one side and freed on the other.
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

#include "iop_heap.h"
#include "iop_version.h"

#define QUEUE_SLOTS 1024u

/* A single-producer single-consumer queue of frame pointers. */
struct frame_queue {
	_Alignas(64) _Atomic uint64_t head;
	_Alignas(64) _Atomic uint64_t tail;
	void *slot[QUEUE_SLOTS];
	size_t size[QUEUE_SLOTS];
};

struct demo {
	struct iop_heap *inbound;
	struct iop_heap *outbound;
	struct frame_queue requests;
	struct frame_queue replies;
	uint64_t frames;
	_Atomic uint64_t retries;
};

static int queue_put(struct frame_queue *q, void *p, size_t size)
{
	uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);

	if (t - atomic_load_explicit(&q->head, memory_order_acquire) == QUEUE_SLOTS)
		return -EAGAIN;
	q->slot[t % QUEUE_SLOTS] = p;
	q->size[t % QUEUE_SLOTS] = size;
	atomic_store_explicit(&q->tail, t + 1, memory_order_release);
	return 0;
}

static void *queue_get(struct frame_queue *q, size_t *size)
{
	uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
	void *p;

	if (h == atomic_load_explicit(&q->tail, memory_order_acquire))
		return NULL;
	p = q->slot[h % QUEUE_SLOTS];
	*size = q->size[h % QUEUE_SLOTS];
	atomic_store_explicit(&q->head, h + 1, memory_order_release);
	return p;
}

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
	struct iop_heap *h = iop_heap_create(5000, NULL);
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

static size_t frame_size(uint64_t i)
{
	/* Request sizes an IOP sees: mostly small control frames, some packets. */
	static const size_t sizes[] = { 64, 128, 64, 256, 1514, 64, 512, 2048 };

	return sizes[i % (sizeof(sizes) / sizeof(sizes[0]))];
}

static void *host_thread(void *arg)
{
	struct demo *d = arg;
	uint64_t sent = 0, replies = 0;

	while (replies < d->frames) {
		size_t size;
		void *r;

		if (sent < d->frames) {
			void *f = iop_heap_alloc(d->inbound, frame_size(sent));

			if (f != NULL) {
				memset(f, (int)(sent & 0xff), 16);
				if (queue_put(&d->requests, f, frame_size(sent)) == 0)
					sent++;
				else
					iop_heap_free(d->inbound, f, frame_size(sent));
			} else {
				atomic_fetch_add(&d->retries, 1);
			}
		}
		while ((r = queue_get(&d->replies, &size)) != NULL) {
			iop_heap_free(d->outbound, r, size);
			replies++;
		}
	}
	return NULL;
}

static void *iop_thread(void *arg)
{
	struct demo *d = arg;
	uint64_t done = 0;

	while (done < d->frames) {
		size_t size;
		void *f = queue_get(&d->requests, &size);
		void *r;

		if (f == NULL)
			continue;
		while ((r = iop_heap_alloc(d->outbound, 64)) == NULL)
			atomic_fetch_add(&d->retries, 1);
		memcpy(r, f, 16);
		iop_heap_free(d->inbound, f, size);
		while (queue_put(&d->replies, r, 64) != 0)
			;
		done++;
	}
	return NULL;
}

static bool all_free(const struct iop_heap *h)
{
	struct iop_heap_stats s;

	return iop_heap_stats(h, &s) == 0 && s.largest_free == s.heap_bytes;
}

static int frame_traffic(uint64_t frames)
{
	struct demo *d = calloc(1, sizeof(*d));
	pthread_t host, iop;
	struct timespec t0, t1;
	double secs;
	int rc = 0;

	if (d == NULL)
		return -1;
	d->frames = frames;
	d->inbound = iop_heap_create(4u << 20, NULL);
	d->outbound = iop_heap_create(1u << 20, NULL);
	if (d->inbound == NULL || d->outbound == NULL) {
		perror("iop_heap_create");
		return -1;
	}
	printf("\nFrame traffic: %" PRIu64 " requests, host thread -> IOP thread -> host thread\n",
	       frames);
	printf("  inbound heap %zu KiB, outbound heap %zu KiB\n", iop_heap_size(d->inbound) >> 10,
	       iop_heap_size(d->outbound) >> 10);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pthread_create(&iop, NULL, iop_thread, d);
	pthread_create(&host, NULL, host_thread, d);
	pthread_join(host, NULL);
	pthread_join(iop, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("  %" PRIu64 " round trips in %.3f s: %.2f M frames/s each way\n", frames, secs,
	       (double)frames / secs / 1e6);
	show("inbound at the end", d->inbound);
	show("outbound at the end", d->outbound);
	if (iop_heap_check(d->inbound) != 0 || iop_heap_check(d->outbound) != 0 ||
	    !all_free(d->inbound) || !all_free(d->outbound)) {
		printf("  heap check: BROKEN\n");
		rc = -1;
	} else {
		printf("  heap check: ok, every frame returned and merged back\n");
	}
	iop_heap_destroy(d->inbound);
	iop_heap_destroy(d->outbound);
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
