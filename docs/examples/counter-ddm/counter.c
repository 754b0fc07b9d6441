/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * counter: a DDM built out of iopool's tree, against the headers iopool installs
 * (docs/writing-a-ddm.md). A target that keeps one 64-bit counter:
 *
 *  - UtilPrivate (0xFF), under its OrgID: XFunctionCode 0 reads the counter,
 *    1 adds word 5 to it; the reply carries the value in words 5-6;
 *  - its parameter group 0x0000 through UtilParamsGet / UtilParamsSet:
 *    field 0 the value (writable), field 1 how many adds (read-only);
 *  - everything else is the runtime's to answer: UtilNOP, malformed frames,
 *    functions it does not list, the runtime's counters (group 0xF000).
 *
 * Parameters: "" or "start=N", the value it starts from and resets to.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <iop/ddm.h>
#include <iop/frame.h>
#include <iop/lct.h>

/*
 * Private functions belong to an organisation: word 4 of a UtilPrivate
 * names it, and a target reads XFunctionCode only under its own OrgID.
 * A DDM of yours puts your organisation's ID here. The example keeps 0, the
 * OrgID of iopool's own targets, so that iop-conform's requests (word 4
 * zero) and `iopctl ping` reach the read function.
 */
#define COUNTER_ORG_ID 0x0000u
#define COUNTER_XFN_READ 0x0000u
#define COUNTER_XFN_ADD 0x0001u

/* Its own parameter group: numbers below 0xF000 are the DDM's. */
#define COUNTER_GROUP 0x0000u
#define COUNTER_FIELD_VALUE 0u
#define COUNTER_FIELD_ADDS 1u

/* A reply with the value: the status word, then the value, low word first. */
#define COUNTER_REPLY_WORDS (IOP_REPLY_WORDS + 2u)

/* Per instance; the runtime allocates it zeroed (priv_size). */
struct counter {
	uint64_t start;
	uint64_t value;
	uint64_t adds;
};

/* The only function it answers itself; UtilParamsGet/Set stay the runtime's. */
static const uint8_t counter_functions[] = { IOP_UTIL_PRIVATE };

static int counter_init(struct iop_ddm *d, const char *params)
{
	struct counter *c = iop_ddm_priv(d);
	char *end;

	if (params[0] != '\0') {
		/* A configuration it does not understand is refused, not ignored. */
		if (strncmp(params, "start=", 6) != 0 || params[6] == '\0')
			return -EINVAL;
		errno = 0;
		c->start = strtoull(params + 6, &end, 0);
		if (errno != 0 || *end != '\0')
			return -EINVAL;
	}
	c->value = c->start;
	return 0;
}

/*
 * A status-only refusal. Every reply, this one too, may find the outbound
 * heap empty: then nothing was sent and the runtime hands the request back.
 */
static int counter_refuse(struct iop_request *r, uint16_t dsc)
{
	if (iop_request_reply(r, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER, dsc) == -ENOMEM)
		return IOP_DDM_RETRY;
	return IOP_DDM_DONE;
}

static int counter_handle(struct iop_ddm *d, struct iop_request *r)
{
	struct counter *c = iop_ddm_priv(d);
	/* Valid until the request is answered: read what is needed first. */
	const uint32_t *req = iop_request_frame(r);
	unsigned words = iop_request_hdr(r)->size_words;
	uint32_t *reply;
	uint16_t xfn, org;

	/* The runtime validated the frame, not its payload: word 4 may be absent. */
	if (words < 5)
		return counter_refuse(r, IOP_DSC_MISSING_PARAMETER);
	/* Frames are little-endian, whatever the CPU. */
	xfn = le32toh(req[4]) & 0xFFFFu;
	org = le32toh(req[4]) >> 16;
	/* Another organisation's private function, or one it does not have. */
	if (org != COUNTER_ORG_ID || (xfn != COUNTER_XFN_READ && xfn != COUNTER_XFN_ADD))
		return counter_refuse(r, IOP_DSC_UNSUPPORTED_FUNCTION);
	if (xfn == COUNTER_XFN_ADD && words < 6)
		return counter_refuse(r, IOP_DSC_MISSING_PARAMETER);

	/*
	 * Take the reply frame before changing anything: if there is none, the
	 * request comes back on a later turn and must find the counter as it was,
	 * or an ADD retried would count twice.
	 */
	reply = iop_request_reply_alloc(r, COUNTER_REPLY_WORDS);
	if (reply == NULL)
		return errno == ENOMEM ? IOP_DDM_RETRY : -errno;
	if (xfn == COUNTER_XFN_ADD) {
		c->value += le32toh(req[5]);
		c->adds++;
	}
	reply[5] = htole32((uint32_t)c->value);
	reply[6] = htole32((uint32_t)(c->value >> 32));
	/* Sends, and frees the request frame: req and r are not to be used again. */
	iop_request_reply_send(r, reply, COUNTER_REPLY_WORDS, IOP_REPLY_STATUS_SUCCESS,
			       IOP_DSC_SUCCESS);
#ifdef COUNTER_BUG
	/* The test's broken build: a second reply, which iop-conform must catch. */
	(void)iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, IOP_DSC_SUCCESS);
#endif
	return IOP_DDM_DONE;
}

static int counter_params_get(struct iop_ddm *d, uint16_t group, uint64_t *fields, unsigned max)
{
	const struct counter *c = iop_ddm_priv(d);
	const uint64_t group0[] = {
		[COUNTER_FIELD_VALUE] = c->value,
		[COUNTER_FIELD_ADDS] = c->adds,
	};
	/* The runtime offers room for IOP_PARAMS_MAX_FIELDS; fill no more than max all the same. */
	unsigned n = max < 2 ? max : 2;

	if (group != COUNTER_GROUP)
		return -ENOENT; /* the runtime answers INVALID_PARAMETER */
	memcpy(fields, group0, n * sizeof(*fields));
	return (int)n;
}

static int counter_params_set(struct iop_ddm *d, uint16_t group, const uint64_t *fields,
			      unsigned n)
{
	struct counter *c = iop_ddm_priv(d);

	if (group != COUNTER_GROUP)
		return -ENOENT;
	/* Fields are set from the first: the value, then adds, which is read-only. */
	if (n > 1)
		return -EPERM;
	if (n == 1)
		c->value = fields[COUNTER_FIELD_VALUE];
	return 0;
}

/* ExecIopReset: back to the state after init. It holds no request, so it never waits. */
static int counter_reset(struct iop_ddm *d)
{
	struct counter *c = iop_ddm_priv(d);

	c->value = c->start;
	c->adds = 0;
	return 0;
}

static const struct iop_ddm_ops counter_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "counter",
	/* Neither block storage nor LAN: a DDM-class target, judged by the generic suite. */
	.class_id = IOP_CLASS_DDM,
	.class_version = 1,
	.org_id = COUNTER_ORG_ID,
	.identity = "counter",
	.functions = counter_functions,
	.n_functions = sizeof(counter_functions),
	.priv_size = sizeof(struct counter),
	.init = counter_init,
	.handle = counter_handle,
	.params_get = counter_params_get,
	.params_set = counter_params_set,
	.reset = counter_reset,
};

/* Exports iop_ddm_abi_version and iop_ddm_entry() for iop_ddm_load(). */
IOP_DDM_EXPORT(counter_ops)
