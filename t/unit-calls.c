/* unit-calls.c - backend calls, fetches, responses and the handler: transfers at once through
 * fetch.h; out of memory is the program's failure ("internal", 500), and every request is still
 * answered as it is logged. */
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgi/request/accesslog.h"
#include "cgi/request/call.h"
#include "cgi/backend/desync.h"
#include "cgi/backend/curl/fetch.h"
#include "cgi/request/handler.h"
#include "cgi/request/outcome.h"
#include "cgi/request/route.h"
#include "common/clock.h"
#include "t/unit.h"

/*
 * The program's own malloc, calloc and realloc are wrapped (-Wl,--wrap, Makefile.am): the
 * libraries it links (libc, curl, jansson, CUnit) keep theirs. `counted` counts them from 0;
 * the one numbered `fail_at` fails (-1: none does).
 */
static long fail_at = -1;
static long counted;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);

static bool
may_allocate(void)
{
	return counted++ != fail_at;
}

/* The next allocation fails. */
static void
fail_next(void)
{
	counted = 0;
	fail_at = 0;
}

void *
__wrap_malloc(size_t n)
{
	return may_allocate() ? __real_malloc(n) : NULL;
}

void *
__wrap_calloc(size_t n, size_t size)
{
	return may_allocate() ? __real_calloc(n, size) : NULL;
}

void *
__wrap_realloc(void *p, size_t n)
{
	return may_allocate() ? __real_realloc(p, n) : NULL;
}

static const char config[] =
    "{\"endpoints\": [{\"path\": \"/e/{id}\", \"executor\": \"serial\", \"backends\": ["
    "{\"name\": \"j\", \"url\": \"http://127.0.0.1:1/j/{id}\"},"
    "{\"name\": \"t\", \"url\": \"http://127.0.0.1:1/t\", \"encoding\": \"text\"}]},"
    "{\"path\": \"/d\", \"backends\": ["
    "{\"name\": \"a\", \"url\": \"http://127.0.0.1:1/a\"},"
    "{\"name\": \"b\", \"url\": \"http://127.0.0.1:1/b?v={a./x}\"},"
    "{\"name\": \"c\", \"url\": \"http://127.0.0.1:1/c\"}]},"
    "{\"path\": \"/echo\", \"backends\": ["
    "{\"name\": \"e1\", \"url\": \"http://127.0.0.1:1/e\", \"echo_request_id\": \"X-Id\"},"
    "{\"name\": \"e2\", \"url\": \"http://127.0.0.1:1/e\", \"echo_request_id\": \"X-Id\"}]}]}";

static struct cfg *cfg;
static struct req_vars *vars;

static const char *
no_param(void *ctx, const char *name, size_t *cursor)
{
	(void)ctx, (void)name, (void)cursor;
	return NULL;
}

static int
suite_init(void)
{
	struct buf err = BUF_INIT;
	struct route_match m;
	int rc = -1;

	if (fetch_global_init() == 0 && fanout_init(NULL) == FANOUT_OK && handler_init() == 0 &&
	    accesslog_set_format("text") == 0 &&
	    cfg_load_string(config, strlen(config), "unit", &cfg, &err) == 0 &&
	    route_find(cfg, "/e/x", 4, &m, &err) == ROUTE_OK)
		rc = vars_build(cfg, &m, "", 0, no_param, NULL, "unit", &vars, &err) == VARS_OK ?
		    0 : -1;
	if (rc != 0)
		fprintf(stderr, "unit-calls: setup: %s\n", buf_str(&err));
	buf_free(&err);
	return rc;
}

static int
suite_cleanup(void)
{
	vars_unref(vars);
	cfg_unref(cfg);
	fanout_shutdown();
	fetch_global_cleanup();
	return 0;
}

/* A body judged with no memory left is our failure, not the backend's "body". */
static void
test_judge_no_memory(void)
{
	const struct cfg_endpoint *ep = &cfg->endpoints[0];

	for (size_t i = 0; i < ep->nbackends; i++) {
		struct bcall *c = bcall_new(&ep->backends[i], vars);
		/* A JSON backend's empty 204 becomes null; a text body is quoted. */
		struct fetch_reply reply = { .kind = FETCH_OK, .status = i == 0 ? 204 : 200,
			.body = BUF_INIT };

		CU_ASSERT_PTR_NOT_NULL_FATAL(c);
		if (i == 1)
			CU_ASSERT_EQUAL_FATAL(buf_puts(&reply.body, "plain text"), 0);
		fail_next();
		CU_ASSERT_EQUAL(bcall_judge(c, &reply), 1);
		fail_at = -1;
		CU_ASSERT_EQUAL(c->kind, FETCH_INTERNAL);
		CU_ASSERT_STRING_EQUAL(c->message, "out of memory");
		buf_free(&reply.body);
		bcall_free(c);
	}
}

/* A URL that cannot be expanded for want of memory is not "skipped": the call is ours to fail. */
static void
test_expand_no_memory(void)
{
	struct bcall *c = bcall_new(&cfg->endpoints[0].backends[0], vars);

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	fail_next();
	CU_ASSERT_EQUAL(bcall_run(c), 1);
	fail_at = -1;
	CU_ASSERT_EQUAL(c->kind, FETCH_INTERNAL);
	bcall_free(c);
}

/* A reply to c that echoes `echo`: judged 0 (its own) or 1. */
static int
judge_echo(struct bcall *c, const char *echo)
{
	struct fetch_reply reply = { .kind = FETCH_OK, .status = 200, .body = BUF_INIT,
		.echo_seen = true };
	int rc;

	snprintf(reply.echo, sizeof(reply.echo), "%s", echo);
	CU_ASSERT_EQUAL_FATAL(buf_puts(&reply.body, "{}"), 0);
	rc = bcall_judge(c, &reply);
	buf_free(&reply.body);
	return rc;
}

/* Review 1: with "echo_request_id" each call sends an id of its own ("REQUEST-ID.N") and its
 * answer must echo that one: two calls of one request (the same request id, which the client
 * may choose) whose answers are swapped both fail. */
static void
test_echo_per_call(void)
{
	const struct cfg_endpoint *ep = &cfg->endpoints[2];
	struct bcall *c1 = bcall_new(&ep->backends[0], vars), *c2 = bcall_new(&ep->backends[1],
	    vars);
	struct bcall_request p1, p2;
	char id1[FETCH_ECHO_MAX], id2[FETCH_ECHO_MAX];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c2);
	CU_ASSERT_EQUAL_FATAL(bcall_expand(c1, 1000, &p1), 0);
	CU_ASSERT_EQUAL_FATAL(bcall_expand(c2, 1000, &p2), 0);
	CU_ASSERT_EQUAL(strncmp(p1.headers[0], "X-Request-Id: unit.", 19), 0);
	CU_ASSERT_EQUAL(strncmp(p2.headers[0], "X-Request-Id: unit.", 19), 0);
	snprintf(id1, sizeof(id1), "%s", p1.headers[0] + 14);
	snprintf(id2, sizeof(id2), "%s", p2.headers[0] + 14);
	CU_ASSERT_STRING_NOT_EQUAL(id1, id2);
	bcall_request_free(&p1);
	bcall_request_free(&p2);
	CU_ASSERT_EQUAL(judge_echo(c1, id2), 1);	/* swapped */
	CU_ASSERT_EQUAL(c1->kind, FETCH_BODY);
	CU_ASSERT_EQUAL(judge_echo(c2, id1), 1);
	CU_ASSERT_EQUAL(judge_echo(c1, "unit"), 1);	/* the request's id is not the call's */
	bcall_free(c1);
	bcall_free(c2);
	c1 = bcall_new(&ep->backends[0], vars);
	CU_ASSERT_PTR_NOT_NULL_FATAL(c1);
	CU_ASSERT_EQUAL_FATAL(bcall_expand(c1, 1000, &p1), 0);
	CU_ASSERT_EQUAL(judge_echo(c1, p1.headers[0] + 14), 0);	/* its own */
	bcall_request_free(&p1);
	bcall_free(c1);
	desync_reset();		/* the swaps were signs: the origin's reuse is not for later tests */
}

/* A transfer that cannot be set up is our failure too, not "body". */
static void
test_fetch_no_memory(void)
{
	struct fetch_request req = { .url = "http://127.0.0.1:1/", .timeout_ms = 1000,
		.max_body = 100 };
	struct fetch_reply reply = { .body = BUF_INIT };

	fail_next();
	fetch_get(&req, &reply);
	fail_at = -1;
	CU_ASSERT_EQUAL(reply.kind, FETCH_INTERNAL);
	CU_ASSERT_EQUAL(reply.status, 0);
	buf_free(&reply.body);
}

/* Transfers at once on one cache: each ends once, its token given back with its reply complete;
 * a cancelled one is never given back. Nothing listens on 127.0.0.1:1: each is refused. */
static void
test_fetch_nonblocking(void)
{
	struct fetch_request req = { .url = "http://127.0.0.1:1/", .timeout_ms = 5000,
		.max_body = 100 };
	struct fetch_reply replies[3] = { { .body = BUF_INIT }, { .body = BUF_INIT },
		{ .body = BUF_INIT } };
	struct fetch_transfer *t[3];
	struct fetch_cache *cache = fetch_cache_new();
	int64_t deadline = clock_now_us() + 5000000;
	bool seen[2] = { false, false };
	void *token;

	CU_ASSERT_PTR_NOT_NULL_FATAL(cache);
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_PTR_NOT_NULL_FATAL(t[i] = fetch_start(cache, &req, &replies[i],
		    &replies[i]));
	fetch_cancel(cache, t[2]);
	while (!(seen[0] && seen[1]) && clock_now_us() < deadline) {
		CU_ASSERT_EQUAL_FATAL(fetch_drive(cache, 100000), 0);
		while ((token = fetch_done(cache)) != NULL) {
			size_t i = (size_t)((struct fetch_reply *)token - replies);

			CU_ASSERT_FATAL(i < 2 && !seen[i]);
			seen[i] = true;
			CU_ASSERT_EQUAL(replies[i].kind, FETCH_CONNECT);
			CU_ASSERT_EQUAL(replies[i].status, 0);
		}
	}
	CU_ASSERT(seen[0] && seen[1]);
	CU_ASSERT_PTR_NULL(fetch_done(cache));
	fetch_cache_free(cache);
	for (size_t i = 0; i < 3; i++)
		buf_free(&replies[i].body);
}

/* The response of one request, written into a fixed array: capturing it allocates nothing. */
static struct {
	char data[16384];
	size_t len;
} out;

static int
capture(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	if (len > sizeof(out.data) - out.len)
		return -1;
	memcpy(out.data + out.len, data, len);
	out.len += len;
	return 0;
}

/* The calls of test_outcomes: "a" answers 500, "c" only once released, after its deadline. */
static pthread_mutex_t late_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t late_cv = PTHREAD_COND_INITIALIZER;
static bool late_released;

static int
scripted(void *arg)
{
	struct bcall *c = arg;
	struct fetch_reply reply = { .kind = FETCH_OK, .status = 500, .body = BUF_INIT };
	int rc;

	if (strcmp(c->backend->name, "c") == 0) {
		pthread_mutex_lock(&late_mu);
		while (!late_released)
			pthread_cond_wait(&late_cv, &late_mu);
		pthread_mutex_unlock(&late_mu);
		reply.status = 200;
		(void)buf_puts(&reply.body, "{\"late\":1}");
	}
	rc = bcall_judge(c, &reply);
	buf_free(&reply.body);
	return rc;
}

/* One record per backend, settled once: a failure with its status, a dependant skipped naming
 * it, and a call that timed out, whose late answer is never seen (nor read while written). */
static void
test_outcomes(void)
{
	const struct cfg_endpoint *ep = &cfg->endpoints[1];
	struct outcomes *o = outcomes_plan(fanout_group_new(FANOUT_THREADS,
	    clock_now_us() + 100000), ep, vars, scripted);
	struct http_io io = { .write = capture };
	const struct outcome *a, *b, *c;
	int64_t deadline;
	int status = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(outcomes_count(o), 0);
	CU_ASSERT_EQUAL_FATAL(fanout_group_run(outcomes_group(o)), FANOUT_OK);
	/* The late call answers after the run, and is done within 5 s: before the outcomes are
	 * settled, which must not read it all the same. */
	pthread_mutex_lock(&late_mu);
	late_released = true;
	pthread_cond_broadcast(&late_cv);
	pthread_mutex_unlock(&late_mu);
	deadline = clock_now_us() + 5000000;
	while (fanout_inflight() > 0 && clock_now_us() < deadline)
		sched_yield();
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	outcomes_settle(o);
	CU_ASSERT_EQUAL_FATAL(outcomes_count(o), 3);
	a = outcomes_get(o, 0), b = outcomes_get(o, 1), c = outcomes_get(o, 2);
	CU_ASSERT(a->backend == &ep->backends[0] && b->backend == &ep->backends[1] &&
	    c->backend == &ep->backends[2]);
	CU_ASSERT(a->kind == FETCH_STATUS && a->status == 500 && a->duration_us >= 0);
	CU_ASSERT_STRING_EQUAL(a->message, "HTTP status 500");
	CU_ASSERT(b->kind == FETCH_SKIPPED && b->start_us == -1 && b->duration_us == -1);
	CU_ASSERT_STRING_EQUAL(b->message, "not called: needs a, which failed");
	CU_ASSERT(c->kind == FETCH_TIMEOUT && c->status == 0 && c->json == NULL);
	/* The response reads the same records: a's status, b skipped, c's timeout (504). */
	out.len = 0;
	CU_ASSERT_EQUAL(respond_fanout(&io, ep, o, "unit", 1000, false, &status), RESPOND_OK);
	CU_ASSERT_EQUAL(status, 504);
	out.data[out.len < sizeof(out.data) ? out.len : sizeof(out.data) - 1] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "\"data\":{\"a\":null,\"b\":null,\"c\":null}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "{\"backend\":\"a\",\"kind\":\"status\","
	    "\"status\":500,\"message\":\"HTTP status 500\"}"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, "b;dur=0.0;desc=\"skipped\", c;dur="));
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data, ";desc=\"timeout\", total;dur="));
	outcomes_free(o);
}

/* "a" fails with a message cut inside a UTF-8 character (curl's text, cut at a byte count). */
static int
cut_message(void *arg)
{
	struct bcall *c = arg;
	struct fetch_reply reply = { .kind = FETCH_BODY, .body = BUF_INIT };

	if (strcmp(c->backend->name, "a") == 0)
		snprintf(reply.message, sizeof(reply.message), "broken at caf\xc3");
	else
		reply.kind = FETCH_OK, reply.status = 200, (void)buf_puts(&reply.body, "1");
	return bcall_judge(c, &reply) + (buf_free(&reply.body), 0);
}

/* A message that is not UTF-8 is answered with the kind in its place, not as a 500. */
static void
test_message_not_utf8(void)
{
	const struct cfg_endpoint *ep = &cfg->endpoints[1];
	struct outcomes *o = outcomes_plan(fanout_group_new(FANOUT_THREADS,
	    clock_now_us() + 2000000), ep, vars, cut_message);
	struct http_io io = { .write = capture };
	int status = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL_FATAL(fanout_group_run(outcomes_group(o)), FANOUT_OK);
	outcomes_settle(o);
	out.len = 0;
	CU_ASSERT_EQUAL(respond_fanout(&io, ep, o, "unit", 1000, false, &status), RESPOND_OK);
	CU_ASSERT_EQUAL(status, 502);
	out.data[out.len < sizeof(out.data) ? out.len : sizeof(out.data) - 1] = '\0';
	CU_ASSERT_PTR_NOT_NULL(strstr(out.data,
	    "{\"backend\":\"a\",\"kind\":\"body\",\"message\":\"body\"}"));
	outcomes_free(o);
}

static const char *request_uri;

static const char *
request_param(void *ctx, const char *name, size_t *cursor)
{
	(void)ctx;
	if (cursor != NULL && *cursor > 0)
		return NULL;
	if (cursor != NULL)
		*cursor = 1;
	if (strcmp(name, "REQUEST_METHOD") == 0)
		return "GET";
	return strcmp(name, "REQUEST_URI") == 0 ? request_uri : NULL;
}

/* Serves uri with its allocation numbered `fail` failing (-1: none), its access log line read
 * back from stderr. Returns the status of that line, -1 if there is none. */
static int
serve(const char *uri, long fail)
{
	struct http_io io = { .param = request_param, .write = capture };
	char line[1024], path[64];
	FILE *log = tmpfile();
	int saved = dup(STDERR_FILENO), status = -1;
	size_t n;

	CU_ASSERT_FATAL(log != NULL && saved >= 0 && dup2(fileno(log), STDERR_FILENO) >= 0);
	request_uri = uri;
	out.len = 0;
	counted = 0;
	fail_at = fail;
	handler_serve(cfg, &io);
	fail_at = -1;
	CU_ASSERT_FATAL(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(log);
	n = fread(line, 1, sizeof(line) - 1, log);
	line[n] = '\0';
	fclose(log);
	/* "TIME ID GET PATH STATUS MS ..." */
	if (sscanf(line, "%*s %*s GET %63s %d", path, &status) != 2)
		return -1;
	return status;
}

/* The status the response written says, -1 if none was written. */
static int
written_status(void)
{
	int status;

	return out.len > 8 && memcmp(out.data, "Status: ", 8) == 0 &&
	    sscanf(out.data + 8, "%d", &status) == 1 ? status : -1;
}

/* Whichever allocation fails, the request is answered, and logged with the status it was
 * answered with: the one meant, or 500. (When the one that fails is the log line's own, there
 * is no line to compare.) */
static void
check_answered(const char *uri, int meant)
{
	long needed;
	int status;

	CU_ASSERT_EQUAL_FATAL(serve(uri, -1), meant);
	CU_ASSERT_EQUAL(written_status(), meant);
	needed = counted;
	CU_ASSERT_FATAL(needed > 0 && needed < 10000);
	for (long k = 0; k < needed; k++) {
		if ((status = serve(uri, k)) == -1)
			continue;
		CU_ASSERT(status == meant || status == 500);
		CU_ASSERT_EQUAL(written_status(), status);
		if (written_status() != status)
			fprintf(stderr, "%s, allocation %ld failing: logged %d, answered %d\n", uri, k,
			    status, written_status());
	}
}

static void
test_answered_no_memory(void)
{
	check_answered("/nowhere", 404);
	/* Both backends are refused at once (nothing listens on port 1). */
	check_answered("/e/x", 502);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a body judged without memory is internal", test_judge_no_memory },
		{ "a URL expanded without memory is internal", test_expand_no_memory },
		{ "echo_request_id: each call echoes an id of its own", test_echo_per_call },
		{ "a transfer set up without memory is internal", test_fetch_no_memory },
		{ "transfers at once on a cache: each token back once", test_fetch_nonblocking },
		{ "one outcome per backend, settled once", test_outcomes },
		{ "a message that is not UTF-8: the kind stands for it", test_message_not_utf8 },
		{ "a request is answered as logged, whichever allocation fails",
		    test_answered_no_memory },
		{ NULL, NULL },
	};

	return unit_run("calls", suite_init, suite_cleanup, tests);
}
