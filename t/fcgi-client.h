/* fcgi-client.h - a raw FastCGI client for the tests: records written by hand, well-formed or as
 * a broken or hostile peer would send them, and answers read with a deadline. */
#ifndef T_FCGI_CLIENT_H
#define T_FCGI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "cgi/serve/event/fcgi.h"	/* the record types and constants, as the program's codec names them */
#include "common/buf.h"

/* How much of a GET a client sends: a stalled one stops before the end. */
enum fcgi_get_upto {
	FCGI_GET_BEGIN,		/* BEGIN_REQUEST only */
	FCGI_GET_PARAMS,	/* and the PARAMS record, the params not ended */
	FCGI_GET_WHOLE,		/* and the params' end and the empty STDIN */
};

/* Appends one record (header, content and `padding` zero bytes, at most 255) to out; false
 * when out of memory or when the content is longer than a record holds (65535 bytes). */
bool fcgi_record(struct buf *out, enum fcgi_rec_type type, unsigned request_id, const void *content,
    size_t len, size_t padding);

/* Appends one name-value pair, each length encoded as FastCGI does (one byte below 128, four
 * above); false when out of memory. */
bool fcgi_pair(struct buf *out, const char *name, const char *value);

/* Appends the BEGIN_REQUEST of request_id, role responder; with keep_conn the server keeps the
 * connection after its answer (FCGI_KEEP_CONN, as web servers ask), else it closes it. False
 * when out of memory. */
bool fcgi_begin(struct buf *out, unsigned request_id, bool keep_conn);

/* Appends the records of a GET of uri as request 1 (REQUEST_METHOD, REQUEST_URI), up to
 * `upto`; uri is not read for FCGI_GET_BEGIN. False when out of memory. */
bool fcgi_build_get(struct buf *out, const char *uri, bool keep_conn, enum fcgi_get_upto upto);

/* The same as request request_id. */
bool fcgi_build_get_id(struct buf *out, unsigned request_id, const char *uri, bool keep_conn,
    enum fcgi_get_upto upto);

/* A connection to 127.0.0.1:port, or to the Unix socket at path (-1 also when path is too long
 * for a socket address); -1 on error. Close-on-exec. */
int fcgi_connect_tcp(int port);
int fcgi_connect_unix(const char *path);

/* A listening socket, close-on-exec (to hand over on fd 0): TCP on a free loopback port written
 * to *port (path NULL), or Unix at path. -1 on error. */
int fcgi_listen(const char *path, int *port);

/* Sends all of data within timeout_ms, never raising SIGPIPE; false on error or timeout. */
bool fcgi_send(int fd, const void *data, size_t len, int timeout_ms);

/* The same, but returns how many bytes went before the end, an error or the timeout (a peer
 * that stops reading). */
size_t fcgi_send_some(int fd, const void *data, size_t len, int timeout_ms);

/* Builds the records of fcgi_build_get and sends them within timeout_ms; false if either
 * fails. */
bool fcgi_send_get(int fd, const char *uri, bool keep_conn, enum fcgi_get_upto upto,
    int timeout_ms);

/* Reads records up to FCGI_END_REQUEST, the FCGI_STDOUT ones appended to out; false if the
 * connection ended first, a record was malformed, memory ran out, or timeout_ms passed. What
 * was read past END_REQUEST, or before a failure, is dropped. */
bool fcgi_read_answer(int fd, int timeout_ms, struct buf *out);

/* The status of a CGI answer (what its STDOUT records carry): its "Status: NNN" line, 200
 * without one, -1 if malformed. */
int fcgi_answer_status(const char *answer);

/* The answers of up to FCGI_IDS_MAX requests on one connection, as fcgi_read_ends reads them. */
#define FCGI_IDS_MAX 4
struct fcgi_ends {
	size_t n;				/* the requests awaited: ids[0 .. n - 1] */
	unsigned ids[FCGI_IDS_MAX];
	int protocol_status[FCGI_IDS_MAX];	/* of each one's END_REQUEST; -1 until it came */
	unsigned app_status[FCGI_IDS_MAX];
	struct buf out[FCGI_IDS_MAX];		/* each one's STDOUT */
	unsigned strays;			/* records of no awaited request, or after its end */
};

/* Sets e up to await the n requests of ids (n at most FCGI_IDS_MAX). */
void fcgi_ends_init(struct fcgi_ends *e, const unsigned *ids, size_t n);
void fcgi_ends_free(struct fcgi_ends *e);

/* Reads records until each awaited request's END_REQUEST came; false if the connection ended
 * first, a record was malformed, memory ran out, or timeout_ms passed (e holds what came). */
bool fcgi_read_ends(int fd, int timeout_ms, struct fcgi_ends *e);

/* A well-formed GET of uri on a new connection to the Unix socket at path, which the server
 * closes after its answer. Returns the status of the answer's Status: line (200 without one),
 * or -1 when no complete answer came within timeout_ms. */
int fcgi_get(const char *path, const char *uri, int timeout_ms);

/* Waits until the peer has closed each of the n connections (at most FCGI_AWAIT_MAX), reading
 * and dropping what it sends; each is closed here as soon as it is (libfcgi's close waits for
 * ours) and set to -1. False after timeout_ms, on another error, or when n is too large. */
#define FCGI_AWAIT_MAX 16
bool fcgi_await_closed(int *fds, size_t n, int timeout_ms);

/* Closes those of the n connections still open (not -1). */
void fcgi_close_all(int *fds, size_t n);

#endif
