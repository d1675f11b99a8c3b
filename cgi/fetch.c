/* fetch.c - one HTTP GET to a backend with libcurl, on pooled handles that keep connections. */
#include "cgi/fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 1024

/* Idle easy handles. A handle keeps its connections (and DNS cache) across requests; the share
 * interface cannot share connections between threads, so each handle is used by one thread at a
 * time and goes back here after. */
static struct {
	pthread_mutex_t mu;
	CURL *idle[POOL_MAX];
	size_t nidle;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER };

const char *
fetch_kind_name(enum fetch_kind kind)
{
	switch (kind) {
	case FETCH_OK:
		return "ok";
	case FETCH_TIMEOUT:
		return "timeout";
	case FETCH_CONNECT:
		return "connect";
	case FETCH_STATUS:
		return "status";
	case FETCH_BODY:
		return "body";
	case FETCH_INVALID_JSON:
		return "invalid_json";
	case FETCH_TOO_LARGE:
		return "too_large";
	case FETCH_SKIPPED:
		return "skipped";
	case FETCH_CANCELLED:
		return "cancelled";
	}
	return "unknown";
}

int
fetch_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -1;
}

void
fetch_global_cleanup(void)
{
	pthread_mutex_lock(&pool.mu);
	while (pool.nidle > 0)
		curl_easy_cleanup(pool.idle[--pool.nidle]);
	pthread_mutex_unlock(&pool.mu);
	curl_global_cleanup();
}

size_t
fetch_pool_idle(void)
{
	size_t n;

	pthread_mutex_lock(&pool.mu);
	n = pool.nidle;
	pthread_mutex_unlock(&pool.mu);
	return n;
}

static CURL *
handle_take(void)
{
	CURL *h = NULL;

	pthread_mutex_lock(&pool.mu);
	if (pool.nidle > 0)
		h = pool.idle[--pool.nidle];
	pthread_mutex_unlock(&pool.mu);
	return h != NULL ? h : curl_easy_init();
}

static void
handle_give_back(CURL *h)
{
	/* Every option is set again by the next transfer; only the pointers into memory that is
	 * freed now are unhooked. (curl_easy_reset would also free and later re-allocate all the
	 * handle's buffers, a measurable share of each request's CPU.) */
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle < POOL_MAX) {
		pool.idle[pool.nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&pool.mu);
	if (h != NULL)
		curl_easy_cleanup(h);
}

struct sink {
	struct buf *body;
	size_t max;
	bool too_large;
	bool nomem;
};

/* Stores body bytes up to the cap. CURLOPT_MAXFILESIZE only sees Content-Length: a chunked or
 * unannounced body is capped here, by refusing the bytes (curl then stops the transfer). */
static size_t
sink_write(char *data, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (len > s->max - s->body->len) {
		s->too_large = true;
		return 0;
	}
	if (buf_append(s->body, data, len) != 0) {
		s->nomem = true;
		return 0;
	}
	return len;
}

/* Sets every option of one transfer; false if one is refused. */
static bool
handle_setup(CURL *h, const struct fetch_request *req, struct curl_slist *headers,
    struct sink *sink, char *errbuf)
{
	long timeout = req->timeout_ms < 1 ? 1 : (long)req->timeout_ms;

	return curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, sink) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "fcgi-fanout/" PACKAGE_VERSION) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf) == CURLE_OK;
}

static enum fetch_kind
kind_of(CURLcode rc, const struct sink *sink)
{
	switch (rc) {
	case CURLE_OK:
		return FETCH_OK;
	case CURLE_OPERATION_TIMEDOUT:
		return FETCH_TIMEOUT;
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
		return FETCH_CONNECT;
	case CURLE_FILESIZE_EXCEEDED:
		return FETCH_TOO_LARGE;
	default:
		return sink->too_large ? FETCH_TOO_LARGE : FETCH_BODY;
	}
}

/* One transfer under way: what its callbacks and its end need. */
struct fetch_transfer {
	CURL *h;
	struct curl_slist *headers;
	struct sink sink;
	struct fetch_reply *reply;
	size_t max_body;
	char errbuf[CURL_ERROR_SIZE];
};

static void
reply_fail(struct fetch_reply *reply, const char *message)
{
	reply->kind = FETCH_BODY;
	reply->status = 0;
	snprintf(reply->message, sizeof(reply->message), "%s", message);
}

struct fetch_transfer *
fetch_begin(const struct fetch_request *req, struct fetch_reply *reply)
{
	struct fetch_transfer *t = calloc(1, sizeof(*t));
	struct curl_slist *more;

	if (t == NULL) {
		reply_fail(reply, "out of memory");
		return NULL;
	}
	t->reply = reply;
	t->max_body = req->max_body;
	t->sink = (struct sink){ .body = &reply->body, .max = req->max_body };
	reply->status = 0;
	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if ((more = curl_slist_append(t->headers, req->headers[i])) == NULL)
			goto fail;
		t->headers = more;
	}
	if ((t->h = handle_take()) == NULL || !handle_setup(t->h, req, t->headers, &t->sink,
	    t->errbuf))
		goto fail;
	return t;
fail:
	if (t->h != NULL)
		handle_give_back(t->h);
	curl_slist_free_all(t->headers);
	free(t);
	reply_fail(reply, "out of memory, or an option curl refused");
	return NULL;
}

CURL *
fetch_handle(const struct fetch_transfer *t)
{
	return t->h;
}

void
fetch_end(struct fetch_transfer *t, CURLcode rc)
{
	struct fetch_reply *reply = t->reply;

	(void)curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->kind = kind_of(rc, &t->sink);
	if (reply->kind == FETCH_TOO_LARGE)
		snprintf(reply->message, sizeof(reply->message), "body larger than %zu bytes",
		    t->max_body);
	else if (reply->kind != FETCH_OK)
		snprintf(reply->message, sizeof(reply->message), "%.120s", t->sink.nomem ?
		    "out of memory" : t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
	/* Reset unhooks the error buffer and the sink, which are freed here. */
	handle_give_back(t->h);
	curl_slist_free_all(t->headers);
	free(t);
}

/* curl's progress callback: non-zero aborts the transfer. curl calls it at least once a
 * second, and at every step of the transfer. */
static int
progress_check(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
    curl_off_t ulnow)
{
	const struct fetch_request *req = arg;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return req->abandoned() ? 1 : 0;
}

void
fetch_get(const struct fetch_request *req, struct fetch_reply *reply)
{
	struct fetch_transfer *t = fetch_begin(req, reply);

	if (t == NULL)
		return;
	if (req->abandoned != NULL && (curl_easy_setopt(t->h, CURLOPT_XFERINFOFUNCTION,
	    progress_check) != CURLE_OK || curl_easy_setopt(t->h, CURLOPT_XFERINFODATA,
	    (void *)req) != CURLE_OK || curl_easy_setopt(t->h, CURLOPT_NOPROGRESS, 0L) != CURLE_OK)) {
		fetch_end(t, CURLE_FAILED_INIT);
		return;
	}
	fetch_end(t, curl_easy_perform(t->h));
}
