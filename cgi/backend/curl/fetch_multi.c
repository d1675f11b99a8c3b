/* fetch_multi.c - GETs many at once on one connection cache: started, driven (by a thread that
 * waits on them, or by an event loop through curl's multi-socket API), ended, cancelled; and
 * the caches an event loop drives. */
#include "cgi/backend/curl/fetch_internal.h"

#include <limits.h>
#include <stdio.h>

/* The loop could not watch a socket of easy's transfer, which is to end (as FETCH_INTERNAL) at
 * the next fetch_done(). Only records it: it runs inside curl's callback. */
static void
transfer_unwatchable(CURL *easy)
{
	struct fetch_transfer *t = NULL;

	if (curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&t) != CURLE_OK || t == NULL ||
	    t->unwatchable)
		return;
	t->unwatchable = true;
	t->cache->unwatchable++;
}

struct fetch_cache *
fetch_cache_new_on(const struct fetch_loop_hooks *hooks)
{
	struct fetch_cache *c;

	if (hooks == NULL || hooks->watch == NULL || hooks->timer == NULL ||
	    (c = fetch_cache_new()) == NULL)
		return NULL;
	if ((c->loop = fetch_loop_new(c->multi, hooks, transfer_unwatchable)) == NULL) {
		fetch_cache_destroy(c);
		return NULL;
	}
	return c;
}

void
fetch_cache_free(struct fetch_cache *c)
{
	if (c == NULL)
		return;
	while (c->under_way != NULL)
		fetch_cancel(c, c->under_way);
	fetch_cache_destroy(c);
}

static void
under_way_add(struct fetch_cache *cache, struct fetch_transfer *t)
{
	if ((t->next = cache->under_way) != NULL)
		t->next->pprev = &t->next;
	t->pprev = &cache->under_way;
	cache->under_way = t;
}

static void
under_way_drop(struct fetch_cache *cache, struct fetch_transfer *t)
{
	if ((*t->pprev = t->next) != NULL)
		t->next->pprev = t->pprev;
	if (t->unwatchable)
		cache->unwatchable--;
}

struct fetch_transfer *
fetch_start(struct fetch_cache *cache, const struct fetch_request *req,
    struct fetch_reply *reply, void *token)
{
	struct fetch_transfer *t = fetch_transfer_begin(req, reply, cache);

	if (t == NULL)
		return NULL;
	t->token = token;
	under_way_add(cache, t);
	if (curl_easy_setopt(t->p.easy, CURLOPT_PRIVATE, t) != CURLE_OK ||
	    curl_multi_add_handle(cache->multi, t->p.easy) != CURLM_OK) {
		under_way_drop(cache, t);
		fetch_transfer_end(t, CURLE_FAILED_INIT);
		fetch_reply_fail(reply, "cannot add the transfer to the multi handle");
		return NULL;
	}
	return t;
}

int
fetch_drive(struct fetch_cache *cache, int64_t timeout_us)
{
	int running, ms;

	if (curl_multi_perform(cache->multi, &running) != CURLM_OK)
		return -1;
	if (running == 0)
		return 0;	/* all ended: fetch_done() has them */
	ms = timeout_us < 0 || timeout_us / 1000 >= INT_MAX ? 1000 : (int)((timeout_us + 999) / 1000);
	if (curl_multi_poll(cache->multi, NULL, 0, ms, NULL) != CURLM_OK ||
	    curl_multi_perform(cache->multi, &running) != CURLM_OK)
		return -1;
	return 0;
}

/* Takes t out of the cache's multi handle and ends it with curl's code. */
static void
transfer_remove(struct fetch_cache *cache, struct fetch_transfer *t, CURLcode rc)
{
	under_way_drop(cache, t);
	(void)curl_multi_remove_handle(cache->multi, t->p.easy);
	fetch_transfer_end(t, rc);
}


/* Ends a transfer whose socket the loop could not watch (nothing would tell curl of its
 * traffic: it would stall, or crawl on curl's own timers); its token, or NULL if none. */
static void *
unwatchable_end(struct fetch_cache *cache)
{
	struct fetch_transfer *t = cache->under_way;
	struct fetch_reply *reply;
	void *token;

	while (t != NULL && !t->unwatchable)
		t = t->next;
	if (t == NULL)
		return NULL;
	token = t->token;
	reply = t->reply;
	transfer_remove(cache, t, CURLE_FAILED_INIT);
	reply->kind = FETCH_INTERNAL;
	snprintf(reply->message, sizeof(reply->message), "%s",
	    "the event loop cannot watch the connection's socket");
	return token;
}

void *
fetch_done(struct fetch_cache *cache)
{
	struct fetch_transfer *t;
	CURLcode rc;
	CURLMsg *msg;
	void *token;
	int left;

	if (cache->unwatchable > 0 && (token = unwatchable_end(cache)) != NULL)
		return token;
	while ((msg = curl_multi_info_read(cache->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&t) != CURLE_OK)
			continue;
		rc = msg->data.result;
		if (fetch_transfer_retry(t, rc)) {
			(void)curl_multi_remove_handle(cache->multi, t->p.easy);
			if (curl_multi_add_handle(cache->multi, t->p.easy) == CURLM_OK)
				continue;	/* under way again: it ends later */
			rc = CURLE_FAILED_INIT;
		}
		token = t->token;
		transfer_remove(cache, t, rc);
		return token;
	}
	return NULL;
}

void
fetch_cancel(struct fetch_cache *cache, struct fetch_transfer *t)
{
	transfer_remove(cache, t, CURLE_ABORTED_BY_CALLBACK);
}

/* From another thread: curl_multi_wakeup is the one call on a multi handle that is safe there.
 * A loop's cache never waits in curl_multi_poll, which that would wake (cache->loop is set
 * before the cache is shared, and never changes). */
void
fetch_wake(struct fetch_cache *cache)
{
	if (cache->loop == NULL)
		(void)curl_multi_wakeup(cache->multi);
}
