/* integ-drain.c - SIGTERM under steady load, straight to fanout-cgi (issue 18 item 3): CLIENTS
 * kept FastCGI connections, each sending its next request as soon as the last is answered, as a
 * web server does; SIGTERM in the middle. Every request fanout-cgi read must be answered, and
 * the stop must end within the grace. Once per executor, each with a fresh fanout-cgi started
 * whole; a stop while the threads server starts; kept connections at rest and with a request
 * begun at the stop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"
#include "t/fcgi-client.h"
#include "t/solo.h"
#include "t/unit.h"

#define CLIENTS 300
#define LOAD_MS 1000		/* the load before SIGTERM */
#define DELAY_MS 20		/* each backend call's */
#define TIMEOUT_MS 4000		/* the endpoints': the grace is this + 1 s */
#define GRACE_MS (TIMEOUT_MS + 1000)
#define BOUND_MS (GRACE_MS + 5000)	/* every wait after SIGTERM */
#define START_MS 60000		/* fanout-cgi's start: 320 threads, 10 s under TSan */
#define HEADER_LEN 8

static char mock_dir[64];
static int mock_port;
static pid_t mock_pid = -1;

/*
 * What the clients saw, and what the backend saw. A request is "cut" when fanout-cgi read it and
 * its answer never came. On a Unix socket the client can tell: a server socket released with our
 * request unread in it leaves ECONNRESET on ours, one that had read it leaves a plain end. A
 * connection that ends under a request is therefore kept until fanout-cgi has exited (a socket
 * may outlive its close() while another thread polls it), and judged then. A request never read,
 * or whose send was refused, was "lost" on a kept connection fanout-cgi closed at that very
 * moment: the client sends it again on a new connection (as nginx does once for a cached
 * connection), whose connect is "refused" after SIGTERM. Lost and refused requests go elsewhere
 * in production; cut ones fail. The backend witnesses too: every request makes exactly one call,
 * so calls beyond the answers were requests read and not answered.
 */
struct tally {
	long answered, answered_after;	/* answers; of those, after SIGTERM */
	long other;			/* of the answers, those other than 200 (a deadline passed
					 * under a slow sanitizer build: an answer all the same) */
	long cut;			/* sent, read, the connection ended with no whole answer */
	long lost;			/* sent, never read: a reset, or a send refused */
	long refused;			/* connects refused */
	long seen;			/* backend calls */
	int ended[2 * CLIENTS];		/* connections that ended under a request, to judge */
	size_t nended;
};

/* One client: a connection at a time, one request at a time. */
struct client {
	int fd;			/* -1: none */
	bool waiting;		/* a request was sent, its answer not complete */
	bool done;		/* refused: it sends no more */
	struct buf in;		/* bytes of the answer read */
};

static bool
write_config(const struct solo *s)
{
	static const char *const executors[] = { "threads", "pool", "serial", "multi" };
	char path[INTEG_PATH_LEN];
	struct buf c = BUF_INIT;
	bool ok = buf_puts(&c, "{\"admin\": {\"health\": \"/healthz\"}, \"endpoints\": [\n") == 0;

	for (size_t i = 0; ok && i < 4; i++)
		ok = buf_printf(&c, "  {\"path\": \"/%s\", \"executor\": \"%s\", \"timeout_ms\": %d, "
		    "\"backends\": [{\"name\": \"a\", \"url\": "
		    "\"http://127.0.0.1:%d/d?delay=%d\"}]}%s\n", executors[i], executors[i],
		    TIMEOUT_MS, mock_port, DELAY_MS, i < 3 ? "," : "") == 0;
	ok = ok && buf_puts(&c, "]}\n") == 0;
	snprintf(path, sizeof(path), "%s/fanout.json", s->dir);
	ok = ok && integ_write_file(path, buf_str(&c));
	buf_free(&c);
	return ok;
}

/* The request sent on cl's connection, or on a new one if it has none (a refused connect ends
 * the client); a kept connection the server closed under the send loses that request, which
 * goes again on a new connection, once. */
static void
client_send(struct client *cl, const char *uri, const char *sock, struct tally *t)
{
	struct buf req = BUF_INIT;

	if (!fcgi_build_get(&req, uri, true, FCGI_GET_WHOLE)) {
		cl->done = true;
		t->other++;
		return;
	}
	buf_truncate(&cl->in, 0);
	cl->waiting = false;
	for (int tries = 0; tries < 2 && !cl->waiting && !cl->done; tries++) {
		if (cl->fd < 0 && (cl->fd = fcgi_connect_unix(sock)) < 0) {
			t->refused++;
			cl->done = true;
		} else if (send(cl->fd, req.data, req.len, MSG_NOSIGNAL | MSG_DONTWAIT) ==
		    (ssize_t)req.len)	/* far below the socket's buffer: whole, or the peer is gone */
			cl->waiting = true;
		else {
			t->lost++;
			close(cl->fd);
			cl->fd = -1;
		}
	}
	if (!cl->waiting)
		cl->done = true;
	buf_free(&req);
}

/* Whether the peer has closed fd: what nginx looks at before it reuses a kept connection. */
static bool
peer_closed(int fd)
{
	char byte;

	return recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0 ||
	    (errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The answer in cl->in is complete: the STDOUT records' text, or NULL while it is not. */
static bool
answer_complete(const struct client *cl, struct buf *text)
{
	const unsigned char *p = (const unsigned char *)cl->in.data;
	size_t at = 0;

	while (cl->in.len - at >= HEADER_LEN) {
		size_t len = (size_t)p[at + 4] << 8 | p[at + 5], total = HEADER_LEN + len + p[at + 6];

		if (cl->in.len - at < total)
			return false;
		if (p[at + 1] == FCGI_TYPE_END_REQUEST)
			return true;
		if (p[at + 1] == FCGI_TYPE_STDOUT && buf_append(text, p + at + HEADER_LEN, len))
			return false;
		at += total;
	}
	return false;
}

/* Reads what came on cl's connection; on a complete answer, counts it and sends the next
 * request (on a new connection if the server closed this one); on the connection's end with
 * no answer, counts the request lost and sends it again on a new connection. */
static void
client_read(struct client *cl, const char *uri, const char *sock, bool after, struct tally *t)
{
	char chunk[4096];
	struct buf text = BUF_INIT;
	ssize_t n = recv(cl->fd, chunk, sizeof(chunk), 0);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0 && buf_append(&cl->in, chunk, (size_t)n) == 0 && !answer_complete(cl, &text)) {
		buf_free(&text);
		return;
	}
	if (n > 0) {
		t->answered++;
		t->answered_after += after;
		t->other += fcgi_answer_status(buf_str(&text)) != 200;
		cl->waiting = false;
		if (peer_closed(cl->fd)) {
			close(cl->fd);
			cl->fd = -1;
		}
	} else {
		if (n < 0 || !cl->waiting || t->nended == sizeof(t->ended) / sizeof(t->ended[0])) {
			t->lost += n < 0 && cl->waiting;
			t->cut += n == 0 && cl->waiting;	/* no room to judge: counted cut */
			close(cl->fd);
		} else
			t->ended[t->nended++] = cl->fd;
		cl->fd = -1;
	}
	buf_free(&text);
	client_send(cl, uri, sock, t);
}

/* Runs the clients until SIGTERM (sent after LOAD_MS) and then until every one is refused, or
 * BOUND_MS after the signal. */
static void
run_load(struct client *cl, const char *uri, const char *sock, pid_t pid, struct tally *t,
    int64_t *term_at)
{
	static struct pollfd p[CLIENTS];
	int64_t start = clock_now_us();
	size_t active = CLIENTS;

	*term_at = 0;
	for (size_t i = 0; i < CLIENTS; i++)
		client_send(&cl[i], uri, sock, t);
	while (active > 0 && (*term_at == 0 || clock_now_us() < *term_at + BOUND_MS * 1000LL)) {
		if (*term_at == 0 && clock_now_us() >= start + LOAD_MS * 1000LL) {
			CU_ASSERT(kill(pid, SIGTERM) == 0);
			*term_at = clock_now_us();
		}
		for (size_t i = 0; i < CLIENTS; i++)
			p[i] = (struct pollfd){ .fd = cl[i].done ? -1 : cl[i].fd, .events = POLLIN };
		if (poll(p, CLIENTS, 50) < 0 && errno != EINTR)
			break;
		active = 0;
		for (size_t i = 0; i < CLIENTS; i++) {
			if (!cl[i].done && p[i].revents != 0)
				client_read(&cl[i], uri, sock, *term_at != 0, t);
			active += !cl[i].done;
		}
	}
}

/* Once fanout-cgi has exited: each connection that ended under a request, reset (the request
 * was never read: lost) or not (read: cut). */
static void
judge_ended(struct tally *t)
{
	char byte;

	for (size_t i = 0; i < t->nended; i++) {
		if (recv(t->ended[i], &byte, 1, MSG_DONTWAIT) < 0 && errno == ECONNRESET)
			t->lost++;
		else
			t->cut++;
		close(t->ended[i]);
	}
	t->nended = 0;
}

/* Waits up to timeout_ms for fanout-cgi to have started all its workers (it then logs
 * "serving FastCGI with"): the first serve while the others start, which is slow where thread
 * creation contends with them (ThreadSanitizer), and the load is to meet the whole server. */
static bool
all_started(const struct solo *s, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	while (!solo_file_has(s, "fanout.err", "serving FastCGI with")) {
		if (clock_now_us() >= until)
			return false;
		clock_sleep_us(10000);
	}
	return true;
}

/* The mock's request count (GET /stats counts itself: one more for each look). */
static long
backend_requests(void)
{
	return integ_stat(mock_port, "requests");
}

static void
drain_under_load(const char *executor)
{
	static struct client cl[CLIENTS];
	const char *const args[] = { "--threads", "320", NULL };
	static struct tally t;
	struct solo s;
	char uri[32], how[64];
	int64_t term_at;
	long before = 0;
	int status = -1;
	pid_t pid = -1;
	bool exited = false, ok;

	memset(&t, 0, sizeof(t));
	snprintf(uri, sizeof(uri), "/%s", executor);
	ok = solo_init(&s) && write_config(&s) && (pid = solo_spawn(&s, args, "fanout.err")) > 0 &&
	    solo_ready(&s, pid, 5000) && all_started(&s, START_MS) &&
	    fcgi_get(s.sock, uri, 5000) == 200 && (before = backend_requests()) >= 0;
	CU_ASSERT_FATAL(ok);
	for (size_t i = 0; i < CLIENTS; i++)
		cl[i] = (struct client){ .fd = -1, .in = BUF_INIT };
	run_load(cl, uri, s.sock, pid, &t, &term_at);
	exited = solo_reaped(pid, BOUND_MS, &status);
	judge_ended(&t);
	t.seen = backend_requests() - before - 1;
	printf("\n    %s: %ld answered (%ld after SIGTERM, %ld not 200), %ld cut (backend calls "
	    "unanswered: %ld), %ld lost, %ld refused; fanout-cgi %s %.0f ms after SIGTERM ",
	    executor, t.answered, t.answered_after, t.other, t.cut, t.seen - t.answered, t.lost,
	    t.refused, exited ? solo_describe(status, how, sizeof(how)) : "still running",
	    (clock_now_us() - term_at) / 1000.0);
	CU_ASSERT(term_at != 0);
	CU_ASSERT(t.answered >= CLIENTS);	/* a load was there */
	CU_ASSERT_EQUAL(t.cut, 0);
	CU_ASSERT(t.seen <= t.answered);	/* each call's request answered */
	CU_ASSERT(t.lost <= CLIENTS && t.refused <= CLIENTS);
	CU_ASSERT(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT(clock_now_us() - term_at < BOUND_MS * 1000LL);
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "after the grace"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "Sanitizer"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "runtime error"));
	if (!exited) {
		(void)kill(pid, SIGKILL);
		(void)solo_reaped(pid, 5000, &status);
	}
	for (size_t i = 0; i < CLIENTS; i++) {
		if (cl[i].fd >= 0)
			close(cl[i].fd);
		buf_free(&cl[i].in);
	}
	solo_cleanup(&s, CU_get_number_of_failures() > 0);
}

/*
 * A stop that comes while the threads server starts its threads ends the start: the threads
 * that serve already drain, no more are made (the stop waits for the main thread's sigwait,
 * which used to come only after the last thread started: 10 to 15 s under ThreadSanitizer with
 * the load on, in which kept connections took requests as if no stop had come). Made certain
 * here: SIGTERM is sent before the start, blocked in the child from fork on (an exec keeps the
 * mask and the signals pending), so no thread is to start at all.
 */
static void
test_stop_while_starting(void)
{
	const char *const args[] = { "--threads", "320", NULL };
	sigset_t term, old;
	struct solo s;
	int status = -1;
	pid_t pid = -1;
	bool exited = false;

	if (!integ_threads_server()) {
		printf("(the threads server's start)");
		return;
	}
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	CU_ASSERT_FATAL(solo_init(&s) && write_config(&s));
	CU_ASSERT_FATAL(sigprocmask(SIG_BLOCK, &term, &old) == 0);
	pid = solo_spawn(&s, args, "fanout.err");
	CU_ASSERT(pid > 0 && kill(pid, SIGTERM) == 0);
	CU_ASSERT_FATAL(sigprocmask(SIG_SETMASK, &old, NULL) == 0);
	exited = pid > 0 && solo_reaped(pid, BOUND_MS, &status);
	CU_ASSERT(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT(solo_file_has(&s, "fanout.err", "stopped while starting: 0 of 320 threads"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "serving FastCGI with"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "Sanitizer"));
	if (pid > 0 && !exited) {
		(void)kill(pid, SIGKILL);
		(void)solo_reaped(pid, 5000, &status);
	}
	solo_cleanup(&s, CU_get_number_of_failures() > 0);
}

/* A kept connection on which one request was answered (keep set), -1 on failure. */
static int
kept_connection(const struct solo *s)
{
	struct buf answer = BUF_INIT;
	int fd = fcgi_connect_unix(s->sock);
	bool ok = fd >= 0 && fcgi_send_get(fd, "/serial", true, FCGI_GET_WHOLE, 5000) &&
	    fcgi_read_answer(fd, 5000, &answer) && fcgi_answer_status(buf_str(&answer)) == 200;

	buf_free(&answer);
	if (!ok && fd >= 0)
		close(fd);
	return ok ? fd : -1;
}

/*
 * The stop closes kept connections at rest at once, and answers a request begun on one: two
 * kept connections, one at rest, one with a request's BEGIN_REQUEST and parameters sent, not
 * their end; SIGTERM; the rest is sent only once the one at rest was closed. The threads server
 * used to leave both in libfcgi's read, which never sees the stop: the drain found no request
 * in progress and ended the process with the begun one read in part, never answered (cut); now
 * each thread waits for its request's first bytes itself, with the stop. A begun request
 * fanout-cgi leaves unread (a reset) would be sent elsewhere: it is not cut.
 */
static void
test_kept_at_stop(void)
{
	const char *const args[] = { "--threads", "4", NULL };
	struct buf whole = BUF_INIT, begun = BUF_INIT, answer = BUF_INIT;
	struct solo s;
	int at_rest = -1, part = -1, status = -1;
	pid_t pid = -1;
	bool exited = false, answered = false, reset = false;
	char byte;

	CU_ASSERT_FATAL(solo_init(&s) && write_config(&s) &&
	    (pid = solo_spawn(&s, args, "fanout.err")) > 0 && solo_ready(&s, pid, 5000) &&
	    all_started(&s, START_MS));
	CU_ASSERT_FATAL(fcgi_build_get(&whole, "/serial", true, FCGI_GET_WHOLE) &&
	    fcgi_build_get(&begun, "/serial", true, FCGI_GET_PARAMS) && begun.len < whole.len);
	at_rest = kept_connection(&s);
	part = kept_connection(&s);
	CU_ASSERT(at_rest >= 0 && part >= 0 && fcgi_send(part, begun.data, begun.len, 5000));
	CU_ASSERT(kill(pid, SIGTERM) == 0);
	CU_ASSERT(fcgi_await_closed(&at_rest, 1, BOUND_MS));
	if (part >= 0) {
		(void)fcgi_send(part, whole.data + begun.len, whole.len - begun.len, 5000);
		answered = fcgi_read_answer(part, BOUND_MS, &answer) &&
		    fcgi_answer_status(buf_str(&answer)) == 200;
	}
	exited = solo_reaped(pid, BOUND_MS, &status);
	if (part >= 0 && !answered)	/* judged once fanout-cgi is gone, as judge_ended does */
		reset = recv(part, &byte, 1, MSG_DONTWAIT) < 0 && errno == ECONNRESET;
	printf("(the begun request %s) ", answered ? "answered" : reset ? "never read" : "cut");
	CU_ASSERT(answered || reset);
	CU_ASSERT(exited && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "still open"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "after the grace"));
	CU_ASSERT(!solo_file_has(&s, "fanout.err", "Sanitizer"));
	if (!exited) {
		(void)kill(pid, SIGKILL);
		(void)solo_reaped(pid, 5000, &status);
	}
	fcgi_close_all(&at_rest, 1);
	fcgi_close_all(&part, 1);
	buf_free(&whole);
	buf_free(&begun);
	buf_free(&answer);
	solo_cleanup(&s, CU_get_number_of_failures() > 0);
}

static void test_threads(void) { drain_under_load("threads"); }
static void test_pool(void) { drain_under_load("pool"); }
static void test_serial(void) { drain_under_load("serial"); }
static void test_multi(void) { drain_under_load("multi"); }

static int
suite_init(void)
{
	snprintf(mock_dir, sizeof(mock_dir), "/tmp/fanout-drain-XXXXXX");
	if (mkdtemp(mock_dir) == NULL)
		return -1;
	mock_port = integ_backend_start(MOCK, mock_dir, "mock.port", &mock_pid);
	return mock_port > 0 ? 0 : -1;
}

static int
suite_cleanup(void)
{
	bool ok = mock_pid <= 0 || integ_stop(mock_pid) == 0;

	(void)integ_remove_tree(mock_dir);
	return ok ? 0 : -1;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "SIGTERM while the threads start: the start ends", test_stop_while_starting },
		{ "SIGTERM: kept connections at rest closed, a begun request answered",
		    test_kept_at_stop },
		{ "SIGTERM under 300 kept connections, threads: none cut", test_threads },
		{ "SIGTERM under 300 kept connections, pool: none cut", test_pool },
		{ "SIGTERM under 300 kept connections, serial: none cut", test_serial },
		{ "SIGTERM under 300 kept connections, multi: none cut", test_multi },
		{ NULL, NULL },
	};

	printf("integ-drain: server %s\n", integ_server() != NULL ? integ_server() :
	    "fanout-cgi's default");
	fflush(stdout);
	return unit_run("SIGTERM under steady load, straight to fanout-cgi", suite_init,
	    suite_cleanup, tests);
}
