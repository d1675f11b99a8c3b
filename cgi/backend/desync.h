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
 * sign of it, from either client, marks the backend's origin (scheme, host, port); every later
 * call to a marked origin goes out on a connection of its own, closed after its answer, so that
 * the damage stops at the calls already under way. A mark lasts until the next config is put
 * in force (SIGHUP): whoever fixed the backend says so by reloading.
 *
 * Process-wide, from any thread. desync_marked() is one relaxed atomic load while nothing is
 * marked: every backend call asks.
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

/* Room for an origin key: "https://" + a DNS name (253) + ":65535", with room to spare. */
#define DESYNC_ORIGIN_MAX 288

/* The origin of an absolute http:// or https:// URL as a key, "scheme://host:port" (scheme and
 * host in lower case, user info dropped, the port always written); 0, or -1 if url is not such a
 * URL or the key would not fit in size. */
int desync_origin(const char *url, char *out, size_t size);

/* Counts a sign seen on a connection to origin; the first that stops its reuse is logged once,
 * with why (a short text: what was seen). Over DESYNC_ORIGINS_MAX origins, reuse stops for
 * every origin (logged): a mark is never lost. */
#define DESYNC_ORIGINS_MAX 1024
void desync_mark(const char *origin, enum desync_sign sign, const char *why);

/* Whether connections to origin are no longer to be reused. */
bool desync_marked(const char *origin);

/* A new config is in force: every origin may reuse connections again (the counts stay). */
void desync_reset(void);

/* The origins whose reuse is stopped now. */
size_t desync_stopped(void);

/* Appends, for the metrics, one line per origin and sign seen:
 * fanout_backend_desync_signs_total{origin="...",sign="..."} N, and the gauge
 * fanout_backend_reuse_stopped. -1 if out of memory. */
int desync_render_metrics(struct buf *out);

/* Appends the origins whose reuse is stopped as a JSON array of strings ("[]" for none). -1 if
 * out of memory. */
int desync_render_json(struct buf *out);

/* Frees the registry; for the end of the process (and leak checkers). */
void desync_free(void);

#endif
