/* fetch.h - HTTP GETs to backends with libcurl, on pooled handles that keep connections: one that
 * blocks, or many at once that an event loop drives. The contract of cgi/backend/curl/, the one
 * room that knows curl; the request and reply it takes are every client's (backend/reply.h). */
#ifndef CGI_FETCH_H
#define CGI_FETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cgi/backend/reply.h"

/* Once at start, before threads: curl_global_init. -1 on failure. */
int fetch_global_init(void);
void fetch_global_cleanup(void);

/* Idle pooled curl handles now: multi handles of blocking calls, each keeping its connections for
 * the next call (every transfer has an easy handle of its own). The pool grows to the peak of
 * concurrent blocking calls and does not shrink; it keeps at most one handle per 16 descriptors
 * the process may open (RLIMIT_NOFILE at fetch_global_init), and never more than 1024: an idle
 * handle holds up to 6. */
size_t fetch_pool_idle(void);

/* Kept connections refused so far because the backend had sent bytes after its answer (each
 * such request went out again on a new connection). */
unsigned long fetch_stray_refused(void);

/* A connection cache: a curl multi handle and the sockets of its connections, used by one thread
 * at a time. Every transfer checks its connection before sending on it, kept or new: one on
 * which bytes wait that nobody asked for (curl before 8.0 would read them as the answer) is
 * closed, and the request sent again once on a new connection. */
struct fetch_cache;

/* A new cache; NULL if out of memory. Freed with every connection it keeps; transfers still
 * under way on it are cancelled first (fetch_cancel: their replies are to be discarded). */
struct fetch_cache *fetch_cache_new(void);
void fetch_cache_free(struct fetch_cache *c);

/* Performs the GET. The status is not judged here: the caller knows what counts as success. */
void fetch_get(const struct fetch_request *req, struct fetch_reply *reply);

/*
 * The same without blocking: transfers under way at once on one cache, whose owner (an event
 * loop, one thread) drives them. A transfer is opaque; it lives from fetch_start() until
 * fetch_done() gives its token back or fetch_cancel() ends it; its reply (the caller's, given to
 * fetch_start) is complete then, and not to be read before.
 *
 * fetch_drive() is the variant for a thread that waits on its own transfers only: it sleeps in
 * curl_multi_poll. The event-driven server plugs curl's multi-socket API in behind this same
 * header: a cache made for a loop (fetch_cache_new_on(hooks)) sets CURLMOPT_SOCKETFUNCTION (the
 * hooks add, change or drop a socket in the loop's epoll set) and CURLMOPT_TIMERFUNCTION (they
 * arm the loop's timer) on its multi handle; the loop then calls fetch_socket_ready(cache, fd,
 * events) and fetch_timer_expired(cache), both curl_multi_socket_action(), where this variant
 * calls fetch_drive(). fetch_start(), fetch_done() and fetch_cancel() stay as they are: they only
 * add and remove easy handles and read curl_multi_info_read(), which both variants share (the
 * connection check and its one retry included); fetch_wake() does nothing there: the loop has
 * its own wake-up.
 */
struct fetch_transfer;

/* Sets the GET up and puts it under way on cache; `token` (not NULL) names it in fetch_done().
 * reply must stay until then. NULL if it cannot start: reply says why (FETCH_INTERNAL). */
struct fetch_transfer *fetch_start(struct fetch_cache *cache, const struct fetch_request *req,
    struct fetch_reply *reply, void *token);

/* Makes progress on the cache's transfers; if some are still under way, waits up to timeout_us
 * (< 0: a second at most) for one of them, or fetch_wake(), and makes progress again. 0, or -1
 * if curl failed (the transfers under way are then to be cancelled). Not for a loop's cache. */
int fetch_drive(struct fetch_cache *cache, int64_t timeout_us);

/* The token of a transfer that has ended, its reply filled and the transfer gone; NULL when none
 * has. (A transfer whose kept connection is refused goes out again on a new one, once, and ends
 * later.) */
void *fetch_done(struct fetch_cache *cache);

/* Ends a transfer under way at once (nobody wants its answer): its reply is to be discarded. */
void fetch_cancel(struct fetch_cache *cache, struct fetch_transfer *t);

/* Makes a fetch_drive() under way, or the next one, return at once. The one call that is safe
 * from another thread. On a loop's cache it does nothing: the loop has its own wake-up. */
void fetch_wake(struct fetch_cache *cache);

/* What a loop watches a socket for, and what it saw (FETCH_POLL_ERR: EPOLLERR or EPOLLHUP). */
enum { FETCH_POLL_IN = 1, FETCH_POLL_OUT = 2, FETCH_POLL_ERR = 4 };

/* What a loop gives a cache made for it. The hooks are called from inside fetch_* calls only
 * (fetch_start, fetch_socket_ready, fetch_timer_expired, fetch_done, fetch_cancel,
 * fetch_cache_free), in the loop's thread, and must not call fetch_* themselves. */
struct fetch_loop_hooks {
	/* Watch fd for `what` (FETCH_POLL_IN|FETCH_POLL_OUT: the whole set, replacing the last),
	 * or stop watching it (what 0: it is about to be closed, or no longer curl's concern).
	 * Every fd watched gets its what 0 once, before it is closed, at the latest from
	 * fetch_cache_free; one never watched gets none. 0, or -1 on failure: the transfer on fd
	 * then ends as FETCH_INTERNAL at the next fetch_done() (a failed change leaves fd counted
	 * as watched, so its what 0 still comes). *sock is the loop's own record of fd (its
	 * registration), kept for it in the cache's one table by descriptor: NULL until the hook
	 * sets it, then the same at every call for fd, across watches, until forget(). */
	int (*watch)(void *ctx, int fd, int what, void **sock);
	/* Arm the cache's one timer, one-shot, to call fetch_timer_expired() in timeout_ms (0: as
	 * soon as possible, from the loop, NOT from inside this call), replacing the last; or
	 * disarm it (-1). fetch_cache_free disarms it. */
	void (*timer)(void *ctx, long timeout_ms);
	void *ctx;
	/* Optional: fetch_cache_free hands back each record a watch set (*sock), once every watch
	 * has ended; the loop frees it. */
	void (*forget)(void *ctx, void *sock);
};

/* A cache whose transfers an event loop drives (curl's multi-socket API) instead of
 * fetch_drive(), which is not for it; NULL if out of memory or a hook is missing. */
struct fetch_cache *fetch_cache_new_on(const struct fetch_loop_hooks *hooks);

/* The loop saw `events` (FETCH_POLL_*) on fd, which the cache had it watch: curl acts on it.
 * -1 if curl failed (the transfers under way are then to be cancelled). Then read fetch_done(). */
int fetch_socket_ready(struct fetch_cache *c, int fd, int events);

/* The cache's timer fired: curl acts on what is due. -1 if curl failed. Then read fetch_done(). */
int fetch_timer_expired(struct fetch_cache *c);

#endif
