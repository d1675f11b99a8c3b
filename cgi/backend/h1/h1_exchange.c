/* h1_exchange.c - the lean HTTP/1.1 client's exchanges: a transfer on a connection, kept or
 * new, its request sent and its answer read as the loop says the socket is ready, its end (or
 * its one retry on a new connection), its deadline. Above the connections (h1_conn.c), which
 * only return results; below the client's calls (h1.c). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "cgi/backend/h1/h1_internal.h"
#include "common/clock.h"

#define READ_SIZE 16384

static void transfer_take(struct h1_transfer *t, bool fresh);

/* The end of one of the client's callbacks from the loop: ended() is called if a transfer has
 * ended. */
static void
callback_exit(struct h1_client *c)
{
	c->in_callback = false;
	if (c->done != NULL)
		c->ended(c->ctx);
}

void
h1_list_unlink(struct h1_transfer **head, struct h1_transfer *t)
{
	if (t->prev != NULL)
		t->prev->next = t->next;
	else
		*head = t->next;
	if (t->next != NULL)
		t->next->prev = t->prev;
	t->prev = t->next = NULL;
}

/* Moves t to the ended list, where h1_done() finds it; told from a callback of the loop. */
static void
transfer_end(struct h1_transfer *t)
{
	struct h1_client *c = t->c;

	if (!c->in_callback) {
		/* Not from the loop: its timer, armed already (so re-arming it needs no memory),
		 * reports it at the loop's next turn. */
		t->end_pending = true;
		(void)loop_timer_set(c->l, &t->timer, 0);
		return;
	}
	loop_timer_stop(c->l, &t->timer);
	h1_list_unlink(&c->running, t);
	t->ended = true;
	t->prev = c->done_tail;
	if (t->prev != NULL)
		t->prev->next = t;
	else
		c->done = t;
	c->done_tail = t;
}

/* t's answer has been read whole. */
static void
transfer_complete(struct h1_transfer *t, bool reusable)
{
	t->reply->kind = FETCH_OK;
	t->reply->status = t->conn->parser.status;
	h1_conn_release(t->conn, reusable);
	transfer_end(t);
}

/* t failed: it goes out again on a new connection if `may_retry` and it may (a kept connection,
 * nothing of the answer read, not retried yet), else ends with kind and the message. */
static void
transfer_fail(struct h1_transfer *t, enum fetch_kind kind, bool may_retry, const char *fmt, ...)
{
	struct h1_conn *conn = t->conn;
	va_list ap;

	if (conn != NULL) {
		may_retry = may_retry && conn->kept && t->received == 0 && !t->retried;
		t->reply->status = conn->parser.status;
		h1_conn_close(conn);
	} else
		may_retry = false;
	if (may_retry) {
		/* The backend closed a kept connection as the request went out: a GET may go
		 * again, once, on a connection of its own. */
		t->retried = true;
		transfer_take(t, true);
		return;
	}
	t->reply->kind = kind;
	va_start(ap, fmt);
	vsnprintf(t->reply->message, sizeof(t->reply->message), fmt, ap);
	va_end(ap);
	transfer_end(t);
}

/* The deadline: or the report of an end that happened outside the loop's callbacks. */
void
h1_transfer_timer(void *ctx)
{
	struct h1_transfer *t = ctx;
	struct h1_client *c = t->c;

	c->in_callback = true;
	if (t->end_pending)
		transfer_end(t);
	else
		transfer_fail(t, FETCH_TIMEOUT, false,
		    "Operation timed out after %lld milliseconds with %zu bytes received",
		    (long long)((clock_now_us() - t->started_us) / 1000), t->received);
	callback_exit(c);
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

		transfer_fail(t, FETCH_BODY, err == EPIPE || err == ECONNRESET,
		    "Send failure: %s", strerror(err));
		return;
	}
	if (n > 0)
		t->sent += (size_t)n;
	conn->state = t->sent == t->request.len ? H1_READING : H1_SENDING;
	if (loop_io_set(conn->c->l, &conn->io,
	    conn->state == H1_READING ? EPOLLIN : EPOLLOUT) != 0)
		transfer_fail(t, FETCH_INTERNAL, false, "cannot watch a socket: %s",
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

			transfer_fail(t, FETCH_BODY, err == ECONNRESET, "Recv failure: %s",
			    strerror(err));
			return;
		}
		if (n == 0) {
			if (h1p_end(&conn->parser) == H1P_DONE)
				transfer_complete(t, false);
			else
				transfer_fail(t, FETCH_BODY, true, "%s", conn->parser.error);
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
				h1_count(t->c, H1_COUNT_STRAY);
				t->reply->signs |= FETCH_SIGN_TRAILING;
			}
			transfer_complete(t, used == (size_t)n && conn->parser.keep_alive &&
			    !t->no_reuse);
			return;
		case H1P_BAD:
			/* Only an answer whose framing cannot be told says the backend may be out
			 * of step; one refused for its content (a bound, a control character, a
			 * coding) fails alike and closes its connection, but is not a sign. */
			if (conn->parser.error_class == H1P_FRAMING)
				t->reply->signs |= FETCH_SIGN_UNPARSED;
			transfer_fail(t, FETCH_BODY, false, "%s", conn->parser.error);
			return;
		case H1P_TOO_LARGE:
			transfer_fail(t, FETCH_TOO_LARGE, false, "body larger than %zu bytes",
			    t->max_body);
			return;
		default:
			transfer_fail(t, FETCH_INTERNAL, false, "out of memory");
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
		transfer_fail(t, FETCH_CONNECT, false, "Failed to connect to %s: %s", where,
		    strerror(err));
		return;
	}
	transfer_send(t);
}

/* The loop's callback on a connection's socket (h1_conn_open). */
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

		(void)h1_conn_clean(conn, &stray);
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
	callback_exit(c);
}

/* Puts t on a connection of its host, kept (checked first) or new (connecting, or connected on
 * loopback), and sends its request. */
static void
transfer_take(struct h1_transfer *t, bool fresh)
{
	struct h1_conn *conn = NULL;
	enum h1_open rc = H1_OPEN_CONNECTED;
	char where[80];
	int err = 0;

	t->sent = 0;
	t->received = 0;
	if (!fresh && !t->no_reuse && (conn = h1_conn_kept(t->host, &t->reply->signs)) != NULL) {
		h1p_reset(&conn->parser, &t->reply->body, t->max_body);
		t->reply->conn = FETCH_CONN_REUSED;
	} else {
		rc = h1_conn_open(t->c, t->host, conn_ready, &conn, &err);
		if (rc == H1_OPEN_FAILED) {
			h1_addr_text(t->host, where, sizeof(where));
			transfer_fail(t, FETCH_CONNECT, false, "Failed to connect to %s: %s", where,
			    strerror(err));
			return;
		}
		if (rc == H1_OPEN_UNWATCHABLE) {
			transfer_fail(t, FETCH_INTERNAL, false, "cannot watch a socket: %s",
			    strerror(err));
			return;
		}
		h1p_init(&conn->parser, &t->reply->body, t->max_body);
		t->reply->conn = FETCH_CONN_OPENED;
	}
	parser_for(conn, t);
	conn->t = t;
	t->conn = conn;
	if (rc == H1_OPEN_CONNECTED)
		transfer_send(t);
	/* else the loop says when it is connected (EPOLLOUT), or refused */
}

void
h1_transfer_go(struct h1_transfer *t)
{
	transfer_take(t, false);
}
