/* SPDX-License-Identifier: BSD-3-Clause */
/* Built without liburing: no io_uring backend, so every file is read and written with system calls. */
#include <errno.h>

#include "backend.h"

int bsa_backend_uring_attach(struct bsa_backend *b)
{
	(void)b;
	return -ENOTSUP;
}
