/* h1parse.c - a strict parser of HTTP/1.x responses, fed bytes as they arrive: where an answer
 * ends, to the byte, so that nothing of one can be read as the next. */
#include "cgi/backend/h1/h1parse.h"

#include <string.h>
#include <strings.h>

/* What every status line begins with. */
#define STATUS_PREFIX "HTTP/1."
#define STATUS_PREFIX_LEN (sizeof(STATUS_PREFIX) - 1)

void
h1p_init(struct h1p *p, struct buf *body, size_t max_body)
{
	*p = (struct h1p){ .line = BUF_INIT };
	h1p_reset(p, body, max_body);
}

void
h1p_reset(struct h1p *p, struct buf *body, size_t max_body)
{
	struct buf line = p->line;

	buf_truncate(&line, 0);
	if (line.cap > H1P_LINE_KEEP)
		buf_free(&line);	/* a long line once is no reason to hold its memory */
	*p = (struct h1p){ .state = H1P_STATUS, .line = line, .body = body, .max_body = max_body };
}

void
h1p_free(struct h1p *p)
{
	buf_free(&p->line);
}

static enum h1p_rc
bad(struct h1p *p, enum h1p_error_class class, const char *why)
{
	p->error = why;
	p->error_class = class;
	return H1P_BAD;
}

/* A control character other than HT (NUL, CR, LF and DEL included). */
static bool
is_ctl(unsigned char ch)
{
	return (ch < 0x20 && ch != '\t') || ch == 0x7f;
}

static bool
is_token(unsigned char ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static bool
no_ctl(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)s[i]))
			return false;
	return true;
}

/* "HTTP/1.x NNN[ reason]". */
static enum h1p_rc
status_line(struct h1p *p, const char *s, size_t n)
{
	if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || (s[7] != '0' && s[7] != '1') ||
	    s[8] != ' ' || s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (n > 12 && s[12] != ' ') || !no_ctl(s, n))
		return bad(p, H1P_FRAMING, "malformed status line");
	p->code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	p->http10 = s[7] == '0';
	p->has_length = p->has_te = p->chunked = p->odd_te = false;
	p->says_close = p->says_keep_alive = false;
	p->left = 0;
	p->state = H1P_HEADER;
	if (p->head != NULL)
		p->head(p->ctx);
	return H1P_MORE;
}

static bool
value_is(const char *v, size_t n, const char *word)
{
	return n == strlen(word) && strncasecmp(v, word, n) == 0;
}

/* The next element of a comma-separated list (RFC 9110 §5.6.1), its outer white space taken off;
 * false when the list is done. Elements may be empty. */
static bool
next_element(const char **v, size_t *n, const char **el, size_t *len)
{
	const char *s = *v, *comma;
	size_t rest = *n, word;

	if (s == NULL)
		return false;
	while (rest > 0 && (*s == ' ' || *s == '\t'))
		s++, rest--;
	comma = memchr(s, ',', rest);
	word = comma != NULL ? (size_t)(comma - s) : rest;
	*el = s;
	*len = word;
	while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t'))
		(*len)--;
	*v = comma != NULL ? comma + 1 : NULL;
	*n = comma != NULL ? rest - word - 1 : 0;
	return true;
}

/* 1*DIGIT, leading zeros and all (RFC 9110 §8.6); H1P_LENGTH_HUGE past curl_off_t's range. */
static bool
decimal(const char *v, size_t n, uint64_t *out)
{
	uint64_t len = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		if (len == H1P_LENGTH_HUGE)
			continue;
		if (len > ((uint64_t)INT64_MAX - (uint64_t)(v[i] - '0')) / 10)
			len = H1P_LENGTH_HUGE;	/* checked before it can wrap */
		else
			len = len * 10 + (uint64_t)(v[i] - '0');
	}
	*out = len;
	return true;
}

/* Content-Length: one value, or a list of one value repeated (RFC 9110 §8.6 lets a recipient
 * take "42, 42" as 42: an upstream duplicated the field), in one field line or several. Values
 * that differ are refused: which one frames the answer is what request smuggling plays on. */
static enum h1p_rc
content_length(struct h1p *p, const char *v, size_t n)
{
	const char *el;
	size_t len;
	uint64_t value;

	while (next_element(&v, &n, &el, &len)) {
		if (!decimal(el, len, &value))
			return bad(p, H1P_FRAMING, "malformed Content-Length");
		if (p->has_length && value != p->left)
			return bad(p, H1P_FRAMING, "conflicting Content-Length headers");
		p->has_length = true;
		p->left = value;
	}
	return H1P_MORE;
}

/* Transfer-Encoding: a list of codings, in one field line or several (RFC 9110 §5.3). Chunked
 * must come last (RFC 9112 §6.3: after it, the end would be the connection's, a framing another
 * reader may see otherwise); before it only "identity", RFC 2616's coding that changes nothing;
 * chunked again only as a repeat of the same coding (a sender must not chunk twice, RFC 9112
 * §6.1: the answer is read as chunked once, as curl does). Either is odd: the answer is taken,
 * its connection is not kept. Any other coding is one this client cannot undo: the answer is
 * refused, though framed cleanly (the line is read to its end first: a coding after chunked in
 * it is a framing error). A field with no coding at all is one: its framing cannot be told. */
static enum h1p_rc
transfer_encoding(struct h1p *p, const char *v, size_t n)
{
	const char *el;
	size_t len;
	bool any = false, unsupported = false;

	while (next_element(&v, &n, &el, &len)) {
		if (len == 0)
			continue;	/* RFC 9110 §5.6.1: empty elements are ignored */
		any = true;
		p->has_te = true;
		if (value_is(el, len, "chunked")) {
			p->odd_te |= p->chunked;
			p->chunked = true;
		} else if (p->chunked) {
			return bad(p, H1P_FRAMING, "a transfer coding after chunked");
		} else if (value_is(el, len, "identity")) {
			p->odd_te = true;
		} else {
			unsupported = true;
		}
	}
	if (!any)
		return bad(p, H1P_FRAMING, "unsupported Transfer-Encoding");
	return unsupported ? bad(p, H1P_REFUSED, "unsupported Transfer-Encoding") : H1P_MORE;
}

/* Connection: a comma-separated list of options. */
static void
connection(struct h1p *p, const char *v, size_t n)
{
	const char *el;
	size_t len;

	while (next_element(&v, &n, &el, &len)) {
		if (value_is(el, len, "close"))
			p->says_close = true;
		else if (value_is(el, len, "keep-alive"))
			p->says_keep_alive = true;
	}
}

/* Whether the line "Name: value" of a head names a field that frames the answer. */
static bool
frames(const char *s, size_t n)
{
	const char *colon = memchr(s, ':', n);
	size_t name = colon != NULL ? (size_t)(colon - s) : 0;

	return (name == 14 && strncasecmp(s, "Content-Length", 14) == 0) ||
	    (name == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0);
}

/* "Name: value"; the value's outer white space is not its own. A name that cannot be read is a
 * framing error (another reader may take it for Content-Length: "Content-Length :" is the
 * classic); so is a control character in the value of a field that frames the answer. */
static enum h1p_rc
field_line(struct h1p *p, const char *s, size_t n, bool trailer)
{
	const char *colon = memchr(s, ':', n), *v;
	size_t name, vlen;

	if (s[0] == ' ' || s[0] == '\t')
		return bad(p, H1P_FRAMING, "obsolete line folding");
	if (colon == NULL || colon == s)
		return bad(p, H1P_FRAMING, "malformed header line");
	name = (size_t)(colon - s);
	for (size_t i = 0; i < name; i++)
		if (!is_token((unsigned char)s[i]))
			return bad(p, H1P_FRAMING, "malformed header name");
	v = colon + 1;
	vlen = n - name - 1;
	while (vlen > 0 && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (!no_ctl(v, vlen))
		return bad(p, !trailer && frames(s, n) ? H1P_FRAMING : H1P_REFUSED,
		    "control character in a header value");
	if (trailer)
		return H1P_MORE;
	if (p->field != NULL)
		p->field(p->ctx, s, name, v, vlen);
	if (name == 14 && strncasecmp(s, "Content-Length", 14) == 0)
		return content_length(p, v, vlen);
	if (name == 17 && strncasecmp(s, "Transfer-Encoding", 17) == 0)
		return transfer_encoding(p, v, vlen);
	if (name == 10 && strncasecmp(s, "Connection", 10) == 0)
		connection(p, v, vlen);
	return H1P_MORE;
}

/* The empty line after a head: how the body is framed. */
static enum h1p_rc
head_end(struct h1p *p)
{
	if (p->code == 101)
		return bad(p, H1P_REFUSED, "101 Switching Protocols, but no upgrade was asked for");
	if (p->code < 200) {
		p->state = H1P_STATUS;	/* an interim answer: the final one follows */
		return H1P_MORE;
	}
	if (p->has_length && p->has_te)
		return bad(p, H1P_FRAMING, "both Content-Length and Transfer-Encoding");
	p->status = p->code;
	p->keep_alive = p->http10 ? p->says_keep_alive && !p->says_close : !p->says_close;
	if ((p->http10 && p->has_te) || p->odd_te)
		p->keep_alive = false;	/* trust no framing after an answer framed oddly */
	if (p->code == 204 || p->code == 304) {
		p->state = H1P_END;
	} else if (p->chunked) {
		p->state = H1P_CHUNK_SIZE;
	} else if (p->has_length) {
		if (p->left > p->max_body || p->left == H1P_LENGTH_HUGE)
			return H1P_TOO_LARGE;	/* curl: CURLE_FILESIZE_EXCEEDED */
		p->state = p->left == 0 ? H1P_END : H1P_BODY_LENGTH;
	} else {
		p->state = H1P_BODY_CLOSE;
		p->keep_alive = false;
	}
	return H1P_MORE;
}

/* "HEX[ext]": the size of the next chunk, 0 for the last. Leading zeros are the number's
 * (1*HEXDIG, RFC 9112 §7.1); past them, at most 16 digits, as curl takes. */
static enum h1p_rc
chunk_size(struct h1p *p, const char *s, size_t n)
{
	uint64_t size = 0;
	size_t i = 0, digits = 0;

	for (; i < n; i++) {
		char ch = s[i];
		int digit = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ?
		    ch - 'a' + 10 : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10 : -1;

		if (digit < 0)
			break;
		if (size == 0 && digit == 0)
			continue;
		if (++digits > 16)
			return bad(p, H1P_FRAMING, "bad chunk size");
		size = size * 16 + (uint64_t)digit;
	}
	if (i == 0)
		return bad(p, H1P_FRAMING, "bad chunk size");
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if ((i < n && s[i] != ';') || !no_ctl(s + i, n - i))
		return bad(p, H1P_FRAMING, "bad chunk size");
	if (size == 0) {
		p->state = H1P_TRAILER;
		return H1P_MORE;
	}
	if (size > p->max_body - p->body->len)
		return H1P_TOO_LARGE;
	p->left = size;
	p->state = H1P_CHUNK_DATA;
	return H1P_MORE;
}

/* A whole line, its LF (and a CR before it) taken off. */
static enum h1p_rc
line_done(struct h1p *p, const char *s, size_t n)
{
	/* A CR alone: a control character, as in a value, unless it is in a line that frames
	 * (another reader may end the line there). */
	if (memchr(s, '\r', n) != NULL)
		return bad(p, (p->state != H1P_HEADER && p->state != H1P_TRAILER) ||
		    (p->state == H1P_HEADER && frames(s, n)) ? H1P_FRAMING : H1P_REFUSED,
		    "CR inside a line");
	switch (p->state) {
	case H1P_STATUS:
		return status_line(p, s, n);
	case H1P_HEADER:
		return n == 0 ? head_end(p) : field_line(p, s, n, false);
	case H1P_CHUNK_SIZE:
		return chunk_size(p, s, n);
	case H1P_CHUNK_END:
		if (n != 0)
			return bad(p, H1P_FRAMING, "a chunk longer than its size");
		p->state = H1P_CHUNK_SIZE;
		return H1P_MORE;
	default:	/* H1P_TRAILER */
		if (n == 0)
			p->state = H1P_END;
		return n == 0 ? H1P_MORE : field_line(p, s, n, true);
	}
}

/* Why a line cannot grow past *room bytes, and *class; *room: how many it can. A bound passed
 * is no framing error (the line still ends where it ends), but for a status line (no answer
 * begins with 100 KiB of anything) and the CRLF after a chunk's data. */
static const char *
line_room(const struct h1p *p, bool head, size_t *room, enum h1p_error_class *class)
{
	size_t cap = p->state == H1P_CHUNK_END ? 2 : H1P_LINE_MAX;	/* CRLF after a chunk */

	*room = cap - p->line.len;
	*class = p->state == H1P_STATUS || p->state == H1P_CHUNK_END ? H1P_FRAMING : H1P_REFUSED;
	if (head && H1P_HEAD_MAX - p->head_bytes < *room) {
		*room = H1P_HEAD_MAX - p->head_bytes;
		*class = H1P_REFUSED;
		return "header block too large";
	}
	return head ? "header line too long" : p->state == H1P_CHUNK_END ?
	    "a chunk longer than its size" : "chunk size line too long";
}

/* Bytes of a line state, up to its LF; *used set. */
static enum h1p_rc
line_feed(struct h1p *p, const char *data, size_t len, size_t *used)
{
	const char *lf = memchr(data, '\n', len);
	size_t n = lf != NULL ? (size_t)(lf - data) + 1 : len, room;
	bool head = p->state == H1P_STATUS || p->state == H1P_HEADER || p->state == H1P_TRAILER;
	enum h1p_error_class class;
	const char *why = line_room(p, head, &room, &class);
	enum h1p_rc rc;

	/* Bytes that cannot start an answer are refused at the first of them, not at the end of
	 * a line that may never come (the close would then look like an answer cut short). */
	if (p->state == H1P_STATUS && p->line.len < STATUS_PREFIX_LEN) {
		size_t k = 0;

		while (k < len && p->line.len + k < STATUS_PREFIX_LEN &&
		    data[k] == STATUS_PREFIX[p->line.len + k])
			k++;
		if (k < len && p->line.len + k < STATUS_PREFIX_LEN) {
			*used = k + 1;	/* the same however the bytes came */
			return bad(p, H1P_FRAMING, "malformed status line");
		}
	}
	*used = n;
	if (n > room) {
		*used = room + 1;	/* the byte past the cap: the same however the bytes came */
		return bad(p, class, why);
	}
	if (head)
		p->head_bytes += n;
	if (buf_append(&p->line, data, n) != 0)
		return H1P_NOMEM;
	if (lf == NULL)
		return H1P_MORE;
	n = p->line.len - 1;
	if (n > 0 && p->line.data[n - 1] == '\r')
		n--;
	rc = line_done(p, p->line.data, n);
	buf_truncate(&p->line, 0);
	return rc;
}

/* Body bytes: at most `left` of them when counted; *used set. */
static enum h1p_rc
body_feed(struct h1p *p, const char *data, size_t len, size_t *used)
{
	size_t n = p->state == H1P_BODY_CLOSE || p->left > len ? len : (size_t)p->left;

	size_t room = p->max_body - p->body->len;

	*used = n;
	if (n > room) {
		/* The body as far as the cap, and the byte past it: where it ends however the
		 * bytes came. */
		*used = room + 1;
		return buf_append(p->body, data, room) == 0 ? H1P_TOO_LARGE : H1P_NOMEM;
	}
	if (buf_append(p->body, data, n) != 0)
		return H1P_NOMEM;
	if (p->state == H1P_BODY_CLOSE)
		return H1P_MORE;
	p->left -= n;
	if (p->left == 0)
		p->state = p->state == H1P_CHUNK_DATA ? H1P_CHUNK_END : H1P_END;
	return H1P_MORE;
}

enum h1p_rc
h1p_feed(struct h1p *p, const char *data, size_t len, size_t *used)
{
	size_t at = 0;

	while (at < len && p->state != H1P_END) {
		bool body = p->state == H1P_BODY_LENGTH || p->state == H1P_CHUNK_DATA ||
		    p->state == H1P_BODY_CLOSE;
		size_t n;
		enum h1p_rc rc = body ? body_feed(p, data + at, len - at, &n) :
		    line_feed(p, data + at, len - at, &n);

		at += n;
		if (rc != H1P_MORE) {
			*used = at;
			return rc;
		}
	}
	*used = at;
	return p->state == H1P_END ? H1P_DONE : H1P_MORE;
}

enum h1p_rc
h1p_end(struct h1p *p)
{
	if (p->state == H1P_BODY_CLOSE) {
		p->state = H1P_END;
		return H1P_DONE;
	}
	if (p->state == H1P_STATUS && p->head_bytes == 0)
		return bad(p, H1P_REFUSED, "Empty reply from server");
	return bad(p, H1P_REFUSED, "the connection closed before the end of the answer");
}
