/* SPDX-License-Identifier: BSD-3-Clause */
/** @file iopool version, for programs and DDMs to check what they run against. */
#ifndef IOP_VERSION_H
#define IOP_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

#define IOP_VERSION_MAJOR 0
#define IOP_VERSION_MINOR 1
#define IOP_VERSION_PATCH 0

/** The library's version as "major.minor.patch". Any thread. */
const char *iop_version(void);

#ifdef __cplusplus
}
#endif

#endif /* IOP_VERSION_H */
