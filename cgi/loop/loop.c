/* loop.c - an event loop for one thread: descriptors on its own epoll, timers, and jobs that
 * other threads post to it. After redis' ae.c, on epoll only. */
#include "cgi/loop/loop.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/clock.h"

#define BATCH 64

struct deferred {
	void (*fn)(void *ctx);
	void *ctx;
};

struct loop {
	int epfd;
	bool stopping;
	/* Timers: a binary heap by `at`, 1-based (slot 0 means "not armed"). */
	struct loop_timer **heap;
	size_t ntimers, heap_cap;
	/* Jobs from other threads, and the eventfd that wakes the loop for them. */
	pthread_mutex_t mu;
	struct loop_job *jobs_head, *jobs_tail;
	struct loop_io wake_io;
	/* Frees waiting for the end of the batch. */
	struct deferred *deferred;
	size_t ndeferred, deferred_cap;
	bool dispatching;
};

/* ---- Timers ---- */

static void
heap_place(struct loop *l, struct loop_timer *t, size_t slot)
{
	l->heap[slot] = t;
	t->slot = slot;
}

static void
heap_up(struct loop *l, size_t slot)
{
	struct loop_timer *t = l->heap[slot];

	while (slot > 1 && l->heap[slot / 2]->at > t->at) {
		heap_place(l, l->heap[slot / 2], slot);
		slot /= 2;
	}
	heap_place(l, t, slot);
}

static void
heap_down(struct loop *l, size_t slot)
{
	struct loop_timer *t = l->heap[slot];

	for (;;) {
		size_t child = slot * 2;

		if (child > l->ntimers)
			break;
		if (child < l->ntimers && l->heap[child + 1]->at < l->heap[child]->at)
			child++;
		if (l->heap[child]->at >= t->at)
			break;
		heap_place(l, l->heap[child], slot);
		slot = child;
	}
	heap_place(l, t, slot);
}

void
loop_timer_init(struct loop_timer *t, void (*fn)(void *ctx), void *ctx)
{
	*t = (struct loop_timer){ .fn = fn, .ctx = ctx };
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	size_t slot = t->slot;
	struct loop_timer *last;

	if (slot == 0)
		return;
	t->slot = 0;
	last = l->heap[l->ntimers--];
	if (last == t)
		return;
	heap_place(l, last, slot);
	heap_up(l, slot);
	heap_down(l, last->slot);
}

int
loop_timer_set(struct loop *l, struct loop_timer *t, int64_t at)
{
	loop_timer_stop(l, t);
	if (l->ntimers + 1 >= l->heap_cap) {
		size_t cap = l->heap_cap ? l->heap_cap * 2 : 64;
		struct loop_timer **heap = realloc(l->heap, cap * sizeof(*heap));

		if (heap == NULL)
			return -1;
		l->heap = heap;
		l->heap_cap = cap;
	}
	t->at = at;
	heap_place(l, t, ++l->ntimers);
	heap_up(l, l->ntimers);
	return 0;
}

/* Fires the timers that are due; a timer's fn may arm it again, for later. */
static void
timers_run(struct loop *l)
{
	int64_t now = clock_now_us();

	while (l->ntimers > 0 && l->heap[1]->at <= now) {
		struct loop_timer *t = l->heap[1];

		loop_timer_stop(l, t);
		t->fn(t->ctx);
	}
}

/* epoll_wait's timeout: until the next timer, in ms rounded up; -1 without one. */
static int
timers_timeout_ms(const struct loop *l)
{
	int64_t left;

	if (l->ntimers == 0)
		return -1;
	left = l->heap[1]->at - clock_now_us();
	if (left <= 0)
		return 0;
	return left / 1000 >= 60000 ? 60000 : (int)((left + 999) / 1000);
}

/* ---- Descriptors ---- */

int
loop_io_add(struct loop *l, struct loop_io *io, int fd, uint32_t events, loop_io_fn fn, void *ctx)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	*io = (struct loop_io){ .fd = fd, .events = events, .fn = fn, .ctx = ctx };
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
		return -1;
	io->added = true;
	return 0;
}

int
loop_io_set(struct loop *l, struct loop_io *io, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = io };

	if (io->events == events)
		return 0;
	if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
		return -1;
	io->events = events;
	return 0;
}

void
loop_io_del(struct loop *l, struct loop_io *io)
{
	if (!io->added)
		return;
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->added = false;
}

/* ---- Jobs from other threads ---- */

void
loop_post(struct loop *l, struct loop_job *job)
{
	uint64_t one = 1;
	bool first;

	job->next = NULL;
	pthread_mutex_lock(&l->mu);
	first = l->jobs_head == NULL;
	if (l->jobs_tail != NULL)
		l->jobs_tail->next = job;
	else
		l->jobs_head = job;
	l->jobs_tail = job;
	pthread_mutex_unlock(&l->mu);
	/* One wake-up per batch of jobs. An eventfd write fails only when its counter would
	 * overflow, which one increment per batch cannot make happen. */
	if (first)
		(void)!write(l->wake_io.fd, &one, sizeof(one));
}

static void
jobs_run(void *ctx, uint32_t events)
{
	struct loop *l = ctx;
	struct loop_job *job;
	uint64_t count;

	(void)events;
	/* Resets the eventfd's count; it can only fail when the count is already 0 (EAGAIN),
	 * which changes nothing: the jobs are taken below either way. */
	(void)!read(l->wake_io.fd, &count, sizeof(count));
	pthread_mutex_lock(&l->mu);
	job = l->jobs_head;
	l->jobs_head = l->jobs_tail = NULL;
	pthread_mutex_unlock(&l->mu);
	while (job != NULL) {
		struct loop_job *next = job->next;

		job->fn(job->ctx);	/* may free job */
		job = next;
	}
}

/* ---- The loop ---- */

int
loop_defer(struct loop *l, void (*fn)(void *ctx), void *ctx)
{
	if (!l->dispatching) {
		fn(ctx);
		return 0;
	}
	if (l->ndeferred == l->deferred_cap) {
		size_t cap = l->deferred_cap ? l->deferred_cap * 2 : 16;
		struct deferred *d = realloc(l->deferred, cap * sizeof(*d));

		if (d == NULL)
			return -1;
		l->deferred = d;
		l->deferred_cap = cap;
	}
	l->deferred[l->ndeferred++] = (struct deferred){ fn, ctx };
	return 0;
}

struct loop *
loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	int wake_fd = -1;

	if (l == NULL)
		return NULL;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto fail;
	if ((wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0 ||
	    pthread_mutex_init(&l->mu, NULL) != 0)
		goto fail;
	if (loop_io_add(l, &l->wake_io, wake_fd, EPOLLIN, jobs_run, l) != 0) {
		pthread_mutex_destroy(&l->mu);
		goto fail;
	}
	return l;
fail:
	if (wake_fd >= 0)
		close(wake_fd);
	if (l->epfd >= 0)
		close(l->epfd);
	free(l);
	return NULL;
}

void
loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	close(l->wake_io.fd);
	close(l->epfd);
	pthread_mutex_destroy(&l->mu);
	free(l->heap);
	free(l->deferred);
	free(l);
}

void
loop_stop(struct loop *l)
{
	l->stopping = true;
}

/* Runs what waited for the end of the batch. Outside a batch loop_defer() runs its function at
 * once, so what these defer runs right away. */
static void
deferred_run(struct loop *l)
{
	l->dispatching = false;
	for (size_t i = 0; i < l->ndeferred; i++)
		l->deferred[i].fn(l->deferred[i].ctx);
	l->ndeferred = 0;
}

int
loop_run(struct loop *l)
{
	struct epoll_event events[BATCH];

	while (!l->stopping) {
		int n = epoll_wait(l->epfd, events, BATCH, timers_timeout_ms(l));

		if (n < 0 && errno != EINTR)
			return -1;
		l->dispatching = true;
		for (int i = 0; i < n; i++) {
			struct loop_io *io = events[i].data.ptr;

			if (io->added)
				io->fn(io->ctx, events[i].events);
		}
		deferred_run(l);
		l->dispatching = true;
		timers_run(l);
		deferred_run(l);
	}
	l->stopping = false;
	return 0;
}
