/* template.c - backend URL templates: parsed once at config load, expanded per request. */
#include "cgi/config/template.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/backend/origin.h"
#include "common/jptr.h"
#include "common/pct.h"

bool
tpl_name_valid(const char *s, size_t len)
{
	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

static int
part_add(struct tpl *t, enum tpl_kind kind, int in_query, const char *text, size_t len,
    const char *pointer, size_t plen)
{
	struct tpl_part *grown, *p;

	if ((grown = realloc(t->parts, (t->nparts + 1) * sizeof(*grown))) == NULL)
		return -1;
	t->parts = grown;
	p = &t->parts[t->nparts];
	p->kind = kind;
	p->in_query = in_query;
	p->text = strndup(text, len);
	p->pointer = pointer != NULL ? strndup(pointer, plen) : NULL;
	if (p->text == NULL || (pointer != NULL && p->pointer == NULL)) {
		free(p->text);
		free(p->pointer);
		return -1;
	}
	t->nparts++;
	return 0;
}

/* Parses the inside of one "{...}" into a part. */
static int
placeholder_add(struct tpl *t, const char *s, size_t len, int in_query, struct buf *err)
{
	const char *dot = memchr(s, '.', len);
	size_t name_len = dot != NULL ? (size_t)(dot - s) : len;

	if (!tpl_name_valid(s, name_len)) {
		(void)buf_printf(err, "placeholder {%.*s}: a name is letters, digits, '_' or '-'",
		    (int)len, s);
		return -1;
	}
	if (dot == NULL)
		return part_add(t, TPL_PARAM, in_query, s, len, NULL, 0);
	if (name_len == 5 && memcmp(s, "query", 5) == 0) {
		if (!tpl_name_valid(dot + 1, len - 6)) {
			(void)buf_printf(err, "placeholder {%.*s}: bad query parameter name",
			    (int)len, s);
			return -1;
		}
		return part_add(t, TPL_QUERY, in_query, dot + 1, len - 6, NULL, 0);
	}
	{
		char *ptr = strndup(dot + 1, len - name_len - 1);
		bool ok = ptr != NULL && jptr_valid(ptr);

		free(ptr);
		if (!ok) {
			(void)buf_printf(err, "placeholder {%.*s}: after '%.*s.' comes a JSON Pointer"
			    " such as /field/0 (RFC 6901)", (int)len, s, (int)name_len, s);
			return -1;
		}
	}
	return part_add(t, TPL_BACKEND, in_query, s, name_len, dot + 1, len - name_len - 1);
}

/* A byte no URL holds as it is (curl refuses it; in a request line it would end the target or
 * the line): a control character, a space or DEL. */
static bool
url_byte_bad(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

/* Length of "scheme://authority" at the start of url, its origin's key in t; 0 with the reason
 * in err if it is not an http or https origin with a literal host and port. */
static size_t
origin_length(struct tpl *t, const char *url, struct buf *err)
{
	struct origin_authority a;
	size_t n = strncmp(url, "https://", 8) == 0 ? 8 : 7;

	if (strncmp(url, "http://", 7) == 0 || n == 8) {
		n += strcspn(url + n, "/?#{}");
		if (url[n] == '{' || url[n] == '}') {
			(void)buf_printf(err, "a placeholder cannot stand in the host or port: a request"
			    " never chooses where the program connects");
			return 0;
		}
	}
	if (origin_parse(url, &a, err) != 0)
		return 0;
	if ((t->origin = origin_key(&a)) == NULL) {
		(void)buf_printf(err, "out of memory");
		return 0;
	}
	return a.end;
}

int
tpl_parse(struct tpl *t, const char *url, struct buf *err)
{
	size_t origin, lit = 0;
	int in_query = 0;

	*t = (struct tpl){ NULL, 0, NULL };
	for (size_t i = 0; url[i] != '\0'; i++)
		if (url_byte_bad((unsigned char)url[i])) {
			(void)buf_printf(err, "byte 0x%02x at offset %zu: no control character, space"
			    " or DEL in a URL (percent-encode it)", (unsigned char)url[i], i);
			return -1;
		}
	if ((origin = origin_length(t, url, err)) == 0)
		goto fail;
	for (size_t i = origin; url[i] != '\0'; i++) {
		const char *close;

		if (url[i] == '#' || url[i] == '}' || (url[i] == '?' && in_query)) {
			(void)buf_printf(err, "unexpected '%c' at offset %zu", url[i], i);
			goto fail;
		}
		if (url[i] == '?')
			in_query = 1;
		if (url[i] != '{')
			continue;
		if ((close = strchr(url + i, '}')) == NULL) {
			(void)buf_printf(err, "'{' at offset %zu is never closed", i);
			goto fail;
		}
		if ((i > lit && part_add(t, TPL_LITERAL, in_query, url + lit, i - lit, NULL, 0)) ||
		    placeholder_add(t, url + i + 1, (size_t)(close - url) - i - 1, in_query, err))
			goto fail;
		i = (size_t)(close - url);
		lit = i + 1;
	}
	if (url[lit] != '\0' && part_add(t, TPL_LITERAL, in_query, url + lit, strlen(url + lit),
	    NULL, 0))
		goto fail;
	return 0;
fail:
	if (err->len == 0)
		(void)buf_puts(err, "out of memory");
	tpl_free(t);
	return -1;
}

void
tpl_free(struct tpl *t)
{
	for (size_t i = 0; i < t->nparts; i++) {
		free(t->parts[i].text);
		free(t->parts[i].pointer);
	}
	free(t->parts);
	free(t->origin);
	*t = (struct tpl){ NULL, 0, NULL };
}

bool
tpl_value_clean(const char *value, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (value[i] == '\r' || value[i] == '\n' || value[i] == '\0')
			return false;
	return true;
}

int
tpl_value_check(const char *name, const char *value, size_t len, struct buf *err)
{
	if (tpl_value_clean(value, len))
		return 0;
	(void)buf_printf(err, "%s: CR, LF and NUL are not allowed in a value", name);
	return -1;
}

/* Dot segments would let curl or the backend rewrite the path: "/users/.." is "/". */
static bool
is_dot_segment(const char *v, size_t len)
{
	return (len == 1 && v[0] == '.') || (len == 2 && v[0] == '.' && v[1] == '.');
}

int
tpl_value_allowed(const struct tpl_part *part, const char *value, size_t len, struct buf *err)
{
	bool clean = tpl_value_clean(value, len);

	/* Runs for every value of every request: the message is only made for a refusal. */
	if (clean && (part->in_query || !is_dot_segment(value, len)))
		return 0;
	if (part->kind == TPL_BACKEND)
		(void)buf_printf(err, "%s.%s: ", part->text, part->pointer);
	else
		(void)buf_printf(err, "%s parameter %s: ", part->kind == TPL_QUERY ? "query" : "path",
		    part->text);
	(void)buf_puts(err, clean ? "'.' and '..' are not allowed in a path" :
	    "CR, LF and NUL are not allowed in a value");
	return -1;
}

enum tpl_expand_rc
tpl_expand(const struct tpl *t, tpl_lookup_fn lookup, void *ctx, struct buf *out,
    struct buf *err)
{
	for (size_t i = 0; i < t->nparts; i++) {
		const struct tpl_part *p = &t->parts[i];
		const char *v;
		size_t len;

		if (p->kind == TPL_LITERAL) {
			if (buf_puts(out, p->text) != 0)
				return TPL_NO_MEMORY;
			continue;
		}
		if ((v = lookup(ctx, p, &len, err)) == NULL ||
		    tpl_value_allowed(p, v, len, err) != 0)
			return TPL_REFUSED;
		if (pct_encode(out, v, len) != PCT_OK)
			return TPL_NO_MEMORY;
	}
	return TPL_EXPANDED;
}
