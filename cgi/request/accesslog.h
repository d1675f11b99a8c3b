/* accesslog.h - one line per request on stderr: who asked what, the answer, each backend. */
#ifndef CGI_ACCESSLOG_H
#define CGI_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

#include "cgi/request/outcome.h"

enum accesslog_format {
	ACCESSLOG_TEXT,
	ACCESSLOG_JSON,
	ACCESSLOG_OFF,
};

struct access_entry {
	const char *request_id;
	const char *method;	/* NULL if the request had none */
	const char *path;	/* the raw path, without the query; NULL if none */
	size_t path_len;
	int status;		/* RESPOND_STATUS_CLIENT_GONE: the client went away before the
				 * answer */
	int64_t total_us;
	const struct outcomes *calls;	/* how each backend call ended; NULL: none ran */
};

/* Picks the format; "text", "json" or "off". -1 for any other name. Call before threads. */
int accesslog_set_format(const char *name);

/* Writes the entry as one line with one write(2), so that lines never interleave. */
void accesslog_write(const struct access_entry *e);

#endif
