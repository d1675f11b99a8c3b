/* call.h - one backend of one request, as a fanout call: expand the URL, fetch, judge the reply. */
#ifndef CGI_CALL_H
#define CGI_CALL_H

#include "cgi/config.h"
#include "cgi/fetch.h"
#include "cgi/vars.h"
#include "fanout/fanout.h"

/* The argument of one call. Owned by the fanout group from fanout_group_add() on; its outcome
 * fields are stable once the call has finished (state ok or failed), never before. */
struct bcall {
	const struct cfg_backend *backend;
	struct req_vars *vars;		/* one reference */
	struct bcall **deps;		/* the calls whose values the URL uses (same group),
					 * in the order of backend->deps */
	enum fetch_kind kind;		/* outcome */
	long status;			/* HTTP status, 0 if none */
	struct buf json;		/* the data as JSON text: the body as received, checked
					 * (or, for text, quoted), ready to be copied out and
					 * for dependants to read values from (common/jptr.h) */
	char message[160];		/* why, when kind is not FETCH_OK */
	struct fetch_transfer *transfer;	/* the "multi" executor: the transfer under way */
	struct fetch_reply reply;		/* and what it receives */
	void *token;				/* fanout's name for the call, given back when done */
};

/* A call for backend b of the request with variables v (takes a reference); NULL if out of
 * memory. Its deps are set by the caller, in the order of b->deps. */
struct bcall *bcall_new(const struct cfg_backend *b, struct req_vars *v);

/* The fanout function: 0 on success, 1 on failure (kind and message say why). */
int bcall_run(void *arg);

/* The fanout release function. */
void bcall_free(void *arg);

/* Judges what the backend answered (kind, status, body) as the call's outcome: the status must
 * count as success, a JSON body must be valid, a text body UTF-8; sets kind, status, message and
 * json. 0 or 1, as bcall_run. The fuzz target of response composition feeds it directly. */
int bcall_judge(struct bcall *c, struct fetch_reply *reply);

/* The "multi" executor's side: starts the call's transfer on the cache's multi handle
 * (CURLOPT_PRIVATE = c), to end by deadline_us (0: none); 0 if under way, 1 if it failed at once
 * (kind says why). */
int bcall_start(struct bcall *c, int64_t deadline_us, struct fetch_cache *cache);

/* bcall_finish's answer when the transfer was started again (on a new connection). */
#define BCALL_RUNNING (-1)

/* Its transfer has ended with curl's code `result`: judges it like bcall_run (0 or 1), or
 * starts it again (BCALL_RUNNING: it ends later, once more). */
int bcall_finish(struct bcall *c, struct fetch_cache *cache, CURLcode result);

/* How the call ended, from its group's result r: the call's own kind when it ran to the end,
 * else what the group made of it (timeout, cancelled, skipped). Reads c only when it finished. */
enum fetch_kind bcall_outcome(const struct fanout_result *r, const struct bcall *c);

/* The HTTP status the call received, 0 if none; read only once the call has finished (a call
 * that timed out or was cancelled may still be writing it). */
long bcall_status(const struct fanout_result *r, const struct bcall *c);

/* Abandons its transfer (the request's deadline passed). */
void bcall_cancel(struct bcall *c, struct fetch_cache *cache);

#endif
