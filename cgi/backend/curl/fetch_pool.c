/* fetch_pool.c - fetch's connection caches, the pool of idle ones for blocking calls, and each
 * transfer's new easy handle. */
#include "cgi/backend/curl/fetch_internal.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>


/* Idle pooled caches: at most POOL_MAX, and one per POOL_FDS_EACH descriptors the process may
 * open: an idle cache holds its multi handle's wake-up socket pair and up to 4 kept connections
 * (curl's default cache size for one transfer), 6 descriptors. */
#define POOL_MAX 1024
#define POOL_MIN 4
#define POOL_FDS_EACH 16

/* Idle caches of blocking calls. A cache keeps its connections, DNS cache and TLS sessions across
 * requests; the share interface cannot share connections between threads, so each cache is used
 * by one thread at a time and goes back here after. */
static struct {
	pthread_mutex_t mu;
	struct fetch_cache *idle[POOL_MAX];
	size_t nidle, max;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .max = POOL_MIN };

/*
 * The cache's share: its transfers' TLS sessions. curl 7.88 keeps TLS sessions per easy handle
 * unless a share holds them, and each transfer has a new easy handle (below): without it a new
 * TLS connection never resumed an earlier session. DNS needs no share: the multi handle's cache
 * serves every easy handle added to it. curl calls a share's lock callbacks only if set (7.88's
 * Curl_share_lock), and none are needed: a cache, hence its share, is used by one thread at a
 * time (a loop's, a multi executor thread's, or a blocking call's, handed over under pool.mu).
 */
static bool
share_new(struct fetch_cache *c)
{
	CURLSHcode rc;

	if ((c->share = curl_share_init()) == NULL)
		return false;
	rc = curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	return rc == CURLSHE_OK || rc == CURLSHE_NOT_BUILT_IN;	/* a curl without TLS */
}

struct fetch_cache *
fetch_cache_new(void)
{
	struct fetch_cache *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->conns = conns_new()) == NULL || (c->multi = curl_multi_init()) == NULL ||
	    !share_new(c)) {
		fetch_cache_destroy(c);
		return NULL;
	}
	return c;
}

void
fetch_cache_destroy(struct fetch_cache *c)
{
	if (c == NULL)
		return;
	/* Closes the cached connections through conns_close, which tells the loop (if any) to stop
	 * watching them: the set and the loop's side go after. */
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	/* After every easy handle that used it (those under way were cancelled by
	 * fetch_cache_free; the others ended with their transfers): curl refuses to free a share still in use (CURLSHE_IN_USE),
	 * and a handle would keep a dangling pointer to it. The multi handle closes its connections
	 * through a handle of its own, which uses no share. Should curl refuse (a bug: a handle
	 * outlived its cache), the share stays allocated rather than freed under that handle. */
	if (c->share != NULL)
		(void)curl_share_cleanup(c->share);
	fetch_loop_free(c->loop);
	conns_free(c->conns);
	free(c);
}

/* The pool's bound, from the descriptors the process may open. */
static size_t
pool_bound(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return POOL_MIN;
	n = rl.rlim_cur / POOL_FDS_EACH;
	return n < POOL_MIN ? POOL_MIN : n > POOL_MAX ? POOL_MAX : (size_t)n;
}

int
fetch_global_init(void)
{
	pool.max = pool_bound();
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
fetch_global_cleanup(void)
{
	pthread_mutex_lock(&pool.mu);
	while (pool.nidle > 0)
		fetch_cache_destroy(pool.idle[--pool.nidle]);
	pthread_mutex_unlock(&pool.mu);
	curl_global_cleanup();
}

size_t
fetch_pool_idle(void)
{
	size_t n;

	pthread_mutex_lock(&pool.mu);
	n = pool.nidle;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

/*
 * Easy handles are not pooled: each transfer gets a new one. curl 7.88 keeps, across transfers
 * of one easy handle, a pointer to the last header it stored (data->state.prevhead), and frees
 * the headers it points into when the next transfer starts; an answer whose first header line
 * is folded (starts with a space or tab, and has a colon, which is all 7.88 checks on that line)
 * is then appended to freed memory (curl #11101, fixed in 8.1.0 by clearing the pointer; Debian
 * 12's 7.88.1-10+deb12u15 lacks it). A backend could kill the process with it. No option or
 * curl_easy_reset() clears the pointer, and curl stores the line before any callback of ours
 * sees it; a new handle has no pointer to clear (fetch.c's one retry reuses the handle, but
 * only after an attempt that received nothing). What a handle costs is cheap next to a
 * transfer (README, Security); what is worth keeping, the connections, the DNS cache (the
 * multi handle's) and the TLS sessions (the share's), is the cache's, which is pooled.
 */
bool
fetch_pool_take(struct fetch_cache *on, struct pooled *p)
{
	*p = (struct pooled){ .easy = curl_easy_init() };
	if (p->easy == NULL)
		return false;
	if (on != NULL)
		return true;
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle > 0)
		p->cache = pool.idle[--pool.nidle];
	pthread_mutex_unlock(&pool.mu);
	return true;
}

void
fetch_pool_give_back(struct pooled p)
{
	struct fetch_cache *c = p.cache;
	bool kept = false;

	curl_easy_cleanup(p.easy);
	if (c == NULL)
		return;
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle < pool.max) {
		pool.idle[pool.nidle++] = c;
		kept = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (!kept)
		fetch_cache_destroy(c);
}

int
fetch_socket_ready(struct fetch_cache *c, int fd, int events)
{
	return fetch_loop_socket_ready(c->loop, fd, events);
}

int
fetch_timer_expired(struct fetch_cache *c)
{
	return fetch_loop_timer_expired(c->loop);
}
