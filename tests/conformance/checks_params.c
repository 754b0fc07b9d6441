/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parameter-group checks (suite params, every target): UtilParamsGet of
 * every group the target has answers a reply a host can read; a group it
 * does not have, and a write to a group it will not take, are refused with
 * the status docs/ddm.md gives and change nothing; the runtime's counters
 * of the target agree with what the host sent it (docs/iop-conform.md).
 *
 * A DDM's groups are found the way a host finds them: by asking. A DDM's
 * params_get answers -ENOENT for a group it does not have, which the host
 * sees as ERROR_NO_DATA_TRANSFER, INVALID_PARAMETER; groups 0x0000-0x00FF
 * (where I2O numbers a class's groups) are asked, with the runtime's 0xF000.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <CUnit/CUnit.h>

#include "checks.h"
#include "fixture.h"
#include "iop_build.h"
#include "iop_frame.h"
#include "iop_host.h"

/* The DDM groups asked for: 0x0000 up to this one, not included. */
#define PROBED_GROUPS 0x100u
/*
 * Groups no target has: the last below the runtime's (iop-conform takes it
 * as the one a DDM must not have), and one in the runtime's range that the
 * runtime does not define.
 */
#define UNKNOWN_DDM_GROUP 0xEFFFu
#define UNKNOWN_RUNTIME_GROUP 0xF0FFu
/* Fields of the runtime's target stats group (<iop/ddm.h>). */
#define STATS_FIELDS 8u
enum { ST_REQUESTS, ST_REPLIES, ST_FAILURES, ST_UNSUPPORTED, ST_DOUBLE };

/* What one UtilParamsGet came back with. */
struct group_reply {
	bool answered;
	uint8_t status;
	uint16_t dsc;
	unsigned n;                 /* fields, when SUCCESS and well formed */
	uint64_t v[IOP_PARAMS_MAX_FIELDS];
	const char *bad;            /* what is wrong with the reply, or NULL */
};

/*
 * A successful reply a host can read: MessageSize within the block it came
 * in, a field count of at most IOP_PARAMS_MAX_FIELDS, and the words for
 * exactly that many fields. @return NULL, or what is wrong.
 */
static const char *params_reply_wrong(const struct raw_reply *r, unsigned *n)
{
	unsigned size = le32toh(r->w[0]) >> 16;

	if (size * 4u > r->block)
		return "MessageSize past its frame";
	if (r->words < IOP_REPLY_WORDS + 1)
		return "no field count (word 5)";
	*n = le32toh(r->w[IOP_REPLY_WORDS]);
	if (*n > IOP_PARAMS_MAX_FIELDS)
		return "a field count over 64";
	if (size != IOP_REPLY_WORDS + 1 + 2 * *n)
		return "MessageSize not 6 words and two a field";
	return NULL;
}

/* UtilParamsGet of `group`, and what came back. @return false when it could not be sent. */
static bool params_get(struct raw_chan *rc, uint16_t group, struct group_reply *g)
{
	uint32_t *f = raw_frame(rc, 32);
	struct raw_reply r;
	uint32_t tc;
	int err;

	memset(g, 0, sizeof(*g));
	if (f == NULL || iop_build_params_get(f, 32, rc->fx->tid, group) < 0)
		return false;
	tc = raw_contexts(rc, f);
	err = raw_call(rc, f, &r);
	if (err == -EAGAIN)
		iop_qp_frame_free(rc->qp, f);
	if (err != 0)
		return true;
	g->answered = true;
	if (r.words < IOP_REPLY_WORDS || le32toh(r.w[3]) != tc)
		g->bad = "not a reply to this request";
	else if ((reply_flags(&r) & (IOP_MSG_REPLY | IOP_MSG_FAIL)) != IOP_MSG_REPLY)
		g->bad = "not a plain REPLY";
	else if (reply_function(&r) != IOP_UTIL_PARAMS_GET)
		g->bad = "of another function";
	if (g->bad != NULL)
		return true;
	g->status = reply_req_status(&r);
	g->dsc = reply_dsc(&r);
	if (g->status == IOP_REPLY_STATUS_SUCCESS) {
		g->bad = params_reply_wrong(&r, &g->n);
		for (unsigned i = 0; g->bad == NULL && i < g->n; i++)
			g->v[i] = le32toh(r.w[6 + 2 * i]) | (uint64_t)le32toh(r.w[7 + 2 * i]) << 32;
	}
	return true;
}

/* UtilParamsSet of n fields of `group`; *status, *dsc its reply's. @return false: no reply. */
static bool params_set(struct raw_chan *rc, uint16_t group, const uint64_t *v, unsigned n,
		       uint8_t *status, uint16_t *dsc)
{
	size_t bytes = 32 + 8 * (size_t)n;
	uint32_t *f = raw_frame(rc, bytes);
	struct raw_reply r;
	int err;

	if (f == NULL || iop_build_params_set(f, bytes, rc->fx->tid, group, v, n) < 0)
		return false;
	raw_contexts(rc, f);
	err = raw_call(rc, f, &r);
	if (err == -EAGAIN)
		iop_qp_frame_free(rc->qp, f);
	if (err != 0 || r.words < IOP_REPLY_WORDS || (reply_flags(&r) & IOP_MSG_FAIL))
		return false;
	*status = reply_req_status(&r);
	*dsc = reply_dsc(&r);
	return true;
}

/*
 * A params_get() that could not send its request fails the check, which
 * then goes down (no CU_*_FATAL while the fixture runs: checks.h).
 */
static bool sent(bool ok)
{
	if (!ok)
		CU_FAIL("UtilParamsGet could not be sent (no frame, or the ring full)");
	return ok;
}

/* A group it does not have: ERROR_NO_DATA_TRANSFER, INVALID_PARAMETER. */
static bool refused_as_absent(const struct group_reply *g)
{
	return g->answered && g->bad == NULL &&
	       g->status == IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER &&
	       g->dsc == IOP_DSC_INVALID_PARAMETER;
}

/*
 * Is `after` what the group held before the write: as many fields, each
 * that read the same twice before it (`before`, `again`) still the same?
 */
static bool unchanged(const struct group_reply *before, const struct group_reply *again,
		      const struct group_reply *after)
{
	if (after->n != before->n)
		return false;
	for (unsigned i = 0; i < before->n; i++)
		if (before->v[i] == again->v[i] && after->v[i] != again->v[i])
			return false;
	return true;
}

/*
 * Every group asked: a well-formed SUCCESS, or refused as absent; the
 * runtime's stats group SUCCESS with its 8 fields; the two unknown groups
 * refused.
 */
static void check_params_get_groups(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct group_reply g;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned group = 0; group < PROBED_GROUPS; group++) {
		if (!sent(params_get(&rc, (uint16_t)group, &g)))
			goto out;
		if (!g.answered || g.bad != NULL ||
		    (g.status != IOP_REPLY_STATUS_SUCCESS && !refused_as_absent(&g))) {
			fprintf(stderr, "  group 0x%04x: %s, status 0x%02x, DSC 0x%04x\n", group,
				!g.answered ? "no reply" : g.bad != NULL ? g.bad : "refused",
				g.status, g.dsc);
			CU_FAIL("UtilParamsGet not a well-formed SUCCESS, nor INVALID_PARAMETER");
		}
	}
	if (!sent(params_get(&rc, IOP_PARAMS_GROUP_TARGET_STATS, &g)))
		goto out;
	CU_ASSERT(g.answered && g.bad == NULL && g.status == IOP_REPLY_STATUS_SUCCESS &&
		  g.n == STATS_FIELDS);
	if (!sent(params_get(&rc, UNKNOWN_DDM_GROUP, &g)))
		goto out;
	CU_ASSERT_TRUE(refused_as_absent(&g));
	if (!sent(params_get(&rc, UNKNOWN_RUNTIME_GROUP, &g)))
		goto out;
	CU_ASSERT_TRUE(refused_as_absent(&g));
out:
	check_down(&fx, &rc);
}

/*
 * UtilParamsSet of every group the target has, with each field changed: a
 * group it takes the write for answers SUCCESS (and gets its old values
 * back); one it will not write is refused with ERROR_NO_DATA_TRANSFER,
 * INVALID_PARAMETER, and reads back as it was. The runtime's stats group is
 * read-only for every target. A group is read twice before the write, and
 * only the fields that stayed the same are judged: a live counter (a port's
 * statistics, its link) changes by itself.
 */
static void check_params_set_read_only(void)
{
	struct fixture fx;
	struct raw_chan rc;
	struct group_reply before, again, after;
	uint64_t changed[IOP_PARAMS_MAX_FIELDS];
	uint8_t status;
	uint16_t dsc;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned group = 0; group <= PROBED_GROUPS; group++) {
		/* The last turn: the runtime's group, in place of 0x0100. */
		uint16_t gn = group < PROBED_GROUPS ? (uint16_t)group : IOP_PARAMS_GROUP_TARGET_STATS;

		if (!sent(params_get(&rc, gn, &before)))
			goto out;
		if (!before.answered || before.bad != NULL ||
		    before.status != IOP_REPLY_STATUS_SUCCESS || before.n == 0)
			continue; /* no such group (params_get_groups judges the replies) */
		if (!sent(params_get(&rc, gn, &again)))
			goto out;
		if (!again.answered || again.bad != NULL ||
		    again.status != IOP_REPLY_STATUS_SUCCESS || again.n != before.n) {
			fprintf(stderr, "  group 0x%04x: read again, not the same fields\n", gn);
			CU_FAIL("a group read twice gave replies of different shapes");
			continue;
		}
		for (unsigned i = 0; i < before.n; i++)
			changed[i] = ~before.v[i];
		if (!params_set(&rc, gn, changed, before.n, &status, &dsc)) {
			fprintf(stderr, "  group 0x%04x: UtilParamsSet not answered\n", gn);
			CU_FAIL("UtilParamsSet not answered with a REPLY");
			continue;
		}
		if (status == IOP_REPLY_STATUS_SUCCESS && gn != IOP_PARAMS_GROUP_TARGET_STATS) {
			/* Writable: put back what was there. */
			CU_ASSERT_TRUE(params_set(&rc, gn, before.v, before.n, &status, &dsc) &&
				       status == IOP_REPLY_STATUS_SUCCESS);
			continue;
		}
		if (!sent(params_get(&rc, gn, &after)))
			goto out;
		if (status != IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER ||
		    dsc != IOP_DSC_INVALID_PARAMETER) {
			fprintf(stderr, "  group 0x%04x: UtilParamsSet status 0x%02x, DSC 0x%04x\n",
				gn, status, dsc);
			CU_FAIL("a write refused with another status than ERROR_NO_DATA_TRANSFER, "
				"INVALID_PARAMETER");
		}
		/* The stats count this check's own requests: only the DDM's groups stay still. */
		if (gn != IOP_PARAMS_GROUP_TARGET_STATS && !unchanged(&before, &again, &after)) {
			fprintf(stderr, "  group 0x%04x: changed by a refused UtilParamsSet\n", gn);
			CU_FAIL("a refused UtilParamsSet changed the group");
		}
		if (gn == IOP_PARAMS_GROUP_TARGET_STATS)
			CU_ASSERT_EQUAL(after.v[ST_DOUBLE], before.v[ST_DOUBLE]);
	}
out:
	check_down(&fx, &rc);
}

/* A request of `function` with no payload; *r its reply. @return false: no reply. */
static bool call(struct raw_chan *rc, uint8_t function, struct raw_reply *r)
{
	uint32_t *f = raw_frame(rc, 32);

	if (f == NULL)
		return false;
	raw_header(rc, f, 5, rc->fx->tid, function);
	return raw_call(rc, f, r) == 0 && r->words >= IOP_REPLY_WORDS;
}

/*
 * The runtime's counters of the target against what this check sent it and
 * saw come back: 16 requests of the DDM's function, 4 of a function no class
 * defines (0x02), 4 UtilNOPs, then UtilParamsGet of 0xF000, which is counted
 * before it is answered. Failures are the replies seen without SUCCESS;
 * unsupported, those answered UNKNOWN_FUNCTION or UNSUPPORTED_FUNCTION.
 * (Double and missing replies are one_reply_per_request's to judge.)
 */
static void check_target_stats_agree(void)
{
	enum { DDM = 16, UNKNOWN = 4, NOPS = 4 };
	const unsigned requests = DDM + UNKNOWN + NOPS + 1, replies = DDM + UNKNOWN;
	struct fixture fx;
	struct raw_chan rc;
	struct raw_reply r;
	struct group_reply g;
	unsigned failures = 0, unsupported = 0;

	if (!check_up(&fx, &rc))
		return;
	for (unsigned i = 0; i < DDM + UNKNOWN; i++) {
		if (!call(&rc, i < DDM ? conform.function : 0x02, &r)) {
			CU_FAIL("a request was not answered");
			goto out;
		}
		failures += reply_req_status(&r) != IOP_REPLY_STATUS_SUCCESS;
		unsupported += reply_dsc(&r) == IOP_DSC_UNKNOWN_FUNCTION ||
			       reply_dsc(&r) == IOP_DSC_UNSUPPORTED_FUNCTION;
	}
	for (unsigned i = 0; i < NOPS; i++) {
		uint32_t *f = raw_frame(&rc, 16);

		if (f == NULL) {
			CU_FAIL("no request frame");
			goto out;
		}
		raw_header(&rc, f, 4, fx.tid, IOP_UTIL_NOP);
		if (raw_post(&rc, f) == 0) {
			iop_qp_frame_free(rc.qp, f);
			CU_FAIL("UtilNOP could not be posted");
			goto out;
		}
	}
	/* No reply comes for them; the ParamsGet behind them is taken after them. */
	CU_ASSERT_EQUAL(raw_take(&rc, &r, CONFORM_QUIET_MS), -ETIMEDOUT);
	if (!sent(params_get(&rc, IOP_PARAMS_GROUP_TARGET_STATS, &g)))
		goto out;
	if (!(g.answered && g.bad == NULL && g.status == IOP_REPLY_STATUS_SUCCESS &&
	      g.n >= STATS_FIELDS)) {
		CU_FAIL("UtilParamsGet of 0xF000 not a SUCCESS of 8 fields");
		goto out;
	}
	if (g.v[ST_REQUESTS] != requests || g.v[ST_REPLIES] != replies ||
	    g.v[ST_FAILURES] != failures || g.v[ST_UNSUPPORTED] != unsupported)
		fprintf(stderr,
			"  requests %llu (want %u), replies %llu (%u), failures %llu (%u), "
			"unsupported %llu (%u)\n",
			(unsigned long long)g.v[ST_REQUESTS], requests,
			(unsigned long long)g.v[ST_REPLIES], replies,
			(unsigned long long)g.v[ST_FAILURES], failures,
			(unsigned long long)g.v[ST_UNSUPPORTED], unsupported);
	CU_ASSERT_EQUAL(g.v[ST_REQUESTS], requests);
	CU_ASSERT_EQUAL(g.v[ST_REPLIES], replies);
	CU_ASSERT_EQUAL(g.v[ST_FAILURES], failures);
	CU_ASSERT_EQUAL(g.v[ST_UNSUPPORTED], unsupported);
out:
	check_down(&fx, &rc);
}

const struct conform_check conform_params[] = {
	{ "params_get_groups", check_params_get_groups },
	{ "params_set_read_only", check_params_set_read_only },
	{ "target_stats_agree", check_target_stats_agree },
	{ NULL, NULL },
};
