/* evloop.h - one loop of the event server: its thread's epoll, the FastCGI connections it owns
 * and its backends; shared by evserver.c (threads, accept, stop) and evconn.c (connections). */
#ifndef CGI_EVLOOP_H
#define CGI_EVLOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi/serve/event/evbackend.h"
#include "cgi/loop/loop.h"

struct evserver;
struct evconn;

/* What every loop shares, process-wide: the bounds on connections and on answers not taken. */
struct evlimits {
	size_t max_conns;		/* FastCGI connections open (limits.max_connections) */
	size_t max_pending;		/* bytes of answers waiting for their peer, all connections
					 * together (limits.max_pending_output_mb) */
	atomic_size_t conns;
	atomic_size_t pending;
};

struct evloop {
	struct evserver *server;
	struct loop *loop;
	struct evbackend backends;
	pthread_t thread;
	struct loop_io listen_io;	/* the shared listening socket, EPOLLEXCLUSIVE */
	struct loop_timer accept_pause;	/* accept() failing for want of descriptors: back off */
	struct loop_job close_job;	/* posted by the main thread as a stop begins */
	struct evlimits *limits;	/* the server's */
	struct loop_job shed_job;	/* posted by another loop that found no room */
	atomic_size_t shed_wanted;	/* how many it wants closed; 0: the job is not posted */
	bool closing;			/* connections close once their request is answered */
	int64_t idle_timeout_us;
	struct evconn *conns;		/* open connections */
	size_t nconns;
	size_t requests;		/* requests in flight, offloaded ones included */
};

/* evconn.c: serves the new connection fd on ev (its timeouts and epoll registration); closes
 * fd if it cannot. Its place in ev->limits->conns is taken already (evserver.c), and given back
 * when it is closed, or at once if it cannot be served. */
void evconn_open(struct evloop *ev, int fd);

/* evconn.c: closes up to n of ev's kept connections at rest (a request answered on them, none
 * begun since, nothing waiting either way), the longest idle first, to make room for new ones;
 * how many it closed. */
size_t evconn_shed_idle(struct evloop *ev, size_t n);

/* evconn.c: the loop ends: idle connections are closed now, the others once their request is
 * answered. */
void evconn_close_all(struct evloop *ev);

/* evserver.c: a request begins on ev (BEGIN_REQUEST) or ends (its memory freed): the loop
 * counts them, so that once closing it ends only when every request read is answered. */
void evloop_request_begins(struct evloop *ev);
void evloop_request_ends(struct evloop *ev);

/* evserver.c: a connection of ev was closed: when the loop is closing and has nothing left,
 * its loop_run() ends. */
void evloop_check_done(struct evloop *ev);

#endif
