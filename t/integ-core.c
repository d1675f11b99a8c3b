/* integ-core.c - integration tests: curl -> nginx or Apache httpd -> fanout-cgi -> mock backends.
 * Built twice: t/integ-nginx runs every test behind nginx, t/integ-apache (INTEG_APACHE) the
 * request tests that do not depend on the front's own handling of paths and connections. */
#include <curl/curl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/pct.h"
#include "t/integ.h"
#include "t/unit.h"

#define PATH_LEN INTEG_PATH_LEN

static struct integ_stack env;

#ifdef INTEG_APACHE
static const bool behind_apache = true;
#else
static const bool behind_apache = false;
#endif

/* The config: @M@ is the mock's port, @X@ a port where nothing listens. */
static const char config_text[] =
    "{\"limits\": {\"max_inflight\": 12, \"pool_threads\": 8},\n"
    " \"endpoints\": [\n"
    "  {\"path\": \"/api/compose/{user}\", \"timeout_ms\": 2000, \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/echo/{user}?delay=30\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=10\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=20\"}]},\n"
    "  {\"path\": \"/api/allow\", \"query\": [\"lang\"], \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/allow?lang={query.lang}\",\n"
    "     \"headers\": [\"Accept-Language\"]}]},\n"
    "  {\"path\": \"/api/repeat\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/repeat\",\n"
    "     \"headers\": [\"Accept-Language\", \"Cookie\"]}]},\n"
    "  {\"path\": \"/api/threads\", \"executor\": \"threads\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/pool\", \"executor\": \"pool\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/serial\", \"executor\": \"serial\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/multi\", \"executor\": \"multi\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?delay=100\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?delay=100\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/c?delay=100\"}]},\n"
    "  {\"path\": \"/api/multi-chain\", \"executor\": \"multi\", \"backends\": [\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?seg={a./value}\"},\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?value=gold&delay=20\"},\n"
    "    {\"name\": \"bad\", \"url\": \"http://127.0.0.1:@M@/x?body=invalid\",\n"
    "     \"required\": false}]},\n"
    "  {\"path\": \"/api/multi-late\", \"executor\": \"multi\", \"timeout_ms\": 200,\n"
    "   \"backends\": [\n"
    "    {\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/s?delay=2000\"},\n"
    "    {\"name\": \"fast\", \"url\": \"http://127.0.0.1:@M@/f\"}]},\n"
  "  {\"path\": \"/api/chain\", \"expose_timing\": true, \"backends\": [\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b?seg={a./value}\"},\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?value=gold&delay=20\"}]},\n"
    "  {\"path\": \"/api/given\", \"query\": [\"json\"], \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/x?body=given&json={query.json}\"}]},\n"
    "  {\"path\": \"/api/given-used\", \"query\": [\"json\"], \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/x?body=given&json={query.json}\"},\n"
    "    {\"name\": \"y\", \"url\": \"http://127.0.0.1:@M@/y?v={x./v}\", \"required\": false}]},\n"
    "  {\"path\": \"/api/partial\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a\"},\n"
    "    {\"name\": \"opt\", \"url\": \"http://127.0.0.1:@M@/o?status=500\", \"required\": false}]},\n"
    "  {\"path\": \"/api/broken\", \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/a?status=503\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/b\"},\n"
    "    {\"name\": \"after_a\", \"url\": \"http://127.0.0.1:@M@/x?v={a./value}\"}]},\n"
    "  {\"path\": \"/api/late\", \"timeout_ms\": 200, \"backends\": [\n"
    "    {\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/s?delay=2000\"},\n"
    "    {\"name\": \"fast\", \"url\": \"http://127.0.0.1:@M@/f\"}]},\n"
    "  {\"path\": \"/api/wide\", \"timeout_ms\": 3000, \"backends\": [\n"
    "    {\"name\": \"w1\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w2\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w3\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w4\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w5\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w6\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w7\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"w8\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"}]},\n"
    "  {\"path\": \"/api/faults\", \"backends\": [\n"
    "    {\"name\": \"inv\", \"url\": \"http://127.0.0.1:@M@/i?body=invalid\", \"required\": false},\n"
    "    {\"name\": \"big\", \"url\": \"http://127.0.0.1:@M@/g?body=big&size=5000\",\n"
    "     \"max_body_bytes\": 1000, \"required\": false},\n"
    "    {\"name\": \"chunked\", \"url\": \"http://127.0.0.1:@M@/g?body=big&size=5000&chunked=1\",\n"
    "     \"max_body_bytes\": 1000, \"required\": false},\n"
    "    {\"name\": \"refused\", \"url\": \"http://127.0.0.1:@X@/\", \"required\": false},\n"
    "    {\"name\": \"text\", \"url\": \"http://127.0.0.1:@M@/t?body=text\", \"encoding\": \"text\"},\n"
    "    {\"name\": \"nonutf8\", \"url\": \"http://127.0.0.1:@M@/n?body=nonutf8\",\n"
    "     \"encoding\": \"text\", \"required\": false},\n"
    "    {\"name\": \"redirect\", \"url\": \"http://127.0.0.1:@M@/r?status=302&location=/a\",\n"
    "     \"required\": false},\n"
    "    {\"name\": \"reset\", \"url\": \"http://127.0.0.1:@M@/x?reset=1\", \"required\": false},\n"
    "    {\"name\": \"deep\", \"url\": \"http://127.0.0.1:@M@/d?body=deep&size=2000\",\n"
    "     \"required\": false},\n"
    "    {\"name\": \"deep_ok\", \"url\": \"http://127.0.0.1:@M@/d?body=deep&size=200\"},\n"
    "    {\"name\": \"nocontent\", \"url\": \"http://127.0.0.1:@M@/z?status=204&body=empty\"}]}\n"
    " ]}\n";

static const char *
path_to(char out[PATH_LEN], const char *name)
{
	return integ_path(&env, out, name);
}

static int
suite_init(void)
{
	static const char *const args[] = { "--threads", "16", NULL };

	return integ_stack_start(&env, config_text, behind_apache ? integ_apache_conf :
	    integ_nginx_conf, args) ? 0 : -1;
}

static int
suite_cleanup(void)
{
	return integ_stack_stop(&env) ? 0 : -1;
}

/* GET env.url + path; fails the test if no HTTP exchange took place. A 5xx the program did not
 * write (no X-Request-Id: the front's own) is shown, to tell the front's trouble from ours. */
static void
get(const char *path, const char *const *headers, struct reply *r)
{
	char url[8448], id[8];	/* room for a path up to the 8 KiB URI limit */

	snprintf(url, sizeof(url), "%s%s", env.url, path);
	CU_ASSERT_FATAL(integ_request(NULL, url, headers, r));
	if (r->status >= 500 && !integ_header(r, "X-Request-Id", id, sizeof(id)))
		printf("\n    %s: %ld from the front: %.200s ", path, r->status, buf_str(&r->body));
}

static json_t *
at(const struct reply *r, const char *pointer_path)
{
	json_t *v = r->json;
	char key[64];

	/* A dotted path of object keys: "data.a.query.lang". */
	for (const char *p = pointer_path; v != NULL && *p != '\0';) {
		size_t len = strcspn(p, ".");

		snprintf(key, sizeof(key), "%.*s", (int)len, p);
		v = json_object_get(v, key);
		p += len + (p[len] == '.');
	}
	return v;
}

static const char *
str_at(const struct reply *r, const char *path)
{
	const char *s = json_string_value(at(r, path));

	return s != NULL ? s : "(none)";
}

/* The error entry of backend `name`, or NULL. */
static json_t *
error_of(const struct reply *r, const char *name)
{
	json_t *e;
	size_t i;

	json_array_foreach(at(r, "errors"), i, e)
		if (strcmp(json_string_value(json_object_get(e, "backend")), name) == 0)
			return e;
	return NULL;
}

static const char *
kind_of(const struct reply *r, const char *name)
{
	const char *k = json_string_value(json_object_get(error_of(r, name), "kind"));

	return k != NULL ? k : "(none)";
}

/* Backends come back in config order whatever order they finish in, errors absent when none. */
static void
test_composition(void)
{
	struct reply r;
	char h[512];
	const char *key;
	json_t *v;
	const char *expect[] = { "a", "b", "c" };
	size_t i = 0;

	get("/api/compose/alice", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_PTR_NOT_NULL_FATAL(r.json);
	CU_ASSERT(integ_header(&r, "Content-Type", h, sizeof(h)) &&
	    strcmp(h, "application/json") == 0);
	json_object_foreach(at(&r, "data"), key, v)
		CU_ASSERT(i < 3 && strcmp(key, expect[i++]) == 0);
	CU_ASSERT_EQUAL(i, 3);
	CU_ASSERT_PTR_NULL(at(&r, "errors"));
	CU_ASSERT_PTR_NULL(at(&r, "timing"));	/* only with expose_timing */
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.path"), "/echo/alice");
	CU_ASSERT(integ_header(&r, "Server-Timing", h, sizeof(h)));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "a;dur="));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "c;dur="));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "desc=\"200\""));
	CU_ASSERT_PTR_NOT_NULL(strstr(h, "total;dur="));
	CU_ASSERT_FALSE(integ_header(&r, "X-Fanout-Complete", h, sizeof(h)));
	reply_free(&r);
}

/* Three backends of 100 ms: threads and pool overlap them, serial adds them up. */
static void
test_overlap(void)
{
	struct reply r;

	get("/api/threads", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.ms < 200);
	printf("\n    threads %.0f ms", r.ms);
	reply_free(&r);
	get("/api/pool", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.ms < 200);
	printf(", pool %.0f ms", r.ms);
	reply_free(&r);
	get("/api/serial", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.ms >= 300);
	printf(", serial %.0f ms", r.ms);
	reply_free(&r);
	get("/api/multi", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(r.ms < 200);
	printf(", multi %.0f ms ", r.ms);
	reply_free(&r);
}

/* The event-driven executor: dependencies, failures and deadlines as in the others. */
static void
test_multi(void)
{
	struct reply r;

	get("/api/multi-chain", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.b.query.seg"), "gold");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "bad"), "invalid_json");
	reply_free(&r);
	get("/api/multi-late", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 504);
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "slow"), "timeout");
	CU_ASSERT(json_is_object(at(&r, "data.fast")));
	CU_ASSERT(r.ms >= 150 && r.ms < 400);
	reply_free(&r);
	/* The cancelled transfer left the thread's multi handle in a state to serve again. */
	get("/api/multi-chain", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* b's URL takes a value from a's response: b waits for a and gets the value. */
static void
test_chain(void)
{
	struct reply r;

	json_t *b, *a;

	get("/api/chain", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.b.query.seg"), "gold");
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.value"), "gold");
	/* expose_timing: b (listed first) started once a (20 ms) had answered. */
	b = json_array_get(at(&r, "timing.backends"), 0);
	a = json_array_get(at(&r, "timing.backends"), 1);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(b, "name")), "b");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(a, "outcome")), "ok");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(a, "status")), 200);
	CU_ASSERT(json_real_value(json_object_get(a, "ms")) >= 20);
	CU_ASSERT(json_number_value(json_object_get(b, "start_ms")) >=
	    json_number_value(json_object_get(a, "ms")));
	CU_ASSERT(json_number_value(at(&r, "timing.total_ms")) >=
	    json_number_value(json_object_get(b, "start_ms")));
	reply_free(&r);
}

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
static void
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

static void
test_optional_failure(void)
{
	struct reply r;
	char h[64];

	get("/api/partial", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(json_is_null(at(&r, "data.opt")));
	CU_ASSERT(json_is_object(at(&r, "data.a")));
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "opt"), "status");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(error_of(&r, "opt"), "status")), 500);
	CU_ASSERT(integ_header(&r, "X-Fanout-Complete", h, sizeof(h)) && strcmp(h, "false") == 0);
	reply_free(&r);
}

/* A required backend fails: 502, and what needed its value is skipped. */
static void
test_required_failure(void)
{
	struct reply r;

	get("/api/broken", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 502);
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "a"), "status");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "after_a"), "skipped");
	CU_ASSERT(json_is_object(at(&r, "data.b")));
	reply_free(&r);
}

/* A required backend slower than the request's deadline: 504, on time. */
static void
test_timeout(void)
{
	struct reply r;

	get("/api/late", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 504);
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "slow"), "timeout");
	CU_ASSERT(json_is_object(at(&r, "data.fast")));
	CU_ASSERT(r.ms >= 150 && r.ms < 400);	/* waited for the deadline, not past it */
	printf("\n    504 after %.0f ms (deadline 200 ms) ", r.ms);
	reply_free(&r);
}

static void
test_client_errors(void)
{
	char url[256];
	struct reply r;
	char h[64];

	get("/api/nothing/here", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 404);
	CU_ASSERT_EQUAL(json_integer_value(at(&r, "error.status")), 404);
	reply_free(&r);
	snprintf(url, sizeof(url), "%s/api/compose/x", env.url);
	CU_ASSERT_FATAL(integ_request("POST", url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 405);
	CU_ASSERT(integ_header(&r, "Allow", h, sizeof(h)) && strcmp(h, "GET, HEAD") == 0);
	CU_ASSERT_PTR_NOT_NULL(at(&r, "error.message"));
	reply_free(&r);
	/* nginx itself refuses %00 and bad escapes in a path; in a query it passes them on. */
	static const char *const bad[] = { "/api/compose/a%0D%0Ab", "/api/compose/%2E%2E",
		"/api/allow?lang=x%0Ay", "/api/allow?lang=a%00b", "/api/allow?lang=%zz",
		"/api/allow", "/api/allow?lang=a&lang=b", NULL };
	for (size_t i = 0; bad[i] != NULL; i++) {
		get(bad[i], NULL, &r);
		CU_ASSERT_EQUAL(r.status, 400);
		CU_ASSERT_EQUAL(json_integer_value(at(&r, "error.status")), 400);
		reply_free(&r);
	}
	CU_ASSERT_FATAL(integ_request("HEAD", url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_EQUAL(r.body.len, 0);
	reply_free(&r);
}

/* Only allowlisted query parameters and headers reach the backend. */
static void
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
static void
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
static void
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
static void
test_percent_encoding(void)
{
	struct reply r;

	get("/api/compose/..%2Fadmin%3Fx%3D1", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.path"), "/echo/..%2Fadmin%3Fx%3D1");
	CU_ASSERT_PTR_NULL(at(&r, "data.a.query.x"));
	reply_free(&r);
}

/* The request id is forwarded to every backend and returned; one is made when absent. */
static void
test_request_id(void)
{
	const char *headers[] = { "X-Request-Id: test-42", NULL };
	struct reply r;
	char h[128];

	get("/api/compose/id", headers, &r);
	CU_ASSERT(integ_header(&r, "X-Request-Id", h, sizeof(h)) && strcmp(h, "test-42") == 0);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.b.X-Request-Id"), "test-42");
	reply_free(&r);
	get("/api/compose/id", NULL, &r);
	CU_ASSERT(integ_header(&r, "X-Request-Id", h, sizeof(h)) && strlen(h) > 0);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.a.X-Request-Id"), h);
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.c.X-Request-Id"), h);
	reply_free(&r);
}

/* The text access log: one line per request, with its id, answer and every backend. The line is
 * written before the next request is read, so it is there once the answer has come. */
static void
test_access_log(void)
{
	const char *headers[] = { "X-Request-Id: log-7", NULL };
	char err_file[PATH_LEN];
	struct buf log = BUF_INIT;
	struct reply r;
	const char *line;

	get("/api/compose/l%0Ag?x=1", headers, &r);	/* a 400: the escaped byte is logged as such */
	CU_ASSERT_EQUAL(r.status, 400);
	reply_free(&r);
	get("/api/compose/bob", headers, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	CU_ASSERT_FATAL(integ_read_file(path_to(err_file, "fanout.err"), &log));
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&log), " log-7 GET /api/compose/l%0Ag 400 "));
	line = strstr(buf_str(&log), " log-7 GET /api/compose/bob 200 ");
	CU_ASSERT_FATAL(line != NULL);
	CU_ASSERT(strstr(line, " a=ok/200:") != NULL && strstr(line, " b=ok/200:") != NULL &&
	    strstr(line, " c=ok/200:") != NULL && strstr(line, " c=ok/200:") < strchr(line, '\n'));
	buf_free(&log);
}

static long
mock_stat(const char *name)
{
	char url[128];
	struct reply r;
	long n;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/stats", env.mock_port);
	if (!integ_request(NULL, url, NULL, &r))
		return -1;
	n = r.json != NULL ? (long)json_integer_value(json_object_get(r.json, name)) : -1;
	reply_free(&r);
	return n;
}

/* Backend connections are kept and reused: many requests, few connections. */
static void
test_keep_alive(void)
{
	long conn0 = mock_stat("connections"), req0 = mock_stat("requests");
	long conns, reqs;

	for (int i = 0; i < 40; i++) {
		struct reply r;

		get("/api/compose/keep", NULL, &r);
		CU_ASSERT_EQUAL(r.status, 200);
		reply_free(&r);
	}
	conns = mock_stat("connections") - conn0 - 1;	/* minus the stats request's own */
	reqs = mock_stat("requests") - req0 - 1;
	printf("\n    120 backend calls: %ld requests on %ld new connections ", reqs, conns);
	CU_ASSERT(reqs >= 120);
	CU_ASSERT(conns <= 12);
}

/* Each kind of backend fault is reported as what it is. */
static void
test_fault_kinds(void)
{
	struct reply r;

	get("/api/faults", NULL, &r);
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "inv"), "invalid_json");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "big"), "too_large");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "chunked"), "too_large");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "refused"), "connect");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "nonutf8"), "body");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "redirect"), "status");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "reset"), "body");
	CU_ASSERT_STRING_EQUAL(kind_of(&r, "deep"), "invalid_json");	/* refused, no crash */
	CU_ASSERT(json_is_array(at(&r, "data.deep_ok")));
	CU_ASSERT_STRING_EQUAL(str_at(&r, "data.text"), "plain text, \"quoted\"\n");
	CU_ASSERT(json_is_null(at(&r, "data.nocontent")));
	CU_ASSERT_PTR_NULL(error_of(&r, "nocontent"));
	reply_free(&r);
}

static size_t
sink_write(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

/* Two requests of 8 calls each against a bound of 12: one of them is refused at once. */
static void
test_bound(void)
{
	CURLM *multi = curl_multi_init();
	CURL *h[2];
	char url[128];
	int running = 1, refused = 0, ok = 0;
	struct buf sink[2] = { BUF_INIT, BUF_INIT };

	CU_ASSERT_PTR_NOT_NULL_FATAL(multi);
	snprintf(url, sizeof(url), "%s/api/wide", env.url);
	for (int i = 0; i < 2; i++) {
		h[i] = curl_easy_init();
		CU_ASSERT_PTR_NOT_NULL_FATAL(h[i]);
		(void)curl_easy_setopt(h[i], CURLOPT_URL, url);
		(void)curl_easy_setopt(h[i], CURLOPT_TIMEOUT_MS, 10000L);
		(void)curl_easy_setopt(h[i], CURLOPT_WRITEDATA, &sink[i]);
		(void)curl_easy_setopt(h[i], CURLOPT_WRITEFUNCTION, sink_write);
		CU_ASSERT(curl_multi_add_handle(multi, h[i]) == CURLM_OK);
	}
	while (running > 0 && curl_multi_perform(multi, &running) == CURLM_OK)
		if (running > 0 && curl_multi_poll(multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	for (int i = 0; i < 2; i++) {
		long status = 0;

		(void)curl_easy_getinfo(h[i], CURLINFO_RESPONSE_CODE, &status);
		refused += status == 503;
		ok += status == 200;
		curl_multi_remove_handle(multi, h[i]);
		curl_easy_cleanup(h[i]);
		buf_free(&sink[i]);
	}
	curl_multi_cleanup(multi);
	CU_ASSERT_EQUAL(refused, 1);
	CU_ASSERT_EQUAL(ok, 1);
}

/* Runs the program as plain CGI for one request URI, with one more environment variable
 * (NULL: none); out gets what it printed. Returns its exit status. */
static int
run_cgi(const char *uri, const char *var, struct buf *out)
{
	char config[PATH_LEN], out_file[PATH_LEN], err_file[PATH_LEN], uri_var[256];
	char *argv[] = { FANOUT_CGI, "-c", (char *)path_to(config, "fanout.json"), NULL };
	char *envp[] = { "REQUEST_METHOD=GET", uri_var, (char *)var, NULL };
	pid_t pid;
	int rc;

	snprintf(uri_var, sizeof(uri_var), "REQUEST_URI=%s", uri);
	pid = integ_spawn(argv, envp, -1, path_to(out_file, "cgi.out"),
	    path_to(err_file, "cgi.err"));
	if (pid <= 0)
		return -1;
	rc = integ_wait_exit(pid, 10000);
	if (!integ_read_file(out_file, out))
		return -1;
	return rc;
}

/* Started as plain CGI, the program serves the one request on stdout and exits; the path
 * cases nginx refuses on its own are checked here, against the program itself. */
static void
test_cgi_mode(void)
{
	struct buf out = BUF_INIT;

	CU_ASSERT_EQUAL(run_cgi("/api/compose/cgi", NULL, &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 200 OK\r\n", 16), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\r\n\r\n{\"data\":{\"a\":"));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/compose/a%00b", NULL, &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 400 Bad Request\r\n", 25), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "path parameter user: CR, LF and NUL"));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/compose/a%zz", NULL, &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "path parameter user: bad percent-encoding"));
	buf_truncate(&out, 0);
	/* A forwarded header has one value in the environment; its checks hold there too. */
	CU_ASSERT_EQUAL(run_cgi("/api/repeat", "HTTP_COOKIE=a=1; b=2", &out), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\"Cookie\":\"a=1; b=2\""));
	buf_truncate(&out, 0);
	CU_ASSERT_EQUAL(run_cgi("/api/repeat", "HTTP_COOKIE=a=1\nX-Evil: 1", &out), 0);
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 400 Bad Request\r\n", 25), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "Cookie: CR, LF and NUL are not allowed"));
	buf_free(&out);
}

/* Without --listen the program serves the socket it inherits on fd 0, as under spawn-fcgi
 * or mod_fcgid; cgi-fcgi (libfcgi's own FastCGI client) makes the request. */
static void
test_inherited_socket(void)
{
	char config[PATH_LEN], err_file[PATH_LEN], out_file[PATH_LEN], connect_to[32];
	char *argv[] = { FANOUT_CGI, "-c", (char *)path_to(config, "fanout.json"), NULL };
	char *client[] = { "/usr/bin/cgi-fcgi", "-bind", "-connect", connect_to, NULL };
	char *envp[] = { "REQUEST_METHOD=GET", "REQUEST_URI=/api/compose/inherited", NULL };
	struct buf out = BUF_INIT;
	int port = 0, fd = integ_listen(&port);
	pid_t server, pid;

	CU_ASSERT_FATAL(fd >= 0);
	server = integ_spawn(argv, NULL, fd, NULL, path_to(err_file, "fd0.err"));
	close(fd);
	CU_ASSERT_FATAL(server > 0);
	snprintf(connect_to, sizeof(connect_to), "127.0.0.1:%d", port);
	pid = integ_spawn(client, envp, -1, path_to(out_file, "fd0.out"), NULL);
	CU_ASSERT_EQUAL(integ_wait_exit(pid, 10000), 0);
	CU_ASSERT(integ_read_file(out_file, &out));
	CU_ASSERT_EQUAL(strncmp(buf_str(&out), "Status: 200 OK\r\n", 16), 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&out), "\"path\":\"/echo/inherited\""));
	CU_ASSERT_EQUAL(integ_stop(server), 0);
	buf_free(&out);
}

/* A bad config is refused with the file, the JSON path and the reason; the example config
 * the README documents is valid. */
static void
test_config_errors(void)
{
	char example[PATH_MAX];
	const char *srcdir = getenv("srcdir");
	char *check[] = { FANOUT_CGI, "--check-config", example, NULL };

	snprintf(example, sizeof(example), "%s/www/example-config.json", srcdir ? srcdir : ".");
	CU_ASSERT_EQUAL(integ_wait_exit(integ_spawn(check, NULL, -1, "/dev/null", NULL), 5000), 0);

	static const struct {
		const char *text;
		const char *expect;
	} cases[] = {
		{ "{\"endpoints\": [{\"path\": \"/a\", \"backends\": [{\"name\": \"b\",\n"
		  "  \"url\": \"http://h/{nope}\"}]}]}",
		  "bad.json: endpoints[0].backends[0].url: placeholder {nope} names no parameter" },
		{ "{\"endpoints\": [\n  {\"path\": \"/a\",}\n]}", "bad.json:2:17: " },
	};

	for (size_t i = 0; i < 2; i++) {
		char bad[PATH_LEN], err_file[PATH_LEN];
		char *argv[] = { FANOUT_CGI, "--check-config", (char *)path_to(bad, "bad.json"), NULL };
		char *run[] = { FANOUT_CGI, "-c", bad, "--listen", "127.0.0.1:1", NULL };
		struct buf err = BUF_INIT;
		pid_t pid;

		path_to(err_file, "check.err");
		CU_ASSERT_FATAL(integ_write_file(bad, cases[i].text));
		pid = integ_spawn(argv, NULL, -1, NULL, err_file);
		CU_ASSERT_EQUAL(integ_wait_exit(pid, 5000), 1);
		CU_ASSERT(integ_read_file(err_file, &err));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), cases[i].expect));
		buf_truncate(&err, 0);
		pid = integ_spawn(run, NULL, -1, NULL, err_file);
		CU_ASSERT_EQUAL(integ_wait_exit(pid, 5000), 1);
		CU_ASSERT(integ_read_file(err_file, &err));
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&err), cases[i].expect));
		buf_free(&err);
	}
}

/* Appends the NULL-terminated list `from` to `to`, which holds n tests and room for max. */
static size_t
tests_append(struct unit_test *to, size_t n, size_t max, const struct unit_test *from)
{
	for (; from->name != NULL && n + 1 < max; from++)
		to[n++] = *from;
	to[n] = (struct unit_test){ NULL, NULL };
	return n;
}

int
main(void)
{
	static const struct unit_test core[] = {
		{ "composition, order, Server-Timing", test_composition },
		{ "3 x 100 ms: threads, pool, multi overlap; serial adds up", test_overlap },
		{ "chain: b uses a value of a", test_chain },
		{ "values as written, one JSON with or without dependants", test_values_as_written },
		{ "multi executor: chain, failure, deadline", test_multi },
		{ "optional failure: 200 with errors", test_optional_failure },
		{ "required failure: 502, dependants skipped", test_required_failure },
		{ "deadline: 504 on time", test_timeout },
		{ "query and header allowlists", test_allowlists },
		{ "repeated headers combined", test_repeated_headers },
		{ "a long query echoed whole", test_long_query },
		{ "request id forwarded or made", test_request_id },
		{ "backend fault kinds", test_fault_kinds },
		{ NULL, NULL },
	};
	/* These depend on nginx's own handling of paths and connections, or on no front at all. */
	static const struct unit_test nginx_only[] = {
		{ "404, 405, 400, HEAD", test_client_errors },
		{ "percent-encoding of parameters", test_percent_encoding },
		{ "access log, text format", test_access_log },
		{ "keep-alive to backends", test_keep_alive },
		{ "fan-out bound: 503", test_bound },
		{ "plain CGI mode", test_cgi_mode },
		{ "socket inherited on fd 0", test_inherited_socket },
		{ "config errors name path and reason", test_config_errors },
		{ NULL, NULL },
	};
	static struct unit_test tests[32];
	size_t n = tests_append(tests, 0, 32, core);
	const char *binary = behind_apache ? integ_apache_binary() : integ_nginx_binary();

	if (binary == NULL) {
		fprintf(stderr, "%s: SKIP: %s is not installed (t/check.sh installs it)\n",
		    behind_apache ? "integ-apache" : "integ-nginx", behind_apache ? "apache2" : "nginx");
		return 77;
	}
	if (!behind_apache)
		(void)tests_append(tests, n, 32, nginx_only);
	return unit_run(behind_apache ? "integration behind Apache httpd" :
	    "integration behind nginx", suite_init, suite_cleanup, tests);
}
