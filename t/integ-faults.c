/* integ-faults.c - the fault suite: broken backends, hostile requests, overload, signals. This
 * part holds the stack's config, the helpers that request, read metrics and count descriptors,
 * and the runner; the tests are in integ-faults-{backends,load,ops}.c. */
#include <stdio.h>
#include <stdlib.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/integ-faults.h"
#include "t/unit.h"

struct integ_stack env;

/* The broken backends, under /api/DIR/ with the endpoint's executor's key `exec`: /api/f/ with
 * the default executor (blocking curl), /api/fm/ with "multi" (under the event server, the
 * lean HTTP/1.1 client for the numeric hosts, curl for the others). */
#define FAULT(dir, exec, name, query, extra) \
    "  {\"path\": \"/api/" dir "/" name "\", \"timeout_ms\": 300" exec ", \"backends\": [\n" \
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/" name "?" query "\"" extra "}]},\n"
#define FAULTS(dir, exec) \
    FAULT(dir, exec, "ok", "delay=1", "") \
    FAULT(dir, exec, "timeout", "delay=3000", "") \
    FAULT(dir, exec, "reset", "reset=1", "") \
    FAULT(dir, exec, "drip", "drip=100&body=big&size=400", "") \
    FAULT(dir, exec, "big_length", "body=big&size=5000", ", \"max_body_bytes\": 1000") \
    FAULT(dir, exec, "big_chunked", "body=big&size=5000&chunked=1", ", \"max_body_bytes\": 1000") \
    FAULT(dir, exec, "big_close", "body=big&size=5000&http10=1", ", \"max_body_bytes\": 1000") \
    FAULT(dir, exec, "invalid", "body=invalid", "") \
    FAULT(dir, exec, "nonutf8", "body=nonutf8", ", \"encoding\": \"text\"") \
    FAULT(dir, exec, "status", "status=503", "") \
    FAULT(dir, exec, "nocontent", "status=204&body=empty", "") \
    FAULT(dir, exec, "redirect", "status=302&location=/ok", "") \
    FAULT(dir, exec, "hang", "hang=1", "") \
    "  {\"path\": \"/api/" dir "/refused\"" exec ", \"backends\": [\n" \
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@X@/\"}]},\n" \
    "  {\"path\": \"/api/" dir "/unknown_host\"" exec ", \"backends\": [\n" \
    "    {\"name\": \"x\", \"url\": \"http://unknown-host.invalid/\"}]},\n"

const char config_text[] =
    "{\"limits\": {\"max_inflight\": 6, \"pool_threads\": 4},\n"
    " \"admin\": {\"metrics\": \"/api/metrics\", \"health\": \"/api/healthz\"},\n"
    " \"endpoints\": [\n"
    FAULTS("f", "")
    FAULTS("fm", ", \"executor\": \"multi\"")
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

const char *const cgi_args[] = { "--threads", THREADS, "--log-format", "json", NULL };

bool
request(const char *method, const char *path, const char *const *headers, struct reply *r)
{
	char url[40000];

	snprintf(url, sizeof(url), "%s%s", env.url, path);
	return integ_request(method, url, headers, r);
}

/* The value of a metric line that starts with `series` (name and labels), or -1. */
double
metric(const char *series)
{
	return integ_metric(&env, "/api/metrics", series);
}

/* Polls until the metric reaches want (or more; with at_most, want or less); false after
 * SETTLE_MS. */
bool
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

bool
await_metric(const char *series, double want)
{
	return await_metric_cmp(series, want, false);
}

/* Healthy, and the descriptor count once it has settled (what trails the answer is done). */
int
settled_fds(void)
{
	int64_t until = clock_now_us() + SETTLE_MS * 1000;
	struct reply r;
	int fds = integ_proc_fds(env.cgi), last = -1;

	CU_ASSERT_FATAL(request(NULL, "/api/healthz", NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	/* Settled: the same count 100 ms apart. */
	while (fds != last && clock_now_us() < until) {
		last = fds;
		clock_sleep_us(100000);
		fds = integ_proc_fds(env.cgi);
	}
	return fds;
}

/* After the second run of a case: no more descriptors than after the first. */
void
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
