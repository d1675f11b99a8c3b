/* solo.h - fanout-cgi alone on a Unix socket in a directory of its own, started and watched
 * with every wait bounded; t/fcgi-client.h talks to it directly. */
#ifndef T_SOLO_H
#define T_SOLO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "t/integ.h"

/* fanout-cgi alone: its directory holds its config (health check at /healthz), its stderr
 * files and its socket. */
struct solo {
	char dir[64];
	char sock[INTEG_PATH_LEN];	/* DIR/fanout.sock */
};

/* Makes the directory and the config; false on error. */
bool solo_init(struct solo *s);

/* Starts fanout-cgi -c DIR/fanout.json --listen DIR/fanout.sock, then the server under test and
 * args (NULL-terminated, or NULL) as integ_cgi_args gives them; its stderr goes to
 * DIR/err_name. Returns the pid, or -1. Does not wait. */
pid_t solo_spawn(const struct solo *s, const char *const *args, const char *err_name);

/* Waits up to timeout_ms for pid to answer its health check with 200; false if it did not, or
 * exited first (it is not reaped: stop or reap it still). */
bool solo_ready(const struct solo *s, pid_t pid, int timeout_ms);

/* Waits up to timeout_ms for pid to end, and reaps it. False if it still runs; else *status is
 * its wait status. */
bool solo_reaped(pid_t pid, int timeout_ms, int *status);

/* How a process ended, from its wait status, as text ("exit 1", "signal 6 (Aborted)"). */
const char *solo_describe(int status, char *out, size_t size);

/* True if the file DIR/name holds text. */
bool solo_file_has(const struct solo *s, const char *name, const char *text);

/* Removes the directory, or with keep set leaves it and says where it is (a failed case's
 * files). */
void solo_cleanup(const struct solo *s, bool keep);

#endif
