/* unit-loop.c - unit tests of cgi/loop/loop.c: timers in order through any arming and disarming,
 * descriptors, jobs posted from other threads, and frees deferred past the batch. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "cgi/loop/loop.h"
#include "common/clock.h"
#include "fanout/fanout.h"
#include "t/unit.h"

#define NTIMERS 200

static struct loop *loop;

struct fired {
	int64_t order[NTIMERS];
	int count;
	int64_t last_at;
	bool out_of_order;
};

struct tick {
	struct loop_timer t;
	struct fired *log;
	int64_t at;
};

static void
tick_fired(void *ctx)
{
	struct tick *k = ctx;

	if (k->at < k->log->last_at)
		k->log->out_of_order = true;
	k->log->last_at = k->at;
	k->log->order[k->log->count++] = k->at;
	if (k->log->count == NTIMERS / 2)
		loop_stop(loop);
}

/* Timers armed in a scrambled order, half re-armed and a quarter stopped: those left fire in
 * the order of their times, each once, and the stopped ones never. */
static void
test_timers(void)
{
	static struct tick ticks[NTIMERS];
	struct fired log = { .count = 0 };
	int64_t base = clock_now_us() + 1000;
	unsigned seed = 7;

	for (int i = 0; i < NTIMERS; i++) {
		ticks[i] = (struct tick){ .log = &log,
		    .at = base + (int64_t)(rand_r(&seed) % 20000) };
		loop_timer_init(&ticks[i].t, tick_fired, &ticks[i]);
		CU_ASSERT_FATAL(loop_timer_set(loop, &ticks[i].t, ticks[i].at) == 0);
	}
	for (int i = 0; i < NTIMERS; i += 2) {	/* re-armed: half of them */
		ticks[i].at = base + (int64_t)(rand_r(&seed) % 20000);
		CU_ASSERT_FATAL(loop_timer_set(loop, &ticks[i].t, ticks[i].at) == 0);
	}
	for (int i = 0; i < NTIMERS; i++)	/* stopped: the other half */
		if (i % 2 == 1) {
			loop_timer_stop(loop, &ticks[i].t);
			CU_ASSERT_FALSE(loop_timer_armed(&ticks[i].t));
		}
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_EQUAL(log.count, NTIMERS / 2);
	CU_ASSERT_FALSE(log.out_of_order);
	CU_ASSERT(clock_now_us() >= log.last_at);	/* none fired early */
}

struct post {
	struct loop_job job;
	int *ran;
	int expected;
	bool in_order;
};

static void
post_ran(void *ctx)
{
	struct post *p = ctx;

	p->in_order = *p->ran == p->expected;
	if (++*p->ran == 100)
		loop_stop(loop);
}

static struct post posts[100];
static int posts_ran;

static void *
poster(void *arg)
{
	(void)arg;
	for (int i = 0; i < 100; i++) {
		posts[i] = (struct post){ .job = { .fn = post_ran, .ctx = &posts[i] },
			.ran = &posts_ran, .expected = i };
		loop_post(loop, &posts[i].job);
	}
	return NULL;
}

/* Jobs posted from another thread run in the loop's, each once, in posting order. */
static void
test_posts(void)
{
	pthread_t tid;

	CU_ASSERT_FATAL(pthread_create(&tid, NULL, poster, NULL) == 0);
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_FATAL(pthread_join(tid, NULL) == 0);
	CU_ASSERT_EQUAL(posts_ran, 100);
	for (int i = 0; i < 100; i++)
		CU_ASSERT(posts[i].in_order);
}

/* Two pipes readable in the same batch; the first callback closes and frees the second's
 * owner: the loop neither calls it nor reads freed memory (the free is deferred). */
struct reader {
	struct loop_io io;
	int fds[2];
	struct reader *other;
	int calls;
	bool freed;
};

static void
reader_free(void *ctx)
{
	struct reader *r = ctx;

	r->freed = true;
}

static void
reader_ready(void *ctx, uint32_t events)
{
	struct reader *r = ctx;

	(void)events;
	r->calls++;
	if (r->other != NULL && !r->other->freed) {
		loop_io_del(loop, &r->other->io);
		CU_ASSERT(loop_defer(loop, reader_free, r->other) == 0);
		CU_ASSERT_FALSE(r->other->freed);	/* not during the batch */
	}
	loop_io_del(loop, &r->io);
	loop_stop(loop);
}

static void
test_defer(void)
{
	struct reader a = { .calls = 0 }, b = { .calls = 0 };

	CU_ASSERT_FATAL(pipe(a.fds) == 0 && pipe(b.fds) == 0);
	a.other = &b;
	b.other = &a;
	CU_ASSERT_FATAL(loop_io_add(loop, &a.io, a.fds[0], EPOLLIN, reader_ready, &a) == 0);
	CU_ASSERT_FATAL(loop_io_add(loop, &b.io, b.fds[0], EPOLLIN, reader_ready, &b) == 0);
	CU_ASSERT_FATAL(write(a.fds[1], "x", 1) == 1 && write(b.fds[1], "x", 1) == 1);
	CU_ASSERT_EQUAL(loop_run(loop), 0);
	CU_ASSERT_EQUAL(a.calls + b.calls, 1);	/* the second was removed within the batch */
	CU_ASSERT(a.freed != b.freed);		/* exactly one was freed, after the batch */
	for (int i = 0; i < 2; i++) {
		close(a.fds[i]);
		close(b.fds[i]);
	}
}

/* cgi/ reads one clock, common/clock.h's; fanout/ keeps its own (it builds alone) and compares
 * the deadlines cgi/ computes with it: the two must be one clock, instant for instant. */
static void
test_one_time_base(void)
{
	for (int i = 0; i < 1000; i++) {
		int64_t a = clock_now_us(), b = fanout_now_us(), c = clock_now_us();

		CU_ASSERT_FATAL(a <= b && b <= c);
	}
}

static int
suite_init(void)
{
	return (loop = loop_new()) != NULL ? 0 : -1;
}

static int
suite_cleanup(void)
{
	loop_free(loop);
	return 0;
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "timers fire in order through re-arming and stopping", test_timers },
		{ "jobs from another thread run in order", test_posts },
		{ "an io removed in its batch is not called; frees wait", test_defer },
		{ "cgi/'s clock is fanout's clock", test_one_time_base },
		{ NULL, NULL },
	};

	return unit_run("loop", suite_init, suite_cleanup, tests);
}
