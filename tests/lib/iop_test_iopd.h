/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopd as a test's separate process: configured by a file as users do,
 * started, waited for until its socket answers, and stopped with SIGTERM.
 */
#ifndef IOP_TEST_IOPD_H
#define IOP_TEST_IOPD_H

#include <sys/types.h>

struct iop_test_iopd {
	pid_t pid;
	char sock_path[108];
	char conf_path[128];
};

/*
 * Write a configuration (the socket line, then `conf`: iopd config-file lines)
 * under /tmp with names made from `name` and this pid, start `iopd_path` with
 * it and wait (up to 10 s) until the socket answers.
 * @return 0, or -1 with a message on stderr.
 */
int iop_test_iopd_start(struct iop_test_iopd *d, const char *iopd_path, const char *name,
			const char *conf);

/*
 * SIGTERM, and wait. @return 0 when iopd exited with status 0 and removed
 * its socket; -1 (with a message) otherwise. Removes the configuration.
 */
int iop_test_iopd_stop(struct iop_test_iopd *d);

/*
 * Pin the calling process (and what it forks) to CPU 0, where iopd's main
 * lcore mostly sleeps: its poll loop spins on CPU 1, as DPDK lcores do, and a
 * host sharing that CPU would get it only when the scheduler takes it from
 * the loop. Nothing on a one-CPU machine.
 */
void iop_test_stay_off_the_loop_cpu(void);

void iop_test_sleep_ms(unsigned ms);

#endif /* IOP_TEST_IOPD_H */
