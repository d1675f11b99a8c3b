/* log.c - diagnostics on stderr, one line each, which nginx, Apache and systemd collect. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const char *program = "fcgi-fanout";

void
log_init(const char *name)
{
	program = name;
}

void
log_msg(const char *level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n = snprintf(line, sizeof(line), "%s: %s: ", program, level);

	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	va_start(ap, fmt);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	n = (int)strlen(line);
	line[n++] = '\n';
	/* One write per line, so lines of different threads never interleave. */
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
