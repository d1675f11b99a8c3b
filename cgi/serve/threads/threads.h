/* threads.h - the threads server: libfcgi, a thread per FastCGI connection. */
#ifndef CGI_SERVE_THREADS_H
#define CGI_SERVE_THREADS_H

#include "cgi/serve/serve.h"

/* Serves FastCGI requests on listen_fd with o->threads threads, each request with the config in
 * force (site_get), calling reload() at each SIGHUP, until SIGTERM or SIGINT. A connection that
 * sends nothing, or stops mid-request, or does not take its answer, for o->idle_timeout_s is
 * closed, and so is a kept one idle that long. At the stop it drains: the health check answers
 * 503, accepting stops and requests in progress finish (up to o->grace_ms). Returns the exit
 * status once every thread has ended; if some are still held by open connections after the
 * grace, ends the process itself (_exit(0)). Call with SIGTERM, SIGINT and SIGHUP blocked
 * (server_block_signals). */
int threads_run(int listen_fd, const struct server_opts *o, void (*reload)(void));

#endif
