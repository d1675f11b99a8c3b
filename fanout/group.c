/* group.c - building a group of calls, reading its results, and freeing it. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* The group of either constructor; FANOUT_EVENTS groups get their driver after. */
static fanout_group *
group_new(enum fanout_executor executor, int64_t deadline_us)
{
	fanout_group *g;
	pthread_condattr_t ca;
	int bad;

	if (deadline_us < 0)
		return NULL;
	if ((g = calloc(1, sizeof(*g))) == NULL)
		return NULL;
	/* The deadline is on fanout_now_us()'s clock, so the condition variable must wait on it. */
	if (pthread_condattr_init(&ca) != 0) {
		free(g);
		return NULL;
	}
	bad = pthread_condattr_setclock(&ca, FANOUT_CLOCK) != 0 ||
	    pthread_cond_init(&g->done, &ca) != 0;
	pthread_condattr_destroy(&ca);
	if (bad) {
		free(g);
		return NULL;
	}
	if (pthread_mutex_init(&g->mu, NULL) != 0) {
		pthread_cond_destroy(&g->done);
		free(g);
		return NULL;
	}
	g->refs = 1;
	g->executor = executor;
	g->deadline = deadline_us;
	atomic_init(&g->closed, false);
	atomic_init(&g->cancelled, false);
	return g;
}

fanout_group *
fanout_group_new(enum fanout_executor executor, int64_t deadline_us)
{
	if (executor != FANOUT_THREADS && executor != FANOUT_POOL && executor != FANOUT_SERIAL)
		return NULL;	/* FANOUT_EVENTS needs a driver: fanout_group_new_driven() */
	return group_new(executor, deadline_us);
}

fanout_group *
fanout_group_new_driven(const struct fanout_driver *driver, int64_t deadline_us)
{
	fanout_group *g;

	if (driver == NULL || driver->start == NULL ||
	    driver->done == NULL || driver->cancel == NULL)
		return NULL;
	if ((g = group_new(FANOUT_EVENTS, deadline_us)) != NULL)
		g->driver = *driver;
	return g;
}

long
fanout_group_find(const fanout_group *g, const char *name)
{
	if (g == NULL || name == NULL)
		return -1;
	for (size_t i = 0; i < g->ncalls; i++)
		if (strcmp(g->calls[i].name, name) == 0)
			return (long)i;
	return -1;
}

/* Makes room for one more call; FANOUT_ENOMEM leaves the group as it was. */
static enum fanout_err
group_reserve(fanout_group *g)
{
	struct call *grown;
	size_t cap;

	if (g->ncalls < g->calls_cap)
		return FANOUT_OK;
	cap = g->calls_cap ? g->calls_cap * 2 : 4;
	if ((grown = realloc(g->calls, cap * sizeof(*grown))) == NULL)
		return FANOUT_ENOMEM;
	g->calls = grown;
	g->calls_cap = cap;
	return FANOUT_OK;
}

enum fanout_err
fanout_group_add(fanout_group *g, const char *name, fanout_fn fn, void *arg,
    fanout_release_fn release)
{
	struct call *c;
	char *copy;

	if (g == NULL || name == NULL || (fn == NULL && g->executor != FANOUT_EVENTS))
		return FANOUT_EINVAL;
	if (g->ran)
		return FANOUT_ESTATE;
	if (fanout_group_find(g, name) >= 0)
		return FANOUT_EEXIST;
	if (group_reserve(g) != FANOUT_OK || (copy = strdup(name)) == NULL)
		return FANOUT_ENOMEM;
	c = &g->calls[g->ncalls++];
	memset(c, 0, sizeof(*c));
	c->name = copy;
	c->fn = fn;
	c->arg = arg;
	c->release = release;
	c->res.name = copy;
	c->res.state = FANOUT_CALL_PENDING;
	c->res.start_us = -1;
	c->res.duration_us = -1;
	atomic_init(&c->started_at, 0);
	return FANOUT_OK;
}

enum fanout_err
fanout_group_after(fanout_group *g, const char *name, const char *dependency)
{
	long ci, di;
	struct call *dep;
	size_t *grown, cap;

	if (g == NULL || name == NULL || dependency == NULL)
		return FANOUT_EINVAL;
	if (g->ran)
		return FANOUT_ESTATE;
	if ((ci = fanout_group_find(g, name)) < 0 || (di = fanout_group_find(g, dependency)) < 0)
		return FANOUT_ENOENT;
	dep = &g->calls[di];
	for (size_t i = 0; i < dep->ndependants; i++)
		if (dep->dependants[i] == (size_t)ci)
			return FANOUT_OK;	/* said twice: one edge */
	if (dep->ndependants == dep->dependants_cap) {
		cap = dep->dependants_cap ? dep->dependants_cap * 2 : 2;
		if ((grown = realloc(dep->dependants, cap * sizeof(*grown))) == NULL)
			return FANOUT_ENOMEM;
		dep->dependants = grown;
		dep->dependants_cap = cap;
	}
	dep->dependants[dep->ndependants++] = (size_t)ci;
	g->calls[ci].ndeps++;
	return FANOUT_OK;
}

size_t
fanout_group_size(const fanout_group *g)
{
	return g == NULL ? 0 : g->ncalls;
}

const struct fanout_result *
fanout_group_result(const fanout_group *g, size_t i)
{
	if (g == NULL || i >= g->ncalls)
		return NULL;
	return &g->calls[i].res;
}

void
fanout_group_destroy(fanout_group *g)
{
	for (size_t i = 0; i < g->ncalls; i++) {
		struct call *c = &g->calls[i];

		if (c->release != NULL)
			c->release(c->arg);
		free(c->dependants);
		free(c->name);
	}
	free(g->calls);
	pthread_cond_destroy(&g->done);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void
fanout_group_free(fanout_group *g)
{
	size_t refs;

	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	atomic_store(&g->closed, true);
	refs = --g->refs;
	pthread_mutex_unlock(&g->mu);
	if (refs == 0)
		fanout_group_destroy(g);
}

const char *
fanout_state_name(enum fanout_state state)
{
	switch (state) {
	case FANOUT_CALL_PENDING:
		return "pending";
	case FANOUT_CALL_OK:
		return "ok";
	case FANOUT_CALL_FAILED:
		return "failed";
	case FANOUT_CALL_TIMEDOUT:
		return "timeout";
	case FANOUT_CALL_SKIPPED:
		return "skipped";
	case FANOUT_CALL_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

const char *
fanout_strerror(enum fanout_err err)
{
	switch (err) {
	case FANOUT_OK:
		return "success";
	case FANOUT_EINVAL:
		return "invalid argument";
	case FANOUT_ENOMEM:
		return "out of memory";
	case FANOUT_EEXIST:
		return "a call of that name already exists";
	case FANOUT_ENOENT:
		return "no call of that name";
	case FANOUT_ECYCLE:
		return "the dependencies form a cycle";
	case FANOUT_EBUSY:
		return "too many calls in flight";
	case FANOUT_ETHREAD:
		return "cannot create a thread";
	case FANOUT_ESTATE:
		return "not allowed in this state";
	case FANOUT_EDRIVER:
		return "the event driver failed";
	case FANOUT_ECANCELED:
		return "the run was cancelled";
	case FANOUT_EINPROGRESS:
		return "the run is under way";
	}
	return "unknown error";
}
