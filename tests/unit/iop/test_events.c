/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * UtilEventRegister, turn by turn: a registration gets no reply and keeps no
 * frame; quiesce, enable and reset tell registered hosts, under the
 * registration's contexts, as intermediate replies; registering again
 * replaces, mask 0 cancels (with IOP_EVENT_MASK_MODIFIED as a fence);
 * events that find no reply frame wait and are merged; a DDM raises its own
 * with iop_ddm_event_raise(); a DDM that lists the function answers it itself.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "iop_ddm.h"
#include "iop_lct.h"
#include "runtime_harness.h"

static const uint8_t claim_only[] = { IOP_UTIL_CLAIM };

/* Answers UtilClaim; raises what the test asks for on its next poll. */
static uint32_t raise_now[2];
static uint32_t raise_data[2];
static int raise_result[2];

static int raiser_handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	return iop_request_reply(r, IOP_REPLY_STATUS_SUCCESS, 0) == -ENOMEM ? IOP_DDM_RETRY :
									       IOP_DDM_DONE;
}

/* Set by a test: the next poll calls iop_ddm_event_raise() with bad arguments. */
static bool probe_bad_args;
static int probe_results[4];

static void probe(struct iop_ddm *d)
{
	uint32_t data[IOP_EVENT_DATA_MAX + 1] = { 0 };

	probe_results[0] = iop_ddm_event_raise(d, 0, data, 1);
	probe_results[1] = iop_ddm_event_raise(d, 0x1, data, IOP_EVENT_DATA_MAX + 1);
	probe_results[2] = iop_ddm_event_raise(d, 0x1, NULL, 1);
	probe_results[3] = iop_ddm_event_raise(d, 0x1, data, 1);
	probe_bad_args = false;
}

static int raiser_poll(struct iop_ddm *d)
{
	int work = 0;

	if (probe_bad_args)
		probe(d);

	for (unsigned i = 0; i < 2; i++) {
		if (raise_now[i] == 0)
			continue;
		raise_result[i] = iop_ddm_event_raise(d, raise_now[i], &raise_data[i], 1);
		raise_now[i] = 0;
		work++;
	}
	return work;
}

static const struct iop_ddm_ops raiser_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "raiser",
	.class_id = IOP_CLASS_DDM,
	.functions = claim_only,
	.n_functions = 1,
	.handle = raiser_handle,
	.poll = raiser_poll,
};
IOP_DDM_REGISTER(raiser_ops)

/* Lists UtilEventRegister: the runtime hands it over instead of registering. */
static const uint8_t own_events[] = { IOP_UTIL_EVENT_REGISTER };
static const struct iop_ddm_ops self_events_ops = {
	.abi_version = IOP_DDM_ABI_VERSION,
	.name = "self-events",
	.class_id = IOP_CLASS_DDM,
	.functions = own_events,
	.n_functions = 1,
	.handle = raiser_handle,
};
IOP_DDM_REGISTER(self_events_ops)

enum { RAISER = 0x010, SELF_EVENTS };

#define CLASS_EVENT_A 0x1u
#define CLASS_EVENT_B 0x2u

static const struct iop_window_opts small = { .inbound_bytes = 1 << 20,
					      .outbound_bytes = 1 << 18,
					      .channels = 4,
					      .ring_entries = 64 };

static void up(struct harness *t, unsigned lcores)
{
	static struct iop_runtime_ddm ddms[] = { { "raiser", NULL, 0 },
						 { "self-events", NULL, 0 } };

	ddms[0].lcore = lcores - 1; /* on an lcore of its own when there are two */
	harness_up(t, &small, ddms, 2, lcores);
}

static uint32_t *register_frame(struct harness *t, uint16_t tid, uint32_t mask, uint32_t tx)
{
	uint32_t *f = harness_request(t, tid, IOP_UTIL_EVENT_REGISTER, 5, tx);

	f[IOP_EVENT_MASK_WORD] = rte_cpu_to_le_32(mask);
	return f;
}

static void event_register(struct harness *t, uint16_t tid, uint32_t mask, uint32_t tx)
{
	harness_post(t, register_frame(t, tid, mask, tx));
}

/* Everything that comes in `turns` turns. @return how many. */
static unsigned collect(struct harness *t, struct seen_reply *s, unsigned max, unsigned turns)
{
	unsigned n = 0;

	for (unsigned i = 0; i < turns; i++) {
		harness_turn(t);
		while (n < max && harness_take(t, &s[n]))
			n++;
	}
	return n;
}

static bool is_event(const struct seen_reply *s)
{
	return (s->hdr.flags & IOP_MSG_MULTIPLE) && !(s->hdr.flags & IOP_MSG_LAST) &&
	       s->hdr.function == IOP_UTIL_EVENT_REGISTER;
}

/* The one event among s[0..n) for this transaction and indicator, or NULL. */
static const struct seen_reply *find_event(const struct seen_reply *s, unsigned n, uint32_t tx,
					   uint32_t indicator)
{
	const struct seen_reply *found = NULL;

	for (unsigned i = 0; i < n; i++) {
		if (!is_event(&s[i]) || s[i].hdr.transaction_context != tx ||
		    s[i].words[IOP_EVENT_INDICATOR_WORD] != indicator)
			continue;
		CU_ASSERT_PTR_NULL(found); /* one each */
		found = &s[i];
	}
	return found;
}

static unsigned count_events(const struct seen_reply *s, unsigned n)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n; i++)
		k += is_event(&s[i]);
	return k;
}

/* An executive request with no parameters; @return its (final) reply's DSC among what came. */
static unsigned exec_and_collect(struct harness *t, uint8_t fn, struct seen_reply *s,
				 unsigned max)
{
	unsigned n;
	bool answered = false;

	harness_post(t, harness_request(t, IOP_TID_EXEC, fn, 4, fn));
	n = collect(t, s, max, 40);
	for (unsigned i = 0; i < n; i++)
		if (!is_event(&s[i]) && s[i].hdr.function == fn) {
			CU_ASSERT_EQUAL(s[i].dsc, IOP_DSC_SUCCESS);
			answered = true;
		}
	CU_ASSERT(answered);
	return n;
}

static void test_register_gets_no_reply(void)
{
	struct harness t;
	struct seen_reply s[4];

	up(&t, 1);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE, 0x51);
	event_register(&t, IOP_TID_EXEC, IOP_EVENT_STATE_CHANGE, 0x52);
	CU_ASSERT_EQUAL(collect(&t, s, 4, 20), 0);
	/* The frames went back at once: the heaps are as they started. */
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_inbound(t.w)), t.in_free0);
	CU_ASSERT_TRUE(iop_runtime_channel_idle(t.rt, t.ch.id));
	/* The target answers what follows as before. */
	CU_ASSERT_FATAL(harness_call(&t, RAISER, IOP_UTIL_CLAIM, 4, 0x53, &s[0]));
	CU_ASSERT_EQUAL(s[0].hdr.transaction_context, 0x53);
	CU_ASSERT_EQUAL(s[0].dsc, IOP_DSC_SUCCESS);
	harness_down(&t);
}

static void check_state_event(const struct seen_reply *e, uint16_t tid, uint32_t state)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->hdr.target_tid, tid);
	CU_ASSERT_EQUAL(e->hdr.initiator_tid, IOP_TID_HOST);
	CU_ASSERT_EQUAL(e->hdr.initiator_context, 0xC0FFEE00u);
	CU_ASSERT_TRUE(e->hdr.flags & IOP_MSG_REPLY);
	CU_ASSERT_EQUAL(e->words[IOP_EVENT_DATA_WORD], state);
}

/* The executive's answer to fn among s[0..n). */
static const struct seen_reply *answer_of(const struct seen_reply *s, unsigned n, uint8_t fn)
{
	for (unsigned i = 0; i < n; i++)
		if (!is_event(&s[i]) && s[i].hdr.function == fn)
			return &s[i];
	return NULL;
}

/*
 * Quiesce, enable and reset, each told to the DDM's and the executive's
 * registrations; a DDM's events before the executive's answer, on its own
 * loop too.
 */
static void state_changes(unsigned lcores)
{
	struct harness t;
	struct seen_reply s[16];
	const struct seen_reply *e, *reset;
	unsigned n;

	up(&t, lcores);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE | IOP_EVENT_DEVICE_RESET, 0x61);
	event_register(&t, IOP_TID_EXEC, IOP_EVENT_STATE_CHANGE, 0x62);

	n = exec_and_collect(&t, IOP_EXEC_SYS_QUIESCE, s, 16);
	CU_ASSERT_EQUAL(count_events(s, n), 2);
	e = find_event(s, n, 0x61, IOP_EVENT_STATE_CHANGE);
	check_state_event(e, RAISER, IOP_EVENT_STATE_SUSPENDED);
	CU_ASSERT_TRUE(e < answer_of(s, n, IOP_EXEC_SYS_QUIESCE));
	e = find_event(s, n, 0x62, IOP_EVENT_STATE_CHANGE);
	check_state_event(e, IOP_TID_EXEC, IOP_EVENT_STATE_SUSPENDED);
	CU_ASSERT_EQUAL(e->words[IOP_EVENT_DATA_WORD + 1], IOP_STATE_READY);

	n = exec_and_collect(&t, IOP_EXEC_SYS_ENABLE, s, 16);
	CU_ASSERT_EQUAL(count_events(s, n), 2);
	check_state_event(find_event(s, n, 0x61, IOP_EVENT_STATE_CHANGE), RAISER,
			  IOP_EVENT_STATE_NORMAL);
	e = find_event(s, n, 0x62, IOP_EVENT_STATE_CHANGE);
	check_state_event(e, IOP_TID_EXEC, IOP_EVENT_STATE_NORMAL);
	CU_ASSERT_EQUAL(e->words[IOP_EVENT_DATA_WORD + 1], IOP_STATE_OPERATIONAL);

	/* Reset: the DDM's DEVICE_RESET comes before its state change. */
	n = exec_and_collect(&t, IOP_EXEC_IOP_RESET, s, 16);
	CU_ASSERT_EQUAL(count_events(s, n), 3);
	reset = find_event(s, n, 0x61, IOP_EVENT_DEVICE_RESET);
	e = find_event(s, n, 0x61, IOP_EVENT_STATE_CHANGE);
	check_state_event(e, RAISER, IOP_EVENT_STATE_RESTART);
	CU_ASSERT_PTR_NOT_NULL_FATAL(reset);
	CU_ASSERT_TRUE(reset < e);
	CU_ASSERT_TRUE(e < answer_of(s, n, IOP_EXEC_IOP_RESET));
	CU_ASSERT_EQUAL(reset->hdr.size_words, IOP_EVENT_DATA_WORD); /* no EventData */
	e = find_event(s, n, 0x62, IOP_EVENT_STATE_CHANGE);
	check_state_event(e, IOP_TID_EXEC, IOP_EVENT_STATE_RESTART);
	CU_ASSERT_EQUAL(e->words[IOP_EVENT_DATA_WORD + 1], IOP_STATE_RESET);
	harness_down(&t);
}

static void test_state_changes_one_lcore(void)
{
	state_changes(1);
}

static void test_state_changes_two_lcores(void)
{
	state_changes(2);
}

static void test_mask_zero_cancels(void)
{
	struct harness t;
	struct seen_reply s[8];
	const struct seen_reply *e;
	unsigned n;

	up(&t, 1);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE | IOP_EVENT_MASK_MODIFIED, 0x71);
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	/* The cancel is told to the registration it ends, under that one's contexts. */
	event_register(&t, RAISER, 0, 0x72);
	n = collect(&t, s, 8, 10);
	CU_ASSERT_EQUAL(n, 1);
	e = find_event(s, n, 0x71, IOP_EVENT_MASK_MODIFIED);
	CU_ASSERT_PTR_NOT_NULL_FATAL(e);
	CU_ASSERT_EQUAL(e->words[IOP_EVENT_DATA_WORD], 0); /* the new mask */
	/* Nothing after it. */
	n = exec_and_collect(&t, IOP_EXEC_SYS_QUIESCE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	n = exec_and_collect(&t, IOP_EXEC_SYS_ENABLE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	/* Cancelling what is not registered is nothing, and no reply. */
	event_register(&t, RAISER, 0, 0x73);
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	harness_down(&t);
}

static void test_register_again_replaces(void)
{
	struct harness t;
	struct seen_reply s[8];
	unsigned n;

	up(&t, 1);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE, 0x81);
	event_register(&t, RAISER, IOP_EVENT_DEVICE_RESET, 0x82);
	n = exec_and_collect(&t, IOP_EXEC_IOP_RESET, s, 8);
	/* Only the second registration, and only what it asked for. */
	CU_ASSERT_EQUAL(count_events(s, n), 1);
	CU_ASSERT_PTR_NOT_NULL(find_event(s, n, 0x82, IOP_EVENT_DEVICE_RESET));
	harness_down(&t);
}

/* A quiesced target takes registrations: that is how a host hears it is back. */
static void test_register_while_quiesced(void)
{
	struct harness t;
	struct seen_reply s[8];
	unsigned n;

	up(&t, 1);
	n = exec_and_collect(&t, IOP_EXEC_SYS_QUIESCE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE, 0x91);
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	n = exec_and_collect(&t, IOP_EXEC_SYS_ENABLE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 1);
	check_state_event(find_event(s, n, 0x91, IOP_EVENT_STATE_CHANGE), RAISER,
			  IOP_EVENT_STATE_NORMAL);
	harness_down(&t);
}

/*
 * A registration without its mask: a final reply, which a host tells from an
 * event; and the one it would have replaced is ended all the same.
 */
static void test_register_without_mask_refused(void)
{
	struct harness t;
	struct seen_reply s[8];
	unsigned n;

	up(&t, 1);
	event_register(&t, RAISER, IOP_EVENT_STATE_CHANGE, 0xA0);
	CU_ASSERT_FATAL(harness_call(&t, RAISER, IOP_UTIL_EVENT_REGISTER, 4, 0xA1, &s[0]));
	CU_ASSERT_FALSE(s[0].hdr.flags & IOP_MSG_MULTIPLE);
	CU_ASSERT_EQUAL(s[0].status, IOP_REPLY_STATUS_ERROR_NO_DATA_TRANSFER);
	CU_ASSERT_EQUAL(s[0].dsc, IOP_DSC_MISSING_PARAMETER);
	CU_ASSERT_EQUAL(s[0].hdr.transaction_context, 0xA1);
	n = exec_and_collect(&t, IOP_EXEC_SYS_QUIESCE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	harness_down(&t);
}

/*
 * A DDM's own events, only the bits each asked for; with the outbound heap
 * full they wait, in order, each kind with its own EventData (the same
 * kind again: its latest), and go once frames are free.
 */
static void test_ddm_events_wait_and_merge(void)
{
	struct iop_ddm_stats st;
	struct harness t;
	struct seen_reply s[8];
	struct iop_heap *out;
	void **hoard;
	unsigned n, held = 0;

	up(&t, 1);
	out = iop_window_outbound(t.w);
	event_register(&t, RAISER, CLASS_EVENT_A | CLASS_EVENT_B, 0xB1);
	CU_ASSERT_EQUAL(collect(&t, s, 8, 3), 0);
	raise_now[0] = CLASS_EVENT_A | IOP_EVENT_GENERAL_WARNING; /* not asked for */
	raise_data[0] = 41;
	n = collect(&t, s, 8, 3);
	CU_ASSERT_EQUAL(raise_result[0], 1);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_NOT_NULL(find_event(s, n, 0xB1, CLASS_EVENT_A));
	CU_ASSERT_EQUAL(s[0].words[IOP_EVENT_DATA_WORD], 41);

	/* Every outbound frame taken: the next two wait, as one. */
	hoard = calloc(1 << 14, sizeof(*hoard));
	CU_ASSERT_PTR_NOT_NULL_FATAL(hoard);
	while (held < (1u << 14) && (hoard[held] = iop_heap_alloc(out, 16)) != NULL)
		held++;
	raise_now[0] = CLASS_EVENT_A;
	raise_data[0] = 42;
	raise_now[1] = CLASS_EVENT_B;
	raise_data[1] = 43;
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	CU_ASSERT_EQUAL(raise_result[0], 1);
	CU_ASSERT_EQUAL(raise_result[1], 1);
	raise_now[0] = CLASS_EVENT_A; /* A again: it replaces the A waiting */
	raise_data[0] = 44;
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	for (unsigned i = 0; i < held; i++)
		iop_heap_free(out, hoard[i], 16);
	free(hoard);
	n = collect(&t, s, 8, 5);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(s[0].words[IOP_EVENT_INDICATOR_WORD], CLASS_EVENT_A);
	CU_ASSERT_EQUAL(s[0].words[IOP_EVENT_DATA_WORD], 44);
	CU_ASSERT_EQUAL(s[1].words[IOP_EVENT_INDICATOR_WORD], CLASS_EVENT_B);
	CU_ASSERT_EQUAL(s[1].words[IOP_EVENT_DATA_WORD], 43);
	CU_ASSERT_EQUAL(iop_runtime_ddm_stats(t.rt, RAISER, &st), 0);
	CU_ASSERT_EQUAL(st.events, 3);
	harness_down(&t);
}

/*
 * A host that leaves is forgotten: nothing goes to its channel, no frame is
 * lost, and nothing to the next host that opens the same slot.
 */
static void test_departed_host_forgotten(void)
{
	struct iop_runtime_stats rs;
	struct harness t;
	struct iop_channel other, again;
	struct seen_reply s[8];
	uint32_t mfa;
	unsigned n;

	up(&t, 1);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &other), 0);
	mfa = iop_window_mfa(t.w, register_frame(&t, RAISER, IOP_EVENT_STATE_CHANGE, 0xC1));
	CU_ASSERT_EQUAL_FATAL(iop_mfa_ring_post(other.to_iop, &mfa, 1), 1);
	CU_ASSERT_EQUAL(collect(&t, s, 8, 5), 0);
	CU_ASSERT_EQUAL(iop_channel_close(t.w, &other), 0);
	n = exec_and_collect(&t, IOP_EXEC_SYS_QUIESCE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(other.to_host, &mfa, 1), 0);
	/* The slot taken back and opened again: a new host there, not registered. */
	CU_ASSERT_EQUAL(iop_channel_reclaim(t.w, other.id, other.generation), 0);
	CU_ASSERT_EQUAL_FATAL(iop_channel_open(t.w, &again), 0);
	CU_ASSERT_EQUAL(again.id, other.id);
	CU_ASSERT_NOT_EQUAL(again.generation, other.generation);
	n = exec_and_collect(&t, IOP_EXEC_SYS_ENABLE, s, 8);
	CU_ASSERT_EQUAL(count_events(s, n), 0);
	CU_ASSERT_EQUAL(iop_mfa_ring_take(again.to_host, &mfa, 1), 0);
	CU_ASSERT_EQUAL(iop_channel_close(t.w, &again), 0);
	iop_runtime_stats(t.rt, &rs);
	CU_ASSERT_EQUAL(rs.replies_dropped, 0); /* not even made */
	harness_down(&t);
}

/*
 * A host that stops taking replies: its events wait with its registration,
 * no frame made for them (they cannot fill the outbound heap, nor hold its
 * channel busy), and go once its ring has room.
 */
static void test_event_waits_for_room_in_the_reply_ring(void)
{
	struct harness t;
	struct seen_reply s[2];
	unsigned n;

	up(&t, 1);
	event_register(&t, RAISER, CLASS_EVENT_A, 0xE1);
	CU_ASSERT_EQUAL(collect(&t, s, 2, 3), 0);
	harness_fill_reply_ring(&t);
	for (unsigned k = 0; k < 3; k++) {
		raise_now[0] = CLASS_EVENT_A;
		raise_data[0] = 7 + k;
		for (unsigned i = 0; i < 5; i++)
			harness_turn(&t);
	}
	CU_ASSERT_EQUAL(heap_free_bytes(iop_window_outbound(t.w)), t.out_free0);
	CU_ASSERT_TRUE(iop_runtime_channel_idle(t.rt, t.ch.id));
	harness_drain_junk(&t);
	n = collect(&t, s, 2, 3);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_NOT_NULL(find_event(s, n, 0xE1, CLASS_EVENT_A));
	CU_ASSERT_EQUAL(s[0].words[IOP_EVENT_DATA_WORD], 9); /* the latest of the three */
	CU_ASSERT_TRUE(iop_runtime_channel_idle(t.rt, t.ch.id));
	harness_down(&t);
}

static void test_ddm_that_lists_it_answers_it(void)
{
	struct harness t;
	struct seen_reply s;

	up(&t, 1);
	harness_post(&t, register_frame(&t, SELF_EVENTS, IOP_EVENT_STATE_CHANGE, 0xD1));
	CU_ASSERT_FATAL(harness_wait(&t, &s, 20));
	CU_ASSERT_EQUAL(s.hdr.transaction_context, 0xD1);
	CU_ASSERT_FALSE(s.hdr.flags & IOP_MSG_MULTIPLE);
	CU_ASSERT_EQUAL(s.dsc, IOP_DSC_SUCCESS);
	harness_down(&t);
}

static void test_raise_refuses_bad_arguments(void)
{
	struct harness t;
	struct seen_reply s[2];

	up(&t, 1);
	probe_bad_args = true;
	CU_ASSERT_EQUAL(collect(&t, s, 2, 2), 0);
	CU_ASSERT_FALSE(probe_bad_args);
	CU_ASSERT_EQUAL(probe_results[0], -EINVAL); /* indicator 0 */
	CU_ASSERT_EQUAL(probe_results[1], -EINVAL); /* too many words */
	CU_ASSERT_EQUAL(probe_results[2], -EINVAL); /* words without data */
	CU_ASSERT_EQUAL(probe_results[3], 0);       /* nobody registered: told nobody */
	harness_down(&t);
}

static const struct iop_test_case event_tests[] = {
	{ "register_gets_no_reply", test_register_gets_no_reply },
	{ "state_changes_one_lcore", test_state_changes_one_lcore },
	{ "state_changes_two_lcores", test_state_changes_two_lcores },
	{ "mask_zero_cancels", test_mask_zero_cancels },
	{ "register_again_replaces", test_register_again_replaces },
	{ "register_while_quiesced", test_register_while_quiesced },
	{ "register_without_mask_refused", test_register_without_mask_refused },
	{ "ddm_events_wait_and_merge", test_ddm_events_wait_and_merge },
	{ "departed_host_forgotten", test_departed_host_forgotten },
	{ "event_waits_for_room_in_the_reply_ring", test_event_waits_for_room_in_the_reply_ring },
	{ "ddm_that_lists_it_answers_it", test_ddm_that_lists_it_answers_it },
	{ "raise_refuses_bad_arguments", test_raise_refuses_bad_arguments },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "events", event_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
