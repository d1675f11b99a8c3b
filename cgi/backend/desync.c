/* desync.c - backend origins whose connections fell out of step: not reused until a reload. */
#include "cgi/backend/desync.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

struct desync_origin {
	char *key;			/* immutable */
	atomic_bool stopped;
	atomic_ulong signs[DESYNC_NSIGNS];
	struct desync_origin *next;	/* in the registry, under its lock */
};

/* The lock guards the list, not the entries: their fields are atomic or immutable. */
static struct {
	pthread_mutex_t mu;
	struct desync_origin *origins;
} reg = { .mu = PTHREAD_MUTEX_INITIALIZER };

/* Entries stopped now: each false->true exchange of a stopped flag adds one, each true->false
 * takes one away. */
static atomic_size_t nstopped;

static const char *const sign_names[DESYNC_NSIGNS] = { "peek", "trailing", "idle", "unparsed",
	"echo" };

struct desync_origin *
desync_register(const char *key)
{
	struct desync_origin *o;

	pthread_mutex_lock(&reg.mu);
	for (o = reg.origins; o != NULL; o = o->next)
		if (strcmp(o->key, key) == 0)
			break;
	if (o == NULL && (o = calloc(1, sizeof(*o))) != NULL) {
		if ((o->key = strdup(key)) == NULL) {
			free(o);
			o = NULL;
		} else {
			o->next = reg.origins;
			reg.origins = o;
		}
	}
	pthread_mutex_unlock(&reg.mu);
	return o;
}

const char *
desync_key(const struct desync_origin *o)
{
	return o->key;
}

void
desync_mark(struct desync_origin *o, enum desync_sign sign, const char *why)
{
	if ((unsigned)sign >= DESYNC_NSIGNS)
		return;
	atomic_fetch_add_explicit(&o->signs[sign], 1, memory_order_relaxed);
	if (!atomic_exchange_explicit(&o->stopped, true, memory_order_relaxed)) {
		atomic_fetch_add_explicit(&nstopped, 1, memory_order_relaxed);
		log_msg("warning", "backend %s: %s (%s): its connections are out of step, none is "
		    "reused until a reload", o->key, why, sign_names[sign]);
	}
}

void
desync_mark_key(const char *key, enum desync_sign sign, const char *why)
{
	struct desync_origin *o = desync_register(key);

	if (o != NULL) {
		desync_mark(o, sign, why);
		return;
	}
	log_msg("error", "backend %s: %s (%s), and no memory to record it", key, why,
	    sign_names[sign]);
}

bool
desync_stopped_at(const struct desync_origin *o)
{
	return atomic_load_explicit(&o->stopped, memory_order_relaxed);
}

void
desync_reset(void)
{
	pthread_mutex_lock(&reg.mu);
	for (struct desync_origin *o = reg.origins; o != NULL; o = o->next)
		if (atomic_exchange_explicit(&o->stopped, false, memory_order_relaxed))
			atomic_fetch_sub_explicit(&nstopped, 1, memory_order_relaxed);
	pthread_mutex_unlock(&reg.mu);
}

size_t
desync_stopped(void)
{
	return atomic_load_explicit(&nstopped, memory_order_relaxed);
}

/* s as the text of a Prometheus label value: quoted. */
static int
put_quoted(struct buf *out, const char *s)
{
	int rc = buf_puts(out, "\"");

	for (; *s != '\0' && rc == 0; s++) {
		if (*s == '"' || *s == '\\')
			rc = buf_printf(out, "\\%c", *s);
		else if (*s == '\n')
			rc = buf_puts(out, "\\n");
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
	for (struct desync_origin *o = reg.origins; o != NULL && rc == 0; o = o->next)
		for (int s = 0; s < DESYNC_NSIGNS && rc == 0; s++) {
			unsigned long n = atomic_load_explicit(&o->signs[s], memory_order_relaxed);

			if (n > 0)
				rc = buf_puts(out, "fanout_backend_desync_signs_total{origin=") ||
				    put_quoted(out, o->key) || buf_printf(out, ",sign=\"%s\"} %lu\n",
				    sign_names[s], n) ? -1 : 0;
		}
	if (rc == 0)
		rc = buf_puts(out, "# HELP fanout_backend_origin_reuse_stopped 1 for each backend "
		    "origin whose connections are no longer reused, until a reload.\n"
		    "# TYPE fanout_backend_origin_reuse_stopped gauge\n");
	for (struct desync_origin *o = reg.origins; o != NULL && rc == 0; o = o->next)
		if (desync_stopped_at(o))
			rc = buf_puts(out, "fanout_backend_origin_reuse_stopped{origin=") ||
			    put_quoted(out, o->key) || buf_puts(out, "} 1\n") ? -1 : 0;
	pthread_mutex_unlock(&reg.mu);
	return rc == 0 ? buf_printf(out, "# HELP fanout_backend_reuse_stopped Backend origins whose "
	    "connections are no longer reused, until a reload.\n"
	    "# TYPE fanout_backend_reuse_stopped gauge\nfanout_backend_reuse_stopped %zu\n",
	    desync_stopped()) : -1;
}

void
desync_free(void)
{
	pthread_mutex_lock(&reg.mu);
	while (reg.origins != NULL) {
		struct desync_origin *o = reg.origins;

		reg.origins = o->next;
		free(o->key);
		free(o);
	}
	atomic_store_explicit(&nstopped, 0, memory_order_relaxed);
	pthread_mutex_unlock(&reg.mu);
}
