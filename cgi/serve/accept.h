/* accept.h - taking FastCGI connections ourselves: each gets its timeouts before it is read
 * (libfcgi's reads block), and a failing accept() is survived instead of ending the thread.
 * The policy both servers share; libfcgi's side is the threads server's (threads/threads.c). */
#ifndef CGI_ACCEPT_H
#define CGI_ACCEPT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>

#include "common/log.h"

/*
 * libfcgi binds a request thread to a connection and reads it with blocking read()s, with no
 * timeout: a peer that sends nothing, or a BEGIN_REQUEST and then nothing, or never reads its
 * answer, would hold the thread for ever. Every connection therefore gets SO_RCVTIMEO and
 * SO_SNDTIMEO (the idle timeout) as soon as it is accepted. They cannot be set on the listening
 * socket instead: Linux copies them to connections accepted from a TCP socket, but not from a
 * Unix one. And libfcgi's own accept returns -1 on EMFILE, which used to end the thread for good.
 *
 * The fields belong to this module; the server embeds the struct.
 */
struct acceptor {
	int listen_fd;
	bool tcp;			/* TCP_NODELAY on its connections */
	struct timeval timeout;		/* of each connection's reads and writes */
	atomic_bool stopping;
	pthread_mutex_t mu;
	pthread_cond_t wake;		/* ends the back-off waits at acceptor_stop */
	struct log_limit log;		/* of the accept errors */
};

/* Prepares a to accept on listen_fd with reads and writes of idle_timeout_s seconds at most.
 * -1 if listen_fd is not a listening socket or the locks cannot be made. */
int acceptor_init(struct acceptor *a, int listen_fd, long idle_timeout_s);

/* Frees the locks; once every thread has stopped using a. */
void acceptor_destroy(struct acceptor *a);

/*
 * Blocks until a connection comes and returns it, its timeouts set. A failing accept() never
 * ends the call: a connection's own failure (reset before it was taken) is skipped; anything else
 * (EMFILE, ENFILE, ENOBUFS, ...) is logged, at most once per ACCEPT_LOG_PERIOD_S for the whole
 * process with the count of the others, and retried after a back-off that doubles from 10 ms to
 * 1 s. Returns -1 only once acceptor_stop was called.
 */
int acceptor_next(struct acceptor *a);

/* Makes every acceptor_next return -1 at once (also those in a back-off), and stops the
 * listening socket: the connections not yet accepted are refused. */
void acceptor_stop(struct acceptor *a);

#define ACCEPT_LOG_PERIOD_S 10

/* For a server that accepts without acceptor_next (the event server): whether accept()'s error
 * err is the connection's own (take the next one at once), and the rate-limited log line of
 * one that is not. */
bool acceptor_transient(int err);
void acceptor_log_error(struct acceptor *a, const char *what, int err);

#endif
