/* config.c - the JSON configuration: loaded, validated and compiled once, then read-only. */
#include "cgi/config.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"

#define DEFAULT_TIMEOUT_MS 1000
#define MAX_TIMEOUT_MS 600000
#define DEFAULT_MAX_BODY (1024 * 1024)
#define MAX_MAX_BODY (1024L * 1024 * 1024)
#define DEFAULT_MAX_INFLIGHT 1024
#define DEFAULT_POOL_THREADS 32

/* The walk's state: where in the document we are, for messages. */
struct walk {
	const char *file;
	struct buf path;	/* e.g. "endpoints[2].backends[0]" */
	struct buf *err;
	int failed;
};

/* Records "FILE: PATH: reason" (only the first error is kept) and returns -1. */
__attribute__((format(printf, 2, 3))) static int
fail(struct walk *w, const char *fmt, ...)
{
	va_list ap;

	if (w->failed++)
		return -1;
	(void)buf_printf(w->err, "%s: %s: ", w->file, w->path.len ? buf_str(&w->path) : "(top)");
	va_start(ap, fmt);
	(void)buf_vprintf(w->err, fmt, ap);
	va_end(ap);
	return -1;
}

/* Steps into a key or an index; returns the mark to step back to with leave(). */
static size_t
enter_key(struct walk *w, const char *key)
{
	size_t mark = w->path.len;

	(void)buf_printf(&w->path, mark ? ".%s" : "%s", key);
	return mark;
}

/* Steps into item i of the array under key: "key[i]". */
static size_t
enter_item(struct walk *w, const char *key, size_t i)
{
	size_t mark = enter_key(w, key);

	(void)buf_printf(&w->path, "[%zu]", i);
	return mark;
}

static void
leave(struct walk *w, size_t mark)
{
	buf_truncate(&w->path, mark);
}

/* Every key of obj must be in allowed (NULL-terminated). */
static int
check_keys(struct walk *w, json_t *obj, const char *const *allowed)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v) {
		size_t i, mark;

		for (i = 0; allowed[i] != NULL && strcmp(allowed[i], key) != 0; i++)
			;
		if (allowed[i] == NULL) {
			mark = enter_key(w, key);
			fail(w, "unknown key");
			leave(w, mark);
			return -1;
		}
	}
	return 0;
}

/* A string member: *out is borrowed from the document, NULL if absent and not required. */
static int
get_string(struct walk *w, json_t *obj, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = enter_key(w, key);
	int rc = 0;

	*out = NULL;
	if (v == NULL && required)
		rc = fail(w, "missing (a string is required)");
	else if (v != NULL && !json_is_string(v))
		rc = fail(w, "must be a string");
	else if (v != NULL && strlen(json_string_value(v)) != json_string_length(v))
		rc = fail(w, "must not contain NUL");
	else if (v != NULL)
		*out = json_string_value(v);
	leave(w, mark);
	return rc;
}

static int
get_int(struct walk *w, json_t *obj, const char *key, long min, long max, long dflt, long *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = enter_key(w, key);
	int rc = 0;

	*out = dflt;
	if (v != NULL && !json_is_integer(v))
		rc = fail(w, "must be an integer");
	else if (v != NULL && (json_integer_value(v) < min || json_integer_value(v) > max))
		rc = fail(w, "must be between %ld and %ld", min, max);
	else if (v != NULL)
		*out = (long)json_integer_value(v);
	leave(w, mark);
	return rc;
}

static int
get_bool(struct walk *w, json_t *obj, const char *key, bool dflt, bool *out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = enter_key(w, key);
	int rc = 0;

	*out = dflt;
	if (v != NULL && !json_is_boolean(v))
		rc = fail(w, "must be true or false");
	else if (v != NULL)
		*out = json_is_true(v);
	leave(w, mark);
	return rc;
}

/* An array member (may be absent): *out is borrowed, NULL if absent. */
static int
get_array(struct walk *w, json_t *obj, const char *key, bool required, json_t **out)
{
	json_t *v = json_object_get(obj, key);
	size_t mark = enter_key(w, key);
	int rc = 0;

	*out = v;
	if (v == NULL && required)
		rc = fail(w, "missing (an array is required)");
	else if (v != NULL && !json_is_array(v))
		rc = fail(w, "must be an array");
	else if (v != NULL && json_array_size(v) == 0)
		rc = fail(w, "must not be empty");
	leave(w, mark);
	return rc;
}

/* One of `names` (NULL-terminated); *out is its index, or dflt when absent. */
static int
get_choice(struct walk *w, json_t *obj, const char *key, const char *const *names, int dflt,
    int *out)
{
	const char *s;

	*out = dflt;
	if (get_string(w, obj, key, false, &s) != 0 || s == NULL)
		return w->failed ? -1 : 0;
	for (int i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], s) == 0) {
			*out = i;
			return 0;
		}
	{
		size_t mark = enter_key(w, key);
		struct buf all = BUF_INIT;

		for (int i = 0; names[i] != NULL; i++)
			(void)buf_printf(&all, "%s\"%s\"", i ? ", " : "", names[i]);
		fail(w, "\"%s\" is not one of %s", s, buf_str(&all));
		buf_free(&all);
		leave(w, mark);
	}
	return -1;
}

/* An array of distinct names, each checked by valid(); copied into *out. */
static int
get_names(struct walk *w, json_t *obj, const char *key, bool (*valid)(const char *, size_t),
    const char *what, char ***out, size_t *n)
{
	json_t *arr, *v;
	size_t i;

	if (get_array(w, obj, key, false, &arr) != 0 || arr == NULL)
		return w->failed ? -1 : 0;
	if ((*out = calloc(json_array_size(arr), sizeof(**out))) == NULL)
		return fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = enter_item(w, key, i);

		if (!json_is_string(v) || !valid(json_string_value(v), json_string_length(v)))
			fail(w, "must be %s", what);
		for (size_t j = 0; !w->failed && j < *n; j++)
			if (strcmp((*out)[j], json_string_value(v)) == 0)
				fail(w, "\"%s\" is listed twice", (*out)[j]);
		if (!w->failed && ((*out)[*n] = strdup(json_string_value(v))) == NULL)
			fail(w, "out of memory");
		leave(w, mark);
		if (w->failed)
			return -1;
		(*n)++;
	}
	return 0;
}

static bool
name_valid(const char *s, size_t len)
{
	return tpl_name_valid(s, len);
}

/* Header names are RFC 9110 tokens; the ones that frame or route a request are refused. */
static bool
header_valid(const char *s, size_t len)
{
	static const char *const refused[] = { "host", "content-length", "transfer-encoding",
		"connection", "keep-alive", "upgrade", "te", "trailer", "proxy-connection",
		"x-request-id", NULL };

	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
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

bool
cfg_success(const struct cfg_backend *b, long status)
{
	return status >= 0 && status < 600 && (b->success[status / 8] >> (status % 8) & 1);
}

static int
parse_success(struct walk *w, json_t *obj, struct cfg_backend *b)
{
	json_t *arr, *v;
	size_t i;

	if (get_array(w, obj, "success", false, &arr) != 0)
		return -1;
	if (arr == NULL) {
		for (long s = 200; s < 300; s++)
			b->success[s / 8] |= (unsigned char)(1u << (s % 8));
		return 0;
	}
	json_array_foreach(arr, i, v) {
		size_t mark = enter_item(w, "success", i);
		long s = json_is_integer(v) ? (long)json_integer_value(v) : 0;

		if (s < 100 || s > 599)
			fail(w, "must be an HTTP status from 100 to 599");
		leave(w, mark);
		if (w->failed)
			return -1;
		b->success[s / 8] |= (unsigned char)(1u << (s % 8));
	}
	return 0;
}

static int
parse_headers(struct walk *w, json_t *obj, struct cfg_backend *b)
{
	if (get_names(w, obj, "headers", header_valid,
	    "a header name (letters, digits, '-'; not Host, framing or X-Request-Id)",
	    &b->headers, &b->nheaders) != 0)
		return -1;
	if (b->nheaders > 0 && (b->header_params = calloc(b->nheaders, sizeof(char *))) == NULL)
		return fail(w, "out of memory");
	for (size_t i = 0; i < b->nheaders; i++)
		if ((b->header_params[i] = header_param(b->headers[i])) == NULL)
			return fail(w, "out of memory");
	return 0;
}

static int
parse_backend(struct walk *w, json_t *obj, const struct cfg_endpoint *ep, struct cfg_backend *b)
{
	static const char *const keys[] = { "name", "url", "timeout_ms", "required", "success",
		"encoding", "headers", "max_body_bytes", NULL };
	static const char *const encodings[] = { "json", "text", NULL };
	const char *name, *url;
	long max_body;
	int enc;

	if (!json_is_object(obj))
		return fail(w, "must be an object");
	if (check_keys(w, obj, keys) || get_string(w, obj, "name", true, &name) ||
	    get_string(w, obj, "url", true, &url))
		return -1;
	if (!tpl_name_valid(name, strlen(name)) || strcmp(name, "query") == 0) {
		size_t mark = enter_key(w, "name");

		fail(w, "\"%s\": a name is letters, digits, '_' or '-', and not \"query\"", name);
		leave(w, mark);
		return -1;
	}
	if ((b->name = strdup(name)) == NULL)
		return fail(w, "out of memory");
	if (get_int(w, obj, "timeout_ms", 1, MAX_TIMEOUT_MS, ep->timeout_ms, &b->timeout_ms) ||
	    get_bool(w, obj, "required", true, &b->required) || parse_success(w, obj, b) ||
	    get_choice(w, obj, "encoding", encodings, CFG_JSON, &enc) ||
	    parse_headers(w, obj, b) ||
	    get_int(w, obj, "max_body_bytes", 1, MAX_MAX_BODY, DEFAULT_MAX_BODY, &max_body))
		return -1;
	b->encoding = (enum cfg_encoding)enc;
	b->max_body_bytes = (size_t)max_body;
	{
		struct buf why = BUF_INIT;
		size_t mark = enter_key(w, "url");

		if (tpl_parse(&b->url, url, &why) != 0)
			fail(w, "%s", buf_str(&why));
		buf_free(&why);
		leave(w, mark);
	}
	return w->failed ? -1 : 0;
}

/* One segment of a path pattern: a literal, or a whole-segment {parameter}. */
static int
parse_segment(struct walk *w, const char *path, const char *p, size_t len,
    struct cfg_endpoint *ep)
{
	struct cfg_segment *s = &ep->segments[ep->nsegments];

	s->is_param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
	if (len == 0)
		return fail(w, "\"%s\": empty segment (a '/' too many)", path);
	if (s->is_param && !tpl_name_valid(p + 1, len - 2))
		return fail(w, "\"%s\": a {parameter} name is letters, digits, '_' or '-'", path);
	if (!s->is_param && (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL))
		return fail(w, "\"%s\": a {parameter} must be a whole segment", path);
	if ((s->text = s->is_param ? strndup(p + 1, len - 2) : strndup(p, len)) == NULL)
		return fail(w, "out of memory");
	ep->nsegments++;
	for (size_t i = 0; s->is_param && i + 1 < ep->nsegments; i++)
		if (ep->segments[i].is_param && strcmp(ep->segments[i].text, s->text) == 0)
			return fail(w, "\"%s\": parameter {%s} appears twice", path, s->text);
	return 0;
}

/* "/api/dashboard/{user}" -> segments "api", "dashboard", {user}; "/" has none. */
static int
parse_path(struct walk *w, const char *path, struct cfg_endpoint *ep)
{
	size_t n = 0, mark = enter_key(w, "path");
	const char *p;

	if (path[0] != '/' || strpbrk(path, "?#%\\") != NULL)
		fail(w, "\"%s\": must start with '/', and hold no '?', '#', '%%' or '\\'", path);
	else {
		for (p = path; *p != '\0'; p++)
			n += *p == '/';
		if ((ep->segments = calloc(n, sizeof(*ep->segments))) == NULL)
			fail(w, "out of memory");
	}
	for (p = path + 1; !w->failed && path[1] != '\0'; p += strcspn(p, "/") + 1)
		if (parse_segment(w, path, p, strcspn(p, "/"), ep) != 0 || p[strcspn(p, "/")] == '\0')
			break;
	leave(w, mark);
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

long
cfg_backend_find(const struct cfg_endpoint *ep, const char *name, size_t len)
{
	for (size_t i = 0; i < ep->nbackends; i++)
		if (ep->backends[i].name != NULL && strlen(ep->backends[i].name) == len &&
		    memcmp(ep->backends[i].name, name, len) == 0)
			return (long)i;
	return -1;
}

/* Checks what each placeholder of backend bi names, and records its dependencies. */
static int
link_backend(struct walk *w, struct cfg_endpoint *ep, size_t bi)
{
	struct cfg_backend *b = &ep->backends[bi];

	for (size_t i = 0; i < b->url.nparts; i++) {
		const struct tpl_part *p = &b->url.parts[i];
		long d;

		if (p->kind == TPL_PARAM && !has_param(ep, p->text))
			return fail(w, "placeholder {%s} names no parameter of the path %s", p->text,
			    ep->path);
		if (p->kind == TPL_QUERY && !has_query(ep, p->text))
			return fail(w, "placeholder {query.%s}: \"%s\" is not in the endpoint's query"
			    " list", p->text, p->text);
		if (p->kind != TPL_BACKEND)
			continue;
		if ((d = cfg_backend_find(ep, p->text, strlen(p->text))) < 0)
			return fail(w, "placeholder {%s.%s} names no backend of this endpoint",
			    p->text, p->pointer);
		if ((size_t)d == bi)
			return fail(w, "placeholder {%s.%s}: a backend cannot use its own response",
			    p->text, p->pointer);
		if (ep->backends[d].encoding != CFG_JSON)
			return fail(w, "placeholder {%s.%s}: backend %s is text, not json", p->text,
			    p->pointer, p->text);
		for (size_t k = 0; k < b->ndeps; k++)
			if (b->deps[k] == (size_t)d)
				d = -1;
		if (d < 0)
			continue;
		if ((b->deps = reallocarray(b->deps, b->ndeps + 1, sizeof(*b->deps))) == NULL)
			return fail(w, "out of memory");
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
	size_t mark = enter_key(w, "backends");

	if (state == NULL)
		fail(w, "out of memory");
	for (size_t i = 0; state != NULL && !w->failed && i < ep->nbackends; i++) {
		buf_truncate(&trail, 0);
		if (has_cycle(ep, i, state, &trail))
			fail(w, "dependency cycle: %s", buf_str(&trail));
	}
	leave(w, mark);
	buf_free(&trail);
	free(state);
	return w->failed ? -1 : 0;
}

static int
parse_methods(struct walk *w, json_t *obj, struct cfg_endpoint *ep)
{
	json_t *arr, *v;
	size_t i;

	if (get_array(w, obj, "methods", false, &arr) != 0)
		return -1;
	if (arr == NULL) {
		ep->methods = CFG_GET | CFG_HEAD;
		return 0;
	}
	json_array_foreach(arr, i, v) {
		const char *m = json_is_string(v) ? json_string_value(v) : "";

		if (strcmp(m, "GET") == 0)
			ep->methods |= CFG_GET;
		else if (strcmp(m, "HEAD") == 0)
			ep->methods |= CFG_HEAD;
		else {
			size_t mark = enter_item(w, "methods", i);

			fail(w, "must be \"GET\" or \"HEAD\"");
			leave(w, mark);
			return -1;
		}
	}
	return 0;
}

static int
parse_backends(struct walk *w, json_t *obj, struct cfg_endpoint *ep)
{
	json_t *arr, *v;
	size_t i;

	if (get_array(w, obj, "backends", true, &arr) != 0)
		return -1;
	if ((ep->backends = calloc(json_array_size(arr), sizeof(*ep->backends))) == NULL)
		return fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = enter_item(w, "backends", i);

		ep->nbackends = i + 1;	/* so that cfg_free frees what was made, even on error */
		if (parse_backend(w, v, ep, &ep->backends[i]) == 0 && cfg_backend_find(ep,
		    ep->backends[i].name, strlen(ep->backends[i].name)) != (long)i)
			fail(w, "name \"%s\" is used twice", ep->backends[i].name);
		leave(w, mark);
		if (w->failed)
			return -1;
	}
	for (i = 0; i < ep->nbackends; i++) {
		size_t mark = enter_item(w, "backends", i);

		(void)buf_puts(&w->path, ".url");
		link_backend(w, ep, i);
		leave(w, mark);
		if (w->failed)
			return -1;
	}
	return check_cycles(w, ep);
}

static int
parse_endpoint(struct walk *w, json_t *obj, struct cfg_endpoint *ep)
{
	static const char *const keys[] = { "path", "methods", "timeout_ms", "executor", "query",
		"expose_timing", "backends", NULL };
	static const char *const executors[] = { "threads", "pool", "serial", "multi", NULL };
	const char *path;
	int ex;

	if (!json_is_object(obj))
		return fail(w, "must be an object");
	if (check_keys(w, obj, keys) || get_string(w, obj, "path", true, &path))
		return -1;
	if ((ep->path = strdup(path)) == NULL)
		return fail(w, "out of memory");
	if (parse_path(w, path, ep) || parse_methods(w, obj, ep) ||
	    get_int(w, obj, "timeout_ms", 1, MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, &ep->timeout_ms) ||
	    get_choice(w, obj, "executor", executors, CFG_THREADS, &ex) ||
	    get_bool(w, obj, "expose_timing", false, &ep->expose_timing) ||
	    get_names(w, obj, "query", name_valid, "a name (letters, digits, '_' or '-')",
	    &ep->query, &ep->nquery) || parse_backends(w, obj, ep))
		return -1;
	ep->executor = (enum cfg_executor)ex;
	return 0;
}

/* Two endpoints with the same shape ("/a/{x}" and "/a/{y}") would make routing ambiguous. */
static bool
same_shape(const struct cfg_endpoint *a, const struct cfg_endpoint *b)
{
	if (a->nsegments != b->nsegments)
		return false;
	for (size_t i = 0; i < a->nsegments; i++)
		if (a->segments[i].is_param != b->segments[i].is_param ||
		    (!a->segments[i].is_param && strcmp(a->segments[i].text, b->segments[i].text)))
			return false;
	return true;
}

static int
parse_endpoints(struct walk *w, json_t *root, struct cfg *cfg)
{
	json_t *arr, *v;
	size_t i;

	if (get_array(w, root, "endpoints", true, &arr) != 0)
		return -1;
	if ((cfg->endpoints = calloc(json_array_size(arr), sizeof(*cfg->endpoints))) == NULL)
		return fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = enter_item(w, "endpoints", i);

		cfg->nendpoints = i + 1;
		if (parse_endpoint(w, v, &cfg->endpoints[i]) == 0)
			for (size_t j = 0; j < i; j++)
				if (same_shape(&cfg->endpoints[j], &cfg->endpoints[i]))
					fail(w, "path %s overlaps endpoints[%zu] (%s)",
					    cfg->endpoints[i].path, j, cfg->endpoints[j].path);
		leave(w, mark);
		if (w->failed)
			return -1;
	}
	return 0;
}

static int
parse_limits(struct walk *w, json_t *root, struct cfg *cfg)
{
	static const char *const keys[] = { "max_inflight", "pool_threads", NULL };
	json_t *obj = json_object_get(root, "limits");
	size_t mark = enter_key(w, "limits");
	long inflight = DEFAULT_MAX_INFLIGHT, pool = DEFAULT_POOL_THREADS;

	if (obj != NULL && !json_is_object(obj))
		fail(w, "must be an object");
	else if (obj != NULL && check_keys(w, obj, keys) == 0 &&
	    get_int(w, obj, "max_inflight", 1, 1000000, DEFAULT_MAX_INFLIGHT, &inflight) == 0)
		(void)get_int(w, obj, "pool_threads", 1, 4096, DEFAULT_POOL_THREADS, &pool);
	leave(w, mark);
	cfg->max_inflight = (size_t)inflight;
	cfg->pool_threads = (size_t)pool;
	return w->failed ? -1 : 0;
}

/* An admin path: a string starting with '/' (visible ASCII, no query) or false for off. */
static int
get_admin_path(struct walk *w, json_t *obj, const char *key, const char *dflt, char **out)
{
	json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
	size_t mark = enter_key(w, key);
	const char *path = dflt;

	if (v != NULL && json_is_false(v))
		path = NULL;
	else if (v != NULL && !json_is_string(v))
		fail(w, "must be a path (\"/metrics\") or false");
	else if (v != NULL)
		path = json_string_value(v);
	if (!w->failed && path != NULL) {
		size_t len = strlen(path);

		if (path[0] != '/' || len > 256)
			fail(w, "must start with '/' and be at most 256 bytes");
		for (size_t i = 0; !w->failed && i < len; i++)
			if (path[i] <= ' ' || path[i] > '~' || path[i] == '?' || path[i] == '%')
				fail(w, "byte %zu: only visible ASCII without '?' or '%%'", i);
		if (!w->failed && (*out = strdup(path)) == NULL)
			fail(w, "out of memory");
	}
	leave(w, mark);
	return w->failed ? -1 : 0;
}

/* "admin": where the metrics and the health check answer; both on by default. */
static int
parse_admin(struct walk *w, json_t *root, struct cfg *cfg)
{
	static const char *const keys[] = { "metrics", "health", NULL };
	json_t *obj = json_object_get(root, "admin");
	size_t mark = enter_key(w, "admin");

	if (obj != NULL && !json_is_object(obj))
		fail(w, "must be an object");
	else if ((obj == NULL || check_keys(w, obj, keys) == 0) &&
	    get_admin_path(w, obj, "metrics", "/metrics", &cfg->metrics_path) == 0)
		(void)get_admin_path(w, obj, "health", "/healthz", &cfg->health_path);
	leave(w, mark);
	return w->failed ? -1 : 0;
}

/* The admin paths must not shadow an endpoint (they are matched first). */
static int
check_admin_paths(struct walk *w, const struct cfg *cfg)
{
	const char *const keys[] = { "metrics", "health" };
	const char *const paths[] = { cfg->metrics_path, cfg->health_path };
	size_t mark = enter_key(w, "admin");

	if (paths[0] != NULL && paths[1] != NULL && strcmp(paths[0], paths[1]) == 0)
		fail(w, "metrics and health have the same path %s", paths[0]);
	for (size_t k = 0; k < 2 && !w->failed; k++)
		for (size_t i = 0; i < cfg->nendpoints && !w->failed; i++)
			if (paths[k] != NULL && strcmp(paths[k], cfg->endpoints[i].path) == 0) {
				size_t inner = enter_key(w, keys[k]);

				fail(w, "%s is also the path of endpoints[%zu]", paths[k], i);
				leave(w, inner);
			}
	leave(w, mark);
	return w->failed ? -1 : 0;
}

/* Validates and compiles a parsed document into *out. */
static int
cfg_build(json_t *root, const char *name, struct cfg **out, struct buf *err)
{
	static const char *const keys[] = { "endpoints", "limits", "admin", NULL };
	struct walk w = { .file = name, .path = BUF_INIT, .err = err };
	struct cfg *cfg = calloc(1, sizeof(*cfg));

	if (cfg != NULL)
		atomic_init(&cfg->refs, 1);
	if (cfg == NULL || (cfg->file = strdup(name)) == NULL)
		fail(&w, "out of memory");
	else if (!json_is_object(root))
		fail(&w, "the document must be an object");
	else if (check_keys(&w, root, keys) == 0 && parse_limits(&w, root, cfg) == 0 &&
	    parse_admin(&w, root, cfg) == 0 && parse_endpoints(&w, root, cfg) == 0)
		(void)check_admin_paths(&w, cfg);
	buf_free(&w.path);
	if (w.failed) {
		cfg_unref(cfg);
		return -1;
	}
	*out = cfg;
	return 0;
}

/* Reports a jansson error as FILE:LINE:COLUMN: text. */
static int
syntax_error(const char *name, const json_error_t *je, struct buf *err)
{
	(void)buf_printf(err, "%s:%d:%d: %s", name, je->line, je->column, je->text);
	return -1;
}

int
cfg_load_string(const char *text, size_t len, const char *name, struct cfg **out,
    struct buf *err)
{
	json_error_t je;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
	int rc;

	if (root == NULL)
		return syntax_error(name, &je, err);
	rc = cfg_build(root, name, out, err);
	json_decref(root);
	return rc;
}

/* A config is a few kilobytes; a file far larger is a mistake, not a config. */
#define MAX_CONFIG_BYTES (16 * 1024 * 1024)

int
cfg_load_file(const char *file, struct cfg **out, struct buf *err)
{
	struct buf text = BUF_INIT;
	int rc;

	/* Not json_load_file: it would block on a FIFO (a SIGHUP would then hang the main thread)
	 * and read a directory as an empty file. */
	if (file_read_regular(file, MAX_CONFIG_BYTES, &text, err) != FILE_OK)
		return -1;
	rc = cfg_load_string(buf_str(&text), text.len, file, out, err);
	buf_free(&text);
	return rc;
}

static void
free_names(char **names, size_t n)
{
	for (size_t i = 0; names != NULL && i < n; i++)
		free(names[i]);
	free(names);
}

static void
backend_free(struct cfg_backend *b)
{
	free(b->name);
	tpl_free(&b->url);
	free_names(b->headers, b->nheaders);
	free_names(b->header_params, b->nheaders);
	free(b->deps);
}

void
cfg_ref(struct cfg *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
}

void
cfg_unref(struct cfg *cfg)
{
	if (cfg == NULL || atomic_fetch_sub(&cfg->refs, 1) > 1)
		return;
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		struct cfg_endpoint *ep = &cfg->endpoints[i];

		free(ep->path);
		for (size_t s = 0; s < ep->nsegments; s++)
			free(ep->segments[s].text);
		free(ep->segments);
		free_names(ep->query, ep->nquery);
		for (size_t b = 0; b < ep->nbackends; b++)
			backend_free(&ep->backends[b]);
		free(ep->backends);
	}
	free(cfg->endpoints);
	free(cfg->file);
	free(cfg->metrics_path);
	free(cfg->health_path);
	free(cfg);
}
