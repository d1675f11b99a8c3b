/* pct.c - percent-encoding (RFC 3986) of URL components, and its decoding. */
#include "common/pct.h"

static bool
is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~';
}

static int
hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

enum pct_err
pct_encode(struct buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = 0;

	/* Runs of unreserved bytes are copied in one go. */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (is_unreserved(c))
			continue;
		if (buf_append(out, s + start, i - start) != 0 || buf_append(out, esc, 3) != 0)
			return PCT_ENOMEM;
		start = i + 1;
	}
	return buf_append(out, s + start, len - start) == 0 ? PCT_OK : PCT_ENOMEM;
}

enum pct_err
pct_decode(struct buf *out, const char *s, size_t len, bool plus_is_space)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		int hi, lo;

		if (c == '%') {
			if (len - i < 3 || (hi = hex_value((unsigned char)s[i + 1])) < 0 ||
			    (lo = hex_value((unsigned char)s[i + 2])) < 0)
				return PCT_EBADESC;	/* "%" needs two hex digits after it */
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space)
			c = ' ';
		if (buf_append(out, &c, 1) != 0)
			return PCT_ENOMEM;
	}
	return PCT_OK;
}
