/* fuzz-jptr.c - libFuzzer target: the JSON Pointer walker and the JSON scanner, checked against
 * jansson. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/jptr.h"
#include "common/jsonscan.h"
#include "t/fuzz/fuzz.h"

/* The oracle: the value at ptr (a valid pointer) in jansson's tree, or NULL. */
static json_t *
oracle_get(json_t *cur, const char *ptr)
{
	struct buf tok = BUF_INIT;

	while (cur != NULL && *ptr++ == '/') {
		char *end;
		long long i;

		for (buf_truncate(&tok, 0); *ptr != '\0' && *ptr != '/'; ptr++) {
			char c = *ptr != '~' ? *ptr : *++ptr == '0' ? '~' : '/';

			if (buf_append(&tok, &c, 1) != 0)
				abort();
		}
		if (json_is_object(cur))
			cur = json_object_getn(cur, buf_str(&tok), tok.len);
		else if (json_is_array(cur) && tok.len > 0 && tok.data[0] >= '0' &&
		    tok.data[0] <= '9' && (tok.len == 1 || tok.data[0] != '0') &&
		    (i = strtoll(buf_str(&tok), &end, 10)) >= 0 && *end == '\0')
			cur = json_array_get(cur, (size_t)i);
		else
			cur = NULL;
	}
	buf_free(&tok);
	return cur;
}

/* Whether the walker's value v is the one jansson found. Numbers by value: jansson converts
 * them with strtod (or to an integer, which converts to the same nearest double). */
static bool
same_value(const struct jptr_value *v, json_t *jv)
{
	struct buf text = BUF_INIT;
	size_t end;
	bool same;

	switch (v->type) {
	case JPTR_STRING:
		same = jsonscan_unquote(&text, v->text, v->len, &end) == JSONSCAN_OK &&
		    end == v->len && json_is_string(jv) && text.len == json_string_length(jv) &&
		    (text.len == 0 || memcmp(text.data, json_string_value(jv), text.len) == 0);
		break;
	case JPTR_NUMBER:
		same = buf_append(&text, v->text, v->len) == 0 && json_is_number(jv) &&
		    strtod(buf_str(&text), NULL) == json_number_value(jv);
		break;
	case JPTR_TRUE:
		same = json_is_true(jv);
		break;
	case JPTR_FALSE:
		same = json_is_false(jv);
		break;
	case JPTR_NULL:
		same = json_is_null(jv);
		break;
	case JPTR_ARRAY:
		same = json_is_array(jv);
		break;
	default:
		same = json_is_object(jv);
		break;
	}
	buf_free(&text);
	return same;
}

/* What the scanner accepts and jansson refuses: only what jansson cannot hold (numbers beyond
 * int64 or double, NUL in a key) or chooses not to here (duplicate keys, which the oracle needs
 * unique since jansson keeps the last and the walker the first). */
static bool
beyond_jansson(const json_error_t *je)
{
	enum json_error_code code = json_error_code(je);

	return code == json_error_numeric_overflow || code == json_error_null_byte_in_key ||
	    code == json_error_duplicate_key;
}

/* Input: the pointer, a NUL byte, then the JSON document. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *ptr = (const char *)data;
	size_t plen = strnlen(ptr, size);
	const char *doc = plen < size ? ptr + plen + 1 : "";
	size_t dlen = plen < size ? size - plen - 1 : 0;
	struct buf p = BUF_INIT, err = BUF_INIT;
	struct jptr_value v;
	enum jptr_rc rc;
	json_error_t je;
	json_t *root;
	bool valid;

	if (buf_append(&p, ptr, plen) != 0)
		abort();
	rc = jptr_find(doc, dlen, buf_str(&p), &v);
	if (rc == JPTR_FOUND && (v.len == 0 || v.text < doc || v.text + v.len > doc + dlen))
		__builtin_trap();	/* a value is a non-empty span of the document */
	if ((rc == JPTR_BAD_POINTER) != !jptr_valid(buf_str(&p)))
		__builtin_trap();
	valid = jsonscan_valid(doc, dlen, JSONSCAN_MAX_DEPTH, &err);
	if (valid && rc == JPTR_BAD_DOCUMENT)
		__builtin_trap();
	root = json_loadb(doc, dlen, JSON_DECODE_ANY | JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, &je);
	/* One definition of JSON: jansson and the scanner agree but where jansson cannot hold
	 * the value. Raw NUL bytes aside: jansson skips one between tokens ({"a":1<NUL>} loads),
	 * where RFC 8259, and the scanner, refuse it (the corpus has it as nul-between-tokens). */
	if (root != NULL && !valid && memchr(doc, '\0', dlen) == NULL)
		__builtin_trap();
	if (root == NULL && valid && !beyond_jansson(&je))
		__builtin_trap();
	/* Where both hold the document, the walker finds what jansson's tree has. */
	if (root != NULL && valid && rc != JPTR_BAD_POINTER) {
		json_t *jv = oracle_get(root, buf_str(&p));

		if ((rc == JPTR_FOUND) != (jv != NULL) || (jv != NULL && !same_value(&v, jv)))
			__builtin_trap();
	}
	json_decref(root);
	buf_free(&p);
	buf_free(&err);
	return 0;
}
