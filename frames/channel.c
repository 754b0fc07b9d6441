/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel table in the window's ring area: a header, then one slot per
 * channel, each a control line followed by its four MFA rings (requests,
 * replies, and the two free lists). Offsets only, so every process that maps
 * the window finds the same slots.
 *
 * A slot's state and generation share one 64-bit word, so every transition
 * checks both in one compare-and-swap: a close or a reclaim meant for an
 * earlier opening of the slot can never act on a later one. The table's
 * header counts those transitions, so that a poll loop learns from one word
 * whether it must look at every slot again (iop_channel_changes()).
 */
#include <endian.h>
#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include <rte_common.h>

#include "channel_table.h"
#include "iop_channel.h"
#include "iop_heap.h"
#include "iop_mfa_ring.h"
#include "iop_window.h"

#define TABLE_MAGIC 0x324e414843504f49ull /* "IOPCHAN2" little-endian */
/* Per slot: to_iop, to_host, free_to_host, free_to_iop, in that order. */
#define SLOT_RINGS 4u
/* Two cache lines: adjacent-line prefetch keeps neighbours apart. */
#define SLOT_ALIGN 128u

struct table_hdr {
	uint64_t magic;
	uint32_t slots;
	uint32_t entries;    /* per ring */
	uint64_t ring_bytes; /* one ring, rounded up to SLOT_ALIGN */
	uint64_t slot_bytes; /* control line and its rings */
	uint64_t slots_off;  /* from the table's start */
	/*
	 * Bumped after every change of any slot's word. On a line of its own:
	 * every poll loop reads it on every turn, and the fields above are read
	 * on every slot lookup.
	 */
	_Alignas(64) _Atomic uint64_t changes;
};

_Static_assert(sizeof(struct table_hdr) <= SLOT_ALIGN, "the header fits before the slots");

struct slot_ctl {
	_Atomic uint64_t word; /* generation << 32 | state */
	_Atomic int32_t owner_pid;
	_Atomic uint16_t owner; /* the opener's owner id: its replies are tagged with it */
};

static uint64_t round_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) / a * a;
}

static uint64_t pack(uint32_t generation, unsigned state)
{
	return (uint64_t)generation << 32 | state;
}

static unsigned state_of(uint64_t word)
{
	return (unsigned)(word & 0xFFFFFFFFu);
}

static uint32_t generation_of(uint64_t word)
{
	return (uint32_t)(word >> 32);
}

static bool entries_ok(unsigned entries)
{
	return entries >= 2 && entries <= IOP_CHANNEL_RING_MAX && (entries & (entries - 1)) == 0;
}

static uint64_t ring_bytes(unsigned entries)
{
	return round_up((uint64_t)iop_mfa_ring_memsize(entries), SLOT_ALIGN);
}

size_t channel_table_bytes(unsigned n, unsigned entries)
{
	if (n == 0 || n > IOP_CHANNELS_MAX || !entries_ok(entries)) {
		errno = EINVAL;
		return 0;
	}
	return SLOT_ALIGN + n * (SLOT_ALIGN + SLOT_RINGS * ring_bytes(entries));
}

void channel_table_init(void *area, size_t len, unsigned n, unsigned entries)
{
	struct table_hdr *t = area;

	(void)len;
	t->slots = n;
	t->entries = entries;
	t->ring_bytes = ring_bytes(entries);
	t->slot_bytes = SLOT_ALIGN + SLOT_RINGS * t->ring_bytes;
	t->slots_off = SLOT_ALIGN;
	/* Zero-filled memory is every slot FREE at generation 0. */
	t->magic = TABLE_MAGIC;
}

bool channel_table_sane(const void *area, size_t len)
{
	const struct table_hdr *t = area;

	if (len < sizeof(*t) || t->magic != TABLE_MAGIC || t->slots == 0 ||
	    t->slots > IOP_CHANNELS_MAX || !entries_ok(t->entries))
		return false;
	return t->ring_bytes == ring_bytes(t->entries) &&
	       t->slot_bytes == SLOT_ALIGN + SLOT_RINGS * t->ring_bytes &&
	       t->slots_off == SLOT_ALIGN && t->slots_off + (uint64_t)t->slots * t->slot_bytes <= len;
}

unsigned channel_table_slots(const void *area)
{
	return ((const struct table_hdr *)area)->slots;
}

unsigned channel_table_entries(const void *area)
{
	return ((const struct table_hdr *)area)->entries;
}

/*
 * After a slot's word changed. Release: a loop that reads the new count
 * (acquire) then sees the new word, so a count unchanged since it last
 * looked at the slots means no slot changed before that look.
 */
static void count_change(const struct iop_window *w)
{
	struct table_hdr *t = iop_window_rings(w);

	atomic_fetch_add_explicit(&t->changes, 1, memory_order_release);
}

/* Slot id's control line; its rings follow it. */
static struct slot_ctl *slot_at(const struct iop_window *w, unsigned id)
{
	char *area = iop_window_rings(w);
	const struct table_hdr *t = (const struct table_hdr *)area;

	return (struct slot_ctl *)(area + t->slots_off + id * t->slot_bytes);
}

static struct rte_ring *ring_at(const struct iop_window *w, unsigned id, unsigned which)
{
	const struct table_hdr *t = iop_window_rings(w);

	return (struct rte_ring *)((char *)slot_at(w, id) + SLOT_ALIGN + which * t->ring_bytes);
}

unsigned iop_window_channels(const struct iop_window *w)
{
	return channel_table_slots(iop_window_rings(w));
}

size_t iop_channel_free_list_block(const struct iop_window *w, const struct iop_heap *h)
{
	/* A list's frames, and as many again on each side of it. */
	uint64_t held = (uint64_t)iop_window_channels(w) * 3 * IOP_FREE_LIST_HOLD;
	size_t min = iop_heap_min_block(h);

	if (min == 0 || iop_heap_size(h) / min < 4 * held)
		return 0;
	return min;
}

static void fill(const struct iop_window *w, unsigned id, uint64_t word, struct iop_channel *ch)
{
	unsigned state = state_of(word);
	bool rings = state == IOP_CHANNEL_OPEN || state == IOP_CHANNEL_CLOSED;

	ch->id = id;
	ch->generation = generation_of(word);
	ch->owner_pid = atomic_load_explicit(&slot_at(w, id)->owner_pid, memory_order_relaxed);
	ch->owner = atomic_load_explicit(&slot_at(w, id)->owner, memory_order_relaxed);
	ch->to_iop = rings ? ring_at(w, id, 0) : NULL;
	ch->to_host = rings ? ring_at(w, id, 1) : NULL;
	ch->free_to_host = rings ? ring_at(w, id, 2) : NULL;
	ch->free_to_iop = rings ? ring_at(w, id, 3) : NULL;
}

int iop_channel_open(struct iop_window *w, struct iop_channel *ch)
{
	return iop_channel_open_as(w, ch, IOP_OWNER_IOP);
}

int iop_channel_open_as(struct iop_window *w, struct iop_channel *ch, uint16_t owner)
{
	const struct table_hdr *t;

	if (w == NULL || ch == NULL)
		return -EINVAL;
	t = iop_window_rings(w);
	for (unsigned id = 0; id < t->slots; id++) {
		struct slot_ctl *s = slot_at(w, id);
		uint64_t word = atomic_load_explicit(&s->word, memory_order_relaxed);
		uint32_t gen = generation_of(word) + 1;

		if (state_of(word) != IOP_CHANNEL_FREE ||
		    !atomic_compare_exchange_strong_explicit(&s->word, &word,
							     pack(gen, IOP_CHANNEL_CLAIMED),
							     memory_order_acquire,
							     memory_order_relaxed))
			continue;
		count_change(w);
		atomic_store_explicit(&s->owner_pid, (int32_t)getpid(), memory_order_relaxed);
		atomic_store_explicit(&s->owner, owner, memory_order_relaxed);
		if (iop_mfa_ring_init(ring_at(w, id, 0), "iop_to_iop", t->entries,
				      IOP_MFA_RING_SP | IOP_MFA_RING_SC) == NULL ||
		    iop_mfa_ring_init(ring_at(w, id, 1), "iop_to_host", t->entries,
				      IOP_MFA_RING_MP_RTS | IOP_MFA_RING_SC) == NULL ||
		    iop_mfa_ring_init(ring_at(w, id, 2), "iop_free_to_host", t->entries,
				      IOP_MFA_RING_SP | IOP_MFA_RING_SC) == NULL ||
		    iop_mfa_ring_init(ring_at(w, id, 3), "iop_free_to_iop", t->entries,
				      IOP_MFA_RING_SP | IOP_MFA_RING_SC) == NULL) {
			/* Cannot happen for a sane table; give the slot back anyway. */
			atomic_store_explicit(&s->word, pack(gen, IOP_CHANNEL_FREE),
					      memory_order_release);
			count_change(w);
			return -EINVAL;
		}
		/*
		 * Release: whoever sees OPEN sees the rings laid out. A CAS, not a
		 * store: if the daemon reclaimed the slot meanwhile (it took this
		 * process for dead), the slot is not ours any more.
		 */
		word = pack(gen, IOP_CHANNEL_CLAIMED);
		if (!atomic_compare_exchange_strong_explicit(&s->word, &word,
							     pack(gen, IOP_CHANNEL_OPEN),
							     memory_order_acq_rel,
							     memory_order_relaxed))
			continue;
		count_change(w);
		fill(w, id, pack(gen, IOP_CHANNEL_OPEN), ch);
		return 0;
	}
	return -ENOSPC;
}

/* One checked transition of slot id: from (generation, one of from_mask) to `to`. */
static int transition(struct iop_window *w, unsigned id, uint32_t generation,
		      unsigned from_mask, unsigned to)
{
	struct slot_ctl *s = slot_at(w, id);
	uint64_t word = atomic_load_explicit(&s->word, memory_order_acquire);

	do {
		if (generation_of(word) != generation)
			return -ESTALE;
		if (!(from_mask & 1u << state_of(word)))
			return -EBUSY;
		/* Release: the rings' last use happens before the new state is seen. */
	} while (!atomic_compare_exchange_weak_explicit(&s->word, &word, pack(generation, to),
							memory_order_acq_rel,
							memory_order_acquire));
	count_change(w);
	return 0;
}

int iop_channel_close(struct iop_window *w, const struct iop_channel *ch)
{
	int rc;

	if (w == NULL || ch == NULL || ch->id >= iop_window_channels(w))
		return -EINVAL;
	rc = transition(w, ch->id, ch->generation, 1u << IOP_CHANNEL_OPEN, IOP_CHANNEL_CLOSED);
	return rc == -EBUSY ? -ESTALE : rc;
}

const _Atomic uint64_t *iop_channel_word(const struct iop_window *w, unsigned id)
{
	if (w == NULL || id >= iop_window_channels(w))
		return NULL;
	return &slot_at(w, id)->word;
}

const _Atomic uint64_t *iop_channel_changes(const struct iop_window *w)
{
	if (w == NULL)
		return NULL;
	return &((struct table_hdr *)iop_window_rings(w))->changes;
}

int iop_channel_lookup(const struct iop_window *w, unsigned id, struct iop_channel *ch)
{
	uint64_t word;

	if (w == NULL || ch == NULL || id >= iop_window_channels(w))
		return -EINVAL;
	/* Acquire: pairs with the release that published OPEN. */
	word = atomic_load_explicit(&slot_at(w, id)->word, memory_order_acquire);
	fill(w, id, word, ch);
	return (int)state_of(word);
}

/*
 * Free the frames left on a closed slot's free lists: the slot owner's
 * frames of the list's heap, and nothing else a host may have put there.
 * A reply frame's mark is cleared as it is freed, so a second entry for it
 * frees nothing.
 */
static void free_lists_drain(struct iop_window *w, unsigned id)
{
	int owner = atomic_load_explicit(&slot_at(w, id)->owner, memory_order_relaxed);
	struct iop_heap *heap[2] = { iop_window_inbound(w), iop_window_outbound(w) };
	uint32_t mfa;

	for (unsigned k = 0; k < 2; k++) {
		while (iop_mfa_ring_take(ring_at(w, id, 2 + k), &mfa, 1) == 1) {
			void *f = iop_window_frame(w, mfa);
			size_t block = f != NULL ? iop_heap_allocated_size(heap[k], f) : 0;

			if (block == 0 || iop_heap_tag(heap[k], f) != owner)
				continue;
			if (k == 1) {
				if (le32toh(*(uint32_t *)f) != IOP_FREE_FRAME_MARK)
					continue;
				*(uint32_t *)f = 0;
			}
			iop_heap_free(heap[k], f, block);
		}
	}
}

int iop_channel_reclaim(struct iop_window *w, unsigned id, uint32_t generation)
{
	struct slot_ctl *s;
	int rc;

	if (w == NULL || id >= iop_window_channels(w))
		return -EINVAL;
	s = slot_at(w, id);
	/*
	 * A slot still being opened is closed first, so that its opener's move
	 * to OPEN fails (it looks for another slot) before the fields are
	 * cleared: no slot is ever OPEN without its opener's pid and owner.
	 */
	rc = transition(w, id, generation, 1u << IOP_CHANNEL_CLAIMED, IOP_CHANNEL_CLOSED);
	if (rc != 0 && rc != -EBUSY)
		return rc;
	if (atomic_load_explicit(&s->word, memory_order_acquire) !=
	    pack(generation, IOP_CHANNEL_CLOSED))
		return rc == -EBUSY ? -EBUSY : -ESTALE; /* FREE or OPEN, or reopened meanwhile */
	/* Only a slot that was open has its free lists laid out, maybe with frames on them. */
	if (rc == -EBUSY)
		free_lists_drain(w, id);
	/* A free slot names no process, so a sweep for a dead pid never finds it. */
	atomic_store_explicit(&s->owner_pid, 0, memory_order_relaxed);
	atomic_store_explicit(&s->owner, IOP_OWNER_IOP, memory_order_relaxed);
	return transition(w, id, generation, 1u << IOP_CHANNEL_CLOSED, IOP_CHANNEL_FREE);
}

unsigned iop_channel_free_replies(struct iop_window *w, const struct iop_channel *ch)
{
	unsigned n = 0;
	uint32_t mfa;

	while (iop_mfa_ring_take(ch->to_host, &mfa, 1) == 1) {
		size_t block;
		void *r = iop_window_frame_block(w, mfa, &block);

		if (r != NULL && iop_heap_free(iop_window_outbound(w), r, block) == 0)
			n++;
	}
	return n;
}
