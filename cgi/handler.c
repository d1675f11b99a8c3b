/* handler.c - one HTTP request, from its parameters to its response. */
#include "cgi/handler.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cgi/call.h"
#include "cgi/multi.h"
#include "cgi/route.h"
#include "cgi/vars.h"
#include "common/clock.h"
#include "fanout/fanout.h"

#define MAX_URI 8192
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
	const char *in = io->param(io->ctx, "HTTP_X_REQUEST_ID");
	size_t len = in != NULL ? strlen(in) : 0;

	if (len > 0 && len <= MAX_REQUEST_ID && strspn(in, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789._-:") == len)
		return in;
	snprintf(own, size, "%08" PRIx32 "-%" PRIuFAST64, id_prefix,
	    atomic_fetch_add(&id_counter, 1) + 1);
	return own;
}

/* An empty group run by the endpoint's executor; NULL if out of memory. */
static fanout_group *
group_for(enum cfg_executor ex, int64_t deadline)
{
	const struct fanout_driver *driver;

	switch (ex) {
	case CFG_POOL:
		return fanout_group_new(FANOUT_POOL, deadline);
	case CFG_SERIAL:
		return fanout_group_new(FANOUT_SERIAL, deadline);
	case CFG_MULTI:
		driver = multi_driver();
		return driver != NULL ? fanout_group_new_driven(driver, deadline) : NULL;
	default:
		return fanout_group_new(FANOUT_THREADS, deadline);
	}
}

/* Adds one call per backend, with their dependencies. calls[] stays valid (the group owns the
 * calls) until the group is freed. */
static int
group_fill(fanout_group *g, const struct cfg_endpoint *ep, struct req_vars *v,
    struct bcall **calls)
{
	for (size_t i = 0; i < ep->nbackends; i++) {
		if ((calls[i] = bcall_new(&ep->backends[i], v)) == NULL)
			return -1;
		if (fanout_group_add(g, ep->backends[i].name, bcall_run, calls[i], bcall_free)) {
			bcall_free(calls[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < ep->nbackends; i++)
		for (size_t k = 0; k < ep->backends[i].ndeps; k++) {
			size_t d = ep->backends[i].deps[k];

			calls[i]->deps[k] = calls[d];
			if (fanout_group_after(g, ep->backends[i].name, ep->backends[d].name))
				return -1;
		}
	return 0;
}

/* Runs the endpoint's backends for the request and writes the composed answer. */
static void
fan_out(const struct http_io *io, const struct cfg_endpoint *ep, struct req_vars *v,
    int64_t t0, bool head_only)
{
	int64_t deadline = t0 + ep->timeout_ms * 1000;
	fanout_group *g = group_for(ep->executor, deadline);
	struct bcall **calls = calloc(ep->nbackends, sizeof(*calls));
	enum fanout_err err = FANOUT_ENOMEM;

	if (g != NULL && calls != NULL && group_fill(g, ep, v, calls) == 0)
		err = fanout_group_run(g);
	if (err == FANOUT_EBUSY)
		(void)respond_error(io, 503, "Retry-After: 1\r\n", v->request_id, head_only,
		    "too many backend calls in flight; retry shortly");
	else if (err != FANOUT_OK)
		(void)respond_error(io, 500, NULL, v->request_id, head_only, fanout_strerror(err));
	else if (respond_fanout(io, ep, g, calls, v->request_id, clock_now_us() - t0,
	    head_only) == -2)
		(void)respond_error(io, 500, NULL, v->request_id, head_only, "out of memory");
	fanout_group_free(g);
	free(calls);
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

void
handler_serve(const struct cfg *cfg, const struct http_io *io)
{
	int64_t t0 = clock_now_us();
	const char *method = io->param(io->ctx, "REQUEST_METHOD");
	const char *uri = io->param(io->ctx, "REQUEST_URI");
	char own_id[48];
	const char *id = request_id(io, own_id, sizeof(own_id));
	bool head_only = method != NULL && strcmp(method, "HEAD") == 0;
	struct route_match m;
	struct req_vars *v = NULL;
	struct buf err = BUF_INIT;
	const char *query;
	size_t path_len;

	if (method == NULL || uri == NULL) {
		(void)respond_error(io, 400, NULL, id, head_only, "no REQUEST_METHOD or REQUEST_URI");
		return;
	}
	if (strlen(uri) > MAX_URI) {
		(void)respond_error(io, 414, NULL, id, head_only, "the URI is longer than 8192 bytes");
		return;
	}
	path_len = strcspn(uri, "?");
	query = uri[path_len] == '?' ? uri + path_len + 1 : uri + path_len;
	switch (route_find(cfg, uri, path_len, &m, &err)) {
	case ROUTE_OK:
		break;
	case ROUTE_NOT_FOUND:
		(void)respond_error(io, 404, NULL, id, head_only, "no endpoint for this path");
		goto out;
	case ROUTE_BAD_PARAM:
		(void)respond_error(io, 400, NULL, id, head_only, buf_str(&err));
		goto out;
	default:
		(void)respond_error(io, 500, NULL, id, head_only, "out of memory");
		goto out;
	}
	if ((method_bit(method) & m.endpoint->methods) == 0) {
		(void)respond_error(io, 405, allow_header(m.endpoint->methods), id, head_only,
		    "method not allowed");
		goto out;
	}
	/* vars_build takes the match over: from here on it is v->route. */
	switch (vars_build(&m, query, strlen(query), io->param, io->ctx, id, &v, &err)) {
	case VARS_OK:
		fan_out(io, v->route.endpoint, v, t0, head_only);
		break;
	case VARS_BAD_REQUEST:
		(void)respond_error(io, 400, NULL, id, head_only, buf_str(&err));
		break;
	default:
		(void)respond_error(io, 500, NULL, id, head_only, "out of memory");
		break;
	}
out:
	vars_unref(v);
	route_match_free(&m);
	buf_free(&err);
}
