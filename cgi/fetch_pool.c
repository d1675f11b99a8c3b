/* fetch_pool.c - fetch's connection caches, and the pool of idle curl handles that keep them. */
#include "cgi/fetch_pool.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>

#include "cgi/fetch.h"
#include "cgi/fetch_loop.h"

/* Idle pooled handles: at most POOL_MAX, and one per POOL_FDS_EACH descriptors the process may
 * open: an idle handle holds its multi handle's wake-up socket pair and up to 4 kept
 * connections (curl's default cache size for one transfer), 6 descriptors. */
#define POOL_MAX 1024
#define POOL_MIN 4
#define POOL_FDS_EACH 16

/* Idle handles. A handle keeps its connections (and DNS cache) across requests; the share
 * interface cannot share connections between threads, so each handle is used by one thread at a
 * time and goes back here after. */
static struct {
	pthread_mutex_t mu;
	struct pooled idle[POOL_MAX];
	size_t nidle, max;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .max = POOL_MIN };

struct fetch_cache *
fetch_cache_new(void)
{
	struct fetch_cache *c = calloc(1, sizeof(*c));

	if (c == NULL || (c->conns = conns_new()) == NULL || (c->multi = curl_multi_init()) == NULL) {
		fetch_cache_free(c);
		return NULL;
	}
	return c;
}

static void pooled_cleanup(struct pooled p);

void
fetch_cache_free(struct fetch_cache *c)
{
	if (c == NULL)
		return;
	while (c->under_way != NULL)
		fetch_cancel(c, c->under_way);
	/* Closes the cached connections through conns_close, which tells the loop (if any) to stop
	 * watching them: the set and the loop's side go after. */
	if (c->multi != NULL)
		curl_multi_cleanup(c->multi);
	fetch_loop_free(c->loop);
	conns_free(c->conns);
	while (c->nidle > 0)
		pooled_cleanup(c->idle[--c->nidle]);
	free(c->idle);
	free(c);
}

static void
pooled_cleanup(struct pooled p)
{
	curl_easy_cleanup(p.easy);
	fetch_cache_free(p.cache);
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
		pooled_cleanup(pool.idle[--pool.nidle]);
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

bool
fetch_pool_take(struct fetch_cache *on, struct pooled *p)
{
	bool found = false;

	if (on != NULL && on->loop != NULL && on->nidle > 0) {
		*p = on->idle[--on->nidle];
		return true;
	}
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle > 0) {
		*p = pool.idle[--pool.nidle];
		found = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (!found)
		*p = (struct pooled){ .easy = curl_easy_init() };
	return p->easy != NULL;
}

/* Keeps p in a loop cache's own idle list; false if it is full or out of memory. */
static bool
local_keep(struct fetch_cache *on, struct pooled p)
{
	if (on->nidle == on->idle_cap) {
		size_t cap = on->idle_cap ? on->idle_cap * 2 : 64;
		struct pooled *idle;

		if (cap > POOL_MAX || (idle = realloc(on->idle, cap * sizeof(*idle))) == NULL)
			return false;
		on->idle = idle;
		on->idle_cap = cap;
	}
	on->idle[on->nidle++] = p;
	return true;
}

void
fetch_pool_give_back(struct fetch_cache *on, struct pooled p)
{
	CURL *h = p.easy;
	bool kept = false;

	/* Every option is set again by the next transfer; only the pointers into memory that is
	 * freed now are unhooked. (curl_easy_reset would also free and later re-allocate all the
	 * handle's buffers, a measurable share of each request's CPU.) */
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
	(void)curl_easy_setopt(h, CURLOPT_PREREQDATA, NULL);
	(void)curl_easy_setopt(h, CURLOPT_HEADERDATA, NULL);
	(void)curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, NULL);
	if (on != NULL && on->loop != NULL && local_keep(on, p))
		return;
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle < pool.max) {
		pool.idle[pool.nidle++] = p;
		kept = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (!kept)
		pooled_cleanup(p);
}
