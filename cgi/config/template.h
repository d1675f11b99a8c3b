/* template.h - backend URL templates: parsed once at config load, expanded per request. */
#ifndef CGI_TEMPLATE_H
#define CGI_TEMPLATE_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/*
 * A template is an http:// or https:// URL whose path and query may hold placeholders:
 *   {NAME}             a parameter of the endpoint's path
 *   {query.NAME}       a query parameter of the request (from the endpoint's allowlist)
 *   {BACKEND./ptr}     the value at JSON Pointer /ptr in backend BACKEND's response
 * The scheme, host and port are literal: a request can never choose where the program connects.
 * tpl_parse() refuses at load what can never work: a control character, space or DEL anywhere
 * (an expanded value is percent-encoded, so the literal parts are all that could hold one), a
 * host that is neither a name, an IPv4 address nor a closed "[IPv6]" literal, a port outside
 * 1-65535 or not a number.
 */

enum tpl_kind {
	TPL_LITERAL,
	TPL_PARAM,
	TPL_QUERY,
	TPL_BACKEND,
};

struct tpl_part {
	enum tpl_kind kind;
	int in_query;		/* the part stands after the '?' */
	char *text;		/* the literal text, or the parameter / query / backend name */
	char *pointer;		/* TPL_BACKEND: the JSON Pointer ("" is the whole document) */
};

struct tpl {
	struct tpl_part *parts;
	size_t nparts;
	char *origin;		/* "scheme://host:port" of origin_key(): the origin's key */
};

/* True if s[0..len) is a name of a parameter, query parameter or backend: [A-Za-z0-9_-]+. */
bool tpl_name_valid(const char *s, size_t len);

/* Parses `url` (its authority with origin_parse(), recorded as t->origin). On error returns -1
 * with the reason appended to err, and *t left empty. */
int tpl_parse(struct tpl *t, const char *url, struct buf *err);

void tpl_free(struct tpl *t);

/* Gives the value of a placeholder part, or NULL with a reason in err. */
typedef const char *(*tpl_lookup_fn)(void *ctx, const struct tpl_part *part, size_t *len,
    struct buf *err);

enum tpl_expand_rc {
	TPL_EXPANDED,
	TPL_REFUSED,		/* a value is missing or not allowed; the reason in err */
	TPL_NO_MEMORY,		/* out of memory while writing out */
};

/*
 * Appends the expanded URL to out. Every value is percent-encoded, so it can change neither the
 * path's structure nor the query's. Refused: a missing value (lookup gave NULL), a value holding
 * CR, LF or NUL, and a value that is exactly "." or ".." in the path.
 */
enum tpl_expand_rc tpl_expand(const struct tpl *t, tpl_lookup_fn lookup, void *ctx,
    struct buf *out, struct buf *err);

/* True if value[0..len) holds no CR, LF or NUL. */
bool tpl_value_clean(const char *value, size_t len);

/* Checks a value taken from a request: -1 with a reason in err if it holds CR, LF or NUL. */
int tpl_value_check(const char *name, const char *value, size_t len, struct buf *err);

/* The rule tpl_expand() applies to each value of a placeholder: tpl_value_check(), and no "."
 * or ".." in the path. -1 with a reason in err. */
int tpl_value_allowed(const struct tpl_part *part, const char *value, size_t len,
    struct buf *err);

#endif
