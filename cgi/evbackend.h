/* evbackend.h - the backends of one event loop: the transfers of its fetch cache on the loop's
 * epoll and timer, handed to the groups that wait for them as they end. */
#ifndef CGI_EVBACKEND_H
#define CGI_EVBACKEND_H

#include "cgi/fetch.h"
#include "cgi/loop.h"

/*
 * curl's multi-socket API plugged into the loop: curl says which sockets to watch and when to
 * call it back (fetch_loop_hooks), the loop says which socket is ready (fetch_socket_ready) or
 * that the time has come (fetch_timer_expired), and what ended goes to its group
 * (multi_dispatch). One cache per loop: its connections are the loop's to reuse. Another client
 * on the same loop would sit beside the cache here, with its own sockets on the same epoll.
 */
struct backend_socket;

struct evbackend {
	struct loop *loop;
	struct fetch_cache *cache;
	struct backend_socket **sockets;	/* by descriptor: curl's, made on first use, kept */
	size_t nsockets;
	struct loop_timer timer;
};

/* Makes b's cache on loop l; -1 if out of memory. */
int evbackend_init(struct evbackend *b, struct loop *l);

/* Frees the cache (closing its connections) and b's registrations. */
void evbackend_destroy(struct evbackend *b);

#endif
