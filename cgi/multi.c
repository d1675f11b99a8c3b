/* multi.c - the "multi" executor's event driver: one fetch cache per request thread, whose
 * transfers run at once in that thread. */
#include "cgi/multi.h"

#include <stdlib.h>

#include "cgi/call.h"
#include "cgi/fetch.h"

/* A call under way: expanded, its GET started, to be judged when that ends. */
struct pending {
	struct bcall *call;
	void *token;			/* fanout's name for it, given back when it is done */
	struct fetch_transfer *transfer;
	struct fetch_reply reply;
	struct pending *prev, *next;
};

struct multi {
	struct fetch_cache *cache;
	struct pending *pending;	/* the calls under way */
	struct fanout_driver driver;
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

/* Expands the call's request and starts its GET: 0 if under way, 1 if the call failed at once. */
static int
multi_start(void *ctx, void *arg, void *token, int64_t deadline_us)
{
	struct multi *m = ctx;
	struct bcall *c = arg;
	int64_t left_ms = deadline_us == 0 ? INT64_MAX : (deadline_us - fanout_now_us()) / 1000;
	struct pending *p = calloc(1, sizeof(*p));
	struct bcall_request r;
	int rc;

	if (p == NULL) {
		struct fetch_reply none = { .kind = FETCH_INTERNAL, .message = "out of memory" };

		return bcall_judge(c, &none);
	}
	*p = (struct pending){ .call = c, .token = token, .reply = { .body = BUF_INIT } };
	if ((rc = bcall_expand(c, left_ms, &r)) == 0 &&
	    (p->transfer = fetch_start(m->cache, &r.req, &p->reply, p)) == NULL)
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
	struct pending *p = fetch_done(m->cache);
	void *token;

	if (p == NULL)
		return NULL;
	*rc = bcall_judge(p->call, &p->reply);
	token = p->token;
	pending_unlink(m, p);
	pending_free(p);
	return token;
}

static void
multi_cancel(void *ctx, void *arg)
{
	struct multi *m = ctx;

	for (struct pending *p = m->pending; p != NULL; p = p->next)
		if (p->call == arg) {
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

void
multi_thread_end(void)
{
	fetch_cache_free(thread_multi.cache);
	thread_multi.cache = NULL;
}
