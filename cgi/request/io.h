/* io.h - the request pipeline's transport port: where a request's parameters come from and its
 * answer goes, whichever server (the threads one, the event one, plain CGI) carries it. */
#ifndef CGI_REQUEST_IO_H
#define CGI_REQUEST_IO_H

#include <stddef.h>

#include "cgi/request/vars.h"
#include "fanout/fanout.h"

struct http_io {
	vars_param_fn param;	/* a request parameter (REQUEST_METHOD, HTTP_*), NULL if absent;
				 * a repeated one occurrence by occurrence (see vars.h) */
	int (*write)(void *ctx, const char *data, size_t len);	/* -1: the client is gone */
	/* handler_serve(): runs g to its end on the caller's thread, as fanout_group_run(g)
	 * does; a server may watch its client meanwhile and cancel g if it goes. NULL:
	 * fanout_group_run(g). */
	enum fanout_err (*run)(void *ctx, fanout_group *g);
	void *ctx;		/* of param, write and run */
	const struct fanout_driver *driver;	/* the "multi" executor's group driver; NULL:
						 * this thread's own (multi_driver()) */
};

#endif
