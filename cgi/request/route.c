/* route.c - matching a request path to an endpoint of the config. */
#include "cgi/request/route.h"

#include <stdlib.h>
#include <string.h>

#include "cgi/config/template.h"
#include "common/pct.h"

/* Counts the segments of a raw path: "/" has none, "/a/b" two. */
static size_t
segment_count(const char *path, size_t len)
{
	size_t n = 0;

	if (len <= 1)
		return 0;
	for (size_t i = 0; i < len; i++)
		n += path[i] == '/';
	return n;
}

/* Length of the segment at *p (up to the next '/' or end), and moves *p past it and its '/'. */
static size_t
segment_next(const char **p, const char *end)
{
	const char *slash = memchr(*p, '/', (size_t)(end - *p));
	size_t len = slash != NULL ? (size_t)(slash - *p) : (size_t)(end - *p);

	*p += len + 1;
	return len;
}

/* True if the endpoint's literal segments equal the request's. */
static bool
literals_match(const struct cfg_endpoint *ep, const char *path, size_t len)
{
	const char *p = path + 1, *end = path + len;

	for (size_t i = 0; i < ep->nsegments; i++) {
		const char *seg = p;
		size_t seg_len = segment_next(&p, end);
		const struct cfg_segment *s = &ep->segments[i];

		if (!s->is_param && (strlen(s->text) != seg_len || memcmp(s->text, seg, seg_len) != 0))
			return false;
	}
	return true;
}

/* Decodes one parameter segment into m->params[m->nparams]. */
static enum route_result
param_decode(struct route_match *m, const char *name, const char *raw, size_t len,
    struct buf *err)
{
	struct buf v = BUF_INIT;
	enum pct_err pe = pct_decode(&v, raw, len, false);
	struct route_param *p = &m->params[m->nparams];

	if (pe == PCT_ENOMEM)
		return buf_free(&v), ROUTE_NOMEM;
	if (pe == PCT_EBADESC) {
		buf_free(&v);
		(void)buf_printf(err, "path parameter %s: bad percent-encoding", name);
		return ROUTE_BAD_PARAM;
	}
	p->name = name;
	p->len = v.len;
	p->value = buf_take(&v);
	if (p->value == NULL && (p->value = strdup("")) == NULL)
		return ROUTE_NOMEM;
	m->nparams++;
	if (!tpl_value_clean(p->value, p->len)) {
		(void)buf_printf(err, "path parameter %s: CR, LF and NUL are not allowed", name);
		return ROUTE_BAD_PARAM;
	}
	if (p->len == 0 || strcmp(p->value, ".") == 0 || strcmp(p->value, "..") == 0) {
		(void)buf_printf(err, "path parameter %s: empty, '.' and '..' are not allowed", name);
		return ROUTE_BAD_PARAM;
	}
	return ROUTE_OK;
}

static enum route_result
params_take(const struct cfg_endpoint *ep, const char *path, size_t len, struct route_match *m,
    struct buf *err)
{
	const char *p = path + 1, *end = path + len;
	enum route_result r = ROUTE_OK;

	if ((m->params = calloc(ep->nsegments ? ep->nsegments : 1, sizeof(*m->params))) == NULL)
		return ROUTE_NOMEM;
	for (size_t i = 0; r == ROUTE_OK && i < ep->nsegments; i++) {
		const char *seg = p;
		size_t seg_len = segment_next(&p, end);

		if (ep->segments[i].is_param)
			r = param_decode(m, ep->segments[i].text, seg, seg_len, err);
	}
	return r;
}

enum route_result
route_find(const struct cfg *cfg, const char *path, size_t len, struct route_match *m,
    struct buf *err)
{
	size_t nseg = segment_count(path, len);

	*m = (struct route_match){ NULL, NULL, 0 };
	if (len == 0 || path[0] != '/')
		return ROUTE_NOT_FOUND;
	for (size_t i = 0; i < cfg->nendpoints; i++) {
		const struct cfg_endpoint *ep = &cfg->endpoints[i];

		if (ep->nsegments == nseg && literals_match(ep, path, len)) {
			m->endpoint = ep;
			return params_take(ep, path, len, m, err);
		}
	}
	return ROUTE_NOT_FOUND;
}

void
route_match_free(struct route_match *m)
{
	for (size_t i = 0; i < m->nparams; i++)
		free(m->params[i].value);
	free(m->params);
	*m = (struct route_match){ NULL, NULL, 0 };
}
