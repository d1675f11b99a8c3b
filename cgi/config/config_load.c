/* config_load.c - loading a config: the document, its limits, admin paths and endpoints, read and
 * validated into a struct cfg (the backends are config_backend.c's). */
#include "cgi/config/config.h"

#include <stdlib.h>
#include <string.h>

#include "cgi/config/config_parse.h"
#include "common/file.h"

#define DEFAULT_TIMEOUT_MS 1000

static bool
name_valid(const char *s, size_t len)
{
	return tpl_name_valid(s, len);
}

/* One segment of a path pattern: a literal, or a whole-segment {parameter}. */
static int
parse_segment(struct walk *w, const char *path, const char *p, size_t len,
    struct cfg_endpoint *ep)
{
	struct cfg_segment *s = &ep->segments[ep->nsegments];

	s->is_param = len >= 2 && p[0] == '{' && p[len - 1] == '}';
	if (len == 0)
		return walk_fail(w, "\"%s\": empty segment (a '/' too many)", path);
	if (s->is_param && !tpl_name_valid(p + 1, len - 2))
		return walk_fail(w, "\"%s\": a {parameter} name is letters, digits, '_' or '-'",
		    path);
	if (!s->is_param && (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL))
		return walk_fail(w, "\"%s\": a {parameter} must be a whole segment", path);
	if ((s->text = s->is_param ? strndup(p + 1, len - 2) : strndup(p, len)) == NULL)
		return walk_fail(w, "out of memory");
	ep->nsegments++;
	for (size_t i = 0; s->is_param && i + 1 < ep->nsegments; i++)
		if (ep->segments[i].is_param && strcmp(ep->segments[i].text, s->text) == 0)
			return walk_fail(w, "\"%s\": parameter {%s} appears twice", path, s->text);
	return 0;
}

/* "/api/dashboard/{user}" -> segments "api", "dashboard", {user}; "/" has none. */
static int
parse_path(struct walk *w, const char *path, struct cfg_endpoint *ep)
{
	size_t n = 0, mark = walk_enter_key(w, "path");
	const char *p;

	if (path[0] != '/' || strpbrk(path, "?#%\\") != NULL)
		walk_fail(w, "\"%s\": must start with '/', and hold no '?', '#', '%%' or '\\'",
		    path);
	else {
		for (p = path; *p != '\0'; p++)
			n += *p == '/';
		if ((ep->segments = calloc(n, sizeof(*ep->segments))) == NULL)
			walk_fail(w, "out of memory");
	}
	for (p = path + 1; !w->failed && path[1] != '\0'; p += strcspn(p, "/") + 1)
		if (parse_segment(w, path, p, strcspn(p, "/"), ep) != 0 || p[strcspn(p, "/")] == '\0')
			break;
	walk_leave(w, mark);
	return w->failed ? -1 : 0;
}

static int
parse_methods(struct walk *w, json_t *obj, struct cfg_endpoint *ep)
{
	json_t *arr, *v;
	size_t i;

	if (walk_array(w, obj, "methods", false, &arr) != 0)
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
			size_t mark = walk_enter_item(w, "methods", i);

			walk_fail(w, "must be \"GET\" or \"HEAD\"");
			walk_leave(w, mark);
			return -1;
		}
	}
	return 0;
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
		return walk_fail(w, "must be an object");
	if (walk_keys(w, obj, keys) || walk_string(w, obj, "path", true, &path))
		return -1;
	if ((ep->path = strdup(path)) == NULL)
		return walk_fail(w, "out of memory");
	if (parse_path(w, path, ep) || parse_methods(w, obj, ep) ||
	    walk_int(w, obj, "timeout_ms", 1, CFG_MAX_TIMEOUT_MS, DEFAULT_TIMEOUT_MS,
	    &ep->timeout_ms) ||
	    walk_choice(w, obj, "executor", executors, CFG_THREADS, &ex) ||
	    walk_bool(w, obj, "expose_timing", false, &ep->expose_timing) ||
	    walk_names(w, obj, "query", name_valid, "a name (letters, digits, '_' or '-')",
	    &ep->query, &ep->nquery) || cfg_parse_backends(w, obj, ep))
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

	if (walk_array(w, root, "endpoints", true, &arr) != 0)
		return -1;
	if ((cfg->endpoints = calloc(json_array_size(arr), sizeof(*cfg->endpoints))) == NULL)
		return walk_fail(w, "out of memory");
	json_array_foreach(arr, i, v) {
		size_t mark = walk_enter_item(w, "endpoints", i);

		cfg->nendpoints = i + 1;
		if (parse_endpoint(w, v, &cfg->endpoints[i]) == 0)
			for (size_t j = 0; j < i; j++)
				if (same_shape(&cfg->endpoints[j], &cfg->endpoints[i]))
					walk_fail(w, "path %s overlaps endpoints[%zu] (%s)",
					    cfg->endpoints[i].path, j, cfg->endpoints[j].path);
		walk_leave(w, mark);
		if (w->failed)
			return -1;
	}
	return 0;
}

/* "limits": fanout's process-wide limits. What the file leaves out stays CFG_UNSET, so that
 * fanout applies its own default rather than a copy of it kept here. */
static int
parse_limits(struct walk *w, json_t *root, struct cfg *cfg)
{
	static const char *const keys[] = { "max_inflight", "pool_threads", "max_connections",
		"max_pending_output_mb", NULL };
	json_t *obj = json_object_get(root, "limits");
	size_t mark = walk_enter_key(w, "limits");
	long inflight = CFG_UNSET, pool = CFG_UNSET, conns = CFG_UNSET, pending = CFG_UNSET;

	if (obj != NULL && !json_is_object(obj))
		walk_fail(w, "must be an object");
	else if (obj != NULL && walk_keys(w, obj, keys) == 0 &&
	    walk_int(w, obj, "max_inflight", 1, 1000000, CFG_UNSET, &inflight) == 0 &&
	    walk_int(w, obj, "pool_threads", 1, 4096, CFG_UNSET, &pool) == 0 &&
	    walk_int(w, obj, "max_connections", 1, 1000000, CFG_UNSET, &conns) == 0)
		(void)walk_int(w, obj, "max_pending_output_mb", 1, 1024 * 1024, CFG_UNSET,
		    &pending);
	walk_leave(w, mark);
	cfg->max_inflight = (size_t)inflight;
	cfg->pool_threads = (size_t)pool;
	cfg->max_connections = (size_t)conns;
	cfg->max_pending_output_mb = (size_t)pending;
	return w->failed ? -1 : 0;
}

/* An admin path: a string starting with '/' (visible ASCII, no query) or false for off. */
static int
get_admin_path(struct walk *w, json_t *obj, const char *key, const char *dflt, char **out)
{
	json_t *v = obj != NULL ? json_object_get(obj, key) : NULL;
	size_t mark = walk_enter_key(w, key);
	const char *path = dflt;

	if (v != NULL && json_is_false(v))
		path = NULL;
	else if (v != NULL && !json_is_string(v))
		walk_fail(w, "must be a path (\"/metrics\") or false");
	else if (v != NULL)
		path = json_string_value(v);
	if (!w->failed && path != NULL) {
		size_t len = strlen(path);

		if (path[0] != '/' || len > 256)
			walk_fail(w, "must start with '/' and be at most 256 bytes");
		for (size_t i = 0; !w->failed && i < len; i++)
			if (path[i] <= ' ' || path[i] > '~' || path[i] == '?' || path[i] == '%')
				walk_fail(w, "byte %zu: only visible ASCII without '?' or '%%'", i);
		if (!w->failed && (*out = strdup(path)) == NULL)
			walk_fail(w, "out of memory");
	}
	walk_leave(w, mark);
	return w->failed ? -1 : 0;
}

/* "admin": where the metrics and the health check answer; both on by default. */
static int
parse_admin(struct walk *w, json_t *root, struct cfg *cfg)
{
	static const char *const keys[] = { "metrics", "health", NULL };
	json_t *obj = json_object_get(root, "admin");
	size_t mark = walk_enter_key(w, "admin");

	if (obj != NULL && !json_is_object(obj))
		walk_fail(w, "must be an object");
	else if ((obj == NULL || walk_keys(w, obj, keys) == 0) &&
	    get_admin_path(w, obj, "metrics", "/metrics", &cfg->metrics_path) == 0)
		(void)get_admin_path(w, obj, "health", "/healthz", &cfg->health_path);
	walk_leave(w, mark);
	return w->failed ? -1 : 0;
}

/* The admin paths must not shadow an endpoint (they are matched first). */
static int
check_admin_paths(struct walk *w, const struct cfg *cfg)
{
	const char *const keys[] = { "metrics", "health" };
	const char *const paths[] = { cfg->metrics_path, cfg->health_path };
	size_t mark = walk_enter_key(w, "admin");

	if (paths[0] != NULL && paths[1] != NULL && strcmp(paths[0], paths[1]) == 0)
		walk_fail(w, "metrics and health have the same path %s", paths[0]);
	for (size_t k = 0; k < 2 && !w->failed; k++)
		for (size_t i = 0; i < cfg->nendpoints && !w->failed; i++)
			if (paths[k] != NULL && strcmp(paths[k], cfg->endpoints[i].path) == 0) {
				size_t inner = walk_enter_key(w, keys[k]);

				walk_fail(w, "%s is also the path of endpoints[%zu]", paths[k], i);
				walk_leave(w, inner);
			}
	walk_leave(w, mark);
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
		walk_fail(&w, "out of memory");
	else if (!json_is_object(root))
		walk_fail(&w, "the document must be an object");
	else if (walk_keys(&w, root, keys) == 0 && parse_limits(&w, root, cfg) == 0 &&
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
