/* runtime.c - the process-wide state: limits, the bound on calls in flight, thread attributes. */
#include "internal.h"

#include <limits.h>

#define DEFAULT_MAX_INFLIGHT 1024
#define DEFAULT_POOL_THREADS 32
#define DEFAULT_STACK_BYTES (256 * 1024)

static struct {
	pthread_mutex_t mu;	/* guards init, shutdown and the wait for idle */
	pthread_cond_t idle;	/* signalled when inflight drops to zero while draining */
	atomic_bool ready;
	atomic_bool draining;
	atomic_size_t inflight;
	size_t max_inflight;
	size_t pool_threads, stack_bytes;
	atomic_bool pool_started;	/* the pool starts with its first group */
	const struct fanout_exec *pool;	/* its ops, given then: run.c names the executors */
	pthread_attr_t call_attr;	/* detached, small stack: FANOUT_THREADS */
} rt = { .mu = PTHREAD_MUTEX_INITIALIZER, .idle = PTHREAD_COND_INITIALIZER };

bool
fanout_runtime_ready(void)
{
	return atomic_load(&rt.ready);
}

enum fanout_err
fanout_runtime_admit(size_t n)
{
	size_t cur = atomic_load(&rt.inflight);

	/* All of a group's calls are admitted at once, so a group never starts half-way. */
	do {
		if (n > rt.max_inflight - cur)
			return FANOUT_EBUSY;
	} while (!atomic_compare_exchange_weak(&rt.inflight, &cur, cur + n));
	return FANOUT_OK;
}

void
fanout_runtime_release(size_t n)
{
	if (atomic_fetch_sub(&rt.inflight, n) == n && atomic_load(&rt.draining)) {
		pthread_mutex_lock(&rt.mu);
		pthread_cond_broadcast(&rt.idle);
		pthread_mutex_unlock(&rt.mu);
	}
}

size_t
fanout_inflight(void)
{
	return atomic_load(&rt.inflight);
}

const pthread_attr_t *
fanout_runtime_thread_attr(void)
{
	return &rt.call_attr;
}

/* Fills in the defaults and checks the limits; FANOUT_EINVAL if a thread could not run. */
static enum fanout_err
limits_resolve(const struct fanout_limits *in, struct fanout_limits *out)
{
	*out = in != NULL ? *in : (struct fanout_limits){ 0 };
	if (out->max_inflight == 0)
		out->max_inflight = DEFAULT_MAX_INFLIGHT;
	if (out->pool_threads == 0)
		out->pool_threads = DEFAULT_POOL_THREADS;
	if (out->stack_bytes == 0)
		out->stack_bytes = DEFAULT_STACK_BYTES;
	if (out->stack_bytes < PTHREAD_STACK_MIN)
		return FANOUT_EINVAL;
	return FANOUT_OK;
}

static enum fanout_err
call_attr_init(size_t stack_bytes)
{
	if (pthread_attr_init(&rt.call_attr) != 0)
		return FANOUT_ENOMEM;
	if (pthread_attr_setdetachstate(&rt.call_attr, PTHREAD_CREATE_DETACHED) != 0 ||
	    pthread_attr_setstacksize(&rt.call_attr, stack_bytes) != 0) {
		pthread_attr_destroy(&rt.call_attr);
		return FANOUT_EINVAL;
	}
	return FANOUT_OK;
}

enum fanout_err
fanout_init(const struct fanout_limits *limits)
{
	struct fanout_limits lim;
	enum fanout_err err;

	pthread_mutex_lock(&rt.mu);
	if (atomic_load(&rt.ready))
		err = FANOUT_ESTATE;
	else if ((err = limits_resolve(limits, &lim)) == FANOUT_OK &&
	    (err = call_attr_init(lim.stack_bytes)) == FANOUT_OK) {
		rt.max_inflight = lim.max_inflight;
		rt.pool_threads = lim.pool_threads;
		rt.stack_bytes = lim.stack_bytes;
		atomic_store(&rt.ready, true);
	}
	pthread_mutex_unlock(&rt.mu);
	return err;
}

enum fanout_err
fanout_runtime_pool_ensure(const struct fanout_exec *pool)
{
	enum fanout_err err = FANOUT_OK;

	/* A process that never runs a pool group never pays for its idle workers. */
	if (atomic_load(&rt.pool_started))
		return FANOUT_OK;
	pthread_mutex_lock(&rt.mu);
	if (!atomic_load(&rt.pool_started) &&
	    (err = pool->start(rt.pool_threads, rt.stack_bytes)) == FANOUT_OK) {
		rt.pool = pool;
		atomic_store(&rt.pool_started, true);
	}
	pthread_mutex_unlock(&rt.mu);
	return err;
}

void
fanout_shutdown(void)
{
	pthread_mutex_lock(&rt.mu);
	if (!atomic_load(&rt.ready)) {
		pthread_mutex_unlock(&rt.mu);
		return;
	}
	/* Calls abandoned at a deadline still run: wait for them, so nothing outlives the module. */
	atomic_store(&rt.draining, true);
	while (atomic_load(&rt.inflight) > 0)
		pthread_cond_wait(&rt.idle, &rt.mu);
	atomic_store(&rt.ready, false);
	atomic_store(&rt.draining, false);
	if (atomic_load(&rt.pool_started))
		rt.pool->stop();
	atomic_store(&rt.pool_started, false);
	pthread_attr_destroy(&rt.call_attr);
	pthread_mutex_unlock(&rt.mu);
}
