/* handler.h - one HTTP request, from its parameters to its response. */
#ifndef CGI_HANDLER_H
#define CGI_HANDLER_H

#include <stdbool.h>

#include "cgi/config/config.h"
#include "cgi/request/respond.h"
#include "fanout/fanout.h"

/* Once at start: seeds the generator of request ids. -1 on failure. */
int handler_init(void);

/* From SIGTERM on the server drains: the health check answers 503 "draining". From any
 * thread. */
void handler_set_draining(void);

/* Serves one request read through io with the config (calls that outlive the request take
 * references to it), then counts it in the metrics and writes its access log line. Never
 * fails: every error becomes a response (or, when the client is gone, nothing). */
void handler_serve(struct cfg *cfg, const struct http_io *io);

/*
 * The same in two halves, for a server that does not wait (the event server). handler_begin()
 * answers at once what needs no backend (errors, the health check, the metrics: NULL then, the
 * request counted and logged), else returns the request with its backend calls planned: the
 * caller runs handler_group() (fanout_group_begin/advance on a loop for the "multi" executor,
 * whose driver is io->driver; fanout_group_run on a thread for the others) and then calls
 * handler_end() with the run's code, which writes the answer, counts, logs and frees. io (and
 * what its ctx points to) must stay valid until then; its writes may come from either half.
 */
struct served;
struct served *handler_begin(struct cfg *cfg, const struct http_io *io);
fanout_group *handler_group(const struct served *s);
/* Whether the group is one for a loop (the "multi" executor: io->driver's), or a blocking one. */
bool handler_on_loop(const struct served *s);
void handler_end(struct served *s, enum fanout_err err);

#endif
