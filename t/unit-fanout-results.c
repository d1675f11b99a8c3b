/* unit-fanout-results.c - unit tests of fanout/: what each call reports, overlap, time left,
 * the clock, and the executors agreeing on the same groups. */
#include <stdint.h>
#include <time.h>

#include "t/unit-fanout.h"
#include "t/unit.h"

/* Each call's state, rc and timing are reported, in the order the calls were added. */
void
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
void
test_overlap(void)
{
	CU_ASSERT(three_sleeps(FANOUT_THREADS) < 200 * MS);
	CU_ASSERT(three_sleeps(FANOUT_POOL) < 200 * MS);
	CU_ASSERT(three_sleeps(FANOUT_SERIAL) >= 300 * MS);
	CU_ASSERT(three_sleeps(FANOUT_EVENTS) < 200 * MS);
}

/* A call sees the time left before its group's deadline; outside a call there is no limit. */
void
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
void
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
void
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
