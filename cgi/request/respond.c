/* respond.c - writing HTTP responses: the composed fan-out answer, and JSON errors. */
#include "cgi/request/respond.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *
status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Internal Server Error";
	}
}

static enum respond_result
write_all(const struct http_io *io, const char *data, size_t len)
{
	return io->write(io->ctx, data, len) == 0 ? RESPOND_OK : RESPOND_CLIENT_GONE;
}

/* Writes head and body in one go; HEAD gets the same head (Content-Length included). */
static enum respond_result
respond_write(const struct http_io *io, int status, const char *content_type,
    const struct buf *headers, const char *request_id, const char *body, size_t len,
    bool head_only)
{
	struct buf out = BUF_INIT;
	enum respond_result rc = RESPOND_NO_MEMORY;

	if (buf_printf(&out, "Status: %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nX-Request-Id: %s\r\n%s\r\n", status, status_text(status),
	    content_type, len, request_id, buf_str(headers)) == 0 &&
	    (head_only || buf_append(&out, body, len) == 0))
		rc = write_all(io, out.data, out.len);
	buf_free(&out);
	return rc;
}

enum respond_result
respond_no_memory(const struct http_io *io, const char *request_id, bool head_only)
{
	static const char body[] = "{\"error\":{\"status\":500,\"message\":\"out of memory\"}}";
	char out[512];
	/* The request id is at most 128 characters (handler.c): the whole fits, never cut. */
	int n = snprintf(out, sizeof(out), "Status: 500 %s\r\nContent-Type: application/json\r\n"
	    "Content-Length: %zu\r\nX-Request-Id: %.160s\r\n\r\n%s", status_text(500),
	    sizeof(body) - 1, request_id, head_only ? "" : body);

	return write_all(io, out, n > 0 && (size_t)n < sizeof(out) ? (size_t)n : 0);
}

enum respond_result
respond_body(const struct http_io *io, int status, const char *content_type,
    const char *request_id, const char *body, size_t len, bool head_only)
{
	struct buf none = BUF_INIT;

	return respond_write(io, status, content_type, &none, request_id, body, len, head_only);
}

enum respond_result
respond_error(const struct http_io *io, int status, const char *extra_headers,
    const char *request_id, bool head_only, const char *message)
{
	json_t *doc = json_pack("{s:{s:i,s:s}}", "error", "status", status, "message", message);
	struct buf headers = BUF_INIT;
	char *body;
	enum respond_result rc;

	if (doc == NULL)	/* a message holding bytes that are not UTF-8 */
		doc = json_pack("{s:{s:i,s:s}}", "error", "status", status, "message",
		    status_text(status));
	body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (extra_headers != NULL)
		(void)buf_puts(&headers, extra_headers);
	/* Without memory for a body, the status alone still tells the client what happened. */
	rc = respond_write(io, status, "application/json", &headers, request_id, body ? body : "",
	    body ? strlen(body) : 0, head_only);
	buf_free(&headers);
	free(body);
	return rc;
}

/* Adds one backend to data (its JSON copied as it is: names are [A-Za-z0-9_-] and need no
 * escaping), to errors and to Server-Timing; updates the response status. */
static int
compose_one(const struct outcome *o, bool first, struct buf *data, json_t *errors,
    struct buf *timing, int *status, bool *complete)
{
	const struct cfg_backend *b = o->backend;
	const char *kind = fetch_kind_name(o->kind);
	double ms = o->duration_us > 0 ? o->duration_us / 1000.0 : 0;
	bool ok = o->kind == FETCH_OK;
	json_t *err, *message;

	if (ok)
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%ld\", ", b->name, ms, o->status);
	else if (o->status > 0)
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%s %ld\", ", b->name, ms, kind,
		    o->status);
	else
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%s\", ", b->name, ms, kind);
	if (buf_printf(data, "%s\"%s\":", first ? "" : ",", b->name) != 0 ||
	    (ok ? buf_append(data, o->json, o->json_len) : buf_puts(data, "null")) != 0)
		return -1;
	if (ok)
		return 0;
	/* The message may be a backend's or curl's text cut at a byte count, not always UTF-8,
	 * which json_string refuses: the kind then stands for it. */
	if ((message = json_string(o->message)) == NULL)
		message = json_string(kind);
	err = json_pack("{s:s,s:s}", "backend", b->name, "kind", kind);
	if (err == NULL || message == NULL) {
		json_decref(err);
		json_decref(message);
		return -1;
	}
	/* json_object_set_new and json_array_append_new take the value, even when they fail. */
	if ((o->status > 0 && json_object_set_new(err, "status", json_integer(o->status)) != 0) ||
	    json_object_set_new(err, "message", json_incref(message)) != 0) {
		json_decref(message);
		json_decref(err);
		return -1;
	}
	json_decref(message);
	if (json_array_append_new(errors, err) != 0)
		return -1;
	if (!b->required)
		*complete = false;
	else if (o->kind == FETCH_TIMEOUT)
		*status = 504;
	else if (*status != 504)
		*status = 502;
	return 0;
}

/* ,"timing":{"total_ms":T,"backends":[{"name":N,"start_ms":S,"ms":D,"outcome":O,"status":H}]}
 * for an endpoint with expose_timing: what a page needs to draw the calls as a waterfall. A call
 * that never started has null start and duration; the status is there when one was received. */
static int
compose_timing(const struct outcomes *o, int64_t total_us, struct buf *body)
{
	if (buf_printf(body, ",\"timing\":{\"total_ms\":%.1f,\"backends\":[", total_us / 1000.0))
		return -1;
	for (size_t i = 0; i < outcomes_count(o); i++) {
		const struct outcome *c = outcomes_get(o, i);
		int rc = buf_printf(body, "%s{\"name\":\"%s\",", i > 0 ? "," : "",
		    c->backend->name);

		if (rc == 0 && c->start_us >= 0)
			rc = buf_printf(body, "\"start_ms\":%.1f,\"ms\":%.1f,", c->start_us / 1000.0,
			    c->duration_us / 1000.0);
		else if (rc == 0)
			rc = buf_puts(body, "\"start_ms\":null,\"ms\":null,");
		if (rc == 0)
			rc = buf_printf(body, "\"outcome\":\"%s\"", fetch_kind_name(c->kind));
		if (rc == 0 && c->status > 0)
			rc = buf_printf(body, ",\"status\":%ld", c->status);
		if (rc != 0 || buf_puts(body, "}") != 0)
			return -1;
	}
	return buf_puts(body, "]}");
}

enum respond_result
respond_fanout(const struct http_io *io, const struct cfg_endpoint *ep, const struct outcomes *o,
    const char *request_id, int64_t total_us, bool head_only, int *status)
{
	json_t *errors = json_array();
	struct buf headers = BUF_INIT, body = BUF_INIT;
	enum respond_result rc = RESPOND_NO_MEMORY;
	bool complete = true;
	char *errors_text = NULL;

	if (errors == NULL || buf_puts(&headers, "Server-Timing: ") != 0 ||
	    buf_puts(&body, "{\"data\":{") != 0)
		goto out;
	*status = 200;
	for (size_t i = 0; i < outcomes_count(o); i++)
		if (compose_one(outcomes_get(o, i), i == 0, &body, errors, &headers, status,
		    &complete) != 0)
			goto out;
	if (buf_printf(&headers, "total;dur=%.1f\r\n", total_us / 1000.0) != 0 ||
	    (!complete && buf_puts(&headers, "X-Fanout-Complete: false\r\n") != 0) ||
	    buf_puts(&body, "}") != 0)
		goto out;
	if (json_array_size(errors) > 0 && ((errors_text = json_dumps(errors, JSON_COMPACT)) ==
	    NULL || buf_printf(&body, ",\"errors\":%s", errors_text) != 0))
		goto out;
	if (ep->expose_timing && compose_timing(o, total_us, &body) != 0)
		goto out;
	if (buf_puts(&body, "}") == 0)
		rc = respond_write(io, *status, "application/json", &headers, request_id, body.data,
		    body.len, head_only);
out:
	free(errors_text);
	buf_free(&body);
	buf_free(&headers);
	json_decref(errors);
	return rc;
}
