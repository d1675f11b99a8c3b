/* fetch_pool.h - fetch's own: its connection caches, the pool of idle ones that blocking calls
 * share, and each transfer's easy handle. Only cgi/fetch*.c include it. */
#ifndef CGI_FETCH_POOL_H
#define CGI_FETCH_POOL_H

#include <curl/curl.h>
#include <stdbool.h>

#include "cgi/backend/curl/conns.h"

struct pooled;

/* A connection cache: a multi handle and the sockets of its connections. */
struct fetch_cache {
	CURLM *multi;
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

/* A new easy handle for a transfer on cache `on`, or with on NULL (a blocking call) also an idle
 * cache from the pool if there is one (else p->cache is NULL); false if out of memory. */
bool fetch_pool_take(struct fetch_cache *on, struct pooled *p);

/* Frees the easy handle, and gives the cache (if any) back to the pool, or frees it when the pool
 * is full. */
void fetch_pool_give_back(struct pooled p);

#endif
