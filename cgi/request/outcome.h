/* outcome.h - one request's backend calls, and how each ended: worked out once, when their group
 * has run, for the response, its timing, the metrics and the access log to read. */
#ifndef CGI_OUTCOME_H
#define CGI_OUTCOME_H

#include <stddef.h>
#include <stdint.h>

#include "cgi/config/config.h"
#include "cgi/backend/curl/fetch.h"
#include "cgi/request/vars.h"
#include "fanout/fanout.h"

/* How one backend call ended. */
struct outcome {
	const struct cfg_backend *backend;
	enum fetch_kind kind;		/* FETCH_OK when it succeeded */
	long status;			/* the HTTP status it received, 0 if none */
	enum fetch_conn conn;		/* the connection it went out on (none for a call that
					 * did not return: timed out, cancelled, skipped) */
	char message[192];		/* why, when kind is not FETCH_OK */
	int64_t start_us;		/* from the group's start; -1 if it never started */
	int64_t duration_us;		/* -1 if it never started; for one that timed out, until
					 * the group gave up on it */
	const char *json;		/* its data as JSON text when kind is FETCH_OK, else NULL; */
	size_t json_len;		/* valid until outcomes_free() */
};

/* One request's backend calls: the group that runs them and, once it has, their outcomes. This
 * module is the one that reads the calls themselves, and knows when it may: only once a call
 * has finished (one that timed out or was cancelled may still be writing). */
struct outcomes;

/* One call per backend of ep for the request's variables v, in group g (taken over: freed with
 * the outcomes), each run by fn (bcall_run, or a test's own) and waiting for the backends its
 * URL reads. NULL if g is NULL or out of memory (g is then freed). */
struct outcomes *outcomes_plan(fanout_group *g, const struct cfg_endpoint *ep,
    struct req_vars *v, fanout_fn fn);

/* The group, for fanout_group_run() and fanout_group_cancel(); its results are read here. */
fanout_group *outcomes_group(const struct outcomes *o);

/* Once fanout_group_run() has returned FANOUT_OK or FANOUT_ECANCELED (the results are set):
 * works every outcome out. */
void outcomes_settle(struct outcomes *o);

/* The number of outcomes: the endpoint's backends once settled, else 0 (none to read). */
size_t outcomes_count(const struct outcomes *o);

/* Outcome i, in config order (i < outcomes_count()). */
const struct outcome *outcomes_get(const struct outcomes *o, size_t i);

/* Frees the outcomes and the group (with the calls, once those still running have returned).
 * NULL is allowed. */
void outcomes_free(struct outcomes *o);

#endif
