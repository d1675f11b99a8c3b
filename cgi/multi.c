/* multi.c - the "multi" executor's event driver: one curl multi handle per request thread. */
#include "cgi/multi.h"

#include <curl/curl.h>
#include <limits.h>

#include "cgi/call.h"

/* The calls are bcalls: bcall_start/finish/cancel do the curl work, this file the waiting. */
struct multi {
	struct fetch_cache *cache;
	CURLM *handle;		/* the cache's */
	struct fanout_driver driver;
};

static _Thread_local struct multi thread_multi;

static int
multi_start(void *ctx, void *arg, void *token, int64_t deadline_us)
{
	struct multi *m = ctx;
	struct bcall *c = arg;

	c->token = token;
	return bcall_start(c, deadline_us, m->cache);
}

/* Runs the transfers, then sleeps in curl_multi_poll until one has something to do or the
 * time is up, and runs them again. */
static int
multi_wait(void *ctx, int64_t timeout_us)
{
	struct multi *m = ctx;
	int running, ms;

	if (curl_multi_perform(m->handle, &running) != CURLM_OK)
		return -1;
	if (running == 0)
		return 0;	/* all done: done() has them */
	ms = timeout_us < 0 || timeout_us / 1000 >= INT_MAX ? 1000 : (int)((timeout_us + 999) / 1000);
	if (curl_multi_poll(m->handle, NULL, 0, ms, NULL) != CURLM_OK ||
	    curl_multi_perform(m->handle, &running) != CURLM_OK)
		return -1;
	return 0;
}

static void *
multi_done(void *ctx, int *rc)
{
	struct multi *m = ctx;
	struct bcall *c;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(m->handle, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE ||
		    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c) != CURLE_OK ||
		    (*rc = bcall_finish(c, m->cache, msg->data.result)) == BCALL_RUNNING)
			continue;
		return c->token;
	}
	return NULL;
}

static void
multi_cancel(void *ctx, void *arg)
{
	struct multi *m = ctx;

	bcall_cancel(arg, m->cache);
}

/* From the client watch's thread: curl_multi_wakeup is the one call that is safe there. */
static void
multi_wake(void *ctx)
{
	struct multi *m = ctx;

	(void)curl_multi_wakeup(m->handle);
}

const struct fanout_driver *
multi_driver(void)
{
	struct multi *m = &thread_multi;

	if (m->cache == NULL) {
		if ((m->cache = fetch_cache_new()) == NULL)
			return NULL;
		m->handle = fetch_cache_multi(m->cache);
	}
	m->driver = (struct fanout_driver){ .start = multi_start, .wait = multi_wait,
		.done = multi_done, .cancel = multi_cancel, .wake = multi_wake, .ctx = m };
	return &m->driver;
}

void
multi_thread_end(void)
{
	fetch_cache_free(thread_multi.cache);
	thread_multi.cache = NULL;
	thread_multi.handle = NULL;
}
