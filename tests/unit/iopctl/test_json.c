/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * iopctl's JSON writer: commas and nesting, and strings escaped so that any
 * bytes make valid JSON (quotes, backslashes, control characters, bytes that
 * are not UTF-8) while valid UTF-8 passes as it is.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iop_test.h"
#include "json.h"

static char *buf;
static size_t len;
static FILE *out;

static struct json *start(void)
{
	static struct json j;

	out = open_memstream(&buf, &len);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	json_init(&j, out);
	return &j;
}

/* End the document and compare it with what it should be (without the newline). */
static void expect(struct json *j, const char *want)
{
	json_end(j);
	fclose(out);
	CU_ASSERT_EQUAL(len, strlen(want) + 1);
	CU_ASSERT_EQUAL(buf[len - 1], '\n');
	buf[len - 1] = '\0';
	if (strcmp(buf, want) != 0)
		fprintf(stderr, "\n got: %s\nwant: %s\n", buf, want);
	CU_ASSERT_STRING_EQUAL(buf, want);
	free(buf);
}

static void test_nesting_and_commas(void)
{
	struct json *j = start();

	json_object_begin(j, NULL);
	json_uint(j, "a", 1);
	json_array_begin(j, "b");
	json_uint(j, NULL, 1);
	json_uint(j, NULL, UINT64_MAX);
	json_object_begin(j, NULL);
	json_null(j, "c");
	json_object_end(j);
	json_array_begin(j, NULL);
	json_array_end(j);
	json_array_end(j);
	json_bool(j, "d", true);
	json_bool(j, "e", false);
	json_object_begin(j, "f");
	json_object_end(j);
	json_object_end(j);
	expect(j, "{\"a\":1,\"b\":[1,18446744073709551615,{\"c\":null},[]],\"d\":true,\"e\":false,"
		  "\"f\":{}}");
}

static void test_numbers(void)
{
	struct json *j = start();

	json_array_begin(j, NULL);
	json_double(j, NULL, 1.5);
	json_double(j, NULL, 0.0004);
	json_double(j, NULL, NAN);
	json_double(j, NULL, INFINITY);
	json_double(j, NULL, -INFINITY);
	json_array_end(j);
	expect(j, "[1.500,0.000,null,null,null]");
}

static void test_escapes(void)
{
	struct json *j = start();

	json_object_begin(j, NULL);
	json_string(j, "k\"ey", "q\"b\\n\n\t\r\x01\x1f\x7f end");
	json_string_n(j, "nul", "a\0b", 3);
	json_object_end(j);
	expect(j, "{\"k\\\"ey\":\"q\\\"b\\\\n\\n\\t\\r\\u0001\\u001f\\u007f end\","
		  "\"nul\":\"a\\u0000b\"}");
}

static void test_utf8_kept_other_bytes_escaped(void)
{
	struct json *j = start();

	json_array_begin(j, NULL);
	json_string(j, NULL, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"); /* é € U+1F600 */
	json_string(j, NULL, "\xff");                 /* never in UTF-8 */
	json_string(j, NULL, "x\xc3");                /* cut short at the end */
	json_string(j, NULL, "\xc0\x80");             /* overlong NUL */
	json_string(j, NULL, "\xed\xa0\x80");         /* a surrogate */
	json_string(j, NULL, "\xf4\x90\x80\x80");     /* past U+10FFFF */
	json_string(j, NULL, "\xe2\x82z");            /* a bad continuation byte */
	json_array_end(j);
	expect(j, "[\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\",\"\\u00ff\",\"x\\u00c3\","
		  "\"\\u00c0\\u0080\",\"\\u00ed\\u00a0\\u0080\",\"\\u00f4\\u0090\\u0080\\u0080\","
		  "\"\\u00e2\\u0082z\"]");
}

static const struct iop_test_case json_tests[] = {
	{ "nesting_and_commas", test_nesting_and_commas },
	{ "numbers", test_numbers },
	{ "escapes", test_escapes },
	{ "utf8_kept_other_bytes_escaped", test_utf8_kept_other_bytes_escaped },
	{ NULL, NULL },
};

static const struct iop_test_suite suites[] = {
	{ "iopctl_json", json_tests },
	{ NULL, NULL },
};

int main(int argc, char **argv)
{
	return iop_test_main(argc, argv, suites);
}
