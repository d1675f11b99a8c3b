/* h1_conn.c - the lean HTTP/1.1 client's connections: hosts, a non-blocking connect, the pool of
 * kept ones per backend address, the close. The bottom of the client: it returns results and
 * calls no transfer; what a connection's socket says goes to the callback it was opened with. */
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
#include "common/clock.h"

/* The counts of every client, for the metrics (read from other threads). */
static atomic_ulong totals[3];

void
h1_count(struct h1_client *c, enum h1_count which)
{
	unsigned long *mine = which == H1_COUNT_OPENED ? &c->stats.opened :
	    which == H1_COUNT_REUSED ? &c->stats.reused : &c->stats.stray_refused;

	(*mine)++;
	atomic_fetch_add_explicit(&totals[which], 1, memory_order_relaxed);
}

struct h1_stats
h1_totals(void)
{
	return (struct h1_stats){
		atomic_load_explicit(&totals[H1_COUNT_OPENED], memory_order_relaxed),
		atomic_load_explicit(&totals[H1_COUNT_REUSED], memory_order_relaxed),
		atomic_load_explicit(&totals[H1_COUNT_STRAY], memory_order_relaxed) };
}

struct h1_host *
h1_host_hold(struct h1_client *c, const struct sockaddr_storage *addr, socklen_t len,
    const char *origin)
{
	struct h1_host *h;

	for (h = c->hosts; h != NULL; h = h->next)
		if (h->addr_len == len && memcmp(&h->addr, addr, len) == 0 &&
		    (h->origin == NULL ? origin == NULL : origin != NULL &&
		    strcmp(h->origin, origin) == 0))
			break;
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
	    loop_timer_set(c->l, &conn->idle_timer, clock_now_us() + H1_IDLE_MS * 1000LL) != 0) {
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

bool
h1_conn_clean(struct h1_conn *conn, bool *stray)
{
	char byte;
	ssize_t n = recv(conn->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);

	*stray = n > 0;
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return true;
	if (n > 0)
		h1_count(conn->c, H1_COUNT_STRAY);
	return false;
}

/* ---- New and kept connections ---- */

enum h1_open
h1_conn_open(struct h1_client *c, struct h1_host *h, void (*ready)(void *conn, uint32_t events),
    struct h1_conn **out, int *err)
{
	struct h1_conn *conn = calloc(1, sizeof(*conn));
	int one = 1, fd = -1, rc;

	*out = NULL;
	if (conn == NULL || (fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK |
	    SOCK_CLOEXEC, 0)) < 0) {
		*err = conn == NULL ? ENOMEM : errno;
		free(conn);
		return H1_OPEN_FAILED;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	do
		rc = connect(fd, (const struct sockaddr *)&h->addr, h->addr_len);
	while (rc != 0 && errno == EINTR);
	if (rc != 0 && errno != EINPROGRESS) {
		*err = errno;
		close(fd);
		free(conn);
		return H1_OPEN_FAILED;
	}
	if (loop_io_add(c->l, &conn->io, fd, EPOLLOUT, ready, conn) != 0) {
		*err = errno;
		close(fd);
		free(conn);
		return H1_OPEN_UNWATCHABLE;
	}
	conn->c = c;
	conn->host = h;
	h->refs++;
	loop_timer_init(&conn->idle_timer, idle_expired, conn);
	h1_count(c, H1_COUNT_OPENED);
	conn->state = H1_CONNECTING;
	*out = conn;
	return rc == 0 ? H1_OPEN_CONNECTED : H1_OPEN_CONNECTING;
}

struct h1_conn *
h1_conn_kept(struct h1_host *h, unsigned *signs)
{
	struct h1_conn *conn;
	bool stray;

	while ((conn = h->idle) != NULL) {
		if (!h1_conn_clean(conn, &stray)) {
			if (stray)
				*signs |= FETCH_SIGN_PEEK;
			h1_conn_close(conn);
			continue;
		}
		idle_unlink(conn);
		conn->state = H1_SENDING;	/* out of the pool, whatever the send does */
		loop_timer_stop(conn->c->l, &conn->idle_timer);
		h1_count(conn->c, H1_COUNT_REUSED);
		return conn;
	}
	return NULL;
}
