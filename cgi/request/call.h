/* call.h - one backend of one request, as a fanout call: expand the URL, fetch, judge the reply. */
#ifndef CGI_CALL_H
#define CGI_CALL_H

#include "cgi/config/config.h"
#include "cgi/backend/curl/fetch.h"
#include "cgi/request/vars.h"
#include "fanout/fanout.h"

/* The argument of one call. Owned by the fanout group from fanout_group_add() on; its outcome
 * fields are stable once the call has finished (state ok or failed), never before: outcome.c
 * reads them. */
struct bcall {
	const struct cfg_backend *backend;
	struct req_vars *vars;		/* one reference */
	struct bcall **deps;		/* the calls whose values the URL uses (same group),
					 * in the order of backend->deps: bcall_after() */
	enum fetch_kind kind;		/* outcome */
	long status;			/* HTTP status, 0 if none */
	enum fetch_conn conn;		/* the connection it went out on */
	struct buf json;		/* the data as JSON text: the body as received, checked
					 * (or, for text, quoted), ready to be copied out and
					 * for dependants to read values from (common/jptr.h) */
	char message[160];		/* why, when kind is not FETCH_OK */
	char echo_id[FETCH_ECHO_MAX];	/* with "echo_request_id": the X-Request-Id this call
					 * sent, which its answer is to echo; "" before */
};

/* A call for backend b of the request with variables v (takes a reference); NULL if out of
 * memory. Its dependencies are wired with bcall_after(). */
struct bcall *bcall_new(const struct cfg_backend *b, struct req_vars *v);

/* Makes call c of group g wait for dep, the backend b->deps[k] of its URL, and read that value
 * from it: the one place where both are wired. As fanout_group_after(). */
enum fanout_err bcall_after(fanout_group *g, struct bcall *c, size_t k, struct bcall *dep);

/* The fanout function of the blocking executors: expands the request, performs it with
 * fetch_get(), judges the reply. 0 on success, 1 on failure (kind and message say why). */
int bcall_run(void *arg);

/* What one GET of a call needs: made before it starts, freed once it has started (curl copies
 * the URL and the headers). */
struct bcall_request {
	struct buf url;
	char **headers;
	struct fetch_request req;	/* points into url and headers */
};

/* The call's request, its URL expanded (values of the request and of its dependencies), to end
 * within left_ms: 0, or 1 with the call failed (kind says why). r is to be freed with
 * bcall_request_free() either way. */
int bcall_expand(struct bcall *c, int64_t left_ms, struct bcall_request *r);
void bcall_request_free(struct bcall_request *r);

/* The lean client's idle_bytes() (h1.h): bytes nobody asked for came on an idle connection to
 * origin, with no call to carry the sign; judged as a call's signs are. */
void bcall_idle_bytes(void *ctx, const char *origin);

/* The fanout release function. */
void bcall_free(void *arg);

/* Judges what the backend answered (kind, status, body) as the call's outcome: the status must
 * count as success, a JSON body must be valid, a text body UTF-8; sets kind, status, message and
 * json. 0 or 1, as bcall_run. The fuzz target of response composition feeds it directly. */
int bcall_judge(struct bcall *c, struct fetch_reply *reply);

#endif
