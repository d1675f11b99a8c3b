/* accesslog.c - one line per request on stderr: who asked what, the answer, each backend. */
#include "cgi/request/accesslog.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"

static enum accesslog_format format = ACCESSLOG_TEXT;

int
accesslog_set_format(const char *name)
{
	if (strcmp(name, "text") == 0)
		format = ACCESSLOG_TEXT;
	else if (strcmp(name, "json") == 0)
		format = ACCESSLOG_JSON;
	else if (strcmp(name, "off") == 0)
		format = ACCESSLOG_OFF;
	else
		return -1;
	return 0;
}

/* UTC with milliseconds: 2026-11-26T12:00:00.123Z. */
static void
timestamp(char *out, size_t size)
{
	struct timespec ts;
	struct tm tm;
	char sec[32];

	if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || gmtime_r(&ts.tv_sec, &tm) == NULL ||
	    strftime(sec, sizeof(sec), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
		snprintf(out, size, "-");
		return;
	}
	snprintf(out, size, "%s.%03ldZ", sec, ts.tv_nsec / 1000000);
}

/* Request bytes are not trusted: in the text format, anything but visible ASCII (and the quote
 * and backslash) is written as \xHH, so a path can neither break a line nor fake a field. */
static int
put_safe(struct buf *out, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		int rc = c > ' ' && c <= '~' && c != '"' && c != '\\' ? buf_append(out, &c, 1) :
		    buf_printf(out, "\\x%02x", c);

		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
text_line(struct buf *out, const struct access_entry *e, const char *when)
{
	const char *method = e->method != NULL ? e->method : "-";

	if (buf_printf(out, "%s %s ", when, e->request_id) != 0 ||
	    put_safe(out, method, strlen(method)) != 0 || buf_puts(out, " ") != 0 ||
	    (e->path != NULL ? put_safe(out, e->path, e->path_len) : buf_puts(out, "-")) != 0 ||
	    buf_printf(out, " %d %.1fms", e->status, e->total_us / 1000.0) != 0)
		return -1;
	for (size_t i = 0; i < outcomes_count(e->calls); i++) {
		const struct outcome *c = outcomes_get(e->calls, i);

		if (buf_printf(out, " %s=%s", c->backend->name, fetch_kind_name(c->kind)) != 0 ||
		    (c->status > 0 && buf_printf(out, "/%ld", c->status) != 0) ||
		    (c->duration_us >= 0 && buf_printf(out, ":%.1fms", c->duration_us / 1000.0) != 0))
			return -1;
	}
	return buf_puts(out, "\n");
}

/* Milliseconds, rounded to a tenth as in the text format. */
static double
ms_of(int64_t us)
{
	return (double)((us + 50) / 100) / 10.0;
}

/* A JSON string of bytes that may not be UTF-8: those bytes become U+FFFD. */
static json_t *
json_bytes(const char *s, size_t len)
{
	json_t *v = json_stringn(s, len);
	struct buf clean = BUF_INIT;

	if (v != NULL)
		return v;
	for (size_t i = 0; i < len; i++)
		if (((unsigned char)s[i] < 0x80 ? buf_append(&clean, &s[i], 1) :
		    buf_puts(&clean, "\xef\xbf\xbd")) != 0)
			break;
	v = json_stringn(clean.data != NULL ? clean.data : "", clean.len);
	buf_free(&clean);
	return v;
}

static int
json_line(struct buf *out, const struct access_entry *e, const char *when)
{
	json_t *calls = json_array();
	json_t *doc = json_pack("{s:s,s:s,s:o,s:o,s:i,s:f,s:o}", "time", when, "request_id",
	    e->request_id, "method", json_bytes(e->method ? e->method : "-",
	    e->method ? strlen(e->method) : 1), "path", json_bytes(e->path ? e->path : "-",
	    e->path ? e->path_len : 1), "status", e->status, "ms", ms_of(e->total_us),
	    "backends", calls);
	char *text;
	int rc = -1;

	for (size_t i = 0; doc != NULL && i < outcomes_count(e->calls); i++) {
		const struct outcome *c = outcomes_get(e->calls, i);
		json_t *o = json_pack("{s:s,s:s}", "name", c->backend->name, "outcome",
		    fetch_kind_name(c->kind));

		if (o == NULL || (c->status > 0 && json_object_set_new(o, "status",
		    json_integer(c->status)) != 0) || (c->duration_us >= 0 &&
		    json_object_set_new(o, "ms", json_real(ms_of(c->duration_us))) != 0) ||
		    json_array_append_new(calls, o) != 0) {
			json_decref(o);
			json_decref(doc);
			return -1;
		}
	}
	if (doc != NULL && (text = json_dumps(doc, JSON_COMPACT |
	    JSON_REAL_PRECISION(12))) != NULL) {
		rc = buf_puts(out, text) == 0 && buf_puts(out, "\n") == 0 ? 0 : -1;
		free(text);
	}
	json_decref(doc);
	return rc;
}

void
accesslog_write(const struct access_entry *e)
{
	struct buf line = BUF_INIT;
	char when[48];
	size_t done = 0;

	if (format == ACCESSLOG_OFF)
		return;
	timestamp(when, sizeof(when));
	if ((format == ACCESSLOG_JSON ? json_line(&line, e, when) : text_line(&line, e, when)) == 0)
		while (done < line.len) {
			ssize_t n = write(STDERR_FILENO, line.data + done, line.len - done);

			if (n <= 0)
				break;	/* nowhere to report it: stderr itself failed */
			done += (size_t)n;
		}
	buf_free(&line);
}
