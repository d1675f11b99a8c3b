/* solo.c - fanout-cgi alone on a Unix socket in a directory of its own, and a minimal FastCGI
 * client that talks to it directly: records built by hand (well-formed or hostile), every wait
 * bounded. */
#include "t/solo.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/clock.h"

#define RECORD_MAX 65535
#define HEADER_LEN 8
#define ROLE_RESPONDER 1

bool
fcgi_record(struct buf *out, enum fcgi_type type, unsigned request_id, const void *content,
    size_t len, size_t padding)
{
	static const unsigned char zeros[255];
	unsigned char h[HEADER_LEN] = { 1, (unsigned char)type, (unsigned char)(request_id >> 8),
		(unsigned char)request_id, (unsigned char)(len >> 8), (unsigned char)len,
		(unsigned char)padding, 0 };

	return len <= RECORD_MAX && padding <= sizeof(zeros) &&
	    buf_append(out, h, sizeof(h)) == 0 && (len == 0 || buf_append(out, content, len) == 0) &&
	    (padding == 0 || buf_append(out, zeros, padding) == 0);
}

/* One length of a name-value pair: one byte below 128, else four with the high bit set. */
static bool
pair_len(struct buf *out, size_t n)
{
	unsigned char l[4] = { (unsigned char)(0x80 | (n >> 24)), (unsigned char)(n >> 16),
		(unsigned char)(n >> 8), (unsigned char)n };

	if (n < 128) {
		l[0] = (unsigned char)n;
		return buf_append(out, l, 1) == 0;
	}
	return buf_append(out, l, 4) == 0;
}

bool
fcgi_pair(struct buf *out, const char *name, const char *value)
{
	return pair_len(out, strlen(name)) && pair_len(out, strlen(value)) &&
	    buf_puts(out, name) == 0 && buf_puts(out, value) == 0;
}

int
fcgi_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Waits until fd is ready for events or the deadline (clock_now_us) passes; false then. */
static bool
await(int fd, short events, int64_t until)
{
	for (;;) {
		int64_t left = (until - clock_now_us()) / 1000;
		struct pollfd p = { .fd = fd, .events = events };
		int rc;

		if (left <= 0)
			return false;
		rc = poll(&p, 1, (int)left);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
	}
}

bool
fcgi_send(int fd, const void *data, size_t len, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	const char *p = data;

	while (len > 0) {
		ssize_t n;

		if (!await(fd, POLLOUT, until))
			return false;
		if ((n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return false;
		}
		p += n;
		len -= (size_t)n;
	}
	return true;
}

bool
fcgi_await_close(int fd, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	char chunk[4096];

	for (;;) {
		ssize_t n;

		if (!await(fd, POLLIN, until))
			return false;
		if ((n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) == 0)
			return true;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return errno == ECONNRESET;	/* closed too, abruptly */
	}
}

/* The records of a GET of uri as request 1: BEGIN_REQUEST, PARAMS, their end, empty STDIN. */
static bool
build_get(struct buf *out, const char *uri)
{
	static const unsigned char begin[8] = { 0, ROLE_RESPONDER, 0 };
	struct buf params = BUF_INIT;
	bool ok = fcgi_pair(&params, "REQUEST_METHOD", "GET") &&
	    fcgi_pair(&params, "REQUEST_URI", uri) &&
	    fcgi_record(out, FCGI_BEGIN_REQUEST, 1, begin, sizeof(begin), 0) &&
	    fcgi_record(out, FCGI_PARAMS, 1, params.data, params.len, 0) &&
	    fcgi_record(out, FCGI_PARAMS, 1, NULL, 0, 0) &&
	    fcgi_record(out, FCGI_STDIN, 1, NULL, 0, 0);

	buf_free(&params);
	return ok;
}

/* The length of the complete record at the start of in (header, content, padding), or 0 while
 * it is incomplete. */
static size_t
record_len(const struct buf *in)
{
	const unsigned char *h = (const unsigned char *)in->data;
	size_t total;

	if (in->len < HEADER_LEN)
		return 0;
	total = HEADER_LEN + ((size_t)h[4] << 8 | h[5]) + h[6];
	return in->len >= total ? total : 0;
}

/* Reads records until FCGI_END_REQUEST, collecting FCGI_STDOUT in out; false if the connection
 * ended first, a record was malformed, or the deadline passed. */
static bool
read_answer(int fd, int64_t until, struct buf *out)
{
	struct buf in = BUF_INIT;
	char chunk[4096];
	bool done = false, failed = false;

	while (!done && !failed) {
		size_t total = record_len(&in);
		ssize_t n;

		if (total > 0) {
			const unsigned char *h = (const unsigned char *)in.data;

			done = h[1] == FCGI_END_REQUEST;
			failed = h[0] != 1 || (h[1] == FCGI_STDOUT &&
			    buf_append(out, in.data + HEADER_LEN, ((size_t)h[4] << 8 | h[5])) != 0);
			memmove(in.data, in.data + total, in.len - total);
			buf_truncate(&in, in.len - total);
		} else if (!await(fd, POLLIN, until))
			failed = true;
		else if ((n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0)
			failed = buf_append(&in, chunk, (size_t)n) != 0;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			failed = true;
	}
	buf_free(&in);
	return done && !failed;
}

/* The status of a CGI answer: its "Status: NNN" line, 200 without one, -1 if malformed. */
static int
answer_status(const char *answer)
{
	if (strncmp(answer, "Status: ", 8) != 0)
		return 200;
	if (strspn(answer + 8, "0123456789") != 3)
		return -1;
	return (answer[8] - '0') * 100 + (answer[9] - '0') * 10 + (answer[10] - '0');
}

int
fcgi_get(const char *path, const char *uri, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	struct buf req = BUF_INIT, out = BUF_INIT;
	int fd = fcgi_connect(path), status = -1;

	if (fd >= 0 && build_get(&req, uri) && fcgi_send(fd, req.data, req.len, timeout_ms) &&
	    read_answer(fd, until, &out))
		status = answer_status(buf_str(&out));
	if (fd >= 0)
		close(fd);
	buf_free(&req);
	buf_free(&out);
	return status;
}

static const char solo_config[] =
    "{\"admin\": {\"health\": \"/healthz\"},\n"
    " \"endpoints\": [{\"path\": \"/x\", \"backends\": [\n"
    "   {\"name\": \"a\", \"url\": \"http://127.0.0.1:9/\"}]}]}\n";

bool
solo_init(struct solo *s)
{
	char config[INTEG_PATH_LEN];

	snprintf(s->dir, sizeof(s->dir), "/tmp/fanout-solo-XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return false;
	snprintf(s->sock, sizeof(s->sock), "%s/fanout.sock", s->dir);
	snprintf(config, sizeof(config), "%s/fanout.json", s->dir);
	return chmod(s->dir, 0755) == 0 && integ_write_file(config, solo_config);
}

pid_t
solo_spawn(const struct solo *s, const char *const *args, const char *err_name)
{
	char config[INTEG_PATH_LEN], err[INTEG_PATH_LEN];
	char *argv[16] = { FANOUT_CGI, "-c", config, "--listen", (char *)s->sock };
	size_t n = 5;

	for (size_t i = 0; args != NULL && args[i] != NULL && n < 15; i++)
		argv[n++] = (char *)args[i];
	argv[n] = NULL;
	snprintf(config, sizeof(config), "%s/fanout.json", s->dir);
	snprintf(err, sizeof(err), "%s/%s", s->dir, err_name);
	return integ_spawn(argv, NULL, -1, NULL, err);
}

bool
solo_ready(const struct solo *s, pid_t pid, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	while (clock_now_us() < until) {
		siginfo_t info = { .si_pid = 0 };

		/* Exited? Looked at, not reaped: the caller still stops or reaps it. */
		if (waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    info.si_pid != 0)
			return false;
		if (fcgi_get(s->sock, "/healthz", 1000) == 200)
			return true;
		clock_sleep_us(10000);
	}
	return false;
}

bool
solo_reaped(pid_t pid, int timeout_ms, int *status)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return true;
		if (r < 0 || clock_now_us() >= until)
			return false;
		clock_sleep_us(5000);
	}
}

const char *
solo_describe(int status, char *out, size_t size)
{
	if (WIFEXITED(status))
		snprintf(out, size, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(out, size, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(out, size, "wait status %#x", (unsigned)status);
	return out;
}

bool
solo_file_has(const struct solo *s, const char *name, const char *text)
{
	char path[INTEG_PATH_LEN];
	struct buf content = BUF_INIT;
	bool has;

	snprintf(path, sizeof(path), "%s/%s", s->dir, name);
	has = integ_read_file(path, &content) && strstr(buf_str(&content), text) != NULL;
	buf_free(&content);
	return has;
}

void
solo_cleanup(const struct solo *s, bool keep)
{
	if (keep)
		fprintf(stderr, "solo: files kept in %s\n", s->dir);
	else if (!integ_remove_tree(s->dir))
		fprintf(stderr, "solo: cannot remove %s\n", s->dir);
}
