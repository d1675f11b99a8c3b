/* fcgi.c - the FastCGI 1.0 record codec, application side (fcgi.h): a state machine over
 * records split at any byte, checked against the specification's layout.
 *
 * A record is an 8-byte header (version 1, type, requestId and contentLength big-endian, then
 * paddingLength and a reserved byte), contentLength bytes of content, paddingLength bytes of
 * padding. Name-value pairs (PARAMS, GET_VALUES) give each length in 1 byte when below 128, else
 * in 4 bytes with the high bit of the first set (31 bits).
 *
 * Request ids: one request at a time. A BEGIN_REQUEST while one is in flight gets END_REQUEST
 * CANT_MPX_CONN under its own id (the same id again is refused as out of order: answering
 * under it would end the request in flight). Any other record whose id is not the one in
 * flight is ignored, content and padding skipped: the web server may still send records of a
 * request we refused or that ended (an ABORT racing our END_REQUEST), and those are no fault. */
#include "cgi/serve/event/fcgi.h"

#include <stdio.h>
#include <string.h>

enum phase { PHASE_HEADER, PHASE_CONTENT, PHASE_PADDING };
enum action { ACT_SKIP, ACT_BEGIN, ACT_PARAMS, ACT_STDIN, ACT_GET_VALUES };
enum stage { STAGE_PARAMS, STAGE_STDIN, STAGE_DONE };

void
fcgi_conn_init(struct fcgi_conn *conn, const struct fcgi_limits *limits, fcgi_event_fn on_event,
    void *ctx, struct buf *out)
{
	memset(conn, 0, sizeof(*conn));
	conn->limits = *limits;
	conn->on_event = on_event;
	conn->ctx = ctx;
	conn->out = out;
	conn->phase = PHASE_HEADER;
}

void
fcgi_conn_free(struct fcgi_conn *conn)
{
	buf_free(&conn->mgmt);
	buf_free(&conn->params);
}

bool
fcgi_conn_busy(const struct fcgi_conn *conn)
{
	return conn->busy;
}

bool
fcgi_conn_at_rest(const struct fcgi_conn *conn)
{
	return !conn->busy && conn->phase == PHASE_HEADER && conn->header_have == 0;
}

void
fcgi_conn_request_done(struct fcgi_conn *conn)
{
	conn->busy = false;
	conn->aborted = false;
	buf_truncate(&conn->params, 0);
	conn->pairs_end = 0;
	conn->pair_count = 0;
}

/* ---- Records out ---- */

/* Appends one record, padded to a multiple of 8; len <= FCGI_RECORD_MAX. */
static int
put_record(struct buf *out, uint8_t type, uint16_t id, const void *content, size_t len)
{
	static const uint8_t zeros[8];
	size_t padding = (8 - len % 8) % 8, start = out->len;
	uint8_t h[8] = { 1, type, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(len >> 8),
	    (uint8_t)len, (uint8_t)padding, 0 };

	if (buf_append(out, h, sizeof(h)) != 0 || buf_append(out, content, len) != 0 ||
	    buf_append(out, zeros, padding) != 0) {
		buf_truncate(out, start);
		return -1;
	}
	return 0;
}

int
fcgi_write_stdout(struct buf *out, uint16_t request_id, const void *data, size_t len)
{
	const uint8_t *p = data;
	size_t start = out->len;

	while (len > 0) {
		size_t n = len < FCGI_RECORD_MAX ? len : FCGI_RECORD_MAX;

		if (put_record(out, FCGI_TYPE_STDOUT, request_id, p, n) != 0) {
			buf_truncate(out, start);
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int
fcgi_write_stdout_end(struct buf *out, uint16_t request_id)
{
	return put_record(out, FCGI_TYPE_STDOUT, request_id, "", 0);
}

int
fcgi_write_end_request(struct buf *out, uint16_t request_id, uint32_t app_status,
    enum fcgi_protocol_status protocol_status)
{
	uint8_t body[8] = { (uint8_t)(app_status >> 24), (uint8_t)(app_status >> 16),
	    (uint8_t)(app_status >> 8), (uint8_t)app_status, (uint8_t)protocol_status, 0, 0, 0 };

	return put_record(out, FCGI_TYPE_END_REQUEST, request_id, body, sizeof(body));
}

/* ---- Name-value pairs ---- */

/* Reads one length at *pos of p[0..len): 1 on success, 0 when the bytes end first. */
static int
read_length(const uint8_t *p, size_t len, size_t *pos, uint32_t *out)
{
	if (*pos >= len)
		return 0;
	if (p[*pos] < 0x80) {
		*out = p[(*pos)++];
		return 1;
	}
	if (len - *pos < 4)
		return 0;
	*out = ((uint32_t)(p[*pos] & 0x7f) << 24) | ((uint32_t)p[*pos + 1] << 16) |
	    ((uint32_t)p[*pos + 2] << 8) | p[*pos + 3];
	*pos += 4;
	return 1;
}

/* The pair at *pos of p[0..len), moved past on success. 1: a whole pair; 0: the bytes end
 * inside it; -1: its lengths pass `room` bytes after its header (it can never fit). Lengths are
 * compared by subtraction, so that 0x7fffffff cannot overflow a sum. */
static int
read_pair(const uint8_t *p, size_t len, size_t room, size_t *pos, struct fcgi_param *pair)
{
	size_t at = *pos;
	uint32_t nlen, vlen;

	if (!read_length(p, len, &at, &nlen) || !read_length(p, len, &at, &vlen))
		return 0;
	if (at - *pos > room || nlen > room - (at - *pos) || vlen > room - (at - *pos) - nlen)
		return -1;
	if (nlen > len - at || vlen > len - at - nlen)
		return 0;
	pair->name = p + at;
	pair->name_len = nlen;
	pair->value = p + at + nlen;
	pair->value_len = vlen;
	*pos = at + nlen + vlen;
	return 1;
}

bool
fcgi_param_next(const struct fcgi_event *ev, size_t *pos, struct fcgi_param *p)
{
	return read_pair(ev->data, ev->len, ev->len - *pos, pos, p) == 1;
}

/* ---- Records in ---- */

static enum fcgi_rc
emit(struct fcgi_conn *conn, struct fcgi_event *ev)
{
	int rc;

	ev->request_id = conn->id;
	if ((rc = conn->on_event(conn->ctx, ev)) == FCGI_PAUSE)
		conn->pause = true;
	return rc == 0 || rc == FCGI_PAUSE ? FCGI_RC_OK : FCGI_RC_STOPPED;
}

/* The rc of an append of ours (0 or -1). */
static enum fcgi_rc
appended(int rc)
{
	return rc == 0 ? FCGI_RC_OK : FCGI_RC_NOMEM;
}

/* A type the application side never receives, or one it does not know, or a management record
 * other than GET_VALUES: UNKNOWN_TYPE, under request id 0 as the specification says. */
static enum fcgi_rc
answer_unknown_type(struct fcgi_conn *conn)
{
	uint8_t body[8] = { conn->type, 0, 0, 0, 0, 0, 0, 0 };

	return appended(put_record(conn->out, FCGI_TYPE_UNKNOWN_TYPE, 0, body, sizeof(body)));
}

/* Chooses what the current record's content is for, from its type and id (header complete). */
static enum fcgi_rc
classify(struct fcgi_conn *conn)
{
	bool ours = conn->busy && conn->rec_id == conn->id;

	conn->action = ACT_SKIP;
	if (conn->rec_id == 0) {
		if (conn->type != FCGI_TYPE_GET_VALUES)
			return answer_unknown_type(conn);
		conn->action = ACT_GET_VALUES;
		buf_truncate(&conn->mgmt, 0);
		return FCGI_RC_OK;
	}
	switch (conn->type) {
	case FCGI_TYPE_BEGIN_REQUEST:
		if (ours)
			return FCGI_RC_OUT_OF_ORDER;
		if (conn->content_left != 8)
			return FCGI_RC_OUT_OF_ORDER;
		conn->action = ACT_BEGIN;
		conn->begin_have = 0;
		return FCGI_RC_OK;
	case FCGI_TYPE_ABORT_REQUEST:
	case FCGI_TYPE_DATA:		/* a FILTER's; our requests are RESPONDERs: ignored */
		return FCGI_RC_OK;
	case FCGI_TYPE_PARAMS:
	case FCGI_TYPE_STDIN:
		if (!ours)
			return FCGI_RC_OK;
		if (conn->stage != (conn->type == FCGI_TYPE_PARAMS ? STAGE_PARAMS : STAGE_STDIN))
			return FCGI_RC_OUT_OF_ORDER;
		conn->action = conn->type == FCGI_TYPE_PARAMS ? ACT_PARAMS : ACT_STDIN;
		if (conn->action == ACT_PARAMS &&
		    conn->content_left > conn->limits.max_params_bytes - conn->params.len)
			return FCGI_RC_PARAMS_TOO_BIG;
		return FCGI_RC_OK;
	default:
		return answer_unknown_type(conn);
	}
}

/* Checks the pairs completed so far, so that a length that can never fit the bound (libfcgi's
 * crash: a name of 0x7ffffffe bytes) is refused at once, not when the stream ends. */
static enum fcgi_rc
check_new_pairs(struct fcgi_conn *conn)
{
	const uint8_t *p = (const uint8_t *)conn->params.data;
	struct fcgi_param pair;
	int r;

	while ((r = read_pair(p, conn->params.len, conn->limits.max_params_bytes - conn->pairs_end,
	    &conn->pairs_end, &pair)) == 1)
		conn->pair_count++;
	return r < 0 ? FCGI_RC_PARAMS_TOO_BIG : FCGI_RC_OK;
}

static enum fcgi_rc
take_content(struct fcgi_conn *conn, const uint8_t *bytes, size_t n)
{
	struct fcgi_event ev = { .kind = FCGI_EV_STDIN, .data = bytes, .len = n };

	switch (conn->action) {
	case ACT_BEGIN:
		memcpy(conn->begin_body + conn->begin_have, bytes, n);
		conn->begin_have += n;
		return FCGI_RC_OK;
	case ACT_PARAMS:
		if (buf_append(&conn->params, bytes, n) != 0)
			return FCGI_RC_NOMEM;
		return check_new_pairs(conn);
	case ACT_STDIN:
		return emit(conn, &ev);
	case ACT_GET_VALUES:
		return appended(buf_append(&conn->mgmt, bytes, n));
	default:
		return FCGI_RC_OK;
	}
}

static enum fcgi_rc
end_begin(struct fcgi_conn *conn)
{
	const uint8_t *b = conn->begin_body;
	unsigned role = (unsigned)b[0] << 8 | b[1];
	struct fcgi_event ev = { .kind = FCGI_EV_BEGIN, .keep_conn = b[2] & FCGI_FLAG_KEEP_CONN };

	if (conn->busy)
		return appended(fcgi_write_end_request(conn->out, conn->rec_id, 0,
		    FCGI_STATUS_CANT_MPX_CONN));
	if (role != FCGI_ROLE_RESPONDER)
		return appended(fcgi_write_end_request(conn->out, conn->rec_id, 0,
		    FCGI_STATUS_UNKNOWN_ROLE));
	fcgi_conn_request_done(conn);
	conn->busy = true;
	conn->id = conn->rec_id;
	conn->stage = STAGE_PARAMS;
	return emit(conn, &ev);
}

/* An empty record of the request in flight ends its stream. */
static enum fcgi_rc
end_stream(struct fcgi_conn *conn)
{
	struct fcgi_event ev = { .kind = FCGI_EV_STDIN_END };

	if (conn->action == ACT_STDIN) {
		conn->stage = STAGE_DONE;
		return emit(conn, &ev);
	}
	if (conn->pairs_end != conn->params.len)
		return FCGI_RC_BAD_PAIRS;
	conn->stage = STAGE_STDIN;
	ev.kind = FCGI_EV_PARAMS;
	ev.data = (const uint8_t *)conn->params.data;
	ev.len = conn->params.len;
	ev.param_count = conn->pair_count;
	return emit(conn, &ev);
}

/* Appends "name" = decimal value as a pair (both lengths below 128). */
static int
put_value_pair(struct buf *out, const char *name, unsigned value)
{
	char digits[16];
	int n = snprintf(digits, sizeof(digits), "%u", value);
	uint8_t lens[2] = { (uint8_t)strlen(name), (uint8_t)n };

	if (n < 0 || buf_append(out, lens, 2) != 0 || buf_append(out, name, strlen(name)) != 0)
		return -1;
	return buf_append(out, digits, (size_t)n);
}

/* GET_VALUES: each variable we know, once however often it is asked (libfcgi wrote one answer
 * per name asked into 64 bytes), unknown names ignored. The answer is under 128 bytes. */
static enum fcgi_rc
end_get_values(struct fcgi_conn *conn)
{
	static const char *const names[] = { "FCGI_MAX_CONNS", "FCGI_MAX_REQS", "FCGI_MPXS_CONNS" };
	const unsigned values[] = { conn->limits.max_conns, conn->limits.max_reqs, 0 };
	struct fcgi_event ev = { .data = (const uint8_t *)conn->mgmt.data, .len = conn->mgmt.len };
	bool asked[3] = { false, false, false };
	struct buf result = BUF_INIT;
	struct fcgi_param pair;
	size_t pos = 0, i;
	int rc = 0;

	while (fcgi_param_next(&ev, &pos, &pair))
		for (i = 0; i < 3; i++)
			if (pair.name_len == strlen(names[i]) &&
			    memcmp(pair.name, names[i], pair.name_len) == 0)
				asked[i] = true;
	if (pos != conn->mgmt.len)
		return FCGI_RC_BAD_PAIRS;
	for (i = 0; i < 3 && rc == 0; i++)
		if (asked[i])
			rc = put_value_pair(&result, names[i], values[i]);
	if (rc == 0)
		rc = put_record(conn->out, FCGI_TYPE_GET_VALUES_RESULT, 0, result.data, result.len);
	buf_free(&result);
	return appended(rc);
}

/* The current record's content is all in. */
static enum fcgi_rc
end_record(struct fcgi_conn *conn)
{
	uint16_t len = (uint16_t)(conn->header[4] << 8 | conn->header[5]);

	switch (conn->action) {
	case ACT_BEGIN:
		return end_begin(conn);
	case ACT_GET_VALUES:
		return end_get_values(conn);
	case ACT_PARAMS:
	case ACT_STDIN:
		return len == 0 ? end_stream(conn) : FCGI_RC_OK;
	default:
		if (conn->type == FCGI_TYPE_ABORT_REQUEST && conn->busy &&
		    conn->rec_id == conn->id && !conn->aborted) {
			struct fcgi_event ev = { .kind = FCGI_EV_ABORT };

			conn->aborted = true;
			return emit(conn, &ev);
		}
		return FCGI_RC_OK;
	}
}

static enum fcgi_rc
after_content(struct fcgi_conn *conn)
{
	enum fcgi_rc rc = end_record(conn);

	conn->phase = conn->padding_left > 0 ? PHASE_PADDING : PHASE_HEADER;
	conn->header_have = 0;
	return rc;
}

static enum fcgi_rc
end_header(struct fcgi_conn *conn)
{
	const uint8_t *h = conn->header;
	enum fcgi_rc rc;

	if (h[0] != 1)
		return FCGI_RC_BAD_VERSION;
	conn->type = h[1];
	conn->rec_id = (uint16_t)(h[2] << 8 | h[3]);
	conn->content_left = (size_t)h[4] << 8 | h[5];
	conn->padding_left = h[6];
	if ((rc = classify(conn)) != FCGI_RC_OK)
		return rc;
	if (conn->content_left == 0)
		return after_content(conn);
	conn->phase = PHASE_CONTENT;
	return FCGI_RC_OK;
}

/* Consumes what it can of bytes[0..len) in the current phase; *used says how much. */
static enum fcgi_rc
step(struct fcgi_conn *conn, const uint8_t *bytes, size_t len, size_t *used)
{
	size_t n;
	enum fcgi_rc rc;

	switch (conn->phase) {
	case PHASE_HEADER:
		n = *used = len < 8 - conn->header_have ? len : 8 - conn->header_have;
		memcpy(conn->header + conn->header_have, bytes, n);
		conn->header_have += n;
		return conn->header_have == 8 ? end_header(conn) : FCGI_RC_OK;
	case PHASE_CONTENT:
		n = *used = len < conn->content_left ? len : conn->content_left;
		conn->content_left -= n;
		if ((rc = take_content(conn, bytes, n)) != FCGI_RC_OK)
			return rc;
		return conn->content_left == 0 ? after_content(conn) : FCGI_RC_OK;
	default:
		n = *used = len < conn->padding_left ? len : conn->padding_left;
		conn->padding_left -= n;
		if (conn->padding_left == 0)
			conn->phase = PHASE_HEADER;
		return FCGI_RC_OK;
	}
}

enum fcgi_rc
fcgi_conn_feed_some(struct fcgi_conn *conn, const void *bytes, size_t len, size_t *used)
{
	const uint8_t *p = bytes;

	*used = 0;
	conn->pause = false;
	/* An event is emitted at the end of a step, its bytes counted: a pause stops cleanly. */
	while (conn->dead == FCGI_RC_OK && *used < len && !conn->pause) {
		size_t n = 0;

		conn->dead = step(conn, p + *used, len - *used, &n);
		*used += n;
	}
	conn->pause = false;
	return conn->dead;
}

enum fcgi_rc
fcgi_conn_feed(struct fcgi_conn *conn, const void *bytes, size_t len)
{
	const uint8_t *p = bytes;
	size_t used;

	while (conn->dead == FCGI_RC_OK && len > 0) {
		(void)fcgi_conn_feed_some(conn, p, len, &used);
		p += used;
		len -= used;
	}
	return conn->dead;
}

const char *
fcgi_rc_str(enum fcgi_rc rc)
{
	switch (rc) {
	case FCGI_RC_OK:
		return "ok";
	case FCGI_RC_BAD_VERSION:
		return "a record whose version is not 1";
	case FCGI_RC_PARAMS_TOO_BIG:
		return "parameters over the bound";
	case FCGI_RC_BAD_PAIRS:
		return "a name-value pair runs past its stream";
	case FCGI_RC_OUT_OF_ORDER:
		return "a record out of order";
	case FCGI_RC_NOMEM:
		return "out of memory";
	case FCGI_RC_STOPPED:
		return "stopped by the caller";
	}
	return "?";
}
