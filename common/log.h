/* log.h - diagnostics on stderr, one line each, which nginx, Apache and systemd collect. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Sets the program name that starts every line. */
void log_init(const char *program);

/* "PROGRAM: LEVEL: message"; level is "error", "warning" or "info". Thread-safe: one write. */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A rate limit for a line that a flood could repeat (accept() failing for want of descriptors,
 * malformed connections): at most one line per period, the next one telling how many were left
 * out. Thread-safe; one per kind of line, so that one flood does not silence another.
 */
struct log_limit {
	pthread_mutex_t mu;
	int64_t period_us;
	bool logged;		/* a line was logged already, at logged_us */
	int64_t logged_us;
	unsigned long unlogged;	/* lines left out since then */
};
#define LOG_LIMIT_INIT(period_s) { PTHREAD_MUTEX_INITIALIZER, (period_s) * 1000000LL, false, 0, 0 }

/* Whether a line is due now (none in the last period); if so *left_out is the count of those
 * left out since the last one, else the line is counted as left out. */
bool log_limit_due(struct log_limit *l, unsigned long *left_out);

#endif
