/* unit-fanout.c - unit tests of fanout/: results, timing, deadlines, dependencies, bound, stress. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanout/fanout.h"
#include "t/unit.h"

#define MS 1000
#define SAFETY_US (10 * 1000 * 1000)	/* how long a test waits for an event before failing */

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

static const enum fanout_executor executors[] = { FANOUT_THREADS, FANOUT_POOL, FANOUT_SERIAL };
#define NEXECUTORS (sizeof(executors) / sizeof(executors[0]))

/* A gate holds calls until the test opens it, and tells the test how many have arrived. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived;
	bool open;
};

/* False if the gate could not be set up; usable outside a test, so it asserts nothing. */
static bool
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
static bool
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

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_destroy(struct gate *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
}

/* Every job is released exactly once; the tests count releases to prove it. */
static struct gate released_gate;
static atomic_int released;

/* A job: the argument of a test call. It records what the call saw. */
struct job {
	int rc;
	int64_t sleep_us;
	struct gate *gate;	/* if set, the call waits there first */
	int runs;		/* how often fn ran */
	int64_t started, finished;	/* fanout_now_us() */
	int64_t time_left;	/* fanout_time_left_us() at start */
};

static int
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

static void
job_release(void *arg)
{
	free(arg);
	pthread_mutex_lock(&released_gate.mu);
	atomic_fetch_add(&released, 1);
	pthread_cond_broadcast(&released_gate.cv);
	pthread_mutex_unlock(&released_gate.mu);
}

/* Adds a job to g and returns it (owned by g now). */
static struct job *
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

/* A simulated event driver for FANOUT_EVENTS: a job "runs" for its sleep_us from start(), and
 * wait() sleeps until the next one ends (the workload, not a synchronisation). */
#define FAKE_MAX 16

struct fake_driver {
	struct {
		void *token;
		struct job *job;
		int64_t end;
		bool active;
	} calls[FAKE_MAX];
	int ncalls, cancelled;
	pthread_mutex_t mu;	/* wait() sleeps on cv, so that wake() can cut it short */
	pthread_cond_t cv;
	bool woken;
	int waits;		/* how many wait()s have begun */
};

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

static int
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
static bool
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

/* A group of any executor; FANOUT_EVENTS ones are driven by *fake, reset here. */
static fanout_group *
group_new(enum fanout_executor ex, int64_t deadline, struct fake_driver *fake)
{
	struct fanout_driver d = { .start = fake_start, .wait = fake_wait, .done = fake_done,
		.cancel = fake_cancel, .wake = fake_wake, .ctx = fake };
	pthread_condattr_t ca;

	if (ex != FANOUT_EVENTS)
		return fanout_group_new(ex, deadline);
	memset(fake, 0, sizeof(*fake));
	/* Static mutexes and conds of glibc own no memory: nothing to destroy after the test. */
	CU_ASSERT_FATAL(pthread_condattr_init(&ca) == 0);
	CU_ASSERT_FATAL(pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0);
	CU_ASSERT_FATAL(pthread_mutex_init(&fake->mu, NULL) == 0);
	CU_ASSERT_FATAL(pthread_cond_init(&fake->cv, &ca) == 0);
	pthread_condattr_destroy(&ca);
	return fanout_group_new_driven(&d, deadline);
}

static const enum fanout_executor all_executors[] = { FANOUT_THREADS, FANOUT_POOL,
	FANOUT_SERIAL, FANOUT_EVENTS };
#define NALL (sizeof(all_executors) / sizeof(all_executors[0]))

static const struct fanout_result *
result_of(const fanout_group *g, const char *name)
{
	long i = fanout_group_find(g, name);

	CU_ASSERT_FATAL(i >= 0);
	return fanout_group_result(g, (size_t)i);
}

/* Waits until `released` reaches n; false after SAFETY_US. */
static bool
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

/* Each call's state, rc and timing are reported, in the order the calls were added. */
static void
test_results(void)
{
	for (size_t e = 0; e < NALL; e++) {
		struct fake_driver fake;
		fanout_group *g = group_new(all_executors[e], FANOUT_NO_DEADLINE, &fake);
		const struct fanout_result *r;

		CU_ASSERT_FATAL(g != NULL);
		add_job(g, "ok", 0, 1 * MS, NULL);
		add_job(g, "fails", 7, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_size(g), 2);
		CU_ASSERT_EQUAL(fanout_group_result(g, 0)->state, FANOUT_CALL_PENDING);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		r = fanout_group_result(g, 0);
		CU_ASSERT_STRING_EQUAL(r->name, "ok");
		CU_ASSERT_EQUAL(r->state, FANOUT_CALL_OK);
		CU_ASSERT_EQUAL(r->rc, 0);
		CU_ASSERT(r->start_us >= 0);
		CU_ASSERT(r->duration_us >= 1 * MS);
		r = fanout_group_result(g, 1);
		CU_ASSERT_STRING_EQUAL(r->name, "fails");
		CU_ASSERT_EQUAL(r->state, FANOUT_CALL_FAILED);
		CU_ASSERT_EQUAL(r->rc, 7);
		CU_ASSERT_EQUAL(r->err, FANOUT_OK);
		CU_ASSERT_PTR_NULL(fanout_group_result(g, 2));
		CU_ASSERT_EQUAL(fanout_group_find(g, "nope"), -1);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ESTATE);
		CU_ASSERT_EQUAL(fanout_group_add(g, "late", job_fn, NULL, NULL), FANOUT_ESTATE);
		fanout_group_free(g);
	}
}

/* Returns the wall time of running three calls of 100 ms with the executor. */
static int64_t
three_sleeps(enum fanout_executor ex)
{
	struct fake_driver fake;
	fanout_group *g = group_new(ex, FANOUT_NO_DEADLINE, &fake);
	int64_t t0;

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "a", 0, 100 * MS, NULL);
	add_job(g, "b", 0, 100 * MS, NULL);
	add_job(g, "c", 0, 100 * MS, NULL);
	t0 = fanout_now_us();
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
	t0 = fanout_now_us() - t0;
	for (size_t i = 0; i < 3; i++)
		CU_ASSERT_EQUAL(fanout_group_result(g, i)->state, FANOUT_CALL_OK);
	fanout_group_free(g);
	return t0;
}

/* N waits become one: threads and pool overlap the calls, serial adds them up. */
static void
test_overlap(void)
{
	CU_ASSERT(three_sleeps(FANOUT_THREADS) < 200 * MS);
	CU_ASSERT(three_sleeps(FANOUT_POOL) < 200 * MS);
	CU_ASSERT(three_sleeps(FANOUT_SERIAL) >= 300 * MS);
	CU_ASSERT(three_sleeps(FANOUT_EVENTS) < 200 * MS);
}

/* At the deadline the caller gets control back, the held call is timed out, and its job is only
 * released once it has returned, after the group was freed. */
static void
test_deadline(void)
{
	enum fanout_executor concurrent[] = { FANOUT_THREADS, FANOUT_POOL };

	for (size_t e = 0; e < 2; e++) {
		struct gate hold;
		fanout_group *g;
		const struct fanout_result *r;
		int64_t t0, took;
		int before = atomic_load(&released);

		CU_ASSERT_FATAL(gate_init(&hold));
		t0 = fanout_now_us();
		g = fanout_group_new(concurrent[e], t0 + 100 * MS);
		CU_ASSERT_FATAL(g != NULL);
		add_job(g, "fast", 0, 10 * MS, NULL);
		add_job(g, "held", 0, 0, &hold);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		took = fanout_now_us() - t0;
		CU_ASSERT(took >= 100 * MS);
		CU_ASSERT(took < 180 * MS);
		CU_ASSERT_EQUAL(result_of(g, "fast")->state, FANOUT_CALL_OK);
		r = result_of(g, "held");
		CU_ASSERT_EQUAL(r->state, FANOUT_CALL_TIMEDOUT);
		CU_ASSERT(r->start_us >= 0);
		CU_ASSERT(r->duration_us >= 90 * MS);
		fanout_group_free(g);
		CU_ASSERT_EQUAL(atomic_load(&released), before);	/* "held" still owns them */
		gate_open(&hold);
		CU_ASSERT(await_released(before + 2));
		gate_destroy(&hold);
	}
}

/* Serial cannot interrupt a call: one that ends past the deadline is timed out, and the calls
 * it kept from starting are timed out without running. */
static void
test_deadline_serial(void)
{
	int64_t t0 = fanout_now_us();
	fanout_group *g = fanout_group_new(FANOUT_SERIAL, t0 + 50 * MS);
	struct job *late;

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "slow", 0, 80 * MS, NULL);
	late = add_job(g, "late", 0, 0, NULL);
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
	CU_ASSERT(fanout_now_us() - t0 >= 80 * MS);
	CU_ASSERT_EQUAL(result_of(g, "slow")->state, FANOUT_CALL_TIMEDOUT);
	CU_ASSERT_EQUAL(result_of(g, "late")->state, FANOUT_CALL_TIMEDOUT);
	CU_ASSERT_EQUAL(result_of(g, "late")->start_us, -1);
	CU_ASSERT_EQUAL(late->runs, 0);
	fanout_group_free(g);
}

/* FANOUT_EVENTS at the deadline: the slow call is cancelled in the driver and timed out, and
 * nothing outlives the run: every job is released as soon as the group is freed. */
static void
test_deadline_events(void)
{
	struct fake_driver fake;
	int64_t t0 = fanout_now_us(), took;
	fanout_group *g = group_new(FANOUT_EVENTS, t0 + 100 * MS, &fake);
	struct job *after;
	int before = atomic_load(&released);

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "fast", 0, 10 * MS, NULL);
	add_job(g, "slow", 0, 1000 * MS, NULL);
	after = add_job(g, "after_slow", 0, 0, NULL);
	CU_ASSERT_EQUAL(fanout_group_after(g, "after_slow", "slow"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
	took = fanout_now_us() - t0;
	CU_ASSERT(took >= 100 * MS && took < 180 * MS);
	CU_ASSERT_EQUAL(result_of(g, "fast")->state, FANOUT_CALL_OK);
	CU_ASSERT_EQUAL(result_of(g, "slow")->state, FANOUT_CALL_TIMEDOUT);
	CU_ASSERT(result_of(g, "slow")->duration_us >= 90 * MS);
	CU_ASSERT_EQUAL(result_of(g, "after_slow")->state, FANOUT_CALL_SKIPPED);
	CU_ASSERT_EQUAL(after->runs, 0);
	CU_ASSERT_EQUAL(fake.cancelled, 1);
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	fanout_group_free(g);
	CU_ASSERT_EQUAL(atomic_load(&released), before + 3);
	CU_ASSERT_PTR_NULL(fanout_group_new(FANOUT_EVENTS, FANOUT_NO_DEADLINE));
	CU_ASSERT_PTR_NULL(fanout_group_new_driven(&(struct fanout_driver){ 0 }, 0));
}

/* B waits for A and starts as soon as A ends, not when the slower C ends; C runs beside A. */
static void
test_dependency_order(void)
{
	static const enum fanout_executor concurrent[] = { FANOUT_THREADS, FANOUT_POOL,
		FANOUT_EVENTS };

	for (size_t e = 0; e < 3; e++) {
		struct fake_driver fake;
		fanout_group *g = group_new(concurrent[e], FANOUT_NO_DEADLINE, &fake);
		const struct fanout_result *a, *b, *c;

		CU_ASSERT_FATAL(g != NULL);
		add_job(g, "A", 0, 100 * MS, NULL);
		add_job(g, "B", 0, 10 * MS, NULL);
		add_job(g, "C", 0, 200 * MS, NULL);
		CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		a = result_of(g, "A");
		b = result_of(g, "B");
		c = result_of(g, "C");
		CU_ASSERT_EQUAL(b->state, FANOUT_CALL_OK);
		CU_ASSERT(b->start_us >= a->start_us + a->duration_us);
		CU_ASSERT(b->start_us < 150 * MS);
		CU_ASSERT(c->start_us < 30 * MS);
		fanout_group_free(g);
	}
}

/* The serial chain S -> A -> B -> C, with every executor: each starts after the previous ends. */
static void
test_chain(void)
{
	static const char *const names[] = { "S", "A", "B", "C" };

	for (size_t e = 0; e < NALL; e++) {
		struct fake_driver fake;
		fanout_group *g = group_new(all_executors[e], FANOUT_NO_DEADLINE, &fake);

		CU_ASSERT_FATAL(g != NULL);
		for (size_t i = 4; i-- > 0;)	/* added backwards: order comes from the edges */
			add_job(g, names[i], 0, 5 * MS, NULL);
		for (size_t i = 1; i < 4; i++)
			CU_ASSERT_EQUAL(fanout_group_after(g, names[i], names[i - 1]), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		for (size_t i = 1; i < 4; i++) {
			const struct fanout_result *prev = result_of(g, names[i - 1]);
			const struct fanout_result *cur = result_of(g, names[i]);

			CU_ASSERT_EQUAL(cur->state, FANOUT_CALL_OK);
			CU_ASSERT(cur->start_us >= prev->start_us + prev->duration_us);
		}
		fanout_group_free(g);
	}
}

/* A failure skips its dependants, transitively, and only them; skipped calls never run. */
static void
test_failure_skips(void)
{
	for (size_t e = 0; e < NALL; e++) {
		struct fake_driver fake;
		fanout_group *g = group_new(all_executors[e], FANOUT_NO_DEADLINE, &fake);
		struct job *b, *c, *d2;

		CU_ASSERT_FATAL(g != NULL);
		add_job(g, "A", 3, 0, NULL);
		b = add_job(g, "B", 0, 0, NULL);
		c = add_job(g, "C", 0, 0, NULL);
		add_job(g, "D", 0, 0, NULL);
		d2 = add_job(g, "E", 0, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_after(g, "C", "B"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_after(g, "E", "D"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_after(g, "E", "A"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		CU_ASSERT_EQUAL(result_of(g, "A")->state, FANOUT_CALL_FAILED);
		CU_ASSERT_EQUAL(result_of(g, "A")->rc, 3);
		CU_ASSERT_EQUAL(result_of(g, "B")->state, FANOUT_CALL_SKIPPED);
		CU_ASSERT_EQUAL(result_of(g, "C")->state, FANOUT_CALL_SKIPPED);
		CU_ASSERT_EQUAL(result_of(g, "D")->state, FANOUT_CALL_OK);
		CU_ASSERT_EQUAL(result_of(g, "E")->state, FANOUT_CALL_SKIPPED);
		CU_ASSERT_EQUAL(result_of(g, "C")->start_us, -1);
		CU_ASSERT_EQUAL(b->runs + c->runs + d2->runs, 0);
		fanout_group_free(g);
	}
}

/* A call that times out skips its dependants. */
static void
test_timeout_skips(void)
{
	for (size_t e = 0; e < 2; e++) {
		struct gate hold;
		int before = atomic_load(&released);
		fanout_group *g;
		struct job *b;

		CU_ASSERT_FATAL(gate_init(&hold));
		g = fanout_group_new(executors[e], fanout_now_us() + 50 * MS);
		CU_ASSERT_FATAL(g != NULL);
		add_job(g, "A", 0, 0, &hold);
		b = add_job(g, "B", 0, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		CU_ASSERT_EQUAL(result_of(g, "A")->state, FANOUT_CALL_TIMEDOUT);
		CU_ASSERT_EQUAL(result_of(g, "B")->state, FANOUT_CALL_SKIPPED);
		CU_ASSERT_EQUAL(b->runs, 0);	/* read before the gate opens: B can no longer run */
		fanout_group_free(g);
		gate_open(&hold);
		CU_ASSERT(await_released(before + 2));
		gate_destroy(&hold);
	}
}

/* Bad graphs are refused before anything runs, and the group keeps (then releases) its args. */
static void
test_graph_errors(void)
{
	int before = atomic_load(&released);
	fanout_group *g = fanout_group_new(FANOUT_THREADS, FANOUT_NO_DEADLINE);
	struct job *a, *c;

	CU_ASSERT_FATAL(g != NULL);
	a = add_job(g, "A", 0, 0, NULL);
	add_job(g, "B", 0, 0, NULL);
	c = add_job(g, "C", 0, 0, NULL);
	CU_ASSERT_EQUAL(fanout_group_add(g, "A", job_fn, NULL, NULL), FANOUT_EEXIST);
	CU_ASSERT_EQUAL(fanout_group_add(g, NULL, job_fn, NULL, NULL), FANOUT_EINVAL);
	CU_ASSERT_EQUAL(fanout_group_add(g, "X", NULL, NULL, NULL), FANOUT_EINVAL);
	CU_ASSERT_EQUAL(fanout_group_after(g, "A", "nobody"), FANOUT_ENOENT);
	CU_ASSERT_EQUAL(fanout_group_after(g, "A", "B"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ECYCLE);
	CU_ASSERT_EQUAL(a->runs + c->runs, 0);
	CU_ASSERT_EQUAL(result_of(g, "C")->state, FANOUT_CALL_PENDING);
	fanout_group_free(g);
	CU_ASSERT_EQUAL(atomic_load(&released), before + 3);

	g = fanout_group_new(FANOUT_POOL, FANOUT_NO_DEADLINE);
	CU_ASSERT_FATAL(g != NULL);
	a = add_job(g, "self", 0, 0, NULL);
	CU_ASSERT_EQUAL(fanout_group_after(g, "self", "self"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ECYCLE);
	CU_ASSERT_EQUAL(a->runs, 0);
	fanout_group_free(g);
	CU_ASSERT_PTR_NULL(fanout_group_new((enum fanout_executor)42, FANOUT_NO_DEADLINE));
	CU_ASSERT_PTR_NULL(fanout_group_new(FANOUT_POOL, -1));
}

struct bound_run {
	fanout_group *g;
	enum fanout_err err;
};

static void *
bound_runner(void *arg)
{
	struct bound_run *br = arg;

	br->err = fanout_group_run(br->g);
	return NULL;
}

/* Past the process-wide bound a group fails fast with FANOUT_EBUSY and nothing of it runs. */
static void
test_bound(void)
{
	struct fanout_limits small = { .max_inflight = 4, .pool_threads = 4 };

	fanout_shutdown();
	CU_ASSERT_FATAL(fanout_init(&small) == FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_init(&small), FANOUT_ESTATE);
	for (size_t e = 0; e < NEXECUTORS; e++) {
		struct gate hold;
		struct bound_run br;
		pthread_t tid;
		fanout_group *g2, *g3;
		struct job *x;

		CU_ASSERT_FATAL(gate_init(&hold));
		br.g = fanout_group_new(executors[e], FANOUT_NO_DEADLINE);
		CU_ASSERT_FATAL(br.g != NULL);
		for (int i = 0; i < 3; i++)
			add_job(br.g, (const char *[]){ "a", "b", "c" }[i], 0, 0, &hold);
		CU_ASSERT_FATAL(pthread_create(&tid, NULL, bound_runner, &br) == 0);
		/* Serial runs one call at a time, but all three hold their slots. */
		CU_ASSERT(gate_await(&hold, executors[e] == FANOUT_SERIAL ? 1 : 3));
		CU_ASSERT_EQUAL(fanout_inflight(), 3);

		g2 = fanout_group_new(executors[e], FANOUT_NO_DEADLINE);
		CU_ASSERT_FATAL(g2 != NULL);
		x = add_job(g2, "x", 0, 0, NULL);
		add_job(g2, "y", 0, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_run(g2), FANOUT_EBUSY);
		CU_ASSERT_EQUAL(fanout_inflight(), 3);	/* a refused group takes no slot */
		CU_ASSERT_EQUAL(x->runs, 0);
		CU_ASSERT_EQUAL(fanout_group_result(g2, 0)->state, FANOUT_CALL_PENDING);
		fanout_group_free(g2);

		g3 = fanout_group_new(executors[e], FANOUT_NO_DEADLINE);	/* 3 + 1 fits */
		CU_ASSERT_FATAL(g3 != NULL);
		add_job(g3, "z", 0, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_run(g3), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_result(g3, 0)->state, FANOUT_CALL_OK);
		fanout_group_free(g3);

		gate_open(&hold);
		CU_ASSERT_FATAL(pthread_join(tid, NULL) == 0);
		CU_ASSERT_EQUAL(br.err, FANOUT_OK);
		fanout_group_free(br.g);
		gate_destroy(&hold);
	}
	fanout_shutdown();
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	CU_ASSERT_FATAL(fanout_init(NULL) == FANOUT_OK);
}

/* A call sees the time left before its group's deadline; outside a call there is no limit. */
static void
test_time_left(void)
{
	for (size_t e = 0; e < NEXECUTORS; e++) {
		fanout_group *g = fanout_group_new(executors[e], fanout_now_us() + 500 * MS);
		fanout_group *free_g = fanout_group_new(executors[e], FANOUT_NO_DEADLINE);
		struct job *bounded, *unbounded;

		CU_ASSERT_FATAL(g != NULL && free_g != NULL);
		bounded = add_job(g, "bounded", 0, 0, NULL);
		unbounded = add_job(free_g, "unbounded", 0, 0, NULL);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
		CU_ASSERT_EQUAL(fanout_group_run(free_g), FANOUT_OK);
		CU_ASSERT(bounded->time_left > 0 && bounded->time_left <= 500 * MS);
		CU_ASSERT_EQUAL(unbounded->time_left, INT64_MAX);
		fanout_group_free(g);
		fanout_group_free(free_g);
	}
	CU_ASSERT_EQUAL(fanout_time_left_us(), INT64_MAX);
}

/* fanout_now_us() is CLOCK_MONOTONIC in µs, as fanout.h promises: a host (and these tests) may
 * wait on that clock for instants of fanout's, e.g. with pthread_cond_timedwait. */
static void
test_clock(void)
{
	struct timespec before, after;
	int64_t now;

	CU_ASSERT_FATAL(clock_gettime(CLOCK_MONOTONIC, &before) == 0);
	now = fanout_now_us();
	CU_ASSERT_FATAL(clock_gettime(CLOCK_MONOTONIC, &after) == 0);
	CU_ASSERT(now >= (int64_t)before.tv_sec * 1000000 + before.tv_nsec / 1000);
	CU_ASSERT(now <= (int64_t)after.tv_sec * 1000000 + after.tv_nsec / 1000);
}

/* A group described as a table, with the outcome every executor must give. */
struct shape {
	const char *name;
	int rc;
	const char *after[3];
	enum fanout_state expect;
};

static const struct shape diamond[] = {
	{ "root", 0, { NULL }, FANOUT_CALL_OK },
	{ "left", 0, { "root" }, FANOUT_CALL_OK },
	{ "right", 0, { "root" }, FANOUT_CALL_OK },
	{ "join", 0, { "left", "right" }, FANOUT_CALL_OK },
	{ NULL, 0, { NULL }, 0 },
};

static const struct shape broken_diamond[] = {
	{ "root", 0, { NULL }, FANOUT_CALL_OK },
	{ "left", 9, { "root" }, FANOUT_CALL_FAILED },
	{ "right", 0, { "root" }, FANOUT_CALL_OK },
	{ "join", 0, { "left", "right" }, FANOUT_CALL_SKIPPED },
	{ "after_join", 0, { "join" }, FANOUT_CALL_SKIPPED },
	{ "alone", 2, { NULL }, FANOUT_CALL_FAILED },
	{ NULL, 0, { NULL }, 0 },
};

static const struct shape wide[] = {
	{ "a", 0, { NULL }, FANOUT_CALL_OK },
	{ "b", 1, { NULL }, FANOUT_CALL_FAILED },
	{ "c", 0, { NULL }, FANOUT_CALL_OK },
	{ "d", 0, { "a", "c" }, FANOUT_CALL_OK },
	{ "e", 0, { "b" }, FANOUT_CALL_SKIPPED },
	{ "f", 4, { "d" }, FANOUT_CALL_FAILED },
	{ NULL, 0, { NULL }, 0 },
};

/* The three executors give the same states and codes on the same groups. */
static void
test_executors_agree(void)
{
	const struct shape *shapes[] = { diamond, broken_diamond, wide };

	for (size_t s = 0; s < 3; s++)
		for (size_t e = 0; e < NALL; e++) {
			struct fake_driver fake;
			fanout_group *g = group_new(all_executors[e], FANOUT_NO_DEADLINE, &fake);
			const struct shape *sh;

			CU_ASSERT_FATAL(g != NULL);
			for (sh = shapes[s]; sh->name != NULL; sh++)
				add_job(g, sh->name, sh->rc, 1 * MS, NULL);
			for (sh = shapes[s]; sh->name != NULL; sh++)
				for (size_t d = 0; d < 3 && sh->after[d] != NULL; d++)
					CU_ASSERT_EQUAL(fanout_group_after(g, sh->name, sh->after[d]),
					    FANOUT_OK);
			CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_OK);
			for (sh = shapes[s]; sh->name != NULL; sh++) {
				const struct fanout_result *r = result_of(g, sh->name);

				CU_ASSERT_EQUAL(r->state, sh->expect);
				CU_ASSERT_EQUAL(r->rc, sh->expect == FANOUT_CALL_SKIPPED ? 0 : sh->rc);
			}
			fanout_group_free(g);
		}
}


/* The canceller of test_cancel: cancels once the held call (or, for events, a wait) is under
 * way; for serial, whose caller is the one held, or if asked, it then lets the call go. */
struct canceller {
	fanout_group *g;
	enum fanout_executor ex;
	struct gate *gate;
	struct fake_driver *fake;
	bool release;		/* open the gate after the cancel, whatever the executor */
	bool ready;		/* what it waited for happened in time */
};

static void *
canceller_main(void *arg)
{
	struct canceller *c = arg;

	/* events: the first wait() sees "quick" end, the second (held started) waits for "held" */
	c->ready = c->ex == FANOUT_EVENTS ? fake_await_waits(c->fake, 2) : gate_await(c->gate, 1);
	fanout_group_cancel(c->g);
	if (c->ex == FANOUT_SERIAL || c->release)
		gate_open(c->gate);
	return NULL;
}

/* Cancelling from another thread ends the run at once with FANOUT_ECANCELED: what finished keeps
 * its outcome, the held call is cancelled (or, serial, finishes: it ran in the caller), its
 * dependant is skipped, and the held call's arg is released only after it returns. */
static void
test_cancel(void)
{
	for (size_t e = 0; e < NALL; e++) {
		enum fanout_executor ex = all_executors[e];
		struct fake_driver fake;
		struct gate gate;
		fanout_group *g = group_new(ex, FANOUT_NO_DEADLINE, &fake);
		struct canceller c = { .g = g, .ex = ex, .gate = &gate, .fake = &fake };
		int before = atomic_load(&released);
		pthread_t tid;
		int64_t t0;

		CU_ASSERT_FATAL(g != NULL && gate_init(&gate));
		add_job(g, "quick", 0, 0, NULL);
		/* events: the fake "runs" it for SAFETY_US unless cancelled; others wait at the gate */
		add_job(g, "held", 0, ex == FANOUT_EVENTS ? SAFETY_US : 0,
		    ex == FANOUT_EVENTS ? NULL : &gate);
		add_job(g, "after", 0, 0, NULL);
		/* held starts only once quick's outcome is recorded, so the cancel cannot beat it */
		CU_ASSERT_FATAL(fanout_group_after(g, "held", "quick") == FANOUT_OK);
		CU_ASSERT_FATAL(fanout_group_after(g, "after", "held") == FANOUT_OK);
		CU_ASSERT_FATAL(pthread_create(&tid, NULL, canceller_main, &c) == 0);
		t0 = fanout_now_us();
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ECANCELED);
		CU_ASSERT(fanout_now_us() - t0 < SAFETY_US / 2);
		CU_ASSERT_FATAL(pthread_join(tid, NULL) == 0);
		CU_ASSERT(c.ready);
		CU_ASSERT_EQUAL(result_of(g, "quick")->state, FANOUT_CALL_OK);
		CU_ASSERT_EQUAL(result_of(g, "held")->state, ex == FANOUT_SERIAL ? FANOUT_CALL_OK :
		    FANOUT_CALL_CANCELLED);
		CU_ASSERT_EQUAL(result_of(g, "after")->state, FANOUT_CALL_SKIPPED);
		if (ex == FANOUT_EVENTS)
			CU_ASSERT_EQUAL(fake.cancelled, 1);
		fanout_group_free(g);
		if (ex == FANOUT_THREADS || ex == FANOUT_POOL)
			CU_ASSERT_EQUAL(atomic_load(&released), before);	/* held still runs */
		gate_open(&gate);
		CU_ASSERT(await_released(before + 3));
		gate_destroy(&gate);
	}
}

/* A call that fails once its group is cancelled (as a client told to stop does) is reported
 * cancelled, not failed, whether it ends before the runner notices the cancel or after: serial
 * orders it before, threads and pool either way. */
static void
test_cancel_then_fail(void)
{
	for (size_t e = 0; e < NEXECUTORS; e++) {
		fanout_group *g = fanout_group_new(executors[e], FANOUT_NO_DEADLINE);
		struct gate gate;
		struct canceller c = { .g = g, .ex = executors[e], .gate = &gate, .release = true };
		int before = atomic_load(&released);
		pthread_t tid;

		CU_ASSERT_FATAL(g != NULL && gate_init(&gate));
		add_job(g, "stopped", 9, 0, &gate);
		CU_ASSERT_FATAL(pthread_create(&tid, NULL, canceller_main, &c) == 0);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ECANCELED);
		CU_ASSERT_FATAL(pthread_join(tid, NULL) == 0);
		CU_ASSERT(c.ready);
		CU_ASSERT_EQUAL(result_of(g, "stopped")->state, FANOUT_CALL_CANCELLED);
		CU_ASSERT_EQUAL(result_of(g, "stopped")->rc, 0);
		fanout_group_free(g);
		CU_ASSERT(await_released(before + 1));
		gate_destroy(&gate);
	}
}

/* A group cancelled before it runs runs nothing. */
static void
test_cancel_before_run(void)
{
	for (size_t e = 0; e < NALL; e++) {
		struct fake_driver fake;
		fanout_group *g = group_new(all_executors[e], FANOUT_NO_DEADLINE, &fake);
		struct job *j;

		CU_ASSERT_FATAL(g != NULL);
		j = add_job(g, "a", 0, 0, NULL);
		fanout_group_cancel(g);
		CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_ECANCELED);
		CU_ASSERT_EQUAL(j->runs, 0);
		CU_ASSERT_EQUAL(fanout_group_result(g, 0)->state, FANOUT_CALL_SKIPPED);
		CU_ASSERT_EQUAL(fanout_inflight(), 0);
		fanout_group_free(g);
	}
}

/* Stress: many threads run thousands of random groups, some with deadlines that expire. */
#define STRESS_THREADS 4
#define STRESS_GROUPS 600
#define STRESS_MAX_CALLS 5

struct stress {
	unsigned seed;
	int added;
	int bad;	/* invariant violations seen */
	int outcomes[FANOUT_CALL_SKIPPED + 1];	/* how many calls ended in each state */
};

static unsigned
next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

/* Checks what must hold for any finished group; returns the number of violations. */
static int
stress_check(const fanout_group *g, const bool deps[STRESS_MAX_CALLS][STRESS_MAX_CALLS])
{
	int bad = 0;

	for (size_t i = 0; i < fanout_group_size(g); i++) {
		const struct fanout_result *r = fanout_group_result(g, i);
		bool deps_ok = true;

		for (size_t d = 0; d < i; d++) {
			const struct fanout_result *rd = fanout_group_result(g, d);

			if (!deps[i][d])
				continue;
			deps_ok = deps_ok && rd->state == FANOUT_CALL_OK;
			if (r->start_us >= 0 && r->start_us < rd->start_us + rd->duration_us)
				bad++;	/* started before a dependency ended */
		}
		bad += r->state == FANOUT_CALL_PENDING;
		bad += r->state == FANOUT_CALL_OK && (!deps_ok || r->rc != 0);
		bad += r->state == FANOUT_CALL_FAILED && r->rc == 0;
		bad += r->state == FANOUT_CALL_SKIPPED && (deps_ok || r->start_us != -1);
	}
	return bad;
}

static void *
stress_thread(void *arg)
{
	struct stress *st = arg;
	static const char *const names[] = { "c0", "c1", "c2", "c3", "c4" };

	for (int n = 0; n < STRESS_GROUPS; n++) {
		bool deps[STRESS_MAX_CALLS][STRESS_MAX_CALLS] = { { false } };
		enum fanout_executor ex = executors[next_rand(&st->seed) % NEXECUTORS];
		int64_t deadline = n % 4 == 0 ?
		    fanout_now_us() + 1000 + next_rand(&st->seed) % 2000 : 0;
		fanout_group *g = fanout_group_new(ex, deadline);
		size_t ncalls = 1 + next_rand(&st->seed) % STRESS_MAX_CALLS;

		if (g == NULL) {
			st->bad++;
			continue;
		}
		for (size_t i = 0; i < ncalls; i++) {
			struct job *j = calloc(1, sizeof(*j));

			if (j == NULL) {
				st->bad++;
				continue;
			}
			j->rc = next_rand(&st->seed) % 10 == 0;
			j->sleep_us = next_rand(&st->seed) % 1500;
			if (fanout_group_add(g, names[i], job_fn, j, job_release) != FANOUT_OK) {
				free(j);
				st->bad++;
				continue;
			}
			st->added++;
			for (size_t d = 0; d < i; d++)
				if (next_rand(&st->seed) % 3 == 0) {
					deps[i][d] = true;
					st->bad += fanout_group_after(g, names[i], names[d]) != FANOUT_OK;
				}
		}
		if (fanout_group_run(g) == FANOUT_OK)
			st->bad += stress_check(g, deps);
		else
			st->bad++;
		for (size_t i = 0; i < fanout_group_size(g); i++)
			st->outcomes[fanout_group_result(g, i)->state]++;
		fanout_group_free(g);
	}
	return NULL;
}

static void
test_stress(void)
{
	pthread_t tids[STRESS_THREADS];
	struct stress st[STRESS_THREADS];
	int before = atomic_load(&released), added = 0;
	int outcomes[FANOUT_CALL_SKIPPED + 1] = { 0 };

	for (int i = 0; i < STRESS_THREADS; i++) {
		st[i] = (struct stress){ .seed = 7919u * (unsigned)(i + 1) };
		CU_ASSERT_FATAL(pthread_create(&tids[i], NULL, stress_thread, &st[i]) == 0);
	}
	for (int i = 0; i < STRESS_THREADS; i++) {
		CU_ASSERT(pthread_join(tids[i], NULL) == 0);
		CU_ASSERT_EQUAL(st[i].bad, 0);
		added += st[i].added;
		for (int k = 0; k <= FANOUT_CALL_SKIPPED; k++)
			outcomes[k] += st[i].outcomes[k];
	}
	/* The mix must really exercise every outcome, expired deadlines included. */
	for (int k = FANOUT_CALL_OK; k <= FANOUT_CALL_SKIPPED; k++)
		CU_ASSERT(outcomes[k] > 0);
	printf("\n    stress outcomes: %d ok, %d failed, %d timeout, %d skipped ",
	    outcomes[FANOUT_CALL_OK], outcomes[FANOUT_CALL_FAILED], outcomes[FANOUT_CALL_TIMEDOUT],
	    outcomes[FANOUT_CALL_SKIPPED]);
	/* Calls abandoned at deadlines may still run: shutdown waits for them. */
	fanout_shutdown();
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	CU_ASSERT_EQUAL(atomic_load(&released), before + added);
	CU_ASSERT_FATAL(fanout_init(NULL) == FANOUT_OK);
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
		{ NULL, NULL },
	};

	return unit_run("fanout", suite_init, suite_cleanup, tests);
}
