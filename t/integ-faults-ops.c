/* integ-faults-ops.c - the fault suite (t/integ-faults): operations: metrics, the health check
 * and the JSON access log; SIGHUP reloads, SIGTERM under load. */
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/integ-faults.h"
#include "t/unit.h"

/* Metrics in the text format, the health check, and the JSON access log. */
void
test_metrics_and_log(void)
{
	const char *headers[] = { "X-Request-Id: faults-log-1", NULL };
	char err_file[INTEG_PATH_LEN];
	struct buf log = BUF_INIT;
	struct reply r;
	double before = metric("fanout_requests_total{endpoint=\"/api/f/ok\",status=\"200\"}");
	const char *line;
	json_t *entry;

	CU_ASSERT_FATAL(request(NULL, "/api/f/ok", headers, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	CU_ASSERT_EQUAL(metric("fanout_requests_total{endpoint=\"/api/f/ok\",status=\"200\"}"),
	    (before < 0 ? 0 : before) + 1);
	CU_ASSERT(metric("fanout_request_duration_seconds_count{endpoint=\"/api/f/ok\"}") >= 1);
	CU_ASSERT(metric("fanout_backend_call_duration_seconds_bucket{endpoint=\"/api/f/ok\","
	    "backend=\"x\",le=\"+Inf\"}") >= 1);
	CU_ASSERT(metric("fanout_backend_calls_total{endpoint=\"/api/f/ok\",backend=\"x\","
	    "outcome=\"ok\"}") >= 1);
	/* The call's curl handle went back to the pool. */
	CU_ASSERT(metric("fanout_curl_handles_idle") >= 1);
	CU_ASSERT_FATAL(request(NULL, "/api/metrics", NULL, &r));
	CU_ASSERT(strstr(buf_str(&r.head), "text/plain; version=0.0.4") != NULL);
	CU_ASSERT(strstr(buf_str(&r.body), "# TYPE fanout_requests_total counter") != NULL);
	reply_free(&r);
	CU_ASSERT_FATAL(request(NULL, "/api/healthz", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "status")), "serving");
	reply_free(&r);
	/* The log line is written before the next request is read: it is there now. */
	CU_ASSERT_FATAL(integ_read_file(integ_path(&env, err_file, "fanout.err"), &log));
	line = strstr(buf_str(&log), "{\"time\":");
	while (line != NULL && strstr(line, "faults-log-1") != NULL &&
	    strncmp(strstr(line, "\"request_id\""), "\"request_id\":\"faults-log-1\"", 27) != 0)
		line = strstr(line + 1, "{\"time\":");
	CU_ASSERT_FATAL(line != NULL);
	entry = json_loadb(line, strcspn(line, "\n"), 0, NULL);
	CU_ASSERT_FATAL(entry != NULL);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(entry, "path")), "/api/f/ok");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(entry, "method")), "GET");
	CU_ASSERT_EQUAL(json_integer_value(json_object_get(entry, "status")), 200);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(json_array_get(
	    json_object_get(entry, "backends"), 0), "outcome")), "ok");
	json_decref(entry);
	buf_free(&log);
}

/* Waits until fanout-cgi's stderr holds `text`; false after SETTLE_MS. */
static bool
await_log(const char *text)
{
	int64_t until = clock_now_us() + SETTLE_MS * 1000;
	char err_file[INTEG_PATH_LEN];
	struct buf log = BUF_INIT;
	bool found = false;

	while (!found && clock_now_us() < until) {
		buf_truncate(&log, 0);
		found = integ_read_file(integ_path(&env, err_file, "fanout.err"), &log) &&
		    strstr(buf_str(&log), text) != NULL;
		if (!found)
			clock_sleep_us(20000);
	}
	buf_free(&log);
	return found;
}

/* SIGHUP: a broken config is refused and the old one kept; a good one is put in force, while
 * a request already in flight finishes on the config it started with. */
void
test_reload(void)
{
	struct buf good = BUF_INIT;
	const char *marker = "\"endpoints\": [\n";
	struct reply r;
	char cfg_file[INTEG_PATH_LEN];
	double ok_before = metric("fanout_config_reloads_total{result=\"ok\"}");

	CU_ASSERT_FATAL(integ_write_file(integ_path(&env, cfg_file, "fanout.json"),
	    "{\"endpoints\": [{\"path\": \"/api/x\", \"backends\": 7}]}"));
	CU_ASSERT_FATAL(kill(env.cgi, SIGHUP) == 0);
	CU_ASSERT(await_log("backends: must be an array"));
	CU_ASSERT_EQUAL(metric("fanout_config_reloads_total{result=\"error\"}"), 1);
	CU_ASSERT_FATAL(request(NULL, "/api/f/ok", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	/* The good config: the same, plus one endpoint. */
	CU_ASSERT_FATAL(buf_puts(&good, config_text) == 0);
	good.len = 0;
	CU_ASSERT_FATAL(buf_append(&good, config_text, (size_t)(strstr(config_text, marker) -
	    config_text) + strlen(marker)) == 0);
	CU_ASSERT_FATAL(buf_puts(&good, "  {\"path\": \"/api/new\", \"backends\": [\n"
	    "    {\"name\": \"n\", \"url\": \"http://127.0.0.1:@M@/n\"}]},\n") == 0);
	CU_ASSERT_FATAL(buf_puts(&good, strstr(config_text, marker) + strlen(marker)) == 0);
	CU_ASSERT_FATAL(integ_write_expanded(&env, "fanout.json", buf_str(&good)));
	buf_free(&good);
	CU_ASSERT_FATAL(request(NULL, "/api/new", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 404);
	reply_free(&r);
	CU_ASSERT_FATAL(kill(env.cgi, SIGHUP) == 0);
	CU_ASSERT(await_metric("fanout_config_reloads_total{result=\"ok\"}",
	    (ok_before < 0 ? 0 : ok_before) + 1));
	CU_ASSERT_FATAL(request(NULL, "/api/new", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* A reload while a request waits for its backends: it finishes on its config. */
static void *
slow_request(void *arg)
{
	struct burst *b = arg;
	struct reply r;

	if (request(NULL, "/api/wide", NULL, &r)) {
		b->status = r.status;
		reply_free(&r);
	}
	return NULL;
}

void
test_reload_in_flight(void)
{
	struct burst b = { 0 };
	pthread_t tid;
	double reloads = metric("fanout_config_reloads_total{result=\"ok\"}");

	CU_ASSERT_FATAL(pthread_create(&tid, NULL, slow_request, &b) == 0);
	CU_ASSERT(await_metric("fanout_backend_calls_in_flight", 3));
	CU_ASSERT_FATAL(kill(env.cgi, SIGHUP) == 0);
	CU_ASSERT(await_metric("fanout_config_reloads_total{result=\"ok\"}", reloads + 1));
	CU_ASSERT_FATAL(pthread_join(tid, NULL) == 0);
	CU_ASSERT_EQUAL(b.status, 200);
}

/* SIGTERM under load: the health check turns 503, the requests in flight are answered, then
 * the process exits 0. */
void
test_sigterm_under_load(void)
{
	enum { N = 2 };	/* 2 x 3 calls: exactly the bound */
	struct burst b[N];
	pthread_t tid[N];
	struct reply r;
	int64_t t0;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < N; i++)
		CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, slow_request, &b[i]) == 0);
	CU_ASSERT(await_metric("fanout_backend_calls_in_flight", 3 * N));
	t0 = clock_now_us();
	CU_ASSERT_FATAL(kill(env.cgi, SIGTERM) == 0);
	/* Draining: no new connection is accepted, and both servers close the idle kept-alive
	 * connections nginx holds as the stop begins (a kept connection takes no new request), so
	 * nginx's connect is refused (502), unless its request came first: then the health check
	 * says so. (The await makes sure the signal has landed.) */
	CU_ASSERT(await_log("stopping; requests in progress may finish"));
	CU_ASSERT_FATAL(request(NULL, "/api/healthz", NULL, &r));
	if (r.status != 502) {
		CU_ASSERT_EQUAL(r.status, 503);
		CU_ASSERT(r.json != NULL && json_string_value(json_object_get(r.json, "status")) !=
		    NULL && strcmp(json_string_value(json_object_get(r.json, "status")),
		    "draining") == 0);
	}
	reply_free(&r);
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(pthread_join(tid[i], NULL) == 0);
		CU_ASSERT_EQUAL(b[i].status, 200);
	}
	CU_ASSERT_EQUAL(integ_wait_exit(env.cgi, 15000), 0);
	printf("\n    exited 0, %.0f ms after SIGTERM ", (clock_now_us() - t0) / 1000.0);
	CU_ASSERT_FATAL(integ_stack_start_cgi(&env, cgi_args));	/* for the suite's cleanup */
}
