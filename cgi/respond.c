/* respond.c - writing HTTP responses: the composed fan-out answer, and JSON errors. */
#include "cgi/respond.h"

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

/* How one backend ended, as the response tells it. */
struct outcome {
	bool ok;
	bool timed_out;
	const char *kind;
	long status;		/* HTTP status, 0 if none */
	char message[192];
};

/* The first dependency of call i that did not succeed. */
static const char *
failed_dependency(const struct cfg_endpoint *ep, const fanout_group *g, size_t i)
{
	const struct cfg_backend *b = &ep->backends[i];

	for (size_t k = 0; k < b->ndeps; k++)
		if (fanout_group_result(g, b->deps[k])->state != FANOUT_CALL_OK)
			return ep->backends[b->deps[k]].name;
	return "a dependency";
}

static void
outcome_of(const struct cfg_endpoint *ep, const fanout_group *g, struct bcall *const *calls,
    size_t i, struct outcome *o)
{
	const struct fanout_result *r = fanout_group_result(g, i);

	*o = (struct outcome){ .kind = "ok" };
	switch (r->state) {
	case FANOUT_CALL_OK:
		o->ok = true;
		o->status = calls[i]->status;
		break;
	case FANOUT_CALL_FAILED:
		if (r->err != FANOUT_OK) {
			o->kind = fetch_kind_name(FETCH_INTERNAL);
			snprintf(o->message, sizeof(o->message), "not run: %s", fanout_strerror(r->err));
			break;
		}
		/* The call has returned: its fields are stable. */
		o->kind = fetch_kind_name(calls[i]->kind);
		o->timed_out = calls[i]->kind == FETCH_TIMEOUT;
		o->status = calls[i]->status;
		snprintf(o->message, sizeof(o->message), "%s", calls[i]->message);
		break;
	case FANOUT_CALL_CANCELLED:
		o->kind = fetch_kind_name(FETCH_CANCELLED);
		snprintf(o->message, sizeof(o->message), "the client went away");
		break;
	case FANOUT_CALL_TIMEDOUT:
		/* The call may still run: its fields must not be read. */
		o->kind = fetch_kind_name(FETCH_TIMEOUT);
		o->timed_out = true;
		snprintf(o->message, sizeof(o->message), "no answer within the request's %ld ms",
		    ep->timeout_ms);
		break;
	default:
		o->kind = fetch_kind_name(FETCH_SKIPPED);
		snprintf(o->message, sizeof(o->message), "not called: needs %s, which failed",
		    failed_dependency(ep, g, i));
		break;
	}
}

/* Adds one backend to data (its JSON copied as it is: names are [A-Za-z0-9_-] and need no
 * escaping), to errors and to Server-Timing; updates the response status. */
static int
compose_one(const struct cfg_endpoint *ep, const fanout_group *g, struct bcall *const *calls,
    size_t i, struct buf *data, json_t *errors, struct buf *timing, int *status, bool *complete)
{
	const struct cfg_backend *b = &ep->backends[i];
	const struct fanout_result *r = fanout_group_result(g, i);
	double ms = r->duration_us > 0 ? r->duration_us / 1000.0 : 0;
	struct outcome o;
	json_t *err;

	outcome_of(ep, g, calls, i, &o);
	if (o.ok)
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%ld\", ", b->name, ms, o.status);
	else if (o.status > 0)
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%s %ld\", ", b->name, ms, o.kind,
		    o.status);
	else
		(void)buf_printf(timing, "%s;dur=%.1f;desc=\"%s\", ", b->name, ms, o.kind);
	if (buf_printf(data, "%s\"%s\":", i > 0 ? "," : "", b->name) != 0 ||
	    (o.ok ? buf_append(data, calls[i]->json.data, calls[i]->json.len) :
	    buf_puts(data, "null")) != 0)
		return -1;
	if (o.ok)
		return 0;
	err = json_pack("{s:s,s:s}", "backend", b->name, "kind", o.kind);
	if (err == NULL || (o.status > 0 && json_object_set_new(err, "status",
	    json_integer(o.status)) != 0) || json_object_set_new(err, "message",
	    json_string(o.message)) != 0 || json_array_append_new(errors, err) != 0)
		return -1;
	if (!b->required)
		*complete = false;
	else if (o.timed_out)
		*status = 504;
	else if (*status != 504)
		*status = 502;
	return 0;
}

/* ,"timing":{"total_ms":T,"backends":[{"name":N,"start_ms":S,"ms":D,"outcome":O,"status":H}]}
 * for an endpoint with expose_timing: what a page needs to draw the calls as a waterfall. A call
 * that never started has null start and duration; the status is there when one was received. */
static int
compose_timing(const struct cfg_endpoint *ep, const fanout_group *g, struct bcall *const *calls,
    int64_t total_us, struct buf *body)
{
	if (buf_printf(body, ",\"timing\":{\"total_ms\":%.1f,\"backends\":[", total_us / 1000.0))
		return -1;
	for (size_t i = 0; i < ep->nbackends; i++) {
		const struct fanout_result *r = fanout_group_result(g, i);
		long status = bcall_status(r, calls[i]);
		int rc = buf_printf(body, "%s{\"name\":\"%s\",", i > 0 ? "," : "",
		    ep->backends[i].name);

		if (rc == 0 && r->start_us >= 0)
			rc = buf_printf(body, "\"start_ms\":%.1f,\"ms\":%.1f,", r->start_us / 1000.0,
			    r->duration_us / 1000.0);
		else if (rc == 0)
			rc = buf_puts(body, "\"start_ms\":null,\"ms\":null,");
		if (rc == 0)
			rc = buf_printf(body, "\"outcome\":\"%s\"",
			    fetch_kind_name(bcall_outcome(r, calls[i])));
		if (rc == 0 && status > 0)
			rc = buf_printf(body, ",\"status\":%ld", status);
		if (rc != 0 || buf_puts(body, "}") != 0)
			return -1;
	}
	return buf_puts(body, "]}");
}

enum respond_result
respond_fanout(const struct http_io *io, const struct cfg_endpoint *ep, const fanout_group *g,
    struct bcall *const *calls, const char *request_id, int64_t total_us, bool head_only,
    int *status)
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
	for (size_t i = 0; i < ep->nbackends; i++)
		if (compose_one(ep, g, calls, i, &body, errors, &headers, status, &complete) != 0)
			goto out;
	if (buf_printf(&headers, "total;dur=%.1f\r\n", total_us / 1000.0) != 0 ||
	    (!complete && buf_puts(&headers, "X-Fanout-Complete: false\r\n") != 0) ||
	    buf_puts(&body, "}") != 0)
		goto out;
	if (json_array_size(errors) > 0 && ((errors_text = json_dumps(errors, JSON_COMPACT)) ==
	    NULL || buf_printf(&body, ",\"errors\":%s", errors_text) != 0))
		goto out;
	if (ep->expose_timing && compose_timing(ep, g, calls, total_us, &body) != 0)
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
