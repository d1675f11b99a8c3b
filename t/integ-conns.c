/* integ-conns.c - what holds or ends request threads: idle, stalled and non-reading FastCGI
 * connections, a descriptor shortage, the stop, and a config path that is not a file. */
#define _GNU_SOURCE	/* prlimit */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/clock.h"
#include "t/fcgi-client.h"
#include "t/integ.h"
#include "t/unit.h"

/*
 * Raw connections speak FastCGI to fanout-cgi directly, as a hostile or broken client would.
 * Bounds are wide: a connection idle for the 1 s timeout is closed at once, but libfcgi's close
 * then lingers up to 2 s for the peer's own close, and sanitizers slow everything.
 */
#define IDLE_TIMEOUT "1"
#define CLOSE_BOUND_MS 10000
#define ANSWER_BOUND_MS 5000
#define SEND_BOUND_MS 5000

static struct integ_stack env;

static const char config_text[] =
    "{\"admin\": {\"metrics\": \"/api/metrics\", \"health\": \"/api/healthz\"},\n"
    " \"endpoints\": [\n"
    "  {\"path\": \"/api/ok\", \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/ok\"}]},\n"
    "  {\"path\": \"/api/big\", \"timeout_ms\": 5000, \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/big?body=big&size=1000000\",\n"
    "     \"max_body_bytes\": 2000000}]},\n"
    "  {\"path\": \"/api/slow\", \"timeout_ms\": 5000, \"backends\": [\n"
    "    {\"name\": \"x\", \"url\": \"http://127.0.0.1:@M@/ok?delay=400\"}]}\n"
    " ]}\n";

static const char *const cgi_args[] = { "--threads", "4", "--idle-timeout", IDLE_TIMEOUT, NULL };

/* Waits until the file `name` of the stack's directory holds text; false after 5 s. */
static bool
await_file_text(const char *name, const char *text)
{
	int64_t until = clock_now_us() + 5000000;
	char path[INTEG_PATH_LEN];
	struct buf b = BUF_INIT;
	bool found = false;

	while (!found && clock_now_us() < until) {
		buf_truncate(&b, 0);
		found = integ_read_file(integ_path(&env, path, name), &b) &&
		    strstr(buf_str(&b), text) != NULL;
		if (!found)
			clock_sleep_us(20000);
	}
	buf_free(&b);
	return found;
}

/* How many lines of the file `name` hold text. */
static int
count_lines(const char *name, const char *text)
{
	char path[INTEG_PATH_LEN];
	struct buf b = BUF_INIT;
	int n = 0;

	if (integ_read_file(integ_path(&env, path, name), &b))
		for (const char *p = buf_str(&b); (p = strstr(p, text)) != NULL; p++)
			n++;
	buf_free(&b);
	return n;
}

/* A GET of uri up to `upto` on a connection kept after its answer, as nginx sends it. */
static bool
send_kept(int fd, const char *uri, enum fcgi_get_upto upto)
{
	return fcgi_send_get(fd, uri, true, upto, SEND_BOUND_MS);
}

static void
expect_front_ok(const char *path)
{
	char url[128];
	struct reply r;

	snprintf(url, sizeof(url), "%s%s", env.url, path);
	CU_ASSERT_FATAL(integ_request(NULL, url, NULL, &r));
	CU_ASSERT_EQUAL(r.status, 200);
	reply_free(&r);
}

/* Finding 4: connections that send nothing, or a BEGIN_REQUEST and then nothing, or stop in
 * the parameters, take every thread; they are closed after the idle timeout and nginx is served
 * again. The request cut short is not served (libfcgi would pass it on as if whole). */
static void
test_idle_tcp(void)
{
	int fds[4];
	int64_t t0 = clock_now_us();

	for (size_t i = 0; i < 4; i++) {
		CU_ASSERT_FATAL((fds[i] = fcgi_connect_tcp(env.cgi_port)) >= 0);
		if (i == 2)
			CU_ASSERT_FATAL(send_kept(fds[i], NULL, FCGI_GET_BEGIN));
		if (i == 3)
			CU_ASSERT_FATAL(send_kept(fds[i], "/api/cut-short", FCGI_GET_PARAMS));
	}
	CU_ASSERT(fcgi_await_closed(fds, 4, CLOSE_BOUND_MS));
	printf("\n    4 idle connections closed %.1f s after they came ",
	    (clock_now_us() - t0) / 1e6);
	fcgi_close_all(fds, 4);
	expect_front_ok("/api/healthz");
	expect_front_ok("/api/ok");
	CU_ASSERT_EQUAL(count_lines("fanout.err", "/api/cut-short"), 0);
}

/* Marks in used[] the descriptors below 256 of process pid, or with pid 0 those a child of ours
 * inherits (0, 1, 2 and ours without close-on-exec); false if they cannot be told. */
static bool
mark_used(pid_t pid, bool used[256])
{
	char dir[64];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), pid == 0 ? "/proc/self/fd" : "/proc/%d/fd", (int)pid);
	if ((d = opendir(dir)) == NULL)
		return false;
	used[0] = used[1] = used[2] = true;
	while ((e = readdir(d)) != NULL) {
		long n = e->d_name[0] == '.' ? -1 : integ_parse_int(e->d_name);

		if (n >= 0 && n < 256 && (pid != 0 || !(fcntl((int)n, F_GETFD) & FD_CLOEXEC)))
			used[n] = true;
	}
	closedir(d);
	return true;
}

/* The descriptor limit that leaves process pid (0: a child of ours) exactly `spare` free
 * descriptors; 0 if it cannot be told. */
static rlim_t
limit_for_spare(pid_t pid, int spare)
{
	bool used[256] = { false };
	int fd = 0;

	if (!mark_used(pid, used))
		return 0;
	for (int free_seen = 0; fd < 256 && free_seen <= spare; fd++)
		free_seen += !used[fd];
	return fd < 256 ? (rlim_t)fd - 1 : 0;	/* the (spare + 1)th free number */
}

/* A second fanout-cgi serving listen_fd, handed over on fd 0 as spawn-fcgi does, its stderr in
 * `err`, started with `spare` free descriptors (-1: as many as we have); -1 if it does not say
 * it serves. */
static pid_t
start_on_fd0(int listen_fd, const char *threads, const char *idle, int spare, const char *err)
{
	char config[INTEG_PATH_LEN], err_path[INTEG_PATH_LEN], ready[64];
	char *argv[INTEG_ARGV_MAX] = { FANOUT_CGI, "-c",
		(char *)integ_path(&env, config, "fanout.json") };
	const char *const args[] = { "--threads", threads, "--idle-timeout", idle, NULL };
	struct rlimit ours, low;
	size_t n = 3;
	pid_t pid;

	if (listen_fd < 0 || !integ_cgi_args(argv, &n, INTEG_ARGV_MAX, args) ||
	    getrlimit(RLIMIT_NOFILE, &ours) != 0) {
		if (listen_fd >= 0)
			close(listen_fd);
		return -1;
	}
	low = (struct rlimit){ .rlim_cur = spare >= 0 ? limit_for_spare(0, spare) : ours.rlim_cur,
		.rlim_max = ours.rlim_max };
	/* The child inherits the limit; ours is lowered only for the spawn. */
	if (low.rlim_cur == 0 || setrlimit(RLIMIT_NOFILE, &low) != 0) {
		close(listen_fd);
		return -1;
	}
	pid = integ_spawn(argv, NULL, listen_fd, NULL, integ_path(&env, err_path, err));
	if (setrlimit(RLIMIT_NOFILE, &ours) != 0 && pid > 0) {
		(void)integ_stop(pid);
		pid = -1;
	}
	close(listen_fd);
	/* The threads server names its threads; any other server's line starts the same. */
	snprintf(ready, sizeof(ready), integ_threads_server() ? "serving FastCGI with %s threads" :
	    "serving FastCGI", threads);
	if (pid > 0 && !await_file_text(err, ready)) {
		(void)integ_stop(pid);
		return -1;
	}
	return pid;
}

/* Stops a second fanout-cgi: SIGTERM, exit 0, and no sanitizer report in its stderr `err`. */
static void
expect_clean_stop(pid_t pid, const char *err)
{
	CU_ASSERT_FATAL(kill(pid, SIGTERM) == 0);
	CU_ASSERT_EQUAL(integ_wait_exit(pid, 10000), 0);
	CU_ASSERT_EQUAL(count_lines(err, "Sanitizer") + count_lines(err, "runtime error"), 0);
}

/* The same on a Unix socket inherited on fd 0, whose connections do not inherit the listening
 * socket's timeouts; and a reader that never reads its (1 MB) answer. */
static void
test_idle_unix(void)
{
	char path[INTEG_PATH_LEN];
	struct buf answer = BUF_INIT;
	int fds[3];
	pid_t pid;

	integ_path(&env, path, "fd0.sock");
	CU_ASSERT_FATAL((pid = start_on_fd0(fcgi_listen(path, NULL), "2", IDLE_TIMEOUT, -1,
	    "fd0-unix.err")) > 0);
	for (size_t i = 0; i < 2; i++)
		CU_ASSERT_FATAL((fds[i] = fcgi_connect_unix(path)) >= 0 &&
		    send_kept(fds[i], NULL, FCGI_GET_BEGIN));
	CU_ASSERT(fcgi_await_closed(fds, 2, CLOSE_BOUND_MS));
	fcgi_close_all(fds, 2);
	/* Both threads write answers nobody reads; a third request is still answered. */
	for (size_t i = 0; i < 2; i++)
		CU_ASSERT_FATAL((fds[i] = fcgi_connect_unix(path)) >= 0 && send_kept(fds[i], "/api/big",
		    FCGI_GET_WHOLE));
	CU_ASSERT_FATAL((fds[2] = fcgi_connect_unix(path)) >= 0 && send_kept(fds[2],
	    "/api/healthz", FCGI_GET_WHOLE));
	CU_ASSERT(fcgi_read_answer(fds[2], CLOSE_BOUND_MS, &answer));
	CU_ASSERT(strstr(buf_str(&answer), "\"serving\"") != NULL);
	fcgi_close_all(fds, 3);
	buf_free(&answer);
	expect_clean_stop(pid, "fd0-unix.err");
}

/* Reads answers on the n connections until `want` came (each at most once), or the bound;
 * returns how many came. */
static int
read_answers(int *fds, int n, int want)
{
	struct buf answer = BUF_INIT;
	bool done[16] = { false };
	int answered = 0;

	for (int64_t until = clock_now_us() + ANSWER_BOUND_MS * 1000LL;
	    answered < want && clock_now_us() < until;)
		for (int i = 0; i < n && i < 16; i++)
			if (!done[i] && fcgi_read_answer(fds[i], 20, &answer)) {
				done[i] = true;
				answered++;
			}
	buf_free(&answer);
	return answered;
}

/* Finding 5: started with 2 free descriptors, two of four threads meet EMFILE in accept() at
 * once (as threads did that then ended for good) and while a burst of six requests comes; they
 * wait and retry, logging it once, and once descriptors are back four requests are answered at
 * the same time: every thread lived. Then the stop's last word is true. The event server, which
 * needs descriptors of its own to start, meets the shortage while it serves instead: its limit
 * is lowered to 2 free descriptors, the burst comes, and once the limit is back every request
 * is answered (connections cost it no thread). */
static void
test_descriptors(void)
{
	enum { N = 6 };
	bool threads = integ_threads_server();
	struct rlimit ours, squeezed;
	struct buf metrics = BUF_INIT;
	int fds[N], port, answered;
	pid_t pid;

	CU_ASSERT_FATAL((pid = start_on_fd0(fcgi_listen(NULL, &port), "4", "30", threads ? 2 : -1,
	    "fd0-tcp.err")) > 0);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &ours) == 0);
	if (threads) {
		CU_ASSERT(await_file_text("fd0-tcp.err", "Too many open files"));
	} else {
		squeezed = (struct rlimit){ .rlim_cur = limit_for_spare(pid, 2),
			.rlim_max = ours.rlim_max };
		CU_ASSERT_FATAL(squeezed.rlim_cur > 0 && prlimit(pid, RLIMIT_NOFILE, &squeezed,
		    NULL) == 0);
	}
	for (size_t i = 0; i < N; i++)
		CU_ASSERT_FATAL((fds[i] = fcgi_connect_tcp(port)) >= 0 && send_kept(fds[i],
		    "/api/healthz", FCGI_GET_WHOLE));
	CU_ASSERT(threads || await_file_text("fd0-tcp.err", "Too many open files"));
	CU_ASSERT_FATAL(prlimit(pid, RLIMIT_NOFILE, &ours, NULL) == 0);
	/* Every connection stays open (kept alive), so four answers need four threads. */
	answered = read_answers(fds, N, threads ? 4 : N);
	printf("\n    %d requests answered at once after EMFILE ", answered);
	CU_ASSERT_EQUAL(answered, threads ? 4 : N);
	CU_ASSERT(count_lines("fd0-tcp.err", "Too many open files") <= 2);	/* not per retry */
	fcgi_close_all(fds, N);
	/* The metrics, on a connection kept open: once the other connections are gone. */
	CU_ASSERT_FATAL((fds[0] = fcgi_connect_tcp(port)) >= 0);
	for (int64_t until = clock_now_us() + ANSWER_BOUND_MS * 1000LL; clock_now_us() < until &&
	    strstr(buf_str(&metrics), "\nfanout_fastcgi_connections 1\n") == NULL;) {
		buf_truncate(&metrics, 0);
		CU_ASSERT_FATAL(send_kept(fds[0], "/api/metrics", FCGI_GET_WHOLE));
		CU_ASSERT_FATAL(fcgi_read_answer(fds[0], ANSWER_BOUND_MS, &metrics));
	}
	CU_ASSERT(strstr(buf_str(&metrics), "\nfanout_fastcgi_connections 1\n") != NULL);
	CU_ASSERT(!threads || strstr(buf_str(&metrics), "\nfanout_request_threads 4\n") != NULL);
	/* The stop with one idle kept connection: closed at once, on the threads server too (its
	 * thread waits for the next request with the stop, not in libfcgi's read). */
	expect_clean_stop(pid, "fd0-tcp.err");
	CU_ASSERT(count_lines("fd0-tcp.err", "exiting with") == 0);
	close(fds[0]);
	buf_free(&metrics);
}

/* Issue 18 item 5: the event server out of descriptors, all held by idle kept connections (a
 * request answered on each): a new connection's request waited for an idle timeout (9.5 s seen).
 * Now the longest-idle kept connections make room. The threads server: --threads bounds it. */
static void
test_descriptors_idle(void)
{
	enum { SPARE = 6, N = SPARE + 3 };
	struct rlimit ours, squeezed;
	struct buf answer = BUF_INIT;
	int fds[N], port, answered = 0, closed = 0;
	int64_t t0;
	char byte;
	pid_t pid;

	if (integ_threads_server()) {
		printf("\n    the threads server: a thread per connection, nothing to make room for ");
		return;
	}
	CU_ASSERT_FATAL((pid = start_on_fd0(fcgi_listen(NULL, &port), "4", "30", -1,
	    "fd0-idle-full.err")) > 0);
	CU_ASSERT_FATAL(getrlimit(RLIMIT_NOFILE, &ours) == 0);
	squeezed = (struct rlimit){ .rlim_cur = limit_for_spare(pid, SPARE),
		.rlim_max = ours.rlim_max };
	CU_ASSERT_FATAL(squeezed.rlim_cur > 0 && prlimit(pid, RLIMIT_NOFILE, &squeezed,
	    NULL) == 0);
	/* Kept connections, each answered once, one after the other: the first SPARE take every
	 * descriptor (give or take one the server held for a moment when the spare ones were
	 * counted), each of the others needs room. Each answer within 1 s (it took the 30 s idle
	 * timeout). */
	t0 = clock_now_us();
	for (size_t i = 0; i < N; i++) {
		buf_truncate(&answer, 0);
		CU_ASSERT_FATAL((fds[i] = fcgi_connect_tcp(port)) >= 0 && send_kept(fds[i],
		    "/api/healthz", FCGI_GET_WHOLE));
		if (fcgi_read_answer(fds[i], 1000, &answer) &&
		    strstr(buf_str(&answer), "\"serving\"") != NULL)
			answered++;
	}
	/* The first ones, idle the longest on their loop, made room: the server closed them
	 * before it took the last connection, whose answer came. */
	for (size_t i = 0; i < SPARE; i++)
		closed += recv(fds[i], &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
	printf("\n    descriptors for %d connections, %d kept ones come: %d answered within 1 s "
	    "each (all in %.0f ms), %d of the first %d closed ", SPARE, N, answered,
	    (clock_now_us() - t0) / 1e3, closed, SPARE);
	CU_ASSERT_EQUAL(answered, N);
	CU_ASSERT(closed > 0);
	CU_ASSERT(await_file_text("fd0-idle-full.err", "Too many open files"));
	CU_ASSERT_FATAL(prlimit(pid, RLIMIT_NOFILE, &ours, NULL) == 0);
	fcgi_close_all(fds, N);
	buf_free(&answer);
	expect_clean_stop(pid, "fd0-idle-full.err");
}

/* Finding 10: a stop with no connection open says nothing of open connections (16 threads
 * leaving accept() were counted as on open connections). */
static void
test_quiet_stop(void)
{
	for (int round = 0; round < 3; round++) {	/* it was a race, though a likely one */
		int port;
		pid_t pid;

		CU_ASSERT_FATAL((pid = start_on_fd0(fcgi_listen(NULL, &port), "16", "30", -1,
		    "quiet.err")) > 0);
		expect_clean_stop(pid, "quiet.err");
		CU_ASSERT_EQUAL(count_lines("quiet.err", "exiting with"), 0);
	}
}

/* A web server that half-closes (shutdown(SHUT_WR)) after a whole request still reads: it gets
 * its answer (a backend call's), then the server closes the connection; kept or not. */
static void
test_half_close(void)
{
	for (int keep = 0; keep < 2; keep++) {
		int fd = fcgi_connect_tcp(env.cgi_port);
		struct buf out = BUF_INIT;
		bool answered, closed;

		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT(fcgi_send_get(fd, "/api/ok", keep, FCGI_GET_WHOLE, SEND_BOUND_MS) &&
		    shutdown(fd, SHUT_WR) == 0);
		answered = fcgi_read_answer(fd, ANSWER_BOUND_MS, &out);
		closed = fcgi_await_closed(&fd, 1, CLOSE_BOUND_MS);
		printf("\n    %s connection, half-closed: %s, %s ", keep ? "kept" : "not kept",
		    answered ? "answered" : "no answer", closed ? "then closed" : "still open");
		CU_ASSERT(answered);
		CU_ASSERT_EQUAL(answered ? fcgi_answer_status(buf_str(&out)) : -1, 200);
		CU_ASSERT(closed);
		if (fd >= 0)
			close(fd);
		buf_free(&out);
	}
}

/* Review finding 7: on a Unix socket, where a peer that went away raises EPOLLHUP, a web
 * server that half-closes after a whole request gets its answer however long the backends take
 * (400 ms here, past TCP's 100 ms grace), kept or not, then the close. The event server only:
 * the threads server's watcher takes a half-close for a departure (cgi/serve/threads/watch.c). */
static void
test_half_close_unix(void)
{
	char path[INTEG_PATH_LEN];
	pid_t pid;

	if (integ_threads_server()) {
		printf("\n    the threads server cancels a half-closed request: not tested ");
		return;
	}
	integ_path(&env, path, "half.sock");
	CU_ASSERT_FATAL((pid = start_on_fd0(fcgi_listen(path, NULL), "2", IDLE_TIMEOUT, -1,
	    "half-unix.err")) > 0);
	for (int keep = 0; keep < 2; keep++) {
		int fd = fcgi_connect_unix(path);
		struct buf out = BUF_INIT;
		int64_t t0 = clock_now_us();
		bool answered, closed;

		CU_ASSERT_FATAL(fd >= 0);
		CU_ASSERT(fcgi_send_get(fd, "/api/slow", keep, FCGI_GET_WHOLE, SEND_BOUND_MS) &&
		    shutdown(fd, SHUT_WR) == 0);
		answered = fcgi_read_answer(fd, ANSWER_BOUND_MS, &out);
		printf("\n    %s Unix connection, half-closed, a 400 ms backend: %s after %.2f s ",
		    keep ? "kept" : "not kept", answered ? "answered" : "no answer",
		    (clock_now_us() - t0) / 1e6);
		closed = fcgi_await_closed(&fd, 1, CLOSE_BOUND_MS);
		CU_ASSERT(answered);
		CU_ASSERT_EQUAL(answered ? fcgi_answer_status(buf_str(&out)) : -1, 200);
		CU_ASSERT(closed);
		if (fd >= 0)
			close(fd);
		buf_free(&out);
	}
	expect_clean_stop(pid, "half-unix.err");
}

/* A socket on fd 0 that does not listen (a wrong descriptor handed over) is refused at start,
 * rather than failing every accept for ever while the process looks healthy. */
static void
test_fd0_not_listening(void)
{
	char config[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[INTEG_ARGV_MAX] = { FANOUT_CGI, "-c",
		(char *)integ_path(&env, config, "fanout.json") };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	size_t n = 3;
	pid_t pid;
	int rc;

	CU_ASSERT_FATAL(fd >= 0 && integ_cgi_args(argv, &n, INTEG_ARGV_MAX, NULL));
	pid = integ_spawn(argv, NULL, fd, NULL, integ_path(&env, err, "fd0-idle.err"));
	close(fd);
	CU_ASSERT_FATAL(pid > 0);
	if ((rc = integ_wait_exit(pid, 5000)) == -1)	/* still running: the failure under test */
		(void)integ_stop(pid);
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_EQUAL(count_lines("fd0-idle.err", "is not a listening socket"), 1);
}

/* --check-config on something that is not a file: a clear error at once. */
static void
expect_check_refused(const char *name, const char *reason)
{
	char path[INTEG_PATH_LEN], err[INTEG_PATH_LEN], file[64];
	char *argv[] = { FANOUT_CGI, "--check-config", (char *)integ_path(&env, path, name), NULL };
	pid_t pid;
	int rc;

	snprintf(file, sizeof(file), "check-%s.err", name);
	CU_ASSERT_FATAL((pid = integ_spawn(argv, NULL, -1, NULL, integ_path(&env, err,
	    file))) > 0);
	if ((rc = integ_wait_exit(pid, 5000)) == -1) {	/* blocked: the failure under test */
		(void)kill(pid, SIGKILL);
		(void)integ_wait_exit(pid, 5000);
	}
	CU_ASSERT_EQUAL(rc, 1);
	CU_ASSERT_EQUAL(count_lines(file, reason), 1);
	CU_ASSERT_EQUAL(count_lines(file, "Sanitizer") + count_lines(file, "runtime error"), 0);
}

/* Finding 10: a directory or a FIFO as config, checked and reloaded. A SIGHUP with the config
 * path swapped for a FIFO leaves the old config serving, and SIGTERM still stops the server. */
static void
test_config_not_a_file(void)
{
	char cfg[INTEG_PATH_LEN], saved[INTEG_PATH_LEN], fifo[INTEG_PATH_LEN];

	CU_ASSERT_FATAL(mkdir(integ_path(&env, cfg, "dir.json"), 0755) == 0);
	CU_ASSERT_FATAL(mkfifo(integ_path(&env, fifo, "fifo.json"), 0644) == 0);
	expect_check_refused("dir.json", "dir.json: is a directory");
	expect_check_refused("fifo.json", "fifo.json: is not a regular file (a FIFO)");
	CU_ASSERT_FATAL(rename(integ_path(&env, cfg, "fanout.json"),
	    integ_path(&env, saved, "fanout.json.saved")) == 0);
	CU_ASSERT_FATAL(rename(fifo, cfg) == 0);
	CU_ASSERT_FATAL(kill(env.cgi, SIGHUP) == 0);
	CU_ASSERT(await_file_text("fanout.err", "fanout.json: is not a regular file (a FIFO); "
	    "the config in force stays"));
	expect_front_ok("/api/ok");
	expect_front_ok("/api/healthz");
	CU_ASSERT_FATAL(kill(env.cgi, SIGTERM) == 0);
	if (integ_wait_exit(env.cgi, 10000) != 0) {
		CU_FAIL("SIGTERM not obeyed after a SIGHUP on a FIFO");
		(void)kill(env.cgi, SIGKILL);
		(void)integ_wait_exit(env.cgi, 5000);
	}
	CU_ASSERT_FATAL(unlink(cfg) == 0 && rename(saved, cfg) == 0);
	CU_ASSERT_FATAL(integ_stack_start_cgi(&env, cgi_args));	/* for the suite's cleanup */
	expect_front_ok("/api/ok");
}

static int
suite_init(void)
{
	return integ_stack_start(&env, config_text, integ_nginx_conf, cgi_args) ? 0 : -1;
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
		{ "idle and stalled TCP connections are closed", test_idle_tcp },
		{ "the same on a Unix socket on fd 0; a reader that never reads", test_idle_unix },
		{ "EMFILE: accepts wait and retry, none is lost", test_descriptors },
		{ "EMFILE with idle kept connections: they make room at once",
		    test_descriptors_idle },
		{ "a stop with no connection open says none is", test_quiet_stop },
		{ "a directory or a FIFO as config", test_config_not_a_file },
		{ "a socket on fd 0 that does not listen: refused", test_fd0_not_listening },
		{ "half-closed after a whole request: answered, then closed", test_half_close },
		{ "the same on a Unix socket with a slow backend (event server)",
		    test_half_close_unix },
		{ NULL, NULL },
	};

	if (integ_nginx_binary() == NULL) {
		fprintf(stderr, "integ-conns: SKIP: nginx is not installed (t/check.sh installs it)\n");
		return 77;
	}
	return unit_run("connections, threads and descriptors", suite_init, suite_cleanup, tests);
}
