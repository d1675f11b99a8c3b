/* fetch_pool.h - fetch's own: its connection caches, and the pool of idle curl handles that keep
 * them. Only cgi/fetch*.c include it. */
#ifndef CGI_FETCH_POOL_H
#define CGI_FETCH_POOL_H

#include <curl/curl.h>
#include <stdbool.h>

#include "cgi/conns.h"

struct pooled;

/* A connection cache: a multi handle and the sockets of its connections. */
struct fetch_cache {
	CURLM *multi;
	struct conns *conns;
	struct fetch_loop *loop;		/* a loop's cache: hooks and watches; else NULL */
	struct fetch_transfer *under_way;	/* fetch_start()ed, not yet ended */
	unsigned unwatchable;			/* of those, how many the loop could not watch */
	struct pooled *idle;			/* a loop's cache: its own idle handles */
	size_t nidle, idle_cap;
};

/* An easy handle and the cache that performs it for blocking calls (created at the first one):
 * curl_easy_perform would make that multi itself, but would look at the caller's wishes only
 * about once a second. Connections live in the cache (or, for the multi executor, in its
 * thread's), so both go to the pool together. */
struct pooled {
	CURL *easy;
	struct fetch_cache *cache;
};

/* A pooled handle for a transfer on cache `on` (NULL: the handle's own), or a new one (its cache
 * NULL); false if out of memory. A loop's cache keeps idle handles of its own: a handle stays
 * with the thread whose allocator made its buffers, and no lock is taken. */
bool fetch_pool_take(struct fetch_cache *on, struct pooled *p);

/* Gives a handle back to the pool it came from (on's own, or the process's), or frees it when
 * that is full: every pointer it held into the transfer's memory is unhooked first. */
void fetch_pool_give_back(struct fetch_cache *on, struct pooled p);

#endif
