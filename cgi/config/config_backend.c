/* config_backend.c - loading an endpoint's backends: URL template, headers, success statuses, and
 * the dependencies their URLs make (each placeholder names something real; no cycle). */
#include "cgi/config/config_parse.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cgi/backend/desync.h"

#define DEFAULT_MAX_BODY (1024 * 1024)
#define MAX_MAX_BODY (1024L * 1024 * 1024)

/* A header name as this program takes one: letters, digits and '-', 1 to 64 of them. */
static bool
token_valid(const char *s, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
			return false;
	return true;
}

/* Header names are RFC 9110 tokens; the ones that frame or route a request are refused. */
static bool
header_valid(const char *s, size_t len)
{
	static const char *const refused[] = { "host", "content-length", "transfer-encoding",
		"connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection",
		"x-request-id", NULL };

	if (!token_valid(s, len))
		return false;
	for (size_t i = 0; refused[i] != NULL; i++)
		if (strcasecmp(refused[i], s) == 0)
			return false;
	return true;
}

/* "Accept-Language" -> "HTTP_ACCEPT_LANGUAGE", as FastCGI passes request headers. */
static char *
header_param(const char *header)
{
	size_t len = strlen(header);
	char *p = malloc(len + 6);

	if (p == NULL)
		return NULL;
	memcpy(p, "HTTP_", 5);
	for (size_t i = 0; i <= len; i++)
		p[5 + i] = header[i] == '-' ? '_' :
		    (header[i] >= 'a' && header[i] <= 'z') ? (char)(header[i] - 32) : header[i];
	return p;
}

static int
parse_success(struct walk *w, json_t *obj, struct cfg_backend *b)
{
	json_t *arr, *v;
	size_t i;

	if (walk_array(w, obj, "success", false, &arr) != 0)
		return -1;
	if (arr == NULL) {
		for (long s = 200; s < 300; s++)
			b->success[s / 8] |= (unsigned char)(1u << (s % 8));
		return 0;
	}
	json_array_foreach(arr, i, v) {
		size_t mark = walk_enter_item(w, "success", i);
		long s = json_is_integer(v) ? (long)json_integer_value(v) : 0;

		if (s < 100 || s > 599)
			walk_fail(w, "must be an HTTP status from 100 to 599");
		walk_leave(w, mark);
		if (w->failed)
			return -1;
		b->success[s / 8] |= (unsigned char)(1u << (s % 8));
	}
	return 0;
}

static int
parse_headers(struct walk *w, json_t *obj, struct cfg_backend *b)
{
	if (walk_names(w, obj, "headers", header_valid,
	    "a header name (letters, digits, '-'; not Host, framing or X-Request-Id)",
	    &b->headers, &b->nheaders) != 0)
		return -1;
	/* walk_names() compares names as they are written; header names are case-insensitive
	 * (RFC 9110 §5.1), and "X-A" with "x-a" would send the header twice. */
	for (size_t i = 1; i < b->nheaders; i++)
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(b->headers[i], b->headers[j]) == 0) {
				size_t mark = walk_enter_item(w, "headers", i);

				walk_fail(w, "\"%s\" is \"%s\" (headers[%zu]) again: header names are"
				    " case-insensitive", b->headers[i], b->headers[j], j);
				walk_leave(w, mark);
				return -1;
			}
	if (b->nheaders > 0 && (b->header_params = calloc(b->nheaders, sizeof(char *))) == NULL)
		return walk_fail(w, "out of memory");
	for (size_t i = 0; i < b->nheaders; i++)
		if ((b->header_params[i] = header_param(b->headers[i])) == NULL)
			return walk_fail(w, "out of memory");
	return 0;
}

static int
parse_backend(struct walk *w, json_t *obj, const struct cfg_endpoint *ep, struct cfg_backend *b)
{
	static const char *const keys[] = { "name", "url", "timeout_ms", "required", "success",
		"encoding", "headers", "max_body_bytes", "client", "keepalive", "echo_request_id",
		NULL };
	static const char *const encodings[] = { "json", "text", NULL };
	static const char *const clients[] = { "auto", "curl", NULL };
	const char *name, *url, *echo = NULL;
	long max_body;
	int enc, client;

	if (!json_is_object(obj))
		return walk_fail(w, "must be an object");
	if (walk_keys(w, obj, keys) || walk_string(w, obj, "name", true, &name) ||
	    walk_string(w, obj, "url", true, &url))
		return -1;
	if (!tpl_name_valid(name, strlen(name)) || strcmp(name, "query") == 0) {
		size_t mark = walk_enter_key(w, "name");

		walk_fail(w, "\"%s\": a name is letters, digits, '_' or '-', and not \"query\"",
		    name);
		walk_leave(w, mark);
		return -1;
	}
	if ((b->name = strdup(name)) == NULL)
		return walk_fail(w, "out of memory");
	if (walk_int(w, obj, "timeout_ms", 1, CFG_MAX_TIMEOUT_MS, ep->timeout_ms, &b->timeout_ms) ||
	    walk_bool(w, obj, "required", true, &b->required) || parse_success(w, obj, b) ||
	    walk_choice(w, obj, "encoding", encodings, CFG_JSON, &enc) ||
	    parse_headers(w, obj, b) ||
	    walk_int(w, obj, "max_body_bytes", 1, MAX_MAX_BODY, DEFAULT_MAX_BODY, &max_body) ||
	    walk_choice(w, obj, "client", clients, 0, &client) ||
	    walk_bool(w, obj, "keepalive", true, &b->keepalive) ||
	    walk_string(w, obj, "echo_request_id", false, &echo))
		return -1;
	if (echo != NULL && !token_valid(echo, strlen(echo))) {
		size_t mark = walk_enter_key(w, "echo_request_id");

		walk_fail(w, "\"%s\": must be a header name (letters, digits, '-'; at most 64)",
		    echo);
		walk_leave(w, mark);
		return -1;
	}
	if (echo != NULL && (b->echo_request_id = strdup(echo)) == NULL)
		return walk_fail(w, "out of memory");
	b->force_curl = client == 1;
	b->encoding = (enum cfg_encoding)enc;
	b->max_body_bytes = (size_t)max_body;
	{
		struct buf why = BUF_INIT;
		size_t mark = walk_enter_key(w, "url");

		if (tpl_parse(&b->url, url, &why) != 0)
			walk_fail(w, "%s", buf_str(&why));
		else if ((b->origin = desync_register(b->url.origin)) == NULL)
			walk_fail(w, "out of memory");
		buf_free(&why);
		walk_leave(w, mark);
	}
	return w->failed ? -1 : 0;
}

static bool
has_param(const struct cfg_endpoint *ep, const char *name)
{
	for (size_t i = 0; i < ep->nsegments; i++)
		if (ep->segments[i].is_param && strcmp(ep->segments[i].text, name) == 0)
			return true;
	return false;
}

static bool
has_query(const struct cfg_endpoint *ep, const char *name)
{
	for (size_t i = 0; i < ep->nquery; i++)
		if (strcmp(ep->query[i], name) == 0)
			return true;
	return false;
}

/* Checks what each placeholder of backend bi names, and records its dependencies. */
static int
link_backend(struct walk *w, struct cfg_endpoint *ep, size_t bi)
{
	struct cfg_backend *b = &ep->backends[bi];

	for (size_t i = 0; i < b->url.nparts; i++) {
		const struct tpl_part *p = &b->url.parts[i];
		size_t *more;
		long d;

		if (p->kind == TPL_PARAM && !has_param(ep, p->text))
			return walk_fail(w, "placeholder {%s} names no parameter of the path %s",
			    p->text, ep->path);
		if (p->kind == TPL_QUERY && !has_query(ep, p->text))
			return walk_fail(w, "placeholder {query.%s}: \"%s\" is not in the"
			    " endpoint's query list", p->text, p->text);
		if (p->kind != TPL_BACKEND)
			continue;
		if ((d = cfg_backend_find(ep, p->text, strlen(p->text))) < 0)
			return walk_fail(w, "placeholder {%s.%s} names no backend of this endpoint",
			    p->text, p->pointer);
		if ((size_t)d == bi)
			return walk_fail(w, "placeholder {%s.%s}: a backend cannot use its own"
			    " response", p->text, p->pointer);
		if (ep->backends[d].encoding != CFG_JSON)
			return walk_fail(w, "placeholder {%s.%s}: backend %s is text, not json",
			    p->text, p->pointer, p->text);
		for (size_t k = 0; k < b->ndeps; k++)
			if (b->deps[k] == (size_t)d)
				d = -1;
		if (d < 0)
			continue;
		if ((more = reallocarray(b->deps, b->ndeps + 1, sizeof(*b->deps))) == NULL)
			return walk_fail(w, "out of memory");	/* b->deps is still b's */
		b->deps = more;
		b->deps[b->ndeps++] = (size_t)d;
	}
	return 0;
}

/* Depth-first search for a dependency cycle through backend i; state: 0 new, 1 open, 2 done. */
static bool
has_cycle(const struct cfg_endpoint *ep, size_t i, unsigned char *state, struct buf *trail)
{
	if (state[i] == 2)
		return false;
	(void)buf_printf(trail, "%s%s", trail->len ? " -> " : "", ep->backends[i].name);
	if (state[i] == 1)
		return true;
	state[i] = 1;
	for (size_t k = 0; k < ep->backends[i].ndeps; k++) {
		size_t mark = trail->len;

		if (has_cycle(ep, ep->backends[i].deps[k], state, trail))
			return true;
		buf_truncate(trail, mark);
	}
	state[i] = 2;
	return false;
}

static int
check_cycles(struct walk *w, const struct cfg_endpoint *ep)
{
	unsigned char *state = calloc(ep->nbackends, 1);
	struct buf trail = BUF_INIT;
	size_t mark = walk_enter_key(w, "backends");

	if (state == NULL)
		walk_fail(w, "out of memory");
	for (size_t i = 0; state != NULL && !w->failed && i < ep->nbackends; i++) {
		buf_truncate(&trail, 0);
		if (has_cycle(ep, i, state, &trail))
			walk_fail(w, "dependency cycle: %s", buf_str(&trail));
	}
	walk_leave(w, mark);
	buf_free(&trail);
	free(state);
	return w->failed ? -1 : 0;
}

int
cfg_parse_backends(struct walk *w, json_t *obj, struct cfg_endpoint *ep)
{
	json_t *arr, *v;
	size_t i;

	if (walk_array(w, obj, "backends", true, &arr) != 0)
		return -1;
	if ((ep->backends = calloc(json_array_size(arr), sizeof(*ep->backends))) == NULL)
		return walk_fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = walk_enter_item(w, "backends", i);

		ep->nbackends = i + 1;	/* so that cfg_free frees what was made, even on error */
		if (parse_backend(w, v, ep, &ep->backends[i]) == 0 && cfg_backend_find(ep,
		    ep->backends[i].name, strlen(ep->backends[i].name)) != (long)i)
			walk_fail(w, "name \"%s\" is used twice", ep->backends[i].name);
		walk_leave(w, mark);
		if (w->failed)
			return -1;
	}
	for (i = 0; i < ep->nbackends; i++) {
		size_t mark = walk_enter_item(w, "backends", i);

		(void)buf_puts(&w->path, ".url");
		link_backend(w, ep, i);
		walk_leave(w, mark);
		if (w->failed)
			return -1;
	}
	return check_cycles(w, ep);
}
