/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executive at TID 0, turn by turn: its status block, the LCT now and
 * deferred until the table changes, the IOP state machine and what each state
 * lets through, and DdmDestroy run on the DDM's own lcore.
 */
#include <errno.h>
#include <stdbool.h>

#include "iop_ddm.h"
#include "iop_lct.h"
#include "runtime_harness.h"

/* A DDM that counts its control callbacks (here, to outlive the instance). */
static unsigned quiesces, resets, finis;
static unsigned resets_not_yet; /* how many more resets answer "not yet" */

static int counted_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == -ENOMEM ? IOP_DDM_RETRY :
									       IOP_DDM_DONE;
}

static int counted_quiesce(struct iop_ddm *d)
{
	(void)d;
	quiesces++;
	return 0;
}

static int counted_reset(struct iop_ddm *d)
{
	(void)d;
	resets++;
	if (resets_not_yet != 0) {
		resets_not_yet--;
		return -EAGAIN; /* as a DDM with no reply frame for what it must cancel */
	}
	return 0;
}

static void counted_fini(struct iop_ddm *d)
{
	(void)d;
	finis++;
}

static const uint8_t claim_only[] = { IOP_UTIL_CLAIM };
static const struct iop_ddm_ops counted_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "counted",
	.class_id = IOP_CLASS_RANDOM_BLOCK_STORAGE,
	.class_version = 2,
	.org_id = 0x1234,
	.identity = "counted!",
	.functions = claim_only,
	.n_functions = 1,
	.handle = counted_handle,
	.quiesce = counted_quiesce,
	.reset = counted_reset,
	.fini = counted_fini,
};
IOP_DDM_REGISTER(counted_ops)

/* Keeps every request and never answers: only its destruction can. */
static int hoard_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	(void)r;
	return IOP_DDM_PENDING;
}

static const struct iop_ddm_ops hoarder_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "hoarder",
	.class_id = IOP_CLASS_DDM,
	.functions = claim_only,
	.n_functions = 1,
	.handle = hoard_handle,
};
IOP_DDM_REGISTER(hoarder_ops)

/*
 * Keeps the first request it is handed until its quiesce or reset is let
 * finish (keeper_release), answering it then; answers any later one at once.
 */
static struct iop_request *kept;
static unsigned keeper_handled;
static bool keeper_release;

static int keeper_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	keeper_handled++;
	if (kept == NULL) {
		kept = r;
		return IOP_DDM_PENDING;
	}
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == -ENOMEM ? IOP_DDM_RETRY :
									       IOP_DDM_DONE;
}

static int keeper_drain(struct iop_ddm *d)
{
	(void)d;
	if (kept != NULL) {
		if (!keeper_release || iop_request_reply(kept, IOP_REPLY_STATUS_SUCCESS, 0) != 0)
			return -EAGAIN; /* still in flight: asked again next turn */
		kept = NULL;
	}
	return 0;
}

static const struct iop_ddm_ops keeper_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "keeper",
	.class_id = IOP_CLASS_DDM,
	.functions = claim_only,
	.n_functions = 1,
	.handle = keeper_handle,
	.quiesce = keeper_drain,
	.reset = keeper_drain,
};
IOP_DDM_REGISTER(keeper_ops)

enum { NOP = 0x010, COUNTED };

static const struct iop_window_opts small = { .inbound_bytes = 1 << 20,
					      .outbound_bytes = 1 << 18,
					      .channels = 4,
					      .ring_entries = 64 };

static void up(struct harness *t, unsigned counted_lcore)
{
	static struct iop_runtime_ddm ddms[] = { { "nop", NULL, 0 }, { "counted", NULL, 0 } };

	ddms[1].lcore = counted_lcore;
	harness_up(t, &small, ddms, 2, counted_lcore + 1);
}

/* Send an executive request with word 4 and 5 as given; wait for the reply. */
static int exec_call(struct harness *t, uint8_t fn, uint32_t w4, uint32_t w5, unsigned words,
		     struct seen_reply *s)
{
	uint32_t *f = harness_request(t, IOP_TID_EXEC, fn, words, fn);

	if (words > 4)
		f[4] = rte_cpu_to_le_32(w4);
	if (words > 5)
		f[5] = rte_cpu_to_le_32(w5);
	harness_post(t, f);
	return harness_wait(t, s, 50);
}

static void expect_status(struct harness *t, uint8_t fn, uint16_t dsc)
{
	struct seen_reply s;

	CU_ASSERT_FATAL(exec_call(t, fn, 0, 0, 4, &s));
	CU_ASSERT_EQUAL(s.hdr.target_tid, IOP_TID_EXEC);
	CU_ASSERT_EQUAL(s.dsc, dsc);
	CU_ASSERT_EQUAL(s.status, dsc ? IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER :
					IOP_REPLY_STATUS_SUCCESS);
}

static void test_status_get(void)
{
	struct harness t;
	struct seen_reply s;

	up(&t, 0);
	CU_ASSERT_FATAL(exec_call(&t, IOP_EXEC_STATUS_GET, 0, 0, 4, &s));
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(s.hdr.size_words, 15);
	CU_ASSERT_EQUAL(s.words[5] & 0xFF, IOP_STATE_OPERATIONAL);
	CU_ASSERT_EQUAL(s.words[5] >> 8 & 0xF, 1); /* I2O 1.5 */
	CU_ASSERT_EQUAL(s.words[6], 7);            /* IOP_ID */
	CU_ASSERT_EQUAL(s.words[7], 3);            /* executive, nop, counted */
	CU_ASSERT_EQUAL(s.words[9], 1024);         /* inbound KiB */
	CU_ASSERT_EQUAL(s.words[10], 256);         /* outbound KiB */
	CU_ASSERT_EQUAL(s.words[11], 4);           /* channels */
	CU_ASSERT_EQUAL(s.words[12], 1);           /* loops */
	CU_ASSERT_EQUAL(s.words[13], 64);          /* inbound in use: this request */
	CU_ASSERT_EQUAL(s.words[14], 64);          /* outbound in use: this reply */
	harness_down(&t);
}

/* The LCT of a reply: entries parsed from the words after the status word. */
static int reply_lct(struct harness *t, uint32_t filter, uint32_t indicator, unsigned turns,
		     struct iop_lct_header *h, struct iop_lct_entry *e, unsigned max)
{
	uint32_t *f = harness_request(t, IOP_TID_EXEC, IOP_EXEC_LCT_NOTIFY, 6, 9);
	uint32_t mfa, *r;
	size_t block;
	int n = -1;

	f[4] = rte_cpu_to_le_32(filter);
	f[5] = rte_cpu_to_le_32(indicator);
	harness_post(t, f);
	for (unsigned i = 0; i < turns && n < 0; i++) {
		harness_turn(t);
		if (iop_mfa_ring_take(t->ch.to_host, &mfa, 1) == 0)
			continue;
		r = iop_window_frame_block(t->w, mfa, &block);
		n = iop_lct_parse(r + IOP_REPLY_WORDS, block - IOP_REPLY_WORDS * 4, h);
		for (int k = 0; k < n && (unsigned)k < max; k++)
			CU_ASSERT_EQUAL(iop_lct_entry_get(r + IOP_REPLY_WORDS,
							  block - IOP_REPLY_WORDS * 4, (unsigned)k,
							  &e[k]),
					0);
		iop_heap_free(iop_window_outbound(t->w), r, block);
	}
	return n;
}

static void test_lct_now(void)
{
	struct harness t;
	struct iop_lct_header h;
	struct iop_lct_entry e[4];

	up(&t, 0);
	CU_ASSERT_EQUAL_FATAL(reply_lct(&t, 0xFFFFFFFFu, 0, 5, &h, e, 4), 3);
	CU_ASSERT_EQUAL(h.change_indicator, 1);
	CU_ASSERT_EQUAL(h.boot_tid, IOP_TID_EXEC);
	CU_ASSERT_EQUAL(e[0].local_tid, IOP_TID_EXEC);
	CU_ASSERT_EQUAL(e[0].class_id, IOP_CLASS_EXECUTIVE);
	CU_ASSERT_EQUAL(e[1].local_tid, NOP);
	CU_ASSERT_EQUAL(e[1].class_id, IOP_CLASS_DDM);
	CU_ASSERT_EQUAL(e[1].user_tid, IOP_LCT_UNCLAIMED);
	CU_ASSERT_EQUAL(e[2].local_tid, COUNTED);
	CU_ASSERT_EQUAL(e[2].class_id, IOP_CLASS_RANDOM_BLOCK_STORAGE);
	CU_ASSERT_EQUAL(e[2].version, 2);
	CU_ASSERT_EQUAL(e[2].org_id, 0x1234);
	CU_ASSERT_EQUAL(memcmp(e[2].identity_tag, "counted!", 8), 0);
	/* A class filter. */
	CU_ASSERT_EQUAL(reply_lct(&t, IOP_CLASS_RANDOM_BLOCK_STORAGE, 0, 5, &h, e, 4), 1);
	CU_ASSERT_EQUAL(e[0].local_tid, COUNTED);
	harness_down(&t);
}

static void test_state_machine(void)
{
	struct harness t;
	struct seen_reply s;

	up(&t, 0);
	/* Wrong-state transitions refused; asking for the current state is fine. */
	expect_status(&t, IOP_EXEC_OUTBOUND_INIT, IOP_DSC_INAPPROPRIATE_FUNCTION);
	expect_status(&t, IOP_EXEC_SYS_TAB_SET, IOP_DSC_INAPPROPRIATE_FUNCTION);
	expect_status(&t, IOP_EXEC_SYS_ENABLE, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_OPERATIONAL);

	expect_status(&t, IOP_EXEC_SYS_QUIESCE, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_READY);
	expect_status(&t, IOP_EXEC_SYS_QUIESCE, IOP_DSC_SUCCESS);
	/* Quiesced: DDMs take nothing; the executive still answers. */
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, 1, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	expect_status(&t, IOP_EXEC_SYS_ENABLE, IOP_DSC_SUCCESS);
	CU_ASSERT_FATAL(harness_call(&t, NOP, IOP_UTIL_CLAIM, 4, 2, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_SUCCESS);

	/* Reset, then the bring-up order. */
	expect_status(&t, IOP_EXEC_IOP_RESET, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_RESET);
	expect_status(&t, IOP_EXEC_SYS_ENABLE, IOP_DSC_INAPPROPRIATE_FUNCTION);
	expect_status(&t, IOP_EXEC_OUTBOUND_INIT, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_HOLD);
	expect_status(&t, IOP_EXEC_SYS_TAB_SET, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_READY);
	expect_status(&t, IOP_EXEC_SYS_ENABLE, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(iop_runtime_state(t.rt), IOP_STATE_OPERATIONAL);
	harness_down(&t);
}

/*
 * DdmDestroy of a DDM on another lcore: its lcore runs quiesce and fini, the
 * executive answers, the table changes, a deferred LctNotify is answered with
 * the new table, and the TID takes no more requests.
 */
static void test_ddm_destroy_and_deferred_lct(void)
{
	struct harness t;
	struct seen_reply s;
	struct iop_lct_header h;
	struct iop_lct_entry e[4];
	uint32_t *waiter;
	uint32_t mfa;

	finis = 0;
	up(&t, 1);
	/* Waiting for a change past indicator 1: no reply yet. */
	waiter = harness_request(&t, IOP_TID_EXEC, IOP_EXEC_LCT_NOTIFY, 6, 99);
	waiter[4] = rte_cpu_to_le_32(0xFFFFFFFFu);
	waiter[5] = rte_cpu_to_le_32(1);
	harness_post(&t, waiter);
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10));

	CU_ASSERT_FATAL(exec_call(&t, IOP_EXEC_DDM_DESTROY, COUNTED, 0, 5, &s));
	CU_ASSERT_EQUAL(s.hdr.function, IOP_EXEC_DDM_DESTROY);
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	CU_ASSERT_EQUAL(finis, 1);
	/* The deferred LctNotify comes now (or on the next turn), without COUNTED. */
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 99);
	CU_ASSERT_EQUAL(s.hdr.size_words, IOP_REPLY_WORDS + 3 + 2 * 9);
	CU_ASSERT_EQUAL(reply_lct(&t, 0xFFFFFFFFu, 0, 5, &h, e, 4), 2);
	CU_ASSERT_EQUAL(h.change_indicator, 2);

	/* The TID is gone: FAIL INVALID_TARGET_ID, and a second destroy is refused. */
	mfa = harness_post(&t, harness_request(&t, COUNTED, IOP_UTIL_CLAIM, 4, 5));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_INVALID_TARGET_ID);
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), iop_window_frame(t.w, mfa), 16), 0);
	CU_ASSERT_FATAL(exec_call(&t, IOP_EXEC_DDM_DESTROY, COUNTED, 0, 5, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_INVALID_TARGET_ADDRESS);
	CU_ASSERT_FATAL(exec_call(&t, IOP_EXEC_DDM_DESTROY, IOP_TID_EXEC, 0, 5, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_INVALID_TARGET_ADDRESS);
	harness_down(&t);
	CU_ASSERT_EQUAL(finis, 1); /* destroy does not fini it twice */
}

/*
 * More deferred LctNotify requests than any fixed table would hold, from
 * several channels: every one waits, and every one is answered when the
 * table changes.
 */
static void test_many_deferred_lct_waiters(void)
{
	enum { PER_CHANNEL = 50, CHANNELS = 2 };
	struct harness t;
	struct iop_channel ch[CHANNELS];
	struct seen_reply s;
	unsigned answered = 0;

	up(&t, 0);
	for (unsigned c = 0; c < CHANNELS; c++) {
		CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &ch[c]), 0);
		for (unsigned i = 0; i < PER_CHANNEL; i++) {
			uint32_t *f = harness_request(&t, IOP_TID_EXEC, IOP_EXEC_LCT_NOTIFY, 6, i);
			uint32_t mfa = iop_window_mfa(t.w, f);

			f[4] = rte_cpu_to_le_32(0xFFFFFFFFu);
			f[5] = rte_cpu_to_le_32(1);
			CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(ch[c].to_iop, &mfa, 1), 1);
		}
	}
	for (int i = 0; i < 20; i++)
		harness_turn(&t);
	for (unsigned c = 0; c < CHANNELS; c++)
		CU_ASSERT_EQUAL(iop_mfa_ring_count(ch[c].to_host), 0); /* all of them wait */
	CU_ASSERT_FATAL(exec_call(&t, IOP_EXEC_DDM_DESTROY, COUNTED, 0, 5, &s));
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	for (int turn = 0; turn < 100 && answered < CHANNELS * PER_CHANNEL; turn++) {
		harness_turn(&t);
		for (unsigned c = 0; c < CHANNELS; c++) {
			uint32_t mfa;

			while (iop_mfa_ring_take(ch[c].to_host, &mfa, 1) == 1) {
				size_t block;
				uint32_t *r = iop_window_frame_block(t.w, mfa, &block);
				uint8_t status = 0xFF;

				CU_ASSERT_EQUAL(iop_reply_status(r, &status, NULL), 0);
				CU_ASSERT_EQUAL(status, IOP_REPLY_STATUS_SUCCESS);
				iop_heap_free(iop_window_outbound(t.w), r, block);
				answered++;
			}
		}
	}
	CU_ASSERT_EQUAL(answered, CHANNELS * PER_CHANNEL);
	for (unsigned c = 0; c < CHANNELS; c++)
		harness_leave(&t, &ch[c]);
	harness_down(&t);
}

/* A reset that cannot finish now is asked again; IopReset is answered once it is done. */
static void test_reset_not_yet_is_asked_again(void)
{
	struct harness t;

	quiesces = resets = 0;
	resets_not_yet = 3;
	up(&t, 1);
	expect_status(&t, IOP_EXEC_IOP_RESET, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(resets, 4);
	CU_ASSERT_EQUAL(resets_not_yet, 0);
	harness_down(&t);
}

/* Quiesce and reset reach a DDM on another lcore, through that lcore. */
static void test_control_runs_on_the_ddms_lcore(void)
{
	struct harness t;
	struct seen_reply s;

	quiesces = resets = 0;
	up(&t, 1);
	expect_status(&t, IOP_EXEC_SYS_QUIESCE, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(quiesces, 1);
	expect_status(&t, IOP_EXEC_IOP_RESET, IOP_DSC_SUCCESS);
	CU_ASSERT_EQUAL(resets, 1);
	/* Nothing reaches a DDM in RESET. */
	CU_ASSERT_FATAL(harness_call(&t, COUNTED, IOP_UTIL_CLAIM, 4, 1, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	harness_down(&t);
}

/* Destroying a DDM answers what it held: every request still gets its one reply. */
static void test_destroy_answers_what_the_ddm_held(void)
{
	const struct iop_runtime_ddm ddms[] = { { "nop", NULL, 0 }, { "hoarder", NULL, 1 } };
	struct harness t;
	struct seen_reply s;
	unsigned answered = 0, destroyed = 0;
	uint32_t *destroy;

	harness_up(&t, &small, ddms, 2, 2);
	for (uint32_t i = 0; i < 3; i++)
		harness_post(&t, harness_request(&t, NOP + 1, IOP_UTIL_CLAIM, 4, i));
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10)); /* held, unanswered */
	destroy = harness_request(&t, IOP_TID_EXEC, IOP_EXEC_DDM_DESTROY, 5, 77);
	destroy[4] = rte_cpu_to_le_32(NOP + 1);
	harness_post(&t, destroy);
	for (int turn = 0; turn < 50 && answered + destroyed < 4; turn++) {
		harness_turn(&t);
		while (harness_take(&t, &s)) {
			if (s.hdr.function == IOP_EXEC_DDM_DESTROY) {
				CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
				destroyed++;
			} else {
				CU_ASSERT_EQUAL(s.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
				answered++;
			}
		}
	}
	CU_ASSERT_EQUAL(answered, 3);
	CU_ASSERT_EQUAL(destroyed, 1);
	harness_down(&t); /* every request frame back */
}

/*
 * ExecDdmDestroy of a DDM whose quiesce cannot finish yet (a request it
 * keeps, as a device with I/O in flight): asked again on later turns, the
 * DDM not torn down meanwhile; requests posted meanwhile refused without
 * reaching it; once its quiesce is done, the kept request has the DDM's own
 * answer (not the runtime's DEVICE_NOT_AVAILABLE), then the destroy its
 * one reply, and the TID is gone.
 */
static void test_destroy_waits_for_quiesce(void)
{
	const struct iop_runtime_ddm ddms[] = { { "nop", NULL, 0 }, { "keeper", NULL, 1 } };
	struct harness t;
	struct seen_reply s;
	uint32_t *destroy, order[2], mfa;
	unsigned n = 0;

	kept = NULL;
	keeper_handled = 0;
	keeper_release = false;
	harness_up(&t, &small, ddms, 2, 2);
	harness_post(&t, harness_request(&t, NOP + 1, IOP_UTIL_CLAIM, 4, 1));
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL_FATAL(keeper_handled, 1);
	destroy = harness_request(&t, IOP_TID_EXEC, IOP_EXEC_DDM_DESTROY, 5, 2);
	destroy[4] = rte_cpu_to_le_32(NOP + 1);
	harness_post(&t, destroy);
	CU_ASSERT_FALSE(harness_wait(&t, &s, 20)); /* its quiesce is not done: no reply */
	CU_ASSERT_FATAL(harness_call(&t, NOP + 1, IOP_UTIL_CLAIM, 4, 3, &s));
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 3);
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(keeper_handled, 1);
	keeper_release = true;
	for (int turn = 0; turn < 50 && n < 2; turn++) {
		harness_turn(&t);
		while (n < 2 && harness_take(&t, &s)) {
			order[n++] = s.hdr.transaction_context;
			CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
			CU_ASSERT_EQUAL(s.dsc, IOP_DSC_SUCCESS);
		}
	}
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(order[0], 1); /* answered by the DDM's quiesce */
	CU_ASSERT_EQUAL(order[1], 2); /* then the destroy */
	CU_ASSERT_FALSE(harness_wait(&t, &s, 5));
	mfa = harness_post(&t, harness_request(&t, NOP + 1, IOP_UTIL_CLAIM, 4, 4));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL(s.fail_code, IOP_FAIL_INVALID_TARGET_ID);
	CU_ASSERT_EQUAL(iop_heap_free(iop_window_inbound(t.w), iop_window_frame(t.w, mfa), 16), 0);
	harness_down(&t);
}

/*
 * A quiesce or reset that waits for a request its DDM keeps: requests posted
 * meanwhile are not handed to the DDM (they could keep it busy forever) but
 * answered at once with DEVICE_NOT_AVAILABLE, what the state the work leaves
 * answers; many of them cannot fill the loop's request slots and stop its
 * other channels; ExecStatusGet is still answered; once the control work is
 * done, the kept request is answered, then the control request. With
 * runtime_too, iop_runtime_quiesce() gives up meanwhile (timeout 0): its
 * end must not release the executive's hold. The keeper is on another
 * lcore than the executive.
 */
static void control_waits_for_kept_request(uint8_t control, bool runtime_too)
{
	const struct iop_runtime_ddm ddms[] = { { "nop", NULL, 0 }, { "keeper", NULL, 1 } };
	struct harness t;
	struct seen_reply s;
	uint32_t order[2];
	unsigned n = 0, refused = 0;

	kept = NULL;
	keeper_handled = 0;
	keeper_release = false;
	harness_up(&t, &small, ddms, 2, 2);
	harness_post(&t, harness_request(&t, NOP + 1, IOP_UTIL_CLAIM, 4, 1));
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10));
	CU_ASSERT_EQUAL_FATAL(keeper_handled, 1);
	harness_post(&t, harness_request(&t, IOP_TID_EXEC, control, 4, 2));
	CU_ASSERT_FALSE(harness_wait(&t, &s, 10)); /* the control work waits for the kept one */
	if (runtime_too)
		CU_ASSERT_EQUAL(iop_runtime_quiesce(t.rt, 0), -ETIMEDOUT);
	/*
	 * More than the loop has request slots for, to the keeper and to the nop
	 * DDM (whose quiesce is done: only the hold keeps requests off it): each
	 * refused at once.
	 */
	for (uint32_t i = 0; i < 2000; i++) {
		harness_post(&t, harness_request(&t, i % 2 ? NOP : NOP + 1, IOP_UTIL_CLAIM, 4,
						 1000 + i));
		CU_ASSERT_FATAL(harness_wait(&t, &s, 20));
		CU_ASSERT_EQUAL(s.hdr.transaction_context, 1000 + i);
		refused += s.dsc == IOP_DSC_DEVICE_NOT_AVAILABLE;
	}
	CU_ASSERT_EQUAL(refused, 2000);
	CU_ASSERT_EQUAL(keeper_handled, 1); /* none handed to the DDM */
	CU_ASSERT_FATAL(harness_call(&t, IOP_TID_EXEC, IOP_EXEC_STATUS_GET, 4, 4, &s));
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 4);
	CU_ASSERT_EQUAL(keeper_handled, 1);
	keeper_release = true;
	for (int turn = 0; turn < 50 && n < 2; turn++) {
		harness_turn(&t);
		while (n < 2 && harness_take(&t, &s)) {
			order[n++] = s.hdr.transaction_context;
			CU_ASSERT_EQUAL(s.dsc, IOP_DSC_SUCCESS);
		}
	}
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(order[0], 1);
	CU_ASSERT_EQUAL(order[1], 2);
	CU_ASSERT_EQUAL(keeper_handled, 1);
	CU_ASSERT_FALSE(harness_wait(&t, &s, 5)); /* one reply each */
	/* The new state answers: nothing reaches the DDM after a quiesce or reset either. */
	CU_ASSERT_FATAL(harness_call(&t, NOP + 1, IOP_UTIL_CLAIM, 4, 5, &s));
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_DEVICE_NOT_AVAILABLE);
	CU_ASSERT_EQUAL(keeper_handled, 1);
	harness_down(&t);
}

static void test_quiesce_refuses_new_requests(void)
{
	control_waits_for_kept_request(IOP_EXEC_SYS_QUIESCE, false);
}

static void test_reset_refuses_new_requests(void)
{
	control_waits_for_kept_request(IOP_EXEC_IOP_RESET, false);
}

/* Two askers: iop_runtime_quiesce() giving up does not end the executive's hold. */
static void test_runtime_quiesce_keeps_executive_hold(void)
{
	control_waits_for_kept_request(IOP_EXEC_SYS_QUIESCE, true);
}

static const struct iop_test_case executive_tests[] = {
	{ "status_get", test_status_get },
	{ "lct_now", test_lct_now },
	{ "state_machine", test_state_machine },
	{ "ddm_destroy_and_deferred_lct", test_ddm_destroy_and_deferred_lct },
	{ "many_deferred_lct_waiters", test_many_deferred_lct_waiters },
	{ "control_runs_on_the_ddms_lcore", test_control_runs_on_the_ddms_lcore },
	{ "reset_not_yet_is_asked_again", test_reset_not_yet_is_asked_again },
	{ "destroy_answers_what_the_ddm_held", test_destroy_answers_what_the_ddm_held },
	{ "destroy_waits_for_quiesce", test_destroy_waits_for_quiesce },
	{ "quiesce_refuses_new_requests", test_quiesce_refuses_new_requests },
	{ "reset_refuses_new_requests", test_reset_refuses_new_requests },
	{ "runtime_quiesce_keeps_executive_hold", test_runtime_quiesce_keeps_executive_hold },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "executive", executive_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
