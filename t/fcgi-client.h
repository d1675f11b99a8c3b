/* fcgi-client.h - a raw FastCGI client for the tests: records written by hand, as a broken or
 * hostile peer would send them, and answers read with a deadline. */
#ifndef T_FCGI_CLIENT_H
#define T_FCGI_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "common/buf.h"

/* A connection to 127.0.0.1:port or to the Unix socket at path; -1 on error. */
int connect_tcp(int port);
int connect_unix(const char *path);

/* A listening socket, close-on-exec (to hand over on fd 0): TCP on a free loopback port written
 * to *port (path NULL), or Unix at path. -1 on error. */
int fcgi_listen(const char *path, int *port);

/* One record of request 1, of `type` (FCGI_*), with its content. */
bool put_record(int fd, int type, const unsigned char *content, size_t len);

/* BEGIN_REQUEST: responder, keep the connection. */
bool put_begin(int fd);

/* BEGIN_REQUEST and the parameters of a GET of uri, without the record that ends them. */
bool put_params(int fd, const char *uri);

/* A GET of uri, whole: BEGIN_REQUEST, the parameters and their end, the empty body. */
bool put_request(int fd, const char *uri);

/* Reads records up to END_REQUEST, the STDOUT ones appended to out; false on EOF, error or
 * timeout_ms. */
bool read_answer(int fd, int timeout_ms, struct buf *out);

/* Waits until the peer has closed each of the n connections; each is closed here as soon as it
 * is (libfcgi's close waits for ours) and set to -1. False after timeout_ms. */
bool await_closed(int *fds, size_t n, int timeout_ms);

/* Closes those of the n connections still open. */
void close_all(int *fds, size_t n);

#endif
