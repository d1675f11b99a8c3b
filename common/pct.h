/* pct.h - percent-encoding (RFC 3986) of URL components, and its decoding. */
#ifndef COMMON_PCT_H
#define COMMON_PCT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

enum pct_err {
	PCT_OK = 0,
	PCT_ENOMEM,
	PCT_EBADESC,	/* '%' not followed by two hex digits */
};

/* Appends s[0..len) to out with every byte but the unreserved ones (ALPHA DIGIT - . _ ~)
 * encoded as %XX, so the value can never add a '/', '?', '&', '=' or '#' to a URL. */
enum pct_err pct_encode(struct buf *out, const char *s, size_t len);

/* Appends the decoded s[0..len) to out; with plus_is_space (query strings), '+' is a space.
 * The result may hold any byte, NUL included: out->len tells its length. */
enum pct_err pct_decode(struct buf *out, const char *s, size_t len, bool plus_is_space);

#endif
