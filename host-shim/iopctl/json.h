/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A small JSON writer for iopctl's --json output: objects and arrays nested
 * up to JSON_MAX_DEPTH, members written in order, commas placed for the
 * caller. Strings are escaped so that any bytes (an IdentityTag from the
 * IOP, a path) make valid JSON: quotes, backslashes and control characters
 * as escapes, valid UTF-8 as is, and any other byte as the code point of
 * the same value (\u0080-\u00FF).
 *
 * Inside an object every value takes a key; inside an array (or at the top)
 * the key is NULL. Not thread-safe: one writer per thread.
 */
#ifndef IOPCTL_JSON_H
#define IOPCTL_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JSON_MAX_DEPTH 8

struct json {
	FILE *out;
	unsigned depth;
	bool has_members[JSON_MAX_DEPTH + 1]; /* a comma goes before the next value */
};

/* Start a document on out. */
void json_init(struct json *j, FILE *out);

void json_object_begin(struct json *j, const char *key);
void json_object_end(struct json *j);
void json_array_begin(struct json *j, const char *key);
void json_array_end(struct json *j);

/* A string of n bytes (NULs included), escaped. */
void json_string_n(struct json *j, const char *key, const char *s, size_t n);
void json_string(struct json *j, const char *key, const char *s);
void json_uint(struct json *j, const char *key, uint64_t v);
/* A number with up to 3 decimals; NaN and infinities, which JSON lacks, as null. */
void json_double(struct json *j, const char *key, double v);
void json_bool(struct json *j, const char *key, bool v);
void json_null(struct json *j, const char *key);

/* End the document: a newline, so each document is one line. */
void json_end(struct json *j);

#endif /* IOPCTL_JSON_H */
