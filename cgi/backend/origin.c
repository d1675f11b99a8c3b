/* origin.c - the one parser of a URL's authority ("scheme://[userinfo@]host[:port]") and the
 * origin's key made from it: for the config's templates, the origins out of step and the lean
 * client's targets alike. */
#include "cgi/backend/origin.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <string.h>

/* Appends the reason to err, if any; -1. */
__attribute__((format(printf, 2, 3))) static int
refuse(struct buf *err, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	(void)buf_vprintf(err, fmt, ap);
	va_end(ap);
	return -1;
}

/* A byte of a host name or a zone: letters, digits, '-', '_', '.', '~'. */
static bool
host_byte(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '_' || c == '.' || c == '~';
}

/* "[...]"'s inside: an IPv6 address, with an optional zone ("%25" and its name, RFC 6874). */
static bool
ipv6_valid(const char *s, size_t len)
{
	const char *zone = memchr(s, '%', len);
	size_t alen = zone != NULL ? (size_t)(zone - s) : len;
	char text[INET6_ADDRSTRLEN];
	struct in6_addr addr;

	if (alen == 0 || alen >= sizeof(text))
		return false;
	memcpy(text, s, alen);
	text[alen] = '\0';
	if (inet_pton(AF_INET6, text, &addr) != 1)
		return false;
	if (zone == NULL)
		return true;
	if (len - alen < 4 || memcmp(zone, "%25", 3) != 0)
		return false;
	for (size_t i = alen + 3; i < len; i++)
		if (!host_byte(s[i]))
			return false;
	return true;
}

int
origin_parse(const char *url, struct origin_authority *a, struct buf *err)
{
	const char *start, *host, *end, *port;
	long value = 0;

	*a = (struct origin_authority){ .port = 0 };
	if (strncmp(url, "http://", 7) == 0)
		start = url + 7;
	else if (strncmp(url, "https://", 8) == 0)
		start = url + 8, a->https = true;
	else
		return refuse(err, "must start with http:// or https://");
	end = start + strcspn(start, "/?#");
	host = start;
	for (const char *p = start; p < end; p++)
		if (*p == '@')
			host = p + 1;
	a->userinfo = host != start;
	if (host < end && *host == '[') {
		const char *close = memchr(host, ']', (size_t)(end - host));

		if (close == NULL)
			return refuse(err, "host \"%.*s\": the IPv6 address's '[' is never closed",
			    (int)(end - host), host);
		if (!ipv6_valid(host + 1, (size_t)(close - host) - 1))
			return refuse(err, "host \"%.*s\" is not an IPv6 address",
			    (int)(close - host) + 1, host);
		if (close + 1 < end && close[1] != ':')
			return refuse(err, "host \"%.*s\": '%c' after the IPv6 address",
			    (int)(end - host), host, close[1]);
		a->bracketed = true;
		a->host = host + 1;
		a->host_len = (size_t)(close - host) - 1;
		port = close + 1 < end ? close + 1 : NULL;
	} else {
		port = memchr(host, ':', (size_t)(end - host));
		if ((port != NULL ? port : end) == host)
			return refuse(err, "no host");
		for (const char *p = host; p < (port != NULL ? port : end); p++)
			if (!host_byte(*p) && (unsigned char)*p < 0x80)
				return refuse(err, "host \"%.*s\": '%c' is not allowed in a host name",
				    (int)((port != NULL ? port : end) - host), host, *p);
		a->host = host;
		a->host_len = (size_t)((port != NULL ? port : end) - host);
	}
	a->end = (size_t)(end - url);
	a->port = a->https ? 443 : 80;
	if (port == NULL || port + 1 == end)
		return 0;
	for (const char *p = port + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return refuse(err, "port \"%.*s\": must be a number from 1 to 65535",
			    (int)(end - port) - 1, port + 1);
		if (value <= 65535)
			value = value * 10 + (*p - '0');
	}
	if (value < 1 || value > 65535)
		return refuse(err, "port %.*s: must be from 1 to 65535", (int)(end - port) - 1,
		    port + 1);
	a->port = value;
	return 0;
}

char *
origin_key(const struct origin_authority *a)
{
	struct buf key = BUF_INIT;
	size_t at;

	if (buf_printf(&key, "%s://%s", a->https ? "https" : "http", a->bracketed ? "[" : "") != 0)
		goto fail;
	at = key.len;
	if (buf_append(&key, a->host, a->host_len) != 0 ||
	    buf_printf(&key, "%s:%ld", a->bracketed ? "]" : "", a->port) != 0)
		goto fail;
	/* Host names are case-insensitive: one origin, however it is written. */
	for (size_t i = at; i < at + a->host_len; i++)
		if (key.data[i] >= 'A' && key.data[i] <= 'Z')
			key.data[i] = (char)(key.data[i] - 'A' + 'a');
	return buf_take(&key);
fail:
	buf_free(&key);
	return NULL;
}
