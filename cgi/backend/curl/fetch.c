/* fetch.c - one HTTP GET to a backend with libcurl: its easy handle's options and callbacks, the
 * check of its connection and its one retry, its reply; and the blocking GET (fetch_get). */
#include "cgi/backend/curl/fetch.h"

#include <curl/curl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/backend/curl/fetch_internal.h"
#include "common/clock.h"

/* How often a blocking transfer asks whether anyone still wants its answer. */
#define ABANDON_CHECK_MS 50

/* Kept connections refused because the backend had sent bytes past its answer. */
static atomic_ulong stray_refused;

unsigned long
fetch_stray_refused(void)
{
	return atomic_load_explicit(&stray_refused, memory_order_relaxed);
}


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


static curl_socket_t
socket_open(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch_cache *c = arg;
	int fd;

	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	fd = conns_open(c->conns, a->family, a->socktype, a->protocol);
	return fd < 0 ? CURL_SOCKET_BAD : fd;
}

static int
socket_close(void *arg, curl_socket_t fd)
{
	struct fetch_cache *c = arg;

	fetch_loop_closing(c->loop, fd);
	return conns_close(c->conns, fd);
}

/* curl has picked the connection, new or kept, and is about to send the request on it: refuse
 * one that is not clean (conns.h says why). Aborting makes curl close it: an abort by callback
 * counts as a premature end, which closes a connection that is not multiplexed, and HTTP/1.1
 * is all this program speaks to backends. */
static int
connection_check(void *arg, char *peer_ip, char *local_ip, int peer_port, int local_port)
{
	struct fetch_transfer *t = arg;

	t->conn = conns_check(t->cache->conns, local_ip, local_port, peer_ip, peer_port);
	if (t->conn == CONNS_CLEAN)
		return CURL_PREREQFUNC_OK;
	if (t->conn == CONNS_STRAY) {
		atomic_fetch_add_explicit(&stray_refused, 1, memory_order_relaxed);
		t->reply->signs |= FETCH_SIGN_PEEK;
	}
	return CURL_PREREQFUNC_ABORT;
}

static long
timeout_ms(const struct fetch_transfer *t)
{
	int64_t left = (t->deadline_us - clock_now_us()) / 1000;

	return left < 1 ? 1 : left > LONG_MAX ? LONG_MAX : (long)left;
}

/* Sets every option of one transfer; false if one is refused. */
static bool
handle_setup(struct fetch_transfer *t, const struct fetch_request *req)
{
	CURL *h = t->p.easy;
	long timeout = timeout_ms(t);

	return curl_easy_setopt(h, CURLOPT_URL, req->url) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, timeout) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, (long)req->no_reuse) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_FORBID_REUSE, (long)req->no_reuse) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_SHARE, t->cache->share) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_body) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, sink_write) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &t->sink) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "fcgi-fanout/" PACKAGE_VERSION) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 1L) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, t->errbuf) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, socket_open) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, t->cache) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CLOSESOCKETFUNCTION, socket_close) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_CLOSESOCKETDATA, t->cache) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, connection_check) == CURLE_OK &&
	    curl_easy_setopt(h, CURLOPT_PREREQDATA, t) == CURLE_OK;
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
	case CURLE_FAILED_INIT:		/* the driving multi handle failed */
	case CURLE_OUT_OF_MEMORY:
		return FETCH_INTERNAL;
	default:
		return sink->too_large ? FETCH_TOO_LARGE : FETCH_BODY;
	}
}

/* Takes a new easy handle and sets the transfer up to run on `cache` (NULL: a pooled one);
 * NULL if it cannot, with reply set. */
struct fetch_transfer *
fetch_transfer_begin(const struct fetch_request *req, struct fetch_reply *reply,
    struct fetch_cache *cache)
{
	struct fetch_transfer *t = calloc(1, sizeof(*t));
	struct curl_slist *more;

	if (t == NULL) {
		fetch_reply_fail(reply, "out of memory");
		return NULL;
	}
	t->reply = reply;
	t->max_body = req->max_body;
	t->sink = (struct sink){ .body = &reply->body, .max = req->max_body };
	t->deadline_us = clock_now_us() + (req->timeout_ms < 1 ? 1 : req->timeout_ms) * 1000;
	reply->status = 0;
	reply->signs = 0;
	fetch_reply_echo_reset(reply);
	if (!fetch_echo_name(t->echo_name, req))
		goto fail;
	for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
		if ((more = curl_slist_append(t->headers, req->headers[i])) == NULL)
			goto fail;
		t->headers = more;
	}
	if (!fetch_pool_take(cache, &t->p))
		goto fail;
	if (cache == NULL && t->p.cache == NULL && (t->p.cache = fetch_cache_new()) == NULL)
		goto fail;
	t->cache = cache != NULL ? cache : t->p.cache;
	if (!handle_setup(t, req))
		goto fail;
	return t;
fail:
	if (t->p.easy != NULL)
		fetch_pool_give_back(t->p);
	curl_slist_free_all(t->headers);
	free(t);
	fetch_reply_fail(reply, "out of memory, or an option curl refused");
	return NULL;
}

/* curl has ended t with rc: true if it must run again (its connection was refused before
 * anything was sent), set up for that. */
bool
fetch_transfer_retry(struct fetch_transfer *t, CURLcode rc)
{
	if (rc != CURLE_ABORTED_BY_CALLBACK || t->retried ||
	    (t->conn != CONNS_STRAY && t->conn != CONNS_CLOSED))
		return false;
	/* Nothing was sent or received: the same request goes out again, on a connection of its
	 * own, within the time the first attempt had left. */
	t->retried = true;
	t->conn = CONNS_CLEAN;
	t->errbuf[0] = '\0';
	return curl_easy_setopt(t->p.easy, CURLOPT_FRESH_CONNECT, 1L) == CURLE_OK &&
	    curl_easy_setopt(t->p.easy, CURLOPT_TIMEOUT_MS, timeout_ms(t)) == CURLE_OK &&
	    curl_easy_setopt(t->p.easy, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms(t)) == CURLE_OK;
}

/* Why the transfer failed, in reply->message. */
static void
reply_explain(const struct fetch_transfer *t, CURLcode rc, struct fetch_reply *reply)
{
	const char *why = t->sink.nomem ? "out of memory" : t->errbuf[0] ? t->errbuf :
	    curl_easy_strerror(rc);

	if (t->conn == CONNS_STRAY || t->conn == CONNS_CLOSED)
		why = "a kept connection was refused (bytes waiting, or closed) and the request "
		    "could not go out again";
	else if (t->conn == CONNS_UNKNOWN)
		why = "cannot check the connection before use: its socket is unknown";
	if (reply->kind == FETCH_TOO_LARGE)
		snprintf(reply->message, sizeof(reply->message), "body larger than %zu bytes",
		    t->max_body);
	else
		snprintf(reply->message, sizeof(reply->message), "%.120s", why);
}

/* The connection curl used for the transfer (its last attempt): one it opened, or a kept one. */
static enum fetch_conn
connection_used(CURL *easy)
{
	long opened = 0, port = 0;

	if (curl_easy_getinfo(easy, CURLINFO_NUM_CONNECTS, &opened) != CURLE_OK ||
	    curl_easy_getinfo(easy, CURLINFO_LOCAL_PORT, &port) != CURLE_OK)
		return FETCH_CONN_NONE;
	return opened > 0 ? FETCH_CONN_OPENED : port > 0 ? FETCH_CONN_REUSED : FETCH_CONN_NONE;
}

/* The echoed header's value, from the final answer's head only: neither a 1xx head nor a chunked
 * answer's trailer, which a header callback would also see, can stand in for it. */
static void
echo_read(CURL *easy, const char *name, struct fetch_reply *reply)
{
	struct curl_header *h;

	if (curl_easy_header(easy, name, 0, CURLH_HEADER, -1, &h) == CURLHE_OK)
		fetch_reply_echo_field(reply, name, h->name, strlen(h->name), h->value,
		    strlen(h->value));
}

/* Fills t's reply from curl's code rc, gives the handle back and frees t. */
void
fetch_transfer_end(struct fetch_transfer *t, CURLcode rc)
{
	struct fetch_reply *reply = t->reply;

	(void)curl_easy_getinfo(t->p.easy, CURLINFO_RESPONSE_CODE, &reply->status);
	reply->conn = connection_used(t->p.easy);
	/* An interim answer (100 Continue, 103 Early Hints) is no answer: without a final one the
	 * call received no status. */
	if (reply->status < 200)
		reply->status = 0;
	else if (t->echo_name[0] != '\0')
		echo_read(t->p.easy, t->echo_name, reply);
	reply->kind = t->sink.nomem || t->conn == CONNS_UNKNOWN ? FETCH_INTERNAL :
	    t->conn != CONNS_CLEAN ? FETCH_CONNECT : kind_of(rc, &t->sink);
	/* What curl says of an answer it cannot read as HTTP/1.x: no status line, HTTP/0.9, or
	 * (7.88's header store) a header line it cannot split, such as a folded first one. */
	if (rc == CURLE_WEIRD_SERVER_REPLY || rc == CURLE_UNSUPPORTED_PROTOCOL ||
	    rc == CURLE_BAD_FUNCTION_ARGUMENT)
		reply->signs |= FETCH_SIGN_UNPARSED;
	if (reply->kind != FETCH_OK)
		reply_explain(t, rc, reply);
	fetch_pool_give_back(t->p);
	curl_slist_free_all(t->headers);
	free(t);
}

/* Performs t on its own cache's multi handle, asking abandoned() (if set) at least every
 * ABANDON_CHECK_MS whether to stop: a call of a blocking executor has no other way to hear that
 * its client went away. Stopping is reported as a timeout, which it is from the call's side: it
 * had no answer within the time it was given (its deadline, or until nobody wanted it). */
static CURLcode
perform(struct fetch_transfer *t, bool (*abandoned)(void))
{
	CURLM *multi = t->cache->multi;
	CURLcode rc = CURLE_FAILED_INIT;
	CURLMsg *msg;
	int running = 1, left;

	if (curl_multi_add_handle(multi, t->p.easy) != CURLM_OK)
		return CURLE_FAILED_INIT;
	while (curl_multi_perform(multi, &running) == CURLM_OK && running > 0) {
		if (abandoned != NULL && abandoned()) {
			rc = CURLE_OPERATION_TIMEDOUT;
			break;
		}
		if (curl_multi_poll(multi, NULL, 0, ABANDON_CHECK_MS, NULL) != CURLM_OK)
			break;
	}
	while (running == 0 && (msg = curl_multi_info_read(multi, &left)) != NULL)
		if (msg->msg == CURLMSG_DONE)
			rc = msg->data.result;
	(void)curl_multi_remove_handle(multi, t->p.easy);
	return rc;
}

void
fetch_get(const struct fetch_request *req, struct fetch_reply *reply)
{
	struct fetch_transfer *t = fetch_transfer_begin(req, reply, NULL);
	CURLcode rc;

	if (t == NULL)
		return;
	do
		rc = perform(t, req->abandoned);
	while (fetch_transfer_retry(t, rc));
	fetch_transfer_end(t, rc);
}
