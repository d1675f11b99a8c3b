/* exec_pool.c - FANOUT_POOL: a process-wide pool of persistent workers and their queue. */
#include "internal.h"

#include <stdlib.h>

/* The queue needs no capacity check: every queued call holds a slot of the bound, so it never
 * holds more than max_inflight calls. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t work;	/* signalled when a call is queued, broadcast on stop */
	struct call_list queue;
	pthread_t *workers;
	size_t nworkers, nidle;
	size_t waking;		/* workers signalled that have not taken the lock yet */
	bool stop;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER };

/*
 * Wakes one idle worker if calls are queued and no wake-up is already on its way. Waking one at
 * a time, each woken worker waking the next, costs a batch one wake-up in the launcher and no
 * worker wakes for nothing when calls are short; blocking calls still spread over the workers
 * within microseconds. Called with pool.mu held.
 */
static void
wake_one(void)
{
	if (pool.queue.head != NULL && pool.waking == 0 && pool.nidle > 0) {
		pool.waking++;
		pthread_cond_signal(&pool.work);
	}
}

static void *
pool_worker(void *unused)
{
	struct call *c;

	(void)unused;
	pthread_mutex_lock(&pool.mu);
	for (;;) {
		while ((c = call_list_pop(&pool.queue)) == NULL && !pool.stop) {
			pool.nidle++;
			pthread_cond_wait(&pool.work, &pool.mu);
			pool.nidle--;
			if (pool.waking > 0)
				pool.waking--;
		}
		if (c == NULL)
			break;
		wake_one();
		pthread_mutex_unlock(&pool.mu);
		fanout_call_execute(c);
		pthread_mutex_lock(&pool.mu);
	}
	pthread_mutex_unlock(&pool.mu);
	return NULL;
}

static void
pool_launch(fanout_group *g, struct call_list *ready)
{
	struct call *c;

	(void)g;
	pthread_mutex_lock(&pool.mu);
	while ((c = call_list_pop(ready)) != NULL)
		call_list_push(&pool.queue, c);
	wake_one();
	pthread_mutex_unlock(&pool.mu);
}

/* Stops the workers started so far and waits for them. */
static void
pool_stop(void)
{
	pthread_mutex_lock(&pool.mu);
	pool.stop = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	for (size_t i = 0; i < pool.nworkers; i++)
		pthread_join(pool.workers[i], NULL);
	free(pool.workers);
	pool.workers = NULL;
	pool.nworkers = 0;
	pool.waking = 0;
	pool.stop = false;
}

static enum fanout_err
pool_start(size_t nthreads, size_t stack_bytes)
{
	pthread_attr_t attr;
	enum fanout_err err = FANOUT_OK;

	if (pthread_attr_init(&attr) != 0)
		return FANOUT_ENOMEM;
	if (pthread_attr_setstacksize(&attr, stack_bytes) != 0)
		err = FANOUT_EINVAL;
	else if ((pool.workers = calloc(nthreads, sizeof(*pool.workers))) == NULL)
		err = FANOUT_ENOMEM;
	while (err == FANOUT_OK && pool.nworkers < nthreads) {
		if (pthread_create(&pool.workers[pool.nworkers], &attr, pool_worker, NULL) != 0)
			err = FANOUT_ETHREAD;
		else
			pool.nworkers++;
	}
	pthread_attr_destroy(&attr);
	if (err != FANOUT_OK)
		pool_stop();
	return err;
}

const struct fanout_exec fanout_exec_pool = { .launch = pool_launch, .start = pool_start,
	.stop = pool_stop };
