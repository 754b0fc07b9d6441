/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Logical Configuration Table codec. The executive builds the table in a
 * reply frame the host reads as little-endian, so every word goes through
 * htole32()/le32toh(). The readers are for tables that arrive from a peer:
 * they copy words out with memcpy (any alignment), check a size against the
 * buffer before reading what it covers, and decode only from their copy, so
 * a peer rewriting the buffer meanwhile cannot get a checked value swapped
 * for an unchecked one.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "iop_lct.h"

#define TID_MASK 0xFFFu
#define CLASS_MASK 0xFFFu
#define NIBBLE_MASK 0xFu
#define IDENTITY_TAG_WORD 6u

static uint32_t load(const uint32_t *words, unsigned i)
{
	return le32toh(words[i]);
}

static void store(uint32_t *words, unsigned i, uint32_t v)
{
	words[i] = htole32(v);
}

void iop_lct_header_encode(const struct iop_lct_header *h, uint32_t *words)
{
	store(words, 0, (uint32_t)h->table_size_words | (uint32_t)(h->boot_tid & TID_MASK) << 16 |
				(uint32_t)(h->lct_ver & NIBBLE_MASK) << 28);
	store(words, 1, h->iop_flags);
	store(words, 2, h->change_indicator);
}

void iop_lct_header_decode(const uint32_t *words, struct iop_lct_header *h)
{
	uint32_t w0 = load(words, 0);

	h->table_size_words = w0 & 0xFFFFu;
	h->boot_tid = (w0 >> 16) & TID_MASK;
	h->lct_ver = w0 >> 28;
	h->iop_flags = load(words, 1);
	h->change_indicator = load(words, 2);
}

void iop_lct_entry_encode(const struct iop_lct_entry *e, uint32_t *words)
{
	store(words, 0, (uint32_t)e->entry_size_words | (uint32_t)(e->local_tid & TID_MASK) << 16);
	store(words, 1, e->change_indicator);
	store(words, 2, e->device_flags);
	store(words, 3, (uint32_t)(e->class_id & CLASS_MASK) |
				(uint32_t)(e->version & NIBBLE_MASK) << 12 |
				(uint32_t)e->org_id << 16);
	store(words, 4, e->sub_class);
	store(words, 5, (uint32_t)(e->user_tid & TID_MASK) |
				(uint32_t)(e->parent_tid & TID_MASK) << 12 |
				(uint32_t)e->bios_info << 24);
	/* A byte string, not a number: byte i lands at byte offset 24 + i in any byte order. */
	memcpy(&words[IDENTITY_TAG_WORD], e->identity_tag, sizeof(e->identity_tag));
	store(words, 8, e->event_caps);
}

void iop_lct_entry_decode(const uint32_t *words, struct iop_lct_entry *e)
{
	uint32_t w0 = load(words, 0);
	uint32_t w3 = load(words, 3);
	uint32_t w5 = load(words, 5);

	e->entry_size_words = w0 & 0xFFFFu;
	e->local_tid = (w0 >> 16) & TID_MASK;
	e->change_indicator = load(words, 1);
	e->device_flags = load(words, 2);
	e->class_id = w3 & CLASS_MASK;
	e->version = (w3 >> 12) & NIBBLE_MASK;
	e->org_id = w3 >> 16;
	e->sub_class = load(words, 4);
	e->user_tid = w5 & TID_MASK;
	e->parent_tid = (w5 >> 12) & TID_MASK;
	e->bios_info = w5 >> 24;
	memcpy(e->identity_tag, &words[IDENTITY_TAG_WORD], sizeof(e->identity_tag));
	e->event_caps = load(words, 8);
}

int iop_lct_build(uint32_t *words, size_t cap_words, const struct iop_lct_header *h,
		  const struct iop_lct_entry *entries, unsigned n)
{
	struct iop_lct_header hdr;
	size_t size_words;

	if (h == NULL || (words == NULL && cap_words != 0) || (entries == NULL && n != 0))
		return -EINVAL;
	/* Checked before the multiplication, which could wrap a 32-bit size_t. */
	if (n > IOP_LCT_MAX_ENTRIES)
		return -E2BIG;
	size_words = IOP_LCT_HDR_WORDS + (size_t)IOP_LCT_ENTRY_WORDS * n;
	if (size_words > cap_words)
		return -ENOSPC;
	hdr = *h;
	hdr.table_size_words = (uint16_t)size_words;
	iop_lct_header_encode(&hdr, words);
	for (unsigned i = 0; i < n; i++) {
		struct iop_lct_entry e = entries[i];
		size_t at = IOP_LCT_HDR_WORDS + (size_t)IOP_LCT_ENTRY_WORDS * i;

		e.entry_size_words = IOP_LCT_ENTRY_WORDS;
		iop_lct_entry_encode(&e, words + at);
	}
	return (int)size_words;
}

/*
 * Copy words [first, first + count) of buf into out, which is aligned for
 * the decoders. The caller has checked that buf_bytes covers them.
 */
static void copy_words(uint32_t *out, const void *buf, size_t first, size_t count)
{
	memcpy(out, (const unsigned char *)buf + 4 * first, 4 * count);
}

/* iop_lct_parse() without the argument checks: the entry count, or -EPROTO. */
static int check_header(const void *buf, size_t buf_bytes, uint32_t hdr[IOP_LCT_HDR_WORDS])
{
	uint32_t w0, size_words;

	if (buf_bytes < IOP_LCT_HDR_WORDS * 4)
		return -EPROTO;
	copy_words(hdr, buf, 0, IOP_LCT_HDR_WORDS);
	w0 = le32toh(hdr[0]);
	size_words = w0 & 0xFFFFu;
	if (size_words < IOP_LCT_HDR_WORDS || size_words > buf_bytes / 4)
		return -EPROTO;
	if ((size_words - IOP_LCT_HDR_WORDS) % IOP_LCT_ENTRY_WORDS != 0)
		return -EPROTO;
	if ((w0 >> 28) != IOP_LCT_VERSION_1_5)
		return -EPROTO;
	return (int)((size_words - IOP_LCT_HDR_WORDS) / IOP_LCT_ENTRY_WORDS);
}

int iop_lct_parse(const void *buf, size_t buf_bytes, struct iop_lct_header *h)
{
	uint32_t hdr[IOP_LCT_HDR_WORDS];
	int n;

	if (buf == NULL && buf_bytes != 0)
		return -EINVAL;
	n = check_header(buf, buf_bytes, hdr);
	if (n >= 0 && h != NULL)
		iop_lct_header_decode(hdr, h);
	return n;
}

int iop_lct_entry_get(const void *buf, size_t buf_bytes, unsigned i, struct iop_lct_entry *e)
{
	uint32_t hdr[IOP_LCT_HDR_WORDS];
	uint32_t words[IOP_LCT_ENTRY_WORDS];
	int n;

	if (e == NULL || (buf == NULL && buf_bytes != 0))
		return -EINVAL;
	n = check_header(buf, buf_bytes, hdr);
	if (n < 0)
		return n;
	if (i >= (unsigned)n)
		return -ERANGE;
	/* In bounds: TableSize is within buf_bytes, and entry i within TableSize. */
	copy_words(words, buf, IOP_LCT_HDR_WORDS + (size_t)IOP_LCT_ENTRY_WORDS * i,
		   IOP_LCT_ENTRY_WORDS);
	if ((le32toh(words[0]) & 0xFFFFu) != IOP_LCT_ENTRY_WORDS)
		return -EPROTO;
	iop_lct_entry_decode(words, e);
	return 0;
}

const char *iop_class_name(uint16_t class_id)
{
	switch (class_id) {
	case IOP_CLASS_EXECUTIVE:
		return "executive";
	case IOP_CLASS_DDM:
		return "ddm";
	case IOP_CLASS_RANDOM_BLOCK_STORAGE:
		return "block-storage";
	case IOP_CLASS_SEQUENTIAL_STORAGE:
		return "sequential-storage";
	case IOP_CLASS_LAN:
		return "lan";
	case IOP_CLASS_WAN:
		return "wan";
	case IOP_CLASS_SCSI_PERIPHERAL:
		return "scsi-peripheral";
	case IOP_CLASS_BUS_ADAPTER:
		return "bus-adapter";
	default:
		return "unknown";
	}
}
