/* unit-fanout.c - unit tests of fanout/: the fixtures every part shares (gates, jobs, a fake
 * event driver) and the runner; the tests are in unit-fanout-{results,deadlines,deps,cancel}.c. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/fanout.h"
#include "t/unit-fanout.h"
#include "t/unit.h"

/* The tests link libfanout.a alone: their time is fanout_now_us()'s, CLOCK_MONOTONIC. */
static struct timespec
timespec_of(int64_t us)
{
	return (struct timespec){ .tv_sec = (time_t)(us / 1000000),
	    .tv_nsec = (long)(us % 1000000) * 1000 };
}

static void
sleep_us(int64_t us)
{
	struct timespec left = timespec_of(us);

	while (us > 0 && nanosleep(&left, &left) == -1 && errno == EINTR)
		;
}

const enum fanout_executor executors[] = { FANOUT_THREADS, FANOUT_POOL, FANOUT_SERIAL };
const enum fanout_executor all_executors[] = { FANOUT_THREADS, FANOUT_POOL,
	FANOUT_SERIAL, FANOUT_EVENTS };

/* False if the gate could not be set up; usable outside a test, so it asserts nothing. */
bool
gate_init(struct gate *g)
{
	pthread_condattr_t ca;
	bool ok;

	g->arrived = 0;
	g->open = false;
	if (pthread_condattr_init(&ca) != 0)
		return false;
	ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_mutex_init(&g->mu, NULL) == 0;
	if (ok && pthread_cond_init(&g->cv, &ca) != 0) {
		pthread_mutex_destroy(&g->mu);
		ok = false;
	}
	pthread_condattr_destroy(&ca);
	return ok;
}

static void
gate_pass(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->arrived++;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

/* True once n calls are waiting at the gate; false after SAFETY_US. */
bool
gate_await(struct gate *g, int n)
{
	struct timespec until = timespec_of(fanout_now_us() + SAFETY_US);
	bool ok = true;

	pthread_mutex_lock(&g->mu);
	while (g->arrived < n && ok)
		ok = pthread_cond_timedwait(&g->cv, &g->mu, &until) == 0 || g->arrived >= n;
	pthread_mutex_unlock(&g->mu);
	return ok;
}

void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Every job is released exactly once; the tests count releases to prove it. */
static struct gate released_gate;
atomic_int released;

int
job_fn(void *arg)
{
	struct job *j = arg;

	j->started = fanout_now_us();
	j->time_left = fanout_time_left_us();
	j->runs++;
	if (j->gate != NULL)
		gate_pass(j->gate);
	sleep_us(j->sleep_us);
	/* Written after a deadline may have passed: ASan catches it if the group freed the job. */
	j->finished = fanout_now_us();
	return j->rc;
}

void
job_release(void *arg)
{
	free(arg);
	pthread_mutex_lock(&released_gate.mu);
	atomic_fetch_add(&released, 1);
	pthread_cond_broadcast(&released_gate.cv);
	pthread_mutex_unlock(&released_gate.mu);
}

/* Adds a job to g and returns it (owned by g now). */
struct job *
add_job(fanout_group *g, const char *name, int rc, int64_t sleep_us, struct gate *gate)
{
	struct job *j = calloc(1, sizeof(*j));

	CU_ASSERT_FATAL(j != NULL);
	j->rc = rc;
	j->sleep_us = sleep_us;
	j->gate = gate;
	CU_ASSERT_FATAL(fanout_group_add(g, name, job_fn, j, job_release) == FANOUT_OK);
	return j;
}

/* Waits until `released` reaches n; false after SAFETY_US. */
bool
await_released(int n)
{
	struct timespec until = timespec_of(fanout_now_us() + SAFETY_US);
	bool ok = true;

	pthread_mutex_lock(&released_gate.mu);
	while (atomic_load(&released) < n && ok)
		ok = pthread_cond_timedwait(&released_gate.cv, &released_gate.mu, &until) == 0 ||
		    atomic_load(&released) >= n;
	pthread_mutex_unlock(&released_gate.mu);
	return ok;
}

/* The fake event driver of FANOUT_EVENTS groups: a job "runs" for its sleep_us from start(),
 * and wait() sleeps until the next one ends (the workload, not a synchronisation). */
static int
fake_start(void *ctx, void *arg, void *token, int64_t deadline)
{
	struct fake_driver *f = ctx;
	struct job *j = arg;

	(void)deadline;
	if (f->ncalls == FAKE_MAX)
		return -1;
	j->started = fanout_now_us();
	j->runs++;
	f->calls[f->ncalls].token = token;
	f->calls[f->ncalls].job = j;
	f->calls[f->ncalls].end = j->started + j->sleep_us;
	f->calls[f->ncalls++].active = true;
	return 0;
}

int
fake_wait(void *ctx, int64_t timeout)
{
	struct fake_driver *f = ctx;
	int64_t now = fanout_now_us(), until = timeout >= 0 ? now + timeout : INT64_MAX;
	struct timespec ts;

	for (int i = 0; i < f->ncalls; i++)
		if (f->calls[i].active && f->calls[i].end < until)
			until = f->calls[i].end;
	ts = timespec_of(until == INT64_MAX ? now + SAFETY_US : until);
	pthread_mutex_lock(&f->mu);
	f->waits++;
	pthread_cond_broadcast(&f->cv);
	while (!f->woken && pthread_cond_timedwait(&f->cv, &f->mu, &ts) == 0)
		;
	f->woken = false;
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static void
fake_wake(void *ctx)
{
	struct fake_driver *f = ctx;

	pthread_mutex_lock(&f->mu);
	f->woken = true;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

/* True once n wait()s have begun; false after SAFETY_US. */
bool
fake_await_waits(struct fake_driver *f, int n)
{
	struct timespec until = timespec_of(fanout_now_us() + SAFETY_US);
	bool ok = true;

	pthread_mutex_lock(&f->mu);
	while (f->waits < n && ok)
		ok = pthread_cond_timedwait(&f->cv, &f->mu, &until) == 0 || f->waits >= n;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

static void *
fake_done(void *ctx, int *rc)
{
	struct fake_driver *f = ctx;
	int64_t now = fanout_now_us();

	for (int i = 0; i < f->ncalls; i++)
		if (f->calls[i].active && f->calls[i].end <= now) {
			f->calls[i].active = false;
			f->calls[i].job->finished = now;
			*rc = f->calls[i].job->rc;
			return f->calls[i].token;
		}
	return NULL;
}

static void
fake_cancel(void *ctx, void *arg)
{
	struct fake_driver *f = ctx;

	for (int i = 0; i < f->ncalls; i++)
		if (f->calls[i].active && f->calls[i].job == arg) {
			f->calls[i].active = false;
			f->cancelled++;
		}
}

/* A FANOUT_EVENTS group driven by *fake (reset here), with or without its wait(). */
static fanout_group *
group_new_driven(int64_t deadline, struct fake_driver *fake, bool with_wait)
{
	struct fanout_driver d = { .start = fake_start, .wait = with_wait ? fake_wait : NULL,
		.done = fake_done, .cancel = fake_cancel, .wake = fake_wake, .ctx = fake };
	pthread_condattr_t ca;

	memset(fake, 0, sizeof(*fake));
	/* Static mutexes and conds of glibc own no memory: nothing to destroy after the test. */
	CU_ASSERT_FATAL(pthread_condattr_init(&ca) == 0);
	CU_ASSERT_FATAL(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
	CU_ASSERT_FATAL(pthread_mutex_init(&fake->mu, NULL) == 0);
	CU_ASSERT_FATAL(pthread_cond_init(&fake->cv, &ca) == 0);
	pthread_condattr_destroy(&ca);
	return fanout_group_new_driven(&d, deadline);
}

fanout_group *
group_new(enum fanout_executor ex, int64_t deadline, struct fake_driver *fake)
{
	if (ex != FANOUT_EVENTS)
		return fanout_group_new(ex, deadline);
	return group_new_driven(deadline, fake, true);
}

fanout_group *
group_new_stepped(int64_t deadline, struct fake_driver *fake)
{
	return group_new_driven(deadline, fake, false);
}

const struct fanout_result *
result_of(const fanout_group *g, const char *name)
{
	long i = fanout_group_find(g, name);

	CU_ASSERT_FATAL(i >= 0);
	return fanout_group_result(g, (size_t)i);
}

static int
suite_init(void)
{
	if (!gate_init(&released_gate))
		return -1;
	return fanout_init(NULL) == FANOUT_OK ? 0 : -1;
}

static int
suite_cleanup(void)
{
	fanout_shutdown();
	gate_destroy(&released_gate);
	return 0;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "results and states per call", test_results },
		{ "3 x 100 ms: threads and pool overlap, serial adds up", test_overlap },
		{ "deadline returns on time; late call owns its arg", test_deadline },
		{ "serial deadline: late and unstarted calls time out", test_deadline_serial },
		{ "events deadline: cancelled, nothing outlives the run", test_deadline_events },
		{ "dependant starts when its dependency ends", test_dependency_order },
		{ "chain S->A->B->C", test_chain },
		{ "failure skips dependants transitively", test_failure_skips },
		{ "timeout skips dependants", test_timeout_skips },
		{ "cycle, unknown and duplicate names refused", test_graph_errors },
		{ "bound reached: FANOUT_EBUSY, nothing runs", test_bound },
		{ "time left inside a call", test_time_left },
		{ "fanout_now_us() is CLOCK_MONOTONIC", test_clock },
		{ "executors give identical results", test_executors_agree },
		{ "cancel from another thread ends the run at once", test_cancel },
		{ "cancelled before the run: nothing runs", test_cancel_before_run },
		{ "a call failing after the cancel is cancelled", test_cancel_then_fail },
		{ "stress: 2400 groups from 4 threads", test_stress },
		{ "step by step: dependencies, failures, results", test_steps },
		{ "step by step: deadline cancels in the driver", test_steps_deadline },
		{ "step by step: cancel ends at the next advance", test_steps_cancel },
		{ "step by step: misuse refused", test_steps_misuse },
		{ NULL, NULL },
	};

	return unit_run("fanout", suite_init, suite_cleanup, tests);
}
