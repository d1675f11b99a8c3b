/* offload.h - threads that run blocking work for the event loops and hand it back to them. */
#ifndef CGI_OFFLOAD_H
#define CGI_OFFLOAD_H

#include "cgi/loop/loop.h"

/*
 * The blocking executors (threads, pool, serial) must never run on a loop: a request of theirs
 * runs its group on one of these threads, and comes back to its loop as a posted job. Threads
 * are made as the work needs them, by the offload threads themselves (one idle thread is kept
 * ready beyond the queued jobs), never on a loop but the very first; they stay, idle, for the
 * next: nothing to size. An idle thread beyond OFFLOAD_IDLE_MAX ends. At most OFFLOAD_MAX run:
 * as many groups as fanout admits calls by default (limits.max_inflight); more jobs wait in the
 * queue for the next free thread.
 */
#define OFFLOAD_IDLE_MAX 64
#define OFFLOAD_MAX 1024

struct offload_job {
	void (*run)(void *ctx);		/* on an offload thread */
	void *ctx;
	struct loop *loop;		/* where `back` is posted once run() has returned */
	struct loop_job back;
	struct offload_job *next;	/* the queue's */
};

/* Runs job->run(job->ctx) on an offload thread, then posts job->back to job->loop. -1 if no
 * thread can take it (nothing will run). */
int offload_submit(struct offload_job *job);

#endif
