/* fetch_reply.c - what a backend call's reply says: the names of its kinds, and the reply of a
 * call that failed for fanout-cgi's own reason. Shared by every client (curl, the lean one). */
#include <stdio.h>

#include "cgi/fetch.h"

const char *
fetch_kind_name(enum fetch_kind kind)
{
	switch (kind) {
	case FETCH_OK:
		return "ok";
	case FETCH_TIMEOUT:
		return "timeout";
	case FETCH_CONNECT:
		return "connect";
	case FETCH_STATUS:
		return "status";
	case FETCH_BODY:
		return "body";
	case FETCH_INVALID_JSON:
		return "invalid_json";
	case FETCH_TOO_LARGE:
		return "too_large";
	case FETCH_SKIPPED:
		return "skipped";
	case FETCH_CANCELLED:
		return "cancelled";
	case FETCH_INTERNAL:
		return "internal";
	}
	return "unknown";
}

void
fetch_reply_fail(struct fetch_reply *reply, const char *message)
{
	reply->kind = FETCH_INTERNAL;
	reply->status = 0;
	reply->conn = FETCH_CONN_NONE;
	snprintf(reply->message, sizeof(reply->message), "%s", message);
}
