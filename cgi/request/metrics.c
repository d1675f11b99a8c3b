/* metrics.c - counters and histograms of requests and backend calls, in Prometheus text format. */
#include "cgi/request/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/backend/desync.h"
#include "cgi/backend/h1/h1.h"
#include "cgi/request/respond.h"
#include "fanout/fanout.h"

/* Upper bounds of the latency buckets, in µs; the last bucket (+Inf) has none. */
static const int64_t bucket_us[] = { 5000, 10000, 25000, 50000, 100000, 250000, 500000,
	1000000, 2500000, 5000000, 10000000 };
static const char *const bucket_le[] = { "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10", "+Inf" };
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

/* The statuses this program answers; anything else is counted as "other". */
static const int statuses[] = { 200, 400, 404, 405, 414, 431, RESPOND_STATUS_CLIENT_GONE, 500,
	502, 503, 504 };
#define NSTATUSES (sizeof(statuses) / sizeof(statuses[0]))
#define NKINDS (FETCH_INTERNAL + 1)

typedef atomic_uint_fast64_t counter;

struct histogram {
	counter bucket[NBUCKETS];	/* not cumulative; rendering sums them */
	counter sum_us;
};

struct endpoint_series {
	struct endpoint_series *next;
	char *path;			/* the config's path, "" for requests that matched none */
	counter status[NSTATUSES + 1];	/* the last one: other */
	struct histogram latency;
};

struct backend_series {
	struct backend_series *next;
	char *endpoint, *name;
	counter kind[NKINDS];
	counter opened, reused;		/* connections its calls went out on */
	struct histogram latency;
};

static struct {
	pthread_mutex_t mu;	/* guards the lists' links, not the counters */
	struct endpoint_series *endpoints;
	struct backend_series *backends;
	struct endpoint_series unmatched;
	counter rejected, reloads_ok, reloads_failed;
	atomic_long in_flight;
	atomic_long threads, connections;
} reg = { .mu = PTHREAD_MUTEX_INITIALIZER, .unmatched = { .path = "" } };

static void
count(counter *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

static void
observe(struct histogram *h, int64_t us)
{
	size_t i = 0;

	if (us < 0)
		us = 0;
	while (i < NBUCKETS - 1 && us > bucket_us[i])
		i++;
	count(&h->bucket[i]);
	atomic_fetch_add_explicit(&h->sum_us, (uint_fast64_t)us, memory_order_relaxed);
}

/* The series of endpoint `path`, made if new. Called with reg.mu held. */
static struct endpoint_series *
endpoint_series(const char *path)
{
	struct endpoint_series *s;

	for (s = reg.endpoints; s != NULL; s = s->next)
		if (strcmp(s->path, path) == 0)
			return s;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->path = strdup(path)) == NULL) {
		free(s);
		return NULL;
	}
	s->next = reg.endpoints;
	reg.endpoints = s;
	return s;
}

/* The series of backend `name` of endpoint `path`, made if new. Called with reg.mu held. */
static struct backend_series *
backend_series(const char *path, const char *name)
{
	struct backend_series *s;

	for (s = reg.backends; s != NULL; s = s->next)
		if (strcmp(s->endpoint, path) == 0 && strcmp(s->name, name) == 0)
			return s;
	if ((s = calloc(1, sizeof(*s))) == NULL || (s->endpoint = strdup(path)) == NULL ||
	    (s->name = strdup(name)) == NULL) {
		if (s != NULL)
			free(s->endpoint);
		free(s);
		return NULL;
	}
	s->next = reg.backends;
	reg.backends = s;
	return s;
}

int
metrics_bind(struct cfg *cfg)
{
	int rc = 0;

	pthread_mutex_lock(&reg.mu);
	for (size_t i = 0; i < cfg->nendpoints && rc == 0; i++) {
		struct cfg_endpoint *ep = &cfg->endpoints[i];

		if ((ep->stats = endpoint_series(ep->path)) == NULL)
			rc = -1;
		for (size_t b = 0; b < ep->nbackends && rc == 0; b++)
			if ((ep->backends[b].stats = backend_series(ep->path,
			    ep->backends[b].name)) == NULL)
				rc = -1;
	}
	pthread_mutex_unlock(&reg.mu);
	return rc;
}

void
metrics_request(const struct cfg_endpoint *ep, int status, int64_t us)
{
	struct endpoint_series *s = ep != NULL && ep->stats != NULL ? ep->stats : &reg.unmatched;
	size_t i = 0;

	while (i < NSTATUSES && statuses[i] != status)
		i++;
	count(&s->status[i]);
	observe(&s->latency, us);
}

static void
metrics_call(const struct outcome *o)
{
	struct backend_series *s = o->backend->stats;
	int64_t us = o->duration_us;

	if (s == NULL || (unsigned)o->kind >= NKINDS)
		return;
	count(&s->kind[o->kind]);
	if (o->conn == FETCH_CONN_OPENED)
		count(&s->opened);
	else if (o->conn == FETCH_CONN_REUSED)
		count(&s->reused);
	if (us >= 0)
		observe(&s->latency, us);
}

void
metrics_calls(const struct outcomes *o)
{
	for (size_t i = 0; i < outcomes_count(o); i++)
		metrics_call(outcomes_get(o, i));
}

void
metrics_rejected(void)
{
	count(&reg.rejected);
}

void
metrics_reload(bool ok)
{
	count(ok ? &reg.reloads_ok : &reg.reloads_failed);
}

void
metrics_in_flight(int delta)
{
	atomic_fetch_add_explicit(&reg.in_flight, delta, memory_order_relaxed);
}

void
metrics_request_threads(int delta)
{
	atomic_fetch_add_explicit(&reg.threads, delta, memory_order_relaxed);
}

void
metrics_connections(int delta)
{
	atomic_fetch_add_explicit(&reg.connections, delta, memory_order_relaxed);
}

static uint_fast64_t
load(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

/* ---- The event server's FastCGI connections and their limits ---- */

static struct {
	_Atomic(const atomic_size_t *) pending;	/* the event server's count, or NULL */
	counter held, shed, paused_fds, paused_limit;
} fcgi_limits;

void
metrics_fastcgi_output_pending_from(const atomic_size_t *pending)
{
	atomic_store(&fcgi_limits.pending, pending);
}

void
metrics_fastcgi_connection_held(void)
{
	count(&fcgi_limits.held);
}

void
metrics_fastcgi_connection_shed(void)
{
	count(&fcgi_limits.shed);
}

void
metrics_fastcgi_accept_paused(bool descriptors)
{
	count(descriptors ? &fcgi_limits.paused_fds : &fcgi_limits.paused_limit);
}

static int
render_fastcgi_limits(struct buf *out)
{
	const atomic_size_t *pending = atomic_load(&fcgi_limits.pending);

	return buf_printf(out,
	    "# HELP fanout_fastcgi_output_pending_bytes Answers written and not yet taken by the "
	    "web server, all FastCGI connections (limits.max_pending_output_mb bounds them).\n"
	    "# TYPE fanout_fastcgi_output_pending_bytes gauge\n"
	    "fanout_fastcgi_output_pending_bytes %zu\n"
	    "# HELP fanout_fastcgi_connections_paused_total FastCGI connections no longer read "
	    "because they held more than their share of limits.max_pending_output_mb.\n"
	    "# TYPE fanout_fastcgi_connections_paused_total counter\n"
	    "fanout_fastcgi_connections_paused_total %ju\n"
	    "# HELP fanout_fastcgi_connections_shed_total Kept FastCGI connections at rest closed to "
	    "make room for new ones.\n# TYPE fanout_fastcgi_connections_shed_total counter\n"
	    "fanout_fastcgi_connections_shed_total %ju\n"
	    "# HELP fanout_fastcgi_accept_paused_total Times accepting paused for 100 ms with no "
	    "idle connection to close: out of descriptors, or at limits.max_connections.\n"
	    "# TYPE fanout_fastcgi_accept_paused_total counter\n"
	    "fanout_fastcgi_accept_paused_total{reason=\"descriptors\"} %ju\n"
	    "fanout_fastcgi_accept_paused_total{reason=\"max_connections\"} %ju\n",
	    pending != NULL ? atomic_load_explicit(pending, memory_order_relaxed) : 0,
	    (uintmax_t)load(&fcgi_limits.held), (uintmax_t)load(&fcgi_limits.shed),
	    (uintmax_t)load(&fcgi_limits.paused_fds), (uintmax_t)load(&fcgi_limits.paused_limit));
}

/* A label value as the format wants it: backslash, quote and newline escaped. */
static int
put_label(struct buf *out, const char *value)
{
	for (const char *p = value; *p != '\0'; p++) {
		const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;

		if (esc != NULL ? buf_puts(out, esc) : buf_append(out, p, 1))
			return -1;
	}
	return 0;
}

/* `name{labels,le="…"} n` for each bucket, then _sum and _count; labels end with a comma. */
static int
put_histogram(struct buf *out, const char *name, const char *labels, struct histogram *h)
{
	uint_fast64_t total = 0;
	int rc = 0;

	for (size_t i = 0; i < NBUCKETS && rc == 0; i++) {
		total += load(&h->bucket[i]);
		rc = buf_printf(out, "%s_bucket{%sle=\"%s\"} %ju\n", name, labels, bucket_le[i],
		    (uintmax_t)total);
	}
	if (rc == 0)
		rc = buf_printf(out, "%s_sum{%.*s} %.6f\n%s_count{%.*s} %ju\n", name,
		    (int)strlen(labels) - 1, labels, load(&h->sum_us) / 1e6, name,
		    (int)strlen(labels) - 1, labels, (uintmax_t)total);
	return rc;
}

static int
render_endpoint(struct buf *out, struct buf *labels, struct endpoint_series *s)
{
	int rc = 0;

	labels->len = 0;
	if (buf_puts(labels, "endpoint=\"") || put_label(labels, s->path) || buf_puts(labels, "\","))
		return -1;
	for (size_t i = 0; i <= NSTATUSES && rc == 0; i++) {
		uint_fast64_t n = load(&s->status[i]);

		if (n == 0)
			continue;
		if (i < NSTATUSES)
			rc = buf_printf(out, "fanout_requests_total{%sstatus=\"%d\"} %ju\n",
			    buf_str(labels), statuses[i], (uintmax_t)n);
		else
			rc = buf_printf(out, "fanout_requests_total{%sstatus=\"other\"} %ju\n",
			    buf_str(labels), (uintmax_t)n);
	}
	return rc;
}

/* labels = `endpoint="...",backend="...",` of s. */
static int
backend_labels(struct buf *labels, const struct backend_series *s)
{
	labels->len = 0;
	return buf_puts(labels, "endpoint=\"") || put_label(labels, s->endpoint) ||
	    buf_puts(labels, "\",backend=\"") || put_label(labels, s->name) ||
	    buf_puts(labels, "\",") ? -1 : 0;
}

static int
render_backend(struct buf *out, struct buf *labels, struct backend_series *s)
{
	int rc = 0;

	if (backend_labels(labels, s) != 0)
		return -1;
	for (size_t k = 0; k < NKINDS && rc == 0; k++) {
		uint_fast64_t n = load(&s->kind[k]);

		if (n > 0)
			rc = buf_printf(out, "fanout_backend_calls_total{%soutcome=\"%s\"} %ju\n",
			    buf_str(labels), fetch_kind_name((enum fetch_kind)k), (uintmax_t)n);
	}
	return rc;
}

/* The connections a backend's calls went out on, opened or kept (each client's). */
static int
render_backend_connections(struct buf *out, struct buf *labels, struct backend_series *s)
{
	if (backend_labels(labels, s) != 0)
		return -1;
	return buf_printf(out, "fanout_backend_connections_total{%sconnection=\"opened\"} %ju\n"
	    "fanout_backend_connections_total{%sconnection=\"reused\"} %ju\n", buf_str(labels),
	    (uintmax_t)load(&s->opened), buf_str(labels), (uintmax_t)load(&s->reused));
}

int
metrics_render(struct buf *out)
{
	struct buf labels = BUF_INIT;
	struct endpoint_series *unmatched = &reg.unmatched;
	struct h1_stats lean = h1_totals();
	int rc;

	pthread_mutex_lock(&reg.mu);
	rc = buf_puts(out, "# HELP fanout_requests_total Requests answered, by endpoint (\"\": none "
	    "matched) and status.\n# TYPE fanout_requests_total counter\n");
	for (struct endpoint_series *s = unmatched; s != NULL && rc == 0;
	    s = s == unmatched ? reg.endpoints : s->next)
		rc = render_endpoint(out, &labels, s);
	if (rc == 0)
		rc = buf_puts(out, "# HELP fanout_request_duration_seconds Time from a request's "
		    "start to its answer.\n# TYPE fanout_request_duration_seconds histogram\n");
	for (struct endpoint_series *s = unmatched; s != NULL && rc == 0;
	    s = s == unmatched ? reg.endpoints : s->next) {
		labels.len = 0;
		rc = buf_puts(&labels, "endpoint=\"") || put_label(&labels, s->path) ||
		    buf_puts(&labels, "\",") ? -1 :
		    put_histogram(out, "fanout_request_duration_seconds", buf_str(&labels),
		    &s->latency);
	}
	if (rc == 0)
		rc = buf_puts(out, "# HELP fanout_backend_calls_total Backend calls, by outcome.\n"
		    "# TYPE fanout_backend_calls_total counter\n");
	for (struct backend_series *s = reg.backends; s != NULL && rc == 0; s = s->next)
		rc = render_backend(out, &labels, s);
	if (rc == 0)
		rc = buf_puts(out, "# HELP fanout_backend_connections_total The connections backend "
		    "calls went out on: opened for the call, or kept.\n"
		    "# TYPE fanout_backend_connections_total counter\n");
	for (struct backend_series *s = reg.backends; s != NULL && rc == 0; s = s->next)
		rc = render_backend_connections(out, &labels, s);
	if (rc == 0)
		rc = buf_puts(out, "# HELP fanout_backend_call_duration_seconds Time of the backend "
		    "calls that started.\n# TYPE fanout_backend_call_duration_seconds histogram\n");
	for (struct backend_series *s = reg.backends; s != NULL && rc == 0; s = s->next) {
		rc = backend_labels(&labels, s) != 0 ? -1 :
		    put_histogram(out, "fanout_backend_call_duration_seconds", buf_str(&labels),
		    &s->latency);
	}
	pthread_mutex_unlock(&reg.mu);
	if (rc == 0)
		rc = buf_printf(out,
		    "# HELP fanout_backend_calls_in_flight Backend calls admitted and not finished.\n"
		    "# TYPE fanout_backend_calls_in_flight gauge\nfanout_backend_calls_in_flight %zu\n"
		    "# HELP fanout_requests_in_flight Requests being served.\n"
		    "# TYPE fanout_requests_in_flight gauge\nfanout_requests_in_flight %ld\n"
		    "# HELP fanout_curl_handles_idle Pooled curl caches (multi handles) between "
		    "blocking calls, each keeping its connections and TLS sessions.\n"
		    "# TYPE fanout_curl_handles_idle gauge\nfanout_curl_handles_idle %zu\n"
		    "# HELP fanout_backend_stray_refused_total Kept backend connections refused before "
		    "reuse: the backend had sent bytes after its answer.\n"
		    "# TYPE fanout_backend_stray_refused_total counter\n"
		    "fanout_backend_stray_refused_total %lu\n"
		    "# HELP fanout_lean_connections_opened_total Backend connections the lean HTTP/1.1 "
		    "client opened.\n# TYPE fanout_lean_connections_opened_total counter\n"
		    "fanout_lean_connections_opened_total %lu\n"
		    "# HELP fanout_lean_connections_reused_total Backend calls the lean HTTP/1.1 client "
		    "sent on a kept connection.\n# TYPE fanout_lean_connections_reused_total counter\n"
		    "fanout_lean_connections_reused_total %lu\n"
		    "# HELP fanout_rejected_total Requests refused with 503: too many backend calls "
		    "in flight.\n# TYPE fanout_rejected_total counter\nfanout_rejected_total %ju\n"
		    "# HELP fanout_config_reloads_total SIGHUP reloads, applied or refused.\n"
		    "# TYPE fanout_config_reloads_total counter\n"
		    "fanout_config_reloads_total{result=\"ok\"} %ju\n"
		    "fanout_config_reloads_total{result=\"error\"} %ju\n",
		    fanout_inflight(), atomic_load(&reg.in_flight), fetch_pool_idle(),
		    fetch_stray_refused() + lean.stray_refused, lean.opened, lean.reused,
		    (uintmax_t)load(&reg.rejected),
		    (uintmax_t)load(&reg.reloads_ok), (uintmax_t)load(&reg.reloads_failed));
	if (rc == 0)
		rc = buf_printf(out,
		    "# HELP fanout_request_threads Request threads alive.\n"
		    "# TYPE fanout_request_threads gauge\nfanout_request_threads %ld\n"
		    "# HELP fanout_fastcgi_connections FastCGI connections open, each holding a "
		    "request thread.\n# TYPE fanout_fastcgi_connections gauge\n"
		    "fanout_fastcgi_connections %ld\n",
		    atomic_load(&reg.threads), atomic_load(&reg.connections));
	/* Backend origins out of step (issue 18): signs by kind, and those no longer reused. */
	if (rc == 0)
		rc = desync_render_metrics(out);
	if (rc == 0)
		rc = render_fastcgi_limits(out);
	buf_free(&labels);
	return rc;
}

void
metrics_free(void)
{
	pthread_mutex_lock(&reg.mu);
	while (reg.endpoints != NULL) {
		struct endpoint_series *s = reg.endpoints;

		reg.endpoints = s->next;
		free(s->path);
		free(s);
	}
	while (reg.backends != NULL) {
		struct backend_series *s = reg.backends;

		reg.backends = s->next;
		free(s->endpoint);
		free(s->name);
		free(s);
	}
	pthread_mutex_unlock(&reg.mu);
}
