/* call.c - one backend of one request, as a fanout call: expand the URL, fetch, judge the reply. */
#include "cgi/request/call.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/backend/desync.h"
#include "common/jptr.h"
#include "common/jsonscan.h"
#include "fanout/fanout.h"

struct bcall *
bcall_new(const struct cfg_backend *b, struct req_vars *v)
{
	struct bcall *c = calloc(1, sizeof(*c));

	if (c == NULL || (b->ndeps > 0 && (c->deps = calloc(b->ndeps, sizeof(*c->deps))) == NULL)) {
		free(c);
		return NULL;
	}
	c->backend = b;
	c->vars = v;
	vars_ref(v);
	return c;
}

enum fanout_err
bcall_after(fanout_group *g, struct bcall *c, size_t k, struct bcall *dep)
{
	enum fanout_err err = fanout_group_after(g, c->backend->name, dep->backend->name);

	if (err == FANOUT_OK)
		c->deps[k] = dep;
	return err;
}

void
bcall_free(void *arg)
{
	struct bcall *c = arg;

	buf_free(&c->json);
	vars_unref(c->vars);
	free(c->deps);
	free(c);
}

static int
fail(struct bcall *c, enum fetch_kind kind, const char *message)
{
	c->kind = kind;
	snprintf(c->message, sizeof(c->message), "%s", message);
	return 1;
}

/* Expansion context: the call, room for a string value decoded from its escapes, and whether
 * a lookup failed for want of memory (the call is then our failure, not a refusal). */
struct expand_ctx {
	struct bcall *call;
	struct buf text;
	bool no_memory;
};

/*
 * A scalar of a dependency's response as text, as the backend wrote it: a number's own digits
 * (never converted: 0.1 stays 0.1, a 30-digit integer stays whole), true or false, a string's
 * text (escapes decoded; unescaped, it is read where it lies). NULL with a reason otherwise.
 */
static const char *
scalar_text(struct expand_ctx *x, const struct tpl_part *p, const struct jptr_value *v,
    size_t *len, struct buf *err)
{
	size_t end;

	switch (v->type) {
	case JPTR_STRING:
		if (memchr(v->text, '\\', v->len) == NULL) {
			*len = v->len - 2;
			return v->text + 1;
		}
		buf_truncate(&x->text, 0);
		if (jsonscan_unquote(&x->text, v->text, v->len, &end) != JSONSCAN_OK) {
			x->no_memory = true;	/* jptr_find() checked it */
			return NULL;
		}
		*len = x->text.len;
		return buf_str(&x->text);
	case JPTR_NUMBER:
	case JPTR_TRUE:
	case JPTR_FALSE:
		*len = v->len;
		return v->text;
	default:
		(void)buf_printf(err, "%s.%s is %s, not a string, number or boolean", p->text,
		    p->pointer, v->type == JPTR_NULL ? "null" : v->type == JPTR_ARRAY ? "an array" :
		    "an object");
		return NULL;
	}
}

/* Reads the value at p's pointer in dependency dep's response, the JSON text it was judged
 * valid as (the same scanner walks it). */
static const char *
dep_value(struct expand_ctx *x, const struct tpl_part *p, const struct bcall *dep, size_t *len,
    struct buf *err)
{
	struct jptr_value v;

	switch (jptr_find(buf_str(&dep->json), dep->json.len, p->pointer, &v)) {
	case JPTR_FOUND:
		return scalar_text(x, p, &v, len, err);
	case JPTR_MISSING:
		(void)buf_printf(err, "%s.%s: no such value in its response", p->text, p->pointer);
		return NULL;
	case JPTR_NO_MEMORY:
		x->no_memory = true;
		return NULL;
	default:	/* the config checked the pointer, the judgement the response */
		(void)buf_printf(err, "%s.%s: cannot be read", p->text, p->pointer);
		return NULL;
	}
}

static const char *
lookup(void *arg, const struct tpl_part *p, size_t *len, struct buf *err)
{
	struct expand_ctx *x = arg;

	if (p->kind != TPL_BACKEND)
		return vars_lookup(x->call->vars, p, len, err);
	for (size_t i = 0; i < x->call->backend->ndeps; i++) {
		struct bcall *dep = x->call->deps[i];

		if (strcmp(dep->backend->name, p->text) == 0)
			return dep_value(x, p, dep, len, err);
	}
	(void)buf_printf(err, "%s: not a dependency", p->text);
	return NULL;
}

/* Calls made with "echo_request_id": the number that makes each one's id its own. */
static atomic_uint_fast64_t echo_serial;

/*
 * "Name: value" lines: X-Request-Id, then the forwarded headers the request carries. With
 * "echo_request_id" the id sent is the call's own, "REQUEST-ID.N" (N counts such calls in the
 * process), kept in c->echo_id for the answer to echo: the request id alone is the client's
 * choice (many send the same one each time) and is shared by the calls of one request, so
 * answers swapped between two of them would pass a check against it.
 */
static char **
headers_make(struct bcall *c)
{
	const struct cfg_backend *b = c->backend;
	char **lines = calloc(b->nheaders + 2, sizeof(*lines));
	struct buf line = BUF_INIT;
	size_t n = 0;

	if (lines == NULL)
		return NULL;
	if (b->echo_request_id != NULL && (size_t)snprintf(c->echo_id, sizeof(c->echo_id),
	    "%s.%" PRIuFAST64, c->vars->request_id, atomic_fetch_add_explicit(&echo_serial, 1,
	    memory_order_relaxed) + 1) >= sizeof(c->echo_id))
		goto fail;	/* cannot be: a request id is at most 128 characters */
	if (buf_printf(&line, "X-Request-Id: %s", b->echo_request_id != NULL ? c->echo_id :
	    c->vars->request_id) != 0)
		goto fail;
	lines[n++] = buf_take(&line);
	for (size_t i = 0; i < b->nheaders; i++) {
		const struct vars_kv *kv = vars_header(c->vars, b->header_params[i]);

		if (kv == NULL)
			continue;
		if (buf_printf(&line, "%s: %s", b->headers[i], kv->value) != 0)
			goto fail;
		lines[n++] = buf_take(&line);
	}
	return lines;
fail:
	for (size_t i = 0; i < n; i++)
		free(lines[i]);
	free(lines);
	return NULL;
}

static void
headers_free(char **lines)
{
	for (size_t i = 0; lines != NULL && lines[i] != NULL; i++)
		free(lines[i]);
	free(lines);
}

/* Bodies nested deeper are refused: the response that splices them must stay readable by the
 * clients' parsers, many of which recurse once per level. */
#define MAX_JSON_DEPTH 256

/* Turns a successful reply's body into the call's data, as its encoding says. A valid JSON body
 * is kept as it came (moved, not copied) for the response to copy out, and for the calls that
 * depend on it to read values from: the scanner that judged it is the only JSON parser on the
 * way, so whether a body is JSON never depends on who reads it. */
static int
body_decode(struct bcall *c, struct buf *body)
{
	struct buf err = BUF_INIT;

	if (c->backend->encoding == CFG_TEXT) {
		switch (jsonscan_quote(&c->json, buf_str(body), body->len)) {
		case JSONSCAN_OK:
			return 0;
		case JSONSCAN_INVALID:
			return fail(c, FETCH_BODY, "the body is not valid UTF-8 text");
		default:
			return fail(c, FETCH_INTERNAL, "out of memory");
		}
	}
	if (c->status == 204 && body->len == 0)
		return buf_puts(&c->json, "null") == 0 ? 0 : fail(c, FETCH_INTERNAL, "out of memory");
	if (!jsonscan_valid(buf_str(body), body->len, MAX_JSON_DEPTH, &err)) {
		c->kind = FETCH_INVALID_JSON;
		snprintf(c->message, sizeof(c->message), "invalid JSON at %.120s", buf_str(&err));
		buf_free(&err);
		return 1;
	}
	c->json = *body;
	*body = (struct buf)BUF_INIT;
	return 0;
}

/* The signs the client saw that the backend's connections are out of step: each stops the
 * reuse of its origin's connections (cgi/backend/desync.h). */
static void
signs_judge(const struct bcall *c, const struct fetch_reply *reply)
{
	static const struct {
		unsigned bit;
		enum desync_sign sign;
		const char *why;
	} signs[] = {
		{ FETCH_SIGN_PEEK, DESYNC_PEEK, "bytes were waiting on a kept connection" },
		{ FETCH_SIGN_TRAILING, DESYNC_TRAILING, "bytes came after the end of an answer" },
		{ FETCH_SIGN_UNPARSED, DESYNC_UNPARSED, "an answer was not well-framed HTTP/1.x" },
	};

	if (c->backend->origin == NULL || reply->signs == 0)
		return;
	for (size_t i = 0; i < sizeof(signs) / sizeof(signs[0]); i++)
		if (reply->signs & signs[i].bit)
			desync_mark(c->backend->origin, signs[i].sign, signs[i].why);
}

void
bcall_idle_bytes(void *ctx, const char *origin)
{
	(void)ctx;
	if (origin != NULL)
		desync_mark_key(origin, DESYNC_IDLE, "bytes arrived on an idle kept connection");
}

/* With "echo_request_id": whether the answer carries the call's own id, the one it was sent
 * (headers_make()). One that does not is someone else's, or nobody's: the call fails, and it is
 * a sign. */
static bool
echo_judge(struct bcall *c, const struct fetch_reply *reply)
{
	const char *want = c->backend->echo_request_id;

	if (want == NULL || (reply->echo_seen && !reply->echo_long && c->echo_id[0] != '\0' &&
	    strcmp(reply->echo, c->echo_id) == 0))
		return true;
	if (c->backend->origin != NULL)
		desync_mark(c->backend->origin, DESYNC_ECHO,
		    "an answer did not echo the request id it was sent");
	c->kind = FETCH_BODY;
	if (!reply->echo_seen)
		snprintf(c->message, sizeof(c->message), "the answer has no %s header: it is not "
		    "known to be this request's", want);
	else
		snprintf(c->message, sizeof(c->message), "the answer's %s is not this request's "
		    "call's id: it is another call's answer", want);
	return false;
}

/* Judges a finished transfer: the connection's signs, kind, the echoed request id, status, then
 * the body as the encoding says. */
int
bcall_judge(struct bcall *c, struct fetch_reply *reply)
{
	c->status = reply->status;
	c->conn = reply->conn;
	signs_judge(c, reply);
	if (reply->kind != FETCH_OK)
		return fail(c, reply->kind, reply->message);
	if (!echo_judge(c, reply))
		return 1;
	if (!cfg_success(c->backend, reply->status)) {
		c->kind = FETCH_STATUS;
		snprintf(c->message, sizeof(c->message), "HTTP status %ld", reply->status);
		return 1;
	}
	return body_decode(c, &reply->body);
}

int
bcall_expand(struct bcall *c, int64_t left_ms, struct bcall_request *p)
{
	struct expand_ctx x = { .call = c, .text = BUF_INIT };
	struct buf err = BUF_INIT;
	enum tpl_expand_rc expanded;
	int rc = 0;

	*p = (struct bcall_request){ .url = BUF_INIT };
	p->req.timeout_ms = c->backend->timeout_ms < left_ms ? c->backend->timeout_ms : left_ms;
	p->req.max_body = c->backend->max_body_bytes;
	p->req.no_reuse = !c->backend->keepalive ||
	    (c->backend->origin != NULL && desync_stopped_at(c->backend->origin));
	p->req.echo_header = c->backend->echo_request_id;
	p->req.origin = c->backend->origin != NULL ? desync_key(c->backend->origin) : NULL;
	expanded = tpl_expand(&c->backend->url, lookup, &x, &p->url, &err);
	if (expanded == TPL_NO_MEMORY || x.no_memory)
		rc = fail(c, FETCH_INTERNAL, "out of memory");
	else if (expanded != TPL_EXPANDED)
		rc = fail(c, FETCH_SKIPPED, buf_str(&err));
	else if (p->req.timeout_ms <= 0)
		rc = fail(c, FETCH_TIMEOUT, "no time left before the request's deadline");
	else if ((p->headers = headers_make(c)) == NULL)
		rc = fail(c, FETCH_INTERNAL, "out of memory");
	p->req.url = buf_str(&p->url);
	p->req.headers = (const char *const *)p->headers;
	buf_free(&x.text);
	buf_free(&err);
	return rc;
}

void
bcall_request_free(struct bcall_request *p)
{
	headers_free(p->headers);
	buf_free(&p->url);
}

/* A blocking fetch stops when its group has given up on it (the client went away). */
static bool
call_abandoned(void)
{
	return fanout_time_left_us() <= 0;
}

int
bcall_run(void *arg)
{
	struct bcall *c = arg;
	struct fetch_reply reply = { .body = BUF_INIT };
	struct bcall_request p;
	int rc;

	if ((rc = bcall_expand(c, fanout_time_left_us() / 1000, &p)) == 0) {
		p.req.abandoned = call_abandoned;
		fetch_get(&p.req, &reply);
		rc = bcall_judge(c, &reply);
	}
	bcall_request_free(&p);
	buf_free(&reply.body);
	return rc;
}
