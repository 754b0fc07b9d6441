/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The host side of iopool: what applications link to send I2O requests to
 * DDMs and take their replies, from threads that are not DPDK lcores and
 * from processes that never start the EAL.
 *
 * A host attaches to an IOP, in one of two ways:
 *  - iop_host_attach(): to a running iopd through its control socket. The
 *    host gets the shared frame window and an owner id, and every frame it
 *    holds is stamped with that id, so that iopd can take back what the
 *    host held if it detaches or dies.
 *  - iop_host_attach_runtime(): to a runtime in the same process.
 *
 * Each host thread then makes its own queue pair (struct iop_qp): a channel
 * of the window (its own single-producer request ring and reply ring) and a
 * table of the requests it has in flight. A request is a frame of the
 * inbound heap (iop_qp_frame_alloc()), filled by a builder (<iop/build.h>) or
 * by hand, and posted with a completion callback; iop_qp_poll() takes the
 * replies, matches each to its request by TransactionContext (which the queue
 * pair writes), runs the callback and frees the reply. iop_qp_call() is the
 * synchronous form, with a timeout; iop_qp_call_turning() the same for a
 * thread that turns the IOP's loop itself while it waits.
 *
 * Nothing is lost: a full ring or a full table is -EAGAIN and the frame
 * stays the caller's to post again; a transport-failure (FAIL) reply hands
 * the request frame back, and the queue pair frees it after the callback.
 */
#ifndef IOP_HOST_H
#define IOP_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_host;
struct iop_qp;
struct iop_channel;
struct iop_runtime;
struct iop_window;

/**
 * The control socket iopd listens on when not told otherwise:
 * $XDG_RUNTIME_DIR/iopd.sock, or /tmp/iopd-UID.sock without one.
 * @return 0, or -ENAMETOOLONG when it does not fit buf or a socket address.
 */
int iop_host_default_socket(char *buf, size_t len);

/**
 * Attach to the iopd listening at socket_path: receive its frame window and
 * an owner id. iopd has 5 seconds to answer this and each channel
 * registration (a stopped iopd holds nobody for ever).
 * @return the host, or NULL with errno (and a message in err): what connect
 *         said (ENOENT, ECONNREFUSED: no iopd there), EACCES (iopd refused
 *         this user), ETIMEDOUT (no answer), EPROTO (not an iopd, or another
 *         protocol version).
 * Thread safety: any thread.
 */
struct iop_host *iop_host_attach(const char *socket_path, char *err, size_t errlen);

/**
 * Attach to a runtime of this process (tests, benchmarks, a replay that runs
 * the IOP itself). The host takes an owner id of its own from the top of the
 * id range (0xFFFF down), which iopd never gives out while there are fewer
 * than 32,000 hosts; a window served by iopd should not also have in-process
 * hosts.
 * @return the host, or NULL with errno (ENOSPC: no owner id left).
 */
struct iop_host *iop_host_attach_runtime(struct iop_runtime *rt, char *err, size_t errlen);

/**
 * Detach: destroy the host's queue pairs that are left (as iop_qp_destroy()
 * with no wait), and give back every frame the host holds. Attached to
 * iopd, the host's socket closes and iopd finishes or frees the rest of its
 * channels' work and frees every frame stamped as the host's, as for a host
 * that dies. In-process, detach waits (at most timeout_ms) until the runtime
 * holds nothing of the host's channels, frees the replies, reclaims the
 * channels and frees what the host held.
 * @return 0, or -ETIMEDOUT (in-process: the runtime still held requests of
 *         the host's; their channels and frames are left to the runtime).
 * Thread safety: once every other thread of the host has stopped using it.
 */
int iop_host_detach(struct iop_host *h, unsigned timeout_ms);

/** The shared frame window, mapped in this process. */
struct iop_window *iop_host_window(const struct iop_host *h);

/** The owner id the host holds frames under. */
uint16_t iop_host_owner(const struct iop_host *h);

/**
 * Open a bare channel for the calling thread and register it with iopd (for
 * programs that drive the rings themselves; most use a queue pair). The IOP
 * puts answered requests' frames on its free_to_host list (<iop/channel.h>):
 * up to IOP_FREE_LIST_HOLD of them stay allocated there, the host's, until
 * the host takes them or the channel is closed and reclaimed.
 * @return 0, -ENOSPC (every channel in use), or what iopd answered.
 * Thread safety: any thread.
 */
int iop_host_channel_open(struct iop_host *h, struct iop_channel *ch);

/** A request frame of at least `bytes` from the inbound heap, stamped as this host's. */
void *iop_host_frame_alloc(struct iop_host *h, size_t bytes);

/**
 * A reply MFA taken from a channel: the frame. (Replies come tagged with
 * the owner id the channel was opened as: the host's from the start.)
 * @return the frame, or NULL for an MFA that names no live frame.
 */
void *iop_host_reply_claim(struct iop_host *h, uint32_t mfa, size_t *block_bytes);

/**
 * Free a frame the host holds (a request it did not post, a request a FAIL
 * reply gave back, a reply it has read).
 * @return 0, or what iop_heap_free said (-EFAULT: not a frame of the window).
 */
int iop_host_frame_free(struct iop_host *h, void *frame);

/* ---- Queue pairs: one per host thread ---------------------------------- */

/** Options of iop_qp_create(); all zeros is a good default. */
struct iop_qp_opts {
	/**
	 * Requests in flight at most (a table entry each); 0 = the capacity of
	 * the channel's reply ring, the most the IOP would take anyway.
	 */
	unsigned depth;
};

/** What a completion callback is told. */
struct iop_completion {
	/**
	 * 0: a reply with ReqStatus SUCCESS; -EIO: a reply with another status
	 * (req_status, dsc say which); -EPROTO: a transport-failure reply
	 * (fail_code says why; the request frame came back and is freed after
	 * the callback), or a frame on the reply ring that is no reply (REPLY
	 * flag clear, or a FAIL too short to decode: request NULL, fail_code 0).
	 */
	int result;
	uint8_t req_status;      /**< ReqStatus of a reply; 0 for FAIL */
	uint16_t dsc;            /**< DetailedStatusCode of a reply; 0 for FAIL */
	uint8_t fail_code;       /**< FailureCode of a FAIL reply (IOP_FAIL_*), else 0 */
	const uint32_t *reply;   /**< the reply frame's words, valid during the callback */
	size_t reply_words;      /**< its MessageSize, at most the block it came in */
	uint32_t *request;       /**< FAIL only: the request frame, given back; else NULL */
	void *arg;               /**< what the request was posted with */
	/**
	 * One of several replies to the request (MsgFlags MULTIPLE without
	 * LAST, as LAN DDMs batch received packets): the request stays in
	 * flight and its callback runs again for each reply, the last one
	 * with more false.
	 */
	bool more;
	/**
	 * An event of a registration (UtilEventRegister): event_indicator has
	 * the IOP_EVENT_* bits that fired, EventData is reply[5..reply_words),
	 * result is 0 and more is true: the registration stays.
	 */
	bool event;
	uint32_t event_indicator; /**< events only */
};

/** Runs in iop_qp_poll() (or iop_qp_call()) on the queue pair's thread. */
typedef void (*iop_qp_cb)(struct iop_qp *qp, const struct iop_completion *c);

/**
 * Make a queue pair for the calling thread: open a channel (registered with
 * iopd when attached to one) and the table of requests in flight.
 * @return the queue pair, or NULL with errno (ENOSPC: no channel free;
 *         ENOMEM; or what iopd answered).
 * Thread safety: any thread; the queue pair then belongs to one thread at
 * a time.
 */
struct iop_qp *iop_qp_create(struct iop_host *h, const struct iop_qp_opts *opts);

/**
 * Wait (at most timeout_ms) for the replies of requests in flight, running
 * their callbacks, then close the channel and free the queue pair. Requests
 * still in flight after the wait are the IOP's to finish; their replies are
 * freed when the host detaches.
 * @return 0, or -ETIMEDOUT when requests were still in flight.
 */
int iop_qp_destroy(struct iop_qp *qp, unsigned timeout_ms);

/** The host a queue pair belongs to. */
struct iop_host *iop_qp_host(const struct iop_qp *qp);

/** The channel a queue pair posts on (id, generation, rings). */
const struct iop_channel *iop_qp_channel(const struct iop_qp *qp);

/** Requests posted and not yet answered (UtilNOP is never counted). */
unsigned iop_qp_outstanding(const struct iop_qp *qp);

/**
 * A request frame of at least `bytes` (at least 16), stamped as the host's:
 * one the IOP gave back on the channel's inbound free list (<iop/channel.h>)
 * if it is small enough, else one from the inbound heap.
 * @return the frame, or NULL with errno ENOMEM when the heap has no block
 *         that large free now (a retry may succeed once replies come back).
 */
uint32_t *iop_qp_frame_alloc(struct iop_qp *qp, size_t bytes);

/** Give back a request frame that was not posted. @return 0 or -EFAULT. */
int iop_qp_frame_free(struct iop_qp *qp, uint32_t *frame);

/**
 * Post one request. The queue pair writes its TransactionContext (and its
 * InitiatorContext, which says which queue pair a reply is for); the rest of
 * the frame is the caller's, already built. A UtilNOP takes no table entry
 * and gets no callback: I2O has no reply to it. A UtilEventRegister takes
 * an entry that stays for its events (iop_qp_event_register()).
 * @return 0: the frame is the IOP's now. -EAGAIN: the request ring or the
 *         table is full; the frame is still the caller's, to post again
 *         after polling. -EINVAL: not a frame of this host's inbound heap,
 *         or a header with MessageSize 0 or larger than its block.
 */
int iop_qp_post(struct iop_qp *qp, uint32_t *frame, iop_qp_cb cb, void *arg);

/**
 * Post frames[0..n) in order, as many as the ring and table take.
 * @param args  per-request callback arguments, or NULL for all NULL.
 * @return how many were posted (a prefix); the others are still the
 *         caller's. A frame refused as by iop_qp_post()'s -EINVAL ends the
 *         burst there, with errno EINVAL.
 */
unsigned iop_qp_post_burst(struct iop_qp *qp, uint32_t *const *frames, unsigned n,
			   iop_qp_cb cb, void *const *args);

/**
 * Take up to max replies, run their callbacks in the order they came, and
 * free them (and, for FAIL replies, the request frames they gave back).
 * A reply that matches no request in flight (a late reply to an
 * iop_qp_call() that timed out) is freed without a callback.
 * @return how many callbacks ran.
 */
unsigned iop_qp_poll(struct iop_qp *qp, unsigned max);

/**
 * Register for a target's events: post UtilEventRegister with `mask`. No
 * reply comes to it; `cb` runs for each event (iop_completion.event), and
 * once with result -EIO (or -EPROTO) if the IOP refuses the registration,
 * which ends it. A registration takes a table entry and is not counted in
 * iop_qp_outstanding(). Registering again for the same target replaces it;
 * mask 0 cancels it. Either way the queue pair forgets the earlier one at
 * once (the IOP ends it too, even when it refuses the new one): events of
 * it still on their way are freed without a callback.
 * (iop_qp_post() of a frame from iop_build_util_event_register() does the
 * same.)
 * @return 0; -ENOMEM (no request frame now) or -EAGAIN (ring or table
 *         full): nothing was posted, and an earlier registration stands.
 */
int iop_qp_event_register(struct iop_qp *qp, uint16_t tid, uint32_t mask, iop_qp_cb cb,
			  void *arg);

/**
 * Post one request and wait for its reply (the last, for a request
 * answered with several), polling (other requests' callbacks run meanwhile).
 * @param reply        gets the reply's first reply_words words (at most its
 *                     MessageSize); may be NULL.
 * @param reply_words  room at reply.
 * @param c            if not NULL, gets the completion (its reply and
 *                     request pointers are no longer valid on return);
 *                     untouched unless a reply came.
 * @param timeout_ms   how long to wait for room to post and for the reply.
 * @return the completion's result (0, -EIO, -EPROTO); -EAGAIN when the
 *         request could not be posted in time (the frame is still the
 *         caller's); -ETIMEDOUT when no reply came in time (the frame is
 *         the IOP's; its late reply will be freed by iop_qp_poll()); or
 *         -EINVAL as for iop_qp_post(), and for UtilEventRegister, which
 *         has no reply to wait for.
 */
int iop_qp_call(struct iop_qp *qp, uint32_t *frame, uint32_t *reply, size_t reply_words,
		struct iop_completion *c, unsigned timeout_ms);

/** What iop_qp_call_turning() runs while it waits: one turn of the caller's loop. */
typedef void (*iop_qp_turn_fn)(void *arg);

/**
 * iop_qp_call() for a thread that itself runs the loop that will answer: a
 * runtime of this process with no loop thread of its own, turned by the
 * caller (iop_runtime_poll()), or any event loop a reply waits on. turn(turn_arg)
 * runs before each poll of the queue pair, both while waiting for room to
 * post and while waiting for the reply; the rest (callbacks of other
 * requests, the timeout, what is returned) is iop_qp_call()'s.
 * @param turn      not NULL; runs on the calling thread. It may post to
 *                  and poll this queue pair (the call's own request is
 *                  answered through its entry whoever polls), but must not
 *                  destroy it or detach its host: the call still uses both.
 * @return as iop_qp_call(); -EINVAL also for a NULL turn (the frame is
 *         then still the caller's).
 * Thread safety: the queue pair's thread, as iop_qp_call().
 */
int iop_qp_call_turning(struct iop_qp *qp, uint32_t *frame, uint32_t *reply, size_t reply_words,
			struct iop_completion *c, unsigned timeout_ms, iop_qp_turn_fn turn,
			void *turn_arg);

#ifdef __cplusplus
}
#endif

#endif /* IOP_HOST_H */
