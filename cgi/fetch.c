/* fetch.c - one HTTP GET to a backend with libcurl, on pooled handles that keep connections. */
#include "cgi/fetch.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_MAX 1024
/* How often a blocking transfer asks whether anyone still wants its answer. */
#define ABANDON_CHECK_MS 50

/* An easy handle and the multi handle that performs it for blocking calls (created at the first
 * one): curl_easy_perform would make that multi itself, but would look at the caller's wishes
 * only about once a second. Connections live in the multi's cache (or, for the multi executor,
 * in its thread's), so both go to the pool together. */
struct pooled {
	CURL *easy;
	CURLM *multi;
};

/* Idle handles. A handle keeps its connections (and DNS cache) across requests; the share
 * interface cannot share connections between threads, so each handle is used by one thread at a
 * time and goes back here after. */
static struct {
	pthread_mutex_t mu;
	struct pooled idle[POOL_MAX];
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

static void
pooled_cleanup(struct pooled p)
{
	curl_easy_cleanup(p.easy);
	if (p.multi != NULL)
		curl_multi_cleanup(p.multi);
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
		pooled_cleanup(pool.idle[--pool.nidle]);
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

/* A pooled handle, or a new one; false if out of memory. */
static bool
handle_take(struct pooled *p)
{
	bool found = false;

	pthread_mutex_lock(&pool.mu);
	if (pool.nidle > 0) {
		*p = pool.idle[--pool.nidle];
		found = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (!found)
		*p = (struct pooled){ .easy = curl_easy_init() };
	return p->easy != NULL;
}

static void
handle_give_back(struct pooled p)
{
	CURL *h = p.easy;
	bool kept = false;

	/* Every option is set again by the next transfer; only the pointers into memory that is
	 * freed now are unhooked. (curl_easy_reset would also free and later re-allocate all the
	 * handle's buffers, a measurable share of each request's CPU.) */
	(void)curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_WRITEDATA, NULL);
	(void)curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(h, CURLOPT_PRIVATE, NULL);
	pthread_mutex_lock(&pool.mu);
	if (pool.nidle < POOL_MAX) {
		pool.idle[pool.nidle++] = p;
		kept = true;
	}
	pthread_mutex_unlock(&pool.mu);
	if (!kept)
		pooled_cleanup(p);
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
	struct pooled p;
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
	if (!handle_take(&t->p) || !handle_setup(t->p.easy, req, t->headers, &t->sink, t->errbuf))
		goto fail;
	return t;
fail:
	if (t->p.easy != NULL)
		handle_give_back(t->p);
	curl_slist_free_all(t->headers);
	free(t);
	reply_fail(reply, "out of memory, or an option curl refused");
	return NULL;
}

CURL *
fetch_handle(const struct fetch_transfer *t)
{
	return t->p.easy;
}

void
fetch_end(struct fetch_transfer *t, CURLcode rc)
{
	struct fetch_reply *reply = t->reply;

	(void)curl_easy_getinfo(t->p.easy, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->kind = kind_of(rc, &t->sink);
	if (reply->kind == FETCH_TOO_LARGE)
		snprintf(reply->message, sizeof(reply->message), "body larger than %zu bytes",
		    t->max_body);
	else if (reply->kind != FETCH_OK)
		snprintf(reply->message, sizeof(reply->message), "%.120s", t->sink.nomem ?
		    "out of memory" : t->errbuf[0] ? t->errbuf : curl_easy_strerror(rc));
	/* Giving back unhooks the error buffer and the sink, which are freed here. */
	handle_give_back(t->p);
	curl_slist_free_all(t->headers);
	free(t);
}

/* Performs t on its handle's own multi handle, asking abandoned() (if set) at least every
 * ABANDON_CHECK_MS whether to stop: a call of a blocking executor has no other way to hear that
 * its client went away. Stopping is reported as a timeout, which it is from the call's side: it
 * had no answer within the time it was given (its deadline, or until nobody wanted it). */
static CURLcode
perform(struct fetch_transfer *t, bool (*abandoned)(void))
{
	CURLcode rc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;

	if (t->p.multi == NULL && (t->p.multi = curl_multi_init()) == NULL)
		return CURLE_OUT_OF_MEMORY;
	if (curl_multi_add_handle(t->p.multi, t->p.easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (curl_multi_perform(t->p.multi, &running) == CURLM_OK && running > 0) {
		if (abandoned != NULL && abandoned()) {
			rc = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		if (curl_multi_poll(t->p.multi, NULL, 0, ABANDON_CHECK_MS, NULL) != CURLM_OK)
			break;
	}
	while (running == 0 && (msg = curl_multi_info_read(t->p.multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	(void)curl_multi_remove_handle(t->p.multi, t->p.easy);
	return rc;
}

void
fetch_get(const struct fetch_request *req, struct fetch_reply *reply)
{
	struct fetch_transfer *t = fetch_begin(req, reply);

	if (t != NULL)
		fetch_end(t, perform(t, req->abandoned));
}
