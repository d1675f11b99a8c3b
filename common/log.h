/* log.h - diagnostics on stderr, one line each, which nginx, Apache and systemd collect. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

/* Sets the program name that starts every line. */
void log_init(const char *program);

/* "PROGRAM: LEVEL: message"; level is "error", "warning" or "info". Thread-safe: one write. */
void log_msg(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
