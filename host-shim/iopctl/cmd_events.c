/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl events: register with every target of the LCT (or one, -t) for the
 * events of a mask (default: all), then print each event as it comes, until
 * COUNT events (-c) or SIGINT/SIGTERM. A registration gets no reply, so
 * after registering iopctl reads each target's counters once: replies on a
 * channel come in order, so when that answer is in (even a refusal, as from
 * a quiesced target: it is a reply of the target's), the target has its
 * registration, and the first line printed says so. While it waits, iopctl
 * asks for the IOP's status every --timeout: an iopd that stops answering
 * ends the command (exit 1). A target that refuses the registration makes
 * the exit status 1, and ends the command at once when none is left.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "iop_build.h"
#include "iop_frame.h"
#include "iop_lan.h"
#include "iop_lct.h"
#include "iopctl.h"
#include "json.h"

static volatile sig_atomic_t stop;

static void on_stop(int sig)
{
	(void)sig;
	stop = 1;
}

struct listen {
	struct iopctl *s;
	struct iopctl_lct lct;
	unsigned long seen;
	unsigned registered, refused;
};

static const struct {
	uint32_t bit;
	const char *name;
} generic_names[] = {
	{ IOP_EVENT_STATE_CHANGE, "STATE_CHANGE" },
	{ IOP_EVENT_GENERAL_WARNING, "GENERAL_WARNING" },
	{ IOP_EVENT_CONFIGURATION_FLAG, "CONFIGURATION_FLAG" },
	{ IOP_EVENT_LOCK_RELEASE, "LOCK_RELEASE" },
	{ IOP_EVENT_CAPABILITY_CHANGE, "CAPABILITY_CHANGE" },
	{ IOP_EVENT_DEVICE_RESET, "DEVICE_RESET" },
	{ IOP_EVENT_MASK_MODIFIED, "EVENT_MASK_MODIFIED" },
	{ IOP_EVENT_FIELD_MODIFIED, "FIELD_MODIFIED" },
	{ IOP_EVENT_VENDOR, "VENDOR_EVENT" },
	{ IOP_EVENT_DEVICE_STATE, "DEVICE_STATE" },
};

/* The name of one indicator bit at a target of this class ("0x00000008" for one without). */
static const char *bit_name(uint32_t bit, uint16_t class_id, char buf[16])
{
	for (size_t i = 0; i < sizeof(generic_names) / sizeof(generic_names[0]); i++)
		if (generic_names[i].bit == bit)
			return generic_names[i].name;
	if (class_id == IOP_CLASS_LAN && bit == IOP_LAN_EVENT_LINK_DOWN)
		return "LINK_DOWN";
	if (class_id == IOP_CLASS_LAN && bit == IOP_LAN_EVENT_LINK_UP)
		return "LINK_UP";
	snprintf(buf, 16, "0x%08X", bit);
	return buf;
}

static const struct iop_lct_entry *entry_of(const struct listen *l, uint16_t tid)
{
	for (unsigned i = 0; i < l->lct.n; i++)
		if (l->lct.entries[i].local_tid == tid)
			return &l->lct.entries[i];
	return NULL;
}

static void print_event(struct listen *l, const struct iop_completion *c)
{
	uint16_t tid = le32toh(c->reply[1]) & IOP_TID_MAX;
	const struct iop_lct_entry *e = entry_of(l, tid);
	uint16_t class_id = e != NULL ? e->class_id : 0xFFF;
	char id[9] = "", buf[16];
	struct json j;

	if (e != NULL)
		iopctl_identity(e, id);
	if (l->s->o->json) {
		json_init(&j, stdout);
		json_object_begin(&j, NULL);
		json_uint(&j, "tid", tid);
		json_string(&j, "identity", id);
		json_uint(&j, "indicator", c->event_indicator);
		json_array_begin(&j, "names");
		for (unsigned b = 32; b-- > 0;)
			if (c->event_indicator & 1u << b)
				json_string(&j, NULL, bit_name(1u << b, class_id, buf));
		json_array_end(&j);
		json_array_begin(&j, "data");
		for (size_t w = IOP_EVENT_DATA_WORD; w < c->reply_words; w++)
			json_uint(&j, NULL, le32toh(c->reply[w]));
		json_array_end(&j);
		json_object_end(&j);
		json_end(&j);
	} else {
		printf("0x%03X  %-8s", tid, id);
		for (unsigned b = 32; b-- > 0;)
			if (c->event_indicator & 1u << b)
				printf(" %s", bit_name(1u << b, class_id, buf));
		for (size_t w = IOP_EVENT_DATA_WORD; w < c->reply_words; w++)
			printf("%s0x%08X", w == IOP_EVENT_DATA_WORD ? "  data " : " ",
			       le32toh(c->reply[w]));
		printf("\n");
	}
	fflush(stdout);
}

static void on_event(struct iop_qp *qp, const struct iop_completion *c)
{
	struct listen *l = c->arg;

	(void)qp;
	if (!c->event) {
		/* The registration refused: said, and the watch goes on for the others. */
		iopctl_report(l->s, "UtilEventRegister", le32toh(c->reply[1]) & IOP_TID_MAX,
			      c->result, c);
		l->refused++;
		return;
	}
	if (l->s->o->count != 0 && l->seen >= l->s->o->count)
		return; /* came with the last ones asked for: not printed */
	print_event(l, c);
	l->seen++;
}

static void print_registered(const struct listen *l, const uint16_t *tids, unsigned n,
			     uint32_t mask)
{
	struct json j;

	if (!l->s->o->json) {
		printf("events of %u target%s (mask 0x%08X)%s\n", n, n == 1 ? "" : "s", mask,
		       l->s->o->count ? "" : "; Ctrl-C stops");
		fflush(stdout);
		return;
	}
	json_init(&j, stdout);
	json_object_begin(&j, NULL);
	json_array_begin(&j, "registered");
	for (unsigned i = 0; i < n; i++)
		json_uint(&j, NULL, tids[i]);
	json_array_end(&j);
	json_uint(&j, "mask", mask);
	json_object_end(&j);
	json_end(&j);
	fflush(stdout);
}

/* Register with tid, then read its counters: its registration is in once they come. */
static int register_with(struct listen *l, uint16_t tid, uint32_t mask)
{
	uint64_t stats[IOPCTL_TARGET_STATS];
	struct iop_completion c;
	int rc = iop_qp_event_register(l->s->qp, tid, mask, on_event, l);

	if (rc != 0) {
		iopctl_report(l->s, "UtilEventRegister", tid, rc, NULL);
		return -1;
	}
	rc = iopctl_target_stats(l->s, tid, stats, &c);
	/* A reply with another status is the target's reply all the same: the barrier holds. */
	if (rc != 0 && rc != -EIO) {
		iopctl_report(l->s, "UtilParamsGet", tid, rc, &c);
		return -1;
	}
	l->registered++;
	return 0;
}

/* Still there? An ExecStatusGet every timeout while nothing else is asked. */
static int alive(struct iopctl *s)
{
	uint32_t *f = iopctl_frame(s);
	int rc = f ? iop_build_exec_status_get(f, IOPCTL_FRAME_BYTES) : -ENOMEM;

	return iopctl_call(s, f, rc, "ExecStatusGet", IOP_TID_EXEC);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int iopctl_cmd_events(struct iopctl *s, uint32_t mask)
{
	struct listen l = { .s = s };
	uint16_t *tids;
	unsigned n = 0;
	double next_probe;
	int rc = 0;

	if (iopctl_lct_fetch(s, &l.lct) != 0)
		return IOPCTL_EXIT_FAIL;
	tids = calloc(l.lct.n + 1, sizeof(*tids));
	if (tids == NULL) {
		iopctl_lct_free(&l.lct);
		iopctl_error(s->o, "out of memory");
		return IOPCTL_EXIT_FAIL;
	}
	for (unsigned i = 0; i < l.lct.n; i++)
		if (!s->o->tid_given || l.lct.entries[i].local_tid == s->o->tid)
			tids[n++] = l.lct.entries[i].local_tid;
	if (n == 0) {
		iopctl_error(s->o, "events: no target 0x%03X in the LCT", s->o->tid);
		rc = IOPCTL_EXIT_FAIL;
		goto out;
	}
	for (unsigned i = 0; i < n; i++)
		if (register_with(&l, tids[i], mask) != 0) {
			rc = IOPCTL_EXIT_FAIL;
			goto out;
		}
	/* Before the line a script waits for: a SIGTERM right after it is a clean stop. */
	signal(SIGINT, on_stop);
	signal(SIGTERM, on_stop);
	print_registered(&l, tids, n, mask);
	next_probe = now_s() + s->o->timeout_ms / 1000.0;
	while (!stop && (s->o->count == 0 || l.seen < s->o->count) && l.refused < l.registered) {
		if (iop_qp_poll(s->qp, 32) != 0)
			continue;
		if (now_s() >= next_probe) {
			if (alive(s) != 0) {
				rc = IOPCTL_EXIT_FAIL;
				break;
			}
			next_probe = now_s() + s->o->timeout_ms / 1000.0;
		}
		usleep(1000); /* events are rare: no need to spin a CPU the IOP may use */
	}
	if (rc == 0 && l.refused != 0)
		rc = IOPCTL_EXIT_FAIL;
out:
	free(tids);
	iopctl_lct_free(&l.lct);
	return rc;
}
