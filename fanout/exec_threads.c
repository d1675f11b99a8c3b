/* exec_threads.c - FANOUT_THREADS: one new detached thread per call. */
#include "internal.h"

static void *
call_thread(void *arg)
{
	fanout_call_execute(arg);
	return NULL;
}

static void
threads_launch(fanout_group *g, struct call_list *ready)
{
	struct call *c;
	pthread_t tid;

	while ((c = call_list_pop(ready)) != NULL)
		if (pthread_create(&tid, fanout_runtime_thread_attr(), call_thread, c) != 0)
			fanout_call_abandon(c, FANOUT_ETHREAD);
	(void)g;
}

const struct fanout_exec fanout_exec_threads = { .launch = threads_launch };
