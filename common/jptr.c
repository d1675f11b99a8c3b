/* jptr.c - JSON Pointer (RFC 6901) over the text of a JSON document, read where it lies. */
#include "common/jptr.h"

#include <string.h>

#include "common/buf.h"
#include "common/jsonscan.h"

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

/* A cursor in the document. */
struct walk {
	const char *doc;
	size_t len, at;
	struct buf key;		/* scratch: an object key with escapes, decoded */
};

static void
skip_space(struct walk *w)
{
	while (w->at < w->len && (w->doc[w->at] == ' ' || w->doc[w->at] == '\t' ||
	    w->doc[w->at] == '\n' || w->doc[w->at] == '\r'))
		w->at++;
}

/* Steps over the value at w->at (checked by the scanner) and the white space after it. */
static enum jptr_rc
skip_value(struct walk *w)
{
	size_t n;

	if (!jsonscan_value(w->doc + w->at, w->len - w->at, JSONSCAN_MAX_DEPTH, &n, NULL))
		return JPTR_BAD_DOCUMENT;
	w->at += n;
	skip_space(w);
	return JPTR_FOUND;
}

/* After a member or element: steps over ',' (true) or the closing bracket (false, *rc
 * JPTR_MISSING); anything else leaves *rc JPTR_BAD_DOCUMENT. */
static bool
next_member(struct walk *w, char close, enum jptr_rc *rc)
{
	if (w->at < w->len && w->doc[w->at] == ',') {
		w->at++;
		skip_space(w);
		return true;
	}
	*rc = w->at < w->len && w->doc[w->at] == close ? JPTR_MISSING : JPTR_BAD_DOCUMENT;
	return false;
}

/* Reads the key at w->at into w->key, decoded, and steps past it and the ':' after it. */
static enum jptr_rc
key_read(struct walk *w)
{
	size_t n;

	buf_truncate(&w->key, 0);
	switch (w->at < w->len ? jsonscan_unquote(&w->key, w->doc + w->at, w->len - w->at, &n) :
	    JSONSCAN_INVALID) {
	case JSONSCAN_OK:
		break;
	case JSONSCAN_NO_MEMORY:
		return JPTR_NO_MEMORY;
	default:
		return JPTR_BAD_DOCUMENT;
	}
	w->at += n;
	skip_space(w);
	if (w->at == w->len || w->doc[w->at++] != ':')
		return JPTR_BAD_DOCUMENT;
	skip_space(w);
	return JPTR_FOUND;
}

/* From the object at w->at to the value of its first member named tok. */
static enum jptr_rc
member_find(struct walk *w, const struct buf *tok)
{
	enum jptr_rc rc = JPTR_MISSING;

	w->at++;
	skip_space(w);
	if (w->at < w->len && w->doc[w->at] == '}')
		return JPTR_MISSING;
	do {
		if ((rc = key_read(w)) != JPTR_FOUND)
			return rc;
		if (w->key.len == tok->len && (tok->len == 0 ||
		    memcmp(w->key.data, tok->data, tok->len) == 0))
			return JPTR_FOUND;
		if ((rc = skip_value(w)) != JPTR_FOUND)
			return rc;
	} while (next_member(w, '}', &rc));
	return rc;
}

/* From the array at w->at to its element tok (an index). */
static enum jptr_rc
element_find(struct walk *w, const struct buf *tok)
{
	long long i = token_index(tok);
	enum jptr_rc rc = JPTR_MISSING;

	w->at++;
	skip_space(w);
	if (i < 0 || (w->at < w->len && w->doc[w->at] == ']'))
		return JPTR_MISSING;
	do {
		if (i-- == 0)
			return JPTR_FOUND;
		if ((rc = skip_value(w)) != JPTR_FOUND)
			return rc;
	} while (next_member(w, ']', &rc));
	return rc;
}

/* The type of the value starting with c. */
static enum jptr_type
type_of(char c)
{
	switch (c) {
	case '"':
		return JPTR_STRING;
	case 't':
		return JPTR_TRUE;
	case 'f':
		return JPTR_FALSE;
	case 'n':
		return JPTR_NULL;
	case '[':
		return JPTR_ARRAY;
	case '{':
		return JPTR_OBJECT;
	default:
		return JPTR_NUMBER;
	}
}

enum jptr_rc
jptr_find(const char *doc, size_t len, const char *ptr, struct jptr_value *out)
{
	struct walk w = { doc, len, 0, BUF_INIT };
	struct buf tok = BUF_INIT;
	enum jptr_rc rc = JPTR_FOUND;
	size_t n;

	if (!jptr_valid(ptr))
		return JPTR_BAD_POINTER;
	skip_space(&w);
	while (rc == JPTR_FOUND && *ptr == '/') {
		ptr++;
		if (token_next(&ptr, &tok) != 0)
			rc = JPTR_NO_MEMORY;
		else if (w.at < w.len && w.doc[w.at] == '{')
			rc = member_find(&w, &tok);
		else if (w.at < w.len && w.doc[w.at] == '[')
			rc = element_find(&w, &tok);
		else	/* a scalar has no members, but it must be one */
			rc = skip_value(&w) == JPTR_FOUND ? JPTR_MISSING : JPTR_BAD_DOCUMENT;
	}
	/* The value itself: the scanner checks it and says where it ends. */
	if (rc == JPTR_FOUND) {
		if (jsonscan_value(doc + w.at, len - w.at, JSONSCAN_MAX_DEPTH, &n, NULL))
			*out = (struct jptr_value){ type_of(doc[w.at]), doc + w.at, n };
		else
			rc = JPTR_BAD_DOCUMENT;
	}
	buf_free(&tok);
	buf_free(&w.key);
	return rc;
}
