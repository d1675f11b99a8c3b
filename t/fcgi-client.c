/* fcgi-client.c - a raw FastCGI client for the tests: records written by hand, as a broken or
 * hostile peer would send them, and answers read with a deadline. */
#include "t/fcgi-client.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"

static bool
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

/* One FastCGI record of request 1. */
bool
put_record(int fd, int type, const unsigned char *content, size_t len)
{
	unsigned char head[8] = { 1, (unsigned char)type, 0, 1, (unsigned char)(len >> 8),
		(unsigned char)len, 0, 0 };

	return write_all(fd, head, sizeof(head)) && (len == 0 || write_all(fd, content, len));
}

/* BEGIN_REQUEST: responder, keep the connection. */
bool
put_begin(int fd)
{
	static const unsigned char body[8] = { 0, 1, 1 };

	return put_record(fd, 1, body, sizeof(body));
}

/* BEGIN_REQUEST and the parameters of a GET of uri, not yet ended. */
bool
put_params(int fd, const char *uri)
{
	const char *nv[] = { "REQUEST_METHOD", "GET", "REQUEST_URI", uri };
	unsigned char params[512];
	size_t len = 0;

	for (size_t i = 0; i < 4; i += 2) {
		size_t n = strlen(nv[i]), v = strlen(nv[i + 1]);

		if (n > 127 || v > 127 || len + 2 + n + v > sizeof(params))
			return false;
		params[len++] = (unsigned char)n;
		params[len++] = (unsigned char)v;
		memcpy(params + len, nv[i], n);
		memcpy(params + len + n, nv[i + 1], v);
		len += n + v;
	}
	return put_begin(fd) && put_record(fd, 4, params, len);
}

/* A GET of uri, whole: BEGIN_REQUEST, the parameters and their end, the empty body. */
bool
put_request(int fd, const char *uri)
{
	return put_params(fd, uri) && put_record(fd, 4, NULL, 0) && put_record(fd, 5, NULL, 0);
}

/* Reads records up to END_REQUEST, the STDOUT ones into out; false on EOF, error or timeout. */
bool
read_answer(int fd, int timeout_ms, struct buf *out)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	struct buf in = BUF_INIT;
	bool done = false;

	while (!done && clock_now_us() < until) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char chunk[16384];
		ssize_t n;
		size_t used = 0;

		if (poll(&p, 1, 50) <= 0)
			continue;
		if ((n = read(fd, chunk, sizeof(chunk))) <= 0 || buf_append(&in, chunk, (size_t)n))
			break;
		while (!done && in.len - used >= 8) {
			const unsigned char *h = (const unsigned char *)in.data + used;
			size_t clen = (size_t)h[4] << 8 | h[5], total = 8 + clen + h[6];

			if (in.len - used < total)
				break;
			if (h[1] == 6 && buf_append(out, h + 8, clen) != 0)
				break;
			done = h[1] == 3;
			used += total;
		}
		memmove(in.data, in.data + used, in.len - used);
		buf_truncate(&in, in.len - used);
	}
	buf_free(&in);
	return done;
}

static int
connect_to(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd >= 0 && connect(fd, sa, len) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

int
connect_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return connect_to((struct sockaddr *)&sa, sizeof(sa));
}

int
connect_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	return connect_to((struct sockaddr *)&sa, sizeof(sa));
}

/* Waits until fanout-cgi has closed each of the n connections (each is closed here as soon as
 * it is: libfcgi's close waits for ours); false after timeout_ms. */
bool
await_closed(int *fds, size_t n, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	size_t open = n;

	while (open > 0 && clock_now_us() < until) {
		struct pollfd p[8];
		char chunk[256];

		for (size_t i = 0; i < n && i < 8; i++)
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(p, n, 50) <= 0)
			continue;
		for (size_t i = 0; i < n && i < 8; i++)
			if (fds[i] >= 0 && p[i].revents != 0 && read(fds[i], chunk, sizeof(chunk)) <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open--;
			}
	}
	return open == 0;
}

void
close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* A listening socket (TCP on a free port, or Unix at path) to hand over on fd 0. */
int
fcgi_listen(const char *path, int *port)
{
	struct sockaddr_un su = { .sun_family = AF_UNIX };
	struct sockaddr_in si = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(si);
	int fd = socket(path != NULL ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (path != NULL)
		snprintf(su.sun_path, sizeof(su.sun_path), "%s", path);
	if (fd < 0 || (path != NULL ? bind(fd, (struct sockaddr *)&su, sizeof(su)) :
	    bind(fd, (struct sockaddr *)&si, sizeof(si))) != 0 || listen(fd, 64) != 0 ||
	    (path == NULL && getsockname(fd, (struct sockaddr *)&si, &len) != 0)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (port != NULL)
		*port = ntohs(si.sin_port);
	return fd;
}
