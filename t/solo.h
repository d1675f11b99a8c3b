/* solo.h - fanout-cgi alone on a Unix socket in a directory of its own, and a minimal FastCGI
 * client that talks to it directly: records built by hand (well-formed or hostile), every wait
 * bounded. */
#ifndef T_SOLO_H
#define T_SOLO_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "common/buf.h"
#include "t/integ.h"

/* FastCGI record types (the specification's numbers). */
enum fcgi_type {
	FCGI_BEGIN_REQUEST = 1,
	FCGI_END_REQUEST = 3,
	FCGI_PARAMS = 4,
	FCGI_STDIN = 5,
	FCGI_STDOUT = 6,
	FCGI_STDERR = 7,
	FCGI_GET_VALUES = 9,
};

/* Appends one record (header, content and `padding` zero bytes, at most 255) to out; false
 * when out of memory or when the content is longer than a record holds (65535 bytes). */
bool fcgi_record(struct buf *out, enum fcgi_type type, unsigned request_id, const void *content,
    size_t len, size_t padding);

/* Appends one name-value pair, each length encoded as FastCGI does (one byte below 128, four
 * above); false when out of memory. */
bool fcgi_pair(struct buf *out, const char *name, const char *value);

/* Connects to the Unix socket at path; -1 on error. */
int fcgi_connect(const char *path);

/* Sends all of data within timeout_ms; false on error or timeout. */
bool fcgi_send(int fd, const void *data, size_t len, int timeout_ms);

/* Reads and drops what the peer sends until it closes the connection (true) or timeout_ms
 * passed (false). */
bool fcgi_await_close(int fd, int timeout_ms);

/* A well-formed GET of uri (REQUEST_METHOD, REQUEST_URI) on a new connection to path, its
 * answer read until FCGI_END_REQUEST. Returns the status of the answer's Status: line (200
 * without one), or -1 when no complete answer came within timeout_ms. */
int fcgi_get(const char *path, const char *uri, int timeout_ms);

/* fanout-cgi alone: its directory holds its config (health check at /healthz), its stderr
 * files and its socket. */
struct solo {
	char dir[64];
	char sock[INTEG_PATH_LEN];	/* DIR/fanout.sock */
};

/* Makes the directory and the config; false on error. */
bool solo_init(struct solo *s);

/* Starts fanout-cgi -c DIR/fanout.json --listen DIR/fanout.sock, then args (NULL-terminated,
 * or NULL); its stderr goes to DIR/err_name. Returns the pid, or -1. Does not wait. */
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
