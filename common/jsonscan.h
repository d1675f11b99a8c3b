/* jsonscan.h - checks that bytes are one valid JSON text (RFC 8259), without building it. */
#ifndef COMMON_JSONSCAN_H
#define COMMON_JSONSCAN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/*
 * True if s[0..len) is exactly one JSON value (any type), white space around it allowed, with
 * strings of valid UTF-8 and arrays and objects nested at most max_depth deep. Otherwise false,
 * with "offset N: reason" appended to err. One pass, no recursion and no allocation but err:
 * valid bodies can then be copied into a response as they are, never parsed or printed again.
 */
bool jsonscan_valid(const char *s, size_t len, int max_depth, struct buf *err);

/* Appends s[0..len) to out as a JSON string ("..." with escapes); false, appending nothing, if
 * s is not valid UTF-8 (or out of memory). */
bool jsonscan_quote(struct buf *out, const char *s, size_t len);

#endif
