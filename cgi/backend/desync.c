/* desync.c - backend origins whose connections fell out of step: not reused until a reload. */
#include "cgi/backend/desync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"

struct origin {
	char *key;
	unsigned long signs[DESYNC_NSIGNS];
	bool stopped;
};

static struct {
	pthread_mutex_t mu;
	struct origin *origins;
	size_t n, cap;
	bool overflow;		/* an origin did not fit: every origin is stopped */
} reg = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Origins stopped now, overflow counted as one: the fast path of desync_marked(). */
static atomic_size_t nstopped;

static const char *const sign_names[DESYNC_NSIGNS] = { "peek", "trailing", "idle", "unparsed",
	"echo" };

int
desync_origin(const char *url, char *out, size_t size)
{
	const char *a, *at, *host, *port = NULL;
	size_t scheme, alen, hlen, n;
	long number = 0;

	if (strncasecmp(url, "http://", 7) == 0)
		scheme = 4;
	else if (strncasecmp(url, "https://", 8) == 0)
		scheme = 5;
	else
		return -1;
	a = url + scheme + 3;
	alen = strcspn(a, "/?#");
	while ((at = memchr(a, '@', alen)) != NULL) {	/* user info is not the origin's */
		alen -= (size_t)(at + 1 - a);
		a = at + 1;
	}
	host = a;
	if (alen > 0 && a[0] == '[') {
		const char *close = memchr(a, ']', alen);

		if (close == NULL)
			return -1;
		hlen = (size_t)(close - a) + 1;
	} else {
		const char *colon = memchr(a, ':', alen);

		hlen = colon != NULL ? (size_t)(colon - a) : alen;
	}
	if (hlen == 0)
		return -1;
	if (hlen < alen) {
		if (a[hlen] != ':')
			return -1;
		port = a + hlen + 1;
		if ((n = alen - hlen - 1) > 5)
			return -1;
		for (size_t i = 0; i < n; i++) {
			if (port[i] < '0' || port[i] > '9')
				return -1;
			number = number * 10 + (port[i] - '0');
		}
		if (n > 0 && (number < 1 || number > 65535))
			return -1;
	}
	if (number == 0)
		number = scheme == 4 ? 80 : 443;
	if (scheme + 3 + hlen + 7 > size)
		return -1;
	memcpy(out, scheme == 4 ? "http://" : "https://", scheme + 3);
	for (size_t i = 0; i < hlen; i++)
		out[scheme + 3 + i] = (host[i] >= 'A' && host[i] <= 'Z') ? (char)(host[i] + 32) :
		    host[i];
	n = scheme + 3 + hlen;
	out[n++] = ':';
	{
		char digits[6];
		size_t d = 0;

		do
			digits[d++] = (char)('0' + number % 10);
		while ((number /= 10) > 0);
		while (d > 0)
			out[n++] = digits[--d];
	}
	out[n] = '\0';
	return 0;
}

/* The origin's entry, made if `make`; NULL if none, or if there is no room for it (memory, or
 * DESYNC_ORIGINS_MAX). Under the lock. */
static struct origin *
find(const char *key, bool make)
{
	struct origin *more;

	for (size_t i = 0; i < reg.n; i++)
		if (strcmp(reg.origins[i].key, key) == 0)
			return &reg.origins[i];
	if (!make)
		return NULL;
	if (reg.n == reg.cap) {
		size_t cap = reg.cap == 0 ? 8 : reg.cap * 2;

		if (reg.n >= DESYNC_ORIGINS_MAX ||
		    (more = reallocarray(reg.origins, cap, sizeof(*more))) == NULL)
			return NULL;
		reg.origins = more;
		reg.cap = cap;
	}
	more = &reg.origins[reg.n];
	*more = (struct origin){ .key = strdup(key) };
	if (more->key == NULL)
		return NULL;
	reg.n++;
	return more;
}

void
desync_mark(const char *origin, enum desync_sign sign, const char *why)
{
	struct origin *o;

	if ((unsigned)sign >= DESYNC_NSIGNS)
		return;
	pthread_mutex_lock(&reg.mu);
	if ((o = find(origin, true)) == NULL) {
		if (!reg.overflow) {
			reg.overflow = true;
			atomic_fetch_add_explicit(&nstopped, 1, memory_order_relaxed);
			log_msg("error", "backend %s: %s (%s), and no room to record its origin: "
			    "no backend connection is reused until a reload", origin, why,
			    sign_names[sign]);
		}
	} else {
		o->signs[sign]++;
		if (!o->stopped) {
			o->stopped = true;
			atomic_fetch_add_explicit(&nstopped, 1, memory_order_relaxed);
			log_msg("warning", "backend %s: %s (%s): its connections are out of step, "
			    "none is reused until a reload", origin, why, sign_names[sign]);
		}
	}
	pthread_mutex_unlock(&reg.mu);
}

bool
desync_marked(const char *origin)
{
	struct origin *o;
	bool marked;

	if (atomic_load_explicit(&nstopped, memory_order_relaxed) == 0)
		return false;
	pthread_mutex_lock(&reg.mu);
	marked = reg.overflow || ((o = find(origin, false)) != NULL && o->stopped);
	pthread_mutex_unlock(&reg.mu);
	return marked;
}

void
desync_reset(void)
{
	pthread_mutex_lock(&reg.mu);
	for (size_t i = 0; i < reg.n; i++)
		reg.origins[i].stopped = false;
	reg.overflow = false;
	atomic_store_explicit(&nstopped, 0, memory_order_relaxed);
	pthread_mutex_unlock(&reg.mu);
}

size_t
desync_stopped(void)
{
	return atomic_load_explicit(&nstopped, memory_order_relaxed);
}

/* s as the text of a Prometheus label value or of a JSON string (json): quoted. */
static int
put_quoted(struct buf *out, const char *s, bool json)
{
	int rc = buf_puts(out, "\"");

	for (; *s != '\0' && rc == 0; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			rc = buf_printf(out, "\\%c", ch);
		else if (ch == '\n')
			rc = buf_puts(out, "\\n");
		else if (json && ch < 0x20)
			rc = buf_printf(out, "\\u%04x", ch);
		else
			rc = buf_append(out, s, 1);
	}
	return rc == 0 ? buf_puts(out, "\"") : -1;
}

int
desync_render_metrics(struct buf *out)
{
	int rc = buf_puts(out, "# HELP fanout_backend_desync_signs_total Signs that connections to "
	    "a backend origin fell out of step (bytes nobody asked for, an answer that does not "
	    "parse or does not echo the request id).\n"
	    "# TYPE fanout_backend_desync_signs_total counter\n");

	pthread_mutex_lock(&reg.mu);
	for (size_t i = 0; i < reg.n && rc == 0; i++)
		for (int s = 0; s < DESYNC_NSIGNS && rc == 0; s++)
			if (reg.origins[i].signs[s] > 0)
				rc = buf_puts(out, "fanout_backend_desync_signs_total{origin=") ||
				    put_quoted(out, reg.origins[i].key, false) ||
				    buf_printf(out, ",sign=\"%s\"} %lu\n", sign_names[s],
				    reg.origins[i].signs[s]) ? -1 : 0;
	pthread_mutex_unlock(&reg.mu);
	return rc == 0 ? buf_printf(out, "# HELP fanout_backend_reuse_stopped Backend origins whose "
	    "connections are no longer reused, until a reload (all of them count as one).\n"
	    "# TYPE fanout_backend_reuse_stopped gauge\nfanout_backend_reuse_stopped %zu\n",
	    desync_stopped()) : -1;
}

int
desync_render_json(struct buf *out)
{
	int rc = buf_puts(out, "[");
	bool first = true;

	pthread_mutex_lock(&reg.mu);
	if (reg.overflow && rc == 0) {
		rc = buf_puts(out, "\"*\"");
		first = false;
	}
	for (size_t i = 0; i < reg.n && rc == 0; i++) {
		if (!reg.origins[i].stopped)
			continue;
		rc = (!first && buf_puts(out, ",") != 0) || put_quoted(out, reg.origins[i].key, true) ?
		    -1 : 0;
		first = false;
	}
	pthread_mutex_unlock(&reg.mu);
	return rc == 0 ? buf_puts(out, "]") : -1;
}

void
desync_free(void)
{
	pthread_mutex_lock(&reg.mu);
	for (size_t i = 0; i < reg.n; i++)
		free(reg.origins[i].key);
	free(reg.origins);
	reg.origins = NULL;
	reg.n = reg.cap = 0;
	pthread_mutex_unlock(&reg.mu);
}
