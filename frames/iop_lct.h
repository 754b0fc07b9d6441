/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * iopool Logical Configuration Table (LCT) codec: the table an IOP publishes
 * of its devices (one entry per TID), as the executive writes it into an
 * LctNotify reply and as a host reads it back.
 *
 * A table is a 3-word header followed by 9-word entries, all little-endian
 * 32-bit words whatever the host's byte order. The encoders and
 * iop_lct_build() take 4-byte aligned word arrays; iop_lct_parse() and
 * iop_lct_entry_get() take a reply buffer from an untrusted peer at any
 * alignment and never read outside it.
 *
 * The codec needs only libc; it does not need the DPDK EAL.
 */
#ifndef IOP_LCT_H
#define IOP_LCT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** LctVer of an I2O 1.5 table. */
#define IOP_LCT_VERSION_1_5 1u
/** The header: TableSize | BootTID | LctVer, IopFlags, CurrentChangeIndicator. */
#define IOP_LCT_HDR_WORDS 3u
/** One entry; its EntrySize field must say this. */
#define IOP_LCT_ENTRY_WORDS 9u
/** Most entries a table holds: TableSize is 16 bits, in words, header included. */
#define IOP_LCT_MAX_ENTRIES ((0xFFFFu - IOP_LCT_HDR_WORDS) / IOP_LCT_ENTRY_WORDS)
/** UserTID of an entry no one has claimed. */
#define IOP_LCT_UNCLAIMED 0xFFFu

/** Device classes (entry word 3, bits 0-11). */
enum iop_class {
	IOP_CLASS_EXECUTIVE              = 0x000,
	IOP_CLASS_DDM                    = 0x001,
	IOP_CLASS_RANDOM_BLOCK_STORAGE   = 0x010,
	IOP_CLASS_SEQUENTIAL_STORAGE     = 0x011,
	IOP_CLASS_LAN                    = 0x020,
	IOP_CLASS_WAN                    = 0x030,
	IOP_CLASS_SCSI_PERIPHERAL        = 0x051,
	IOP_CLASS_BUS_ADAPTER            = 0x080,
};

/**
 * The LCT header (words 0-2), unpacked. Bit widths on the wire:
 * table_size_words 16, boot_tid 12, lct_ver 4.
 */
struct iop_lct_header {
	uint16_t table_size_words; /**< word 0 bits 0-15, header included */
	uint16_t boot_tid;         /**< word 0 bits 16-27 */
	uint8_t lct_ver;           /**< word 0 bits 28-31; 1 = I2O 1.5 */
	uint32_t iop_flags;        /**< word 1 */
	uint32_t change_indicator; /**< word 2: CurrentChangeIndicator */
};

/**
 * One LCT entry (9 words), unpacked. Bit widths on the wire:
 * entry_size_words 16, the TIDs and class_id 12, version 4, org_id 16,
 * bios_info 8. Bits 28-31 of word 0 are reserved: written 0, not read.
 */
struct iop_lct_entry {
	uint16_t entry_size_words; /**< word 0 bits 0-15; 9 */
	uint16_t local_tid;        /**< word 0 bits 16-27 */
	uint32_t change_indicator; /**< word 1 */
	uint32_t device_flags;     /**< word 2 */
	uint16_t class_id;         /**< word 3 bits 0-11: IOP_CLASS_* */
	uint8_t version;           /**< word 3 bits 12-15: class version */
	uint16_t org_id;           /**< word 3 bits 16-31 */
	uint32_t sub_class;        /**< word 4: SubClassInfo */
	uint16_t user_tid;         /**< word 5 bits 0-11; IOP_LCT_UNCLAIMED = unclaimed */
	uint16_t parent_tid;       /**< word 5 bits 12-23 */
	uint8_t bios_info;         /**< word 5 bits 24-31 */
	uint8_t identity_tag[8];   /**< words 6-7, byte i at byte offset 24 + i */
	uint32_t event_caps;       /**< word 8: EventCapabilities */
};

/**
 * Pack h into words 0-2, little-endian. Fields wider than their bit field
 * are truncated to it; table_size_words is written as given.
 *
 * @param h      the header.
 * @param words  at least IOP_LCT_HDR_WORDS words, 4-byte aligned.
 * Thread safety: any thread.
 */
void iop_lct_header_encode(const struct iop_lct_header *h, uint32_t *words);

/**
 * Unpack words 0-2 into h, checking nothing (see iop_lct_parse() for a
 * table from a peer).
 *
 * @param words  at least IOP_LCT_HDR_WORDS words, 4-byte aligned.
 * @param h      filled in full.
 * Thread safety: any thread.
 */
void iop_lct_header_decode(const uint32_t *words, struct iop_lct_header *h);

/**
 * Pack e into 9 words, little-endian. Fields wider than their bit field are
 * truncated to it; entry_size_words is written as given; the reserved bits
 * 28-31 of word 0 are written 0.
 *
 * @param e      the entry.
 * @param words  at least IOP_LCT_ENTRY_WORDS words, 4-byte aligned.
 * Thread safety: any thread.
 */
void iop_lct_entry_encode(const struct iop_lct_entry *e, uint32_t *words);

/**
 * Unpack 9 words into e, checking nothing (see iop_lct_entry_get() for a
 * table from a peer). The reserved bits of word 0 are ignored.
 *
 * @param words  at least IOP_LCT_ENTRY_WORDS words, 4-byte aligned.
 * @param e      filled in full.
 * Thread safety: any thread.
 */
void iop_lct_entry_decode(const uint32_t *words, struct iop_lct_entry *e);

/**
 * Write a whole table: the header from h, then the n entries. TableSize is
 * computed (IOP_LCT_HDR_WORDS + IOP_LCT_ENTRY_WORDS * n) and each EntrySize
 * written as IOP_LCT_ENTRY_WORDS, whatever h and the entries say, so the
 * sizes always describe what was written. Every other field is as given
 * (truncated to its width), lct_ver included: set it to IOP_LCT_VERSION_1_5
 * for a table that iop_lct_parse() accepts.
 *
 * @param words      where to write, 4-byte aligned; may be NULL only if
 *                   cap_words is 0.
 * @param cap_words  words available at words.
 * @param h          the header; its table_size_words is not used.
 * @param entries    n entries; may be NULL only if n is 0.
 * @param n          number of entries.
 * @return words written (the TableSize); -E2BIG when n > IOP_LCT_MAX_ENTRIES,
 *         so TableSize would not fit its 16 bits; -ENOSPC when cap_words is
 *         smaller than the table; -EINVAL for a NULL h, or a NULL words or
 *         entries the rule above does not allow. Nothing is written on error.
 * Thread safety: any thread.
 */
int iop_lct_build(uint32_t *words, size_t cap_words, const struct iop_lct_header *h,
		  const struct iop_lct_entry *entries, unsigned n);

/**
 * Check the header of a table from an untrusted peer and count its entries.
 * Reads only within [buf, buf + buf_bytes), at any alignment. Refused with
 * -EPROTO:
 *
 *  - buf_bytes < 12: no room for the header;
 *  - TableSize < IOP_LCT_HDR_WORDS;
 *  - TableSize > buf_bytes / 4: the table claims more than the buffer holds;
 *  - (TableSize - 3) not a multiple of IOP_LCT_ENTRY_WORDS: a partial entry;
 *  - LctVer != IOP_LCT_VERSION_1_5.
 *
 * Entries are not looked at: iop_lct_entry_get() checks each as it reads it.
 *
 * @param buf        the table; may be NULL only if buf_bytes is 0.
 * @param buf_bytes  bytes readable at buf (the reply buffer's length).
 * @param h          if not NULL, gets the header on success (untouched on
 *                   error).
 * @return the number of entries (>= 0); -EPROTO as above; -EINVAL for a NULL
 *         buf with buf_bytes != 0.
 * Thread safety: any thread; buf is only read, each word once, so a peer
 *         rewriting it meanwhile can make the answer stale but never make
 *         this read outside buf.
 */
int iop_lct_parse(const void *buf, size_t buf_bytes, struct iop_lct_header *h);

/**
 * Read entry i of a table from an untrusted peer. The header is checked
 * again as by iop_lct_parse() (this keeps no state between calls), then the
 * entry's 9 words are copied out once and decoded from the copy. Reads only
 * within [buf, buf + buf_bytes), at any alignment.
 *
 * @param buf        the table; may be NULL only if buf_bytes is 0.
 * @param buf_bytes  bytes readable at buf.
 * @param i          entry index, from 0.
 * @param e          gets the entry on success (untouched on error).
 * @return 0; -EPROTO when iop_lct_parse() refuses the table or the entry's
 *         EntrySize is not IOP_LCT_ENTRY_WORDS; -ERANGE when i is not below
 *         the table's entry count; -EINVAL for a NULL e, or a NULL buf with
 *         buf_bytes != 0.
 * Thread safety: any thread; buf is only read.
 */
int iop_lct_entry_get(const void *buf, size_t buf_bytes, unsigned i, struct iop_lct_entry *e);

/**
 * Name a device class, for logs and tools.
 *
 * @param class_id  an IOP_CLASS_* value.
 * @return "executive", "ddm", "block-storage", "sequential-storage", "lan",
 *         "wan", "scsi-peripheral", "bus-adapter", or "unknown" for any other
 *         value (values past 12 bits included); a static string, never NULL.
 * Thread safety: any thread.
 */
const char *iop_class_name(uint16_t class_id);

#ifdef __cplusplus
}
#endif

#endif /* IOP_LCT_H */
