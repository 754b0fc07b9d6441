/* SPDX-License-Identifier: BSD-3-Clause */
#include "iop_version.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *iop_version(void)
{
	return STR(IOP_VERSION_MAJOR) "." STR(IOP_VERSION_MINOR) "." STR(IOP_VERSION_PATCH);
}
