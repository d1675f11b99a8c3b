/* evreq.h - a request of the event server: its parameters to the handler, its backend calls on
 * the loop (or, for the blocking executors, on an offload thread), its end. Below its
 * connection: it answers through the sink the connection hands it, never touching the
 * connection itself. */
#ifndef CGI_EVREQ_H
#define CGI_EVREQ_H

#include <stdbool.h>
#include <stdint.h>

#include "cgi/serve/event/evloop.h"
#include "cgi/serve/event/fcgi.h"
#include "cgi/serve/event/offload.h"
#include "cgi/request/handler.h"
#include "fanout/fanout.h"

/* Where a request's answer goes: its connection's side, called with evreq.conn. */
struct evreq_sink {
	/* Appends data to the answer of request id (STDOUT records): -1 if it cannot (no
	 * memory). */
	int (*write)(void *conn, uint16_t id, const char *data, size_t len);
	/* The answer of request id is complete, or there is none (the client went away, or the
	 * request was aborted): the connection ends it and takes the next request or closes. The
	 * request is freed right after; the connection forgets it here. */
	void (*finished)(void *conn, uint16_t id, bool aborted);
};

/* A request, from BEGIN_REQUEST until its answer is written or its connection gone and its
 * calls ended (a blocking run on a thread is waited for: it holds the group). */
struct evreq {
	void *conn;			/* the sink's argument; NULL once the connection is closed */
	const struct evreq_sink *sink;
	struct evloop *ev;
	uint16_t id;
	char **params;			/* "NAME=VALUE" of each pair, then NULL */
	char *param_bytes;
	struct http_io io;
	struct cfg *cfg;
	struct served *served;		/* from handler_begin() to handler_end() */
	fanout_group *group;
	struct multi_run *run;		/* the multi executor's calls on the loop */
	struct loop_timer deadline;
	struct offload_job offload;	/* a blocking run, on a thread */
	enum fanout_err err;
	bool offloaded;
	bool aborted;			/* ABORT_REQUEST: the web server sends no more of it */
};

/* The request `id` that BEGIN_REQUEST opens on connection conn of ev, answering through sink;
 * NULL if out of memory. */
struct evreq *evreq_new(struct evloop *ev, const struct evreq_sink *sink, void *conn,
    uint16_t id);

/* Its parameters are complete (a FCGI_EV_PARAMS event): the handler answers at once,
 * or its backend calls start, on the loop or on an offload thread. */
void evreq_start(struct evreq *r, const struct fcgi_event *ev);

/* The web server aborts the request, or its connection is gone (r->conn set to NULL): a
 * request not started ends at once (END_REQUEST, if the connection is there), one under way
 * has its calls cancelled and ends as soon as they have. */
void evreq_stop(struct evreq *r);

#endif
