/* fetch_internal.h - the curl client's own: what fetch_multi.c (transfers many at once), fetch.c
 * (a transfer, and a blocking GET), fetch_pool.c (connection caches and their pool) and
 * fetch_loop.c (a cache's side on an event loop) tell each other, each file using only those
 * below it in that order. Only cgi/backend/curl/ includes it; fetch.h is the client's contract. */
#ifndef CGI_FETCH_INTERNAL_H
#define CGI_FETCH_INTERNAL_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgi/backend/curl/conns.h"
#include "cgi/backend/curl/fetch.h"

/* ---- fetch_loop.c: a loop's side of a cache, its hooks, the sockets it watches, its timer */

struct fetch_loop;

/* The loop's side of multi: sets its socket and timer callbacks (and the connections it keeps)
 * to go through hooks. unwatchable(easy) is told when the loop could not watch a socket of
 * easy's transfer, which is then to end: it runs inside curl's callback and must only record
 * it. NULL if out of memory or curl refuses an option. */
struct fetch_loop *fetch_loop_new(CURLM *multi, const struct fetch_loop_hooks *hooks,
    void (*unwatchable)(CURL *easy));

/* fetch_socket_ready() and fetch_timer_expired() of the cache that l belongs to. */
int fetch_loop_socket_ready(struct fetch_loop *l, int fd, int events);
int fetch_loop_timer_expired(struct fetch_loop *l);

/* curl is about to close fd (CURLOPT_CLOSESOCKETFUNCTION): if the loop still watches it, it
 * stops first, so that it never holds a descriptor that may be reused. l may be NULL. */
void fetch_loop_closing(struct fetch_loop *l, int fd);

/* After curl_multi_cleanup: stops every watch and the timer still on, and frees l (NULL: none). */
void fetch_loop_free(struct fetch_loop *l);

/* ---- fetch_pool.c: connection caches, the pool of idle ones, each transfer's easy handle */

struct fetch_transfer;

/* A connection cache: a multi handle, the sockets of its connections, and the TLS sessions its
 * transfers may resume. */
struct fetch_cache {
	CURLM *multi;
	CURLSH *share;				/* TLS sessions (fetch_pool.c says why) */
	struct conns *conns;
	struct fetch_loop *loop;		/* a loop's cache: hooks and watches; else NULL */
	struct fetch_transfer *under_way;	/* fetch_start()ed, not yet ended */
	unsigned unwatchable;			/* of those, how many the loop could not watch */
};

/* A transfer's easy handle, new for each transfer (fetch_pool.c says why), and for a blocking
 * call the cache that performs it (a pooled one, or NULL: the caller makes one):
 * curl_easy_perform would make that multi itself, but would look at the caller's wishes only
 * about once a second. Connections live in the cache (or, for the multi executor, in its
 * thread's), which is what the pool keeps. */
struct pooled {
	CURL *easy;
	struct fetch_cache *cache;
};

/* Frees a cache on which no transfer is under way (fetch_cache_free cancels those first), with
 * its connections; NULL: nothing. */
void fetch_cache_destroy(struct fetch_cache *c);

/* A new easy handle for a transfer on cache `on`, or with on NULL (a blocking call) also an idle
 * cache from the pool if there is one (else p->cache is NULL); false if out of memory. */
bool fetch_pool_take(struct fetch_cache *on, struct pooled *p);

/* Frees the easy handle, and gives the cache (if any) back to the pool, or frees it when the pool
 * is full. */
void fetch_pool_give_back(struct pooled p);

/* ---- fetch.c: one transfer */

struct sink {
	struct buf *body;
	size_t max;
	bool too_large;
	bool nomem;
};

/* One transfer under way: what its callbacks and its end need. */
struct fetch_transfer {
	struct pooled p;
	struct fetch_cache *cache;	/* where it runs: a pooled one (p.cache), or a loop's */
	struct curl_slist *headers;
	struct sink sink;
	struct fetch_reply *reply;
	void *token;			/* the caller's name for it (fetch_start) */
	size_t max_body;
	int64_t deadline_us;
	enum conns_state conn;		/* of the connection the request was about to go on */
	bool retried;
	bool unwatchable;		/* the loop could not watch its socket: to be ended */
	char echo_name[FETCH_ECHO_NAME_MAX];	/* the header the reply is to carry, "" for none */
	/* In its cache's under_way list (fetch_start): pprev is where the pointer to it is. */
	struct fetch_transfer *next, **pprev;
	char errbuf[CURL_ERROR_SIZE];
};

/* Takes a new easy handle and sets the transfer up to run on `cache` (NULL: a pooled one);
 * NULL if it cannot, with reply set. */
struct fetch_transfer *fetch_transfer_begin(const struct fetch_request *req,
    struct fetch_reply *reply, struct fetch_cache *cache);

/* curl has ended t with rc: true if it must run again (its connection was refused before
 * anything was sent), set up for that. */
bool fetch_transfer_retry(struct fetch_transfer *t, CURLcode rc);

/* Fills t's reply from curl's code rc, gives the handle back and frees t. */
void fetch_transfer_end(struct fetch_transfer *t, CURLcode rc);

#endif
