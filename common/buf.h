/* buf.h - a growable byte buffer, always NUL-terminated. */
#ifndef COMMON_BUF_H
#define COMMON_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char *data;	/* NULL until something is appended; then NUL-terminated */
	size_t len;
	size_t cap;
};

#define BUF_INIT { NULL, 0, 0 }

/* Each returns 0, or -1 when out of memory (the buffer is then unchanged). */
int buf_append(struct buf *b, const void *data, size_t len);
int buf_puts(struct buf *b, const char *s);
int buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* The contents as a string: "" when empty, never NULL. */
const char *buf_str(const struct buf *b);

/* Drops the contents after the first `len` bytes (keeps the memory). */
void buf_truncate(struct buf *b, size_t len);

/* Hands the contents over (caller frees; NULL if empty) and leaves the buffer empty. */
char *buf_take(struct buf *b);

void buf_free(struct buf *b);

#endif
