/* integ-faults.c - the fault suite: broken backends, hostile requests, overload, signals. */
#include <curl/curl.h>
#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * Every case runs twice and asserts the exact answer each time, then that fanout-cgi is still
 * healthy (its health check answers 200) and that after the second run it holds no more file
 * descriptors than after the first: caches fill in the first run (kept connections to backends
 * and from nginx, a thread's first curl multi handle), so a leak is what still grows in the
 * second. Cleanup that may trail the answer (a thread whose call timed out closing its
 * connection) is waited for, up to SETTLE_MS.
 */
#define SETTLE_MS 3000
#define THREADS "8"		/* request threads */
#define MAX_INFLIGHT 6		/* limits.max_inflight */
#define POOL_THREADS 4

static struct integ_stack env;

#define FAULT(name, query, extra) \
    "  {\"path\": \"/api/f/" name "\", \"timeout_ms\": 300, \"backends\": [\n" \
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/" name "?" query "\"" extra "}]},\n"

static const char config_text[] =
    "{\"limits\": {\"max_inflight\": 6, \"pool_threads\": 4},\n"
    " \"admin\": {\"metrics\": \"/api/metrics\", \"health\": \"/api/healthz\"},\n"
    " \"endpoints\": [\n"
    FAULT("ok", "delay=1", "")
    FAULT("timeout", "delay=3000", "")
    FAULT("reset", "reset=1", "")
    FAULT("drip", "drip=100&body=big&size=400", "")
    FAULT("big_length", "body=big&size=5000", ", \"max_body_bytes\": 1000")
    FAULT("big_chunked", "body=big&size=5000&chunked=1", ", \"max_body_bytes\": 1000")
    FAULT("big_close", "body=big&size=5000&http10=1", ", \"max_body_bytes\": 1000")
    FAULT("invalid", "body=invalid", "")
    FAULT("nonutf8", "body=nonutf8", ", \"encoding\": \"text\"")
    FAULT("status", "status=503", "")
    FAULT("nocontent", "status=204&body=empty", "")
    FAULT("redirect", "status=302&location=/ok", "")
    FAULT("hang", "hang=1", "")
    "  {\"path\": \"/api/f/refused\", \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@X@/\"}]},\n"
    "  {\"path\": \"/api/f/unknown_host\", \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://unknown-host.invalid/\"}]},\n"
    "  {\"path\": \"/api/p/{v}\", \"query\": [\"q\"], \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/p/{v}?q={query.q}\"}]},\n"
    "  {\"path\": \"/api/wide\", \"timeout_ms\": 2000, \"backends\": [\n"
    "    {\"name\": \"a\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"b\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"},\n"
    "    {\"name\": \"c\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"}]},\n"
    "  {\"path\": \"/api/gone/threads\", \"executor\": \"threads\", \"timeout_ms\": 10000,\n"
    "   \"backends\": [{\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/g?delay=4000\"}]},\n"
    "  {\"path\": \"/api/gone/multi\", \"executor\": \"multi\", \"timeout_ms\": 10000,\n"
    "   \"backends\": [{\"name\": \"slow\", \"url\": \"http://127.0.0.1:@M@/g?delay=4000\"}]}\n"
    " ]}\n";

static const char *const cgi_args[] = { "--threads", THREADS, "--log-format", "json", NULL };

/* Open file descriptors of fanout-cgi, or -1. */
static int
cgi_fds(void)
{
	char dir[64];
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)env.cgi);
	if ((d = opendir(dir)) == NULL)
		return -1;
	while (readdir(d) != NULL)
		n++;
	closedir(d);
	return n - 2;	/* . and .. */
}

/* A line of /proc/PID/status of fanout-cgi, as a number; -1 if absent. */
static long
cgi_status(const char *field)
{
	char path[64], line[256];
	size_t len = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)env.cgi);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, field, len) == 0 && line[len] == ':')
			v = integ_parse_int(line + len + 1);
	fclose(f);
	return v;
}

static bool
request(const char *method, const char *path, const char *const *headers, struct reply *r)
{
	char url[40000];

	snprintf(url, sizeof(url), "%s%s", env.url, path);
	return integ_request(method, url, headers, r);
}

/* The value of a metric line that starts with `series` (name and labels), or -1. */
static double
metric(const char *series)
{
	return integ_metric(&env, "/api/metrics", series);
}

/* Polls until the metric reaches want (or more; with at_most, want or less); false after
 * SETTLE_MS. */
static bool
await_metric_cmp(const char *series, double want, bool at_most)
{
	int64_t until = clock_now_us() + SETTLE_MS * 1000;
	double v;

	while ((v = metric(series)) < 0 || (at_most ? v > want : v < want))
		if (clock_now_us() > until)
			return false;
		else
			clock_sleep_us(20000);
	return true;
}

static bool
await_metric(const char *series, double want)
{
	return await_metric_cmp(series, want, false);
}

/* Healthy, and the descriptor count once it has settled (what trails the answer is done). */
static int
settled_fds(void)
{
	int64_t until = clock_now_us() + SETTLE_MS * 1000;
	struct reply r;
	int fds = cgi_fds(), last = -1;

	CU_ASSERT_FATAL(request(NULL, "/api/healthz", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	/* Settled: the same count 100 ms apart. */
	while (fds != last && clock_now_us() < until) {
		last = fds;
		clock_sleep_us(100000);
		fds = cgi_fds();
	}
	return fds;
}

/* After the second run of a case: no more descriptors than after the first. */
static void
assert_no_growth(const char *name, int first)
{
	int second = settled_fds();

	CU_ASSERT(first >= 0 && second <= first);
	if (second > first) {
		char cmd[128];

		printf("\n    %s: %d descriptors after the first run, %d after the second ", name,
		    first, second);
		snprintf(cmd, sizeof(cmd), "ls -l /proc/%d/fd | awk '{print $NF}' | sort | uniq -c",
		    (int)env.cgi);
		fflush(stdout);
		(void)system(cmd);
	}
}

static const char *
error_kind(const struct reply *r)
{
	json_t *e = json_array_get(json_object_get(r->json, "errors"), 0);

	return json_string_value(json_object_get(e, "kind"));
}

struct backend_fault {
	const char *path;
	long status;		/* fanout-cgi's answer */
	const char *kind;	/* errors[0].kind, NULL: no error */
	long backend_status;	/* errors[0].status, 0: none, -1: either (a timeout may come
				 * from curl's own limit, after the head, or from the deadline) */
};

/* Each broken backend gives its exact answer and leaves nothing behind. */
static void
test_backend_faults(void)
{
	static const struct backend_fault faults[] = {
		{ "/api/f/refused", 502, "connect", 0 },
		{ "/api/f/unknown_host", 502, "connect", 0 },
		{ "/api/f/timeout", 504, "timeout", -1 },
		{ "/api/f/reset", 502, "body", 0 },
		{ "/api/f/drip", 504, "timeout", -1 },
		{ "/api/f/big_length", 502, "too_large", 200 },
		{ "/api/f/big_chunked", 502, "too_large", 200 },
		{ "/api/f/big_close", 502, "too_large", 200 },
		{ "/api/f/invalid", 502, "invalid_json", 200 },
		{ "/api/f/nonutf8", 502, "body", 200 },
		{ "/api/f/status", 502, "status", 503 },
		{ "/api/f/nocontent", 200, NULL, 0 },
		{ "/api/f/redirect", 502, "status", 302 },
		{ "/api/f/hang", 504, "timeout", -1 },	/* the head comes, the body never ends */
	};

	for (size_t n = 0; n < 2 * sizeof(faults) / sizeof(faults[0]); n++) {
		const struct backend_fault *f = &faults[n / 2];
		static int first;
		struct reply r;

		CU_ASSERT_FATAL(request(NULL, f->path, NULL, &r));
		if (r.status != f->status || (f->kind != NULL && (error_kind(&r) == NULL ||
		    strcmp(error_kind(&r), f->kind) != 0)))
			printf("\n    %s: %ld %s ", f->path, r.status, buf_str(&r.body));
		CU_ASSERT_EQUAL(r.status, f->status);
		CU_ASSERT_EQUAL(json_integer_value(json_object_get(r.json, "status")), 0);
		if (f->kind != NULL) {
			json_t *e = json_array_get(json_object_get(r.json, "errors"), 0);

			CU_ASSERT(error_kind(&r) != NULL && strcmp(error_kind(&r), f->kind) == 0);
			CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(e, "backend")), "x");
			if (f->backend_status >= 0)
				CU_ASSERT_EQUAL(json_integer_value(json_object_get(e, "status")),
				    f->backend_status);
			CU_ASSERT(json_is_null(json_object_get(json_object_get(r.json, "data"), "x")));
		} else {
			CU_ASSERT_PTR_NULL(json_object_get(r.json, "errors"));
			CU_ASSERT(json_is_null(json_object_get(json_object_get(r.json, "data"), "x")));
		}
		reply_free(&r);
		if (n % 2 == 0)
			first = settled_fds();
		else
			assert_no_growth(f->path, first);
	}
}

struct request_fault {
	const char *method;
	const char *path;
	long status;
	bool ours;		/* answered by fanout-cgi (a JSON error), not by nginx */
};

/* Hostile or malformed requests get a 4xx; nothing reaches a backend. */
static void
test_request_faults(void)
{
	static char long_path[12000], long_query[12000], long_value[5000];
	const char *header_big[] = { NULL, NULL };
	static char big_header[40000];
	const struct request_fault faults[] = {
		{ NULL, long_path, 414, true },
		{ NULL, long_query, 414, true },
		{ NULL, "/api/p/a%0D%0Ab", 400, true },
		{ NULL, "/api/p/x?q=a%00b", 400, true },
		{ NULL, "/api/p/x?q=a%0Ab", 400, true },
		{ NULL, "/api/p/%2E%2E?q=1", 400, true },
		{ NULL, "/api/p/x?q=1&q=2", 400, true },
		{ NULL, "/api/p/x", 400, true },		/* q missing */
		{ "BREW", "/api/p/x?q=1", 405, true },
		{ "DELETE", "/api/p/x?q=1", 405, true },
		{ NULL, "/api/p/a%00b?q=1", 400, false },	/* nginx refuses %00 in a path */
		{ NULL, "/api/nothing", 404, true },
	};
	struct reply r;
	int first = 0;

	memset(long_path, 0, sizeof(long_path));
	snprintf(long_path, sizeof(long_path), "/api/p/");
	memset(long_path + 7, 'a', 10000);
	snprintf(long_query, sizeof(long_query), "/api/p/x?q=");
	memset(long_query + 11, 'b', 10000);
	snprintf(long_value, sizeof(long_value), "/api/p/x?q=");
	memset(long_value + 11, 'c', 4000);
	snprintf(big_header, sizeof(big_header), "X-Big: ");
	memset(big_header + 7, 'h', 36000);
	header_big[0] = big_header;
	for (int round = 0; round < 2; round++) {
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++) {
		CU_ASSERT_FATAL(request(faults[i].method, faults[i].path, NULL, &r));
		if (r.status != faults[i].status)
			printf("\n    %.60s: %ld ", faults[i].path, r.status);
		CU_ASSERT_EQUAL(r.status, faults[i].status);
		if (faults[i].ours)
			CU_ASSERT_EQUAL(json_integer_value(json_object_get(json_object_get(r.json,
			    "error"), "status")), faults[i].status);
		reply_free(&r);
	}
	/* A long value within the limits is passed on whole. */
	CU_ASSERT_FATAL(request(NULL, long_value, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	/* A header larger than nginx's buffers: nginx answers 400 and fanout-cgi sees nothing. */
	CU_ASSERT_FATAL(request(NULL, "/api/p/x?q=1", header_big, &r));
	CU_ASSERT_EQUAL(r.status, 400);
	reply_free(&r);
	if (round == 0)
		first = settled_fds();
	else
		assert_no_growth("hostile requests", first);
	}
}

/* More concurrent requests than the bound admits: the excess gets 503 + Retry-After at once,
 * the thread count stays bounded, and afterwards everything is served again. */
struct burst {
	long status;
	bool retry_after;
	double ms;
};

static void *
burst_one(void *arg)
{
	struct burst *b = arg;
	struct reply r;
	char h[16];

	if (request(NULL, "/api/wide", NULL, &r)) {
		b->status = r.status;
		b->retry_after = integ_header(&r, "Retry-After", h, sizeof(h));
		b->ms = r.ms;
		reply_free(&r);
	}
	return NULL;
}

static void
overload_once(void)
{
	enum { N = 8 };	/* 8 requests x 3 calls against a bound of 6 calls: 2 requests fit */
	struct burst b[N];
	pthread_t tid[N];
	long threads_max = 0, rejected = 0, ok = 0;
	long bound = 8 + 2 + POOL_THREADS + MAX_INFLIGHT;	/* request, main + watcher, ... */
	double rejected_before = metric("fanout_rejected_total");
	struct reply r;

	memset(b, 0, sizeof(b));
	for (int i = 0; i < N; i++)
		CU_ASSERT_FATAL(pthread_create(&tid[i], NULL, burst_one, &b[i]) == 0);
	for (int i = 0; i < 20; i++) {	/* samples while the burst is served */
		long t = cgi_status("Threads");

		threads_max = t > threads_max ? t : threads_max;
		clock_sleep_us(10000);
	}
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(pthread_join(tid[i], NULL) == 0);
		if (b[i].status == 503) {
			rejected++;
			CU_ASSERT(b[i].retry_after);
			CU_ASSERT(b[i].ms < 250);	/* at once, not after the backends' 300 ms */
		} else
			ok += b[i].status == 200;
	}
	printf("\n    %ld served, %ld refused with 503, at most %ld threads (bound %ld) ", ok,
	    rejected, threads_max, bound);
	CU_ASSERT(rejected >= 1);
	CU_ASSERT_EQUAL(ok + rejected, N);
	CU_ASSERT(threads_max > 0 && threads_max <= bound);
	CU_ASSERT_EQUAL(metric("fanout_rejected_total"), rejected_before + (double)rejected);
	CU_ASSERT_FATAL(request(NULL, "/api/wide", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* Concurrent requests fill the caches in an order that varies: which pooled curl handle gets a
 * kept connection of its own depends on which calls overlap, so a burst may still add one long
 * after the others have stopped adding (seen under TSan). After two bursts of warm-up, four more
 * (32 requests) may add at most 2 descriptors; a leak per request would add 32, one per burst 4. */
static void
test_overload(void)
{
	int warm;

	overload_once();
	overload_once();
	warm = settled_fds();
	for (int i = 0; i < 4; i++)
		overload_once();
	assert_no_growth("overload", warm + 2);
}

/* A client that goes away: the request's backend call is cancelled at once (multi), or at its
 * blocking transfer's next look, 50 ms at most (threads), and nothing stays in flight. */
static void
test_client_gone(void)
{
	static const char *const executors[] = { "multi", "threads" };

	static int first;

	for (size_t n = 0; n < 4; n++) {
		size_t i = n / 2;
		char url[128], series[160];
		double cancelled;
		int64_t t0;

		snprintf(series, sizeof(series), "fanout_backend_calls_total{endpoint="
		    "\"/api/gone/%s\",backend=\"slow\",outcome=\"cancelled\"}", executors[i]);
		cancelled = metric(series);
		snprintf(url, sizeof(url), "%s/api/gone/%s", env.url, executors[i]);
		t0 = clock_now_us();
		CU_ASSERT(integ_abandon(url, 300));
		/* The backend answers after 4 s: both must be gone long before (the client leaves
		 * at 0.3 s; a blocking transfer that looked only once a second took 1.0 s). */
		CU_ASSERT(await_metric(series, (cancelled < 0 ? 0 : cancelled) + 1));
		CU_ASSERT(await_metric_cmp("fanout_backend_calls_in_flight", 0, true));
		printf("\n    %s: cancelled and nothing in flight %.0f ms after the request "
		    "began ", executors[i], (clock_now_us() - t0) / 1000.0);
		CU_ASSERT(clock_now_us() - t0 < 900 * 1000);
		if (n % 2 == 0)
			first = settled_fds();
		else if (i == 0)	/* another thread's first multi handle: its 2 wake-up fds */
			assert_no_growth("client gone, multi", first + 2);
		else
			assert_no_growth("client gone, threads", first);
	}
}

/* Metrics in the text format, the health check, and the JSON access log. */
static void
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
static void
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

static void
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
static void
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
	/* Draining: no new connection is accepted, but nginx still holds idle kept-alive ones,
	 * and on those the health check says so. (The await makes sure the signal has landed.) */
	CU_ASSERT(await_log("stopping; requests in progress may finish"));
	CU_ASSERT_FATAL(request(NULL, "/api/healthz", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 503);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(r.json, "status")), "draining");
	reply_free(&r);
	for (int i = 0; i < N; i++) {
		CU_ASSERT_FATAL(pthread_join(tid[i], NULL) == 0);
		CU_ASSERT_EQUAL(b[i].status, 200);
	}
	/* Kept-alive nginx connections hold threads: the grace (timeout + 1 s) ends them. */
	CU_ASSERT_EQUAL(integ_wait_exit(env.cgi, 15000), 0);
	printf("\n    exited 0, %.0f ms after SIGTERM ", (clock_now_us() - t0) / 1000.0);
	CU_ASSERT_FATAL(integ_stack_start_cgi(&env, cgi_args));	/* for the suite's cleanup */
}

static int
suite_init(void)
{
	struct reply r;

	if (!integ_stack_start(&env, config_text, integ_nginx_conf, cgi_args))
		return -1;
	/* The baseline: every connection the suite's sequential requests keep is open. */
	for (int i = 0; i < 3; i++) {
		if (!request(NULL, "/api/f/ok", NULL, &r)) {
			(void)integ_stack_stop(&env);
			return -1;
		}
		reply_free(&r);
	}
	return 0;
}

static int
suite_cleanup(void)
{
	return integ_stack_stop(&env) ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "broken backends: exact answers, nothing leaked", test_backend_faults },
		{ "hostile requests: 4xx, nothing leaked", test_request_faults },
		{ "metrics, health check, JSON access log", test_metrics_and_log },
		{ "client gone: backend calls cancelled", test_client_gone },
		{ "overload: 503 at once, threads bounded, recovers", test_overload },
		{ "SIGHUP: broken config refused, good one applied", test_reload },
		{ "SIGHUP while a request is in flight", test_reload_in_flight },
		{ "SIGTERM under load: health 503, answered, exit 0", test_sigterm_under_load },
		{ NULL, NULL },
	};

	if (integ_nginx_binary() == NULL) {
		fprintf(stderr, "integ-faults: SKIP: nginx is not installed (t/check.sh installs it)\n");
		return 77;
	}
	return unit_run("fault suite behind nginx", suite_init, suite_cleanup, tests);
}
