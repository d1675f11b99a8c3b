/* evloop.h - one loop of the event server: its thread's epoll, the FastCGI connections it owns
 * and its backends, and when it may end (evloop.c). Made by evserver.c (threads, accept, stop);
 * its connections (evconn.c) and requests (evreq.c) are below it and tell it when they end. */
#ifndef CGI_EVLOOP_H
#define CGI_EVLOOP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi/serve/event/evbackend.h"
#include "cgi/serve/event/evlimits.h"
#include "cgi/loop/loop.h"

struct evserver;
struct evconn;

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
	bool unix_peers;		/* the listening socket is a Unix one: a peer that went
					 * away is told from one that half-closed (EPOLLHUP) */
	int64_t idle_timeout_us;
	struct evconn *conns;		/* open connections */
	size_t nconns;
	size_t requests;		/* requests in flight, offloaded ones included */
};

/* A request begins on ev (BEGIN_REQUEST) or ends (its memory freed): the loop
 * counts them, so that once closing it ends only when every request read is answered. */
void evloop_request_begins(struct evloop *ev);
void evloop_request_ends(struct evloop *ev);

/* A connection of ev was closed: when the loop is closing and has nothing left,
 * its loop_run() ends. */
void evloop_check_done(struct evloop *ev);

#endif
