/* fuzz-h1.c - libFuzzer target: the lean client's response parser (cgi/backend/h1/h1parse.c) fed arbitrary
 * bytes, as the answers of one connection one after another, whole and cut anywhere. It must not
 * crash, must give the same answers (status, keep-alive, body, where each ends, why one is
 * refused, and whether for its framing) however the bytes are cut, and must keep the body, the heads and its line within
 * their bounds. */
#include "cgi/backend/h1/h1parse.h"
#include "t/fuzz/fuzz.h"

static const size_t caps[] = { 0, 1, 16, 100, 4096, 1 << 20, SIZE_MAX, 65536 };

static void
log_append(struct buf *log, const void *p, size_t n)
{
	if (buf_append(log, p, n) != 0)
		abort();
}

/* One answer's end: how, where, and what it gave. */
static void
log_answer(struct buf *log, enum h1p_rc rc, const struct h1p *p, const struct buf *body,
    size_t at)
{
	unsigned char flags[2] = { (unsigned char)rc, p->keep_alive };

	log_append(log, flags, sizeof(flags));
	log_append(log, &at, sizeof(at));
	log_append(log, &p->status, sizeof(p->status));
	if (rc == H1P_BAD) {
		log_append(log, p->error, strlen(p->error) + 1);
		log_append(log, &p->error_class, sizeof(p->error_class));
	}
	log_append(log, &body->len, sizeof(body->len));
	log_append(log, body->data != NULL ? body->data : "", body->len);
}

static void
check_bounds(const struct h1p *p, const struct buf *body, size_t max_body)
{
	if (body->len > max_body || p->head_bytes > H1P_HEAD_MAX || p->line.len > H1P_LINE_MAX)
		__builtin_trap();
}

/* The next piece's size: all that is left (mode 0), one byte (1), `split` then the rest (2),
 * or sizes from a small generator seeded by *seed (3). */
static size_t
piece(int mode, size_t at, size_t size, size_t split, uint32_t *seed)
{
	size_t n = size - at;

	if (mode == 1)
		n = 1;
	else if (mode == 2 && at < split)
		n = split - at;
	else if (mode == 3) {
		*seed = *seed * 1103515245u + 12345u;
		n = 1 + (*seed >> 16) % (*seed & 0x100 ? 5 : 700);
	}
	return n < size - at ? n : size - at;
}

/* Parses data as the answers of one connection, in pieces as `mode` says; the log of them. */
static void
parse_all(const uint8_t *data, size_t size, size_t max_body, int mode, size_t split,
    uint32_t seed, struct buf *log)
{
	struct buf body = BUF_INIT;
	enum h1p_rc rc = H1P_MORE;
	struct h1p p;
	size_t at = 0;

	h1p_init(&p, &body, max_body);
	while (at < size) {
		size_t n = piece(mode, at, size, split, &seed), used;

		rc = h1p_feed(&p, (const char *)data + at, n, &used);
		check_bounds(&p, &body, max_body);
		if (used > n || (rc == H1P_MORE && used != n))
			__builtin_trap();
		at += used;
		if (rc == H1P_MORE)
			continue;
		log_answer(log, rc, &p, &body, at);
		if (rc != H1P_DONE)
			break;
		buf_truncate(&body, 0);		/* the next answer on the same connection */
		h1p_reset(&p, &body, max_body);
	}
	if (rc == H1P_MORE || (rc == H1P_DONE && at == size && p.state != H1P_STATUS)) {
		rc = h1p_end(&p);
		log_answer(log, rc, &p, &body, at);
	}
	h1p_free(&p);
	buf_free(&body);
}

static bool
same(const struct buf *a, const struct buf *b)
{
	return a->len == b->len && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}

static void
expect_same(const struct buf *whole, const uint8_t *data, size_t size, size_t max_body,
    int mode, size_t split, uint32_t seed)
{
	struct buf log = BUF_INIT;

	parse_all(data, size, max_body, mode, split, seed, &log);
	if (!same(whole, &log))
		__builtin_trap();
	buf_free(&log);
}

/* Input: a byte choosing the body cap, a byte seeding the cut, then what the backend sends. */
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf whole = BUF_INIT;
	size_t max_body;

	if (size < 2)
		return 0;
	max_body = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
	parse_all(data + 2, size - 2, max_body, 0, 0, 0, &whole);
	expect_same(&whole, data + 2, size - 2, max_body, 1, 0, 0);
	expect_same(&whole, data + 2, size - 2, max_body, 3, 0, (uint32_t)data[1] << 8 | data[0]);
	/* Cut in two at every position, for inputs short enough to afford it. */
	for (size_t split = 1; size - 2 <= 512 && split < size - 2; split++)
		expect_same(&whole, data + 2, size - 2, max_body, 2, split, 0);
	buf_free(&whole);
	return 0;
}
