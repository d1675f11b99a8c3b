/* evbackend.c - the backends of one event loop: the transfers of its fetch cache on the loop's
 * epoll and timer, handed to the groups that wait for them as they end. */
#include "cgi/serve/event/evbackend.h"

#include <stdlib.h>
#include <sys/epoll.h>

#include "cgi/request/call.h"
#include "cgi/request/multi.h"
#include "common/log.h"
#include "common/clock.h"

/* One of curl's sockets on the loop. */
struct backend_socket {
	struct loop_io io;
	struct evbackend *b;
};

/* curl failed in a way no transfer reports (out of memory in its multi handle): the transfers
 * concerned end at their deadline. */
static void
curl_failed(const char *what)
{
	log_msg("error", "curl's multi handle failed on %s: the transfers under way end at their "
	    "deadline", what);
}

static void
socket_ready(void *ctx, uint32_t events)
{
	struct backend_socket *s = ctx;
	int what = 0;

	if (events & EPOLLIN)
		what |= FETCH_POLL_IN;
	if (events & EPOLLOUT)
		what |= FETCH_POLL_OUT;
	if (events & (EPOLLERR | EPOLLHUP))
		what |= FETCH_POLL_ERR;
	if (fetch_socket_ready(s->b->cache, s->io.fd, what) != 0)
		curl_failed("a socket");
	multi_dispatch(s->b->cache, s->b->h1);
}

static void
timer_fired(void *ctx)
{
	struct evbackend *b = ctx;

	if (fetch_timer_expired(b->cache) != 0)
		curl_failed("its timer");
	multi_dispatch(b->cache, b->h1);
}

/* The lean client's ended(): from the loop, as curl's socket and timer callbacks. */
static void
lean_ended(void *ctx)
{
	struct evbackend *b = ctx;

	multi_dispatch(b->cache, b->h1);
}

/* fetch_loop_hooks.watch: the record of a socket is made at its first watch and kept in the
 * cache's table (*sock) until fetch_cache_free hands it back (forget): an event of the loop's
 * batch may still name it after its watch ended. */
static int
watch(void *ctx, int fd, int what, void **sock)
{
	struct evbackend *b = ctx;
	uint32_t events = (what & FETCH_POLL_IN ? EPOLLIN : 0u) |
	    (what & FETCH_POLL_OUT ? EPOLLOUT : 0u);
	struct backend_socket *s = *sock;

	if (s == NULL && what != 0) {
		if ((s = calloc(1, sizeof(*s))) == NULL)
			return -1;
		s->b = b;
		*sock = s;
	}
	if (s == NULL)
		return 0;
	if (what == 0) {
		loop_io_del(b->loop, &s->io);
		return 0;
	}
	if (!s->io.added)
		return loop_io_add(b->loop, &s->io, fd, events, socket_ready, s);
	return loop_io_set(b->loop, &s->io, events);
}

/* fetch_loop_hooks.forget: the cache is freed, every watch ended. */
static void
forget(void *ctx, void *sock)
{
	struct backend_socket *s = sock;

	loop_io_del(((struct evbackend *)ctx)->loop, &s->io);
	free(s);
}

/* fetch_loop_hooks.timer: -1 disarms; 0 fires at the loop's next turn, never from inside curl. */
static void
timer(void *ctx, long timeout_ms)
{
	struct evbackend *b = ctx;

	if (timeout_ms < 0)
		loop_timer_stop(b->loop, &b->timer);
	else if (loop_timer_set(b->loop, &b->timer, clock_now_us() + timeout_ms * 1000) != 0)
		curl_failed("arming its timer");
}

int
evbackend_init(struct evbackend *b, struct loop *l)
{
	struct fetch_loop_hooks hooks = { .watch = watch, .timer = timer, .ctx = b,
		.forget = forget };

	*b = (struct evbackend){ .loop = l };
	loop_timer_init(&b->timer, timer_fired, b);
	if ((b->h1 = h1_client_new(l, lean_ended, b)) == NULL)
		return -1;
	h1_client_on_idle_bytes(b->h1, bcall_idle_bytes);
	if ((b->cache = fetch_cache_new_on(&hooks)) == NULL) {
		h1_client_free(b->h1);
		return -1;
	}
	return 0;
}

void
evbackend_destroy(struct evbackend *b)
{
	h1_client_free(b->h1);		/* closes its connections */
	fetch_cache_free(b->cache);	/* closes its sockets, each unwatched first, then
					 * hands their records back (forget) */
	loop_timer_stop(b->loop, &b->timer);
}
