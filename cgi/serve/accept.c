/* accept.c - taking FastCGI connections ourselves: each gets its timeouts before it is read,
 * and a failing accept() is survived instead of ending the thread. */
#define _GNU_SOURCE	/* accept4, and the strerror_r that returns a string */
#include "cgi/serve/accept.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define BACKOFF_MIN_MS 10
#define BACKOFF_MAX_MS 1000

int
acceptor_init(struct acceptor *a, int listen_fd, long idle_timeout_s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss), optlen = sizeof(int);
	int listening = 0;

	/* A socket that does not listen (a wrong descriptor inherited on fd 0) would fail every
	 * accept for ever while the process looked healthy: refused at start instead. */
	if (getsockname(listen_fd, (struct sockaddr *)&ss, &len) != 0 ||
	    getsockopt(listen_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 ||
	    !listening)
		return -1;
	*a = (struct acceptor){ .listen_fd = listen_fd,
		.tcp = ss.ss_family == AF_INET || ss.ss_family == AF_INET6,
		.timeout = { .tv_sec = idle_timeout_s } };
	atomic_init(&a->stopping, false);
	if (pthread_mutex_init(&a->log.mu, NULL) != 0)
		return -1;
	a->log.period_us = ACCEPT_LOG_PERIOD_S * 1000000LL;
	if (clock_lock_init(&a->mu, &a->wake) != 0) {
		pthread_mutex_destroy(&a->log.mu);
		return -1;
	}
	return 0;
}

void
acceptor_destroy(struct acceptor *a)
{
	pthread_cond_destroy(&a->wake);
	pthread_mutex_destroy(&a->mu);
	pthread_mutex_destroy(&a->log.mu);
}

/* Errors of the connection being accepted, not of ours (accept(2) on Linux passes on the
 * network errors pending on the new connection): take the next one at once. */
bool
acceptor_transient(int err)
{
	switch (err) {
	case EINTR: case ECONNABORTED: case ECONNRESET: case EPROTO: case ETIMEDOUT:
	case ENETDOWN: case ENETUNREACH: case EHOSTDOWN: case EHOSTUNREACH: case ENONET:
	case ENOPROTOOPT: case EOPNOTSUPP:
		return true;
	default:
		return false;
	}
}

/* Logs an accept error, unless one was logged less than ACCEPT_LOG_PERIOD_S ago: under a
 * descriptor shortage every thread fails every few milliseconds, and the log must stay legible.
 * The next line tells how many were not logged. */
void
acceptor_log_error(struct acceptor *a, const char *what, int err)
{
	unsigned long others;
	char text[128];

	if (!log_limit_due(&a->log, &others))
		return;
	if (others > 0)
		log_msg("error", "%s: %s (and %lu more failures in the last %d s); retrying", what,
		    strerror_r(err, text, sizeof(text)), others, ACCEPT_LOG_PERIOD_S);
	else
		log_msg("error", "%s: %s; retrying, after up to %d ms", what,
		    strerror_r(err, text, sizeof(text)), BACKOFF_MAX_MS);
}

/* Waits *ms (or until acceptor_stop), then doubles *ms up to BACKOFF_MAX_MS. */
static void
back_off(struct acceptor *a, long *ms)
{
	struct timespec until = clock_timespec(clock_now_us() + *ms * 1000);

	pthread_mutex_lock(&a->mu);
	while (!atomic_load(&a->stopping) &&
	    pthread_cond_timedwait(&a->wake, &a->mu, &until) == 0)
		;
	pthread_mutex_unlock(&a->mu);
	*ms = *ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : *ms * 2;
}

/* The connection's read and write timeouts, and no Nagle delay on TCP (answers go out whole). */
static int
connection_setup(const struct acceptor *a, int fd)
{
	int one = 1;

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &a->timeout, sizeof(a->timeout)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &a->timeout, sizeof(a->timeout)) != 0 ||
	    (a->tcp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0))
		return -1;
	return 0;
}

int
acceptor_next(struct acceptor *a)
{
	long backoff_ms = BACKOFF_MIN_MS;

	while (!atomic_load(&a->stopping)) {
		int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC), err = errno;

		if (fd >= 0 && connection_setup(a, fd) == 0)
			return fd;
		if (fd >= 0) {
			err = errno;
			close(fd);
			acceptor_log_error(a, "setting a FastCGI connection's timeouts", err);
		} else if (atomic_load(&a->stopping) || acceptor_transient(err))
			continue;
		else if (err == EAGAIN || err == EWOULDBLOCK) {
			/* A listening socket handed over in non-blocking mode: wait for it. */
			struct pollfd p = { .fd = a->listen_fd, .events = POLLIN };

			(void)poll(&p, 1, BACKOFF_MAX_MS);
			continue;
		} else
			acceptor_log_error(a, "accepting a FastCGI connection", err);
		back_off(a, &backoff_ms);
	}
	return -1;
}

void
acceptor_stop(struct acceptor *a)
{
	pthread_mutex_lock(&a->mu);
	atomic_store(&a->stopping, true);
	pthread_cond_broadcast(&a->wake);
	pthread_mutex_unlock(&a->mu);
	/* Wakes the threads blocked in accept(): on Linux it then fails with EINVAL. */
	(void)shutdown(a->listen_fd, SHUT_RDWR);
}
