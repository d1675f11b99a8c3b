/* jsonscan.c - checks that bytes are one valid JSON text (RFC 8259), without building it. */
#include "common/jsonscan.h"

#include <string.h>

struct scan {
	const unsigned char *p, *end, *start;
	struct buf *err;
};

static bool
fail(struct scan *sc, const char *why)
{
	(void)buf_printf(sc->err, "offset %zu: %s", (size_t)(sc->p - sc->start), why);
	return false;
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

/* A string, from its opening quote. */
static bool
scan_string(struct scan *sc)
{
	for (sc->p++; sc->p < sc->end; ) {
		unsigned char c = *sc->p;
		size_t n;

		if (c == '"') {
			sc->p++;
			return true;
		}
		if (c < 0x20)
			return fail(sc, "control character in a string");
		if (c == '\\') {
			if (sc->end - sc->p < 2 || strchr("\"\\/bfnrtu", sc->p[1]) == NULL)
				return fail(sc, "bad escape");
			if (sc->p[1] == 'u' && (sc->end - sc->p < 6 || !is_hex(sc->p[2]) ||
			    !is_hex(sc->p[3]) || !is_hex(sc->p[4]) || !is_hex(sc->p[5])))
				return fail(sc, "bad \\u escape");
			sc->p += sc->p[1] == 'u' ? 6 : 2;
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
 * The grammar runs on an explicit stack of open containers ('[' or '{'), so depth costs no C
 * stack. After a value, the innermost container decides what may follow.
 */
bool
jsonscan_valid(const char *s, size_t len, int max_depth, struct buf *err)
{
	struct scan sc = { (const unsigned char *)s, (const unsigned char *)s + len,
		(const unsigned char *)s, err };
	char open[512];
	int depth = 0;

	if (max_depth > (int)sizeof(open))
		max_depth = (int)sizeof(open);
	for (;;) {
		/* A value is expected here. */
		skip_space(&sc);
		if (sc.p == sc.end)
			return fail(&sc, "a value is missing");
		if (*sc.p == '[' || *sc.p == '{') {
			if (depth == max_depth)
				return fail(&sc, "nested too deep");
			open[depth++] = (char)*sc.p++;
			skip_space(&sc);
			if (sc.p < sc.end && *sc.p == (open[depth - 1] == '[' ? ']' : '}')) {
				sc.p++;
				depth--;
			} else if (open[depth - 1] == '{' && !scan_key(&sc))
				return false;
			else
				continue;
		} else if (!scan_scalar(&sc))
			return false;
		/* After a value: close containers, or go on to the next member. */
		for (;;) {
			skip_space(&sc);
			if (depth == 0)
				return sc.p == sc.end ? true : fail(&sc, "text after the value");
			if (sc.p == sc.end)
				return fail(&sc, "unterminated array or object");
			if (*sc.p == (open[depth - 1] == '[' ? ']' : '}')) {
				sc.p++;
				depth--;
				continue;
			}
			if (*sc.p++ != ',')
				return fail(&sc, "',' or a closing bracket is expected");
			if (open[depth - 1] == '{' && !scan_key(&sc))
				return false;
			break;
		}
	}
}

bool
jsonscan_quote(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t mark = out->len;

	if (buf_append(out, "\"", 1) != 0)
		return false;
	while (p < end) {
		size_t n = utf8_length(p, end);
		char esc[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };
		int rc;

		if (n == 0) {
			buf_truncate(out, mark);
			return false;
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
			return false;
		}
		p += n;
	}
	return buf_append(out, "\"", 1) == 0;
}
