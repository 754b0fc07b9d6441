/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What iop-conform's checks stand on: the DDM under test in a runtime of this
 * process, its loop on a thread as an lcore would run it, and a host that
 * talks to it through raw channels. The host posts MFAs and takes reply MFAs
 * itself, without the queue pair's matching, so a check sees every reply
 * frame as it came (contexts, flags, MessageSize, the block it lies in) and
 * a reply that matches nothing is seen rather than dropped.
 */
#ifndef CONFORM_FIXTURE_H
#define CONFORM_FIXTURE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iop_ddm.h"
#include "iop_frame.h"
#include "iop_lan.h"
#include "iop_runtime.h"

/* The DDM under test, chosen on the command line. */
struct conform_target {
	const struct iop_ddm_ops *ops;
	const char *params;
	uint8_t function; /* one it answers itself, for the checks that need one */
	/*
	 * This run's seed, mixed into all data a check writes (--seed, else the
	 * time and the process ID): data left on a device by an earlier run,
	 * even a correct one, is not what this run expects to read back.
	 */
	uint32_t seed;
};

extern struct conform_target conform;

/* How long a check waits for a reply before calling it missing. */
#define CONFORM_TIMEOUT_MS 2000u
/* How long a check watches for a reply that should not come. */
#define CONFORM_QUIET_MS 50u
/*
 * The longest replies a target may legally send, in words: a LAN
 * ReceivePost reply reporting its most packets (words 0-6, then a bucket
 * and a length per packet), and a UtilParamsGet reply of its most fields
 * (the reply's 5 words, the count in word 5, two words a field).
 */
#define CONFORM_LAN_REPLY_MAX (IOP_LAN_RX_FIRST_WORD + 2u * IOP_LAN_RX_REPLY_MAX)
#define CONFORM_PARAMS_REPLY_MAX (IOP_REPLY_WORDS + 1u + 2u * IOP_PARAMS_MAX_FIELDS)
/* Most words of a reply a check keeps: any legal reply whole. */
#define CONFORM_REPLY_MAX                                                                        \
	(CONFORM_LAN_REPLY_MAX > CONFORM_PARAMS_REPLY_MAX ? CONFORM_LAN_REPLY_MAX                 \
							   : CONFORM_PARAMS_REPLY_MAX)

struct fixture {
	struct iop_window *w;
	struct iop_runtime *rt;
	struct iop_host *h;
	uint16_t tid;            /* the DDM's */
	pthread_t loop;
	_Atomic int stop;
	bool running;
	uint64_t in_free0, out_free0; /* both heaps' free bytes when it came up */
};

/* A host channel used raw: one thread at a time. */
struct raw_chan {
	struct fixture *fx;
	struct iop_qp *qp; /* opens and registers the channel; never posts */
	uint32_t initiator_context;
	uint32_t next_transaction;
	/*
	 * The request just posted, while it is outstanding: the only frame a FAIL
	 * reply's PreservedMFA may hand back to be freed. 0 once it is answered,
	 * freed, or once the channel allocates again (its block may be reused).
	 */
	uint32_t posted_mfa, posted_tc;
};

/* One reply as the host took it from its ring. */
struct raw_reply {
	uint32_t mfa;
	size_t block;      /* bytes of the outbound block it lay in */
	unsigned words;    /* words kept: MessageSize, at most the block and CONFORM_REPLY_MAX */
	uint32_t w[CONFORM_REPLY_MAX];
};

/* The runtime with the DDM under test at fx->tid, its loop running. @return 0 or -errno. */
int fixture_up(struct fixture *fx);

/* Detach the host (every frame it holds given back) and stop the loop; idempotent. */
void fixture_stop(struct fixture *fx);

/* fixture_stop(), then destroy the runtime and the window. */
void fixture_down(struct fixture *fx);

/* Free bytes of the inbound and outbound heaps now (thread caches counted). */
void fixture_heap_free(const struct fixture *fx, uint64_t *in, uint64_t *out);

/* The DDM's counters. */
void fixture_stats(const struct fixture *fx, struct iop_ddm_stats *s);

/* Open a channel. @return 0 or -errno. */
int raw_open(struct fixture *fx, struct raw_chan *rc, uint32_t initiator_context);

/* Close it (every reply must have been taken). */
void raw_close(struct raw_chan *rc);

/* A request frame of `bytes` from the inbound heap, zeroed, or NULL. */
uint32_t *raw_frame(struct raw_chan *rc, size_t bytes);

/*
 * Write a request header into f: version 1.5, `words` words, to tid from the
 * host, this function, the channel's InitiatorContext and the next
 * TransactionContext (returned).
 */
uint32_t raw_header(struct raw_chan *rc, uint32_t *f, unsigned words, uint16_t tid,
		    uint8_t function);

/* Post f. @return its MFA, or 0 when the request ring is full (f is still ours). */
uint32_t raw_post(struct raw_chan *rc, uint32_t *f);

/*
 * Take the next reply within timeout_ms into *r and free it, and the request
 * frame a FAIL reply hands back by PreservedMFA when that is the request just
 * posted and still outstanding (anything else it names, a buffer or a frame
 * already answered, is left alone). @return 0, or -ETIMEDOUT.
 */
int raw_take(struct raw_chan *rc, struct raw_reply *r, unsigned timeout_ms);

/* Post f and take one reply. @return 0, -EAGAIN (not posted) or -ETIMEDOUT. */
int raw_call(struct raw_chan *rc, uint32_t *f, struct raw_reply *r);

/* A request for the DDM's own function (5 words, word 4 zero) on rc. */
uint32_t *raw_ddm_request(struct raw_chan *rc);

/*
 * Give a frame that a builder of <iop/build.h> wrote (contexts left 0) the
 * channel's InitiatorContext and the next TransactionContext (returned).
 */
uint32_t raw_contexts(struct raw_chan *rc, uint32_t *f);

/*
 * A data buffer of `bytes` from the inbound heap, filled with `fill`, or NULL:
 * memory an SGL may name. Freed with raw_buf_free().
 */
void *raw_buf(struct raw_chan *rc, size_t bytes, uint8_t fill);

/* Give back a buffer of raw_buf(); NULL is ignored. */
void raw_buf_free(struct raw_chan *rc, void *buf);

#endif /* CONFORM_FIXTURE_H */
