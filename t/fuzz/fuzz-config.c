/* fuzz-config.c - libFuzzer target: the config loader, on any bytes. */
#include <stddef.h>
#include <stdint.h>

#include "cgi/config/config.h"
#include "t/fuzz/fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf err = BUF_INIT;
	struct cfg *cfg = NULL;

	/* Either a config or exactly one error line, never both, never neither. */
	if (cfg_load_string((const char *)data, size, "fuzz.json", &cfg, &err) == 0) {
		if (cfg == NULL || err.len != 0)
			__builtin_trap();
	} else if (cfg != NULL || err.len == 0)
		__builtin_trap();
	cfg_unref(cfg);
	buf_free(&err);
	return 0;
}
