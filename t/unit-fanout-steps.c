/* unit-fanout-steps.c - unit tests of fanout/: FANOUT_EVENTS groups run step by step
 * (fanout_group_begin/advance), as an event loop runs them. */
#include <stddef.h>

#include "t/unit-fanout.h"
#include "t/unit.h"

/* Advances g until its run is over, waiting in between as a loop would (up to the deadline);
 * the run's final code. Bounded by SAFETY_US. */
static enum fanout_err
drive(fanout_group *g, struct fake_driver *fake, int *steps)
{
	int64_t give_up = fanout_now_us() + SAFETY_US;
	enum fanout_err err;

	*steps = 0;
	while ((err = fanout_group_advance(g)) == FANOUT_EINPROGRESS &&
	    fanout_now_us() < give_up) {
		int64_t deadline = fanout_group_deadline(g);

		(*steps)++;
		(void)fake_wait(fake, deadline == FANOUT_NO_DEADLINE ? -1 :
		    deadline - fanout_now_us());
	}
	return err;
}

/* A -> B and C -> D, C failing: B starts once A is done, D is skipped, and the final code stays
 * the same at every later advance. */
void
test_steps(void)
{
	struct fake_driver fake;
	fanout_group *g = group_new_stepped(FANOUT_NO_DEADLINE, &fake);
	const struct fanout_result *a, *b;
	int steps;

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "A", 0, 40 * MS, NULL);
	add_job(g, "B", 0, 10 * MS, NULL);
	add_job(g, "C", 1, 20 * MS, NULL);
	add_job(g, "D", 0, 10 * MS, NULL);
	CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_after(g, "D", "C"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_begin(g), FANOUT_EINPROGRESS);
	CU_ASSERT_EQUAL(fake.ncalls, 2);	/* A and C, not their dependants yet */
	CU_ASSERT_EQUAL(drive(g, &fake, &steps), FANOUT_OK);
	CU_ASSERT(steps >= 2);
	a = result_of(g, "A");
	b = result_of(g, "B");
	CU_ASSERT_EQUAL(a->state, FANOUT_CALL_OK);
	CU_ASSERT_EQUAL(b->state, FANOUT_CALL_OK);
	CU_ASSERT(b->start_us >= a->start_us + a->duration_us);
	CU_ASSERT_EQUAL(result_of(g, "C")->state, FANOUT_CALL_FAILED);
	CU_ASSERT_EQUAL(result_of(g, "C")->rc, 1);
	CU_ASSERT_EQUAL(result_of(g, "D")->state, FANOUT_CALL_SKIPPED);
	CU_ASSERT_EQUAL(fake.ncalls, 3);
	CU_ASSERT_EQUAL(fake.cancelled, 0);
	CU_ASSERT_EQUAL(fanout_group_advance(g), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	fanout_group_free(g);
}

/* At the deadline the slow call is cancelled in the driver and timed out, the fast one kept. */
void
test_steps_deadline(void)
{
	struct fake_driver fake;
	int64_t t0 = fanout_now_us();
	fanout_group *g = group_new_stepped(t0 + 60 * MS, &fake);
	int steps;

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "fast", 0, 10 * MS, NULL);
	add_job(g, "slow", 0, 2000 * MS, NULL);
	CU_ASSERT_EQUAL(fanout_group_begin(g), FANOUT_EINPROGRESS);
	CU_ASSERT_EQUAL(drive(g, &fake, &steps), FANOUT_OK);
	CU_ASSERT(fanout_now_us() - t0 < 1000 * MS);	/* wide margin: not the slow call's 2 s */
	CU_ASSERT_EQUAL(result_of(g, "fast")->state, FANOUT_CALL_OK);
	CU_ASSERT_EQUAL(result_of(g, "slow")->state, FANOUT_CALL_TIMEDOUT);
	CU_ASSERT_EQUAL(fake.cancelled, 1);
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	fanout_group_free(g);
}

/* A cancel takes effect at the next advance: calls under way are cancelled in the driver. */
void
test_steps_cancel(void)
{
	struct fake_driver fake;
	fanout_group *g = group_new_stepped(FANOUT_NO_DEADLINE, &fake);

	CU_ASSERT_FATAL(g != NULL);
	add_job(g, "A", 0, 2000 * MS, NULL);
	add_job(g, "B", 0, 10 * MS, NULL);
	CU_ASSERT_EQUAL(fanout_group_after(g, "B", "A"), FANOUT_OK);
	CU_ASSERT_EQUAL(fanout_group_begin(g), FANOUT_EINPROGRESS);
	fanout_group_cancel(g);
	CU_ASSERT_EQUAL(fanout_group_advance(g), FANOUT_ECANCELED);
	CU_ASSERT_EQUAL(result_of(g, "A")->state, FANOUT_CALL_CANCELLED);
	CU_ASSERT_EQUAL(result_of(g, "B")->state, FANOUT_CALL_SKIPPED);
	CU_ASSERT_EQUAL(fake.cancelled, 1);
	CU_ASSERT_EQUAL(fanout_inflight(), 0);
	fanout_group_free(g);
}

/* Only driven groups run step by step, a wait-less driver cannot run blocking, and a group must
 * begin before it advances. */
void
test_steps_misuse(void)
{
	struct fake_driver fake;
	fanout_group *threads = fanout_group_new(FANOUT_THREADS, FANOUT_NO_DEADLINE);
	fanout_group *g = group_new_stepped(FANOUT_NO_DEADLINE, &fake);
	fanout_group *done;

	CU_ASSERT_FATAL(threads != NULL && g != NULL);
	CU_ASSERT_EQUAL(fanout_group_begin(threads), FANOUT_EINVAL);
	CU_ASSERT_EQUAL(fanout_group_advance(threads), FANOUT_EINVAL);
	CU_ASSERT_EQUAL(fanout_group_advance(g), FANOUT_ESTATE);
	add_job(g, "A", 0, 0, NULL);
	CU_ASSERT_EQUAL(fanout_group_run(g), FANOUT_EINVAL);
	fanout_group_free(threads);
	fanout_group_free(g);
	/* A group with no call is over as soon as it begins. */
	done = group_new_stepped(FANOUT_NO_DEADLINE, &fake);
	CU_ASSERT_FATAL(done != NULL);
	CU_ASSERT_EQUAL(fanout_group_begin(done), FANOUT_OK);
	fanout_group_free(done);
}
