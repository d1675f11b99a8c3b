/* fuzz-respond.c - libFuzzer target: backend bodies judged and composed into one response. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgi/request/call.h"
#include "cgi/request/outcome.h"
#include "cgi/request/respond.h"
#include "cgi/request/route.h"
#include "common/jsonscan.h"
#include "fanout/fanout.h"
#include "t/fuzz/fuzz.h"

#define NBODIES 3

static struct cfg *cfg;

static const char config[] =
    "{\"endpoints\": [{\"path\": \"/r/{id}\", \"backends\": ["
    "{\"name\": \"json\", \"url\": \"http://h/j/{id}\"},"
    "{\"name\": \"text\", \"url\": \"http://h/t\", \"encoding\": \"text\", \"required\": false},"
    "{\"name\": \"needed\", \"url\": \"http://h/n\", \"required\": false},"
    "{\"name\": \"user\", \"url\": \"http://h/u?v={needed./a}\", \"required\": false}]}]}";

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc, (void)argv;
	cfg = fuzz_config(config);
	if (fanout_init(NULL) != FANOUT_OK)
		abort();
	return 0;
}

static const char *
no_param(void *ctx, const char *name, size_t *cursor)
{
	(void)ctx, (void)name, (void)cursor;
	return NULL;
}

static int
capture(void *ctx, const char *data, size_t len)
{
	return buf_append(ctx, data, len);
}

/* Body i: the input split at NUL bytes (missing ones are empty). */
static struct buf
body_at(const char *data, size_t size, size_t i)
{
	struct buf b = BUF_INIT;
	size_t start = 0, end;

	for (size_t k = 0; k < i && start <= size; k++) {
		const char *nul = memchr(data + start, '\0', size - start);

		start = nul != NULL ? (size_t)(nul - data) + 1 : size + 1;
	}
	if (start > size)
		return b;
	end = start + strnlen(data + start, size - start);
	(void)buf_append(&b, data + start, end - start);
	return b;
}

/* The input being composed. */
static const char *input;
static size_t input_size;

/* The call of backend i judges body i as if its backend had sent it with status 200. */
static int
judged(void *arg)
{
	struct bcall *c = arg;
	size_t i = (size_t)(c->backend - cfg->endpoints[0].backends);
	struct fetch_reply reply = { .kind = FETCH_OK, .status = 200,
		.body = i < NBODIES ? body_at(input, input_size, i) : (struct buf)BUF_INIT };
	int rc = bcall_judge(c, &reply);

	buf_free(&reply.body);
	return rc;
}

/* The composed response is always one valid JSON document with a status it may have. Checked
 * by the scanner, not jansson: backend numbers are copied as sent, and jansson refuses integers
 * beyond 64 bits, which RFC 8259 allows (this target's first find: corpus/respond/big-integer). */
static void
check_response(const struct buf *out, int status)
{
	const char *body = out->data != NULL ? strstr(buf_str(out), "\r\n\r\n") : NULL;
	struct buf err = BUF_INIT;

	if (status != 200 && status != 502)
		__builtin_trap();
	if (body == NULL || !jsonscan_valid(body + 4, strlen(body + 4), 512, &err))
		__builtin_trap();
	buf_free(&err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct cfg_endpoint *ep = &cfg->endpoints[0];
	struct buf err = BUF_INIT, out = BUF_INIT;
	struct http_io io = { .param = no_param, .write = capture, .ctx = &out };
	struct req_vars *v = NULL;
	struct route_match m;
	struct outcomes *o;
	int status = 0;

	input = (const char *)data;
	input_size = size;
	if (route_find(cfg, "/r/x", 4, &m, &err) != ROUTE_OK)
		abort();
	if (vars_build(cfg, &m, "", 0, no_param, NULL, "fuzz", &v, &err) != VARS_OK)
		abort();
	/* "user" reads a value of "needed": the plan makes it wait. */
	o = outcomes_plan(fanout_group_new(FANOUT_SERIAL, FANOUT_NO_DEADLINE), ep, v, judged);
	if (o == NULL || fanout_group_run(outcomes_group(o)) != FANOUT_OK)
		abort();
	outcomes_settle(o);
	if (respond_fanout(&io, ep, o, "fuzz", 1000, false, &status) == RESPOND_OK)
		check_response(&out, status);
	outcomes_free(o);
	vars_unref(v);
	route_match_free(&m);
	buf_free(&err);
	buf_free(&out);
	return 0;
}
