/* buf.c - a growable byte buffer, always NUL-terminated. */
#include "common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for `more` bytes plus the terminating NUL. */
static int
buf_reserve(struct buf *b, size_t more)
{
	size_t need, cap;
	char *grown;

	if (more > (size_t)-1 / 2 - b->len)
		return -1;
	need = b->len + more + 1;
	if (need <= b->cap)
		return 0;
	for (cap = b->cap ? b->cap : 64; cap < need; cap *= 2)
		;
	if ((grown = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = grown;
	b->cap = cap;
	return 0;
}

int
buf_append(struct buf *b, const void *data, size_t len)
{
	if (buf_reserve(b, len) != 0)
		return -1;
	if (len > 0)
		memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list again;
	int n;

	va_copy(again, ap);
	n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	if (n < 0 || buf_reserve(b, (size_t)n) != 0)
		return -1;
	(void)vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *
buf_str(const struct buf *b)
{
	return b->data != NULL ? b->data : "";
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (b->data != NULL && len < b->len) {
		b->len = len;
		b->data[len] = '\0';
	}
}

char *
buf_take(struct buf *b)
{
	char *data = b->data;

	*b = (struct buf)BUF_INIT;
	return data;
}

void
buf_free(struct buf *b)
{
	free(b->data);
	*b = (struct buf)BUF_INIT;
}
