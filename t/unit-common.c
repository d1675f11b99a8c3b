/* unit-common.c - unit tests of common/: buffers, percent-encoding, JSON Pointer, the JSON
 * validator and quoting. */
#include <jansson.h>
#include <string.h>

#include "common/buf.h"
#include "common/jptr.h"
#include "common/jsonscan.h"
#include "common/pct.h"
#include "t/unit.h"

static void
test_buf(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_STRING_EQUAL(buf_str(&b), "");
	CU_ASSERT_EQUAL(buf_puts(&b, "abc"), 0);
	CU_ASSERT_EQUAL(buf_printf(&b, "-%d-%s", 42, "x"), 0);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "abc-42-x");
	CU_ASSERT_EQUAL(b.len, 8);
	buf_truncate(&b, 3);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "abc");
	for (int i = 0; i < 1000; i++)
		CU_ASSERT_EQUAL_FATAL(buf_puts(&b, "0123456789"), 0);
	CU_ASSERT_EQUAL(b.len, 10003);
	CU_ASSERT_EQUAL(strlen(buf_str(&b)), 10003);
	buf_free(&b);
	CU_ASSERT_PTR_NULL(b.data);
}

static void
test_pct(void)
{
	struct buf b = BUF_INIT;

	CU_ASSERT_EQUAL(pct_encode(&b, "../admin?x=1&y=#", 16), PCT_OK);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "..%2Fadmin%3Fx%3D1%26y%3D%23");
	buf_truncate(&b, 0);
	CU_ASSERT_EQUAL(pct_encode(&b, "a b\r\n\xc3\xa9~_-.", 11), PCT_OK);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "a%20b%0D%0A%C3%A9~_-.");
	buf_truncate(&b, 0);
	CU_ASSERT_EQUAL(pct_decode(&b, "a%2Fb+c%00d", 11, true), PCT_OK);
	CU_ASSERT_EQUAL(b.len, 7);
	CU_ASSERT(memcmp(b.data, "a/b c\0d", 7) == 0);
	buf_truncate(&b, 0);
	CU_ASSERT_EQUAL(pct_decode(&b, "a+b", 3, false), PCT_OK);
	CU_ASSERT_STRING_EQUAL(buf_str(&b), "a+b");
	CU_ASSERT_EQUAL(pct_decode(&b, "%zz", 3, false), PCT_EBADESC);
	CU_ASSERT_EQUAL(pct_decode(&b, "ab%4", 4, false), PCT_EBADESC);
	CU_ASSERT_EQUAL(pct_decode(&b, "%", 1, false), PCT_EBADESC);
	buf_free(&b);
}

/* jptr_find() on doc; FOUND with the value's own text `text` and type `type`, else rc. */
static void
assert_jptr(const char *doc, const char *ptr, enum jptr_rc rc, enum jptr_type type,
    const char *text)
{
	struct jptr_value v = { JPTR_NULL, NULL, 0 };
	enum jptr_rc got = jptr_find(doc, strlen(doc), ptr, &v);

	if (got != rc || (rc == JPTR_FOUND && (v.type != type || v.len != strlen(text) ||
	    memcmp(v.text, text, v.len) != 0))) {
		fprintf(stderr, "\n    %s in %s: rc %d, \"%.*s\"", ptr, doc, (int)got,
		    got == JPTR_FOUND ? (int)v.len : 0, got == JPTR_FOUND ? v.text : "");
		CU_FAIL("jptr_find");
	}
}

/* The string at ptr in doc, decoded, is want[0..want_len). */
static void
assert_jptr_string(const char *doc, const char *ptr, const char *want, size_t want_len)
{
	struct jptr_value v;
	struct buf out = BUF_INIT;
	size_t end = 0;

	CU_ASSERT_EQUAL_FATAL(jptr_find(doc, strlen(doc), ptr, &v), JPTR_FOUND);
	CU_ASSERT_EQUAL(v.type, JPTR_STRING);
	CU_ASSERT_EQUAL(jsonscan_unquote(&out, v.text, v.len, &end), JSONSCAN_OK);
	CU_ASSERT_EQUAL(end, v.len);
	CU_ASSERT(out.len == want_len && memcmp(out.data, want, want_len) == 0);
	buf_free(&out);
}

/* The pointer reads the document's text where it lies: numbers digit for digit, strings with
 * their escapes (decoded on demand), ~0 and ~1, array indices, the first of duplicate keys. */
static void
test_jptr(void)
{
	static const char doc[] = " {\"a\": {\"b/c\": [10, {\"m~n\": \"deep\"}]}, \"\": 1,"
	    " \"n\" : null, \"t\":true, \"f\":false, \"num\": 0.1, \"price\": 19.99,"
	    " \"big\": 123456789012345678901234567890, \"e\": 1E400, \"z\": -0,"
	    " \"s\": \"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\u0000x\", \"k\\u00e9y\": 2,"
	    " \"dup\": 1, \"dup\": 2, \"arr\": [ ], \"obj\": { } } ";

	struct jptr_value v;

	CU_ASSERT_EQUAL(jptr_find(doc, strlen(doc), "", &v), JPTR_FOUND);
	CU_ASSERT(v.type == JPTR_OBJECT && v.text == doc + 1 && v.len == strlen(doc) - 2);
	assert_jptr(doc, "/a/b~1c/0", JPTR_FOUND, JPTR_NUMBER, "10");
	assert_jptr(doc, "/a/b~1c/1/m~0n", JPTR_FOUND, JPTR_STRING, "\"deep\"");
	assert_jptr(doc, "/a/b~1c", JPTR_FOUND, JPTR_ARRAY, "[10, {\"m~n\": \"deep\"}]");
	assert_jptr(doc, "/", JPTR_FOUND, JPTR_NUMBER, "1");
	assert_jptr(doc, "/n", JPTR_FOUND, JPTR_NULL, "null");
	assert_jptr(doc, "/t", JPTR_FOUND, JPTR_TRUE, "true");
	assert_jptr(doc, "/f", JPTR_FOUND, JPTR_FALSE, "false");
	assert_jptr(doc, "/num", JPTR_FOUND, JPTR_NUMBER, "0.1");
	assert_jptr(doc, "/price", JPTR_FOUND, JPTR_NUMBER, "19.99");
	assert_jptr(doc, "/big", JPTR_FOUND, JPTR_NUMBER, "123456789012345678901234567890");
	assert_jptr(doc, "/e", JPTR_FOUND, JPTR_NUMBER, "1E400");
	assert_jptr(doc, "/z", JPTR_FOUND, JPTR_NUMBER, "-0");
	assert_jptr(doc, "/k\xc3\xa9y", JPTR_FOUND, JPTR_NUMBER, "2");	/* key escape decoded */
	assert_jptr(doc, "/dup", JPTR_FOUND, JPTR_NUMBER, "1");
	assert_jptr(doc, "/arr", JPTR_FOUND, JPTR_ARRAY, "[ ]");
	assert_jptr(doc, "/obj", JPTR_FOUND, JPTR_OBJECT, "{ }");
	assert_jptr_string(doc, "/s", "caf\xc3\xa9 \xf0\x9f\x98\x80 \"q\" \0x", 17);
	assert_jptr_string(doc, "/a/b~1c/1/m~0n", "deep", 4);
	/* Missing. */
	assert_jptr(doc, "/a/b~1c/2", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/a/b~1c/01", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/a/b~1c/-", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/a/b~1c/x", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/a/b~1c/0/x", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/n/0", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/missing", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/k\\u00e9y", JPTR_MISSING, 0, NULL);	/* keys compare decoded */
	assert_jptr(doc, "/arr/0", JPTR_MISSING, 0, NULL);
	assert_jptr(doc, "/obj/x", JPTR_MISSING, 0, NULL);
	/* Malformed pointers; text that is not JSON where the walk goes. */
	assert_jptr(doc, "a", JPTR_BAD_POINTER, 0, NULL);
	assert_jptr(doc, "/a~2", JPTR_BAD_POINTER, 0, NULL);
	assert_jptr("{\"a\":1,}", "/b", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("{\"a\":}", "/a", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("[1,", "/1", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("[-]", "/0", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("{\"\\ud800\":1}", "/x", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("{\"a", "/a", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("", "", JPTR_BAD_DOCUMENT, 0, NULL);
	assert_jptr("nul", "/a", JPTR_BAD_DOCUMENT, 0, NULL);
	CU_ASSERT(jptr_valid("/x~0~1"));
	CU_ASSERT(!jptr_valid("/x~"));
}

/*
 * The validator accepts exactly what RFC 8259 does, and jansson agrees on every case but those
 * jansson cannot hold: \u0000, and numbers beyond its 64-bit integers and doubles, which the
 * program copies as written and so accepts. A surrogate escape is valid only as a high one
 * followed by a low one.
 */
static void
test_jsonscan(void)
{
	static const char *const valid[] = { "0", "-0", "1.5e-3", "-12E+2", "\"\"", "true",
		" null ", "[]", "{}", "[1,[2,[3]],{\"a\":{}}]", "{\"k\":\"v\",\"n\":[true,false]}",
		"\"\\u00e9 \\n \\\" \\/\"", "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"",
		"\t[ 1 , 2 ]\r\n", "\"\\ud83d\\ude00\"", "\"\\uD800\\uDC00 \\uDBFF\\uDFFF\"", NULL };
	static const char *const valid_beyond_jansson[] = { "\"\\u0000\"", "\"a\\u0000b\"",
		"123456789012345678901234567890", "-123456789012345678901234567890", "1e400",
		"-1E+400", "[18446744073709551616]", NULL };
	static const char *const invalid[] = { "", " ", "01", "1.", ".5", "-", "1e", "+1", "tru",
		"nul", "[1,]", "[,1]", "{\"a\"}", "{\"a\":}", "{a:1}", "{\"a\":1,}", "[1 2]", "1 2",
		"\"abc", "\"\\x\"", "\"\\u12g4\"", "\"\x01\"", "\"\xff\"", "\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"", "[", "]", "{", "[}", "{]",
		"\"\\ud800\"", "\"\\udc00\"", "\"\\udc00\\ud800\"", "\"\\ud800x\"", "\"\\ud800\\u0041\"",
		"\"\\ud800\\ud800\"", "\"\\ud800\\n\"", "\"\\uDBFF\"", "\"\\ud800\\udc0\"",
		"{\"\\udfff\":1}", NULL };
	struct buf err = BUF_INIT, q = BUF_INIT;
	char deep[600];
	size_t end = 0;

	for (size_t i = 0; valid[i] != NULL; i++) {
		json_t *j = json_loads(valid[i], JSON_DECODE_ANY, NULL);

		CU_ASSERT(jsonscan_valid(valid[i], strlen(valid[i]), 256, &err));
		CU_ASSERT_PTR_NOT_NULL(j);
		json_decref(j);
	}
	for (size_t i = 0; valid_beyond_jansson[i] != NULL; i++)
		if (!jsonscan_valid(valid_beyond_jansson[i], strlen(valid_beyond_jansson[i]), 256,
		    &err)) {
			fprintf(stderr, "\n    refused valid %s", valid_beyond_jansson[i]);
			CU_FAIL("valid JSON refused");
		}
	for (size_t i = 0; invalid[i] != NULL; i++) {
		json_t *j = json_loads(invalid[i], JSON_DECODE_ANY, NULL);

		buf_truncate(&err, 0);
		if (jsonscan_valid(invalid[i], strlen(invalid[i]), 256, &err)) {
			fprintf(stderr, "\n    accepted invalid case %zu: %s", i, invalid[i]);
			CU_FAIL("invalid JSON accepted");
		}
		CU_ASSERT(err.len > 0);
		CU_ASSERT_PTR_NULL(j);
		json_decref(j);
	}
	buf_truncate(&err, 0);
	CU_ASSERT_FALSE(jsonscan_valid("\"\\\0\"", 4, 256, &err));	/* a backslash, then NUL */
	buf_truncate(&err, 0);
	CU_ASSERT_FALSE(jsonscan_valid("[\"\\ud800\"]", 10, 256, &err));
	CU_ASSERT_STRING_EQUAL(buf_str(&err), "offset 2: high surrogate escape without a low one "
	    "after it");
	buf_truncate(&err, 0);
	CU_ASSERT_FALSE(jsonscan_valid("\"\\udc00\"", 8, 256, &err));
	CU_ASSERT_STRING_EQUAL(buf_str(&err), "offset 1: low surrogate escape without a high one "
	    "before it");
	/* One value and where it ends; the text after it is not the scanner's business. */
	CU_ASSERT(jsonscan_value(" [1, \"]\"] tail", 14, 256, &end, NULL));
	CU_ASSERT_EQUAL(end, 9);
	CU_ASSERT(jsonscan_value("-0.5e3,", 7, 256, &end, NULL));
	CU_ASSERT_EQUAL(end, 6);
	CU_ASSERT_FALSE(jsonscan_value("[1,", 3, 256, &end, NULL));
	/* Strings decoded: escapes, pairs, \u0000 as a NUL byte; a broken one leaves out alone. */
	CU_ASSERT_EQUAL(jsonscan_unquote(&q, "\"a\\tb\\u00e9\\ud83d\\ude00\\u0000\\/\": 1", 37,
	    &end), JSONSCAN_OK);
	CU_ASSERT_EQUAL(end, 32);
	CU_ASSERT(q.len == 11 && memcmp(q.data, "a\tb\xc3\xa9\xf0\x9f\x98\x80\0/", 11) == 0);
	CU_ASSERT_EQUAL(jsonscan_unquote(&q, "\"x\\ud800\"", 10, &end), JSONSCAN_INVALID);
	CU_ASSERT_EQUAL(jsonscan_unquote(&q, "\"open", 5, &end), JSONSCAN_INVALID);
	CU_ASSERT_EQUAL(jsonscan_unquote(&q, "1", 1, &end), JSONSCAN_INVALID);
	CU_ASSERT_EQUAL(q.len, 11);
	buf_truncate(&q, 0);
	/* The nesting limit stays. */
	memset(deep, '[', 300);
	memset(deep + 300, ']', 300);
	CU_ASSERT(jsonscan_valid(deep + 50, 500, 250, &err));
	buf_truncate(&err, 0);
	CU_ASSERT_FALSE(jsonscan_valid(deep, 600, 256, &err));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), "offset 256: nested too deep"));
	CU_ASSERT_EQUAL(jsonscan_quote(&q, "a\"b\\c\n\x01\xc3\xa9", 9), JSONSCAN_OK);
	CU_ASSERT_STRING_EQUAL(buf_str(&q), "\"a\\\"b\\\\c\\n\\u0001\xc3\xa9\"");
	buf_truncate(&q, 0);
	CU_ASSERT_EQUAL(jsonscan_quote(&q, "bad \xff", 5), JSONSCAN_INVALID);
	CU_ASSERT_EQUAL(q.len, 0);
	buf_free(&q);
	buf_free(&err);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "buffer", test_buf },
		{ "percent-encoding", test_pct },
		{ "JSON Pointer", test_jptr },
		{ "JSON validator and quoting", test_jsonscan },
		{ NULL, NULL },
	};

	return unit_run("common", NULL, NULL, tests);
}
