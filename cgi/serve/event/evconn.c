/* evconn.c - one FastCGI connection of the event server: its records through the codec, its
 * request handed to evreq.c with a sink to answer through, its answer written without ever
 * blocking the loop. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cgi/serve/event/evconn.h"
#include "cgi/request/metrics.h"
#include "common/clock.h"
#include "common/log.h"

#define READ_CHUNK (16 * 1024)
/* The parameters of one request, in bytes: nginx sends a few hundred; headers and the URI are
 * bounded well below this by the web server. */
#define MAX_PARAMS (128 * 1024)
/* A request body beyond this (endpoints take none) closes the connection after the answer
 * (also one written before the body passed it), once the body has ended; beyond DRAIN_MAX, once
 * answered, at once (what is left of it is not read). */
#define MAX_BODY (64 * 1024)
#define DRAIN_MAX (1024 * 1024)
/* Output waiting for the peer beyond this: the connection is not read meanwhile, so a peer
 * that sends without reading cannot make it grow. */
#define OUT_HIGH (256 * 1024)
/* Lines about malformed connections: at most one per this many seconds. */
#define BAD_CONN_LOG_PERIOD_S 10
/* What GET_VALUES answers as FCGI_MAX_REQS: requests cost memory, not threads. (Its
 * FCGI_MAX_CONNS is limits.max_connections.) */
#define MAX_REQS 10000
/* The peer's input ended with a request in progress: a web server that half-closes still reads
 * its answer, one that went away (its client did) looks the same on TCP until a write fails.
 * The answer goes out if it is ready this soon; past it the request counts as abandoned and its
 * calls are cancelled. The threads server's watcher takes up to its period (50 ms) alike. On a
 * Unix socket a peer that went away raises EPOLLHUP (conn_event closes then): a half-close is
 * only that, and the answer is waited for as long as the request runs (its deadline bounds it),
 * its writing as long as the idle timeout. */
#define EOF_GRACE_US (100 * 1000)

static void conn_close(struct evconn *c);
static const struct evreq_sink conn_sink;

/* ---- The codec's events ---- */

/* Whether c's reading stops for its answers not taken: its own mark, or the budget's. */
static bool
output_high(struct evconn *c)
{
	evlimits_count(c->ev->limits, &c->share, c->out.len - c->out_off);
	return c->share.counted >= OUT_HIGH || evlimits_over_share(c->ev->limits, &c->share);
}

/* The same as the last count left it (evlimits_update() at each flush): c->share.held is its
 * share's check then. */
static bool
output_held(const struct evconn *c)
{
	return c->share.counted >= OUT_HIGH || c->share.held;
}

static bool
input_pending(const struct evconn *c)
{
	return c->in_off < c->in.len;
}

static int
on_record(void *ctx, const struct fcgi_event *ev)
{
	struct evconn *c = ctx;
	struct evreq *r = c->req;

	switch (ev->kind) {
	case FCGI_EV_BEGIN:
		if ((c->req = evreq_new(c->ev, &conn_sink, c, ev->request_id)) == NULL)
			return -1;
		c->keep = ev->keep_conn;
		c->stdin_open = true;
		c->body_bytes = 0;
		break;
	case FCGI_EV_PARAMS:
		evreq_start(r, ev);
		break;
	case FCGI_EV_STDIN:
		/* Endpoints take no body: it is counted and dropped. */
		if ((c->body_bytes += ev->len) > MAX_BODY) {
			c->keep = false;
			c->last = true;	/* the answer may have been written already */
		}
		if (c->body_bytes > DRAIN_MAX && r == NULL)
			conn_close(c);
		break;
	case FCGI_EV_STDIN_END:
		c->stdin_open = false;
		if (r == NULL)		/* answered already: the request is over now */
			fcgi_conn_request_done(&c->codec);
		break;
	case FCGI_EV_ABORT:
		if (r != NULL) {
			r->aborted = true;
			evreq_stop(r);
		} else if (c->stdin_open) {	/* answered: no more body will come */
			c->stdin_open = false;
			fcgi_conn_request_done(&c->codec);
		}
		break;
	}
	if (c->closed)
		return -1;	/* the feed stops with the connection */
	/* Answers not taken: parse no further (a peer that pipelines requests and never reads
	 * would otherwise have every one answered into memory). */
	return output_high(c) ? FCGI_PAUSE : 0;
}

/* ---- The connection ---- */

/* What to wait for: the peer's bytes, unless parsing is paused or the output is high (then
 * not even its half-close, which would be reported again and again); room to write, also when
 * a paused parse may go on (the writable socket brings conn_event back at the next turn, where
 * parsing is not nested in an answer). Errors and a full close are always reported. Called
 * right after evlimits_update(): the count is not taken again. */
static uint32_t
conn_events(const struct evconn *c)
{
	uint32_t events = 0;

	if (!c->eof && !input_pending(c) && !output_held(c))
		events |= EPOLLIN | EPOLLRDHUP;
	if (c->out.len > c->out_off || input_pending(c))
		events |= EPOLLOUT;
	return events;
}

/* Writes what it can of the output; closes the connection when it is done with it (not kept,
 * or a write failed). */
static void
conn_flush(struct evconn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t n = send(c->io.fd, c->out.data + c->out_off, c->out.len - c->out_off,
		    MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
		c->active_at = clock_now_us();
	}
	if (c->out_off == c->out.len) {
		buf_truncate(&c->out, 0);
		c->out_off = 0;
		if (c->req == NULL && ((c->last && !c->stdin_open) ||
		    (c->eof && !input_pending(c)))) {
			conn_close(c);
			return;
		}
	}
	evlimits_update(c->ev->limits, &c->share, c->out.len - c->out_off);
	if (loop_io_set(c->ev->loop, &c->io, conn_events(c)) != 0)
		conn_close(c);
}

/* ---- The sink its request answers through (evreq.h) ---- */

static int
sink_write(void *ctx, uint16_t id, const char *data, size_t len)
{
	struct evconn *c = ctx;

	return fcgi_write_stdout(&c->out, id, data, len);
}

/* The records that end the answer, then the next request or the close. */
static void
sink_finished(void *ctx, uint16_t id, bool aborted)
{
	struct evconn *c = ctx;

	c->req = NULL;
	/* The codec takes the next request once the body has ended too, or at once if the
	 * request was aborted. */
	if (aborted)
		c->stdin_open = false;
	if (!c->stdin_open)
		fcgi_conn_request_done(&c->codec);
	if (fcgi_write_stdout_end(&c->out, id) != 0 ||
	    fcgi_write_end_request(&c->out, id, 0, FCGI_STATUS_REQUEST_COMPLETE) != 0)
		c->keep = false;	/* no memory: the close tells the web server */
	c->last = !c->keep || c->ev->closing;
	c->active_at = clock_now_us();
	conn_flush(c);
}

static const struct evreq_sink conn_sink = { .write = sink_write, .finished = sink_finished };

/* A connection closed for what its peer sent: logged at most once per BAD_CONN_LOG_PERIOD_S
 * for the whole process (whoever can connect could otherwise write a line per connection), with
 * the count of those left out. */
static void
log_bad_conn(enum fcgi_rc rc)
{
	static struct log_limit limit = LOG_LIMIT_INIT(BAD_CONN_LOG_PERIOD_S);
	unsigned long others;

	if (!log_limit_due(&limit, &others))
		return;
	if (others > 0)
		log_msg("warning", "closing a FastCGI connection: %s (and %lu more connections "
		    "closed for what they sent in the last %d s)", fcgi_rc_str(rc), others,
		    BAD_CONN_LOG_PERIOD_S);
	else
		log_msg("warning", "closing a FastCGI connection: %s", fcgi_rc_str(rc));
}

/* Feeds len bytes to the codec: how many it took in *used, or false once the connection is
 * closed (the codec refused them, or an event closed it). */
static bool
conn_feed(struct evconn *c, const char *bytes, size_t len, size_t *used)
{
	enum fcgi_rc rc = fcgi_conn_feed_some(&c->codec, bytes, len, used);

	if (rc == FCGI_RC_OK)
		return true;
	if (rc != FCGI_RC_STOPPED || !c->closed)
		log_bad_conn(rc);
	conn_close(c);
	return false;
}

/* Parses bytes just read; what a pause leaves is kept in c->in. False once closed. */
static bool
conn_parse(struct evconn *c, const char *bytes, size_t len)
{
	size_t used;

	if (!conn_feed(c, bytes, len, &used))
		return false;
	if (used < len && buf_append(&c->in, bytes + used, len - used) != 0) {
		conn_close(c);		/* out of memory: the bytes cannot be kept */
		return false;
	}
	return true;
}

/* Parses what a pause left, as far as the output allows. False once the connection is closed. */
static bool
conn_parse_pending(struct evconn *c)
{
	size_t used;

	if (!conn_feed(c, c->in.data + c->in_off, c->in.len - c->in_off, &used))
		return false;
	if ((c->in_off += used) == c->in.len) {
		buf_truncate(&c->in, 0);
		c->in_off = 0;
	}
	return true;
}

/* The peer's input ended: true if the connection stays to answer what it has read (a request
 * whose parameters are in, an answer being written, requests read and not yet parsed), on TCP
 * for EOF_GRACE_US if a request is in progress; false if there is nothing to answer. */
static bool
conn_input_ended(struct evconn *c)
{
	if ((c->req == NULL || c->req->served == NULL) && c->out_off == c->out.len &&
	    !input_pending(c))
		return false;
	c->eof = true;
	return c->req == NULL || c->ev->unix_peers || loop_timer_set(c->ev->loop, &c->idle,
	    clock_now_us() + EOF_GRACE_US) == 0;
}

/* Reads what is there and parses it; false once the connection is closed. */
static bool
conn_read(struct evconn *c)
{
	char chunk[READ_CHUNK];

	for (int rounds = 0; rounds < 4 && !input_pending(c) && !output_high(c); rounds++) {
		ssize_t n = recv(c->io.fd, chunk, sizeof(chunk), 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return true;
		if (n == 0 && conn_input_ended(c))
			return true;
		if (n <= 0) {
			conn_close(c);	/* the web server closed it, or it failed */
			return false;
		}
		c->active_at = clock_now_us();
		if (!conn_parse(c, chunk, (size_t)n))
			return false;
		if ((size_t)n < sizeof(chunk))
			return true;
	}
	return true;
}

static void
conn_event(void *ctx, uint32_t events)
{
	struct evconn *c = ctx;

	if (c->closed)
		return;
	if ((events & (EPOLLERR | EPOLLHUP)) && (input_pending(c) || c->eof)) {
		conn_close(c);	/* gone both ways: nothing pending can be answered */
		return;
	}
	if (!c->eof && (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) && !conn_read(c))
		return;
	/* Each turn writes, then parses what a pause left while the output has room. */
	for (;;) {
		conn_flush(c);
		if (c->closed || !input_pending(c) || output_high(c))
			return;
		if (!conn_parse_pending(c))
			return;
	}
}

/* Closes a connection that waits on its peer (for a request, its parameters or its answer's
 * reading) past the idle timeout; one whose request runs waits for it. */
static void
conn_idle_check(void *ctx)
{
	struct evconn *c = ctx;
	int64_t due = c->active_at + c->ev->idle_timeout_us;
	bool serving = c->req != NULL && c->req->served != NULL && c->out.len == c->out_off;

	if (c->eof && c->req != NULL && !c->ev->unix_peers) {
		conn_close(c);	/* not answered within EOF_GRACE_US: abandoned */
		return;
	}
	if (serving || due > clock_now_us()) {
		if (loop_timer_set(c->ev->loop, &c->idle, serving ? clock_now_us() +
		    c->ev->idle_timeout_us : due) == 0)
			return;
	}
	conn_close(c);
}

static void
conn_free(void *ctx)
{
	struct evconn *c = ctx;

	fcgi_conn_free(&c->codec);
	buf_free(&c->out);
	buf_free(&c->in);
	free(c);
}

static void
conn_close(struct evconn *c)
{
	struct evloop *ev = c->ev;
	struct evreq *r = c->req;

	if (c->closed)
		return;
	c->closed = true;
	loop_io_del(ev->loop, &c->io);
	loop_timer_stop(ev->loop, &c->idle);
	close(c->io.fd);
	evlimits_conn_closed(c->ev->limits, &c->share);
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		ev->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	ev->nconns--;
	metrics_connections(-1);
	c->req = NULL;
	if (r != NULL) {
		r->conn = NULL;
		evreq_stop(r);
	}
	/* An event of this batch may still name c: it is freed after the batch. */
	if (loop_defer(ev->loop, conn_free, c) != 0)
		log_msg("error", "out of memory: a closed connection's memory is kept");
	evloop_check_done(ev);
}

void
evconn_open(struct evloop *ev, int fd)
{
	struct evconn *c = calloc(1, sizeof(*c));
	struct fcgi_limits limits = { .max_params_bytes = MAX_PARAMS,
		.max_conns = ev->limits->max_conns > UINT_MAX ? UINT_MAX :
		(unsigned)ev->limits->max_conns, .max_reqs = MAX_REQS };

	if (c == NULL) {
		log_msg("error", "out of memory: a FastCGI connection is closed at once");
		close(fd);
		atomic_fetch_sub(&ev->limits->conns, 1);
		return;
	}
	c->ev = ev;
	c->active_at = clock_now_us();
	fcgi_conn_init(&c->codec, &limits, on_record, c, &c->out);
	loop_timer_init(&c->idle, conn_idle_check, c);
	if (loop_io_add(ev->loop, &c->io, fd, EPOLLIN | EPOLLRDHUP, conn_event, c) != 0 ||
	    loop_timer_set(ev->loop, &c->idle, c->active_at + ev->idle_timeout_us) != 0) {
		log_msg("error", "cannot watch a FastCGI connection (%s): it is closed at once",
		    strerror(errno));
		loop_io_del(ev->loop, &c->io);
		close(fd);
		free(c);
		atomic_fetch_sub(&ev->limits->conns, 1);
		return;
	}
	c->next = ev->conns;
	if (c->next != NULL)
		c->next->prev = c;
	ev->conns = c;
	ev->nconns++;
	metrics_connections(1);
}

/* Whether c may be closed without losing anything: no request, no answer being written, no
 * record begun, nothing read and not parsed, nothing waiting in the socket. */
static bool
conn_idle(const struct evconn *c)
{
	char byte;

	return c->req == NULL && !c->stdin_open && c->out_off == c->out.len && !input_pending(c) &&
	    fcgi_conn_at_rest(&c->codec) &&
	    recv(c->io.fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

void
evconn_close_all(struct evloop *ev)
{
	struct evconn *c = ev->conns, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		c->last = true;
		if (conn_idle(c))
			conn_close(c);
	}
}

/* A kept connection at rest that may make room: one request answered on it at least (nginx
 * sends a new connection its request at once: closing one that has none yet would fail it),
 * and none begun since. conn_idle() then checks its socket. */
static bool
conn_sheddable(const struct evconn *c)
{
	return !c->closed && c->keep && c->req == NULL && !c->stdin_open &&
	    c->out_off == c->out.len && !input_pending(c) && fcgi_conn_at_rest(&c->codec);
}

#define SHED_MAX 16

size_t
evconn_shed_idle(struct evloop *ev, size_t n)
{
	struct evconn *oldest[SHED_MAX];
	size_t have = 0, closed = 0;

	if (n == 0)
		return 0;
	if (n > SHED_MAX)
		n = SHED_MAX;
	/* The n longest idle, in one pass: oldest[] is kept sorted by active_at. */
	for (struct evconn *c = ev->conns; c != NULL; c = c->next) {
		size_t at;

		if (!conn_sheddable(c) || (have == n && c->active_at >= oldest[n - 1]->active_at))
			continue;
		at = have < n ? have++ : n - 1;
		for (; at > 0 && oldest[at - 1]->active_at > c->active_at; at--)
			oldest[at] = oldest[at - 1];
		oldest[at] = c;
	}
	for (size_t i = 0; i < have; i++)
		if (conn_idle(oldest[i])) {
			conn_close(oldest[i]);
			metrics_fastcgi_connection_shed();
			closed++;
		}
	return closed;
}
