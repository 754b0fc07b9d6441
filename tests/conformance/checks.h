/* SPDX-License-Identifier: BSD-3-Clause */
/* iop-conform's suites: tables of named CUnit tests, registered by main.c. */
#ifndef CONFORM_CHECKS_H
#define CONFORM_CHECKS_H

#include <stdbool.h>
#include <stdint.h>

#include <CUnit/CUnit.h>

#include "fixture.h"
#include "isolate.h"

/*
 * Every assertion of the checks through isolate_assert(): in a test's own
 * process each failure goes to the parent as it is recorded, so a crash or
 * a hang after it does not lose it. (CUnit's macros name
 * CU_assertImplementation where they are used, and are expanded here.)
 */
#define CU_assertImplementation isolate_assert

struct conform_check {
	const char *name;
	CU_TestFunc fn;
};

/* The checks every DDM must pass, whatever its class (ends with { NULL, NULL }). */
extern const struct conform_check conform_generic[];

/* The checks of a block-storage target (class 0x010), beside the generic ones. */
extern const struct conform_check conform_bsa[];

/* The checks of a LAN target (class 0x020), beside the generic ones. */
extern const struct conform_check conform_lan[];

/* Quiesce and reset through the executive, then enable (every target). */
extern const struct conform_check conform_control[];

/* UtilParamsGet and UtilParamsSet of the target's groups (every target). */
extern const struct conform_check conform_params[];

/* UtilEventRegister and the events quiesce, enable and reset raise (every target). */
extern const struct conform_check conform_events[];

/*
 * ---- what every check does: its own runtime and a channel to it ----
 *
 * No CU_*_FATAL between check_up() (or fixture_up()) and check_down(): a
 * fatal assertion longjmps out of the check, skipping check_down(), and
 * leaves the fixture's loop thread running on the check's dead stack frame
 * (with --no-fork the next check's fixture likely lands at that same
 * address). A step that cannot go on says so with CU_FAIL and goes to
 * check_down() (`goto out`, or a false return to a caller that does).
 * meson test conform_no_fatal holds the suites to this.
 */

static inline bool check_up(struct fixture *fx, struct raw_chan *rc)
{
	if (fixture_up(fx) != 0) {
		CU_FAIL("the runtime with the DDM did not come up");
		return false;
	}
	if (raw_open(fx, rc, 0xC0DE0001u) != 0) {
		CU_FAIL("no host channel");
		fixture_down(fx);
		return false;
	}
	return true;
}

static inline void check_down(struct fixture *fx, struct raw_chan *rc)
{
	raw_close(rc);
	fixture_down(fx);
}

static inline uint8_t reply_flags(const struct raw_reply *r)
{
	return (uint8_t)(r->w[0] >> 8);
}

static inline uint8_t reply_function(const struct raw_reply *r)
{
	return (uint8_t)(r->w[1] >> 24);
}

static inline uint8_t reply_req_status(const struct raw_reply *r)
{
	return (uint8_t)(r->w[4] >> 24);
}

static inline uint16_t reply_dsc(const struct raw_reply *r)
{
	return (uint16_t)r->w[4];
}

/* Does the DDM under test list this function (answer it itself)? */
static inline bool ddm_lists(uint8_t fn)
{
	for (unsigned i = 0; i < conform.ops->n_functions; i++)
		if (conform.ops->functions[i] == fn)
			return true;
	return false;
}

#endif /* CONFORM_CHECKS_H */
