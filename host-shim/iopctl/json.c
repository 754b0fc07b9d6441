/* SPDX-License-Identifier: BSD-3-Clause */
/* iopctl's JSON writer (json.h). */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, FILE *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/*
 * The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong
 * forms, no surrogates, nothing past U+10FFFF), or 0 if there is none.
 */
static size_t utf8_len(const unsigned char *p, size_t left)
{
	unsigned char lo = 0x80, hi = 0xBF;
	size_t n;

	if (p[0] >= 0xC2 && p[0] <= 0xDF)
		n = 2;
	else if (p[0] >= 0xE0 && p[0] <= 0xEF)
		n = 3;
	else if (p[0] >= 0xF0 && p[0] <= 0xF4)
		n = 4;
	else
		return 0;
	if (p[0] == 0xE0)
		lo = 0xA0;
	else if (p[0] == 0xED)
		hi = 0x9F;
	else if (p[0] == 0xF0)
		lo = 0x90;
	else if (p[0] == 0xF4)
		hi = 0x8F;
	if (left < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static void put_escaped(FILE *out, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	for (size_t i = 0; i < n;) {
		unsigned char b = p[i];
		size_t len;

		if (b == '"' || b == '\\') {
			fputc('\\', out);
			fputc(b, out);
		} else if (b == '\n') {
			fputs("\\n", out);
		} else if (b == '\t') {
			fputs("\\t", out);
		} else if (b == '\r') {
			fputs("\\r", out);
		} else if (b < 0x20 || b == 0x7F) {
			fprintf(out, "\\u%04x", b);
		} else if (b >= 0x80) {
			len = utf8_len(p + i, n - i);
			if (len == 0) {
				fprintf(out, "\\u%04x", b);
			} else {
				fwrite(p + i, 1, len, out);
				i += len;
				continue;
			}
		} else {
			fputc(b, out);
		}
		i++;
	}
	fputc('"', out);
}

/* The comma before a value and its key, if it has one. */
static void member(struct json *j, const char *key)
{
	if (j->has_members[j->depth])
		fputc(',', j->out);
	j->has_members[j->depth] = true;
	if (key != NULL) {
		put_escaped(j->out, key, strlen(key));
		fputc(':', j->out);
	}
}

static void nest_begin(struct json *j, const char *key, char bracket)
{
	member(j, key);
	fputc(bracket, j->out);
	if (j->depth == JSON_MAX_DEPTH)
		abort(); /* iopctl's documents are shallow: deeper is a bug here */
	j->has_members[++j->depth] = false;
}

static void nest_end(struct json *j, char bracket)
{
	fputc(bracket, j->out);
	j->depth--;
}

void json_object_begin(struct json *j, const char *key)
{
	nest_begin(j, key, '{');
}

void json_object_end(struct json *j)
{
	nest_end(j, '}');
}

void json_array_begin(struct json *j, const char *key)
{
	nest_begin(j, key, '[');
}

void json_array_end(struct json *j)
{
	nest_end(j, ']');
}

void json_string_n(struct json *j, const char *key, const char *s, size_t n)
{
	member(j, key);
	put_escaped(j->out, s, n);
}

void json_string(struct json *j, const char *key, const char *s)
{
	json_string_n(j, key, s, strlen(s));
}

void json_uint(struct json *j, const char *key, uint64_t v)
{
	member(j, key);
	fprintf(j->out, "%" PRIu64, v);
}

void json_double(struct json *j, const char *key, double v)
{
	if (!isfinite(v)) {
		json_null(j, key);
		return;
	}
	member(j, key);
	fprintf(j->out, "%.3f", v);
}

void json_bool(struct json *j, const char *key, bool v)
{
	member(j, key);
	fputs(v ? "true" : "false", j->out);
}

void json_null(struct json *j, const char *key)
{
	member(j, key);
	fputs("null", j->out);
}

void json_end(struct json *j)
{
	fputc('\n', j->out);
	fflush(j->out);
}
