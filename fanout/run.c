/* run.c - the scheduler: a group's run, its admission, dependency order, the deadline wait and
 * completion; the executor it runs on chosen here, by its ops table (internal.h), which the
 * calls' side (call.c) uses without naming an executor. */
#include "internal.h"

#include <errno.h>

/* Kahn's algorithm over the dependency edges: true if some calls can never become ready.
 * Borrows `waiting` and `next`, which the run resets before use. */
static bool
group_has_cycle(fanout_group *g)
{
	struct call_list ready = { NULL, NULL };
	struct call *c;
	size_t reached = 0;

	for (size_t i = 0; i < g->ncalls; i++) {
		g->calls[i].waiting = g->calls[i].ndeps;
		if (g->calls[i].ndeps == 0)
			call_list_push(&ready, &g->calls[i]);
	}
	while ((c = call_list_pop(&ready)) != NULL) {
		reached++;
		for (size_t i = 0; i < c->ndependants; i++)
			if (--g->calls[c->dependants[i]].waiting == 0)
				call_list_push(&ready, &g->calls[c->dependants[i]]);
	}
	return reached != g->ncalls;
}

/* FANOUT_SERIAL's launch: the ready calls join the queue the caller's thread runs
 * (serial_run). */
static void
serial_launch(fanout_group *g, struct call_list *ready)
{
	struct call *c;

	while ((c = call_list_pop(ready)) != NULL)
		call_list_push(&g->serial, c);
}

static const struct fanout_exec exec_serial = { .launch = serial_launch };

static const struct fanout_exec *
exec_of(enum fanout_executor e)
{
	switch (e) {
	case FANOUT_THREADS:
		return &fanout_exec_threads;
	case FANOUT_POOL:
		return &fanout_exec_pool;
	case FANOUT_EVENTS:
		return &fanout_exec_events;
	case FANOUT_SERIAL:
		break;
	}
	return &exec_serial;
}

/* FANOUT_SERIAL: the caller runs the queued calls one by one until none is left or the
 * deadline has passed; dependants join the queue as they become ready. */
static void
serial_run(fanout_group *g)
{
	while (g->serial.head != NULL && !fanout_deadline_passed(g->deadline, fanout_now_us()) &&
	    !atomic_load(&g->cancelled)) {
		struct call_list ready = fanout_call_run(call_list_pop(&g->serial));

		g->exec->launch(g, &ready);
	}
}

/* The instant `us` of fanout_now_us()'s clock as a timespec, for pthread_cond_timedwait. */
static struct timespec
timespec_at(int64_t us)
{
	return (struct timespec){ .tv_sec = (time_t)(us / 1000000),
	    .tv_nsec = (long)(us % 1000000) * 1000 };
}

/* Waits until every call has finished, the deadline has passed or the group is cancelled, then
 * closes the group. */
static void
group_wait(fanout_group *g)
{
	struct timespec until = timespec_at(g->deadline);

	pthread_mutex_lock(&g->mu);
	while (g->unfinished > 0 && !atomic_load(&g->cancelled)) {
		if (g->deadline == FANOUT_NO_DEADLINE)
			pthread_cond_wait(&g->done, &g->mu);
		else if (pthread_cond_timedwait(&g->done, &g->mu, &until) != 0)
			break;	/* ETIMEDOUT; any other error must not spin either */
	}
	fanout_group_close(g, fanout_now_us());
	pthread_mutex_unlock(&g->mu);
}

/* A group cancelled before its run: nothing runs, every call is skipped. */
static enum fanout_err
group_cancel_unrun(fanout_group *g)
{
	g->ran = true;
	for (size_t i = 0; i < g->ncalls; i++)
		g->calls[i].res.state = FANOUT_CALL_SKIPPED;
	atomic_store(&g->closed, true);
	return FANOUT_ECANCELED;
}

/* What every run does first: checks, admission, and the calls ready at once in *ready. FANOUT_OK
 * when the run is on; anything else ends it before it starts (FANOUT_ECANCELED: cancelled before
 * it ran, every call skipped). */
static enum fanout_err
group_prepare(fanout_group *g, struct call_list *ready)
{
	enum fanout_err err;

	if (g == NULL)
		return FANOUT_EINVAL;
	if (g->ran || !fanout_runtime_ready())
		return FANOUT_ESTATE;
	if (group_has_cycle(g))
		return FANOUT_ECYCLE;
	if (g->executor == FANOUT_POOL && (err = fanout_runtime_pool_ensure(&fanout_exec_pool)) != FANOUT_OK)
		return err;
	if (atomic_load(&g->cancelled))
		return group_cancel_unrun(g);
	if ((err = fanout_runtime_admit(g->ncalls)) != FANOUT_OK)
		return err;
	g->ran = true;
	g->exec = exec_of(g->executor);
	g->t0 = fanout_now_us();
	g->unfinished = g->ncalls;
	for (size_t i = 0; i < g->ncalls; i++) {
		struct call *c = &g->calls[i];

		c->group = g;
		c->waiting = c->ndeps;
		if (c->ndeps == 0)
			fanout_call_make_ready(g, c, ready);
	}
	return FANOUT_OK;
}

static enum fanout_err
run_result(const fanout_group *g)
{
	return atomic_load(&g->cancelled) ? FANOUT_ECANCELED : FANOUT_OK;
}

enum fanout_err
fanout_group_run(fanout_group *g)
{
	struct call_list ready = { NULL, NULL };
	enum fanout_err err;
	struct call *c;

	if (g != NULL && g->executor == FANOUT_EVENTS && g->driver.wait == NULL)
		return FANOUT_EINVAL;	/* a driver for fanout_group_begin() only */
	if ((err = group_prepare(g, &ready)) != FANOUT_OK)
		return err;
	if (g->executor == FANOUT_EVENTS)
		fanout_events_run(g, &ready);
	else {
		g->exec->launch(g, &ready);
		if (g->executor == FANOUT_SERIAL)
			serial_run(g);
		group_wait(g);
	}
	/* Serial calls still queued at the deadline were timed out by the close: let them go. */
	while ((c = call_list_pop(&g->serial)) != NULL)
		(void)fanout_call_end(c, NULL);
	return run_result(g);
}

enum fanout_err
fanout_group_begin(fanout_group *g)
{
	struct call_list ready = { NULL, NULL };
	enum fanout_err err;

	if (g == NULL || g->executor != FANOUT_EVENTS)
		return FANOUT_EINVAL;
	if ((err = group_prepare(g, &ready)) != FANOUT_OK) {
		g->over = err == FANOUT_ECANCELED;
		return err;
	}
	fanout_events_begin(g, &ready);
	return fanout_group_advance(g);
}

enum fanout_err
fanout_group_advance(fanout_group *g)
{
	if (g == NULL || g->executor != FANOUT_EVENTS || !g->ran)
		return g == NULL || g->executor != FANOUT_EVENTS ? FANOUT_EINVAL : FANOUT_ESTATE;
	if (!g->over && fanout_events_advance(g))
		g->over = true;
	return g->over ? run_result(g) : FANOUT_EINPROGRESS;
}

int64_t
fanout_group_deadline(const fanout_group *g)
{
	return g->deadline;
}

void
fanout_group_cancel(fanout_group *g)
{
	if (g == NULL)
		return;
	atomic_store(&g->cancelled, true);
	pthread_mutex_lock(&g->mu);
	pthread_cond_signal(&g->done);	/* only the group's runner waits on it */
	pthread_mutex_unlock(&g->mu);
	if (g->executor == FANOUT_EVENTS && g->driver.wake != NULL)
		g->driver.wake(g->driver.ctx);
}
