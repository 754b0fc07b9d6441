/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The frame window: a header page, the inbound heap, the outbound heap and
 * the ring area, in one memfd. Everything in it is found through offsets in
 * the header, so a process that attaches maps it anywhere.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "channel_table.h"
#include "heap_layout.h"
#include "heap_tags.h"
#include "iop_sgl.h"
#include "iop_window.h"

#define WINDOW_MAGIC 0x31444e4957504f49ull /* "IOPWIND1" little-endian */
/* 6: the channel table counts its slots' changes (a loop looks for new channels by it). */
#define WINDOW_LAYOUT_VERSION 7u
#define WINDOW_PAGE 4096u
#define WINDOW_HUGE_PAGE (2u << 20)
#define WINDOW_FLAG_HUGEPAGES 0x1u
#define DEFAULT_HEAP_BYTES (16u << 20)
#define DEFAULT_CHANNELS 16u
#define DEFAULT_RING_ENTRIES 1024u

/* At offset 0 of the window; written once by the creator, read by attachers. */
struct window_hdr {
	uint64_t magic;
	uint32_t layout_version;
	uint32_t flags;
	uint64_t total_bytes;
	uint64_t inbound_off, inbound_len;
	uint64_t outbound_off, outbound_len;
	uint64_t rings_off, rings_len;
	/* The heaps' tag tables (the frames' owners): inbound's, then outbound's. */
	uint64_t owners_off, owners_len;
};

struct iop_window {
	int fd;
	char *base;
	size_t len;
	const struct window_hdr *hdr;
	struct iop_heap *inbound;
	struct iop_heap *outbound;
	/*
	 * iop_window_sgl_bounds(), worked out once the heaps are made or
	 * attached (their block areas never move): a host builds a request's
	 * SGL against them on every request.
	 */
	struct iop_sgl_bounds sgl;
};

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

/* Lay the window out into hdr; 0 or a negative errno. */
static int plan(const struct iop_window_opts *o, struct window_hdr *hdr, size_t page)
{
	size_t in = o->inbound_bytes ? o->inbound_bytes : DEFAULT_HEAP_BYTES;
	size_t out = o->outbound_bytes ? o->outbound_bytes : DEFAULT_HEAP_BYTES;
	size_t rings = channel_table_bytes(o->channels, o->ring_entries);
	size_t in_len = iop_heap_footprint(in, o->heap);
	size_t out_len = iop_heap_footprint(out, o->heap);

	if (in_len == 0 || out_len == 0 || rings == 0)
		return -errno;
	memset(hdr, 0, sizeof(*hdr));
	hdr->inbound_off = WINDOW_PAGE;
	hdr->inbound_len = align_up(in_len, WINDOW_PAGE);
	hdr->outbound_off = hdr->inbound_off + hdr->inbound_len;
	hdr->outbound_len = align_up(out_len, WINDOW_PAGE);
	hdr->rings_off = hdr->outbound_off + hdr->outbound_len;
	hdr->rings_len = align_up(rings, WINDOW_PAGE);
	hdr->owners_off = hdr->rings_off + hdr->rings_len;
	hdr->owners_len = align_up(heap_tags_bytes(in, o->heap) + heap_tags_bytes(out, o->heap),
				   WINDOW_PAGE);
	hdr->total_bytes = align_up(hdr->owners_off + hdr->owners_len, page);
	/* Every MFA must fit 32 bits, and 0xFFFFFFFF means "empty". */
	if (hdr->total_bytes > IOP_MFA_EMPTY)
		return -E2BIG;
	return 0;
}

static struct iop_window *map_window(int fd, size_t len)
{
	struct iop_window *w = calloc(1, sizeof(*w));
	void *base;

	if (w == NULL)
		return NULL;
	base = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		free(w);
		return NULL;
	}
	w->fd = fd;
	w->base = base;
	w->len = len;
	w->hdr = base;
	return w;
}

static void unmap_window(struct iop_window *w)
{
	int saved = errno;

	munmap(w->base, w->len);
	close(w->fd);
	free(w);
	errno = saved;
}

/* Bytes of the two heaps' tag tables, which make up the owner area. */
static uint64_t owner_bytes(const struct iop_window *w)
{
	return (iop_heap_size(w->inbound) / iop_heap_min_block(w->inbound) +
		iop_heap_size(w->outbound) / iop_heap_min_block(w->outbound)) * sizeof(uint16_t);
}

/* The heaps' tag tables are where the header says the owner area is. */
static bool owners_sane(const struct iop_window *w)
{
	char *area = w->base + w->hdr->owners_off;
	size_t in = iop_heap_size(w->inbound) / iop_heap_min_block(w->inbound) * sizeof(uint16_t);

	return owner_bytes(w) <= w->hdr->owners_len &&
	       (char *)heap_tags(w->inbound) == area &&
	       (char *)heap_tags(w->outbound) == area + in;
}

/*
 * A memfd of the window's size, mapped. On hugetlbfs pages (huge) the memfd
 * and its size are always granted; whether pages exist shows only at mmap.
 */
static struct iop_window *make_mapped(const struct iop_window_opts *o, struct window_hdr *hdr,
				      bool huge)
{
	struct iop_window *w;
	int rc = plan(o, hdr, huge ? WINDOW_HUGE_PAGE : WINDOW_PAGE);
	int fd;

	if (rc != 0) {
		errno = -rc;
		return NULL;
	}
	fd = memfd_create("iopool-window", MFD_CLOEXEC | (huge ? MFD_HUGETLB : 0));
	if (fd < 0)
		return NULL;
	if (ftruncate(fd, (off_t)hdr->total_bytes) != 0 ||
	    (w = map_window(fd, hdr->total_bytes)) == NULL) {
		int saved = errno;

		close(fd);
		errno = saved;
		return NULL;
	}
	if (huge)
		hdr->flags |= WINDOW_FLAG_HUGEPAGES;
	return w;
}

/* The inbound heap's block area, past its metadata: what an SGL may name. */
static void set_sgl_bounds(struct iop_window *w)
{
	w->sgl.window = w->base;
	w->sgl.lo = (uint64_t)(heap_blocks(w->inbound) - w->base);
	w->sgl.hi = w->sgl.lo + iop_heap_size(w->inbound);
}

struct iop_window *iop_window_create(const struct iop_window_opts *opts)
{
	struct iop_window_opts o = opts != NULL ? *opts : (struct iop_window_opts){ 0 };
	struct window_hdr plan_hdr;
	struct window_hdr *hdr;
	struct iop_window *w = NULL;

	if (o.channels == 0)
		o.channels = DEFAULT_CHANNELS;
	if (o.ring_entries == 0)
		o.ring_entries = DEFAULT_RING_ENTRIES;
	if (!(o.flags & IOP_WINDOW_F_NO_HUGEPAGES))
		w = make_mapped(&o, &plan_hdr, true);
	if (w == NULL)
		w = make_mapped(&o, &plan_hdr, false); /* no hugepages: ordinary pages */
	if (w == NULL)
		return NULL;
	w->inbound = iop_heap_create_in(w->base + plan_hdr.inbound_off, plan_hdr.inbound_len,
					o.inbound_bytes ? o.inbound_bytes : DEFAULT_HEAP_BYTES,
					o.heap);
	w->outbound = iop_heap_create_in(w->base + plan_hdr.outbound_off, plan_hdr.outbound_len,
					 o.outbound_bytes ? o.outbound_bytes : DEFAULT_HEAP_BYTES,
					 o.heap);
	if (w->inbound == NULL || w->outbound == NULL) {
		unmap_window(w);
		return NULL;
	}
	channel_table_init(w->base + plan_hdr.rings_off, plan_hdr.rings_len, o.channels,
			   o.ring_entries);
	/* Each heap tags its frames with their owners in the window's owner area. */
	heap_tags_attach(w->inbound, w->base + plan_hdr.owners_off);
	heap_tags_attach(w->outbound, w->base + plan_hdr.owners_off +
					  heap_tags_bytes(iop_heap_size(w->inbound), o.heap));
	hdr = (struct window_hdr *)w->base;
	*hdr = plan_hdr;
	hdr->magic = 0;
	hdr->layout_version = WINDOW_LAYOUT_VERSION;
	/* The magic last: an attacher never sees a half-made window. */
	atomic_thread_fence(memory_order_release);
	hdr->magic = WINDOW_MAGIC;
	set_sgl_bounds(w);
	return w;
}

/* The header describes this file: in order, in bounds, page aligned. */
static bool header_sane(const struct window_hdr *h, size_t file_bytes)
{
	const uint64_t regions[4][2] = {
		{ h->inbound_off, h->inbound_len },
		{ h->outbound_off, h->outbound_len },
		{ h->rings_off, h->rings_len },
		{ h->owners_off, h->owners_len },
	};
	uint64_t end = WINDOW_PAGE;

	if (h->magic != WINDOW_MAGIC || h->layout_version != WINDOW_LAYOUT_VERSION ||
	    h->total_bytes != file_bytes || h->total_bytes > IOP_MFA_EMPTY)
		return false;
	for (int i = 0; i < 4; i++) {
		if (regions[i][0] < end || regions[i][0] % WINDOW_PAGE != 0 ||
		    regions[i][1] > h->total_bytes - regions[i][0])
			return false;
		end = regions[i][0] + regions[i][1];
	}
	return true;
}

/* A heap must sit wholly inside its region. */
static struct iop_heap *attach_heap(struct iop_window *w, uint64_t off, uint64_t len)
{
	struct iop_heap *h = iop_heap_attach(w->base + off);

	if (h == NULL || h->footprint > len)
		return NULL;
	return h;
}

struct iop_window *iop_window_attach(int fd)
{
	struct stat st;
	struct iop_window *w;
	int own;

	if (fstat(fd, &st) != 0)
		return NULL; /* errno EBADF */
	if (st.st_size < (off_t)WINDOW_PAGE || (uint64_t)st.st_size > IOP_MFA_EMPTY) {
		errno = EPROTO;
		return NULL;
	}
	own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (own < 0)
		return NULL;
	w = map_window(own, (size_t)st.st_size);
	if (w == NULL) {
		close(own);
		return NULL;
	}
	atomic_thread_fence(memory_order_acquire);
	if (!header_sane(w->hdr, (size_t)st.st_size) ||
	    !channel_table_sane(w->base + w->hdr->rings_off, w->hdr->rings_len) ||
	    (w->inbound = attach_heap(w, w->hdr->inbound_off, w->hdr->inbound_len)) == NULL ||
	    (w->outbound = attach_heap(w, w->hdr->outbound_off, w->hdr->outbound_len)) == NULL ||
	    !owners_sane(w)) {
		unmap_window(w);
		errno = EPROTO;
		return NULL;
	}
	set_sgl_bounds(w);
	return w;
}

void iop_window_close(struct iop_window *w)
{
	if (w == NULL)
		return;
	iop_heap_destroy(w->inbound);
	iop_heap_destroy(w->outbound);
	unmap_window(w);
}

int iop_window_fd(const struct iop_window *w)
{
	return w->fd;
}

struct iop_heap *iop_window_inbound(const struct iop_window *w)
{
	return w->inbound;
}

struct iop_heap *iop_window_outbound(const struct iop_window *w)
{
	return w->outbound;
}

int iop_window_info(const struct iop_window *w, struct iop_window_info *info)
{
	if (w == NULL || info == NULL)
		return -EINVAL;
	info->total_bytes = w->hdr->total_bytes;
	info->ring_offset = w->hdr->rings_off;
	info->ring_bytes = w->hdr->rings_len;
	info->channels = channel_table_slots(w->base + w->hdr->rings_off);
	info->ring_entries = channel_table_entries(w->base + w->hdr->rings_off);
	info->owner_bytes = w->hdr->owners_len;
	info->hugepages = (w->hdr->flags & WINDOW_FLAG_HUGEPAGES) != 0;
	return 0;
}

void *iop_window_rings(const struct iop_window *w)
{
	return w->base + w->hdr->rings_off;
}

/* MFAs of a heap's block area, [lo, hi): a window never passes 4 GiB, so they fit. */
static void block_area(const struct iop_window *w, const struct iop_heap *h, uint32_t *lo,
		       uint32_t *hi)
{
	*lo = (uint32_t)(heap_blocks(h) - w->base);
	*hi = (uint32_t)(*lo + iop_heap_size(h));
}

int iop_window_map(const struct iop_window *w, struct iop_window_map *m)
{
	if (w == NULL || m == NULL)
		return -EINVAL;
	m->base = w->base;
	m->inbound = w->inbound;
	m->outbound = w->outbound;
	block_area(w, w->inbound, &m->in_lo, &m->in_hi);
	block_area(w, w->outbound, &m->out_lo, &m->out_hi);
	return 0;
}

uint32_t iop_window_mfa(const struct iop_window *w, const void *p)
{
	const struct {
		struct iop_heap *h;
		uint64_t off;
	} heaps[2] = { { w->inbound, w->hdr->inbound_off }, { w->outbound, w->hdr->outbound_off } };

	for (int i = 0; i < 2; i++) {
		uint32_t o;

		if (iop_heap_ptr_to_offset(heaps[i].h, p, &o) == 0)
			return (uint32_t)(heaps[i].off + o);
	}
	return IOP_MFA_EMPTY;
}

uint32_t iop_window_reply_mfa(const struct iop_window *w, const void *p)
{
	uint32_t o;

	return iop_heap_ptr_to_offset(w->outbound, p, &o) == 0 ?
		       (uint32_t)(w->hdr->outbound_off + o) : IOP_MFA_EMPTY;
}

void *iop_window_frame(const struct iop_window *w, uint32_t mfa)
{
	const struct window_hdr *h = w->hdr;

	if (mfa == IOP_MFA_EMPTY)
		return NULL;
	if (mfa >= h->inbound_off && mfa - h->inbound_off < h->inbound_len)
		return iop_heap_offset_to_ptr(w->inbound, (uint32_t)(mfa - h->inbound_off));
	if (mfa >= h->outbound_off && mfa - h->outbound_off < h->outbound_len)
		return iop_heap_offset_to_ptr(w->outbound, (uint32_t)(mfa - h->outbound_off));
	return NULL;
}

void *iop_window_frame_block(const struct iop_window *w, uint32_t mfa, size_t *block_bytes)
{
	const struct window_hdr *h = w->hdr;
	struct iop_heap *heap = mfa < h->outbound_off ? w->inbound : w->outbound;
	void *p = iop_window_frame(w, mfa);
	size_t bytes = p != NULL ? iop_heap_allocated_size(heap, p) : 0;

	if (bytes == 0)
		return NULL;
	*block_bytes = bytes;
	return p;
}

int iop_window_sgl_bounds(const struct iop_window *w, struct iop_sgl_bounds *b)
{
	if (w == NULL || b == NULL)
		return -EINVAL;
	*b = w->sgl;
	return 0;
}

/* The heap a frame lies in, or NULL. */
static struct iop_heap *heap_of(const struct iop_window *w, const void *p)
{
	struct iop_heap *heaps[2] = { w->inbound, w->outbound };

	for (int i = 0; i < 2; i++) {
		uintptr_t base = (uintptr_t)heap_blocks(heaps[i]);

		if ((uintptr_t)p >= base && (uintptr_t)p - base < iop_heap_size(heaps[i]))
			return heaps[i];
	}
	return NULL;
}

int iop_window_owner_set(const struct iop_window *w, const void *frame, uint16_t owner)
{
	struct iop_heap *h = heap_of(w, frame);

	return h != NULL ? iop_heap_tag_set(h, frame, owner) : -EFAULT;
}

int iop_window_owner(const struct iop_window *w, const void *frame)
{
	struct iop_heap *h = heap_of(w, frame);

	return h != NULL ? iop_heap_tag(h, frame) : -EFAULT;
}

size_t iop_window_reclaim(const struct iop_window *w, uint16_t owner)
{
	if (owner == IOP_OWNER_IOP)
		return 0;
	return iop_heap_reclaim_tag(w->inbound, owner) + iop_heap_reclaim_tag(w->outbound, owner);
}
