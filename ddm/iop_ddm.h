/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The device-driver module (DDM) interface: what a DDM gives the IOP runtime
 * (a table of callbacks, its class, identity and the function codes it
 * accepts) and what the runtime gives a DDM (the request in hand, reply
 * frames, its private state).
 *
 * The runtime, not the DDM, answers what every target must answer the same
 * way, so each DDM gets that conformance for free:
 *  - malformed frames: a FAIL reply with the FailureCode and PreservedMFA;
 *  - UtilNOP: the frame freed, no reply;
 *  - a function the DDM does not list: a reply with DSC UNSUPPORTED_FUNCTION
 *    (a function I2O defines) or UNKNOWN_FUNCTION (one it does not);
 *  - both contexts echoed and REPLY set in every reply it builds;
 *  - UtilEventRegister: hosts registered per target, told of the events the
 *    runtime raises (state changes, resets) and those the DDM raises with
 *    iop_ddm_event_raise();
 *  - exactly one final reply per request: a second is refused and counted,
 *    a request finished without one is answered for the DDM and counted
 *    (a request may get intermediate replies first, MULTIPLE, through
 *    iop_request_reply_more()).
 *
 * A DDM's callbacks run on the lcore the runtime gives it, one call at a time
 * per DDM: a DDM needs no locks of its own unless it shares state with
 * another DDM.
 *
 * Built-in DDMs register themselves with IOP_DDM_REGISTER(); third-party
 * DDMs are shared objects that export their table with IOP_DDM_EXPORT() and
 * are loaded with iop_ddm_load().
 */
#ifndef IOP_DDM_H
#define IOP_DDM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * The version of this interface. A DDM built against another version is
 * refused at registration or load, with a message that names both.
 */
#define IOP_DDM_ABI_VERSION 1u

/**
 * Parameter groups (UtilParamsGet, UtilParamsSet). iopool's frame: word 4
 * GroupNumber (bits 0-15); ParamsSet then a field count in word 5 and the
 * fields as 64-bit little-endian values from word 6. The reply to ParamsGet
 * carries the field count in word 5 and the fields from word 6 the same way.
 * Groups from IOP_PARAMS_GROUP_RUNTIME up are the runtime's, for every target.
 */
#define IOP_PARAMS_GROUP_RUNTIME 0xF000u
/**
 * The runtime's counters of the target, read-only: requests, replies,
 * failures, unsupported, double replies, missing replies, retries, and
 * requests in flight (frames it holds), in that order.
 */
#define IOP_PARAMS_GROUP_TARGET_STATS 0xF000u
/** Most fields in a ParamsGet reply or a ParamsSet request. */
#define IOP_PARAMS_MAX_FIELDS 64u

/** Longest DDM name, terminating NUL included. */
#define IOP_DDM_NAME_MAX 32u

/** What a DDM's handle callback did with a request. */
enum iop_ddm_result {
	/** Finished: replied (or, for a request that takes none, done). */
	IOP_DDM_DONE = 0,
	/** Kept: the DDM replies later, from a callback, with iop_request_reply*(). */
	IOP_DDM_PENDING = 1,
	/**
	 * Not now (no reply frame, a device queue full): the runtime hands the
	 * same request back later. The DDM must not have replied.
	 */
	IOP_DDM_RETRY = 2,
};

struct iop_ddm;     /**< one DDM instance in a runtime */
struct iop_request; /**< one request frame in the IOP's hands */
struct iop_msg_hdr; /**< <iop/frame.h> */
struct iop_window;  /**< <iop/window.h> */

/** A DDM: its identity and callbacks. Only name, class_id and handle are required. */
struct iop_ddm_ops {
	uint32_t abi_version;       /**< IOP_DDM_ABI_VERSION */
	const char *name;           /**< unique: how configurations name it */
	uint16_t class_id;          /**< IOP_CLASS_* (<iop/lct.h>) */
	uint8_t class_version;      /**< the LCT entry's Version, 4 bits */
	uint16_t org_id;            /**< the LCT entry's OrgID */
	uint32_t sub_class;         /**< the LCT entry's SubClassInfo */
	const char *identity;       /**< up to 8 bytes: the LCT IdentityTag */
	/** Function codes the DDM answers itself; the runtime answers the rest. */
	const uint8_t *functions;
	unsigned n_functions;
	/** Bytes of private state the runtime allocates, zeroed, per instance. */
	size_t priv_size;

	/**
	 * Set the instance up. params is the configuration's text for this
	 * instance ("" when none). @return 0, or a negative errno to refuse.
	 */
	int (*init)(struct iop_ddm *d, const char *params);
	/**
	 * A request for one of the DDM's functions, already validated as a frame.
	 * @return an enum iop_ddm_result, or a negative errno, which the runtime
	 *         answers for the DDM (as a missing reply).
	 */
	int (*handle)(struct iop_ddm *d, struct iop_request *r);
	/** Called on every turn of the lcore's loop; NULL for none. @return work done. */
	int (*poll)(struct iop_ddm *d);
	/**
	 * UtilParamsGet of one of the DDM's parameter groups (group numbers
	 * below IOP_PARAMS_GROUP_RUNTIME): fill up to max fields.
	 * @return how many, -ENOENT for a group it does not have. NULL: none.
	 */
	int (*params_get)(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max);
	/**
	 * UtilParamsSet of one of its groups, n fields from the first.
	 * @return 0, -ENOENT (no such group), -EINVAL (a value it refuses) or
	 *         -EPERM (read-only). NULL: nothing can be set.
	 */
	int (*params_set)(struct iop_ddm *d, uint16_t group, const uint64_t *fields, unsigned n);
	/**
	 * Stop taking new work; finish or fail what is in flight. NULL for
	 * nothing to do. @return 0 when done; -EAGAIN or -ENOMEM when it could
	 * not finish now (no reply frame free): called again on a later turn,
	 * and the executive answers only once it is done.
	 */
	int (*quiesce)(struct iop_ddm *d);
	/** Back to the state after init. NULL for nothing to do. @return as quiesce. */
	int (*reset)(struct iop_ddm *d);
	/** Release everything init took. NULL for nothing to do. */
	void (*fini)(struct iop_ddm *d);
};

/* ---- what a DDM calls ---- */

/** The instance's private state (priv_size bytes, zeroed at creation). */
void *iop_ddm_priv(struct iop_ddm *d);

/** The instance's TID. */
uint16_t iop_ddm_tid(const struct iop_ddm *d);

/** The instance's ops. */
const struct iop_ddm_ops *iop_ddm_ops(const struct iop_ddm *d);

/** The request's header, decoded once by the runtime after validation. */
const struct iop_msg_hdr *iop_request_hdr(const struct iop_request *r);

/**
 * Has the host that posted this request left (its channel closed, or
 * reclaimed and perhaps opened again by another)? A DDM that holds requests
 * for long (a LAN ReceivePost waiting for packets) answers such a request
 * now, with any status, rather than when its work would be done: until it
 * is answered, the host's channel and frames cannot be taken back.
 * Thread safety: the DDM's lcore.
 */
bool iop_request_orphaned(const struct iop_request *r);

/**
 * The request frame in this process: MessageSize words, readable and
 * writable, valid until the request is answered.
 */
uint32_t *iop_request_frame(const struct iop_request *r);

/** The request's MFA. */
uint32_t iop_request_mfa(const struct iop_request *r);

/** The frame window the request lives in (<iop/window.h>), for its SGL bounds. */
struct iop_window *iop_request_window(const struct iop_request *r);

/**
 * A reply frame of `words` words (at least IOP_REPLY_WORDS) from the outbound
 * heap, words 0-4 already built for this request (REPLY set, contexts echoed)
 * with status SUCCESS; words past 4 are the DDM's to fill.
 *
 * @return the frame, or NULL with errno ENOMEM when the outbound heap is full
 *         (return IOP_DDM_RETRY and try again when called again), EALREADY
 *         when the request has been answered, EINVAL for words out of range.
 * Thread safety: the DDM's lcore.
 */
uint32_t *iop_request_reply_alloc(struct iop_request *r, unsigned words);

/**
 * Send the reply frame from iop_request_reply_alloc() with this status, and
 * free the request frame: the request is finished. The reply's MessageSize
 * is set to words (at most what was allocated).
 *
 * @return 0; -EALREADY for a second reply (refused, counted, reply frame
 *         freed); -EINVAL for a frame not allocated for this request.
 * Thread safety: the DDM's lcore.
 */
int iop_request_reply_send(struct iop_request *r, uint32_t *reply, unsigned words,
			   uint8_t req_status, uint16_t dsc);

/**
 * Send the reply frame from iop_request_reply_alloc() as one of several
 * replies to the request (as a LAN DDM batches received packets): MsgFlags
 * MULTIPLE, without LAST. The request stays the DDM's, frame and all; more
 * intermediate replies may follow, and the final reply, sent as usual with
 * iop_request_reply_send() or iop_request_reply(), then carries
 * MULTIPLE | LAST. Each reply is counted in the target's replies. Like every
 * reply it goes to the host's reply ring in order, or waits on the loop when
 * the ring is full; it takes no reply credit of its own, so a DDM should
 * bound how many it sends (a LAN DDM sends at most one per bucket posted).
 *
 * @return 0; -EALREADY after the final reply (refused, counted as a double
 *         reply); -EINVAL for a frame not allocated for this request.
 * Thread safety: the DDM's lcore.
 */
int iop_request_reply_more(struct iop_request *r, uint32_t *reply, unsigned words,
			   uint8_t req_status, uint16_t dsc);

/**
 * A status-only reply (5 words): allocate, build and send.
 * @return 0; -ENOMEM when no reply frame is free now (the request is still
 *         the DDM's: return IOP_DDM_RETRY); -EALREADY as above.
 * Thread safety: the DDM's lcore.
 */
int iop_request_reply(struct iop_request *r, uint8_t req_status, uint16_t dsc);

/**
 * Leave the request unanswered for good: no reply is ever sent for it, not
 * even when the DDM is destroyed (which answers every other request it
 * held), and its frame, the buffers its SGL names and its channel's credit
 * stay in the IOP, so the host's channel never goes idle and is never
 * reclaimed. Only for a DDM that can no longer know when its device is done
 * with the request's buffers (an I/O ring that broke with I/O in flight):
 * answering would let the host reuse memory the device may still write.
 * Only for a request the DDM holds (its handle returned IOP_DDM_PENDING):
 * a handle that abandons its request and returns anything else gets the
 * runtime's missing-reply answer instead. Each abandoned request keeps one
 * of its loop's request slots and, in iopd, its host's entry for as long as
 * the IOP runs.
 * Thread safety: the DDM's lcore.
 */
void iop_request_abandon(struct iop_request *r);

/**
 * Tell the hosts registered for this target's events (UtilEventRegister,
 * which the runtime answers for every DDM that does not list it) that an
 * event happened: one event reply (<iop/frame.h>) to each registration whose
 * mask has a bit of `indicator`, carrying only the bits it asked for. A
 * DDM's own events use the class's bits (below IOP_EVENT_DEVICE_STATE) or
 * the generic ones it can raise (IOP_EVENT_GENERAL_WARNING, ...); the
 * runtime raises IOP_EVENT_STATE_CHANGE and IOP_EVENT_DEVICE_RESET itself.
 * An event that finds no reply frame free, or no room in the host's reply
 * ring, waits and is sent on a later turn, in order; raised again meanwhile
 * (the same indicator), it goes once, with the latest EventData.
 *
 * @param data     EventData words (from word 5); NULL when n_words is 0.
 * @param n_words  at most IOP_EVENT_DATA_MAX.
 * @return how many registrations were told (now or later), or -EINVAL for
 *         indicator 0 or too many words.
 * Thread safety: the DDM's lcore (from its callbacks).
 */
int iop_ddm_event_raise(struct iop_ddm *d, uint32_t indicator, const uint32_t *data,
			unsigned n_words);

/**
 * May the DDM's poll block now, for a bounded time, waiting for its own I/O
 * to complete (as an interrupt-driven poll mode does) rather than return and
 * be polled again? True when this turn of its loop has so far taken no
 * request, answered none and carried none on (a request handed back to
 * wait again, IOP_DDM_RETRY, is no progress), and no other DDM of the loop
 * has been told so in this turn: true at most once a turn, so a turn sleeps
 * once at most. A DDM that is told true and blocks delays what comes after
 * its poll in the turn (the later DDMs' polls, the executive's) and the
 * requests that arrive meanwhile, by as long as it blocks: it bounds the
 * wait, and asks only when it has I/O in flight to wait for.
 * Thread safety: the DDM's lcore, from its poll callback.
 */
bool iop_ddm_loop_idle(struct iop_ddm *d);

/* ---- registration ---- */

/**
 * Add a DDM type to the process's registry, which keeps the pointer: the
 * table must live as long as the process (a static const, as the macros make).
 * @return 0; -EPROTO for another ABI version (a message on stderr names both);
 *         -EEXIST for a name already registered; -EINVAL for a table without
 *         name or handle, or a name longer than IOP_DDM_NAME_MAX - 1.
 * Thread safety: not concurrent with itself or iop_ddm_find() (constructors
 * and start-up run single-threaded).
 */
int iop_ddm_register(const struct iop_ddm_ops *ops);

/** The registered DDM type of that name, or NULL. */
const struct iop_ddm_ops *iop_ddm_find(const char *name);

/**
 * Load a third-party DDM from a shared object built with IOP_DDM_EXPORT().
 * Its ABI version is read from the object's `iop_ddm_abi_version` symbol
 * before anything else in it is touched.
 *
 * @param path  the shared object's path.
 * @param ops   gets the DDM's table, now registered.
 * @param err   gets a message for the user on failure (may be NULL).
 * @return 0; -ENOENT (cannot open: dlerror in err), -ENOEXEC (not a DDM: no
 *         iop_ddm_abi_version or iop_ddm_entry), -EPROTO (another ABI
 *         version), -EEXIST (the name is taken), -EINVAL (a bad table).
 */
int iop_ddm_load(const char *path, const struct iop_ddm_ops **ops, char *err, size_t errlen);

/** Register a built-in DDM when the program starts. */
#define IOP_DDM_REGISTER(ops)                                                          \
	__attribute__((constructor)) static void iop_ddm_register_##ops(void)            \
	{                                                                                \
		(void)iop_ddm_register(&(ops));                                          \
	}

/** Export a DDM from a shared object for iop_ddm_load(). */
#define IOP_DDM_EXPORT(ops)                                                            \
	__attribute__((visibility("default"))) const uint32_t iop_ddm_abi_version =      \
		IOP_DDM_ABI_VERSION;                                                     \
	__attribute__((visibility("default"))) const struct iop_ddm_ops *iop_ddm_entry(void); \
	const struct iop_ddm_ops *iop_ddm_entry(void)                                    \
	{                                                                                \
		return &(ops);                                                           \
	}

#ifdef __cplusplus
}
#endif

#endif /* IOP_DDM_H */
