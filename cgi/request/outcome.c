/* outcome.c - one request's backend calls, and how each ended: worked out once, when their group
 * has run, for the response, its timing, the metrics and the access log to read. */
#include "cgi/request/outcome.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cgi/request/call.h"

/* An outcome and the call it is read from. */
struct slot {
	struct outcome out;
	struct bcall *call;	/* owned by the group */
};

struct outcomes {
	fanout_group *group;	/* call i is backend i: outcomes_plan adds them in config order */
	const struct cfg_endpoint *ep;
	struct slot *slots;
	size_t n;
	bool settled;
};

/* Adds a call for every backend, then wires each to its dependencies. */
static int
plan_calls(struct outcomes *o, struct req_vars *v, fanout_fn fn)
{
	const struct cfg_endpoint *ep = o->ep;

	for (size_t i = 0; i < ep->nbackends; i++) {
		struct bcall *c = bcall_new(&ep->backends[i], v);

		if (c == NULL)
			return -1;
		if (fanout_group_add(o->group, ep->backends[i].name, fn, c, bcall_free) != FANOUT_OK) {
			bcall_free(c);
			return -1;
		}
		o->slots[i] = (struct slot){ .out = { .backend = &ep->backends[i] }, .call = c };
	}
	for (size_t i = 0; i < ep->nbackends; i++)
		for (size_t k = 0; k < ep->backends[i].ndeps; k++)
			if (bcall_after(o->group, o->slots[i].call, k,
			    o->slots[ep->backends[i].deps[k]].call) != FANOUT_OK)
				return -1;
	return 0;
}

struct outcomes *
outcomes_plan(fanout_group *g, const struct cfg_endpoint *ep, struct req_vars *v, fanout_fn fn)
{
	struct outcomes *o = g != NULL ? calloc(1, sizeof(*o)) : NULL;

	if (o == NULL) {
		fanout_group_free(g);
		return NULL;
	}
	*o = (struct outcomes){ .group = g, .ep = ep, .n = ep->nbackends };
	if ((o->slots = calloc(ep->nbackends, sizeof(*o->slots))) == NULL ||
	    plan_calls(o, v, fn) != 0) {
		outcomes_free(o);
		return NULL;
	}
	return o;
}

fanout_group *
outcomes_group(const struct outcomes *o)
{
	return o->group;
}

/* The first dependency of backend i that did not succeed. */
static const char *
failed_dependency(const struct outcomes *o, size_t i)
{
	const struct cfg_backend *b = &o->ep->backends[i];

	for (size_t k = 0; k < b->ndeps; k++)
		if (fanout_group_result(o->group, b->deps[k])->state != FANOUT_CALL_OK)
			return o->ep->backends[b->deps[k]].name;
	return "a dependency";
}

/* Outcome i from the group's result, and from the call itself when it has returned. */
static void
settle_one(struct outcomes *o, size_t i)
{
	const struct fanout_result *r = fanout_group_result(o->group, i);
	struct outcome *out = &o->slots[i].out;
	const struct bcall *c = o->slots[i].call;

	out->start_us = r->start_us;
	out->duration_us = r->duration_us;
	switch (r->state) {
	case FANOUT_CALL_OK:	/* the call has returned: its fields are stable */
		out->kind = FETCH_OK;
		out->status = c->status;
		out->conn = c->conn;
		out->json = buf_str(&c->json);
		out->json_len = c->json.len;
		break;
	case FANOUT_CALL_FAILED:
		if (r->err != FANOUT_OK) {	/* never ran: no thread, or the driver failed */
			out->kind = FETCH_INTERNAL;
			snprintf(out->message, sizeof(out->message), "not run: %s",
			    fanout_strerror(r->err));
			break;
		}
		out->kind = c->kind;	/* it has returned */
		out->status = c->status;
		out->conn = c->conn;
		snprintf(out->message, sizeof(out->message), "%s", c->message);
		break;
	case FANOUT_CALL_CANCELLED:	/* it may still run: its fields must not be read */
		out->kind = FETCH_CANCELLED;
		snprintf(out->message, sizeof(out->message), "the client went away");
		break;
	case FANOUT_CALL_TIMEDOUT:	/* the same */
		out->kind = FETCH_TIMEOUT;
		snprintf(out->message, sizeof(out->message), "no answer within the request's %ld ms",
		    o->ep->timeout_ms);
		break;
	default:
		out->kind = FETCH_SKIPPED;
		snprintf(out->message, sizeof(out->message), "not called: needs %s, which failed",
		    failed_dependency(o, i));
		break;
	}
}

void
outcomes_settle(struct outcomes *o)
{
	for (size_t i = 0; i < o->n; i++)
		settle_one(o, i);
	o->settled = true;
}

size_t
outcomes_count(const struct outcomes *o)
{
	return o != NULL && o->settled ? o->n : 0;
}

const struct outcome *
outcomes_get(const struct outcomes *o, size_t i)
{
	return &o->slots[i].out;
}

void
outcomes_free(struct outcomes *o)
{
	if (o == NULL)
		return;
	fanout_group_free(o->group);
	free(o->slots);
	free(o);
}
