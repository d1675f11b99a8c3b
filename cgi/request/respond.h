/* respond.h - writing HTTP responses: the composed fan-out answer, and JSON errors. */
#ifndef CGI_RESPOND_H
#define CGI_RESPOND_H

#include <stdbool.h>
#include <stdint.h>

#include "cgi/request/io.h"
#include "cgi/request/outcome.h"
#include "cgi/request/vars.h"
#include "fanout/fanout.h"

/* The status the access log and the metrics give a request whose client went away before the
 * answer (nginx's own code for it): nothing was answered. */
#define RESPOND_STATUS_CLIENT_GONE 499

/* How writing a response went. */
enum respond_result {
	RESPOND_OK,
	RESPOND_CLIENT_GONE,	/* the write failed: the web server has closed the connection */
	RESPOND_NO_MEMORY,	/* nothing was written: no memory to compose the response */
};

/* Writes `status` with body {"error": {"status": N, "message": "..."}}; extra_headers are whole
 * "Name: value\r\n" lines or NULL. Without memory for a body, the status goes with an empty one. */
enum respond_result respond_error(const struct http_io *io, int status, const char *extra_headers,
    const char *request_id, bool head_only, const char *message);

/* Writes a 500 "out of memory" without allocating anything: the answer when there was no memory
 * for the one meant. Never RESPOND_NO_MEMORY. */
enum respond_result respond_no_memory(const struct http_io *io, const char *request_id,
    bool head_only);

/* Writes `status` with a body of content_type as it is. */
enum respond_result respond_body(const struct http_io *io, int status, const char *content_type,
    const char *request_id, const char *body, size_t len, bool head_only);

/* Writes the composed answer of ep's backends from their settled outcomes: one data entry per
 * backend in config order, errors for the failed ones, the status they imply (in *status),
 * Server-Timing, and the timing object if ep exposes it. */
enum respond_result respond_fanout(const struct http_io *io, const struct cfg_endpoint *ep,
    const struct outcomes *o, const char *request_id, int64_t total_us, bool head_only,
    int *status);

#endif
