/* reply.h - a backend call's request and reply, the same for every client (curl, backend/curl/;
 * the lean HTTP/1.1 one, backend/h1/): what is asked, what came back, what went wrong. */
#ifndef CGI_BACKEND_REPLY_H
#define CGI_BACKEND_REPLY_H

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
	bool no_reuse;			/* a connection of its own, opened for this call and
					 * closed after its answer: no kept one, none kept */
	const char *echo_header;	/* a response header whose value the reply is to carry
					 * (fetch_reply.echo); NULL: none */
	const char *origin;		/* the caller's name for the backend's origin, given back
					 * by the lean client when bytes nobody asked for arrive
					 * on an idle connection it kept (h1.h). Optional */
};

/* Signs, seen during a call, that its connection fell out of step with the backend: its
 * answers may no longer be the answers to its requests (cgi/backend/desync.h). The caller judges. */
enum {
	FETCH_SIGN_PEEK = 1,		/* bytes were waiting on a kept connection as it was about
					 * to carry the request (that one was not used) */
	FETCH_SIGN_TRAILING = 2,	/* bytes came after the end of the answer, in its read
					 * (the lean client: curl closes such a connection and
					 * does not say so) */
	FETCH_SIGN_UNPARSED = 4,	/* the answer was not well-framed HTTP/1.x */
};

/* Room for the echoed header's value, NUL included: a call's id is a request id (at most 128
 * characters), '.' and a 64-bit number (cgi/request/call.c). */
#define FETCH_ECHO_MAX 152

/* Room for the echoed header's name, NUL included: the config allows 64 characters. */
#define FETCH_ECHO_NAME_MAX 65

/* The connection a call went out on. */
enum fetch_conn {
	FETCH_CONN_NONE,	/* none: it failed before (no address, no descriptor, refused) */
	FETCH_CONN_OPENED,	/* a new one, opened for it */
	FETCH_CONN_REUSED,	/* a kept one */
};

struct fetch_reply {
	enum fetch_kind kind;	/* FETCH_OK, FETCH_TIMEOUT, FETCH_CONNECT, FETCH_BODY, FETCH_TOO_LARGE,
				 * FETCH_INTERNAL */
	long status;		/* the final HTTP status, 0 if none was received */
	enum fetch_conn conn;	/* the last one it used (a retry's, if it was sent again) */
	struct buf body;
	char message[128];	/* why, when kind is not FETCH_OK */
	unsigned signs;		/* FETCH_SIGN_*: what the client saw, on any attempt */
	/* The value of req.echo_header in the final answer's head, its outer white space taken
	 * off (the first such line, if repeated); echo_seen false if it had none, echo_long if it
	 * did not fit (echo is then not to be read). */
	bool echo_seen, echo_long;
	char echo[FETCH_ECHO_MAX];
};

/* Fills reply as a call that failed for fanout-cgi's own reason (FETCH_INTERNAL, no status, no
 * connection), with message. For every client. */
void fetch_reply_fail(struct fetch_reply *reply, const char *message);

/* Copies req->echo_header ("" if NULL) into name, for a transfer to match header lines against;
 * false if it does not fit. For every client. */
bool fetch_echo_name(char name[FETCH_ECHO_NAME_MAX], const struct fetch_request *req);

/* A final answer's head begins: what an earlier (interim) head said is not its own. */
void fetch_reply_echo_reset(struct fetch_reply *reply);

/* A field line of an answer's head, name[0..name_len) and its value: kept as the reply's echo
 * if the name is `want` (any case) and none was kept yet. For every client. */
void fetch_reply_echo_field(struct fetch_reply *reply, const char *want, const char *name,
    size_t name_len, const char *value, size_t value_len);

#endif
