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
 * that one test. Each failure the child records goes back over the pipe as
 * it is recorded (checks.h routes CUnit's assertions through
 * isolate_assert()), and is recorded in the parent as the child recorded it,
 * so the console output, the XML and the exit status are what one process
 * would have given, and a crash or a hang loses none of the failures before
 * it. A child killed by a signal, or stopped for running past the timeout,
 * is one more failure of its test, with the signal's name.
 */
#ifndef CONFORM_ISOLATE_H
#define CONFORM_ISOLATE_H

#include <stdint.h>

#include <CUnit/CUnit.h>

/* Seconds a test's process may run before it is killed, unless --timeout says otherwise. */
#define ISOLATE_TIMEOUT_S 60u

/*
 * The child's exit status when it could not set up to run its test (the
 * EAL would not start, the DDM would not load): the parent stops the run,
 * which could not be made, with 255. Not a status a test ends with.
 */
#define ISOLATE_SETUP_FAILED 250

/* Most failures of one test that a child sends; a last one says how many more there were. */
#define ISOLATE_MAX_FAILURES 200u

/*
 * What every child gets: the program's own argv as it was given (before
 * getopt reordered it, without the `--` that ends the options), the run's
 * seed (so every test writes the data of the seed printed), and the timeout
 * (0: none). Finds this program's path (readlink of /proc/self/exe, else
 * argv[0]). Call before isolate_run().
 * @return 0, or -ENOMEM.
 */
int isolate_setup(int argc, char *const *argv, uint32_t seed, unsigned timeout_s);

/* The CUnit function of every test in the parent: runs the current test in a child. */
void isolate_run(void);

/*
 * In the child, before anything else: report on fd, each failure as it is
 * recorded; every descriptor it inherited is made close-on-exec.
 */
void isolate_child(int fd);

/*
 * CU_assertImplementation() (checks.h puts it in CUnit's assertion macros):
 * in a child, a failure is sent to the parent before CUnit records it.
 */
CU_BOOL isolate_assert(CU_BOOL value, unsigned int line, const char *condition,
		       const char *file, const char *function, CU_BOOL fatal);

/*
 * In the child, after its one test ran: the failures not yet sent, the
 * count of assertions that held, then the mark that says the test ran to
 * its end; the report fd is closed. @return 0 or -errno.
 */
int isolate_report(void);

#endif /* CONFORM_ISOLATE_H */
