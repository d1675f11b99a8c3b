/* jptr.h - JSON Pointer (RFC 6901) over the text of a JSON document, read where it lies. */
#ifndef COMMON_JPTR_H
#define COMMON_JPTR_H

#include <stdbool.h>
#include <stddef.h>

/* True if `ptr` is a well-formed pointer: "" or "/"-separated tokens where '~' is only
 * followed by '0' or '1'. */
bool jptr_valid(const char *ptr);

enum jptr_type {
	JPTR_STRING,
	JPTR_NUMBER,
	JPTR_TRUE,
	JPTR_FALSE,
	JPTR_NULL,
	JPTR_ARRAY,
	JPTR_OBJECT,
};

/* A value inside a document: its own text there, as the document spells it (a string with its
 * quotes and escapes: jsonscan_unquote() decodes it; a number digit for digit). */
struct jptr_value {
	enum jptr_type type;
	const char *text;
	size_t len;
};

enum jptr_rc {
	JPTR_FOUND,
	JPTR_MISSING,		/* the pointer points to nothing in this document */
	JPTR_BAD_POINTER,	/* not jptr_valid() */
	JPTR_BAD_DOCUMENT,	/* the walk met text that is not JSON */
	JPTR_NO_MEMORY,
};

/*
 * Finds the value `ptr` points to in the JSON text doc[0..len), which should be one that
 * jsonscan_valid() accepts: every byte the walk reads is checked by the scanner, so a broken
 * document gives JPTR_BAD_DOCUMENT where the walk meets the fault, never a read past it. Array
 * indices are decimal without leading zeros; "-" points to nothing. Of an object's members with
 * the same name (RFC 8259 leaves their meaning open) the first counts. The walk stops at the
 * value: it reads each byte before it at most once, and none after it.
 */
enum jptr_rc jptr_find(const char *doc, size_t len, const char *ptr, struct jptr_value *out);

#endif
