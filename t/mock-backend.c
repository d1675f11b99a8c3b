/* mock-backend.c - a backend for the tests, told by each request's query how to answer. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/*
 * Every answer is chosen by the query string of the request:
 *   delay=MS     wait before answering          status=N     the HTTP status (200)
 *   body=KIND    json (default): an echo of the request; invalid; text; nonutf8; empty;
 *                big: a JSON string of `size` bytes; deep: arrays nested `size` deep
 *   size=N       body size for body=big         chunked=1    no Content-Length
 *   drip=MS      send the body 8 bytes at a time, MS apart (chunked)
 *   reset=1      close the connection without answering
 *   http10=1     answer as HTTP/1.0: a body of unknown size then ends when the connection closes
 *   hang=1       send the head and 8 bytes of a 1000-byte body, then nothing until the mock stops
 *   value=X      "value": "X" in the echo       location=URL a Location header
 *   body=given&json=TEXT   the body is TEXT, percent-decoded (%XX only), byte for byte
 * It listens on 127.0.0.1:PORT (any free port by default) and writes the port to PORT_FILE.
 * GET /stats answers {"connections": N, "requests": N}: what the tests count keep-alive with.
 * The echo holds the raw path (not decoded), the query arguments and some request headers.
 */

#define ECHO_SIZE 8192	/* the echo's first size; it grows */

static atomic_long connections, requests;

/* hang=1 answers wait here until the mock is told to stop. */
static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool stopping;
} hang = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false };

static ssize_t
hang_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos == 0 && max >= 8) {
		memcpy(buf, "{\"data\":", 8);
		return 8;
	}
	pthread_mutex_lock(&hang.mu);
	while (!hang.stopping)
		pthread_cond_wait(&hang.cv, &hang.mu);
	pthread_mutex_unlock(&hang.mu);
	return MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (ms > 0 && nanosleep(&ts, &ts) != 0)
		;
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static long
arg_long(struct MHD_Connection *c, const char *name, long dflt)
{
	const char *v = arg(c, name);
	char *end;
	long n;

	if (v == NULL)
		return dflt;
	n = strtol(v, &end, 10);
	return *end == '\0' && end != v && n >= 0 ? n : dflt;
}

/* The echo being written: it grows as needed (a fixed buffer once overflowed on a long query). */
struct echo {
	char *data;	/* NUL-terminated */
	size_t len, cap;
	bool failed;	/* out of memory: the echo is dropped */
};

static void
put(struct echo *e, const char *s, size_t n)
{
	if (e->failed)
		return;
	if (n >= e->cap - e->len) {
		size_t cap = e->cap;
		char *grown;

		while (n >= cap - e->len && cap <= SIZE_MAX / 2)
			cap *= 2;
		if (n >= cap - e->len || (grown = realloc(e->data, cap)) == NULL) {
			e->failed = true;
			return;
		}
		e->data = grown;
		e->cap = cap;
	}
	memcpy(e->data + e->len, s, n);
	e->len += n;
	e->data[e->len] = '\0';
}

static void
append(struct echo *e, const char *s)
{
	put(e, s, strlen(s));
}

/* Appends s as a JSON string (the tests only send printable ASCII to be echoed). */
static void
json_str(struct echo *e, const char *s)
{
	if (s == NULL) {
		append(e, "null");
		return;
	}
	append(e, "\"");
	for (; *s != '\0'; s++) {
		char c = (*s >= 0x20 && *s < 0x7f) ? *s : '?';

		if (c == '"' || c == '\\')
			put(e, "\\", 1);
		put(e, &c, 1);
	}
	append(e, "\"");
}

static enum MHD_Result
collect_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct echo *e = cls;

	(void)kind;
	if (e->len > 0 && e->data[e->len - 1] != '{')
		append(e, ",");
	json_str(e, key);
	append(e, ":");
	json_str(e, value);
	return MHD_YES;
}

/* The default answer: what the backend received; NULL if out of memory. */
static char *
echo(struct MHD_Connection *c, const char *url)
{
	struct echo e = { calloc(1, ECHO_SIZE), 0, ECHO_SIZE, false };
	static const char *const headers[] = { "X-Request-Id", "Accept-Language", "Cookie",
		"User-Agent", NULL };

	if (e.data == NULL)
		return NULL;
	append(&e, "{\"path\":");
	json_str(&e, url);
	append(&e, ",\"query\":{");
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect_arg, &e);
	append(&e, "}");
	for (size_t i = 0; headers[i] != NULL; i++) {
		append(&e, ",");
		json_str(&e, headers[i]);
		append(&e, ":");
		json_str(&e, MHD_lookup_connection_value(c, MHD_HEADER_KIND, headers[i]));
	}
	append(&e, ",\"value\":");
	json_str(&e, arg(c, "value"));
	append(&e, "}");
	if (e.failed) {
		free(e.data);
		return NULL;
	}
	return e.data;
}

/* The value of %XX, or -1. */
static int
hex_byte(const char *p)
{
	int n = 0;

	for (int i = 0; i < 2; i++) {
		char c = p[i];

		if (c >= '0' && c <= '9')
			n = n * 16 + (c - '0');
		else if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
			n = n * 16 + ((c | 0x20) - 'a' + 10);
		else
			return -1;
	}
	return n;
}

/* body=given: the json argument, %XX decoded (the mock keeps arguments raw); NULL if there is
 * none or an escape is broken. */
static char *
given_body(struct MHD_Connection *c)
{
	const char *s = arg(c, "json");
	char *b, *out;

	if (s == NULL || (b = out = malloc(strlen(s) + 1)) == NULL)
		return NULL;
	for (; *s != '\0'; s++) {
		int v = *s == '%' ? hex_byte(s + 1) : (unsigned char)*s;

		if (v < 0) {
			free(b);
			return NULL;
		}
		*out++ = (char)v;
		s += *s == '%' ? 2 : 0;
	}
	*out = '\0';
	return b;
}

/* The body for body=KIND; *len is set. */
static char *
make_body(struct MHD_Connection *c, const char *url, size_t *len)
{
	const char *kind = arg(c, "body");
	char *b;

	if (kind == NULL || strcmp(kind, "json") == 0)
		b = echo(c, url);
	else if (strcmp(kind, "invalid") == 0)
		b = strdup("{\"truncated\": ");
	else if (strcmp(kind, "text") == 0)
		b = strdup("plain text, \"quoted\"\n");
	else if (strcmp(kind, "nonutf8") == 0)
		b = strdup("bad \xff\xfe bytes");
	else if (strcmp(kind, "empty") == 0)
		b = strdup("");
	else if (strcmp(kind, "given") == 0)
		b = given_body(c);
	else if (strcmp(kind, "deep") == 0) {
		size_t depth = (size_t)arg_long(c, "size", 16);

		if ((b = malloc(2 * depth + 1)) != NULL) {
			memset(b, '[', depth);
			memset(b + depth, ']', depth);
			b[2 * depth] = '\0';
		}
	}
	else {
		size_t size = (size_t)arg_long(c, "size", 16);

		if (size < 2)
			size = 2;
		if ((b = malloc(size + 1)) != NULL) {
			memset(b, 'x', size);
			b[0] = b[size - 1] = '"';
			b[size] = '\0';
		}
	}
	*len = b != NULL ? strlen(b) : 0;
	return b;
}

struct drip {
	char *body;
	size_t len;
	long ms;
};

static ssize_t
drip_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct drip *d = cls;
	size_t n = d->len - (size_t)pos < 8 ? d->len - (size_t)pos : 8;

	if (pos >= d->len)
		return MHD_CONTENT_READER_END_OF_STREAM;
	sleep_ms(d->ms);
	if (n > max)
		n = max;
	memcpy(buf, d->body + pos, n);
	return (ssize_t)n;
}

static void
drip_free(void *cls)
{
	struct drip *d = cls;

	free(d->body);
	free(d);
}

static struct MHD_Response *
make_response(struct MHD_Connection *c, const char *url)
{
	size_t len;
	char *body = make_body(c, url, &len);
	struct drip *d;

	if (body == NULL)
		return NULL;
	if (arg_long(c, "drip", 0) == 0 && arg_long(c, "chunked", 0) == 0 &&
	    arg_long(c, "http10", 0) == 0)
		return MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	if ((d = malloc(sizeof(*d))) == NULL) {
		free(body);
		return NULL;
	}
	*d = (struct drip){ body, len, arg_long(c, "drip", 0) };
	return MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, drip_read, d, drip_free);
}

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct MHD_Response *r;
	enum MHD_Result rc;
	char stats[128];

	(void)cls, (void)method, (void)version, (void)upload, (void)upload_size;
	if (*state == NULL) {	/* the first call only announces the request */
		*state = c;
		return MHD_YES;
	}
	atomic_fetch_add(&requests, 1);
	if (strcmp(url, "/stats") == 0) {
		snprintf(stats, sizeof(stats), "{\"connections\":%ld,\"requests\":%ld}",
		    atomic_load(&connections), atomic_load(&requests) - 1);
		r = MHD_create_response_from_buffer(strlen(stats), stats, MHD_RESPMEM_MUST_COPY);
		rc = MHD_queue_response(c, MHD_HTTP_OK, r);
		MHD_destroy_response(r);
		return rc;
	}
	sleep_ms(arg_long(c, "delay", 0));
	if (arg_long(c, "reset", 0))
		return MHD_NO;
	if (arg_long(c, "hang", 0))
		r = MHD_create_response_from_callback(1000, 64, hang_read, NULL, NULL);
	else
		r = make_response(c, url);
	if (r == NULL)
		return MHD_NO;
	if (arg_long(c, "http10", 0))
		(void)MHD_set_response_options(r, MHD_RF_HTTP_1_0_SERVER, MHD_RO_END);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (arg(c, "location") != NULL)
		MHD_add_response_header(r, "Location", arg(c, "location"));
	rc = MHD_queue_response(c, (unsigned)arg_long(c, "status", 200), r);
	MHD_destroy_response(r);
	return rc;
}

static void
notify(void *cls, struct MHD_Connection *c, void **socket_context,
    enum MHD_ConnectionNotificationCode code)
{
	(void)cls, (void)c, (void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&connections, 1);
}

/* Keeps the path raw: the tests check how it was encoded. */
static size_t
no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
	(void)cls, (void)c;
	return strlen(s);
}

int
main(int argc, char **argv)
{
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	FILE *f;
	int sig;

	long port = 0;

	if (argc == 3)
		port = strtol(argv[2], NULL, 10);
	if (argc < 2 || argc > 3 || port < 0 || port > 65535) {
		fprintf(stderr, "usage: mock-backend PORT_FILE [PORT]\n");
		return 2;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
	    MHD_USE_ERROR_LOG, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_SOCK_ADDR, &(struct sockaddr_in){ .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
	    MHD_OPTION_NOTIFY_CONNECTION, notify, NULL,
	    MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
	    MHD_OPTION_CONNECTION_TIMEOUT, 30u, MHD_OPTION_END);
	if (d == NULL || (info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)) == NULL) {
		fprintf(stderr, "mock-backend: cannot start\n");
		return 1;
	}
	if ((f = fopen(argv[1], "w")) == NULL || fprintf(f, "%u\n", info->port) < 0 ||
	    fclose(f) != 0) {
		fprintf(stderr, "mock-backend: cannot write %s\n", argv[1]);
		return 1;
	}
	sigwait(&set, &sig);
	pthread_mutex_lock(&hang.mu);
	hang.stopping = true;
	pthread_cond_broadcast(&hang.cv);
	pthread_mutex_unlock(&hang.mu);
	MHD_stop_daemon(d);
	return 0;
}
