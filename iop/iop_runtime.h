/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The IOP runtime: DDM instances at their TIDs, the executive at TID 0, and
 * one poll loop per lcore that takes request MFAs from the host channels of a
 * frame window, validates and dispatches them, and posts the replies.
 *
 * The runtime itself needs no EAL: iop_runtime_poll() is one turn of one
 * lcore's loop, which a DPDK lcore calls in a loop (iop_runtime_lcore_loop),
 * and which a unit test calls turn by turn on one thread, so dispatch is
 * tested without timing luck.
 */
#ifndef IOP_RUNTIME_H
#define IOP_RUNTIME_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_window;
struct iop_runtime;

/** Most DDM instances in one runtime, the executive not counted. */
#define IOP_RUNTIME_MAX_DDMS 64u
/** Most poll loops (lcores) in one runtime. */
#define IOP_RUNTIME_MAX_LCORES 16u
/** TID of the first configured DDM; the next ones follow in order. */
#define IOP_RUNTIME_FIRST_DDM_TID 0x010u

/** IOP states (ExecStatusGet), as I2O numbers them. */
enum iop_state {
	IOP_STATE_INIT = 0x01,
	IOP_STATE_RESET = 0x02,
	IOP_STATE_HOLD = 0x04,
	IOP_STATE_READY = 0x05,
	IOP_STATE_OPERATIONAL = 0x08,
	IOP_STATE_FAILED = 0x10,
	IOP_STATE_FAULTED = 0x11,
};

/** One DDM instance to create. */
struct iop_runtime_ddm {
	const char *name;   /**< a registered DDM type (<iop/ddm.h>) */
	const char *params; /**< handed to its init; NULL = "" */
	unsigned lcore;     /**< index of the poll loop that runs it, < lcores */
};

/** What a runtime is made of. */
struct iop_runtime_config {
	/** The frame window to serve; the runtime does not own or close it. */
	struct iop_window *window;
	unsigned lcores;    /**< poll loops, 1 .. IOP_RUNTIME_MAX_LCORES */
	uint16_t iop_id;    /**< FailingIOP_ID of FAIL replies, ExecStatusGet's IOP_ID */
	const struct iop_runtime_ddm *ddms;
	unsigned n_ddms;
};

/** Counters of one target (a DDM, or the executive), as UtilParamsGet reports them. */
struct iop_ddm_stats {
	uint64_t requests;        /**< requests delivered to it (UtilNOP included) */
	uint64_t replies;         /**< replies posted for it, by it or by the runtime */
	uint64_t failures;        /**< replies with non-zero ReqStatus, and FAIL replies */
	uint64_t unsupported;     /**< functions it does not take, answered by the runtime */
	uint64_t double_replies;  /**< second replies it tried to send, refused */
	uint64_t missing_replies; /**< requests it finished without a reply, answered for it */
	uint64_t retries;         /**< times it asked for a request again later */
	uint64_t in_flight;       /**< requests it holds now (pending or waiting to retry) */
	uint64_t events;          /**< event replies sent to hosts registered with it */
};

/** Counters of the runtime as a whole. */
struct iop_runtime_stats {
	uint64_t fail_replies;    /**< FAIL replies: malformed frames, unknown targets, bad MFAs */
	uint64_t bad_mfas;        /**< posted MFAs that named no live frame */
	uint64_t replies_held;    /**< replies waiting for room in a full reply ring, now */
	uint64_t replies_dropped; /**< replies for hosts that had left (frame freed) */
	/** requests DDMs abandoned (iop_request_abandon): never to be answered, held for good */
	uint64_t requests_abandoned;
};

/**
 * Make a runtime: the executive at TID 0 and each configured DDM at TIDs
 * IOP_RUNTIME_FIRST_DDM_TID onward, in order, each set up with its init.
 * The runtime starts OPERATIONAL.
 *
 * @param err  gets a message for the user on failure (may be NULL).
 * @return the runtime, or NULL with errno: EINVAL (bad configuration),
 *         ENOENT (a DDM name not registered), or the errno a DDM's init
 *         returned (err names the DDM).
 */
struct iop_runtime *iop_runtime_create(const struct iop_runtime_config *cfg, char *err,
				       size_t errlen);

/**
 * One turn of poll loop `lcore`: take request MFAs from the channels this
 * loop owns (channel id % lcores == lcore) and from requests forwarded to
 * it, dispatch them, retry what was waiting, post held replies, and call its
 * DDMs' poll callbacks.
 *
 * @return how much work was done (0 = idle), or -EINVAL for a bad lcore.
 * Thread safety: one thread per lcore index at a time; different lcores in
 * parallel.
 */
int iop_runtime_poll(struct iop_runtime *rt, unsigned lcore);

/**
 * Poll lcore `lcore` until *stop is set, then return 0. The body of a DPDK
 * lcore (rte_eal_remote_launch) or of any thread.
 */
int iop_runtime_lcore_loop(struct iop_runtime *rt, unsigned lcore, const _Atomic int *stop);

/** TID of the DDM instance created from the i-th configuration entry. */
uint16_t iop_runtime_ddm_tid(const struct iop_runtime *rt, unsigned i);

/** Counters of the target at tid (0 = the executive). @return 0 or -ENOENT. */
int iop_runtime_ddm_stats(const struct iop_runtime *rt, uint16_t tid, struct iop_ddm_stats *s);

/** Counters of the runtime. */
void iop_runtime_stats(const struct iop_runtime *rt, struct iop_runtime_stats *s);

/** The IOP state (enum iop_state). */
int iop_runtime_state(const struct iop_runtime *rt);

/**
 * Nothing of channel `id` is in the IOP: its request ring is empty and every
 * request taken from it has been answered. Once a channel is closed (its host
 * gone) and this says so, nothing will be posted to its reply ring again.
 * Thread safety: any thread.
 */
bool iop_runtime_channel_idle(const struct iop_runtime *rt, unsigned id);

/**
 * Quiesce from outside the loops (a daemon shutting down): every DDM's
 * quiesce on its own loop, then READY, so new requests are answered
 * DEVICE_NOT_AVAILABLE. Waits for the loops, at most timeout_ms.
 * @return 0, or -ETIMEDOUT (the loops are not running).
 * Thread safety: any thread but a loop's.
 */
int iop_runtime_quiesce(struct iop_runtime *rt, unsigned timeout_ms);

/** A target (the executive or a DDM), as telemetry and tools list them. */
struct iop_target_info {
	uint16_t tid;
	uint16_t class_id;
	unsigned lcore;
	const char *name;
	int live;
};

/** Number of targets: the executive and every configured DDM, destroyed ones included. */
unsigned iop_runtime_targets(const struct iop_runtime *rt);

/** Target i (0 = the executive). @return 0, or -ENOENT past the end. */
int iop_runtime_target(const struct iop_runtime *rt, unsigned i, struct iop_target_info *t);

/** The window the runtime serves. */
struct iop_window *iop_runtime_window(const struct iop_runtime *rt);

/**
 * Finish: every DDM's fini, in reverse order; the replies a fini makes are
 * posted. Requests still queued stay in the window's rings. Not concurrent
 * with iop_runtime_poll().
 */
void iop_runtime_destroy(struct iop_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* IOP_RUNTIME_H */
