/* fuzz-jptr.c - libFuzzer target: the JSON Pointer walker, and the JSON scanner beside jansson. */
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "common/jptr.h"
#include "common/jsonscan.h"
#include "t/fuzz/fuzz.h"

/* Input: the pointer, a NUL byte, then the JSON document. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t plen = strnlen(text, size);
	const char *doc = plen < size ? text + plen + 1 : "";
	size_t dlen = plen < size ? size - plen - 1 : 0;
	struct buf ptr = BUF_INIT, err = BUF_INIT;
	json_t *root = json_loadb(doc, dlen, JSON_DECODE_ANY, NULL);

	if (buf_append(&ptr, text, plen) == 0) {
		json_t *v = jptr_get(root, buf_str(&ptr));

		if (v != NULL && !jptr_valid(buf_str(&ptr)))
			__builtin_trap();	/* a malformed pointer points to nothing */
	}
	/* What jansson parses, the scanner accepts; only this direction holds (the scanner takes
	 * \u0000, jansson does not). And not for raw NUL bytes: jansson skips one between tokens
	 * ({"a":1<NUL>} loads), where RFC 8259, and the scanner, refuse it (found by this target;
	 * the input is in the corpus as nul-between-tokens). */
	if (root != NULL && memchr(doc, '\0', dlen) == NULL && !jsonscan_valid(doc, dlen, 4096, &err))
		__builtin_trap();
	json_decref(root);
	buf_free(&ptr);
	buf_free(&err);
	return 0;
}
