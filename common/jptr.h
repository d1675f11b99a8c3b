/* jptr.h - JSON Pointer (RFC 6901) over jansson values. */
#ifndef COMMON_JPTR_H
#define COMMON_JPTR_H

#include <jansson.h>
#include <stdbool.h>

/* True if `ptr` is a well-formed pointer: "" or "/"-separated tokens where '~' is only
 * followed by '0' or '1'. */
bool jptr_valid(const char *ptr);

/* The value `ptr` points to inside `root` (borrowed), or NULL if there is none or the pointer
 * is malformed. Array indices are decimal without leading zeros; "-" points to nothing. */
json_t *jptr_get(json_t *root, const char *ptr);

#endif
