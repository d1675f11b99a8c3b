/* handler.h - one HTTP request, from its parameters to its response. */
#ifndef CGI_HANDLER_H
#define CGI_HANDLER_H

#include "cgi/config.h"
#include "cgi/respond.h"

/* Once at start: seeds the generator of request ids. -1 on failure. */
int handler_init(void);

/* Serves one request read through io with the config (calls that outlive the request take
 * references to it), then counts it in the metrics and writes its access log line. Never
 * fails: every error becomes a response (or, when the client is gone, nothing). */
void handler_serve(struct cfg *cfg, const struct http_io *io);

#endif
