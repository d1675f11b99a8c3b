/* integ-core-compose.c - integration tests (t/integ-nginx, t/integ-apache): composition and
 * executors: order, overlap, chains, failures and deadlines, fault kinds, kept connections to
 * backends and the fan-out bound. */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "t/integ.h"
#include "t/integ-core.h"
#include "t/unit.h"

/* Backends come back in config order whatever order they finish in, errors absent when none. */
void
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

/* Three backends of 100 ms: threads and pool overlap them, serial adds them up. (The pool's
 * workers, and the event server's offload thread, start with the first pool request: that one is
 * not measured.) */
void
test_overlap(void)
{
	struct reply r;

	get("/api/pool", NULL, &r);
	reply_free(&r);
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
void
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
void
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

void
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
void
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
void
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

/* Each kind of backend fault is reported as what it is. */
void
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
void
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

static size_t
sink_write(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

/* Two requests of 8 calls each against a bound of 12: one of them is refused at once. */
void
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
