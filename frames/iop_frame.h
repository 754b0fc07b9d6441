/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * iopool frame codec: the I2O message header (words 0-3), the reply and the
 * transport-failure (FAIL) reply, and a validator for untrusted frames.
 *
 * Frames are arrays of little-endian 32-bit words in the shared frame window,
 * whatever the host's byte order: the encoders store and the decoders load
 * every word through an explicit little-endian conversion. Word arrays passed
 * as uint32_t * must be 4-byte aligned; iop_frame_validate() takes any
 * alignment, since it is handed raw memory.
 *
 * The codec needs only libc; it does not need the DPDK EAL.
 */
#ifndef IOP_FRAME_H
#define IOP_FRAME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Version field value of an I2O 1.5 frame. */
#define IOP_MSG_VERSION_1_5 1u
/** Words 0-3: the header every frame carries (UtilNOP may stop after word 2). */
#define IOP_MSG_HDR_WORDS 4u
/** Smallest frame: a 3-word UtilNOP. */
#define IOP_MSG_MIN_WORDS 3u
/** A reply: the header and the status word. */
#define IOP_REPLY_WORDS 5u
/** A transport-failure reply: header, words 4-6 and the 64-bit PreservedMFA. */
#define IOP_FAIL_REPLY_WORDS 9u

/* MsgFlags (word 0, bits 8-15). */
#define IOP_MSG_STATIC        0x01u
#define IOP_MSG_64BIT_CONTEXT 0x02u
#define IOP_MSG_MULTIPLE      0x10u
#define IOP_MSG_FAIL          0x20u
#define IOP_MSG_LAST          0x40u
#define IOP_MSG_REPLY         0x80u

/* TIDs are 12 bits. */
#define IOP_TID_EXEC 0x000u
#define IOP_TID_HOST 0x001u
#define IOP_TID_NONE 0xFFFu
#define IOP_TID_MAX  0xFFFu

/** Utility function codes: valid at any TID. */
enum iop_util_function {
	IOP_UTIL_NOP                = 0x00,
	IOP_UTIL_ABORT              = 0x01,
	IOP_UTIL_PARAMS_SET         = 0x05,
	IOP_UTIL_PARAMS_GET         = 0x06,
	IOP_UTIL_CLAIM              = 0x09,
	IOP_UTIL_CLAIM_RELEASE      = 0x0B,
	IOP_UTIL_DEVICE_RESERVE     = 0x0D,
	IOP_UTIL_DEVICE_RELEASE     = 0x0F,
	IOP_UTIL_EVENT_REGISTER     = 0x13,
	IOP_UTIL_EVENT_ACK          = 0x14,
	IOP_UTIL_REPLY_FAULT_NOTIFY = 0x15,
	IOP_UTIL_LOCK               = 0x17,
	IOP_UTIL_LOCK_RELEASE       = 0x19,
	IOP_UTIL_PRIVATE            = 0xFF,
};

/*
 * UtilEventRegister: word 4 EventMask, the events the initiator wants told
 * (0: none, which cancels). A registration gets no reply; each event then
 * gets one, echoing the registration's contexts, with MsgFlags MULTIPLE (an
 * intermediate reply of a request that stays registered), word 4 the
 * EventIndicator and EventData from word 5 (the I2O SIG layout). A
 * registration that is refused gets an ordinary final reply instead, status
 * in word 4 and no MULTIPLE: that is how a host tells the two apart.
 */
#define IOP_EVENT_MASK_WORD      4u
#define IOP_EVENT_INDICATOR_WORD 4u
#define IOP_EVENT_DATA_WORD      5u
/** Most EventData words an event carries. */
#define IOP_EVENT_DATA_MAX       8u

/** Event indicators every target may raise (I2O's generic ones); bits below 0x00400000 are the class's. */
enum iop_event_indicator {
	IOP_EVENT_STATE_CHANGE       = 0x80000000u,
	IOP_EVENT_GENERAL_WARNING    = 0x40000000u,
	IOP_EVENT_CONFIGURATION_FLAG = 0x20000000u,
	IOP_EVENT_LOCK_RELEASE       = 0x10000000u,
	IOP_EVENT_CAPABILITY_CHANGE  = 0x08000000u,
	IOP_EVENT_DEVICE_RESET       = 0x04000000u,
	IOP_EVENT_MASK_MODIFIED      = 0x02000000u,
	IOP_EVENT_FIELD_MODIFIED     = 0x01000000u,
	IOP_EVENT_VENDOR             = 0x00800000u,
	IOP_EVENT_DEVICE_STATE       = 0x00400000u,
};

/** EventData word 0 of IOP_EVENT_STATE_CHANGE: the state the target entered. */
enum iop_event_state {
	IOP_EVENT_STATE_NORMAL    = 0x00, /**< enabled: operational */
	IOP_EVENT_STATE_SUSPENDED = 0x01, /**< quiesced: takes no requests */
	IOP_EVENT_STATE_RESTART   = 0x02, /**< reset: back to its state after init */
};

/** Executive function codes: valid at TID 0 only. */
enum iop_exec_function {
	IOP_EXEC_STATUS_GET    = 0xA0,
	IOP_EXEC_OUTBOUND_INIT = 0xA1,
	IOP_EXEC_LCT_NOTIFY    = 0xA2,
	IOP_EXEC_SYS_TAB_SET   = 0xA3,
	IOP_EXEC_HRT_GET       = 0xA8,
	IOP_EXEC_DDM_SUSPEND   = 0xAF,
	IOP_EXEC_DDM_DESTROY   = 0xB1,
	IOP_EXEC_IOP_RESET     = 0xBD,
	IOP_EXEC_IOP_CLEAR     = 0xBE,
	IOP_EXEC_SYS_QUIESCE   = 0xC3,
	IOP_EXEC_DDM_QUIESCE   = 0xC7,
	IOP_EXEC_SYS_ENABLE    = 0xD1,
	IOP_EXEC_DDM_ENABLE    = 0xD5,
	IOP_EXEC_DDM_RESET     = 0xD9,
};

/** ReqStatus: reply word 4, bits 24-31. */
enum iop_req_status {
	IOP_REPLY_STATUS_SUCCESS                        = 0x00,
	IOP_REPLY_STATUS_ABORT_DIRTY                    = 0x01,
	IOP_REPLY_STATUS_ABORT_NO_DATA_TRANSFER         = 0x02,
	IOP_REPLY_STATUS_ABORT_PARTIAL_TRANSFER         = 0x03,
	IOP_REPLY_STATUS_ERROR_DIRTY                    = 0x04,
	IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER         = 0x05,
	IOP_REPLY_STATUS_ERROR_PARTIAL_TRANSFER         = 0x06,
	IOP_REPLY_STATUS_PROCESS_ABORT_DIRTY            = 0x08,
	IOP_REPLY_STATUS_PROCESS_ABORT_NO_DATA_TRANSFER = 0x09,
	IOP_REPLY_STATUS_PROCESS_ABORT_PARTIAL_TRANSFER = 0x0A,
	IOP_REPLY_STATUS_TRANSACTION_ERROR              = 0x0B,
	IOP_REPLY_STATUS_PROGRESS_REPORT                = 0x80,
};

/** DetailedStatusCode (common): reply word 4, bits 0-15. */
enum iop_detailed_status {
	IOP_DSC_SUCCESS                    = 0x0000,
	IOP_DSC_REPLY_BUFFER_FULL          = 0x0004,
	IOP_DSC_INSUFFICIENT_RESOURCE_SOFT = 0x0006,
	IOP_DSC_INSUFFICIENT_RESOURCE_HARD = 0x0007,
	IOP_DSC_UNSUPPORTED_FUNCTION       = 0x000A,
	IOP_DSC_DEVICE_LOCKED              = 0x000B,
	IOP_DSC_DEVICE_RESET               = 0x000C,
	IOP_DSC_INAPPROPRIATE_FUNCTION     = 0x000D,
	IOP_DSC_INVALID_INITIATOR_ADDRESS  = 0x000E,
	IOP_DSC_INVALID_MESSAGE_FLAGS      = 0x000F,
	IOP_DSC_INVALID_OFFSET             = 0x0010,
	IOP_DSC_INVALID_PARAMETER          = 0x0011,
	IOP_DSC_INVALID_REQUEST            = 0x0012,
	IOP_DSC_INVALID_TARGET_ADDRESS     = 0x0013,
	IOP_DSC_MESSAGE_TOO_LARGE          = 0x0014,
	IOP_DSC_MESSAGE_TOO_SMALL          = 0x0015,
	IOP_DSC_MISSING_PARAMETER          = 0x0016,
	IOP_DSC_TIMEOUT                    = 0x0017,
	IOP_DSC_UNKNOWN_ERROR              = 0x0018,
	IOP_DSC_UNKNOWN_FUNCTION           = 0x0019,
	IOP_DSC_UNSUPPORTED_VERSION        = 0x001A,
	IOP_DSC_DEVICE_BUSY                = 0x001B,
	IOP_DSC_DEVICE_NOT_AVAILABLE       = 0x001C,
};

/** FailureCode of a transport-failure reply: word 4, byte 3. */
enum iop_failure_code {
	IOP_FAIL_INVALID_VERSION           = 0x88,
	IOP_FAIL_INVALID_OFFSET            = 0x89,
	IOP_FAIL_INVALID_MSG_FLAGS         = 0x8A,
	IOP_FAIL_FRAME_TOO_SMALL           = 0x8B,
	IOP_FAIL_FRAME_TOO_LARGE           = 0x8C,
	IOP_FAIL_INVALID_TARGET_ID         = 0x8D,
	IOP_FAIL_INVALID_INITIATOR_ID      = 0x8E,
	IOP_FAIL_INVALID_INITIATOR_CONTEXT = 0x8F,
	IOP_FAIL_UNKNOWN                   = 0xFF,
};

/** Severity bits of a transport-failure reply: word 4, byte 2. */
enum iop_fail_severity {
	IOP_FAIL_SEV_FORMAT_ERROR = 0x01,
	IOP_FAIL_SEV_PATH_ERROR   = 0x02,
	IOP_FAIL_SEV_PATH_STATE   = 0x04,
	IOP_FAIL_SEV_CONGESTION   = 0x08,
};

/**
 * Words 0-3 of a frame, unpacked. Bit widths on the wire: version 3,
 * sgl_offset 4, flags 8, size_words 16, the TIDs 12, function 8.
 */
struct iop_msg_hdr {
	uint8_t version;              /**< word 0 bits 0-2; 1 = I2O 1.5 */
	uint8_t sgl_offset;           /**< word 0 bits 4-7, in words; 0 = no SGL */
	uint8_t flags;                /**< word 0 bits 8-15: IOP_MSG_* */
	uint16_t size_words;          /**< word 0 bits 16-31, header included */
	uint16_t target_tid;          /**< word 1 bits 0-11 */
	uint16_t initiator_tid;       /**< word 1 bits 12-23 */
	uint8_t function;             /**< word 1 bits 24-31 */
	uint32_t initiator_context;   /**< word 2 */
	uint32_t transaction_context; /**< word 3 */
};

/** Why iop_frame_validate() refused a frame. */
struct iop_frame_verdict {
	uint8_t failure_code; /**< IOP_FAIL_*, 0 when the frame is acceptable */
	uint8_t severity;     /**< IOP_FAIL_SEV_* bits, 0 when acceptable */
};

/**
 * Word 0 of a frame, in host byte order (store it with htole32()): version,
 * SGL offset, MsgFlags and MessageSize, each truncated to its bit field.
 * Inline, as word 1's below: every request and reply is built with them.
 * Thread safety: any thread.
 */
static inline uint32_t iop_msg_word0(uint8_t version, uint8_t sgl_offset, uint8_t flags,
				     uint16_t size_words)
{
	return (uint32_t)(version & 0x7u) | (uint32_t)(sgl_offset & 0xFu) << 4 |
	       (uint32_t)flags << 8 | (uint32_t)size_words << 16;
}

/** Word 1 of a frame, in host byte order: TargetAddress, InitiatorAddress, Function. */
static inline uint32_t iop_msg_word1(uint16_t target_tid, uint16_t initiator_tid, uint8_t function)
{
	return (uint32_t)(target_tid & IOP_TID_MAX) |
	       (uint32_t)(initiator_tid & IOP_TID_MAX) << 12 | (uint32_t)function << 24;
}

/**
 * Pack h into words 0-3, little-endian. Fields wider than their bit field
 * are truncated to it. Word 3 is written even for a 3-word UtilNOP.
 *
 * @param h      the header.
 * @param words  at least IOP_MSG_HDR_WORDS words, 4-byte aligned.
 * Thread safety: any thread.
 */
void iop_msg_hdr_encode(const struct iop_msg_hdr *h, uint32_t *words);

/**
 * Unpack words 0-3 into h. Reads word 3 whatever size_words says: the caller
 * makes sure 4 words are readable (iop_frame_validate() does not decode).
 *
 * @param words  at least IOP_MSG_HDR_WORDS words, 4-byte aligned.
 * @param h      filled in full.
 * Thread safety: any thread.
 */
void iop_msg_hdr_decode(const uint32_t *words, struct iop_msg_hdr *h);

/**
 * Write words 0-4 of the reply to req: version 1.5, REPLY set, both contexts
 * and the function echoed, TargetAddress = replying_tid, InitiatorAddress =
 * the request's initiator, word 4 = detailed_status | req_status << 24.
 * Words past 4 are left to the caller (class-specific payload).
 *
 * @param req              the request being answered.
 * @param replying_tid     TID of the replier (12 bits).
 * @param req_status       IOP_REPLY_STATUS_*.
 * @param detailed_status  IOP_DSC_* or a class-specific code.
 * @param words            at least IOP_REPLY_WORDS words, 4-byte aligned.
 * @param size_words       MessageSize to record; values below IOP_REPLY_WORDS
 *                         are recorded as IOP_REPLY_WORDS, the words written.
 * Thread safety: any thread.
 */
void iop_reply_build(const struct iop_msg_hdr *req, uint16_t replying_tid, uint8_t req_status,
		     uint16_t detailed_status, uint32_t *words, unsigned size_words);

/**
 * Seal a reply a DDM built in words: make words 0-4 say what the runtime
 * vouches for, whatever the DDM wrote there. Version 1.5; the message flags
 * the DDM set, less FAIL, MULTIPLE and LAST, plus REPLY and `flags`
 * (MULTIPLE, LAST or both, or 0); the SGL offset the DDM set; MessageSize
 * size_words; the function, initiator TID and both contexts of req; target
 * TID replying_tid; word 4 detailed_status | req_status << 24. The same as
 * decoding the header, setting those fields and encoding it again, in a few
 * stores (it is on every reply's path).
 *
 * Thread safety: any thread.
 */
void iop_reply_seal(uint32_t *words, const struct iop_msg_hdr *req, uint16_t replying_tid,
		    uint8_t flags, uint16_t size_words, uint8_t req_status,
		    uint16_t detailed_status);

/**
 * Read the status word of a reply.
 *
 * @param words       at least IOP_REPLY_WORDS words, 4-byte aligned.
 * @param req_status  if not NULL, gets ReqStatus.
 * @param dsc         if not NULL, gets DetailedStatusCode.
 * @return 0, or -EPROTO when the frame is not a reply (REPLY clear) or is a
 *         FAIL reply, whose word 4 is not a status (outputs untouched).
 * Thread safety: any thread.
 */
int iop_reply_status(const uint32_t *words, uint8_t *req_status, uint16_t *dsc);

/**
 * Write a 9-word transport-failure reply: MsgFlags FAIL | REPLY; word 4
 * LowestVersion = HighestVersion = 1, severity, failure_code; word 5
 * FailingIOP_ID = iop_id (12 bits), FailingHostUnitID = 0; word 6 AgeLimit 0;
 * words 7-8 PreservedMFA (word 7 = preserved_mfa, word 8 = 0).
 *
 * With req, its TIDs, function and both contexts are echoed, so the host can
 * route the reply (its TransactionContext is not to be trusted, as for any
 * FAIL reply). Without req (a frame too broken to decode), TIDs are
 * IOP_TID_NONE and function and contexts 0: the host finds its request
 * through PreservedMFA alone.
 *
 * @param words  at least IOP_FAIL_REPLY_WORDS words, 4-byte aligned.
 * Thread safety: any thread.
 */
void iop_fail_reply_build(const struct iop_msg_hdr *req_or_null, uint8_t failure_code,
			  uint8_t severity, uint16_t iop_id, uint32_t preserved_mfa,
			  uint32_t *words);

/**
 * Read a transport-failure reply. Any output may be NULL.
 *
 * @param words          at least IOP_FAIL_REPLY_WORDS words, 4-byte aligned.
 * @param failure_code   gets FailureCode (IOP_FAIL_*).
 * @param severity       gets the Severity bits.
 * @param preserved_mfa  gets the low 32 bits of PreservedMFA.
 * @return 0, or -EPROTO when FAIL or REPLY is clear (outputs untouched).
 * Thread safety: any thread.
 */
int iop_fail_reply_decode(const uint32_t *words, uint8_t *failure_code, uint8_t *severity,
			  uint32_t *preserved_mfa);

/**
 * Check an untrusted request frame before anything else looks at it. Reads
 * only words 0 and 1, and only within [frame, frame + block_bytes); any
 * alignment. The checks apply in this order, the first failing one decides:
 *
 *  1. block_bytes < 12, or size_words < 3              FRAME_TOO_SMALL
 *  2. size_words * 4 > block_bytes                      FRAME_TOO_LARGE
 *  3. size_words == 3 and function != UtilNOP           FRAME_TOO_SMALL
 *  4. bits 0-3 of word 0 != 1 (version 1.5, and the
 *     reserved bit 3 clear)                             INVALID_VERSION
 *  5. sgl_offset != 0 and (sgl_offset < 4 or
 *     sgl_offset >= size_words)                         INVALID_OFFSET
 *  6. any of REPLY, FAIL, 64BIT_CONTEXT (iopool uses
 *     32-bit contexts) or the reserved 0x04, 0x08 set   INVALID_MSG_FLAGS
 *  7. target TID == 0xFFF                               INVALID_TARGET_ID
 *  8. initiator TID == 0xFFF                            INVALID_INITIATOR_ID
 *
 * Size comes first so that a frame whose header lies about its length is
 * refused before any field is trusted. Every refusal has severity
 * IOP_FAIL_SEV_FORMAT_ERROR.
 *
 * @param frame        the frame; may be NULL only if block_bytes is 0.
 * @param block_bytes  bytes readable at frame (the heap block holding it).
 * @param v            filled in full: zeros when acceptable.
 * @return 0 when acceptable; -EPROTO with v set when refused; -EINVAL for a
 *         NULL v, or a NULL frame with block_bytes != 0 (v, if any, untouched).
 * Thread safety: any thread; frame is only read.
 */
int iop_frame_validate(const void *frame, size_t block_bytes, struct iop_frame_verdict *v);

/**
 * iop_frame_validate() and iop_msg_hdr_decode() in one, reading each word of
 * the frame once: what is checked is what is decoded, even if the host
 * rewrites the frame meanwhile, and the IOP's path of every request reads
 * the header once instead of twice. Same checks, same order, same verdicts.
 *
 * @param h  accepted: words 0-3 decoded, with transaction_context 0 for a
 *           3-word UtilNOP (word 3 is not part of it). Refused: decoded
 *           likewise, word 3 as it is (0 in a block under 16 bytes), so
 *           that a FAIL reply can echo it; untouched for a block under 12
 *           bytes (or -EINVAL).
 * @return as iop_frame_validate(); -EINVAL also for a NULL h.
 * Thread safety: any thread; frame is only read.
 */
int iop_frame_validate_decode(const void *frame, size_t block_bytes, struct iop_msg_hdr *h,
			      struct iop_frame_verdict *v);

#ifdef __cplusplus
}
#endif

#endif /* IOP_FRAME_H */
