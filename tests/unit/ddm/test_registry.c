/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The DDM registry and loader: what registration refuses and why, built-ins
 * found by name, and third-party DDMs loaded from shared objects: one that
 * works (and answers requests in a runtime), one built for another ABI, one
 * that is not a DDM, and a path that does not exist.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "iop_ddm.h"
#include "iop_lct.h"
#include "runtime_harness.h"

static int handle(struct iop_ddm *d, struct iop_request *r)
{
	(void)d;
	(void)r;
	return IOP_DDM_DONE;
}

static void test_register_refusals(void)
{
	/* The registry keeps the pointer: a table lives as long as the process. */
	static const struct iop_ddm_ops ok = { .abi_version = IOP_DDM_ABI_VERSION,
					       .name = "fresh",
					       .handle = handle };
	struct iop_ddm_ops bad = ok;

	CU_ASSERT_EQUAL(iop_ddm_register(NULL), -EINVAL);
	bad.handle = NULL;
	CU_ASSERT_EQUAL(iop_ddm_register(&bad), -EINVAL);
	bad = ok;
	bad.name = "a-name-that-is-longer-than-thirty-one-bytes";
	CU_ASSERT_EQUAL(iop_ddm_register(&bad), -EINVAL);
	bad.name = "";
	CU_ASSERT_EQUAL(iop_ddm_register(&bad), -EINVAL);
	bad = ok;
	bad.abi_version = IOP_DDM_ABI_VERSION + 1;
	CU_ASSERT_EQUAL(iop_ddm_register(&bad), -EPROTO);
	bad = ok;
	bad.name = "nop";
	CU_ASSERT_EQUAL(iop_ddm_register(&bad), -EEXIST);
	CU_ASSERT_PTR_NULL(iop_ddm_find("fresh"));
	CU_ASSERT_EQUAL(iop_ddm_register(&ok), 0);
	CU_ASSERT_PTR_EQUAL(iop_ddm_find("fresh"), &ok);
}

static void test_builtins_register_themselves(void)
{
	const struct iop_ddm_ops *nop = iop_ddm_find("nop");

	CU_ASSERT_PTR_NOT_NULL_FATAL(nop);
	CU_ASSERT_EQUAL(nop->class_id, IOP_CLASS_DDM);
	CU_ASSERT_PTR_NULL(iop_ddm_find("no-such-ddm"));
	CU_ASSERT_PTR_NULL(iop_ddm_find(NULL));
}

static const char *so(const char *var)
{
	const char *p = getenv(var);

	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	return p;
}

static void test_load_a_third_party_ddm(void)
{
	const struct iop_window_opts wo = { .inbound_bytes = 1 << 20, .outbound_bytes = 1 << 18 };
	const struct iop_runtime_ddm ddms[] = { { "third-party", NULL, 0 } };
	const struct iop_ddm_ops *ops = NULL;
	struct harness t;
	struct seen_reply s;
	char err[256] = "";

	CU_ASSERT_EQUAL_FATAL(iop_ddm_load(so("IOP_TEST_GOOD_DDM"), &ops, err, sizeof(err)), 0);
	CU_ASSERT_STRING_EQUAL(ops->name, "third-party");
	CU_ASSERT_PTR_EQUAL(iop_ddm_find("third-party"), ops);
	/* It runs like a built-in. */
	harness_up(&t, &wo, ddms, 1, 1);
	CU_ASSERT_FATAL(harness_call(&t, IOP_RUNTIME_FIRST_DDM_TID, IOP_UTIL_CLAIM, 4, 3, &s));
	CU_ASSERT_EQUAL(s.status, IOP_REPLY_STATUS_SUCCESS);
	harness_down(&t);
	/* Twice: the name is taken. */
	CU_ASSERT_EQUAL(iop_ddm_load(so("IOP_TEST_GOOD_DDM"), &ops, err, sizeof(err)), -EEXIST);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "already registered"));
}

static void test_load_refusals(void)
{
	const struct iop_ddm_ops *ops = NULL;
	char err[256] = "";
	char expect[64];

	CU_ASSERT_EQUAL(iop_ddm_load(so("IOP_TEST_OTHER_ABI_DDM"), &ops, err, sizeof(err)),
			-EPROTO);
	snprintf(expect, sizeof(expect), "built for DDM ABI %u, this runtime has ABI %u",
		 IOP_DDM_ABI_VERSION + 98, IOP_DDM_ABI_VERSION);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, expect));
	CU_ASSERT_PTR_NULL(iop_ddm_find("other-abi"));

	CU_ASSERT_EQUAL(iop_ddm_load(so("IOP_TEST_NOT_A_DDM"), &ops, err, sizeof(err)), -ENOEXEC);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not an iopool DDM"));

	CU_ASSERT_EQUAL(iop_ddm_load("/nonexistent/ddm.so", &ops, err, sizeof(err)), -ENOENT);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "/nonexistent/ddm.so"));
	CU_ASSERT_PTR_NULL(ops);
}

static const struct iop_test_case registry_tests[] = {
	{ "register_refusals", test_register_refusals },
	{ "builtins_register_themselves", test_builtins_register_themselves },
	{ "load_a_third_party_ddm", test_load_a_third_party_ddm },
	{ "load_refusals", test_load_refusals },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "ddm_registry", registry_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
