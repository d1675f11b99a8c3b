/* handler.c - one HTTP request, from its parameters to its response. */
#include "cgi/request/handler.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cgi/request/accesslog.h"
#include "cgi/request/call.h"
#include "cgi/backend/desync.h"
#include "cgi/request/metrics.h"
#include "cgi/request/multi.h"
#include "cgi/request/outcome.h"
#include "cgi/request/route.h"
#include "cgi/request/vars.h"
#include "common/clock.h"
#include "fanout/fanout.h"

/* The health check's answer: from SIGTERM on, "draining" (handler_set_draining). */
static atomic_bool draining_flag;

/* The longest REQUEST_URI served (414 beyond); README, Responses. */
#define MAX_URI 8192
/* The longest incoming X-Request-Id kept; respond_no_memory() counts on it. */
#define MAX_REQUEST_ID 128

/* Request ids made here: a random prefix per process and a counter, unique and cheap. */
static uint32_t id_prefix;
static atomic_uint_fast64_t id_counter;

int
handler_init(void)
{
	return getrandom(&id_prefix, sizeof(id_prefix), 0) == sizeof(id_prefix) ? 0 : -1;
}

/* The incoming X-Request-Id if it is a sane token, else a new one in `own`. */
static const char *
request_id(const struct http_io *io, char *own, size_t size)
{
	const char *in = io->param(io->ctx, "HTTP_X_REQUEST_ID", NULL);
	size_t len = in != NULL ? strlen(in) : 0;

	if (len > 0 && len <= MAX_REQUEST_ID && strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-:") == len)
		return in;
	snprintf(own, size, "%08" PRIx32 "-%" PRIuFAST64, id_prefix,
	    atomic_fetch_add(&id_counter, 1) + 1);
	return own;
}

/* An empty group run by the endpoint's executor (the multi executor's by io's driver, or this
 * thread's); NULL if out of memory. */
static fanout_group *
group_for(const struct http_io *io, enum cfg_executor ex, int64_t deadline)
{
	const struct fanout_driver *driver = io->driver;

	switch (ex) {
	case CFG_POOL:
		return fanout_group_new(FANOUT_POOL, deadline);
	case CFG_SERIAL:
		return fanout_group_new(FANOUT_SERIAL, deadline);
	case CFG_MULTI:
		if (driver == NULL)
			driver = multi_driver();
		return driver != NULL ? fanout_group_new_driven(driver, deadline) : NULL;
	default:
		return fanout_group_new(FANOUT_THREADS, deadline);
	}
}

/* What the access log and the metrics need of one request, filled in as it is served. */
struct served {
	const struct http_io *io;
	const char *id, *method, *path;
	size_t path_len;
	bool head_only;
	bool admin;			/* the metrics or the health check: not in the metrics */
	int status;			/* RESPOND_STATUS_CLIENT_GONE: the client went away before
					 * the answer */
	const struct cfg_endpoint *ep;	/* NULL: none matched */
	struct outcomes *calls;		/* the backend calls, once planned; NULL: none */
	int64_t t0;			/* clock_now_us() at the start: the deadline's base */
	/* While the backends run: */
	struct req_vars *vars;
	struct route_match match;
	bool fanning;			/* the group is to run, or runs */
	char own_id[48];		/* the request id when made here */
};

/* Notes the status of the answer written (rc) with `status`: as it was meant, or the client's
 * departure. An answer there was no memory for is replaced by a 500 that needs none. */
static void
answered(struct served *s, int status, enum respond_result rc)
{
	if (rc == RESPOND_NO_MEMORY) {
		status = 500;
		rc = respond_no_memory(s->io, s->id, s->head_only);
	}
	s->status = rc == RESPOND_OK ? status : RESPOND_STATUS_CLIENT_GONE;
}

/* Answers with a JSON error. */
static void
reply_error(struct served *s, int status, const char *extra_headers, const char *message)
{
	answered(s, status, respond_error(s->io, status, extra_headers, s->id, s->head_only,
	    message));
}

/* Plans the endpoint's backend calls for the request: the group is then to run. */
static void
fan_out(struct served *s, struct req_vars *v)
{
	const struct cfg_endpoint *ep = v->route.endpoint;
	fanout_group *g = group_for(s->io, ep->executor, s->t0 + ep->timeout_ms * 1000);

	if ((s->calls = outcomes_plan(g, ep, v, bcall_run)) == NULL)
		reply_error(s, 500, NULL, fanout_strerror(FANOUT_ENOMEM));
	else
		s->fanning = true;
}

/* The group has run (err): writes the composed answer. */
static void
fanned_out(struct served *s, enum fanout_err err)
{
	const struct cfg_endpoint *ep = s->ep;
	int status = 0;

	if (err == FANOUT_OK || err == FANOUT_ECANCELED) {
		outcomes_settle(s->calls);
		metrics_calls(s->calls);
	}
	if (err == FANOUT_ECANCELED)
		s->status = RESPOND_STATUS_CLIENT_GONE;	/* nothing to answer */
	else if (err == FANOUT_EBUSY) {
		metrics_rejected();
		reply_error(s, 503, "Retry-After: 1\r\n",
		    "too many backend calls in flight; retry shortly");
	} else if (err != FANOUT_OK)
		reply_error(s, 500, NULL, fanout_strerror(err));
	else {
		enum respond_result rc = respond_fanout(s->io, ep, s->calls, s->id,
		    clock_now_us() - s->t0, s->head_only, &status);

		answered(s, status, rc);
	}
}

static unsigned
method_bit(const char *method)
{
	if (strcmp(method, "GET") == 0)
		return CFG_GET;
	if (strcmp(method, "HEAD") == 0)
		return CFG_HEAD;
	return 0;
}

/* "Allow: GET, HEAD\r\n" for an endpoint. */
static const char *
allow_header(unsigned methods)
{
	if (methods == CFG_GET)
		return "Allow: GET\r\n";
	if (methods == CFG_HEAD)
		return "Allow: HEAD\r\n";
	return "Allow: GET, HEAD\r\n";
}

/* The health check and the metrics, when the path is one of theirs; false otherwise. */
static bool
serve_admin(struct served *s, const struct cfg *cfg)
{
	struct buf text = BUF_INIT;
	enum respond_result rc;

	if (cfg->health_path != NULL && strlen(cfg->health_path) == s->path_len &&
	    memcmp(cfg->health_path, s->path, s->path_len) == 0) {
		bool draining = atomic_load(&draining_flag);

		/* The status as before; how many backend origins no longer have their
		 * connections reused (cgi/backend/desync.h) is for whoever looks, not a reason
		 * to take it out. Only a count: the check is often reachable by anyone, the
		 * backends' names are internal (the metrics have them). */
		if (buf_printf(&text, "{\"status\":\"%s\",\"reuse_stopped\":%zu}",
		    draining ? "draining" : "serving", desync_stopped()) != 0) {
			buf_free(&text);
			reply_error(s, 500, NULL, "out of memory");
			return s->admin = true;
		}
		s->status = draining ? 503 : 200;
		rc = respond_body(s->io, s->status, "application/json", s->id, text.data, text.len,
		    s->head_only);
		buf_free(&text);
	} else if (cfg->metrics_path != NULL && strlen(cfg->metrics_path) == s->path_len &&
	    memcmp(cfg->metrics_path, s->path, s->path_len) == 0) {
		if (metrics_render(&text) != 0) {
			buf_free(&text);
			reply_error(s, 500, NULL, "out of memory");
			return s->admin = true;
		}
		s->status = 200;
		rc = respond_body(s->io, 200, "text/plain; version=0.0.4; charset=utf-8", s->id,
		    text.data, text.len, s->head_only);
		buf_free(&text);
	} else
		return false;
	answered(s, s->status, rc);
	return s->admin = true;
}

/* Finds the endpoint, checks the method and the parameters, and plans the fan-out. */
static void
serve_endpoint(struct served *s, struct cfg *cfg, const char *uri)
{
	const char *query = uri + s->path_len + (uri[s->path_len] == '?');
	struct route_match *m = &s->match;
	struct buf err = BUF_INIT;

	switch (route_find(cfg, uri, s->path_len, m, &err)) {
	case ROUTE_OK:
		break;
	case ROUTE_NOT_FOUND:
		reply_error(s, 404, NULL, "no endpoint for this path");
		goto out;
	case ROUTE_BAD_PARAM:
		reply_error(s, 400, NULL, buf_str(&err));
		goto out;
	default:
		reply_error(s, 500, NULL, "out of memory");
		goto out;
	}
	s->ep = m->endpoint;
	if ((method_bit(s->method) & m->endpoint->methods) == 0) {
		reply_error(s, 405, allow_header(m->endpoint->methods), "method not allowed");
		goto out;
	}
	/* vars_build takes the match over: from here on it is v->route. */
	switch (vars_build(cfg, m, query, strlen(query), s->io->param, s->io->ctx, s->id,
	    &s->vars, &err)) {
	case VARS_OK:
		fan_out(s, s->vars);
		break;
	case VARS_BAD_REQUEST:
		reply_error(s, 400, NULL, buf_str(&err));
		break;
	case VARS_TOO_LARGE:
		reply_error(s, 431, NULL, buf_str(&err));
		break;
	default:
		reply_error(s, 500, NULL, "out of memory");
		break;
	}
out:
	buf_free(&err);
}

/* The metrics and the access log line of a request that has been answered; frees it. */
static void
served_finish(struct served *s)
{
	int64_t total = clock_now_us() - s->t0;
	struct access_entry e = { .request_id = s->id, .method = s->method, .path = s->path,
		.path_len = s->path_len, .status = s->status, .total_us = total, .calls = s->calls };

	if (!s->admin)
		metrics_request(s->ep, s->status, total);
	accesslog_write(&e);
	outcomes_free(s->calls);
	vars_unref(s->vars);
	route_match_free(&s->match);
	metrics_in_flight(-1);
	free(s);
}

static void
reply_uri_too_long(struct served *s)
{
	char message[64];

	snprintf(message, sizeof(message), "the URI is longer than %d bytes", MAX_URI);
	reply_error(s, 414, NULL, message);
}

struct served *
handler_begin(struct cfg *cfg, const struct http_io *io)
{
	const char *uri = io->param(io->ctx, "REQUEST_URI", NULL);
	struct served *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		(void)respond_no_memory(io, "-", false);
		return NULL;
	}
	metrics_in_flight(1);
	*s = (struct served){ .io = io, .t0 = clock_now_us(),
		.method = io->param(io->ctx, "REQUEST_METHOD", NULL) };
	s->id = request_id(io, s->own_id, sizeof(s->own_id));
	s->head_only = s->method != NULL && strcmp(s->method, "HEAD") == 0;
	if (uri != NULL) {
		s->path = uri;
		s->path_len = strcspn(uri, "?");
	}
	if (s->method == NULL || uri == NULL)
		reply_error(s, 400, NULL, "no REQUEST_METHOD or REQUEST_URI");
	else if (strlen(uri) > MAX_URI)
		reply_uri_too_long(s);
	else if (!serve_admin(s, cfg))
		serve_endpoint(s, cfg, uri);
	if (s->fanning)
		return s;
	served_finish(s);
	return NULL;
}

fanout_group *
handler_group(const struct served *s)
{
	return outcomes_group(s->calls);
}

bool
handler_on_loop(const struct served *s)
{
	return s->ep->executor == CFG_MULTI;
}

void
handler_end(struct served *s, enum fanout_err err)
{
	fanned_out(s, err);
	served_finish(s);
}

void
handler_set_draining(void)
{
	atomic_store(&draining_flag, true);
}

void
handler_serve(struct cfg *cfg, const struct http_io *io)
{
	struct served *s = handler_begin(cfg, io);

	if (s != NULL)
		handler_end(s, io->run != NULL ? io->run(io->ctx, handler_group(s)) :
		    fanout_group_run(handler_group(s)));
}
