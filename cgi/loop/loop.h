/* loop.h - an event loop for one thread: descriptors on its own epoll, timers, and jobs that
 * other threads post to it. */
#ifndef CGI_LOOP_H
#define CGI_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Everything registered is the caller's memory (struct loop_io, struct loop_timer, struct
 * loop_job), embedded in its own objects: the loop allocates nothing per event. A callback may
 * add, change or remove any registration, its own included; an object whose loop_io may still
 * have an event pending in the batch being dispatched is freed only after loop_defer() says so.
 * Times are clock_now_us() microseconds (CLOCK_MONOTONIC).
 */
struct loop;

/* Called with the epoll events (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP) seen on fd. */
typedef void (*loop_io_fn)(void *ctx, uint32_t events);

struct loop_io {
	int fd;
	uint32_t events;
	loop_io_fn fn;
	void *ctx;
	bool added;
};

struct loop_timer {
	int64_t at;		/* when it fires */
	size_t slot;		/* its place in the heap, 0: not armed */
	void (*fn)(void *ctx);
	void *ctx;
};

/* A job for the loop's thread; posted from any thread. */
struct loop_job {
	void (*fn)(void *ctx);
	void *ctx;
	struct loop_job *next;
};

/* A new loop; NULL if out of memory or descriptors. */
struct loop *loop_new(void);

/* Frees the loop, once nothing of it is registered any more or the caller drops it all. */
void loop_free(struct loop *l);

/* Watches fd for events (EPOLLIN, EPOLLOUT, EPOLLEXCLUSIVE...), calling fn(ctx, events).
 * 0, or -1 with errno (the registration is then not made). */
int loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn,
    void *ctx);

/* Changes what io is watched for; nothing when unchanged. 0, or -1 with errno. */
int loop_io_set(struct loop *l, struct loop_io *io, uint32_t events);

/* Stops watching io's descriptor (before it is closed). Safe on one never added. */
void loop_io_del(struct loop *l, struct loop_io *io);

/* Prepares a timer (not armed). */
void loop_timer_init(struct loop_timer *t, void (*fn)(void *ctx), void *ctx);

/* Arms t to fire at `at` (re-arms it if armed). -1 if out of memory (t is then not armed). */
int loop_timer_set(struct loop *l, struct loop_timer *t, int64_t at);

/* Disarms t; nothing if it is not armed. */
void loop_timer_stop(struct loop *l, struct loop_timer *t);

/* Whether t is armed. */
static inline bool
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

/* From any thread: runs job->fn(job->ctx) in the loop's thread soon, in posting order. The job
 * is the caller's until its fn runs. */
void loop_post(struct loop *l, struct loop_job *job);

/* Runs fn(ctx) once the events of the current batch are dispatched (then at once, if no batch
 * is being dispatched): where an object that owns a loop_io is freed. -1 if out of memory. */
int loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx);

/* Dispatches events, timers and posted jobs until loop_stop(). 0, or -1 if epoll failed. */
int loop_run(struct loop *l);

/* Makes loop_run() return after the current batch: from the loop's thread (a callback). */
void loop_stop(struct loop *l);

#endif
