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
	enum fetch_kind kind;	/* FETCH_OK, FETCH_TIMEOUT, FETCH_CONNECT, FETCH_BODY, FETCH_TOO_LARGE */
	long status;		/* HTTP status, 0 if none was received */
	struct buf body;
	char message[128];	/* why, when kind is not FETCH_OK */
};

/* Once at start, before threads: curl_global_init. -1 on failure. */
int fetch_global_init(void);
void fetch_global_cleanup(void);

/* Idle pooled handles now: each keeps its connections and buffers for the next call. The pool
 * grows to the peak of concurrent blocking calls (at most 1024) and does not shrink. */
size_t fetch_pool_idle(void);

/* Performs the GET. The status is not judged here: the caller knows what counts as success. */
void fetch_get(const struct fetch_request *req, struct fetch_reply *reply);

/* The same in two steps, for a curl multi handle: fetch_begin() takes a pooled handle and sets
 * the transfer up (reply must outlive it); NULL if out of memory, with reply set. The caller
 * performs fetch_handle() (CURLOPT_PRIVATE is free for it), then fetch_end() with curl's code
 * fills reply, gives the handle back and frees the transfer. */
struct fetch_transfer;

struct fetch_transfer *fetch_begin(const struct fetch_request *req, struct fetch_reply *reply);
CURL *fetch_handle(const struct fetch_transfer *t);
void fetch_end(struct fetch_transfer *t, CURLcode rc);

#endif
