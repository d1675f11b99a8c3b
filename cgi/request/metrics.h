/* metrics.h - counters and histograms of requests and backend calls, in Prometheus text format. */
#ifndef CGI_METRICS_H
#define CGI_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cgi/request/outcome.h"
#include "common/buf.h"

/*
 * Series are kept by endpoint path and backend name, process-wide, and outlive any config: a
 * reload binds the new config to the series of the same names, so counters carry on. Recording
 * is lock-free (relaxed atomics); only binding takes a lock.
 */

/* Points every endpoint's and backend's `stats` of cfg at its series, making the new ones.
 * -1 if out of memory (cfg is then not to be used). */
int metrics_bind(struct cfg *cfg);

/* A request ended with `status` after us µs; ep is NULL when it matched no endpoint. */
void metrics_request(const struct cfg_endpoint *ep, int status, int64_t us);

/* How each backend call of a request ended, and how long each took (none observed for one that
 * never started). */
void metrics_calls(const struct outcomes *o);

/* A request refused with 503 because the fan-out bound was reached. */
void metrics_rejected(void);

/* A SIGHUP reload was applied (ok) or refused. */
void metrics_reload(bool ok);

/* Requests being served now: +1 at the start of one, -1 at its end. */
void metrics_in_flight(int delta);

/* Request threads alive: +1 as one starts, -1 as it ends. */
void metrics_request_threads(int delta);

/* FastCGI connections open, on either server (on the threads one each holds a request thread;
 * on the event one a loop holds many): +1 when one is accepted, -1 when it is closed. */
void metrics_connections(int delta);

/* The event server's FastCGI connections and their limits (limits.max_connections,
 * limits.max_pending_output_mb): a connection not read because it holds more than its share of
 * the answers waiting for their peer; a kept connection at rest closed to make room; accepting
 * paused, for want of descriptors or at the connection limit. */
void metrics_fastcgi_connection_held(void);
void metrics_fastcgi_connection_shed(void);
void metrics_fastcgi_accept_paused(bool descriptors);

/* The bytes of answers waiting for their peer are the event server's own count (its budget's,
 * struct evlimits.pending), which the metric reads: one atomic per change, not two. Set while
 * the server runs, NULL before it frees the count (the metric is 0 then). */
void metrics_fastcgi_output_pending_from(const atomic_size_t *pending);

/* Appends every series in the text exposition format 0.0.4. -1 if out of memory. */
int metrics_render(struct buf *out);

/* Frees every series; for the end of the process (and leak checkers). */
void metrics_free(void);

#endif
