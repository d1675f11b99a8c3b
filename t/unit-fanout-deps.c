/* unit-fanout-deps.c - unit tests of fanout/: dependencies: order, chains, failures and
 * timeouts that skip dependants, and refused graphs. */
#include <stdatomic.h>
#include <stddef.h>

#include "t/unit-fanout.h"
#include "t/unit.h"

/* B waits for A and starts as soon as A ends, not when the slower C ends; C runs beside A. */
void
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
void
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
void
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
void
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
void
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
