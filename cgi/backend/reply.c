/* reply.c - what a backend call's reply says: the names of its kinds, and the reply of a
 * call that failed for fanout-cgi's own reason. Shared by every client (curl, the lean one). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cgi/backend/reply.h"

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

bool
fetch_echo_name(char name[FETCH_ECHO_NAME_MAX], const struct fetch_request *req)
{
	const char *h = req->echo_header != NULL ? req->echo_header : "";

	return (size_t)snprintf(name, FETCH_ECHO_NAME_MAX, "%s", h) < FETCH_ECHO_NAME_MAX;
}

void
fetch_reply_echo_reset(struct fetch_reply *reply)
{
	reply->echo_seen = reply->echo_long = false;
	reply->echo[0] = '\0';
}

void
fetch_reply_echo_field(struct fetch_reply *reply, const char *want, const char *name,
    size_t name_len, const char *value, size_t value_len)
{
	if (reply->echo_seen || strlen(want) != name_len || strncasecmp(want, name, name_len) != 0)
		return;
	while (value_len > 0 && (*value == ' ' || *value == '\t'))
		value++, value_len--;
	while (value_len > 0 && (value[value_len - 1] == ' ' || value[value_len - 1] == '\t' ||
	    value[value_len - 1] == '\r' || value[value_len - 1] == '\n'))
		value_len--;
	reply->echo_seen = true;
	reply->echo_long = value_len >= sizeof(reply->echo);
	if (!reply->echo_long) {
		memcpy(reply->echo, value, value_len);
		reply->echo[value_len] = '\0';
	}
}
