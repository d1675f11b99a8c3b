/* fetch.h - one HTTP GET to a backend with libcurl, on pooled handles that keep connections. */
#ifndef CGI_FETCH_H
#define CGI_FETCH_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* What went wrong, as the response's errors[].kind says it. */
enum fetch_kind {
	FETCH_OK,
	FETCH_TIMEOUT,		/* "timeout" */
	FETCH_CONNECT,		/* "connect": refused, unknown host, TLS handshake */
	FETCH_STATUS,		/* "status": an HTTP status the backend does not count as success */
	FETCH_BODY,		/* "body": the transfer broke, or the text is not UTF-8 */
	FETCH_INVALID_JSON,	/* "invalid_json" */
	FETCH_TOO_LARGE,	/* "too_large": over max_body_bytes */
	FETCH_SKIPPED,		/* "skipped": not called (a dependency failed, a value is missing) */
	FETCH_CANCELLED,	/* "cancelled": the client went away while it ran */
	FETCH_INTERNAL,		/* "internal": fanout-cgi's own failure (out of memory, no thread,
				 * the event driver failed), not the backend's */
};

const char *fetch_kind_name(enum fetch_kind kind);

struct fetch_request {
	const char *url;
	const char *const *headers;	/* "Name: value" lines, NULL-terminated */
	int64_t timeout_ms;		/* the whole transfer, connect included */
	size_t max_body;
	bool (*abandoned)(void);	/* fetch_get: asked every 50 ms while it waits; true
					 * stops the transfer (nobody wants the answer any more),
					 * reported as FETCH_TIMEOUT. Optional */
};

struct fetch_reply {
	enum fetch_kind kind;	/* FETCH_OK, FETCH_TIMEOUT, FETCH_CONNECT, FETCH_BODY, FETCH_TOO_LARGE,
				 * FETCH_INTERNAL */
	long status;		/* the final HTTP status, 0 if none was received */
	struct buf body;
	char message[128];	/* why, when kind is not FETCH_OK */
};

/* Once at start, before threads: curl_global_init. -1 on failure. */
int fetch_global_init(void);
void fetch_global_cleanup(void);

/* Idle pooled handles now: each keeps its connections and buffers for the next call. The pool
 * grows to the peak of concurrent blocking calls and does not shrink; it keeps at most one
 * handle per 16 descriptors the process may open (RLIMIT_NOFILE at fetch_global_init), and
 * never more than 1024: an idle handle holds up to 6. */
size_t fetch_pool_idle(void);

/* Kept connections refused so far because the backend had sent bytes after its answer (each
 * such request went out again on a new connection). */
unsigned long fetch_stray_refused(void);

/* A connection cache: a curl multi handle and the sockets of its connections, used by one thread
 * at a time. Every transfer checks its connection before sending on it, kept or new: one on
 * which bytes wait that nobody asked for (curl before 8.0 would read them as the answer) is
 * closed, and the request sent again once on a new connection. */
struct fetch_cache;

/* A new cache; NULL if out of memory. Freed with every connection it keeps. */
struct fetch_cache *fetch_cache_new(void);
void fetch_cache_free(struct fetch_cache *c);

/* Its multi handle, for the event driver that runs transfers on it. */
CURLM *fetch_cache_multi(const struct fetch_cache *c);

/* Performs the GET. The status is not judged here: the caller knows what counts as success. */
void fetch_get(const struct fetch_request *req, struct fetch_reply *reply);

/* The same in steps, on a cache's multi handle: fetch_begin() takes a pooled handle and sets the
 * transfer up to run on `cache` (reply must outlive it); NULL if it cannot (FETCH_INTERNAL in
 * reply).
 * The caller performs fetch_handle() on the cache's multi handle (CURLOPT_PRIVATE is free for
 * it). When curl has ended it with code rc, fetch_retry() says whether it must run again (its
 * connection was refused before anything was sent): the caller then removes it from the multi
 * handle and adds it again. Otherwise fetch_end() fills reply, gives the handle back and frees
 * the transfer. */
struct fetch_transfer;

struct fetch_transfer *fetch_begin(const struct fetch_request *req, struct fetch_reply *reply,
    struct fetch_cache *cache);
CURL *fetch_handle(const struct fetch_transfer *t);
bool fetch_retry(struct fetch_transfer *t, CURLcode rc);
void fetch_end(struct fetch_transfer *t, CURLcode rc);

#endif
