/* offload.c - threads that run blocking work for the event loops and hand it back to them. */
#include "cgi/serve/event/offload.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* The stack of a thread that runs a group: fanout's own call threads have theirs. */
#define OFFLOAD_STACK (256 * 1024)
/* Idle threads kept ready beyond the jobs queued, so that a job never waits for a thread to be
 * made; and how many threads a worker makes at most before it runs its own job (a burst is
 * met by a doubling tree of threads, each made by another offload thread). */
#define OFFLOAD_SPARE 1
#define OFFLOAD_GROW 2

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct offload_job *head, *tail;
	size_t queued;		/* jobs no thread has taken yet */
	size_t waiting;		/* idle threads */
	size_t starting;	/* threads made that have not looked for a job yet */
	size_t threads;		/* all of them */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0, 0 };

static void *worker(void *arg);

/* The next job, or NULL when this thread is to end (too many idle). pool.mu held. */
static struct offload_job *
next_job(void)
{
	struct offload_job *job;

	while (pool.head == NULL) {
		if (pool.waiting >= OFFLOAD_IDLE_MAX) {
			pool.threads--;
			return NULL;
		}
		pool.waiting++;
		pthread_cond_wait(&pool.work, &pool.mu);
		pool.waiting--;
	}
	job = pool.head;
	if ((pool.head = job->next) == NULL)
		pool.tail = NULL;
	pool.queued--;
	return job;
}

/* Starts one more thread; -1 if it cannot be. */
static int
worker_start(void)
{
	pthread_attr_t attr;
	pthread_t tid;
	int rc = -1;

	if (pthread_attr_init(&attr) != 0)
		return -1;
	if (pthread_attr_setstacksize(&attr, OFFLOAD_STACK) == 0 &&
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0)
		rc = pthread_create(&tid, &attr, worker, NULL) == 0 ? 0 : -1;
	pthread_attr_destroy(&attr);
	return rc;
}

/*
 * Makes the threads the queue wants (up to OFFLOAD_GROW), on an offload thread: made on a loop,
 * each cost its accepting and its connections tens of microseconds, and a burst of blocking
 * requests thousands of them. Counted before they are made, so that two makers cannot pass the
 * bound. pool.mu held (released while a thread is made).
 */
static void
grow(void)
{
	for (int i = 0; i < OFFLOAD_GROW && pool.threads < OFFLOAD_MAX &&
	    pool.queued + OFFLOAD_SPARE > pool.waiting + pool.starting; i++) {
		int rc;

		pool.threads++;
		pool.starting++;
		pthread_mutex_unlock(&pool.mu);
		rc = worker_start();
		pthread_mutex_lock(&pool.mu);
		if (rc != 0) {		/* the queue waits for the threads there are */
			pool.threads--;
			pool.starting--;
			return;
		}
	}
}

static void *
worker(void *arg)
{
	struct offload_job *job;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	pool.starting--;
	while ((job = next_job()) != NULL) {
		grow();
		pthread_mutex_unlock(&pool.mu);
		job->run(job->ctx);
		loop_post(job->loop, &job->back);	/* job belongs to the loop from here */
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

int
offload_submit(struct offload_job *job)
{
	bool first;

	job->next = NULL;
	pthread_mutex_lock(&pool.mu);
	if (pool.tail != NULL)
		pool.tail->next = job;
	else
		pool.head = job;
	pool.tail = job;
	pool.queued++;
	/* The threads grow on the offload threads themselves (grow()); only the very first is
	 * made here, on the loop. Idle threads never all end, so there is always one. */
	first = pool.threads == 0;
	if (first) {
		pool.threads++;
		pool.starting++;
	} else
		pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	if (!first || worker_start() == 0)
		return 0;
	pthread_mutex_lock(&pool.mu);
	pool.starting--;
	/* No new thread: the job waits for one of the others; with none at all, it is taken back
	 * (unless a thread that just became idle took it). */
	if (--pool.threads > 0) {
		pthread_mutex_unlock(&pool.mu);
		return 0;
	}
	for (struct offload_job **p = &pool.head, *prev = NULL; *p != NULL; prev = *p,
	    p = &(*p)->next)
		if (*p == job) {
			*p = job->next;
			if (pool.tail == job)
				pool.tail = prev;
			pool.queued--;
			pthread_mutex_unlock(&pool.mu);
			return -1;
		}
	pthread_mutex_unlock(&pool.mu);
	return 0;
}
