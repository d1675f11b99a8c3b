/* unit-h1-parse.c - cgi/backend/h1/h1parse.c on answers well and badly framed, fed whole and a
 * byte at a time: where each ends, why each refused one is, and whether for its framing. */
#include <string.h>

#include "cgi/backend/h1/h1parse.h"
#include "t/unit-h1.h"

struct parse_case {
	const char *name;
	const char *bytes;
	size_t len;		/* 0: strlen(bytes) */
	size_t max_body;
	enum h1p_rc want;	/* after the bytes, and h1p_end() if they asked for more */
	long status;
	const char *body;	/* for H1P_DONE */
	size_t used;		/* for H1P_DONE: bytes of the answer (0: all) */
	bool keep_alive;
	const char *why;	/* for H1P_BAD: h1p.error */
	enum h1p_error_class class;	/* for H1P_BAD: h1p.error_class */
};

/* An answer refused for its framing (a sign of a backend out of step), and why. */
#define BAD(name, bytes, why) { name, bytes, 0, 64, H1P_BAD, 0, NULL, 0, false, why, H1P_FRAMING }
/* An answer framed cleanly, refused all the same (no sign), and why. */
#define REFUSED(name, bytes, why) { name, bytes, 0, 64, H1P_BAD, 0, NULL, 0, false, why, \
	H1P_REFUSED }

#define OK200 "HTTP/1.1 200 OK\r\n"

static const struct parse_case cases[] = {
	{ "length", OK200 "Content-Length: 5\r\n\r\nhello", 0, 64, H1P_DONE, 200, "hello", 0,
	    true, NULL, 0 },
	{ "length, then a stray answer", OK200 "Content-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\n",
	    0, 64, H1P_DONE, 200, "hi", 40, true, NULL, 0 },
	{ "chunked with extensions and trailers", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "3;a=b\r\nabc\r\n2 ; x\r\nde\r\n0\r\nTrailer: t\r\n\r\n", 0, 64, H1P_DONE, 200,
	    "abcde", 0, true, NULL, 0 },
	{ "LF alone ends lines", "HTTP/1.1 200 OK\nContent-Length: 1\n\nx", 0, 64, H1P_DONE,
	    200, "x", 0, true, NULL, 0 },
	{ "close-delimited", OK200 "\r\nuntil the end", 0, 64, H1P_DONE, 200, "until the end",
	    0, false, NULL, 0 },
	{ "HTTP/1.0 is close-delimited", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, 64,
	    H1P_DONE, 200, "ok", 0, false, NULL, 0 },
	{ "HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n"
	    "Content-Length: 2\r\n\r\nok", 0, 64, H1P_DONE, 200, "ok", 0, true, NULL, 0 },
	{ "Connection: close honoured", OK200 "Connection: foo, close\r\nContent-Length: 0\r\n\r\n",
	    0, 64, H1P_DONE, 200, "", 0, false, NULL, 0 },
	{ "interim answers skipped", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\n"
	    "Link: x\r\n\r\n" OK200 "Content-Length: 1\r\n\r\nz", 0, 64, H1P_DONE, 200, "z", 0,
	    true, NULL, 0 },
	{ "204 has no body", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, 64,
	    H1P_DONE, 204, "", 0, true, NULL, 0 },
	{ "body at the cap", OK200 "Content-Length: 4\r\n\r\nabcd", 0, 4, H1P_DONE, 200, "abcd",
	    0, true, NULL, 0 },
	{ "Content-Length past the cap", OK200 "Content-Length: 5\r\n\r\n", 0, 4, H1P_TOO_LARGE,
	    0, NULL, 0, false, NULL, 0 },
	{ "chunks past the cap", OK200 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n", 0,
	    4, H1P_TOO_LARGE, 0, NULL, 0, false, NULL, 0 },
	{ "close-delimited past the cap", OK200 "\r\nabcde", 0, 4, H1P_TOO_LARGE, 0, NULL, 0,
	    false, NULL, 0 },
	{ "leading zeros in a Content-Length", OK200 "Content-Length: 0000000000000000000000005"
	    "\r\n\r\nhello", 0, 64, H1P_DONE, 200, "hello", 0, true, NULL, 0 },
	{ "a Content-Length list of one value (RFC 9110 8.6)", OK200 "Content-Length: 5 ,5,\t05"
	    "\r\n\r\nhello", 0, 64, H1P_DONE, 200, "hello", 0, true, NULL, 0 },
	{ "leading zeros in a chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "0000000000000000000003\r\nabc\r\n000000000000000000\r\n\r\n", 0, 64, H1P_DONE, 200,
	    "abc", 0, true, NULL, 0 },
	{ "16 hex digits in a chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "0000000000000003\r\nabc\r\n0\r\n\r\n", 0, 64, H1P_DONE, 200, "abc", 0, true, NULL, 0 },
	{ "empty elements in Transfer-Encoding", OK200 "Transfer-Encoding: ,chunked,\r\n\r\n"
	    "1\r\nx\r\n0\r\n\r\n", 0, 64, H1P_DONE, 200, "x", 0, true, NULL, 0 },
	{ "chunked twice: read once, not kept", OK200 "Transfer-Encoding: chunked, chunked\r\n"
	    "\r\n3\r\nabc\r\n0\r\n\r\n", 0, 64, H1P_DONE, 200, "abc", 0, false, NULL, 0 },
	{ "chunked on two lines: not kept", OK200 "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 0, 64, H1P_DONE, 200,
	    "abc", 0, false, NULL, 0 },
	{ "identity, chunked: not kept", OK200 "Transfer-Encoding: identity, chunked\r\n\r\n"
	    "3\r\nabc\r\n0\r\n\r\n", 0, 64, H1P_DONE, 200, "abc", 0, false, NULL, 0 },
	{ "identity alone: close-delimited", OK200 "Transfer-Encoding: identity\r\n\r\nto the end",
	    0, 64, H1P_DONE, 200, "to the end", 0, false, NULL, 0 },
	{ "a Content-Length past curl_off_t", OK200 "Content-Length: 99999999999999999999\r\n\r\n",
	    0, 64, H1P_TOO_LARGE, 0, NULL, 0, false, NULL, 0 },
	{ "a Content-Length past curl_off_t, no cap", OK200 "Content-Length: 9223372036854775808"
	    "\r\n\r\n", 0, SIZE_MAX, H1P_TOO_LARGE, 0, NULL, 0, false, NULL, 0 },
	{ "a Content-Length that would wrap uint64_t, no cap", OK200 "Content-Length: "
	    "20000000000000000000\r\n\r\n", 0, SIZE_MAX, H1P_TOO_LARGE, 0, NULL, 0, false, NULL, 0 },
	{ "the largest curl_off_t, no cap", OK200 "Content-Length: 9223372036854775807\r\n\r\nab",
	    0, SIZE_MAX, H1P_BAD, 0, NULL, 0, false,
	    "the connection closed before the end of the answer", H1P_REFUSED },
	BAD("a Content-Length list that differs", OK200 "Content-Length: 5, 6\r\n\r\nhello",
	    "conflicting Content-Length headers"),
	BAD("an empty element in Content-Length", OK200 "Content-Length: 5,\r\n\r\nhello",
	    "malformed Content-Length"),
	BAD("a coding after chunked", OK200 "Transfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n",
	    "a transfer coding after chunked"),
	BAD("identity after chunked", OK200 "Transfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: identity\r\n\r\n0\r\n\r\n", "a transfer coding after chunked"),
	BAD("Content-Length and identity", OK200 "Content-Length: 3\r\n"
	    "Transfer-Encoding: identity\r\n\r\nabc", "both Content-Length and Transfer-Encoding"),
	BAD("an empty Transfer-Encoding", OK200 "Transfer-Encoding: , \r\n\r\n",
	    "unsupported Transfer-Encoding"),
	BAD("17 hex digits past the zeros", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "00010000000000000000\r\n", "bad chunk size"),
	BAD("Content-Length and Transfer-Encoding", OK200 "Content-Length: 3\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
	    "both Content-Length and Transfer-Encoding"),
	BAD("two Content-Lengths that differ", OK200 "Content-Length: 3\r\nContent-Length: 4\r\n"
	    "\r\nabcd", "conflicting Content-Length headers"),
	BAD("a signed Content-Length", OK200 "Content-Length: +3\r\n\r\nabc",
	    "malformed Content-Length"),
	REFUSED("gzip transfer coding", OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
	    "unsupported Transfer-Encoding"),
	REFUSED("gzip alone", OK200 "Transfer-Encoding: gzip\r\n\r\nxyz",
	    "unsupported Transfer-Encoding"),
	BAD("gzip, then a coding after chunked", OK200 "Transfer-Encoding: gzip, chunked, gzip\r\n"
	    "\r\n0\r\n\r\n", "a transfer coding after chunked"),
	BAD("a bad chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size"),
	BAD("a chunk size with a sign", OK200 "Transfer-Encoding: chunked\r\n\r\n-1\r\n",
	    "bad chunk size"),
	BAD("a huge chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
	    "bad chunk size"),
	BAD("a chunk longer than its size", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "1\r\nab\r\n0\r\n\r\n", "a chunk longer than its size"),
	BAD("obsolete line folding", OK200 "X: a\r\n b:c\r\nContent-Length: 0\r\n\r\n",
	    "obsolete line folding"),
	{ "NUL in a header value", OK200 "X: a\0b\r\nContent-Length: 0\r\n\r\n",
	    sizeof(OK200 "X: a\0b\r\nContent-Length: 0\r\n\r\n") - 1, 64, H1P_BAD, 0, NULL, 0,
	    false, "control character in a header value", H1P_REFUSED },
	BAD("a control character in Content-Length", OK200 "Content-Length: 1\x01\r\n\r\nx",
	    "control character in a header value"),
	BAD("CR inside Content-Length", OK200 "Content-Length: 1\r2\r\n\r\nx", "CR inside a line"),
	REFUSED("a control character in a trailer", OK200 "Transfer-Encoding: chunked\r\n\r\n"
	    "0\r\nX: \x7f\r\n\r\n", "control character in a header value"),
	BAD("a stray body where an answer begins", "{\"user\":\"stray\"}",
	    "malformed status line"),
	BAD("a stray body, then an answer", "x\r\n" OK200 "Content-Length: 0\r\n\r\n",
	    "malformed status line"),
	BAD("a space before the colon", OK200 "Content-Length : 0\r\n\r\n",
	    "malformed header name"),
	REFUSED("CR inside a line", OK200 "X: a\rb\r\nContent-Length: 0\r\n\r\n",
	    "CR inside a line"),
	BAD("HTTP/2 status line", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n",
	    "malformed status line"),
	REFUSED("101 unasked", "HTTP/1.1 101 Switching Protocols\r\n\r\n",
	    "101 Switching Protocols, but no upgrade was asked for"),
	REFUSED("ends inside the head", OK200 "Content-Length: 3\r\n",
	    "the connection closed before the end of the answer"),
	REFUSED("ends inside the body", OK200 "Content-Length: 3\r\n\r\nab",
	    "the connection closed before the end of the answer"),
	REFUSED("nothing at all", "", "Empty reply from server"),
};

/* Feeds c's bytes in pieces of `step` (0: whole); rc, used and p as they end. */
static enum h1p_rc
feed(const struct parse_case *c, size_t step, struct h1p *p, struct buf *body, size_t *used)
{
	size_t len = c->len != 0 ? c->len : strlen(c->bytes), at = 0, n;
	enum h1p_rc rc = H1P_MORE;

	h1p_init(p, body, c->max_body);
	while (rc == H1P_MORE && at < len) {
		size_t piece = step == 0 || step > len - at ? len - at : step;

		rc = h1p_feed(p, c->bytes + at, piece, &n);
		at += n;
	}
	if (rc == H1P_MORE)
		rc = h1p_end(p);
	*used = at;
	return rc;
}

static void
check_case(const struct parse_case *c, size_t step)
{
	struct buf body = BUF_INIT;
	struct h1p p;
	size_t used, len = c->len != 0 ? c->len : strlen(c->bytes);
	enum h1p_rc rc = feed(c, step, &p, &body, &used);

	if (rc != c->want)
		printf("\n    %s (step %zu): rc %d, want %d (%s) ", c->name, step, rc, c->want,
		    p.error != NULL ? p.error : "");
	CU_ASSERT_EQUAL(rc, c->want);
	if (rc == H1P_BAD) {
		CU_ASSERT_STRING_EQUAL(p.error != NULL ? p.error : "",
		    c->why != NULL ? c->why : "");
		if (p.error_class != c->class)
			printf("\n    %s (step %zu): refused %s, want %s ", c->name, step,
			    p.error_class == H1P_FRAMING ? "for its framing" : "cleanly framed",
			    c->class == H1P_FRAMING ? "for its framing" : "cleanly framed");
		CU_ASSERT_EQUAL(p.error_class, c->class);
	}
	if (c->want == H1P_DONE && rc == H1P_DONE) {
		CU_ASSERT_EQUAL(p.status, c->status);
		CU_ASSERT_STRING_EQUAL(buf_str(&body), c->body);
		CU_ASSERT_EQUAL(used, c->used != 0 ? c->used : len);
		CU_ASSERT_EQUAL(p.keep_alive, c->keep_alive);
	}
	h1p_free(&p);
	buf_free(&body);
}

void
test_parse_cases(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		check_case(&cases[i], 0);
		check_case(&cases[i], 1);
		check_case(&cases[i], 7);
	}
}

/* Feeds `bytes` whole, a byte at a time and in pieces of 7: the same rc, used and error each
 * way; the parser as the whole feed left it in *out (to be freed). */
static enum h1p_rc
feed_ways(const struct buf *bytes, struct h1p *out, struct buf *body, size_t *used)
{
	const struct parse_case c = { "bounds", bytes->data, bytes->len, 64, H1P_MORE, 0, NULL, 0,
	    false, NULL, 0 };
	enum h1p_rc rc = feed(&c, 0, out, body, used);

	for (size_t step = 1; step <= 7; step += 6) {
		struct buf b = BUF_INIT;
		struct h1p p;
		size_t u;

		CU_ASSERT_EQUAL(feed(&c, step, &p, &b, &u), rc);
		CU_ASSERT_EQUAL(u, *used);
		CU_ASSERT_STRING_EQUAL(p.error != NULL ? p.error : "", out->error != NULL ?
		    out->error : "");
		h1p_free(&p);
		buf_free(&b);
	}
	return rc;
}

/* An answer whose heads are `head_bytes` long to the byte (in lines of 110 bytes or less), or
 * that has one line of `line_bytes`; "ok" after. */
static void
big_head(struct buf *b, size_t head_bytes, size_t line_bytes)
{
	static const char tail[] = "Content-Length: 2\r\n\r\nok";
	size_t tail_head = sizeof(tail) - 3;

	buf_truncate(b, 0);
	CU_ASSERT_FATAL(buf_puts(b, OK200) == 0);
	if (line_bytes > 0) {
		CU_ASSERT_FATAL(buf_puts(b, "X-Long: ") == 0);
		while (b->len < strlen(OK200) + line_bytes - 2)
			CU_ASSERT_FATAL(buf_puts(b, "a") == 0);
		CU_ASSERT_FATAL(buf_puts(b, "\r\n") == 0);
	}
	while (head_bytes > 0 && b->len + tail_head < head_bytes) {
		size_t left = head_bytes - tail_head - b->len, line = left < 220 ? left : 110;

		CU_ASSERT_FATAL(buf_printf(b, "X-F: %0*d\r\n", (int)line - 7, 0) == 0);
	}
	CU_ASSERT_FATAL(buf_puts(b, tail) == 0);
	if (head_bytes > 0)
		CU_ASSERT_FATAL(b->len == head_bytes + 2);
}

/* Heads and lines up to curl's bounds (300 KiB of heads, 1xx included; 100 KiB a line) are
 * taken, and a byte past either is refused, at that byte however the bytes came; storms of
 * interim answers likewise. */
void
test_parse_bounds(void)
{
	struct buf big = BUF_INIT, body = BUF_INIT;
	struct h1p p;
	size_t used;

	big_head(&big, 250 * 1024, 0);
	CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), H1P_DONE);
	CU_ASSERT_EQUAL(p.status, 200);
	h1p_free(&p);
	buf_truncate(&body, 0);
	big_head(&big, H1P_HEAD_MAX + 1, 0);
	CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), H1P_BAD);
	CU_ASSERT_STRING_EQUAL(p.error != NULL ? p.error : "", "header block too large");
	CU_ASSERT_EQUAL(p.error_class, H1P_REFUSED);	/* a bound, not a framing error */
	CU_ASSERT_EQUAL(used, H1P_HEAD_MAX + 1);
	h1p_free(&p);
	/* One line of 99 KiB is taken, and its memory not kept for the next answer. */
	big_head(&big, 0, 99 * 1024);
	CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), H1P_DONE);
	CU_ASSERT(p.line.cap > H1P_LINE_KEEP);
	h1p_reset(&p, &body, 64);
	CU_ASSERT(p.line.cap <= H1P_LINE_KEEP);
	h1p_free(&p);
	buf_truncate(&body, 0);
	big_head(&big, 0, H1P_LINE_MAX + 1);
	CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), H1P_BAD);
	CU_ASSERT_STRING_EQUAL(p.error != NULL ? p.error : "", "header line too long");
	CU_ASSERT_EQUAL(p.error_class, H1P_REFUSED);
	CU_ASSERT_EQUAL(used, strlen(OK200) + H1P_LINE_MAX + 1);
	h1p_free(&p);
	/* A status line as long: no answer begins so, its framing is lost. */
	buf_truncate(&big, 0);
	CU_ASSERT_FATAL(buf_puts(&big, "HTTP/1.1 200 ") == 0);
	while (big.len <= H1P_LINE_MAX)
		CU_ASSERT_FATAL(buf_puts(&big, "O") == 0);
	CU_ASSERT_FATAL(buf_puts(&big, "\r\n\r\n") == 0);
	CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), H1P_BAD);
	CU_ASSERT_STRING_EQUAL(p.error != NULL ? p.error : "", "header line too long");
	CU_ASSERT_EQUAL(p.error_class, H1P_FRAMING);
	h1p_free(&p);
	/* 12,000 "100 Continue" (300,000 bytes) are taken, as curl takes them; 13,000 are not. */
	for (int n = 2000; n <= 13000; n += n == 2000 ? 10000 : 1000) {
		buf_truncate(&big, 0);
		for (int i = 0; i < n; i++)
			CU_ASSERT_FATAL(buf_puts(&big, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
		CU_ASSERT_FATAL(buf_puts(&big, OK200 "Content-Length: 1\r\n\r\nz") == 0);
		buf_truncate(&body, 0);
		CU_ASSERT_EQUAL(feed_ways(&big, &p, &body, &used), n <= 12000 ? H1P_DONE : H1P_BAD);
		CU_ASSERT_EQUAL(p.status, n <= 12000 ? 200 : 0);
		if (n > 12000)
			CU_ASSERT_EQUAL(used, H1P_HEAD_MAX + 1);	/* refused on the way */
		h1p_free(&p);
	}
	buf_free(&big);
	buf_free(&body);
}
