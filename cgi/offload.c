/* offload.c - threads that run blocking work for the event loops and hand it back to them. */
#include "cgi/offload.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/* The stack of a thread that runs a group: fanout's own call threads have theirs. */
#define OFFLOAD_STACK (256 * 1024)

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;
	struct offload_job *head, *tail;
	size_t queued;		/* jobs no thread has taken yet */
	size_t waiting;		/* idle threads */
	size_t threads;		/* all of them */
} pool = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, NULL, NULL, 0, 0, 0 };

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

static void *
worker(void *arg)
{
	struct offload_job *job;

	(void)arg;
	pthread_mutex_lock(&pool.mu);
	while ((job = next_job()) != NULL) {
		pthread_mutex_unlock(&pool.mu);
		job->run(job->ctx);
		loop_post(job->loop, &job->back);	/* job belongs to the loop from here */
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
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

int
offload_submit(struct offload_job *job)
{
	bool start;

	job->next = NULL;
	pthread_mutex_lock(&pool.mu);
	if (pool.tail != NULL)
		pool.tail->next = job;
	else
		pool.head = job;
	pool.tail = job;
	pool.queued++;
	/* A thread more if every idle one has a job already, up to the bound; the thread is
	 * counted now, so that two loops cannot both pass the bound. */
	start = pool.queued > pool.waiting && pool.threads < OFFLOAD_MAX;
	if (start)
		pool.threads++;
	else
		pthread_cond_signal(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	if (!start || worker_start() == 0)
		return 0;
	pthread_mutex_lock(&pool.mu);
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
