/* unit-fanout.h - private to t/unit-fanout: the fixtures its parts share, and its tests. */
#ifndef T_UNIT_FANOUT_H
#define T_UNIT_FANOUT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "fanout/fanout.h"

#define MS 1000
#define SAFETY_US (10 * 1000 * 1000)	/* how long a test waits for an event before failing */

/* The executors fanout runs itself, and those and FANOUT_EVENTS (driven by the fake driver). */
extern const enum fanout_executor executors[3];
#define NEXECUTORS (sizeof(executors) / sizeof(executors[0]))
extern const enum fanout_executor all_executors[4];
#define NALL (sizeof(all_executors) / sizeof(all_executors[0]))

/* A gate holds calls until the test opens it, and tells the test how many have arrived. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int arrived;
	bool open;
};

/* False if the gate could not be set up; usable outside a test, so it asserts nothing. */
bool gate_init(struct gate *g);

/* True once n calls are waiting at the gate; false after SAFETY_US. */
bool gate_await(struct gate *g, int n);

/* Lets the calls waiting at the gate, and every later one, pass. */
void gate_open(struct gate *g);

void gate_destroy(struct gate *g);

/* How many jobs have been released: each exactly once, as the tests count to prove it. */
extern atomic_int released;

/* Waits until `released` reaches n; false after SAFETY_US. */
bool await_released(int n);

/* A job: the argument of a test call. It records what the call saw. */
struct job {
	int rc;
	int64_t sleep_us;
	struct gate *gate;	/* if set, the call waits there first */
	int runs;		/* how often fn ran */
	int64_t started, finished;	/* fanout_now_us() */
	int64_t time_left;	/* fanout_time_left_us() at start */
};

/* The call of a job: waits at its gate if it has one, sleeps sleep_us, returns rc. */
int job_fn(void *arg);

/* Frees a job and counts it in `released`. */
void job_release(void *arg);

/* Adds a job to g and returns it (owned by g now). */
struct job *add_job(fanout_group *g, const char *name, int rc, int64_t sleep_us,
    struct gate *gate);

/* A simulated event driver for FANOUT_EVENTS (unit-fanout.c): a job "runs" for its sleep_us. */
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

/* True once n wait()s have begun; false after SAFETY_US. */
bool fake_await_waits(struct fake_driver *f, int n);

/* A group of any executor; FANOUT_EVENTS ones are driven by *fake, reset here. */
fanout_group *group_new(enum fanout_executor ex, int64_t deadline, struct fake_driver *fake);

/* A FANOUT_EVENTS group for fanout_group_begin/advance: *fake's driver without wait(). */
fanout_group *group_new_stepped(int64_t deadline, struct fake_driver *fake);

/* The fake driver's wait(): sleeps until its next call ends, timeout_us at most (-1: no bound),
 * as a loop would wait for its events. */
int fake_wait(void *fake, int64_t timeout_us);

/* The result of g's call `name`, which must exist. */
const struct fanout_result *result_of(const fanout_group *g, const char *name);

/* The tests, each described where it is defined; main() (unit-fanout.c) runs them in order. */
/* unit-fanout-results.c */
void test_results(void);
void test_overlap(void);
void test_time_left(void);
void test_clock(void);
void test_executors_agree(void);
/* unit-fanout-deadlines.c */
void test_deadline(void);
void test_deadline_serial(void);
void test_deadline_events(void);
void test_bound(void);
void test_stress(void);
/* unit-fanout-deps.c */
void test_dependency_order(void);
void test_chain(void);
void test_failure_skips(void);
void test_timeout_skips(void);
void test_graph_errors(void);
/* unit-fanout-cancel.c */
void test_cancel(void);
void test_cancel_then_fail(void);
void test_cancel_before_run(void);
/* unit-fanout-steps.c */
void test_steps(void);
void test_steps_deadline(void);
void test_steps_cancel(void);
void test_steps_misuse(void);

#endif
