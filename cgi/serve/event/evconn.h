/* evconn.h - a FastCGI connection of the event server: its records through the codec, the
 * request in flight on it (evreq.h, below it: the connection hands it a sink), its answers
 * written without blocking. Made by evserver.c. */
#ifndef CGI_EVCONN_H
#define CGI_EVCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi/serve/event/evlimits.h"
#include "cgi/serve/event/evloop.h"
#include "cgi/serve/event/evreq.h"
#include "cgi/serve/event/fcgi.h"
#include "common/buf.h"

struct evconn {
	struct evloop *ev;
	struct loop_io io;
	struct loop_timer idle;
	int64_t active_at;		/* the last read or write that made progress */
	struct fcgi_conn codec;
	struct buf out;			/* records not yet written */
	size_t out_off;			/* of which this many are */
	struct evlimits_conn share;	/* its part in the budget on answers not taken */
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
					 * EOF_GRACE_US on TCP (on a Unix socket, whenever it is),
					 * then the connection is closed */
	bool closed;
	struct evconn *prev, *next;
};

/* Serves the new connection fd on ev (its timeouts and epoll registration); closes
 * fd if it cannot. Its place in ev->limits->conns is taken already (evserver.c), and given back
 * when it is closed, or at once if it cannot be served. */
void evconn_open(struct evloop *ev, int fd);

/* Closes up to n of ev's kept connections at rest (a request answered on them, none
 * begun since, nothing waiting either way), the longest idle first, to make room for new ones;
 * how many it closed. */
size_t evconn_shed_idle(struct evloop *ev, size_t n);

/* The loop ends: idle connections are closed now, the others once their request is
 * answered. */
void evconn_close_all(struct evloop *ev);


#endif
