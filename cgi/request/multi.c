/* multi.c - the "multi" executor's event driver: the calls of a group as transfers of one fetch
 * cache that run at once, in a request thread of their own or on an event loop's cache. */
#include "cgi/request/multi.h"

#include <stdlib.h>

#include "cgi/request/call.h"
#include "cgi/backend/curl/fetch.h"
#include "cgi/backend/h1/h1.h"
#include "common/clock.h"

/* A call under way: expanded, its GET started, to be judged when that ends. */
struct pending {
	struct multi *m;		/* whose call it is */
	struct bcall *call;
	void *token;			/* fanout's name for it, given back when it is done */
	struct fetch_transfer *transfer;	/* curl's, or: */
	struct h1_transfer *lean;		/* the lean client's */
	struct fetch_reply reply;
	struct pending *prev, *next;
};

/* A thread's driver, or a run on a loop's cache (shared by the loop's runs). */
struct multi {
	struct fetch_cache *cache;
	struct h1_client *h1;		/* on a loop: the lean client beside the cache */
	struct pending *pending;	/* the calls under way */
	struct fanout_driver driver;
	/* On a loop: */
	struct pending *ended;		/* handed over by multi_dispatch, not yet collected */
	void (*progress)(void *ctx);
	void *ctx;
	struct multi *next_ready;	/* in multi_dispatch's list of runs to tell */
	bool ready;
};

struct multi_run {
	struct multi m;
};

static _Thread_local struct multi thread_multi;

static void
pending_unlink(struct multi *m, struct pending *p)
{
	if (p->prev != NULL)
		p->prev->next = p->next;
	else
		m->pending = p->next;
	if (p->next != NULL)
		p->next->prev = p->prev;
}

static void
pending_free(struct pending *p)
{
	buf_free(&p->reply.body);
	free(p);
}

/* Starts p's GET with the lean client where it can (on a loop, an http:// URL it takes, the
 * backend not held to curl), else with curl; false if it cannot start (p's reply says why). */
static bool
pending_start(struct pending *p, const struct fetch_request *req)
{
	struct multi *m = p->m;

	if (m->h1 != NULL && !p->call->backend->force_curl && h1_supports(req->url))
		return (p->lean = h1_start(m->h1, req, &p->reply, p)) != NULL;
	return (p->transfer = fetch_start(m->cache, req, &p->reply, p)) != NULL;
}

/* Expands the call's request and starts its GET: 0 if under way, 1 if the call failed at once. */
static int
multi_start(void *ctx, void *arg, void *token, int64_t deadline_us)
{
	struct multi *m = ctx;
	struct bcall *c = arg;
	int64_t left_ms = deadline_us == 0 ? INT64_MAX : (deadline_us - clock_now_us()) / 1000;
	struct pending *p = calloc(1, sizeof(*p));
	struct bcall_request r;
	int rc;

	if (p == NULL) {
		struct fetch_reply none = { .kind = FETCH_INTERNAL, .message = "out of memory" };

		return bcall_judge(c, &none);
	}
	*p = (struct pending){ .m = m, .call = c, .token = token, .reply = { .body = BUF_INIT } };
	if ((rc = bcall_expand(c, left_ms, &r)) == 0 && !pending_start(p, &r.req))
		rc = bcall_judge(c, &p->reply);
	bcall_request_free(&r);
	if (rc != 0) {
		pending_free(p);
		return rc;
	}
	p->next = m->pending;
	if (p->next != NULL)
		p->next->prev = p;
	m->pending = p;
	return 0;
}

static int
multi_wait(void *ctx, int64_t timeout_us)
{
	struct multi *m = ctx;

	return fetch_drive(m->cache, timeout_us);
}

/* A call whose GET has ended, judged. */
static void *
multi_done(void *ctx, int *rc)
{
	struct multi *m = ctx;
	struct pending *p;
	void *token;

	if (m->progress != NULL) {
		if ((p = m->ended) != NULL)
			m->ended = p->next;
	} else if ((p = fetch_done(m->cache)) != NULL)
		pending_unlink(m, p);
	if (p == NULL)
		return NULL;
	*rc = bcall_judge(p->call, &p->reply);
	token = p->token;
	pending_free(p);
	return token;
}

static void
multi_cancel(void *ctx, void *arg)
{
	struct multi *m = ctx;

	for (struct pending *p = m->pending; p != NULL; p = p->next)
		if (p->call == arg) {
			if (p->lean != NULL)
				h1_cancel(m->h1, p->lean);
			else
				fetch_cancel(m->cache, p->transfer);
			pending_unlink(m, p);
			pending_free(p);
			return;
		}
}

/* From the client watch's thread. */
static void
multi_wake(void *ctx)
{
	struct multi *m = ctx;

	fetch_wake(m->cache);
}

const struct fanout_driver *
multi_driver(void)
{
	struct multi *m = &thread_multi;

	if (m->cache == NULL && (m->cache = fetch_cache_new()) == NULL)
		return NULL;
	m->driver = (struct fanout_driver){ .start = multi_start, .wait = multi_wait,
		.done = multi_done, .cancel = multi_cancel, .wake = multi_wake, .ctx = m };
	return &m->driver;
}

struct multi_run *
multi_run_new(struct fetch_cache *cache, struct h1_client *h1, void (*progress)(void *ctx),
    void *ctx)
{
	struct multi_run *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return NULL;
	r->m = (struct multi){ .cache = cache, .h1 = h1, .progress = progress, .ctx = ctx };
	r->m.driver = (struct fanout_driver){ .start = multi_start, .done = multi_done,
		.cancel = multi_cancel, .ctx = &r->m };
	return r;
}

const struct fanout_driver *
multi_run_driver(struct multi_run *r)
{
	return &r->m.driver;
}

void
multi_run_free(struct multi_run *r)
{
	struct pending *p;

	if (r == NULL)
		return;
	/* The group's run is over, so fanout has cancelled every call still under way; should
	 * one be left anyway, it is cancelled here, so that no transfer writes into freed memory. */
	while (r->m.pending != NULL)
		multi_cancel(&r->m, r->m.pending->call);
	/* Ended calls a cancelled group never collected. */
	while ((p = r->m.ended) != NULL) {
		r->m.ended = p->next;
		pending_free(p);
	}
	free(r);
}

/* Moves p, whose transfer has ended, from its run's calls under way to those it will collect. */
static void
pending_hand_over(struct pending *p, struct multi **ready)
{
	struct multi *m = p->m;
	struct pending **tail = &m->ended;

	pending_unlink(m, p);
	while (*tail != NULL)
		tail = &(*tail)->next;
	p->next = NULL;
	*tail = p;
	if (!m->ready) {
		m->ready = true;
		m->next_ready = *ready;
		*ready = m;
	}
}

void
multi_dispatch(struct fetch_cache *cache, struct h1_client *h1)
{
	struct multi *ready = NULL, *m;
	struct pending *p;

	while ((p = fetch_done(cache)) != NULL)
		pending_hand_over(p, &ready);
	while (h1 != NULL && (p = h1_done(h1)) != NULL)
		pending_hand_over(p, &ready);
	while ((m = ready) != NULL) {
		ready = m->next_ready;
		m->ready = false;
		m->progress(m->ctx);	/* may free m */
	}
}

void
multi_thread_end(void)
{
	fetch_cache_free(thread_multi.cache);
	thread_multi.cache = NULL;
}
