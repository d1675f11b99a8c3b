/* cgi.c - one plain CGI request: its parameters from the environment, its answer on stdout. */
#include "cgi/serve/cgi.h"

#include <stdio.h>
#include <stdlib.h>

#include "cgi/request/handler.h"
#include "cgi/request/multi.h"

/* The environment holds one value per name: the first call gives it, the next NULL. */
static const char *
cgi_param(void *ctx, const char *name, size_t *cursor)
{
	(void)ctx;
	if (cursor != NULL && (*cursor)++ > 0)
		return NULL;
	return getenv(name);
}

static int
cgi_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
}

int
cgi_run(struct cfg *cfg)
{
	struct http_io io = { .param = cgi_param, .write = cgi_write };

	handler_serve(cfg, &io);
	multi_thread_end();
	return 0;
}
