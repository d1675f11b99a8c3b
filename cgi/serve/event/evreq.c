/* evreq.c - a request of the event server: its parameters to the handler, its backend calls
 * on the loop (or, for the blocking executors, on an offload thread), its end through its
 * connection's sink. */
#include "cgi/serve/event/evreq.h"

#include <stdlib.h>
#include <string.h>

#include "cgi/request/multi.h"
#include "cgi/config/site.h"
#include "cgi/request/vars.h"

/* ---- The handler's view of a request ---- */

static const char *
req_param(void *ctx, const char *name, size_t *cursor)
{
	struct evreq *r = ctx;

	return vars_env_param(r->params, name, cursor);
}

/* The answer goes out as STDOUT records, written when the request ends: one write for all. */
static int
req_write(void *ctx, const char *data, size_t len)
{
	struct evreq *r = ctx;

	if (r->conn == NULL)
		return -1;
	return r->sink->write(r->conn, r->id, data, len);
}

/* The pairs as "NAME=VALUE" strings, as libfcgi makes them (a NUL inside one ends it early).
 * -1 if out of memory. */
static int
req_copy_params(struct evreq *r, const struct fcgi_event *ev)
{
	struct fcgi_param p;
	size_t pos = 0, n = 0, at = 0;

	r->params = calloc(ev->param_count + 1, sizeof(*r->params));
	r->param_bytes = malloc(ev->len + 2 * ev->param_count + 1);
	if (r->params == NULL || r->param_bytes == NULL)
		return -1;
	while (fcgi_param_next(ev, &pos, &p) && n < ev->param_count) {
		r->params[n++] = r->param_bytes + at;
		memcpy(r->param_bytes + at, p.name, p.name_len);
		at += p.name_len;
		r->param_bytes[at++] = '=';
		memcpy(r->param_bytes + at, p.value, p.value_len);
		at += p.value_len;
		r->param_bytes[at++] = '\0';
	}
	return 0;
}

static void
req_free(struct evreq *r)
{
	loop_timer_stop(r->ev->loop, &r->deadline);
	multi_run_free(r->run);
	if (r->cfg != NULL)
		cfg_unref(r->cfg);
	free(r->params);
	free(r->param_bytes);
	evloop_request_ends(r->ev);
	free(r);
}

/* ---- A request's end ---- */

/* The answer is complete (or there is none: the client went away): the connection ends it,
 * and takes the next request or closes. */
static void
req_finish(struct evreq *r)
{
	if (r->served != NULL)
		handler_end(r->served, r->err);
	if (r->conn != NULL)
		r->sink->finished(r->conn, r->id, r->aborted);
	req_free(r);
}

/* The multi executor's group made progress (or its deadline passed, or it was cancelled). */
static void
req_advance(void *ctx)
{
	struct evreq *r = ctx;
	enum fanout_err err = fanout_group_advance(r->group);

	if (err == FANOUT_EINPROGRESS)
		return;
	r->err = err;
	req_finish(r);
}

/* A blocking run came back from its thread. */
static void
req_back(void *ctx)
{
	struct evreq *r = ctx;

	req_finish(r);
}

static void
offload_run(void *ctx)
{
	struct evreq *r = ctx;

	r->err = fanout_group_run(r->group);
}

/* The blocking executors (threads, pool, serial) run on an offload thread, never on the loop;
 * their group comes back through the loop's job queue. */
static void
req_offload(struct evreq *r)
{
	r->offload = (struct offload_job){ .run = offload_run, .ctx = r, .loop = r->ev->loop,
		.back = { .fn = req_back, .ctx = r } };
	if (offload_submit(&r->offload) != 0) {
		r->err = FANOUT_ETHREAD;
		req_finish(r);
		return;
	}
	r->offloaded = true;
}

/* Runs the request's group on the loop: its calls start now, their ends and its deadline
 * advance it. */
static void
req_run_here(struct evreq *r)
{
	int64_t deadline = fanout_group_deadline(r->group);

	if ((r->err = fanout_group_begin(r->group)) != FANOUT_EINPROGRESS) {
		req_finish(r);
		return;
	}
	loop_timer_init(&r->deadline, req_advance, r);
	if (deadline != FANOUT_NO_DEADLINE && loop_timer_set(r->ev->loop, &r->deadline,
	    deadline) != 0) {
		fanout_group_cancel(r->group);	/* no memory for the timer: no deadline */
		req_advance(r);
	}
}

void
evreq_start(struct evreq *r, const struct fcgi_event *ev)
{
	r->io = (struct http_io){ .param = req_param, .write = req_write, .ctx = r };
	if (req_copy_params(r, ev) != 0 ||
	    (r->run = multi_run_new(r->ev->backends.cache, r->ev->backends.h1, req_advance, r)) == NULL) {
		(void)respond_no_memory(&r->io, "-", false);
		req_finish(r);
		return;
	}
	r->io.driver = multi_run_driver(r->run);
	r->cfg = site_get();
	if ((r->served = handler_begin(r->cfg, &r->io)) == NULL) {
		req_finish(r);
		return;
	}
	r->group = handler_group(r->served);
	if (handler_on_loop(r->served))
		req_run_here(r);
	else
		req_offload(r);
}

void
evreq_stop(struct evreq *r)
{
	if (r->served == NULL) {
		req_finish(r);
		return;
	}
	fanout_group_cancel(r->group);
	if (!r->offloaded)
		req_advance(r);
}

struct evreq *
evreq_new(struct evloop *ev, const struct evreq_sink *sink, void *conn, uint16_t id)
{
	struct evreq *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	*r = (struct evreq){ .conn = conn, .sink = sink, .ev = ev, .id = id };
	loop_timer_init(&r->deadline, req_advance, r);
	evloop_request_begins(ev);
	return r;
}
