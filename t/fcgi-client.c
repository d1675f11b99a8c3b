/* fcgi-client.c - a raw FastCGI client for the tests: records written by hand, well-formed or as
 * a broken or hostile peer would send them, and answers read with a deadline. */
#include "t/fcgi-client.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common/clock.h"

#define HEADER_LEN 8

bool
fcgi_record(struct buf *out, enum fcgi_rec_type type, unsigned request_id, const void *content,
    size_t len, size_t padding)
{
	static const unsigned char zeros[255];
	unsigned char h[HEADER_LEN] = { 1, (unsigned char)type, (unsigned char)(request_id >> 8),
		(unsigned char)request_id, (unsigned char)(len >> 8), (unsigned char)len,
		(unsigned char)padding, 0 };

	return len <= FCGI_RECORD_MAX && padding <= sizeof(zeros) &&
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

bool
fcgi_begin(struct buf *out, unsigned request_id, bool keep_conn)
{
	const unsigned char body[8] = { 0, FCGI_ROLE_RESPONDER, keep_conn ? FCGI_FLAG_KEEP_CONN : 0 };

	return fcgi_record(out, FCGI_TYPE_BEGIN_REQUEST, request_id, body, sizeof(body), 0);
}

bool
fcgi_build_get_id(struct buf *out, unsigned request_id, const char *uri, bool keep_conn,
    enum fcgi_get_upto upto)
{
	struct buf params = BUF_INIT;
	bool ok = fcgi_begin(out, request_id, keep_conn);

	if (ok && upto >= FCGI_GET_PARAMS)
		ok = fcgi_pair(&params, "REQUEST_METHOD", "GET") &&
		    fcgi_pair(&params, "REQUEST_URI", uri) &&
		    fcgi_record(out, FCGI_TYPE_PARAMS, request_id, params.data, params.len, 0);
	if (ok && upto >= FCGI_GET_WHOLE)
		ok = fcgi_record(out, FCGI_TYPE_PARAMS, request_id, NULL, 0, 0) &&
		    fcgi_record(out, FCGI_TYPE_STDIN, request_id, NULL, 0, 0);
	buf_free(&params);
	return ok;
}

bool
fcgi_build_get(struct buf *out, const char *uri, bool keep_conn, enum fcgi_get_upto upto)
{
	return fcgi_build_get_id(out, 1, uri, keep_conn, upto);
}

/* Connects a new close-on-exec stream socket to sa; -1 on error. */
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

/* Fills sa with path; false if it is too long for a socket address (not cut short: that would
 * be another path). */
static bool
unix_address(struct sockaddr_un *sa, const char *path)
{
	size_t len = strlen(path);

	*sa = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (len >= sizeof(sa->sun_path))
		return false;
	memcpy(sa->sun_path, path, len + 1);
	return true;
}

int
fcgi_connect_tcp(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };

	return connect_to((struct sockaddr *)&sa, sizeof(sa));
}

int
fcgi_connect_unix(const char *path)
{
	struct sockaddr_un sa;

	if (!unix_address(&sa, path))
		return -1;
	return connect_to((struct sockaddr *)&sa, sizeof(sa));
}

int
fcgi_listen(const char *path, int *port)
{
	struct sockaddr_un su;
	struct sockaddr_in si = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(si);
	int fd;

	if (path != NULL && !unix_address(&su, path))
		return -1;
	fd = socket(path != NULL ? AF_UNIX : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
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

/* Waits until one of the n descriptors is ready for its events (in revents then) or the
 * deadline (clock_now_us) passes; false then, or on a poll error. */
static bool
await_any(struct pollfd *p, nfds_t n, int64_t until)
{
	for (;;) {
		int64_t left = (until - clock_now_us()) / 1000;
		int rc;

		if (left <= 0)
			return false;
		rc = poll(p, n, (int)left);
		if (rc > 0)
			return true;
		if (rc < 0 && errno != EINTR)
			return false;
	}
}

/* Waits until fd is ready for events or the deadline passes; false then. */
static bool
await(int fd, short events, int64_t until)
{
	struct pollfd p = { .fd = fd, .events = events };

	return await_any(&p, 1, until);
}

size_t
fcgi_send_some(int fd, const void *data, size_t len, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	const char *p = data;
	size_t sent = 0;

	while (sent < len) {
		ssize_t n;

		if (!await(fd, POLLOUT, until))
			break;
		if ((n = send(fd, p + sent, len - sent, MSG_NOSIGNAL | MSG_DONTWAIT)) < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			break;
		}
		sent += (size_t)n;
	}
	return sent;
}

bool
fcgi_send(int fd, const void *data, size_t len, int timeout_ms)
{
	return fcgi_send_some(fd, data, len, timeout_ms) == len;
}

bool
fcgi_send_get(int fd, const char *uri, bool keep_conn, enum fcgi_get_upto upto, int timeout_ms)
{
	struct buf req = BUF_INIT;
	bool ok = fcgi_build_get(&req, uri, keep_conn, upto) &&
	    fcgi_send(fd, req.data, req.len, timeout_ms);

	buf_free(&req);
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

/* One record read: its header's fields, and its content (in the reader's buffer). */
struct record {
	unsigned type, id;
	const unsigned char *content;
	size_t len;
};

/* A connection's records, read one at a time with a deadline (clock_now_us). */
struct reader {
	int fd;
	int64_t until;
	struct buf in;		/* what was read and not yet taken */
	size_t taken;		/* the length of the record last returned, at the start of in */
};

/* The next record into *r, valid until the next call; false if the connection ended first, a
 * read failed, the record's version is not 1, memory ran out, or the deadline passed. */
static bool
next_record(struct reader *rd, struct record *r)
{
	char chunk[4096];
	size_t total;

	if (rd->taken > 0) {
		memmove(rd->in.data, rd->in.data + rd->taken, rd->in.len - rd->taken);
		buf_truncate(&rd->in, rd->in.len - rd->taken);
		rd->taken = 0;
	}
	while ((total = record_len(&rd->in)) == 0) {
		ssize_t n;

		if (!await(rd->fd, POLLIN, rd->until))
			return false;
		if ((n = recv(rd->fd, chunk, sizeof(chunk), MSG_DONTWAIT)) > 0) {
			if (buf_append(&rd->in, chunk, (size_t)n) != 0)
				return false;
		} else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			return false;
	}
	r->content = (const unsigned char *)rd->in.data;
	r->type = r->content[1];
	r->id = (unsigned)r->content[2] << 8 | r->content[3];
	r->len = (size_t)r->content[4] << 8 | r->content[5];
	rd->taken = total;
	if (r->content[0] != 1)
		return false;
	r->content += HEADER_LEN;
	return true;
}

/* fcgi_read_answer with a deadline (clock_now_us) for its end. */
static bool
read_answer_until(int fd, int64_t until, struct buf *out)
{
	struct reader rd = { .fd = fd, .until = until, .in = BUF_INIT };
	struct record r;
	bool done = false;

	while (!done && next_record(&rd, &r)) {
		if (r.type == FCGI_TYPE_STDOUT && buf_append(out, r.content, r.len) != 0)
			break;
		done = r.type == FCGI_TYPE_END_REQUEST;
	}
	buf_free(&rd.in);
	return done;
}

bool
fcgi_read_answer(int fd, int timeout_ms, struct buf *out)
{
	return read_answer_until(fd, clock_now_us() + timeout_ms * 1000LL, out);
}

int
fcgi_answer_status(const char *answer)
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
	struct buf out = BUF_INIT;
	int fd = fcgi_connect_unix(path), status = -1;

	if (fd >= 0 && fcgi_send_get(fd, uri, false, FCGI_GET_WHOLE, timeout_ms) &&
	    read_answer_until(fd, until, &out))
		status = fcgi_answer_status(buf_str(&out));
	if (fd >= 0)
		close(fd);
	buf_free(&out);
	return status;
}

void
fcgi_ends_init(struct fcgi_ends *e, const unsigned *ids, size_t n)
{
	*e = (struct fcgi_ends){ .n = n < FCGI_IDS_MAX ? n : FCGI_IDS_MAX };
	for (size_t i = 0; i < e->n; i++) {
		e->ids[i] = ids[i];
		e->protocol_status[i] = -1;
		e->out[i] = (struct buf)BUF_INIT;
	}
}

void
fcgi_ends_free(struct fcgi_ends *e)
{
	for (size_t i = 0; i < e->n; i++)
		buf_free(&e->out[i]);
}

/* Files one record under its awaited request in e (a stray if none awaits it); false when
 * memory ran out. */
static bool
file_record(struct fcgi_ends *e, const struct record *r)
{
	size_t i = 0;

	while (i < e->n && (e->ids[i] != r->id || e->protocol_status[i] >= 0))
		i++;
	if (i == e->n)
		e->strays++;
	else if (r->type == FCGI_TYPE_STDOUT)
		return buf_append(&e->out[i], r->content, r->len) == 0;
	else if (r->type == FCGI_TYPE_END_REQUEST && r->len >= 8) {
		e->app_status[i] = (unsigned)r->content[0] << 24 | (unsigned)r->content[1] << 16 |
		    (unsigned)r->content[2] << 8 | r->content[3];
		e->protocol_status[i] = r->content[4];
	}
	return true;
}

bool
fcgi_read_ends(int fd, int timeout_ms, struct fcgi_ends *e)
{
	struct reader rd = { .fd = fd, .until = clock_now_us() + timeout_ms * 1000LL,
		.in = BUF_INIT };
	struct record r;
	size_t ended = 0;

	while (ended < e->n && next_record(&rd, &r) && file_record(e, &r)) {
		ended = 0;
		for (size_t i = 0; i < e->n; i++)
			ended += e->protocol_status[i] >= 0;
	}
	buf_free(&rd.in);
	return ended == e->n;
}

/* What the peer did on fd, once read: closed it (abruptly too: a reset), nothing yet, or an
 * error that says neither. */
enum peer { PEER_CLOSED, PEER_OPEN, PEER_FAILED };

/* Reads and drops what fd holds, and says whether the peer closed it. */
static enum peer
drain(int fd)
{
	char chunk[4096];
	ssize_t n = recv(fd, chunk, sizeof(chunk), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno == ECONNRESET))
		return PEER_CLOSED;
	if (n < 0 && errno != EAGAIN && errno != EINTR)
		return PEER_FAILED;
	return PEER_OPEN;
}

bool
fcgi_await_closed(int *fds, size_t n, int timeout_ms)
{
	int64_t until = clock_now_us() + timeout_ms * 1000LL;
	struct pollfd p[FCGI_AWAIT_MAX];
	size_t open = 0;

	if (n > FCGI_AWAIT_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		open += fds[i] >= 0;
	while (open > 0) {
		for (size_t i = 0; i < n; i++)	/* poll passes over those at -1 */
			p[i] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (!await_any(p, n, until))
			return false;
		for (size_t i = 0; i < n; i++) {
			enum peer peer = fds[i] >= 0 && p[i].revents != 0 ? drain(fds[i]) : PEER_OPEN;

			if (peer == PEER_FAILED)
				return false;
			if (peer == PEER_CLOSED) {
				close(fds[i]);
				fds[i] = -1;
				open--;
			}
		}
	}
	return true;
}

void
fcgi_close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}
