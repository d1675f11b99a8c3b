/* integ-reuse.c - kept backend connections: never reused with stray bytes waiting, bounded, and
 * safe from the answers curl 7.88 mishandles on a used handle. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * curl 7.88 reuses a kept connection on which the backend has sent bytes after its answer, and
 * reads them as the answer to the next request: with the stray answer of t/stray-backend, the
 * next user got "stray" and every later one the previous user's data. Each executor is run
 * behind nginx with one request thread, so that every request of a sequence goes through the
 * same pooled curl handle (blocking executors) or the thread's multi handle ("multi").
 */
#define STRAY "./t/stray-backend"

static const char *const executors[] = { "threads", "pool", "serial", "multi" };
#define NEXEC (sizeof(executors) / sizeof(executors[0]))

static struct integ_stack env;
static pid_t stray = -1;
static int stray_port;
static char stray_dir[] = "/tmp/fanout-stray-XXXXXX";

static const char *const cgi_args[] = { "--threads", "1", NULL };

/* WIDE calls at once, by a fanout-cgi that may open NOFILE descriptors: its pool of idle curl
 * handles keeps NOFILE / 16 of them (fetch.h). */
#define WIDE 12
#define NOFILE 128
#define POOL_BOUND (NOFILE / 16)

/* The multi executor held to curl ("client"): /api/curl/PATH and the backend's /u/TARGET. */
static const char *const curl_paths[][2] = {
	{ "u/{name}", "{name}" }, { "fold/{n}", "fold?fold={n}" },
	{ "trailer", "trailer?trailer=1" },
};

/* The config: per executor E, /api/E/u/{name}, /api/E/tail/{ms}, /api/E/interim,
 * /api/E/fold/{n}, /api/E/trailer, and /api/E/nginx, whose backend is the stack's nginx
 * itself. */
static bool
config_make(struct buf *out)
{
	static const char endpoint[] =
	    "  {\"path\": \"/api/%s/%s\", \"executor\": \"%s\", \"timeout_ms\": 2000,\n"
	    "   \"backends\": [{\"name\": \"x\", \"url\": \"http://127.0.0.1:%d/u/%s\"}]},\n";
	int rc = buf_puts(out, "{\"admin\": {\"metrics\": \"/api/metrics\"}, \"endpoints\": [\n"
	    "  {\"path\": \"/api/wide\", \"timeout_ms\": 3000, \"backends\": [\n");

	for (int i = 0; i < WIDE && rc == 0; i++)
		rc = buf_printf(out, "    {\"name\": \"w%d\", \"url\": \"http://127.0.0.1:@M@/w?delay=300\"}%s\n",
		    i, i + 1 < WIDE ? "," : "]},");

	/* The same, held to curl, for test_lean_or_curl and test_backend_shapes. */
	for (size_t i = 0; i < sizeof(curl_paths) / sizeof(curl_paths[0]) && rc == 0; i++)
		rc = buf_printf(out, "  {\"path\": \"/api/curl/%s\", \"executor\": \"multi\", "
		    "\"timeout_ms\": 2000,\n"
		    "   \"backends\": [{\"name\": \"x\", \"url\": \"http://127.0.0.1:%d/u/%s\", "
		    "\"client\": \"curl\"}]},\n", curl_paths[i][0], stray_port, curl_paths[i][1]);
	for (size_t i = 0; i < NEXEC && rc == 0; i++) {
		const char *e = executors[i];

		rc = buf_printf(out, endpoint, e, "u/{name}", e, stray_port, "{name}") ||
		    buf_printf(out, endpoint, e, "tail/{ms}", e, stray_port, "trigger?tail={ms}") ||
		    buf_printf(out, endpoint, e, "interim", e, stray_port, "x?interim=1") ||
		    buf_printf(out, endpoint, e, "fold/{n}", e, stray_port, "fold?fold={n}") ||
		    buf_printf(out, endpoint, e, "trailer", e, stray_port, "trailer?trailer=1") ||
		    buf_printf(out, "  {\"path\": \"/api/%s/nginx\", \"executor\": \"%s\", "
		    "\"backends\": [{\"name\": \"x\", \"url\": "
		    "\"http://127.0.0.1:@N@/nginx-backend\"}]},\n", e, e);
	}
	if (rc == 0 && out->len > 0)
		out->len -= 2;	/* the last ",\n" */
	return rc == 0 && buf_puts(out, "\n]}\n") == 0;
}

/* GET /api/E/path; the HTTP status, with the user the backend answered for in user. */
static long
get(const char *executor, const char *path, char *user, size_t size, struct reply *keep)
{
	char url[256];
	struct reply r;
	long status;
	const char *u;

	snprintf(url, sizeof(url), "%s/api/%s/%s", env.url, executor, path);
	user[0] = '\0';
	if (!integ_request(NULL, url, NULL, &r))
		return -1;
	u = json_string_value(json_object_get(json_object_get(json_object_get(r.json, "data"),
	    "x"), "user"));
	snprintf(user, size, "%s", u != NULL ? u : "");
	status = r.status;
	if (keep != NULL)
		*keep = r;
	else
		reply_free(&r);
	return status;
}

/* Each user of the sequence gets its own data. */
static void
assert_own_answers(const char *e, const char *const *users)
{
	char user[64], path[64];

	for (; *users != NULL; users++) {
		snprintf(path, sizeof(path), "u/%s", *users);
		CU_ASSERT_EQUAL(get(e, path, user, sizeof(user), NULL), 200);
		if (strcmp(user, *users) != 0)
			printf("\n    %s: %s received the data of '%s' ", e, *users, user);
		CU_ASSERT_STRING_EQUAL(user, *users);
	}
}

/* The stray answer comes 100 ms after the real one: the connection is back in its cache. */
static void
test_tail_later(void)
{
	static const char *const users[] = { "bob", "carol", "dave", NULL };
	char user[64];

	for (size_t i = 0; i < NEXEC; i++) {
		const char *e = executors[i];
		long tails = integ_stat(stray_port, "tails");

		CU_ASSERT_FATAL(tails >= 0);
		CU_ASSERT_EQUAL(get(e, "u/alice", user, sizeof(user), NULL), 200);
		CU_ASSERT_STRING_EQUAL(user, "alice");
		CU_ASSERT_EQUAL(get(e, "tail/100", user, sizeof(user), NULL), 200);
		CU_ASSERT_STRING_EQUAL(user, "trigger");
		CU_ASSERT_FATAL(integ_await_stat(stray_port, "tails", tails + 1, stray));
		assert_own_answers(e, users);
	}
}

/* The stray answer comes in the same write as the real one. */
static void
test_tail_at_once(void)
{
	static const char *const users[] = { "erin", "frank", NULL };
	char user[64];

	for (size_t i = 0; i < NEXEC; i++) {
		CU_ASSERT_EQUAL(get(executors[i], "tail/0", user, sizeof(user), NULL), 200);
		CU_ASSERT_STRING_EQUAL(user, "trigger");
		assert_own_answers(executors[i], users);
	}
}

/* SIGHUP: the same config again, which lets every backend origin reuse its connections again
 * (issue 18); true once the reload is counted and no origin is stopped. */
static bool
reload(void)
{
	double before = integ_metric(&env, "/api/metrics",
	    "fanout_config_reloads_total{result=\"ok\"}");
	int64_t until = clock_now_us() + 5000000;

	if (before < 0 || kill(env.cgi, SIGHUP) != 0)
		return false;
	while (clock_now_us() < until) {
		if (integ_metric(&env, "/api/metrics",
		    "fanout_config_reloads_total{result=\"ok\"}") > before)
			return integ_metric(&env, "/api/metrics", "fanout_backend_reuse_stopped") == 0;
		(void)integ_wait_exit(env.cgi, 20);	/* a pause that also sees a death */
	}
	return false;
}

/* The check refuses only what it must: clean kept connections are still reused, once a reload
 * has lifted the stop the stray answers above put on the backend's origin (issue 18). */
static void
test_clean_connections_reused(void)
{
	static const char *const users[] = { "gina", "hank", "ines", "jack", NULL };
	char user[64];

	CU_ASSERT_EQUAL(integ_metric(&env, "/api/metrics", "fanout_backend_reuse_stopped"), 1);
	CU_ASSERT_FATAL(reload());

	for (size_t i = 0; i < NEXEC; i++) {
		long before;

		CU_ASSERT_EQUAL(get(executors[i], "u/warm", user, sizeof(user), NULL), 200);
		before = integ_stat(stray_port, "connections");
		assert_own_answers(executors[i], users);
		/* + 1: the /stats request itself */
		CU_ASSERT_EQUAL(integ_stat(stray_port, "connections"), before + 1);
	}
}

/* Restarts fanout-cgi with a soft limit of `nofile` descriptors (ours is put back). */
static bool
restart_cgi_with_nofile(rlim_t nofile)
{
	struct rlimit old, low;
	bool ok;

	if (integ_stop(env.cgi) != 0 || getrlimit(RLIMIT_NOFILE, &old) != 0)
		return false;
	low = (struct rlimit){ .rlim_cur = nofile, .rlim_max = old.rlim_max };
	ok = setrlimit(RLIMIT_NOFILE, &low) == 0 && integ_stack_start_cgi(&env, cgi_args);
	return setrlimit(RLIMIT_NOFILE, &old) == 0 && ok;
}

/* After more blocking calls at once than the bound, the pool keeps no more idle handles (each
 * holds descriptors) than the limit allows. */
static void
test_idle_handles_bounded(void)
{
	char url[128];
	struct reply r;
	double idle;

	CU_ASSERT_FATAL(restart_cgi_with_nofile(NOFILE));
	snprintf(url, sizeof(url), "%s/api/wide", env.url);
	CU_ASSERT_FATAL(integ_request(NULL, url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
	idle = integ_metric(&env, "/api/metrics", "fanout_curl_handles_idle");
	printf("\n    %d calls at once, descriptor limit %d: %.0f idle handles kept ", WIDE, NOFILE,
	    idle);
	CU_ASSERT(idle >= 1 && idle <= POOL_BOUND);
}

/* "100 Continue" and then nothing: no final answer, so no status, whatever the executor. */
static void
test_interim_only(void)
{
	for (size_t i = 0; i < NEXEC; i++) {
		struct reply r;
		char user[64];
		json_t *err;

		CU_ASSERT_EQUAL_FATAL(get(executors[i], "interim", user, sizeof(user), &r), 502);
		err = json_array_get(json_object_get(r.json, "errors"), 0);
		CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(err, "kind")), "body");
		CU_ASSERT_PTR_NULL(json_object_get(err, "status"));
		if (json_object_get(err, "status") != NULL)
			printf("\n    %s: %s ", executors[i], buf_str(&r.body));
		reply_free(&r);
	}
}

/*
 * Answers curl 7.88 mishandles, through every executor ("curl": multi held to curl; "multi" is
 * curl's on the threads server, the lean client's on the event server), each after an answer
 * on the same handle and connection:
 * - the first header line folded (fold=1; fold=2: after a "100 Continue" without headers):
 *   curl (#11101) appended it to the previous transfer's last header, which it had freed, and
 *   the process died (ASan: heap-use-after-free in unfold_value). The call fails (there is no
 *   header to continue), the process lives on, and the next user gets its own data;
 * - chunked answers with a trailer, three on one kept connection: 7.88 leaked the trailer's
 *   buffer at each (Debian's deb12u14 fixed it; LeakSanitizer would say so at the stop).
 */
static void
test_backend_shapes(void)
{
	static const char *const users[] = { "mona", NULL };
	static const char *const which[] = { "threads", "pool", "serial", "multi", "curl" };
	char user[64];
	const char *kind;
	struct reply r;
	long before, answered;
	int status;

	for (size_t i = 0; i < sizeof(which) / sizeof(which[0]); i++) {
		for (int fold = 1; fold <= 2; fold++) {
			char path[32];

			CU_ASSERT_EQUAL(get(which[i], "u/alice", user, sizeof(user), NULL), 200);
			snprintf(path, sizeof(path), "fold/%d", fold);
			if ((answered = get(which[i], path, user, sizeof(user), &r)) >= 0) {
				kind = json_string_value(json_object_get(json_array_get(
				    json_object_get(r.json, "errors"), 0), "kind"));
				CU_ASSERT(kind != NULL && strcmp(kind, "body") == 0);
				reply_free(&r);
			}
			CU_ASSERT_EQUAL(answered, 502);
			if (waitpid(env.cgi, &status, WNOHANG) != 0) {
				/* Started again, to see every executor's fate in one run. */
				printf("\n    %s, fold=%d: fanout-cgi died ", which[i], fold);
				CU_FAIL("fanout-cgi died");
				CU_ASSERT_FATAL(integ_stack_start_cgi(&env, cgi_args));
				continue;
			}
			assert_own_answers(which[i], users);
		}
		/* A folded answer does not parse: a sign of a backend out of step, whose origin
		 * keeps no connection until a reload (issue 18). */
		CU_ASSERT_EQUAL(integ_metric(&env, "/api/metrics", "fanout_backend_reuse_stopped"), 1);
		CU_ASSERT_FATAL(reload());
		before = integ_stat(stray_port, "connections");
		for (int k = 0; k < 3; k++) {
			CU_ASSERT_EQUAL(get(which[i], "trailer", user, sizeof(user), NULL), 200);
			CU_ASSERT_STRING_EQUAL(user, "trailer");
		}
		/* One connection for the three (none was kept while the origin was stopped), + 1: the
		 * /stats request itself */
		CU_ASSERT_EQUAL(integ_stat(stray_port, "connections"), before + 2);
	}
}

/* Calls of the lean HTTP/1.1 client so far: each opens a connection or reuses one. */
static double
lean_calls(void)
{
	return integ_metric(&env, "/api/metrics", "fanout_lean_connections_opened_total") +
	    integ_metric(&env, "/api/metrics", "fanout_lean_connections_reused_total");
}

/* Under the event server, an http:// backend goes through the lean client (cgi/backend/h1/h1.h), one held
 * to curl ("client": "curl") through curl; each user gets its own data either way. */
static void
test_lean_or_curl(void)
{
	char user[64];
	double before;

	if (integ_threads_server()) {
		printf("\n    the threads server: no lean client to check ");
		return;
	}
	before = lean_calls();
	CU_ASSERT_EQUAL(get("curl", "u/kim", user, sizeof(user), NULL), 200);
	CU_ASSERT_STRING_EQUAL(user, "kim");
	CU_ASSERT_EQUAL(lean_calls(), before);
	CU_ASSERT_EQUAL(get("multi", "u/lou", user, sizeof(user), NULL), 200);
	CU_ASSERT_STRING_EQUAL(user, "lou");
	CU_ASSERT_EQUAL(lean_calls(), before + 1);
	printf("\n    lean client calls: %.0f before, %.0f after ", before, lean_calls());
}

/* The per-backend count of the connections calls of /api/E/nginx went out on: "opened" or
 * "reused". */
static double
nginx_connections(const char *executor, const char *how)
{
	char series[160];

	snprintf(series, sizeof(series), "fanout_backend_connections_total{endpoint="
	    "\"/api/%s/nginx\",backend=\"x\",connection=\"%s\"}", executor, how);
	return integ_metric(&env, "/api/metrics", series);
}

/* nginx as a backend: every executor's calls (the lean client's under the event server, curl's
 * otherwise) get its answer, over connections it keeps. Ten calls in a row: each counted once,
 * opened or reused, for its backend; most on a kept connection; and the lean client opens one
 * at most per event loop. */
static void
test_nginx_backend(void)
{
	long loops = sysconf(_SC_NPROCESSORS_ONLN);

	for (size_t i = 0; i < NEXEC; i++) {
		const char *e = executors[i];
		double opened = nginx_connections(e, "opened"), reused = nginx_connections(e, "reused");
		char user[64];

		for (int k = 0; k < 10; k++) {
			CU_ASSERT_EQUAL(get(e, "nginx", user, sizeof(user), NULL), 200);
			CU_ASSERT_STRING_EQUAL(user, "nginx");
		}
		opened = nginx_connections(e, "opened") - opened;
		reused = nginx_connections(e, "reused") - reused;
		printf("\n    %s to nginx: %.0f connections opened, %.0f reused ", e, opened, reused);
		CU_ASSERT_EQUAL(opened + reused, 10);
		CU_ASSERT(reused >= 5);
		if (!integ_threads_server() && strcmp(e, "multi") == 0)
			CU_ASSERT(opened <= (loops > 0 ? loops : 1));
	}
}

/* The stack's nginx, which also answers as a backend at /nginx-backend (Content-Length, kept
 * alive): integ_nginx_conf with one more location. */
static bool
front_make(struct buf *out)
{
	const char *at = strstr(integ_nginx_conf, "    location /api/ {");

	return at != NULL && buf_append(out, integ_nginx_conf, (size_t)(at - integ_nginx_conf)) == 0 &&
	    buf_puts(out, "    location = /nginx-backend {\n"
	    "      default_type application/json;\n"
	    "      return 200 '{\"user\":\"nginx\"}';\n"
	    "    }\n") == 0 && buf_puts(out, at) == 0;
}

static int
suite_init(void)
{
	struct buf config = BUF_INIT, front = BUF_INIT;
	bool ok = (stray_port = integ_scratch_backend_start(STRAY, stray_dir, &stray)) > 0 &&
	    config_make(&config) && front_make(&front) &&
	    integ_stack_start(&env, buf_str(&config), buf_str(&front), cgi_args);

	buf_free(&config);
	buf_free(&front);
	if (!ok && stray_port > 0) {	/* CUnit does not call cleanup when init fails */
		(void)integ_scratch_backend_stop(stray, stray_dir);
		stray = -1;
	}
	return ok ? 0 : -1;
}

static int
suite_cleanup(void)
{
	bool ok = integ_stack_stop(&env);

	return integ_scratch_backend_stop(stray, stray_dir) && ok ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "stray answer after the connection went idle: refused", test_tail_later },
		{ "stray answer in the same write: refused", test_tail_at_once },
		{ "clean kept connections: reused again after a reload", test_clean_connections_reused },
		{ "100 Continue and no final answer: no status, every executor", test_interim_only },
		{ "folded first header lines, trailers: every executor lives on",
		    test_backend_shapes },
		{ "idle curl handles bounded by the descriptor limit", test_idle_handles_bounded },
		{ "event server: the lean client for http://, curl when the backend says so",
		    test_lean_or_curl },
		{ "nginx as a backend, every executor; the lean client keeps its connection",
		    test_nginx_backend },
		{ NULL, NULL },
	};

	if (integ_nginx_binary() == NULL) {
		fprintf(stderr, "integ-reuse: SKIP: nginx is not installed (t/check.sh installs it)\n");
		return 77;
	}
	return unit_run("kept backend connections", suite_init, suite_cleanup, tests);
}
