/* origin.h - a URL's authority and its origin's key: the one parser, below the config (its
 * templates) and the clients (the lean client's targets), hence in backend/ rather than with the
 * templates it was first written for. */
#ifndef CGI_BACKEND_ORIGIN_H
#define CGI_BACKEND_ORIGIN_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* What "scheme://[userinfo@]host[:port]" at the start of a URL says: the one parser of a URL's
 * authority (the config's templates, the origins out of step, the lean client's targets). */
struct origin_authority {
	bool https;
	bool userinfo;		/* "userinfo@" came before the host */
	bool bracketed;		/* the host was "[IPv6]"; host is what is inside the brackets */
	const char *host;	/* into the URL, host_len bytes, as written */
	size_t host_len;
	long port;		/* 1-65535, as written ("000080" is 80) or the scheme's */
	size_t end;		/* the authority ends at url[end]: '/', '?', '#' or NUL */
};

/* Parses the start of url: "http://" or "https://" (lower case, as curl's users write it), then
 * a host name (letters, digits, '-', '.', '_', '~', or bytes past ASCII for a name libcurl's IDN
 * support may take), an IPv4 address or a bracketed IPv6 one (an optional zone, "%25" and its
 * name, RFC 6874), and a port from 1 to 65535 (an empty one is the scheme's, as in curl). 0, or
 * -1 with the reason appended to err (which may be NULL). */
int origin_parse(const char *url, struct origin_authority *a, struct buf *err);

/* The origin's key of a: "scheme://host:port", the host in lower case (with its brackets, for
 * an IPv6 address), user info dropped, the port always written; NULL if out of memory. */
char *origin_key(const struct origin_authority *a);

#endif
