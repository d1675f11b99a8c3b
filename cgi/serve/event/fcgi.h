/* fcgi.h - the FastCGI 1.0 record codec, application side: a parser fed byte chunks as they
 * arrive (no I/O, never blocks) and writers of the records a response is made of; the event
 * server's connections (evconn.c) drive it. One request in flight per connection
 * (FCGI_MPXS_CONNS=0), role RESPONDER only; records of any other request id are ignored, but
 * a BEGIN_REQUEST, which gets END_REQUEST CANT_MPX_CONN (fcgi.c says why). */
#ifndef CGI_FCGI_H
#define CGI_FCGI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/* Record types (the specification's numbers; names apart from libfcgi's fastcgi.h macros). */
enum fcgi_rec_type {
	FCGI_TYPE_BEGIN_REQUEST = 1,
	FCGI_TYPE_ABORT_REQUEST = 2,
	FCGI_TYPE_END_REQUEST = 3,
	FCGI_TYPE_PARAMS = 4,
	FCGI_TYPE_STDIN = 5,
	FCGI_TYPE_STDOUT = 6,
	FCGI_TYPE_STDERR = 7,
	FCGI_TYPE_DATA = 8,
	FCGI_TYPE_GET_VALUES = 9,
	FCGI_TYPE_GET_VALUES_RESULT = 10,
	FCGI_TYPE_UNKNOWN_TYPE = 11,
};

/* END_REQUEST's protocolStatus. */
enum fcgi_protocol_status {
	FCGI_STATUS_REQUEST_COMPLETE = 0,
	FCGI_STATUS_CANT_MPX_CONN = 1,
	FCGI_STATUS_OVERLOADED = 2,
	FCGI_STATUS_UNKNOWN_ROLE = 3,
};

#define FCGI_ROLE_RESPONDER 1
#define FCGI_FLAG_KEEP_CONN 1
#define FCGI_RECORD_MAX 65535	/* content bytes one record holds */

/* What fcgi_conn_feed returns. Every value but FCGI_RC_OK means: close the connection (the
 * codec is dead, and returns the same value to every later feed). */
enum fcgi_rc {
	FCGI_RC_OK = 0,
	FCGI_RC_BAD_VERSION,	/* a record header whose version is not 1 */
	FCGI_RC_PARAMS_TOO_BIG,	/* the request's parameters pass limits.max_params_bytes */
	FCGI_RC_BAD_PAIRS,	/* a name-value pair runs past its stream (PARAMS or GET_VALUES) */
	FCGI_RC_OUT_OF_ORDER,	/* a record the request's state does not allow (STDIN before
				 * the end of PARAMS, anything after the end of STDIN, a BEGIN
				 * body that is not 8 bytes, a BEGIN of the id in flight) */
	FCGI_RC_NOMEM,		/* an allocation failed */
	FCGI_RC_STOPPED,	/* the caller's event callback returned non-zero */
};

/* What the parser reports, in the order the records arrive. */
enum fcgi_event_kind {
	FCGI_EV_BEGIN,		/* a RESPONDER request begins: request_id, keep_conn */
	FCGI_EV_PARAMS,		/* its parameters are complete: params, params_len (iterate with
				 * fcgi_param_next), param_count */
	FCGI_EV_STDIN,		/* request body bytes: data, len (one record may come in several) */
	FCGI_EV_STDIN_END,	/* the body is complete (the empty STDIN record) */
	FCGI_EV_ABORT,		/* the web server aborts the request in flight (reported once) */
};

struct fcgi_event {
	enum fcgi_event_kind kind;
	uint16_t request_id;
	bool keep_conn;			/* BEGIN: keep the connection after END_REQUEST */
	const uint8_t *data;		/* PARAMS: the pairs as received; STDIN: body bytes */
	size_t len;
	size_t param_count;		/* PARAMS */
};

/* One name-value pair; the bytes are the web server's (any byte, NUL included), not
 * NUL-terminated, valid until the request ends (fcgi_conn_request_done) or the conn is freed. */
struct fcgi_param {
	const uint8_t *name;
	size_t name_len;
	const uint8_t *value;
	size_t value_len;
};

/* Steps through the pairs of a FCGI_EV_PARAMS event: *pos starts at 0; true with *p filled,
 * false past the last pair. The parser checked the pairs already. */
bool fcgi_param_next(const struct fcgi_event *ev, size_t *pos, struct fcgi_param *p);

/* Called for each event: 0 goes on; FCGI_PAUSE stops fcgi_conn_feed_some() after this event
 * (the caller feeds the rest later: say once the answers it made are written); anything else
 * stops the feed for good with FCGI_RC_STOPPED. ev's pointers are valid during the call only
 * (PARAMS: until the request ends). */
typedef int (*fcgi_event_fn)(void *ctx, const struct fcgi_event *ev);
#define FCGI_PAUSE 1

struct fcgi_limits {
	size_t max_params_bytes;	/* the PARAMS stream of one request, in bytes */
	unsigned max_conns;		/* answered to GET_VALUES as FCGI_MAX_CONNS */
	unsigned max_reqs;		/* answered to GET_VALUES as FCGI_MAX_REQS */
};

/* One connection's parser. The fields are the codec's own: callers use the functions. */
struct fcgi_conn {
	struct fcgi_limits limits;
	fcgi_event_fn on_event;
	void *ctx;
	struct buf *out;		/* where the codec's own answers go */
	enum fcgi_rc dead;		/* FCGI_RC_OK while alive */
	bool pause;			/* a callback returned FCGI_PAUSE */
	uint8_t header[8];
	size_t header_have;
	int phase;			/* header, content or padding */
	int action;			/* what the current record's content is for */
	uint8_t type;
	uint16_t rec_id;
	size_t content_left, padding_left;
	uint8_t begin_body[8];
	size_t begin_have;
	struct buf mgmt;		/* a GET_VALUES record's content */
	/* The request in flight. */
	bool busy;
	uint16_t id;
	int stage;			/* params, stdin, done */
	bool aborted;
	struct buf params;		/* the PARAMS stream */
	size_t pairs_end;		/* bytes of params holding complete, checked pairs */
	size_t pair_count;
};

/* Sets up conn (no allocation yet). Answers the codec makes itself (END_REQUEST for an unknown
 * role or a second request, UNKNOWN_TYPE, GET_VALUES_RESULT) are appended to out; the caller
 * writes them, and stops feeding while out is larger than it accepts to hold. */
void fcgi_conn_init(struct fcgi_conn *conn, const struct fcgi_limits *limits,
    fcgi_event_fn on_event, void *ctx, struct buf *out);

/* Parses len bytes, split anywhere: events through on_event, answers into out. */
enum fcgi_rc fcgi_conn_feed(struct fcgi_conn *conn, const void *bytes, size_t len);

/* The same, but stops after an event whose callback returned FCGI_PAUSE: *used says how many of
 * the bytes were parsed; the others are to be fed again, later. */
enum fcgi_rc fcgi_conn_feed_some(struct fcgi_conn *conn, const void *bytes, size_t len,
    size_t *used);

/* The request in flight is over (the caller wrote its END_REQUEST): the connection takes a
 * new BEGIN_REQUEST. Its parameters' memory is kept for the next request. */
void fcgi_conn_request_done(struct fcgi_conn *conn);

/* Whether a request is in flight. */
bool fcgi_conn_busy(const struct fcgi_conn *conn);

/* Whether the connection is between requests and between records: no request in flight, no
 * record begun. A connection closed then loses nothing the web server has sent. */
bool fcgi_conn_at_rest(const struct fcgi_conn *conn);

void fcgi_conn_free(struct fcgi_conn *conn);

/* The writers: each appends whole records to out and returns 0, or -1 when out of memory (out
 * then unchanged). */

/* STDOUT records carrying data: 65535 bytes at most each, padded to a multiple of 8. Nothing
 * for len 0 (an empty STDOUT would end the stream: fcgi_write_stdout_end). */
int fcgi_write_stdout(struct buf *out, uint16_t request_id, const void *data, size_t len);

/* The empty STDOUT that ends the response's stream. */
int fcgi_write_stdout_end(struct buf *out, uint16_t request_id);

/* END_REQUEST with appStatus and protocolStatus. */
int fcgi_write_end_request(struct buf *out, uint16_t request_id, uint32_t app_status,
    enum fcgi_protocol_status protocol_status);

/* The rc's meaning, for a log line. */
const char *fcgi_rc_str(enum fcgi_rc rc);

#endif
