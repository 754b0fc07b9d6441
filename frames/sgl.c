/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scatter-gather lists: the builder an initiator uses and the walker the IOP
 * runs over lists a peer wrote. The walker trusts nothing it reads: every
 * word is loaded once into a local, checked, and only then used, because the
 * frame and the chained segments sit in memory the peer can still write.
 */
#include <endian.h>
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "iop_frame.h"
#include "iop_sgl.h"

#define WORD 4u
#define COUNT_BITS 24
#define FLAGS_SHIFT 24
/* Window offsets are 32 bits: no list can name anything at or past 4 GiB. */
#define WINDOW_LIMIT (UINT64_C(1) << 32)

enum writer_state { W_EMPTY, W_OPEN, W_CHAINED, W_FINISHED };
enum iter_state { IT_WALKING, IT_DONE, IT_REFUSED };
/* What an element header says, before its body has been looked at. */
enum elem_class { C_REFUSED, C_SIMPLE, C_IMMEDIATE, C_CHAIN };

static uint32_t header(uint8_t flags, uint32_t count)
{
	return (uint32_t)flags << FLAGS_SHIFT | count;
}

/* ---- Builder ---- */

int iop_sgl_writer_init(struct iop_sgl_writer *w, uint32_t *words, size_t cap_words)
{
	if (w == NULL || (words == NULL && cap_words != 0))
		return -EINVAL;
	w->words = words;
	w->cap_words = cap_words;
	w->used = 0;
	w->last = 0;
	w->state = W_EMPTY;
	return 0;
}

/* Whether an element of n words may be appended; 0 if so. */
static int writer_room(const struct iop_sgl_writer *w, size_t n)
{
	if (w->state == W_CHAINED || w->state == W_FINISHED)
		return -EINVAL;
	return w->cap_words - w->used < n ? -ENOSPC : 0;
}

/* Store header + one address word; the caller checked the room. */
static void put_addressed(struct iop_sgl_writer *w, uint8_t flags, uint32_t count, uint32_t addr)
{
	w->words[w->used] = htole32(header(flags, count));
	w->words[w->used + 1] = htole32(addr);
	w->last = w->used;
	w->used += 2;
}

int iop_sgl_add_simple(struct iop_sgl_writer *w, uint32_t offset, uint32_t count, unsigned flags)
{
	int rc;

	if (w == NULL || count > IOP_SGL_COUNT_MAX ||
	    (flags & ~(IOP_SGL_DIR | IOP_SGL_END_OF_BUFFER)) != 0)
		return -EINVAL;
	rc = writer_room(w, 2);
	if (rc != 0)
		return rc;
	put_addressed(w, (uint8_t)(IOP_SGL_TYPE_SIMPLE | flags), count, offset);
	w->state = W_OPEN;
	return 0;
}

int iop_sgl_add_immediate(struct iop_sgl_writer *w, const void *data, uint32_t len,
			  unsigned flags)
{
	size_t data_words = ((size_t)len + WORD - 1) / WORD;
	unsigned char *dst;
	int rc;

	if (w == NULL || len > IOP_SGL_COUNT_MAX || (data == NULL && len != 0) ||
	    (flags & ~IOP_SGL_END_OF_BUFFER) != 0)
		return -EINVAL;
	rc = writer_room(w, 1 + data_words);
	if (rc != 0)
		return rc;
	w->words[w->used] = htole32(header((uint8_t)(IOP_SGL_IMMEDIATE | flags), len));
	dst = (unsigned char *)&w->words[w->used + 1];
	if (len != 0)
		memcpy(dst, data, len);
	/* The padding (up to 3 bytes) is zeroed so that no stale bytes of the frame leak to the peer. */
	memset(dst + len, 0, data_words * WORD - len);
	w->last = w->used;
	w->used += 1 + data_words;
	w->state = W_OPEN;
	return 0;
}

int iop_sgl_add_chain(struct iop_sgl_writer *w, uint32_t offset, uint32_t bytes)
{
	int rc;

	if (w == NULL || offset % WORD != 0 || bytes == 0 || bytes % WORD != 0 ||
	    bytes > IOP_SGL_COUNT_MAX)
		return -EINVAL;
	rc = writer_room(w, 2);
	if (rc != 0)
		return rc;
	put_addressed(w, IOP_SGL_TYPE_CHAIN, bytes, offset);
	w->state = W_CHAINED;
	return 0;
}

int iop_sgl_finish(struct iop_sgl_writer *w)
{
	if (w == NULL || w->state == W_EMPTY)
		return -EINVAL;
	/* Only a caller array of 2^31 words could get here; a frame has at most 64K. */
	if (w->used > INT_MAX)
		return -EOVERFLOW;
	if (w->state == W_OPEN) {
		uint32_t h = le32toh(w->words[w->last]);

		w->words[w->last] = htole32(h | (uint32_t)IOP_SGL_LAST_ELEMENT << FLAGS_SHIFT);
		w->state = W_FINISHED;
	}
	return (int)w->used;
}

/* ---- Walker ---- */

int iop_sgl_iter_init(struct iop_sgl_iter *it, const void *frame, size_t frame_bytes,
		      unsigned sgl_offset_words, const struct iop_sgl_bounds *b)
{
	uint64_t start = (uint64_t)sgl_offset_words * WORD;

	if (it == NULL || b == NULL || (frame == NULL && frame_bytes != 0) || b->lo > b->hi ||
	    b->hi > WINDOW_LIMIT)
		return -EINVAL;
	it->seg = frame;
	/* MessageSize is in words: a trailing partial word is not part of the message. */
	it->seg_bytes = frame_bytes - frame_bytes % WORD;
	/* Past the end is kept at the end, so that the first read finds no room. */
	it->pos = start > it->seg_bytes ? it->seg_bytes : (size_t)start;
	it->hops = 0;
	it->in_frame = 1;
	it->dsc = 0;
	it->bounds = *b;
	if (sgl_offset_words == 0) {
		it->state = IT_DONE;
	} else if (sgl_offset_words < IOP_MSG_HDR_WORDS) {
		it->state = IT_REFUSED;
		it->dsc = IOP_DSC_INVALID_OFFSET;
	} else {
		it->state = IT_WALKING;
	}
	return 0;
}

static uint32_t load_at(const unsigned char *seg, size_t pos)
{
	uint32_t v;

	memcpy(&v, seg + pos, sizeof(v));
	return le32toh(v);
}

static int refuse(struct iop_sgl_iter *it, uint16_t dsc)
{
	it->state = IT_REFUSED;
	it->dsc = dsc;
	return -EPROTO;
}

/* Bytes left in the segment from the next element on; pos never passes seg_bytes. */
static size_t left(const struct iop_sgl_iter *it)
{
	return it->seg_bytes - it->pos;
}

static enum elem_class classify(uint8_t flags, int in_frame)
{
	if ((flags & IOP_SGL_CONTEXT_COUNT_MASK) != 0)
		return C_REFUSED; /* transaction-context words: iopool never uses them */
	switch (flags & IOP_SGL_TYPE_MASK) {
	case IOP_SGL_TYPE_SIMPLE:
		return (flags & IOP_SGL_LOCAL_ADDRESS) != 0 ? C_REFUSED : C_SIMPLE;
	case IOP_SGL_TYPE_CHAIN:
		/* Also refuses 0x70 and 0x7C, which share the type bits, and LAST_ELEMENT. */
		return flags == IOP_SGL_TYPE_CHAIN ? C_CHAIN : C_REFUSED;
	case 0:
		return (flags & IOP_SGL_SPECIAL_MASK) == IOP_SGL_IMMEDIATE && in_frame
			       ? C_IMMEDIATE
			       : C_REFUSED;
	default:
		return C_REFUSED; /* page lists */
	}
}

/* [offset, offset + count) inside [lo, hi), in 64 bits so the sum cannot wrap. */
static int in_bounds(const struct iop_sgl_bounds *b, uint32_t offset, uint32_t count)
{
	return offset >= b->lo && (uint64_t)offset + count <= b->hi;
}

static int take_simple(struct iop_sgl_iter *it, uint8_t flags, uint32_t count,
		       struct iop_sgl_elem *e)
{
	uint32_t offset;

	if (left(it) < 2 * WORD)
		return refuse(it, IOP_DSC_MESSAGE_TOO_SMALL);
	offset = load_at(it->seg, it->pos + WORD);
	if (!in_bounds(&it->bounds, offset, count))
		return refuse(it, IOP_DSC_INVALID_OFFSET);
	it->pos += 2 * WORD;
	*e = (struct iop_sgl_elem){
		.kind = IOP_SGL_KIND_SIMPLE, .flags = flags, .count = count, .offset = offset,
	};
	return 1;
}

static int take_immediate(struct iop_sgl_iter *it, uint8_t flags, uint32_t count,
			  struct iop_sgl_elem *e)
{
	/* count has 24 bits: the padded length cannot overflow. */
	size_t padded = ((size_t)count + WORD - 1) / WORD * WORD;

	if (left(it) - WORD < padded) /* left() >= WORD: the header was read */
		return refuse(it, IOP_DSC_MESSAGE_TOO_SMALL);
	*e = (struct iop_sgl_elem){
		.kind = IOP_SGL_KIND_IMMEDIATE, .flags = flags, .count = count,
		.data = it->seg + it->pos + WORD,
	};
	it->pos += WORD + padded;
	return 1;
}

/* Check a chain element and move the walk into its segment; 0 or -EPROTO. */
static int follow_chain(struct iop_sgl_iter *it, uint32_t count)
{
	const struct iop_sgl_bounds *b = &it->bounds;
	uint32_t offset;

	if (left(it) < 2 * WORD)
		return refuse(it, IOP_DSC_MESSAGE_TOO_SMALL);
	offset = load_at(it->seg, it->pos + WORD);
	/* Anything after the chain would be skipped: refuse rather than guess. */
	if (left(it) != 2 * WORD || it->hops == IOP_SGL_MAX_CHAIN || b->window == NULL ||
	    count == 0 || count % WORD != 0)
		return refuse(it, IOP_DSC_INVALID_PARAMETER);
	if (offset % WORD != 0 || !in_bounds(b, offset, count))
		return refuse(it, IOP_DSC_INVALID_OFFSET);
	it->seg = (const unsigned char *)b->window + offset;
	it->seg_bytes = count;
	it->pos = 0;
	it->hops++;
	it->in_frame = 0;
	return 0;
}

/*
 * The next element by the general walk, as iop_sgl_next() documents it: what
 * the runs below leave (a chain, an element to refuse, the end), by the
 * rules of the table.
 */
static int next_elem(struct iop_sgl_iter *it, struct iop_sgl_elem *e)
{
	/* At most IOP_SGL_MAX_CHAIN + 1 rounds: each chain either refuses or hops. */
	while (it->state == IT_WALKING) {
		uint32_t h;
		uint8_t flags;
		uint32_t count;
		int rc;

		if (left(it) < WORD)
			return refuse(it, IOP_DSC_MESSAGE_TOO_SMALL);
		h = load_at(it->seg, it->pos);
		flags = (uint8_t)(h >> FLAGS_SHIFT);
		count = h & IOP_SGL_COUNT_MAX;
		switch (classify(flags, it->in_frame)) {
		case C_SIMPLE:
			rc = take_simple(it, flags, count, e);
			break;
		case C_IMMEDIATE:
			rc = take_immediate(it, flags, count, e);
			break;
		case C_CHAIN:
			rc = follow_chain(it, count);
			if (rc == 0)
				continue;
			return rc;
		default:
			return refuse(it, IOP_DSC_INVALID_PARAMETER);
		}
		if (rc == 1 && (flags & IOP_SGL_LAST_ELEMENT) != 0)
			it->state = IT_DONE;
		return rc;
	}
	return it->state == IT_DONE ? 0 : -EPROTO;
}

/*
 * Simple elements in a row, up to max, into e: the element of every packet
 * sent by reference and of every buffer of a block transfer, taken without
 * the general walk's per-element state. Stops, taking nothing of it, at the
 * first element that is anything else or fails a check, and leaves that one
 * to next_elem(), which accepts or refuses it by the rules of the table.
 * @return the elements taken.
 */
static inline unsigned simple_run(struct iop_sgl_iter *it, struct iop_sgl_elem *e, unsigned max)
{
	/* In locals: the stores to e (flags is a byte) could alias *it for the compiler. */
	const unsigned char *seg = it->seg;
	const size_t end = it->seg_bytes;
	const uint64_t lo = it->bounds.lo, hi = it->bounds.hi;
	size_t pos = it->pos;
	unsigned n = 0;

	while (n < max && end - pos >= 2 * WORD) {
		uint32_t h = load_at(seg, pos);
		uint8_t flags = (uint8_t)(h >> FLAGS_SHIFT);
		uint32_t count = h & IOP_SGL_COUNT_MAX;
		uint32_t offset;

		if ((flags & ~(IOP_SGL_LAST_ELEMENT | IOP_SGL_END_OF_BUFFER | IOP_SGL_DIR)) !=
		    IOP_SGL_TYPE_SIMPLE)
			break;
		offset = load_at(seg, pos + WORD);
		if (offset < lo || (uint64_t)offset + count > hi) /* as in_bounds() */
			break;
		/* Field by field: a compound literal would zero the element first. */
		e[n].kind = IOP_SGL_KIND_SIMPLE;
		e[n].flags = flags;
		e[n].count = count;
		e[n].offset = offset;
		e[n].data = NULL;
		n++;
		pos += 2 * WORD;
		if ((flags & IOP_SGL_LAST_ELEMENT) != 0) {
			it->state = IT_DONE;
			break;
		}
	}
	it->pos = pos;
	return n;
}

/*
 * Immediate-data elements in a row in the frame, up to max, into e: the
 * element of every packet sent inline. As simple_run(), it stops at the
 * first element that is anything else or fails a check and leaves that one
 * to next_elem(). @return the elements taken.
 */
static inline unsigned immediate_run(struct iop_sgl_iter *it, struct iop_sgl_elem *e,
				     unsigned max)
{
	const unsigned char *seg = it->seg;
	const size_t end = it->seg_bytes;
	size_t pos = it->pos;
	unsigned n = 0;

	if (!it->in_frame)
		return 0;
	while (n < max && end - pos >= WORD) {
		uint32_t h = load_at(seg, pos);
		uint8_t flags = (uint8_t)(h >> FLAGS_SHIFT);
		uint32_t count = h & IOP_SGL_COUNT_MAX;
		/* count has 24 bits: the padded length cannot overflow. */
		size_t padded = ((size_t)count + WORD - 1) / WORD * WORD;

		if ((flags & ~(IOP_SGL_LAST_ELEMENT | IOP_SGL_END_OF_BUFFER)) != IOP_SGL_IMMEDIATE ||
		    end - pos - WORD < padded)
			break;
		e[n].kind = IOP_SGL_KIND_IMMEDIATE;
		e[n].flags = flags;
		e[n].count = count;
		e[n].offset = 0;
		e[n].data = seg + pos + WORD;
		n++;
		pos += WORD + padded;
		if ((flags & IOP_SGL_LAST_ELEMENT) != 0) {
			it->state = IT_DONE;
			break;
		}
	}
	it->pos = pos;
	return n;
}

int iop_sgl_next_burst(struct iop_sgl_iter *it, struct iop_sgl_elem *e, unsigned max)
{
	unsigned n = 0;
	int rc = 0;

	if (it == NULL || e == NULL || max == 0)
		return -EINVAL;
	while (n < max) {
		unsigned got = 0;

		if (it->state == IT_WALKING) {
			got = simple_run(it, e + n, max - n);
			if (got == 0)
				got = immediate_run(it, e + n, max - n);
		}
		if (got != 0) {
			n += got;
			continue;
		}
		/* A chain, an element to refuse, or the end: the general walk decides. */
		if ((rc = next_elem(it, &e[n])) != 1)
			break;
		n++;
	}
	/* Elements taken before an end or a refusal go out first; the next call reports it. */
	return n != 0 ? (int)n : rc;
}

int iop_sgl_next(struct iop_sgl_iter *it, struct iop_sgl_elem *e)
{
	/* One walk for both: a burst of one is exactly the next element. */
	return iop_sgl_next_burst(it, e, 1);
}

int iop_sgl_check(const void *frame, size_t frame_bytes, unsigned sgl_offset_words,
		  const struct iop_sgl_bounds *b, uint16_t *dsc, uint64_t *total_bytes)
{
	struct iop_sgl_iter it;
	struct iop_sgl_elem e;
	uint64_t total = 0;
	int rc = iop_sgl_iter_init(&it, frame, frame_bytes, sgl_offset_words, b);

	if (rc != 0)
		return rc;
	while ((rc = iop_sgl_next(&it, &e)) == 1)
		total += e.count;
	if (dsc != NULL)
		*dsc = it.dsc;
	if (rc == 0 && total_bytes != NULL)
		*total_bytes = total;
	return rc;
}
