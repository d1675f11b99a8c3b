/* exec_events.c - FANOUT_EVENTS: calls that do not block, driven in the caller's thread. */
#include "internal.h"

/* Starts the ready calls through the driver; a call the driver refuses fails at once. */
static void
events_start(fanout_group *g, struct call_list *ready)
{
	struct call *c;

	while ((c = call_list_pop(ready)) != NULL) {
		int64_t start = fanout_now_us();
		int rc;

		atomic_store(&c->started_at, start);
		if ((rc = g->driver.start(g->driver.ctx, c->arg, c, g->deadline)) == 0) {
			c->in_driver = true;
			continue;
		}
		{
			struct fanout_result res =
			    fanout_call_outcome(g, start, fanout_now_us(), rc);

			(void)fanout_call_end(c, &res);	/* not ok: it makes nothing ready */
		}
	}
}

/* Ends the calls the driver reports done, starting what they made ready. */
static void
events_collect(fanout_group *g)
{
	struct call *c;
	int rc;

	while ((c = g->driver.done(g->driver.ctx, &rc)) != NULL) {
		struct fanout_result res = fanout_call_outcome(g, atomic_load(&c->started_at),
		    fanout_now_us(), rc);
		struct call_list ready;

		c->in_driver = false;
		ready = fanout_call_end(c, &res);
		events_start(g, &ready);
	}
}

/* The driver failed: every call under way fails with FANOUT_EDRIVER. */
static void
events_fail_all(fanout_group *g)
{
	struct fanout_result res = { .state = FANOUT_CALL_FAILED, .rc = -1,
		.err = FANOUT_EDRIVER, .start_us = -1, .duration_us = -1 };

	for (size_t i = 0; i < g->ncalls; i++) {
		struct call *c = &g->calls[i];

		if (!c->in_driver)
			continue;
		g->driver.cancel(g->driver.ctx, c->arg);
		c->in_driver = false;
		(void)fanout_call_end(c, &res);	/* a failure makes nothing ready */
	}
}

/* Whether the run is over: every call finished, the deadline passed or the group cancelled. If
 * so, the group is closed and what the driver still runs is cancelled: nothing outlives it. */
static bool
events_over(fanout_group *g)
{
	int64_t now = fanout_now_us();
	bool over;

	pthread_mutex_lock(&g->mu);
	over = g->unfinished == 0 || (g->deadline != FANOUT_NO_DEADLINE && now >= g->deadline) ||
	    atomic_load(&g->cancelled);
	if (over)
		fanout_group_close(g, now);
	pthread_mutex_unlock(&g->mu);
	if (!over)
		return false;
	for (size_t i = 0; i < g->ncalls; i++)
		if (g->calls[i].in_driver) {
			g->driver.cancel(g->driver.ctx, g->calls[i].arg);
			g->calls[i].in_driver = false;
			(void)fanout_call_end(&g->calls[i], NULL);
		}
	return true;
}

/* Never called: a FANOUT_EVENTS run starts its calls itself (events_start), on the caller's
 * thread, and collects what they make ready (events_collect). */
static void
events_launch(fanout_group *g, struct call_list *ready)
{
	(void)g;
	(void)ready;
}

const struct fanout_exec fanout_exec_events = { .launch = events_launch };

void
fanout_events_begin(fanout_group *g, struct call_list *ready)
{
	events_start(g, ready);
}

bool
fanout_events_advance(fanout_group *g)
{
	events_collect(g);
	return events_over(g);
}

void
fanout_events_run(fanout_group *g, struct call_list *ready)
{
	events_start(g, ready);
	while (!events_over(g)) {
		int64_t timeout = FANOUT_WAIT_FOREVER;

		if (g->deadline != FANOUT_NO_DEADLINE)
			timeout = g->deadline - fanout_now_us();
		if (g->driver.wait(g->driver.ctx, timeout) != 0)
			events_fail_all(g);
		events_collect(g);
	}
}
