/* vars.c - what a request's backend calls may read: copied out of the request, shared. */
#include "cgi/request/vars.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/pct.h"

static const struct vars_kv *
kv_find(const struct vars_kv *kv, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(kv[i].name, name) == 0)
			return &kv[i];
	return NULL;
}

/* The endpoint's own spelling of a query parameter name, or NULL if not allowlisted. */
static const char *
query_allowed(const struct cfg_endpoint *ep, const char *name, size_t len)
{
	for (size_t i = 0; i < ep->nquery; i++)
		if (strlen(ep->query[i]) == len && memcmp(ep->query[i], name, len) == 0)
			return ep->query[i];
	return NULL;
}

/* Adds one "name=value" pair of the query string, if its name is allowlisted. */
static enum vars_result
query_pair(struct req_vars *v, const char *pair, size_t len, struct buf *err)
{
	const char *eq = memchr(pair, '=', len);
	size_t nlen = eq != NULL ? (size_t)(eq - pair) : len;
	struct buf name = BUF_INIT, value = BUF_INIT;
	const char *allowed;
	enum vars_result r = VARS_OK;
	enum pct_err pe;

	if ((pe = pct_decode(&name, pair, nlen, true)) != PCT_OK)
		return buf_free(&name), pe == PCT_ENOMEM ? VARS_NOMEM : VARS_OK;	/* not ours */
	if ((allowed = query_allowed(v->route.endpoint, buf_str(&name), name.len)) == NULL) {
		buf_free(&name);
		return VARS_OK;
	}
	buf_free(&name);
	if (kv_find(v->query, v->nquery, allowed) != NULL) {
		(void)buf_printf(err, "query parameter %s: given twice", allowed);
		return VARS_BAD_REQUEST;
	}
	pe = eq != NULL ? pct_decode(&value, eq + 1, len - nlen - 1, true) : PCT_OK;
	if (pe == PCT_ENOMEM || buf_append(&value, "", 0) != 0)
		r = VARS_NOMEM;
	else if (pe == PCT_EBADESC) {
		(void)buf_printf(err, "query parameter %s: bad percent-encoding", allowed);
		r = VARS_BAD_REQUEST;
	} else {
		struct vars_kv *kv = &v->query[v->nquery++];

		kv->name = allowed;
		kv->len = value.len;
		kv->value = buf_take(&value);
	}
	buf_free(&value);
	return r;
}

static enum vars_result
query_parse(struct req_vars *v, const char *query, size_t qlen, struct buf *err)
{
	const struct cfg_endpoint *ep = v->route.endpoint;
	enum vars_result r = VARS_OK;
	const char *p = query, *end = query + qlen;

	if (ep->nquery == 0)
		return VARS_OK;
	if ((v->query = calloc(ep->nquery, sizeof(*v->query))) == NULL)
		return VARS_NOMEM;
	while (r == VARS_OK && p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		size_t len = amp != NULL ? (size_t)(amp - p) : (size_t)(end - p);

		if (len > 0)
			r = query_pair(v, p, len, err);
		p += len + 1;
	}
	return r;
}

/* Every line of header `param_name` (its FastCGI name), combined into out as HTTP combines a
 * repeated field: in order, with ", " between them (Cookie: "; "). Empty lines are list elements
 * that say nothing (RFC 9110 5.6.1): skipped, so that no value starts with a separator.
 * *present is false if the request has no such line. VARS_TOO_LARGE as soon as the value would
 * pass VARS_MAX_HEADER: what is copied stays bounded, however many lines come. */
static enum vars_result
header_combine(vars_param_fn param, void *ctx, const char *param_name, struct buf *out,
    bool *present)
{
	const char *sep = strcmp(param_name, "HTTP_COOKIE") == 0 ? "; " : ", ";
	size_t cursor = 0;
	const char *line;

	*present = false;
	while ((line = param(ctx, param_name, &cursor)) != NULL) {
		size_t len = strlen(line), sep_len = out->len > 0 ? strlen(sep) : 0;

		*present = true;
		if (len == 0)
			continue;
		if (len > VARS_MAX_HEADER - out->len || sep_len > VARS_MAX_HEADER - out->len - len)
			return VARS_TOO_LARGE;
		if (buf_append(out, sep, sep_len) != 0 || buf_append(out, line, len) != 0)
			return VARS_NOMEM;
	}
	return VARS_OK;
}

/* Adds forwarded header `name` (the FastCGI name; `display` as the config spells it) to v if
 * the request has it: its combined value must be clean and at most VARS_MAX_HEADER bytes. */
static enum vars_result
header_add(struct req_vars *v, vars_param_fn param, void *ctx, const char *name,
    const char *display, struct buf *err)
{
	struct buf value = BUF_INIT;
	bool present;
	enum vars_result r = header_combine(param, ctx, name, &value, &present);

	if (r == VARS_TOO_LARGE)
		(void)buf_printf(err, "header %s: longer than %d bytes (its lines combined)",
		    display, VARS_MAX_HEADER);
	else if (r == VARS_OK && present) {
		if (tpl_value_check(display, buf_str(&value), value.len, err) != 0)
			r = VARS_BAD_REQUEST;
		else if (buf_append(&value, "", 0) != 0)	/* an empty value is "", not NULL */
			r = VARS_NOMEM;
		else {
			struct vars_kv *kv = &v->headers[v->nheaders++];

			kv->name = name;
			kv->len = value.len;
			kv->value = buf_take(&value);
		}
	}
	buf_free(&value);
	return r;
}

/* Copies the allowlisted headers of every backend that the request carries. */
static enum vars_result
headers_copy(struct req_vars *v, vars_param_fn param, void *ctx, struct buf *err)
{
	const struct cfg_endpoint *ep = v->route.endpoint;
	enum vars_result r = VARS_OK;
	size_t max = 0;

	for (size_t b = 0; b < ep->nbackends; b++)
		max += ep->backends[b].nheaders;
	if (max == 0)
		return VARS_OK;
	if ((v->headers = calloc(max, sizeof(*v->headers))) == NULL)
		return VARS_NOMEM;
	for (size_t b = 0; r == VARS_OK && b < ep->nbackends; b++)
		for (size_t h = 0; r == VARS_OK && h < ep->backends[b].nheaders; h++) {
			const char *name = ep->backends[b].header_params[h];
			const char *display = ep->backends[b].headers[h];

			if (kv_find(v->headers, v->nheaders, name) == NULL)
				r = header_add(v, param, ctx, name, display, err);
		}
	return r;
}

const char *
vars_lookup(const struct req_vars *v, const struct tpl_part *part, size_t *len,
    struct buf *err)
{
	if (part->kind == TPL_PARAM) {
		for (size_t i = 0; i < v->route.nparams; i++)
			if (strcmp(v->route.params[i].name, part->text) == 0) {
				*len = v->route.params[i].len;
				return v->route.params[i].value;
			}
	} else if (part->kind == TPL_QUERY) {
		const struct vars_kv *kv = kv_find(v->query, v->nquery, part->text);

		if (kv != NULL) {
			*len = kv->len;
			return kv->value;
		}
		(void)buf_printf(err, "query parameter %s: missing", part->text);
		return NULL;
	}
	(void)buf_printf(err, "%s: no such request value", part->text);
	return NULL;
}

const struct vars_kv *
vars_header(const struct req_vars *v, const char *param_name)
{
	return kv_find(v->headers, v->nheaders, param_name);
}

/* Every value a template takes from the request must exist and be allowed where it goes. */
static enum vars_result
templates_check(const struct req_vars *v, struct buf *err)
{
	const struct cfg_endpoint *ep = v->route.endpoint;

	for (size_t b = 0; b < ep->nbackends; b++)
		for (size_t i = 0; i < ep->backends[b].url.nparts; i++) {
			const struct tpl_part *p = &ep->backends[b].url.parts[i];
			const char *value;
			size_t len;

			if (p->kind != TPL_PARAM && p->kind != TPL_QUERY)
				continue;
			if ((value = vars_lookup(v, p, &len, err)) == NULL ||
			    tpl_value_allowed(p, value, len, err) != 0)
				return VARS_BAD_REQUEST;
		}
	return VARS_OK;
}

enum vars_result
vars_build(struct cfg *cfg, struct route_match *route, const char *query, size_t qlen,
    vars_param_fn param, void *param_ctx, const char *request_id, struct req_vars **out,
    struct buf *err)
{
	struct req_vars *v = calloc(1, sizeof(*v));
	enum vars_result r;

	*out = NULL;
	if (v == NULL)
		return VARS_NOMEM;
	atomic_init(&v->refs, 1);
	cfg_ref(cfg);
	v->cfg = cfg;
	v->route = *route;
	*route = (struct route_match){ NULL, NULL, 0 };
	if ((v->request_id = strdup(request_id)) == NULL)
		r = VARS_NOMEM;
	else if ((r = query_parse(v, query, qlen, err)) == VARS_OK &&
	    (r = headers_copy(v, param, param_ctx, err)) == VARS_OK)
		r = templates_check(v, err);
	if (r != VARS_OK) {
		vars_unref(v);
		return r;
	}
	*out = v;
	return VARS_OK;
}

void
vars_ref(struct req_vars *v)
{
	atomic_fetch_add(&v->refs, 1);
}

void
vars_unref(struct req_vars *v)
{
	if (v == NULL || atomic_fetch_sub(&v->refs, 1) != 1)
		return;
	route_match_free(&v->route);
	for (size_t i = 0; i < v->nquery; i++)
		free(v->query[i].value);
	free(v->query);
	for (size_t i = 0; i < v->nheaders; i++)
		free(v->headers[i].value);
	free(v->headers);
	free(v->request_id);
	cfg_unref(v->cfg);
	free(v);
}

const char *
vars_env_param(char *const *env, const char *name, size_t *cursor)
{
	size_t len = strlen(name), i = cursor != NULL ? *cursor : 0;

	for (; env != NULL && env[i] != NULL; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=') {
			if (cursor != NULL)
				*cursor = i + 1;
			return env[i] + len + 1;
		}
	if (cursor != NULL)
		*cursor = i;
	return NULL;
}
