/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which function codes I2O defines, per class of target, so the runtime can
 * tell a function a DDM does not support (DSC UNSUPPORTED_FUNCTION) from one
 * that does not exist for that target (DSC UNKNOWN_FUNCTION). Codes are
 * class-relative: 0x35 is MediaVerify at a block-storage target and Reset at
 * a LAN one.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "iop_lct.h"
#include "runtime_impl.h"

static const uint8_t utility[] = { 0x00, 0x01, 0x05, 0x06, 0x09, 0x0B, 0x0D, 0x0F,
				   0x13, 0x14, 0x15, 0x17, 0x19, 0xFF };
static const uint8_t executive[] = { 0xA0, 0xA1, 0xA2, 0xA3, 0xA8, 0xAF, 0xB1,
				     0xBD, 0xBE, 0xC3, 0xC7, 0xD1, 0xD5, 0xD9 };
static const uint8_t block_storage[] = { 0x25, 0x27, 0x30, 0x31, 0x33, 0x35,
					 0x37, 0x41, 0x43, 0x49, 0x4B, 0x70 };
static const uint8_t lan[] = { 0x35, 0x37, 0x3B, 0x3D, 0x3E };

static bool in(const uint8_t *set, size_t n, uint8_t fn)
{
	return memchr(set, fn, n) != NULL;
}

bool iop_function_defined(uint16_t class_id, uint8_t fn)
{
	if (in(utility, sizeof(utility), fn))
		return true;
	switch (class_id) {
	case IOP_CLASS_EXECUTIVE:
		return in(executive, sizeof(executive), fn);
	case IOP_CLASS_RANDOM_BLOCK_STORAGE:
		return in(block_storage, sizeof(block_storage), fn);
	case IOP_CLASS_LAN:
		return in(lan, sizeof(lan), fn);
	default:
		return false;
	}
}
