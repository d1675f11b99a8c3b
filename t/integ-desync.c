/* integ-desync.c - a backend out of step under load: mixed answers stop at those in flight. */
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * t/stray-backend with tail=1 sends a second, unrequested answer 1 ms after each real one. On a
 * kept connection that answer is read as the next request's, and the real one as the one after:
 * one user's data served to another, cascading (issue 18, item 2). CLIENTS clients on kept
 * connections send requests, each for a user of its own, through nginx: every answer must carry
 * its own user's data, but for the few in flight when the first sign was seen (at most
 * CLIENTS); none at all with "keepalive": false, or with "echo_request_id" (a call whose answer
 * does not echo its request id fails). Per executor: the event server's "multi" runs on the lean
 * client, "threads" (and the threads server's "multi") on curl.
 *
 * INTEG_DESYNC_BASELINE=1 runs the first case only, with a config the code before issue 18
 * loads: to measure what it did.
 */
#define STRAY "./t/stray-backend"
#define CLIENTS 64
#define MAX_ANSWERS 3000
#define MAX_US 5000000		/* a case's load, at most */

static const char *const executors[] = { "multi", "threads" };
#define NEXEC (sizeof(executors) / sizeof(executors[0]))

static struct integ_stack env;
static pid_t stray = -1;
static int stray_port;
static bool baseline;
static char stray_dir[] = "/tmp/fanout-desync-XXXXXX";

/* More request threads than clients: the threads server holds one per FastCGI connection. */
static const char *const cgi_args[] = { "--threads", "80", NULL };

/* Per executor E: /api/E/ka/u/{name} (connections kept), /api/E/noka/u/{name} ("keepalive":
 * false), /api/E/echo/u/{name} ("echo_request_id") and /api/E/echoin/{w} (the id echoed where
 * t/stray-backend's idin=w puts it), all to the one stray backend. */
static bool
config_make(struct buf *out)
{
	static const char endpoint[] =
	    "  {\"path\": \"/api/%s/%s/u/{name}\", \"executor\": \"%s\", \"timeout_ms\": 3000,\n"
	    "   \"backends\": [{\"name\": \"x\", \"url\": \"http://127.0.0.1:%d/u/{name}?tail=1\""
	    "%s}]},\n";
	int rc = buf_puts(out, "{\"admin\": {\"metrics\": \"/api/metrics\", \"health\": "
	    "\"/api/healthz\"}, \"endpoints\": [\n");

	for (size_t i = 0; i < NEXEC && rc == 0; i++) {
		const char *e = executors[i];

		rc = buf_printf(out, endpoint, e, "ka", e, stray_port, "");
		if (rc == 0 && !baseline)
			rc = buf_printf(out, endpoint, e, "noka", e, stray_port,
			    ", \"keepalive\": false") ||
			    buf_printf(out, endpoint, e, "echo", e, stray_port,
			    ", \"echo_request_id\": \"X-Request-Id\"") ||
			    buf_printf(out, "  {\"path\": \"/api/%s/echoin/{w}\", \"executor\": \"%s\",\n"
			    "   \"backends\": [{\"name\": \"x\", \"url\": \"http://127.0.0.1:%d/u/echoin?"
			    "idin={w}\", \"echo_request_id\": \"X-Request-Id\"}]},\n", e, e, stray_port);
	}
	if (rc == 0 && out->len > 0)
		out->len -= 2;	/* the last ",\n" */
	return rc == 0 && buf_puts(out, "\n]}\n") == 0;
}

/* One client: a kept connection (curl's multi handle keeps it) and its request under way. */
struct client {
	CURL *h;
	struct buf body;
	char user[24];
	char url[160];
};

struct load {
	long answers, own, mixed, failed;
	long first_mixed, last_mixed;	/* the answer's rank, -1 if none */
	double seconds;
};

static size_t
sink(char *data, size_t size, size_t n, void *arg)
{
	return buf_append(arg, data, size * n) == 0 ? size * n : 0;
}

/* The user an answer carries (data.x.user), "" if none. */
static void
answer_user(const struct buf *body, char *out, size_t size)
{
	const char *at = body->len > 0 ? strstr(buf_str(body), "\"user\":\"") : NULL;
	size_t n = 0;

	if (at != NULL)
		for (at += 8; *at != '"' && *at != '\0' && n + 1 < size; at++)
			out[n++] = *at;
	out[n] = '\0';
}

static bool
client_start(CURLM *m, struct client *c, const char *path, long seq)
{
	snprintf(c->user, sizeof(c->user), "q%ld", seq);
	snprintf(c->url, sizeof(c->url), "%s/api/%s/u/%s", env.url, path, c->user);
	buf_truncate(&c->body, 0);
	return curl_easy_setopt(c->h, CURLOPT_URL, c->url) == CURLE_OK &&
	    curl_multi_add_handle(m, c->h) == CURLM_OK;
}

/* CLIENTS clients on /api/PATH/u/USER, a new user each request, until MAX_ANSWERS answers or
 * MAX_US; each answer judged: its own user's data, another's (mixed), or none (failed). */
static bool
load_run(const char *path, struct load *r)
{
	static struct client clients[CLIENTS];
	CURLM *m = curl_multi_init();
	int64_t start = clock_now_us();
	long seq = 0, running = 0;
	bool ok = m != NULL;

	*r = (struct load){ .first_mixed = -1, .last_mixed = -1 };
	for (int i = 0; i < CLIENTS && ok; i++) {
		struct client *c = &clients[i];

		c->body = (struct buf)BUF_INIT;
		ok = (c->h = curl_easy_init()) != NULL &&
		    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, sink) == CURLE_OK &&
		    curl_easy_setopt(c->h, CURLOPT_WRITEDATA, &c->body) == CURLE_OK &&
		    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c) == CURLE_OK &&
		    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 10000L) == CURLE_OK &&
		    client_start(m, c, path, seq++);
		running += ok;
	}
	while (ok && running > 0) {
		int still, left;
		CURLMsg *msg;

		if (curl_multi_perform(m, &still) != CURLM_OK ||
		    curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK ||
		    clock_now_us() - start > MAX_US + 15000000) {
			ok = false;
			break;
		}
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct client *c = NULL;
			char user[64];
			long status = 0;

			if (msg->msg != CURLMSG_DONE)
				continue;
			(void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
			(void)curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &status);
			(void)curl_multi_remove_handle(m, c->h);
			running--;
			answer_user(&c->body, user, sizeof(user));
			if (status == 200 && strcmp(user, c->user) == 0) {
				r->own++;
			} else if (user[0] != '\0' && strcmp(user, c->user) != 0) {
				if (r->first_mixed < 0)
					r->first_mixed = r->answers;
				r->last_mixed = r->answers;
				r->mixed++;
			} else
				r->failed++;
			r->answers++;
			if (seq < MAX_ANSWERS && clock_now_us() - start < MAX_US) {
				if (!client_start(m, c, path, seq++)) {
					ok = false;
					break;
				}
				running++;
			}
		}
	}
	for (int i = 0; i < CLIENTS; i++) {
		if (clients[i].h != NULL) {
			(void)curl_multi_remove_handle(m, clients[i].h);
			curl_easy_cleanup(clients[i].h);
			clients[i].h = NULL;
		}
		buf_free(&clients[i].body);
	}
	curl_multi_cleanup(m);
	r->seconds = (double)(clock_now_us() - start) / 1e6;
	printf("\n    %s: %ld answers in %.1f s: %ld own, %ld mixed (first #%ld, last #%ld), "
	    "%ld failed ", path, r->answers, r->seconds, r->own, r->mixed, r->first_mixed,
	    r->last_mixed, r->failed);
	return ok;
}

static double
metric(const char *series)
{
	return integ_metric(&env, "/api/metrics", series);
}

/* SIGHUP: the config again, which lets every origin reuse connections again; true once the
 * reload is counted and no origin is stopped. */
static bool
reload(void)
{
	double before = metric("fanout_config_reloads_total{result=\"ok\"}");
	int64_t until = clock_now_us() + 5000000;

	if (before < 0 || kill(env.cgi, SIGHUP) != 0)
		return false;
	while (clock_now_us() < until) {
		if (metric("fanout_config_reloads_total{result=\"ok\"}") > before)
			return baseline || metric("fanout_backend_reuse_stopped") == 0;
		(void)integ_wait_exit(env.cgi, 20);	/* a pause that also sees a death */
	}
	return false;
}

/* The origin's count of a sign, 0 if none was seen. */
static double
signs(const char *sign)
{
	char series[160];

	double n;

	snprintf(series, sizeof(series), "fanout_backend_desync_signs_total{origin="
	    "\"http://127.0.0.1:%d\",sign=\"%s\"}", stray_port, sign);
	n = metric(series);
	return n > 0 ? n : 0;	/* no line: none seen */
}

/* Whether the stray backend's origin is shown as no longer reused: counted by /healthz (no
 * name there: anyone may read it), named by the metrics. */
static bool
origin_shown_stopped(void)
{
	char url[160], series[160];
	struct reply r;
	json_t *count;
	bool counted;

	snprintf(url, sizeof(url), "%s/api/healthz", env.url);
	snprintf(series, sizeof(series), "fanout_backend_origin_reuse_stopped{origin="
	    "\"http://127.0.0.1:%d\"}", stray_port);
	if (!integ_request(NULL, url, NULL, &r))
		return false;
	count = json_object_get(r.json, "reuse_stopped");
	counted = json_is_integer(count) && json_integer_value(count) == 1;
	printf("\n    /healthz: %d %s ", (int)r.status, buf_str(&r.body));
	CU_ASSERT_EQUAL(r.status, 200);
	CU_ASSERT(json_is_integer(count));
	CU_ASSERT_PTR_NULL(strstr(buf_str(&r.body), "127.0.0.1"));
	reply_free(&r);
	return counted && metric(series) == 1;
}

/* Connections kept: mixed answers only while the first sign is being seen, then none; the
 * origin is shown as stopped, and a reload lets it be reused again. */
static void
test_kept(void)
{
	for (size_t i = 0; i < NEXEC; i++) {
		char path[64];
		struct load r;

		CU_ASSERT_FATAL(reload());
		snprintf(path, sizeof(path), "%s/ka", executors[i]);
		CU_ASSERT_FATAL(load_run(path, &r));
		CU_ASSERT(r.answers >= 500);
		CU_ASSERT(r.mixed <= CLIENTS);
		/* "then none": no mixed answer in the second half */
		CU_ASSERT(r.last_mixed < r.answers / 2);
		if (baseline)
			continue;
		printf("\n    signs: peek %.0f, trailing %.0f, idle %.0f; stopped %.0f ",
		    signs("peek"), signs("trailing"), signs("idle"),
		    metric("fanout_backend_reuse_stopped"));
		CU_ASSERT(signs("peek") + signs("trailing") + signs("idle") > 0);
		CU_ASSERT_EQUAL(metric("fanout_backend_reuse_stopped"), 1);
		CU_ASSERT(origin_shown_stopped());
	}
	CU_ASSERT(baseline || reload());
	CU_ASSERT(baseline || !origin_shown_stopped());
}

/* "keepalive": false: every call on a connection of its own, so nothing to mix up. */
static void
test_no_keepalive(void)
{
	if (baseline)
		return;
	for (size_t i = 0; i < NEXEC; i++) {
		char path[64];
		struct load r;

		CU_ASSERT_FATAL(reload());
		snprintf(path, sizeof(path), "%s/noka", executors[i]);
		CU_ASSERT_FATAL(load_run(path, &r));
		CU_ASSERT(r.answers >= 500);
		CU_ASSERT_EQUAL(r.mixed, 0);
		CU_ASSERT(r.failed <= r.answers / 100);
	}
}

/* "echo_request_id": an answer that is not the call's own fails the call instead. (Each call's
 * own id, whatever the client sent, is unit-calls' to check: here the first sign stops reuse
 * before a second answer of the same client id could be mixed up.) */
static void
test_echo(void)
{
	if (baseline)
		return;
	for (size_t i = 0; i < NEXEC; i++) {
		char path[64];
		struct load r;
		double before = signs("echo");

		CU_ASSERT_FATAL(reload());
		snprintf(path, sizeof(path), "%s/echo", executors[i]);
		CU_ASSERT_FATAL(load_run(path, &r));
		CU_ASSERT(r.answers >= 500);
		CU_ASSERT_EQUAL(r.mixed, 0);
		printf("\n    echo signs: %.0f ", signs("echo") - before);
	}
}

/* "echo_request_id" reads the final answer's head only: an id echoed only in a trailer (idin=1)
 * or only in a 100 Continue head (idin=2) fails the call, on curl as on the lean client. */
static void
test_echo_final_head(void)
{
	if (baseline)
		return;
	for (size_t i = 0; i < NEXEC; i++) {
		for (int w = 0; w <= 2; w++) {
			char url[192];
			struct reply r;
			const char *user;

			CU_ASSERT_FATAL(reload());
			snprintf(url, sizeof(url), "%s/api/%s/echoin/%d", env.url, executors[i], w);
			CU_ASSERT_FATAL(integ_request(NULL, url, NULL, &r));
			user = json_string_value(json_object_get(json_object_get(json_object_get(r.json,
			    "data"), "x"), "user"));
			printf("\n    %s, idin=%d: %ld, %s ", executors[i], w, r.status,
			    user != NULL ? user : "no data");
			CU_ASSERT_EQUAL(user != NULL, w == 0);
			reply_free(&r);
		}
	}
}

static int
suite_init(void)
{
	struct buf config = BUF_INIT;
	bool ok;

	ok = (stray_port = integ_scratch_backend_start(STRAY, stray_dir, &stray)) > 0 &&
	    config_make(&config) &&
	    integ_stack_start(&env, buf_str(&config), integ_nginx_conf, cgi_args);
	buf_free(&config);
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
		{ "kept connections: mixed answers stop at those in flight", test_kept },
		{ "\"keepalive\": false: no mixed answer", test_no_keepalive },
		{ "\"echo_request_id\": no mixed answer", test_echo },
		{ "\"echo_request_id\": the final head's, not a trailer's or a 1xx head's",
		    test_echo_final_head },
		{ NULL, NULL },
	};
	const char *b = getenv("INTEG_DESYNC_BASELINE");

	baseline = b != NULL && strcmp(b, "1") == 0;
	if (integ_nginx_binary() == NULL) {
		fprintf(stderr, "integ-desync: SKIP: nginx is not installed (t/check.sh installs "
		    "it)\n");
		return 77;
	}
	return unit_run("a backend out of step under load", suite_init, suite_cleanup, tests);
}
