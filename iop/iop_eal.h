/* SPDX-License-Identifier: BSD-3-Clause */
/**
 * @file
 * The IOP on DPDK's EAL: starting the EAL with defaults that run on any
 * machine, and running a runtime's poll loops on worker lcores.
 */
#ifndef IOP_EAL_H
#define IOP_EAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

struct iop_runtime;

/**
 * Whether this machine has hugepages to give: hugetlbfs mounted and free
 * pages reserved. Without them the EAL must run with --no-huge.
 */
bool iop_eal_hugepages_available(void);

/**
 * rte_eal_init() with iopool's defaults added for what the user's options
 * leave unsaid: --no-huge when iop_eal_hugepages_available() is false,
 * --no-pci unless -a/--allow, -b/--block or --no-pci is given,
 * --file-prefix=iopool-PID unless --file-prefix is given (so two IOPs, or
 * an IOP and its tests, never share DPDK's runtime files), and
 * --log-level=lib.eal:warning unless --log-level is given. rte_eal_init pins
 * the calling thread to the main lcore's CPU.
 *
 * @param argc, argv  the EAL's options, argv[0] the program's name.
 * @param err         gets a message on failure (may be NULL).
 * @return how many of argv the EAL consumed (as rte_eal_init), or a
 *         negative errno (rte_errno of a failed rte_eal_init).
 * Thread safety: once per process.
 */
int iop_eal_init(int argc, char **argv, char *err, size_t errlen);

/**
 * rte_eal_cleanup(), and then, if iop_eal_init() chose the file prefix
 * (iopool-PID), the runtime directory it made (/run/dpdk/iopool-PID, or
 * under $XDG_RUNTIME_DIR): nothing can attach to a process that is going,
 * and each run would otherwise leave about 1 MiB of DPDK's files there. A
 * prefix the user gave is left as DPDK leaves it.
 * Thread safety: once, on the main lcore, after the loops have stopped.
 */
void iop_eal_cleanup(void);

/**
 * Run poll loop i of the runtime on the i-th worker lcore, until *stop is
 * set.
 *
 * @return 0, or -ENODEV when the EAL has fewer worker lcores than the
 *         runtime has loops (nothing launched), -EBUSY when a worker is busy.
 * Thread safety: the main lcore.
 */
int iop_runtime_launch(struct iop_runtime *rt, const _Atomic int *stop);

/** Wait for the loops iop_runtime_launch() started (after setting *stop). */
void iop_runtime_wait(struct iop_runtime *rt);

#ifdef __cplusplus
}
#endif

#endif /* IOP_EAL_H */
