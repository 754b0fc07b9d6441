/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iop-conform: the DDM conformance suite. Runs its checks against one DDM, a
 * built-in by name or a shared object by path, and exits with the number of
 * checks that failed. docs/iop-conform.md.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <CUnit/Automated.h>
#include <CUnit/Basic.h>
#include <CUnit/CUnit.h>

#include "checks.h"
#include "eal.h"
#include "fixture.h"
#include "iop_frame.h"
#include "isolate.h"
#include "iop_lct.h"

/* A suite for every target. */
#define ANY_CLASS 0xFFFFu

/*
 * The suites, and the class of target each judges: a class suite runs when
 * the DDM's registered class (the Class of its LCT entry) is its class.
 */
static const struct {
	const char *name;
	uint16_t class_id;
	const struct conform_check *checks;
} suites[] = {
	{ "generic", ANY_CLASS, conform_generic },
	{ "control", ANY_CLASS, conform_control },
	{ "params", ANY_CLASS, conform_params },
	{ "events", ANY_CLASS, conform_events },
	{ "bsa", IOP_CLASS_RANDOM_BLOCK_STORAGE, conform_bsa },
	{ "lan", IOP_CLASS_LAN, conform_lan },
};

#define N_SUITES (sizeof(suites) / sizeof(suites[0]))

static void usage(FILE *f)
{
	fprintf(f,
		"usage: iop-conform (--ddm NAME | --so PATH) [--params STR] [--function 0xNN]\n"
		"                   [--vdev SPEC]... [--seed N] [-s SUITE] [-t TEST] [--xml PREFIX]\n"
		"                   [--no-fork] [--timeout SEC] [-l]\n"
		"  --ddm NAME       a built-in DDM\n"
		"  --so PATH        a DDM shared object (IOP_DDM_EXPORT)\n"
		"  --params STR     the DDM instance's parameters\n"
		"  --function 0xNN  a function the DDM answers itself (default: the first it lists\n"
		"                   that the runtime does not answer for it)\n"
		"  --vdev SPEC      start DPDK's EAL with this virtual device (net_ring0, ...),\n"
		"                   for a DDM that needs a port; may be repeated\n"
		"  --seed N         the seed of the data the checks write (default: from the time\n"
		"                   and the process ID; printed, to repeat a run)\n"
		"  -s SUITE, -t TEST  run one suite, one test (class suites: the DDM's class only)\n"
		"  --xml PREFIX     CUnit XML results in PREFIX-Results.xml and PREFIX-Listing.xml\n"
		"  --no-fork        run every test in this process (faster, for a debugger; a DDM\n"
		"                   that crashes ends the run). Default: each in a child process\n"
		"  --timeout SEC    kill a test's child after SEC seconds, its failure (default %u;\n"
		"                   0: none)\n"
		"  -l               list the suites and tests\n"
		"exit status: the number of failed tests (at most 254); 255: could not run\n",
		ISOLATE_TIMEOUT_S);
}

/* A seed of its own for each run: the time to the nanosecond and the process ID. */
static uint32_t run_seed(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint32_t)ts.tv_sec ^ (uint32_t)ts.tv_nsec ^ (uint32_t)getpid() << 16;
}

/*
 * The first function the DDM lists that reaches it with a plain request and
 * is answered at once: UtilNOP, the parameter groups and UtilEventRegister
 * (answered only when an event fires) would not test the DDM's replies.
 */
static int default_function(const struct iop_ddm_ops *ops)
{
	for (unsigned i = 0; i < ops->n_functions; i++) {
		uint8_t fn = ops->functions[i];

		if (fn != IOP_UTIL_NOP && fn != IOP_UTIL_PARAMS_GET && fn != IOP_UTIL_PARAMS_SET &&
		    fn != IOP_UTIL_EVENT_REGISTER)
			return fn;
	}
	return -1;
}

static bool suite_applies(size_t s, uint16_t class_id)
{
	return suites[s].class_id == ANY_CLASS || suites[s].class_id == class_id;
}

/*
 * Register the selected tests: each with its own function, or, isolated,
 * with isolate_run(), which runs it in a child.
 */
static int register_suites(const char *only_suite, const char *only_test, bool isolated,
			   unsigned *selected)
{
	*selected = 0;
	for (size_t s = 0; s < N_SUITES; s++) {
		CU_pSuite cs;

		if (only_suite != NULL && strcmp(only_suite, suites[s].name) != 0)
			continue;
		if (!suite_applies(s, conform.ops->class_id)) {
			/* Asked for by name: say why it does not run, rather than "no test". */
			if (only_suite != NULL)
				fprintf(stderr,
					"iop-conform: suite %s judges class 0x%03x; %s is class 0x%03x\n",
					suites[s].name, suites[s].class_id, conform.ops->name,
					conform.ops->class_id);
			continue;
		}
		cs = CU_add_suite(suites[s].name, NULL, NULL);
		if (cs == NULL)
			return -ENOMEM;
		for (const struct conform_check *c = suites[s].checks; c->name != NULL; c++) {
			if (only_test != NULL && strcmp(only_test, c->name) != 0)
				continue;
			if (CU_add_test(cs, c->name, isolated ? isolate_run : c->fn) == NULL)
				return -ENOMEM;
			(*selected)++;
		}
	}
	return 0;
}

/* Every suite, whatever the DDM: "suite test", and the class a class suite judges. */
static void list(void)
{
	for (size_t s = 0; s < N_SUITES; s++)
		for (const struct conform_check *c = suites[s].checks; c->name != NULL; c++) {
			if (suites[s].class_id == ANY_CLASS)
				printf("%s %s\n", suites[s].name, c->name);
			else
				printf("%s %s (class 0x%03x)\n", suites[s].name, c->name,
				       suites[s].class_id);
		}
}

/* One line per failed test, for people and for scripts: "FAILED suite test". */
static void print_failed(void)
{
	const char *last_suite = NULL, *last_test = NULL;

	for (CU_pFailureRecord f = CU_get_failure_list(); f != NULL; f = f->pNext) {
		if (f->pSuite == NULL || f->pTest == NULL)
			continue;
		if (last_suite == f->pSuite->pName && last_test == f->pTest->pName)
			continue;
		printf("FAILED %s %s\n", f->pSuite->pName, f->pTest->pName);
		last_suite = f->pSuite->pName;
		last_test = f->pTest->pName;
	}
}

/* The arguments as given, for the children (static: reachable until exit). */
static char **args;

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "ddm", required_argument, NULL, 'd' },
		{ "so", required_argument, NULL, 'o' },
		{ "params", required_argument, NULL, 'p' },
		{ "function", required_argument, NULL, 'f' },
		{ "xml", required_argument, NULL, 'x' },
		{ "vdev", required_argument, NULL, 'v' },
		{ "seed", required_argument, NULL, 'S' },
		{ "no-fork", no_argument, NULL, 'F' },
		{ "timeout", required_argument, NULL, 'T' },
		/* Not for users: the child that runs one test for its parent (isolate.h). */
		{ "child-fd", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ddm = NULL, *so = NULL, *only_suite = NULL, *only_test = NULL, *xml = NULL;
	const char *vdevs[CONFORM_MAX_VDEVS];
	long function = -1;
	unsigned long long seed;
	bool seed_given = false, isolated = true;
	unsigned selected, failed, n_vdevs = 0, timeout_s = ISOLATE_TIMEOUT_S;
	long child_fd = -1, n;
	/* The exit status when it cannot run: a child says so to its parent its own way. */
	int cannot_run = 255, n_args = argc, before;
	char err[512] = "";
	char *end;
	int opt, rc;

	/*
	 * Inherited as ignored, SIGCHLD would have the children reaped by the
	 * kernel, and their crashes never seen (waitpid fails with ECHILD).
	 */
	signal(SIGCHLD, SIG_DFL);

	/* getopt_long reorders argv: each child gets the arguments as they were given. */
	args = calloc((size_t)argc + 1, sizeof(*args));
	if (args == NULL)
		return 255;
	memcpy(args, argv, (size_t)argc * sizeof(*args));
	for (;;) {
		before = optind;
		opt = getopt_long(argc, argv, "s:t:lh", longopts, NULL);
		if (opt == -1) {
			/*
			 * A `--` that ended the options (the last argument, since
			 * no operand is taken) is not given to a child: the
			 * options each child gets after the arguments would be
			 * operands behind it.
			 */
			if (optind > before && optind == argc && strcmp(argv[argc - 1], "--") == 0)
				n_args = argc - 1;
			break;
		}
		switch (opt) {
		case 'd':
			ddm = optarg;
			break;
		case 'o':
			so = optarg;
			break;
		case 'p':
			conform.params = optarg;
			break;
		case 'f':
			function = strtol(optarg, &end, 0);
			if (*optarg == '\0' || *end != '\0' || function < 0 || function > 0xFF) {
				fprintf(stderr, "iop-conform: --function: not a function code: %s\n",
					optarg);
				return 255;
			}
			break;
		case 'S':
			errno = 0;
			seed = strtoull(optarg, &end, 0);
			if (*optarg == '\0' || *optarg == '-' || *end != '\0' || errno != 0 ||
			    seed > UINT32_MAX) {
				fprintf(stderr, "iop-conform: --seed: not a 32-bit number: %s\n",
					optarg);
				return 255;
			}
			conform.seed = (uint32_t)seed;
			seed_given = true;
			break;
		case 'F':
			isolated = false;
			break;
		case 'T':
			n = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || n < 0 || n > 86400) {
				fprintf(stderr, "iop-conform: --timeout: not a number of seconds "
						"(0 to 86400): %s\n", optarg);
				return 255;
			}
			timeout_s = (unsigned)n;
			break;
		case 'C':
			child_fd = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || child_fd < 0 || child_fd > 65535) {
				fprintf(stderr, "iop-conform: --child-fd: not a descriptor: %s\n",
					optarg);
				return 255;
			}
			break;
		case 's':
			only_suite = optarg;
			break;
		case 't':
			only_test = optarg;
			break;
		case 'x':
			xml = optarg;
			break;
		case 'v':
			if (n_vdevs == CONFORM_MAX_VDEVS) {
				fprintf(stderr, "iop-conform: at most %u --vdev\n", CONFORM_MAX_VDEVS);
				return 255;
			}
			vdevs[n_vdevs++] = optarg;
			break;
		case 'l':
			list();
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 255;
		}
	}
	if ((ddm == NULL) == (so == NULL) || optind != argc) {
		usage(stderr);
		return 255;
	}
	/* The child runs the one test it was started for, in this process. */
	if (child_fd >= 0) {
		isolated = false;
		isolate_child((int)child_fd);
		cannot_run = ISOLATE_SETUP_FAILED;
	}
	/*
	 * Before the DDM is looked at: a port must exist before its DDM's init
	 * names it. Not in a parent of isolated tests: DPDK's threads do not
	 * survive fork, so each child starts an EAL of its own.
	 */
	if (n_vdevs != 0 && !isolated && conform_eal_start(vdevs, n_vdevs, err, sizeof(err)) != 0) {
		fprintf(stderr, "iop-conform: EAL: %s\n", err);
		return cannot_run;
	}
	atexit(conform_eal_stop); /* every way out below, 255 included */
	if (so != NULL) {
		rc = iop_ddm_load(so, &conform.ops, err, sizeof(err));
		if (rc != 0) {
			fprintf(stderr, "iop-conform: %s: %s\n", so, err);
			return cannot_run;
		}
	} else {
		conform.ops = iop_ddm_find(ddm);
		if (conform.ops == NULL) {
			fprintf(stderr, "iop-conform: no built-in DDM named %s\n", ddm);
			return cannot_run;
		}
	}
	if (function < 0)
		function = default_function(conform.ops);
	if (function < 0) {
		fprintf(stderr, "iop-conform: %s lists no function to send it: use --function\n",
			conform.ops->name);
		return cannot_run;
	}
	conform.function = (uint8_t)function;

	if (!seed_given)
		conform.seed = run_seed();
	if (isolated && isolate_setup(n_args, args, conform.seed, timeout_s) != 0)
		return cannot_run;
	if (CU_initialize_registry() != CUE_SUCCESS)
		return cannot_run;
	if (register_suites(only_suite, only_test, isolated, &selected) != 0 || selected == 0) {
		fprintf(stderr, "iop-conform: no test selected\n");
		CU_cleanup_registry();
		return cannot_run;
	}
	if (child_fd >= 0) {
		/* Silent: the parent prints the run; the failures go back to it. */
		CU_run_all_tests();
		rc = isolate_report();
		CU_cleanup_registry();
		if (rc != 0) {
			fprintf(stderr, "iop-conform: cannot report to the parent: %s\n",
				strerror(-rc));
			return 255;
		}
		return 0;
	}
	printf("iop-conform: %s (class 0x%03x), function 0x%02x, seed 0x%08x\n", conform.ops->name,
	       conform.ops->class_id, conform.function, conform.seed);
	if (xml != NULL) {
		CU_set_output_filename(xml);
		CU_list_tests_to_file();
		CU_automated_run_tests();
	} else {
		CU_basic_set_mode(CU_BRM_VERBOSE);
		CU_basic_run_tests();
	}
	print_failed();
	failed = CU_get_number_of_tests_failed();
	CU_cleanup_registry();
	/* 255 is kept for "could not run". */
	return failed > 254 ? 254 : (int)failed;
}
