/* evserver.c - the event server: loops that own the FastCGI connections and the backends; their
 * threads, the accepting, and the stop. */
#define _GNU_SOURCE	/* accept4 */
#include "cgi/serve/event/evserver.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgi/serve/accept.h"
#include "cgi/serve/event/evconn.h"
#include "cgi/serve/event/evloop.h"
#include "cgi/request/metrics.h"
#include "cgi/config/site.h"
#include "common/clock.h"
#include "common/log.h"

/* Connections one wake-up accepts before the loop serves its others. */
#define ACCEPT_BATCH 16
/* accept() failing for want of descriptors or memory: the loop stops accepting this long. */
#define ACCEPT_PAUSE_US (100 * 1000)
/* Kept connections at rest closed at once to make room when descriptors run out: room for a
 * burst and its backend connections, not one connection at a time. (At limits.max_connections,
 * one for each new connection.) */
#define SHED_BATCH 8

struct evserver {
	struct acceptor acceptor;	/* the listening socket's checks, and its error log */
	struct evlimits limits;
	struct evloop *loops;
	size_t nloops;
	atomic_bool stopping;		/* accepting has stopped */
	pthread_mutex_t mu;
	pthread_cond_t changed;		/* a loop's thread has ended */
	size_t running;
	atomic_size_t started;		/* loops whose thread runs: those make_room may ask */
	atomic_size_t shed_turn;	/* which loop make_room asks first, in turn */
	bool unix_socket;		/* the listening socket is AF_UNIX */
};

static void accept_ready(void *ctx, uint32_t events);

/* Posted by a loop that found no room: this loop closes its own longest-idle connections (a
 * loop owns its connections), then accepts what waits. */
static void
shed_job_run(void *ctx)
{
	struct evloop *ev = ctx;

	size_t n = atomic_exchange(&ev->shed_wanted, 0);

	if (!ev->closing && evconn_shed_idle(ev, n) > 0)
		accept_ready(ev, 0);
}

/* Asks loop `other` to close n of its kept connections at rest. A request it has not yet
 * taken is raised to n, never lowered: two asks close the larger count, not the later. */
static void
ask_to_shed(struct evloop *other, size_t n)
{
	size_t was = atomic_load(&other->shed_wanted);

	while (was < n && !atomic_compare_exchange_weak(&other->shed_wanted, &was, n))
		;
	if (was == 0)	/* raised from 0: the job is not posted yet */
		loop_post(other->loop, &other->shed_job);
}

/* Out of descriptors, or at limits.max_connections: closes up to n of ev's longest-idle kept
 * connections; with none of them, asks the other loops to close n between them (n / others
 * each, the rest one more each from a loop that changes at each ask), so that one EMFILE closes
 * n connections, not n per loop. True if there is room now. */
static bool
make_room(struct evloop *ev, size_t n)
{
	struct evserver *s = ev->server;
	size_t loops = atomic_load(&s->started), self = (size_t)(ev - s->loops);
	size_t others = self < loops ? loops - 1 : loops, first;

	if (evconn_shed_idle(ev, n) > 0)
		return true;
	if (others == 0)
		return false;
	first = atomic_fetch_add_explicit(&s->shed_turn, 1, memory_order_relaxed);
	for (size_t k = 0; k < others && k < n; k++) {
		size_t m = (first + k) % others;	/* the m-th loop after ev, ev left out */
		size_t i = self < loops ? (self + 1 + m) % loops : m;

		ask_to_shed(&s->loops[i], n / others + (k < n % others));
	}
	return false;
}

/* Stops accepting on ev for ACCEPT_PAUSE_US: every wake-up would fail alike. */
static void
pause_accepting(struct evloop *ev, bool descriptors)
{
	metrics_fastcgi_accept_paused(descriptors);
	loop_io_del(ev->loop, &ev->listen_io);
	if (loop_timer_set(ev->loop, &ev->accept_pause, clock_now_us() + ACCEPT_PAUSE_US))
		log_msg("error", "a loop can no longer accept connections: out of memory");
}

static void
accept_resume(void *ctx)
{
	struct evloop *ev = ctx;

	if (!atomic_load(&ev->server->stopping) && loop_io_add(ev->loop, &ev->listen_io,
	    ev->server->acceptor.listen_fd, EPOLLIN | EPOLLEXCLUSIVE, accept_ready, ev) != 0 &&
	    loop_timer_set(ev->loop, &ev->accept_pause, clock_now_us() + ACCEPT_PAUSE_US) != 0)
		log_msg("error", "a loop can no longer accept connections: out of memory");
}

/* The new connection's options: no Nagle delay on TCP (answers go out whole). */
static int
connection_setup(const struct evloop *ev, int fd)
{
	int one = 1;

	if (ev->server->acceptor.tcp &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		return -1;
	return 0;
}

/* Takes a place among limits.max_connections for a connection about to be accepted (the loops
 * accept at once: each takes its place before its accept); false at the limit. */
static bool
conn_place_take(struct evlimits *lim)
{
	size_t n = atomic_load(&lim->conns);

	do {
		if (n >= lim->max_conns)
			return false;
	} while (!atomic_compare_exchange_weak(&lim->conns, &n, n + 1));
	return true;
}

/* Whether a connection waits in the listening socket's queue. */
static bool
connection_waits(int listen_fd)
{
	struct pollfd p = { .fd = listen_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

static void
accept_ready(void *ctx, uint32_t events)
{
	struct evloop *ev = ctx;
	struct acceptor *a = &ev->server->acceptor;
	struct evlimits *lim = &ev->server->limits;

	(void)events;
	if (atomic_load(&ev->server->stopping)) {
		loop_io_del(ev->loop, &ev->listen_io);	/* the listening socket is shut down */
		return;
	}
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd, err;

		/* At the limit, room is made for a connection that waits, not for one that may
		 * come. */
		if (!conn_place_take(lim)) {
			if (!connection_waits(a->listen_fd))
				return;
			if (!make_room(ev, 1)) {
				pause_accepting(ev, false);
				return;
			}
			continue;
		}
		fd = accept4(a->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0 && connection_setup(ev, fd) == 0) {
			evconn_open(ev, fd);	/* the place is the connection's */
			continue;
		}
		atomic_fetch_sub(&lim->conns, 1);
		if (fd >= 0) {
			acceptor_log_error(a, "setting a FastCGI connection's options", errno);
			close(fd);
			continue;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		if (acceptor_transient(errno))
			continue;
		err = errno;
		acceptor_log_error(a, "accepting a FastCGI connection", err);
		/* Out of descriptors: idle kept connections make room (waiting for their idle
		 * timeout, a new connection waited seconds); else, or out of memory, pause. */
		if ((err == EMFILE || err == ENFILE) && make_room(ev, SHED_BATCH))
			continue;
		pause_accepting(ev, err == EMFILE || err == ENFILE);
		return;
	}
}

/* Posted by the main thread as a stop begins: the connections at rest close now, the others
 * right after the answer to the request they carry, so that a kept connection takes no new
 * request (the web server sends it on a new connection, elsewhere); the loop ends once every
 * request read is answered. */
static void
loop_close_job(void *ctx)
{
	struct evloop *ev = ctx;

	ev->closing = true;
	loop_io_del(ev->loop, &ev->listen_io);
	loop_timer_stop(ev->loop, &ev->accept_pause);
	evconn_close_all(ev);
	evloop_check_done(ev);
}

static void *
loop_main(void *arg)
{
	struct evloop *ev = arg;
	struct evserver *s = ev->server;

	if (loop_run(ev->loop) != 0)
		log_msg("error", "an event loop failed: %s", strerror(errno));
	loop_io_del(ev->loop, &ev->listen_io);
	evbackend_destroy(&ev->backends);
	metrics_request_threads(-1);
	pthread_mutex_lock(&s->mu);
	s->running--;
	pthread_cond_broadcast(&s->changed);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* Makes loop i; -1 if it cannot be. */
static int
loop_make(struct evserver *s, size_t i, const struct server_opts *o)
{
	struct evloop *ev = &s->loops[i];

	*ev = (struct evloop){ .server = s, .idle_timeout_us = o->idle_timeout_s * 1000000LL,
		.limits = &s->limits, .unix_peers = s->unix_socket };
	ev->close_job = (struct loop_job){ .fn = loop_close_job, .ctx = ev };
	ev->shed_job = (struct loop_job){ .fn = shed_job_run, .ctx = ev };
	atomic_init(&ev->shed_wanted, 0);
	if ((ev->loop = loop_new()) == NULL)
		return -1;
	loop_timer_init(&ev->accept_pause, accept_resume, ev);
	if (evbackend_init(&ev->backends, ev->loop) != 0) {
		loop_free(ev->loop);
		return -1;
	}
	if (loop_io_add(ev->loop, &ev->listen_io, s->acceptor.listen_fd,
	    EPOLLIN | EPOLLEXCLUSIVE, accept_ready, ev) != 0) {
		evbackend_destroy(&ev->backends);
		loop_free(ev->loop);
		return -1;
	}
	return 0;
}

/* Makes and starts the loops; how many run. */
static size_t
loops_start(struct evserver *s, const struct server_opts *o)
{
	size_t made = 0;

	for (; made < o->loops; made++) {
		if (loop_make(s, made, o) != 0)
			break;
		pthread_mutex_lock(&s->mu);
		s->running++;
		pthread_mutex_unlock(&s->mu);
		metrics_request_threads(1);
		if (pthread_create(&s->loops[made].thread, NULL, loop_main, &s->loops[made]) != 0) {
			metrics_request_threads(-1);
			pthread_mutex_lock(&s->mu);
			s->running--;
			pthread_mutex_unlock(&s->mu);
			loop_io_del(s->loops[made].loop, &s->loops[made].listen_io);
			evbackend_destroy(&s->loops[made].backends);
			loop_free(s->loops[made].loop);
			break;
		}
		atomic_store(&s->started, made + 1);
	}
	s->nloops = made;
	return made;
}

/*
 * The stop: accept no more (connections not yet accepted are refused), close the kept
 * connections between requests, answer every request read, and end the loops. Waiting for no
 * request in flight before closing anything would never end under steady load: kept
 * connections keep bringing requests. All within grace_ms; returns how many loops still run
 * then.
 */
static size_t
loops_stop(struct evserver *s, long grace_ms)
{
	struct timespec until = clock_timespec(clock_now_us() + grace_ms * 1000);
	size_t left;

	atomic_store(&s->stopping, true);
	(void)shutdown(s->acceptor.listen_fd, SHUT_RDWR);
	for (size_t i = 0; i < s->nloops; i++)
		loop_post(s->loops[i].loop, &s->loops[i].close_job);
	pthread_mutex_lock(&s->mu);
	while (s->running > 0 && pthread_cond_timedwait(&s->changed, &s->mu, &until) == 0)
		;
	left = s->running;
	pthread_mutex_unlock(&s->mu);
	return left;
}

static int
server_setup(struct evserver *s, int listen_fd, const struct server_opts *o)
{
	int flags = fcntl(listen_fd, F_GETFL);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	*s = (struct evserver){ .nloops = 0 };
	s->unix_socket = getsockname(listen_fd, (struct sockaddr *)&ss, &len) == 0 &&
	    ss.ss_family == AF_UNIX;
	atomic_init(&s->stopping, false);
	atomic_init(&s->started, 0);
	atomic_init(&s->shed_turn, 0);
	s->limits.max_conns = o->max_connections > 0 ? o->max_connections :
	    EVSERVER_MAX_CONNECTIONS;
	s->limits.max_pending = (o->max_pending_output_mb > 0 ? o->max_pending_output_mb :
	    EVSERVER_PENDING_OUTPUT_MB) * 1024 * 1024;
	atomic_init(&s->limits.conns, 0);
	atomic_init(&s->limits.pending, 0);
	if (flags < 0 || fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK) != 0 ||
	    acceptor_init(&s->acceptor, listen_fd, o->idle_timeout_s) != 0)
		return -1;
	if ((s->loops = calloc(o->loops, sizeof(*s->loops))) == NULL ||
	    clock_lock_init(&s->mu, &s->changed) != 0) {
		free(s->loops);
		acceptor_destroy(&s->acceptor);
		return -1;
	}
	return 0;
}

int
evserver_run(int listen_fd, const struct server_opts *o, void (*reload)(void))
{
	struct evserver s;
	size_t started;

	if (server_setup(&s, listen_fd, o) != 0) {
		log_msg("error", "cannot serve: descriptor %d is not a listening socket, or out of "
		    "memory", listen_fd);
		return 1;
	}
	metrics_fastcgi_output_pending_from(&s.limits.pending);
	started = loops_start(&s, o);
	if (!server_started(started, o->loops, "event loops")) {
		metrics_fastcgi_output_pending_from(NULL);
		return 1;
	}
	server_wait_and_drain(reload);
	if (loops_stop(&s, o->grace_ms) > 0) {
		/* Their requests still use the config: nothing may be freed under them. */
		log_msg("warning", "exiting with requests still in progress after the grace");
		_exit(0);
	}
	for (size_t i = 0; i < s.nloops; i++) {
		pthread_join(s.loops[i].thread, NULL);
		loop_free(s.loops[i].loop);
	}
	metrics_fastcgi_output_pending_from(NULL);	/* s goes with this frame */
	free(s.loops);
	pthread_cond_destroy(&s.changed);
	pthread_mutex_destroy(&s.mu);
	acceptor_destroy(&s.acceptor);
	return 0;
}
