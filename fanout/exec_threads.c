/* exec_threads.c - FANOUT_THREADS: one new detached thread per call. */
#include "fanout/internal.h"

static void *
call_thread(void *arg)
{
	call_execute(arg);
	return NULL;
}

void
threads_launch(struct call_list *ready)
{
	struct call *c;
	pthread_t tid;

	while ((c = call_list_pop(ready)) != NULL)
		if (pthread_create(&tid, runtime_thread_attr(), call_thread, c) != 0)
			call_abandon(c, FANOUT_ETHREAD);
}
