/* desync.h - backend origins whose connections fell out of step: not reused until a reload. */
#ifndef CGI_DESYNC_H
#define CGI_DESYNC_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/*
 * Why: an HTTP/1.1 connection carries answers in order and nothing marks which request an answer
 * is for. Once a backend has sent bytes nobody asked for, the next answer read on a kept
 * connection may be another user's (issue 18, item 2): one user's data served to another. Each
 * sign of it, from either client, marks the backend's origin (scheme, host, port: the key
 * origin_key() makes); every later call to a marked origin goes out on a connection of its own,
 * closed after its answer, so that the damage stops at the calls already under way. A mark lasts
 * until the next config is put in force (SIGHUP): whoever fixed the backend says so by reloading.
 *
 * The registry holds one entry per origin, made when a config naming it is loaded and never
 * moved nor freed while the process runs: a backend holds a pointer to its entry, and whether a
 * call may reuse a connection is one relaxed atomic load (desync_stopped_at()), with no lock.
 * Its size is bounded by the distinct origins of every config ever loaded (checked configs and
 * refused reloads included): an entry is its key and a few counters. Process-wide, any thread.
 */

/* The signs of a connection out of step. */
enum desync_sign {
	DESYNC_PEEK,		/* "peek": bytes waiting on a kept connection as it was about
				 * to carry a request */
	DESYNC_TRAILING,	/* "trailing": bytes after the end of an answer, in its read */
	DESYNC_IDLE,		/* "idle": bytes arriving on an idle kept connection */
	DESYNC_UNPARSED,	/* "unparsed": an answer that is not well-framed HTTP/1.x */
	DESYNC_ECHO,		/* "echo": the answer did not echo the call's request id */
	DESYNC_NSIGNS,
};

/* An origin's entry. */
struct desync_origin;

/* The entry of the origin key (origin_key()), made if it is new; NULL if out of memory. */
struct desync_origin *desync_register(const char *key);

/* The entry's key, which lives as long as the entry. */
const char *desync_key(const struct desync_origin *o);

/* Counts a sign seen on a connection to o; the first that stops its reuse is logged once, with
 * why (a short text: what was seen). */
void desync_mark(struct desync_origin *o, enum desync_sign sign, const char *why);

/* desync_mark() on the origin of key (for a client that names origins by their key); an origin
 * no config named is registered first. */
void desync_mark_key(const char *key, enum desync_sign sign, const char *why);

/* Whether connections to o are no longer to be reused: one relaxed atomic load. */
bool desync_stopped_at(const struct desync_origin *o);

/* A new config is in force: every origin may reuse connections again (the counts stay). */
void desync_reset(void);

/* The number of origins whose reuse is stopped now. */
size_t desync_stopped(void);

/* Appends, for the metrics, one line per origin and sign seen:
 * fanout_backend_desync_signs_total{origin="...",sign="..."} N, and the gauge
 * fanout_backend_reuse_stopped. -1 if out of memory. */
int desync_render_metrics(struct buf *out);

/* Frees the registry; for the end of the process (and leak checkers), when nothing holds an
 * entry any more. */
void desync_free(void);

#endif
