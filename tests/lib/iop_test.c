/* SPDX-License-Identifier: BSD-3-Clause */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Basic.h>

#include "iop_test.h"

unsigned long iop_test_seed(void)
{
	/* Set once by iop_test_main() before any test starts a thread. */
	static _Atomic unsigned long seed;
	const char *env = getenv("IOP_TEST_SEED");
	unsigned long s = atomic_load(&seed);

	if (s != 0)
		return s;
	s = env != NULL ? strtoul(env, NULL, 0) : (unsigned long)time(NULL) ^ (unsigned long)getpid();
	if (s == 0)
		s = 1;
	atomic_store(&seed, s);
	printf("seed %lu (set IOP_TEST_SEED to repeat)\n", s);
	return s;
}

/* xorshift64*: reproducible from the printed seed on any libc. */
static uint64_t rng_state = 1;

void iop_test_rng_seed(unsigned long seed)
{
	rng_state = (uint64_t)seed * 0x9E3779B97F4A7C15ull | 1;
}

uint32_t iop_test_rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s suite] [-t test] [-l]\n", prog);
}

int iop_test_main(int argc, char **argv, const struct iop_test_suite *suites)
{
	const char *only_suite = NULL, *only_test = NULL;
	unsigned failures;
	int opt;

	while ((opt = getopt(argc, argv, "s:t:lh")) != -1) {
		switch (opt) {
		case 's':
			only_suite = optarg;
			break;
		case 't':
			only_test = optarg;
			break;
		case 'l':
			for (const struct iop_test_suite *s = suites; s->name; s++)
				for (const struct iop_test_case *t = s->tests; t->name; t++)
					printf("%s/%s\n", s->name, t->name);
			return 0;
		default:
			usage(argv[0]);
			return opt == 'h' ? 0 : 2;
		}
	}
	iop_test_seed();
	if (CU_initialize_registry() != CUE_SUCCESS)
		return 125;
	for (const struct iop_test_suite *s = suites; s->name; s++) {
		CU_pSuite cs;

		if (only_suite != NULL && strcmp(only_suite, s->name) != 0)
			continue;
		cs = CU_add_suite(s->name, NULL, NULL);
		for (const struct iop_test_case *t = s->tests; t->name; t++)
			if (only_test == NULL || strcmp(only_test, t->name) == 0)
				CU_add_test(cs, t->name, t->fn);
	}
	if (CU_get_registry()->uiNumberOfTests == 0) {
		fprintf(stderr, "no test matches\n");
		CU_cleanup_registry();
		return 2;
	}
	CU_basic_set_mode(CU_BRM_VERBOSE);
	CU_basic_run_tests();
	failures = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	return failures > 125 ? 125 : (int)failures;
}
