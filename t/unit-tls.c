/* unit-tls.c - cgi/backend/curl/fetch.c over TLS: a new connection to an https:// backend
 * resumes the session of an earlier call on the same cache, though each call has a new easy
 * handle. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi/backend/curl/fetch.h"
#include "common/clock.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * The backend is `openssl s_server -www` with a certificate made here: it answers each
 * connection with a page that says whether its TLS session was "New" or "Reused", and closes
 * it, so every call opens a connection. fanout-cgi has no CA option (curl's system bundle
 * verifies backends): the test trusts its own certificate by wrapping curl_easy_init
 * (-Wl,--wrap), which sets it as CURLOPT_CAINFO on every handle fetch makes.
 */
#define OPENSSL "/usr/bin/openssl"
#define CALLS 4
#define THREADS 4

static char dir[] = "/tmp/fanout-tls-XXXXXX";
static char cert[64], key[64], out[64];
static pid_t server = -1;
static int port;

CURL *__real_curl_easy_init(void);
CURL *__wrap_curl_easy_init(void);

CURL *
__wrap_curl_easy_init(void)
{
	CURL *h = __real_curl_easy_init();

	if (h != NULL && curl_easy_setopt(h, CURLOPT_CAINFO, cert) != CURLE_OK) {
		curl_easy_cleanup(h);
		return NULL;
	}
	return h;
}

/* A self-signed certificate for 127.0.0.1; true if made. */
static bool
cert_make(void)
{
	char *argv[] = { OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt",
		"ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN=127.0.0.1", "-addext",
		"subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout", key, "-out", cert, NULL };
	pid_t pid = integ_spawn(argv, NULL, -1, "/dev/null", "/dev/null");

	return pid > 0 && integ_wait_exit(pid, 10000) == 0;
}

/* s_server on 127.0.0.1, any free port: it says which ("ACCEPT 127.0.0.1:PORT") on stdout. */
static bool
server_start(void)
{
	char *argv[] = { OPENSSL, "s_server", "-accept", "127.0.0.1:0", "-cert", cert, "-key", key,
		"-www", NULL };
	int64_t until = clock_now_us() + 5000000;
	struct buf text = BUF_INIT;
	const char *at;

	if ((server = integ_spawn(argv, NULL, -1, out, "/dev/null")) < 0)
		return false;
	while (port == 0 && clock_now_us() < until) {
		if (integ_read_file(out, &text) &&
		    (at = strstr(buf_str(&text), "ACCEPT 127.0.0.1:")) != NULL &&
		    strchr(at, '\n') != NULL && sscanf(at + 17, "%5d", &port) != 1)	/* a whole line */
			port = 0;
		buf_free(&text);
		if (port == 0 && integ_wait_exit(server, 20) >= 0)	/* a pause; sees a death */
			return false;
	}
	return port > 0;
}

/* What the page says of the call's TLS session: "New", "Reused", or "" if it does not say. */
static const char *
session_of(const struct fetch_reply *r)
{
	const char *body = r->body.len > 0 ? buf_str(&r->body) : "";

	return strstr(body, "\nReused, ") != NULL ? "Reused" : strstr(body, "\nNew, ") != NULL ?
	    "New" : "";
}

/* Blocking calls, one after another (each on the pooled cache the last one gave back): the
 * first makes a session, every later one resumes it on a new connection. */
static void
test_blocking_resumes(void)
{
	char url[64];
	struct fetch_request req = { .url = url, .timeout_ms = 5000, .max_body = 1 << 20 };

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	for (int i = 0; i < CALLS; i++) {
		struct fetch_reply r = { .body = BUF_INIT };

		fetch_get(&req, &r);
		printf("\n    call %d: %s %ld, %s (%s) ", i, fetch_kind_name(r.kind), r.status,
		    session_of(&r), r.kind == FETCH_OK ? "" : r.message);
		CU_ASSERT_EQUAL(r.kind, FETCH_OK);
		CU_ASSERT_EQUAL(r.conn, FETCH_CONN_OPENED);
		CU_ASSERT_STRING_EQUAL(session_of(&r), i == 0 ? "New" : "Reused");
		buf_free(&r.body);
	}
}

static atomic_int ok_calls, new_sessions;

static void *
caller(void *arg)
{
	const struct fetch_request *req = arg;

	for (int i = 0; i < CALLS; i++) {
		struct fetch_reply r = { .body = BUF_INIT };

		fetch_get(req, &r);
		if (r.kind == FETCH_OK)
			atomic_fetch_add(&ok_calls, 1);
		if (strcmp(session_of(&r), "New") == 0)
			atomic_fetch_add(&new_sessions, 1);
		buf_free(&r.body);
	}
	return NULL;
}

/* THREADS threads making blocking calls at once: the pooled caches, and their shares, go from
 * one thread to another (under ThreadSanitizer, this checks that a share needs no locks). At
 * most THREADS caches are ever made (the pool keeps them all), and each makes one session. */
static void
test_threads_share(void)
{
	char url[64];
	struct fetch_request req = { .url = url, .timeout_ms = 10000, .max_body = 1 << 20 };
	pthread_t tid[THREADS];
	int started = 0;

	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	atomic_store(&ok_calls, 0);
	atomic_store(&new_sessions, 0);
	while (started < THREADS && pthread_create(&tid[started], NULL, caller, &req) == 0)
		started++;
	CU_ASSERT_EQUAL(started, THREADS);
	while (started > 0)
		(void)pthread_join(tid[--started], NULL);
	printf("\n    %d calls ok of %d, %d new sessions ", atomic_load(&ok_calls), THREADS * CALLS,
	    atomic_load(&new_sessions));
	CU_ASSERT_EQUAL(atomic_load(&ok_calls), THREADS * CALLS);
	CU_ASSERT(atomic_load(&new_sessions) <= THREADS);
}

static int
suite_init(void)
{
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(out, sizeof(out), "%s/out", dir);
	return fetch_global_init() == 0 && cert_make() && server_start() ? 0 : -1;
}

static int
suite_cleanup(void)
{
	bool ok = server < 0 || integ_stop(server) >= 0;	/* 143: it ends by SIGTERM */

	fetch_global_cleanup();
	return integ_remove_tree(dir) && ok ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "https: a new connection resumes the cache's TLS session", test_blocking_resumes },
		{ "https: blocking calls from several threads share pooled sessions",
		    test_threads_share },
		{ NULL, NULL },
	};

	if (access(OPENSSL, X_OK) != 0) {
		fprintf(stderr, "unit-tls: SKIP: %s is not installed\n", OPENSSL);
		return 77;
	}
	return unit_run("backend calls over TLS", suite_init, suite_cleanup, tests);
}
