/* h1parse.h - a strict parser of HTTP/1.x responses, fed bytes as they arrive: where an answer
 * ends, to the byte, so that nothing of one can be read as the next. */
#ifndef CGI_H1PARSE_H
#define CGI_H1PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/buf.h"

/*
 * Why a parser of its own and not libhttp-parser 2.9: the client needs one answer to a GET,
 * framed strictly, and nothing else (no requests, no upgrades, no callbacks to pause). This one
 * reads a line at a time into a bounded buffer and the body by counts, so a split anywhere in
 * the bytes cannot change what it sees (t/fuzz/fuzz-h1.c checks that); it refuses what
 * http-parser takes (obsolete line folding) and takes the heads curl takes (http-parser's bound
 * is a compile-time 80 KiB, curl's 300 KiB), it is short enough to read whole, and it adds no
 * dependency (http-parser is no longer maintained: Node.js replaced it with llhttp).
 *
 * What it accepts: "HTTP/1.0" or "HTTP/1.1", a 3-digit status, header lines ending in LF with an
 * optional CR before it; interim answers (1xx but 101) skipped; the body framed by
 * Transfer-Encoding: chunked (extensions and trailers read and dropped), by Content-Length, or
 * else by the end of the connection; none after 1xx, 204 and 304. As curl 7.88 takes them:
 * leading zeros in a Content-Length or a chunk size (at most 16 hex digits past them); a
 * Content-Length repeated with the same value ("12, 12", or two lines: RFC 9110 §8.6); a
 * Content-Length past curl_off_t is "too large", as curl's CURLE_FILESIZE_EXCEEDED; heads up to
 * curl's bounds: 300 KiB for all heads of an answer, 1xx included (so about 21,900 interim
 * answers at most, as curl), 100 KiB for a line. Taken, but the connection is not kept after
 * them (a reader in between may frame them otherwise): "chunked" more than once (read as chunked
 * once, as curl does), "identity" before chunked or alone (then read to the close, RFC 9112
 * §6.3), Transfer-Encoding in an HTTP/1.0 answer.
 *
 * Where it differs from curl 7.88, on purpose (each a framing someone else may read otherwise,
 * RFC 9112 §6.3 and §11.2): it refuses Content-Lengths that differ (curl takes the first of
 * "12, 13" and the last of two lines), Content-Length next to Transfer-Encoding (curl lets the
 * latter win), a coding after chunked (curl 7.88 reads "chunked, identity" as chunked; curl 8.8
 * refuses it, curl PR #13733), obsolete line folding, control characters in a header (curl keeps
 * them), a CR alone inside a line; a coding it cannot undo (gzip, ...: curl fails those too), a
 * chunk-size line (extensions included) past 100 KiB (curl skips extensions of any length).
 * Past the head bounds both fail, the kind aside: a head line past 100 KiB is a bad answer here,
 * "out of memory" (internal) in curl.
 */
#define H1P_HEAD_MAX (300 * 1024)	/* all heads of one answer (1xx included), and its trailers:
					 * curl's MAX_HTTP_RESP_HEADER_SIZE */
#define H1P_LINE_MAX (100 * 1024)	/* one line of a head or a chunk size: CURL_MAX_HTTP_HEADER */
#define H1P_LINE_KEEP 4096		/* line memory kept from one answer to the next */
#define H1P_LENGTH_HUGE UINT64_MAX	/* a Content-Length past INT64_MAX */

enum h1p_rc {
	H1P_MORE,	/* every byte was used; the answer goes on */
	H1P_DONE,	/* the answer ended after *used bytes: the rest is not its own */
	H1P_BAD,	/* not a well-framed answer: h1p.error says why */
	H1P_TOO_LARGE,	/* the body is longer than max_body */
	H1P_NOMEM,
};

/* Why an answer was refused, for the caller's judgement of its connection (h1p.error_class). */
enum h1p_error_class {
	/* Where the answer begins or ends cannot be told: a status line that cannot start an
	 * answer, a chunk size that is not one, Content-Lengths that differ, Content-Length with
	 * Transfer-Encoding, a coding after chunked, a header line whose name cannot be read
	 * (folded, no colon, not a token: it may be a framing field read otherwise elsewhere).
	 * The connection's next bytes are nobody's to trust: a sign the backend is out of step. */
	H1P_FRAMING,
	/* Framed cleanly but not taken: a line or a head past its bound, a control character in
	 * a field value, a coding this client cannot undo, an unasked 101, an answer the close
	 * cut short. The call fails and the connection closes; the backend is not suspected. */
	H1P_REFUSED,
};

enum h1p_state {
	H1P_STATUS, H1P_HEADER, H1P_BODY_LENGTH, H1P_CHUNK_SIZE, H1P_CHUNK_DATA, H1P_CHUNK_END,
	H1P_TRAILER, H1P_BODY_CLOSE, H1P_END,
};

struct h1p {
	enum h1p_state state;
	struct buf line;	/* the line being read */
	struct buf *body;	/* where the body goes (the caller's) */
	size_t max_body;
	size_t head_bytes;	/* of the heads and trailers so far */
	uint64_t left;		/* of the Content-Length, or of the chunk */
	long status;		/* the final status once its head is read, else 0 */
	bool keep_alive;	/* the connection may carry another request after this answer */
	/* Of the head being read: */
	long code;
	bool http10, has_length, says_close, says_keep_alive;
	bool has_te;		/* a Transfer-Encoding */
	bool chunked;		/* its last coding so far is chunked */
	bool odd_te;		/* chunked twice, or identity: the connection is not kept */
	const char *error;	/* for H1P_BAD */
	enum h1p_error_class error_class;	/* for H1P_BAD */
	/* Optional, set after h1p_init or h1p_reset: head(ctx) as each head (interim ones
	 * included) begins, field(ctx, ...) for each of its field lines, the value's outer white
	 * space taken off. Trailers are not told. */
	void (*head)(void *ctx);
	void (*field)(void *ctx, const char *name, size_t name_len, const char *value,
	    size_t value_len);
	void *ctx;
};

/* Prepares p to read one answer into body, at most max_body bytes of it. */
void h1p_init(struct h1p *p, struct buf *body, size_t max_body);

/* The same for the next answer, keeping p's memory. */
void h1p_reset(struct h1p *p, struct buf *body, size_t max_body);

/* Frees the parser's own memory (not the body's, which is the caller's). */
void h1p_free(struct h1p *p);

/* Reads the next bytes of the answer. *used: how many were read (all but for H1P_DONE). Not to
 * be called again after anything but H1P_MORE. */
enum h1p_rc h1p_feed(struct h1p *p, const char *data, size_t len, size_t *used);

/* The connection ended: H1P_DONE if that ends the answer (its body runs to the close), else
 * H1P_BAD. */
enum h1p_rc h1p_end(struct h1p *p);

#endif
