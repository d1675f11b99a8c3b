/* fuzz-route.c - libFuzzer target: matching request paths (raw, percent-encoded) to endpoints. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/request/route.h"
#include "t/fuzz/fuzz.h"

static struct cfg *cfg;

static const char config[] =
    "{\"endpoints\": ["
    "{\"path\": \"/api/user/{id}\", \"backends\": [{\"name\": \"a\", \"url\": \"http://h/u/{id}\"}]},"
    "{\"path\": \"/api/user/{id}/orders/{order}\", \"backends\": [{\"name\": \"a\","
    " \"url\": \"http://h/o/{id}/{order}\"}]},"
    "{\"path\": \"/api/static\", \"backends\": [{\"name\": \"a\", \"url\": \"http://h/s\"}]},"
    "{\"path\": \"/{x}\", \"backends\": [{\"name\": \"a\", \"url\": \"http://h/{x}\"}]}]}";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	cfg = fuzz_config(config);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct route_match m;

	switch (route_find(cfg, (const char *)data, size, &m, &err)) {
	case ROUTE_OK:
		/* Every parameter decoded, and none holds what the matcher must refuse. */
		for (size_t i = 0; i < m.nparams; i++)
			if (memchr(m.params[i].value, '\0', m.params[i].len) != NULL ||
			    memchr(m.params[i].value, '\n', m.params[i].len) != NULL ||
			    memchr(m.params[i].value, '\r', m.params[i].len) != NULL)
				__builtin_trap();
		break;
	case ROUTE_BAD_PARAM:
		if (err.len == 0)
			__builtin_trap();
		break;
	default:
		break;
	}
	route_match_free(&m);
	buf_free(&err);
	return 0;
}
