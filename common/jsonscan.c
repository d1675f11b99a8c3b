/* jsonscan.c - the program's one JSON parser: checks validity (RFC 8259) without building
 * anything, finds where a value ends, decodes a string. */
#include "common/jsonscan.h"

#include <string.h>

struct scan {
	const unsigned char *p, *end, *start;
	struct buf *err;	/* NULL: no reason wanted */
	struct buf *out;	/* strings' decoded text goes here (jsonscan_unquote), or NULL */
	bool no_memory;		/* appending to out failed */
};

static bool
fail(struct scan *sc, const char *why)
{
	if (sc->err != NULL)
		(void)buf_printf(sc->err, "offset %zu: %s", (size_t)(sc->p - sc->start), why);
	return false;
}

/* Appends decoded text to sc->out, if there is one. */
static bool
emit(struct scan *sc, const void *data, size_t len)
{
	if (sc->out == NULL || len == 0 || buf_append(sc->out, data, len) == 0)
		return true;
	sc->no_memory = true;
	return fail(sc, "out of memory");
}

static void
skip_space(struct scan *sc)
{
	while (sc->p < sc->end && (*sc->p == ' ' || *sc->p == '\t' || *sc->p == '\n' ||
	    *sc->p == '\r'))
		sc->p++;
}

/* Length of the UTF-8 sequence at p (1 to 4), or 0 if it is not valid UTF-8: no overlong
 * forms, no surrogates, nothing above U+10FFFF. */
static size_t
utf8_length(const unsigned char *p, const unsigned char *end)
{
	size_t n = end - p < 4 ? (size_t)(end - p) : 4;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return n >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		unsigned lo = p[0] == 0xe0 ? 0xa0 : 0x80, hi = p[0] == 0xed ? 0x9f : 0xbf;

		return n >= 3 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 ? 3 : 0;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		unsigned lo = p[0] == 0xf0 ? 0x90 : 0x80, hi = p[0] == 0xf4 ? 0x8f : 0xbf;

		return n >= 4 && p[1] >= lo && p[1] <= hi && (p[2] & 0xc0) == 0x80 &&
		    (p[3] & 0xc0) == 0x80 ? 4 : 0;
	}
	return 0;
}

static bool
is_hex(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The code unit of the \u escape at p, or -1 if p[0..6) is not one. */
static long
u_escape(const unsigned char *p, const unsigned char *end)
{
	long u = 0;

	if (end - p < 6 || p[0] != '\\' || p[1] != 'u')
		return -1;
	for (int i = 2; i < 6; i++) {
		if (!is_hex(p[i]))
			return -1;
		u = u * 16 + (p[i] <= '9' ? p[i] - '0' : (p[i] | 0x20) - 'a' + 10);
	}
	return u;
}

/* Appends code point cp to sc->out as UTF-8. */
static bool
emit_utf8(struct scan *sc, unsigned long cp)
{
	unsigned char b[4];
	size_t n;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		n = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | cp >> 6);
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | cp >> 12);
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | cp >> 18);
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return emit(sc, b, n);
}

/*
 * A \u escape, or two: a surrogate escape must be a high one (D800-DBFF) followed at once by a
 * low one (DC00-DFFF). A lone or reversed surrogate names no character, has no UTF-8 form and is
 * refused by strict parsers such as jansson (I-JSON, RFC 7493, forbids it; RFC 8259 leaves the
 * outcome open), so the program refuses it too rather than splice what a client may not read.
 */
static bool
scan_u_escape(struct scan *sc)
{
	long hi = u_escape(sc->p, sc->end), lo;

	if (hi < 0)
		return fail(sc, "bad \\u escape");
	if (hi >= 0xdc00 && hi <= 0xdfff)
		return fail(sc, "low surrogate escape without a high one before it");
	if (hi < 0xd800 || hi > 0xdbff) {
		sc->p += 6;
		return emit_utf8(sc, (unsigned long)hi);
	}
	lo = u_escape(sc->p + 6 <= sc->end ? sc->p + 6 : sc->end, sc->end);
	if (lo < 0xdc00 || lo > 0xdfff)
		return fail(sc, "high surrogate escape without a low one after it");
	sc->p += 12;
	return emit_utf8(sc, 0x10000 + ((unsigned long)(hi - 0xd800) << 10) +
	    (unsigned long)(lo - 0xdc00));
}

/* An escape, from its backslash. */
static bool
scan_escape(struct scan *sc)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *e;

	if (sc->end - sc->p < 2)
		return fail(sc, "bad escape");
	if (sc->p[1] == 'u')
		return scan_u_escape(sc);
	if (sc->p[1] == '\0' || (e = strchr(from, sc->p[1])) == NULL)
		return fail(sc, "bad escape");
	sc->p += 2;
	return emit(sc, &to[e - from], 1);
}

/* A string, from its opening quote; its text, decoded, goes to sc->out if there is one. */
static bool
scan_string(struct scan *sc)
{
	const unsigned char *run = ++sc->p;	/* bytes to copy out as they are */

	while (sc->p < sc->end) {
		unsigned char c = *sc->p;
		size_t n;

		if (c == '"') {
			if (!emit(sc, run, (size_t)(sc->p - run)))
				return false;
			sc->p++;
			return true;
		}
		if (c < 0x20)
			return fail(sc, "control character in a string");
		if (c == '\\') {
			if (!emit(sc, run, (size_t)(sc->p - run)) || !scan_escape(sc))
				return false;
			run = sc->p;
			continue;
		}
		if ((n = utf8_length(sc->p, sc->end)) == 0)
			return fail(sc, "invalid UTF-8");
		sc->p += n;
	}
	return fail(sc, "unterminated string");
}

static size_t
digits(struct scan *sc)
{
	const unsigned char *from = sc->p;

	while (sc->p < sc->end && *sc->p >= '0' && *sc->p <= '9')
		sc->p++;
	return (size_t)(sc->p - from);
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static bool
scan_number(struct scan *sc)
{
	if (sc->p < sc->end && *sc->p == '-')
		sc->p++;
	if (sc->p < sc->end && *sc->p == '0')
		sc->p++;
	else if (digits(sc) == 0)
		return fail(sc, "bad number");
	if (sc->p < sc->end && *sc->p == '.' && (sc->p++, digits(sc) == 0))
		return fail(sc, "bad fraction");
	if (sc->p < sc->end && (*sc->p == 'e' || *sc->p == 'E')) {
		sc->p++;
		if (sc->p < sc->end && (*sc->p == '+' || *sc->p == '-'))
			sc->p++;
		if (digits(sc) == 0)
			return fail(sc, "bad exponent");
	}
	return true;
}

static bool
scan_word(struct scan *sc, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(sc->end - sc->p) < n || memcmp(sc->p, word, n) != 0)
		return fail(sc, "unexpected character");
	sc->p += n;
	return true;
}

/* A scalar: string, number, true, false or null. */
static bool
scan_scalar(struct scan *sc)
{
	switch (*sc->p) {
	case '"':
		return scan_string(sc);
	case 't':
		return scan_word(sc, "true");
	case 'f':
		return scan_word(sc, "false");
	case 'n':
		return scan_word(sc, "null");
	default:
		return (*sc->p == '-' || (*sc->p >= '0' && *sc->p <= '9')) ? scan_number(sc) :
		    fail(sc, "unexpected character");
	}
}

/* An object's key and the ':' after it, white space allowed around both. */
static bool
scan_key(struct scan *sc)
{
	skip_space(sc);
	if (sc->p == sc->end || *sc->p != '"')
		return fail(sc, "a key (a string) is expected");
	if (!scan_string(sc))
		return false;
	skip_space(sc);
	if (sc->p == sc->end || *sc->p++ != ':')
		return fail(sc, "':' is expected");
	return true;
}

/*
 * One value, from the white space before it to its last character. The grammar runs on an
 * explicit stack of open containers ('[' or '{'), so depth costs no C stack. After a value, the
 * innermost container decides what may follow.
 */
static bool
scan_value(struct scan *sc, int max_depth)
{
	char open[JSONSCAN_MAX_DEPTH];
	int depth = 0;

	if (max_depth > JSONSCAN_MAX_DEPTH)
		max_depth = JSONSCAN_MAX_DEPTH;
	if (max_depth < 0)
		max_depth = 0;
	for (;;) {
		/* A value is expected here. */
		skip_space(sc);
		if (sc->p == sc->end)
			return fail(sc, "a value is missing");
		if (*sc->p == '[' || *sc->p == '{') {
			if (depth == max_depth)
				return fail(sc, "nested too deep");
			open[depth++] = (char)*sc->p++;
			skip_space(sc);
			if (sc->p < sc->end && *sc->p == (open[depth - 1] == '[' ? ']' : '}')) {
				sc->p++;
				depth--;
			} else if (open[depth - 1] == '{' && !scan_key(sc))
				return false;
			else
				continue;
		} else if (!scan_scalar(sc))
			return false;
		/* After a value: close containers, or go on to the next member. */
		for (;;) {
			if (depth == 0)
				return true;
			skip_space(sc);
			if (sc->p == sc->end)
				return fail(sc, "unterminated array or object");
			if (*sc->p == (open[depth - 1] == '[' ? ']' : '}')) {
				sc->p++;
				depth--;
				continue;
			}
			if (*sc->p++ != ',')
				return fail(sc, "',' or a closing bracket is expected");
			if (open[depth - 1] == '{' && !scan_key(sc))
				return false;
			break;
		}
	}
}

bool
jsonscan_valid(const char *s, size_t len, int max_depth, struct buf *err)
{
	struct scan sc = { (const unsigned char *)s, (const unsigned char *)s + len,
		(const unsigned char *)s, err, NULL, false };

	if (!scan_value(&sc, max_depth))
		return false;
	skip_space(&sc);
	return sc.p == sc.end ? true : fail(&sc, "text after the value");
}

bool
jsonscan_value(const char *s, size_t len, int max_depth, size_t *end, struct buf *err)
{
	struct scan sc = { (const unsigned char *)s, (const unsigned char *)s + len,
		(const unsigned char *)s, err, NULL, false };

	if (!scan_value(&sc, max_depth))
		return false;
	*end = (size_t)(sc.p - sc.start);
	return true;
}

enum jsonscan_rc
jsonscan_unquote(struct buf *out, const char *s, size_t len, size_t *end)
{
	struct scan sc = { (const unsigned char *)s, (const unsigned char *)s + len,
		(const unsigned char *)s, NULL, out, false };
	size_t mark = out->len;

	if (len > 0 && *s == '"' && scan_string(&sc)) {
		*end = (size_t)(sc.p - sc.start);
		return JSONSCAN_OK;
	}
	buf_truncate(out, mark);
	return sc.no_memory ? JSONSCAN_NO_MEMORY : JSONSCAN_INVALID;
}

enum jsonscan_rc
jsonscan_quote(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t mark = out->len;

	if (buf_append(out, "\"", 1) != 0)
		return JSONSCAN_NO_MEMORY;
	while (p < end) {
		size_t n = utf8_length(p, end);
		char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
		int rc;

		if (n == 0) {
			buf_truncate(out, mark);
			return JSONSCAN_INVALID;
		}
		if (*p == '"' || *p == '\\')
			rc = buf_append(out, (char[]){ '\\', (char)*p }, 2);
		else if (*p == '\n')
			rc = buf_append(out, "\\n", 2);
		else if (*p < 0x20)
			rc = buf_append(out, esc, 6);
		else
			rc = buf_append(out, p, n);
		if (rc != 0) {
			buf_truncate(out, mark);
			return JSONSCAN_NO_MEMORY;
		}
		p += n;
	}
	if (buf_append(out, "\"", 1) != 0) {
		buf_truncate(out, mark);
		return JSONSCAN_NO_MEMORY;
	}
	return JSONSCAN_OK;
}
