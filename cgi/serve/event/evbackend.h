/* evbackend.h - the backends of one event loop: the transfers of its fetch cache on the loop's
 * epoll and timer, handed to the groups that wait for them as they end. */
#ifndef CGI_EVBACKEND_H
#define CGI_EVBACKEND_H

#include "cgi/backend/curl/fetch.h"
#include "cgi/backend/h1/h1.h"
#include "cgi/loop/loop.h"

/*
 * curl's multi-socket API plugged into the loop: curl says which sockets to watch and when to
 * call it back (fetch_loop_hooks), the loop says which socket is ready (fetch_socket_ready) or
 * that the time has come (fetch_timer_expired), and what ended goes to its group
 * (multi_dispatch). One cache per loop: its connections are the loop's to reuse. The lean
 * HTTP/1.1 client (cgi/backend/h1/h1.h) sits beside it, with its own sockets on the same epoll, for the
 * http:// backends; what ends on either goes to the groups the same way.
 */
struct evbackend {
	struct loop *loop;
	struct fetch_cache *cache;
	struct h1_client *h1;			/* the lean client, for the http:// backends */
	struct loop_timer timer;
};

/* Makes b's cache and lean client on loop l; -1 if out of memory. */
int evbackend_init(struct evbackend *b, struct loop *l);

/* Frees the cache and the lean client (closing their connections) and b's registrations:
 * once the loop's loop_run() has returned. */
void evbackend_destroy(struct evbackend *b);

#endif
