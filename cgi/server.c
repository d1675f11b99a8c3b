/* server.c - serving requests: FastCGI on a socket with N threads, or one plain CGI request. */
#include "cgi/server.h"

#include <errno.h>
#include <fcgiapp.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgi/handler.h"
#include "cgi/multi.h"
#include "cgi/site.h"
#include "cgi/watch.h"
#include "common/clock.h"
#include "common/log.h"

#define THREAD_STACK (512 * 1024)
#define MAX_DRAIN (64 * 1024)

int
server_block_signals(void)
{
	sigset_t set;

	if (signal(SIGPIPE, SIG_IGN) == SIG_ERR)
		return -1;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	return pthread_sigmask(SIG_BLOCK, &set, NULL) == 0 ? 0 : -1;
}

/* FCGX_GetParam finds only the first occurrence of a name: the parameters are walked here, from
 * *cursor on, so that a repeated one (nginx passes each header line apart) is seen whole. */
static const char *
fcgi_param(void *ctx, const char *name, size_t *cursor)
{
	FCGX_Request *req = ctx;
	size_t len = strlen(name), i = cursor != NULL ? *cursor : 0;

	for (; req->envp != NULL && req->envp[i] != NULL; i++)
		if (strncmp(req->envp[i], name, len) == 0 && req->envp[i][len] == '=') {
			if (cursor != NULL)
				*cursor = i + 1;
			return req->envp[i] + len + 1;
		}
	if (cursor != NULL)
		*cursor = i;
	return NULL;
}

static int
fcgi_write(void *ctx, const char *data, size_t len)
{
	FCGX_Request *req = ctx;

	/* libfcgi takes int lengths; responses are far below that, but check anyway. */
	if (len > INT_MAX || FCGX_PutStr(data, (int)len, req->out) != (int)len)
		return -1;
	return 0;
}

/* The state the request threads share with the main thread. */
struct server {
	int fd;
	atomic_bool stopping;
	pthread_mutex_t mu;
	pthread_cond_t exited;	/* signalled as each thread ends, and as each request does */
	size_t running;		/* request threads */
	atomic_size_t busy;	/* of those, how many are serving a request */
};

/* A request thread starts serving a request. */
static void
busy_begin(struct server *s)
{
	atomic_fetch_add(&s->busy, 1);
}

/* It has ended. Only while draining does the main thread wait for the count to reach 0, so
 * only then is the lock taken: no shared lock on the path of every request. (The main thread
 * sets `stopping` before it looks at the count, so one of the two sees the other.) */
static void
busy_end(struct server *s)
{
	if (atomic_fetch_sub(&s->busy, 1) == 1 && atomic_load(&s->stopping)) {
		pthread_mutex_lock(&s->mu);
		pthread_cond_signal(&s->exited);
		pthread_mutex_unlock(&s->mu);
	}
}

static void
thread_done(struct server *s)
{
	pthread_mutex_lock(&s->mu);
	s->running--;
	pthread_cond_signal(&s->exited);
	pthread_mutex_unlock(&s->mu);
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

static void *
request_thread(void *arg)
{
	struct server *s = arg;
	struct watch_slot *watch = watch_slot_new();
	FCGX_Request req;

	if (watch == NULL || FCGX_InitRequest(&req, s->fd, 0) != 0) {
		log_msg("error", "cannot set up a request thread: out of memory");
		watch_slot_free(watch);
		thread_done(s);
		return NULL;
	}
	/* With fastcgi_keep_conn, FCGX_Accept_r reads the next request of the same connection. */
	while (!atomic_load(&s->stopping) && FCGX_Accept_r(&req) == 0) {
		struct http_io io = { .param = fcgi_param, .write = fcgi_write, .ctx = &req,
			.watch = watch, .fd = req.ipcFd };
		struct cfg *cfg = site_get();	/* the request keeps it, even across a reload */

		busy_begin(s);
		handler_serve(cfg, &io);
		cfg_unref(cfg);
		input_drain(&req);
		FCGX_Finish_r(&req);
		busy_end(s);
	}
	FCGX_Free(&req, 1);
	multi_thread_end();
	watch_slot_free(watch);
	thread_done(s);
	return NULL;
}

/* Waits for SIGTERM or SIGINT, reloading the config at each SIGHUP meanwhile. */
static int
wait_for_stop(void (*reload)(void))
{
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			return -1;
		if (sig != SIGHUP)
			return sig;
		reload();
	}
}

/* Waits until every thread has ended, or no thread serves a request any more (the others only
 * wait on idle keep-alive connections), or grace_ms has passed. Returns how many still run. */
static size_t
drain(struct server *s, long grace_ms)
{
	struct timespec until = clock_timespec(clock_now_us() + grace_ms * 1000);
	size_t left;

	pthread_mutex_lock(&s->mu);
	while (s->running > 0 && atomic_load(&s->busy) > 0 &&
	    pthread_cond_timedwait(&s->exited, &s->mu, &until) == 0)
		;
	left = s->running;
	pthread_mutex_unlock(&s->mu);
	return left;
}

static int
server_init(struct server *s, int fd)
{
	pthread_condattr_t ca;
	int rc;

	*s = (struct server){ .fd = fd };
	atomic_init(&s->stopping, false);
	atomic_init(&s->busy, 0);
	if (pthread_condattr_init(&ca) != 0)
		return -1;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&s->exited, &ca) == 0 ? 0 : -1;
	pthread_condattr_destroy(&ca);
	if (rc == 0 && pthread_mutex_init(&s->mu, NULL) != 0) {
		pthread_cond_destroy(&s->exited);
		rc = -1;
	}
	return rc;
}

/* Starts the request threads (detached: the drain counts them). */
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
		for (; started < n; started++) {
			pthread_mutex_lock(&s->mu);
			s->running++;
			pthread_mutex_unlock(&s->mu);
			if (pthread_create(&tid, &attr, request_thread, s) != 0) {
				thread_done(s);
				break;
			}
		}
	pthread_attr_destroy(&attr);
	return started;
}

int
server_run_fastcgi(int listen_fd, size_t threads, long grace_ms, void (*reload)(void))
{
	struct server s;
	size_t started, left;
	int sig;

	if (server_init(&s, listen_fd) != 0 || watch_start() != 0) {
		log_msg("error", "cannot set up the server's locks and watcher thread");
		return 1;
	}
	if ((started = threads_start(&s, threads)) < threads) {
		log_msg("error", "started %zu of %zu request threads", started, threads);
		if (started == 0)
			return 1;
	}
	log_msg("info", "serving FastCGI with %zu threads", started);
	sig = wait_for_stop(reload);
	log_msg("info", "%s: stopping; requests in progress may finish", strsignal(sig));
	site_set_draining();
	atomic_store(&s.stopping, true);
	/* Wakes the threads blocked in accept(): on Linux it then fails with EINVAL. */
	(void)shutdown(listen_fd, SHUT_RDWR);
	if ((left = drain(&s, grace_ms)) > 0) {
		/* Threads held by idle keep-alive connections still use the config: nothing may be
		 * freed under them, so the process ends here, which closes those connections. A
		 * request nginx sends on one of them at this very moment is lost: nginx answers it
		 * with 502, as for any backend that stops. */
		log_msg("info", "exiting with %zu threads still on open connections", left);
		_exit(0);
	}
	watch_stop();
	pthread_cond_destroy(&s.exited);
	pthread_mutex_destroy(&s.mu);
	return 0;
}

/* The environment holds one value per name: the first call gives it, the next NULL. */
static const char *
cgi_param(void *ctx, const char *name, size_t *cursor)
{
	(void)ctx;
	if (cursor != NULL && (*cursor)++ > 0)
		return NULL;
	return getenv(name);
}

static int
cgi_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	return fwrite(data, 1, len, stdout) == len && fflush(stdout) == 0 ? 0 : -1;
}

int
server_run_cgi(struct cfg *cfg)
{
	struct http_io io = { .param = cgi_param, .write = cgi_write, .fd = -1 };

	handler_serve(cfg, &io);
	multi_thread_end();
	return 0;
}
