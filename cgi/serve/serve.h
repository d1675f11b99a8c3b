/* server.h - serving requests: FastCGI on a socket with N threads, or one plain CGI request. */
#ifndef CGI_SERVER_H
#define CGI_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "cgi/config/config.h"

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

/* Serves FastCGI requests on listen_fd with o->threads threads, each request with the config in
 * force (site_get), calling reload() at each SIGHUP, until SIGTERM or SIGINT. A connection that
 * sends nothing, or stops mid-request, or does not take its answer, for o->idle_timeout_s is
 * closed, and so is a kept one idle that long. At the stop it drains: the health check answers
 * 503, accepting stops and requests in progress finish (up to o->grace_ms). Returns the exit
 * status once every thread has ended; if some are still held by open connections after the
 * grace, ends the process itself (_exit(0)). Call with SIGTERM, SIGINT and SIGHUP blocked
 * (server_block_signals). */
int server_run_fastcgi(int listen_fd, const struct server_opts *o, void (*reload)(void));

/* For both servers: logs how many of `wanted` workers (`what`: "threads", "event loops")
 * started; false if none did. */
bool server_started(size_t started, size_t wanted, const char *what);

/* For both servers: waits for SIGTERM or SIGINT, calling reload() at each SIGHUP meanwhile, then
 * logs the stop and turns the health check to draining. With the signals blocked
 * (server_block_signals). */
void server_wait_and_drain(void (*reload)(void));

/* Serves the one request of a plain CGI invocation (environment, stdout). Returns the exit
 * status. */
int server_run_cgi(struct cfg *cfg);

/* Blocks the signals the main thread waits for, so that every thread started later inherits
 * the mask; ignores SIGPIPE (a client that went away is seen as a failed write). -1 on error. */
int server_block_signals(void);

#endif
