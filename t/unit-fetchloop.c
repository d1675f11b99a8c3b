/* unit-fetchloop.c - cgi/backend/curl/fetch.c's transfers driven by an epoll loop (fetch_cache_new_on), against
 * t/mock-backend and t/stray-backend. */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cgi/backend/curl/fetch.h"
#include "common/clock.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * The loop is the smallest one the hooks allow: one epoll set, the cache's one timer as an
 * instant (epoll_wait's timeout), and a table of what it watches, which also checks the hooks'
 * contract: a watch ends only if it was on, and before its descriptor is closed.
 */
#define FD_MAX 4096
#define STRAY "./t/stray-backend"
#define SECOND_US 1000000

struct loop {
	int ep;
	int64_t timer_at;		/* when the cache's timer fires; -1: disarmed */
	unsigned char what[FD_MAX];	/* what each descriptor is watched for, 0 if not */
	int nwatched;
	unsigned long watches, ends;	/* watches begun, and ended */
	unsigned long records, forgotten; /* records made (hooks' *sock), and handed back */
	bool refuse;			/* watch() fails, as a full epoll set would */
	bool broken;			/* a hook was called against its contract */
};

static struct loop loop;
static char dir[] = "/tmp/fanout-fetchloop-XXXXXX";
static pid_t mock = -1, stray = -1;
static int mock_port, stray_port;

static void
broken(const char *why, int fd)
{
	printf("\n    hook contract broken: %s (fd %d) ", why, fd);
	loop.broken = true;
}

static int
hook_watch(void *ctx, int fd, int what, void **sock)
{
	struct loop *l = ctx;
	struct epoll_event ev = { .data.fd = fd };

	if (fd < 0 || fd >= FD_MAX || (what & ~(FETCH_POLL_IN | FETCH_POLL_OUT)) != 0)
		return broken("bad arguments", fd), -1;
	/* The cache keeps the loop's record of fd (here its slot in what[]) from its first watch. */
	if (*sock == NULL && what != 0) {
		*sock = &l->what[fd];
		l->records++;
	} else if (*sock != NULL && *sock != &l->what[fd])
		broken("the record kept for a descriptor is another's", fd);
	if (what == 0) {
		if (l->what[fd] == 0)
			broken("end of a watch that is not on", fd);
		else if (fcntl(fd, F_GETFD) == -1)
			broken("end of a watch after its descriptor was closed", fd);
		else if (epoll_ctl(l->ep, EPOLL_CTL_DEL, fd, NULL) != 0)
			broken("epoll_ctl DEL", fd);
		l->nwatched -= l->what[fd] != 0;
		l->ends += l->what[fd] != 0;
		l->what[fd] = 0;
		return 0;
	}
	if (l->refuse)
		return -1;
	ev.events = ((what & FETCH_POLL_IN) ? EPOLLIN : 0) |
	    ((what & FETCH_POLL_OUT) ? EPOLLOUT : 0);
	if (epoll_ctl(l->ep, l->what[fd] != 0 ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0)
		return broken("epoll_ctl ADD/MOD", fd), -1;
	if (l->what[fd] == 0) {
		l->nwatched++;
		l->watches++;
	}
	l->what[fd] = (unsigned char)what;
	return 0;
}

static void
hook_timer(void *ctx, long timeout_ms)
{
	struct loop *l = ctx;

	l->timer_at = timeout_ms < 0 ? -1 : clock_now_us() + (int64_t)timeout_ms * 1000;
}

static void
hook_forget(void *ctx, void *sock)
{
	struct loop *l = ctx;

	if ((unsigned char *)sock < l->what || (unsigned char *)sock >= l->what + FD_MAX)
		broken("a record handed back that was never made", -1);
	l->forgotten++;
}

static const struct fetch_loop_hooks hooks = { hook_watch, hook_timer, &loop, hook_forget };

/* A GET of the test, and how it ended. */
struct call {
	char url[160];
	struct fetch_request req;
	struct fetch_reply reply;
	struct fetch_transfer *t;
	bool done;
};

static bool
call_start(struct fetch_cache *c, struct call *call, int port, const char *target)
{
	snprintf(call->url, sizeof(call->url), "http://127.0.0.1:%d%s", port, target);
	call->req = (struct fetch_request){ .url = call->url, .timeout_ms = 5000,
		.max_body = 65536 };
	call->reply = (struct fetch_reply){ .body = BUF_INIT };
	call->done = false;
	call->t = fetch_start(c, &call->req, &call->reply, call);
	return call->t != NULL;
}

static void
call_free(struct call *call)
{
	buf_free(&call->reply.body);
}

/* One turn of the loop: waits up to 20 ms for a socket or the timer and hands them to the cache,
 * then collects the calls that have ended. */
static void
loop_turn(struct fetch_cache *c)
{
	struct epoll_event ev[16];
	int64_t left = loop.timer_at < 0 ? 20000 : loop.timer_at - clock_now_us();
	int n = epoll_wait(loop.ep, ev, 16, left <= 0 ? 0 : left >= 20000 ? 20 :
	    (int)((left + 999) / 1000));
	struct call *done;

	for (int i = 0; i < n; i++) {
		int events = ((ev[i].events & EPOLLIN) ? FETCH_POLL_IN : 0) |
		    ((ev[i].events & EPOLLOUT) ? FETCH_POLL_OUT : 0) |
		    ((ev[i].events & (EPOLLERR | EPOLLHUP)) ? FETCH_POLL_ERR : 0);

		CU_ASSERT_EQUAL(fetch_socket_ready(c, ev[i].data.fd, events), 0);
	}
	if (loop.timer_at >= 0 && clock_now_us() >= loop.timer_at) {
		loop.timer_at = -1;
		CU_ASSERT_EQUAL(fetch_timer_expired(c), 0);
	}
	while ((done = fetch_done(c)) != NULL)
		done->done = true;
}

/* Turns the loop until every call has ended; false after 5 s. */
static bool
run(struct fetch_cache *c, struct call *calls, size_t n)
{
	int64_t until = clock_now_us() + 5 * SECOND_US;
	size_t ended = 0;

	while (ended < n && clock_now_us() < until) {
		loop_turn(c);
		for (ended = 0; ended < n && calls[ended].done; )
			ended++;
	}
	return ended == n;
}

/* A loop cache, its loop's state fresh. */
static struct fetch_cache *
cache_new(void)
{
	int ep = loop.ep;

	memset(&loop, 0, sizeof(loop));
	loop.ep = ep;
	loop.timer_at = -1;
	return fetch_cache_new_on(&hooks);
}

/* GETs target on c alone, and returns its body (static; "" if it failed). */
static const char *
get_one(struct fetch_cache *c, int port, const char *target)
{
	static char body[256];
	struct call call;

	body[0] = '\0';
	if (call_start(c, &call, port, target) && run(c, &call, 1) &&
	    call.reply.kind == FETCH_OK && call.reply.status == 200)
		snprintf(body, sizeof(body), "%s", buf_str(&call.reply.body));
	else if (call.t == NULL || call.done)
		printf("\n    GET %s: %s ", target, call.reply.message);
	else
		fetch_cancel(c, call.t);	/* timed out here: it must not outlive `call` */
	call_free(&call);
	return body;
}

/* Nothing left watched, every watch ended once, and no hook called against its contract. */
static void
assert_no_watch_left(void)
{
	CU_ASSERT_EQUAL(loop.nwatched, 0);
	CU_ASSERT_EQUAL(loop.ends, loop.watches);
	CU_ASSERT_FALSE(loop.broken);
}

/* Turns the loop until `n` sockets wait for the answer (the requests are out); false after 3 s. */
static bool
run_until_waiting(struct fetch_cache *c, int n)
{
	int64_t until = clock_now_us() + 3 * SECOND_US;
	int in;

	do {
		loop_turn(c);
		in = 0;
		for (int fd = 0; fd < FD_MAX; fd++)
			in += loop.what[fd] == FETCH_POLL_IN;
	} while (in < n && clock_now_us() < until);
	return in >= n;
}

static void
test_concurrent(void)
{
	static const char *const values[] = { "one", "two", "three" };
	struct fetch_cache *c = cache_new();
	struct call calls[3];
	char want[64];

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "/v%d?value=%s&delay=100", i, values[i]);
		CU_ASSERT_FATAL(call_start(c, &calls[i], mock_port, want));
	}
	CU_ASSERT(run(c, calls, 3));
	for (int i = 0; i < 3; i++) {
		snprintf(want, sizeof(want), "\"value\":\"%s\"", values[i]);
		CU_ASSERT_EQUAL(calls[i].reply.kind, FETCH_OK);
		CU_ASSERT_EQUAL(calls[i].reply.status, 200);
		CU_ASSERT_PTR_NOT_NULL(strstr(buf_str(&calls[i].reply.body), want));
		call_free(&calls[i]);
	}
	CU_ASSERT(loop.watches >= 3);
	fetch_cache_free(c);
	assert_no_watch_left();
	CU_ASSERT_EQUAL(loop.timer_at, -1);
}

static void
test_cancel(void)
{
	struct fetch_cache *c = cache_new();
	struct call call;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_FATAL(call_start(c, &call, mock_port, "/slow?delay=1000"));
	CU_ASSERT_FATAL(run_until_waiting(c, 1));
	fetch_cancel(c, call.t);
	assert_no_watch_left();
	CU_ASSERT_EQUAL(loop.timer_at, -1);	/* nothing under way: nothing to time */
	for (int i = 0; i < 5; i++)
		loop_turn(c);
	CU_ASSERT_FALSE(call.done);		/* a cancelled transfer is not reported */
	call_free(&call);
	fetch_cache_free(c);
	assert_no_watch_left();
}

static void
test_kept_alive(void)
{
	struct fetch_cache *c = cache_new();
	struct call calls[3];
	long before = -1, after;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 3; i++)
			CU_ASSERT_FATAL(call_start(c, &calls[i], mock_port, "/k?delay=50"));
		CU_ASSERT(run(c, calls, 3));
		for (int i = 0; i < 3; i++) {
			CU_ASSERT_EQUAL(calls[i].reply.kind, FETCH_OK);
			call_free(&calls[i]);
		}
		/* Asked on a kept connection of the cache itself: it opens none either. */
		if (round == 0)
			before = integ_json_long(get_one(c, mock_port, "/stats"), "connections");
	}
	after = integ_json_long(get_one(c, mock_port, "/stats"), "connections");
	printf("\n    mock connections after round 1: %ld, after round 2: %ld ", before, after);
	CU_ASSERT(before > 0);
	CU_ASSERT_EQUAL(after, before);
	fetch_cache_free(c);
	assert_no_watch_left();
}

static void
test_stray_refused(void)
{
	struct fetch_cache *c = cache_new();
	unsigned long refused;
	long tails = integ_stat(stray_port, "tails");

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	CU_ASSERT_FATAL(tails >= 0);
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/alice"), "{\"user\":\"alice\"}");
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/trigger?tail=100"),
	    "{\"user\":\"trigger\"}");
	CU_ASSERT_FATAL(integ_await_stat(stray_port, "tails", tails + 1, stray));
	refused = fetch_stray_refused();
	/* The kept connection now holds the stray answer: refused, and the GET sent again. */
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/bob"), "{\"user\":\"bob\"}");
	CU_ASSERT_EQUAL(fetch_stray_refused(), refused + 1);
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/carol"), "{\"user\":\"carol\"}");
	/* The stray answer in the same write as the real one. */
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/trigger?tail=0"),
	    "{\"user\":\"trigger\"}");
	CU_ASSERT_STRING_EQUAL(get_one(c, stray_port, "/u/dave"), "{\"user\":\"dave\"}");
	fetch_cache_free(c);
	assert_no_watch_left();
}

static void
test_free_ends_watches(void)
{
	struct fetch_cache *c = cache_new();
	struct call calls[2];
	size_t idle;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	/* One connection kept idle, two with a transfer under way. */
	CU_ASSERT_PTR_NOT_NULL(strstr(get_one(c, mock_port, "/idle?value=kept"), "kept"));
	for (int i = 0; i < 2; i++)
		CU_ASSERT_FATAL(call_start(c, &calls[i], mock_port, "/busy?delay=1000"));
	CU_ASSERT_FATAL(run_until_waiting(c, 2));
	CU_ASSERT(loop.timer_at >= 0);		/* the transfers' deadline */
	idle = fetch_pool_idle();
	fetch_cache_free(c);
	assert_no_watch_left();
	/* Every record the cache kept for the loop came back once, with the cache. */
	CU_ASSERT(loop.records > 0);
	CU_ASSERT_EQUAL(loop.forgotten, loop.records);
	/* The transfers under way were ended and their curl handles freed with it; nothing went to
	 * the process's pool, which keeps blocking calls' caches only (a leak shows under ASan). */
	CU_ASSERT_EQUAL(fetch_pool_idle(), idle);
	CU_ASSERT_EQUAL(loop.timer_at, -1);	/* nothing may call into the freed cache */
	for (int i = 0; i < 2; i++) {
		CU_ASSERT_FALSE(calls[i].done);
		call_free(&calls[i]);
	}
}

static void
test_watch_refused(void)
{
	struct fetch_cache *c = cache_new();
	struct call call;

	CU_ASSERT_PTR_NOT_NULL_FATAL(c);
	loop.refuse = true;
	CU_ASSERT_FATAL(call_start(c, &call, mock_port, "/refused"));
	CU_ASSERT(run(c, &call, 1));
	CU_ASSERT_EQUAL(call.reply.kind, FETCH_INTERNAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(call.reply.message, "watch"));
	call_free(&call);
	assert_no_watch_left();
	/* Only that transfer failed: the cache still works. */
	loop.refuse = false;
	CU_ASSERT_PTR_NOT_NULL(strstr(get_one(c, mock_port, "/again?value=works"), "works"));
	fetch_cache_free(c);
	assert_no_watch_left();
}

static int
suite_init(void)
{
	if (fetch_global_init() != 0 || mkdtemp(dir) == NULL ||
	    (loop.ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		return -1;
	mock_port = integ_backend_start(MOCK, dir, "mock-port", &mock);
	stray_port = integ_backend_start(STRAY, dir, "stray-port", &stray);
	return mock_port > 0 && stray_port > 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	bool ok = mock < 0 || integ_stop(mock) == 0;

	ok &= stray < 0 || integ_stop(stray) == 0;
	ok &= integ_remove_tree(dir);
	close(loop.ep);
	fetch_global_cleanup();
	return ok ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "3 GETs at once on a loop: each its own answer", test_concurrent },
		{ "a cancelled GET leaves nothing watched", test_cancel },
		{ "kept connections reused: a second round opens none", test_kept_alive },
		{ "stray bytes on a kept connection: refused, the GET sent again",
		    test_stray_refused },
		{ "freeing the cache ends every watch and the timer", test_free_ends_watches },
		{ "a socket the loop cannot watch fails its transfer only", test_watch_refused },
		{ NULL, NULL },
	};

	return unit_run("fetch on an event loop", suite_init, suite_cleanup, tests);
}
