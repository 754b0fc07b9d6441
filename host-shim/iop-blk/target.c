/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The bsa target iop-blk drives: a running iopd's (through its control
 * socket), or, with --in-process, a runtime of iop-blk's own with one bsa
 * DDM, its poll loop on a thread as an lcore would run it (no EAL needed).
 * Either way the device's block size and capacity come from its
 * device-information parameter group.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blk.h"
#include "iop_bsa.h"
#include "iop_build.h"
#include "iop_host.h"
#include "iop_runtime.h"
#include "iop_window.h"

struct in_process {
	struct iop_window *w;
	struct iop_runtime *rt;
	pthread_t loop;
	bool loop_started; /* a loop thread (none with --loop-inline) */
	_Atomic int stop;
};

static void *loop_main(void *arg)
{
	struct in_process *ip = arg;

	iop_runtime_lcore_loop(ip->rt, 0, &ip->stop);
	return NULL;
}

/* --loop-inline: one turn of the runtime's loop, on the host thread that calls it. */
static void turn_inline(struct blk_target *t)
{
	iop_runtime_poll(((struct in_process *)t->priv)->rt, 0);
}

static size_t pow2_at_least(size_t n)
{
	size_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

static int start_in_process(struct blk_target *t, const struct blk_opts *o)
{
	struct in_process *ip = calloc(1, sizeof(*ip));
	/* Every slot's buffer and request frame, twice over for the heap's splits. */
	size_t in = pow2_at_least(2 * (size_t)o->threads * o->qd * ((size_t)o->bs + 64));
	/* A channel per thread, and one for the device information asked for first. */
	struct iop_window_opts wo = { .inbound_bytes = in < (16u << 20) ? 16u << 20 : in,
				      .channels = o->threads + 1 < 16 ? 16 : o->threads + 1 };
	struct iop_runtime_ddm ddm = { "bsa", o->in_process, 0 };
	struct iop_runtime_config cfg = { .lcores = 1, .ddms = &ddm, .n_ddms = 1 };
	char err[256] = "";

	if (ip == NULL)
		return -1;
	t->priv = ip;
	ip->w = iop_window_create(&wo);
	if (ip->w == NULL) {
		fprintf(stderr, "iop-blk: frame window: %s\n", strerror(errno));
		return -1;
	}
	cfg.window = ip->w;
	ip->rt = iop_runtime_create(&cfg, err, sizeof(err));
	if (ip->rt == NULL) {
		fprintf(stderr, "iop-blk: runtime: %s\n", err);
		return -1;
	}
	if (o->loop_inline) {
		t->turn = turn_inline;
	} else if (pthread_create(&ip->loop, NULL, loop_main, ip) != 0) {
		iop_runtime_destroy(ip->rt);
		ip->rt = NULL;
		return -1;
	} else {
		ip->loop_started = true;
	}
	t->host = iop_host_attach_runtime(ip->rt, err, sizeof(err));
	if (t->host == NULL)
		fprintf(stderr, "iop-blk: attach: %s\n", err);
	return t->host != NULL ? 0 : -1;
}

/* iop_qp_call_turning()'s turn: one turn of the runtime's loop, --loop-inline's. */
static void turn_for_call(void *t)
{
	((struct blk_target *)t)->turn(t);
}

/*
 * The queue pair closed once its requests are answered, 5 s at most. With
 * --loop-inline a call that timed out left its request in a loop that only
 * this thread turns, which iop_qp_destroy()'s wait does not: turn it here
 * while waiting, so that the late reply can come and be freed.
 */
static void close_qp(struct blk_target *t, struct iop_qp *qp)
{
	uint64_t end = blk_now_ns() + 5000000000ull;

	if (t->turn == NULL) {
		iop_qp_destroy(qp, 5000);
		return;
	}
	while (iop_qp_outstanding(qp) != 0 && blk_now_ns() < end) {
		t->turn(t);
		iop_qp_poll(qp, 8);
	}
	iop_qp_destroy(qp, 0);
}

/* Block size and capacity: UtilParamsGet of the device-information group. */
static int device_info(struct blk_target *t, const struct blk_opts *o)
{
	struct iop_qp *qp = iop_qp_create(t->host, NULL);
	uint32_t *f = qp != NULL ? iop_qp_frame_alloc(qp, 32) : NULL, reply[32];
	uint64_t v[IOP_BSA_INFO_FIELDS];
	struct iop_completion c;
	unsigned n;
	int rc = -ENOMEM;

	if (f != NULL) {
		iop_build_params_get(f, 32, o->tid, IOP_BSA_PARAMS_DEVICE_INFO);
		/* --loop-inline: no loop thread; the call turns the loop itself while it waits. */
		rc = t->turn != NULL ? iop_qp_call_turning(qp, f, reply, 32, &c, 5000, turn_for_call, t)
				     : iop_qp_call(qp, f, reply, 32, &c, 5000);
		if (rc == 0 && iop_read_params_reply(reply, c.reply_words, v, IOP_BSA_INFO_FIELDS,
						     &n) < (int)IOP_BSA_INFO_FIELDS)
			rc = -EPROTO;
	}
	if (qp != NULL)
		close_qp(t, qp);
	if (rc != 0) {
		fprintf(stderr, "iop-blk: target 0x%03x: no block device information (%s)\n",
			o->tid, strerror(-rc));
		return -1;
	}
	/* Group 0 of another class's target reads as anything: believe only a sane device. */
	if (v[IOP_BSA_INFO_BLOCK_SIZE] < 512 || v[IOP_BSA_INFO_BLOCK_SIZE] > (1u << 23) ||
	    (v[IOP_BSA_INFO_BLOCK_SIZE] & (v[IOP_BSA_INFO_BLOCK_SIZE] - 1)) != 0 ||
	    v[IOP_BSA_INFO_CAPACITY] < v[IOP_BSA_INFO_BLOCK_SIZE]) {
		fprintf(stderr, "iop-blk: target 0x%03x is not a block device (block size %llu, "
				"capacity %llu)\n", o->tid,
			(unsigned long long)v[IOP_BSA_INFO_BLOCK_SIZE],
			(unsigned long long)v[IOP_BSA_INFO_CAPACITY]);
		return -1;
	}
	t->block_size = (uint32_t)v[IOP_BSA_INFO_BLOCK_SIZE];
	t->capacity = v[IOP_BSA_INFO_CAPACITY];
	return 0;
}

int blk_target_open(struct blk_target *t, const struct blk_opts *o)
{
	char path[108], err[256];

	memset(t, 0, sizeof(*t));
	if (o->in_process != NULL) {
		if (start_in_process(t, o) != 0)
			return -1;
	} else {
		if (o->socket == NULL && iop_host_default_socket(path, sizeof(path)) != 0)
			return -1;
		t->host = iop_host_attach(o->socket != NULL ? o->socket : path, err, sizeof(err));
		if (t->host == NULL) {
			fprintf(stderr, "iop-blk: %s\n", err);
			return -1;
		}
	}
	return device_info(t, o);
}

void blk_target_close(struct blk_target *t)
{
	struct in_process *ip = t->priv;

	if (t->host != NULL)
		iop_host_detach(t->host, 5000);
	if (ip != NULL) {
		if (ip->rt != NULL) {
			atomic_store(&ip->stop, 1);
			if (ip->loop_started)
				pthread_join(ip->loop, NULL);
			iop_runtime_destroy(ip->rt);
		}
		if (ip->w != NULL)
			iop_window_close(ip->w);
		free(ip);
	}
}
