/* unit-fanout-cancel.c - unit tests of fanout/: cancelling a group from another thread, during
 * its run or before it, with every executor and the fake event driver. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "t/unit-fanout.h"
#include "t/unit.h"

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
void
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
void
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
void
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
