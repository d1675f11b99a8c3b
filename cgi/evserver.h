/* evserver.h - the event server: loops that own the FastCGI connections and the backends. */
#ifndef CGI_EVSERVER_H
#define CGI_EVSERVER_H

#include "cgi/server.h"

/* server_run_fastcgi() for o->model SERVER_EVENT: o->loops threads, each an event loop on its
 * own epoll that accepts on listen_fd (EPOLLEXCLUSIVE: one loop wakes per connection) and owns
 * the connections it accepted, their requests and its backends' connections. The same contract
 * otherwise: SIGHUP reloads, SIGTERM/SIGINT drain (idle connections closed at once, the others
 * after their answer, up to o->grace_ms). */
int evserver_run(int listen_fd, const struct server_opts *o, void (*reload)(void));

#endif
