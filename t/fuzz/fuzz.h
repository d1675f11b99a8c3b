/* fuzz.h - what the libFuzzer targets share: the entry points and a fixed config. */
#ifndef T_FUZZ_FUZZ_H
#define T_FUZZ_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/config/config.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The config a target works against; aborts if it does not load (a bug of the target). */
static inline struct cfg *
fuzz_config(const char *text)
{
	struct buf err = BUF_INIT;
	struct cfg *cfg = NULL;

	if (cfg_load_string(text, strlen(text), "fuzz", &cfg, &err) != 0)
		abort();
	return cfg;
}

#endif
