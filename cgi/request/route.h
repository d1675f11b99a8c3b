/* route.h - matching a request path to an endpoint of the config. */
#ifndef CGI_ROUTE_H
#define CGI_ROUTE_H

#include "cgi/config/config.h"
#include "common/buf.h"

enum route_result {
	ROUTE_OK,
	ROUTE_NOT_FOUND,	/* 404 */
	ROUTE_BAD_PARAM,	/* 400: a parameter does not decode, or holds CR, LF, NUL, or is a dot segment */
	ROUTE_NOMEM,
};

/* One decoded path parameter; value may hold any byte but CR, LF and NUL. */
struct route_param {
	const char *name;	/* borrowed from the config */
	char *value;
	size_t len;
};

struct route_match {
	const struct cfg_endpoint *endpoint;
	struct route_param *params;	/* in path order */
	size_t nparams;
};

/* Matches the raw (still percent-encoded) path path[0..len) against the endpoints. On
 * ROUTE_BAD_PARAM the reason is appended to err. route_match_free() in every case. */
enum route_result route_find(const struct cfg *cfg, const char *path, size_t len,
    struct route_match *m, struct buf *err);

void route_match_free(struct route_match *m);

#endif
