/* fuzz-template.c - libFuzzer target: URL templates, their expansion, and percent-encoding. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cgi/config/template.h"
#include "common/pct.h"
#include "t/fuzz/fuzz.h"

struct values {
	const char *value;
	size_t len;
};

static const char *
lookup(void *ctx, const struct tpl_part *part, size_t *len, struct buf *err)
{
	struct values *v = ctx;

	(void)part, (void)err;
	*len = v->len;
	return v->value;
}

/* An expanded URL keeps the template's scheme and host: no value can move it elsewhere. */
static void
check_host_kept(const char *tmpl, const struct buf *url)
{
	const char *host = strstr(tmpl, "://") + 3;
	size_t prefix = (size_t)(host - tmpl) + strcspn(host, "/?#{");

	if (url->len < prefix || memcmp(url->data, tmpl, prefix) != 0)
		__builtin_trap();
}

/* Input: the template, a NUL byte, then the value every placeholder takes. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t tlen = strnlen(text, size);
	struct buf tmpl = BUF_INIT, url = BUF_INIT, err = BUF_INIT, enc = BUF_INIT, dec = BUF_INIT;
	struct values v = { tlen < size ? text + tlen + 1 : "", tlen < size ? size - tlen - 1 : 0 };
	struct tpl t;

	if (buf_append(&tmpl, text, tlen) == 0 && tpl_parse(&t, buf_str(&tmpl), &err) == 0) {
		if (tpl_expand(&t, lookup, &v, &url, &err) == TPL_EXPANDED)
			check_host_kept(buf_str(&tmpl), &url);
		tpl_free(&t);
	}
	/* Encoding then decoding gives the bytes back. */
	if (pct_encode(&enc, v.value, v.len) == PCT_OK) {
		if (pct_decode(&dec, enc.data != NULL ? enc.data : "", enc.len, false) != PCT_OK ||
		    dec.len != v.len || (v.len > 0 && memcmp(dec.data, v.value, v.len) != 0))
			__builtin_trap();
	}
	buf_truncate(&dec, 0);
	(void)pct_decode(&dec, text, tlen, true);
	buf_free(&tmpl);
	buf_free(&url);
	buf_free(&err);
	buf_free(&enc);
	buf_free(&dec);
	return 0;
}
