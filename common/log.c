/* log.c - diagnostics on stderr, one line each, which nginx, Apache and systemd collect. */
#include "common/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"

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

bool
log_limit_due(struct log_limit *l, unsigned long *left_out)
{
	int64_t now = clock_now_us();
	bool due;

	pthread_mutex_lock(&l->mu);
	due = !l->logged || now - l->logged_us >= l->period_us;
	*left_out = 0;
	if (due) {
		*left_out = l->unlogged;
		l->unlogged = 0;
		l->logged = true;
		l->logged_us = now;
	} else
		l->unlogged++;
	pthread_mutex_unlock(&l->mu);
	return due;
}
