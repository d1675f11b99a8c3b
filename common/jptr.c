/* jptr.c - JSON Pointer (RFC 6901) over jansson values. */
#include "common/jptr.h"

#include <string.h>

#include "common/buf.h"

bool
jptr_valid(const char *ptr)
{
	if (*ptr != '\0' && *ptr != '/')
		return false;
	for (; *ptr != '\0'; ptr++)
		if (*ptr == '~' && ptr[1] != '0' && ptr[1] != '1')
			return false;
	return true;
}

/* Decodes the token at *ptr (up to the next '/') into tok and moves *ptr past it. */
static int
token_next(const char **ptr, struct buf *tok)
{
	const char *p = *ptr;

	buf_truncate(tok, 0);
	for (; *p != '\0' && *p != '/'; p++) {
		char c = *p;

		if (c == '~')
			c = *++p == '0' ? '~' : '/';
		if (buf_append(tok, &c, 1) != 0)
			return -1;
	}
	*ptr = p;
	return 0;
}

/* The array index spelled by tok, or -1: decimal, no sign, no leading zero. */
static long long
token_index(const struct buf *tok)
{
	long long n = 0;

	if (tok->len == 0 || (tok->len > 1 && tok->data[0] == '0'))
		return -1;
	for (size_t i = 0; i < tok->len; i++) {
		if (tok->data[i] < '0' || tok->data[i] > '9' || n > 100000000)
			return -1;
		n = n * 10 + (tok->data[i] - '0');
	}
	return n;
}

json_t *
jptr_get(json_t *root, const char *ptr)
{
	struct buf tok = BUF_INIT;
	json_t *cur = root;

	if (!jptr_valid(ptr))
		return NULL;
	while (cur != NULL && *ptr == '/') {
		ptr++;
		if (token_next(&ptr, &tok) != 0)
			cur = NULL;
		else if (json_is_object(cur))
			cur = json_object_getn(cur, buf_str(&tok), tok.len);
		else if (json_is_array(cur)) {
			long long i = token_index(&tok);

			cur = i < 0 ? NULL : json_array_get(cur, (size_t)i);
		} else
			cur = NULL;
	}
	buf_free(&tok);
	return cur;
}
