/* fuzz-fcgi.c - libFuzzer target: the FastCGI codec (cgi/serve/event/fcgi.c) fed arbitrary bytes whole and
 * in arbitrary chunks. It must not crash, must give the same events, answers and rc however the
 * bytes are cut, must keep its parameters within the bound, and must answer no more than a
 * bounded number of bytes per byte read. */
#include "cgi/serve/event/fcgi.h"
#include "t/fuzz/fuzz.h"

static const struct fcgi_limits fuzz_limits = { 1024, 10, 10 };

/* What a feed produced: the events (STDIN bytes merged however they were cut), the codec's
 * answers, its rc. */
struct run {
	struct fcgi_conn conn;
	struct buf log, out;
	bool in_stdin;
	bool hold;	/* requests stay in flight after their STDIN (else end at once) */
	bool pause;	/* every event pauses the feed (fcgi_conn_feed_some) */
	enum fcgi_rc rc;
};

static void
log_append(struct buf *log, const void *p, size_t n)
{
	if (buf_append(log, p, n) != 0)
		abort();
}

/* The pairs of a PARAMS event: all of its bytes, as many as it says. */
static void
check_params(const struct fcgi_event *ev, struct buf *log)
{
	struct fcgi_param p;
	size_t pos = 0, count = 0;

	while (fcgi_param_next(ev, &pos, &p)) {
		if (p.name < ev->data || p.value + p.value_len > ev->data + ev->len)
			__builtin_trap();
		log_append(log, &p.name_len, sizeof(p.name_len));
		log_append(log, p.name, p.name_len);
		log_append(log, &p.value_len, sizeof(p.value_len));
		log_append(log, p.value, p.value_len);
		count++;
	}
	if (pos != ev->len || count != ev->param_count || ev->len > fuzz_limits.max_params_bytes)
		__builtin_trap();
}

static int
on_event(void *ctx, const struct fcgi_event *ev)
{
	struct run *r = ctx;
	uint8_t tag[4] = { (uint8_t)ev->kind, (uint8_t)(ev->request_id >> 8),
	    (uint8_t)ev->request_id, ev->keep_conn };

	if (ev->request_id == 0 || !fcgi_conn_busy(&r->conn))
		__builtin_trap();
	if (ev->kind == FCGI_EV_STDIN && (ev->len == 0 || ev->data == NULL))
		__builtin_trap();
	if (!(ev->kind == FCGI_EV_STDIN && r->in_stdin))
		log_append(&r->log, tag, sizeof(tag));
	r->in_stdin = ev->kind == FCGI_EV_STDIN;
	if (ev->kind == FCGI_EV_STDIN)
		log_append(&r->log, ev->data, ev->len);
	else if (ev->kind == FCGI_EV_PARAMS)
		check_params(ev, &r->log);
	else if (ev->kind == FCGI_EV_STDIN_END && !r->hold)
		fcgi_conn_request_done(&r->conn);	/* as if answered at once */
	return r->pause ? FCGI_PAUSE : 0;
}

/* Feeds a chunk: at once, or, pausing at every event, piece after piece from where each pause
 * left off (each must make progress). */
static enum fcgi_rc
feed_chunk(struct run *r, const uint8_t *data, size_t n)
{
	enum fcgi_rc rc = FCGI_RC_OK;
	size_t at = 0, used;

	if (!r->pause)
		return fcgi_conn_feed(&r->conn, data, n);
	while (at < n && (rc = fcgi_conn_feed_some(&r->conn, data + at, n - at, &used)) ==
	    FCGI_RC_OK) {
		if (used == 0)
			__builtin_trap();
		at += used;
	}
	return rc;
}

/* Feeds data in chunks whose sizes come from a small generator seeded by `seed` (0: whole);
 * hold keeps requests in flight after their STDIN. */
static void
feed(struct run *r, const uint8_t *data, size_t size, uint32_t seed, bool hold, bool pause)
{
	size_t at = 0;

	memset(r, 0, sizeof(*r));
	r->hold = hold;
	r->pause = pause;
	fcgi_conn_init(&r->conn, &fuzz_limits, on_event, r, &r->out);
	do {
		size_t n = size - at;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			n = 1 + (seed >> 16) % (seed & 0x100 ? 3 : 300);
			if (n > size - at)
				n = size - at;
		}
		r->rc = feed_chunk(r, data + at, n);
		at += n;
		if (r->conn.params.len > fuzz_limits.max_params_bytes)
			__builtin_trap();
	} while (at < size);
	/* Answers: at most 16 bytes for every 8 read, and one GET_VALUES_RESULT. */
	if (r->out.len > 2 * size + 128)
		__builtin_trap();
}

static void
run_free(struct run *r)
{
	fcgi_conn_free(&r->conn);
	buf_free(&r->log);
	buf_free(&r->out);
}

static bool
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

/* Input: two bytes seeding the chunk sizes (the high bit: hold requests; the next: the cut run
 * pauses at every event), then the bytes the web server sends. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct run whole, cut;
	uint32_t seed;
	bool hold;

	if (size < 2)
		return 0;
	seed = (uint32_t)data[0] << 8 | data[1] | 0x10000;
	hold = data[0] & 0x80;
	feed(&whole, data + 2, size - 2, 0, hold, false);
	feed(&cut, data + 2, size - 2, seed, hold, data[0] & 0x40);
	if (whole.rc != cut.rc || !same(&whole.log, &cut.log) || !same(&whole.out, &cut.out))
		__builtin_trap();
	run_free(&whole);
	run_free(&cut);
	return 0;
}
