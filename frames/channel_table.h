/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The channel table's layout in the window's ring area, for window.c, which
 * makes it at create and checks it at attach. Private to frames/.
 */
#ifndef IOP_CHANNEL_TABLE_H
#define IOP_CHANNEL_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/**
 * Bytes the ring area needs for n slots of four rings of `entries` each, or 0
 * with errno EINVAL when n is 0 or past IOP_CHANNELS_MAX, or entries is not a
 * power of two in [2, 2^20].
 */
size_t channel_table_bytes(unsigned n, unsigned entries);

/** Lay the table out in area (zero-filled, len bytes): every slot FREE. */
void channel_table_init(void *area, size_t len, unsigned n, unsigned entries);

/** The table in area describes itself consistently and fits len bytes. */
bool channel_table_sane(const void *area, size_t len);

/** Slots and entries per ring, of a sane table. */
unsigned channel_table_slots(const void *area);
unsigned channel_table_entries(const void *area);

#endif /* IOP_CHANNEL_TABLE_H */
