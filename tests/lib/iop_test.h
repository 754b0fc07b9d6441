/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Shared CUnit runner for iopool's test programs.
 *
 * Each test program defines its suites in a table and calls iop_test_main().
 * Options: -s SUITE runs one suite, -t TEST one test (within -s, or in every
 * suite), -l lists them. The exit status is the number of failures (capped
 * at 125 so it never reads as success or as a signal).
 */
#ifndef IOP_TEST_H
#define IOP_TEST_H

#include <stdint.h>

#include <CUnit/CUnit.h>

struct iop_test_case {
	const char *name;
	CU_TestFunc fn;
};

struct iop_test_suite {
	const char *name;
	const struct iop_test_case *tests; /* ends with { NULL, NULL } */
};

/* Runs the suites (the table ends with { NULL, NULL }). */
int iop_test_main(int argc, char **argv, const struct iop_test_suite *suites);

/* A seed for randomised tests: $IOP_TEST_SEED if set, else the time. Printed. */
unsigned long iop_test_seed(void);

/*
 * A small generator (xorshift64*) for one test thread's random inputs, the
 * same on any libc, so a printed seed repeats a run exactly.
 */
void iop_test_rng_seed(unsigned long seed);
uint32_t iop_test_rng(void);

#endif /* IOP_TEST_H */
