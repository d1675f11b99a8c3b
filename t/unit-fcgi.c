/* unit-fcgi.c - unit tests of the FastCGI codec (cgi/serve/event/fcgi.c): requests fed whole and split at
 * every byte, pair lengths, padding, libfcgi's two crash records, bounds, the protocol's own
 * answers, the writers byte for byte, and requests captured from libfcgi's cgi-fcgi and nginx. */
#include <stdint.h>
#include <string.h>

#include "cgi/serve/event/fcgi.h"
#include "t/unit.h"
#include "t/unit-fcgi.h"

const struct fcgi_limits limits = { 4096, 100, 50 };
bool hold_requests;
static bool pause_at_params;	/* on_event answers FCGI_PAUSE to each PARAMS */

static void
log_bytes(struct buf *log, const uint8_t *p, size_t n)
{
	CU_ASSERT_FATAL(buf_append(log, p, n) == 0);
}

static int
on_event(void *ctx, const struct fcgi_event *ev)
{
	struct run *r = ctx;
	struct fcgi_param p;
	size_t pos = 0;

	if (ev->kind == FCGI_EV_STDIN && r->in_stdin)
		return log_bytes(&r->log, ev->data, ev->len), 0;
	r->in_stdin = ev->kind == FCGI_EV_STDIN;
	switch (ev->kind) {
	case FCGI_EV_BEGIN:
		CU_ASSERT_FATAL(buf_printf(&r->log, "[begin %u%s]", ev->request_id,
		    ev->keep_conn ? " keep" : "") == 0);
		break;
	case FCGI_EV_PARAMS:
		CU_ASSERT_FATAL(buf_printf(&r->log, "[params %u %zu]", ev->request_id,
		    ev->param_count) == 0);
		while (fcgi_param_next(ev, &pos, &p)) {
			log_bytes(&r->log, p.name, p.name_len);
			log_bytes(&r->log, (const uint8_t *)"=", 1);
			log_bytes(&r->log, p.value, p.value_len);
			log_bytes(&r->log, (const uint8_t *)";", 1);
		}
		CU_ASSERT(pos == ev->len);
		if (pause_at_params)
			return FCGI_PAUSE;
		break;
	case FCGI_EV_STDIN:
		CU_ASSERT_FATAL(buf_puts(&r->log, "[stdin]") == 0);
		log_bytes(&r->log, ev->data, ev->len);
		break;
	case FCGI_EV_STDIN_END:
		CU_ASSERT_FATAL(buf_puts(&r->log, "[end]") == 0);
		if (!hold_requests)
			fcgi_conn_request_done(&r->conn);	/* as if answered at once */
		break;
	case FCGI_EV_ABORT:
		CU_ASSERT_FATAL(buf_puts(&r->log, "[abort]") == 0);
		break;
	}
	return 0;
}

/* Feeds in[0..cut) at once, then the rest `step` bytes at a time (0: at once). */
void
feed(struct run *r, const struct buf *in, size_t cut, size_t step, const struct fcgi_limits *l)
{
	size_t at;

	memset(r, 0, sizeof(*r));
	fcgi_conn_init(&r->conn, l, on_event, r, &r->out);
	r->rc = fcgi_conn_feed(&r->conn, in->data, cut);
	for (at = cut; at < in->len; at += step > 0 ? step : in->len)
		r->rc = fcgi_conn_feed(&r->conn, in->data + at,
		    step > 0 && step < in->len - at ? step : in->len - at);
}

void
run_free(struct run *r)
{
	fcgi_conn_free(&r->conn);
	buf_free(&r->log);
	buf_free(&r->out);
}

/* Feeds in whole, cut at every byte, and a byte at a time: the same events, answers and rc
 * each time. Leaves the whole run in *whole. */
void
feed_all_ways(const struct buf *in, const struct fcgi_limits *l, struct run *whole)
{
	size_t cut;
	struct run r;

	feed(whole, in, in->len, 0, l);
	for (cut = 0; cut <= in->len + 1; cut++) {
		if (cut <= in->len)
			feed(&r, in, cut, 0, l);
		else
			feed(&r, in, 0, 1, l);
		CU_ASSERT_EQUAL(r.rc, whole->rc);
		CU_ASSERT(r.log.len == whole->log.len &&
		    memcmp(buf_str(&r.log), buf_str(&whole->log), r.log.len) == 0);
		CU_ASSERT(r.out.len == whole->out.len &&
		    memcmp(buf_str(&r.out), buf_str(&whole->out), r.out.len) == 0);
		run_free(&r);
	}
}

void
record(struct buf *b, uint8_t type, uint16_t id, const void *content, size_t len, uint8_t pad)
{
	uint8_t h[8] = { 1, type, (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(len >> 8),
	    (uint8_t)len, pad, 0 };
	static const uint8_t zeros[255];

	CU_ASSERT_FATAL(len <= FCGI_RECORD_MAX);
	CU_ASSERT_FATAL(buf_append(b, h, 8) == 0 && buf_append(b, content, len) == 0 &&
	    buf_append(b, zeros, pad) == 0);
}

static void
put_length(struct buf *b, uint32_t n, bool four)
{
	uint8_t l[4] = { (uint8_t)(n >> 24 | 0x80), (uint8_t)(n >> 16), (uint8_t)(n >> 8),
	    (uint8_t)n };

	if (four || n > 127) {
		CU_ASSERT_FATAL(buf_append(b, l, 4) == 0);
	} else {
		CU_ASSERT_FATAL(buf_append(b, &l[3], 1) == 0);
	}
}

void
pair(struct buf *b, const char *name, const char *value, bool four)
{
	put_length(b, (uint32_t)strlen(name), four);
	put_length(b, (uint32_t)strlen(value), four);
	CU_ASSERT_FATAL(buf_puts(b, name) == 0 && buf_puts(b, value) == 0);
}

void
begin(struct buf *b, uint16_t id, unsigned role, bool keep)
{
	uint8_t body[8] = { (uint8_t)(role >> 8), (uint8_t)role, keep ? 1 : 0, 0, 0, 0, 0, 0 };

	record(b, FCGI_TYPE_BEGIN_REQUEST, id, body, 8, 0);
}

/* A whole request of id: BEGIN, the pairs, the end of PARAMS, body, the end of STDIN. */
void
request(struct buf *b, uint16_t id, const struct buf *pairs, const char *body, uint8_t pad)
{
	begin(b, id, FCGI_ROLE_RESPONDER, true);
	if (pairs->len > 0)
		record(b, FCGI_TYPE_PARAMS, id, pairs->data, pairs->len, pad);
	record(b, FCGI_TYPE_PARAMS, id, "", 0, pad);
	if (*body != '\0')
		record(b, FCGI_TYPE_STDIN, id, body, strlen(body), pad);
	record(b, FCGI_TYPE_STDIN, id, "", 0, pad);
}

void
expect(const struct run *r, enum fcgi_rc rc, const char *log)
{
	CU_ASSERT_EQUAL(r->rc, rc);
	CU_ASSERT_STRING_EQUAL(buf_str(&r->log), log);
	if (strcmp(buf_str(&r->log), log) != 0)
		fprintf(stderr, "\n got: %s\nwant: %s\n", buf_str(&r->log), log);
}

void
expect_out(const struct run *r, const struct buf *want)
{
	CU_ASSERT(r->out.len == want->len &&
	    memcmp(buf_str(&r->out), buf_str(want), want->len) == 0);
}

/* The writers, byte for byte: a small body, nothing for an empty one, a body over one record. */
static void
test_writers(void)
{
	static const uint8_t small[] = { 1, 6, 0, 1, 0, 3, 5, 0, 'a', 'b', 'c', 0, 0, 0, 0, 0,
	    1, 6, 0, 1, 0, 0, 0, 0, 1, 3, 0, 1, 0, 8, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0 };
	struct buf out = BUF_INIT;
	size_t big = 70000, second = big - 65535;
	char *body = malloc(big);
	const uint8_t *o;

	CU_ASSERT_FATAL(body != NULL);
	memset(body, 'z', big);
	CU_ASSERT(fcgi_write_stdout(&out, 1, "", 0) == 0 && out.len == 0);
	CU_ASSERT(fcgi_write_stdout(&out, 1, "abc", 3) == 0);
	CU_ASSERT(fcgi_write_stdout_end(&out, 1) == 0);
	CU_ASSERT(fcgi_write_end_request(&out, 1, 258, FCGI_STATUS_REQUEST_COMPLETE) == 0);
	CU_ASSERT(out.len == sizeof(small) && memcmp(out.data, small, sizeof(small)) == 0);
	buf_truncate(&out, 0);
	CU_ASSERT_FATAL(fcgi_write_stdout(&out, 0x1234, body, big) == 0);
	o = (const uint8_t *)out.data;
	CU_ASSERT_FATAL(out.len == 8 + 65535 + 1 + 8 + second + 7);
	CU_ASSERT(memcmp(o, "\1\6\x12\x34\xff\xff\1\0", 8) == 0 && o[8 + 65535] == 0);
	o += 8 + 65536;
	CU_ASSERT(o[4] == second >> 8 && o[5] == (second & 0xff) && o[6] == 7 && o[7] == 0);
	CU_ASSERT(memcmp(o + 8, body, second) == 0);
	CU_ASSERT(memcmp(o + 8 + second, "\0\0\0\0\0\0\0", 7) == 0);
	free(body);
	buf_free(&out);
}

/* What libfcgi's own client sends (captured from `cgi-fcgi -bind -connect` with five variables
 * and "hello" on its stdin): one PARAMS record with a 4-byte length, padding, no KEEP_CONN. */
static const uint8_t cgi_fcgi_request[] = {
	0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x01, 0x01, 0x1e, 0x02, 0x00,
	0x0e, 0x04, 0x52, 0x45, 0x51, 0x55, 0x45, 0x53, 0x54, 0x5f, 0x4d, 0x45,
	0x54, 0x48, 0x4f, 0x44, 0x50, 0x4f, 0x53, 0x54, 0x0b, 0x04, 0x53, 0x43,
	0x52, 0x49, 0x50, 0x54, 0x5f, 0x4e, 0x41, 0x4d, 0x45, 0x2f, 0x61, 0x70,
	0x69, 0x0c, 0x03, 0x51, 0x55, 0x45, 0x52, 0x59, 0x5f, 0x53, 0x54, 0x52,
	0x49, 0x4e, 0x47, 0x61, 0x3d, 0x31, 0x0e, 0x01, 0x43, 0x4f, 0x4e, 0x54,
	0x45, 0x4e, 0x54, 0x5f, 0x4c, 0x45, 0x4e, 0x47, 0x54, 0x48, 0x35, 0x0a,
	0x80, 0x00, 0x00, 0xc8, 0x4c, 0x4f, 0x4e, 0x47, 0x5f, 0x56, 0x41, 0x4c,
	0x55, 0x45, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76,
	0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x76, 0x00, 0x00,
	0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00, 0x01,
	0x00, 0x05, 0x00, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x01, 0x05, 0x00,
	0x01, 0x00, 0x00, 0x00, 0x00,

};

/* Feeds a captured request all ways: its events as want, no answer from the codec. */
static void
check_capture(const uint8_t *bytes, size_t len, const char *want)
{
	struct buf in = BUF_INIT;
	struct run r;

	CU_ASSERT_FATAL(buf_append(&in, bytes, len) == 0);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OK, want);
	CU_ASSERT(r.out.len == 0);
	run_free(&r);
	buf_free(&in);
}

static void
test_cgi_fcgi_capture(void)
{
	struct buf want = BUF_INIT;
	char v[201];

	memset(v, 'v', 200), v[200] = '\0';
	CU_ASSERT_FATAL(buf_printf(&want, "[begin 1][params 1 5]REQUEST_METHOD=POST;"
	    "SCRIPT_NAME=/api;QUERY_STRING=a=1;CONTENT_LENGTH=5;LONG_VALUE=%s;"
	    "[stdin]hello[end]", v) == 0);
	check_capture(cgi_fcgi_request, sizeof(cgi_fcgi_request), buf_str(&want));
	buf_free(&want);
}

/* What nginx 1.22 sends (captured: fastcgi_keep_conn on, four fastcgi_param, curl posting
 * "hello" to /api?a=1): KEEP_CONN, PARAMS and STDIN padded. */
static const uint8_t nginx_request[] = {
	0x01, 0x01, 0x00, 0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x01, 0x04, 0x00, 0x01, 0x00, 0xd7, 0x01, 0x00,
	0x0e, 0x04, 0x52, 0x45, 0x51, 0x55, 0x45, 0x53, 0x54, 0x5f, 0x4d, 0x45,
	0x54, 0x48, 0x4f, 0x44, 0x50, 0x4f, 0x53, 0x54, 0x0c, 0x03, 0x51, 0x55,
	0x45, 0x52, 0x59, 0x5f, 0x53, 0x54, 0x52, 0x49, 0x4e, 0x47, 0x61, 0x3d,
	0x31, 0x0e, 0x01, 0x43, 0x4f, 0x4e, 0x54, 0x45, 0x4e, 0x54, 0x5f, 0x4c,
	0x45, 0x4e, 0x47, 0x54, 0x48, 0x35, 0x0b, 0x04, 0x53, 0x43, 0x52, 0x49,
	0x50, 0x54, 0x5f, 0x4e, 0x41, 0x4d, 0x45, 0x2f, 0x61, 0x70, 0x69, 0x09,
	0x0f, 0x48, 0x54, 0x54, 0x50, 0x5f, 0x48, 0x4f, 0x53, 0x54, 0x31, 0x32,
	0x37, 0x2e, 0x30, 0x2e, 0x30, 0x2e, 0x31, 0x3a, 0x34, 0x35, 0x38, 0x36,
	0x33, 0x0f, 0x0b, 0x48, 0x54, 0x54, 0x50, 0x5f, 0x55, 0x53, 0x45, 0x52,
	0x5f, 0x41, 0x47, 0x45, 0x4e, 0x54, 0x63, 0x75, 0x72, 0x6c, 0x2f, 0x37,
	0x2e, 0x38, 0x38, 0x2e, 0x31, 0x0b, 0x03, 0x48, 0x54, 0x54, 0x50, 0x5f,
	0x41, 0x43, 0x43, 0x45, 0x50, 0x54, 0x2a, 0x2f, 0x2a, 0x13, 0x01, 0x48,
	0x54, 0x54, 0x50, 0x5f, 0x43, 0x4f, 0x4e, 0x54, 0x45, 0x4e, 0x54, 0x5f,
	0x4c, 0x45, 0x4e, 0x47, 0x54, 0x48, 0x35, 0x11, 0x21, 0x48, 0x54, 0x54,
	0x50, 0x5f, 0x43, 0x4f, 0x4e, 0x54, 0x45, 0x4e, 0x54, 0x5f, 0x54, 0x59,
	0x50, 0x45, 0x61, 0x70, 0x70, 0x6c, 0x69, 0x63, 0x61, 0x74, 0x69, 0x6f,
	0x6e, 0x2f, 0x78, 0x2d, 0x77, 0x77, 0x77, 0x2d, 0x66, 0x6f, 0x72, 0x6d,
	0x2d, 0x75, 0x72, 0x6c, 0x65, 0x6e, 0x63, 0x6f, 0x64, 0x65, 0x64, 0x00,
	0x01, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x05, 0x00, 0x01,
	0x00, 0x05, 0x03, 0x00, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00,
	0x01, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
};

static void
test_nginx_capture(void)
{
	check_capture(nginx_request, sizeof(nginx_request), "[begin 1 keep][params 1 9]"
	    "REQUEST_METHOD=POST;QUERY_STRING=a=1;CONTENT_LENGTH=5;SCRIPT_NAME=/api;"
	    "HTTP_HOST=127.0.0.1:45863;HTTP_USER_AGENT=curl/7.88.1;HTTP_ACCEPT=*/*;"
	    "HTTP_CONTENT_LENGTH=5;HTTP_CONTENT_TYPE=application/x-www-form-urlencoded;"
	    "[stdin]hello[end]");
}

/* Three requests in one buffer, the callback pausing at each one's parameters: each feed stops
 * right after them, what it took counted, and the rest parses on from there. */
static void
test_pause(void)
{
	struct buf in = BUF_INIT, pairs = BUF_INIT;
	struct run r;
	size_t at = 0, used, feeds = 0;

	pair(&pairs, "REQUEST_URI", "/x", false);
	for (uint16_t id = 1; id <= 3; id++)
		request(&in, id, &pairs, "", 0);
	memset(&r, 0, sizeof(r));
	fcgi_conn_init(&r.conn, &limits, on_event, &r, &r.out);
	pause_at_params = true;
	while (at < in.len && feeds++ < 10) {
		CU_ASSERT_EQUAL(fcgi_conn_feed_some(&r.conn, in.data + at, in.len - at, &used),
		    FCGI_RC_OK);
		CU_ASSERT(used > 0);
		at += used;
	}
	pause_at_params = false;
	CU_ASSERT_EQUAL(at, in.len);
	CU_ASSERT_EQUAL(feeds, 4);	/* three pauses, then the last STDIN */
	expect(&r, FCGI_RC_OK, "[begin 1 keep][params 1 1]REQUEST_URI=/x;[end]"
	    "[begin 2 keep][params 2 1]REQUEST_URI=/x;[end][begin 3 keep][params 3 1]"
	    "REQUEST_URI=/x;[end]");
	run_free(&r);
	buf_free(&in);
	buf_free(&pairs);
}

int
main(void)
{
	static const struct unit_test tests[] = {
		{ "a request split at every byte", test_request_split_everywhere },
		{ "1- and 4-byte pair lengths", test_pair_lengths },
		{ "padding", test_padding },
		{ "GET_VALUES: libfcgi's overflow, bounded answer", test_get_values },
		{ "a name length of 0x7ffffffe refused", test_huge_name_length },
		{ "the bound on parameters", test_params_bound },
		{ "UNKNOWN_TYPE", test_unknown_type },
		{ "a role other than RESPONDER", test_unknown_role },
		{ "a second BEGIN_REQUEST", test_second_begin },
		{ "ABORT_REQUEST", test_abort },
		{ "refused records", test_refused },
		{ "the writers byte for byte", test_writers },
		{ "a request from cgi-fcgi", test_cgi_fcgi_capture },
		{ "a request from nginx", test_nginx_capture },
		{ "a pause stops after the event, the rest parses on", test_pause },
		{ NULL, NULL },
	};

	return unit_run("fcgi", NULL, NULL, tests);
}
