/* fanout.h - run blocking calls concurrently, with deadlines and dependencies. */
#ifndef FANOUT_FANOUT_H
#define FANOUT_FANOUT_H

/*
 * A *group* holds *calls*: a name, a blocking function `int fn(void *arg)` and its argument.
 * fanout_group_run() starts every call whose dependencies are met, starts each dependant as soon
 * as its dependencies have succeeded, and returns when every call has finished or the group's
 * deadline has passed, whichever comes first. The caller then reads one result per call.
 *
 * Ownership, the rule that makes deadlines safe: the group is reference counted. The caller holds
 * one reference until fanout_group_free(); every launched call holds one until its function has
 * returned. Each call's `arg` belongs to the group from fanout_group_add() on, and its `release`
 * function runs when the last reference goes, in whichever thread drops it. So a call that outlives
 * its deadline keeps its arg (and the group) alive: it can never write into freed memory, and the
 * caller never waits for it. A call may read the arg of a call it depends on, since args are only
 * released together, after every call has returned.
 *
 * After fanout_group_run() returns, results are frozen: a call still running (timed out) changes
 * nothing the caller can see. Do not read the arg of a call that did not finish (timed out), since
 * its function may still be writing to it; args of finished calls are stable.
 *
 * Time: every deadline of this API (fanout_group_new, fanout_group_new_driven, the driver's
 * start) is an absolute instant on fanout's own clock, fanout_now_us(): monotonic microseconds,
 * unaffected by changes of the date. Compute deadlines from it, and compare with them on it.
 *
 * Thread safety: one group is used by one thread; any number of threads may each run their own
 * groups at once. The only process-wide state is the pool and the bound on calls in flight, both
 * set up by fanout_init(). A call may run a group of its own, but not a FANOUT_POOL group from
 * inside a pool call: with every worker waiting for inner calls, none would be left to run them.
 */

/*
 * Building: fanout/ is a library of its own (libfanout.a here), made of its own .c files with
 * -std=c11 -pthread: it needs nothing but libc and pthreads, and exports only fanout_ names.
 */

#include <stddef.h>
#include <stdint.h>

enum fanout_err {
	FANOUT_OK = 0,
	FANOUT_EINVAL,		/* NULL or out-of-range argument */
	FANOUT_ENOMEM,		/* out of memory; nothing changed */
	FANOUT_EEXIST,		/* a call of that name is already in the group */
	FANOUT_ENOENT,		/* no call of that name in the group */
	FANOUT_ECYCLE,		/* the dependencies form a cycle; nothing ran */
	FANOUT_EBUSY,		/* the process-wide bound on calls in flight is reached; nothing ran */
	FANOUT_ETHREAD,		/* a thread could not be created (the pool's, or a call's) */
	FANOUT_ESTATE,		/* wrong moment: not initialised, initialised twice, group already run */
	FANOUT_EDRIVER,		/* the event driver of a FANOUT_EVENTS group failed */
	FANOUT_ECANCELED,	/* fanout_group_cancel() stopped the run; the results are set */
	FANOUT_EINPROGRESS,	/* fanout_group_begin/advance: the run is under way */
};

/* How a group's calls are run. All give the same results; they differ in cost and concurrency. */
enum fanout_executor {
	FANOUT_THREADS,		/* one new detached thread per call, small stack: the classic model */
	FANOUT_POOL,		/* the process-wide pool of persistent workers */
	FANOUT_SERIAL,		/* inline in the caller, one after another: baseline, thread-unsafe APIs */
	FANOUT_EVENTS,		/* calls that do not block, driven in the caller's thread by an event
				 * driver (fanout_group_new_driven): the asynchronous model */
};

enum fanout_state {
	FANOUT_CALL_PENDING,	/* the group has not run yet */
	FANOUT_CALL_OK,		/* fn returned 0 before the deadline */
	FANOUT_CALL_FAILED,	/* fn returned non-zero, or could not be launched (err says so) */
	FANOUT_CALL_TIMEDOUT,	/* did not finish by the deadline */
	FANOUT_CALL_SKIPPED,	/* not run: a dependency failed, timed out or was skipped */
	FANOUT_CALL_CANCELLED,	/* under way when fanout_group_cancel() stopped the run */
};

struct fanout_result {
	const char *name;	/* the call's name, valid until fanout_group_free() */
	enum fanout_state state;
	int rc;			/* fn's return value when state is OK or FAILED, else 0 */
	enum fanout_err err;	/* FANOUT_ETHREAD when no thread could run it, else FANOUT_OK */
	int64_t start_us;	/* start, as an offset from fanout_group_run()'s start; -1 if never started */
	int64_t duration_us;	/* run time; for a timed-out call, until the group gave up; -1 if never started */
};

/* Process-wide limits, given once to fanout_init(). Zero fields take the defaults. */
struct fanout_limits {
	size_t max_inflight;	/* calls admitted and not yet finished, all groups (default 1024) */
	size_t pool_threads;	/* persistent workers of FANOUT_POOL (default 32) */
	size_t stack_bytes;	/* stack of each call thread and pool worker (default 256 KiB) */
};

/*
 * The event driver of a FANOUT_EVENTS group: it runs calls that do not block (say, HTTP transfers
 * of one curl multi handle), all in the caller's thread. fanout starts each call as soon as its
 * dependencies have succeeded, waits through the driver until calls finish or the deadline
 * passes, and cancels what is still under way then, so nothing outlives fanout_group_run().
 */
struct fanout_driver {
	/* Starts the call of `arg`, to end by deadline_us (on fanout_now_us()'s clock, or
	 * FANOUT_NO_DEADLINE); `token` names it in done(). Returns 0 if it is under way, else the
	 * call fails at once with that code. */
	int (*start)(void *ctx, void *arg, void *token, int64_t deadline_us);
	/* Waits up to timeout_us (FANOUT_WAIT_FOREVER: no limit) for calls to make progress, and
	 * makes it. Returns 0, or -1 if the driver failed (every call under way then fails).
	 * NULL for a driver whose groups only run step by step (fanout_group_begin): the caller's
	 * event loop waits instead. */
	int (*wait)(void *ctx, int64_t timeout_us);
	/* The token of a call that has finished, its code (0: success) in *rc; NULL when none. */
	void *(*done)(void *ctx, int *rc);
	/* Abandons the call of `arg`, still under way: the driver drops everything of it. */
	void (*cancel)(void *ctx, void *arg);
	void *ctx;
	/* Optional (NULL: none). Called from another thread by fanout_group_cancel(): makes a
	 * wait() under way, or the next one, return at once. Must be safe in any thread. */
	void (*wake)(void *ctx);
};

#define FANOUT_WAIT_FOREVER (-1)

typedef int (*fanout_fn)(void *arg);
typedef void (*fanout_release_fn)(void *arg);
typedef struct fanout_group fanout_group;

#define FANOUT_NO_DEADLINE 0

/* Sets the limits. Call once, before other threads use the module. The pool's workers start
 * with the first FANOUT_POOL group (which fails with FANOUT_ETHREAD or FANOUT_ENOMEM if they
 * cannot) and stay.
 * FANOUT_ESTATE if already initialised, FANOUT_EINVAL for out-of-range limits. */
enum fanout_err fanout_init(const struct fanout_limits *limits);

/* Waits until every call has returned (those abandoned at deadlines too), then stops the pool.
 * Groups must not be run meanwhile. fanout_init() may be called again afterwards. */
void fanout_shutdown(void);

/* Calls admitted and not yet finished, process-wide: what the bound limits. */
size_t fanout_inflight(void);

/* Now, in microseconds on CLOCK_MONOTONIC: fanout's clock, that of every deadline of this API.
 * Any thread; never fails. */
int64_t fanout_now_us(void);

/* A new empty group. deadline_us is an absolute instant on fanout_now_us()'s clock, or
 * FANOUT_NO_DEADLINE. NULL if out of memory, if the executor is unknown or the deadline
 * negative. */
fanout_group *fanout_group_new(enum fanout_executor executor, int64_t deadline_us);

/* A new empty FANOUT_EVENTS group whose calls the driver runs (copied; ctx must outlive the
 * group's run). NULL if out of memory, the driver incomplete or the deadline negative. */
fanout_group *fanout_group_new_driven(const struct fanout_driver *driver, int64_t deadline_us);

/* Adds a call. On success the group owns arg and calls release(arg) (if not NULL) when it is
 * destroyed; on error the caller keeps arg. The name is copied. In a FANOUT_EVENTS group fn may
 * be NULL: the driver runs the call. */
enum fanout_err fanout_group_add(fanout_group *g, const char *name, fanout_fn fn, void *arg,
    fanout_release_fn release);

/* Makes call `name` wait for call `dependency` to succeed; it starts as soon as all its
 * dependencies have, and is skipped if one fails. Both must already be added. Cycles are
 * reported by fanout_group_run(). */
enum fanout_err fanout_group_after(fanout_group *g, const char *name, const char *dependency);

/* Runs the group; returns when every call has finished or at the deadline. FANOUT_OK means the
 * group ran and the results are set (some calls may have failed); FANOUT_ECANCELED that it was
 * cancelled, results set too; any other value means nothing ran: FANOUT_ECYCLE, FANOUT_EBUSY,
 * FANOUT_ESTATE (run twice, or no fanout_init). */
enum fanout_err fanout_group_run(fanout_group *g);

/*
 * The same run without waiting, for a caller that owns an event loop (FANOUT_EVENTS groups only).
 * fanout_group_begin() does what fanout_group_run() does up to its first wait: it starts the
 * calls that are ready. The loop then calls fanout_group_advance() whenever the driver may have
 * calls done, once the deadline (fanout_group_deadline) has passed, and after
 * fanout_group_cancel(): it collects the finished calls and starts what they made ready. Both
 * return FANOUT_EINPROGRESS while calls are under way; then what fanout_group_run() would have
 * returned, the results set and nothing of the group left in the driver (and the same again at
 * every later advance). The driver's wait() is not used.
 */
enum fanout_err fanout_group_begin(fanout_group *g);
enum fanout_err fanout_group_advance(fanout_group *g);

/* The group's deadline, as given (FANOUT_NO_DEADLINE: none). */
int64_t fanout_group_deadline(const fanout_group *g);

/* Stops a run early, say because whoever wanted the results has gone. The one call of this API
 * that another thread may make on a group, from before its run until fanout_group_free() (the
 * two threads must agree on when the group is freed). fanout_group_run() then returns
 * FANOUT_ECANCELED as soon as it notices: at once for THREADS and POOL, after the call under way
 * for SERIAL, through the driver's wake() for EVENTS (at the next fanout_group_advance() for a
 * group run step by step). Calls under way are CANCELLED (they still
 * end in their own time, as timed-out ones do; one that fails once told to stop is CANCELLED
 * too, and one that succeeds meanwhile may keep its OK), calls not started are SKIPPED; a group
 * cancelled before it runs runs nothing. */
void fanout_group_cancel(fanout_group *g);

/* Number of calls, and the result of call i (in the order added); NULL if i is out of range. */
size_t fanout_group_size(const fanout_group *g);
const struct fanout_result *fanout_group_result(const fanout_group *g, size_t i);

/* Index of the call named `name`, or -1. */
long fanout_group_find(const fanout_group *g, const char *name);

/* Drops the caller's reference. Calls still running keep the group alive until they return. */
void fanout_group_free(fanout_group *g);

/* Inside a call: microseconds left before its group's deadline (<= 0 once passed, and 0 once the
 * group is cancelled), so a blocking client can bound its own wait and stop when nobody wants
 * its answer. INT64_MAX without a deadline or outside a call. */
int64_t fanout_time_left_us(void);

/* Short names, for logs and tests: "ok", "failed", "timeout", "skipped", "cancelled", "pending";
 * and errors. */
const char *fanout_state_name(enum fanout_state state);
const char *fanout_strerror(enum fanout_err err);

#endif
