/* h1.c - a lean HTTP/1.1 client on an event loop, for http:// backends: its calls (h1.h), from
 * the URL and the request written to the reply handed back; the exchanges are h1_exchange.c's. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgi/backend/h1/h1_internal.h"
#include "cgi/backend/origin.h"
#include "common/clock.h"

/* ---- URLs ---- */

/* What a URL says to the client. */
struct target {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	const char *authority;	/* as written, for the Host header */
	size_t authority_len;
	const char *path;	/* from its '/' or '?'; "" for none */
};

/* "HOST" (numeric, or localhost) and port into t->addr; false if not one of those. */
static bool
target_host(const char *host, size_t len, bool bracketed, long port, struct target *t)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&t->addr;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&t->addr;
	char text[INET6_ADDRSTRLEN];

	if (len == 0 || len >= sizeof(text))
		return false;
	memcpy(text, host, len);
	text[len] = '\0';
	memset(&t->addr, 0, sizeof(t->addr));
	if (bracketed) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		t->addr_len = sizeof(*s6);
		return inet_pton(AF_INET6, text, &s6->sin6_addr) == 1;
	}
	s4->sin_family = AF_INET;
	s4->sin_port = htons((uint16_t)port);
	t->addr_len = sizeof(*s4);
	if (strcasecmp(text, "localhost") == 0)
		text[0] = '\0';
	return inet_pton(AF_INET, text[0] != '\0' ? text : "127.0.0.1", &s4->sin_addr) == 1;
}

/* An http:// URL as origin_parse() reads it (the config's templates use it too: what loads,
 * the client reads the same way), with no user info and a numeric or localhost host; its path is checked
 * for bytes that would end the request line. */
static bool
target_parse(const char *url, struct target *t)
{
	struct origin_authority a;

	if (origin_parse(url, &a, NULL) != 0 || a.https || a.userinfo)
		return false;
	t->authority = url + 7;
	t->authority_len = a.end - 7;
	t->path = url + a.end;
	for (const char *p = t->path; *p != '\0'; p++)
		if (*p <= ' ' || *p >= 0x7f || *p == '#')
			return false;
	return target_host(a.host, a.host_len, a.bracketed, a.port, t);
}

bool
h1_supports(const char *url)
{
	struct target t;

	return url != NULL && target_parse(url, &t);
}

/* "GET PATH HTTP/1.1", Host, User-Agent, Accept (as curl sends them), the caller's lines. */
static const char *
request_write(struct buf *out, const struct target *t, const char *const *headers)
{
	const char *slash = t->path[0] == '/' ? "" : "/";

	if (buf_printf(out, "GET %s%s HTTP/1.1\r\nHost: %.*s\r\nUser-Agent: fcgi-fanout/%s\r\n"
	    "Accept: */*\r\n", slash, t->path, (int)t->authority_len, t->authority,
	    PACKAGE_VERSION) != 0)
		return "out of memory";
	for (size_t i = 0; headers != NULL && headers[i] != NULL; i++) {
		for (const char *p = headers[i]; *p != '\0'; p++)
			if ((*p < ' ' && *p != '\t') || *p == 0x7f)
				return "a header line holds a control character";
		if (buf_printf(out, "%s\r\n", headers[i]) != 0)
			return "out of memory";
	}
	return buf_puts(out, "\r\n") == 0 ? NULL : "out of memory";
}

struct h1_transfer *
h1_start(struct h1_client *c, const struct fetch_request *req, struct fetch_reply *reply,
    void *token)
{
	struct h1_transfer *t = calloc(1, sizeof(*t));
	/* A day at most: the deadline in microseconds must not overflow. */
	int64_t timeout_ms = req->timeout_ms < 1 ? 1 : req->timeout_ms > 86400000 ? 86400000 :
	    req->timeout_ms;
	struct target target;
	const char *why = "out of memory";

	if (t == NULL)
		goto fail;
	*t = (struct h1_transfer){ .c = c, .reply = reply, .token = token, .request = BUF_INIT,
		.max_body = req->max_body, .started_us = clock_now_us() };
	reply->kind = FETCH_OK;
	reply->status = 0;
	reply->conn = FETCH_CONN_NONE;
	reply->message[0] = '\0';
	reply->signs = 0;
	fetch_reply_echo_reset(reply);
	t->no_reuse = req->no_reuse;
	if (!fetch_echo_name(t->echo_name, req)) {
		why = "the header to echo has too long a name";
		goto fail;
	}
	if (!target_parse(req->url, &target)) {
		why = "not a URL of the lean HTTP client";
		goto fail;
	}
	if ((why = request_write(&t->request, &target, req->headers)) != NULL)
		goto fail;
	why = "out of memory";
	loop_timer_init(&t->timer, h1_transfer_timer, t);
	if (loop_timer_set(c->l, &t->timer, t->started_us + timeout_ms * 1000) != 0)
		goto fail;
	if ((t->host = h1_host_hold(c, &target.addr, target.addr_len, req->origin)) == NULL) {
		loop_timer_stop(c->l, &t->timer);
		goto fail;
	}
	t->next = c->running;
	if (t->next != NULL)
		t->next->prev = t;
	c->running = t;
	h1_transfer_go(t);
	return t;
fail:
	if (t != NULL)
		buf_free(&t->request);
	free(t);
	fetch_reply_fail(reply, why);
	return NULL;
}

static void
transfer_free(struct h1_transfer *t)
{
	h1_host_release(t->c, t->host);
	buf_free(&t->request);
	free(t);
}

void *
h1_done(struct h1_client *c)
{
	struct h1_transfer *t = c->done;
	void *token;

	if (t == NULL)
		return NULL;
	if (t == c->done_tail)
		c->done_tail = t->prev;
	h1_list_unlink(&c->done, t);
	token = t->token;
	transfer_free(t);
	return token;
}

void
h1_cancel(struct h1_client *c, struct h1_transfer *t)
{
	if (t->ended) {
		if (t == c->done_tail)
			c->done_tail = t->prev;
		h1_list_unlink(&c->done, t);
	} else {
		loop_timer_stop(c->l, &t->timer);
		h1_list_unlink(&c->running, t);
		if (t->conn != NULL)
			h1_conn_close(t->conn);	/* its answer would be nobody's */
	}
	transfer_free(t);
}

/* ---- The client ---- */

struct h1_client *
h1_client_new(struct loop *l, void (*ended)(void *ctx), void *ctx)
{
	struct h1_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = (struct h1_client){ .l = l, .ended = ended, .ctx = ctx };
	return c;
}

void
h1_client_free(struct h1_client *c)
{
	struct h1_host *h;
	struct h1_conn *conn;

	if (c == NULL)
		return;
	while (c->running != NULL)
		h1_cancel(c, c->running);
	while (c->done != NULL)
		h1_cancel(c, c->done);
	/* What is left holds idle connections only. */
	while ((h = c->hosts) != NULL)
		h1_conn_close(h->idle);
	/* Closed connections whose deferred free did not run (the loop had no room for it). */
	while ((conn = c->dead) != NULL) {
		c->dead = conn->next;
		h1p_free(&conn->parser);
		free(conn);
	}
	free(c);
}

void
h1_client_on_idle_bytes(struct h1_client *c, void (*idle_bytes)(void *ctx, const char *origin))
{
	c->idle_bytes = idle_bytes;
}

struct h1_stats
h1_stats(const struct h1_client *c)
{
	return c->stats;
}
