/* integ-core-values.c - integration tests (t/integ-nginx, t/integ-apache): values and templates:
 * values passed on as written, percent-encoded parameters, the query and header allowlists,
 * long queries and repeated headers. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "common/pct.h"
#include "t/integ.h"
#include "t/integ-core.h"
#include "t/unit.h"

/* A body backend x answers, and what its dependant y receives as {x./v}. */
struct given_case {
	const char *json;	/* x's body */
	long status;		/* the answer, with or without y */
	const char *y_query;	/* y's query as the mock echoes it; NULL: y is skipped */
	const char *y_why;	/* then, its message */
};

/* y's message when x failed. */
static const char y_unrun[] = "\"not called: needs x, which failed\"";

/* GET /api/PATH?json=JSON (percent-encoded). */
static void
get_given(const char *path, const char *json, struct reply *r)
{
	struct buf uri = BUF_INIT;

	CU_ASSERT_FATAL(buf_printf(&uri, "/api/%s?json=", path) == 0 &&
	    pct_encode(&uri, json, strlen(json)) == PCT_OK);
	get(buf_str(&uri), NULL, r);
	buf_free(&uri);
}

/*
 * One definition of JSON, and values as the backend wrote them: each body gets the same outcome
 * whether or not another backend reads it (/api/given: nobody does; /api/given-used: y does),
 * is spliced byte for byte when valid, and y receives a number's own text, a string decoded.
 * The response is checked as text: jansson cannot hold 30-digit integers, 1E400 or \u0000.
 */
void
test_values_as_written(void)
{
	static const struct given_case cases[] = {
		{ "{\"v\":0.1}", 200, "{\"v\":\"0.1\"}", NULL },
		{ "{\"v\":19.99}", 200, "{\"v\":\"19.99\"}", NULL },
		{ "{\"v\":123456789012345678901234567890}", 200,
		  "{\"v\":\"123456789012345678901234567890\"}", NULL },
		{ "{\"v\":-0}", 200, "{\"v\":\"-0\"}", NULL },
		{ "{\"v\":2.50e-3}", 200, "{\"v\":\"2.50e-3\"}", NULL },
		{ "{\"v\":1E400}", 200, "{\"v\":\"1E400\"}", NULL },
		{ "{\"v\":\"caf\\u00e9 \\ud83d\\ude00\"}", 200,
		  "{\"v\":\"caf%C3%A9%20%F0%9F%98%80\"}", NULL },
		{ "{\"v\":\"a\\u0000b\"}", 200, NULL,		/* valid; a NUL in a URL is not */
		  "\"x./v: CR, LF and NUL are not allowed in a value\"" },
		{ "{\"v\":\"\\ud800\"}", 502, NULL, y_unrun },		/* lone high surrogate */
		{ "{\"v\":\"\\udc00\\ud800\"}", 502, NULL, y_unrun },	/* reversed pair */
		{ "{\"v\":1,\"w\":\"\\udfff\"}", 502, NULL, y_unrun },	/* lone low, not read */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct given_case *c = &cases[i];
		char spliced[128], x_failed[] = "\"backend\":\"x\",\"kind\":\"invalid_json\"";
		char y_skipped[] = "\"backend\":\"y\",\"kind\":\"skipped\"";
		struct reply alone, used;

		snprintf(spliced, sizeof(spliced), "\"x\":%s", c->json);
		get_given("given", c->json, &alone);
		get_given("given-used", c->json, &used);
		CU_ASSERT_EQUAL(alone.status, c->status);
		CU_ASSERT_EQUAL(used.status, c->status);
		CU_ASSERT_EQUAL(strstr(buf_str(&alone.body), spliced) != NULL, c->status == 200);
		CU_ASSERT_EQUAL(strstr(buf_str(&used.body), spliced) != NULL, c->status == 200);
		CU_ASSERT_EQUAL(strstr(buf_str(&alone.body), x_failed) != NULL, c->status == 502);
		CU_ASSERT_EQUAL(strstr(buf_str(&used.body), x_failed) != NULL, c->status == 502);
		if (c->y_query != NULL) {
			char echoed[128];

			snprintf(echoed, sizeof(echoed), "\"query\":%s", c->y_query);
			CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&used.body), echoed));
		} else {
			CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&used.body), y_skipped));
			CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&used.body), c->y_why));
		}
		if (alone.status != c->status || used.status != c->status ||
		    strstr(buf_str(&used.body), c->y_query != NULL ? c->y_query : c->y_why) == NULL)
			printf("\n    %s: alone %ld %s\n      used %ld %s ", c->json, alone.status,
			    buf_str(&alone.body), used.status, buf_str(&used.body));
		reply_free(&alone);
		reply_free(&used);
	}
}

/* Only allowlisted query parameters and headers reach the backend. */
void
test_allowlists(void)
{
	const char *headers[] = { "Accept-Language: fr-CH", "Cookie: session=secret", NULL };
	struct reply r;

	get("/api/allow?evil=1&lang=fr+CH&other=2", headers, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.query.lang"), "fr%20CH");
	CU_ASSERT_PTR_NULL(at(&r, "data.a.query.evil"));
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.Accept-Language"), "fr-CH");
	CU_ASSERT(json_is_null(at(&r, "data.a.Cookie")));
	reply_free(&r);
}

/* A query value of 8 100 bytes (within the 8 KiB URI limit) comes back whole in the mock's echo,
 * which is then longer than its first 8 KiB buffer: the mock used to write past that buffer. */
void
test_long_query(void)
{
	static char path[8200];
	struct reply r;
	json_t *lang;

	memcpy(path, "/api/allow?lang=", 16);
	memset(path + 16, 'q', 8100);
	path[16 + 8100] = '\0';
	get(path, NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	lang = at(&r, "data.a.query.lang");
	CU_ASSERT(json_is_string(lang) && json_string_length(lang) == 8100);
	reply_free(&r);
	get("/api/compose/after", NULL, &r);	/* and it still answers */
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* A header given on several lines reaches the backend as one, combined as HTTP does: nginx
 * passes each line as a FastCGI parameter of its own (an empty one is skipped); Apache httpd
 * joins them itself, with ", " even for Cookie and empty lines included. Combined, a value stays
 * within VARS_MAX_HEADER (16384 bytes), or the answer is 431; Apache's own bound is lower. */
void
test_repeated_headers(void)
{
	const char *headers[] = { "Accept-Language: da", "Cookie: a=1", "Accept-Language;",
		"Accept-Language: en-gb;q=0.8", "Cookie: b=2", NULL };
	static char line[3][8100];
	const char *three[] = { line[0], line[1], line[2], NULL };
	struct reply r;

	get("/api/repeat", headers, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.Accept-Language"),
	    behind_apache ? "da, , en-gb;q=0.8" : "da, en-gb;q=0.8");
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.Cookie"),
	    behind_apache ? "a=1, b=2" : "a=1; b=2");
	reply_free(&r);
	if (behind_apache)	/* it refuses (400) a joined line over its LimitRequestFieldSize */
		return;
	for (size_t i = 0; i < 3; i++) {
		memcpy(line[i], "Accept-Language: ", 17);
		memset(line[i] + 17, 'a' + (char)i, 8000);
		line[i][8017] = '\0';
	}
	three[2] = NULL;	/* two lines: 16002 bytes combined */
	get("/api/repeat", three, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(strlen(str_at(&r, "data.a.Accept-Language")), 16002);
	reply_free(&r);
	three[2] = line[2];	/* three: 24004 */
	get("/api/repeat", three, &r);
	CU_ASSERT_EQUAL(r.status, 431);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&r.body),
	    "header Accept-Language: longer than 16384 bytes"));
	reply_free(&r);
}

/* A parameter can change neither the backend's path structure nor its query. */
void
test_percent_encoding(void)
{
	struct reply r;

	get("/api/compose/..%2Fadmin%3Fx%3D1", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.path"), "/echo/..%2Fadmin%3Fx%3D1");
	CU_ASSERT_PTR_NULL(at(&r, "data.a.query.x"));
	reply_free(&r);
}
