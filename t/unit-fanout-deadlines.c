/* unit-fanout-deadlines.c - unit tests of fanout/: deadlines with every executor, the
 * process-wide bound, and a stress run of random groups whose deadlines expire. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "t/unit-fanout.h"
#include "t/unit.h"

/* At the deadline the caller gets control back, the held call is timed out, and its job is only
 * released once it has returned, after the group was freed. */
void
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
void
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
void
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
void
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

void
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
