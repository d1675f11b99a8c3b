/* unit-fcgi-records.c - the FastCGI codec's parser: requests split at every byte, pair lengths,
 * padding, libfcgi's two crash records, bounds, and the protocol's own answers. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "t/unit.h"
#include "t/unit-fcgi.h"

void
test_request_split_everywhere(void)
{
	struct buf in = BUF_INIT, pairs = BUF_INIT;
	struct run r;

	pair(&pairs, "REQUEST_METHOD", "POST", false);
	pair(&pairs, "A", "b", true);		/* short lengths in the 4-byte form */
	pair(&pairs, "EMPTY", "", false);
	request(&in, 1, &pairs, "hello", 3);
	record(&in, FCGI_TYPE_STDIN, 1, "late", 4, 0);	/* of a request that ended: ignored */
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OK, "[begin 1 keep][params 1 3]REQUEST_METHOD=POST;A=b;EMPTY=;"
	    "[stdin]hello[end]");
	CU_ASSERT(r.out.len == 0);
	run_free(&r);
	/* Still in flight: a record after its end is out of order. */
	hold_requests = true;
	feed_all_ways(&in, &limits, &r);
	hold_requests = false;
	expect(&r, FCGI_RC_OUT_OF_ORDER, "[begin 1 keep][params 1 3]REQUEST_METHOD=POST;A=b;"
	    "EMPTY=;[stdin]hello[end]");
	run_free(&r);
	buf_free(&in);
	buf_free(&pairs);
}

/* 127 bytes take one length byte, 128 four; a name of 300 and a value of 70000 bytes (in
 * two PARAMS records, the pair itself split between them). */
void
test_pair_lengths(void)
{
	struct fcgi_limits big = { 100000, 1, 1 };
	struct buf in = BUF_INIT, pairs = BUF_INIT, want = BUF_INIT;
	char v127[128], v128[129], *n300 = calloc(301, 1), *v70k = calloc(70001, 1);
	struct run r;

	CU_ASSERT_FATAL(n300 != NULL && v70k != NULL);
	memset(v127, 'x', 127), v127[127] = '\0';
	memset(v128, 'y', 128), v128[128] = '\0';
	memset(n300, 'N', 300), memset(v70k, 'v', 70000);
	pair(&pairs, "S", v127, false);
	pair(&pairs, "L", v128, false);
	CU_ASSERT(pairs.len == 2 + 1 + 127 + 1 + 4 + 1 + 128);
	pair(&pairs, n300, v70k, false);
	begin(&in, 1, FCGI_ROLE_RESPONDER, false);
	record(&in, FCGI_TYPE_PARAMS, 1, pairs.data, 40000, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, pairs.data + 40000, pairs.len - 40000, 5);
	record(&in, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	feed(&r, &in, in.len, 0, &big);
	CU_ASSERT_FATAL(buf_printf(&want, "[begin 1][params 1 3]S=%s;L=%s;%s=%s;", v127, v128,
	    n300, v70k) == 0);
	expect(&r, FCGI_RC_OK, buf_str(&want));
	run_free(&r);
	free(n300), free(v70k);
	buf_free(&in), buf_free(&pairs), buf_free(&want);
}

/* Padding of 0 to 255 bytes after every record changes nothing. */
void
test_padding(void)
{
	struct buf pairs = BUF_INIT;
	unsigned pad;

	pair(&pairs, "K", "v", false);
	for (pad = 0; pad <= 255; pad += 51) {
		struct buf in = BUF_INIT;
		struct run r;

		request(&in, 7, &pairs, "body", (uint8_t)pad);
		feed(&r, &in, in.len, 0, &limits);
		expect(&r, FCGI_RC_OK, "[begin 7 keep][params 7 1]K=v;[stdin]body[end]");
		run_free(&r);
		buf_free(&in);
	}
	buf_free(&pairs);
}

/* libfcgi's first crash: GET_VALUES naming FCGI_MAX_CONNS eight times overflowed its 64-byte
 * answer. Here: one answer, each variable once, unknown names ignored. */
void
test_get_values(void)
{
	struct buf in = BUF_INIT, q = BUF_INIT, want = BUF_INIT, a = BUF_INIT;
	struct run r;
	int i;

	for (i = 0; i < 8; i++)
		pair(&q, "FCGI_MAX_CONNS", "", false);
	record(&in, FCGI_TYPE_GET_VALUES, 0, q.data, q.len, 0);
	feed_all_ways(&in, &limits, &r);
	pair(&a, "FCGI_MAX_CONNS", "100", false);
	record(&want, FCGI_TYPE_GET_VALUES_RESULT, 0, a.data, a.len,
	    (uint8_t)((8 - a.len % 8) % 8));
	expect(&r, FCGI_RC_OK, "");
	expect_out(&r, &want);
	run_free(&r);
	buf_truncate(&in, 0), buf_truncate(&q, 0), buf_truncate(&want, 0), buf_truncate(&a, 0);
	pair(&q, "FCGI_MPXS_CONNS", "", false);
	pair(&q, "NOT_OURS", "", false);
	pair(&q, "FCGI_MAX_REQS", "", true);
	pair(&q, "FCGI_MAX_CONNS", "", false);
	record(&in, FCGI_TYPE_GET_VALUES, 0, q.data, q.len, 0);
	feed(&r, &in, in.len, 0, &limits);
	pair(&a, "FCGI_MAX_CONNS", "100", false);
	pair(&a, "FCGI_MAX_REQS", "50", false);
	pair(&a, "FCGI_MPXS_CONNS", "0", false);
	record(&want, FCGI_TYPE_GET_VALUES_RESULT, 0, a.data, a.len,
	    (uint8_t)((8 - a.len % 8) % 8));
	expect_out(&r, &want);
	CU_ASSERT(r.rc == FCGI_RC_OK && want.len < 128);
	run_free(&r);
	buf_free(&in), buf_free(&q), buf_free(&want), buf_free(&a);
}

/* libfcgi's second crash: a name length of 0x7ffffffe (and 0x7fffffff) is refused as soon as
 * its length is in, without waiting for bytes that would never fit, and nothing overflows. */
void
test_huge_name_length(void)
{
	static const uint8_t huge[2][5] = { { 0xff, 0xff, 0xff, 0xfe, 0 },
	    { 0xff, 0xff, 0xff, 0xff, 0 } };
	struct fcgi_limits unbounded = { SIZE_MAX, 1, 1 };
	int i;

	for (i = 0; i < 2; i++) {
		struct buf in = BUF_INIT;
		struct run r;

		begin(&in, 1, FCGI_ROLE_RESPONDER, true);
		record(&in, FCGI_TYPE_PARAMS, 1, huge[i], 5, 0);
		feed_all_ways(&in, &limits, &r);
		expect(&r, FCGI_RC_PARAMS_TOO_BIG, "[begin 1 keep]");
		run_free(&r);
		feed(&r, &in, in.len, 0, &unbounded);	/* the room check alone cannot wrap */
		expect(&r, FCGI_RC_OK, "[begin 1 keep]");
		run_free(&r);
		buf_free(&in);
	}
}

/* Parameters of exactly the bound pass; one byte more, or 10,000 one-pair records, refused. */
void
test_params_bound(void)
{
	struct fcgi_limits small = { 64, 1, 1 };
	struct buf in = BUF_INIT, pairs = BUF_INIT;
	char v[63];
	struct run r;
	int i;

	memset(v, 'v', 61), v[61] = '\0';
	pair(&pairs, "N", v, false);		/* 2 + 1 + 61 = 64 bytes */
	request(&in, 1, &pairs, "", 0);
	feed(&r, &in, in.len, 0, &small);
	CU_ASSERT(r.rc == FCGI_RC_OK && r.log.len > 0);
	run_free(&r);
	buf_truncate(&in, 0), buf_truncate(&pairs, 0);
	memset(v, 'v', 62), v[62] = '\0';
	pair(&pairs, "N", v, false);
	request(&in, 1, &pairs, "", 0);
	feed_all_ways(&in, &small, &r);
	expect(&r, FCGI_RC_PARAMS_TOO_BIG, "[begin 1 keep]");
	run_free(&r);
	buf_truncate(&in, 0), buf_truncate(&pairs, 0);
	begin(&in, 1, FCGI_ROLE_RESPONDER, true);
	pair(&pairs, "A", "1", false);
	for (i = 0; i < 10000; i++)
		record(&in, FCGI_TYPE_PARAMS, 1, pairs.data, pairs.len, 0);
	feed(&r, &in, in.len, 0, &limits);
	expect(&r, FCGI_RC_PARAMS_TOO_BIG, "[begin 1 keep]");
	CU_ASSERT(r.conn.params.len <= limits.max_params_bytes);
	run_free(&r);
	buf_free(&in), buf_free(&pairs);
}

/* Unknown types, types only a web server receives, and management records other than
 * GET_VALUES get UNKNOWN_TYPE; the connection goes on. */
void
test_unknown_type(void)
{
	static const uint8_t types[] = { 42, FCGI_TYPE_STDOUT, FCGI_TYPE_END_REQUEST, 0 };
	struct buf in = BUF_INIT, want = BUF_INIT, pairs = BUF_INIT;
	struct run r;
	size_t i;

	for (i = 0; i < sizeof(types); i++) {
		uint8_t body[8] = { types[i], 0, 0, 0, 0, 0, 0, 0 };

		record(&in, types[i], 1, "abc", 3, 5);
		record(&want, FCGI_TYPE_UNKNOWN_TYPE, 0, body, 8, 0);
	}
	record(&in, FCGI_TYPE_STDIN, 0, "x", 1, 0);	/* a request type as management record */
	record(&want, FCGI_TYPE_UNKNOWN_TYPE, 0, (const uint8_t[8]){ FCGI_TYPE_STDIN }, 8, 0);
	request(&in, 1, &pairs, "", 0);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OK, "[begin 1 keep][params 1 0][end]");
	expect_out(&r, &want);
	run_free(&r);
	buf_free(&in), buf_free(&want), buf_free(&pairs);
}

/* A role other than RESPONDER: END_REQUEST UNKNOWN_ROLE, that request's records ignored. */
void
test_unknown_role(void)
{
	struct buf in = BUF_INIT, want = BUF_INIT, pairs = BUF_INIT;
	struct run r;

	pair(&pairs, "K", "v", false);
	begin(&in, 1, 2, true);			/* AUTHORIZER */
	record(&in, FCGI_TYPE_PARAMS, 1, pairs.data, pairs.len, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	request(&in, 1, &pairs, "", 0);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OK, "[begin 1 keep][params 1 1]K=v;[end]");
	CU_ASSERT_FATAL(fcgi_write_end_request(&want, 1, 0, FCGI_STATUS_UNKNOWN_ROLE) == 0);
	expect_out(&r, &want);
	run_free(&r);
	buf_free(&in), buf_free(&want), buf_free(&pairs);
}

/* A second BEGIN while one is in flight: CANT_MPX_CONN under its id, its records ignored, the
 * first request unharmed; a BEGIN of the id in flight is refused. */
void
test_second_begin(void)
{
	struct buf in = BUF_INIT, want = BUF_INIT, pairs = BUF_INIT;
	struct run r;

	pair(&pairs, "K", "v", false);
	begin(&in, 1, FCGI_ROLE_RESPONDER, false);
	begin(&in, 2, FCGI_ROLE_RESPONDER, true);
	record(&in, FCGI_TYPE_PARAMS, 2, "\1\1XY", 4, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, pairs.data, pairs.len, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	record(&in, FCGI_TYPE_STDIN, 2, "other", 5, 0);
	begin(&in, 1, FCGI_ROLE_RESPONDER, false);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OUT_OF_ORDER, "[begin 1][params 1 1]K=v;");
	CU_ASSERT_FATAL(fcgi_write_end_request(&want, 2, 0, FCGI_STATUS_CANT_MPX_CONN) == 0);
	expect_out(&r, &want);
	run_free(&r);
	buf_free(&in), buf_free(&want), buf_free(&pairs);
}

/* ABORT_REQUEST of the request in flight is reported once; of another id, ignored. */
void
test_abort(void)
{
	struct buf in = BUF_INIT, pairs = BUF_INIT;
	struct run r;

	begin(&in, 1, FCGI_ROLE_RESPONDER, true);
	record(&in, FCGI_TYPE_ABORT_REQUEST, 2, "", 0, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	record(&in, FCGI_TYPE_ABORT_REQUEST, 1, "", 0, 0);
	record(&in, FCGI_TYPE_ABORT_REQUEST, 1, "", 0, 0);
	record(&in, FCGI_TYPE_STDIN, 1, "", 0, 0);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_OK, "[begin 1 keep][params 1 0][abort][end]");
	run_free(&r);
	buf_free(&in), buf_free(&pairs);
}

/* Records out of order, a bad version, pairs that run past the end of PARAMS. */
void
test_refused(void)
{
	struct buf in = BUF_INIT;
	struct run r;

	begin(&in, 1, FCGI_ROLE_RESPONDER, true);
	record(&in, FCGI_TYPE_STDIN, 1, "x", 1, 0);
	feed(&r, &in, in.len, 0, &limits);
	expect(&r, FCGI_RC_OUT_OF_ORDER, "[begin 1 keep]");
	CU_ASSERT_EQUAL(fcgi_conn_feed(&r.conn, "\1", 1), FCGI_RC_OUT_OF_ORDER);	/* sticky */
	run_free(&r);
	buf_truncate(&in, 0);
	CU_ASSERT_FATAL(buf_append(&in, "\2\1\0\1\0\0\0\0", 8) == 0);
	feed(&r, &in, in.len, 0, &limits);
	expect(&r, FCGI_RC_BAD_VERSION, "");
	run_free(&r);
	buf_truncate(&in, 0);
	begin(&in, 1, FCGI_ROLE_RESPONDER, true);
	record(&in, FCGI_TYPE_PARAMS, 1, "\3\5ab", 4, 0);
	record(&in, FCGI_TYPE_PARAMS, 1, "", 0, 0);
	feed_all_ways(&in, &limits, &r);
	expect(&r, FCGI_RC_BAD_PAIRS, "[begin 1 keep]");
	run_free(&r);
	buf_truncate(&in, 0);
	record(&in, FCGI_TYPE_BEGIN_REQUEST, 1, "\0\1\0\0\0\0\0\0\0", 9, 0);
	feed(&r, &in, in.len, 0, &limits);
	expect(&r, FCGI_RC_OUT_OF_ORDER, "");
	run_free(&r);
	buf_free(&in);
}

