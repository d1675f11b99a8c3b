/* threads.c - the threads server: libfcgi, a thread per FastCGI connection. */
#include "cgi/serve/threads/threads.h"

#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgi/serve/accept.h"
#include "cgi/request/handler.h"
#include "cgi/request/metrics.h"
#include "cgi/request/multi.h"
#include "cgi/config/site.h"
#include "cgi/serve/serve.h"
#include "cgi/serve/threads/watch.h"
#include "common/clock.h"
#include "common/log.h"

#define THREAD_STACK (512 * 1024)
#define MAX_DRAIN (64 * 1024)

/* The state the request threads share with the main thread. */
struct server {
	struct acceptor acceptor;
	atomic_bool stopping;
	int stop_fd;		/* an eventfd, readable once stopping: wakes the threads that wait for
				 * a request */
	pthread_mutex_t mu;
	pthread_cond_t exited;	/* signalled as each thread ends */
	size_t running;		/* request threads */
	atomic_size_t busy;	/* of those, how many are reading or serving a request */
	atomic_size_t connected; /* how many hold a FastCGI connection */
};

/* What one request thread owns, made before it starts, so that a thread once started cannot
 * fail: the count the log and the metrics give is the true one. */
struct worker {
	struct server *s;
	struct watch_slot *watch;
	FCGX_Request req;
};

/* FCGX_GetParam finds only the first occurrence of a name: the parameters are walked here, from
 * *cursor on, so that a repeated one (nginx passes each header line apart) is seen whole. */
static const char *
fcgi_param(void *ctx, const char *name, size_t *cursor)
{
	struct worker *w = ctx;

	return vars_env_param(w->req.envp, name, cursor);
}

static int
fcgi_write(void *ctx, const char *data, size_t len)
{
	FCGX_Request *req = &((struct worker *)ctx)->req;

	/* libfcgi takes int lengths; responses are far below that, but check anyway. */
	if (len > INT_MAX || FCGX_PutStr(data, (int)len, req->out) != (int)len)
		return -1;
	return 0;
}


/* ---- libfcgi, handed the connections we accept ---- */

/* Initialises req for connections that acceptor_next gives (libfcgi never accepts itself); -1
 * if libfcgi refuses. */
static int
request_init(FCGX_Request *req)
{
	/* No listening socket: when the connection ends, FCGX_Accept_r calls libfcgi's own accept,
	 * which must fail at once (EBADF), so that FCGX_Accept_r returns and the next connection
	 * comes from acceptor_next, with its timeouts, rather than from libfcgi, without them. */
	return FCGX_InitRequest(req, -1, 0) == 0 ? 0 : -1;
}

/* Hands connection fd to libfcgi: the next FCGX_Accept_r(req) reads its first request. When a
 * connection ends, FCGX_Accept_r returns an error and req->ipcFd is -1: attach the next one. */
static void
request_attach(FCGX_Request *req, int fd)
{
	/* libfcgi has no call that hands it a connection. FCGX_Accept_r reads from req->ipcFd when
	 * it is open, and keepConnection keeps the FCGX_Finish_r it starts with from closing it
	 * (the BEGIN_REQUEST record then sets keepConnection as the peer asks). Both fields are in
	 * fcgiapp.h's FCGX_Request, unchanged from libfcgi 2.4.0 to 2.4.7. */
	req->ipcFd = fd;
	req->keepConnection = 1;
}

/* ---- The threads ---- */

/* A thread took a connection (delta 1) or its connection was closed (-1). */
static void
connected_add(struct server *s, int delta)
{
	if (delta > 0)
		atomic_fetch_add(&s->connected, 1);
	else
		atomic_fetch_sub(&s->connected, 1);
	metrics_connections(delta);
}

static void
thread_done(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->running--;
	pthread_cond_signal(&s->exited);
	pthread_mutex_unlock(&s->mu);
	metrics_request_threads(-1);
}

/* Reads what is left of the request's body, up to its end record, before the request is
 * finished: on a kept connection, a record of this request read by the next FCGX_Accept_r would
 * make libfcgi drop the connection. nginx sends the (empty) body with the parameters; Apache's
 * mod_proxy_fcgi sends it apart, and under load it came after the answer (Apache then found the
 * connection closed: "AH01067: Failed to read FastCGI header"). A body larger than MAX_DRAIN
 * (endpoints take none) is not read: the connection is closed instead. */
static void
input_drain(FCGX_Request *req)
{
	char chunk[4096];
	size_t total = 0;
	int n;

	while ((n = FCGX_GetStr(chunk, sizeof(chunk), req->in)) > 0)
		if ((total += (size_t)n) > MAX_DRAIN) {
			req->keepConnection = 0;
			return;
		}
}

/* Closes a kept connection at the stop, if it is open. Not with libfcgi's close, which reads and
 * drops whatever comes until the peer closes: a request sent meanwhile would be read and never
 * answered; unread, it resets the connection, and the web server sends it elsewhere. Shut down
 * first: the watcher's poll may hold the socket open past close() for up to a period, and the
 * web server must see the end now, not send another request meanwhile. */
static void
close_kept(FCGX_Request *req)
{
	if (req->ipcFd < 0)
		return;
	(void)shutdown(req->ipcFd, SHUT_RDWR);
	(void)close(req->ipcFd);
	req->ipcFd = -1;
}

/* Runs the group, cancelled if the web server closes the connection meanwhile. */
static enum fanout_err
run_watched(void *ctx, fanout_group *g)
{
	struct worker *w = ctx;
	enum fanout_err err;

	watch_arm(w->watch, w->req.ipcFd, g);
	err = fanout_group_run(g);
	(void)watch_disarm(w->watch);
	return err;
}

static void
serve_request(struct worker *w)
{
	struct http_io io = { .param = fcgi_param, .write = fcgi_write, .run = run_watched,
		.ctx = w };
	struct cfg *cfg = site_get();	/* the request keeps it, even across a reload */

	handler_serve(cfg, &io);
	cfg_unref(cfg);
	input_drain(&w->req);
	FCGX_Finish_r(&w->req);
	/* Stopping: a kept connection closes right after the answer, before the web server can
	 * send another request on it. */
	if (atomic_load(&w->s->stopping))
		close_kept(&w->req);
}

enum wait {
	WAIT_REQUEST,	/* bytes came: the thread counts as busy until the request ends */
	WAIT_STOP,	/* the server stops and nothing came: the connection is to close */
	WAIT_IDLE,	/* nothing came for the idle timeout */
};

/* Waits for the next request's first bytes on the thread's connection, or the stop. libfcgi's
 * blocking read never sees the stop: a thread in it would take a request sent after the drain
 * began, and the drain, which ended the process once no thread was busy and the others held
 * connections, ended it under a request read in part (cut). Here the stop (stop_fd) closes a
 * connection at rest; bytes that came before are a request like any other, as on the event
 * server, and the drain waits for every thread. */
static enum wait
wait_request(struct worker *w)
{
	time_t idle_s = w->s->acceptor.timeout.tv_sec;
	struct pollfd p[2] = { { .fd = w->req.ipcFd, .events = POLLIN },
		{ .fd = w->s->stop_fd, .events = POLLIN } };
	int n;

	do
		n = poll(p, 2, idle_s > 0 && idle_s < INT_MAX / 1000 ? (int)idle_s * 1000 : -1);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return WAIT_IDLE;
	/* A failed poll (out of memory) leaves the wait to libfcgi's read, as it was. */
	if (n > 0 && p[0].revents == 0)
		return WAIT_STOP;
	atomic_fetch_add(&w->s->busy, 1);
	return WAIT_REQUEST;
}

/* Takes the next connection unless the thread has one (kept alive by the peer). False when the
 * thread is to end: the server stops. */
static bool
have_connection(struct worker *w, bool *open)
{
	int fd;

	if (*open)
		return true;
	if ((fd = acceptor_next(&w->s->acceptor)) < 0)
		return false;
	request_attach(&w->req, fd);
	*open = true;
	connected_add(w->s, 1);
	return true;
}

/* libfcgi closes a connection that ended, failed, timed out or was not to be kept. */
static void
note_closed(struct worker *w, bool *open)
{
	if (*open && w->req.ipcFd < 0) {
		*open = false;
		connected_add(w->s, -1);
	}
}

static void *
request_thread(void *arg)
{
	struct worker *w = arg;
	bool open = false;

	/* With fastcgi_keep_conn, FCGX_Accept_r reads the next request of the same connection. */
	while (have_connection(w, &open)) {
		enum wait got = wait_request(w);
		int rc;

		if (got == WAIT_STOP)
			break;
		if (got == WAIT_IDLE) {
			close_kept(&w->req);
			note_closed(w, &open);
			continue;
		}
		rc = FCGX_Accept_r(&w->req);

		/* libfcgi ends the parameters at a read error (the idle timeout, a reset) as if
		 * they were all there: that request was cut short, and is not served. */
		if (rc == 0 && FCGX_GetError(w->req.in) != 0)
			rc = -1;
		if (rc != 0 && w->req.ipcFd >= 0)
			FCGX_Free(&w->req, 1);
		if (rc == 0)
			serve_request(w);
		note_closed(w, &open);
		atomic_fetch_sub(&w->s->busy, 1);
	}
	close_kept(&w->req);	/* the stop */
	FCGX_Free(&w->req, 0);
	note_closed(w, &open);
	multi_thread_end();
	watch_slot_free(w->watch);
	thread_done(w->s);
	free(w);
	return NULL;
}

/* Waits until every thread has ended, or grace_ms has passed. Threads in accept() or in a
 * back-off leave at once (the acceptor was stopped), and so do those that wait on a kept
 * connection at rest (woken by stop_fd); the others after their request. Returns how many
 * threads still run. */
static size_t
drain(struct server *s, long grace_ms)
{
	struct timespec until = clock_timespec(clock_now_us() + grace_ms * 1000);
	size_t left;

	pthread_mutex_lock(&s->mu);
	while (s->running > 0 && pthread_cond_timedwait(&s->exited, &s->mu, &until) == 0)
		;
	left = s->running;
	pthread_mutex_unlock(&s->mu);
	return left;
}

/* Why threads are still there after the drain, as it is. */
static void
log_left(struct server *s, size_t left)
{
	size_t busy = atomic_load(&s->busy), connected = atomic_load(&s->connected);

	if (busy > 0)
		log_msg("warning", "exiting with %zu requests still in progress after the grace",
		    busy);
	else if (connected > 0)
		log_msg("warning", "exiting with idle keep-alive connections still open: %zu",
		    connected);
	else
		log_msg("warning", "exiting with %zu request threads still ending", left);
}

static int
server_init(struct server *s, int fd, long idle_timeout_s)
{
	*s = (struct server){ .running = 0 };
	atomic_init(&s->stopping, false);
	atomic_init(&s->busy, 0);
	atomic_init(&s->connected, 0);
	if ((s->stop_fd = eventfd(0, EFD_CLOEXEC)) < 0)
		return -1;
	if (acceptor_init(&s->acceptor, fd, idle_timeout_s) != 0) {
		close(s->stop_fd);
		return -1;
	}
	if (clock_lock_init(&s->mu, &s->exited) != 0) {
		acceptor_destroy(&s->acceptor);
		close(s->stop_fd);
		return -1;
	}
	return 0;
}

/* Sets `stopping` and wakes the threads that wait for a request (wait_request). */
static void
server_stop(struct server *s)
{
	uint64_t one = 1;

	atomic_store(&s->stopping, true);
	if (write(s->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		log_msg("error", "cannot wake the threads waiting on kept connections: the stop "
		    "waits the grace for them");
}

/* One thread's own state; NULL if out of memory. */
static struct worker *
worker_new(struct server *s)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL || (w->watch = watch_slot_new()) == NULL ||
	    request_init(&w->req) != 0) {
		if (w != NULL)
			watch_slot_free(w->watch);
		free(w);
		return NULL;
	}
	w->s = s;
	return w;
}

/* Starts the request threads (detached: the drain counts them), fewer if a stop is asked
 * meanwhile. The first threads serve while the others start, and the stop waits for the main
 * thread's sigwait: it must not wait for the start too. Each start is slow where thread
 * creation contends with the threads serving (under ThreadSanitizer, 320 threads under load
 * took 10 to 15 s, while kept connections went on taking requests as if no stop had come). */
static size_t
threads_start(struct server *s, size_t n)
{
	pthread_attr_t attr;
	pthread_t tid;
	size_t started = 0;

	if (pthread_attr_init(&attr) != 0)
		return 0;
	if (pthread_attr_setstacksize(&attr, THREAD_STACK) == 0 &&
	    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED) == 0)
		for (; started < n && !server_stop_pending(); started++) {
			struct worker *w = worker_new(s);

			if (w == NULL)
				break;
			pthread_mutex_lock(&s->mu);
			s->running++;
			pthread_mutex_unlock(&s->mu);
			metrics_request_threads(1);
			if (pthread_create(&tid, &attr, request_thread, w) != 0) {
				watch_slot_free(w->watch);
				free(w);
				thread_done(s);
				break;
			}
		}
	pthread_attr_destroy(&attr);
	return started;
}

int
threads_run(int listen_fd, const struct server_opts *o, void (*reload)(void))
{
	struct server s;
	size_t started, left;

	if (server_init(&s, listen_fd, o->idle_timeout_s) != 0 || watch_start() != 0) {
		log_msg("error", "cannot serve: descriptor %d is not a listening socket, or the "
		    "server's locks and watcher thread cannot be made", listen_fd);
		return 1;
	}
	started = threads_start(&s, o->threads);
	if (started < o->threads && server_stop_pending())
		log_msg("info", "stopped while starting: %zu of %zu threads started", started,
		    o->threads);
	else if (!server_started(started, o->threads, "threads"))
		return 1;
	server_wait_and_drain(reload);
	server_stop(&s);
	acceptor_stop(&s.acceptor);
	if ((left = drain(&s, o->grace_ms)) > 0) {
		/* Threads still there (a request past the grace, or kept connections whose threads
		 * could not be woken) still use the config: nothing may be freed under them, so
		 * the process ends here, which closes those connections. */
		log_left(&s, left);
		_exit(0);
	}
	watch_stop();
	acceptor_destroy(&s.acceptor);
	close(s.stop_fd);
	pthread_cond_destroy(&s.exited);
	pthread_mutex_destroy(&s.mu);
	return 0;
}
