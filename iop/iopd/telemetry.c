/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd's DPDK telemetry endpoints, readable with dpdk-telemetry.py:
 *   /iopool/status      state, targets, channels, FAIL replies, bad MFAs, replies
 *                       dropped, requests abandoned
 *   /iopool/targets     TID -> name, class, loop, live
 *   /iopool/heaps       inbound and outbound: size, in use, free, largest free, cached
 *   /iopool/ddm,TID     one target's counters
 * Telemetry runs on its own thread; everything read here is atomic counters.
 */
#include <stdio.h>
#include <stdlib.h>

#include <rte_telemetry.h>

#include "iop_heap.h"
#include "iop_window.h"
#include "iopd.h"

static struct iop_runtime *telemetry_rt;

static int status(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct iop_window_info info;
	struct iop_runtime_stats s;

	(void)cmd;
	(void)params;
	iop_window_info(iop_runtime_window(telemetry_rt), &info);
	iop_runtime_stats(telemetry_rt, &s);
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_int(d, "state", iop_runtime_state(telemetry_rt));
	rte_tel_data_add_dict_int(d, "targets", (int)iop_runtime_targets(telemetry_rt));
	rte_tel_data_add_dict_int(d, "channels", (int)info.channels);
	rte_tel_data_add_dict_u64(d, "fail_replies", s.fail_replies);
	rte_tel_data_add_dict_u64(d, "bad_mfas", s.bad_mfas);
	rte_tel_data_add_dict_u64(d, "replies_dropped", s.replies_dropped);
	rte_tel_data_add_dict_u64(d, "requests_abandoned", s.requests_abandoned);
	return 0;
}

static int targets(const char *cmd, const char *params, struct rte_tel_data *d)
{
	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	for (unsigned i = 0; i < iop_runtime_targets(telemetry_rt); i++) {
		struct iop_target_info t;
		char tid[8], what[96];

		iop_runtime_target(telemetry_rt, i, &t);
		snprintf(tid, sizeof(tid), "0x%03x", t.tid);
		snprintf(what, sizeof(what), "%s class=0x%03x loop=%u%s", t.name, t.class_id,
			 t.lcore, t.live ? "" : " destroyed");
		rte_tel_data_add_dict_string(d, tid, what);
	}
	return 0;
}

static void heap_dict(struct rte_tel_data *d, const char *name, const struct iop_heap *h)
{
	struct rte_tel_data *c = rte_tel_data_alloc();
	struct iop_heap_stats s;

	if (c == NULL)
		return;
	iop_heap_stats(h, &s);
	rte_tel_data_start_dict(c);
	rte_tel_data_add_dict_u64(c, "bytes", s.heap_bytes);
	rte_tel_data_add_dict_u64(c, "in_use", s.bytes_in_use);
	rte_tel_data_add_dict_u64(c, "free", s.bytes_free);
	rte_tel_data_add_dict_u64(c, "largest_free", s.largest_free);
	rte_tel_data_add_dict_u64(c, "cached", s.bytes_cached);
	rte_tel_data_add_dict_u64(c, "refused_frees", s.refused_frees);
	rte_tel_data_add_dict_container(d, name, c, 0);
}

static int heaps(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct iop_window *w = iop_runtime_window(telemetry_rt);

	(void)cmd;
	(void)params;
	rte_tel_data_start_dict(d);
	heap_dict(d, "inbound", iop_window_inbound(w));
	heap_dict(d, "outbound", iop_window_outbound(w));
	return 0;
}

static int ddm(const char *cmd, const char *params, struct rte_tel_data *d)
{
	struct iop_ddm_stats s;
	unsigned long tid = params != NULL ? strtoul(params, NULL, 0) : 0x1000;

	(void)cmd;
	if (tid > 0xFFF || iop_runtime_ddm_stats(telemetry_rt, (uint16_t)tid, &s) != 0)
		return -1;
	rte_tel_data_start_dict(d);
	rte_tel_data_add_dict_u64(d, "requests", s.requests);
	rte_tel_data_add_dict_u64(d, "replies", s.replies);
	rte_tel_data_add_dict_u64(d, "failures", s.failures);
	rte_tel_data_add_dict_u64(d, "unsupported", s.unsupported);
	rte_tel_data_add_dict_u64(d, "double_replies", s.double_replies);
	rte_tel_data_add_dict_u64(d, "missing_replies", s.missing_replies);
	rte_tel_data_add_dict_u64(d, "retries", s.retries);
	rte_tel_data_add_dict_u64(d, "in_flight", s.in_flight);
	return 0;
}

void iopd_telemetry_register(struct iop_runtime *rt)
{
	telemetry_rt = rt;
	rte_telemetry_register_cmd("/iopool/status", status, "IOP state and counters");
	rte_telemetry_register_cmd("/iopool/targets", targets, "TIDs: name, class, loop");
	rte_telemetry_register_cmd("/iopool/heaps", heaps, "Inbound and outbound heap use");
	rte_telemetry_register_cmd("/iopool/ddm", ddm, "One target's counters. Parameter: TID");
}
