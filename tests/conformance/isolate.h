/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Each test in a process of its own (docs/iop-conform.md, "Isolation"): a
 * DDM that crashes or hangs takes down one child, and the crash is that
 * test's failure, not the end of the run.
 *
 * The parent registers every selected test with isolate_run() as its CUnit
 * function. Run, it starts iop-conform again (fork, then exec of this very
 * program) with the suite and test named and a pipe to report on; the child
 * brings up everything a test needs from scratch (the EAL too: DPDK's
 * threads do not survive a fork, so the parent never starts it) and runs
 * that one test. The child's failures come back over the pipe and are
 * recorded in the parent as the child recorded them, so the console output,
 * the XML and the exit status are what one process would have given. A
 * child killed by a signal, or stopped for running past the timeout, is one
 * more failure of its test, with the signal's name.
 */
#ifndef CONFORM_ISOLATE_H
#define CONFORM_ISOLATE_H

#include <stdint.h>

/* Seconds a test may run before its child is killed, unless --timeout says otherwise. */
#define ISOLATE_TIMEOUT_S 60u

/*
 * What every child gets: the program's own argv as it was given (before
 * getopt reordered it), the run's seed (so every test writes the data of the
 * seed printed), and the timeout (0: none). Call before isolate_run().
 * @return 0, or -ENOMEM.
 */
int isolate_setup(int argc, char *const *argv, uint32_t seed, unsigned timeout_s);

/* The CUnit function of every test in the parent: runs the current test in a child. */
void isolate_run(void);

/*
 * In the child, after its one test ran: write the failures CUnit recorded
 * to fd, then the mark that says the test ran to its end. @return 0 or -errno.
 */
int isolate_report(int fd);

#endif /* CONFORM_ISOLATE_H */
