/* config_parse.h - inside the config loader: the walk over the JSON document through which every
 * part of it reports, and the parts in files of their own. The program reads cgi/config/config.h. */
#ifndef CGI_CONFIG_PARSE_H
#define CGI_CONFIG_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "cgi/config/config.h"
#include "common/buf.h"

/* The longest timeout_ms of an endpoint or a backend: ten minutes. */
#define CFG_MAX_TIMEOUT_MS 600000

/* The walk's state: where in the document we are, for messages. */
struct walk {
	const char *file;
	struct buf path;	/* e.g. "endpoints[2].backends[0]" */
	struct buf *err;
	int failed;
};

/* Records "FILE: PATH: reason" in w->err (only the first error is kept) and returns -1. */
__attribute__((format(printf, 2, 3))) int walk_fail(struct walk *w, const char *fmt, ...);

/* Steps into a key ("a.key"), or into item i of the array under key ("key[i]"); returns the mark
 * to step back to with walk_leave(). */
size_t walk_enter_key(struct walk *w, const char *key);
size_t walk_enter_item(struct walk *w, const char *key, size_t i);
void walk_leave(struct walk *w, size_t mark);

/*
 * The reads below take member `key` of obj and return 0, or -1 once walk_fail() has named the
 * member and the reason. What they hand out of the document is borrowed from it.
 */

/* Every key of obj must be in allowed (NULL-terminated). */
int walk_keys(struct walk *w, json_t *obj, const char *const *allowed);

/* A string without NUL; *out is NULL if absent and not required. */
int walk_string(struct walk *w, json_t *obj, const char *key, bool required, const char **out);

/* An integer from min to max; dflt when absent. */
int walk_int(struct walk *w, json_t *obj, const char *key, long min, long max, long dflt,
    long *out);

/* true or false; dflt when absent. */
int walk_bool(struct walk *w, json_t *obj, const char *key, bool dflt, bool *out);

/* A non-empty array; *out is NULL if absent and not required. */
int walk_array(struct walk *w, json_t *obj, const char *key, bool required, json_t **out);

/* One of `names` (NULL-terminated); *out is its index, or dflt when absent. */
int walk_choice(struct walk *w, json_t *obj, const char *key, const char *const *names, int dflt,
    int *out);

/* An array of distinct names, each checked by valid() (`what` says what one must be), copied
 * into *out; *n counts the copies, made even on error, for the caller to free. */
int walk_names(struct walk *w, json_t *obj, const char *key, bool (*valid)(const char *, size_t),
    const char *what, char ***out, size_t *n);

/* config_backend.c: the endpoint's "backends", into ep->backends, with what each URL placeholder
 * names checked, the dependencies recorded in deps, and cycles refused. ep's path, query list
 * and timeout_ms must be read first (the URLs use them). */
int cfg_parse_backends(struct walk *w, json_t *obj, struct cfg_endpoint *ep);

#endif
