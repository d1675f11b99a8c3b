/* config.h - the JSON configuration: loaded, validated and compiled once, then read-only.
 * The model the program reads is here, its small accessors in config.c; reading and validating
 * a file is config_load.c's (the document, endpoints, limits, admin paths), config_backend.c's
 * (backends, their URLs' placeholders and dependencies) and config_walk.c's (typed reads of the
 * JSON that name the path of what is wrong). */
#ifndef CGI_CONFIG_H
#define CGI_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cgi/config/template.h"
#include "common/buf.h"

enum cfg_executor {
	CFG_THREADS,
	CFG_POOL,
	CFG_SERIAL,
	CFG_MULTI,
};

enum cfg_encoding {
	CFG_JSON,
	CFG_TEXT,
};

struct desync_origin;		/* cgi/backend/desync.h */

#define CFG_GET 1u
#define CFG_HEAD 2u

/* A limit the config does not set: 0, which struct fanout_limits reads as "your default". */
#define CFG_UNSET 0

struct cfg_backend {
	char *name;		/* its key in the response */
	struct tpl url;
	long timeout_ms;
	bool required;
	unsigned char success[600 / 8];	/* one bit per HTTP status that counts as success */
	enum cfg_encoding encoding;
	char **headers;		/* request headers to forward, as sent: "Accept-Language" */
	char **header_params;	/* the same as FastCGI parameters: "HTTP_ACCEPT_LANGUAGE" */
	size_t nheaders;
	size_t max_body_bytes;
	bool force_curl;	/* "client": "curl": never the lean HTTP/1.1 client (cgi/backend/h1/h1.h) */
	bool keepalive;		/* "keepalive": false: a new connection for every call */
	char *echo_request_id;	/* a response header that must echo the request id; NULL: none */
	struct desync_origin *origin;	/* the entry of url.origin (cgi/backend/desync.h): the
					 * scheme, host and port are literal (cgi/backend/origin.h),
					 * so it is registered at load; never freed while the
					 * process runs */
	size_t *deps;		/* indices of the backends whose values the URL uses */
	size_t ndeps;
	void *stats;		/* the program's own per-backend state (metrics), NULL here */
};

struct cfg_segment {
	char *text;		/* a literal segment, or the parameter's name */
	bool is_param;
};

struct cfg_endpoint {
	char *path;
	struct cfg_segment *segments;
	size_t nsegments;
	unsigned methods;	/* CFG_GET | CFG_HEAD */
	long timeout_ms;	/* the whole request's deadline */
	enum cfg_executor executor;
	bool expose_timing;	/* add "timing" (each backend's start, duration, outcome) */
	char **query;		/* query parameters the templates may use */
	size_t nquery;
	struct cfg_backend *backends;
	size_t nbackends;
	void *stats;		/* the program's own per-endpoint state (metrics), NULL here */
};

struct cfg {
	atomic_int refs;	/* cfg_ref/cfg_unref: requests in flight keep their config */
	char *file;
	struct cfg_endpoint *endpoints;
	size_t nendpoints;
	/* fanout's limits, CFG_UNSET when the file does not set them: fanout_init() then applies its
	 * own default (a zero field of struct fanout_limits), which this file does not repeat. */
	size_t max_inflight;	/* limits.max_inflight: backend calls in flight, process-wide */
	size_t pool_threads;	/* limits.pool_threads: workers of the "pool" executor */
	/* The event server's limits, CFG_UNSET when the file does not set them (its defaults:
	 * evserver.h). */
	size_t max_connections;	/* limits.max_connections: FastCGI connections open */
	size_t max_pending_output_mb;	/* limits.max_pending_output_mb: answers not yet taken */
	char *metrics_path;	/* admin.metrics: Prometheus metrics, NULL when off */
	char *health_path;	/* admin.health: 200 while serving, 503 while draining; NULL: off */
};

/*
 * Loads and validates a config. On error returns -1 and appends one line to err:
 * "FILE:LINE:COLUMN: reason" for JSON syntax, "FILE: JSON.PATH: reason" for the rest, e.g.
 * "site.json: endpoints[2].backends[0].url: placeholder {usr} names no path parameter".
 */
int cfg_load_file(const char *file, struct cfg **out, struct buf *err);

/* The same from memory; `name` stands for the file name in messages. */
int cfg_load_string(const char *text, size_t len, const char *name, struct cfg **out,
    struct buf *err);

/* A config is reference counted: loading gives one reference. The last cfg_unref frees it. */
void cfg_ref(struct cfg *cfg);
void cfg_unref(struct cfg *cfg);

/* True if `status` counts as success for the backend. */
bool cfg_success(const struct cfg_backend *b, long status);

/* The index of the backend named name[0..len) in the endpoint, or -1. */
long cfg_backend_find(const struct cfg_endpoint *ep, const char *name, size_t len);

#endif
