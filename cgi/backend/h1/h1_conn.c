/* h1_conn.c - the lean HTTP/1.1 client's connections: non-blocking connect, send and read on
 * the loop, and the pool of kept ones per backend address. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cgi/backend/h1/h1_internal.h"
#include "fanout/fanout.h"

#define READ_SIZE 16384

/* The counts of every client, for the metrics (read from other threads). */
enum { OPENED, REUSED, STRAY_REFUSED };
static atomic_ulong totals[3];

/* Counts one in a client's stats and in the process's. */
static void
count(unsigned long *mine, int which)
{
	(*mine)++;
	atomic_fetch_add_explicit(&totals[which], 1, memory_order_relaxed);
}

struct h1_stats
h1_totals(void)
{
	return (struct h1_stats){ atomic_load_explicit(&totals[OPENED], memory_order_relaxed),
		atomic_load_explicit(&totals[REUSED], memory_order_relaxed),
		atomic_load_explicit(&totals[STRAY_REFUSED], memory_order_relaxed) };
}

struct h1_host *
h1_host_hold(struct h1_client *c, const struct sockaddr_storage *addr, socklen_t len,
    const char *origin)
{
	struct h1_host *h;

	for (h = c->hosts; h != NULL; h = h->next)
		if (h->addr_len == len && memcmp(&h->addr, addr, len) == 0)
			break;
	if (h != NULL && h->origin == NULL && origin != NULL &&
	    (h->origin = strdup(origin)) == NULL)
		return NULL;
	if (h == NULL) {
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return NULL;
		if (origin != NULL && (h->origin = strdup(origin)) == NULL) {
			free(h);
			return NULL;
		}
		memcpy(&h->addr, addr, len);
		h->addr_len = len;
		h->next = c->hosts;
		if (h->next != NULL)
			h->next->prev = h;
		c->hosts = h;
	}
	h->refs++;
	return h;
}

void
h1_host_release(struct h1_client *c, struct h1_host *h)
{
	if (--h->refs > 0)
		return;
	if (h->prev != NULL)
		h->prev->next = h->next;
	else
		c->hosts = h->next;
	if (h->next != NULL)
		h->next->prev = h->prev;
	free(h->origin);
	free(h);
}

void
h1_addr_text(const struct h1_host *h, char *out, size_t size)
{
	const struct sockaddr_in *s4 = (const void *)&h->addr;
	const struct sockaddr_in6 *s6 = (const void *)&h->addr;
	char ip[INET6_ADDRSTRLEN] = "?";

	if (h->addr.ss_family == AF_INET)
		(void)inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof(ip));
	else
		(void)inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof(ip));
	snprintf(out, size, "%s port %u", ip, (unsigned)ntohs(h->addr.ss_family == AF_INET ?
	    s4->sin_port : s6->sin6_port));
}

/* ---- Closing ---- */

static void
dead_free(void *ctx)
{
	struct h1_client *c = ctx;
	struct h1_conn *conn;

	c->dead_deferred = false;
	while ((conn = c->dead) != NULL) {
		c->dead = conn->next;
		h1p_free(&conn->parser);
		free(conn);
	}
}

static void
idle_unlink(struct h1_conn *conn)
{
	struct h1_host *h = conn->host;

	if (conn->prev != NULL)
		conn->prev->next = conn->next;
	else
		h->idle = conn->next;
	if (conn->next != NULL)
		conn->next->prev = conn->prev;
	conn->prev = conn->next = NULL;
	h->nidle--;
}

void
h1_conn_close(struct h1_conn *conn)
{
	struct h1_client *c = conn->c;

	if (conn->state == H1_IDLE)
		idle_unlink(conn);
	if (conn->t != NULL)
		conn->t->conn = NULL;
	conn->t = NULL;
	loop_timer_stop(c->l, &conn->idle_timer);
	loop_io_del(c->l, &conn->io);
	close(conn->io.fd);
	h1_host_release(c, conn->host);
	/* An event of this batch may still name its loop_io: it is freed after the batch (or
	 * with the client, if the loop cannot take one more deferred job now). */
	conn->next = c->dead;
	c->dead = conn;
	if (!c->dead_deferred && loop_defer(c->l, dead_free, c) == 0)
		c->dead_deferred = c->dead != NULL;
}

/* ---- The pool ---- */

static void
idle_expired(void *ctx)
{
	h1_conn_close(ctx);
}

void
h1_conn_release(struct h1_conn *conn, bool reusable)
{
	struct h1_client *c = conn->c;
	struct h1_host *h = conn->host;

	if (conn->t != NULL)
		conn->t->conn = NULL;
	conn->t = NULL;
	if (!reusable || h->nidle >= H1_IDLE_MAX ||
	    loop_timer_set(c->l, &conn->idle_timer, fanout_now_us() + H1_IDLE_MS * 1000LL) != 0) {
		h1_conn_close(conn);
		return;
	}
	conn->state = H1_IDLE;
	conn->kept = true;
	conn->prev = NULL;
	conn->next = h->idle;
	if (conn->next != NULL)
		conn->next->prev = conn;
	h->idle = conn;
	h->nidle++;
}

/* Whether nothing waits on a kept connection: a byte nobody asked for (issue 7, and then
 * *stray is set: a sign that the backend is out of step, issue 18), an end of stream or an
 * error all say it cannot carry a request. Looks without reading. */
static bool
conn_clean(struct h1_conn *conn, bool *stray)
{
	char byte;
	ssize_t n = recv(conn->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	*stray = n > 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n > 0)
		count(&conn->c->stats.stray_refused, STRAY_REFUSED);
	return false;
}

/* The parser tells the transfer's reply the header it is to carry (fetch_request.echo_header). */
static void
echo_head(void *ctx)
{
	struct h1_transfer *t = ctx;

	fetch_reply_echo_reset(t->reply);
}

static void
echo_field(void *ctx, const char *name, size_t name_len, const char *value, size_t value_len)
{
	struct h1_transfer *t = ctx;

	fetch_reply_echo_field(t->reply, t->echo_name, name, name_len, value, value_len);
}

/* The connection's parser, reset or new, reads t's answer. */
static void
parser_for(struct h1_conn *conn, struct h1_transfer *t)
{
	bool echo = t->echo_name[0] != '\0';

	conn->parser.head = echo ? echo_head : NULL;
	conn->parser.field = echo ? echo_field : NULL;
	conn->parser.ctx = t;
}

/* ---- One exchange ---- */

static void
transfer_send(struct h1_transfer *t)
{
	struct h1_conn *conn = t->conn;
	ssize_t n;

	do
		n = send(conn->io.fd, t->request.data + t->sent, t->request.len - t->sent,
		    MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
		int err = errno;

		h1_transfer_fail(t, FETCH_BODY, err == EPIPE || err == ECONNRESET,
		    "Send failure: %s", strerror(err));
		return;
	}
	if (n > 0)
		t->sent += (size_t)n;
	conn->state = t->sent == t->request.len ? H1_READING : H1_SENDING;
	if (loop_io_set(conn->c->l, &conn->io,
	    conn->state == H1_READING ? EPOLLIN : EPOLLOUT) != 0)
		h1_transfer_fail(t, FETCH_INTERNAL, false, "cannot watch a socket: %s",
		    strerror(errno));
}

/* Bytes of the answer, as they come; the loop calls again for more. */
static void
transfer_read(struct h1_transfer *t)
{
	struct h1_conn *conn = t->conn;
	char data[READ_SIZE];
	size_t used;
	ssize_t n;

	for (;;) {
		n = recv(conn->io.fd, data, sizeof(data), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			int err = errno;

			h1_transfer_fail(t, FETCH_BODY, err == ECONNRESET, "Recv failure: %s",
			    strerror(err));
			return;
		}
		if (n == 0) {
			if (h1p_end(&conn->parser) == H1P_DONE)
				h1_transfer_complete(t, false);
			else
				h1_transfer_fail(t, FETCH_BODY, true, "%s", conn->parser.error);
			return;
		}
		t->received += (size_t)n;
		switch (h1p_feed(&conn->parser, data, (size_t)n, &used)) {
		case H1P_MORE:
			if ((size_t)n < sizeof(data))
				return;	/* the socket is likely empty: epoll says when it is not */
			continue;
		case H1P_DONE:
			/* Bytes past the answer: nobody asked for them, and the connection can
			 * no longer tell where the next answer would begin. */
			if (used < (size_t)n) {
				count(&t->c->stats.stray_refused, STRAY_REFUSED);
				t->reply->signs |= FETCH_SIGN_TRAILING;
			}
			h1_transfer_complete(t, used == (size_t)n && conn->parser.keep_alive &&
			    !t->no_reuse);
			return;
		case H1P_BAD:
			t->reply->signs |= FETCH_SIGN_UNPARSED;
			h1_transfer_fail(t, FETCH_BODY, false, "%s", conn->parser.error);
			return;
		case H1P_TOO_LARGE:
			h1_transfer_fail(t, FETCH_TOO_LARGE, false, "body larger than %zu bytes",
			    t->max_body);
			return;
		default:
			h1_transfer_fail(t, FETCH_INTERNAL, false, "out of memory");
			return;
		}
	}
}

static void
transfer_connected(struct h1_transfer *t)
{
	int err = 0;
	socklen_t len = sizeof(err);
	char where[80];

	if (getsockopt(t->conn->io.fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		h1_addr_text(t->host, where, sizeof(where));
		h1_transfer_fail(t, FETCH_CONNECT, false, "Failed to connect to %s: %s", where,
		    strerror(err));
		return;
	}
	transfer_send(t);
}

static void
conn_ready(void *ctx, uint32_t events)
{
	struct h1_conn *conn = ctx;
	struct h1_client *c = conn->c;

	(void)events;
	c->in_callback = true;
	switch (conn->state) {
	case H1_IDLE: {	/* the backend closed it, or sent what nobody asked for */
		bool stray;

		(void)conn_clean(conn, &stray);
		if (stray && c->idle_bytes != NULL)
			c->idle_bytes(c->ctx, conn->host->origin);
		h1_conn_close(conn);
		break;
	}
	case H1_CONNECTING:
		transfer_connected(conn->t);
		break;
	case H1_SENDING:
		transfer_send(conn->t);
		break;
	case H1_READING:
		transfer_read(conn->t);
		break;
	}
	h1_callback_exit(c);
}

/* A new connection for t, connecting (or connected, on loopback). */
static void
conn_open(struct h1_transfer *t)
{
	struct h1_client *c = t->c;
	struct h1_host *h = t->host;
	struct h1_conn *conn = calloc(1, sizeof(*conn));
	int one = 1, fd = -1, rc;
	char where[80];

	if (conn == NULL || (fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		int err = conn == NULL ? ENOMEM : errno;

		free(conn);
		h1_addr_text(h, where, sizeof(where));
		h1_transfer_fail(t, FETCH_CONNECT, false, "Failed to connect to %s: %s", where,
		    strerror(err));
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	do
		rc = connect(fd, (const struct sockaddr *)&h->addr, h->addr_len);
	while (rc != 0 && errno == EINTR);
	if (rc != 0 && errno != EINPROGRESS) {
		int err = errno;

		close(fd);
		free(conn);
		h1_addr_text(h, where, sizeof(where));
		h1_transfer_fail(t, FETCH_CONNECT, false, "Failed to connect to %s: %s", where,
		    strerror(err));
		return;
	}
	if (loop_io_add(c->l, &conn->io, fd, EPOLLOUT, conn_ready, conn) != 0) {
		int err = errno;

		close(fd);
		free(conn);
		h1_transfer_fail(t, FETCH_INTERNAL, false, "cannot watch a socket: %s",
		    strerror(err));
		return;
	}
	conn->c = c;
	conn->host = h;
	h->refs++;
	h1p_init(&conn->parser, &t->reply->body, t->max_body);
	parser_for(conn, t);
	loop_timer_init(&conn->idle_timer, idle_expired, conn);
	count(&c->stats.opened, OPENED);
	t->reply->conn = FETCH_CONN_OPENED;
	conn->t = t;
	t->conn = conn;
	conn->state = H1_CONNECTING;
	if (rc == 0)
		transfer_send(t);
	/* else the loop says when it is connected (EPOLLOUT), or refused */
}

void
h1_conn_take(struct h1_transfer *t, bool fresh)
{
	struct h1_host *h = t->host;
	struct h1_conn *conn;
	bool stray;

	t->sent = 0;
	t->received = 0;
	while (!fresh && !t->no_reuse && (conn = h->idle) != NULL) {
		if (!conn_clean(conn, &stray)) {
			if (stray)
				t->reply->signs |= FETCH_SIGN_PEEK;
			h1_conn_close(conn);
			continue;
		}
		idle_unlink(conn);
		conn->state = H1_SENDING;	/* out of the pool, whatever the send does */
		loop_timer_stop(t->c->l, &conn->idle_timer);
		h1p_reset(&conn->parser, &t->reply->body, t->max_body);
		parser_for(conn, t);
		count(&t->c->stats.reused, REUSED);
		t->reply->conn = FETCH_CONN_REUSED;
		conn->t = t;
		t->conn = conn;
		transfer_send(t);
		return;
	}
	conn_open(t);
}
