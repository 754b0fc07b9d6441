/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The peers, in the order they run and appear in the tables. Adding one is a
 * file with its struct bench_peer and a line here.
 */
#include <string.h>

#include "bench.h"

extern const struct bench_peer bench_peer_iopool, bench_peer_iopool_uncached, bench_peer_spin_buddy,
	bench_peer_mutex_buddy,
	bench_peer_glibc, bench_peer_jemalloc, bench_peer_mimalloc, bench_peer_tcmalloc,
	bench_peer_rte_malloc, bench_peer_rte_mempool;

const struct bench_peer *const bench_peers[] = {
	&bench_peer_iopool,
	&bench_peer_iopool_uncached,
	&bench_peer_spin_buddy,
	&bench_peer_mutex_buddy,
	&bench_peer_glibc,
	&bench_peer_jemalloc,
	&bench_peer_mimalloc,
	&bench_peer_tcmalloc,
	&bench_peer_rte_malloc,
	&bench_peer_rte_mempool,
};
const unsigned bench_npeers = sizeof(bench_peers) / sizeof(bench_peers[0]);
_Static_assert(sizeof(bench_peers) / sizeof(bench_peers[0]) <= BENCH_MAX_PEERS,
	       "peer_mask is too narrow");

const struct bench_peer *bench_peer_by_name(const char *name)
{
	for (unsigned i = 0; i < bench_npeers; i++)
		if (strcmp(bench_peers[i]->name, name) == 0)
			return bench_peers[i];
	return NULL;
}

const struct bench_workload *bench_workload_by_name(const char *name)
{
	for (unsigned i = 0; i < bench_nworkloads; i++)
		if (strcmp(bench_workloads[i].name, name) == 0)
			return &bench_workloads[i];
	return NULL;
}
