/* vars.h - what a request's backend calls may read: copied out of the request, shared. */
#ifndef CGI_VARS_H
#define CGI_VARS_H

#include <stdatomic.h>

#include "cgi/config/config.h"
#include "cgi/request/route.h"
#include "cgi/config/template.h"
#include "common/buf.h"

/* libfcgi's strings die at FCGX_Finish_r, while a call that outlived its deadline may still run:
 * so the calls read copies, kept alive by a reference count (the request's, and one per call). */
struct vars_kv {
	const char *name;	/* borrowed from the config */
	char *value;
	size_t len;
};

struct req_vars {
	atomic_int refs;
	struct cfg *cfg;		/* one reference: a call that outlives its request still
					 * reads the config, even after a reload replaced it */
	char *request_id;
	struct route_match route;	/* the path parameters */
	struct vars_kv *query;		/* allowlisted query parameters present in the request */
	size_t nquery;
	struct vars_kv *headers;	/* allowlisted request headers present, by FastCGI name;
					 * repeated lines combined into one value */
	size_t nheaders;
};

/*
 * Reads a request parameter (FastCGI or CGI environment): NULL when absent. A FastCGI request may
 * carry a name more than once (nginx sends each header line as a parameter of its own): with
 * cursor NULL the first occurrence is returned; otherwise *cursor (0 to begin, then only as the
 * previous call left it) says where to go on, and each call returns the next occurrence, NULL
 * after the last. The CGI environment has one value per name.
 */
typedef const char *(*vars_param_fn)(void *ctx, const char *name, size_t *cursor);

/* A vars_param_fn over an environment: env holds "NAME=VALUE" strings, NULL-terminated. */
const char *vars_env_param(char *const *env, const char *name, size_t *cursor);

/* The longest value of a forwarded header, its repeated lines combined: twice what one line may
 * be behind nginx's default buffers (8 KiB), so that no single line nginx passes is refused. */
#define VARS_MAX_HEADER 16384

enum vars_result {
	VARS_OK,
	VARS_BAD_REQUEST,	/* 400, reason in err */
	VARS_TOO_LARGE,		/* 431: a forwarded header too long, reason in err */
	VARS_NOMEM,
};

/*
 * Builds the variables of a request to endpoint route->endpoint of cfg (takes a reference to cfg,
 * dropped with the variables): takes over `route`, reads the
 * allowlisted parameters of query[0..qlen) and the allowlisted headers through param(), each
 * header's repeated lines combined as HTTP does (RFC 9110 5.3: in order, ", " between them;
 * Cookie with "; ", RFC 6265 5.4; empty lines are skipped). Checks
 * every value the endpoint's templates take from the request, so a bad one is refused here with
 * 400 (a forwarded header over VARS_MAX_HEADER: 431), before any backend is called. *out has
 * one reference.
 */
enum vars_result vars_build(struct cfg *cfg, struct route_match *route, const char *query,
    size_t qlen,
    vars_param_fn param, void *param_ctx, const char *request_id, struct req_vars **out,
    struct buf *err);

void vars_ref(struct req_vars *v);
void vars_unref(struct req_vars *v);

/* The value of a TPL_PARAM or TPL_QUERY part, or NULL with a reason in err. */
const char *vars_lookup(const struct req_vars *v, const struct tpl_part *part, size_t *len,
    struct buf *err);

/* The value of a forwarded header by its FastCGI name, or NULL. */
const struct vars_kv *vars_header(const struct req_vars *v, const char *param_name);

#endif
