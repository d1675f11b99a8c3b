/* cgi.h - serving the one request of a plain CGI invocation. */
#ifndef CGI_SERVE_CGI_H
#define CGI_SERVE_CGI_H

#include "cgi/config/config.h"

/* Serves the one request of a plain CGI invocation (environment, stdout) with cfg. Returns the
 * exit status. */
int cgi_run(struct cfg *cfg);

#endif
