/* evconn.h - a FastCGI connection of the event server and the request in flight on it: what
 * evconn.c (the connection) and evreq.c (its request) share. Not a contract beyond them. */
#ifndef CGI_EVCONN_H
#define CGI_EVCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi/serve/event/evloop.h"
#include "cgi/serve/event/fcgi.h"
#include "cgi/request/handler.h"
#include "cgi/serve/event/offload.h"
#include "common/buf.h"
#include "fanout/fanout.h"

struct evreq;

struct evconn {
	struct evloop *ev;
	struct loop_io io;
	struct loop_timer idle;
	int64_t active_at;		/* the last read or write that made progress */
	struct fcgi_conn codec;
	struct buf out;			/* records not yet written */
	size_t out_off;			/* of which this many are */
	size_t counted;			/* of what waits, the bytes counted in evlimits.pending */
	bool held;			/* not read: it holds more than its share of the budget */
	struct buf in;			/* bytes read but not yet parsed: the parse paused while
					 * the output is high, and the socket is not read */
	size_t in_off;
	struct evreq *req;		/* the request in flight, from its BEGIN_REQUEST */
	bool keep;			/* the web server keeps the connection after the request */
	bool stdin_open;		/* the request's body has not ended yet: the request is
					 * over for the codec only then, and the connection is
					 * not closed before (unread bytes would reset it) */
	size_t body_bytes;		/* of the request's body, counted and dropped */
	bool last;			/* close once the output is written: the request was
					 * its last */
	bool eof;			/* the peer's input ended (a half-close, or gone: on TCP
					 * the same until a write fails): not read any more; the
					 * request in progress is answered if it can be within
					 * EOF_GRACE_US, then the connection is closed */
	bool closed;
	struct evconn *prev, *next;
};

/* A request, from BEGIN_REQUEST until its answer is written or its connection gone and its
 * calls ended (a blocking run on a thread is waited for: it holds the group). */
struct evreq {
	struct evconn *conn;		/* NULL once the connection is closed */
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

/* evreq.c: the request `id` that BEGIN_REQUEST opens on c (c->req); NULL if out of memory. */
struct evreq *evreq_new(struct evconn *c, uint16_t id);

/* evreq.c: its parameters are complete (a FCGI_EV_PARAMS event): the handler answers at once,
 * or its backend calls start, on the loop or on an offload thread. */
void evreq_start(struct evreq *r, const struct fcgi_event *ev);

/* evreq.c: the web server aborts the request, or its connection is gone (r->conn NULL): a
 * request not started ends at once (END_REQUEST, if the connection is there), one under way
 * has its calls cancelled and ends as soon as they have. */
void evreq_stop(struct evreq *r);

/* evconn.c: writes what it can of c's output; closes c when it is done with it. */
void evconn_flush(struct evconn *c);

/* evconn.c: c's request has been answered (END_REQUEST written): the codec takes the next one
 * once the body has ended too, or at once if the request was aborted. */
void evconn_request_answered(struct evconn *c, bool aborted);

#endif
