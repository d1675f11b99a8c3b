/* internal.h - the structures shared by the files of fanout/; not part of the contract. */
#ifndef FANOUT_INTERNAL_H
#define FANOUT_INTERNAL_H

/*
 * fanout/ builds alone, from its own files, libc and pthreads: every .c includes this header
 * first, and it asks for POSIX.1-2008 (clock_gettime, strdup, PTHREAD_STACK_MIN under -std=c11)
 * so that a host program needs no -D for it. Every symbol these files share is prefixed
 * fanout_, so that none can clash with a host program's own names; the rest is static.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#include "fanout.h"

/* The clock of fanout_now_us(), so of every deadline; condition variables wait on it too. */
#define FANOUT_CLOCK CLOCK_MONOTONIC

/* A list of ready calls, linked through call.next; a call is in at most one list at a time. */
struct call_list {
	struct call *head, *tail;
};

struct call {
	struct fanout_group *group;
	char *name;
	fanout_fn fn;
	void *arg;
	fanout_release_fn release;
	size_t *dependants;	/* indices of the calls waiting for this one */
	size_t ndependants, dependants_cap;
	size_t ndeps;		/* how many calls this one waits for */
	size_t waiting;		/* of those, how many have not yet succeeded (guarded by group mu) */
	bool launched;		/* handed to the executor (guarded by group mu) */
	bool in_driver;		/* FANOUT_EVENTS: started by the driver, not yet done */
	_Atomic int64_t started_at;	/* fanout_now_us() when fn started, 0 before */
	struct call *next;	/* link in a list of ready calls (run queue, pool queue) */
	struct fanout_result res;	/* guarded by group mu until the group is closed */
};

struct fanout_group {
	pthread_mutex_t mu;
	pthread_cond_t done;	/* signalled when the last call finishes */
	size_t refs;		/* the caller's + one per launched call not yet ended */
	enum fanout_executor executor;
	int64_t deadline;	/* absolute µs, or FANOUT_NO_DEADLINE */
	int64_t t0;		/* when fanout_group_run() started */
	struct call *calls;
	size_t ncalls, calls_cap;
	size_t unfinished;	/* calls not yet in a final state */
	bool ran;
	bool over;		/* FANOUT_EVENTS run step by step: ended, results set */
	atomic_bool closed;	/* results frozen: the caller stopped waiting */
	atomic_bool cancelled;	/* fanout_group_cancel(): stop waiting now */
	struct call_list serial;	/* FANOUT_SERIAL's run queue, used by the caller's thread only */
	struct fanout_driver driver;	/* FANOUT_EVENTS */
	const struct fanout_exec *exec;	/* its executor's ops, from its run on */
};

/* An executor's ops: how the scheduler (run.c, call.c) hands it calls without naming it. */
struct fanout_exec {
	/* Takes the ready calls, each counted as launched, and runs each on some thread
	 * (fanout_call_execute), or ends it (fanout_call_abandon) if it cannot. */
	void (*launch)(struct fanout_group *g, struct call_list *ready);
	/* An executor with workers of its own (the pool): starts them, once, when its first group
	 * runs (runtime.c's fanout_runtime_pool_ensure), and stops them at fanout_shutdown. NULL
	 * for the others. */
	enum fanout_err (*start)(size_t nthreads, size_t stack_bytes);
	void (*stop)(void);
};

static inline void
call_list_push(struct call_list *list, struct call *c)
{
	c->next = NULL;
	if (list->tail != NULL)
		list->tail->next = c;
	else
		list->head = c;
	list->tail = c;
}

static inline struct call *
call_list_pop(struct call_list *list)
{
	struct call *c = list->head;

	if (c != NULL && (list->head = c->next) == NULL)
		list->tail = NULL;
	return c;
}

/* call.c: whether deadline (absolute µs, or FANOUT_NO_DEADLINE) has passed at now. */
bool fanout_deadline_passed(int64_t deadline, int64_t now);
/* call.c: marks c ready to launch: it now holds a reference to the group. Called with g->mu
 * held, or before the group is shared. */
void fanout_call_make_ready(struct fanout_group *g, struct call *c, struct call_list *ready);
/* call.c: runs c's function, unless its group has already given up, and ends it; the calls it
 * made ready (fanout_call_end). */
struct call_list fanout_call_run(struct call *c);
/* call.c: runs `c` and then, in the same thread, any dependant it made ready; for workers. The
 * others it made ready go to the group's executor (g->exec). */
void fanout_call_execute(struct call *c);
/* call.c: ends a launched call that will never run (launch failed, or discarded after close). */
void fanout_call_abandon(struct call *c, enum fanout_err err);
/* call.c: ends a launched call: records res (unless NULL or the group is closed), drops its
 * reference and its slot. Returns the calls it made ready, each counted as launched. */
struct call_list fanout_call_end(struct call *c, const struct fanout_result *res);
/* call.c: the outcome of a call that ran from start to end (µs) and returned rc. */
struct fanout_result fanout_call_outcome(const struct fanout_group *g, int64_t start,
    int64_t end, int rc);
/* call.c: stops waiting at `now`: what has not finished is timed out (cancelled, if the group
 * was) or skipped. g->mu held. */
void fanout_group_close(struct fanout_group *g, int64_t now);
/* exec_events.c: FANOUT_EVENTS' whole run, in the caller's thread, from the ready roots; or
 * its start, and a step of it (true once the run is over, the group closed). */
void fanout_events_run(struct fanout_group *g, struct call_list *ready);
void fanout_events_begin(struct fanout_group *g, struct call_list *ready);
bool fanout_events_advance(struct fanout_group *g);

/* group.c: frees the group once the last reference is gone; releases every arg. */
void fanout_group_destroy(struct fanout_group *g);

/* runtime.c: the process-wide bound, thread attributes and state. */
bool fanout_runtime_ready(void);
enum fanout_err fanout_runtime_admit(size_t n);
void fanout_runtime_release(size_t n);
const pthread_attr_t *fanout_runtime_thread_attr(void);
/* Starts the pool (its ops, pool->start) once, and remembers it to stop it at shutdown;
 * FANOUT_ETHREAD if it cannot. */
enum fanout_err fanout_runtime_pool_ensure(const struct fanout_exec *pool);

/* exec_threads.c, exec_pool.c, exec_events.c: the executors' ops (FANOUT_SERIAL's are
 * run.c's own: the caller's thread runs its calls). */
extern const struct fanout_exec fanout_exec_threads, fanout_exec_pool, fanout_exec_events;

#endif
