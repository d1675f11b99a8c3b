/* run.c - the scheduler: admission, dependency order, the deadline wait and completion. */
#include "internal.h"

#include <errno.h>

/* The deadline and group of the call running on this thread, for fanout_time_left_us(). */
static _Thread_local int64_t current_deadline = FANOUT_NO_DEADLINE;
static _Thread_local const fanout_group *current_group;

static bool
deadline_passed(int64_t deadline, int64_t now)
{
	return deadline != FANOUT_NO_DEADLINE && now >= deadline;
}

int64_t
fanout_time_left_us(void)
{
	if (current_group != NULL && atomic_load(&current_group->cancelled))
		return 0;
	if (current_deadline == FANOUT_NO_DEADLINE)
		return INT64_MAX;
	return current_deadline - fanout_now_us();
}

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

/* Hands ready calls to the group's executor. */
static void
group_launch(fanout_group *g, struct call_list *ready)
{
	struct call *c;

	switch (g->executor) {
	case FANOUT_THREADS:
		fanout_threads_launch(ready);
		break;
	case FANOUT_POOL:
		fanout_pool_launch(ready);
		break;
	case FANOUT_SERIAL:
		while ((c = call_list_pop(ready)) != NULL)
			call_list_push(&g->serial, c);
		break;
	case FANOUT_EVENTS:
		break;	/* never reached: fanout_events_run starts its calls itself */
	}
}

/* Marks c ready to launch: it now holds a reference to the group. Called with g->mu held, or
 * before the group is shared. */
static void
call_make_ready(fanout_group *g, struct call *c, struct call_list *ready)
{
	c->launched = true;
	g->refs++;
	call_list_push(ready, c);
}

static void call_settle(fanout_group *g, struct call *c, struct call_list *ready);

/* A dependency of c failed: c is skipped, and so is everything waiting for it. c never ran, so
 * its slot in the bound is given back now. Called with g->mu held. */
static void
call_skip(fanout_group *g, struct call *c, struct call_list *ready)
{
	c->res.state = FANOUT_CALL_SKIPPED;
	fanout_runtime_release(1);
	call_settle(g, c, ready);
}

/* c has reached its final state: counts it as finished and moves its dependants on, collecting
 * those now ready. Called with g->mu held, before the group is closed. */
static void
call_settle(fanout_group *g, struct call *c, struct call_list *ready)
{
	for (size_t i = 0; i < c->ndependants; i++) {
		struct call *d = &g->calls[c->dependants[i]];

		if (d->res.state != FANOUT_CALL_PENDING)
			continue;	/* already skipped through another dependency */
		if (c->res.state != FANOUT_CALL_OK)
			call_skip(g, d, ready);
		else if (--d->waiting == 0)
			call_make_ready(g, d, ready);
	}
	if (--g->unfinished == 0)
		pthread_cond_signal(&g->done);
}

/* Ends a launched call: records its outcome (res, unless NULL or the group is closed), drops its
 * reference, destroying the group if it was the last, and gives back its slot. Returns the calls
 * it made ready; when that list is empty, c and its group must not be touched again (unless the
 * caller holds a reference of its own). */
struct call_list
fanout_call_end(struct call *c, const struct fanout_result *res)
{
	fanout_group *g = c->group;
	struct call_list ready = { NULL, NULL };
	size_t refs;

	pthread_mutex_lock(&g->mu);
	if (res != NULL && !atomic_load(&g->closed)) {
		c->res.state = res->state;
		c->res.rc = res->rc;
		c->res.err = res->err;
		c->res.start_us = res->start_us;
		c->res.duration_us = res->duration_us;
		call_settle(g, c, &ready);
	}
	refs = --g->refs;
	pthread_mutex_unlock(&g->mu);
	if (refs == 0)
		fanout_group_destroy(g);
	fanout_runtime_release(1);
	return ready;
}

void
fanout_call_abandon(struct call *c, enum fanout_err err)
{
	struct fanout_result res = { .state = FANOUT_CALL_FAILED, .err = err,
	    .start_us = -1, .duration_us = -1 };

	/* A failed call makes nothing ready: its dependants are skipped. */
	(void)fanout_call_end(c, err == FANOUT_OK ? NULL : &res);
}

struct fanout_result
fanout_call_outcome(const fanout_group *g, int64_t start, int64_t end, int rc)
{
	struct fanout_result res = { .err = FANOUT_OK, .rc = rc, .start_us = start - g->t0,
		.duration_us = end - start };

	/* Finishing after the deadline is timing out, whichever executor noticed it. Failing after
	 * a cancel is being cancelled: the call was told to stop (no time left), and whether it
	 * ends before the runner notices the cancel or after must not change what is reported. */
	if (deadline_passed(g->deadline, end)) {
		res.state = FANOUT_CALL_TIMEDOUT;
		res.rc = 0;
	} else if (rc != 0 && atomic_load(&g->cancelled)) {
		res.state = FANOUT_CALL_CANCELLED;
		res.rc = 0;
	} else
		res.state = rc == 0 ? FANOUT_CALL_OK : FANOUT_CALL_FAILED;
	return res;
}

/* Runs c's function, unless its group has already given up, and ends it. */
static struct call_list
call_run(struct call *c)
{
	fanout_group *g = c->group;
	struct fanout_result res;
	int64_t start = fanout_now_us(), outer;
	const fanout_group *outer_group;
	int rc;

	if (atomic_load(&g->closed) || deadline_passed(g->deadline, start))
		return fanout_call_end(c, NULL);	/* the caller marks it timed out */
	atomic_store(&c->started_at, start);
	outer = current_deadline;
	outer_group = current_group;
	current_deadline = g->deadline;
	current_group = g;
	rc = c->fn(c->arg);
	current_deadline = outer;
	current_group = outer_group;
	res = fanout_call_outcome(g, start, fanout_now_us(), rc);
	return fanout_call_end(c, &res);
}

void
fanout_call_execute(struct call *c)
{
	/* Running one newly ready dependant in this thread saves a thread start or a pool handoff. */
	while (c != NULL) {
		struct call_list ready = call_run(c);

		if ((c = call_list_pop(&ready)) != NULL && ready.head != NULL)
			group_launch(c->group, &ready);
	}
}

/* FANOUT_SERIAL: the caller runs the queued calls one by one until none is left or the
 * deadline has passed; dependants join the queue as they become ready. */
static void
serial_run(fanout_group *g)
{
	while (g->serial.head != NULL && !deadline_passed(g->deadline, fanout_now_us()) &&
	    !atomic_load(&g->cancelled)) {
		struct call_list ready = call_run(call_list_pop(&g->serial));

		group_launch(g, &ready);
	}
}

/* The caller stops waiting: what has not finished is timed out if launched, else skipped (it
 * waits for a call that timed out). Results are frozen from here on. Called with g->mu held. */
void
fanout_group_close(fanout_group *g, int64_t now)
{
	enum fanout_state gave_up = atomic_load(&g->cancelled) ? FANOUT_CALL_CANCELLED :
	    FANOUT_CALL_TIMEDOUT;

	atomic_store(&g->closed, true);
	for (size_t i = 0; i < g->ncalls; i++) {
		struct call *c = &g->calls[i];
		int64_t started;

		if (c->res.state != FANOUT_CALL_PENDING)
			continue;
		if (!c->launched) {
			c->res.state = FANOUT_CALL_SKIPPED;
			fanout_runtime_release(1);
			continue;
		}
		started = atomic_load(&c->started_at);
		/* A launched call that has not started will not: cancelled, it counts as skipped. */
		c->res.state = gave_up == FANOUT_CALL_CANCELLED && started == 0 ?
		    FANOUT_CALL_SKIPPED : gave_up;
		if (started != 0) {
			c->res.start_us = started - g->t0;
			c->res.duration_us = now - started;
		}
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
	if (g->executor == FANOUT_POOL && (err = fanout_runtime_pool_ensure()) != FANOUT_OK)
		return err;
	if (atomic_load(&g->cancelled))
		return group_cancel_unrun(g);
	if ((err = fanout_runtime_admit(g->ncalls)) != FANOUT_OK)
		return err;
	g->ran = true;
	g->t0 = fanout_now_us();
	g->unfinished = g->ncalls;
	for (size_t i = 0; i < g->ncalls; i++) {
		struct call *c = &g->calls[i];

		c->group = g;
		c->waiting = c->ndeps;
		if (c->ndeps == 0)
			call_make_ready(g, c, ready);
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
		group_launch(g, &ready);
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
