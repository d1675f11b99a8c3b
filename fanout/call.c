/* call.c - a call's life once launched, whichever executor runs it: its run on the thread that
 * has it, its end and outcome, the dependants it makes ready (handed to the group's executor
 * through its ops table, g->exec), and the close of a group whose caller stops waiting. The
 * bottom of the scheduler: the executors and run.c use it; it calls none of them by name. */
#include "internal.h"

/* The deadline and group of the call running on this thread, for fanout_time_left_us(). */
static _Thread_local int64_t current_deadline = FANOUT_NO_DEADLINE;
static _Thread_local const fanout_group *current_group;

bool
fanout_deadline_passed(int64_t deadline, int64_t now)
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

/* Marks c ready to launch: it now holds a reference to the group. Called with g->mu held, or
 * before the group is shared. */
void
fanout_call_make_ready(fanout_group *g, struct call *c, struct call_list *ready)
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
			fanout_call_make_ready(g, d, ready);
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
	if (fanout_deadline_passed(g->deadline, end)) {
		res.state = FANOUT_CALL_TIMEDOUT;
		res.rc = 0;
	} else if (rc != 0 && atomic_load(&g->cancelled)) {
		res.state = FANOUT_CALL_CANCELLED;
		res.rc = 0;
	} else
		res.state = rc == 0 ? FANOUT_CALL_OK : FANOUT_CALL_FAILED;
	return res;
}

struct call_list
fanout_call_run(struct call *c)
{
	fanout_group *g = c->group;
	struct fanout_result res;
	int64_t start = fanout_now_us(), outer;
	const fanout_group *outer_group;
	int rc;

	if (atomic_load(&g->closed) || fanout_deadline_passed(g->deadline, start))
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
		struct call_list ready = fanout_call_run(c);

		if ((c = call_list_pop(&ready)) != NULL && ready.head != NULL)
			c->group->exec->launch(c->group, &ready);
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

