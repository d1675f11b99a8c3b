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

void
fanout_events_run(fanout_group *g, struct call_list *ready)
{
	events_start(g, ready);
	for (;;) {
		int64_t now = fanout_now_us(), timeout = FANOUT_WAIT_FOREVER;

		pthread_mutex_lock(&g->mu);
		if (g->unfinished == 0 || (g->deadline != FANOUT_NO_DEADLINE && now >= g->deadline) ||
		    atomic_load(&g->cancelled)) {
			fanout_group_close(g, now);
			pthread_mutex_unlock(&g->mu);
			break;
		}
		pthread_mutex_unlock(&g->mu);
		if (g->deadline != FANOUT_NO_DEADLINE)
			timeout = g->deadline - now;
		if (g->driver.wait(g->driver.ctx, timeout) != 0)
			events_fail_all(g);
		events_collect(g);
	}
	/* The deadline passed or the group was cancelled: what the driver still runs is cancelled,
	 * nothing outlives the run. */
	for (size_t i = 0; i < g->ncalls; i++)
		if (g->calls[i].in_driver) {
			g->driver.cancel(g->driver.ctx, g->calls[i].arg);
			g->calls[i].in_driver = false;
			(void)fanout_call_end(&g->calls[i], NULL);
		}
}
