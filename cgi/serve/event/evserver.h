/* evserver.h - the event server: loops that own the FastCGI connections and the backends. */
#ifndef CGI_EVSERVER_H
#define CGI_EVSERVER_H

#include "cgi/serve/serve.h"

/* Serves FastCGI requests on listen_fd as threads_run() (threads/threads.h) does, with o->loops
 * threads, each an event loop on its own epoll that accepts on listen_fd (EPOLLEXCLUSIVE: one
 * loop wakes per connection) and owns the connections it accepted, their requests and its
 * backends' connections. The same contract otherwise: SIGHUP reloads, SIGTERM/SIGINT drain (idle
 * connections closed at once, the others after their answer, up to o->grace_ms). At
 * o->max_connections open, or out of descriptors, the longest-idle kept connections are closed to
 * make room (else accepting pauses); past o->max_pending_output_mb of answers not taken, the
 * connections that hold the most are not read until theirs drain. */
/* Its defaults for limits.max_connections (what FCGI_GET_VALUES has always answered) and
 * limits.max_pending_output_mb (256 connections holding the 256 KiB of answers at which each
 * stops being read). */
#define EVSERVER_MAX_CONNECTIONS 10000
#define EVSERVER_PENDING_OUTPUT_MB 64

int evserver_run(int listen_fd, const struct server_opts *o, void (*reload)(void));

#endif
