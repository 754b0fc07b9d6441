/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * DPDK's EAL for the DDMs that need it (lan names an ethdev port): started
 * only when iop-conform is given a --vdev, since a DDM that needs no EAL
 * should be judged without one.
 */
#ifndef CONFORM_EAL_H
#define CONFORM_EAL_H

#include <stddef.h>

/* Most --vdev options iop-conform takes. */
#define CONFORM_MAX_VDEVS 8u

/*
 * Start the EAL with these virtual devices (no hugepages unless the machine
 * has them, no PCI: iop_eal_init's defaults), a runtime-file prefix of this
 * process's own (iop-conform-PID), --no-shconf and one lcore. The calling
 * thread keeps the CPUs it had.
 * @return 0, or -errno with a message in err. Once per process.
 */
int conform_eal_start(const char *const *vdevs, unsigned n, char *err, size_t errlen);

/* rte_eal_cleanup(), if conform_eal_start() started it, and its empty runtime directory removed. */
void conform_eal_stop(void);

#endif /* CONFORM_EAL_H */
