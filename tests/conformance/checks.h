/* SPDX-License-Identifier: BSD-3-Clause */
/* iop-conform's suites: tables of named CUnit tests, registered by main.c. */
#ifndef CONFORM_CHECKS_H
#define CONFORM_CHECKS_H

#include <CUnit/CUnit.h>

struct conform_check {
	const char *name;
	CU_TestFunc fn;
};

/* The checks every DDM must pass, whatever its class (ends with { NULL, NULL }). */
extern const struct conform_check conform_generic[];

#endif /* CONFORM_CHECKS_H */
