/* integ-hostile-requests.c - the hostile FastCGI suite (t/integ-hostile): requests made to hurt
 * the server: parameters in 10,000 pieces, a second request on a busy connection, a request id
 * other than 1, a close in mid-request, and a reader that never reads its answers. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "t/fcgi-client.h"
#include "t/integ-hostile.h"
#include "t/unit.h"

/* The victim's RSS at its highest over ms, sampling every 20 ms; stops early once it passes
 * the peak bound (the failure). */
static long
peak_rss(const struct victim *v, int ms)
{
	int64_t until = clock_now_us() + ms * 1000LL;
	long peak = victim_rss(v);

	while (clock_now_us() < until && peak <= v->rss_kb + HOSTILE_RSS_PEAK_KB) {
		long rss = victim_rss(v);

		peak = rss > peak ? rss : peak;
		clock_sleep_us(20000);
	}
	return peak;
}

/* Appends PARAMS records of one pair each, n of them. */
static bool
one_pair_records(struct buf *out, int n)
{
	struct buf pair = BUF_INIT;
	bool ok = true;

	for (int i = 0; ok && i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "HTTP_X_HOSTILE_%05d", i);
		buf_truncate(&pair, 0);
		ok = fcgi_pair(&pair, name, "1") &&
		    fcgi_record(out, FCGI_TYPE_PARAMS, 1, pair.data, pair.len, 0);
	}
	buf_free(&pair);
	return ok;
}

/* The status of request i's answer in e: -1 unless it ended with some STDOUT. */
static int
answer_status(const struct fcgi_ends *e, size_t i)
{
	return e->protocol_status[i] < 0 || e->out[i].len == 0 ? -1 :
	    fcgi_answer_status(buf_str(&e->out[i]));
}

/* One connection's exchange with a fresh victim: records sent, some requests' answers read. */
struct exchange {
	struct victim v;
	int fd;
	size_t sent;		/* bytes of the records that went within the bound */
	bool ended;		/* every awaited request's END_REQUEST came */
	struct fcgi_ends ends;
};

/* Starts a victim, sends records on a new connection, and reads the answers of the n requests
 * ids. False if the victim did not start (nothing to end then). */
static bool
exchange(struct exchange *x, const struct buf *records, const unsigned *ids, size_t n)
{
	fcgi_ends_init(&x->ends, ids, n);
	x->sent = 0;
	x->ended = false;
	if (!victim_start(&x->v)) {
		fcgi_ends_free(&x->ends);
		return false;
	}
	x->fd = victim_connect(&x->v);
	CU_ASSERT(x->fd >= 0);
	if (x->fd >= 0) {
		x->sent = fcgi_send_some(x->fd, records->data, records->len, HOSTILE_BOUND_MS);
		x->ended = fcgi_read_ends(x->fd, HOSTILE_BOUND_MS, &x->ends);
	}
	return true;
}

/* Closes the exchange's connection (if still open) and finishes its victim with `seen`. */
static void
exchange_end(struct exchange *x, const char *seen)
{
	if (x->fd >= 0)
		close(x->fd);
	victim_finish(&x->v, seen);
	fcgi_ends_free(&x->ends);
}

/* A GET of /healthz whose parameters come in 10,000 more PARAMS records of one pair each (230
 * KB of parameters), then a valid end. The server answers it, or refuses it and closes the
 * connection (the parameters pass its bound): both are the protocol's. It lives, and its RSS
 * stays within the bound. */
void
test_many_params(void)
{
	const unsigned id = 1;
	struct buf records = BUF_INIT;
	struct exchange x;
	bool closed = false;
	char seen[200];
	long rss;

	CU_ASSERT_FATAL(fcgi_build_get(&records, "/healthz", false, FCGI_GET_PARAMS) &&
	    one_pair_records(&records, 10000) &&
	    fcgi_record(&records, FCGI_TYPE_PARAMS, 1, NULL, 0, 0) &&
	    fcgi_record(&records, FCGI_TYPE_STDIN, 1, NULL, 0, 0));
	if (exchange(&x, &records, &id, 1)) {
		rss = victim_rss(&x.v);
		closed = !x.ended && x.fd >= 0 && fcgi_await_closed(&x.fd, 1, HOSTILE_BOUND_MS);
		snprintf(seen, sizeof(seen), "10,000 PARAMS records: %zu of %zu bytes sent, %s, RSS "
		    "%ld kB", x.sent, records.len, x.ended ? "answered" : closed ?
		    "closed unanswered" : "neither answered nor closed", rss);
		CU_ASSERT(x.ended || closed);
		CU_ASSERT(!x.ended || x.ends.protocol_status[0] == FCGI_STATUS_REQUEST_COMPLETE);
		CU_ASSERT(!x.ended || answer_status(&x.ends, 0) > 0);
		CU_ASSERT(rss >= 0 && rss <= x.v.rss_kb + HOSTILE_RSS_PEAK_KB);
		exchange_end(&x, seen);
	}
	buf_free(&records);
}

/* A BEGIN_REQUEST of request 2 while request 1 is in flight (its parameters not yet ended),
 * as one connection multiplexing would: the codec serves one request at a time, so request 2
 * gets END_REQUEST with protocolStatus CANT_MPX_CONN (1) and nothing else, request 1 is
 * answered in full, and the kept connection serves another request after. */
void
test_second_begin(void)
{
	static const unsigned ids[2] = { 1, 2 };
	struct buf records = BUF_INIT, again = BUF_INIT;
	struct exchange x;
	bool kept;
	char seen[200];

	CU_ASSERT_FATAL(fcgi_build_get_id(&records, 1, "/healthz", true, FCGI_GET_PARAMS) &&
	    fcgi_begin(&records, 2, true) &&
	    fcgi_record(&records, FCGI_TYPE_PARAMS, 1, NULL, 0, 0) &&
	    fcgi_record(&records, FCGI_TYPE_STDIN, 1, NULL, 0, 0));
	if (exchange(&x, &records, ids, 2)) {
		CU_ASSERT(x.ended);
		CU_ASSERT_EQUAL(x.ends.protocol_status[1], FCGI_STATUS_CANT_MPX_CONN);
		CU_ASSERT_EQUAL(x.ends.out[1].len, 0);
		CU_ASSERT_EQUAL(x.ends.protocol_status[0], FCGI_STATUS_REQUEST_COMPLETE);
		CU_ASSERT_EQUAL(answer_status(&x.ends, 0), 200);
		kept = x.ended &&
		    fcgi_send_get(x.fd, "/healthz", true, FCGI_GET_WHOLE, HOSTILE_BOUND_MS) &&
		    fcgi_read_answer(x.fd, HOSTILE_BOUND_MS, &again) &&
		    again.len > 0 && fcgi_answer_status(buf_str(&again)) == 200;
		CU_ASSERT(kept);
		snprintf(seen, sizeof(seen), "second BEGIN_REQUEST: request 2 ended with "
		    "protocolStatus %d (CANT_MPX_CONN is %d), request 1 with %d, status %d; the "
		    "connection %s", x.ends.protocol_status[1], FCGI_STATUS_CANT_MPX_CONN,
		    x.ends.protocol_status[0], answer_status(&x.ends, 0),
		    kept ? "served again" : "not served again");
		exchange_end(&x, seen);
	}
	buf_free(&records);
	buf_free(&again);
}

/* A request whose id is 258 (0x0102: both bytes count), where web servers use 1: the codec
 * takes any id for the one request in flight, so it is answered under that id, every record
 * of the answer, and nothing comes under another. */
void
test_other_id(void)
{
	const unsigned id = 0x0102;
	struct buf records = BUF_INIT;
	struct exchange x;
	char seen[200];

	CU_ASSERT_FATAL(fcgi_build_get_id(&records, id, "/healthz", false, FCGI_GET_WHOLE));
	if (exchange(&x, &records, &id, 1)) {
		CU_ASSERT(x.ended);
		CU_ASSERT_EQUAL(x.ends.protocol_status[0], FCGI_STATUS_REQUEST_COMPLETE);
		CU_ASSERT_EQUAL(answer_status(&x.ends, 0), 200);
		CU_ASSERT_EQUAL(x.ends.strays, 0);
		snprintf(seen, sizeof(seen), "request id %u: ended with protocolStatus %d, status "
		    "%d, %u records under other ids", id, x.ends.protocol_status[0],
		    answer_status(&x.ends, 0), x.ends.strays);
		exchange_end(&x, seen);
	}
	buf_free(&records);
}

/* The records of a POST to uri as request 1 with a body of n chunks of 30,000 bytes. */
static bool
post_records(struct buf *records, const char *uri, bool keep_conn, int n)
{
	static char chunk[30000];
	struct buf pairs = BUF_INIT;
	bool ok;

	memset(chunk, 'b', sizeof(chunk));
	ok = fcgi_begin(records, 1, keep_conn) && fcgi_pair(&pairs, "REQUEST_METHOD", "POST") &&
	    fcgi_pair(&pairs, "REQUEST_URI", uri) &&
	    fcgi_record(records, FCGI_TYPE_PARAMS, 1, pairs.data, pairs.len, 0) &&
	    fcgi_record(records, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	for (int i = 0; ok && i < n; i++)
		ok = fcgi_record(records, FCGI_TYPE_STDIN, 1, chunk, sizeof(chunk), 0);
	ok = ok && fcgi_record(records, FCGI_TYPE_STDIN, 1, "", 0, 0);
	buf_free(&pairs);
	return ok;
}

/* A POST of 300 KB to a path no endpoint has, on a connection not to be kept: the server
 * answers 404 before the body is in, and reads the rest of the body before it closes (closing
 * with bytes unread would reset the connection: the web server's upload would fail, and its
 * client get a 502 instead of the 404). */
void
test_unread_body(void)
{
	const unsigned id = 1;
	struct buf records = BUF_INIT;
	struct exchange x;
	char seen[200];

	CU_ASSERT_FATAL(post_records(&records, "/nope", false, 10));
	if (exchange(&x, &records, &id, 1)) {
		CU_ASSERT_EQUAL(x.sent, records.len);
		CU_ASSERT(x.ended);
		CU_ASSERT_EQUAL(answer_status(&x.ends, 0), 404);
		snprintf(seen, sizeof(seen), "300 KB body to /nope: %zu of %zu bytes taken, status %d",
		    x.sent, records.len, answer_status(&x.ends, 0));
		exchange_end(&x, seen);
	}
	buf_free(&records);
}

/* A POST of 120 KB (past the 64 KiB a kept connection survives) to an endpoint, on a connection
 * to be kept: answered 405 before the body is in, the body read whole, then the connection
 * closed by the server, as for a body that came before the answer. */
void
test_large_body_kept(void)
{
	const unsigned id = 1;
	struct buf records = BUF_INIT;
	struct exchange x;
	bool closed;
	char seen[200];

	CU_ASSERT_FATAL(post_records(&records, "/e0", true, 4));
	if (exchange(&x, &records, &id, 1)) {
		CU_ASSERT_EQUAL(x.sent, records.len);
		CU_ASSERT(x.ended);
		CU_ASSERT_EQUAL(answer_status(&x.ends, 0), 405);
		closed = x.fd >= 0 && fcgi_await_closed(&x.fd, 1, HOSTILE_BOUND_MS);
		CU_ASSERT(closed);
		snprintf(seen, sizeof(seen), "120 KB body to /e0, kept connection: %zu of %zu bytes "
		    "taken, status %d, %s", x.sent, records.len, answer_status(&x.ends, 0), closed ?
		    "then closed by the server" : "still open at the bound");
		exchange_end(&x, seen);
	}
	buf_free(&records);
}

/* A BEGIN_REQUEST and half of a PARAMS record, then our close: the server drops the request
 * and the connection (its descriptor back) and lives. */
void
test_close_mid_request(void)
{
	struct buf records = BUF_INIT;

	CU_ASSERT_FATAL(fcgi_build_get(&records, "/healthz", true, FCGI_GET_PARAMS));
	/* BEGIN_REQUEST, then the PARAMS record's header and half its content */
	sends_and_closes("BEGIN_REQUEST and half a PARAMS record, then closed", &records,
	    8 + 8 + (records.len - 16) / 2);
	buf_free(&records);
}

/* 2,000 requests of /metrics (about 40 KB each: 80 MB of answers) pipelined on a kept
 * connection that never reads: the server must stop taking requests while answers wait, not
 * keep them all. Its RSS stays within the bound, another client is served meanwhile, and once
 * the connection is closed descriptors and RSS come back to their level. */
void
test_never_reads(void)
{
	enum { N = 2000 };
	struct buf records = BUF_INIT;
	struct victim v;
	bool ok = true;
	char seen[200];
	size_t sent;
	long peak;
	int fd, health;

	for (int i = 0; ok && i < N; i++)
		ok = fcgi_build_get(&records, "/metrics", true, FCGI_GET_WHOLE);
	CU_ASSERT_FATAL(ok);
	if (!victim_start(&v)) {
		buf_free(&records);
		return;
	}
	fd = victim_connect(&v);
	CU_ASSERT(fd >= 0);
	/* As much as the server takes in 2 s: all, or what fits before it stops reading. */
	sent = fd >= 0 ? fcgi_send_some(fd, records.data, records.len, 2000) : 0;
	peak = peak_rss(&v, 2000);
	health = fcgi_get(v.s.sock, "/healthz", HOSTILE_BOUND_MS);
	snprintf(seen, sizeof(seen), "2,000 requests never read: %zu of %zu bytes of requests "
	    "taken, RSS at most %ld kB (%ld at rest), /healthz meanwhile %d; closed", sent,
	    records.len, peak, v.rss_kb, health);
	CU_ASSERT(peak >= 0 && peak <= v.rss_kb + HOSTILE_RSS_PEAK_KB);
	CU_ASSERT_EQUAL(health, 200);
	if (fd >= 0)
		close(fd);
	victim_finish(&v, seen);
	buf_free(&records);
}
