/* jsonscan.h - the program's one JSON parser: checks that bytes are valid JSON (RFC 8259) without
 * building anything, finds where a value ends, decodes a string. */
#ifndef COMMON_JSONSCAN_H
#define COMMON_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* The deepest nesting any scan accepts, whatever max_depth asks. */
#define JSONSCAN_MAX_DEPTH 512

/*
 * What counts as JSON, everywhere in the program: RFC 8259's grammar, strings of valid UTF-8,
 * and a \u escape of a surrogate only as a high one followed at once by a low one (a lone or
 * reversed surrogate has no UTF-8 form: refused). \u0000 is valid; numbers of any length or
 * exponent are valid (nothing converts them: they are copied as written).
 */

/*
 * True if s[0..len) is exactly one JSON value (any type), white space around it allowed, with
 * arrays and objects nested at most max_depth deep. Otherwise false, with "offset N: reason"
 * appended to err. One pass, no recursion and no allocation but err: valid bodies can then be
 * copied into a response as they are, never parsed or printed again.
 */
bool jsonscan_valid(const char *s, size_t len, int max_depth, struct buf *err);

/*
 * The one value at the start of s[0..len), white space before it allowed and anything after it,
 * by the rules of jsonscan_valid(): true with *end the offset just past its last character;
 * else false with "offset N: reason" appended to err (if not NULL).
 */
bool jsonscan_value(const char *s, size_t len, int max_depth, size_t *end, struct buf *err);

enum jsonscan_rc {
	JSONSCAN_OK,
	JSONSCAN_INVALID,	/* unquote: not one JSON string, as jsonscan_valid() decides;
				 * quote: not valid UTF-8 */
	JSONSCAN_NO_MEMORY,
};

/* The JSON string that starts at s[0] (its opening quote), within s[0..len): its text appended
 * to out, escapes decoded to UTF-8 (\u0000 gives a NUL byte), and *end set to the offset just
 * past its closing quote. One pass, checking as jsonscan_valid() does; on error out is left as
 * it was. */
enum jsonscan_rc jsonscan_unquote(struct buf *out, const char *s, size_t len, size_t *end);

/* Appends s[0..len) to out as a JSON string ("..." with escapes): JSONSCAN_OK; else, appending
 * nothing, JSONSCAN_INVALID if s is not valid UTF-8, JSONSCAN_NO_MEMORY. */
enum jsonscan_rc jsonscan_quote(struct buf *out, const char *s, size_t len);

#endif
