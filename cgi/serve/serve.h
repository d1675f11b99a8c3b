/* serve.h - what the two FastCGI servers share: their options, and the lifecycle of the process
 * that runs one (lifecycle.c): the signal mask, the workers started, the wait for the stop and
 * the turn to draining. Each server's entry is in its own header (threads/threads.h,
 * event/evserver.h); main.c picks one. */
#ifndef CGI_SERVE_H
#define CGI_SERVE_H

#include <stdbool.h>
#include <stddef.h>

/* The server models: the classic one (libfcgi, a thread per connection) and the asynchronous
 * one (event loops own the connections: evserver.h). */
enum server_model {
	SERVER_THREADS,
	SERVER_EVENT,
};

struct server_opts {
	enum server_model model;
	size_t threads;		/* SERVER_THREADS: request threads */
	size_t loops;		/* SERVER_EVENT: event loops */
	long grace_ms;		/* how long a stop waits for the requests in progress */
	long idle_timeout_s;	/* how long a connection may leave a read or a write waiting */
	size_t max_connections;	/* SERVER_EVENT: FastCGI connections open; 0: its default */
	size_t max_pending_output_mb;	/* SERVER_EVENT: answers not taken, all connections; 0:
					 * its default */
};

/* For both servers: logs how many of `wanted` workers (`what`: "threads", "event loops")
 * started; false if none did. */
bool server_started(size_t started, size_t wanted, const char *what);

/* For both servers: waits for SIGTERM or SIGINT, calling reload() at each SIGHUP meanwhile, then
 * logs the stop and turns the health check to draining. With the signals blocked
 * (server_block_signals). */
void server_wait_and_drain(void (*reload)(void));

/* Whether SIGTERM or SIGINT is pending, blocked until server_wait_and_drain takes it: a start
 * that takes long looks, and stops starting. */
bool server_stop_pending(void);

/* Blocks the signals the main thread waits for, so that every thread started later inherits
 * the mask; ignores SIGPIPE (a client that went away is seen as a failed write). -1 on error. */
int server_block_signals(void);

#endif
