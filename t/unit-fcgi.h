/* unit-fcgi.h - what the FastCGI codec's unit test files share: a feeding harness that logs
 * events as text, record builders, and the tests of t/unit-fcgi-records.c. */
#ifndef T_UNIT_FCGI_H
#define T_UNIT_FCGI_H

#include <stdbool.h>
#include <stdint.h>

#include "cgi/serve/event/fcgi.h"
#include "common/buf.h"

extern const struct fcgi_limits limits;	/* 4096 bytes of parameters, 100 conns, 50 reqs */
/* false: the harness ends each request at the end of its STDIN, as if it answered at once;
 * true: requests stay in flight. */
extern bool hold_requests;

/* What a feed produced: the events as text (STDIN bytes merged however they were cut), the
 * codec's answers and its rc. */
struct run {
	struct fcgi_conn conn;
	struct buf log, out;
	bool in_stdin;
	enum fcgi_rc rc;
};

/* Feeds in[0..cut) at once, then the rest `step` bytes at a time (0: at once). */
void feed(struct run *r, const struct buf *in, size_t cut, size_t step,
    const struct fcgi_limits *l);
void run_free(struct run *r);
/* Feeds in whole, cut at every byte, and a byte at a time: asserts the same events, answers and
 * rc each time; leaves the whole run in *whole. */
void feed_all_ways(const struct buf *in, const struct fcgi_limits *l, struct run *whole);
/* Appends one record with `pad` zero bytes of padding. */
void record(struct buf *b, uint8_t type, uint16_t id, const void *content, size_t len,
    uint8_t pad);
/* Appends a name-value pair; `four` writes even short lengths in the 4-byte form. */
void pair(struct buf *b, const char *name, const char *value, bool four);
void begin(struct buf *b, uint16_t id, unsigned role, bool keep);
/* A whole request of id: BEGIN (keep), the pairs, the end of PARAMS, body, the end of STDIN. */
void request(struct buf *b, uint16_t id, const struct buf *pairs, const char *body,
    uint8_t pad);
/* Asserts the run's rc and its event log (and prints both logs when they differ). */
void expect(const struct run *r, enum fcgi_rc rc, const char *log);
void expect_out(const struct run *r, const struct buf *want);

void test_request_split_everywhere(void);
void test_pair_lengths(void);
void test_padding(void);
void test_get_values(void);
void test_huge_name_length(void);
void test_params_bound(void);
void test_unknown_type(void);
void test_unknown_role(void);
void test_second_begin(void);
void test_abort(void);
void test_refused(void);

#endif
