/* fetch_loop.c - a connection cache's side on an event loop: curl's multi-socket API, with the
 * sockets and the timer curl asks for handed to the loop's hooks. The lowest of the curl
 * client's files: it knows the multi handle, not the cache or its transfers. */
#include "cgi/backend/curl/fetch_internal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <string.h>

/* The smallest table of watches: descriptors below it need no growth. */
#define WATCHED_MIN 64

struct fetch_loop {
	CURLM *multi;
	struct fetch_loop_hooks hooks;
	void (*unwatchable)(CURL *easy);	/* fetch_multi.c's: the transfer is to end */
	/* By descriptor, the one table of curl's sockets on the loop: what the loop watches it for
	 * (FETCH_POLL_*, 0 if nothing), and the loop's record of it (hooks.watch's *sock). curl
	 * tells changes only, and closes sockets in places where it does not say REMOVE first
	 * (cleanup): this is how each watch gets its end once, and only a watch gets one. */
	struct watched {
		unsigned char what;
		void *sock;
	} *watched;
	size_t cap;		/* descriptors the table covers */
	size_t nwatched;	/* of them, how many are watched */
	bool armed;		/* the timer's last state: so that freeing disarms it only if set */
};

/* Makes the table cover fd; false if out of memory. */
static bool
watched_fit(struct fetch_loop *l, int fd)
{
	size_t cap = l->cap < WATCHED_MIN ? WATCHED_MIN : l->cap;
	struct watched *v;

	if ((size_t)fd < l->cap)
		return true;
	while (cap <= (size_t)fd)
		cap *= 2;
	if ((v = realloc(l->watched, cap * sizeof(*v))) == NULL)
		return false;
	memset(v + l->cap, 0, (cap - l->cap) * sizeof(*v));
	l->watched = v;
	l->cap = cap;
	return true;
}

static void
unwatch(struct fetch_loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->cap || l->watched[fd].what == 0)
		return;
	l->watched[fd].what = 0;
	l->nwatched--;
	/* an end cannot fail usefully */
	(void)l->hooks.watch(l->hooks.ctx, fd, 0, &l->watched[fd].sock);
}

/* CURLMOPT_SOCKETFUNCTION: curl wants fd watched for `what`, or no more. Inside curl: it only
 * records and tells the loop, which acts on the socket later (fetch_socket_ready). */
static int
socket_changed(CURL *easy, curl_socket_t fd, int what, void *arg, void *socketp)
{
	struct fetch_loop *l = arg;
	int want = what == CURL_POLL_REMOVE ? 0 : ((what & CURL_POLL_IN) ? FETCH_POLL_IN : 0) |
	    ((what & CURL_POLL_OUT) ? FETCH_POLL_OUT : 0);

	(void)socketp;
	if (want == 0) {
		unwatch(l, fd);
		return 0;
	}
	/* -1 to curl would fail every transfer of the multi handle for good: only this one ends. */
	if (fd < 0 || !watched_fit(l, fd) ||
	    l->hooks.watch(l->hooks.ctx, fd, want, &l->watched[fd].sock) != 0) {
		l->unwatchable(easy);
		return 0;
	}
	if (l->watched[fd].what == 0)
		l->nwatched++;
	l->watched[fd].what = (unsigned char)want;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants to act in timeout_ms (-1: never). Inside curl, so even a
 * 0 only arms the loop's timer. */
static int
timer_changed(CURLM *multi, long timeout_ms, void *arg)
{
	struct fetch_loop *l = arg;

	(void)multi;
	l->armed = timeout_ms >= 0;
	l->hooks.timer(l->hooks.ctx, timeout_ms);
	return 0;
}

/* Connections a loop's cache keeps: curl's default is 4 per transfer under way, a number that
 * swings with the load on a loop, and past it curl closes kept connections only to open new
 * ones a moment later. One eighth of the descriptors the process may open (at least 64, at most
 * 4096): a few loops' caches full still leave most for the FastCGI connections. */
static long
loop_max_conns(void)
{
	struct rlimit rl;
	rlim_t n;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 64;
	n = rl.rlim_cur / 8;
	return n < 64 ? 64 : n > 4096 ? 4096 : (long)n;
}

struct fetch_loop *
fetch_loop_new(CURLM *multi, const struct fetch_loop_hooks *hooks,
    void (*unwatchable)(CURL *easy))
{
	struct fetch_loop *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return NULL;
	*l = (struct fetch_loop){ .multi = multi, .hooks = *hooks, .unwatchable = unwatchable };
	if (curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, socket_changed) != CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_SOCKETDATA, l) != CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, timer_changed) != CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_TIMERDATA, l) != CURLM_OK ||
	    curl_multi_setopt(multi, CURLMOPT_MAXCONNECTS, loop_max_conns()) != CURLM_OK) {
		/* curl keeps no pointer to what is freed here. */
		(void)curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, NULL);
		(void)curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, NULL);
		free(l);
		return NULL;
	}
	return l;
}

int
fetch_loop_socket_ready(struct fetch_loop *l, int fd, int events)
{
	int mask = ((events & FETCH_POLL_IN) ? CURL_CSELECT_IN : 0) |
	    ((events & FETCH_POLL_OUT) ? CURL_CSELECT_OUT : 0) |
	    ((events & FETCH_POLL_ERR) ? CURL_CSELECT_ERR : 0);
	int running;

	return curl_multi_socket_action(l->multi, fd, mask, &running) == CURLM_OK ? 0 : -1;
}

int
fetch_loop_timer_expired(struct fetch_loop *l)
{
	int running;

	/* A one-shot timer that fired is off: curl arms it again (it forgets its last timeout
	 * when asked to act on a timeout, so even the same one is told again). */
	l->armed = false;
	return curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running) == CURLM_OK ?
	    0 : -1;
}

void
fetch_loop_closing(struct fetch_loop *l, int fd)
{
	if (l != NULL)
		unwatch(l, fd);
}

void
fetch_loop_free(struct fetch_loop *l)
{
	if (l == NULL)
		return;
	for (size_t fd = 0; l->nwatched > 0 && fd < l->cap; fd++)
		unwatch(l, (int)fd);
	if (l->armed)
		l->hooks.timer(l->hooks.ctx, -1);
	for (size_t fd = 0; l->hooks.forget != NULL && fd < l->cap; fd++)
		if (l->watched[fd].sock != NULL)
			l->hooks.forget(l->hooks.ctx, l->watched[fd].sock);
	free(l->watched);
	free(l);
}
