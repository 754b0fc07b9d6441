/* SPDX-License-Identifier: BSD-3-Clause */
/* The version the library reports is the one the build (meson) declares. */
#include <string.h>

#include "iop_test.h"
#include "iop_version.h"

static void test_version_matches_project(void)
{
	CU_ASSERT_STRING_EQUAL(iop_version(), IOP_PROJECT_VERSION);
}

static const struct iop_test_case version_tests[] = {
	{ "version_matches_project", test_version_matches_project },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "iop_version", version_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
