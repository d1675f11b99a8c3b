/* unit-h1.c - cgi/backend/h1/h1.c, the lean HTTP/1.1 client, driven by a cgi/loop/loop.h loop against
 * t/mock-backend and t/stray-backend; and its parser's cases (unit-h1-parse.c). */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgi/backend/curl/fetch.h"
#include "cgi/backend/h1/h1.h"
#include "common/clock.h"
#include "t/integ.h"
#include "t/unit-h1.h"

#define STRAY "./t/stray-backend"
#define SECOND_US 1000000

static char dir[] = "/tmp/fanout-h1-XXXXXX";
static pid_t mock = -1, stray = -1;
static int mock_port, stray_port, closed_port, closed_fd = -1;

/* The loop of the test, its client, and what ended() saw. */
static struct loop *lp;
static struct h1_client *cl;
static struct loop_timer guard;
static size_t waiting;		/* calls expected to end before the loop stops */
static bool in_h1_call;		/* an h1_* call of the test is under way */
static bool ended_inside;	/* ended() was called from inside one: against the contract */
static struct fetch_request with;	/* no_reuse, echo_header, origin of the next calls */

/* A GET of the test, and how it ended. */
struct call {
	char url[256];
	const char *headers[3];
	struct fetch_request req;
	struct fetch_reply reply;
	struct h1_transfer *t;
	bool done;
};

static void
on_ended(void *ctx)
{
	struct call *call;

	(void)ctx;
	if (in_h1_call)
		ended_inside = true;
	while ((call = h1_done(cl)) != NULL) {
		CU_ASSERT_FALSE(call->done);
		call->done = true;
		if (waiting > 0)
			waiting--;
	}
	if (waiting == 0)
		loop_stop(lp);
}

static void
guard_fired(void *ctx)
{
	(void)ctx;
	loop_stop(lp);
}

/* Runs the loop until `n` calls have ended, or ms have passed; true if they have. */
static bool
run(size_t n, long ms)
{
	waiting = n;
	CU_ASSERT_FATAL(loop_timer_set(lp, &guard, clock_now_us() + ms * 1000) == 0);
	CU_ASSERT_FATAL(loop_run(lp) == 0);
	loop_timer_stop(lp, &guard);
	return waiting == 0;
}

static const char *spelling = "127.0.0.1";	/* the host the next calls' URLs name */

static bool
call_start(struct call *call, int port, const char *target, long timeout_ms, size_t max_body)
{
	snprintf(call->url, sizeof(call->url), "http://%s:%d%s", spelling, port, target);
	call->headers[0] = "X-Request-Id: h1-test";
	call->headers[1] = "Accept-Language: fr";
	call->headers[2] = NULL;
	call->req = (struct fetch_request){ .url = call->url, .headers = call->headers,
		.timeout_ms = timeout_ms, .max_body = max_body, .no_reuse = with.no_reuse,
		.echo_header = with.echo_header, .origin = with.origin };
	call->reply = (struct fetch_reply){ .body = BUF_INIT };
	call->done = false;
	in_h1_call = true;
	call->t = h1_start(cl, &call->req, &call->reply, call);
	in_h1_call = false;
	return call->t != NULL;
}

/* One GET alone, run to its end: false if it did not end within 5 s (then cancelled). */
static bool
call_run(struct call *call, int port, const char *target, long timeout_ms, size_t max_body)
{
	if (!call_start(call, port, target, timeout_ms, max_body))
		return false;
	if (run(1, 5000))
		return true;
	h1_cancel(cl, call->t);
	return false;
}

/* GETs target alone and returns its body (static; "" if it failed). */
static const char *
get_one(int port, const char *target)
{
	static char body[512];
	struct call call;

	body[0] = '\0';
	if (call_run(&call, port, target, 5000, 65536) && call.reply.kind == FETCH_OK &&
	    call.reply.status == 200)
		snprintf(body, sizeof(body), "%s", buf_str(&call.reply.body));
	else
		printf("\n    GET %s: %s ", target, call.reply.message);
	buf_free(&call.reply.body);
	return body;
}

static void
test_supports(void)
{
	/* As the config's parser reads them (origin_parse()): a port of leading zeros or an
	 * empty one is taken, an upper-case scheme is not (the config never has one). */
	static const char *const yes[] = { "http://127.0.0.1/", "http://127.0.0.1:8080/a?b=c",
		"http://[::1]:81/x", "http://localhost", "http://10.0.0.1?q",
		"http://127.0.0.1:000080/", "http://127.0.0.1:/", NULL };
	static const char *const no[] = { "https://127.0.0.1/", "http://example.com/",
		"http://u@127.0.0.1/", "http://127.0.0.1:65536/", "HTTP://127.0.0.1:8080/",
		"http://127.0.0.1/a b", "http://127.0.0.1/#top", "http://[::1/", "http:///x",
		"ftp://127.0.0.1/", "http://127.0.0.1:0/", NULL };

	for (size_t i = 0; yes[i] != NULL; i++)
		CU_ASSERT(h1_supports(yes[i]));
	for (size_t i = 0; no[i] != NULL; i++) {
		if (h1_supports(no[i]))
			printf("\n    supported: %s ", no[i]);
		CU_ASSERT_FALSE(h1_supports(no[i]));
	}
}

static void
test_concurrent(void)
{
	static const char *const values[] = { "one", "two", "three" };
	struct call calls[3];
	char want[64];

	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "/v%d?value=%s&delay=100", i, values[i]);
		CU_ASSERT_FATAL(call_start(&calls[i], mock_port, want, 5000, 65536));
	}
	CU_ASSERT(run(3, 5000));
	for (int i = 0; i < 3; i++) {
		const char *body = buf_str(&calls[i].reply.body);

		snprintf(want, sizeof(want), "\"value\":\"%s\"", values[i]);
		CU_ASSERT_EQUAL(calls[i].reply.kind, FETCH_OK);
		CU_ASSERT_EQUAL(calls[i].reply.status, 200);
		CU_ASSERT_PTR_NOT_NULL(strstr(body, want));
		CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"X-Request-Id\":\"h1-test\""));
		CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"Accept-Language\":\"fr\""));
		CU_ASSERT_PTR_NOT_NULL(strstr(body, "\"User-Agent\":\"fcgi-fanout/"));
		buf_free(&calls[i].reply.body);
	}
	CU_ASSERT_FALSE(ended_inside);
}

static void
test_kept_alive(void)
{
	struct call calls[3];
	long before = -1, after;
	struct h1_stats s0 = h1_stats(cl), s1;

	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++)
			CU_ASSERT_FATAL(call_start(&calls[i], mock_port, "/k?delay=50", 5000, 65536));
		CU_ASSERT(run(3, 5000));
		for (int i = 0; i < 3; i++) {
			CU_ASSERT_EQUAL(calls[i].reply.kind, FETCH_OK);
			buf_free(&calls[i].reply.body);
		}
		if (round == 0)
			before = integ_json_long(get_one(mock_port, "/stats"), "connections");
	}
	after = integ_json_long(get_one(mock_port, "/stats"), "connections");
	s1 = h1_stats(cl);
	printf("\n    mock connections after round 1: %ld, after round 2: %ld; opened %lu, "
	    "reused %lu ", before, after, s1.opened - s0.opened, s1.reused - s0.reused);
	CU_ASSERT(before > 0);
	CU_ASSERT_EQUAL(after, before);
	CU_ASSERT(s1.reused - s0.reused >= 4);
}

/* Chunked, dripped, HTTP/1.0 close-delimited, large: each whole; past the cap: too_large. */
static void
test_framings(void)
{
	static const char *const ok[] = { "/c?chunked=1&value=c", "/d?drip=5&value=d",
		"/h?http10=1&value=h", "/b?body=big&size=60000", "/b?body=big&size=60000&chunked=1",
		NULL };
	static const char *const large[] = { "/l?body=big&size=70000",
		"/l?body=big&size=70000&chunked=1", "/l?body=big&size=70000&http10=1", NULL };
	struct call call;

	for (size_t i = 0; ok[i] != NULL; i++) {
		CU_ASSERT_FATAL(call_run(&call, mock_port, ok[i], 5000, 65536));
		if (call.reply.kind != FETCH_OK)
			printf("\n    %s: %s ", ok[i], call.reply.message);
		CU_ASSERT_EQUAL(call.reply.kind, FETCH_OK);
		CU_ASSERT_EQUAL(call.reply.status, 200);
		if (strstr(ok[i], "big") != NULL) {
			CU_ASSERT(call.reply.body.len >= 60000);
		} else {
			CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&call.reply.body), "\"value\":"));
		}
		buf_free(&call.reply.body);
	}
	for (size_t i = 0; large[i] != NULL; i++) {
		CU_ASSERT_FATAL(call_run(&call, mock_port, large[i], 5000, 65536));
		CU_ASSERT_EQUAL(call.reply.kind, FETCH_TOO_LARGE);
		CU_ASSERT(call.reply.body.len <= 65536);
		CU_ASSERT_STRING_EQUAL(call.reply.message, "body larger than 65536 bytes");
		buf_free(&call.reply.body);
	}
}

/* Refused, timed out before and during the answer, reset: the kinds curl's path gives. */
static void
test_failures(void)
{
	struct call call;

	CU_ASSERT_FATAL(call_run(&call, closed_port, "/x", 2000, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_CONNECT);
	CU_ASSERT_PTR_NOT_NULL(strstr(call.reply.message, "Connection refused"));
	CU_ASSERT_FATAL(call_run(&call, mock_port, "/slow?delay=1500", 200, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_TIMEOUT);
	CU_ASSERT_PTR_NOT_NULL(strstr(call.reply.message, "timed out after"));
	CU_ASSERT_FATAL(call_run(&call, mock_port, "/hang?hang=1", 300, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_TIMEOUT);
	CU_ASSERT_EQUAL(call.reply.status, 200);
	buf_free(&call.reply.body);
	CU_ASSERT_FATAL(call_run(&call, mock_port, "/r?reset=1", 2000, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_BODY);
	CU_ASSERT_STRING_EQUAL(call.reply.message, "Empty reply from server");
	CU_ASSERT_FALSE(ended_inside);
}

/* A kept connection closed by the backend as the GET goes out: sent again once, on a new one. */
static void
test_retry_once(void)
{
	struct h1_stats s0, s1;
	struct call call;

	CU_ASSERT_PTR_NOT_NULL(strstr(get_one(mock_port, "/warm?value=w"), "\"w\""));
	s0 = h1_stats(cl);
	CU_ASSERT_FATAL(call_run(&call, mock_port, "/r?reset=1", 2000, 4096));
	s1 = h1_stats(cl);
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_BODY);
	CU_ASSERT_EQUAL(s1.reused - s0.reused, 1);	/* the kept connection, first */
	CU_ASSERT_EQUAL(s1.opened - s0.opened, 1);	/* then one new one: once */
}

/* Issue 7: an answer nobody asked for, later or in the same write, never answers the next GET. */
static void
test_stray(void)
{
	long tails = integ_stat(stray_port, "tails");
	unsigned long refused = h1_stats(cl).stray_refused, opened;
	struct call call;

	CU_ASSERT_FATAL(tails >= 0);
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/alice"), "{\"user\":\"alice\"}");
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/trigger?tail=100"),
	    "{\"user\":\"trigger\"}");
	CU_ASSERT_FATAL(integ_await_stat(stray_port, "tails", tails + 1, stray));
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/bob"), "{\"user\":\"bob\"}");
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/carol"), "{\"user\":\"carol\"}");
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/trigger?tail=0"), "{\"user\":\"trigger\"}");
	/* Read with its answer or left waiting, the stray answer closed that connection. */
	opened = h1_stats(cl).opened;
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/dave"), "{\"user\":\"dave\"}");
	CU_ASSERT_EQUAL(h1_stats(cl).opened, opened + 1);
	CU_ASSERT_EQUAL(h1_stats(cl).stray_refused, refused + 2);
	/* An interim answer, then the end of the connection: no answer at all. */
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/x?interim=1", 2000, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_BODY);
	CU_ASSERT_EQUAL(call.reply.status, 0);
}

/* Bytes that come on an idle connection while the loop runs close it there and then. */
static void
test_idle_watched(void)
{
	struct h1_stats s0, s1;
	int64_t until = clock_now_us() + 5 * SECOND_US;

	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/ivy?tail=100"), "{\"user\":\"ivy\"}");
	s0 = h1_stats(cl);
	do {
		CU_ASSERT_FALSE(run(1, 50));	/* nothing under way: the loop only watches */
	} while ((s1 = h1_stats(cl)).stray_refused == s0.stray_refused && clock_now_us() < until);
	CU_ASSERT_EQUAL(s1.stray_refused, s0.stray_refused + 1);
	CU_ASSERT_EQUAL(s1.opened, s0.opened);	/* refused without a new request */
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/jo"), "{\"user\":\"jo\"}");
	CU_ASSERT_EQUAL(h1_stats(cl).opened, s1.opened + 1);
	CU_ASSERT_EQUAL(h1_stats(cl).reused, s1.reused);
}

static char idle_origin[64];	/* what idle_bytes() was told */

static void
idle_bytes(void *ctx, const char *origin)
{
	(void)ctx;
	snprintf(idle_origin, sizeof(idle_origin), "%s", origin != NULL ? origin : "(null)");
}

/* Issue 18: the signs of a backend out of step, each where it is seen; a call that asks for no
 * reuse neither takes nor keeps a connection; the echoed header is read. */
static void
test_signs(void)
{
	long tails = integ_stat(stray_port, "tails");
	struct h1_stats s0;
	struct call call;
	int64_t until = clock_now_us() + 5 * SECOND_US;

	h1_client_on_idle_bytes(cl, idle_bytes);
	with = (struct fetch_request){ .echo_header = "x-request-id", .origin = "o-test" };
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/kay?tail=0", 5000, 4096));
	CU_ASSERT_EQUAL(call.reply.signs, FETCH_SIGN_TRAILING);
	CU_ASSERT_TRUE(call.reply.echo_seen);
	CU_ASSERT_STRING_EQUAL(call.reply.echo, "h1-test");
	buf_free(&call.reply.body);
	/* A stray answer waiting when the next GET would take the connection: a peek. */
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/lee?tail=100", 5000, 4096));
	CU_ASSERT_EQUAL(call.reply.signs, 0);
	buf_free(&call.reply.body);
	CU_ASSERT_FATAL(integ_await_stat(stray_port, "tails", tails + 2, stray));
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/max", 5000, 4096));
	CU_ASSERT_EQUAL(call.reply.signs, FETCH_SIGN_PEEK);
	CU_ASSERT_EQUAL(call.reply.conn, FETCH_CONN_OPENED);
	buf_free(&call.reply.body);
	/* The same while the loop runs: told to idle_bytes(), with the origin. */
	idle_origin[0] = '\0';
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/ned?tail=100", 5000, 4096));
	buf_free(&call.reply.body);
	while (idle_origin[0] == '\0' && clock_now_us() < until)
		CU_ASSERT_FALSE(run(1, 50));
	CU_ASSERT_STRING_EQUAL(idle_origin, "o-test");
	/* No reuse: each GET on a connection of its own, none kept. */
	with.no_reuse = true;
	s0 = h1_stats(cl);
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/ola"), "{\"user\":\"ola\"}");
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/pia"), "{\"user\":\"pia\"}");
	CU_ASSERT_EQUAL(h1_stats(cl).opened, s0.opened + 2);
	CU_ASSERT_EQUAL(h1_stats(cl).reused, s0.reused);
	with = (struct fetch_request){ 0 };
	h1_client_on_idle_bytes(cl, NULL);
}

/* Review finding 5: an answer refused for its content (here a control character in a header
 * value, framed cleanly) fails the call and closes its connection, but is no sign of a backend
 * out of step; one whose framing is lost (a status line that cannot be read) is. */
static void
test_refusal_signs(void)
{
	struct h1_stats s;
	struct call call;

	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/quin?refuse=1", 5000, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_BODY);
	CU_ASSERT_STRING_EQUAL(call.reply.message, "control character in a header value");
	CU_ASSERT_EQUAL(call.reply.signs, 0);
	buf_free(&call.reply.body);
	/* Either way the connection is not kept: each next GET opens one. */
	s = h1_stats(cl);
	CU_ASSERT_FATAL(call_run(&call, stray_port, "/u/rue?refuse=2", 5000, 4096));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_BODY);
	CU_ASSERT_STRING_EQUAL(call.reply.message, "malformed status line");
	CU_ASSERT_EQUAL(call.reply.signs, FETCH_SIGN_UNPARSED);
	CU_ASSERT_EQUAL(call.reply.conn, FETCH_CONN_OPENED);
	buf_free(&call.reply.body);
	s = h1_stats(cl);
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/sam"), "{\"user\":\"sam\"}");
	CU_ASSERT_EQUAL(h1_stats(cl).opened, s.opened + 1);
	CU_ASSERT_EQUAL(h1_stats(cl).reused, s.reused);
}

/* Review 2: two origins of one address, "127.0.0.1" and "localhost", keep their connections
 * apart (as curl does): a call to one never takes the other's kept connection, which may be out
 * of step with its reuse stopped, and bytes on an idle one are told with the origin that opened
 * it. */
static void
test_origins_apart(void)
{
	struct h1_stats s0;
	int64_t until = clock_now_us() + 5 * SECOND_US;

	h1_client_on_idle_bytes(cl, idle_bytes);
	with = (struct fetch_request){ .origin = "o-a" };
	CU_ASSERT_STRING_NOT_EQUAL(get_one(mock_port, "/q?value=a"), "");
	s0 = h1_stats(cl);
	spelling = "localhost", with.origin = "o-b";
	CU_ASSERT_STRING_NOT_EQUAL(get_one(mock_port, "/q?value=b"), "");
	CU_ASSERT_EQUAL(h1_stats(cl).opened, s0.opened + 1);	/* not o-a's kept one */
	CU_ASSERT_EQUAL(h1_stats(cl).reused, s0.reused);
	CU_ASSERT_STRING_NOT_EQUAL(get_one(mock_port, "/q?value=b"), "");
	CU_ASSERT_EQUAL(h1_stats(cl).reused, s0.reused + 1);	/* its own */
	spelling = "127.0.0.1", with.origin = "o-a";
	CU_ASSERT_STRING_NOT_EQUAL(get_one(mock_port, "/q?value=a"), "");
	CU_ASSERT(h1_stats(cl).reused == s0.reused + 2 && h1_stats(cl).opened == s0.opened + 1);
	/* o-a keeps a connection to the stray backend; o-b's stray bytes are o-b's. */
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/al"), "{\"user\":\"al\"}");
	idle_origin[0] = '\0';
	spelling = "localhost", with.origin = "o-b";
	CU_ASSERT_STRING_EQUAL(get_one(stray_port, "/u/bo?tail=100"), "{\"user\":\"bo\"}");
	while (idle_origin[0] == '\0' && clock_now_us() < until)
		CU_ASSERT_FALSE(run(1, 50));
	CU_ASSERT_STRING_EQUAL(idle_origin, "o-b");
	spelling = "127.0.0.1";
	with = (struct fetch_request){ 0 };
	h1_client_on_idle_bytes(cl, NULL);
}

/* A cancelled GET is never reported; the client freed with GETs under way ends them. */
static void
test_cancel(void)
{
	struct call slow, quick;

	CU_ASSERT_FATAL(call_start(&slow, mock_port, "/slow?delay=500", 5000, 4096));
	CU_ASSERT_FALSE(run(1, 100));		/* the request is out, the answer not in */
	in_h1_call = true;
	h1_cancel(cl, slow.t);
	in_h1_call = false;
	CU_ASSERT_STRING_NOT_EQUAL(get_one(mock_port, "/q?value=q"), "");
	CU_ASSERT_FALSE(run(1, 700));		/* past the slow answer: nothing reported */
	CU_ASSERT_FALSE(slow.done);
	buf_free(&slow.reply.body);
	CU_ASSERT_FATAL(call_start(&slow, mock_port, "/slow?delay=500", 5000, 4096));
	CU_ASSERT_FATAL(call_start(&quick, closed_port, "/refused", 5000, 4096));
	h1_client_free(cl);			/* one under way, one maybe ended: both go */
	CU_ASSERT_FALSE(slow.done || quick.done);
	buf_free(&slow.reply.body);
	buf_free(&quick.reply.body);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cl = h1_client_new(lp, on_ended, NULL));
	CU_ASSERT_FALSE(ended_inside);
}

/* A port bound and not listening: connections to it are refused. */
static int
closed_port_hold(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);

	if ((closed_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(closed_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(closed_fd, (struct sockaddr *)&sa, &len) != 0)
		return 0;
	return ntohs(sa.sin_port);
}

static int
suite_init(void)
{
	if (fetch_global_init() != 0 || mkdtemp(dir) == NULL || (lp = loop_new()) == NULL ||
	    (cl = h1_client_new(lp, on_ended, NULL)) == NULL)
		return -1;
	loop_timer_init(&guard, guard_fired, NULL);
	mock_port = integ_backend_start(MOCK, dir, "mock-port", &mock);
	stray_port = integ_backend_start(STRAY, dir, "stray-port", &stray);
	closed_port = closed_port_hold();
	return mock_port > 0 && stray_port > 0 && closed_port > 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	bool ok = mock < 0 || integ_stop(mock) == 0;

	ok &= stray < 0 || integ_stop(stray) == 0;
	ok &= integ_remove_tree(dir);
	h1_client_free(cl);
	loop_free(lp);
	if (closed_fd >= 0)
		close(closed_fd);
	fetch_global_cleanup();
	return ok ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "parser: framings, refusals, fed whole and in pieces", test_parse_cases },
		{ "parser: heads and lines to curl's bounds, storms of 100s", test_parse_bounds },
		{ "URLs the client takes, and those it leaves to curl", test_supports },
		{ "3 GETs at once on a loop: each its own answer, headers sent", test_concurrent },
		{ "kept connections reused: a second round opens none", test_kept_alive },
		{ "chunked, dripped, HTTP/1.0, large bodies; past the cap", test_framings },
		{ "refused, timed out, reset: curl's kinds", test_failures },
		{ "a kept connection closed under a GET: sent again, once", test_retry_once },
		{ "stray answers never answer the next GET (issue 7)", test_stray },
		{ "bytes on an idle connection close it as they come", test_idle_watched },
		{ "signs of a backend out of step; no reuse; the echoed header", test_signs },
		{ "a refusal for content is no sign, one for framing is", test_refusal_signs },
		{ "two origins of one address keep their connections apart", test_origins_apart },
		{ "cancelled GETs and a freed client report nothing", test_cancel },
		{ NULL, NULL },
	};

	return unit_run("the lean HTTP/1.1 client on a loop", suite_init, suite_cleanup, tests);
}
