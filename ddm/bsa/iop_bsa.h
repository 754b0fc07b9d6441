/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The block-storage (BSA, class 0x010) DDM as hosts see it: its detailed
 * status codes, its device-information parameter group and the words of its
 * replies. The function codes and the request builders are in <iop/build.h>.
 *
 * Every reply of the bsa DDM to BlockRead, BlockWrite, WriteVerify and
 * MediaVerify is IOP_BSA_REPLY_WORDS long: the status word (4), then the
 * TransferCount (word 5), the bytes moved, also on an error, so a host
 * always learns how much of a failed request reached the device.
 */
#ifndef IOP_BSA_H
#define IOP_BSA_H

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Detailed status codes of BSA replies (the I2O SIG's block-storage table,
 * I2O_BSA_DSC_*). A BSA reply may also carry a common IOP_DSC_* code: the
 * SGL walker's refusals, and the runtime's own answers.
 */
enum iop_bsa_dsc {
	IOP_BSA_DSC_SUCCESS           = 0x0000,
	IOP_BSA_DSC_MEDIA_ERROR       = 0x0001, /**< the backend failed a read or write (EIO) */
	IOP_BSA_DSC_ACCESS_ERROR      = 0x0002, /**< address or length not whole blocks, or 0 */
	IOP_BSA_DSC_DEVICE_FAILURE    = 0x0003, /**< another backend error (ENOSPC, EFBIG, ...) */
	IOP_BSA_DSC_DEVICE_NOT_READY  = 0x0004,
	IOP_BSA_DSC_MEDIA_NOT_PRESENT = 0x0005,
	IOP_BSA_DSC_MEDIA_LOCKED      = 0x0006,
	IOP_BSA_DSC_MEDIA_FAILURE     = 0x0007, /**< WriteVerify read back other data */
	IOP_BSA_DSC_PROTOCOL_FAILURE  = 0x0008,
	IOP_BSA_DSC_BUS_FAILURE       = 0x0009,
	IOP_BSA_DSC_ACCESS_VIOLATION  = 0x000A, /**< a range past the device's capacity */
	IOP_BSA_DSC_WRITE_PROTECTED   = 0x000B, /**< the backend refuses writes (EROFS, EBADF) */
	IOP_BSA_DSC_DEVICE_RESET      = 0x000C,
	IOP_BSA_DSC_VOLUME_CHANGED    = 0x000D,
	IOP_BSA_DSC_TIMEOUT           = 0x000E,
};

/** Words of a BSA transfer reply: the status word, then TransferCount (word 5). */
#define IOP_BSA_REPLY_WORDS 6u

/**
 * UtilParamsGet group of the device's geometry, read-only (the I2O BSA
 * device-information group number; iopool's own fields, 64-bit each).
 */
#define IOP_BSA_PARAMS_DEVICE_INFO 0x0000u

/** The fields of IOP_BSA_PARAMS_DEVICE_INFO, in order. */
enum iop_bsa_device_info_field {
	IOP_BSA_INFO_BLOCK_SIZE = 0, /**< bytes per block */
	IOP_BSA_INFO_CAPACITY   = 1, /**< bytes */
	IOP_BSA_INFO_BACKEND    = 2, /**< enum iop_bsa_backend_kind */
	IOP_BSA_INFO_FIELDS     = 3,
};

/**
 * UtilParamsGet group of the bsa DDM's own counters, read-only (iopool's;
 * `iopctl params get TID 0x0001` shows it), since the DDM's init.
 */
#define IOP_BSA_PARAMS_STATS 0x0001u

/** The fields of IOP_BSA_PARAMS_STATS, in order. */
enum iop_bsa_stats_field {
	/** I/Os handed to the DDM's io_uring (reads, writes, fsyncs, continuations of short ones) */
	IOP_BSA_STAT_RING_IOS     = 0,
	/** I/O system calls the DDM's loop made and waited for (pread(v), pwrite(v), fdatasync) */
	IOP_BSA_STAT_LOOP_CALLS   = 1,
	/** direct=1: requests moved through the aligned bounce buffer (a buffer O_DIRECT refused) */
	IOP_BSA_STAT_BOUNCED      = 2,
	/** direct=1: bytes copied through the bounce buffer */
	IOP_BSA_STAT_BOUNCE_BYTES = 3,
	/** 1 when the file was opened with O_DIRECT (direct=1), else 0 */
	IOP_BSA_STAT_DIRECT       = 4,
	/** 1 when idle=wait is in effect (asked for, on a ring whose kernel bounds a wait), else 0 */
	IOP_BSA_STAT_IDLE_WAIT    = 5,
	/** idle=wait: the loop's waits in io_uring_enter on idle turns (each 1 ms at most) */
	IOP_BSA_STAT_IDLE_WAITS   = 6,
	IOP_BSA_STAT_FIELDS       = 7,
};

/** What stores the blocks. */
enum iop_bsa_backend_kind {
	IOP_BSA_BACKEND_RAM  = 1, /**< memory of the IOP process; gone when it stops */
	IOP_BSA_BACKEND_FILE = 2, /**< a file or a device, read and written in place */
	/** a file or a device, its reads, writes and flushes on an io_uring of the DDM's */
	IOP_BSA_BACKEND_URING = 3,
};

#ifdef __cplusplus
}
#endif

#endif /* IOP_BSA_H */
